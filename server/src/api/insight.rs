//! The dashboard's second version, its API: the trend of cases over a period
//! (`GET /v1/reports/trend`), charts as SVG (`GET /v1/reports/chart.svg`),
//! the map's points and grid outlines (`GET /v1/reports/map`), and search
//! (`GET /v1/search`). Definitions in docs/REPORTS.md.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Duration;
use gridsync_core::{Label, Record, RecordView, Schema, Title};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use utoipa::{IntoParams, ToSchema};

use super::privacy::{audit_entry, mask_view};
use super::reports::{context, Ctx};
use super::schemas::{ErrorBody, ReportNode, ReportPeriod};
use super::{now_ms, AppState};
use crate::auth::policy::Role;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::reports::charts::{bars_svg, trend_svg, Bar, Bars, Series, Trend};
use crate::reports::export::zh;
use crate::reports::insight::{
    bucket_label, hull, like_pattern, matches, position, search_fields, trend, Bucket, By, Point,
};
use crate::reports::{
    label_of, local_date, local_time, patrol_report, summarize, Figures, Period, DAY_MS,
};
use crate::store::insight::StateRow;
use crate::store::reports::Windows;
use crate::store::{Store, StoreError};

/// The longest trend, chart and map answer's lists.
const MAX_POINTS: usize = 5000;
/// How many candidate records a search reads at most.
const SEARCH_CAP: i64 = 2000;

fn case_collections() -> Vec<String> {
    Schema::current()
        .cases()
        .map(|c| c.name.to_owned())
        .collect()
}

/// A period from the query; with none given, the 30 days up to today.
fn period_of(
    period: Option<&str>,
    date: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
) -> Result<Period, ApiError> {
    let today = local_date(now);
    let (from, to) = match (period, date, from, to) {
        (None, None, None, None) => (
            Some((today - Duration::days(29)).to_string()),
            Some(today.to_string()),
        ),
        _ => (from.map(str::to_owned), to.map(str::to_owned)),
    };
    Period::parse(period, date, from.as_deref(), to.as_deref(), today)
        .map_err(|m| ApiError::bad("invalid_period", m))
}

/// Resolve the node for `caller` and run `f` on the report context, in the
/// store's thread pool.
async fn with_ctx<T: Send + 'static>(
    state: &web::Data<AppState>,
    caller: &Caller,
    node: Option<String>,
    period: Period,
    f: impl FnOnce(&Store, &Ctx) -> Result<Result<T, ApiError>, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let code = node.unwrap_or_else(|| caller.node.clone());
    let store = state.store.clone();
    let who = caller.clone();
    web::block(move || {
        let ctx = match context(&store, &who, code, period, now_ms(), 100)? {
            Ok(ctx) => ctx,
            Err(e) => return Ok(Err(e)),
        };
        f(&store, &ctx)
    })
    .await??
}

// ---------------------------------------------------------------- trend

/// The parameters of the trend and its chart.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendParams {
    /// The org node (default: the caller's); at or under the caller's.
    node: Option<String>,
    /// `day`, `week`, `month` or `quarter` (around `date`), or give `from`
    /// and `to`; with none, the 30 days up to today.
    period: Option<String>,
    /// `YYYY-MM-DD` (default today, China time).
    date: Option<String>,
    /// `YYYY-MM-DD`: a range's first day.
    from: Option<String>,
    /// `YYYY-MM-DD`: a range's last day.
    to: Option<String>,
    /// `day` (default) or `week` (Monday to Sunday, clipped to the period).
    by: Option<String>,
}

/// One bucket of the trend.
#[derive(Debug, ToSchema)]
pub struct TrendBucket {
    pub first_day: String,
    pub last_day: String,
    /// Cases reported (first received by the server) in the bucket.
    pub reported: i64,
    /// Cases closed in the bucket.
    pub closed: i64,
    /// Cases whose deadline fell in the bucket (up to now) and that were
    /// not closed by it.
    pub overdue: i64,
}

/// `GET /v1/reports/trend`
#[derive(Debug, ToSchema)]
pub struct TrendReport {
    /// `trend`
    pub report: String,
    pub node: ReportNode,
    pub period: ReportPeriod,
    pub as_of: String,
    /// `day` or `week`.
    pub by: String,
    pub buckets: Vec<TrendBucket>,
    /// The buckets added up.
    pub totals: TrendTotals,
}

#[derive(Debug, ToSchema)]
pub struct TrendTotals {
    pub reported: i64,
    pub closed: i64,
    pub overdue: i64,
}

fn compute_trend(store: &Store, ctx: &Ctx, by: By) -> Result<Vec<Bucket>, StoreError> {
    let times = store.trend_times(
        &ctx.grids,
        &case_collections(),
        ctx.period.start_ms(),
        ctx.period.end_ms(),
        ctx.as_of,
    )?;
    Ok(trend(&ctx.period, by, &times))
}

/// Cases reported, closed and overdue per day or week of a period, for a
/// node's subtree (docs/REPORTS.md, "Trend").
#[utoipa::path(
    get,
    path = "/v1/reports/trend",
    tag = "reports",
    params(TrendParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The trend", body = TrendReport),
        (status = 400, description = "`invalid_query`, `invalid_period`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn trend_report(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<TrendParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let p = params.into_inner();
    let by = By::parse(p.by.as_deref()).map_err(|m| ApiError::bad("invalid_query", m))?;
    let period = period_of(
        p.period.as_deref(),
        p.date.as_deref(),
        p.from.as_deref(),
        p.to.as_deref(),
        now_ms(),
    )?;
    let body = with_ctx(&state, &caller, p.node, period, move |store, ctx| {
        let buckets = compute_trend(store, ctx, by)?;
        let sum = |f: fn(&Bucket) -> i64| buckets.iter().map(f).sum::<i64>();
        Ok(Ok(json!({
            "report": "trend",
            "node": ctx.node,
            "period": ctx.period.out(),
            "as_of": local_time(ctx.as_of),
            "by": by,
            "totals": {
                "reported": sum(|b| b.reported),
                "closed": sum(|b| b.closed),
                "overdue": sum(|b| b.overdue),
            },
            "buckets": buckets,
        })))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

// ---------------------------------------------------------------- charts

/// The parameters of a chart.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChartParams {
    /// `nodes` (the summary per node one level down), `collections`,
    /// `categories` or `statuses` (of `collection`), `patrol` (coverage per
    /// grid), `trend` (cases per day or week).
    chart: String,
    /// The summary figure the bars show: `records` (default), `open`, `new`,
    /// `closed`, `overdue`, `escalated`, `conflicted`.
    metric: Option<String>,
    /// For `categories` and `statuses`: the collection (e.g. `event`).
    collection: Option<String>,
    /// The org node (default: the caller's); at or under the caller's.
    node: Option<String>,
    /// As the reports take it; with none, `trend` covers the 30 days up to
    /// today and the others today.
    period: Option<String>,
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// For `trend`: `day` (default) or `week`.
    by: Option<String>,
    /// `zh` (default) or `en`: the labels' language.
    lang: Option<String>,
}

const METRICS: [&str; 7] = [
    "records",
    "open",
    "new",
    "closed",
    "overdue",
    "escalated",
    "conflicted",
];

/// The English label of a figure (the Chinese: `export::zh`).
fn en(key: &str) -> &str {
    match key {
        "records" => "Records",
        "open" => "Open",
        "new" => "New",
        "closed" => "Closed",
        "overdue" => "Overdue",
        "escalated" => "Escalated",
        "conflicted" => "Conflicted",
        "coverage" => "Patrol coverage",
        "reported" => "Reported",
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

impl Lang {
    fn pick(self, l: Label) -> &'static str {
        match self {
            Lang::Zh => l.zh,
            Lang::En => l.en,
        }
    }

    fn figure(self, key: &str) -> &str {
        match self {
            Lang::Zh => match key {
                "coverage" => "巡逻覆盖率",
                "reported" => "上报",
                k => zh(k),
            },
            Lang::En => en(key),
        }
    }

    fn text(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

fn figure_of(f: &Figures, metric: &str) -> i64 {
    match metric {
        "open" => f.open,
        "new" => f.new,
        "closed" => f.closed,
        "overdue" => f.overdue,
        "escalated" => f.escalated,
        "conflicted" => f.conflicted,
        _ => f.records,
    }
}

/// What a chart shows, checked before anything is read.
#[derive(Debug, Clone)]
enum Chart {
    Nodes(String),
    Collections(String),
    Categories(String, String),
    Statuses(String, String),
    Patrol,
    Trend(By),
}

fn chart_of(p: &ChartParams) -> Result<Chart, ApiError> {
    let bad = |m: String| ApiError::bad("invalid_query", m);
    let metric = p.metric.clone().unwrap_or_else(|| "records".into());
    if !METRICS.contains(&metric.as_str()) {
        return Err(bad(format!(
            "metric `{metric}` is not one of {}",
            METRICS.join(", ")
        )));
    }
    let collection = || -> Result<String, ApiError> {
        let c = p
            .collection
            .clone()
            .ok_or_else(|| bad(format!("the {} chart needs `collection`", p.chart.as_str())))?;
        match Schema::current().collection(&c) {
            Some(_) => Ok(c),
            None => Err(ApiError::bad(
                "unknown_collection",
                format!("unknown collection `{c}`"),
            )),
        }
    };
    let unused = |what: &str, given: bool| {
        if given {
            Err(bad(format!("the {} chart takes no `{what}`", p.chart)))
        } else {
            Ok(())
        }
    };
    let chart = match p.chart.as_str() {
        "nodes" => Chart::Nodes(metric),
        "collections" => Chart::Collections(metric),
        "categories" => Chart::Categories(collection()?, metric),
        "statuses" => Chart::Statuses(collection()?, metric),
        "patrol" => Chart::Patrol,
        "trend" => Chart::Trend(By::parse(p.by.as_deref()).map_err(bad)?),
        other => {
            return Err(bad(format!(
            "chart `{other}` is not one of nodes, collections, categories, statuses, patrol, trend"
        )))
        }
    };
    if !matches!(chart, Chart::Categories(..) | Chart::Statuses(..)) {
        unused("collection", p.collection.is_some())?;
    }
    if matches!(chart, Chart::Patrol | Chart::Trend(_)) {
        unused("metric", p.metric.is_some())?;
    }
    if !matches!(chart, Chart::Trend(_)) {
        unused("by", p.by.is_some())?;
    }
    Ok(chart)
}

type Drawn = Result<Result<String, ApiError>, StoreError>;

fn draw(store: &Store, ctx: &Ctx, chart: &Chart, lang: Lang) -> Drawn {
    let schema = Schema::current();
    let days = if ctx.period.first == ctx.period.last {
        ctx.period.first.to_string()
    } else {
        format!("{} – {}", ctx.period.first, ctx.period.last)
    };
    let title = |what: &str| format!("{} · {what} · {days}", ctx.node.name);
    let none = lang.text("无数据", "No data").to_owned();
    let summary = || -> Result<_, StoreError> {
        let w = Windows {
            from: ctx.period.start_ms(),
            to: ctx.period.end_ms(),
            as_of: ctx.as_of,
            soon: DAY_MS,
            at_risk: false,
        };
        let rows = store.report_counts(&ctx.grids, w)?;
        Ok(summarize(&rows, &ctx.tree, &ctx.code))
    };
    let bars = |what: String, axis: &str, bars: Vec<Bar>, percent: bool| Bars {
        title: title(&what),
        axis: axis.to_owned(),
        bars,
        percent,
        empty: none.clone(),
    };
    let collection_label = |c: &str| {
        schema
            .collection(c)
            .map_or(c.to_owned(), |d| lang.pick(d.label).to_owned())
    };
    let value_label = |c: &str, field: &str, code: Option<&str>| match code {
        Some(code) => schema
            .value_label(c, field, code)
            .map_or(code.to_owned(), |l| lang.pick(l).to_owned()),
        None => lang.text("（未填）", "(none)").to_owned(),
    };
    // One collection's figure per code of one of its fields (its categories,
    // its statuses), in the schema's words.
    let field_bars =
        |c: &str,
         field: &str,
         by: &str,
         m: &str,
         rows: &mut dyn Iterator<Item = (Option<&str>, &Figures)>| {
            let rows = rows
                .map(|(code, figures)| Bar {
                    label: value_label(c, field, code),
                    value: figure_of(figures, m) as f64,
                })
                .collect();
            let what = format!("{} {}{by}", collection_label(c), lang.figure(m));
            bars(what, lang.figure(m), rows, false)
        };
    let b = match chart {
        Chart::Nodes(m) => {
            let s = summary()?;
            let rows = s
                .by_node
                .iter()
                .map(|r| Bar {
                    label: r.key.name.clone(),
                    value: figure_of(&r.figures, m) as f64,
                })
                .collect();
            let what = format!("{}{}", lang.figure(m), lang.text("（按下级）", " by node"));
            bars(what, lang.figure(m), rows, false)
        }
        Chart::Collections(m) => {
            let s = summary()?;
            let rows = s
                .by_collection
                .iter()
                .map(|r| Bar {
                    label: collection_label(&r.key.collection),
                    value: figure_of(&r.figures, m) as f64,
                })
                .collect();
            let what = format!(
                "{}{}",
                lang.figure(m),
                lang.text("（按类别）", " by collection")
            );
            bars(what, lang.figure(m), rows, false)
        }
        Chart::Categories(c, m) => {
            let s = summary()?;
            let mut rows = s
                .by_category
                .iter()
                .filter(|r| &r.key.collection == c)
                .map(|r| (r.key.category.as_deref(), &r.figures));
            let by = lang.text("（按分类）", " by category");
            field_bars(c, "category", by, m, &mut rows)
        }
        Chart::Statuses(c, m) => {
            let s = summary()?;
            let mut rows = s
                .by_status
                .iter()
                .filter(|r| &r.key.collection == c)
                .map(|r| (r.key.status.as_deref(), &r.figures));
            let by = lang.text("（按状态）", " by status");
            field_bars(c, "status", by, m, &mut rows)
        }
        Chart::Patrol => {
            let rounds =
                store.report_rounds(&ctx.grids, ctx.period.start_ms(), ctx.period.end_ms())?;
            let rep = patrol_report(rounds, ctx.as_of);
            let rows = rep
                .by_grid
                .iter()
                .map(|g| Bar {
                    label: ctx.tree.name(&g.key.grid),
                    value: g.figures.coverage * 100.0,
                })
                .collect();
            bars(
                lang.figure("coverage").to_owned(),
                lang.figure("coverage"),
                rows,
                true,
            )
        }
        Chart::Trend(by) => {
            let buckets = compute_trend(store, ctx, *by)?;
            let series = |key: &str, f: fn(&Bucket) -> i64| Series {
                name: lang.figure(key).to_owned(),
                values: buckets.iter().map(f).collect(),
            };
            let t = Trend {
                title: title(&format!(
                    "{}{}",
                    lang.text("案件趋势", "Cases"),
                    match by {
                        By::Day => lang.text("（按日）", " per day"),
                        By::Week => lang.text("（按周）", " per week"),
                    }
                )),
                axis: lang.text("件数", "Cases").to_owned(),
                buckets: buckets.iter().map(bucket_label).collect(),
                series: vec![
                    series("reported", |b| b.reported),
                    series("closed", |b| b.closed),
                    series("overdue", |b| b.overdue),
                ],
            };
            return Ok(trend_svg(&t).map_err(ApiError::Internal));
        }
    };
    Ok(bars_svg(&b).map_err(ApiError::Internal))
}

/// A chart of a report as SVG, labelled from the schema and the org tree
/// (docs/REPORTS.md, "Charts").
#[utoipa::path(
    get,
    path = "/v1/reports/chart.svg",
    tag = "reports",
    params(ChartParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The chart", content_type = "image/svg+xml", body = String),
        (status = 400, description = "`invalid_query`, `invalid_period`, `unknown_collection`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn chart_svg(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ChartParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let p = params.into_inner();
    let chart = chart_of(&p)?;
    let lang = match p.lang.as_deref() {
        None | Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(ApiError::bad(
                "invalid_query",
                format!("lang `{other}` is not one of zh, en"),
            ))
        }
    };
    let now = now_ms();
    let period = if matches!(chart, Chart::Trend(_)) {
        period_of(
            p.period.as_deref(),
            p.date.as_deref(),
            p.from.as_deref(),
            p.to.as_deref(),
            now,
        )?
    } else {
        Period::parse(
            p.period.as_deref(),
            p.date.as_deref(),
            p.from.as_deref(),
            p.to.as_deref(),
            local_date(now),
        )
        .map_err(|m| ApiError::bad("invalid_period", m))?
    };
    let svg = with_ctx(&state, &caller, p.node, period, move |store, ctx| {
        draw(store, ctx, &chart, lang)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .body(svg))
}

// ---------------------------------------------------------------- map

/// The parameters of the map.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MapParams {
    /// The org node (default: the caller's); at or under the caller's.
    node: Option<String>,
    /// Most points, 1 to 5000 (default 2000): beyond it an even sample.
    limit: Option<usize>,
}

/// A case or place on the map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MapPoint {
    pub id: String,
    pub collection: String,
    pub grid: String,
    /// Its title as lists show it (a person's name masked).
    pub title: String,
    pub status: Option<String>,
    pub overdue: bool,
    /// Cases: not closed. Places: always.
    pub open: bool,
    pub lat: f64,
    pub lon: f64,
}

/// A grid on the map: its outline is the convex hull of its records'
/// positions (none stored: there is no grid geometry), counter-clockwise,
/// `[lat, lon]` pairs; one pair for a lone point, two for a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct MapGrid {
    pub code: String,
    pub name: String,
    /// Records with a position in the grid.
    pub points: usize,
    pub outline: Vec<[f64; 2]>,
}

/// The map's box: every point and outline lies inside.
#[derive(Debug, Serialize, ToSchema)]
pub struct MapBounds {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

/// `GET /v1/reports/map`
#[derive(Debug, ToSchema)]
pub struct MapReport {
    pub node: ReportNode,
    pub as_of: String,
    pub points: Vec<MapPoint>,
    pub grids: Vec<MapGrid>,
    /// Absent when nothing has a position.
    pub bounds: Option<MapBounds>,
    /// Cases and places with a position.
    pub total: usize,
    /// `points` is an even sample of `total`.
    pub sampled: bool,
}

fn map_of(ctx: &Ctx, rows: Vec<StateRow>, limit: usize) -> Json {
    let mut points: Vec<MapPoint> = Vec::new();
    let mut by_grid: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for r in rows {
        let Ok(rec) = Record::from_stored(Schema::current(), &r.state) else {
            continue;
        };
        let view = rec.view();
        let Some(at) = position(&view) else { continue };
        by_grid.entry(r.grid.clone()).or_default().push(at);
        let closed = Schema::current()
            .collection(&r.collection)
            .is_some_and(|c| c.is_case())
            && r.status.as_deref().is_some_and(|s| {
                gridsync_core::Flow::of(&r.collection).is_some_and(|f| f.is_terminal(s))
            });
        points.push(MapPoint {
            title: label_of(&view),
            id: r.id,
            collection: r.collection,
            grid: r.grid,
            status: r.status,
            overdue: r.overdue,
            open: !closed,
            lat: at.lat,
            lon: at.lon,
        });
    }
    let total = points.len();
    let sampled = total > limit;
    if sampled {
        let step = total as f64 / limit as f64;
        points = (0..limit)
            .filter_map(|i| {
                let at = (i as f64 * step) as usize;
                points.get(at).cloned()
            })
            .collect();
    }
    let all: Vec<&Point> = by_grid.values().flatten().collect();
    let bounds = (!all.is_empty()).then(|| MapBounds {
        min_lat: all.iter().map(|p| p.lat).fold(f64::MAX, f64::min),
        min_lon: all.iter().map(|p| p.lon).fold(f64::MAX, f64::min),
        max_lat: all.iter().map(|p| p.lat).fold(f64::MIN, f64::max),
        max_lon: all.iter().map(|p| p.lon).fold(f64::MIN, f64::max),
    });
    let grids: Vec<MapGrid> = by_grid
        .iter()
        .map(|(code, pts)| MapGrid {
            name: ctx.tree.name(code),
            code: code.clone(),
            points: pts.len(),
            outline: hull(pts).iter().map(|p| [p.lat, p.lon]).collect(),
        })
        .collect();
    json!({
        "node": ctx.node,
        "as_of": local_time(ctx.as_of),
        "points": points,
        "grids": grids,
        "bounds": bounds,
        "total": total,
        "sampled": sampled,
    })
}

/// The cases and places of a node's subtree that carry a position, and each
/// grid's outline drawn from them (docs/REPORTS.md, "Map").
#[utoipa::path(
    get,
    path = "/v1/reports/map",
    tag = "reports",
    params(MapParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Points and outlines", body = MapReport),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn map(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<MapParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let p = params.into_inner();
    let limit = match p.limit {
        None => 2000,
        Some(l) if (1..=MAX_POINTS).contains(&l) => l,
        Some(l) => {
            return Err(ApiError::bad(
                "invalid_query",
                format!("limit {l} is outside 1..={MAX_POINTS}"),
            ))
        }
    };
    let today = local_date(now_ms());
    let period = Period::parse(None, None, None, None, today)
        .map_err(|m| ApiError::bad("invalid_period", m))?;
    let body = with_ctx(&state, &caller, p.node, period, move |store, ctx| {
        let mut collections = case_collections();
        collections.push("place".into());
        let rows = store.record_states(&ctx.grids, &collections)?;
        Ok(Ok(map_of(ctx, rows, limit)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

// ---------------------------------------------------------------- search

/// The parameters of a search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to find: 1 to 100 characters, in a title, an address or a
    /// person's name (ASCII letters in any case).
    q: String,
    /// Under this org node (default: the caller's); at or under the caller's.
    node: Option<String>,
    /// Most hits, 1 to 200 (default 50).
    limit: Option<usize>,
}

/// A record search found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub grid_name: String,
    /// Its title (for roles that do not see personal data in full, a
    /// person's name masked, as lists show it).
    pub title: String,
    pub status: Option<String>,
    pub overdue: bool,
    /// The fields that hold `q`.
    pub matched: Vec<String>,
    /// The searchable fields' values, masked for the caller's role.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, Json>,
    pub updated_at: String,
}

/// `GET /v1/search`
#[derive(Debug, ToSchema)]
pub struct SearchResult {
    pub q: String,
    pub node: ReportNode,
    /// Latest change first.
    pub hits: Vec<SearchHit>,
    /// More records matched than `limit` (or than the 2000 read).
    pub more: bool,
}

fn hit_of(
    row: &StateRow,
    view: &RecordView,
    matched: Vec<&str>,
    personal: bool,
    ctx: &Ctx,
) -> SearchHit {
    let title = match Schema::current()
        .collection(view.collection)
        .and_then(|c| c.title)
    {
        Some(Title::Name(f) | Title::Text(f)) if personal => view
            .value(f)
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect(),
        _ => label_of(view),
    };
    let fields = search_fields(view.collection, true)
        .into_iter()
        .filter_map(|f| {
            let v = view.value(f);
            v.as_str().map(|s| (f.to_owned(), json!(s)))
        })
        .collect();
    SearchHit {
        id: row.id.clone(),
        collection: row.collection.clone(),
        grid: row.grid.clone(),
        grid_name: ctx.tree.name(&row.grid),
        title,
        status: row.status.clone(),
        overdue: row.overdue,
        matched: matched.into_iter().map(str::to_owned).collect(),
        fields,
        updated_at: local_time(row.updated_at),
    }
}

/// Records in the caller's reach whose title, address or a person's name
/// holds `q`; masked fields are neither searched nor shown in full
/// (docs/REPORTS.md, "Search").
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "records",
    params(SearchParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was found", body = SearchResult),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (a role that reads no records), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn search(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    if caller.role.reads().is_empty() {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("a {} does not read records", caller.role.as_str()),
        });
    }
    let p = params.into_inner();
    let q = p.q.trim().to_owned();
    let n = q.chars().count();
    if n == 0 || n > 100 || q.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_query",
            "q is 1 to 100 characters, none of them control characters",
        ));
    }
    let limit = match p.limit {
        None => 50,
        Some(l) if (1..=200).contains(&l) => l,
        Some(l) => {
            return Err(ApiError::bad(
                "invalid_query",
                format!("limit {l} is outside 1..=200"),
            ))
        }
    };
    let personal = caller.role.sees_personal_data();
    let collections: Vec<String> = caller.role.reads().iter().map(|c| c.to_string()).collect();
    let period = Period::parse(None, None, None, None, local_date(now_ms()))
        .map_err(|m| ApiError::bad("invalid_period", m))?;
    let who = caller.clone();
    let body = with_ctx(&state, &caller, p.node, period, move |store, ctx| {
        let rows =
            store.search_candidates(&ctx.grids, &collections, &like_pattern(&q), SEARCH_CAP)?;
        let read_all = rows.len() as i64 == SEARCH_CAP;
        let mut hits = Vec::new();
        let mut more = read_all;
        for row in &rows {
            let Ok(rec) = Record::from_stored(Schema::current(), &row.state) else {
                continue;
            };
            let mut view = rec.view();
            let fields = search_fields(view.collection, personal);
            let matched = matches(&view, &fields, &q);
            if matched.is_empty() {
                continue;
            }
            if hits.len() == limit {
                more = true;
                break;
            }
            if !personal {
                mask_view(&mut view);
            }
            hits.push(hit_of(row, &view, matched, personal, ctx));
        }
        let audit: Vec<_> = hits
            .iter()
            .filter(|h| h.collection == "key_person")
            .map(|h| {
                audit_entry(
                    &who,
                    "read_key_person",
                    format!("key_person:{}", h.id),
                    "search".to_owned(),
                )
            })
            .collect();
        store.audit(&audit, now_ms())?;
        Ok(Ok(json!({
            "q": q,
            "node": ctx.node,
            "hits": hits,
            "more": more,
        })))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
