//! The merge core's central promise, as a property: random devices make
//! random offline edits of every kind to shared records; their changes reach
//! one to three server replicas in random order, with duplicates; devices
//! then pull. Every replica and every device shows the same visible state,
//! every log entry ever appended is there, and the stored form round-trips.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_core::{
    Change, ChangeError, Device, Entry, Level, Outcome, Record, Replica, Schema, Value,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const RECORDS: usize = 3;
const STATUSES: &[&str] = &[
    "reported",
    "accepted",
    "verified",
    "dispatched",
    "handled",
    "closed",
];
const TAGS: &[&str] = &["night", "school", "elderly", "fire"];

#[derive(Debug, Clone)]
enum Edit {
    Status(usize),
    Title(u8),
    Clear,
    AddTag(usize),
    RemoveTag(usize),
    AddAndRemove(usize, usize),
    Append(u8),
    Escalate(Level),
    Increment(u8),
    Delete,
    Restore,
}

#[derive(Debug, Clone)]
enum Step {
    /// A device edits a record offline.
    Edit {
        device: usize,
        record: usize,
        edit: Edit,
    },
    /// A device comes into coverage and pulls everything made so far
    /// (in a random order), so later edits have a real causal history.
    Pull { device: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0..STATUSES.len()).prop_map(Edit::Status),
        2 => any::<u8>().prop_map(Edit::Title),
        1 => Just(Edit::Clear),
        3 => (0..TAGS.len()).prop_map(Edit::AddTag),
        3 => (0..TAGS.len()).prop_map(Edit::RemoveTag),
        1 => (0..TAGS.len(), 0..TAGS.len()).prop_map(|(a, r)| Edit::AddAndRemove(a, r)),
        3 => any::<u8>().prop_map(Edit::Append),
        1 => prop::sample::select(&Level::ALL[1..]).prop_map(Edit::Escalate),
        2 => (1u8..5).prop_map(Edit::Increment),
        1 => Just(Edit::Delete),
        1 => Just(Edit::Restore),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, usize, Vec<Step>, u64)> {
    (2usize..=8, 1usize..=3).prop_flat_map(|(devices, replicas)| {
        let step = prop_oneof![
            6 => (0..devices, 0..RECORDS, edit()).prop_map(|(device, record, edit)| Step::Edit { device, record, edit }),
            1 => (0..devices).prop_map(|device| Step::Pull { device }),
        ];
        (Just(devices), Just(replicas), prop::collection::vec(step, 1..80), any::<u64>())
    })
}

fn record_id(i: usize) -> Uuid {
    Uuid::from_u128(0x5EED_0000 + i as u128)
}

/// Make one edit; expected refusals (escalating to a level already reached,
/// editing a deleted record…) are part of the game, anything else fails.
fn make(
    device: &mut Device,
    id: Uuid,
    edit: &Edit,
    counter: &mut u128,
    log: &mut BTreeSet<Uuid>,
) -> Option<Change> {
    *counter += 1;
    let result = match edit {
        Edit::Delete => device.delete(id),
        e => {
            let ed = device.edit(id);
            let ed = match e {
                Edit::Status(i) => ed.set("status", STATUSES[*i]),
                Edit::Title(n) => ed.set("title", format!("title {n}")),
                Edit::Clear => ed.set("title", Value::Null),
                Edit::AddTag(i) => ed.add("tags", TAGS[*i]),
                Edit::RemoveTag(i) => ed.remove("tags", TAGS[*i]),
                Edit::AddAndRemove(a, r) if a != r => {
                    ed.add("tags", TAGS[*a]).remove("tags", TAGS[*r])
                }
                Edit::AddAndRemove(a, _) => ed.add("tags", TAGS[*a]),
                Edit::Append(n) => {
                    let entry_id = Uuid::from_u128(0xE000_0000_0000 + *counter);
                    ed.append(
                        "actions",
                        Entry {
                            id: entry_id,
                            at: format!("2026-11-28T{:02}:00:00+08:00", n % 24),
                            fields: BTreeMap::from([(
                                "action".to_string(),
                                Value::from(format!("step {n}")),
                            )]),
                        },
                    )
                }
                Edit::Escalate(l) => ed.escalate(*l),
                Edit::Increment(by) => ed.increment("report_count", u64::from(*by)),
                Edit::Restore => ed.restore().set("severity", "high"),
                Edit::Delete => unreachable!(),
            };
            ed.commit()
        }
    };
    match result {
        Ok(change) => {
            for op in &change.ops {
                if let gridsync_core::Op::Append { entry, .. } = op {
                    log.insert(entry.id);
                }
            }
            Some(change)
        }
        Err(
            ChangeError::LevelDown { .. }
            | ChangeError::RecordDeleted { .. }
            | ChangeError::TransitionNotAllowed { .. },
        ) => None,
        Err(other) => panic!("unexpected refusal of a device's own edit: {other}"),
    }
}

/// Deliver `changes` in a random order with random duplicates.
fn deliver(replica: &mut Replica, changes: &[Change], rng: &mut StdRng) -> usize {
    let mut order: Vec<&Change> = changes.iter().collect();
    for _ in 0..rng.gen_range(0..=changes.len()) {
        order.push(&changes[rng.gen_range(0..changes.len())]);
    }
    order.shuffle(rng);
    let mut applied = 0;
    for c in order {
        match replica.apply(c) {
            Ok(Outcome::Applied) => applied += 1,
            Ok(Outcome::Duplicate) => {}
            Err(e) => panic!("a valid change was refused on delivery: {e}"),
        }
    }
    applied
}

fn run(devices: usize, replicas: usize, steps: &[Step], seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut phones: Vec<Device> = (1..=devices as u32).map(Device::new).collect();
    let mut made: Vec<Change> = Vec::new();
    let mut entries = BTreeSet::new();
    let mut counter = 0u128;

    // Device 0 creates the shared records; everyone has them before going offline.
    for r in 0..RECORDS {
        let c = phones[0]
            .create("event", "g-001", record_id(r))
            .set("status", "reported")
            .set("title", "created")
            .add("tags", "new")
            .commit()
            .unwrap();
        made.push(c);
    }
    for p in phones.iter_mut().skip(1) {
        for c in &made {
            p.receive(c).unwrap();
        }
    }

    for step in steps {
        match step {
            Step::Edit {
                device,
                record,
                edit,
            } => {
                if let Some(c) = make(
                    &mut phones[*device],
                    record_id(*record),
                    edit,
                    &mut counter,
                    &mut entries,
                ) {
                    made.push(c);
                }
            }
            Step::Pull { device } => {
                let mut seen = made.clone();
                seen.shuffle(&mut rng);
                for c in &seen {
                    phones[*device].receive(c).unwrap();
                }
            }
        }
    }

    // The servers: every change reaches every replica, in its own order.
    let mut servers: Vec<Replica> = (0..replicas).map(|_| Replica::default()).collect();
    for s in &mut servers {
        assert_eq!(
            deliver(s, &made, &mut rng),
            made.len(),
            "each distinct change applies once"
        );
    }
    let expected = servers[0].view();
    for s in &servers[1..] {
        assert_eq!(s.view(), expected, "server replicas diverged");
    }

    // Devices pull: odd ones the change log, even ones the record states.
    for (i, p) in phones.iter_mut().enumerate() {
        if i % 2 == 1 {
            let mut log = made.clone();
            log.shuffle(&mut rng);
            for c in &log {
                p.receive(c).unwrap();
            }
        } else {
            let mut dev = p.replica().clone();
            for r in servers[rng.gen_range(0..replicas)].records() {
                dev.merge_record(r).unwrap();
            }
            *p = Device::resume(p.actor(), p.next_seq(), dev);
        }
        assert_eq!(
            p.replica().view(),
            expected,
            "device {} differs after pulling",
            p.actor()
        );
    }

    // Nothing lost: every log entry ever appended is visible.
    let visible: BTreeSet<Uuid> = expected
        .values()
        .flat_map(|v| match v.fields.get("actions") {
            Some(gridsync_core::FieldView::Log(es)) => es.iter().map(|e| e.id).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(visible, entries, "a log entry was lost");

    // Equal states store equal bytes, whatever the delivery order.
    for r in servers[0].records() {
        for other in &servers[1..] {
            assert_eq!(
                other.record(r.id).unwrap().to_stored(),
                r.to_stored(),
                "stored form is not canonical"
            );
        }
    }

    // The stored form round-trips every state.
    for r in servers[0].records() {
        let back = Record::from_stored(Schema::current(), &r.to_stored()).unwrap();
        assert_eq!(back.view(), r.view());
        assert_eq!(back.to_stored(), r.to_stored());
    }

    // Redacting the stored form without building the record writes what
    // building it, redacting and storing it again writes: for every scalar
    // field hidden (concurrent values included) and for none.
    let mark = |v: &Value| match v {
        Value::Text(t) => Value::from(format!("*{t}")),
        other => other.clone(),
    };
    for r in servers[0].records() {
        let stored = r.to_stored();
        for hidden in [
            &["title"][..],
            &["status", "title"],
            &["tags", "actions"],
            &[],
        ] {
            let hide = |f: &gridsync_core::FieldDef| hidden.contains(&f.name);
            let mut long = Record::from_stored(Schema::current(), &stored).unwrap();
            long.redact(hide, mark);
            assert_eq!(
                Record::redact_stored(Schema::current(), &stored, hide, mark).unwrap(),
                long.to_stored(),
                "hiding {hidden:?}"
            );
        }
    }
}

proptest! {
    // Failures are kept in `sync-core/proptest-regressions/` and replayed first on every run.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/convergence.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn replicas_and_devices_converge_and_lose_nothing((devices, replicas, steps, seed) in scenario()) {
        run(devices, replicas, &steps, seed);
    }
}

#[test]
fn a_long_seeded_simulation_converges() {
    // One large fixed scenario beside the random ones: 8 devices, 3 replicas,
    // 2,000 steps, so that clocks, conflicts and tombstones build up.
    let mut rng = StdRng::seed_from_u64(7);
    let edits = [
        Edit::Status(1),
        Edit::Title(3),
        Edit::AddTag(0),
        Edit::RemoveTag(0),
        Edit::Append(9),
        Edit::Increment(2),
        Edit::Escalate(Level::Park),
        Edit::Delete,
        Edit::Restore,
        Edit::AddAndRemove(1, 2),
    ];
    let steps: Vec<Step> = (0..2000)
        .map(|_| {
            if rng.gen_ratio(1, 8) {
                Step::Pull {
                    device: rng.gen_range(0..8),
                }
            } else {
                let mut e = edits[rng.gen_range(0..edits.len())].clone();
                if let Edit::Status(_) = e {
                    e = Edit::Status(rng.gen_range(0..STATUSES.len()));
                }
                Step::Edit {
                    device: rng.gen_range(0..8),
                    record: rng.gen_range(0..RECORDS),
                    edit: e,
                }
            }
        })
        .collect();
    run(8, 3, &steps, 11);
}
