//! How a prepared batch gets its write transaction, per backend.
//!
//! - **SQLite** has one writer: a thread of its own ([`GroupCommit`]).
//!   Batches that arrive while it is busy wait in its queue; it takes every
//!   batch queued and commits them together in one transaction. It runs
//!   ahead of request work ([`yield_to_writer`]), and hands each batch back
//!   to its own thread to be freed. One fsync pays for the whole group
//!   (`synchronous = FULL`: an acknowledged change survives a power cut),
//!   each device gets its own answer, and a batch that fails rolls back
//!   alone (the group then runs again, each batch in a savepoint). A batch
//!   planned before the writer ([`super::plan`]) is written as planned if
//!   what it read has not moved ([`super::still_holds`]).
//! - **PostgreSQL**: one transaction per batch. Batches for different grids
//!   (and of different devices) run at once, in any number of server
//!   processes; batches for one grid take turns on that grid's advisory lock
//!   (`storage::Locks`), which is what keeps each grid's log numbered in
//!   commit order: a pull never skips a change that commits late.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use gridsync_core::Schema;

use super::{apply, still_holds, write_keeping, ChangeResult, Plan, Prepared, Spent};
use crate::db::SqlitePool;
use crate::rules::Rules;
use crate::store::identity::note_sync_in;
use crate::store::StoreError;

type Answer = Result<Vec<ChangeResult>, StoreError>;

/// A batch handed to the writer.
#[derive(Debug)]
pub struct Batch {
    pub batch: Prepared,
    /// The batch merged beforehand, outside the writer, if it was: written
    /// as it is when it still holds, made again under the writer if not.
    pub plan: Option<Plan>,
    /// The sending device, when its sync is to be noted (the desk's device
    /// list): in the group's transaction, so a push takes the writer once.
    pub note: Option<String>,
    pub now: i64,
}

/// What the writer hands back with an answer, for the batch's own thread
/// to drop: freeing a batch is work the writer need not do.
type Done = (Answer, Option<(Batch, Spent)>);

struct Job {
    batch: Batch,
    schema: &'static Schema,
    rules: Arc<Rules>,
    spent: Option<Spent>,
    reply: mpsc::Sender<Done>,
}

/// The SQLite writer: one thread that commits the batches queued for it,
/// together ([`commit_group`]). It is the one thread every push waits on,
/// so it runs ahead of request work ([`yield_to_writer`]).
#[derive(Debug)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
    /// Dropped with the writer: ends the checkpointer ([`checkpoint_behind`]).
    _checkpointer: mpsc::Sender<()>,
    /// Batches submitted and not yet taken under the writer lock.
    waiting: Arc<AtomicUsize>,
    /// The writer thread's id (Linux), for the tests to find it.
    #[cfg(all(test, target_os = "linux"))]
    thread: String,
}

impl GroupCommit {
    /// Start the writer thread for `pool`, whose in-process writer lock is
    /// `writer` (held by whoever writes to the file). It ends when the last
    /// handle is dropped. Start it from a thread that has not yielded
    /// ([`yield_to_writer`]): a thread inherits its creator's priority.
    pub fn start(pool: SqlitePool, writer: Arc<Mutex<()>>) -> GroupCommit {
        let (jobs, queue) = mpsc::channel::<Job>();
        let checkpointer = checkpoint_behind(pool.clone());
        let waiting = Arc::new(AtomicUsize::new(0));
        let counted = waiting.clone();
        #[cfg(all(test, target_os = "linux"))]
        let (tid, thread) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("gridsync-writer".into())
            .spawn(move || {
                #[cfg(all(test, target_os = "linux"))]
                let _ = tid.send(rustix::thread::gettid().as_raw_nonzero().to_string());
                while let Ok(first) = queue.recv() {
                    let mut group = vec![first];
                    let _writer = writer.lock().unwrap_or_else(|e| e.into_inner());
                    // Whatever queued meanwhile, up to the lock, joins the group.
                    group.extend(queue.try_iter());
                    counted.fetch_sub(group.len(), Ordering::SeqCst);
                    tracing::debug!(batches = group.len(), "group commit");
                    // A panic fails this group's batches (their replies are
                    // dropped), never the writer.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| match pool.get() {
                        Ok(mut c) => commit_group(&mut c, group),
                        Err(e) => {
                            let msg = e.to_string();
                            for j in group {
                                let _ = j
                                    .reply
                                    .send((Err(StoreError::Unavailable(msg.clone())), None));
                            }
                        }
                    }));
                }
            })
            .expect("the writer thread");
        GroupCommit {
            jobs,
            _checkpointer: checkpointer,
            waiting,
            #[cfg(all(test, target_os = "linux"))]
            thread: thread.recv().unwrap(),
        }
    }

    /// Commit `batch` (with whatever else is waiting) and answer it.
    pub fn submit(&self, schema: &'static Schema, rules: Arc<Rules>, batch: Batch) -> Answer {
        let (reply, answer) = mpsc::channel();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let job = Job {
            batch,
            schema,
            rules,
            spent: None,
            reply,
        };
        if self.jobs.send(job).is_err() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(
                "the SQLite writer has stopped".into(),
            ));
        }
        match answer.recv() {
            // The batch and what its write is done with are dropped here.
            Ok((answer, _done)) => answer,
            Err(_) => Err(StoreError::Unavailable(
                "the group commit that took this batch failed".into(),
            )),
        }
    }

    /// Batches queued for the writer now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// How often the checkpointer copies the WAL's new pages into the database
/// file. At a storm's pace (~100 MB of WAL a second) that is a checkpoint
/// per ~50 MB, well before a writer's own mark
/// ([`crate::db::SQLITE_WAL_BYTES`], 160 MiB).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoint the store's WAL from a thread of its own, behind the writer:
/// every [`CHECKPOINT_EVERY`], a `PASSIVE` checkpoint (it waits for no
/// reader and no writer, and copies what it can). A writer that reaches
/// the connection's `wal_autocheckpoint` checkpoints in its own commit, and
/// every push in the queue waits through that copy and its fsync. While
/// the writer keeps appending, a passive checkpoint never copies the last
/// frames, so the WAL still reaches that mark and only a writer's
/// checkpoint lets it start over; by then this thread has copied most of
/// it, and the writer's share is the short rest. It ends when the returned
/// sender is dropped.
fn checkpoint_behind(pool: SqlitePool) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("gridsync-checkpoint".into())
        .spawn(move || {
            use diesel::connection::SimpleConnection;
            // Copying pages is work the writer's commits go before.
            yield_to_writer();
            // A connection of its own, so that no request waits for one
            // while a checkpoint runs. An in-memory store has no WAL.
            let Some(file) = store_file(&pool) else {
                return;
            };
            drop(pool);
            let mut conn = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if conn.is_none() {
                    conn = SqliteConnection::establish(&file).ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                if let Err(e) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    conn = None;
                }
            }
        })
        .expect("the checkpoint thread");
    stop
}

/// The file `pool` opens; none for an in-memory store.
fn store_file(pool: &SqlitePool) -> Option<String> {
    #[derive(diesel::QueryableByName)]
    struct Attached {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        file: String,
    }
    use diesel::RunQueryDsl;
    let attached: Vec<Attached> = diesel::sql_query("PRAGMA database_list")
        .load(&mut pool.get().ok()?)
        .ok()?;
    Some(attached.into_iter().find(|a| a.name == "main")?.file).filter(|f| !f.is_empty())
}

/// How far request work stands back from the writer (a nice value).
const BEHIND_WRITER: i32 = 10;

thread_local! {
    static YIELDED: Cell<bool> = const { Cell::new(false) };
}

/// Let the SQLite writer go first: lower the calling thread's priority,
/// once (Linux; elsewhere nothing). Called by a thread about to do a
/// sync's work (decode, merge beforehand, pull, inbox): with two cores and
/// every push waiting on the one writer, a writer waiting for a core is
/// time every device waits. A thread can lower its own priority without
/// privileges, never raise it back, so the writer is a thread of its own.
pub fn yield_to_writer() {
    if YIELDED.with(|y| y.replace(true)) {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(me), BEHIND_WRITER) {
            tracing::debug!(error = %e, "request thread priority left as it was");
        }
    }
}

/// Commit a group and answer each of its batches. Most groups commit
/// whole: every batch straight in the group's transaction, with no
/// savepoint (a savepoint journals every page it changes). Should a batch
/// fail, the group is rolled back and run again with each batch in a
/// savepoint of its own, so that it fails alone.
fn commit_group(c: &mut SqliteConnection, mut jobs: Vec<Job>) {
    let answers: Vec<Answer> = match commit_whole(c, &mut jobs) {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => commit_each(c, &mut jobs),
    };
    for (job, answer) in jobs.into_iter().zip(answers) {
        let spent = job.spent.unwrap_or_default();
        let _ = job.reply.send((answer, Some((job.batch, spent))));
    }
}

/// A batch under the writer: its plan written if it still holds, else
/// planned again here.
fn run(c: &mut SqliteConnection, job: &mut Job) -> Answer {
    let b = &mut job.batch;
    match b.plan.take() {
        Some(p) if still_holds(c, &p)? => {
            let (results, spent) = write_keeping(c, p)?;
            job.spent = Some(spent);
            Ok(results)
        }
        _ => apply(c, job.schema, &job.rules, &b.batch, b.now),
    }
}

/// When the group's devices last synced (for display only: a failure is
/// logged, never answered).
fn note_syncs(c: &mut SqliteConnection, jobs: &[Job]) {
    for Job { batch: b, .. } in jobs {
        if let Some(device) = &b.note {
            let noted = c.transaction(|c| note_sync_in(c, device, b.now));
            if let Err(e) = noted {
                tracing::warn!(error = %e, %device, "last sync time not noted");
            }
        }
    }
}

/// The group in one transaction, all or nothing.
fn commit_whole(
    c: &mut SqliteConnection,
    jobs: &mut [Job],
) -> Result<Vec<Vec<ChangeResult>>, StoreError> {
    c.immediate_transaction(|c| {
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs.iter_mut() {
            results.push(run(c, job)?);
        }
        note_syncs(c, jobs);
        Ok(results)
    })
}

/// The group in one transaction, each batch in a savepoint: one that fails
/// rolls back alone, and its device gets the error.
fn commit_each(c: &mut SqliteConnection, jobs: &mut [Job]) -> Vec<Answer> {
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let committed = c.immediate_transaction(|c| {
        for job in jobs.iter_mut() {
            // A nested transaction is a savepoint.
            answers.push(c.transaction(|c| run(c, job)));
        }
        note_syncs(c, jobs);
        Ok::<_, StoreError>(())
    });
    match committed {
        Ok(()) => answers,
        Err(e) => jobs
            .iter()
            .map(|_| {
                Err(StoreError::Unavailable(format!(
                    "the group commit failed: {e}"
                )))
            })
            .collect(),
    }
}

/// One batch in one PostgreSQL transaction (its locks are taken by [`apply`]).
pub fn commit_pg(
    c: &mut PgConnection,
    schema: &'static Schema,
    rules: &Rules,
    batch: &Prepared,
    now: i64,
) -> Answer {
    c.transaction(|c| apply(c, schema, rules, batch, now))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::sync::Arc;

    use super::GroupCommit;
    use crate::db::{Database, Pool};

    /// A thread's nice value, from `/proc` (field 19 of its `stat`).
    fn nice_of(tid: &str) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    /// A thread that has done a sync's work stands back; the writer,
    /// started before, keeps the priority it started with.
    #[test]
    fn request_work_stands_back_from_the_writer() {
        std::thread::spawn(|| {
            let me = rustix::thread::gettid().as_raw_nonzero().to_string();
            let base = nice_of(&me);
            let dir = tempfile::tempdir().unwrap();
            let Pool::Sqlite(pool, writer) =
                Pool::open(&Database::Sqlite(dir.path().join("g.db")), 2).unwrap()
            else {
                unreachable!("an SQLite pool")
            };
            let group = GroupCommit::start(pool, Arc::clone(&writer));
            super::yield_to_writer();
            super::yield_to_writer();
            assert_eq!(nice_of(&me), (base + super::BEHIND_WRITER).min(19));
            assert_eq!(nice_of(&group.thread), base, "the writer is not lowered");
        })
        .join()
        .unwrap();
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use diesel::connection::SimpleConnection;

    use super::GroupCommit;
    use crate::db::{Database, Pool};

    /// Pages written to the WAL reach the database file without a writer
    /// checkpointing (its mark is far off): the writer's checkpoint thread
    /// copies them. Without it the file would stay at its first size.
    #[test]
    fn the_wal_is_checkpointed_behind_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.db");
        let Pool::Sqlite(pool, writer) = Pool::open(&Database::Sqlite(file.clone()), 2).unwrap()
        else {
            unreachable!("an SQLite pool")
        };
        let group = GroupCommit::start(pool.clone(), Arc::clone(&writer));
        let mut c = pool.get().unwrap();
        c.batch_execute("CREATE TABLE t (v TEXT NOT NULL)").unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        // 4 MB in the WAL, far below the writers' own checkpoint mark.
        c.batch_execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) \
             INSERT INTO t SELECT printf('%01000d', i) FROM n",
        )
        .unwrap();
        assert!(std::fs::metadata(&file).unwrap().len() < 1 << 20);
        let t = Instant::now();
        while std::fs::metadata(&file).unwrap().len() < 3 << 20 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the database file stayed at {} bytes (it was {before})",
                std::fs::metadata(&file).unwrap().len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(group);
    }
}
