//! From a row of text to a change: which column each cell fills
//! ([`Layout`]), what a cell's text means for its field ([`wanted`]), the
//! row read whole ([`Layout::parse`]), and the change it makes: a new
//! record, or an edit of the record it registers again that writes only the
//! fields whose values differ ([`change_for`]). The change is made by a
//! [`Device`], so it is validated exactly as a phone's is.

use gridsync_core::schema::Closed;
use gridsync_core::validate;
use gridsync_core::{
    Change, ChangeError, Choices, CollectionDef, Device, FieldDef, FieldKind, FieldView, Geo,
    ScalarType, Value,
};
use uuid::Uuid;

use super::columns::{column_of, columns, letters, Column};
use super::keys::{key_of, why_needed, Key};
use super::read::{Cell, Row, Sheet};

/// What a cell asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Wanted {
    Value(Value),
    /// A set's members, all of them (members not listed are removed).
    Members(Vec<String>),
    /// A household named by its address, in the row's grid.
    Household(String),
}

/// One reason a row is refused: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub sheet: String,
    pub row: usize,
    /// `C 身份证号 id_number` (letter and header), or empty for the row.
    pub column: String,
    pub reason: String,
}

/// A row read whole and found well-formed.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub row: usize,
    pub grid: String,
    pub values: Vec<(&'static FieldDef, Wanted)>,
    pub key: Key,
}

impl Parsed {
    /// The text a row gives a field (a scalar's).
    pub fn text(&self, field: &str) -> Option<&str> {
        self.values.iter().find_map(|(f, w)| match w {
            Wanted::Value(Value::Text(s)) if f.name == field => Some(s.as_str()),
            _ => None,
        })
    }
}

/// The cell texts a boolean takes.
const YES: &[&str] = &["是", "有", "√", "true", "yes", "y", "1"];
const NO: &[&str] = &["否", "无", "×", "false", "no", "n", "0"];

/// The code a cell names among `values`: the code, its Chinese label or
/// its English label (any case).
pub fn choice(values: Choices, t: &str) -> Result<&'static str, String> {
    let lower = t.to_lowercase();
    values
        .0
        .iter()
        .find(|c| c.code == t || c.label.zh == t || c.label.en.to_lowercase() == lower)
        .map(|c| c.code)
        .ok_or_else(|| {
            let allowed: Vec<String> = values
                .0
                .iter()
                .map(|c| format!("{} {}", c.label.zh, c.code))
                .collect();
            format!("`{t}` is not one of: {}", allowed.join(", "))
        })
}

/// `YYYY-MM-DD` of a date as people type it.
fn date(t: &str) -> Result<String, String> {
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(t, f).ok())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| format!("`{t}` is not a date (YYYY-MM-DD)"))
}

/// RFC 3339 of a date-time: as given with an offset, or China's time
/// (+08:00) for one typed without.
fn datetime(t: &str) -> Result<String, String> {
    if chrono::DateTime::parse_from_rfc3339(t).is_ok() {
        return Ok(t.to_owned());
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
    .map(|d| d.format("%Y-%m-%dT%H:%M:%S+08:00").to_string())
    .ok_or_else(|| format!("`{t}` is not a date and time (YYYY-MM-DD HH:MM)"))
}

fn geo(t: &str) -> Result<Geo, String> {
    let parts: Vec<&str> = t
        .split([',', '，', ' '])
        .filter(|p| !p.is_empty())
        .collect();
    let bad = || format!("`{t}` is not a position `latitude,longitude`");
    match parts.as_slice() {
        [lat, lng] => Ok(Geo {
            lat: lat.parse().map_err(|_| bad())?,
            lng: lng.parse().map_err(|_| bad())?,
        }),
        _ => Err(bad()),
    }
}

/// What a cell's text asks of `field`; none for a blank cell (which leaves
/// the field as it is).
pub fn wanted(field: &FieldDef, text: &str) -> Result<Option<Wanted>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let value = match field.kind {
        FieldKind::Scalar { ty, .. } => match ty {
            ScalarType::Text { .. } | ScalarType::Decimal => Value::Text(t.to_owned()),
            ScalarType::Integer { .. } => Value::Int(
                t.parse()
                    .map_err(|_| format!("`{t}` is not a whole number"))?,
            ),
            ScalarType::Bool => {
                let lower = t.to_lowercase();
                if YES.contains(&lower.as_str()) {
                    Value::Bool(true)
                } else if NO.contains(&lower.as_str()) {
                    Value::Bool(false)
                } else {
                    return Err(format!("`{t}` is neither 是 nor 否"));
                }
            }
            ScalarType::Date => Value::Text(date(t)?),
            ScalarType::DateTime => Value::Text(datetime(t)?),
            ScalarType::Enum { values } => Value::Text(choice(values, t)?.to_owned()),
            ScalarType::Ref { .. } => return Ok(Some(Wanted::Household(t.to_owned()))),
            ScalarType::Geo => Value::Geo(geo(t)?),
            // Whole numbers only: a masked one (`420202********1234`)
            // identifies nobody.
            ScalarType::IdNumber => {
                let id = t.to_uppercase();
                validate::id_number(&id).map_err(|r| format!("not a valid ID number: {r}"))?;
                Value::Text(id)
            }
            ScalarType::Phone => {
                if !validate::is_phone(t) {
                    return Err(format!("`{t}` is not a phone number"));
                }
                Value::Text(t.to_owned())
            }
            ScalarType::Attachment => return Err("a photo cannot come from a register".into()),
            ScalarType::Assignee => return Err("an assignee cannot come from a register".into()),
        },
        FieldKind::Set { values, .. } => {
            let mut members = Vec::new();
            for m in t
                .split([',', '，', '、', ';', '；', '\n'])
                .map(str::trim)
                .filter(|m| !m.is_empty())
            {
                let m = match values {
                    Closed(Some(choices)) => choice(choices, m)?.to_owned(),
                    Closed(None) => m.to_owned(),
                };
                if !members.contains(&m) {
                    members.push(m);
                }
            }
            return Ok(Some(Wanted::Members(members)));
        }
        FieldKind::Log { .. } | FieldKind::Level | FieldKind::Counter => {
            return Err("this field is not filled from a register".into())
        }
    };
    Ok(Some(Wanted::Value(value)))
}

/// Which column each cell of a sheet fills.
#[derive(Debug, Clone)]
pub struct Layout {
    pub collection: &'static CollectionDef,
    /// By cell index; none for a column without a header (and no values).
    columns: Vec<Option<Column>>,
    header: Vec<String>,
}

/// The fields a collection's natural key is made of.
fn key_fields(collection: &str) -> &'static [&'static str] {
    match collection {
        "resident" => &["id_number"],
        "household" => &["address"],
        "place" => &["name", "address"],
        _ => &[],
    }
}

impl Layout {
    /// Read a sheet's header as columns of `collection`: every header names
    /// a column, once; the grid and the natural key's columns are there; no
    /// values stand under no header.
    pub fn new(collection: &'static CollectionDef, sheet: &Sheet) -> Result<Layout, String> {
        let width = sheet
            .rows
            .iter()
            .map(|r| r.cells.len())
            .chain([sheet.header.len()])
            .max()
            .unwrap_or(0);
        let mut cols: Vec<Option<Column>> = Vec::with_capacity(width);
        for i in 0..width {
            let h = sheet.header.get(i).map_or("", |h| h.trim());
            if h.is_empty() {
                if sheet
                    .rows
                    .iter()
                    .any(|r| r.cells.get(i).is_some_and(|c| !c.is_blank()))
                {
                    return Err(format!("column {} has values and no header", letters(i)));
                }
                cols.push(None);
                continue;
            }
            let Some(col) = column_of(collection, h) else {
                let known: Vec<String> = columns(collection).iter().map(|c| c.header()).collect();
                return Err(format!(
                    "column {} `{h}` is no column of {} {} (the columns are: {})",
                    letters(i),
                    collection.label.zh,
                    collection.name,
                    known.join(", ")
                ));
            };
            if let Some(j) = cols.iter().position(|c| *c == Some(col)) {
                return Err(format!(
                    "columns {} and {} are both `{}`",
                    letters(j),
                    letters(i),
                    col.header()
                ));
            }
            cols.push(Some(col));
        }
        let has = |name: &str| cols.iter().flatten().any(|c| c.name() == name);
        for needed in std::iter::once("grid").chain(key_fields(collection.name).iter().copied()) {
            if !has(needed) {
                let col = columns(collection)
                    .into_iter()
                    .find(|c| c.name() == needed)
                    .map_or(needed.to_owned(), Column::header);
                return Err(format!(
                    "no column `{col}`: {}",
                    if needed == "grid" {
                        "every record belongs to one grid"
                    } else {
                        why_needed(collection.name)
                    }
                ));
            }
        }
        Ok(Layout {
            collection,
            columns: cols,
            header: sheet.header.clone(),
        })
    }

    /// `C 身份证号 id_number`: the letter and the header of a cell index.
    fn column_at(&self, i: usize) -> String {
        format!(
            "{} {}",
            letters(i),
            self.header.get(i).map_or("", |h| h.trim())
        )
    }

    /// The column a field's cell is in, as the report names it (empty when
    /// the sheet has no such column).
    pub fn column_of_field(&self, field: &str) -> String {
        let field = field.split('.').next().unwrap_or(field);
        self.columns
            .iter()
            .position(|c| c.is_some_and(|c| c.name() == field))
            .map(|i| self.column_at(i))
            .unwrap_or_default()
    }

    /// Read a row: every cell's value, the grid (which `grid_ok` accepts),
    /// the natural key. A row with something wrong is refused with a reason
    /// for each cell at fault.
    pub fn parse(
        &self,
        sheet: &str,
        row: &Row,
        grid_ok: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<Parsed, Vec<Refusal>> {
        let refusal = |column: String, reason: String| Refusal {
            sheet: sheet.to_owned(),
            row: row.number,
            column,
            reason,
        };
        let mut refused = Vec::new();
        let mut grid = String::new();
        let mut values = Vec::new();
        for (i, cell) in row.cells.iter().enumerate() {
            let Some(Some(col)) = self.columns.get(i) else {
                continue;
            };
            let text = match cell {
                Cell::Text(t) => t,
                Cell::Error(e) => {
                    refused.push(refusal(
                        self.column_at(i),
                        format!("the cell holds the spreadsheet error {e}"),
                    ));
                    continue;
                }
            };
            match col {
                Column::Grid => grid = text.trim().to_owned(),
                Column::Field(f) => match wanted(f, text) {
                    Ok(Some(w)) => values.push((*f, w)),
                    Ok(None) => {}
                    Err(reason) => refused.push(refusal(self.column_at(i), reason)),
                },
            }
        }
        let grid_column = self.column_of_field("grid");
        if grid.is_empty() {
            refused.push(refusal(
                grid_column,
                "no grid: every record belongs to one grid".into(),
            ));
        } else if let Err(reason) = grid_ok(&grid) {
            refused.push(refusal(grid_column, reason));
        }
        if !refused.is_empty() {
            return Err(refused);
        }
        let text_of = |field: &str| {
            values.iter().find_map(|(f, w)| match w {
                Wanted::Value(Value::Text(s)) if f.name == field => Some(s.as_str()),
                _ => None,
            })
        };
        let key = key_of(self.collection.name, &grid, text_of).map_err(|missing| {
            vec![refusal(
                self.column_of_field(missing),
                why_needed(self.collection.name).to_owned(),
            )]
        })?;
        Ok(Parsed {
            row: row.number,
            grid,
            values,
            key,
        })
    }
}

/// The change a row makes, by `dev`: a new record of `collection` in the
/// row's grid, or (`existing`, which `dev`'s replica holds) an edit writing
/// only the fields whose values differ; none when nothing differs. Every
/// [`Wanted::Household`] must be resolved to a value first.
pub fn change_for(
    dev: &mut Device,
    collection: &CollectionDef,
    grid: &str,
    values: &[(&'static FieldDef, Wanted)],
    existing: Option<Uuid>,
) -> Result<Option<Change>, ChangeError> {
    let Some(id) = existing else {
        let mut edit = dev.create(collection.name, grid, Uuid::new_v4());
        for (f, w) in values {
            match w {
                Wanted::Value(v) => edit = edit.set(f.name, v.clone()),
                Wanted::Members(ms) => {
                    for m in ms {
                        edit = edit.add(f.name, m);
                    }
                }
                Wanted::Household(_) => unreachable!("households are resolved before"),
            }
        }
        return edit.commit().map(Some);
    };
    let record = dev
        .replica()
        .record(id)
        .ok_or(ChangeError::UnknownRecord { record: id })?;
    let view = record.view();
    let mut sets: Vec<(&str, Value)> = Vec::new();
    let mut adds: Vec<(&str, &str)> = Vec::new();
    let mut removes: Vec<(&str, String)> = Vec::new();
    for (f, w) in values {
        match w {
            Wanted::Value(v) => {
                if record.values(f.name) != [v.clone()] {
                    sets.push((f.name, v.clone()));
                }
            }
            Wanted::Members(ms) => {
                let now: Vec<String> = match view.fields.get(f.name) {
                    Some(FieldView::Set(members)) => members.clone(),
                    _ => Vec::new(),
                };
                adds.extend(
                    ms.iter()
                        .filter(|m| !now.contains(m))
                        .map(|m| (f.name, m.as_str())),
                );
                removes.extend(
                    now.into_iter()
                        .filter(|m| !ms.contains(m))
                        .map(|m| (f.name, m)),
                );
            }
            Wanted::Household(_) => unreachable!("households are resolved before"),
        }
    }
    if sets.is_empty() && adds.is_empty() && removes.is_empty() {
        return Ok(None);
    }
    let mut edit = dev.edit(id);
    for (f, v) in sets {
        edit = edit.set(f, v);
    }
    for (f, m) in adds {
        edit = edit.add(f, m);
    }
    for (f, m) in &removes {
        edit = edit.remove(f, m);
    }
    edit.commit().map(Some)
}

#[cfg(test)]
mod tests {
    use gridsync_core::Schema;

    use super::*;

    fn field(collection: &str, name: &str) -> &'static FieldDef {
        Schema::current()
            .collection(collection)
            .unwrap()
            .field(name)
            .unwrap()
    }

    fn value(collection: &str, name: &str, text: &str) -> Result<Option<Wanted>, String> {
        wanted(field(collection, name), text)
    }

    fn text(s: &str) -> Option<Wanted> {
        Some(Wanted::Value(Value::Text(s.into())))
    }

    #[test]
    fn cells_become_values_of_their_field_type() {
        let id = "11010519491231002X";
        let table: &[(&str, &str, &str, Option<Wanted>)] = &[
            ("resident", "name", " 张三 ", text("张三")),
            ("resident", "name", "  ", None),
            ("resident", "gender", "男", text("male")),
            ("resident", "gender", "male", text("male")),
            ("resident", "gender", "Female", text("female")),
            ("resident", "category", "流动人口", text("floating")),
            ("resident", "birth_date", "1949-12-31", text("1949-12-31")),
            ("resident", "birth_date", "1949/12/31", text("1949-12-31")),
            ("resident", "birth_date", "1949.1.5", text("1949-01-05")),
            ("resident", "birth_date", "19491231", text("1949-12-31")),
            (
                "resident",
                "birth_date",
                "1949年12月31日",
                text("1949-12-31"),
            ),
            ("resident", "id_number", "11010519491231002x", text(id)),
            ("resident", "phone", "13812345678", text("13812345678")),
            ("resident", "phone", "0714-6543210", text("0714-6543210")),
            (
                "resident",
                "visit_interval_days",
                "30",
                Some(Wanted::Value(Value::Int(30))),
            ),
            (
                "resident",
                "household",
                "幸福路12号",
                Some(Wanted::Household("幸福路12号".into())),
            ),
            (
                "household",
                "rental",
                "是",
                Some(Wanted::Value(Value::Bool(true))),
            ),
            (
                "household",
                "rental",
                "否",
                Some(Wanted::Value(Value::Bool(false))),
            ),
            (
                "household",
                "rental",
                "TRUE",
                Some(Wanted::Value(Value::Bool(true))),
            ),
            ("household", "use", "出租", text("rental")),
            (
                "household",
                "location",
                "30.2, 115.1",
                Some(Wanted::Value(Value::Geo(Geo {
                    lat: 30.2,
                    lng: 115.1,
                }))),
            ),
            (
                "household",
                "tags",
                "独居、低保, 独居；空巢",
                Some(Wanted::Members(vec![
                    "独居".into(),
                    "低保".into(),
                    "空巢".into(),
                ])),
            ),
            ("place", "type", "易燃易爆", text("flammable_explosive")),
            (
                "place",
                "inspection_interval_days",
                "7",
                Some(Wanted::Value(Value::Int(7))),
            ),
        ];
        for (c, f, t, want) in table {
            assert_eq!(value(c, f, t).as_ref(), Ok(want), "{c}.{f} {t:?}");
        }
    }

    #[test]
    fn cells_that_mean_nothing_for_their_field_say_why() {
        let table: &[(&str, &str, &str, &str)] = &[
            (
                "resident",
                "gender",
                "男性",
                "`男性` is not one of: 男 male, 女 female",
            ),
            ("resident", "birth_date", "31/12/1949", "is not a date"),
            (
                "resident",
                "id_number",
                "110105194912310021",
                "the check character is `1`, it should be `X`",
            ),
            (
                "resident",
                "id_number",
                "420202********1234",
                "not a valid ID number",
            ),
            ("resident", "phone", "12345", "is not a phone number"),
            ("resident", "phone", "138****5678", "is not a phone number"),
            (
                "resident",
                "visit_interval_days",
                "30天",
                "is not a whole number",
            ),
            ("household", "rental", "maybe", "neither 是 nor 否"),
            ("household", "location", "north", "not a position"),
            ("place", "type", "饭店", "is not one of"),
        ];
        for (c, f, t, why) in table {
            let e = value(c, f, t).unwrap_err();
            assert!(e.contains(why), "{c}.{f} {t:?}: {e}");
        }
    }

    fn sheet(header: &[&str], rows: &[&[&str]]) -> Sheet {
        Sheet {
            name: "人口".into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| Row {
                    number: i + 2,
                    cells: r.iter().map(|c| Cell::Text(c.to_string())).collect(),
                })
                .collect(),
        }
    }

    fn residents() -> &'static CollectionDef {
        Schema::current().collection("resident").unwrap()
    }

    #[test]
    fn a_header_must_name_columns_once_with_the_grid_and_the_key() {
        let r = residents();
        assert!(Layout::new(r, &sheet(&["网格编码 grid", "身份证号", "姓名 name"], &[])).is_ok());
        let e = Layout::new(r, &sheet(&["grid", "身份证号", "年龄"], &[])).unwrap_err();
        assert!(
            e.starts_with("column C `年龄` is no column of 人口 resident"),
            "{e}"
        );
        let e = Layout::new(r, &sheet(&["grid", "身份证号", "name", "姓名"], &[])).unwrap_err();
        assert_eq!(e, "columns C and D are both `姓名 name`");
        let e = Layout::new(r, &sheet(&["身份证号", "name"], &[])).unwrap_err();
        assert!(e.starts_with("no column `网格编码 grid`"), "{e}");
        let e = Layout::new(r, &sheet(&["grid", "name"], &[])).unwrap_err();
        assert!(e.starts_with("no column `身份证号 id_number`"), "{e}");
        let e = Layout::new(
            r,
            &sheet(&["grid", "身份证号", ""], &[&["g1", "x", "stray"]]),
        )
        .unwrap_err();
        assert_eq!(e, "column C has values and no header");
        // An empty column without a header is no matter.
        assert!(Layout::new(r, &sheet(&["grid", "", "身份证号"], &[&["g1", "", "x"]])).is_ok());
    }

    #[test]
    fn a_row_is_refused_with_every_cell_at_fault() {
        let s = sheet(
            &["grid", "身份证号 id_number", "性别", "姓名"],
            &[
                &["g1", "11010519491231002X", "男", "张三"],
                &["g9", "110105194912310021", "男性", "李四"],
                &["g1", "", "女", "王五"],
                &["", "11010519491231002X", "", ""],
            ],
        );
        let layout = Layout::new(residents(), &s).unwrap();
        let grid_ok = |g: &str| {
            if g == "g1" {
                Ok(())
            } else {
                Err(format!("grid `{g}` is not inside node c1"))
            }
        };
        let ok = layout.parse("人口", &s.rows[0], &grid_ok).unwrap();
        assert_eq!((ok.row, ok.grid.as_str()), (2, "g1"));
        assert_eq!(ok.text("gender"), Some("male"));
        let bad = layout.parse("人口", &s.rows[1], &grid_ok).unwrap_err();
        let got: Vec<(usize, &str)> = bad.iter().map(|r| (r.row, r.column.as_str())).collect();
        assert_eq!(
            got,
            [(3, "B 身份证号 id_number"), (3, "C 性别"), (3, "A grid")]
        );
        assert!(bad[2].reason.contains("not inside node c1"));
        let no_key = layout.parse("人口", &s.rows[2], &grid_ok).unwrap_err();
        assert_eq!(no_key[0].column, "B 身份证号 id_number");
        assert!(no_key[0].reason.contains("matched by ID number"));
        let no_grid = layout.parse("人口", &s.rows[3], &grid_ok).unwrap_err();
        assert_eq!(no_grid[0].column, "A grid");
    }

    #[test]
    fn an_edit_writes_only_what_differs() {
        let household = Schema::current().collection("household").unwrap();
        let mut dev = Device::new(1000);
        let values = |address: &str, owner: &str, tags: &[&str]| {
            vec![
                (
                    field("household", "address"),
                    Wanted::Value(Value::Text(address.into())),
                ),
                (
                    field("household", "owner_name"),
                    Wanted::Value(Value::Text(owner.into())),
                ),
                (
                    field("household", "tags"),
                    Wanted::Members(tags.iter().map(|t| t.to_string()).collect()),
                ),
            ]
        };
        let created = change_for(
            &mut dev,
            household,
            "g1",
            &values("幸福路12号", "张三", &["独居", "低保"]),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(created.ops.len(), 3);
        let id = created.record;
        // The same values: nothing to write.
        let same = change_for(
            &mut dev,
            household,
            "g1",
            &values("幸福路12号", "张三", &["低保", "独居"]),
            Some(id),
        );
        assert_eq!(same.unwrap(), None);
        // A new owner and one tag less: those two fields only.
        let edit = change_for(
            &mut dev,
            household,
            "g1",
            &values("幸福路12号", "李四", &["低保"]),
            Some(id),
        )
        .unwrap()
        .unwrap();
        let touched: Vec<&str> =
            edit.ops
                .iter()
                .map(|op| match op {
                    gridsync_core::Op::Set { field, .. }
                    | gridsync_core::Op::Members { field, .. } => field.as_str(),
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
        assert_eq!(touched, ["owner_name", "tags"]);
        let view = dev.replica().record(id).unwrap().view();
        assert_eq!(view.value("owner_name"), &Value::from("李四"));
        assert_eq!(
            view.fields.get("tags"),
            Some(&FieldView::Set(vec!["低保".into()]))
        );
    }

    #[test]
    fn the_core_refuses_what_a_row_cannot_hold() {
        let r = residents();
        let mut dev = Device::new(1000);
        // The ID number says 1949-12-31, the birth date another day.
        let values = vec![
            (
                field("resident", "id_number"),
                Wanted::Value(Value::Text("11010519491231002X".into())),
            ),
            (
                field("resident", "birth_date"),
                Wanted::Value(Value::Text("1950-01-01".into())),
            ),
        ];
        let e = change_for(&mut dev, r, "g1", &values, None).unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("invalid_id_number", Some("id_number"))
        );
        // Longer than the field allows.
        let long = "长".repeat(65);
        let values = vec![(field("resident", "name"), Wanted::Value(Value::Text(long)))];
        let e = change_for(&mut dev, r, "g1", &values, None).unwrap_err();
        assert_eq!(e.field(), Some("name"));
        assert_eq!(dev.next_seq(), 1, "a refused row uses no sequence number");
    }
}
