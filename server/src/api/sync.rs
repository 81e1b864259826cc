//! `POST /v1/sync`: push and pull in one round trip.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{now_ms, valid_grid, AppState};
use crate::error::ApiError;
use crate::store::{ChangeResult, Pull, PullPage, Push};
use crate::sync::Resume;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The device's actor id.
    pub actor: u32,
    /// The device's id for this batch (a UUID); generated when absent.
    #[serde(default)]
    pub batch: Option<String>,
    /// The server sequence the device has pulled up to (0 at first).
    #[serde(default)]
    pub cursor: i64,
    /// Given back from the previous page of a transfer of record states.
    #[serde(default)]
    pub resume: Option<Resume>,
    /// The grids whose changes the device pulls.
    pub grids: Vec<String>,
    /// Unsent changes, oldest first.
    #[serde(default)]
    pub changes: Vec<Box<RawValue>>,
    /// Page size of the pull (default and maximum set by the server).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct SyncResponse {
    pub batch: String,
    pub results: Vec<ChangeResult>,
    #[serde(flatten)]
    pub page: PullPage,
}

pub async fn sync(
    state: web::Data<AppState>,
    body: web::Json<SyncRequest>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let req = body.into_inner();
    let limits = &state.limits;
    if req.actor == 0 {
        return Err(ApiError::bad("invalid_actor", "actor 0 is never assigned"));
    }
    if req.grids.is_empty() || req.grids.len() > limits.max_grids {
        return Err(ApiError::bad(
            "invalid_grids",
            format!("name 1 to {} grids to pull", limits.max_grids),
        ));
    }
    if let Some(g) = req.grids.iter().find(|g| !valid_grid(g)) {
        return Err(ApiError::bad(
            "invalid_grids",
            format!("`{g}` is not a grid id"),
        ));
    }
    if req.changes.len() > limits.max_batch {
        return Err(ApiError::bad(
            "too_many_changes",
            format!(
                "{} changes in one batch; at most {} allowed",
                req.changes.len(),
                limits.max_batch
            ),
        ));
    }
    let batch = match req.batch {
        Some(b) => uuid::Uuid::parse_str(&b)
            .map_err(|_| ApiError::bad("invalid_batch", format!("batch `{b}` is not a UUID")))?
            .to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let pull = Pull {
        actor: req.actor,
        cursor: req.cursor,
        resume: req.resume,
        grids: req.grids,
        limit: req
            .limit
            .unwrap_or(limits.page_size)
            .clamp(1, limits.page_size),
    };
    let store = state.store.clone();
    let (actor, changes) = (req.actor, req.changes);
    let batch_id = batch.clone();
    let outcome = web::block(move || {
        // A request is answered whole or refused whole: check the pull first.
        store.check_pull(&pull)?;
        let results = if changes.is_empty() {
            Vec::new()
        } else {
            let push = Push {
                actor,
                batch: &batch_id,
                changes: &changes,
            };
            store.push(&push, now_ms())?
        };
        let page = store.pull(&pull)?;
        Ok::<_, crate::store::StoreError>((results, page))
    })
    .await?;
    let label = if outcome.is_ok() { "ok" } else { "error" };
    state
        .metrics
        .sync_seconds
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    let (results, page) = outcome?;
    for r in &results {
        state
            .metrics
            .changes
            .with_label_values(&[r.outcome()])
            .inc();
    }
    tracing::info!(
        actor,
        batch = %batch,
        pushed = results.len(),
        applied = results.iter().filter(|r| r.outcome() == "applied").count(),
        refused = results.iter().filter(|r| r.outcome() == "refused").count(),
        pulled = page.changes.len() + page.records.len(),
        cursor = page.cursor,
        "sync"
    );
    Ok(HttpResponse::Ok().json(SyncResponse {
        batch,
        results,
        page,
    }))
}
