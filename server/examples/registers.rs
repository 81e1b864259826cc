//! A synthetic 人口 (residents) register for measuring `gridsync import`
//! (docs/PERFORMANCE.md, "Importing registers"): N residents spread over
//! the given grids, with valid ID numbers (born 1940–2009, one number each)
//! that agree with their birth dates, names and phone numbers from the
//! fixture's lists. The same arguments write the same file.
//!
//! ```text
//! cargo run --release -p gridsync-server --example registers -- \
//!     100000 420203-001-001-001,420203-001-001-002 residents.csv
//! ```
//!
//! The file is a CSV, or a workbook when its name ends in `.xlsx`.

use gridsync_server::fixture::names;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Birth dates 1940-01-01 to 2009-12-31.
const DAYS: usize = 25_567;
const CATEGORIES: [&str; 3] = ["户籍人口", "流动人口", "留守老人"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, grids, out] = args.as_slice() else {
        return Err("usage: registers N GRID[,GRID…] FILE.csv|FILE.xlsx".into());
    };
    let n: usize = n.parse()?;
    if n > DAYS * 500 {
        return Err(format!("at most {} residents", DAYS * 500).into());
    }
    let grids: Vec<&str> = grids.split(',').filter(|g| !g.is_empty()).collect();
    if grids.is_empty() {
        return Err("no grid given".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_201);
    let header = [
        "网格编码 grid",
        "姓名 name",
        "身份证号 id_number",
        "联系电话 phone",
        "性别 gender",
        "出生日期 birth_date",
        "工作单位 employer",
        "人员类别 category",
    ];
    let first = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).ok_or("date")?;
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(n);
    for i in 0..n {
        // One number each: the birth dates go round 70 years, the
        // sequence of the day counts the rounds.
        let birth = first + chrono::Duration::days((i % DAYS) as i64);
        let male = rng.gen_bool(0.5);
        let id = names::id_number(
            "420202",
            &birth.format("%Y%m%d").to_string(),
            (i / DAYS) as u32,
            male,
        );
        rows.push(vec![
            grids[i % grids.len()].to_owned(),
            names::person(&mut rng),
            id,
            names::phone(&mut rng),
            if male { "男" } else { "女" }.to_owned(),
            birth.format("%Y-%m-%d").to_string(),
            names::pick(&mut rng, names::EMPLOYERS).to_owned(),
            names::pick(&mut rng, &CATEGORIES).to_owned(),
        ]);
    }
    if out.ends_with(".xlsx") {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("人口")?;
        for (c, h) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *h)?;
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                sheet.write_string(r as u32 + 1, c as u16, cell)?;
            }
        }
        book.save(out)?;
    } else {
        let mut w = csv::Writer::from_path(out)?;
        w.write_record(header)?;
        for row in &rows {
            w.write_record(row)?;
        }
        w.flush()?;
    }
    eprintln!("{n} residents over {} grids in {out}", grids.len());
    Ok(())
}
