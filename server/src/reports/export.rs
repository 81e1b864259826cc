//! Reports as tables: CSV (one table, UTF-8 with a byte-order mark so that
//! spreadsheet programs read the Chinese labels) and spreadsheets (.xlsx, one
//! sheet per table). Headers are the Chinese label with the English key.
//! A column of codes (collection, category, status, level, severity, list)
//! shows their Chinese labels, from the schema, and is followed by a column
//! of the codes themselves (`status_code`), for a machine to read back.

use gridsync_core::{Level, OverdueList, Schema};
use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value as Json;

/// One table of a report: its rows are JSON objects, its columns keys of them.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    /// The collection of every row, when the rows carry no `collection`.
    pub collection: Option<&'static str>,
    pub columns: &'static [&'static str],
    pub rows: Vec<Json>,
}

/// The Chinese label of a report key (the key itself when there is none).
pub fn zh(key: &str) -> &str {
    match key {
        "code" => "节点编码",
        "name" => "名称",
        "level" => "层级",
        "grid" => "网格",
        "grid_name" => "网格名称",
        "node_name" => "节点名称",
        "collection" => "类别",
        "category" => "分类",
        "status" => "状态",
        "severity" => "严重程度",
        "records" => "在册",
        "open" => "在办",
        "new" => "新增",
        "closed" => "办结",
        "overdue" => "超期",
        "escalated" => "上报升级",
        "conflicted" => "待裁决冲突",
        "newly_overdue" => "新超期",
        "due_soon" => "24小时内到期",
        "day" => "日期",
        "rounds" => "巡逻轮次",
        "missed" => "漏巡",
        "planned" => "计划点位",
        "visited" => "已巡点位",
        "missed_checkpoints" => "漏巡点位",
        "unplanned" => "计划外点位",
        "checkins" => "打卡",
        "coverage" => "覆盖率",
        "starts_at" => "计划开始",
        "id" => "编号",
        "label" => "标题",
        "assignee" => "承办人",
        "deadline" => "期限",
        "days_late" => "超期天数",
        "rank" => "排名",
        "username" => "账号",
        "full_name" => "姓名",
        "node" => "所属节点",
        "changes" => "提交",
        "reported" => "上报",
        "visits" => "走访",
        "inspections" => "巡查",
        "check_ins" => "巡逻打卡",
        "case_actions" => "处置记录",
        "sessions" => "调解次数",
        "agreed" => "调解成功",
        "score" => "得分",
        "list" => "清单",
        other => other,
    }
}

fn cell_text(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Keys whose values are codes with labels.
const CODED: &[&str] = &[
    "collection",
    "category",
    "status",
    "level",
    "severity",
    "list",
];

/// One column as written: a key of the rows, shown by its label, or the
/// codes of a coded key.
#[derive(Debug, Clone, Copy)]
enum Column<'a> {
    Value(&'a str),
    Label(&'a str),
    Code(&'a str),
}

fn columns(t: &Table) -> Vec<Column<'_>> {
    t.columns
        .iter()
        .flat_map(|k| {
            if CODED.contains(k) {
                vec![Column::Label(k), Column::Code(k)]
            } else {
                vec![Column::Value(k)]
            }
        })
        .collect()
}

fn header(c: Column<'_>) -> String {
    match c {
        Column::Value(k) | Column::Label(k) => format!("{} {k}", zh(k)),
        Column::Code(k) => format!("{}代码 {k}_code", zh(k)),
    }
}

/// The Chinese label of a coded cell: of a collection, an overdue list, a
/// level, or a value of the row's collection's field; the code when the
/// schema has none.
fn label(t: &Table, row: &Json, key: &str, code: &str) -> String {
    let schema = Schema::current();
    let found = match key {
        "collection" => schema.collection(code).map(|c| c.label),
        "list" => OverdueList::ALL
            .into_iter()
            .find(|l| l.as_str() == code)
            .map(OverdueList::label),
        "level" => Level::parse(code).map(Level::label),
        _ => row
            .get("collection")
            .and_then(Json::as_str)
            .or(t.collection)
            .and_then(|c| schema.value_label(c, key, code)),
    };
    found.map_or_else(|| code.to_owned(), |l| l.zh.to_owned())
}

fn cell(t: &Table, row: &Json, c: Column<'_>) -> Option<Json> {
    match c {
        Column::Value(k) | Column::Code(k) => row.get(k).cloned(),
        Column::Label(k) => match row.get(k) {
            Some(Json::String(code)) => Some(Json::String(label(t, row, k, code))),
            other => other.cloned(),
        },
    }
}

/// One table as CSV.
pub fn to_csv(t: &Table) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let cols = columns(t);
    let header: Vec<String> = cols.iter().map(|c| header(*c)).collect();
    w.write_record(&header).map_err(|e| e.to_string())?;
    for row in &t.rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| cell_text(cell(t, row, *c).as_ref()))
            .collect();
        w.write_record(&cells).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Every table of a report as one workbook, a sheet per table.
pub fn to_xlsx(title: &str, tables: &[Table]) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    for t in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(t.name).map_err(|e| e.to_string())?;
        sheet
            .write_string_with_format(0, 0, title, &bold)
            .map_err(|e| e.to_string())?;
        let cols = columns(t);
        for (c, k) in cols.iter().enumerate() {
            let col = u16::try_from(c).map_err(|e| e.to_string())?;
            sheet
                .write_string_with_format(1, col, header(*k), &bold)
                .map_err(|e| e.to_string())?;
            sheet.set_column_width(col, 14).map_err(|e| e.to_string())?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            let line = u32::try_from(r + 2).map_err(|e| e.to_string())?;
            for (c, k) in cols.iter().enumerate() {
                let col = u16::try_from(c).map_err(|e| e.to_string())?;
                let res = match cell(t, row, *k).as_ref() {
                    None | Some(Json::Null) => continue,
                    Some(Json::Number(n)) => {
                        sheet.write_number(line, col, n.as_f64().unwrap_or(0.0))
                    }
                    Some(Json::Bool(b)) => sheet.write_boolean(line, col, *b),
                    v => sheet.write_string(line, col, cell_text(v)),
                };
                res.map_err(|e| e.to_string())?;
            }
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}
