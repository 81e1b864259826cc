//! Residents registered twice: `GET /v1/nodes/{code}/duplicates` lists the
//! residents of a node's grids that share an ID number, for a supervisor to
//! merge (by deleting the extra record, a change like any other) or to
//! dismiss (`POST /v1/duplicates/{id_number}/dismiss`: no mistake, e.g. a
//! resident kept in two grids on purpose).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::privacy::audit_entry;
use super::records::{record_out, RecordOut};
use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::policy::Role;
use crate::auth::{load_tree, Caller};
use crate::error::ApiError;
use crate::store::StoreError;

/// Shared numbers listed at most.
const MAX_NUMBERS: i64 = 500;

/// Residents that share one ID number.
#[derive(Debug, Serialize, ToSchema)]
pub struct Duplicate {
    /// The number they share.
    pub id_number: String,
    /// Each resident record that holds it (two or more).
    pub records: Vec<RecordOut>,
}

/// `GET /v1/nodes/{code}/duplicates`
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicatesOut {
    pub duplicates: Vec<Duplicate>,
}

/// Residents of a node's grids that share an ID number (supervisors of the
/// node or above). The read is audited: ID numbers are personal data.
#[utoipa::path(
    get,
    path = "/v1/nodes/{code}/duplicates",
    tag = "cases",
    params(("code" = String, Path, description = "An org node at or under the caller's")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Shared numbers, each with its residents, by number", body = DuplicatesOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such node", body = ErrorBody),
    ),
)]
pub async fn node_duplicates(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let code = code.into_inner();
    let store = state.store.clone();
    let who = caller.clone();
    let rows = web::block(move || {
        let tree = load_tree(&store)?;
        if let Err(e) = super::cases::node_in_reach(&tree, &who, &code) {
            return Ok(Err(e));
        }
        let grids: Vec<String> = tree.grids_under(&code).into_iter().collect();
        let rows = store.duplicate_residents(&grids, MAX_NUMBERS)?;
        let entry = audit_entry(
            &who,
            "read_duplicates",
            format!("node:{code}"),
            format!("{} residents", rows.len()),
        );
        store.audit(&[entry], now_ms())?;
        Ok::<_, StoreError>(Ok(rows))
    })
    .await???;
    let mut duplicates: Vec<Duplicate> = Vec::new();
    for row in &rows {
        let key = row.id_key.clone().unwrap_or_default();
        let out = record_out(row, &caller)?;
        match duplicates.last_mut() {
            Some(d) if d.id_number == key => d.records.push(out),
            _ => duplicates.push(Duplicate {
                id_number: key,
                records: vec![out],
            }),
        }
    }
    Ok(HttpResponse::Ok().json(DuplicatesOut { duplicates }))
}

/// `POST /v1/duplicates/{id_number}/dismiss` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DismissedOut {
    pub id_number: String,
    pub decision: &'static str,
}

/// Dismiss a shared ID number (supervisors): its residents are no longer
/// listed as duplicates. Audited.
#[utoipa::path(
    post,
    path = "/v1/duplicates/{id_number}/dismiss",
    tag = "cases",
    params(("id_number" = String, Path, description = "The shared ID number")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dismissed", body = DismissedOut),
        (status = 400, description = "`invalid_id_number`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only)", body = ErrorBody),
    ),
)]
pub async fn dismiss(
    state: web::Data<AppState>,
    caller: Caller,
    id_number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let id_number = id_number.into_inner().to_uppercase();
    gridsync_core::validate::id_number(&id_number)
        .map_err(|why| ApiError::bad("invalid_id_number", why))?;
    let store = state.store.clone();
    let key = id_number.clone();
    web::block(move || {
        store.dismiss_duplicate(&key, caller.user_id, now_ms())?;
        let entry = audit_entry(
            &caller,
            "dismiss_duplicate",
            format!("id_number:{key}"),
            String::new(),
        );
        store.audit(&[entry], now_ms())
    })
    .await??;
    Ok(HttpResponse::Ok().json(DismissedOut {
        id_number,
        decision: "dismissed",
    }))
}
