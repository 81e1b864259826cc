//! The central store: the reads behind the API and the sync pulls, the
//! sweep, and the entry to the write path ([`Store::push`], which hands a
//! batch to [`crate::ingest`]).
//!
//! The read queries are written once, in [`queries!`], and compiled for each
//! backend; they hold SQL only. A pull is one read transaction (a snapshot:
//! repeatable read).

use std::sync::Arc;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use gridsync_core::Schema;
use serde_json::value::RawValue;

pub use crate::db::models::QuarantineRow;
use crate::db::models::{ChangeRow, RecordRow};
use crate::db::{Conn, DbError, Pool};
use crate::ingest::commit::{commit_pg, GroupCommit};
use crate::ingest::storage::Locks;
pub use crate::ingest::{allow_all, flow_flag, record_form, storable, ChangeResult, Prior, Push};
use crate::rules::Rules;
use crate::sync::{next_cursor_after_changes, plan_pull, Cursor, PullError, PullPlan, Resume};

/// The server's own actor id: it writes seeds and escalation sweeps. Device
/// actors start at [`identity::FIRST_DEVICE_ACTOR`].
pub const SERVER_ACTOR: u32 = 1;

/// The advisory lock that serializes the administrative writes (users,
/// devices, tokens, uploads…) on PostgreSQL; sync batches do not take it.
pub(crate) const WRITE_LOCK: i64 = 0x6164_6d6e; // "admn"

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
    /// Busy or failed for now, through no fault of the request: retry.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Open(m) => StoreError::Open(m),
            DbError::Pool(p) => StoreError::Pool(p),
            DbError::Query(q) => StoreError::Query(q),
            DbError::Migration(m) => StoreError::Migration(m),
        }
    }
}

/// What a device asks to pull.
#[derive(Debug, Clone)]
pub struct Pull {
    pub actor: u32,
    pub cursor: Cursor,
    pub resume: Option<Resume>,
    pub grids: Vec<String>,
    /// The collections the device's role reads.
    pub collections: Vec<String>,
    pub limit: usize,
}

/// One page of a pull.
#[derive(Debug, Default)]
pub struct PullPage {
    /// Changes after the cursor, by grid and position (changes mode).
    pub changes: Vec<Box<RawValue>>,
    /// Whole record states in the stored form (states mode).
    pub records: Vec<Box<RawValue>>,
    pub cursor: Cursor,
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

fn raw(id: &str, json: String) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(json).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

macro_rules! queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::{actors, changes, quarantine, records};
            use diesel::prelude::*;

            /// The newest positions of these grids' logs (0: none yet).
            fn heads(c: &mut $conn, grids: &[String]) -> Result<Cursor, StoreError> {
                use crate::db::schema::grid_heads as gh;
                let mut heads: Cursor = Cursor(grids.iter().map(|g| (g.clone(), 0)).collect());
                for chunk in grids.chunks(500) {
                    let rows = gh::table
                        .filter(gh::grid.eq_any(chunk))
                        .select((gh::grid, gh::seq))
                        .load::<(String, i64)>(c)?;
                    heads.0.extend(rows);
                }
                Ok(heads)
            }

            type Cond = Box<
                dyn BoxableExpression<
                    changes::table,
                    <$conn as Connection>::Backend,
                    SqlType = diesel::sql_types::Bool,
                >,
            >;
            type RecordCond = Box<
                dyn BoxableExpression<
                    records::table,
                    <$conn as Connection>::Backend,
                    SqlType = diesel::sql_types::Bool,
                >,
            >;

            /// `(grid = g AND seq > cursor[g]) OR …` over the grids with news.
            fn after_cursor(news: &[(String, i64)]) -> Option<Cond> {
                news.iter().fold(None, |acc: Option<Cond>, (g, at)| {
                    let one: Cond = Box::new(changes::grid.eq(g.clone()).and(changes::seq.gt(*at)));
                    Some(match acc {
                        Some(acc) => Box::new(acc.or(one)),
                        None => one,
                    })
                })
            }

            /// The same over records (`last_seq` is a position in the grid's log).
            fn records_after(news: &[(String, i64)]) -> Option<RecordCond> {
                news.iter().fold(None, |acc: Option<RecordCond>, (g, at)| {
                    let one: RecordCond =
                        Box::new(records::grid.eq(g.clone()).and(records::last_seq.gt(*at)));
                    Some(match acc {
                        Some(acc) => Box::new(acc.or(one)),
                        None => one,
                    })
                })
            }

            pub(super) fn pull(
                c: &mut $conn,
                q: &Pull,
                threshold: usize,
            ) -> Result<PullPage, StoreError> {
                let heads = heads(c, &q.grids)?;
                let me = i64::from(q.actor);
                // The grids with changes the device has not pulled.
                let news: Vec<(String, i64)> = heads
                    .0
                    .iter()
                    .filter(|(g, h)| **h > q.cursor.get(g))
                    .map(|(g, _)| (g.clone(), q.cursor.get(g)))
                    .collect();
                let pending = match (&q.resume, after_cursor(&news)) {
                    (None, Some(cond)) => changes::table
                        .filter(cond)
                        .filter(changes::collection.eq_any(&q.collections))
                        .filter(changes::actor.ne(me))
                        .select(changes::seq)
                        .limit(threshold as i64 + 1)
                        .load::<i64>(c)?
                        .len(),
                    _ => 0,
                };
                let limit = q.limit as i64;
                match plan_pull(&q.cursor, q.resume.as_ref(), pending, threshold, &heads)? {
                    PullPlan::Changes => {
                        let Some(cond) = after_cursor(&news) else {
                            return Ok(PullPage {
                                cursor: next_cursor_after_changes(&q.cursor, &heads, None, false),
                                ..PullPage::default()
                            });
                        };
                        let mut rows = changes::table
                            .filter(cond)
                            .filter(changes::collection.eq_any(&q.collections))
                            .filter(changes::actor.ne(me))
                            .order((changes::grid.asc(), changes::seq.asc()))
                            .limit(limit + 1)
                            .select((changes::grid, changes::seq, changes::body))
                            .load::<(String, i64, String)>(c)?;
                        let more = rows.len() > q.limit;
                        rows.truncate(q.limit);
                        let cursor = next_cursor_after_changes(
                            &q.cursor,
                            &heads,
                            rows.last().map(|r| (r.0.as_str(), r.1)),
                            more,
                        );
                        let changes = rows
                            .into_iter()
                            .map(|(grid, seq, body)| raw(&format!("{grid}:{seq}"), body))
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
                        // The grids this transfer covers: those with news when it began.
                        let covered: Vec<(String, i64)> = snapshot
                            .0
                            .iter()
                            .filter(|(g, s)| **s > q.cursor.get(g))
                            .map(|(g, _)| (g.clone(), q.cursor.get(g)))
                            .collect();
                        let Some(cond) = records_after(&covered) else {
                            return Ok(PullPage {
                                cursor: next_cursor_after_changes(
                                    &q.cursor, &snapshot, None, false,
                                ),
                                ..PullPage::default()
                            });
                        };
                        let mut query = records::table
                            .filter(cond)
                            .filter(records::collection.eq_any(&q.collections))
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
                                snapshot: snapshot.clone(),
                                after: id.clone(),
                            }),
                            _ => None,
                        };
                        // The cursor only moves when the last page is sent.
                        let cursor = if resume.is_some() {
                            q.cursor.clone()
                        } else {
                            next_cursor_after_changes(&q.cursor, &snapshot, None, false)
                        };
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

            pub(super) fn cases(
                c: &mut $conn,
                cq: &CaseQuery,
            ) -> Result<Vec<RecordRow>, StoreError> {
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
                Ok(q.order(records::id.asc())
                    .limit(cq.limit)
                    .select(RecordRow::as_select())
                    .load(c)?)
            }

            pub(super) fn check_pull(c: &mut $conn, q: &Pull) -> Result<(), StoreError> {
                let heads = heads(c, &q.grids)?;
                plan_pull(&q.cursor, q.resume.as_ref(), 0, 0, &heads)?;
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
    /// Sync batches waiting for the SQLite writer.
    group: Arc<GroupCommit>,
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
            group: Arc::default(),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Merge a batch: decoded and checked first, with no lock held, then
    /// merged in a write transaction (`ingest::commit`); a result per change.
    pub fn push(&self, p: &Push<'_>, now: i64) -> Result<Vec<ChangeResult>, StoreError> {
        let batch = crate::ingest::prepare(self.schema, p);
        match &self.pool {
            Pool::Sqlite(pool, writer) => {
                let conn = || pool.get().map_err(StoreError::from);
                self.group
                    .submit(writer, conn, self.schema, &self.rules, batch, now)
            }
            Pool::Pg(pool) => commit_pg(&mut *pool.get()?, self.schema, &self.rules, &batch, now),
        }
    }

    /// Sync batches queued for the SQLite writer now (group commit).
    pub fn waiting_batches(&self) -> usize {
        self.group.waiting()
    }

    /// The escalation sweep as of `now` ([`crate::workflows::sweep`]): alone,
    /// with no sync batch running meanwhile.
    pub fn sweep(&self, now: i64) -> Result<Vec<ChangeResult>, StoreError> {
        let (schema, rules) = (self.schema, self.rules.clone());
        let _writer = self.pool.writer();
        match self.pool.get()? {
            Conn::Sqlite(mut c) => c.immediate_transaction(|c| {
                c.lock_all()?;
                crate::workflows::sweep(c, schema, &rules, now)
            }),
            Conn::Pg(mut c) => c.transaction(|c| {
                let c: &mut PgConnection = c;
                c.lock_all()?;
                crate::workflows::sweep(c, schema, &rules, now)
            }),
        }
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
