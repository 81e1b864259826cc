//! Documentation-only schemas: the shapes of bodies that are written by code
//! outside the handlers, as JSON built on the spot: the error body
//! (`crate::error`), the deadline rules (`crate::rules`) and the report
//! bodies (`crate::reports`, assembled as JSON by `super::reports`). These
//! types are never built; they only tell the OpenAPI document what those
//! bodies hold. `tests/openapi.rs` compares each with a live answer.

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// Every error answer (4xx and 5xx), whatever the route. `code` is stable
/// and machine-readable (the tables of docs/PROTOCOL.md and docs/ACCESS.md);
/// `message` is for people. A 429 also carries `Retry-After` (seconds).
#[derive(Debug, ToSchema)]
#[schema(example = json!({"code": "token_expired", "message": "the access token has expired"}))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// An org node as reports name it.
#[derive(Debug, ToSchema)]
pub struct ReportNode {
    pub code: String,
    pub name: String,
    /// `district`, `park`, `community` or `grid`.
    pub level: String,
}

/// The period a report covers: whole China days (UTC+8).
#[derive(Debug, ToSchema)]
pub struct ReportPeriod {
    /// `day`, `week`, `month`, `quarter` or `range`.
    pub kind: String,
    /// `YYYY-MM-DD`
    pub first_day: String,
    /// `YYYY-MM-DD`, inclusive.
    pub last_day: String,
    /// Start, inclusive (RFC 3339, China time).
    pub from: String,
    /// End, exclusive.
    pub to: String,
    /// `Asia/Shanghai`
    pub timezone: String,
}

/// What every JSON report starts with; the report's own parts follow in
/// the same object (docs/REPORTS.md).
#[derive(Debug, ToSchema)]
pub struct ReportEnvelope {
    /// `summary`, `patrol`, `overdue`, `ranking` or `brief`.
    pub report: String,
    pub node: ReportNode,
    pub period: ReportPeriod,
    /// When it was computed (RFC 3339, China time).
    pub as_of: String,
}

/// The figures of a summary (definitions in docs/REPORTS.md).
#[derive(Debug, ToSchema)]
pub struct Figures {
    pub records: i64,
    pub open: i64,
    pub new: i64,
    pub closed: i64,
    pub overdue: i64,
    pub escalated: i64,
    pub conflicted: i64,
    /// The daily brief only (0 in the summary).
    pub newly_overdue: i64,
    /// The daily brief only (0 in the summary).
    pub due_soon: i64,
}

/// One line of a breakdown: its key columns (those of its table: `code`,
/// `name`, `level` by node; `collection`, and `category`, `status` or
/// `level`), then the figures.
#[derive(Debug, ToSchema)]
pub struct FigureRow {
    pub code: Option<String>,
    pub name: Option<String>,
    pub collection: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// `GET /v1/reports/summary`
#[derive(Debug, ToSchema)]
pub struct SummaryReport {
    #[serde(flatten)]
    pub envelope: ReportEnvelope,
    pub totals: Figures,
    pub by_node: Vec<FigureRow>,
    pub by_collection: Vec<FigureRow>,
    pub by_category: Vec<FigureRow>,
    pub by_status: Vec<FigureRow>,
    pub by_level: Vec<FigureRow>,
}

pub use crate::reports::{Coverage, RoundOut};

/// A line of `by_grid` (with `grid`) or `by_day` (with `day`).
#[derive(Debug, ToSchema)]
pub struct CoverageRow {
    pub grid: Option<String>,
    /// The grid's name (with `grid`).
    pub grid_name: Option<String>,
    pub day: Option<String>,
    #[serde(flatten)]
    pub coverage: Coverage,
}

/// A round with its grid's name.
#[derive(Debug, ToSchema)]
pub struct NamedRound {
    #[serde(flatten)]
    pub round: RoundOut,
    pub grid_name: String,
}

/// `GET /v1/reports/patrol`
#[derive(Debug, ToSchema)]
pub struct PatrolReport {
    #[serde(flatten)]
    pub envelope: ReportEnvelope,
    pub totals: Coverage,
    pub by_grid: Vec<CoverageRow>,
    pub by_day: Vec<CoverageRow>,
    /// The first `limit` rounds, by day, grid and id.
    pub rounds: Vec<NamedRound>,
    /// How many rounds there were.
    pub rounds_total: i64,
}

/// A record past (or near) its deadline.
#[derive(Debug, ToSchema)]
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
    /// The list it is on (as the CSV's first column).
    pub list: String,
}

/// The overdue lists (the schema's `overdue_lists`) and their full counts.
#[derive(Debug, ToSchema)]
pub struct OverdueLists {
    pub cases: Vec<LateItem>,
    pub petitions: Vec<LateItem>,
    pub mediations: Vec<LateItem>,
    pub key_persons: Vec<LateItem>,
    pub places: Vec<LateItem>,
    pub special_groups: Vec<LateItem>,
    pub assessments: Vec<LateItem>,
    /// Per list, how many there are (the lists stop at `limit`).
    pub counts: BTreeMap<String, i64>,
}

/// `GET /v1/reports/overdue`
#[derive(Debug, ToSchema)]
pub struct OverdueReport {
    #[serde(flatten)]
    pub envelope: ReportEnvelope,
    #[serde(flatten)]
    pub lists: OverdueLists,
}

/// One line of a ranking (figures: docs/REPORTS.md).
#[derive(Debug, ToSchema)]
pub struct Ranked {
    /// Equal score and changes share a rank (1, 2, 2, 4).
    pub rank: i64,
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
    pub node: String,
    /// The node's name.
    pub node_name: String,
    pub changes: i64,
    pub records: i64,
    pub reported: i64,
    pub closed: i64,
    pub visits: i64,
    pub inspections: i64,
    pub check_ins: i64,
    pub case_actions: i64,
    pub sessions: i64,
    pub agreed: i64,
    pub score: i64,
}

/// How many were ranked before the lists were cut to `limit`.
#[derive(Debug, ToSchema)]
pub struct Counted {
    pub grid_workers: i64,
    pub mediators: i64,
    pub changes: i64,
}

/// `GET /v1/reports/ranking`
#[derive(Debug, ToSchema)]
pub struct RankingReport {
    #[serde(flatten)]
    pub envelope: ReportEnvelope,
    pub grid_workers: Vec<Ranked>,
    pub mediators: Vec<Ranked>,
    pub counted: Counted,
}

/// `GET /v1/reports/brief`
#[derive(Debug, ToSchema)]
pub struct BriefReport {
    #[serde(flatten)]
    pub envelope: ReportEnvelope,
    /// Yesterday 00:00 (China time): the window's start.
    pub since: String,
    pub totals: Figures,
    pub by_node: Vec<FigureRow>,
    pub by_collection: Vec<FigureRow>,
    /// The overdue lists restricted to deadlines from `since` to 24 hours
    /// from now.
    pub at_risk: OverdueLists,
}
