//! What an import did: counts per collection, and the refused rows with
//! their row, column and reason, printed and written as a CSV (UTF-8 with a
//! byte-order mark, for Excel).

use std::fmt;
use std::path::{Path, PathBuf};

use super::row::Refusal;

/// Rows of one collection by what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub file: String,
    /// A CSV's encoding.
    pub encoding: Option<&'static str>,
    /// Per collection, in the order applied.
    pub counts: Vec<(&'static str, Counts)>,
    /// Every reason a row was refused, by sheet and row.
    pub refusals: Vec<Refusal>,
    /// Sheets not read, and why.
    pub skipped: Vec<String>,
    /// The import's device and actor.
    pub device: String,
    pub actor: u32,
    pub rows: usize,
    pub millis: u128,
}

impl Summary {
    pub fn total(&self) -> Counts {
        self.counts
            .iter()
            .fold(Counts::default(), |a, (_, c)| Counts {
                created: a.created + c.created,
                updated: a.updated + c.updated,
                unchanged: a.unchanged + c.unchanged,
                refused: a.refused + c.refused,
            })
    }

    /// Rows per second over the whole run.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / (self.millis.max(1) as f64 / 1000.0)
    }
}

/// How many refusals [`Summary`]'s display lists before it points to the
/// report file.
pub const SHOWN: usize = 20;

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enc = self.encoding.map(|e| format!(", {e}")).unwrap_or_default();
        writeln!(
            f,
            "imported {} ({} rows{enc}) in {:.1} s ({:.0} rows/s) as actor {} (device {})",
            self.file,
            self.rows,
            self.millis as f64 / 1000.0,
            self.rows_per_second(),
            self.actor,
            self.device
        )?;
        for s in &self.skipped {
            writeln!(f, "  skipped: {s}")?;
        }
        for (c, n) in &self.counts {
            writeln!(
                f,
                "  {c:<10} created {:>7}, updated {:>7}, unchanged {:>7}, refused {:>7}",
                n.created, n.updated, n.unchanged, n.refused
            )?;
        }
        let t = self.total();
        writeln!(
            f,
            "  {:<10} created {:>7}, updated {:>7}, unchanged {:>7}, refused {:>7}",
            "total", t.created, t.updated, t.unchanged, t.refused
        )?;
        for r in self.refusals.iter().take(SHOWN) {
            let column = if r.column.is_empty() {
                String::new()
            } else {
                format!(" column {}", r.column)
            };
            writeln!(
                f,
                "  refused: {} row {}{column}: {}",
                r.sheet, r.row, r.reason
            )?;
        }
        if self.refusals.len() > SHOWN {
            writeln!(
                f,
                "  … and {} more reasons in the report",
                self.refusals.len() - SHOWN
            )?;
        }
        Ok(())
    }
}

/// Where the report of `file` goes unless told: beside it,
/// `registers.xlsx` → `registers.report.csv`.
pub fn default_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "import".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.report.csv"))
}

/// The refusals as a CSV: sheet, row, column, reason; the header only when
/// none was refused.
pub fn to_csv(refusals: &[Refusal]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(["工作表 sheet", "行 row", "列 column", "原因 reason"])
        .map_err(|e| e.to_string())?;
    for r in refusals {
        w.write_record([
            r.sheet.as_str(),
            &r.row.to_string(),
            r.column.as_str(),
            r.reason.as_str(),
        ])
        .map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lists_row_column_and_reason() {
        let r = Refusal {
            sheet: "人口".into(),
            row: 7,
            column: "C 性别".into(),
            reason: "`男性` is not one of: 男 male, 女 female".into(),
        };
        let bytes = to_csv(&[r]).unwrap();
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(
            text,
            "工作表 sheet,行 row,列 column,原因 reason\n人口,7,C 性别,\"`男性` is not one of: 男 male, 女 female\"\n"
        );
        assert_eq!(
            default_path(Path::new("/data/人口 2026.csv")),
            Path::new("/data/人口 2026.report.csv")
        );
    }
}
