//! The desk's actions on records: accept, dispatch, escalate, close, resolve
//! a conflict… Each is a change like a phone's, built by the server on the
//! merged record and pushed through the same write path ([`crate::ingest`]),
//! so it is merged, logged, pulled by phones and refused by the same rules.
//!
//! **Whose change.** A desk writes as its user's own actor: the user's
//! device named [`DEVICE_NAME`], registered on their first action and used
//! by every browser session of theirs ([`crate::store::Store::own_device`]).
//! A record's clock grows by at most one actor per person who acts on it
//! at a desk, however many sessions they open; the change log names them.
//! The server numbers the actor's changes itself (one past the newest it
//! has applied), one desk action at a time per process; a number taken
//! meanwhile by another server node makes the push answer `duplicate`, and
//! the action is built again on the next number.
//!
//! **What it has seen.** The change's context is the merged record the
//! server holds when it builds it: an action supersedes every value stored
//! (so writing a field in conflict resolves it), and never claims more than
//! the server has applied.

use std::collections::BTreeMap;
use std::sync::Mutex;

use gridsync_core::{Change, Device, Entry, Record, Replica, Schema, Value};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::policy::{Role, Scope};
use crate::dispatch;
use crate::store::{ChangeResult, Push, Store, StoreError};

/// The name of the device a user's desk writes as.
pub const DEVICE_NAME: &str = "desk";

/// What a desk action does to a record; the keys given are done, in this
/// order, as one change.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeskEdit {
    /// Scalar fields to write (`null` clears). Writing a field in conflict
    /// resolves it. `status` must be a move its flow allows.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Object>)]
    pub set: BTreeMap<String, Value>,
    /// Members to add to set fields.
    #[serde(default)]
    pub add: BTreeMap<String, Vec<String>>,
    /// Members to remove from set fields.
    #[serde(default)]
    pub remove: BTreeMap<String, Vec<String>>,
    /// Entries to append to log fields (their ids are made here).
    #[serde(default)]
    pub append: BTreeMap<String, Vec<NewEntry>>,
    /// Raise the handling level by one.
    #[serde(default)]
    pub escalate: bool,
}

/// A log entry the desk appends.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// When (RFC 3339); now when absent.
    #[serde(default)]
    pub at: Option<String>,
    #[schema(value_type = BTreeMap<String, Object>)]
    pub fields: BTreeMap<String, Value>,
}

/// Why a desk action could not be built (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("nothing to do: name a field to set, a member, an entry or escalate")]
    Empty,
    #[error("{0}")]
    Invalid(#[from] gridsync_core::ChangeError),
    #[error("status may not move from {from:?} to `{to}` in the {collection} flow")]
    OutsideFlow {
        collection: String,
        from: Option<String>,
        to: String,
    },
    #[error("the case is at the district already: it cannot be escalated")]
    TopLevel,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EditError {
    /// The API code.
    pub fn code(&self) -> &'static str {
        match self {
            EditError::Empty => "empty_edit",
            EditError::Invalid(e) => e.code(),
            EditError::OutsideFlow { .. } => "outside_flow",
            EditError::TopLevel => "top_level",
            EditError::Store(_) => "internal",
        }
    }
}

/// The change `edit` makes to the stored record `stored` (its state as
/// kept), by `actor` at `seq`, at `now` (RFC 3339, for entries without
/// their own time). Pure.
pub fn build(
    schema: &'static Schema,
    stored: &str,
    actor: u32,
    seq: u64,
    edit: &DeskEdit,
    now: &str,
) -> Result<Change, EditError> {
    if edit.set.is_empty()
        && edit.add.values().all(Vec::is_empty)
        && edit.remove.values().all(Vec::is_empty)
        && edit.append.values().all(Vec::is_empty)
        && !edit.escalate
    {
        return Err(EditError::Empty);
    }
    let record = Record::from_stored(schema, stored).map_err(|e| StoreError::Corrupt {
        id: String::new(),
        reason: e.to_string(),
    })?;
    let id = record.id;
    if let Some(Value::Text(to)) = edit.set.get("status") {
        let view = record.view();
        let from = view.value("status").as_str().map(str::to_owned);
        if let Some(flow) = gridsync_core::Flow::of(record.collection.name) {
            if !flow.allows(from.as_deref(), to) {
                return Err(EditError::OutsideFlow {
                    collection: record.collection.name.to_owned(),
                    from,
                    to: to.clone(),
                });
            }
        }
    }
    let up = if edit.escalate {
        Some(record.level().up().ok_or(EditError::TopLevel)?)
    } else {
        None
    };
    let mut replica = Replica::new(schema);
    replica.merge_record(&record)?;
    let mut device = Device::resume(actor, seq, replica);
    let mut change = device.edit(id);
    for (field, value) in &edit.set {
        change = change.set(field, value.clone());
    }
    for (field, members) in &edit.add {
        for m in members {
            change = change.add(field, m);
        }
    }
    for (field, members) in &edit.remove {
        for m in members {
            change = change.remove(field, m);
        }
    }
    for (field, entries) in &edit.append {
        for e in entries {
            change = change.append(
                field,
                Entry {
                    id: Uuid::new_v4(),
                    at: e.at.clone().unwrap_or_else(|| now.to_owned()),
                    fields: e.fields.clone(),
                },
            );
        }
    }
    if let Some(up) = up {
        change = change.escalate(up);
    }
    Ok(change.commit()?)
}

/// One desk action at a time in this process: each takes the next number
/// of its user's actor.
static TURN: Mutex<()> = Mutex::new(());

/// Who acts, and where they may.
#[derive(Debug)]
pub struct Actor<'a> {
    pub user_id: i64,
    pub role: Role,
    pub scope: &'a Scope,
}

/// Make `edit` to the stored record `stored` (of `grid`) as `who`, through
/// the write path; its result (a refusal is kept in the quarantine, as a
/// phone's is). Call inside `web::block`.
pub fn act(
    store: &Store,
    who: &Actor<'_>,
    stored: &str,
    edit: &DeskEdit,
    now_ms: i64,
) -> Result<ChangeResult, EditError> {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (_, actor) = store.own_device(who.user_id, DEVICE_NAME, now_ms)?;
    let now = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let directory = edit
        .set
        .contains_key("assignee")
        .then(|| dispatch::Directory::load(store))
        .transpose()?;
    let guard = |c: &Change| {
        who.scope.write_refusal(&c.collection, &c.grid).or_else(|| {
            let e = dispatch::unknown_assignee(c, directory.as_ref()?)?;
            Some((e.code(), e.to_string()))
        })
    };
    let dispatched =
        (who.role == Role::Department).then(|| vec![dispatch::department_key(&who.scope.node)]);
    // A number another server node took meanwhile: build again on the next.
    for _ in 0..3 {
        let seq = u64::try_from(store.actor_max_seq(actor)? + 1).unwrap_or(1);
        let change = build(Schema::current(), stored, actor, seq, edit, &now)?;
        let raw = serde_json::value::RawValue::from_string(change.to_json()).map_err(|e| {
            StoreError::Corrupt {
                id: change.record.to_string(),
                reason: e.to_string(),
            }
        })?;
        let batch = Uuid::new_v4().to_string();
        let push = Push {
            actor,
            batch: &batch,
            changes: std::slice::from_ref(&raw),
            guard: &guard,
        };
        let mut results = store.push_dispatched(&push, dispatched.clone(), now_ms)?;
        match results.pop() {
            Some(ChangeResult::Duplicate { .. }) => continue,
            Some(result) => return Ok(result),
            None => break,
        }
    }
    Err(EditError::Store(StoreError::Unavailable(
        "the desk's actor kept being numbered elsewhere; try again".into(),
    )))
}
