//! Cases beyond one grid: a node's case list (what was escalated to it), the
//! escalation sweep on demand, the deadline rules in force.

use super::json::Json;
use actix_web::{web, HttpResponse};
use gridsync_core::Level;
use serde::Deserialize;

use super::records::{limit_param, record_out};
use super::{now_ms, AppState};
use crate::auth::load_tree;
use crate::auth::policy::{NodeLevel, Role};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::store::{CaseQuery, StoreError};

/// The case collections (those with a handling level).
const CASES: [&str; 4] = ["event", "hazard", "dispute", "petition"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseParams {
    status: Option<String>,
    overdue: Option<bool>,
    after: Option<uuid::Uuid>,
    limit: Option<i64>,
}

/// The cases a node handles: those of its grids at its handling level or
/// above (a community sees what was escalated to the community, the park,
/// the district; a grid sees all of its own).
pub async fn node_cases(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    params: web::Query<CaseParams>,
) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let p = params.into_inner();
    let limit = limit_param(p.limit)?;
    let collections: Vec<String> = CASES
        .iter()
        .filter(|c| caller.role.may_read(c))
        .map(|c| c.to_string())
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
        let Some(node_level) = tree.level(&code) else {
            return Ok(Err(ApiError::NotFound {
                what: format!("node `{code}`"),
            }));
        };
        if !tree.contains(&who.node, &code) {
            return Ok(Err(ApiError::Forbidden {
                code: "out_of_scope",
                message: format!("node `{code}` is outside node `{}`", who.node),
            }));
        }
        let floor = match node_level {
            NodeLevel::Grid => Level::Grid,
            NodeLevel::Community => Level::Community,
            NodeLevel::Park => Level::Park,
            NodeLevel::District => Level::District,
        };
        let levels: Vec<String> = Level::ALL
            .iter()
            .filter(|l| **l >= floor)
            .map(|l| l.as_str().to_owned())
            .collect();
        let grids: Vec<String> = tree.grids_under(&code).into_iter().collect();
        let query = CaseQuery {
            grids,
            levels,
            collections,
            status: p.status,
            overdue: p.overdue,
            after: p.after.map(|a| a.to_string()),
            limit,
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
    Ok(HttpResponse::Ok().json(serde_json::json!({ "records": records, "next": next })))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SweepBody {
    /// Run the sweep as of this time (RFC 3339) instead of now: to check
    /// what a later sweep will do, or to catch up after downtime.
    #[serde(default)]
    at: Option<String>,
}

/// Escalate overdue cases and discard abandoned uploads now (admins); the
/// same runs every `--sweep-secs` ([`crate::housekeeping`]).
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
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "escalated": swept.escalated.len(),
        "results": swept.escalated,
        "uploads_discarded": swept.uploads_discarded,
    })))
}

/// The deadline rules in force.
pub async fn rules(state: web::Data<AppState>, _caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(&*state.store.rules)
}
