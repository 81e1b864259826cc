//! The database: which backend, the connection pool, embedded migrations.
//!
//! SQLite (bundled, WAL, busy timeout) is the embedded default: no
//! configuration, one file. PostgreSQL is chosen by a `postgres://` URL and is
//! how several server nodes share one store.

pub mod any_of;
pub mod citus;
pub mod models;
pub mod record_update;
pub mod schema;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// What can go wrong opening, migrating or reaching the database. The
/// store wraps it (`DbError::Db`); this module imports nothing above it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The conditions of the partial indexes on `records`, as their migrations
/// write them. Queries state them as these literals, never as bound
/// values: SQLite uses a partial index only when the query's condition
/// matches the text of the index's.
pub mod partial {
    use diesel::backend::Backend;
    use diesel::expression::ValidGrouping;
    use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression};
    use diesel::query_builder::{AstPass, QueryFragment, QueryId};
    use diesel::sql_types::Bool;
    use diesel::QueryResult;

    /// A condition written as fixed SQL text. Unlike `diesel::dsl::sql`,
    /// it leaves its statement cacheable: the text never changes, so a
    /// connection prepares (parses and plans) the statement once.
    #[derive(Debug, Clone, Copy)]
    pub struct Cond(pub &'static str);

    // Not one static shape: two conditions are one type with two texts, so
    // a statement holding one is cached by its SQL, never by its type.
    impl QueryId for Cond {
        type QueryId = ();
        const HAS_STATIC_QUERY_ID: bool = false;
    }

    impl Expression for Cond {
        type SqlType = Bool;
    }

    impl<DB: Backend> QueryFragment<DB> for Cond {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            out.push_sql(self.0);
            Ok(())
        }
    }

    impl<QS> AppearsOnTable<QS> for Cond {}
    impl<QS> SelectableExpression<QS> for Cond {}
    impl<GB> ValidGrouping<GB> for Cond {
        type IsAggregate = is_aggregate::Never;
    }

    /// Not deleted (`records_inbox`, `records_open_due`, with [`NOT_CLOSED`]).
    pub const LIVE: Cond = Cond("deleted = FALSE");
    /// Not closed.
    pub const NOT_CLOSED: Cond = Cond("closed_at IS NULL");
    /// An open record: [`NOT_CLOSED`] and [`LIVE`].
    pub const OPEN: Cond = Cond("closed_at IS NULL AND deleted = FALSE");
    /// With concurrent values to resolve (`records_grid_conflicts`).
    pub const CONFLICTED: Cond = Cond("conflicts > 0");
    /// Raised above the grid (`records_escalated`).
    pub const ABOVE_GRID: Cond = Cond("level <> 'grid'");
}

/// The session lock a PostgreSQL migration holds ("migr"); anything else
/// that changes tables (a test dropping its schema) can take it too.
pub const MIGRATE_LOCK: i64 = 0x6d69_6772;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// From `DATABASE_URL`: none means the embedded `./gridsync.db`;
    /// `postgres://…` or `postgresql://…` PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` or a plain path an SQLite file. Any other scheme
    /// (`mysql://…`, a typo) is an error naming the accepted ones, never a
    /// new SQLite file named after it.
    pub fn from_url(url: Option<&str>) -> Result<Database, String> {
        let Some(u) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Database::Sqlite(PathBuf::from("gridsync.db")));
        };
        if u.starts_with("postgres://") || u.starts_with("postgresql://") {
            return Ok(Database::Postgres(u.to_owned()));
        }
        if let Some(path) = u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
        {
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        // A scheme is letters, digits, `+`, `-`, `.` before `:` (and a
        // Windows drive letter is one letter, which is a path).
        let scheme = u.split_once(':').map(|(s, _)| s).filter(|s| {
            s.len() > 1
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        match scheme {
            Some(s) => Err(format!(
                "DATABASE_URL: unknown scheme `{s}:`; use postgres://… or postgresql://… \
                 (PostgreSQL, Citus), sqlite://PATH or a file path (SQLite)"
            )),
            None => Ok(Database::Sqlite(PathBuf::from(u))),
        }
    }

    /// For logs: the URL without a password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("sqlite:{}", p.display()),
            Database::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => format!("{}://…@{}", &u[..s], &u[at + 1..]),
                _ => u.clone(),
            },
        }
    }
}

pub type SqlitePool = R2d2Pool<ConnectionManager<SqliteConnection>>;
pub type PgPool = R2d2Pool<ConnectionManager<PgConnection>>;

/// A pool on one of the two backends.
#[derive(Clone)]
pub enum Pool {
    /// With the lock that lets one writer at a time into SQLite: waiting
    /// writers block on it and wake when it is free, instead of sleeping in
    /// SQLite's busy handler with growing back-off while newcomers overtake
    /// them (measured: p99 of a sync ~1 s → ~0.15 s).
    Sqlite(SqlitePool, std::sync::Arc<std::sync::Mutex<()>>),
    Pg(PgPool),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pool::Sqlite(p, _) => write!(f, "Pool::Sqlite({:?})", p.state()),
            Pool::Pg(p) => write!(f, "Pool::Pg({:?})", p.state()),
        }
    }
}

/// A connection checked out of a [`Pool`].
#[allow(missing_debug_implementations)] // diesel's connections are not Debug
pub enum Conn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
}

#[derive(Debug)]
struct SqlitePragmas;

/// The page size of a new SQLite store. A sync's group commit writes every
/// page it changes to the WAL whole; at 8 KiB the same rows take fewer pages
/// and fewer writes (measured: PERFORMANCE.md, "Pages of 8 KiB"). A store
/// made with another page size keeps it (SQLite changes it only by a
/// `VACUUM`, which an operator may run offline).
pub const SQLITE_PAGE_SIZE: u32 = 8192;

/// How much WAL a connection lets grow before it checkpoints, in bytes
/// (`wal_autocheckpoint` counts pages: set from the store's page size).
/// A server also checkpoints from a thread of its own (`ingest::commit`),
/// so that a writer reaching this mark has only the rest to copy.
pub const SQLITE_WAL_BYTES: u32 = 160 << 20;

/// A store's page size, as `PRAGMA page_size` answers it.
#[derive(diesel::QueryableByName)]
struct PageSize {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    page_size: i32,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            // busy_timeout first: the other pragmas may need to wait for a lock.
            // page_size before the WAL: it applies to a new, empty file only.
            // Reads map the file (shared by all connections through the OS page
            // cache) instead of copying pages with read().
            // synchronous = FULL: a change acknowledged `applied` survives a
            // power cut (the WAL is synced at every commit; group commit makes
            // one sync serve many batches).
            // temp_store = MEMORY: a group's savepoints journal the pages they
            // change in memory, not in a temp file (8% of a loaded server's CPU
            // was that file's writes). cache_size 32 MiB: a group's dirty pages
            // (~1.5 MB a batch) stay in the cache until the commit instead of
            // spilling into the WAL early.
            "PRAGMA busy_timeout = 15000; PRAGMA page_size = {SQLITE_PAGE_SIZE}; \
             PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA mmap_size = 1073741824; \
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;",
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        // A sync batch writes ~1.5 MB of WAL: a writer checkpoints every
        // 160 MiB, after the checkpoint thread has copied most of it.
        let PageSize { page_size } = diesel::sql_query("PRAGMA page_size")
            .get_result(conn)
            .map_err(diesel::r2d2::Error::QueryError)?;
        // SQLite's page sizes are powers of two from 512 to 65,536.
        let pages = SQLITE_WAL_BYTES / u32::try_from(page_size).unwrap_or(4096).max(512);
        conn.batch_execute(&format!("PRAGMA wal_autocheckpoint = {pages};"))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Pool {
    /// Open a pool of `size` connections (PostgreSQL) or `size` readers and
    /// writers on one file (SQLite; writers take turns).
    pub fn open(db: &Database, size: u32) -> Result<Pool, DbError> {
        let timeout = Duration::from_secs(30);
        Ok(match db {
            Database::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| DbError::Open(format!("{}: {e}", dir.display())))?;
                }
                let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
                Pool::Sqlite(
                    R2d2Pool::builder()
                        .max_size(size)
                        .connection_timeout(timeout)
                        .connection_customizer(Box::new(SqlitePragmas))
                        .build(manager)
                        .map_err(|e| DbError::Open(e.to_string()))?,
                    std::sync::Arc::new(std::sync::Mutex::new(())),
                )
            }
            Database::Postgres(url) => Pool::Pg(
                R2d2Pool::builder()
                    .max_size(size)
                    .connection_timeout(timeout)
                    .build(ConnectionManager::<PgConnection>::new(url))
                    .map_err(|e| DbError::Open(e.to_string()))?,
            ),
        })
    }

    /// Take the in-process writer lock (SQLite only; PostgreSQL writers are
    /// ordered by the database). Hold it for the whole write transaction.
    pub fn writer(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.writer_lock()
            .map(|lock| lock.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The in-process writer lock itself (SQLite only).
    pub fn writer_lock(&self) -> Option<&std::sync::Mutex<()>> {
        match self {
            Pool::Sqlite(_, lock) => Some(lock),
            Pool::Pg(_) => None,
        }
    }

    pub fn get(&self) -> Result<Conn, DbError> {
        Ok(match self {
            Pool::Sqlite(p, _) => Conn::Sqlite(p.get()?),
            Pool::Pg(p) => Conn::Pg(p.get()?),
        })
    }

    /// Apply pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        Ok(self.migrate_to(citus::Want::Auto)?.0)
    }

    /// Apply pending migrations, then place the tables as `want` says (on
    /// a Citus coordinator: distributed by grid, [`citus::layout`]);
    /// returns the versions applied and the layout the store has.
    pub fn migrate_to(&self, want: citus::Want) -> Result<(Vec<String>, citus::Layout), DbError> {
        match self.get()? {
            Conn::Sqlite(mut c) => {
                if want == citus::Want::Citus {
                    return Err(DbError::Migration(
                        "--layout citus needs a PostgreSQL URL (a Citus coordinator)".into(),
                    ));
                }
                let applied = c
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(versions)
                    .map_err(|e| DbError::Migration(e.to_string()))?;
                Ok((applied, citus::Layout::Plain))
            }
            Conn::Pg(mut c) => {
                // Nodes that start together migrate one at a time (and on
                // Citus, concurrent table placements can deadlock).
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATE_LOCK})"))
                    .execute(&mut c)?;
                let done = citus::fresh(&mut c).and_then(|fresh| {
                    let applied = c
                        .run_pending_migrations(POSTGRES_MIGRATIONS)
                        .map(versions)
                        .map_err(|e| DbError::Migration(e.to_string()))?;
                    Ok((applied, citus::layout(&mut c, want, fresh)?))
                });
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATE_LOCK})"))
                    .execute(&mut c)?;
                done
            }
        }
    }

    /// The most connections the pool opens.
    pub fn size(&self) -> u32 {
        match self {
            Pool::Sqlite(p, _) => p.max_size(),
            Pool::Pg(p) => p.max_size(),
        }
    }

    /// Connections open, and of those idle.
    pub fn state(&self) -> (u32, u32) {
        let s = match self {
            Pool::Sqlite(p, _) => p.state(),
            Pool::Pg(p) => p.state(),
        };
        (s.connections, s.idle_connections)
    }

    /// The database answers.
    pub fn ping(&self) -> Result<(), DbError> {
        let q = diesel::sql_query("SELECT 1");
        match self.get()? {
            Conn::Sqlite(mut c) => q.execute(&mut c)?,
            Conn::Pg(mut c) => q.execute(&mut c)?,
        };
        Ok(())
    }
}

fn versions(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    v.into_iter().map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled SQLite is built as `.cargo/config.toml` says: with its
    /// planner stability guarantee (a cached statement with a bound LIMIT
    /// is not planned again at every run), and without the global mutexes
    /// of its serialized mode, memory statistics and shared page cache.
    #[test]
    fn the_bundled_sqlite_is_built_as_the_server_uses_it() {
        use diesel::sql_types::Integer;
        #[derive(diesel::QueryableByName)]
        struct Used {
            #[diesel(sql_type = Integer)]
            used: i32,
        }
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(&Database::Sqlite(dir.path().join("g.db")), 1).unwrap();
        let Conn::Sqlite(mut c) = pool.get().unwrap() else {
            unreachable!("an SQLite pool")
        };
        // The build's options (.cargo/config.toml): each on, or off.
        for (option, on) in [
            ("ENABLE_QPSG", 1),
            ("THREADSAFE=2", 1),
            ("DEFAULT_MEMSTATUS=0", 1),
            ("ENABLE_MEMORY_MANAGEMENT", 0),
        ] {
            let q = diesel::sql_query(format!(
                "SELECT sqlite_compileoption_used('{option}') AS used"
            ));
            let used: Vec<Used> = diesel::RunQueryDsl::load(q, &mut *c).unwrap();
            assert_eq!(
                used[0].used, on,
                "{option}: build with LIBSQLITE3_FLAGS as .cargo/config.toml sets it"
            );
        }
    }

    /// A new store is made with 8 KiB pages and lets a writer checkpoint at
    /// 160 MiB of WAL; a store made with 4 KiB pages keeps them, with the
    /// same mark in bytes.
    #[test]
    fn new_stores_get_the_page_size_and_old_ones_keep_theirs() {
        use diesel::sql_types::Integer;
        #[derive(diesel::QueryableByName)]
        struct Checkpoint {
            #[diesel(sql_type = Integer)]
            wal_autocheckpoint: i32,
        }
        let read = |path: &std::path::Path| {
            let pool = Pool::open(&Database::Sqlite(path.to_owned()), 1).unwrap();
            pool.migrate().unwrap();
            let Conn::Sqlite(mut c) = pool.get().unwrap() else {
                unreachable!("an SQLite pool")
            };
            let p: PageSize =
                diesel::RunQueryDsl::get_result(diesel::sql_query("PRAGMA page_size"), &mut *c)
                    .unwrap();
            let w: Checkpoint = diesel::RunQueryDsl::get_result(
                diesel::sql_query("PRAGMA wal_autocheckpoint"),
                &mut *c,
            )
            .unwrap();
            (p.page_size, w.wal_autocheckpoint)
        };
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        assert_eq!(SQLITE_WAL_BYTES, 160 << 20);
        assert_eq!(read(&new), (8192, 20_480));
        // Opened again: as it was made.
        assert_eq!(read(&new), (8192, 20_480));
        // A store made before, with SQLite's default page size.
        let old = dir.path().join("old.db");
        let mut c =
            <SqliteConnection as diesel::Connection>::establish(&old.to_string_lossy()).unwrap();
        c.batch_execute("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
            .unwrap();
        drop(c);
        assert_eq!(read(&old), (4096, 40_960));
    }

    #[test]
    fn database_urls() {
        let sqlite = |p: &str| Ok(Database::Sqlite(p.into()));
        for (url, db) in [
            (None, sqlite("gridsync.db")),
            (Some(" "), sqlite("gridsync.db")),
            (Some("sqlite:///tmp/x.db"), sqlite("/tmp/x.db")),
            (Some("sqlite:x.db"), sqlite("x.db")),
            (Some("data/g.db"), sqlite("data/g.db")),
            (Some("C:/data/g.db"), sqlite("C:/data/g.db")),
            (Some("data/g:1.db"), sqlite("data/g:1.db")),
            (
                Some("postgresql://db/gs"),
                Ok(Database::Postgres("postgresql://db/gs".into())),
            ),
        ] {
            assert_eq!(Database::from_url(url), db, "{url:?}");
        }
        for bad in [
            "mysql://u@db/gs",
            "postgress://db/gs",
            "file:gs.db",
            "http://x",
        ] {
            let e = Database::from_url(Some(bad)).unwrap_err();
            assert!(
                e.contains("unknown scheme") && e.contains("postgres://"),
                "{e}"
            );
        }
        let pg = Database::from_url(Some("postgres://u:secret@db:5432/gs")).unwrap();
        assert_eq!(
            pg,
            Database::Postgres("postgres://u:secret@db:5432/gs".into())
        );
        assert_eq!(pg.describe(), "postgres://…@db:5432/gs");
    }
}
