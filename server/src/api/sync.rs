//! `POST /v1/sync`: push and pull in one round trip, for one device within
//! its user's scope; and the supervisors' decisions on quarantined changes.

use super::json::Json;
use std::time::Instant;

use actix_web::{web, HttpResponse};
use gridsync_core::openapi::StoredRecord;
use gridsync_core::Change;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::privacy::{audit_entry, mask_change, mask_state};
use super::schemas::ErrorBody;
use super::{now_ms, valid_grid, AppState};
use crate::auth::policy::Role;
use crate::auth::Caller;
use crate::dispatch;
use crate::error::ApiError;
use crate::store::{allow_all, ChangeResult, Pull, PullPage, Push, StoreError};
use crate::sync::{CursorOf, PullError, Resume};
use gridsync_core::wire::{ResumeField, Skipped};

/// `POST /v1/sync` body: each change kept raw, decoded on its own.
pub type SyncRequest = gridsync_core::wire::SyncRequest<Box<RawValue>>;
/// `POST /v1/sync` answer: stored changes and states as they are kept.
pub type SyncResponse = gridsync_core::wire::SyncResponse<Box<RawValue>, Box<RawValue>>;

/// Push the device's unsent changes and pull what changed in its grids.
///
/// One round trip does both (docs/PROTOCOL.md, "The sync exchange"). A
/// request is answered whole or refused whole; each pushed change is judged
/// on its own (`results`), a refused one kept in the quarantine.
#[utoipa::path(
    post,
    path = "/v1/sync",
    tag = "sync",
    request_body = gridsync_core::wire::SyncRequest<Change>,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The results of the push, then a page of the pull: \
            `changes` or `records` (record states in the stored form)",
            body = gridsync_core::wire::SyncResponse<Change, StoredRecord>),
        (status = 400, description = "`malformed_json`, `invalid_request`, `invalid_grids`, `invalid_batch`, \
            `too_many_changes`, `cursor_ahead`, `cursor_outdated`, `invalid_cursor`, `invalid_resume`",
            body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`device_required` (a token not bound to a device), `actor_not_yours`", body = ErrorBody),
        (status = 408, description = "`body_timeout`: nothing was applied, send it again", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: wait `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry with backoff", body = ErrorBody),
    ),
)]
pub async fn sync(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<SyncRequest>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let req = body.into_inner();
    let limits = &state.limits;
    let device = caller.device.clone().ok_or_else(|| ApiError::Forbidden {
        code: "device_required",
        message: "sync with the tokens of a registered device (POST /v1/devices)".into(),
    })?;
    if req.actor.is_some_and(|a| a != device.actor) {
        return Err(ApiError::Forbidden {
            code: "actor_not_yours",
            message: format!("this device's actor is {}", device.actor),
        });
    }
    if let Some(grids) = &req.grids {
        if grids.is_empty() || grids.len() > limits.max_grids {
            return Err(ApiError::bad(
                "invalid_grids",
                format!("name 1 to {} grids to pull", limits.max_grids),
            ));
        }
        if let Some(g) = grids.iter().find(|g| !valid_grid(g)) {
            return Err(ApiError::bad(
                "invalid_grids",
                format!("`{g}` is not a grid id"),
            ));
        }
    }
    if req.changes.len() > limits.max_batch {
        return Err(ApiError::bad(
            "too_many_changes",
            format!(
                "{} changes in one batch; at most {} allowed",
                req.changes.len(),
                limits.max_batch
            ),
        ));
    }
    let batch = match req.batch {
        Some(b) => uuid::Uuid::parse_str(&b)
            .map_err(|_| ApiError::bad("invalid_batch", format!("batch `{b}` is not a UUID")))?
            .to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let limit = req
        .limit
        .unwrap_or(limits.page_size)
        .clamp(1, limits.page_size);
    // The cursor and resume tokens are the server's own: checked before
    // anything of the request is applied.
    let cursor = match &req.cursor {
        Some(c) => c.cursor().map_err(StoreError::from)?,
        None => Default::default(),
    };
    let resume = match &req.resume {
        Some(ResumeField::Token(r)) => Some(Resume::decode(r).map_err(StoreError::from)?),
        Some(ResumeField::Legacy(_)) => Err(StoreError::from(PullError::Outdated))?,
        None => None,
    };
    let wants_pull = req.pull;
    let st = state.clone();
    let actor = device.actor;
    let batch_id = batch.clone();
    let who = caller.clone();
    let outcome = web::block(move || {
        let store = &st.store;
        // A sync's work (scope, merge beforehand, pull, inbox) stands back
        // from the writer that every push waits on.
        store.yield_to_writer();
        let scope = who.scope(store)?;
        // One part of a request never blocks another: grids the caller may
        // no longer read (a worker moved while offline) are left out of the
        // pull and named in the answer; the push goes on regardless, each of
        // its changes judged on its own.
        let (grids, skipped): (Vec<String>, Vec<String>) = match req.grids {
            Some(g) => g.into_iter().partition(|g| scope.has_grid(g)),
            None => (scope.grids.iter().cloned().collect(), Vec::new()),
        };
        let skipped: Vec<Skipped> = skipped
            .into_iter()
            .map(|grid| Skipped {
                message: format!("grid `{grid}` is outside node `{}`", scope.node),
                grid,
                code: "out_of_scope".into(),
            })
            .collect();
        let pull = Pull {
            actor,
            cursor,
            resume,
            grids,
            collections: who.role.reads().iter().map(|c| c.to_string()).collect(),
            limit,
        };
        // A request is answered whole or refused whole: check the pull first.
        if wants_pull {
            store.check_pull(&pull)?;
        }
        let results = if req.changes.is_empty() {
            Vec::new()
        } else {
            // An assignee must be a user or a department the server knows.
            let directory = if req.changes.iter().any(|c| dispatch::may_assign(c.get())) {
                Some(dispatch::Directory::load(store)?)
            } else {
                None
            };
            let guard = |c: &Change| {
                scope.write_refusal(&c.collection, &c.grid).or_else(|| {
                    let e = dispatch::unknown_assignee(c, directory.as_ref()?)?;
                    Some((e.code(), e.to_string()))
                })
            };
            let push = Push {
                actor,
                batch: &batch_id,
                changes: &req.changes,
                guard: &guard,
            };
            let dispatched =
                (who.role == Role::Department).then(|| vec![dispatch::department_key(&scope.node)]);
            store.push_synced(&push, dispatched, &device.id, now_ms())?
        };
        // A push-only sync answers the results and nothing else; the answer
        // that ends a pull brings the inbox.
        let (page, inbox) = if wants_pull {
            let mut page = store.pull(&pull)?;
            deliver(&mut page, &who, store)?;
            let inbox = if page.more || !crate::inbox::has_inbox(who.role) {
                None
            } else {
                let person = crate::inbox::Person {
                    username: &who.username,
                    scope: &scope,
                };
                // Derived, and read across shards: a store that cannot
                // answer it now (a Citus shard moving) leaves it out of
                // this answer, never fails the sync; the device keeps the
                // one it has and gets it with its next pull.
                match crate::inbox::inbox(store, &person, now_ms()) {
                    Ok(inbox) => Some(crate::inbox::answer(inbox, req.inbox_digest.as_deref())),
                    Err(e) => {
                        tracing::warn!(error = %e, user = %who.username, "inbox left out of a pull");
                        None
                    }
                }
            };
            (Some(page), inbox.unwrap_or((None, false)))
        } else {
            (None, (None, false))
        };
        // When it last synced, for the desk's device list (a push noted it
        // with its changes): a failure to note it never fails the sync.
        if req.changes.is_empty() {
            if let Err(e) = store.note_sync(&device.id, now_ms()) {
                tracing::warn!(error = %e, device = %device.id, "last sync time not noted");
            }
        }
        Ok::<_, StoreError>((results, page, skipped, inbox))
    })
    .await?;
    let label = if outcome.is_ok() { "ok" } else { "error" };
    state
        .metrics
        .sync_seconds
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    let (results, page, skipped, (inbox, inbox_unchanged)) = outcome?;
    for r in &results {
        state
            .metrics
            .changes
            .with_label_values(&[r.outcome()])
            .inc();
    }
    let pulled = page
        .as_ref()
        .map_or(0, |p| p.changes.len() + p.records.len());
    tracing::info!(
        actor,
        user = %caller.username,
        batch = %batch,
        pushed = results.len(),
        applied = results.iter().filter(|r| r.outcome() == "applied").count(),
        refused = results.iter().filter(|r| r.outcome() == "refused").count(),
        pulled,
        "sync"
    );
    let page = page.unwrap_or_default();
    Ok(HttpResponse::Ok().json(SyncResponse {
        batch,
        actor,
        results,
        skipped,
        changes: page.changes,
        records: page.records,
        cursor: wants_pull.then(|| page.cursor.encode()),
        resume: page.resume.map(|r| r.encode()),
        more: page.more,
        inbox,
        inbox_unchanged,
    }))
}

/// Mask what the caller's role may not see in full, and audit key persons
/// delivered to the device.
fn deliver(
    page: &mut PullPage,
    caller: &Caller,
    store: &crate::store::Store,
) -> Result<(), StoreError> {
    let masking = !caller.role.sees_personal_data();
    let mut key_persons = 0;
    let redo =
        |raw: &RawValue, f: &dyn Fn(&str) -> Option<String>| -> Result<Box<RawValue>, StoreError> {
            let text = f(raw.get()).ok_or_else(|| StoreError::Corrupt {
                id: "pull".into(),
                reason: "a stored change or record does not decode".into(),
            })?;
            RawValue::from_string(text).map_err(|e| StoreError::Corrupt {
                id: "pull".into(),
                reason: e.to_string(),
            })
        };
    for c in page.changes.iter_mut() {
        if c.get().contains("\"collection\":\"key_person\"") {
            key_persons += 1;
        }
        if masking {
            *c = redo(c, &mask_change)?;
        }
    }
    for r in page.records.iter_mut() {
        if r.get().contains("\"collection\":\"key_person\"") {
            key_persons += 1;
        }
        if masking {
            *r = redo(r, &mask_state)?;
        }
    }
    if key_persons > 0 {
        let entry = audit_entry(
            caller,
            "sync_key_persons",
            "key_person".into(),
            format!("{key_persons} key-person changes or records delivered to the device"),
        );
        store.audit(&[entry], now_ms())?;
    }
    Ok(())
}

/// The quarantined change `id`, if the caller may decide on it.
fn decidable(
    store: &crate::store::Store,
    caller: &Caller,
    id: i64,
) -> Result<Result<crate::store::QuarantineRow, ApiError>, StoreError> {
    let Some(row) = store.quarantined_change(id)? else {
        return Ok(Err(ApiError::NotFound {
            what: format!("quarantined change {id}"),
        }));
    };
    let in_scope = match (&row.grid, caller.role) {
        (_, Role::Admin) => true,
        (Some(g), Role::Supervisor) => caller.scope(store)?.has_grid(g),
        _ => false,
    };
    if !in_scope {
        return Ok(Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: "only a supervisor of the change's grid decides on it".into(),
        }));
    }
    if let Some(done) = &row.resolution {
        return Ok(Err(ApiError::Conflict {
            code: "already_resolved",
            message: format!("this change was already {done}"),
        }));
    }
    Ok(Ok(row))
}

/// A decision on a quarantined change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    /// `accepted` or `rejected`.
    resolution: &'static str,
    /// Accepted: the merge's result for the change (absent on a rejection).
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<Vec<ChangeResult>>,
}

/// A supervisor accepts a quarantined change (typically `out_of_scope` from a
/// worker moved while offline): it is merged as its author made it.
#[utoipa::path(
    post,
    path = "/v1/quarantine/{id}/accept",
    tag = "records",
    params(("id" = i64, Path, description = "The quarantined change's `id`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Merged as its author made it (same actor and seq)", body = Decision),
        (status = 400, description = "`malformed_change`: it does not decode; reject it. `invalid_path`: `id` is not a number", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (not a supervisor), `out_of_scope` (not a supervisor of the change's grid)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`already_resolved`, `still_refused` (checked again and still refused)", body = ErrorBody),
    ),
)]
pub async fn accept_quarantined(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor])?;
    let id = id.into_inner();
    let st = state.clone();
    let result = web::block(move || {
        let store = &st.store;
        let row = match decidable(store, &caller, id)? {
            Ok(row) => row,
            Err(e) => return Ok(Err(e)),
        };
        let Ok(change) = serde_json::from_str::<Change>(&row.body) else {
            return Ok(Err(ApiError::bad(
                "malformed_change",
                "a change that does not decode cannot be accepted; reject it",
            )));
        };
        let raw = [
            RawValue::from_string(row.body).map_err(|e| StoreError::Corrupt {
                id: id.to_string(),
                reason: e.to_string(),
            })?,
        ];
        let batch = uuid::Uuid::new_v4().to_string();
        let push = Push {
            actor: change.actor,
            batch: &batch,
            changes: &raw,
            guard: &allow_all,
        };
        let results = store.push(&push, now_ms())?;
        if let Some(ChangeResult::Refused { code, message, .. }) = results.first() {
            return Ok(Err(ApiError::Conflict {
                code: "still_refused",
                message: format!("the change is still refused ({code}): {message}"),
            }));
        }
        store.resolve_quarantine(id, "accepted", caller.user_id, now_ms())?;
        let entry = audit_entry(
            &caller,
            "quarantine_accept",
            format!("quarantine:{id}"),
            format!("{:?}", results.first()),
        );
        store.audit(&[entry], now_ms())?;
        Ok::<_, StoreError>(Ok(results))
    })
    .await??;
    let results = result?;
    Ok(HttpResponse::Ok().json(Decision {
        resolution: "accepted",
        results: Some(results),
    }))
}

/// A supervisor rejects a quarantined change; it stays in the quarantine,
/// marked, and is never applied.
#[utoipa::path(
    post,
    path = "/v1/quarantine/{id}/reject",
    tag = "records",
    params(("id" = i64, Path, description = "The quarantined change's `id`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Marked rejected, kept, never applied", body = Decision),
        (status = 400, description = "`invalid_path`: `id` is not a number", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden` (neither supervisor nor admin), `out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`already_resolved`", body = ErrorBody),
    ),
)]
pub async fn reject_quarantined(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor, Role::Admin])?;
    let id = id.into_inner();
    let st = state.clone();
    web::block(move || {
        let store = &st.store;
        if let Err(e) = decidable(store, &caller, id)? {
            return Ok(Err(e));
        }
        store.resolve_quarantine(id, "rejected", caller.user_id, now_ms())?;
        let entry = audit_entry(
            &caller,
            "quarantine_reject",
            format!("quarantine:{id}"),
            String::new(),
        );
        store.audit(&[entry], now_ms())?;
        Ok::<_, StoreError>(Ok(()))
    })
    .await???;
    Ok(HttpResponse::Ok().json(Decision {
        resolution: "rejected",
        results: None,
    }))
}
