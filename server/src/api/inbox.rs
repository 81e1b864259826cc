//! `GET /v1/inbox`: what is the caller's to do (`crate::inbox`), the same
//! list a device receives at the end of its pull.

use actix_web::{web, HttpResponse};
use gridsync_core::wire::Inbox;

use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::inbox::{has_inbox, inbox, Person};

/// The caller's inbox: cases assigned to them or their department, due
/// within 24 hours or overdue, escalated to their level; conflicts of their
/// grids; refused changes awaiting their decision (docs/WORKFLOWS.md).
#[utoipa::path(
    get,
    path = "/v1/inbox",
    tag = "cases",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's items, by kind, the most urgent first", body = Inbox),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: a role that handles nothing (admin)", body = ErrorBody),
    ),
)]
pub async fn my_inbox(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if !has_inbox(caller.role) {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("a {} has no inbox", caller.role.as_str()),
        });
    }
    let store = state.store.clone();
    let who = caller.clone();
    let out = web::block(move || {
        let scope = who.scope(&store)?;
        let person = Person {
            username: &who.username,
            scope: &scope,
        };
        inbox(&store, &person, now_ms())
    })
    .await??;
    Ok(HttpResponse::Ok().json(out))
}
