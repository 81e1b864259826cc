//! `POST /v1/devices/{id}/handover`: the way out for a revoked install's
//! unsent changes. Its own tokens are refused (`device_revoked`); with a
//! fresh login of the same user it hands its outbox over, and every change
//! waits in the quarantine (`device_revoked`) for a supervisor to accept or
//! reject. Nothing is applied on the install's word, and it can do nothing
//! else: the changes must be by its actor, and the login is the user's own.

use actix_web::{web, HttpResponse};
use serde_json::value::RawValue;

use super::json::Json;
use super::privacy::audit_entry;
use super::{now_ms, AppState};
use crate::auth::Caller;
use gridsync_core::Change;

use super::schemas::ErrorBody;
use crate::error::ApiError;
use crate::store::{Push, StoreError};

pub type HandOverRequest = gridsync_core::wire::HandOverRequest<Box<RawValue>>;
pub use gridsync_core::wire::HandOverResponse;

/// The code every handed-over change is quarantined with.
pub const HANDED_OVER: &str = "device_revoked";

/// Hand a revoked install's unsent changes to the quarantine
/// (docs/ACCESS.md, "Revocation is immediate").
#[utoipa::path(
    post,
    path = "/v1/devices/{id}/handover",
    tag = "auth",
    params(("id" = String, Path, description = "The revoked device's id")),
    request_body = gridsync_core::wire::HandOverRequest<Change>,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One result per change, in order: each `refused` with \
            `device_revoked` and waiting in the quarantine (or refused for what else is wrong with it)",
            body = HandOverResponse),
        (status = 400, description = "`malformed_json`, `too_many_changes`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md); the revoked device's own \
            tokens are refused with `device_revoked`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such device of the caller's user", body = ErrorBody),
        (status = 409, description = "`device_not_revoked`: the device syncs its changes itself", body = ErrorBody),
    ),
)]
pub async fn hand_over(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Json<HandOverRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let changes = body.into_inner().changes;
    if changes.len() > state.limits.max_batch {
        return Err(ApiError::bad(
            "too_many_changes",
            format!(
                "hand over at most {} changes a request",
                state.limits.max_batch
            ),
        ));
    }
    let st = state.clone();
    let answer = web::block(move || {
        let store = &st.store;
        // Another user's device, or none: the same answer, telling nothing.
        let device = match store.device(&id)? {
            Some(d) if d.user_id == caller.user_id => d,
            _ => {
                return Ok(Err(ApiError::NotFound {
                    what: format!("device {id} of yours"),
                }))
            }
        };
        if device.revoked_at.is_none() {
            return Ok(Err(ApiError::Conflict {
                code: "device_not_revoked",
                message: "this device is not revoked: it syncs its changes itself".into(),
            }));
        }
        let actor = u32::try_from(device.actor)
            .map_err(|_| StoreError::Corrupt { id: id.clone(), reason: "actor out of range".into() })?;
        let by = match &caller.device {
            Some(d) => format!("{} on device {}", caller.username, d.id),
            None => caller.username.clone(),
        };
        let message = format!(
            "handed over by {by} after device {id} was revoked: accept to merge it as made, or reject"
        );
        let guard = move |_: &gridsync_core::Change| Some((HANDED_OVER, message.clone()));
        let batch = uuid::Uuid::new_v4().to_string();
        let push = Push {
            actor,
            batch: &batch,
            changes: &changes,
            guard: &guard,
        };
        let results = store.push(&push, now_ms())?;
        let entry = audit_entry(
            &caller,
            "device_handover",
            format!("device:{id}"),
            format!("{} changes handed over to the quarantine", results.len()),
        );
        store.audit(&[entry], now_ms())?;
        Ok::<_, StoreError>(Ok(HandOverResponse { device: id, results }))
    })
    .await??;
    Ok(HttpResponse::Ok().json(answer?))
}
