//! The columns of a register, from the schema: which collections can be
//! imported, which of their fields a cell can fill, what a template's
//! header says (`姓名 name`: the field's Chinese label and its name), and
//! which column a header cell names (the label, the name, the English
//! label, or the label and the name together).

use gridsync_core::{CollectionDef, FieldDef, FieldKind, Label, ScalarType, Schema};

/// The collections an import takes, in the order it applies them: the
/// households first, so that the residents of the same file can name them.
pub const IMPORTABLE: [&str; 3] = ["household", "place", "resident"];

/// The grid column: every record belongs to exactly one grid.
pub const GRID: &str = "grid";
pub const GRID_LABEL: Label = Label::new("网格编码", "Grid code");

/// One column of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The grid node's code.
    Grid,
    Field(&'static FieldDef),
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Column::Grid => GRID,
            Column::Field(f) => f.name,
        }
    }

    pub fn label(self) -> Label {
        match self {
            Column::Grid => GRID_LABEL,
            Column::Field(f) => f.label,
        }
    }

    /// What a template's header cell says: `姓名 name`.
    pub fn header(self) -> String {
        format!("{} {}", self.label().zh, self.name())
    }
}

/// The importable collections, in [`IMPORTABLE`] order.
pub fn importable() -> impl Iterator<Item = &'static CollectionDef> {
    IMPORTABLE
        .into_iter()
        .filter_map(|c| Schema::current().collection(c))
}

/// Whether a cell can fill the field: a scalar (not a photo; a reference
/// only to a household, named by its address) or a set. Logs, counters and
/// the handling level are made by the work, not by a register.
pub fn fillable(f: &FieldDef) -> bool {
    match f.kind {
        FieldKind::Scalar { ty, .. } => match ty {
            // A photo, an assignee (casework): not a register's.
            ScalarType::Attachment | ScalarType::Assignee => false,
            ScalarType::Ref { collection } => collection == "household",
            _ => true,
        },
        // A set of record ids (a household's members): the residents name
        // their household instead.
        FieldKind::Set { refs, .. } => refs.is_none(),
        FieldKind::Log { .. } | FieldKind::Level | FieldKind::Counter => false,
    }
}

/// The columns of a collection's register, in template order: the grid,
/// then every fillable field in the schema's order.
pub fn columns(c: &CollectionDef) -> Vec<Column> {
    std::iter::once(Column::Grid)
        .chain(c.fields.iter().filter(|f| fillable(f)).map(Column::Field))
        .collect()
}

/// A header or a name as compared: trimmed, lower case, runs of white space
/// (the ideographic space too) as one space.
fn fold(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\u{3000}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `text` (folded) is `name` or one of `label`'s.
fn is_called(text: &str, name: &str, label: Label) -> bool {
    !text.is_empty() && [name, label.zh, label.en].iter().any(|n| fold(n) == text)
}

/// Whether a header cell names the thing called `name` / `label`: one of
/// them alone (`姓名`, `name`, `Name`), or two of them side by side
/// (`姓名 name`, `姓名 Name`, `姓名(name)`, `姓名（name）`).
pub fn names(header: &str, name: &str, label: Label) -> bool {
    let h = fold(header);
    if is_called(&h, name, label) {
        return true;
    }
    // `A(B)` / `A（B）`: both parts name it.
    for (open, close) in [('(', ')'), ('（', '）')] {
        if let Some(inner) = h.strip_suffix(close) {
            if let Some((a, b)) = inner.rsplit_once(open) {
                if is_called(&fold(a), name, label) && is_called(&fold(b), name, label) {
                    return true;
                }
            }
        }
    }
    // `A B` at any space: both sides name it.
    h.match_indices(' ').any(|(i, _)| {
        let (a, b) = (&h[..i], &h[i + 1..]);
        is_called(a, name, label) && is_called(b, name, label)
    })
}

/// The column of `c` a header cell names, if any.
pub fn column_of(c: &CollectionDef, header: &str) -> Option<Column> {
    columns(c)
        .into_iter()
        .find(|col| names(header, col.name(), col.label()))
}

/// The importable collection `s` names (`resident`, `人口`, `Resident`,
/// `人口 resident`): for `--collection` and an xlsx sheet's name.
pub fn collection_named(s: &str) -> Option<&'static CollectionDef> {
    importable().find(|c| names(s, c.name, c.label))
}

/// The collection whose columns every header names (empty headers aside):
/// how a CSV without `--collection` is read.
pub fn detect(headers: &[String]) -> Result<&'static CollectionDef, String> {
    let given: Vec<&String> = headers.iter().filter(|h| !h.trim().is_empty()).collect();
    let fits: Vec<&'static CollectionDef> = importable()
        .filter(|c| given.iter().all(|h| column_of(c, h).is_some()))
        .collect();
    match fits.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "the headers fit none of {}: give --collection",
            list_collections()
        )),
        many => Err(format!(
            "the headers fit {} alike: give --collection",
            many.iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

/// `房屋户 household, 场所 place, 人口 resident`.
pub fn list_collections() -> String {
    importable()
        .map(|c| format!("{} {}", c.label.zh, c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Spreadsheet letters of a 0-based column: 0 → `A`, 26 → `AA`.
pub fn letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resident() -> &'static CollectionDef {
        Schema::current().collection("resident").unwrap()
    }

    #[test]
    fn a_header_names_a_column_by_label_name_or_both() {
        let r = resident();
        let cases: &[(&str, Option<&str>)] = &[
            ("姓名 name", Some("name")),
            ("姓名", Some("name")),
            ("name", Some("name")),
            ("  Name ", Some("name")),
            ("姓名(name)", Some("name")),
            ("姓名（name）", Some("name")),
            ("姓名\u{3000}name", Some("name")),
            ("身份证号 id_number", Some("id_number")),
            ("ID number", Some("id_number")),
            ("身份证号 ID number", Some("id_number")),
            ("性别 gender", Some("gender")),
            ("网格编码 grid", Some("grid")),
            ("网格编码", Some("grid")),
            ("Grid code", Some("grid")),
            (
                "走访周期（天） visit_interval_days",
                Some("visit_interval_days"),
            ),
            ("走访周期（天）", Some("visit_interval_days")),
            ("所属房屋户 household", Some("household")),
            // Two different columns' names do not make one.
            ("姓名 gender", None),
            ("姓 名", None),
            ("names", None),
            ("", None),
            // Not fillable from a cell: a log.
            ("走访记录 visits", None),
        ];
        for (header, want) in cases {
            let got = column_of(r, header).map(Column::name);
            assert_eq!(got, *want, "header {header:?}");
        }
    }

    #[test]
    fn every_template_header_names_its_own_column_and_no_other() {
        for c in importable() {
            for col in columns(c) {
                for h in [
                    col.header(),
                    col.name().to_owned(),
                    col.label().zh.to_owned(),
                    col.label().en.to_owned(),
                ] {
                    let matching: Vec<&str> = columns(c)
                        .into_iter()
                        .filter(|o| names(&h, o.name(), o.label()))
                        .map(Column::name)
                        .collect();
                    assert_eq!(matching, [col.name()], "{}: header {h:?}", c.name);
                }
            }
        }
    }

    #[test]
    fn collections_are_named_by_code_or_label() {
        for (s, want) in [
            ("resident", Some("resident")),
            ("人口", Some("resident")),
            ("人口 resident", Some("resident")),
            ("房屋户", Some("household")),
            ("Place", Some("place")),
            ("event", None),
            ("说明", None),
        ] {
            assert_eq!(collection_named(s).map(|c| c.name), want, "{s}");
        }
    }

    #[test]
    fn a_csv_collection_is_detected_from_its_headers() {
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            detect(&h(&["网格编码", "姓名", "身份证号", ""]))
                .unwrap()
                .name,
            "resident"
        );
        assert_eq!(
            detect(&h(&["grid", "address", "owner_name"])).unwrap().name,
            "household"
        );
        assert_eq!(
            detect(&h(&["grid", "名称", "场所类型", "地址"]))
                .unwrap()
                .name,
            "place"
        );
        // Both households and places have an address and tags.
        let e = detect(&h(&["grid", "address", "tags"])).unwrap_err();
        assert!(e.contains("household and place"), "{e}");
        let e = detect(&h(&["grid", "姓名", "no such column"])).unwrap_err();
        assert!(e.contains("--collection"), "{e}");
    }

    #[test]
    fn column_letters_go_on_past_z() {
        for (i, want) in [
            (0, "A"),
            (2, "C"),
            (25, "Z"),
            (26, "AA"),
            (27, "AB"),
            (701, "ZZ"),
            (702, "AAA"),
        ] {
            assert_eq!(letters(i), want);
        }
    }

    #[test]
    fn no_photo_log_or_counter_is_a_column() {
        for c in importable() {
            for col in columns(c) {
                if let Column::Field(f) = col {
                    assert!(fillable(f), "{}.{}", c.name, f.name);
                    assert!(!matches!(
                        f.kind,
                        FieldKind::Log { .. } | FieldKind::Counter
                    ));
                }
            }
        }
        let names: Vec<&str> = columns(resident()).into_iter().map(Column::name).collect();
        assert_eq!(names[0], "grid");
        assert!(names.contains(&"household") && !names.contains(&"visits"));
    }
}
