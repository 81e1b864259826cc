//! sync-core merge benchmark (issue 2).
//!
//! 1. Apply 100k field changes made by 50 devices to a fresh [`Replica`], with
//!    and without JSON decoding (target: at least 500k changes/s).
//! 2. The stored size of a record whose 10 fields were written by 5 devices
//!    (target: at most 2 KB). Not a timing: computed and printed in setup.
//! 3. The stored form of the 1,000 records it leaves: written and read back.
//! 4. With `--features automerge-peer`: the same 100k field writes through
//!    `automerge` 0.12, side by side, one automerge document per record.
//!
//! Run: `cargo bench -p gridsync-core --bench merge [--features automerge-peer]`.
//! Figures and how to read them: `docs/PERFORMANCE.md`.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use gridsync_core::{
    Actor, Change, Device, FieldView, Flow, Geo, Record, RecordView, Replica, Schema, Value,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const SEED: u64 = 0x6772_6964_7379_6e63; // "gridsync"
const DEVICES: u32 = 50;
const RECORDS: usize = 1_000;
const CHANGES: usize = 100_000;
const GRIDS: &[&str] = &["g-001", "g-002", "g-003", "g-004", "g-005"];
/// Every device pulls every change made so far once per this many changes
/// (each device at its own offset, so syncs are spread over the run).
const SYNC_EVERY: usize = 2_000;
/// Share of a device's edits that go to records of its own grid.
const HOME_SHARE: f64 = 0.9;
/// Edits go to one of the most recently received records of a grid: cases
/// are worked on for a while, then closed.
const ACTIVE_WINDOW: usize = 100;

/// The eight scalar fields of `event` the 100k workload writes.
const FIELDS: &[&str] = &[
    "status",
    "severity",
    "title",
    "assignee",
    "address",
    "reporter",
    "category",
    "description",
];

const STATUS: &[&str] = &[
    "reported",
    "accepted",
    "verified",
    "dispatched",
    "handled",
    "checked",
    "closed",
    "rejected",
    "parked",
    "reopened",
];
const SEVERITY: &[&str] = &["low", "medium", "high", "critical"];
const CATEGORY: &[&str] = &[
    "public_order",
    "fire_safety",
    "traffic",
    "environment",
    "infrastructure",
    "sanitation",
    "illegal_construction",
    "dispute_lead",
    "other",
];
const WHAT: &[&str] = &[
    "Blocked drain",
    "Illegal parking",
    "Broken street light",
    "Noise complaint",
    "Fallen tree",
    "Garbage pile-up",
    "Water leak",
    "Unlicensed stall",
    "占道经营",
    "楼道堆物",
];
const WHERE: &[&str] = &[
    "Building 3",
    "the east gate",
    "Lane 12",
    "the wet market",
    "No. 8 Middle School",
    "the bus stop",
    "幸福小区北门",
];
const ROADS: &[&str] = &["Heping", "Jiefang", "Zhongshan", "Renmin", "Xinhua", "长江"];
const COMMUNITIES: &[&str] = &["Dongfeng", "Qingshan", "Riverside", "Hongqi", "光明"];
const PEOPLE: &[&str] = &[
    "Wang Fang",
    "Li Qiang",
    "Zhang Wei",
    "Liu Yang",
    "Chen Jing",
    "王芳",
    "李强",
    "resident hotline 12345",
];
const SENTENCES: &[&str] = &[
    "Reported by a resident on the hotline.",
    "Water has been standing for two days and smells.",
    "The owner says it will be fixed this week.",
    "Photos taken before and after, see the actions log.",
    "Needs the sanitation team; the grid worker cannot handle it alone.",
    "Second report this month at the same place.",
    "居民反映夜间噪音扰民，已现场劝导。",
    "已联系物业，等待处理结果。",
    "Checked again on the evening patrol: unchanged.",
];

/// A scalar value valid for `field` of the `event` collection.
fn value_for(rng: &mut StdRng, field: &str) -> Value {
    let pick = |rng: &mut StdRng, from: &[&str]| (*from.choose(rng).unwrap()).to_owned();
    let text = match field {
        "status" => pick(rng, STATUS),
        "severity" => pick(rng, SEVERITY),
        "category" => pick(rng, CATEGORY),
        "title" => format!("{} near {}", pick(rng, WHAT), pick(rng, WHERE)),
        "assignee" => format!("worker{:03}", rng.gen_range(1..=120)),
        "reporter" => pick(rng, PEOPLE),
        "address" => format!(
            "No. {} {} Road, {} Community",
            rng.gen_range(1..=400),
            pick(rng, ROADS),
            pick(rng, COMMUNITIES)
        ),
        "description" => {
            let n = rng.gen_range(1..=3);
            let parts: Vec<String> = (0..n).map(|_| pick(rng, SENTENCES)).collect();
            parts.join(" ")
        }
        "deadline" => format!(
            "2026-{:02}-{:02}T{:02}:00:00+08:00",
            rng.gen_range(1..=12),
            rng.gen_range(1..=28),
            rng.gen_range(8..=18)
        ),
        "location" => {
            return Value::Geo(Geo {
                lat: 30.5 + f64::from(rng.gen_range(-5_000..5_000)) * 1e-5,
                lng: 114.3 + f64::from(rng.gen_range(-5_000..5_000)) * 1e-5,
            })
        }
        other => unreachable!("no generator for field {other}"),
    };
    Value::Text(text)
}

/// One field write of the workload, as the automerge peer replays it.
#[cfg_attr(not(feature = "automerge-peer"), allow(dead_code))]
#[derive(Debug)]
struct Write {
    actor: Actor,
    record: usize,
    field: &'static str,
    value: Value,
    /// How many changes of the log the writer had pulled when it wrote.
    pulled: usize,
}

#[derive(Debug)]
struct Workload {
    #[cfg_attr(not(feature = "automerge-peer"), allow(dead_code))]
    record_ids: Vec<Uuid>,
    changes: Vec<Change>,
    json: Vec<String>,
    #[cfg_attr(not(feature = "automerge-peer"), allow(dead_code))]
    writes: Vec<Write>,
}

/// Every value a field holds: the one shown, or all sides of a conflict.
fn held(view: &RecordView, field: &str) -> Vec<Value> {
    match view.fields.get(field) {
        Some(FieldView::Scalar { conflict, .. }) if !conflict.is_empty() => {
            conflict.iter().map(|w| w.value.clone()).collect()
        }
        Some(FieldView::Scalar { value, .. }) => vec![value.clone()],
        _ => Vec::new(),
    }
}

/// A field and a value for an edit: a status move the event flow allows, or
/// another value, never one the device shows for the field. An edit changes
/// something; picking one side of a conflict is left out because automerge
/// turns that into a delete of the other sides instead of a write, and the
/// peer would no longer hold the same values as gridsync.
fn new_value(rng: &mut StdRng, shown: &RecordView) -> (&'static str, Value) {
    let flow = Flow::of("event").unwrap();
    loop {
        let field = *FIELDS.choose(rng).unwrap();
        let held = held(shown, field);
        if field == "status" {
            // A move the event flow allows from (one side of) what is shown.
            let moves: Vec<&str> = STATUS
                .iter()
                .copied()
                .filter(|to| {
                    !held.contains(&Value::from(*to))
                        && held.iter().any(|from| flow.allows(from.as_str(), to))
                })
                .collect();
            match moves.choose(rng) {
                Some(to) => return (field, Value::from(*to)),
                None => continue,
            }
        }
        for _ in 0..20 {
            let value = value_for(rng, field);
            if !held.contains(&value) {
                return (field, value);
            }
        }
    }
}

/// 100k changes, each one `set` of one scalar field of an `event`, made by 50
/// devices through the real [`Device`] API, with periodic pulls so that every
/// `seen` context is what the device really had.
fn build_workload() -> Workload {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut devices: Vec<Device> = (1..=DEVICES).map(Device::new).collect();
    // How far into the log each device has pulled.
    let mut pulled = vec![0usize; devices.len()];
    // Per device and grid: the records it has (created or received), oldest first.
    let mut known: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); GRIDS.len()]; devices.len()];
    let mut record_ids: Vec<Uuid> = Vec::with_capacity(RECORDS);
    let mut record_grid: Vec<usize> = Vec::with_capacity(RECORDS);
    let mut index_of = std::collections::HashMap::new();
    let mut changes: Vec<Change> = Vec::with_capacity(CHANGES);
    let mut writes: Vec<Write> = Vec::with_capacity(CHANGES);

    for k in 0..CHANGES {
        // Scheduled pulls: device d pulls at k ≡ -d·(SYNC_EVERY/DEVICES) (mod SYNC_EVERY).
        let stagger = SYNC_EVERY / devices.len();
        for d in 0..devices.len() {
            if (k + d * stagger).is_multiple_of(SYNC_EVERY) {
                let me = devices[d].actor();
                for change in &changes[pulled[d]..k] {
                    if change.actor == me {
                        continue;
                    }
                    let new = devices[d].replica().record(change.record).is_none();
                    devices[d].receive(change).unwrap();
                    if new {
                        let r: usize = index_of[&change.record];
                        known[d][record_grid[r]].push(r);
                    }
                }
                pulled[d] = k;
            }
        }

        // A device that has something to edit (the first change is a create).
        let create = k % (CHANGES / RECORDS) == 0;
        let d = loop {
            let d = rng.gen_range(0..devices.len());
            if create || known[d].iter().any(|g| !g.is_empty()) {
                break d;
            }
        };
        let home = d % GRIDS.len();
        let (change, record, field, value) = if create {
            let id = uuid::Builder::from_random_bytes(rng.gen()).into_uuid();
            let r = record_ids.len();
            record_ids.push(id);
            record_grid.push(home);
            index_of.insert(id, r);
            known[d][home].push(r);
            let value = Value::from("reported");
            let change = devices[d]
                .create("event", GRIDS[home], id)
                .set("status", value.clone())
                .commit()
                .unwrap();
            (change, r, "status", value)
        } else {
            let grid = if !known[d][home].is_empty() && rng.gen_bool(HOME_SHARE) {
                home
            } else {
                let grids: Vec<usize> = (0..GRIDS.len())
                    .filter(|g| !known[d][*g].is_empty())
                    .collect();
                *grids.choose(&mut rng).unwrap()
            };
            let list = &known[d][grid];
            let window = list.len().min(ACTIVE_WINDOW);
            let r = list[list.len() - 1 - rng.gen_range(0..window)];
            let shown = devices[d].replica().record(record_ids[r]).unwrap().view();
            let (field, value) = new_value(&mut rng, &shown);
            let change = devices[d]
                .edit(record_ids[r])
                .set(field, value.clone())
                .commit()
                .unwrap();
            (change, r, field, value)
        };
        writes.push(Write {
            actor: change.actor,
            record,
            field,
            value,
            pulled: pulled[d],
        });
        changes.push(change);
    }
    let json = changes.iter().map(Change::to_json).collect();
    Workload {
        record_ids,
        changes,
        json,
        writes,
    }
}

fn describe(w: &Workload) {
    let json_bytes: usize = w.json.iter().map(String::len).sum();
    let (mut seen_entries, mut max_seen) = (0usize, 0usize);
    for c in &w.changes {
        for op in &c.ops {
            if let gridsync_core::Op::Set { seen, .. } = op {
                seen_entries += seen.0.len();
                max_seen = max_seen.max(seen.0.len());
            }
        }
    }
    let actors: HashSet<Actor> = w.changes.iter().map(|c| c.actor).collect();
    let records: HashSet<Uuid> = w.changes.iter().map(|c| c.record).collect();
    eprintln!(
        "workload: {} changes by {} devices on {} event records in {} grids; \
         JSON {} bytes total, {:.0} B/change; `seen` {:.1} actors/change on average, {} at most",
        w.changes.len(),
        actors.len(),
        records.len(),
        GRIDS.len(),
        json_bytes,
        json_bytes as f64 / w.changes.len() as f64,
        seen_entries as f64 / w.changes.len() as f64,
        max_seen,
    );
}

// --- 2. stored size --------------------------------------------------------------

/// The ten scalar fields of `event` of the stored-size check.
const TEN_FIELDS: &[&str] = &[
    "category",
    "title",
    "description",
    "address",
    "reporter",
    "severity",
    "status",
    "assignee",
    "deadline",
    "location",
];
const ROUNDS: usize = 3;
const WRITERS: Actor = 5;

/// The writes of the stored-size check: `(device index, field, value)`, in
/// the order they are made, each device writing every field `ROUNDS` times.
/// Status moves along the event flow. Synced, the five devices walk one
/// case through it; offline, each device walks its own copy from `reported`
/// to a status of its own (so the five concurrent statuses differ).
fn ten_field_writes(rng: &mut StdRng, synced: bool) -> Vec<(usize, &'static str, Value)> {
    // Offline statuses by round (rows) and device (columns).
    const OFFLINE: [[&str; WRITERS as usize]; ROUNDS] = [
        ["accepted", "accepted", "accepted", "rejected", "accepted"],
        ["verified", "verified", "parked", "reopened", "rejected"],
        ["dispatched", "parked", "accepted", "handled", "reopened"],
    ];
    fn next(status: &str) -> &'static str {
        match status {
            "reported" => "accepted",
            "accepted" => "verified",
            "verified" => "dispatched",
            "dispatched" => "handled",
            "handled" => "checked",
            "checked" => "closed",
            "closed" => "reopened",
            _ => "dispatched",
        }
    }
    let mut status = "reported";
    let mut out = Vec::new();
    for round in OFFLINE {
        for (d, offline) in round.into_iter().enumerate() {
            for field in TEN_FIELDS {
                let value = match *field {
                    "status" if synced => {
                        status = next(status);
                        Value::from(status)
                    }
                    "status" => Value::from(offline),
                    _ => value_for(rng, field),
                };
                out.push((d, *field, value));
            }
        }
    }
    out
}

/// Bytes of the display values (what a user sees), to tell payload from
/// CRDT bookkeeping.
fn payload_bytes(view: &RecordView) -> usize {
    view.fields
        .values()
        .map(|f| match f {
            FieldView::Scalar { value, conflict } if conflict.is_empty() => {
                serde_json::to_string(value).unwrap().len()
            }
            FieldView::Scalar { conflict, .. } => conflict
                .iter()
                .map(|w| serde_json::to_string(&w.value).unwrap().len())
                .sum(),
            _ => 0,
        })
        .sum()
}

/// Five devices write each of ten fields of one record `ROUNDS` times; with
/// `synced`, every device pulls everything before its turn (no conflicts),
/// otherwise they all write offline after receiving only the create (each
/// field ends with five concurrent values). Returns the record's state on a
/// server that applied every change.
fn ten_field_record(synced: bool) -> gridsync_core::Record {
    let mut rng = StdRng::seed_from_u64(SEED ^ 2);
    let id = uuid::Builder::from_random_bytes(rng.gen()).into_uuid();
    let mut devices: Vec<Device> = (1..=WRITERS).map(Device::new).collect();
    let mut log = vec![devices[0]
        .create("event", GRIDS[0], id)
        .set("status", "reported")
        .commit()
        .unwrap()];
    let mut pulled = vec![1usize; devices.len()];
    for d in &mut devices[1..] {
        d.receive(&log[0]).unwrap();
    }
    let mut last = usize::MAX;
    for (d, field, value) in ten_field_writes(&mut rng, synced) {
        if synced && d != last {
            for change in &log[pulled[d]..] {
                if change.actor != devices[d].actor() {
                    devices[d].receive(change).unwrap();
                }
            }
            pulled[d] = log.len();
        }
        last = d;
        let change = devices[d].edit(id).set(field, value).commit().unwrap();
        log.push(change);
    }
    let mut server = Replica::default();
    for change in &log {
        server.apply(change).unwrap();
    }
    server.record(id).unwrap().clone()
}

fn report_stored_sizes() {
    for (synced, how) in [
        (true, "synced between turns, no conflict"),
        (false, "all offline, 5 concurrent values per field"),
    ] {
        let record = ten_field_record(synced);
        let view = record.view();
        let conflicts = view.conflicts().map(|(_, c)| c.len()).collect::<Vec<_>>();
        if synced {
            assert!(conflicts.is_empty());
        } else {
            assert_eq!(conflicts, vec![WRITERS as usize; TEN_FIELDS.len()]);
        }
        let stored = record.to_stored();
        if std::env::var_os("GRIDSYNC_BENCH_SHOW_STORED").is_some() {
            eprintln!("{stored}");
        }
        let payload = payload_bytes(&view);
        eprintln!(
            "stored size: record with 10 fields by 5 devices ({how}): {} bytes (Record::to_stored); \
             values {payload} B, clocks and bookkeeping {} B; target <= 2048: {}",
            stored.len(),
            stored.len() - payload,
            if stored.len() <= 2048 { "met" } else { "MISSED" },
        );
    }
}

// --- 1. apply ------------------------------------------------------------------

fn apply_benches(c: &mut Criterion) {
    let w = build_workload();
    describe(&w);
    report_stored_sizes();
    // Check once, outside the measurement, that the workload applies cleanly.
    let mut check = Replica::default();
    for json in &w.json {
        check
            .apply(&Change::from_json(json.as_bytes()).unwrap())
            .unwrap();
    }
    assert_eq!(check.records().count(), RECORDS);
    let (mut fields, mut in_conflict, mut values) = (0usize, 0usize, 0usize);
    for record in check.records() {
        let view = record.view();
        fields += view.fields.len();
        for (_, conflict) in view.conflicts() {
            in_conflict += 1;
            values += conflict.len();
        }
    }
    eprintln!(
        "after the 100k changes: {fields} fields set, {in_conflict} of them in conflict \
         ({values} concurrent values); sample change: {}",
        w.json[CHANGES / 2 + 1]
    );
    #[cfg(feature = "automerge-peer")]
    let peer = {
        // What every field of every record holds in the end: the peer must agree.
        let expected: Vec<Vec<Vec<Value>>> = w
            .record_ids
            .iter()
            .map(|id| {
                let view = check.record(*id).unwrap().view();
                FIELDS.iter().map(|f| held(&view, f)).collect()
            })
            .collect();
        peer::Peer::build(&w.writes, &expected)
    };

    // The stored form of the 1,000 records the workload leaves (the form the
    // server keeps and sends, and a device keeps): written, and read back.
    let stored: Vec<String> = check.records().map(|r| r.to_stored()).collect();
    let mut group = c.benchmark_group("stored_form_1000_records");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("to_stored", |b| {
        b.iter(|| {
            for r in check.records() {
                black_box(r.to_stored());
            }
        });
    });
    group.bench_function("from_stored", |b| {
        b.iter(|| {
            for json in &stored {
                black_box(Record::from_stored(Schema::current(), json).unwrap());
            }
        });
    });
    group.finish();
    drop(check);

    let mut group = c.benchmark_group("apply_100k_changes");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(w.changes.len() as u64));

    group.bench_function("gridsync/json_decode+apply", |b| {
        b.iter_batched(
            Replica::default,
            |mut replica| {
                for json in &w.json {
                    let change = Change::from_json(json.as_bytes()).unwrap();
                    replica.apply(&change).unwrap();
                }
                replica
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("gridsync/apply_predecoded", |b| {
        b.iter_batched(
            Replica::default,
            |mut replica| {
                for change in &w.changes {
                    replica.apply(change).unwrap();
                }
                replica
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("gridsync/json_decode_only", |b| {
        b.iter(|| {
            for json in &w.json {
                black_box(Change::from_json(json.as_bytes()).unwrap());
            }
        });
    });

    #[cfg(feature = "automerge-peer")]
    peer.bench(&mut group);

    group.finish();
}

// --- 4. the automerge peer ---------------------------------------------------------

#[cfg(feature = "automerge-peer")]
mod peer {
    use std::collections::HashMap;

    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, Automerge, ReadDoc, ROOT};
    use criterion::measurement::WallTime;
    use criterion::{BatchSize, BenchmarkGroup, Throughput};
    use gridsync_core::{Actor, Value};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::{Write, FIELDS, RECORDS, SEED, TEN_FIELDS, WRITERS};

    /// A 16-byte actor id, as automerge apps use (a UUID per install).
    fn actor_id(actor: Actor) -> ActorId {
        ActorId::from(uuid::Uuid::from_u128(0x6772_6964 << 64 | u128::from(actor)).into_bytes())
    }

    /// The value as automerge holds it: text as a string; a position as the
    /// same JSON text gridsync carries (only in the stored-size check).
    fn put(doc: &mut AutoCommit, field: &str, value: &Value) {
        match value {
            Value::Text(s) => doc.put(ROOT, field, s.as_str()).unwrap(),
            other => doc
                .put(ROOT, field, serde_json::to_string(other).unwrap())
                .unwrap(),
        }
    }

    /// The 100k writes as automerge changes: one document per record, each
    /// actor's copy of it holding exactly what the gridsync device had.
    #[derive(Debug)]
    pub(super) struct Peer {
        /// Encoded changes (`Change::bytes`), by record, in log order.
        by_record: Vec<Vec<Vec<u8>>>,
        /// The changes of every `PER_CALL_EVERY`th record (50 records, about
        /// 5k changes, each record with its whole history), in log order,
        /// with their record: the one-change-per-call run.
        per_call: Vec<(usize, Vec<u8>)>,
    }

    const PER_CALL_EVERY: usize = 20;

    impl Peer {
        pub(super) fn build(writes: &[Write], expected: &[Vec<Vec<Value>>]) -> Peer {
            let started = std::time::Instant::now();
            // Per record: (log index, change) in log order.
            let mut log: Vec<Vec<(usize, automerge::Change)>> = vec![Vec::new(); RECORDS];
            // Each actor's copy of a record, and how far into that record's
            // log it has been brought.
            let mut copies: HashMap<(Actor, usize), (AutoCommit, usize)> = HashMap::new();
            for (k, w) in writes.iter().enumerate() {
                let (doc, pos) = copies
                    .entry((w.actor, w.record))
                    .or_insert_with(|| (AutoCommit::new().with_actor(actor_id(w.actor)), 0));
                let me = actor_id(w.actor);
                let list = &log[w.record];
                let mut batch = Vec::new();
                while *pos < list.len() && list[*pos].0 < w.pulled {
                    if *list[*pos].1.actor_id() != me {
                        batch.push(list[*pos].1.clone());
                    }
                    *pos += 1;
                }
                if !batch.is_empty() {
                    doc.apply_changes(batch).unwrap();
                }
                put(doc, w.field, &w.value);
                doc.commit()
                    .expect("every write puts a value the key does not hold");
                log[w.record].push((k, doc.get_last_local_change().unwrap()));
            }
            let mut per_call: Vec<(usize, usize, Vec<u8>)> = Vec::new();
            let mut by_record: Vec<Vec<Vec<u8>>> = Vec::with_capacity(RECORDS);
            for (r, changes) in log.into_iter().enumerate() {
                let mut encoded = Vec::with_capacity(changes.len());
                for (k, mut change) in changes {
                    // The wire form: `bytes()` compresses a change when that pays.
                    let bytes = change.bytes().into_owned();
                    if r % PER_CALL_EVERY == 0 {
                        per_call.push((k, r, bytes.clone()));
                    }
                    encoded.push(bytes);
                }
                by_record.push(encoded);
            }
            per_call.sort_by_key(|(k, _, _)| *k);
            let count: usize = by_record.iter().map(Vec::len).sum();
            let bytes: usize = by_record.iter().flatten().map(Vec::len).sum();
            eprintln!(
                "automerge peer: {count} changes in {} documents (one per record) built in {:.1} s; \
                 {:.0} B/change encoded",
                by_record.len(),
                started.elapsed().as_secs_f64(),
                bytes as f64 / count as f64,
            );
            let peer = Peer {
                by_record,
                per_call: per_call.into_iter().map(|(_, r, b)| (r, b)).collect(),
            };
            let t = std::time::Instant::now();
            let docs = peer.apply_batched();
            let batched = t.elapsed();
            let total: usize = docs.iter().map(|d| d.get_changes(&[]).len()).sum();
            assert_eq!(total, writes.len());
            // The same values as gridsync in every field of every record, conflicts included.
            for (doc, want) in docs.iter().zip(expected) {
                for (field, want) in FIELDS.iter().zip(want) {
                    let mut got: Vec<String> = doc
                        .get_all(ROOT, *field)
                        .unwrap()
                        .into_iter()
                        .map(|(v, _)| v.as_str().unwrap().to_owned())
                        .collect();
                    let mut want: Vec<String> = want
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    // gridsync shows equal concurrent values once.
                    got.sort();
                    got.dedup();
                    want.sort();
                    want.dedup();
                    assert_eq!(got, want, "field {field}");
                }
            }
            let t = std::time::Instant::now();
            let mut one_by_one = peer.apply_per_change();
            let per_call = t.elapsed();
            for (r, doc) in one_by_one.iter_mut().enumerate() {
                if r % PER_CALL_EVERY == 0 {
                    assert_eq!(doc.get_heads(), docs[r].get_heads());
                }
            }
            eprintln!(
                "automerge peer: every field of every record holds the same values as gridsync; \
                 one check run: batch of all {} changes {:.2} s, one change per call for the {} \
                 changes of every {PER_CALL_EVERY}th record {:.2} s",
                writes.len(),
                batched.as_secs_f64(),
                peer.per_call.len(),
                per_call.as_secs_f64()
            );
            report_saved_sizes();
            peer
        }

        /// Decode every change and apply each record's changes in one call.
        fn apply_batched(&self) -> Vec<Automerge> {
            self.by_record
                .iter()
                .map(|changes| {
                    let decoded: Vec<automerge::Change> = changes
                        .iter()
                        .map(|b| automerge::Change::try_from(b.as_slice()).unwrap())
                        .collect();
                    let mut doc = Automerge::new();
                    doc.apply_changes(decoded).unwrap();
                    doc
                })
                .collect()
        }

        /// Decode and apply the `per_call` changes one call each, in log order.
        fn apply_per_change(&self) -> Vec<Automerge> {
            let mut docs: Vec<Automerge> = (0..RECORDS).map(|_| Automerge::new()).collect();
            for (record, bytes) in &self.per_call {
                let change = automerge::Change::try_from(bytes.as_slice()).unwrap();
                docs[*record].apply_changes([change]).unwrap();
            }
            docs
        }

        pub(super) fn bench(&self, group: &mut BenchmarkGroup<'_, WallTime>) {
            group.bench_function("automerge/decode+apply_batch_per_record", |b| {
                b.iter_batched(|| (), |()| self.apply_batched(), BatchSize::PerIteration);
            });
            // Throughput of this one: the ~5k changes it applies.
            group.throughput(Throughput::Elements(self.per_call.len() as u64));
            group.bench_function(
                format!(
                    "automerge/decode+apply_one_change_per_call_{}_changes",
                    self.per_call.len()
                ),
                |b| {
                    b.iter_batched(|| (), |()| self.apply_per_change(), BatchSize::PerIteration);
                },
            );
        }
    }

    /// The stored-size check through automerge: `save()` of the document.
    fn report_saved_sizes() {
        for synced in [true, false] {
            let mut rng = StdRng::seed_from_u64(SEED ^ 2);
            let _id: [u8; 16] = rand::Rng::gen(&mut rng);
            let mut first = AutoCommit::new().with_actor(actor_id(1));
            first.put(ROOT, "status", "reported").unwrap();
            first.commit();
            let mut copies: Vec<AutoCommit> = (1..=WRITERS)
                .map(|a| {
                    let mut c = first.fork().with_actor(actor_id(a));
                    c.merge(&mut first).unwrap();
                    c
                })
                .collect();
            let mut last = usize::MAX;
            for (d, field, value) in super::ten_field_writes(&mut rng, synced) {
                if synced && d != last {
                    for other in 0..copies.len() {
                        if other != d {
                            let (a, b) = two(&mut copies, d, other);
                            a.merge(b).unwrap();
                        }
                    }
                }
                last = d;
                put(&mut copies[d], field, &value);
                copies[d].commit();
            }
            let mut server = AutoCommit::new();
            for copy in &mut copies {
                server.merge(copy).unwrap();
            }
            let conflicts: usize = TEN_FIELDS
                .iter()
                .map(|f| server.get_all(ROOT, *f).unwrap().len())
                .sum();
            eprintln!(
                "automerge peer: document with 10 fields by 5 devices ({}): {} bytes (AutoCommit::save), \
                 {conflicts} values across the 10 fields",
                if synced { "synced" } else { "all offline" },
                server.save().len(),
            );
        }
    }

    fn two<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
        assert_ne!(a, b);
        if a < b {
            let (l, r) = v.split_at_mut(b);
            (&mut l[a], &mut r[0])
        } else {
            let (l, r) = v.split_at_mut(a);
            (&mut r[0], &mut l[b])
        }
    }
}

criterion_group!(benches, apply_benches);
criterion_main!(benches);
