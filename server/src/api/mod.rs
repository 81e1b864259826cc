//! HTTP handlers: parse, call the store inside `web::block`, map the result.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod cases;
pub mod handover;
pub mod health;
pub mod json;
pub mod privacy;
pub mod records;
pub mod reports;
pub mod sync;

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::web;

pub use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/v1/schema", web::get().to(health::schema))
        .route("/v1/sync", web::post().to(sync::sync))
        .route("/v1/attachments", web::post().to(attachments::begin))
        .route(
            "/v1/attachments/uploads/{id}",
            web::patch().to(attachments::chunk),
        )
        .route(
            "/v1/attachments/{sha256}",
            web::get().to(attachments::download),
        )
        .route(
            "/v1/attachments/{sha256}/thumbnail",
            web::get().to(attachments::thumbnail),
        )
        .route(
            "/v1/grids/{grid}/records",
            web::get().to(records::grid_records),
        )
        .route(
            "/v1/grids/{grid}/conflicts",
            web::get().to(records::grid_conflicts),
        )
        .route("/v1/records/{id}", web::get().to(records::record))
        .route("/v1/quarantine", web::get().to(records::quarantine))
        .route(
            "/v1/quarantine/{id}/accept",
            web::post().to(sync::accept_quarantined),
        )
        .route(
            "/v1/quarantine/{id}/reject",
            web::post().to(sync::reject_quarantined),
        )
        .route("/v1/auth/login", web::post().to(auth::login))
        .route("/v1/auth/refresh", web::post().to(auth::refresh))
        .route("/v1/devices", web::post().to(auth::register_device))
        .route("/v1/devices", web::get().to(auth::list_devices))
        .route(
            "/v1/devices/{id}/revoke",
            web::post().to(auth::revoke_device),
        )
        .route(
            "/v1/devices/{id}/handover",
            web::post().to(handover::hand_over),
        )
        .route("/v1/org/nodes", web::get().to(admin::list_nodes))
        .route("/v1/org/nodes", web::post().to(admin::create_node))
        .route("/v1/org/nodes/{code}", web::patch().to(admin::update_node))
        .route("/v1/users", web::get().to(admin::list_users))
        .route("/v1/users", web::post().to(admin::create_user))
        .route("/v1/users/{id}", web::patch().to(admin::update_user))
        .route("/v1/audit", web::get().to(admin::audit_log))
        .route("/v1/nodes/{code}/cases", web::get().to(cases::node_cases))
        .route("/v1/admin/sweep", web::post().to(cases::sweep))
        .route("/v1/rules", web::get().to(cases::rules))
        .route("/v1/reports/summary", web::get().to(reports::summary))
        .route(
            "/v1/reports/patrol",
            web::get().to(reports::patrol_coverage),
        )
        .route("/v1/reports/overdue", web::get().to(reports::overdue_lists))
        .route("/v1/reports/ranking", web::get().to(reports::rankings))
        .route("/v1/reports/brief", web::get().to(reports::daily_brief))
        .route("/dashboard", web::get().to(reports::dashboard))
        .route(
            "/dashboard/{asset}",
            web::get().to(reports::dashboard_asset),
        );
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A grid id as the core accepts it.
pub(crate) use gridsync_core::validate::valid_code as valid_grid;
