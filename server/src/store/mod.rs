//! The central store: merging sync batches into records, the change log that
//! devices pull from, the quarantine, and the reads behind the API.
//!
//! Every query is written once, in [`queries!`], and compiled for each
//! backend; the only backend-specific lines are how a transaction starts:
//!
//! - a sync batch is one write transaction. On SQLite it is `BEGIN
//!   IMMEDIATE` (one writer at a time, others wait on the busy timeout); on
//!   PostgreSQL it takes a transaction-scoped advisory lock, so batches from
//!   any number of server processes are serialized too. Serializing writers
//!   is what makes the server sequence (the devices' cursor) follow commit
//!   order: a device never skips a change that commits late.
//! - a pull is one read transaction (a snapshot: repeatable read).
//!
//! Two syncs touching the same record therefore both merge; neither
//! overwrites the other.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use gridsync_core::{Change, Record, Schema};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

pub use crate::db::models::QuarantineRow;
use crate::db::models::{ChangeRow, NewChange, NewQuarantine, RecordForm, RecordRow};
use crate::db::{Conn, Pool};
use crate::reports::{stock_key, stock_move, StockKey, StockOf};
use crate::rules::Rules;
use crate::sync::{next_cursor_after_changes, plan_pull, PullError, PullPlan, Resume};

/// The server's own actor id: it writes seeds and escalation sweeps. Device
/// actors start at [`identity::FIRST_DEVICE_ACTOR`].
pub const SERVER_ACTOR: u32 = 1;

/// The advisory lock key that serializes sync batches on PostgreSQL.
const WRITE_LOCK: i64 = 0x6772_6964; // "grid"

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request names something that does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts the store (a name taken, a node in use).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request is not acceptable as it stands.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// A quota is used up for now (e.g. a device's upload bytes of the day).
    #[error("{message}")]
    OverQuota { code: &'static str, message: String },
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored record {id} cannot be read: {reason}")]
    Corrupt { id: String, reason: String },
    #[error(transparent)]
    Pull(#[from] PullError),
}

/// The changes a device pushes.
pub struct Push<'a> {
    pub actor: u32,
    pub batch: &'a str,
    /// Each change as sent; decoded one by one so that one malformed change
    /// is refused (and kept) without failing the others.
    pub changes: &'a [Box<RawValue>],
    /// Why the sender may not make this change, if it may not (scope, role):
    /// `(code, message)`. The change is then refused and quarantined.
    pub guard: &'a (dyn Fn(&Change) -> Option<(&'static str, String)> + Sync),
}

impl std::fmt::Debug for Push<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Push")
            .field("actor", &self.actor)
            .field("batch", &self.batch)
            .field("changes", &self.changes.len())
            .finish_non_exhaustive()
    }
}

/// A guard that lets every change through (the server's own writes).
pub fn allow_all(_: &Change) -> Option<(&'static str, String)> {
    None
}

/// What a device asks to pull.
#[derive(Debug, Clone)]
pub struct Pull {
    pub actor: u32,
    pub cursor: i64,
    pub resume: Option<Resume>,
    pub grids: Vec<String>,
    /// The collections the device's role reads.
    pub collections: Vec<String>,
    pub limit: usize,
}

/// The result for one pushed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChangeResult {
    Applied {
        actor: u32,
        seq: u64,
        server_seq: i64,
    },
    Duplicate {
        actor: u32,
        seq: u64,
    },
    Refused {
        #[serde(skip_serializing_if = "Option::is_none")]
        actor: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        code: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

impl ChangeResult {
    pub fn outcome(&self) -> &'static str {
        match self {
            ChangeResult::Applied { .. } => "applied",
            ChangeResult::Duplicate { .. } => "duplicate",
            ChangeResult::Refused { .. } => "refused",
        }
    }
}

/// One page of a pull.
#[derive(Debug, Serialize)]
pub struct PullPage {
    /// Changes after the cursor, in server order (changes mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Box<RawValue>>,
    /// Whole record states in the stored form (states mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<Box<RawValue>>,
    pub cursor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    pub more: bool,
}

/// Filters of a grid's record list.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub grid: String,
    /// Only these collections (the ones the caller's role reads).
    pub collections: Vec<String>,
    pub collection: Option<String>,
    pub status: Option<String>,
    pub updated_since: Option<i64>,
    pub after: Option<String>,
    pub include_deleted: bool,
    pub limit: i64,
}

/// Filters of a node's case list.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub grids: Vec<String>,
    /// The handling levels shown (the node's and those above).
    pub levels: Vec<String>,
    pub collections: Vec<String>,
    pub status: Option<String>,
    pub overdue: Option<bool>,
    pub after: Option<String>,
    pub limit: i64,
}

/// A record loaded (or created) during a batch.
struct Loaded {
    record: Option<Record>,
    existed: bool,
    prior: Prior,
    last_seq: i64,
    touched: bool,
    /// Where the stored row counts in the report stock.
    stock: Option<StockKey>,
}

/// The stock key of a stored row.
fn row_stock(row: &RecordRow) -> Option<StockKey> {
    stock_key(StockOf {
        grid: &row.grid,
        collection: &row.collection,
        level: &row.level,
        status: row.status.as_deref(),
        category: row.category.as_deref(),
        closed: row.closed_at.is_some(),
        overdue: row.overdue,
        conflicts: row.conflicts,
        deleted: row.deleted,
    })
}

/// The stock key of a row about to be written.
fn form_stock(form: &RecordForm) -> Option<StockKey> {
    stock_key(StockOf {
        grid: &form.grid,
        collection: &form.collection,
        level: &form.level,
        status: form.status.as_deref(),
        category: form.category.as_deref(),
        closed: form.closed_at.is_some(),
        overdue: form.overdue,
        conflicts: form.conflicts,
        deleted: form.deleted,
    })
}

/// What a record's row said before this batch (or, for a new record, its
/// creation), that the derived columns carry on from.
#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// The level stored (none for a new record).
    pub level: Option<String>,
    pub level_since: i64,
    pub flag: Option<String>,
}

/// Whether the status values `before` → `after` (a change just applied)
/// follow the collection's flow; the flag to keep on the record: a move
/// outside the flow is flagged (and merged: refusing it would make replicas
/// diverge), a later move within it clears the flag.
pub fn flow_flag(
    collection: &str,
    before: &[gridsync_core::Value],
    after: &[gridsync_core::Value],
    flag: Option<String>,
    by: &str,
) -> Option<String> {
    let Some(flow) = gridsync_core::Flow::of(collection) else {
        return flag;
    };
    if before == after {
        return flag;
    }
    let text = |v: &gridsync_core::Value| v.as_str().unwrap_or_default().to_owned();
    let new: Vec<String> = after
        .iter()
        .filter(|v| !before.contains(v))
        .map(text)
        .collect();
    let old: Vec<String> = before.iter().map(text).collect();
    let allowed = new.iter().all(|to| {
        if old.is_empty() {
            flow.allows(None, to)
        } else {
            old.iter().any(|from| flow.allows(Some(from), to))
        }
    });
    if allowed {
        None
    } else {
        Some(format!(
            "status moved from {old:?} to {new:?} outside the {collection} flow (change {by})"
        ))
    }
}

/// The derived columns of a record after a merge. Pure.
pub fn record_form(
    record: &Record,
    prior: &Prior,
    last_seq: i64,
    now: i64,
    rules: &Rules,
) -> RecordForm {
    let view = record.view();
    let summary = view.summary();
    let patrol = crate::reports::patrol_figures(&view, prior.created_at);
    let level = summary.level.as_str();
    // Deadlines count from when the case reached its level.
    let level_since = match &prior.level {
        Some(l) if l == level => prior.level_since,
        _ => now,
    };
    let deadline = rules.deadline(&view, level_since);
    // Closed: a status that ends the case in its collection's flow.
    let closed = match (
        gridsync_core::Flow::of(record.collection.name),
        summary.status.as_deref(),
    ) {
        (Some(flow), Some(status)) => flow.is_terminal(status),
        _ => false,
    };
    RecordForm {
        id: record.id.to_string(),
        collection: record.collection.name.to_owned(),
        grid: record.grid.clone(),
        state: record.to_stored(),
        status: summary.status,
        level: summary.level.as_str().to_owned(),
        category: summary.category,
        assignee: summary.assignee,
        deadline,
        deleted: summary.deleted,
        conflicts: i32::try_from(summary.conflicts).unwrap_or(i32::MAX),
        created_at: prior.created_at,
        updated_at: now,
        closed_at: if closed {
            prior.closed_at.or(Some(now))
        } else {
            None
        },
        last_seq,
        level_since,
        overdue: deadline.is_some_and(|d| d < now),
        flag: prior.flag.clone(),
        planned: patrol.map(|p| p.planned),
        visited: patrol.map(|p| p.visited),
        checkins: patrol.map(|p| p.checkins),
        starts_at: patrol.map(|p| p.starts_at),
    }
}

fn raw(id: &str, json: String) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(json).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

fn refused(
    change: Option<&Change>,
    code: &str,
    message: String,
    field: Option<&str>,
) -> ChangeResult {
    ChangeResult::Refused {
        actor: change.map(|c| c.actor),
        seq: change.map(|c| c.seq),
        code: code.to_owned(),
        message,
        field: field.map(str::to_owned),
    }
}

macro_rules! queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::{actors, changes, quarantine, records};
            use diesel::dsl::max;
            use diesel::prelude::*;

            pub(super) fn push(
                c: &mut $conn,
                schema: &'static Schema,
                rules: &Rules,
                p: &Push<'_>,
                now: i64,
            ) -> Result<Vec<ChangeResult>, StoreError> {
                let mut next_seq = changes::table
                    .select(max(changes::seq))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0)
                    + 1;
                let mut loaded: HashMap<Uuid, Loaded> = HashMap::new();
                let mut logged: Vec<NewChange> = Vec::new();
                let mut in_batch: HashMap<(i64, i64), usize> = HashMap::new();
                let mut held: Vec<NewQuarantine> = Vec::new();
                let mut results = Vec::with_capacity(p.changes.len());
                let mut quarantine = |change: Option<&Change>, body: &str, result: ChangeResult| {
                    if let ChangeResult::Refused { code, message, .. } = &result {
                        held.push(NewQuarantine {
                            id: 0,
                            // Who sent it: the device that holds it until it is resolved.
                            actor: Some(i64::from(p.actor)),
                            actor_seq: change.and_then(|c| i64::try_from(c.seq).ok()),
                            record_id: change.map(|c| c.record.to_string()),
                            grid: change.map(|c| c.grid.clone()),
                            batch_id: p.batch.to_owned(),
                            received_at: now,
                            code: code.clone(),
                            message: message.clone(),
                            body: body.to_owned(),
                        });
                    }
                    result
                };

                for sent in p.changes {
                    let change = match Change::from_json(sent.get().as_bytes()) {
                        Ok(change) => change,
                        Err(e) => {
                            let r = refused(
                                None,
                                "malformed_change",
                                format!("not a valid change: {e}"),
                                None,
                            );
                            results.push(quarantine(None, sent.get(), r));
                            continue;
                        }
                    };
                    if change.actor != p.actor {
                        let msg = format!(
                            "the change is by actor {}, the request by actor {}",
                            change.actor, p.actor
                        );
                        results.push(quarantine(
                            Some(&change),
                            sent.get(),
                            refused(Some(&change), "actor_mismatch", msg, None),
                        ));
                        continue;
                    }
                    if let Some((code, message)) = (p.guard)(&change) {
                        results.push(quarantine(
                            Some(&change),
                            sent.get(),
                            refused(Some(&change), code, message, None),
                        ));
                        continue;
                    }
                    let Ok(actor_seq) = i64::try_from(change.seq) else {
                        let msg = "seq is beyond 2^63-1".to_owned();
                        results.push(quarantine(
                            Some(&change),
                            sent.get(),
                            refused(Some(&change), "invalid_header", msg, None),
                        ));
                        continue;
                    };
                    let key = (i64::from(change.actor), actor_seq);
                    let body = change.to_json();
                    let previous = match in_batch.get(&key) {
                        Some(i) => Some(logged[*i].body.clone()),
                        None => changes::table
                            .filter(changes::actor.eq(key.0))
                            .filter(changes::actor_seq.eq(key.1))
                            .select(changes::body)
                            // Not `.first()`: its bound LIMIT makes SQLite re-prepare the
                            // statement on every call (measured: +28% ingest without it).
                            .get_result::<String>(c)
                            .optional()?,
                    };
                    match previous {
                        Some(b) if b == body => {
                            results.push(ChangeResult::Duplicate {
                                actor: change.actor,
                                seq: change.seq,
                            });
                            continue;
                        }
                        Some(_) => {
                            let e = gridsync_core::ChangeError::ReusedSequence {
                                actor: change.actor,
                                seq: change.seq,
                            };
                            let r = refused(Some(&change), e.code(), e.to_string(), None);
                            results.push(quarantine(Some(&change), &body, r));
                            continue;
                        }
                        None => {}
                    }
                    let entry = match loaded.entry(change.record) {
                        Entry::Occupied(e) => e.into_mut(),
                        Entry::Vacant(e) => {
                            let id = change.record.to_string();
                            let row = records::table
                                .find(&id)
                                .select(RecordRow::as_select())
                                .get_result(c)
                                .optional()?;
                            let l = match row {
                                Some(row) => Loaded {
                                    stock: row_stock(&row),
                                    record: Some(Record::from_stored(schema, &row.state).map_err(
                                        |e| StoreError::Corrupt {
                                            id,
                                            reason: e.to_string(),
                                        },
                                    )?),
                                    existed: true,
                                    prior: Prior {
                                        created_at: row.created_at,
                                        closed_at: row.closed_at,
                                        level: Some(row.level),
                                        level_since: row.level_since,
                                        flag: row.flag,
                                    },
                                    last_seq: row.last_seq,
                                    touched: false,
                                },
                                None => Loaded {
                                    stock: None,
                                    record: None,
                                    existed: false,
                                    prior: Prior { created_at: now, ..Prior::default() },
                                    last_seq: 0,
                                    touched: false,
                                },
                            };
                            e.insert(l)
                        }
                    };
                    let moves_status = change
                        .ops
                        .iter()
                        .any(|o| matches!(o, gridsync_core::Op::Set { field, .. } if field == "status"));
                    let before = match (&entry.record, moves_status) {
                        (Some(r), true) => r.values("status"),
                        _ => Vec::new(),
                    };
                    let merged = match &mut entry.record {
                        Some(record) => record.apply_change(schema, &change),
                        None => {
                            Record::from_change(schema, &change).map(|r| entry.record = Some(r))
                        }
                    };
                    if let Err(e) = merged {
                        let r = refused(Some(&change), e.code(), e.to_string(), e.field());
                        results.push(quarantine(Some(&change), &body, r));
                        continue;
                    }
                    if moves_status {
                        let after = entry.record.as_ref().map(|r| r.values("status")).unwrap_or_default();
                        let by = format!("{}:{}", change.actor, change.seq);
                        entry.prior.flag = flow_flag(&change.collection, &before, &after, entry.prior.flag.take(), &by);
                    }
                    entry.last_seq = next_seq;
                    entry.touched = true;
                    in_batch.insert(key, logged.len());
                    logged.push(NewChange {
                        seq: next_seq,
                        record_id: change.record.to_string(),
                        grid: change.grid.clone(),
                        actor: key.0,
                        actor_seq: key.1,
                        batch_id: p.batch.to_owned(),
                        received_at: now,
                        body,
                        collection: change.collection.clone(),
                    });
                    results.push(ChangeResult::Applied {
                        actor: change.actor,
                        seq: change.seq,
                        server_seq: next_seq,
                    });
                    next_seq += 1;
                }

                for chunk in logged.chunks(1000) {
                    diesel::insert_into(changes::table)
                        .values(chunk)
                        .execute(c)?;
                }
                let mut created = Vec::new();
                let mut stock: HashMap<StockKey, i64> = HashMap::new();
                let mut refs = Vec::new();
                for l in loaded.values().filter(|l| l.touched) {
                    let record = l.record.as_ref().expect("a touched record exists");
                    refs.extend(attachments::refs_of(record));
                    let form = record_form(record, &l.prior, l.last_seq, now, rules);
                    stock_move(&mut stock, l.stock.clone(), form_stock(&form));
                    if l.existed {
                        diesel::update(records::table.find(&form.id))
                            .set(&form)
                            .execute(c)?;
                    } else {
                        created.push(form);
                    }
                }
                for chunk in created.chunks(500) {
                    diesel::insert_into(records::table)
                        .values(chunk)
                        .execute(c)?;
                }
                record_actor(c, p.actor, &logged, now)?;
                keep_in_quarantine(c, held)?;
                keep_stock(c, &stock)?;
                keep_refs(c, &refs)?;
                Ok(results)
            }

            /// Add the attachment references of a batch (already known ones
            /// are left as they are).
            fn keep_refs(c: &mut $conn, refs: &[attachments::NewRef]) -> Result<(), StoreError> {
                use crate::db::schema::attachment_refs as ar;
                for chunk in refs.chunks(500) {
                    // Tuples: diesel's SQLite upsert takes only batches it
                    // can write without the DEFAULT keyword.
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|r| {
                            (
                                ar::sha256.eq(&r.sha256),
                                ar::record_id.eq(&r.record_id),
                                ar::grid.eq(&r.grid),
                                ar::collection.eq(&r.collection),
                                ar::media_type.eq(&r.media_type),
                                ar::size.eq(r.size),
                            )
                        })
                        .collect();
                    diesel::insert_into(ar::table)
                        .values(&rows)
                        .on_conflict((ar::sha256, ar::record_id))
                        .do_nothing()
                        .execute(c)?;
                }
                Ok(())
            }

            /// Add the moves of a batch to the report stock.
            fn keep_stock(c: &mut $conn, deltas: &HashMap<StockKey, i64>) -> Result<(), StoreError> {
                use crate::db::schema::report_stock as rs;
                let mut moves: Vec<(&StockKey, &i64)> = deltas.iter().filter(|(_, d)| **d != 0).collect();
                // One order for every writer.
                moves.sort();
                // One statement per 500 keys (a batch moves a few dozen): the
                // keys are distinct, so no row is hit twice by one statement.
                for chunk in moves.chunks(500) {
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|(k, d)| {
                            (
                                rs::grid.eq(&k.grid),
                                rs::collection.eq(&k.collection),
                                rs::level.eq(&k.level),
                                rs::status.eq(&k.status),
                                rs::category.eq(&k.category),
                                rs::open.eq(k.open),
                                rs::overdue.eq(k.overdue),
                                rs::conflicted.eq(k.conflicted),
                                rs::n.eq(**d),
                            )
                        })
                        .collect();
                    diesel::insert_into(rs::table)
                        .values(&rows)
                        .on_conflict((rs::grid, rs::collection, rs::level, rs::status, rs::category, rs::open, rs::overdue, rs::conflicted))
                        .do_update()
                        .set(rs::n.eq(rs::n + diesel::upsert::excluded(rs::n)))
                        .execute(c)?;
                }
                Ok(())
            }

            fn record_actor(
                c: &mut $conn,
                actor: u32,
                logged: &[NewChange],
                now: i64,
            ) -> Result<(), StoreError> {
                let actor = i64::from(actor);
                let newest = logged.iter().map(|l| l.actor_seq).max().unwrap_or(0);
                let known = actors::table
                    .find(actor)
                    .select(actors::max_seq)
                    .first::<i64>(c)
                    .optional()?;
                match known {
                    Some(seen) => {
                        diesel::update(actors::table.find(actor))
                            .set((
                                actors::max_seq.eq(seen.max(newest)),
                                actors::last_sync_at.eq(now),
                            ))
                            .execute(c)?;
                    }
                    None => {
                        diesel::insert_into(actors::table)
                            .values((
                                actors::actor.eq(actor),
                                actors::max_seq.eq(newest),
                                actors::last_sync_at.eq(now),
                            ))
                            .execute(c)?;
                    }
                }
                Ok(())
            }

            /// Keep refused changes, once each (a device retrying the same
            /// refused change does not fill the quarantine).
            fn keep_in_quarantine(
                c: &mut $conn,
                held: Vec<NewQuarantine>,
            ) -> Result<(), StoreError> {
                if held.is_empty() {
                    return Ok(());
                }
                let mut next = quarantine::table
                    .select(max(quarantine::id))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0)
                    + 1;
                for mut q in held {
                    let known = quarantine::table
                        .filter(quarantine::body.eq(&q.body))
                        .filter(quarantine::code.eq(&q.code))
                        .select(quarantine::id)
                        .first::<i64>(c)
                        .optional()?;
                    if known.is_none() {
                        q.id = next;
                        next += 1;
                        diesel::insert_into(quarantine::table)
                            .values(&q)
                            .execute(c)?;
                    }
                }
                Ok(())
            }

            pub(super) fn pull(
                c: &mut $conn,
                q: &Pull,
                threshold: usize,
            ) -> Result<PullPage, StoreError> {
                let max_seq = changes::table
                    .select(max(changes::seq))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0);
                let me = i64::from(q.actor);
                let pending = if q.resume.is_some() {
                    0
                } else {
                    changes::table
                        .filter(changes::seq.gt(q.cursor))
                        .filter(changes::grid.eq_any(&q.grids))
                        .filter(changes::collection.eq_any(&q.collections))
                        .filter(changes::actor.ne(me))
                        .select(changes::seq)
                        .limit(threshold as i64 + 1)
                        .load::<i64>(c)?
                        .len()
                };
                let limit = q.limit as i64;
                match plan_pull(q.cursor, q.resume.as_ref(), pending, threshold, max_seq)? {
                    PullPlan::Changes => {
                        let mut rows = changes::table
                            .filter(changes::seq.gt(q.cursor))
                            .filter(changes::grid.eq_any(&q.grids))
                            .filter(changes::collection.eq_any(&q.collections))
                            .filter(changes::actor.ne(me))
                            .order(changes::seq.asc())
                            .limit(limit + 1)
                            .select((changes::seq, changes::body))
                            .load::<(i64, String)>(c)?;
                        let more = rows.len() > q.limit;
                        rows.truncate(q.limit);
                        let cursor = next_cursor_after_changes(
                            rows.last().map(|r| r.0),
                            more,
                            max_seq,
                            q.cursor,
                        );
                        let changes = rows
                            .into_iter()
                            .map(|(seq, body)| raw(&seq.to_string(), body))
                            .collect::<Result<_, _>>()?;
                        Ok(PullPage {
                            changes,
                            records: Vec::new(),
                            cursor,
                            resume: None,
                            more,
                        })
                    }
                    PullPlan::States { snapshot, after } => {
                        let mut query = records::table
                            .filter(records::grid.eq_any(&q.grids))
                            .filter(records::collection.eq_any(&q.collections))
                            .filter(records::last_seq.gt(q.cursor))
                            .into_boxed();
                        if let Some(after) = &after {
                            query = query.filter(records::id.gt(after.clone()));
                        }
                        let mut rows = query
                            .order(records::id.asc())
                            .limit(limit + 1)
                            .select((records::id, records::state))
                            .load::<(String, String)>(c)?;
                        let more = rows.len() > q.limit;
                        rows.truncate(q.limit);
                        let resume = match (more, rows.last()) {
                            (true, Some((id, _))) => Some(Resume {
                                snapshot,
                                after: id.clone(),
                            }),
                            _ => None,
                        };
                        let cursor = if resume.is_some() { q.cursor } else { snapshot };
                        let records = rows
                            .into_iter()
                            .map(|(id, s)| raw(&id, s))
                            .collect::<Result<_, _>>()?;
                        Ok(PullPage {
                            changes: Vec::new(),
                            records,
                            cursor,
                            resume,
                            more,
                        })
                    }
                }
            }

            /// Escalate every open case past its deadline one level, as the
            /// server's own actor, logged like any change; mark overdue cases.
            pub(super) fn sweep(
                c: &mut $conn,
                schema: &'static Schema,
                rules: &Rules,
                now: i64,
            ) -> Result<Vec<ChangeResult>, StoreError> {
                let open_past = || {
                    records::table
                        .filter(records::deadline.lt(now))
                        .filter(records::closed_at.is_null())
                        .filter(records::deleted.eq(false))
                };
                // The report stock follows the rows marked overdue.
                let flipped = open_past()
                    .filter(records::overdue.eq(false))
                    .group_by((records::grid, records::collection, records::level, records::status, records::category, records::conflicts))
                    .select((records::grid, records::collection, records::level, records::status, records::category, records::conflicts, diesel::dsl::count_star()))
                    .load::<(String, String, String, Option<String>, Option<String>, i32, i64)>(c)?;
                let mut stock: HashMap<StockKey, i64> = HashMap::new();
                for (grid, collection, level, status, category, conflicts, n) in &flipped {
                    let of = |overdue| stock_key(StockOf {
                        grid,
                        collection,
                        level,
                        status: status.as_deref(),
                        category: category.as_deref(),
                        closed: false,
                        overdue,
                        conflicts: *conflicts,
                        deleted: false,
                    });
                    if let (Some(from), Some(to)) = (of(false), of(true)) {
                        *stock.entry(from).or_default() -= n;
                        *stock.entry(to).or_default() += n;
                    }
                }
                keep_stock(c, &stock)?;
                diesel::update(open_past().filter(records::overdue.eq(false)))
                    .set(records::overdue.eq(true))
                    .execute(c)?;
                // Only cases have a handling level to raise.
                let cases: Vec<&str> = schema
                    .collections
                    .iter()
                    .filter(|c| c.level_field().is_some())
                    .map(|c| c.name)
                    .collect();
                let due = open_past()
                    .filter(records::collection.eq_any(cases))
                    .filter(records::level.ne(gridsync_core::Level::District.as_str()))
                    .order(records::id.asc())
                    .select((records::id, records::state))
                    .load::<(String, String)>(c)?;
                if due.is_empty() {
                    return Ok(Vec::new());
                }
                let server = i64::from(SERVER_ACTOR);
                let next = actors::table.find(server).select(actors::max_seq).first::<i64>(c).optional()?.unwrap_or(0) + 1;
                let mut replica = gridsync_core::Replica::default();
                for (id, state) in &due {
                    let r = Record::from_stored(schema, state).map_err(|e| StoreError::Corrupt { id: id.clone(), reason: e.to_string() })?;
                    replica.merge_record(&r).map_err(|e| StoreError::Corrupt { id: id.clone(), reason: e.to_string() })?;
                }
                let mut dev = gridsync_core::Device::resume(SERVER_ACTOR, next as u64, replica);
                let mut raws = Vec::with_capacity(due.len());
                for (id, _) in &due {
                    let uuid = Uuid::parse_str(id).map_err(|e| StoreError::Corrupt { id: id.clone(), reason: e.to_string() })?;
                    let level = dev.replica().record(uuid).map(Record::level).unwrap_or_default();
                    let Some(up) = level.up() else { continue };
                    let change = dev
                        .edit(uuid)
                        .escalate(up)
                        .commit()
                        .map_err(|e| StoreError::Corrupt { id: id.clone(), reason: e.to_string() })?;
                    raws.push(raw(id, change.to_json())?);
                }
                let batch = Uuid::new_v4().to_string();
                let sweep = Push { actor: SERVER_ACTOR, batch: &batch, changes: &raws, guard: &allow_all };
                push(c, schema, rules, &sweep, now)
            }

            pub(super) fn cases(c: &mut $conn, cq: &CaseQuery) -> Result<Vec<RecordRow>, StoreError> {
                let mut q = records::table
                    .filter(records::grid.eq_any(&cq.grids))
                    .filter(records::level.eq_any(&cq.levels))
                    .filter(records::collection.eq_any(&cq.collections))
                    .filter(records::deleted.eq(false))
                    .into_boxed();
                if let Some(st) = &cq.status {
                    q = q.filter(records::status.eq(st.clone()));
                }
                if let Some(o) = cq.overdue {
                    q = q.filter(records::overdue.eq(o));
                }
                if let Some(a) = &cq.after {
                    q = q.filter(records::id.gt(a.clone()));
                }
                Ok(q.order(records::id.asc()).limit(cq.limit).select(RecordRow::as_select()).load(c)?)
            }

            pub(super) fn check_pull(c: &mut $conn, q: &Pull) -> Result<(), StoreError> {
                let max_seq = changes::table
                    .select(max(changes::seq))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0);
                plan_pull(q.cursor, q.resume.as_ref(), 0, 0, max_seq)?;
                Ok(())
            }

            pub(super) fn list(
                c: &mut $conn,
                q: &RecordQuery,
            ) -> Result<Vec<RecordRow>, StoreError> {
                let mut query = records::table
                    .filter(records::grid.eq(&q.grid))
                    .filter(records::collection.eq_any(&q.collections))
                    .into_boxed();
                if let Some(col) = &q.collection {
                    query = query.filter(records::collection.eq(col.clone()));
                }
                if let Some(status) = &q.status {
                    query = query.filter(records::status.eq(status.clone()));
                }
                if let Some(since) = q.updated_since {
                    query = query.filter(records::updated_at.ge(since));
                }
                if let Some(after) = &q.after {
                    query = query.filter(records::id.gt(after.clone()));
                }
                if !q.include_deleted {
                    query = query.filter(records::deleted.eq(false));
                }
                Ok(query
                    .order(records::id.asc())
                    .limit(q.limit)
                    .select(RecordRow::as_select())
                    .load(c)?)
            }

            pub(super) fn record(
                c: &mut $conn,
                id: &str,
                history: i64,
            ) -> Result<Option<(RecordRow, Vec<ChangeRow>)>, StoreError> {
                let Some(row) = records::table
                    .find(id)
                    .select(RecordRow::as_select())
                    .first(c)
                    .optional()?
                else {
                    return Ok(None);
                };
                let changes = changes::table
                    .filter(changes::record_id.eq(id))
                    .order(changes::seq.asc())
                    .limit(history)
                    .select(ChangeRow::as_select())
                    .load(c)?;
                Ok(Some((row, changes)))
            }

            pub(super) fn conflicts(
                c: &mut $conn,
                grid: &str,
                collections: &[String],
                limit: i64,
            ) -> Result<Vec<RecordRow>, StoreError> {
                Ok(records::table
                    .filter(records::grid.eq(grid))
                    .filter(records::collection.eq_any(collections))
                    .filter(records::conflicts.gt(0))
                    .filter(records::deleted.eq(false))
                    .order(records::id.asc())
                    .limit(limit)
                    .select(RecordRow::as_select())
                    .load(c)?)
            }

            pub(super) fn actor_max_seq(c: &mut $conn, actor: i64) -> Result<i64, StoreError> {
                Ok(actors::table
                    .find(actor)
                    .select(actors::max_seq)
                    .first::<i64>(c)
                    .optional()?
                    .unwrap_or(0))
            }

            pub(super) fn quarantined(
                c: &mut $conn,
                actor: Option<i64>,
                grids: Option<&[String]>,
                limit: i64,
            ) -> Result<Vec<QuarantineRow>, StoreError> {
                let mut query = quarantine::table.into_boxed();
                if let Some(a) = actor {
                    query = query.filter(quarantine::actor.eq(a));
                }
                if let Some(g) = grids {
                    query = query.filter(quarantine::grid.eq_any(g.to_vec()));
                }
                Ok(query.order(quarantine::id.asc()).limit(limit).load(c)?)
            }
        }
    };
}

queries!(on_sqlite, SqliteConnection);
queries!(on_pg, PgConnection);

/// The store: a pool and the schema changes are validated against.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    schema: &'static Schema,
    /// The deadline rules applied at merge time.
    pub rules: std::sync::Arc<Rules>,
    /// A pull with more changes than this waiting gets record states.
    pub state_threshold: usize,
}

/// Call a query of this module's `on_sqlite` / `on_pg` on the pool's backend
/// inside a write transaction: `BEGIN IMMEDIATE` on SQLite, the advisory
/// write lock on PostgreSQL. Writers are serialized across processes.
macro_rules! write_tx {
    ($self:ident, $call:ident ( $($arg:expr),* )) => {{
        let _writer = $self.pool.writer();
        match $self.pool.get()? {
            Conn::Sqlite(mut conn) => conn.immediate_transaction(|c| on_sqlite::$call(c, $($arg),*)),
            Conn::Pg(mut conn) => conn.transaction(|c| {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})")).execute(c)?;
                on_pg::$call(c, $($arg),*)
            }),
        }
    }};
}

/// Call a query of this module's `on_sqlite` / `on_pg` on the pool's backend
/// inside a read transaction (one consistent snapshot).
macro_rules! read_tx {
    ($self:ident, $call:ident ( $($arg:expr),* )) => {
        match $self.pool.get()? {
            Conn::Sqlite(mut conn) => conn.transaction(|c| on_sqlite::$call(c, $($arg),*)),
            Conn::Pg(mut conn) => conn
                .build_transaction()
                .read_only()
                .repeatable_read()
                .run(|c| on_pg::$call(c, $($arg),*)),
        }
    };
}

impl Store {
    pub fn new(pool: Pool) -> Store {
        Store {
            pool,
            schema: Schema::current(),
            rules: std::sync::Arc::new(Rules::default()),
            state_threshold: 2_000,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Merge a batch in one write transaction; a result per change.
    pub fn push(&self, p: &Push<'_>, now: i64) -> Result<Vec<ChangeResult>, StoreError> {
        let (schema, rules) = (self.schema, self.rules.clone());
        write_tx!(self, push(schema, &rules, p, now))
    }

    /// The escalation sweep as of `now` (see `queries!::sweep`).
    pub fn sweep(&self, now: i64) -> Result<Vec<ChangeResult>, StoreError> {
        let (schema, rules) = (self.schema, self.rules.clone());
        write_tx!(self, sweep(schema, &rules, now))
    }

    /// Cases of some grids at some levels, for a node's list.
    pub fn cases(&self, q: &CaseQuery) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, cases(q))
    }

    /// One page of what the device has not seen, from a snapshot.
    pub fn pull(&self, q: &Pull) -> Result<PullPage, StoreError> {
        let threshold = self.state_threshold;
        read_tx!(self, pull(q, threshold))
    }

    /// Refuse a pull that cannot be answered (a cursor ahead of the server, a
    /// bad resume token) before anything of its request is applied.
    pub fn check_pull(&self, q: &Pull) -> Result<(), StoreError> {
        read_tx!(self, check_pull(q))
    }

    pub fn list(&self, q: &RecordQuery) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, list(q))
    }

    pub fn record(
        &self,
        id: &str,
        history: i64,
    ) -> Result<Option<(RecordRow, Vec<ChangeRow>)>, StoreError> {
        read_tx!(self, record(id, history))
    }

    pub fn conflicts(
        &self,
        grid: &str,
        collections: &[String],
        limit: i64,
    ) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, conflicts(grid, collections, limit))
    }

    /// The highest sequence applied for an actor (0 if none).
    pub fn actor_max_seq(&self, actor: u32) -> Result<i64, StoreError> {
        let actor = i64::from(actor);
        read_tx!(self, actor_max_seq(actor))
    }

    pub fn quarantined(
        &self,
        actor: Option<i64>,
        grids: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<QuarantineRow>, StoreError> {
        read_tx!(self, quarantined(actor, grids, limit))
    }
}

// After the macros above, which they use.
pub mod attachments;
pub mod identity;
pub mod reports;
