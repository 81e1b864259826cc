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

/// `POST /v1/duplicates/{id_number}/merge` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The resident record to keep (one of those sharing the number).
    pub keep: uuid::Uuid,
}

/// `POST /v1/duplicates/{id_number}/merge` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergedOut {
    pub id_number: String,
    pub decision: &'static str,
    pub kept: String,
    /// The server's changes: the kept record completed, the others deleted.
    pub results: Vec<crate::store::ChangeResult>,
}

/// Merge residents registered twice (supervisors of their grids): the kept
/// record takes the values it lacks from the others, their set members and
/// a visit each, and the others are deleted: changes by the server's own
/// actor, logged and pulled like any. Audited.
#[utoipa::path(
    post,
    path = "/v1/duplicates/{id_number}/merge",
    tag = "cases",
    params(("id_number" = String, Path, description = "The shared ID number")),
    request_body = MergeBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Merged", body = MergedOut),
        (status = 400, description = "`invalid_id_number`, `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (supervisors only)", body = ErrorBody),
        (status = 404, description = "`not_found`: no two residents of the caller's grids share the number, or `keep` is not one of them", body = ErrorBody),
    ),
)]
pub async fn merge(
    state: web::Data<AppState>,
    caller: Caller,
    id_number: web::Path<String>,
    body: super::json::Json<MergeBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let id_number = id_number.into_inner().to_uppercase();
    gridsync_core::validate::id_number(&id_number)
        .map_err(|why| ApiError::bad("invalid_id_number", why))?;
    let keep = body.into_inner().keep;
    let store = state.store.clone();
    let key = id_number.clone();
    let who = caller.clone();
    let results = web::block(move || {
        let scope = who.scope(&store)?;
        let grids: Vec<String> = scope.grids.into_iter().collect();
        let merged = store.merge_duplicate(&key, &grids, keep, who.user_id, now_ms())?;
        if merged.is_some() {
            let entry = audit_entry(
                &who,
                "merge_duplicate",
                format!("id_number:{key}"),
                format!("kept {keep}"),
            );
            store.audit(&[entry], now_ms())?;
        }
        Ok::<_, StoreError>(merged)
    })
    .await??;
    let Some(results) = results else {
        return Err(ApiError::NotFound {
            what: format!("residents sharing {id_number} with record {keep}"),
        });
    };
    Ok(HttpResponse::Ok().json(MergedOut {
        id_number,
        decision: "merged",
        kept: keep.to_string(),
        results,
    }))
}
