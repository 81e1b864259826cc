//! Blank registers to fill in, from the schema: a CSV of one collection
//! (UTF-8 with a byte-order mark, so that Excel shows the Chinese headers),
//! or a workbook with a sheet per collection named by its Chinese label,
//! every column formatted as text (an 18-digit ID number typed into a
//! number cell loses its last digits), and a sheet `说明` saying what each
//! column takes. The import skips that sheet.

use gridsync_core::schema::Closed;
use gridsync_core::{Choices, CollectionDef, FieldKind, ScalarType};
use rust_xlsxwriter::{Format, Workbook};

use super::columns::{columns, importable, Column};

/// The name of the notes sheet of a workbook template.
pub const NOTES: &str = "说明";

fn choices(values: Choices) -> String {
    values
        .0
        .iter()
        .map(|c| format!("{} {}", c.label.zh, c.code))
        .collect::<Vec<_>>()
        .join("、")
}

/// What a column takes, in a line: its type, its bounds, its codes.
pub fn describe(collection: &CollectionDef, col: Column) -> String {
    let key = |s: String| match (collection.name, col.name()) {
        ("resident", "id_number") | ("household", "address") | ("place", "name" | "address") => {
            format!("{s}；匹配键 (natural key): 再次导入时按它找到已有记录")
        }
        _ => s,
    };
    let Column::Field(f) = col else {
        return "网格编码 (grid node code), 须在导入的节点之内 (a grid inside the node imported to); 必填"
            .into();
    };
    key(match f.kind {
        FieldKind::Scalar { ty, .. } => match ty {
            ScalarType::Text { max_len } => format!("文本, 至多 {max_len} 字 (text)"),
            ScalarType::Integer { min, max } => format!("整数 {min}–{max} (whole number)"),
            ScalarType::Decimal => "小数, 如 12.50 (decimal)".into(),
            ScalarType::Bool => "是 / 否 (yes / no)".into(),
            ScalarType::Date => "日期 YYYY-MM-DD (date)".into(),
            ScalarType::DateTime => "日期时间 YYYY-MM-DD HH:MM, 北京时间 (date and time)".into(),
            ScalarType::Enum { values } => format!("其一 (one of): {}", choices(values)),
            ScalarType::Ref { .. } => {
                "所属房屋户的地址, 同一网格内 (the household's address, in the same grid)".into()
            }
            ScalarType::Geo => "纬度,经度 (latitude,longitude)".into(),
            ScalarType::IdNumber => "18位居民身份证号 (resident ID number)".into(),
            ScalarType::Phone => "手机或带区号的座机 (mobile or landline)".into(),
            ScalarType::Attachment | ScalarType::Assignee => String::new(),
        },
        FieldKind::Set { values, .. } => match values {
            Closed(Some(v)) => format!(
                "多项, 以、或 , 分隔 (several, separated by 、 or ,): {}",
                choices(v)
            ),
            Closed(None) => "多项, 以、或 , 分隔 (several, separated by 、 or ,)".into(),
        },
        FieldKind::Log { .. } | FieldKind::Level | FieldKind::Counter => String::new(),
    })
}

/// The CSV template of one collection: its header row.
pub fn csv(collection: &CollectionDef) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let header: Vec<String> = columns(collection).iter().map(|c| c.header()).collect();
    w.write_record(&header).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())
}

/// A workbook template: a sheet per collection of `collections`, then the
/// notes.
pub fn xlsx(collections: &[&CollectionDef]) -> Result<Vec<u8>, String> {
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    for c in collections {
        let sheet = book.add_worksheet();
        sheet.set_name(c.label.zh).map_err(err)?;
        for (i, col) in columns(c).into_iter().enumerate() {
            let i = u16::try_from(i).map_err(|e| e.to_string())?;
            sheet.set_column_format(i, &text).map_err(err)?;
            sheet.set_column_width(i, 18).map_err(err)?;
            sheet
                .write_string_with_format(0, i, col.header(), &bold)
                .map_err(err)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(err)?;
    }
    let notes = book.add_worksheet();
    notes.set_name(NOTES).map_err(err)?;
    for (i, h) in ["表 (sheet)", "列 (column)", "填写 (what it takes)"]
        .iter()
        .enumerate()
    {
        notes
            .write_string_with_format(0, i as u16, *h, &bold)
            .map_err(err)?;
    }
    notes.set_column_width(0, 12).map_err(err)?;
    notes.set_column_width(1, 28).map_err(err)?;
    notes.set_column_width(2, 90).map_err(err)?;
    let mut line = 1u32;
    for c in collections {
        for col in columns(c) {
            notes.write_string(line, 0, c.label.zh).map_err(err)?;
            notes.write_string(line, 1, col.header()).map_err(err)?;
            notes.write_string(line, 2, describe(c, col)).map_err(err)?;
            line += 1;
        }
    }
    notes
        .write_string(
            line + 1,
            0,
            "空格不清除已有的值 (a blank cell leaves a value as it is); 本表不导入 (this sheet is not imported)",
        )
        .map_err(err)?;
    book.save_to_buffer().map_err(err)
}

/// A template file by name: `{collection}.csv`, `{collection}.xlsx` (that
/// collection's sheet), or `registers.xlsx` (every importable collection).
/// `Ok(None)` when no template has that name; the bytes and the media type.
pub fn named(file: &str) -> Result<Option<(Vec<u8>, &'static str)>, String> {
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    const CSV: &str = "text/csv; charset=utf-8";
    if file == "registers.xlsx" {
        let all: Vec<&CollectionDef> = importable().collect();
        return xlsx(&all).map(|b| Some((b, XLSX)));
    }
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return Ok(None);
    };
    let Some(c) = importable().find(|c| c.name == stem) else {
        return Ok(None);
    };
    match ext {
        "csv" => csv(c).map(|b| Some((b, CSV))),
        "xlsx" => xlsx(&[c]).map(|b| Some((b, XLSX))),
        _ => Ok(None),
    }
}

/// The names [`named`] answers.
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = importable()
        .flat_map(|c| [format!("{}.csv", c.name), format!("{}.xlsx", c.name)])
        .collect();
    out.push("registers.xlsx".into());
    out
}

#[cfg(test)]
mod tests {
    use super::super::read::{csv_sheet, decode, workbook_sheets};
    use super::super::row::Layout;
    use super::*;
    use crate::import::columns::collection_named;

    #[test]
    fn a_csv_template_reads_back_as_its_collection_with_every_column() {
        for c in importable() {
            let bytes = csv(c).unwrap();
            assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
            let (text, _) = decode(&bytes).unwrap();
            let sheet = csv_sheet("t.csv", &text).unwrap();
            assert_eq!(sheet.header[0], "网格编码 grid");
            assert!(Layout::new(c, &sheet).is_ok(), "{}", c.name);
            assert_eq!(sheet.header.len(), columns(c).len());
            assert!(sheet.rows.is_empty());
        }
        let (text, _) = decode(&csv(collection_named("resident").unwrap()).unwrap()).unwrap();
        assert!(
            text.starts_with("网格编码 grid,姓名 name,身份证号 id_number,"),
            "{text}"
        );
    }

    #[test]
    fn the_workbook_template_has_a_sheet_per_collection_and_notes() {
        let (bytes, kind) = named("registers.xlsx").unwrap().unwrap();
        assert!(kind.contains("spreadsheetml"));
        let sheets = workbook_sheets(bytes).unwrap();
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["房屋户", "场所", "人口", NOTES]);
        for s in &sheets[..3] {
            let c = collection_named(&s.name).unwrap();
            assert!(Layout::new(c, s).is_ok(), "{}", s.name);
        }
        assert!(
            collection_named(NOTES).is_none(),
            "the notes are no register"
        );
        let notes = &sheets[3];
        let gender = notes
            .rows
            .iter()
            .find(|r| format!("{:?}", r.cells).contains("性别 gender"))
            .expect("a line for the gender column");
        assert!(format!("{:?}", gender.cells).contains("男 male、女 female"));
    }

    #[test]
    fn templates_are_found_by_name_only() {
        for n in names() {
            assert!(named(&n).unwrap().is_some(), "{n}");
        }
        for n in [
            "event.csv",
            "resident.pdf",
            "resident",
            "../resident.csv",
            "",
        ] {
            assert!(named(n).unwrap().is_none(), "{n}");
        }
    }
}
