//! Cases beyond one grid: a node's case list (what was escalated to it), the
//! escalation sweep on demand, the deadline rules in force.

use super::json::Json;
use actix_web::{web, HttpResponse};
use gridsync_core::validate::Assignee;
use gridsync_core::Level;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::records::{limit_param, record_out, RecordOut};
use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::load_tree;
use crate::auth::policy::{NodeLevel, Role};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::rules::Rules;
use crate::store::{CaseQuery, ChangeResult, Reach, StoreError};

/// The case collections (those with a handling level).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseParams {
    /// Only cases with this status.
    status: Option<String>,
    /// Only cases past their deadline (`true`) or not (`false`).
    overdue: Option<bool>,
    /// Paging: the last id of the previous page (its `next`).
    after: Option<uuid::Uuid>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// A page of a node's cases, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct CasesOut {
    /// Events, hazards, disputes and petitions the caller's role reads.
    records: Vec<RecordOut>,
    /// Give as `after` for the next page; `null` on the last page.
    next: Option<String>,
}

/// The cases a node handles: those of its grids at its handling level or
/// above (a community sees what was escalated to the community, the park,
/// the district; a grid sees all of its own).
#[utoipa::path(
    get,
    path = "/v1/nodes/{code}/cases",
    tag = "cases",
    params(("code" = String, Path, description = "An org node's code, at or under the caller's"), CaseParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of cases", body = CasesOut),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (a role that reads no cases), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn node_cases(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    params: web::Query<CaseParams>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let p = params.into_inner();
    let limit = limit_param(p.limit)?;
    let collections: Vec<String> = gridsync_core::Schema::current()
        .cases()
        .filter(|c| caller.role.may_read(c.name))
        .map(|c| c.name.to_string())
        .collect();
    if collections.is_empty() {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("a {} does not read cases", caller.role.as_str()),
        });
    }
    let store = state.store.clone();
    let who = caller.clone();
    let rows = web::block(move || {
        let tree = load_tree(&store)?;
        let node_level = match node_in_reach(&tree, &who, &code) {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        // A department's cases are those dispatched to it, at any level.
        // (with the tasks of hazards' joint remediation dispatched to it).
        let (reach, floor, collections) = match node_level.handling_level() {
            Some(floor) => (
                Reach::Grids(tree.grids_under(&code).into_iter().collect()),
                floor,
                collections,
            ),
            None => (
                Reach::Assigned(vec![Assignee::Department(&code).key()]),
                Level::Grid,
                gridsync_core::Schema::current()
                    .collections
                    .iter()
                    .filter(|c| c.flow.is_some() && who.role.may_read(c.name))
                    .filter(|c| c.field("assignee").is_some())
                    .map(|c| c.name.to_owned())
                    .collect(),
            ),
        };
        let levels: Vec<String> = Level::ALL
            .iter()
            .filter(|l| **l >= floor)
            .map(|l| l.as_str().to_owned())
            .collect();
        let query = CaseQuery {
            reach,
            levels: Some(levels),
            collections,
            status: p.status,
            overdue: p.overdue,
            after: p.after.map(|a| a.to_string()),
            limit,
            ..CaseQuery::default()
        };
        let rows = store.cases(&query)?;
        Ok::<_, StoreError>(Ok(rows))
    })
    .await???;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let records = rows
        .iter()
        .map(|r| record_out(r, &caller))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(CasesOut { records, next }))
}

/// The level of node `code`, if it is at or under the caller's node: 404
/// for no such node, 403 `out_of_scope` for one outside the caller's reach.
pub(crate) fn node_in_reach(
    tree: &crate::auth::policy::OrgTree,
    caller: &Caller,
    code: &str,
) -> Result<NodeLevel, ApiError> {
    let level = tree.level(code).ok_or_else(|| ApiError::NotFound {
        what: format!("node `{code}`"),
    })?;
    if !tree.contains(&caller.node, code) {
        return Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: format!("node `{code}` is outside node `{}`", caller.node),
        });
    }
    Ok(level)
}

/// `POST /v1/admin/sweep` body (optional).
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepBody {
    /// Run the sweep as of this time (RFC 3339) instead of now: to check
    /// what a later sweep will do, or to catch up after downtime.
    #[serde(default)]
    at: Option<String>,
}

/// What one sweep did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SweepOut {
    /// How many escalations the sweep made: the length of `results`.
    escalated: usize,
    /// The escalation changes the server made (as its own actor), one per
    /// case, with their merge results.
    results: Vec<ChangeResult>,
    /// Uploads untouched for 30 days, discarded.
    uploads_discarded: usize,
}

/// Escalate overdue cases and discard abandoned uploads now (admins).
///
/// The same runs every `--sweep-secs` (`crate::housekeeping`).
#[utoipa::path(
    post,
    path = "/v1/admin/sweep",
    tag = "admin",
    request_body(content = Option<SweepBody>, description = "Optional: `{\"at\": RFC3339}` to sweep as of another time"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the sweep did", body = SweepOut),
        (status = 400, description = "`invalid_time`, `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
    ),
)]
pub async fn sweep(
    state: web::Data<AppState>,
    caller: Caller,
    body: Option<Json<SweepBody>>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let at = match body.and_then(|b| b.into_inner().at) {
        Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
            .map_err(|_| ApiError::bad("invalid_time", format!("`{t}` is not RFC 3339")))?
            .timestamp_millis(),
        None => now_ms(),
    };
    let swept = crate::housekeeping::run(&state, at).await?;
    Ok(HttpResponse::Ok().json(SweepOut {
        escalated: swept.escalated.len(),
        results: swept.escalated,
        uploads_discarded: swept.uploads_discarded,
    }))
}

/// The deadline rules in force.
#[utoipa::path(
    get,
    path = "/v1/rules",
    tag = "cases",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules, in the order they are tried", body = Rules),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
    ),
)]
pub async fn rules(state: web::Data<AppState>, _caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&*state.store.rules)
}
