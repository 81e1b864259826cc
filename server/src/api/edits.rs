//! `POST /v1/records/{id}/edits`: the desk acts on a record (accept,
//! dispatch, escalate, close, resolve a conflict…) as a change of its user's
//! own actor ([`crate::desk`]).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;
use super::records::{record_out, RecordOut};
use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::Caller;
use crate::desk::{self, DeskEdit, EditError};
use crate::error::ApiError;
use crate::store::{ChangeResult, StoreError};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EditParams {
    /// The record's grid, when it is in several you may write (a resident
    /// registered in two grids is two records).
    grid: Option<String>,
}

/// What a desk action did.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditOut {
    /// As a sync answers a pushed change: `applied`, or `refused` with its
    /// code (kept in the quarantine, as a phone's refused change is).
    #[schema(value_type = Object)]
    result: ChangeResult,
    /// The record as merged now.
    record: RecordOut,
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::Store(e) => e.into(),
            EditError::OutsideFlow { .. } | EditError::TopLevel => ApiError::Conflict {
                code: e.code(),
                message: e.to_string(),
            },
            EditError::Empty | EditError::Invalid(_) => ApiError::BadRequest {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

/// Act on a record from the desk: one change by the caller's desk actor,
/// built on the merged record and merged like a phone's.
#[utoipa::path(
    post,
    path = "/v1/records/{id}/edits",
    tag = "records",
    params(("id" = String, Path, description = "The record's id"), EditParams),
    request_body = DeskEdit,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The change's result and the record as merged now", body = EditOut),
        (status = 400, description = "`invalid_id`, `empty_edit`, a field's code (`unknown_field`, \
            `invalid_value`, …), `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`csrf_failed`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such record within your reach", body = ErrorBody),
        (status = 409, description = "`outside_flow`, `top_level`, `ambiguous_record`", body = ErrorBody),
    ),
)]
pub async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<EditParams>,
    body: Json<DeskEdit>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad("invalid_id", format!("`{id}` is not a record id (UUID)")))?
        .to_string();
    let edit = body.into_inner();
    let store = state.store.clone();
    let who = caller.clone();
    let grid = params.into_inner().grid;
    let key = id.clone();
    let done = web::block(move || {
        let scope = who.scope(&store)?;
        let readable: Vec<_> = store
            .record(&key, grid.as_deref(), 0)?
            .into_iter()
            .map(|(row, _)| row)
            .filter(|row| {
                crate::dispatch::reaches(&scope, &row.grid, row.assignee.as_deref())
                    && who.role.may_read(&row.collection)
            })
            .collect();
        let [row] = readable.as_slice() else {
            return Ok(Err(readable.len()));
        };
        let actor = desk::Actor {
            user_id: who.user_id,
            role: who.role,
            scope: &scope,
        };
        let result = desk::act(&store, &actor, &row.state, &edit, now_ms())?;
        let row = store
            .record(&key, Some(&row.grid), 0)?
            .into_iter()
            .next()
            .map(|(row, _)| row)
            .ok_or_else(|| StoreError::NotFound(format!("record {key}")))?;
        Ok::<_, EditError>(Ok((result, row)))
    })
    .await??;
    match done {
        Ok((result, row)) => Ok(HttpResponse::Ok().json(EditOut {
            result,
            record: record_out(&row, &caller)?,
        })),
        Err(0) => Err(ApiError::NotFound {
            what: format!("record {id}"),
        }),
        Err(_) => Err(ApiError::Conflict {
            code: "ambiguous_record",
            message: format!("record {id} is in several grids you may read: name one with ?grid="),
        }),
    }
}
