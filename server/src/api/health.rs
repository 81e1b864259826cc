use actix_web::{web, HttpResponse};
use gridsync_core::Schema;

use super::AppState;
use crate::error::ApiError;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database answers.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    web::block(move || store.pool().ping().map_err(crate::store::StoreError::from)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// The collection schemas this server validates changes against.
pub async fn schema() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(Schema::current().to_json())
}
