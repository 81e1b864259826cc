//! `gridsync import`: the real binary imports registers into a real store
//! that a real server serves; what it imported is read back over the API
//! and pulled by a phone.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{on_both_backends, Backend, Phone, TestServer};
use gridsync_server::db::Database;
use serde_json::Value as Json;

/// A valid ID number born on `birth` (YYYYMMDD), the `seq`th of its day.
fn id_number(birth: &str, seq: u32) -> String {
    let body = format!("420203{birth}{seq:03}");
    format!("{body}{}", gridsync_core::validate::id_check(&body))
}

/// `id` with another check character.
fn wrong_check(id: &str) -> String {
    let other = if id.ends_with('0') { '1' } else { '0' };
    format!("{}{other}", &id[..17])
}

/// What `--database-url` says for this backend.
fn database_url(b: &Backend) -> String {
    match b.database() {
        Database::Sqlite(path) => path.display().to_string(),
        Database::Postgres(url) => url,
    }
}

/// Run `gridsync import ARGS…` against the backend's store: (success,
/// stdout, stderr).
fn import(b: &Backend, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .arg("import")
        .args(args)
        .env("DATABASE_URL", database_url(b))
        .env("RUST_LOG", "warn")
        .env_remove("GRIDSYNC_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The counts the summary prints for a collection: created, updated,
/// unchanged, refused.
fn counts(stdout: &str, collection: &str) -> [usize; 4] {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{collection} ")))
        .unwrap_or_else(|| panic!("no {collection} line in {stdout}"));
    let n: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    [n[0], n[1], n[2], n[3]]
}

/// A workbook of sheets `(name, rows)`, the first row the header, every
/// cell text.
fn write_xlsx(path: &Path, sheets: &[(&str, Vec<Vec<String>>)]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    sheet.write_string(r as u32, c as u16, cell).unwrap();
                }
            }
        }
    }
    book.save(path).unwrap();
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// The refusals of a report: (sheet, row, column, reason).
fn report(path: &Path) -> Vec<(String, usize, String, String)> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["工作表 sheet", "行 row", "列 column", "原因 reason"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].to_owned(),
                rec[1].parse().unwrap(),
                rec[2].to_owned(),
                rec[3].to_owned(),
            )
        })
        .collect()
}

/// A grid's records of a collection, as a supervisor of the district sees
/// them.
fn records(s: &TestServer, grid: &str, collection: &str) -> Vec<Json> {
    s.get(&format!(
        "/v1/grids/{grid}/records?collection={collection}&limit=1000"
    ))["records"]
        .as_array()
        .cloned()
        .unwrap()
}

fn by_name<'a>(records: &'a [Json], field: &str, value: &str) -> &'a Json {
    records
        .iter()
        .find(|r| r["fields"][field]["value"] == value)
        .unwrap_or_else(|| panic!("no record with {field} = {value} in {records:?}"))
}

struct Registers {
    _dir: tempfile::TempDir,
    xlsx: PathBuf,
}

/// The households and residents of node c1, with rows a register really
/// has wrong.
fn registers(zhang_phone: &str) -> Registers {
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("registers.xlsx");
    let households = vec![
        row(&[
            "网格编码 grid",
            "地址 address",
            "户主/房主",
            "房屋用途 use",
            "是否出租",
        ]),
        row(&["g1", "幸福路1号", "张三", "自住", "否"]),
        row(&["g1", "幸福路2号", "周九", "出租", "是"]),
    ];
    let a = id_number("19800101", 11);
    let residents = vec![
        // Headers as people write them: label, name, or both.
        row(&[
            "网格编码",
            "name",
            "身份证号 id_number",
            "性别",
            "出生日期 birth_date",
            "所属房屋户 household",
            "联系电话",
        ]),
        // 2: a new resident of a household of this file.
        row(&[
            "g1",
            "张三",
            &a,
            "男",
            "1980-01-01",
            "幸福路1号",
            zhang_phone,
        ]),
        // 3: a wrong check character.
        row(&[
            "g1",
            "李四",
            &wrong_check(&id_number("19810202", 13)),
            "男",
            "",
            "",
            "",
        ]),
        // 4: a gender that is no code and no label.
        row(&["g1", "王五", &id_number("19820303", 15), "男性", "", "", ""]),
        // 5: a grid outside the node imported to.
        row(&[
            "other-grid",
            "马六",
            &id_number("19830404", 17),
            "男",
            "",
            "",
            "",
        ]),
        // 6: a birth date the ID number disagrees with.
        row(&[
            "g1",
            "赵六",
            &id_number("19900505", 19),
            "男",
            "1991-01-01",
            "",
            "",
        ]),
        // 7: a household that is not there.
        row(&[
            "g2",
            "钱七",
            &id_number("19840606", 21),
            "男",
            "",
            "不存在路9号",
            "",
        ]),
        // 8: the same ID number as row 2.
        row(&["g1", "张三丰", &a, "男", "", "", ""]),
        // 9: a new resident with no household.
        row(&["g2", "孙八", &id_number("19850707", 22), "女", "", "", ""]),
    ];
    write_xlsx(
        &xlsx,
        &[
            ("人口", residents),
            ("房屋户", households),
            ("备注", vec![row(&["not a register"])]),
        ],
    );
    Registers { _dir: dir, xlsx }
}

fn imports_registers_and_reimports_them_as_edits(b: &Backend) {
    let s = TestServer::start(b);
    s.create_user("importer", "supervisor", "c1");
    let mut phone = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let files = registers("13812345678");
    let path = files.xlsx.to_str().unwrap();

    // Only a supervisor or admin whose node holds the node imports.
    let (ok, _, err) = import(b, &["--node", "c1", "--user", "worker", path]);
    assert!(!ok && err.contains("may not import"), "{err}");
    let (ok, _, err) = import(b, &["--node", "d", "--user", "importer", path]);
    assert!(!ok && err.contains("outside"), "{err}");

    let (ok, out, err) = import(b, &["--node", "c1", "--user", "importer", path]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(counts(&out, "household"), [2, 0, 0, 0], "{out}");
    assert_eq!(counts(&out, "resident"), [2, 0, 0, 6], "{out}");
    assert!(out.contains("sheet `备注` names no register"), "{out}");

    // Each refused row: row, column and reason.
    let refused = report(&files.xlsx.with_file_name("registers.report.csv"));
    let find = |row: usize| {
        refused
            .iter()
            .find(|r| r.0 == "人口" && r.1 == row)
            .unwrap_or_else(|| panic!("row {row} not in the report: {refused:?}"))
    };
    let (_, _, column, reason) = find(3);
    assert_eq!(column, "C 身份证号 id_number");
    assert!(reason.contains("check character"), "{reason}");
    let (_, _, column, reason) = find(4);
    assert_eq!(column, "D 性别");
    assert!(
        reason.contains("`男性` is not one of: 男 male, 女 female"),
        "{reason}"
    );
    let (_, _, column, reason) = find(5);
    assert_eq!(column, "A 网格编码");
    assert!(reason.contains("not inside node `c1`"), "{reason}");
    let (_, _, column, reason) = find(6);
    assert_eq!(column, "C 身份证号 id_number");
    assert!(
        reason.contains("birth date 1990-05-05") && reason.contains("1991-01-01"),
        "{reason}"
    );
    let (_, _, column, reason) = find(7);
    assert_eq!(column, "F 所属房屋户 household");
    assert!(
        reason.contains("no household at `不存在路9号` in grid `g2`"),
        "{reason}"
    );
    let (_, _, _, reason) = find(8);
    assert!(reason.contains("row 2 of `人口`"), "{reason}");
    assert_eq!(refused.len(), 6, "{refused:?}");

    // Read back over the API: the values, the codes, the household by id.
    let households = records(&s, "g1", "household");
    assert_eq!(households.len(), 2);
    let home = by_name(&households, "address", "幸福路1号");
    assert_eq!(home["fields"]["use"]["value"], "residential");
    assert_eq!(home["fields"]["rental"]["value"], false);
    let residents = records(&s, "g1", "resident");
    assert_eq!(residents.len(), 1, "{residents:?}");
    let zhang = by_name(&residents, "name", "张三");
    assert_eq!(zhang["fields"]["gender"]["value"], "male");
    assert_eq!(
        zhang["fields"]["id_number"]["value"],
        id_number("19800101", 11)
    );
    assert_eq!(zhang["fields"]["household"]["value"], home["id"]);
    assert_eq!(records(&s, "g2", "resident").len(), 1);
    assert!(records(&s, "other-grid", "resident").is_empty());
    let zhang_id = zhang["id"].as_str().unwrap().to_owned();

    // Written by the importer's own device, and audited as theirs.
    let detail = s.get(&format!("/v1/records/{zhang_id}"));
    let author = detail["history"][0]["actor"].as_i64().unwrap();
    assert!(author >= 1000, "an actor of its own: {author}");
    let (st, devices) = s.get_as(&s.admin_token(), "/v1/devices");
    assert_eq!(st, 200);
    let device = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["actor"] == author)
        .expect("the import's device");
    assert_eq!(device["name"], "import");
    let (_, audit) = s.get_as(&s.admin_token(), "/v1/audit");
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "import_registers")
        .unwrap_or_else(|| panic!("no import in the audit: {audit}"));
    assert_eq!(entry["username"], "importer");

    // A phone of the grid pulls what was imported, like any change.
    phone.sync(&s);
    let pulled: Vec<String> = phone
        .device
        .replica()
        .records()
        .map(|r| r.view().value("name").as_str().unwrap_or("").to_owned())
        .collect();
    assert!(pulled.contains(&"张三".to_owned()), "{pulled:?}");
    assert_eq!(
        phone.device.replica().records().count(),
        3,
        "2 households, 1 resident"
    );

    // The same file again: nothing created, nothing written.
    let (ok, out, err) = import(b, &["--node", "c1", "--user", "importer", path]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(counts(&out, "household"), [0, 0, 2, 0], "{out}");
    assert_eq!(counts(&out, "resident"), [0, 0, 2, 6], "{out}");
    assert_eq!(records(&s, "g1", "resident").len(), 1);
    let again = s.get(&format!("/v1/records/{zhang_id}"));
    assert_eq!(again["history"].as_array().unwrap().len(), 1);

    // One cell edited: one change, writing that field only.
    let edited = registers("13900001111");
    let report_path = edited.xlsx.with_file_name("elsewhere.csv");
    let (ok, out, err) = import(
        b,
        &[
            "--node",
            "c1",
            "--user",
            "importer",
            "--report",
            report_path.to_str().unwrap(),
            edited.xlsx.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert_eq!(counts(&out, "resident"), [0, 1, 1, 6], "{out}");
    assert_eq!(report(&report_path).len(), 6);
    let after = s.get(&format!("/v1/records/{zhang_id}"));
    assert_eq!(after["record"]["fields"]["phone"]["value"], "13900001111");
    assert_eq!(after["record"]["fields"]["name"]["value"], "张三");
    let history = after["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    let ops = history[1]["change"]["ops"].as_array().unwrap();
    // `{"set": {"field": …}}`: one op, a set of the phone.
    let fields: Vec<&Json> = ops.iter().map(|o| &o["set"]["field"]).collect();
    assert_eq!(fields, [&Json::from("phone")], "{ops:?}");
    assert_eq!(history[1]["actor"], author, "the same device resumes");
    phone.sync(&s);
    let mine = phone
        .device
        .replica()
        .record(zhang_id.parse().unwrap())
        .unwrap()
        .view();
    // A grid worker sees the number masked, its last four digits new.
    let phone_now = mine.value("phone").as_str().unwrap();
    assert!(phone_now.ends_with("1111"), "{phone_now}");
}

/// A CSV as Chinese Excel saves it: GBK, one register found from its
/// headers (the template's).
fn imports_a_gbk_csv_of_places(b: &Backend) {
    let s = TestServer::start(b);
    s.create_user("importer", "supervisor", "c1");
    let template = ureq::get(&s.url("/v1/import/templates/place.csv"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let header = template.trim_start_matches('\u{feff}').trim_end();
    let columns: Vec<&str> = header.split(',').collect();
    let mut line = vec![""; columns.len()];
    let mut set = |name: &str, value: &'static str| {
        let i = columns
            .iter()
            .position(|c| c.ends_with(&format!(" {name}")))
            .unwrap();
        line[i] = value;
    };
    set("grid", "g2");
    set("name", "好再来饭店");
    set("type", "娱乐场所");
    set("address", "幸福路3号");
    set("inspection_interval_days", "7");
    let csv = format!("{header}\r\n{}\r\n", line.join(","));
    let (gbk, _, bad) = encoding_rs::GBK.encode(&csv);
    assert!(!bad);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("场所.csv");
    std::fs::write(&file, &gbk).unwrap();
    let (ok, out, err) = import(
        b,
        &["--node", "c1", "--user", "importer", file.to_str().unwrap()],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("GB18030"), "{out}");
    assert_eq!(counts(&out, "place"), [1, 0, 0, 0], "{out}");
    let places = records(&s, "g2", "place");
    assert_eq!(places.len(), 1);
    assert_eq!(places[0]["fields"]["type"]["value"], "entertainment");
    assert_eq!(places[0]["fields"]["inspection_interval_days"]["value"], 7);
    assert!(report(&dir.path().join("场所.report.csv")).is_empty());
}

on_both_backends!(
    imports_registers_and_reimports_them_as_edits,
    imports_a_gbk_csv_of_places,
);

/// The templates are served with the schema's labels, and read back by
/// the import.
#[test]
fn templates_are_served_from_the_schema() {
    let b = Backend::sqlite();
    let s = TestServer::start(&b);
    let res = ureq::get(&s.url("/v1/import/templates/resident.csv"))
        .call()
        .unwrap();
    assert!(res.content_type().starts_with("text/csv"));
    assert!(res
        .header("Content-Disposition")
        .unwrap()
        .contains("resident.csv"));
    let text = res.into_string().unwrap();
    assert!(
        text.starts_with(
            "\u{feff}网格编码 grid,姓名 name,身份证号 id_number,联系电话 phone,性别 gender,"
        ),
        "{text}"
    );
    let res = ureq::get(&s.url("/v1/import/templates/registers.xlsx"))
        .call()
        .unwrap();
    assert_eq!(
        res.content_type(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut res.into_reader(), &mut bytes).unwrap();
    let sheets = gridsync_server::import::read::workbook_sheets(bytes).unwrap();
    let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["房屋户", "场所", "人口", "说明"]);
    let (st, body) = s.call(ureq::get(&s.url("/v1/import/templates/event.csv")), None);
    assert_eq!((st, body["code"].as_str()), (404, Some("not_found")));
}
