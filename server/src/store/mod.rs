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
use crate::db::models::{CaseLine, ChangeRow, RecordRow};
use crate::db::{Conn, DbError, Pool};
use crate::ingest::commit::{commit_pg, GroupCommit};
use crate::ingest::storage::Locks;
pub use crate::ingest::{allow_all, flow_flag, record_form, storable, ChangeResult, Prior, Push};
use crate::rules::Rules;
use crate::sync::{Cursor, PullError, Resume};

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

/// Where a case list looks.
#[derive(Debug, Clone)]
pub enum Reach {
    /// The cases of these grids.
    Grids(Vec<String>),
    /// The cases assigned to one of these (`user:NAME`, a bare `NAME`,
    /// `department:CODE`), whatever their grid.
    Assigned(Vec<String>),
}

impl Default for Reach {
    fn default() -> Reach {
        Reach::Grids(Vec::new())
    }
}

/// Filters of a case list: a node's, a department's, an inbox's.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub reach: Reach,
    /// The handling levels shown (the node's and those above); none: every
    /// level.
    pub levels: Option<Vec<String>>,
    pub collections: Vec<String>,
    pub status: Option<String>,
    pub overdue: Option<bool>,
    /// Only open cases (not closed, not deleted).
    pub open: bool,
    /// Only cases due before this instant (ms).
    pub due_before: Option<i64>,
    /// Only cases due at or after this instant (ms).
    pub due_from: Option<i64>,
    /// Only records with concurrent values to resolve.
    pub conflicted: bool,
    /// Soonest deadline first (none last), then id: an inbox's order, so
    /// its cut keeps the most urgent. Otherwise by id, the order `after`
    /// pages in.
    pub by_due: bool,
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
            use crate::db::any_of::any_of;
            use crate::db::partial;
            use crate::db::schema::{actor_heads, changes, quarantine, records};
            use diesel::prelude::*;

            pub(super) fn cases(
                c: &mut $conn,
                cq: &CaseQuery,
            ) -> Result<Vec<RecordRow>, StoreError> {
                Ok(cases_query(cq).select(RecordRow::as_select()).load(c)?)
            }

            /// [`cases`] as its lists show them, with the state only where
            /// the label is not kept.
            pub(super) fn case_lines(
                c: &mut $conn,
                cq: &CaseQuery,
            ) -> Result<Vec<(CaseLine, Option<String>)>, StoreError> {
                use diesel::dsl::case_when;
                Ok(cases_query(cq)
                    .select((
                        CaseLine::as_select(),
                        case_when(records::label.is_null(), records::state),
                    ))
                    .load(c)?)
            }

            pub(super) fn cases_query(
                cq: &CaseQuery,
            ) -> records::BoxedQuery<'_, <$conn as diesel::Connection>::Backend> {
                // The partial indexes' conditions as literals (`db::partial`).
                // The lists as one bound value each (`db::any_of`): one
                // statement per shape, prepared once per connection.
                let mut q = records::table
                    .filter(any_of(records::collection, &cq.collections))
                    .filter(partial::LIVE)
                    .into_boxed();
                if let Some(levels) = &cq.levels {
                    q = q.filter(any_of(records::level, levels));
                }
                q = match &cq.reach {
                    Reach::Grids(grids) => q.filter(any_of(records::grid, grids)),
                    Reach::Assigned(who) => q.filter(any_of(records::assignee, who)),
                };
                if cq.open {
                    q = q.filter(partial::NOT_CLOSED);
                }
                if let Some(t) = cq.due_before {
                    q = q.filter(records::deadline.lt(t));
                }
                if let Some(t) = cq.due_from {
                    q = q.filter(records::deadline.ge(t));
                }
                if cq.conflicted {
                    q = q.filter(partial::CONFLICTED);
                }
                if let Some(st) = &cq.status {
                    q = q.filter(records::status.eq(st.clone()));
                }
                if let Some(o) = cq.overdue {
                    q = q.filter(records::overdue.eq(o));
                }
                if let Some(a) = &cq.after {
                    q = q.filter(records::id.gt(a.clone()));
                }
                q = if cq.by_due {
                    q.order((
                        records::deadline.is_null().asc(),
                        records::deadline.asc(),
                        records::id.asc(),
                    ))
                } else {
                    q.order(records::id.asc())
                };
                q.limit(cq.limit)
            }

            pub(super) fn list(
                c: &mut $conn,
                q: &RecordQuery,
            ) -> Result<Vec<RecordRow>, StoreError> {
                let mut query = records::table
                    .filter(records::grid.eq(&q.grid))
                    .filter(any_of(records::collection, &q.collections))
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
                grid: Option<&str>,
                history: i64,
            ) -> Result<Vec<(RecordRow, Vec<ChangeRow>)>, StoreError> {
                // With its grid: one grid's rows. Without: every grid's (a
                // record id is unique within its grid only).
                let mut query = records::table.filter(records::id.eq(id)).into_boxed();
                if let Some(g) = grid {
                    query = query.filter(records::grid.eq(g));
                }
                let rows = query
                    .order(records::grid.asc())
                    .select(RecordRow::as_select())
                    .load(c)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let changes = changes::table
                        .filter(changes::grid.eq(&row.grid))
                        .filter(changes::record_id.eq(id))
                        .order(changes::seq.asc())
                        .limit(history)
                        .select(ChangeRow::as_select())
                        .load(c)?;
                    out.push((row, changes));
                }
                Ok(out)
            }

            pub(super) fn conflicts(
                c: &mut $conn,
                grid: &str,
                collections: &[String],
                limit: i64,
            ) -> Result<Vec<RecordRow>, StoreError> {
                Ok(records::table
                    .filter(records::grid.eq(grid))
                    .filter(any_of(records::collection, collections))
                    .filter(partial::CONFLICTED)
                    .filter(partial::LIVE)
                    .order(records::id.asc())
                    .limit(limit)
                    .select(RecordRow::as_select())
                    .load(c)?)
            }

            pub(super) fn actor_max_seq(c: &mut $conn, actor: i64) -> Result<i64, StoreError> {
                Ok(actor_heads::table
                    .filter(actor_heads::actor.eq(actor))
                    .select(diesel::dsl::max(actor_heads::seq))
                    .first::<Option<i64>>(c)?
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

            pub(super) fn quarantine_open(c: &mut $conn) -> Result<i64, StoreError> {
                Ok(quarantine::table
                    .filter(quarantine::resolution.is_null())
                    .count()
                    .get_result(c)?)
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
    /// The SQLite writer thread, which commits sync batches in groups.
    group: Option<Arc<GroupCommit>>,
    /// The org tree as last read ([`Store::org_tree`]).
    tree: Arc<std::sync::Mutex<identity::TreeCache>>,
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
                // On Citus a transaction that writes a reference table (users,
                // devices…) after reading several shards must read them over
                // one connection per worker. Plain PostgreSQL keeps the
                // setting as an unused placeholder.
                diesel::sql_query("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'").execute(c)?;
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
            schema: Schema::current(),
            rules: std::sync::Arc::new(Rules::default()),
            state_threshold: 2_000,
            group: match &pool {
                Pool::Sqlite(p, writer) => {
                    Some(Arc::new(GroupCommit::start(p.clone(), writer.clone())))
                }
                Pool::Pg(_) => None,
            },
            tree: Arc::default(),
            pool,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Merge a batch: decoded and checked first, with no lock held, then
    /// merged in a write transaction (`ingest::commit`); a result per change.
    pub fn push(&self, p: &Push<'_>, now: i64) -> Result<Vec<ChangeResult>, StoreError> {
        self.push_dispatched(p, None, now)
    }

    /// [`Store::push`] by a department's staff: each change must be of a
    /// record dispatched to one of `dispatched` (`department:CODE`), or it is
    /// refused (`not_dispatched`) and kept.
    pub fn push_dispatched(
        &self,
        p: &Push<'_>,
        dispatched: Option<Vec<String>>,
        now: i64,
    ) -> Result<Vec<ChangeResult>, StoreError> {
        self.push_inner(p, dispatched, None, now)
    }

    /// A device's sync pushes: [`Store::push_dispatched`], and the device's
    /// sync noted for the desk's device list (on SQLite in the same write
    /// transaction, so a push takes the writer once).
    pub fn push_synced(
        &self,
        p: &Push<'_>,
        dispatched: Option<Vec<String>>,
        device: &str,
        now: i64,
    ) -> Result<Vec<ChangeResult>, StoreError> {
        self.push_inner(p, dispatched, Some(device), now)
    }

    fn push_inner(
        &self,
        p: &Push<'_>,
        dispatched: Option<Vec<String>>,
        device: Option<&str>,
        now: i64,
    ) -> Result<Vec<ChangeResult>, StoreError> {
        self.yield_to_writer();
        let mut batch = crate::ingest::prepare(self.schema, p);
        batch.dispatched = dispatched;
        match &self.pool {
            Pool::Sqlite(pool, _) => {
                // Merged first on a reader of its own, while other batches
                // hold the writer; checked and written under it
                // (`ingest::still_holds`). A plan that cannot be made here is
                // made again under the writer, where its error is answered.
                let (schema, rules) = (self.schema, &*self.rules);
                let plan = pool.get().ok().and_then(|mut c| {
                    let c: &mut SqliteConnection = &mut c;
                    c.transaction(|c| crate::ingest::plan(c, schema, rules, &batch, now))
                        .ok()
                });
                let note = match device {
                    Some(d) if self.sync_unnoted(d, now).unwrap_or(true) => Some(d.to_owned()),
                    _ => None,
                };
                let batch = crate::ingest::commit::Batch {
                    batch,
                    plan,
                    note,
                    now,
                };
                match &self.group {
                    Some(group) => group.submit(schema, self.rules.clone(), batch),
                    None => Err(StoreError::Unavailable("no SQLite writer".into())),
                }
            }
            Pool::Pg(pool) => {
                let results = commit_pg(&mut *pool.get()?, self.schema, &self.rules, &batch, now)?;
                // A failure to note it never fails the push.
                if let Some(Err(e)) = device.map(|d| self.note_sync(d, now)) {
                    tracing::warn!(error = %e, "last sync time not noted");
                }
                Ok(results)
            }
        }
    }

    /// Merge several batches, in order, in one write transaction (all or
    /// none), with no sync batch running meanwhile: for a writer that has
    /// them all at hand and whose later batches build on the earlier ones,
    /// such as the fixture loader's pushes of many phones. Each batch is
    /// decoded, checked and merged as [`Store::push`] does it; one commit
    /// pays for them all.
    pub fn push_all(
        &self,
        pushes: &[Push<'_>],
        now: i64,
    ) -> Result<Vec<Vec<ChangeResult>>, StoreError> {
        let batches: Vec<crate::ingest::Prepared> = pushes
            .iter()
            .map(|p| crate::ingest::prepare(self.schema, p))
            .collect();
        let (schema, rules) = (self.schema, &*self.rules);
        let _writer = self.pool.writer();
        match self.pool.get()? {
            Conn::Sqlite(mut c) => c.immediate_transaction(|c| {
                c.lock_all()?;
                batches
                    .iter()
                    .map(|b| crate::ingest::apply(c, schema, rules, b, now))
                    .collect()
            }),
            Conn::Pg(mut c) => c.transaction(|c| {
                let c: &mut PgConnection = c;
                // Alone: one transaction takes many actors' and grids' locks.
                c.lock_all()?;
                batches
                    .iter()
                    .map(|b| crate::ingest::apply(c, schema, rules, b, now))
                    .collect()
            }),
        }
    }

    /// Let the SQLite writer thread go ahead of the calling thread's work
    /// from now on ([`crate::ingest::commit::yield_to_writer`]); on
    /// PostgreSQL, where every batch writes on its own thread, nothing.
    pub fn yield_to_writer(&self) {
        if self.group.is_some() {
            crate::ingest::commit::yield_to_writer();
        }
    }

    /// Sync batches queued for the SQLite writer now (group commit).
    pub fn waiting_batches(&self) -> usize {
        self.group.as_ref().map_or(0, |g| g.waiting())
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

    /// Merge the residents sharing `id_key` within `grids` into `keep`
    /// ([`crate::workflows::merge_residents`]); `None` when `keep` is not one
    /// of two or more of them.
    pub fn merge_duplicate(
        &self,
        id_key: &str,
        grids: &[String],
        keep: uuid::Uuid,
        by: i64,
        now: i64,
    ) -> Result<Option<Vec<ChangeResult>>, StoreError> {
        let (schema, rules) = (self.schema, self.rules.clone());
        let _writer = self.pool.writer();
        match self.pool.get()? {
            Conn::Sqlite(mut c) => c.immediate_transaction(|c| {
                c.lock_all()?;
                crate::workflows::merge_residents(c, schema, &rules, id_key, grids, keep, by, now)
            }),
            Conn::Pg(mut c) => c.transaction(|c| {
                let c: &mut PgConnection = c;
                c.lock_all()?;
                crate::workflows::merge_residents(c, schema, &rules, id_key, grids, keep, by, now)
            }),
        }
    }

    /// Cases of some grids at some levels, for a node's list.
    pub fn cases(&self, q: &CaseQuery) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, cases(q))
    }

    /// [`Store::cases`] as an inbox shows them: each case's line, and its
    /// state only when its label is not kept (written before labels were).
    pub fn case_lines(&self, q: &CaseQuery) -> Result<Vec<(CaseLine, Option<String>)>, StoreError> {
        read_tx!(self, case_lines(q))
    }

    /// How SQLite would run [`Store::cases`] for `q`: the steps of
    /// `EXPLAIN QUERY PLAN` (none on PostgreSQL). For tests that keep the
    /// inbox on its indexes.
    #[cfg(test)]
    pub(crate) fn cases_plan(&self, q: &CaseQuery) -> Result<Vec<String>, StoreError> {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let Conn::Sqlite(mut c) = self.pool.get()? else {
            return Ok(Vec::new());
        };
        let query = on_sqlite::cases_query(q).select(RecordRow::as_select());
        let text = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        // Planned without its binds: SQLite plans from the text alone.
        let sql = text.split(" -- binds:").next().unwrap_or_default();
        Ok(diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<Step>(&mut c)?
            .into_iter()
            .map(|s| s.detail)
            .collect())
    }

    /// One page of what the device has not seen, from a snapshot
    /// ([`pull::pull`]).
    pub fn pull(&self, q: &Pull) -> Result<PullPage, StoreError> {
        let threshold = self.state_threshold;
        self.in_snapshot(|tx| pull::pull(tx, q, threshold))
    }

    /// Refuse a pull that cannot be answered (a cursor ahead of a grid's log,
    /// a bad resume token) before anything of its request is applied.
    pub fn check_pull(&self, q: &Pull) -> Result<(), StoreError> {
        self.in_snapshot(|tx| pull::check_pull(tx, q))
    }

    /// Run `f` in one read transaction (a consistent snapshot) on the pool's
    /// backend.
    fn in_snapshot<R>(
        &self,
        f: impl Fn(&mut dyn pull::PullTx) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match self.pool.get()? {
            Conn::Sqlite(mut conn) => conn.transaction(|c| {
                let c: &mut SqliteConnection = c;
                f(c)
            }),
            Conn::Pg(mut conn) => conn
                .build_transaction()
                .read_only()
                .repeatable_read()
                .run(|c| {
                    let c: &mut PgConnection = c;
                    f(c)
                }),
        }
    }

    pub fn list(&self, q: &RecordQuery) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, list(q))
    }

    /// A record by id, in `grid` or in every grid that has one by this id.
    pub fn record(
        &self,
        id: &str,
        grid: Option<&str>,
        history: i64,
    ) -> Result<Vec<(RecordRow, Vec<ChangeRow>)>, StoreError> {
        read_tx!(self, record(id, grid, history))
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

    /// Refused changes no supervisor has decided on yet.
    pub fn quarantine_open(&self) -> Result<i64, StoreError> {
        read_tx!(self, quarantine_open())
    }

    /// The most database connections this process opens.
    pub fn pool_size(&self) -> u32 {
        self.pool.size()
    }

    /// This process's database connections: `(open, idle)`.
    pub fn pool_state(&self) -> (u32, u32) {
        self.pool.state()
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
pub mod duplicates;
pub mod identity;
pub mod imports;
pub mod insight;
pub mod pull;
pub mod reports;
pub mod webhooks;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{Connection, InstrumentationEvent};
    use diesel::RunQueryDsl;

    use super::{on_sqlite, CaseQuery, Reach};
    use crate::db::models::RecordRow;
    use crate::db::{Conn, Database, Pool};

    /// A case list is one statement whatever the length of its lists: the
    /// connection prepares it once and runs it again (diesel's cache), for
    /// one grid or three, one collection or two.
    #[test]
    fn a_case_list_is_prepared_once_per_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(&Database::Sqlite(dir.path().join("g.db")), 1).unwrap();
        pool.migrate().unwrap();
        let Conn::Sqlite(mut c) = pool.get().unwrap() else {
            unreachable!("an SQLite pool")
        };
        // What ran (its SQL, without the values) and what was prepared to
        // be kept.
        let events = Arc::new(Mutex::new((Vec::new(), Vec::new())));
        let seen = events.clone();
        c.set_instrumentation(move |e: InstrumentationEvent<'_>| {
            let mut seen = seen.lock().unwrap();
            match e {
                InstrumentationEvent::StartQuery { query, .. } => {
                    let text = query.to_string();
                    seen.0.push(
                        text.split(" -- binds:")
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
                InstrumentationEvent::CacheQuery { sql, .. } => seen.1.push(sql.to_owned()),
                _ => {}
            }
        });
        let list = |grids: &[&str], collections: &[&str]| CaseQuery {
            reach: Reach::Grids(grids.iter().map(|g| g.to_string()).collect()),
            levels: Some(vec!["grid".into()]),
            collections: collections.iter().map(|c| c.to_string()).collect(),
            open: true,
            by_due: true,
            limit: 50,
            ..CaseQuery::default()
        };
        use diesel::{QueryDsl, SelectableHelper};
        for q in [
            list(&["g1"], &["event"]),
            list(&["g1", "g2", "g3"], &["event", "hazard"]),
            list(&[], &["dispute"]),
        ] {
            let rows: Vec<RecordRow> = on_sqlite::cases_query(&q)
                .select(RecordRow::as_select())
                .load(&mut *c)
                .unwrap();
            assert!(rows.is_empty());
        }
        let (ran, kept) = &*events.lock().unwrap();
        let lists: Vec<&String> = ran
            .iter()
            .filter(|s| s.contains("FROM `records`"))
            .collect();
        assert_eq!(lists.len(), 3, "{ran:?}");
        assert!(lists.iter().all(|s| s == &lists[0]), "one text: {lists:#?}");
        let kept: Vec<&String> = kept
            .iter()
            .filter(|s| s.contains("FROM `records`"))
            .collect();
        assert_eq!(kept, [lists[0]], "prepared once and kept");
    }
}
