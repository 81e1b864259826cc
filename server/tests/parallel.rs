//! The write path with many writers at once: each grid's log is numbered in
//! commit order, batches for different grids do not wait for one another
//! (PostgreSQL), batches waiting for the single SQLite writer commit
//! together (group commit), and a reader pulling all the while never misses
//! a change.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{on_both_backends, Backend, Phone, TestServer};
use diesel::{Connection, RunQueryDsl};
use gridsync_server::store::{allow_all, ChangeResult, Push};
use serde_json::value::RawValue;
use uuid::Uuid;

on_both_backends!(a_reader_pulling_while_many_write_misses_nothing);

/// Eight phones in two grids push 15 batches each, while a supervisor's
/// phone pulls both grids over and over. Had any pull moved the reader's
/// cursor past a change that committed later, the reader would end without
/// it: its final state must equal the writers'.
fn a_reader_pulling_while_many_write_misses_nothing(b: &Backend) {
    let s = TestServer::start(b);
    let grids = ["g1", "g2"];
    let mut writers: Vec<Phone> = (0..8)
        .map(|i| {
            let g = grids[i % 2];
            Phone::enroll(&s, &format!("writer{i}"), "grid_worker", g, &[g])
        })
        .collect();
    let mut reader = Phone::enroll(&s, "boss", "supervisor", "c1", &grids);
    reader.page = 7;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (s, done) = (&s, &done);
        let reading = {
            let reader = &mut reader;
            scope.spawn(move || {
                let mut pulls = 0;
                while !done.load(Ordering::Relaxed) {
                    reader.sync(s);
                    pulls += 1;
                }
                pulls
            })
        };
        let writing: Vec<_> = writers
            .iter_mut()
            .enumerate()
            .map(|(i, w)| {
                scope.spawn(move || {
                    let g = grids[i % 2];
                    let mut ids = Vec::new();
                    for batch in 0..15 {
                        for k in 0..4 {
                            if batch == 0 || k % 2 == 0 {
                                let id = Uuid::new_v4();
                                ids.push(id);
                                w.make(|d| {
                                    d.create("event", g, id)
                                        .set("title", format!("w{i} b{batch} k{k}"))
                                        .set("status", "reported")
                                        .commit()
                                });
                            } else {
                                let id = ids[(batch * 7 + k) % ids.len()];
                                w.make(|d| {
                                    d.edit(id).set("title", format!("edit {batch}")).commit()
                                });
                            }
                        }
                        let results = w.sync(s);
                        assert!(
                            results.iter().all(|r| r["status"] == "applied"),
                            "{results:?}"
                        );
                    }
                })
            })
            .collect();
        for w in writing {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(
            reading.join().unwrap() > 1,
            "the reader pulled while they wrote"
        );
    });
    reader.sync(&s);
    let mut expected = gridsync_core::Replica::default();
    for w in &writers {
        for r in w.device.replica().records() {
            expected.merge_record(r).unwrap();
        }
    }
    assert_eq!(reader.device.replica().records().count(), 8 * (4 + 14 * 2));
    assert_eq!(reader.device.replica().view(), expected.view());
}

/// Holds a grid's advisory lock on a connection of its own, as a slow
/// writer of that grid would, until dropped (the transaction ends).
struct GridHeld(diesel::PgConnection);

impl GridHeld {
    fn take(url: &str, grid: &str) -> GridHeld {
        let mut c = diesel::PgConnection::establish(url).unwrap();
        diesel::sql_query("BEGIN").execute(&mut c).unwrap();
        diesel::sql_query(format!(
            "SELECT pg_advisory_xact_lock(hashtextextended('{grid}', 0))"
        ))
        .execute(&mut c)
        .unwrap();
        GridHeld(c)
    }
}

impl Drop for GridHeld {
    fn drop(&mut self) {
        let _ = diesel::sql_query("COMMIT").execute(&mut self.0);
    }
}

/// On PostgreSQL, a batch for a grid whose lock is held (a slow writer of
/// that grid) waits; a batch for another grid commits meanwhile, and a pull
/// in between gets the second without skipping the first: it arrives with
/// the next pull once its writer commits.
#[test]
#[ignore = "PostgreSQL suite: GRIDSYNC_TEST_POSTGRES=postgres://… cargo test -- --ignored"]
fn postgres_grids_commit_in_parallel_and_a_late_commit_is_not_skipped() {
    let b = Backend::postgres().expect("GRIDSYNC_TEST_POSTGRES names a server");
    let gridsync_server::db::Database::Postgres(url) = b.database() else {
        unreachable!()
    };
    let s = TestServer::start(&b);
    let mut slow = Phone::enroll(&s, "slow", "grid_worker", "g1", &["g1"]);
    let mut quick = Phone::enroll(&s, "quick", "grid_worker", "g2", &["g2"]);
    let mut reader = Phone::enroll(&s, "boss", "supervisor", "c1", &["g1", "g2"]);
    reader.sync(&s);
    let (late, early) = (Uuid::new_v4(), Uuid::new_v4());
    slow.make(|d| d.create("event", "g1", late).set("title", "late").commit());
    quick.make(|d| {
        d.create("event", "g2", early)
            .set("title", "early")
            .commit()
    });

    let held = GridHeld::take(&url, "g1");
    std::thread::scope(|scope| {
        let s = &s;
        let waiting = scope.spawn(move || {
            let r = slow.sync(s);
            (r, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "g1's batch waits for g1's lock");
        // Another grid is not held up.
        let started = Instant::now();
        let r = quick.sync(s);
        assert_eq!(r[0]["status"], "applied");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!waiting.is_finished(), "g1's batch still waits");
        reader.sync(s);
        assert!(reader.device.replica().record(early).is_some());
        assert!(reader.device.replica().record(late).is_none());
        drop(held);
        let (r, _) = waiting.join().unwrap();
        assert_eq!(r[0]["status"], "applied");
    });
    reader.sync(&s);
    assert!(
        reader.device.replica().record(late).is_some(),
        "the change that committed late is pulled, not skipped"
    );
}

/// On SQLite, batches that wait for the writer are committed together, one
/// transaction for the group, each batch in a savepoint: every device gets
/// its own answer, and a batch that fails (here: a record whose stored state
/// was damaged) rolls back alone.
#[test]
fn sqlite_batches_waiting_for_the_writer_commit_together_and_fail_alone() {
    let b = Backend::sqlite();
    let store = gridsync_server::open_store(&b.database(), 8).unwrap();
    let schema = gridsync_core::Schema::current();
    let change = title_change;
    let _ = schema;
    // A record whose stored state is then damaged on disk.
    let broken = Uuid::new_v4();
    let first = [change(2000, 1, broken, "x")];
    let batch = Uuid::new_v4().to_string();
    let push = Push {
        actor: 2000,
        batch: &batch,
        changes: &first,
        guard: &allow_all,
    };
    store.push(&push, 1).unwrap();
    let mut raw =
        diesel::SqliteConnection::establish(b.sqlite_path().unwrap().to_str().unwrap()).unwrap();
    diesel::sql_query(format!(
        "UPDATE records SET state = '{{\"format\": 99}}' WHERE id = '{broken}'"
    ))
    .execute(&mut raw)
    .unwrap();

    let writer = store.pool().writer();
    let answers = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6u32)
            .map(|i| {
                let store = &store;
                scope.spawn(move || {
                    let actor = 2001 + i;
                    // Device 0 edits the damaged record; the others their own.
                    let id = if i == 0 { broken } else { Uuid::new_v4() };
                    let changes = [
                        change(actor, 1, id, "y"),
                        change(actor, 2, Uuid::new_v4(), "z"),
                    ];
                    let batch = Uuid::new_v4().to_string();
                    let push = Push {
                        actor,
                        batch: &batch,
                        changes: &changes,
                        guard: &allow_all,
                    };
                    store.push(&push, 2)
                })
            })
            .collect();
        // All six queue behind the held writer, then go as one group.
        until_queued(&store, 6);
        drop(writer);
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let mut failed = 0;
    for (i, a) in answers.iter().enumerate() {
        match a {
            Err(e) => {
                assert_eq!(i, 0, "only the damaged record's batch fails: {e}");
                failed += 1;
            }
            Ok(results) => {
                assert_eq!(results.len(), 2);
                assert!(results
                    .iter()
                    .all(|r| matches!(r, ChangeResult::Applied { .. })));
            }
        }
    }
    assert_eq!(failed, 1);
    // What the failed batch would have written is not there; the others are.
    let logged: Vec<(i64, i64)> = {
        use diesel::prelude::*;
        use gridsync_server::db::schema::changes;
        changes::table
            .select((changes::actor, changes::actor_seq))
            .order((changes::actor, changes::actor_seq))
            .load(&mut raw)
            .unwrap()
    };
    assert!(!logged.iter().any(|(a, _)| *a == 2001), "{logged:?}");
    assert_eq!(logged.iter().filter(|(a, _)| *a > 2001).count(), 10);
}

#[test]
fn sqlite_a_batch_merged_before_the_writer_is_merged_again_when_its_record_moved() {
    // Both batches are merged (planned) while the writer is held, each
    // against the record as it was; whichever commits second finds it moved
    // and merges again under the writer. Had it written its plan, the first
    // batch's value would be lost: the record must end with both.
    let b = Backend::sqlite();
    let store = gridsync_server::open_store(&b.database(), 8).unwrap();
    let id = Uuid::new_v4();
    let push = |actor: u32, changes: &[Box<RawValue>]| {
        let batch = Uuid::new_v4().to_string();
        store.push(
            &Push {
                actor,
                batch: &batch,
                changes,
                guard: &allow_all,
            },
            1,
        )
    };
    let made = push(2000, &[title_change(2000, 1, id, "made")]).unwrap();
    assert!(matches!(made[0], ChangeResult::Applied { .. }), "{made:?}");

    let writer = store.pool().writer();
    let answers = std::thread::scope(|scope| {
        let handles: Vec<_> = [(2001u32, "one"), (2002, "two")]
            .into_iter()
            .map(|(actor, title)| {
                let push = &push;
                scope.spawn(move || push(actor, &[title_change(actor, 1, id, title)]))
            })
            .collect();
        until_queued(&store, 2);
        drop(writer);
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect::<Vec<_>>()
    });
    for a in &answers {
        assert!(matches!(a[0], ChangeResult::Applied { .. }), "{a:?}");
    }
    let (row, log) = store
        .record(&id.to_string(), Some("g1"), 10)
        .unwrap()
        .pop()
        .expect("the record");
    assert_eq!(log.len(), 3, "{log:?}");
    let record =
        gridsync_core::Record::from_stored(gridsync_core::Schema::current(), &row.state).unwrap();
    let mut titles: Vec<String> = record
        .values("title")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    titles.sort();
    // None of the three writers saw another's title: all three stand.
    assert_eq!(
        titles,
        ["made", "one", "two"],
        "every concurrent title kept"
    );
    assert_eq!(row.conflicts, 1);
    assert_eq!(row.last_seq, 3);
}

/// An event's title set by `actor` (its `seq`), as a device sends it.
fn title_change(actor: u32, seq: u64, id: Uuid, title: &str) -> Box<RawValue> {
    let c = gridsync_core::Change {
        actor,
        seq,
        record: id,
        collection: "event".into(),
        grid: "g1".into(),
        schema: 1,
        ops: vec![gridsync_core::Op::Set {
            field: "title".into(),
            value: gridsync_core::Value::Text(title.into()),
            seen: Default::default(),
        }],
    };
    RawValue::from_string(c.to_json()).unwrap()
}

/// Wait until `n` batches queue behind the SQLite writer (held by the test).
fn until_queued(store: &gridsync_server::store::Store, n: usize) {
    let start = Instant::now();
    while store.waiting_batches() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "batches did not queue"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
