//! Conformance vectors for other implementations of docs/PROTOCOL.md (the
//! field app's JavaScript, `server/assets/app/protocol.js`): written by the
//! core itself on every test run, so the two cannot drift.
//!
//! Seeded scenarios of devices editing shared records offline, every kind of
//! op (set, clear, set members added and removed, log entries with instants
//! in several offsets, escalation, counters, delete and restore, the
//! earliest and latest times of a patrol round), pulls in between. Each
//! vector holds:
//! - `steps`: what each device meant to do (`make`, an intent) and the
//!   change the core built from its replica (`change`), or which changes it
//!   received (`receive`, indices into the changes made so far);
//! - `order`: one delivery order to a replica, with duplicates;
//! - `states` and `views`: the stored form (format 2) and the view of every
//!   record after that delivery;
//! - `split`: two replicas that each received part of the changes (with an
//!   overlap), their stored states; joined, they must give `states`.
//!
//! The schema's JSON (`GET /v1/schema`) is in the file too. Written to
//! `target/conformance/vectors.json` under the workspace, or where
//! `GRIDSYNC_VECTORS` says; `node --test tests/js/` reads it.

use gridsync_core::{
    Change, ChangeError, Device, Entry, Level, Outcome, Record, Replica, Schema, Value,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};
use uuid::Uuid;

const STATUSES: &[&str] = &["reported", "accepted", "verified", "dispatched", "handled"];
const TAGS: &[&str] = &["night", "school", "elderly", "fire"];
const OFFSETS: &[&str] = &["+08:00", "+00:00", "-05:00"];

/// One op a device means to make, as the vector states it.
fn intent(rng: &mut StdRng, counter: &mut u128, round: bool) -> Vec<Json> {
    let mut ops = Vec::new();
    let n = rng.gen_range(1..=3);
    for _ in 0..n {
        *counter += 1;
        let op = if round {
            match rng.gen_range(0..4) {
                0 => json!({"set": ["started_at", time(rng)]}),
                1 => json!({"set": ["ended_at", time(rng)]}),
                2 => json!({"add": ["members", format!("m{}", rng.gen_range(0..4))]}),
                _ => json!({"append": ["check_ins", {
                    "id": Uuid::from_u128(0xC000_0000_0000 + *counter),
                    "at": time(rng),
                    "fields": {"checkpoint": format!("cp{}", rng.gen_range(0..5)), "method": "qr"}
                }]}),
            }
        } else {
            match rng.gen_range(0..12) {
                0 | 1 => json!({"set": ["status", STATUSES[rng.gen_range(0..STATUSES.len())]]}),
                2 => json!({"set": ["title", format!("title {}", rng.gen_range(0..6))]}),
                3 => json!({"set": ["title", null]}),
                4 => json!({"add": ["tags", TAGS[rng.gen_range(0..TAGS.len())]]}),
                5 => json!({"remove": ["tags", TAGS[rng.gen_range(0..TAGS.len())]]}),
                6 | 7 => json!({"append": ["actions", {
                    "id": Uuid::from_u128(0xE000_0000_0000 + *counter),
                    "at": time(rng),
                    "fields": {"action": format!("step {}", rng.gen_range(0..9))}
                }]}),
                8 => json!({"escalate": Level::ALL[rng.gen_range(1..Level::ALL.len())]}),
                9 => json!({"increment": ["report_count", rng.gen_range(1..5)]}),
                10 => json!({"restore": true}),
                _ => {
                    let severity = ["low", "high"][rng.gen_range(0..2)];
                    json!({"set": ["severity", severity]})
                }
            }
        };
        ops.push(op);
    }
    ops
}

fn time(rng: &mut StdRng) -> String {
    format!(
        "2026-11-28T{:02}:{:02}:00{}",
        rng.gen_range(0..24),
        rng.gen_range(0..4) * 15,
        OFFSETS[rng.gen_range(0..OFFSETS.len())]
    )
}

/// Build a change on `device` from an intent; `None` when the core refuses
/// it as a device would (a move outside the flow, a level already reached,
/// a deleted record): such intents are left out of the vector.
fn make(
    device: &mut Device,
    id: Uuid,
    create: Option<(&str, &str)>,
    ops: &[Json],
) -> Option<Change> {
    let mut ed = match create {
        Some((collection, grid)) => device.create(collection, grid, id),
        None => device.edit(id),
    };
    for op in ops {
        let (kind, arg) = op.as_object().unwrap().iter().next().unwrap();
        ed = match kind.as_str() {
            "set" => ed.set(
                arg[0].as_str().unwrap(),
                serde_json::from_value::<Value>(arg[1].clone()).unwrap(),
            ),
            "add" => ed.add(arg[0].as_str().unwrap(), arg[1].as_str().unwrap()),
            "remove" => ed.remove(arg[0].as_str().unwrap(), arg[1].as_str().unwrap()),
            "append" => ed.append(
                arg[0].as_str().unwrap(),
                serde_json::from_value::<Entry>(arg[1].clone()).unwrap(),
            ),
            "escalate" => ed.escalate(serde_json::from_value(arg.clone()).unwrap()),
            "increment" => ed.increment(arg[0].as_str().unwrap(), arg[1].as_u64().unwrap()),
            "restore" => ed.restore(),
            other => panic!("no op {other}"),
        };
    }
    refused_or(ed.commit())
}

fn refused_or(result: Result<Change, ChangeError>) -> Option<Change> {
    match result {
        Ok(c) => Some(c),
        Err(
            ChangeError::LevelDown { .. }
            | ChangeError::RecordDeleted { .. }
            | ChangeError::TransitionNotAllowed { .. }
            | ChangeError::FieldTwice { .. }
            | ChangeError::InvalidOp { .. }
            | ChangeError::DatesOutOfOrder { .. },
        ) => None,
        Err(other) => panic!("unexpected refusal of a device's own edit: {other}"),
    }
}

fn states(replica: &Replica) -> (Json, Json) {
    let mut states = serde_json::Map::new();
    let mut views = serde_json::Map::new();
    for r in replica.records() {
        states.insert(
            r.id.to_string(),
            serde_json::from_str(&r.to_stored()).unwrap(),
        );
        views.insert(r.id.to_string(), serde_json::to_value(r.view()).unwrap());
    }
    (Json::Object(states), Json::Object(views))
}

fn deliver(replica: &mut Replica, changes: &[Change], order: &[usize]) {
    for &i in order {
        match replica.apply(&changes[i]) {
            Ok(Outcome::Applied | Outcome::Duplicate) => {}
            Err(e) => panic!("a valid change was refused on delivery: {e}"),
        }
    }
}

/// One seeded scenario.
fn scenario(seed: u64) -> Json {
    let mut rng = StdRng::seed_from_u64(seed);
    let devices = rng.gen_range(2..=5);
    let mut phones: Vec<Device> = (0..devices).map(|d| Device::new(10 + d as u32)).collect();
    let records: Vec<(Uuid, &str)> = vec![
        (Uuid::from_u128(0x5EED_0000 + u128::from(seed) * 8), "event"),
        (Uuid::from_u128(0x5EED_0001 + u128::from(seed) * 8), "event"),
        (
            Uuid::from_u128(0x5EED_0002 + u128::from(seed) * 8),
            "patrol_round",
        ),
    ];
    // Which device knows which record (it made it or received it).
    let mut made: Vec<Change> = Vec::new();
    let mut steps = Vec::new();
    let mut counter = 0u128;
    for _ in 0..rng.gen_range(6..40) {
        let d = rng.gen_range(0..devices);
        if rng.gen_bool(0.15) {
            // A pull: everything made so far it lacks, in a random order.
            let mut order: Vec<usize> = (0..made.len()).collect();
            order.shuffle(&mut rng);
            for &i in &order {
                phones[d].receive(&made[i]).expect("a valid change");
            }
            steps.push(json!({"device": d, "actor": phones[d].actor(), "receive": order}));
            continue;
        }
        let (id, collection) = records[rng.gen_range(0..records.len())];
        let known = phones[d].replica().record(id).is_some();
        if !known && rng.gen_bool(0.5) {
            continue; // another device makes it, most of the time
        }
        let round = collection == "patrol_round";
        let (create, ops) = if known {
            (None, intent(&mut rng, &mut counter, round))
        } else {
            let mut ops = vec![if round {
                json!({"set": ["status", "in_progress"]})
            } else {
                json!({"set": ["status", "reported"]})
            }];
            ops.extend(intent(&mut rng, &mut counter, round));
            (Some((collection, "g1")), ops)
        };
        let delete = known && !round && rng.gen_bool(0.07);
        let change = if delete {
            refused_or(phones[d].delete(id))
        } else {
            make(&mut phones[d], id, create, &ops)
        };
        let Some(change) = change else { continue };
        let mut make_json = json!({"record": id});
        if delete {
            make_json["delete"] = json!(true);
        } else {
            make_json["ops"] = json!(ops);
        }
        if let Some((collection, grid)) = create {
            make_json["create"] = json!({"collection": collection, "grid": grid});
        }
        steps.push(json!({
            "device": d,
            "actor": phones[d].actor(),
            "make": make_json,
            "change": serde_json::to_value(&change).unwrap(),
        }));
        made.push(change);
    }
    // One delivery to a replica: every change, shuffled, with duplicates.
    let mut order: Vec<usize> = (0..made.len()).collect();
    for _ in 0..rng.gen_range(0..=made.len()) {
        order.push(
            rng.gen_range(0..made.len().max(1))
                .min(made.len().saturating_sub(1)),
        );
    }
    if made.is_empty() {
        order.clear();
    }
    order.shuffle(&mut rng);
    let mut server = Replica::new(Schema::current());
    deliver(&mut server, &made, &order);
    let (states_all, views) = states(&server);
    // Two replicas with part each (an overlap), joined state by state.
    let (mut a, mut b) = (
        Replica::new(Schema::current()),
        Replica::new(Schema::current()),
    );
    let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
    for i in 0..made.len() {
        match rng.gen_range(0..3) {
            0 => to_a.push(i),
            1 => to_b.push(i),
            _ => {
                to_a.push(i);
                to_b.push(i);
            }
        }
    }
    // Causal gaps are fine: every op is a delta state.
    deliver(&mut a, &made, &to_a);
    deliver(&mut b, &made, &to_b);
    let mut joined = a.clone();
    for r in b.records() {
        joined.merge_record(r).expect("same records");
    }
    assert_eq!(
        states(&joined).0,
        states_all,
        "joined states equal the full delivery"
    );
    json!({
        "name": format!("seed {seed}"),
        "steps": steps,
        "order": order,
        "states": states_all,
        "views": views,
        "split": {"a": states(&a).0, "b": states(&b).0},
    })
}

/// One vector per delivery order of the same changes.
fn delivered(made: &[Change], orders: &[(&str, &[usize])]) -> Vec<Json> {
    orders
        .iter()
        .map(|(name, order)| {
            let mut r = Replica::new(Schema::current());
            deliver(&mut r, made, order);
            let (states_all, views) = states(&r);
            json!({
                "name": name,
                "steps": [],
                "changes": made.iter().map(|c| serde_json::to_value(c).unwrap()).collect::<Vec<_>>(),
                "order": order,
                "states": states_all,
                "views": views,
            })
        })
        .collect()
}

/// The traps of `tests/traps.rs`, as vectors of the same form.
fn traps() -> Vec<Json> {
    let mut out = Vec::new();
    // A remove delivered before its add still removes; a concurrent add wins.
    let id = Uuid::from_u128(0x7A00_0001);
    let mut a = Device::new(1);
    let mut b = Device::new(2);
    let c1 = a
        .create("event", "g1", id)
        .set("status", "reported")
        .add("tags", "night")
        .commit()
        .unwrap();
    b.receive(&c1).unwrap();
    let c2 = a.edit(id).remove("tags", "night").commit().unwrap();
    let c3 = b
        .edit(id)
        .add("tags", "night")
        .add("tags", "school")
        .commit()
        .unwrap();
    let c4 = b.edit(id).set("title", "b").commit().unwrap();
    let c5 = a.edit(id).set("title", "a").commit().unwrap();
    out.extend(delivered(
        &[c1, c2, c3, c4, c5],
        &[
            (
                "a remove before its add, a concurrent re-add wins",
                &[1, 2, 0, 4, 3],
            ),
            ("the same changes in order", &[0, 1, 2, 3, 4]),
            ("in reverse, with duplicates", &[4, 3, 3, 2, 1, 0, 0]),
        ],
    ));
    // A delete and an edit made concurrently: the record stays alive; a
    // delete that had seen every edit deletes; a restore brings it back.
    let id = Uuid::from_u128(0x7A00_0002);
    let mut a = Device::new(3);
    let mut b = Device::new(4);
    let c1 = a
        .create("event", "g1", id)
        .set("status", "reported")
        .commit()
        .unwrap();
    b.receive(&c1).unwrap();
    let c2 = a.delete(id).unwrap();
    let c3 = b.edit(id).set("title", "edited offline").commit().unwrap();
    a.receive(&c3).unwrap();
    let c4 = a.delete(id).unwrap();
    let c5 = a
        .edit(id)
        .restore()
        .set("severity", "high")
        .commit()
        .unwrap();
    out.extend(delivered(
        &[c1, c2, c3, c4, c5],
        &[
            ("a delete and a concurrent edit: alive", &[0, 2, 1]),
            ("a delete that saw every edit: deleted", &[0, 1, 2, 3]),
            ("a restore after the delete: alive", &[4, 3, 2, 1, 0]),
        ],
    ));
    // Two changes a careless client built from the same state (one context,
    // two seqs): both count, the later seq shows, no conflict.
    let id = Uuid::from_u128(0x7A00_0003);
    let mut a = Device::new(5);
    let create = a
        .create("event", "g1", id)
        .set("title", "v0")
        .commit()
        .unwrap();
    let write = |seq: u64, title: &str| Change {
        seq,
        ops: vec![gridsync_core::Op::Set {
            field: "title".into(),
            value: Value::from(title),
            seen: gridsync_core::clock::Clock::from([(5, 1)]),
        }],
        ..create.clone()
    };
    let (first, second) = (write(2, "v1"), write(3, "v2"));
    out.extend(delivered(
        &[create, first, second],
        &[
            ("two changes from one state: both count", &[0, 1, 2]),
            ("two changes from one state, the later first", &[0, 2, 1]),
            ("two changes from one state, backwards", &[2, 1, 0]),
        ],
    ));
    // The same value written concurrently on two devices: no conflict.
    let id = Uuid::from_u128(0x7A00_0004);
    let (mut a, mut b) = (Device::new(6), Device::new(7));
    let create = a
        .create("event", "g1", id)
        .set("status", "reported")
        .commit()
        .unwrap();
    b.receive(&create).unwrap();
    let x = a.edit(id).set("status", "accepted").commit().unwrap();
    let y = b.edit(id).set("status", "accepted").commit().unwrap();
    out.extend(delivered(
        &[create, x, y],
        &[
            (
                "the same value twice, concurrently: no conflict",
                &[0, 1, 2],
            ),
            ("the same value twice, the other way", &[0, 2, 1]),
        ],
    ));
    out.push(redacted());
    out
}

/// A phone holding a masked copy of a record (a role that may not see an ID
/// number) fixes the number: its write, built on the masked state, wins.
fn redacted() -> Json {
    let id = Uuid::from_u128(0x7A00_0005);
    let mut w = Device::new(8);
    let create_ops = vec![
        json!({"set": ["name", "Wang"]}),
        json!({"set": ["id_number", "420202199001011231"]}),
    ];
    let create = make(&mut w, id, Some(("resident", "g1")), &create_ops).unwrap();
    let mut copy = w.replica().record(id).unwrap().clone();
    copy.redact(|f| f.sensitive, |_| Value::from("****"));
    let masked: Json = serde_json::from_str(&copy.to_stored()).unwrap();
    let mut replica = Replica::new(Schema::current());
    replica.merge_record(&copy).unwrap();
    let mut phone = Device::resume(9, 1, replica);
    let fix_ops = vec![json!({"set": ["id_number", "420202199001015670"]})];
    let fix = make(&mut phone, id, None, &fix_ops).unwrap();
    let made = [create.clone(), fix.clone()];
    let mut server = Replica::new(Schema::current());
    deliver(&mut server, &made, &[0, 1]);
    let (states_all, views) = states(&server);
    json!({
        "name": "a write built on a masked copy wins",
        "steps": [
            {"device": 0, "actor": 8, "make": {"record": id, "create": {"collection": "resident", "grid": "g1"}, "ops": create_ops},
             "change": serde_json::to_value(&create).unwrap()},
            {"device": 1, "actor": 9, "merge": [masked]},
            {"device": 1, "actor": 9, "make": {"record": id, "ops": fix_ops}, "change": serde_json::to_value(&fix).unwrap()},
        ],
        "order": [0, 1],
        "states": states_all,
        "views": views,
    })
}

/// Values a phone checks before it saves, and what the core says of each:
/// `null` (taken) or the code it refuses them with.
fn values() -> Vec<Json> {
    let cases: &[(&str, &str, Json)] = &[
        ("resident", "id_number", json!("11010519491231002X")),
        ("resident", "id_number", json!("110105194912310021")),
        ("resident", "id_number", json!("11010519491231002")),
        ("resident", "id_number", json!("99010519491231002X")),
        ("resident", "id_number", json!("110105189912310028")),
        ("resident", "id_number", json!("420202********1231")),
        ("resident", "phone", json!("13812345678")),
        ("resident", "phone", json!("+8613812345678")),
        ("resident", "phone", json!("0714-6251234")),
        ("resident", "phone", json!("07146251234")),
        ("resident", "phone", json!("12812345678")),
        ("resident", "phone", json!("1381234567")),
        ("resident", "phone", json!("138****5678")),
        ("resident", "phone", json!("phone")),
        ("resident", "visit_interval_days", json!(30)),
        ("resident", "visit_interval_days", json!(0)),
        ("resident", "visit_interval_days", json!(367)),
        ("resident", "visit_interval_days", json!("30")),
        ("resident", "birth_date", json!("1990-02-28")),
        ("resident", "birth_date", json!("1990-02-30")),
        ("resident", "birth_date", json!("1990/02/28")),
        ("hazard", "estimated_cost", json!("12.50")),
        ("hazard", "estimated_cost", json!("12.5000001")),
        ("hazard", "estimated_cost", json!("abc")),
        ("hazard", "estimated_cost", json!(12.5)),
        ("event", "category", json!("fire_safety")),
        ("event", "category", json!("teleport")),
        ("event", "deadline", json!("2026-11-28T09:30:00+08:00")),
        ("event", "deadline", json!("2026-11-28 09:30")),
        ("event", "title", json!("路灯不亮")),
        ("event", "title", json!("长".repeat(201))),
        ("event", "title", json!(7)),
        ("event", "assignee", json!("user:wang")),
        ("event", "assignee", json!("department:fire")),
        ("event", "assignee", json!("two words")),
        (
            "resident",
            "household",
            json!("5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44"),
        ),
        ("resident", "household", json!("not-a-uuid")),
        ("resident", "gender", json!(null)),
    ];
    cases
        .iter()
        .enumerate()
        .map(|(i, (collection, field, value))| {
            let change: Change = serde_json::from_value(json!({
                "actor": 1, "seq": 1, "record": Uuid::from_u128(0xF000 + i as u128),
                "collection": collection, "grid": "g1", "schema": gridsync_core::schema::SCHEMA_VERSION,
                "ops": [{"set": {"field": field, "value": value}}],
            }))
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{collection}.{field} = {value}: {e}"));
            let code = gridsync_core::validate::validate(Schema::current(), &change)
                .err()
                .map(|e| e.code());
            json!({"collection": collection, "field": field, "value": value, "refused": code})
        })
        .collect()
}

#[test]
fn conformance_vectors_are_written() {
    let mut scenarios: Vec<Json> = traps();
    scenarios.extend((0..120).map(scenario));
    let doc = json!({
        "about": "written by sync-core/tests/conformance.rs; see docs/PROTOCOL.md",
        "schema": serde_json::from_str::<Json>(Schema::current().to_json()).unwrap(),
        "scenarios": scenarios,
        "values": values(),
    });
    let path = std::env::var("GRIDSYNC_VECTORS").map_or_else(
        |_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/conformance/vectors.json")
        },
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    // Every record state read back reads the same (the stored form is exact).
    for s in doc["scenarios"].as_array().unwrap() {
        for (id, state) in s["states"].as_object().unwrap() {
            let back = Record::from_stored(Schema::current(), &state.to_string()).unwrap();
            assert_eq!(serde_json::to_value(back.view()).unwrap(), s["views"][id]);
        }
    }
}
