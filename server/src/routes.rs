//! HTTP handlers: parse, call the core, map the result.

use actix_web::{web, HttpRequest, HttpResponse};
use gridsync_core::Schema;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/v1/schema", web::get().to(schema));
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The collection schemas this server validates changes against.
async fn schema() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(Schema::current().to_json())
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}
