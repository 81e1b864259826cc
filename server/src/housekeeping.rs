//! What the server does on its own every [`crate::Limits::sweep_every`]
//! (and an admin on demand, `POST /v1/admin/sweep`): the escalation sweep of
//! overdue cases, and discarding uploads abandoned half way.

use actix_web::web;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::ChangeResult;

/// An upload not moved for this long is discarded: its device has been
/// gone for a month. If it comes back, its upload starts again from 0;
/// nothing it made is lost (the bytes are still on the phone).
pub const ABANDONED_AFTER_MS: i64 = 30 * 24 * 3600 * 1000;

/// What one round did.
#[derive(Debug, Default)]
pub struct Swept {
    pub escalated: Vec<ChangeResult>,
    pub uploads_discarded: usize,
}

/// One round as of `at` (ms).
pub async fn run(state: &AppState, at: i64) -> Result<Swept, ApiError> {
    let store = state.store.clone();
    let escalated = web::block(move || store.sweep(at)).await??;
    let store = state.store.clone();
    let stale = web::block(move || store.stale_uploads(at - ABANDONED_AFTER_MS)).await??;
    for u in &stale {
        state.blobs.discard(&u.id).await?;
        let store = state.store.clone();
        let id = u.id.clone();
        web::block(move || store.finish_upload(&id, None)).await??;
    }
    state.metrics.sweeps.inc();
    state.metrics.escalations.inc_by(
        escalated
            .iter()
            .filter(|r| matches!(r, ChangeResult::Applied { .. }))
            .count() as u64,
    );
    Ok(Swept {
        escalated,
        uploads_discarded: stale.len(),
    })
}

/// Run [`run`] every `every`, from `every` after the start (on the actix
/// system the server runs on). Every node of a deployment may run it: the
/// sweep is one serialized write and finds nothing twice.
pub fn start(state: AppState, every: std::time::Duration) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(every);
        tick.tick().await; // the first tick is now: wait a whole period
        loop {
            tick.tick().await;
            match run(&state, crate::api::now_ms()).await {
                Ok(s) => tracing::info!(
                    escalated = s.escalated.len(),
                    uploads_discarded = s.uploads_discarded,
                    "housekeeping"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "housekeeping failed; next round in {every:?}")
                }
            }
        }
    });
}
