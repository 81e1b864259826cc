//! HTTP handlers: parse, call the store inside `web::block`, map the result.

pub mod health;
pub mod records;
pub mod sync;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::web;

use crate::metrics::Metrics;
use crate::store::Store;
use crate::Limits;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/v1/schema", web::get().to(health::schema))
        .route("/v1/sync", web::post().to(sync::sync))
        .route(
            "/v1/grids/{grid}/records",
            web::get().to(records::grid_records),
        )
        .route(
            "/v1/grids/{grid}/conflicts",
            web::get().to(records::grid_conflicts),
        )
        .route("/v1/records/{id}", web::get().to(records::record))
        .route("/v1/quarantine", web::get().to(records::quarantine));
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A grid id as the core accepts it.
pub(crate) fn valid_grid(grid: &str) -> bool {
    !grid.is_empty()
        && grid.len() <= gridsync_core::validate::MAX_GRID_LEN
        && grid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
