//! Reading the merged state: a grid's records, one record with its history,
//! a grid's conflicts, the quarantine.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use gridsync_core::{Record, RecordView, Schema, Written};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::privacy::{audit_entry, mask_view};
use super::schemas::ErrorBody;
use super::{now_ms, valid_grid, AppState};
use crate::auth::policy::{Role, Scope};
use crate::auth::Caller;
use crate::db::models::{QuarantineRow, RecordRow};
use crate::error::ApiError;
use crate::store::identity::{AuditEntry, Author};
use crate::store::{RecordQuery, Store, StoreError};

const MAX_LIMIT: i64 = 1000;

/// A record as the API shows it: the visible state (docs/PROTOCOL.md,
/// "Reading a record") plus its derived columns. Times are RFC 3339 (UTC).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOut {
    #[serde(flatten)]
    pub view: RecordView,
    /// Some scalar field holds concurrent values awaiting a supervisor.
    pub conflicted: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// The server sequence of the record's latest change.
    pub server_seq: i64,
    /// Cases: when it is due (the earlier of its two due dates), whether
    /// it is past due, and since when it is at its level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Cases: due by the statutory limit, counted from the case's fixed
    /// event (receipt, report) and kept across escalation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statutory_deadline: Option<String>,
    /// Cases: due by the limit of the level the case is at (or as a
    /// supervisor wrote it); running out of it escalates the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_deadline: Option<String>,
    pub overdue: bool,
    pub level_since: String,
    /// Why the record needs a look, e.g. a status move outside its flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The record as `caller` may see it (personal data masked for roles that
/// may not see it in full).
fn view_of(row: &RecordRow, caller: &Caller) -> Result<RecordView, ApiError> {
    let mut view = Record::from_stored(Schema::current(), &row.state)
        .map(|r| r.view())
        .map_err(|e| ApiError::Internal(format!("record {}: {e}", row.id)))?;
    if !caller.role.sees_personal_data() {
        mask_view(&mut view);
    }
    Ok(view)
}

pub(crate) fn record_out(row: &RecordRow, caller: &Caller) -> Result<RecordOut, ApiError> {
    Ok(RecordOut {
        view: view_of(row, caller)?,
        conflicted: row.conflicts > 0,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        closed_at: row.closed_at.map(rfc3339),
        server_seq: row.last_seq,
        deadline: row.deadline.map(rfc3339),
        statutory_deadline: row.statutory_deadline.map(rfc3339),
        level_deadline: row.level_deadline.map(rfc3339),
        overdue: row.overdue,
        level_since: rfc3339(row.level_since),
        flag: row.flag.clone(),
    })
}

fn grid_param(grid: &str) -> Result<(), ApiError> {
    if valid_grid(grid) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_grid",
            format!("`{grid}` is not a grid id"),
        ))
    }
}

/// 403 for a role that reads no records at all (admins manage, not read).
fn reads_records(caller: &Caller) -> Result<(), ApiError> {
    if caller.role.reads().is_empty() {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            message: format!("a {} does not read records", caller.role.as_str()),
        });
    }
    Ok(())
}

fn outside(grid: &str, scope: &Scope) -> ApiError {
    ApiError::Forbidden {
        code: "out_of_scope",
        message: format!("grid `{grid}` is outside node `{}`", scope.node),
    }
}

/// Audit the key persons among `rows` read by `caller`.
fn audit_key_persons(
    store: &Store,
    caller: &Caller,
    rows: &[RecordRow],
    how: &str,
) -> Result<(), StoreError> {
    let entries: Vec<AuditEntry> = rows
        .iter()
        .filter(|r| r.collection == "key_person")
        .map(|r| {
            audit_entry(
                caller,
                "read_key_person",
                format!("key_person:{}", r.id),
                how.to_owned(),
            )
        })
        .collect();
    store.audit(&entries, now_ms())
}

pub(crate) fn limit_param(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(100),
        Some(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        Some(l) => Err(ApiError::bad(
            "invalid_query",
            format!("limit {l} is outside 1..={MAX_LIMIT}"),
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this collection (one the caller's role reads).
    collection: Option<String>,
    /// Only records with this status.
    status: Option<String>,
    /// RFC 3339: records changed at or after this time.
    updated_since: Option<String>,
    /// Paging: the last id of the previous page (its `next`).
    after: Option<uuid::Uuid>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<i64>,
    /// Deleted records too.
    #[serde(default)]
    include_deleted: bool,
    /// Not taken here: `400 invalid_query` pointing to `GET /v1/search`,
    /// which searches every grid in reach, masking applied.
    q: Option<String>,
}

/// A page of a grid's records, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListOut {
    records: Vec<RecordOut>,
    /// Give as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// A grid's records in the caller's collections, masked for roles that may
/// not see personal data in full; key persons read are audited.
#[utoipa::path(
    get,
    path = "/v1/grids/{grid}/records",
    tag = "records",
    params(("grid" = String, Path, description = "A grid's code"), ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of records", body = ListOut),
        (status = 400, description = "`invalid_grid`, `unknown_collection`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (a role that reads no records), `forbidden_collection`, `out_of_scope`", body = ErrorBody),
    ),
)]
pub async fn grid_records(
    state: web::Data<AppState>,
    caller: Caller,
    grid: web::Path<String>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    reads_records(&caller)?;
    let grid = grid.into_inner();
    grid_param(&grid)?;
    let p = params.into_inner();
    if p.q.is_some() {
        return Err(ApiError::bad(
            "invalid_query",
            "a grid's records take no `q`: search with GET /v1/search?q=…",
        ));
    }
    if let Some(c) = &p.collection {
        if Schema::current().collection(c).is_none() {
            return Err(ApiError::bad(
                "unknown_collection",
                format!("unknown collection `{c}`"),
            ));
        }
    }
    let updated_since = match &p.updated_since {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    ApiError::bad(
                        "invalid_query",
                        format!("updated_since `{s}` is not RFC 3339"),
                    )
                })?
                .timestamp_millis(),
        ),
        None => None,
    };
    let limit = limit_param(p.limit)?;
    if let Some(c) = &p.collection {
        if !caller.role.may_read(c) {
            return Err(ApiError::Forbidden {
                code: "forbidden_collection",
                message: format!("a {} does not read `{c}` records", caller.role.as_str()),
            });
        }
    }
    let query = RecordQuery {
        grid,
        collections: caller.role.reads().iter().map(|c| c.to_string()).collect(),
        collection: p.collection,
        status: p.status,
        updated_since,
        after: p.after.map(|a| a.to_string()),
        include_deleted: p.include_deleted,
        limit,
    };
    let store = state.store.clone();
    let who = caller.clone();
    let rows = web::block(move || {
        let scope = who.scope(&store)?;
        if !scope.has_grid(&query.grid) {
            return Ok(Err(outside(&query.grid, &scope)));
        }
        let rows = store.list(&query)?;
        audit_key_persons(&store, &who, &rows, &format!("list of grid {}", query.grid))?;
        Ok::<_, StoreError>(Ok(rows))
    })
    .await???;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let records = rows
        .iter()
        .map(|r| record_out(r, &caller))
        .collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(ListOut { records, next }))
}

/// One change of a record's history (oldest first).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// Its position in its grid's log.
    server_seq: i64,
    actor: i64,
    seq: i64,
    /// The batch it came in.
    batch: String,
    /// When the server merged it (RFC 3339).
    received_at: String,
    /// The change as its author sent it (masked for roles that may not see
    /// personal data in full).
    #[schema(value_type = gridsync_core::Change)]
    change: Box<RawValue>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// How many changes of its history, oldest first: 1 to 1000 (default 100).
    history: Option<i64>,
    /// The record's grid: the read stays in it. Without it every grid is
    /// asked (a record id is unique within its grid).
    grid: Option<String>,
}

/// One record, its history and its attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordDetail {
    record: RecordOut,
    history: Vec<HistoryItem>,
    attachments: Vec<AttachmentOut>,
    /// Whose the actors of its history and of its conflicting values are,
    /// by actor (an actor absent here is the server's own: its sweeps and
    /// merges).
    authors: BTreeMap<i64, Author>,
}

/// One record with its change history and the attachments it refers to.
/// Outside the caller's reach a record reads as absent.
#[utoipa::path(
    get,
    path = "/v1/records/{id}",
    tag = "records",
    params(("id" = uuid::Uuid, Path, description = "The record's id"), RecordParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record", body = RecordDetail),
        (status = 400, description = "`invalid_id`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such record the caller may read", body = ErrorBody),
        (status = 409, description = "`ambiguous_record`: the id is in several grids the caller reads; name one with `grid`", body = ErrorBody),
    ),
)]
pub async fn record(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<RecordParams>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad("invalid_id", format!("`{id}` is not a record id (UUID)")))?
        .to_string();
    let history = limit_param(params.history)?;
    let store = state.store.clone();
    let key = id.clone();
    let who = caller.clone();
    let grid = params.grid.clone();
    let found = web::block(move || {
        // Outside the caller's reach reads as absent: existence is not disclosed.
        let scope = who.scope(&store)?;
        let mut readable: Vec<_> = store
            .record(&key, grid.as_deref(), history)?
            .into_iter()
            .filter(|(row, _)| {
                crate::dispatch::reaches(&scope, &row.grid, row.assignee.as_deref())
                    && who.role.may_read(&row.collection)
            })
            .collect();
        if readable.len() != 1 {
            let grids: Vec<String> = readable.into_iter().map(|(r, _)| r.grid).collect();
            return Ok(Err(grids));
        }
        let (row, changes) = readable.remove(0);
        audit_key_persons(&store, &who, std::slice::from_ref(&row), "record")?;
        let attachments = store.record_attachments(&row.grid, &key)?;
        let mut actors: Vec<i64> = changes.iter().map(|c| c.actor).collect();
        actors.extend(writers(&row, &who)?);
        actors.sort_unstable();
        actors.dedup();
        let authors = store.authors(&actors)?;
        Ok::<_, StoreError>(Ok((row, changes, attachments, authors)))
    })
    .await??;
    let (row, changes, attachments, authors) = match found {
        Ok(found) => found,
        Err(grids) if grids.is_empty() => {
            return Err(ApiError::NotFound {
                what: format!("record {id}"),
            })
        }
        Err(grids) => {
            return Err(ApiError::Conflict {
                code: "ambiguous_record",
                message: format!(
                    "record {id} is in several grids you may read ({}): name one with ?grid=",
                    grids.join(", ")
                ),
            })
        }
    };
    let masking = !caller.role.sees_personal_data();
    let history = changes
        .into_iter()
        .map(|c| {
            Ok(HistoryItem {
                server_seq: c.seq,
                actor: c.actor,
                seq: c.actor_seq,
                batch: c.batch_id,
                received_at: rfc3339(c.received_at),
                change: RawValue::from_string(if masking {
                    super::privacy::mask_change(&c.body).unwrap_or_default()
                } else {
                    c.body
                })
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let attachments: Vec<AttachmentOut> = attachments
        .into_iter()
        .map(|(r, stored)| AttachmentOut {
            sha256: r.sha256,
            media_type: r.media_type,
            size: r.size,
            stored,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RecordDetail {
        record: record_out(&row, &caller)?,
        history,
        attachments,
        authors: authors.into_iter().collect(),
    }))
}

/// The actors of a record's conflicting values.
fn writers(row: &RecordRow, caller: &Caller) -> Result<Vec<i64>, StoreError> {
    // The stored row counts its conflicts: no view to build without one.
    if row.conflicts == 0 {
        return Ok(Vec::new());
    }
    let view = view_of(row, caller).map_err(|e| StoreError::Corrupt {
        id: row.id.clone(),
        reason: e.to_string(),
    })?;
    Ok(view
        .conflicts()
        .flat_map(|(_, vals)| vals.iter().map(|w| i64::from(w.actor)))
        .collect())
}

/// An attachment a record refers to, and whether its bytes have arrived
/// (`GET /v1/attachments/{sha256}` serves them once they have).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentOut {
    sha256: String,
    media_type: String,
    size: i64,
    stored: bool,
}

/// A record holding concurrent values.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictOut {
    id: String,
    collection: String,
    updated_at: String,
    /// Each field in conflict with all its concurrent values and writers,
    /// ordered by `(actor, seq)`.
    fields: BTreeMap<&'static str, Vec<Written>>,
}

/// A grid's records in conflict.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictsOut {
    records: Vec<ConflictOut>,
    /// Whose the writers' actors are (as on a record's page).
    authors: BTreeMap<i64, Author>,
}

/// The records of a grid whose fields hold concurrent values (at most
/// 1000), for a supervisor to decide by writing the field.
#[utoipa::path(
    get,
    path = "/v1/grids/{grid}/conflicts",
    tag = "records",
    params(("grid" = String, Path, description = "A grid's code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The records in conflict", body = ConflictsOut),
        (status = 400, description = "`invalid_grid`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`, `out_of_scope`", body = ErrorBody),
    ),
)]
pub async fn grid_conflicts(
    state: web::Data<AppState>,
    caller: Caller,
    grid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reads_records(&caller)?;
    let grid = grid.into_inner();
    grid_param(&grid)?;
    let store = state.store.clone();
    let who = caller.clone();
    let (rows, authors) = web::block(move || {
        let scope = who.scope(&store)?;
        if !scope.has_grid(&grid) {
            return Ok(Err(outside(&grid, &scope)));
        }
        let collections: Vec<String> = who.role.reads().iter().map(|c| c.to_string()).collect();
        let rows = store.conflicts(&grid, &collections, MAX_LIMIT)?;
        audit_key_persons(&store, &who, &rows, &format!("conflicts of grid {grid}"))?;
        let mut actors = Vec::new();
        for row in &rows {
            actors.extend(writers(row, &who)?);
        }
        actors.sort_unstable();
        actors.dedup();
        let authors = store.authors(&actors)?;
        Ok::<_, StoreError>(Ok((rows, authors)))
    })
    .await???;
    let records = rows
        .iter()
        .map(|row| {
            let view = view_of(row, &caller)?;
            Ok(ConflictOut {
                id: row.id.clone(),
                collection: row.collection.clone(),
                updated_at: rfc3339(row.updated_at),
                fields: view
                    .conflicts()
                    .map(|(f, vals)| (f, vals.to_vec()))
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(HttpResponse::Ok().json(ConflictsOut {
        records,
        authors: authors.into_iter().collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarantineParams {
    /// Only the changes of this actor (a device sees only its own).
    actor: Option<i64>,
    /// Only the changes for this grid.
    grid: Option<String>,
    /// At most this many, 1 to 1000 (default 100).
    limit: Option<i64>,
}

/// Quarantined changes, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineOut {
    changes: Vec<QuarantineRow>,
}

/// Refused changes with their reasons.
///
/// Supervisors see those of their grids, admins all, anyone else what their
/// own device sent.
#[utoipa::path(
    get,
    path = "/v1/quarantine",
    tag = "records",
    params(QuarantineParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Quarantined changes", body = QuarantineOut),
        (status = 400, description = "`invalid_grid`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`out_of_scope` (a supervisor's grid filter outside its node), `device_required` (neither supervisor nor admin, without a device's token)", body = ErrorBody),
    ),
)]
pub async fn quarantine(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<QuarantineParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner();
    if let Some(g) = &p.grid {
        grid_param(g)?;
    }
    let limit = limit_param(p.limit)?;
    let store = state.store.clone();
    let rows = web::block(move || {
        let (actor, grids) = match caller.role {
            Role::Admin => (p.actor, p.grid.map(|g| vec![g])),
            Role::Supervisor => {
                let scope = caller.scope(&store)?;
                let grids: Vec<String> = match p.grid {
                    Some(g) if scope.has_grid(&g) => vec![g],
                    Some(g) => return Ok(Err(outside(&g, &scope))),
                    None => scope.grids.into_iter().collect(),
                };
                (p.actor, Some(grids))
            }
            _ => match &caller.device {
                Some(d) => (Some(i64::from(d.actor)), p.grid.map(|g| vec![g])),
                None => {
                    return Ok(Err(ApiError::Forbidden {
                        code: "device_required",
                        message: "a device sees what it sent; sign in with its tokens".into(),
                    }))
                }
            },
        };
        Ok::<_, StoreError>(Ok(store.quarantined(actor, grids.as_deref(), limit)?))
    })
    .await???;
    Ok(HttpResponse::Ok().json(QuarantineOut { changes: rows }))
}
