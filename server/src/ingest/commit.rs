//! How a prepared batch gets its write transaction, per backend.
//!
//! - **SQLite** has one writer. Batches that arrive while it is busy wait in
//!   a queue; whichever waiting thread next holds the writer takes every
//!   batch queued and commits them together in one transaction
//!   ([`GroupCommit`]). One fsync then pays for the whole group
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

use std::sync::mpsc;
use std::sync::Mutex;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use gridsync_core::Schema;

use super::{apply, still_holds, write, ChangeResult, Plan, Prepared};
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

struct Job {
    batch: Batch,
    reply: mpsc::Sender<Answer>,
}

/// Batches waiting for the SQLite writer, committed together.
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Vec<Job>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.queue.lock().map(|q| q.len()).unwrap_or_default();
        f.debug_struct("GroupCommit")
            .field("waiting", &waiting)
            .finish()
    }
}

impl GroupCommit {
    /// Commit `batch` (with whatever else is waiting) and answer it.
    /// `writer` is the pool's writer lock, held by whoever writes to the file;
    /// `conn` gives a connection to write with.
    pub fn submit(
        &self,
        writer: &Mutex<()>,
        conn: impl Fn() -> Result<
            diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<SqliteConnection>>,
            StoreError,
        >,
        schema: &'static Schema,
        rules: &Rules,
        batch: Batch,
    ) -> Answer {
        let (reply, answer) = mpsc::channel();
        self.lock_queue().push(Job { batch, reply });
        // The answer, if one came: a group that took this batch answers it
        // before it lets the writer go; one whose thread died dropped it.
        let answered = || match answer.try_recv() {
            Ok(a) => Some(a),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(StoreError::Unavailable(
                "the group commit that took this batch failed".into(),
            ))),
        };
        loop {
            if let Some(a) = answered() {
                return a;
            }
            let _writer = writer.lock().unwrap_or_else(|e| e.into_inner());
            // The previous holder may have committed this batch with its group.
            if let Some(a) = answered() {
                return a;
            }
            let jobs = std::mem::take(&mut *self.lock_queue());
            if jobs.is_empty() {
                continue;
            }
            match conn() {
                Ok(mut c) => commit_group(&mut c, schema, rules, jobs),
                Err(e) => {
                    let msg = e.to_string();
                    for j in jobs {
                        let _ = j.reply.send(Err(StoreError::Unavailable(msg.clone())));
                    }
                }
            }
        }
    }

    /// Batches queued for the writer now.
    pub fn waiting(&self) -> usize {
        self.lock_queue().len()
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Commit a group and answer each of its batches. Most groups commit
/// whole: every batch straight in the group's transaction, with no
/// savepoint (a savepoint journals every page it changes). Should a batch
/// fail, the group is rolled back and run again with each batch in a
/// savepoint of its own, so that it fails alone.
fn commit_group(
    c: &mut SqliteConnection,
    schema: &'static Schema,
    rules: &Rules,
    mut jobs: Vec<Job>,
) {
    let answers: Vec<Answer> = match commit_whole(c, schema, rules, &mut jobs) {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => commit_each(c, schema, rules, &mut jobs),
    };
    for (job, answer) in jobs.into_iter().zip(answers) {
        let _ = job.reply.send(answer);
    }
}

/// A batch under the writer: its plan written if it still holds, else
/// planned again here.
fn run(c: &mut SqliteConnection, schema: &'static Schema, rules: &Rules, b: &mut Batch) -> Answer {
    match b.plan.take() {
        Some(p) if still_holds(c, &p)? => write(c, p),
        _ => apply(c, schema, rules, &b.batch, b.now),
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
    schema: &'static Schema,
    rules: &Rules,
    jobs: &mut [Job],
) -> Result<Vec<Vec<ChangeResult>>, StoreError> {
    c.immediate_transaction(|c| {
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs.iter_mut() {
            results.push(run(c, schema, rules, &mut job.batch)?);
        }
        note_syncs(c, jobs);
        Ok(results)
    })
}

/// The group in one transaction, each batch in a savepoint: one that fails
/// rolls back alone, and its device gets the error.
fn commit_each(
    c: &mut SqliteConnection,
    schema: &'static Schema,
    rules: &Rules,
    jobs: &mut [Job],
) -> Vec<Answer> {
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let committed = c.immediate_transaction(|c| {
        for job in jobs.iter_mut() {
            // A nested transaction is a savepoint.
            answers.push(c.transaction(|c| run(c, schema, rules, &mut job.batch)));
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
