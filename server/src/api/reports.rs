//! Supervisor reports: `GET /v1/reports/{summary,patrol,overdue,ranking,brief}`
//! as JSON, CSV or a spreadsheet, for a node's subtree and a period; and the
//! dashboard page that shows them. Definitions in docs/REPORTS.md.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use gridsync_core::OverdueList;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use utoipa::IntoParams;

use super::privacy::audit_entry;
use super::schemas::{
    BriefReport, ErrorBody, OverdueReport, PatrolReport, RankingReport, SummaryReport,
};
use super::{now_ms, AppState};
use crate::auth::policy::{NodeLevel, OrgTree, Role};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::reports::export::{to_csv, to_xlsx, Table};
use crate::reports::{
    self, days_late, local_date, local_time, overdue_list, patrol_report, rank, stored_label,
    summarize, LateItem, Period, Person, Tree, DAY_MS,
};
use crate::store::reports::{LateQuery, LateRow, Windows};
use crate::store::{Store, StoreError};

/// Longest list of late records per collection.
const MAX_LIST: i64 = 1000;

/// The parameters every report takes (docs/REPORTS.md, "Periods and the
/// time zone"); unknown ones are `400 invalid_query`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The org node (default: the caller's); at or under the caller's.
    node: Option<String>,
    /// `day`, `week`, `month` or `quarter` (around `date`), or give `from`
    /// and `to`.
    period: Option<String>,
    /// `YYYY-MM-DD` (default today, China time).
    date: Option<String>,
    /// `YYYY-MM-DD`: a range's first day.
    from: Option<String>,
    /// `YYYY-MM-DD`: a range's last day.
    to: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    format: Option<String>,
    /// CSV: which table of the report (default its first).
    table: Option<String>,
    /// Lists and rankings: how many lines, 1 to 1000.
    limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

/// What a report is computed for.
#[derive(Debug)]
pub(super) struct Ctx {
    pub code: String,
    pub node: reports::NodeOut,
    pub tree: Tree,
    pub org: OrgTree,
    pub grids: Vec<String>,
    pub period: Period,
    pub as_of: i64,
    pub limit: i64,
}

/// The report context of node `code` for `who`: the org tree, the node and
/// its grids; `404 not_found` for no such node, `403 out_of_scope` for one
/// outside the caller's.
pub(super) fn context(
    store: &Store,
    who: &Caller,
    code: String,
    period: Period,
    as_of: i64,
    limit: i64,
) -> Result<Result<Ctx, ApiError>, StoreError> {
    let rows = store.org_tree()?;
    let tree = Tree::new(rows.iter().map(|n| {
        (
            n.code.clone(),
            n.parent.clone(),
            n.level.clone(),
            n.name.clone(),
        )
    }));
    let org = OrgTree::new(
        rows.into_iter()
            .filter_map(|n| Some((n.code, n.parent, NodeLevel::parse(&n.level)?))),
    );
    let Some(node) = tree.node(&code) else {
        return Ok(Err(ApiError::NotFound {
            what: format!("node `{code}`"),
        }));
    };
    if !org.contains(&who.node, &code) {
        return Ok(Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: format!("node `{code}` is outside node `{}`", who.node),
        }));
    }
    let grids: Vec<String> = org.grids_under(&code).into_iter().collect();
    Ok(Ok(Ctx {
        code,
        node,
        tree,
        org,
        grids,
        period,
        as_of,
        limit,
    }))
}

/// A computed report: its JSON body and its tables; how many key persons it
/// lists (audited).
#[derive(Debug)]
struct Report {
    body: Json,
    tables: Vec<Table>,
    key_persons: usize,
}

macro_rules! cols {
    ($($k:expr),* ; figures) => {{
        const C: &[&str] = &[$($k,)* "records", "open", "new", "closed", "overdue", "escalated", "conflicted", "newly_overdue", "due_soon"];
        C
    }};
    ($($k:expr),* ; summary) => {{
        const C: &[&str] = &[$($k,)* "records", "open", "new", "closed", "overdue", "escalated", "conflicted"];
        C
    }};
    ($($k:expr),*) => {{
        const C: &[&str] = &[$($k),*];
        C
    }};
}

fn rows_of(v: &Json) -> Vec<Json> {
    v.as_array().cloned().unwrap_or_default()
}

/// Run one report: check the caller and the node, compute it in the store's
/// thread pool, audit exports and key-person lists, answer in the format asked.
async fn run(
    state: web::Data<AppState>,
    caller: Caller,
    params: ReportParams,
    name: &'static str,
    default_limit: i64,
    compute: fn(&Store, &Ctx) -> Result<Report, StoreError>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let format = match params.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(other) => {
            return Err(ApiError::bad(
                "invalid_query",
                format!("format `{other}` is not one of json, csv, xlsx"),
            ))
        }
    };
    let now = now_ms();
    let period = Period::parse(
        params.period.as_deref(),
        params.date.as_deref(),
        params.from.as_deref(),
        params.to.as_deref(),
        local_date(now),
    )
    .map_err(|m| ApiError::bad("invalid_period", m))?;
    let limit = match params.limit {
        None => default_limit,
        Some(l) if (1..=MAX_LIST).contains(&l) => l,
        Some(l) => {
            return Err(ApiError::bad(
                "invalid_query",
                format!("limit {l} is outside 1..={MAX_LIST}"),
            ))
        }
    };
    let code = params.node.clone().unwrap_or_else(|| caller.node.clone());
    let table = params.table.clone();
    let store = state.store.clone();
    let who = caller.clone();
    let (bytes, filename) = web::block(move || {
        let ctx = match context(&store, &who, code, period, now, limit)? {
            Ok(ctx) => ctx,
            Err(e) => return Ok(Err(e)),
        };
        let mut report = compute(&store, &ctx)?;
        let mut envelope = json!({
            "report": name,
            "node": ctx.node,
            "period": ctx.period.out(),
            "as_of": local_time(ctx.as_of),
        });
        if let (Some(e), Json::Object(body)) = (envelope.as_object_mut(), report.body.take()) {
            e.extend(body);
        }
        let mut audit = Vec::new();
        if report.key_persons > 0 {
            audit.push(audit_entry(
                &who,
                "report_key_persons",
                format!("node:{}", ctx.code),
                format!(
                    "{} key persons listed in the {name} report",
                    report.key_persons
                ),
            ));
        }
        let stem = format!(
            "gridsync-{name}-{}-{}-{}",
            ctx.code, ctx.period.first, ctx.period.last
        );
        let out = match format {
            Format::Json => {
                store.audit(&audit, now)?;
                return Ok(Ok((envelope.to_string().into_bytes(), None)));
            }
            Format::Csv => {
                let t = match &table {
                    None => report.tables.first(),
                    Some(t) => report.tables.iter().find(|x| x.name == t),
                };
                let Some(t) = t else {
                    let names: Vec<&str> = report.tables.iter().map(|t| t.name).collect();
                    return Ok(Err(ApiError::bad(
                        "unknown_table",
                        format!("the {name} report has the tables {names:?}"),
                    )));
                };
                let bytes = to_csv(t).map_err(ApiError::Internal);
                (
                    bytes,
                    format!("{stem}-{}.csv", t.name),
                    t.name.to_owned(),
                    t.rows.len(),
                )
            }
            Format::Xlsx => {
                let title = format!(
                    "{} {} {}..{} ({})",
                    ctx.node.name,
                    name,
                    ctx.period.first,
                    ctx.period.last,
                    local_time(ctx.as_of)
                );
                let bytes = to_xlsx(&title, &report.tables).map_err(ApiError::Internal);
                let n = report.tables.iter().map(|t| t.rows.len()).sum();
                (bytes, format!("{stem}.xlsx"), "all".to_owned(), n)
            }
        };
        let (bytes, filename, table, n) = out;
        audit.push(audit_entry(
            &who,
            "export_report",
            format!("report:{name} node:{}", ctx.code),
            format!(
                "format={} table={table} rows={n} period={}..{}",
                if format == Format::Csv { "csv" } else { "xlsx" },
                ctx.period.first,
                ctx.period.last
            ),
        ));
        store.audit(&audit, now)?;
        Ok::<_, StoreError>(bytes.map(|b| (b, Some(filename))))
    })
    .await???;
    let mut res = HttpResponse::Ok();
    match (format, filename) {
        (Format::Json, _) | (_, None) => res.content_type("application/json"),
        (Format::Csv, Some(f)) => res.content_type("text/csv; charset=utf-8").insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{f}\""),
        )),
        (Format::Xlsx, Some(f)) => res
            .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{f}\""),
            )),
    };
    Ok(res.body(bytes))
}

fn windows(ctx: &Ctx, from: i64, to: i64, at_risk: bool) -> Windows {
    Windows {
        from,
        to,
        as_of: ctx.as_of,
        soon: DAY_MS,
        at_risk,
    }
}

fn summary_report(store: &Store, ctx: &Ctx) -> Result<Report, StoreError> {
    let w = windows(ctx, ctx.period.start_ms(), ctx.period.end_ms(), false);
    let rows = store.report_counts(&ctx.grids, w)?;
    let s = summarize(&rows, &ctx.tree, &ctx.code);
    let body = serde_json::to_value(&s).unwrap_or_default();
    let tables = vec![
        Table {
            name: "by_node",
            collection: None,
            columns: cols!("code", "name", "level"; summary),
            rows: rows_of(&body["by_node"]),
        },
        Table {
            name: "by_collection",
            collection: None,
            columns: cols!("collection"; summary),
            rows: rows_of(&body["by_collection"]),
        },
        Table {
            name: "by_category",
            collection: None,
            columns: cols!("collection", "category"; summary),
            rows: rows_of(&body["by_category"]),
        },
        Table {
            name: "by_status",
            collection: None,
            columns: cols!("collection", "status"; summary),
            rows: rows_of(&body["by_status"]),
        },
        Table {
            name: "by_level",
            collection: None,
            columns: cols!("collection", "level"; summary),
            rows: rows_of(&body["by_level"]),
        },
    ];
    Ok(Report {
        body,
        tables,
        key_persons: 0,
    })
}

fn patrol(store: &Store, ctx: &Ctx) -> Result<Report, StoreError> {
    let rounds = store.report_rounds(&ctx.grids, ctx.period.start_ms(), ctx.period.end_ms())?;
    let mut rep = patrol_report(rounds, ctx.as_of);
    // The totals count every round; the list of rounds stops at `limit`.
    let listed = usize::try_from(ctx.limit).unwrap_or(usize::MAX);
    let total = rep.rounds.len();
    rep.rounds.truncate(listed);
    let mut body = serde_json::to_value(&rep).unwrap_or_default();
    body["rounds_total"] = json!(total);
    name_rows(body.get_mut("by_grid"), "grid", "grid_name", &ctx.tree);
    name_rows(body.get_mut("rounds"), "grid", "grid_name", &ctx.tree);
    let tables = vec![
        Table {
            name: "by_grid",
            collection: None,
            columns: cols!(
                "grid",
                "grid_name",
                "rounds",
                "missed",
                "planned",
                "visited",
                "missed_checkpoints",
                "unplanned",
                "checkins",
                "coverage"
            ),
            rows: rows_of(&body["by_grid"]),
        },
        Table {
            name: "by_day",
            collection: None,
            columns: cols!(
                "day",
                "rounds",
                "missed",
                "planned",
                "visited",
                "missed_checkpoints",
                "unplanned",
                "checkins",
                "coverage"
            ),
            rows: rows_of(&body["by_day"]),
        },
        Table {
            name: "rounds",
            collection: Some("patrol_round"),
            columns: cols!(
                "day",
                "grid",
                "grid_name",
                "id",
                "status",
                "planned",
                "visited",
                "missed_checkpoints",
                "unplanned",
                "checkins",
                "missed",
                "starts_at"
            ),
            rows: rows_of(&body["rounds"]),
        },
    ];
    Ok(Report {
        body,
        tables,
        key_persons: 0,
    })
}

/// Add `name_key`: the name of the node each row names in `key`.
fn name_rows(rows: Option<&mut Json>, key: &str, name_key: &str, tree: &Tree) {
    for row in rows.and_then(Json::as_array_mut).into_iter().flatten() {
        let name = row[key].as_str().map(|c| tree.name(c));
        if let (Some(name), Some(o)) = (name, row.as_object_mut()) {
            o.insert(name_key.to_owned(), json!(name));
        }
    }
}

fn late_items(rows: Vec<LateRow>, as_of: i64, tree: &Tree) -> Vec<LateItem> {
    rows.into_iter()
        .map(|r| {
            let label = stored_label(r.label, &r.state);
            LateItem {
                label,
                days_late: days_late(r.deadline, as_of),
                deadline: local_time(r.deadline),
                id: r.id,
                collection: r.collection,
                grid_name: tree.name(&r.grid),
                grid: r.grid,
                category: r.category,
                status: r.status,
                level: r.level,
                assignee: r.assignee,
            }
        })
        .collect()
}

const LATE_COLUMNS: &[&str] = &[
    "list",
    "collection",
    "grid",
    "grid_name",
    "id",
    "label",
    "category",
    "status",
    "level",
    "assignee",
    "deadline",
    "days_late",
];

/// Late items grouped into the five lists, with their full counts.
fn lists(items: Vec<LateItem>, counts: &[(String, i64)]) -> (Json, Vec<Table>, usize) {
    let mut by_list: HashMap<&str, Vec<Json>> = HashMap::new();
    let mut key_persons = 0;
    for item in items {
        let Some(list) = overdue_list(&item.collection) else {
            continue;
        };
        key_persons += usize::from(list == OverdueList::KeyPersons.as_str());
        let mut v = serde_json::to_value(&item).unwrap_or_default();
        v["list"] = json!(list);
        by_list.entry(list).or_default().push(v);
    }
    let mut body = serde_json::Map::new();
    let mut totals = serde_json::Map::new();
    let mut tables = Vec::new();
    for list in OverdueList::ALL {
        let n: i64 = counts
            .iter()
            .filter(|(c, _)| list.collections().any(|l| l == c))
            .map(|(_, n)| n)
            .sum();
        let list = list.as_str();
        totals.insert(list.to_owned(), json!(n));
        let rows = by_list.remove(list).unwrap_or_default();
        body.insert(list.to_owned(), Json::Array(rows.clone()));
        tables.push(Table {
            name: list,
            collection: None,
            columns: LATE_COLUMNS,
            rows,
        });
    }
    body.insert("counts".into(), Json::Object(totals));
    (Json::Object(body), tables, key_persons)
}

fn all_late_collections() -> Vec<String> {
    OverdueList::ALL
        .iter()
        .flat_map(|l| l.collections().map(str::to_owned))
        .collect()
}

fn overdue(store: &Store, ctx: &Ctx) -> Result<Report, StoreError> {
    let q = LateQuery {
        grids: ctx.grids.clone(),
        collections: all_late_collections(),
        before: ctx.as_of,
        since: None,
        limit: ctx.limit,
    };
    let (rows, counts) = store.report_late(&q)?;
    let (body, tables, key_persons) = lists(late_items(rows, ctx.as_of, &ctx.tree), &counts);
    Ok(Report {
        body,
        tables,
        key_persons,
    })
}

fn ranking(store: &Store, ctx: &Ctx) -> Result<Report, StoreError> {
    let a = store.report_activity(&ctx.grids, ctx.period.start_ms(), ctx.period.end_ms())?;
    let actors: HashMap<i64, i64> = a.actors.into_iter().collect();
    let people: Vec<Person> = a
        .users
        .into_iter()
        .filter(|u| !u.disabled && ctx.org.contains(&ctx.code, &u.node))
        .map(|u| Person {
            user_id: u.id,
            username: u.username,
            full_name: u.full_name,
            role: u.role,
            node: u.node,
        })
        .collect();
    let mut r = rank(&a.changes, &actors, &people);
    let top = usize::try_from(ctx.limit).unwrap_or(10);
    let counted = json!({
        "grid_workers": r.grid_workers.len(),
        "mediators": r.mediators.len(),
        "changes": a.changes.len(),
    });
    r.grid_workers.truncate(top);
    r.mediators.truncate(top);
    let mut body = serde_json::to_value(&r).unwrap_or_default();
    body["counted"] = counted;
    name_rows(body.get_mut("grid_workers"), "node", "node_name", &ctx.tree);
    name_rows(body.get_mut("mediators"), "node", "node_name", &ctx.tree);
    const WORKER: &[&str] = &[
        "rank",
        "username",
        "full_name",
        "node",
        "node_name",
        "score",
        "reported",
        "closed",
        "visits",
        "inspections",
        "check_ins",
        "case_actions",
        "changes",
        "records",
    ];
    const MEDIATOR: &[&str] = &[
        "rank",
        "username",
        "full_name",
        "node",
        "node_name",
        "score",
        "sessions",
        "agreed",
        "closed",
        "changes",
        "records",
    ];
    let tables = vec![
        Table {
            name: "grid_workers",
            collection: None,
            columns: WORKER,
            rows: rows_of(&body["grid_workers"]),
        },
        Table {
            name: "mediators",
            collection: None,
            columns: MEDIATOR,
            rows: rows_of(&body["mediators"]),
        },
    ];
    Ok(Report {
        body,
        tables,
        key_persons: 0,
    })
}

/// Since yesterday 00:00 (China time) of the brief's day, to the end of it.
fn brief(store: &Store, ctx: &Ctx) -> Result<Report, StoreError> {
    let from = ctx.period.start_ms() - DAY_MS;
    let to = ctx.period.end_ms();
    let rows = store.report_counts(&ctx.grids, windows(ctx, from, to, true))?;
    let s = summarize(&rows, &ctx.tree, &ctx.code);
    let q = LateQuery {
        grids: ctx.grids.clone(),
        collections: all_late_collections(),
        before: ctx.as_of + DAY_MS,
        since: Some(from),
        limit: ctx.limit,
    };
    let (late, counts) = store.report_late(&q)?;
    let (at_risk, mut tables, key_persons) = lists(late_items(late, ctx.as_of, &ctx.tree), &counts);
    let body = json!({
        "since": local_time(from),
        "totals": s.totals,
        "by_node": s.by_node,
        "by_collection": s.by_collection,
        "at_risk": at_risk,
    });
    tables.insert(
        0,
        Table {
            name: "by_node",
            collection: None,
            columns: cols!("code", "name", "level"; figures),
            rows: rows_of(&body["by_node"]),
        },
    );
    tables.insert(
        1,
        Table {
            name: "by_collection",
            collection: None,
            columns: cols!("collection"; figures),
            rows: rows_of(&body["by_collection"]),
        },
    );
    Ok(Report {
        body,
        tables,
        key_persons,
    })
}

/// Counts of a node's subtree over a period: totals and breakdowns (docs/REPORTS.md).
#[utoipa::path(
    get,
    path = "/v1/reports/summary",
    tag = "reports",
    params(ReportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report: JSON, or one table as CSV (`format=csv`), or every table as a spreadsheet (`format=xlsx`)",
            content(
                (SummaryReport = "application/json"),
                (String = "text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "`invalid_query`, `invalid_period`, `unknown_table`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn summary(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    run(
        state,
        caller,
        params.into_inner(),
        "summary",
        100,
        summary_report,
    )
    .await
}

/// Patrol coverage of the rounds due in the period (docs/REPORTS.md).
#[utoipa::path(
    get,
    path = "/v1/reports/patrol",
    tag = "reports",
    params(ReportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report: JSON, or one table as CSV (`format=csv`), or every table as a spreadsheet (`format=xlsx`)",
            content(
                (PatrolReport = "application/json"),
                (String = "text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "`invalid_query`, `invalid_period`, `unknown_table`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn patrol_coverage(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    run(state, caller, params.into_inner(), "patrol", 1000, patrol).await
}

/// The five overdue lists, as of now (docs/REPORTS.md).
#[utoipa::path(
    get,
    path = "/v1/reports/overdue",
    tag = "reports",
    params(ReportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report: JSON, or one table as CSV (`format=csv`), or every table as a spreadsheet (`format=xlsx`)",
            content(
                (OverdueReport = "application/json"),
                (String = "text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "`invalid_query`, `invalid_period`, `unknown_table`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn overdue_lists(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    run(state, caller, params.into_inner(), "overdue", 200, overdue).await
}

/// Grid workers and mediators ranked by their activity in the period (docs/REPORTS.md).
#[utoipa::path(
    get,
    path = "/v1/reports/ranking",
    tag = "reports",
    params(ReportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report: JSON, or one table as CSV (`format=csv`), or every table as a spreadsheet (`format=xlsx`)",
            content(
                (RankingReport = "application/json"),
                (String = "text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "`invalid_query`, `invalid_period`, `unknown_table`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn rankings(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    run(state, caller, params.into_inner(), "ranking", 10, ranking).await
}

/// What is new and at risk since yesterday 00:00, for one day (docs/REPORTS.md).
#[utoipa::path(
    get,
    path = "/v1/reports/brief",
    tag = "reports",
    params(ReportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report: JSON, or one table as CSV (`format=csv`), or every table as a spreadsheet (`format=xlsx`)",
            content(
                (BriefReport = "application/json"),
                (String = "text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "`invalid_query`, `invalid_period`, `unknown_table`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn daily_brief(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    if p.period.as_deref().is_some_and(|x| x != "day") || p.from.is_some() || p.to.is_some() {
        return Err(ApiError::bad(
            "invalid_period",
            "the brief is for one day: give `date` (default today)",
        ));
    }
    run(state, caller, p, "brief", 200, brief).await
}
