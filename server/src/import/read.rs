//! A register's rows as text: the sheets of a workbook (xlsx, and what else
//! calamine reads: xls, xlsm, ods) or one CSV file (UTF-8, with or without a
//! byte-order mark, or GB18030, which includes GBK: what Chinese Excel
//! saves as "CSV"). Every cell becomes text here; what the text means is
//! for [`super::row`].

use std::path::Path;

use calamine::{Data, Reader};

/// One sheet (or a CSV file): its header and its rows that hold anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// The sheet's name; for a CSV, the file's name.
    pub name: String,
    /// The header cells, by column.
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

/// One row under the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Its number as the spreadsheet shows it (the header's row is 1 in a
    /// sheet that starts at the top).
    pub number: usize,
    pub cells: Vec<Cell>,
}

/// One cell's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// A formula's error value (`#N/A`, `#REF!`…): refused, never imported
    /// as text.
    Error(String),
}

impl Cell {
    pub fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(t) if t.trim().is_empty())
    }
}

/// The kinds of file read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Csv,
    Workbook,
}

/// What kind of file `path` is, by its extension.
pub fn kind_of(path: &Path) -> Result<Kind, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "txt" => Ok(Kind::Csv),
        "xlsx" | "xlsm" | "xls" | "ods" => Ok(Kind::Workbook),
        other => Err(format!(
            "{}: `.{other}` is neither a spreadsheet (.xlsx) nor a CSV file (.csv)",
            path.display()
        )),
    }
}

/// The text of a CSV file and the encoding it was in: UTF-8 (a byte-order
/// mark dropped), else GB18030 (GBK's superset), else an error.
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str), String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), "UTF-8"));
    }
    let (text, _, bad) = encoding_rs::GB18030.decode(bytes);
    if bad {
        return Err("the file is neither UTF-8 nor GBK/GB18030 text".into());
    }
    Ok((text.into_owned(), "GB18030"))
}

/// The rows of a CSV text: the first row that holds anything is the
/// header; rows with nothing in them are left out.
pub fn csv_sheet(name: &str, text: &str) -> Result<Sheet, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    // Line numbers from byte offsets: the reader's own count lags a line
    // behind after a CRLF (it counts the `\n` when the next record starts,
    // and a record's offset may point at it).
    let bytes = text.as_bytes();
    let (mut counted, mut line) = (0usize, 1usize);
    for record in reader.records() {
        let record = record.map_err(|e| format!("{name}: {e}"))?;
        let mut start = record.position().map_or(0, |p| p.byte() as usize);
        while bytes.get(start).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            start += 1;
        }
        let end = start.min(bytes.len()).max(counted);
        line += bytes[counted..end].iter().filter(|b| **b == b'\n').count();
        counted = end;
        let number = line;
        let cells: Vec<Cell> = record.iter().map(|c| Cell::Text(c.to_owned())).collect();
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        match header {
            None => header = Some(record.iter().map(|c| c.trim().to_owned()).collect()),
            Some(_) => rows.push(Row { number, cells }),
        }
    }
    Ok(Sheet {
        name: name.to_owned(),
        header: header.unwrap_or_default(),
        rows,
    })
}

/// A spreadsheet cell as text: whole numbers without a fraction (a phone
/// number typed as a number), dates as `YYYY-MM-DD`, date-times as
/// `YYYY-MM-DD HH:MM:SS`.
pub fn cell_text(d: &Data) -> Cell {
    let text = match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::Error(e) => return Cell::Error(e.to_string()),
    };
    Cell::Text(text)
}

/// Every sheet of a workbook that holds anything, in the workbook's order.
pub fn workbook_sheets(bytes: Vec<u8>) -> Result<Vec<Sheet>, String> {
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable spreadsheet: {e}"))?;
    let mut out = Vec::new();
    for name in book.sheet_names() {
        let range = book
            .worksheet_range(&name)
            .map_err(|e| format!("sheet `{name}`: {e}"))?;
        let Some((top, left)) = range.start() else {
            continue;
        };
        let (top, left) = (top as usize, left as usize);
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for (i, r) in range.rows().enumerate() {
            // Columns keep their letters: the range may start right of A.
            let cells: Vec<Cell> = std::iter::repeat_n(Cell::Text(String::new()), left)
                .chain(r.iter().map(cell_text))
                .collect();
            if cells.iter().all(Cell::is_blank) {
                continue;
            }
            match header {
                None => {
                    header = Some(
                        cells
                            .iter()
                            .map(|c| match c {
                                Cell::Text(t) => t.trim().to_owned(),
                                Cell::Error(e) => e.clone(),
                            })
                            .collect(),
                    )
                }
                Some(_) => rows.push(Row {
                    number: top + i + 1,
                    cells,
                }),
            }
        }
        if let Some(header) = header {
            out.push(Sheet { name, header, rows });
        }
    }
    Ok(out)
}

/// The sheets of the file at `path` (a CSV is one sheet named after the
/// file), and the encoding a CSV was in.
pub fn read(path: &Path) -> Result<(Vec<Sheet>, Option<&'static str>), String> {
    let kind = kind_of(path)?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match kind {
        Kind::Csv => {
            let (text, encoding) = decode(&bytes).map_err(|e| format!("{name}: {e}"))?;
            Ok((vec![csv_sheet(&name, &text)?], Some(encoding)))
        }
        Kind::Workbook => Ok((
            workbook_sheets(bytes).map_err(|e| format!("{name}: {e}"))?,
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cells: &[Cell]) -> Vec<&str> {
        cells
            .iter()
            .map(|c| match c {
                Cell::Text(t) => t.as_str(),
                Cell::Error(e) => e.as_str(),
            })
            .collect()
    }

    #[test]
    fn csv_in_utf8_with_a_bom_and_in_gbk_reads_alike() {
        let csv = "网格编码,姓名,性别\r\ng1,张三,男\r\n";
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(csv.as_bytes());
        let (gbk, _, bad) = encoding_rs::GBK.encode(csv);
        assert!(!bad);
        assert!(
            std::str::from_utf8(&gbk).is_err(),
            "GBK bytes are not UTF-8"
        );
        for (bytes, encoding) in [
            (csv.as_bytes().to_vec(), "UTF-8"),
            (bom, "UTF-8"),
            (gbk.into_owned(), "GB18030"),
        ] {
            let (decoded, enc) = decode(&bytes).unwrap();
            assert_eq!((decoded.as_str(), enc), (csv, encoding));
            let sheet = csv_sheet("r.csv", &decoded).unwrap();
            assert_eq!(sheet.header, ["网格编码", "姓名", "性别"]);
            assert_eq!(sheet.rows.len(), 1);
            assert_eq!(sheet.rows[0].number, 2);
            assert_eq!(text(&sheet.rows[0].cells), ["g1", "张三", "男"]);
        }
        // Bytes no Chinese encoding makes.
        assert!(decode(b"\xFF\xFF\xFF").is_err());
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_past_blank_and_multiline_rows() {
        for eol in ["\n", "\r\n"] {
            let csv = "\n,,\ngrid,note\ng1,\"two\nlines\"\n,\ng2,x\n".replace('\n', eol);
            let sheet = csv_sheet("r.csv", &csv).unwrap();
            assert_eq!(sheet.header, ["grid", "note"]);
            let numbers: Vec<usize> = sheet.rows.iter().map(|r| r.number).collect();
            assert_eq!(numbers, [4, 7], "lines ending {eol:?}");
            assert_eq!(
                text(&sheet.rows[0].cells),
                ["g1", format!("two{eol}lines").as_str()]
            );
        }
    }

    #[test]
    fn spreadsheet_cells_become_the_text_a_person_typed() {
        let t = |d: Data| match cell_text(&d) {
            Cell::Text(t) => t,
            Cell::Error(e) => format!("error {e}"),
        };
        assert_eq!(t(Data::Float(13812345678.0)), "13812345678");
        assert_eq!(t(Data::Float(12.5)), "12.5");
        assert_eq!(t(Data::Int(30)), "30");
        assert_eq!(t(Data::Empty), "");
        assert_eq!(t(Data::Bool(true)), "true");
        // 1990-01-01 is day 32874 of Excel's 1900 calendar.
        let date =
            calamine::ExcelDateTime::new(32874.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(t(Data::DateTime(date)), "1990-01-01");
        let noon =
            calamine::ExcelDateTime::new(32874.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(t(Data::DateTime(noon)), "1990-01-01 12:00:00");
        assert!(t(Data::Error(calamine::CellErrorType::NA)).starts_with("error"));
    }

    #[test]
    fn files_are_read_by_their_extension() {
        assert_eq!(kind_of(Path::new("a/人口.CSV")), Ok(Kind::Csv));
        assert_eq!(kind_of(Path::new("registers.xlsx")), Ok(Kind::Workbook));
        assert!(kind_of(Path::new("registers.docx")).is_err());
        assert!(kind_of(Path::new("registers")).is_err());
    }
}
