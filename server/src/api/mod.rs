//! HTTP handlers: parse, call the store inside `web::block`, map the result.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod cases;
pub mod desk;
pub mod duplicates;
pub mod edits;
pub mod handover;
pub mod health;
pub mod imports;
pub mod inbox;
pub mod insight;
pub mod json;
pub mod openapi;
pub mod privacy;
pub mod records;
pub mod reports;
pub mod routes;
pub mod schemas;
pub mod session;
pub mod sync;
pub mod webhooks;

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::web;

pub use self::routes::{Route, ROUTES};
pub use crate::state::AppState;

/// Mount the API: every route of the table ([`routes::ROUTES`]), then the
/// OpenAPI document's viewer at `/docs/`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::mount(cfg);
    openapi::viewer(cfg);
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A grid id as the core accepts it.
pub(crate) use gridsync_core::validate::valid_code as valid_grid;
