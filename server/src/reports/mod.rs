//! Supervisor reports (研判 and evaluation): periods, figures, roll-ups over
//! the org tree, patrol coverage, rankings, and the tables the CSV and
//! spreadsheet downloads are made of. Pure: the store hands in rows, this
//! module adds them up. Definitions: docs/REPORTS.md.
//!
//! **Time zone.** Every period is counted in China Standard Time (UTC+8,
//! no daylight saving): a day runs from 00:00 to 24:00 Beijing time, which
//! is 16:00 UTC the day before. Times in responses carry the `+08:00` offset.

pub mod charts;
pub mod export;
pub mod insight;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone};
use gridsync_core::{Change, FieldView, Flow, Op, RecordView, Value};
use serde::Serialize;

/// China Standard Time, the zone every period is counted in.
pub const OFFSET_SECS: i32 = 8 * 3600;
pub const DAY_MS: i64 = 86_400_000;

/// The zone periods are counted in.
pub fn zone() -> FixedOffset {
    FixedOffset::east_opt(OFFSET_SECS).expect("UTC+8 is a valid offset")
}

/// A time in ms as RFC 3339 in China time.
pub fn local_time(ms: i64) -> String {
    zone()
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The China date a time (ms) falls on.
pub fn local_date(ms: i64) -> NaiveDate {
    zone()
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .date_naive()
}

/// 00:00 China time of `date`, in ms.
pub fn day_start(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_millis()
        - i64::from(OFFSET_SECS) * 1000
}

/// What kind of period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Quarter,
    Range,
}

/// A report period: whole China days from `first` to `last`, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// The longest `from`/`to` range (a year and a day).
pub const MAX_RANGE_DAYS: i64 = 366;

fn parse_date(what: &str, s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{what} `{s}` is not a date (YYYY-MM-DD)"))
}

impl Period {
    /// From the query: `period=day|week|month|quarter` with `date` (any day
    /// inside it; default today), or `from` and `to` (dates, inclusive).
    pub fn parse(
        period: Option<&str>,
        date: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Period, String> {
        if from.is_some() || to.is_some() {
            if period.is_some_and(|p| p != "range") {
                return Err("give either `period` or `from`/`to`, not both".into());
            }
            if date.is_some() {
                return Err("`date` goes with `period`, not with `from`/`to`".into());
            }
            let (Some(f), Some(t)) = (from, to) else {
                return Err("`from` and `to` go together".into());
            };
            let (first, last) = (parse_date("from", f)?, parse_date("to", t)?);
            if last < first {
                return Err(format!("`to` {t} is before `from` {f}"));
            }
            if (last - first).num_days() >= MAX_RANGE_DAYS {
                return Err(format!("a range is at most {MAX_RANGE_DAYS} days"));
            }
            return Ok(Period {
                kind: PeriodKind::Range,
                first,
                last,
            });
        }
        let day = match date {
            Some(d) => parse_date("date", d)?,
            None => today,
        };
        let (kind, first, last) = match period.unwrap_or("day") {
            "day" => (PeriodKind::Day, day, day),
            "week" => {
                let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                (PeriodKind::Week, monday, monday + Duration::days(6))
            }
            "month" => {
                let first = day.with_day(1).expect("day 1 exists");
                (PeriodKind::Month, first, month_end(first))
            }
            "quarter" => {
                let month = (day.month0() / 3) * 3 + 1;
                let first = NaiveDate::from_ymd_opt(day.year(), month, 1).expect("a quarter start");
                let last =
                    month_end(NaiveDate::from_ymd_opt(day.year(), month + 2, 1).expect("month"));
                (PeriodKind::Quarter, first, last)
            }
            "range" => return Err("a range needs `from` and `to`".into()),
            other => {
                return Err(format!(
                    "period `{other}` is not one of day, week, month, quarter"
                ))
            }
        };
        Ok(Period { kind, first, last })
    }

    /// The first instant of the period (ms).
    pub fn start_ms(&self) -> i64 {
        day_start(self.first)
    }

    /// The instant after the period (ms, exclusive).
    pub fn end_ms(&self) -> i64 {
        day_start(self.last) + DAY_MS
    }

    pub fn out(&self) -> PeriodOut {
        PeriodOut {
            kind: self.kind,
            first_day: self.first.to_string(),
            last_day: self.last.to_string(),
            from: local_time(self.start_ms()),
            to: local_time(self.end_ms()),
            timezone: "+08:00",
        }
    }
}

fn month_end(first: NaiveDate) -> NaiveDate {
    let (y, m) = if first.month() == 12 {
        (first.year() + 1, 1)
    } else {
        (first.year(), first.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("a month start") - Duration::days(1)
}

/// A period as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodOut {
    pub kind: PeriodKind,
    pub first_day: String,
    pub last_day: String,
    /// Start, inclusive (RFC 3339, China time).
    pub from: String,
    /// End, exclusive.
    pub to: String,
    pub timezone: &'static str,
}

// ---------------------------------------------------------------- patrol

/// What a patrol round's row keeps for reports (derived at merge time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatrolFigures {
    /// Checkpoints in the plan.
    pub planned: i32,
    /// Planned checkpoints with at least one check-in.
    pub visited: i32,
    /// Check-ins, planned checkpoints or not.
    pub checkins: i32,
    /// Checkpoints checked in at that the plan does not name.
    pub unplanned: i32,
    /// When the round was walked: `started_at` (its earliest, when the
    /// team's phones differ), else the first check-in; for a round not
    /// walked yet, `planned_start`; else when the server first saw it (ms).
    pub starts_at: i64,
}

fn time_ms(v: &Value) -> Option<i64> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The patrol figures of a round (none for other collections).
pub fn patrol_figures(view: &RecordView, created_at: i64) -> Option<PatrolFigures> {
    if view.collection != "patrol_round" {
        return None;
    }
    let planned: BTreeSet<&str> = match view.fields.get("planned_checkpoints") {
        Some(FieldView::Set(m)) => m.iter().map(String::as_str).collect(),
        _ => BTreeSet::new(),
    };
    let entries = match view.fields.get("check_ins") {
        Some(FieldView::Log(e)) => e.as_slice(),
        _ => &[],
    };
    let visited: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.fields.get("checkpoint").and_then(Value::as_str))
        .filter(|c| planned.contains(c))
        .collect();
    let unplanned: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.fields.get("checkpoint").and_then(Value::as_str))
        .filter(|c| !planned.contains(c))
        .collect();
    let first_check_in = entries
        .iter()
        .filter_map(|e| time_ms(&Value::from(e.at.as_str())))
        .min();
    // A round counts on the day it was walked: a round walked tonight but
    // planned for tomorrow is tonight's.
    let starts_at = time_ms(view.value("started_at"))
        .or(first_check_in)
        .or_else(|| time_ms(view.value("planned_start")))
        .unwrap_or(created_at);
    let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
    Some(PatrolFigures {
        planned: n(planned.len()),
        visited: n(visited.len()),
        checkins: n(entries.len()),
        unplanned: n(unplanned.len()),
        starts_at,
    })
}

/// A patrol round as the store reads it for the coverage report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRow {
    pub id: String,
    pub grid: String,
    pub starts_at: i64,
    pub status: Option<String>,
    pub planned: i32,
    pub visited: i32,
    pub checkins: i32,
    pub unplanned: i32,
}

/// Whether a round was missed as of `as_of`: cancelled, or its day is over
/// without a single check-in.
pub fn missed(r: &RoundRow, as_of: i64) -> bool {
    let day_over = day_start(local_date(r.starts_at)) + DAY_MS <= as_of;
    r.status.as_deref() == Some("cancelled") || (r.checkins == 0 && day_over)
}

/// Coverage figures of some rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub rounds: i64,
    pub missed: i64,
    pub planned: i64,
    pub visited: i64,
    /// Planned checkpoints without a check-in.
    pub missed_checkpoints: i64,
    /// Checkpoints checked in at that no plan names.
    pub unplanned: i64,
    pub checkins: i64,
    /// visited / planned, 0 when nothing was planned (3 decimals).
    pub coverage: f64,
}

impl Coverage {
    fn add(&mut self, r: &RoundRow, missed: bool) {
        self.rounds += 1;
        self.missed += i64::from(missed);
        self.planned += i64::from(r.planned);
        self.visited += i64::from(r.visited);
        self.missed_checkpoints += i64::from(r.planned - r.visited).max(0);
        self.unplanned += i64::from(r.unplanned);
        self.checkins += i64::from(r.checkins);
        self.coverage = ratio(self.visited, self.planned);
    }
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1000.0).round() / 1000.0
    }
}

/// One patrol round as the report lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoundOut {
    pub id: String,
    pub grid: String,
    pub day: String,
    pub starts_at: String,
    pub status: Option<String>,
    pub planned: i32,
    pub visited: i32,
    pub missed_checkpoints: i32,
    pub unplanned: i32,
    pub checkins: i32,
    pub missed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Keyed<K: Serialize, V: Serialize> {
    #[serde(flatten)]
    pub key: K,
    #[serde(flatten)]
    pub figures: V,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatrolReport {
    pub totals: Coverage,
    pub by_grid: Vec<Keyed<GridKey, Coverage>>,
    pub by_day: Vec<Keyed<DayKey, Coverage>>,
    pub rounds: Vec<RoundOut>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct GridKey {
    pub grid: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayKey {
    pub day: String,
}

/// Patrol coverage of `rounds` (those due in the period): totals, per grid,
/// per day, per round (by day, grid, id).
pub fn patrol_report(mut rounds: Vec<RoundRow>, as_of: i64) -> PatrolReport {
    rounds.sort_by(|a, b| (a.starts_at, &a.grid, &a.id).cmp(&(b.starts_at, &b.grid, &b.id)));
    let mut totals = Coverage::default();
    let mut by_grid: BTreeMap<String, Coverage> = BTreeMap::new();
    let mut by_day: BTreeMap<String, Coverage> = BTreeMap::new();
    let mut out = Vec::with_capacity(rounds.len());
    for r in &rounds {
        let m = missed(r, as_of);
        let day = local_date(r.starts_at).to_string();
        totals.add(r, m);
        by_grid.entry(r.grid.clone()).or_default().add(r, m);
        by_day.entry(day.clone()).or_default().add(r, m);
        out.push(RoundOut {
            id: r.id.clone(),
            grid: r.grid.clone(),
            day,
            starts_at: local_time(r.starts_at),
            status: r.status.clone(),
            planned: r.planned,
            visited: r.visited,
            missed_checkpoints: (r.planned - r.visited).max(0),
            unplanned: r.unplanned,
            checkins: r.checkins,
            missed: m,
        });
    }
    PatrolReport {
        totals,
        by_grid: by_grid
            .into_iter()
            .map(|(grid, figures)| Keyed {
                key: GridKey { grid },
                figures,
            })
            .collect(),
        by_day: by_day
            .into_iter()
            .map(|(day, figures)| Keyed {
                key: DayKey { day },
                figures,
            })
            .collect(),
        rounds: out,
    }
}

// ---------------------------------------------------------------- summary

/// One group of records as the store counts them: per grid, collection,
/// category, status and level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountRow {
    pub grid: String,
    pub collection: String,
    pub category: Option<String>,
    pub status: Option<String>,
    pub level: String,
    pub figures: Figures,
}

/// The figures of a summary (definitions in docs/REPORTS.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Records on hand now (not deleted).
    pub records: i64,
    /// Of those, not closed (cases; every other record counts as open).
    pub open: i64,
    /// Created in the period.
    pub new: i64,
    /// Closed in the period.
    pub closed: i64,
    /// Open and marked overdue: past their deadline at their last change
    /// or at the last escalation sweep (every 10 minutes by default).
    pub overdue: i64,
    /// Raised to their current level in the period (each case once).
    pub escalated: i64,
    /// Holding concurrent values awaiting a supervisor.
    pub conflicted: i64,
    /// Open, and their deadline fell inside the window up to now (the daily
    /// brief only; 0 in the summary).
    pub newly_overdue: i64,
    /// Open, due within 24 hours from now (the daily brief only).
    pub due_soon: i64,
}

impl Figures {
    pub fn add(&mut self, o: &Figures) {
        self.records += o.records;
        self.open += o.open;
        self.new += o.new;
        self.closed += o.closed;
        self.overdue += o.overdue;
        self.escalated += o.escalated;
        self.conflicted += o.conflicted;
        self.newly_overdue += o.newly_overdue;
        self.due_soon += o.due_soon;
    }
}

/// An org node as reports name it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeOut {
    pub code: String,
    pub name: String,
    pub level: String,
}

/// The org tree as reports need it: names and children.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: BTreeMap<String, (Option<String>, String, String)>,
}

impl Tree {
    /// From `(code, parent, level, name)` rows.
    pub fn new(rows: impl IntoIterator<Item = (String, Option<String>, String, String)>) -> Tree {
        Tree {
            nodes: rows
                .into_iter()
                .map(|(code, parent, level, name)| (code, (parent, level, name)))
                .collect(),
        }
    }

    /// A node's name (its code when the tree does not hold it).
    pub fn name(&self, code: &str) -> String {
        self.nodes
            .get(code)
            .map_or_else(|| code.to_owned(), |(_, _, name)| name.clone())
    }

    pub fn node(&self, code: &str) -> Option<NodeOut> {
        self.nodes.get(code).map(|(_, level, name)| NodeOut {
            code: code.to_owned(),
            name: name.clone(),
            level: level.clone(),
        })
    }

    /// The nodes one level below `code`, by code.
    pub fn children(&self, code: &str) -> Vec<NodeOut> {
        self.nodes
            .iter()
            .filter(|(_, (p, _, _))| p.as_deref() == Some(code))
            .filter_map(|(c, _)| self.node(c))
            .collect()
    }

    /// The node of `code`'s children (or `code` itself) a grid lies under.
    fn branch_of(&self, top: &str, grid: &str) -> Option<String> {
        let mut at: &str = grid;
        let mut steps = 0;
        loop {
            let parent = self.nodes.get(at)?.0.as_deref()?;
            if parent == top {
                return Some(at.to_owned());
            }
            at = parent;
            steps += 1;
            if steps > 8 {
                return None;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct CollectionKey {
    pub collection: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct CategoryKey {
    pub collection: String,
    pub category: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatusKey {
    pub collection: String,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct LevelKey {
    pub collection: String,
    pub level: String,
}

/// The summary of a node's subtree.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub totals: Figures,
    pub by_collection: Vec<Keyed<CollectionKey, Figures>>,
    pub by_category: Vec<Keyed<CategoryKey, Figures>>,
    pub by_status: Vec<Keyed<StatusKey, Figures>>,
    pub by_level: Vec<Keyed<LevelKey, Figures>>,
    /// Per node one level down (a grid: itself).
    pub by_node: Vec<Keyed<NodeOut, Figures>>,
}

fn keyed<K: Ord + Serialize>(m: BTreeMap<K, Figures>) -> Vec<Keyed<K, Figures>> {
    m.into_iter()
        .map(|(key, figures)| Keyed { key, figures })
        .collect()
}

/// Add up the store's counts for the subtree of `top`.
pub fn summarize(rows: &[CountRow], tree: &Tree, top: &str) -> Summary {
    let mut totals = Figures::default();
    let mut by_collection = BTreeMap::new();
    let mut by_category = BTreeMap::new();
    let mut by_status = BTreeMap::new();
    let mut by_level = BTreeMap::new();
    let children = tree.children(top);
    let mut by_node: BTreeMap<String, Figures> = BTreeMap::new();
    let mut branches: HashMap<&str, Option<String>> = HashMap::new();
    for r in rows {
        let f = &r.figures;
        totals.add(f);
        let c = || r.collection.clone();
        by_collection
            .entry(CollectionKey { collection: c() })
            .or_insert_with(Figures::default)
            .add(f);
        by_category
            .entry(CategoryKey {
                collection: c(),
                category: r.category.clone(),
            })
            .or_insert_with(Figures::default)
            .add(f);
        by_status
            .entry(StatusKey {
                collection: c(),
                status: r.status.clone(),
            })
            .or_insert_with(Figures::default)
            .add(f);
        by_level
            .entry(LevelKey {
                collection: c(),
                level: r.level.clone(),
            })
            .or_insert_with(Figures::default)
            .add(f);
        let branch = branches
            .entry(r.grid.as_str())
            .or_insert_with(|| {
                if children.is_empty() {
                    Some(top.to_owned())
                } else {
                    tree.branch_of(top, &r.grid)
                }
            })
            .clone();
        if let Some(b) = branch {
            by_node.entry(b).or_default().add(f);
        }
    }
    let nodes = if children.is_empty() {
        tree.node(top).into_iter().collect()
    } else {
        children
    };
    Summary {
        totals,
        by_collection: keyed(by_collection),
        by_category: keyed(by_category),
        by_status: keyed(by_status),
        by_level: keyed(by_level),
        by_node: nodes
            .into_iter()
            .map(|n| Keyed {
                figures: by_node.get(&n.code).copied().unwrap_or_default(),
                key: n,
            })
            .collect(),
    }
}

/// Where a record counts in the kept stock (`report_stock`): deleted
/// records count nowhere; a missing status or category is `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StockKey {
    pub grid: String,
    pub collection: String,
    pub level: String,
    pub status: String,
    pub category: String,
    pub open: bool,
    pub overdue: bool,
    pub conflicted: bool,
}

/// The derived columns a record's stock key is made of.
#[derive(Debug, Clone, Copy)]
pub struct StockOf<'a> {
    pub grid: &'a str,
    pub collection: &'a str,
    pub level: &'a str,
    pub status: Option<&'a str>,
    pub category: Option<&'a str>,
    pub closed: bool,
    pub overdue: bool,
    pub conflicts: i32,
    pub deleted: bool,
}

pub fn stock_key(r: StockOf<'_>) -> Option<StockKey> {
    (!r.deleted).then(|| StockKey {
        grid: r.grid.to_owned(),
        collection: r.collection.to_owned(),
        level: r.level.to_owned(),
        status: r.status.unwrap_or_default().to_owned(),
        category: r.category.unwrap_or_default().to_owned(),
        open: !r.closed,
        overdue: r.overdue,
        conflicted: r.conflicts > 0,
    })
}

/// Count a record moving from `old` to `new` in `deltas`.
pub fn stock_move(
    deltas: &mut HashMap<StockKey, i64>,
    old: Option<StockKey>,
    new: Option<StockKey>,
) {
    if old == new {
        return;
    }
    if let Some(o) = old {
        *deltas.entry(o).or_default() -= 1;
    }
    if let Some(n) = new {
        *deltas.entry(n).or_default() += 1;
    }
}

/// The summary's rows from the kept stock and the period's flows (each
/// `(grid, collection, level, status, category)` with a count).
pub fn count_rows(stock: &[(StockKey, i64)], flows: &Flows) -> Vec<CountRow> {
    // Keys borrowed from the rows (a district month is ~100k of them):
    // hashed, then sorted once, instead of cloned into an ordered map.
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);
    let mut rows: HashMap<Key<'_>, Figures> = HashMap::with_capacity(stock.len());
    for (k, n) in stock {
        let f = rows
            .entry((&k.grid, &k.collection, &k.level, &k.status, &k.category))
            .or_default();
        f.records += n;
        if k.open {
            f.open += n;
        }
        if k.open && k.overdue {
            f.overdue += n;
        }
        if k.conflicted {
            f.conflicted += n;
        }
    }
    type Add = fn(&mut Figures, i64);
    let lists: [(&[FlowRow], Add); 5] = [
        (&flows.new, |f, n| f.new += n),
        (&flows.closed, |f, n| f.closed += n),
        (&flows.escalated, |f, n| f.escalated += n),
        (&flows.newly_overdue, |f, n| f.newly_overdue += n),
        (&flows.due_soon, |f, n| f.due_soon += n),
    ];
    for (list, set) in lists {
        for r in list {
            let key = (
                r.grid.as_str(),
                r.collection.as_str(),
                r.level.as_str(),
                r.status.as_deref().unwrap_or_default(),
                r.category.as_deref().unwrap_or_default(),
            );
            set(rows.entry(key).or_default(), r.n);
        }
    }
    let mut rows: Vec<(Key<'_>, Figures)> = rows.into_iter().collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    rows.into_iter()
        .map(
            |((grid, collection, level, status, category), figures)| CountRow {
                grid: grid.to_owned(),
                collection: collection.to_owned(),
                category: text(category),
                status: text(status),
                level: level.to_owned(),
                figures,
            },
        )
        .collect()
}

/// A count of the records in one group that moved in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRow {
    pub grid: String,
    pub collection: String,
    pub level: String,
    pub status: Option<String>,
    pub category: Option<String>,
    pub n: i64,
}

/// What moved in a period, per group.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    pub new: Vec<FlowRow>,
    pub closed: Vec<FlowRow>,
    pub escalated: Vec<FlowRow>,
    pub newly_overdue: Vec<FlowRow>,
    pub due_soon: Vec<FlowRow>,
}

// ---------------------------------------------------------------- overdue

/// Which overdue list a collection's records go to (its definition's
/// `overdue`).
pub fn overdue_list(collection: &str) -> Option<&'static str> {
    gridsync_core::Schema::current()
        .collection(collection)?
        .overdue
        .map(gridsync_core::OverdueList::as_str)
}

/// A record past its deadline, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct LateItem {
    pub id: String,
    pub collection: String,
    pub grid: String,
    /// The grid's name.
    pub grid_name: String,
    /// A title to recognise it by (a key person's name is masked).
    pub label: String,
    pub category: Option<String>,
    pub status: Option<String>,
    pub level: String,
    pub assignee: Option<String>,
    pub deadline: String,
    /// Whole days past the deadline (0: less than a day).
    pub days_late: i64,
}

/// The label of a record in a list: its title field (its definition's
/// `title`), a person's name masked (`王**`).
pub fn label_of(view: &RecordView) -> String {
    let Some(title) = gridsync_core::Schema::current()
        .collection(view.collection)
        .and_then(|c| c.title)
    else {
        return String::new();
    };
    let text = view.value(title.field()).as_str().unwrap_or_default();
    match title {
        gridsync_core::Title::Name(_) => mask_name(text),
        gridsync_core::Title::Text(_) => text.chars().take(60).collect(),
    }
}

/// The label of a stored record: the one kept at merge time, or (a row
/// written before labels were kept) [`label_of`] its stored state.
pub fn stored_label(kept: Option<String>, state: &str) -> String {
    kept.unwrap_or_else(|| {
        gridsync_core::Record::from_stored(gridsync_core::Schema::current(), state)
            .map(|r| label_of(&r.view()))
            .unwrap_or_default()
    })
}

/// A person's name with all but its first character masked.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

pub fn days_late(deadline: i64, as_of: i64) -> i64 {
    ((as_of - deadline) / DAY_MS).max(0)
}

// ---------------------------------------------------------------- activity

/// A merged change, as the activity report reads it.
#[derive(Debug, Clone)]
pub struct ActivityChange {
    pub actor: i64,
    pub record_id: String,
    pub body: String,
}

/// A staff member, as the ranking names them.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub node: String,
}

/// What one person did in the period (definitions in docs/REPORTS.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Changes merged.
    pub changes: i64,
    /// Distinct records changed.
    pub records: i64,
    /// Cases reported (a case's status set to its flow's first status).
    pub reported: i64,
    /// Cases moved to a closing status.
    pub closed: i64,
    /// Key-person visits recorded.
    pub visits: i64,
    /// Place inspections recorded.
    pub inspections: i64,
    /// Patrol check-ins.
    pub check_ins: i64,
    /// Case actions and hazard re-inspections recorded.
    pub case_actions: i64,
    /// Mediation sessions recorded.
    pub sessions: i64,
    /// Disputes moved to `agreed`.
    pub agreed: i64,
    /// What the ranking orders by: grid workers, reported + closed + visits
    /// + inspections + check-ins + case actions; mediators, sessions +
    ///   agreed + disputes closed.
    pub score: i64,
}

/// One line of a ranking.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub rank: usize,
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
    pub node: String,
    #[serde(flatten)]
    pub activity: Activity,
}

/// The ranking of grid workers and of mediators.
#[derive(Debug, Clone, Serialize)]
pub struct Rankings {
    pub grid_workers: Vec<Ranked>,
    pub mediators: Vec<Ranked>,
}

fn tally(a: &mut Activity, change: &Change) {
    a.changes += 1;
    let flow = Flow::of(&change.collection);
    for op in &change.ops {
        match op {
            Op::Set { field, value, .. } if field == "status" => {
                let Some(to) = value.as_str() else { continue };
                if let Some(flow) = flow {
                    if flow.allows(None, to) {
                        a.reported += 1;
                    }
                    if flow.is_terminal(to) {
                        a.closed += 1;
                    }
                }
                if change.collection == "dispute" && to == "agreed" {
                    a.agreed += 1;
                }
            }
            Op::Append { field, .. } => match (change.collection.as_str(), field.as_str()) {
                ("key_person", "visits") => a.visits += 1,
                ("place", "inspections") => a.inspections += 1,
                ("patrol_round", "check_ins") => a.check_ins += 1,
                ("dispute", "sessions") => a.sessions += 1,
                ("event" | "petition", "actions") | ("hazard", "reinspections") => {
                    a.case_actions += 1
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Rank `people` (grid workers and mediators; everyone listed, with zeros)
/// by what their devices (`actors`: actor → user id) merged.
pub fn rank(changes: &[ActivityChange], actors: &HashMap<i64, i64>, people: &[Person]) -> Rankings {
    let mut by_user: HashMap<i64, Activity> = HashMap::new();
    let mut seen: HashMap<i64, BTreeSet<&str>> = HashMap::new();
    let mut disputes_closed: HashMap<i64, i64> = HashMap::new();
    for c in changes {
        let Some(user) = actors.get(&c.actor) else {
            continue;
        };
        let Ok(change) = Change::from_json(c.body.as_bytes()) else {
            continue;
        };
        let a = by_user.entry(*user).or_default();
        let closed_before = a.closed;
        tally(a, &change);
        if change.collection == "dispute" {
            *disputes_closed.entry(*user).or_default() += a.closed - closed_before;
        }
        seen.entry(*user).or_default().insert(c.record_id.as_str());
    }
    let ranking = |role: &str| {
        let mut lines: Vec<Ranked> = people
            .iter()
            .filter(|p| p.role == role)
            .map(|p| {
                let mut a = by_user.get(&p.user_id).copied().unwrap_or_default();
                a.records = seen.get(&p.user_id).map_or(0, |s| s.len() as i64);
                a.score = if role == "mediator" {
                    a.sessions + a.agreed + disputes_closed.get(&p.user_id).copied().unwrap_or(0)
                } else {
                    a.reported + a.closed + a.visits + a.inspections + a.check_ins + a.case_actions
                };
                Ranked {
                    rank: 0,
                    user_id: p.user_id,
                    username: p.username.clone(),
                    full_name: p.full_name.clone(),
                    node: p.node.clone(),
                    activity: a,
                }
            })
            .collect();
        lines.sort_by(|x, y| {
            (y.activity.score, y.activity.changes, &x.username).cmp(&(
                x.activity.score,
                x.activity.changes,
                &y.username,
            ))
        });
        // Equal figures share a rank (1, 2, 2, 4).
        let mut prev: Option<(i64, i64)> = None;
        for i in 0..lines.len() {
            let key = (lines[i].activity.score, lines[i].activity.changes);
            lines[i].rank = match prev {
                Some(p) if p == key => lines[i - 1].rank,
                _ => i + 1,
            };
            prev = Some(key);
        }
        lines
    };
    Rankings {
        grid_workers: ranking("grid_worker"),
        mediators: ranking("mediator"),
    }
}

#[cfg(test)]
mod tests;
