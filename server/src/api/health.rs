use actix_web::{web, HttpResponse};
use gridsync_core::Schema;
use serde::Serialize;
use utoipa::ToSchema;

use super::schemas::ErrorBody;
use super::AppState;
use crate::error::ApiError;

/// How the process is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "Up", body = Status)),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// The database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    responses(
        (status = 200, description = "The database answers", body = Status),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ),
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    web::block(move || store.pool().ping().map_err(crate::store::StoreError::from)).await??;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// `GET /metrics`: Prometheus text.
///
/// With `--metrics-token`, only for `Authorization: Bearer <that token>`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition (docs/OPERATIONS.md lists the metrics)",
            content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "`missing_token`: the server has a metrics token and this is not it",
            body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/v1/schema",
    tag = "sync",
    responses((
        status = 200,
        description = "Every collection with its fields, their kinds, types and limits \
            (docs/PROTOCOL.md, \"Values of scalar fields\")",
        body = Schema,
    )),
)]
pub async fn schema() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(Schema::current().to_json())
}
