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

/// `GET /metrics`: Prometheus text. With `--metrics-token`, only for
/// `Authorization: Bearer <that token>`.
pub async fn metrics(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(want) = &state.limits.metrics_token {
        let sent = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        let same: bool = subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), want.as_bytes()).into();
        if !same {
            return Err(ApiError::Unauthorized {
                code: "missing_token",
                message: "send Authorization: Bearer <the metrics token>".into(),
            });
        }
    }
    let store = state.store.clone();
    let m = &state.metrics;
    // Metrics answer while the store does not (a worker down on Citus):
    // the gauge then keeps its last reading.
    match web::block(move || store.quarantine_open()).await {
        Ok(Ok(open)) => m.quarantine_open.set(open),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: the quarantine could not be counted"),
        Err(e) => tracing::warn!(error = %e, "metrics: the quarantine could not be counted"),
    }
    let (connections, idle) = state.store.pool_state();
    m.pool.with_label_values(&["idle"]).set(i64::from(idle));
    m.pool
        .with_label_values(&["in_use"])
        .set(i64::from(connections.saturating_sub(idle)));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render()))
}

/// The collection schemas this server validates changes against.
pub async fn schema() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(Schema::current().to_json())
}
