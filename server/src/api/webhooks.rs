//! Admins configure a department's webhooks and read their delivery log
//! (docs/WEBHOOKS.md); `crate::webhooks` queues and posts the events.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::Json;
use super::privacy::audit_entry;
use super::records::limit_param;
use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::policy::{NodeLevel, Role};
use crate::auth::Caller;
use crate::db::models::{DeliveryRow, WebhookRow};
use crate::error::ApiError;
use crate::store::StoreError;

/// `POST /v1/nodes/{code}/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to post events: `https://…` (or `http://` inside the intranet).
    #[schema(example = "https://xinfang.example.gov.cn/gridsync/events")]
    pub url: String,
    /// The signing secret (16 to 256 characters); one is made when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A webhook as made: its secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMade {
    pub webhook: WebhookRow,
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhooksOut {
    pub webhooks: Vec<WebhookRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesOut {
    pub deliveries: Vec<DeliveryRow>,
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && reqwest::Url::parse(url).is_ok_and(|u| u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_url",
            "a webhook URL is an http:// or https:// URL with a host, at most 2,000 characters",
        ))
    }
}

/// Give a department's system the events of the cases dispatched to it
/// (admins).
#[utoipa::path(
    post,
    path = "/v1/nodes/{code}/webhooks",
    tag = "admin",
    params(("code" = String, Path, description = "A department node")),
    request_body = NewWebhook,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Made; the secret is shown this once", body = WebhookMade),
        (status = 400, description = "`invalid_url`, `weak_secret`, `not_a_department`, `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let code = code.into_inner();
    let b = body.into_inner();
    check_url(&b.url)?;
    let secret = match b.secret {
        Some(s) if (16..=256).contains(&s.chars().count()) => s,
        Some(_) => {
            return Err(ApiError::bad(
                "weak_secret",
                "a webhook secret is 16 to 256 characters",
            ))
        }
        None => hex::encode(rand::random::<[u8; 32]>()),
    };
    let store = state.store.clone();
    let who = caller.clone();
    let made = web::block(move || {
        let tree = crate::auth::load_tree(&store)?;
        match tree.level(&code) {
            None => {
                return Ok(Err(ApiError::NotFound {
                    what: format!("node {code}"),
                }))
            }
            Some(NodeLevel::Department) => {}
            Some(_) => {
                return Ok(Err(ApiError::bad(
                    "not_a_department",
                    format!(
                        "node `{code}` is not a department: webhooks carry a department's cases"
                    ),
                )))
            }
        }
        let row = store.create_webhook(&code, &b.url, &secret, now_ms())?;
        let entry = audit_entry(
            &who,
            "create_webhook",
            format!("node:{code}"),
            b.url.clone(),
        );
        store.audit(&[entry], now_ms())?;
        Ok::<_, StoreError>(Ok(WebhookMade {
            webhook: row,
            secret,
        }))
    })
    .await???;
    Ok(HttpResponse::Created().json(made))
}

/// A department's webhooks (admins).
#[utoipa::path(
    get,
    path = "/v1/nodes/{code}/webhooks",
    tag = "admin",
    params(("code" = String, Path, description = "A department node")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Its webhooks, active or stopped", body = WebhooksOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
    ),
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let store = state.store.clone();
    let code = code.into_inner();
    let webhooks = web::block(move || store.webhooks(Some(&code))).await??;
    Ok(HttpResponse::Ok().json(WebhooksOut { webhooks }))
}

/// Stop a webhook: nothing more is queued for it (admins).
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "The webhook")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Stopped; what was queued is still delivered"),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn stop(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = id.into_inner();
    let store = state.store.clone();
    let who = caller.clone();
    let n = web::block(move || {
        let n = store.deactivate_webhook(id)?;
        if n > 0 {
            let entry = audit_entry(&who, "stop_webhook", format!("webhook:{id}"), String::new());
            store.audit(&[entry], now_ms())?;
        }
        Ok::<_, StoreError>(n)
    })
    .await??;
    if n == 0 {
        return Err(ApiError::NotFound {
            what: format!("webhook {id}"),
        });
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Most deliveries (1 to 1,000; 100 when absent), newest first.
    limit: Option<i64>,
}

/// A webhook's delivery log: each event, its attempts and how the last went
/// (admins).
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    tag = "admin",
    params(("id" = i64, Path, description = "The webhook"), LogParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Newest first", body = DeliveriesOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    params: web::Query<LogParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = id.into_inner();
    let limit = limit_param(params.limit)?;
    let store = state.store.clone();
    let found = web::block(move || {
        if store.webhook(id)?.is_none() {
            return Ok(None);
        }
        Ok::<_, StoreError>(Some(store.deliveries(id, limit)?))
    })
    .await??;
    match found {
        Some(deliveries) => Ok(HttpResponse::Ok().json(DeliveriesOut { deliveries })),
        None => Err(ApiError::NotFound {
            what: format!("webhook {id}"),
        }),
    }
}

/// Try a delivery that was given up again, from now (admins).
#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/retry",
    tag = "admin",
    params(("id" = i64, Path, description = "The delivery")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Queued again"),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`: no such delivery given up", body = ErrorBody),
    ),
)]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = id.into_inner();
    let store = state.store.clone();
    let n = web::block(move || store.retry_delivery(id, now_ms())).await??;
    if n == 0 {
        return Err(ApiError::NotFound {
            what: format!("failed delivery {id}"),
        });
    }
    Ok(HttpResponse::NoContent().finish())
}
