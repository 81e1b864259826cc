//! The demo district: three grids with households, residents, places, cases,
//! a patrol round and a key person, written by the server's own actor through
//! the same sync path as any device.

use std::collections::BTreeMap;

use gridsync_core::{Change, Device, Entry, Level, Replica, Value};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::api::now_ms;
use crate::auth::password;
use crate::db::models::{NewUser, OrgNodeRow};
use crate::store::{allow_all, ChangeResult, Push, RecordQuery, Store, StoreError};

pub use crate::store::SERVER_ACTOR;
pub const DEMO_GRIDS: [&str; 3] = ["demo-g01", "demo-g02", "demo-g03"];

const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "磊", "强", "洋"];

fn name(i: usize) -> String {
    format!("{}{}", SURNAMES[i % 8], GIVEN[(i / 8 + i) % 8])
}

fn entry(at: &str, fields: &[(&str, Value)]) -> Entry {
    Entry {
        id: Uuid::new_v4(),
        at: at.to_owned(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

type Made = Result<Change, gridsync_core::ChangeError>;

fn grid_changes(dev: &mut Device, g: usize, grid: &str) -> Vec<Made> {
    let mut out = Vec::new();
    let n = g * 100;
    let mut households = Vec::new();
    for h in 0..5 {
        let id = Uuid::new_v4();
        households.push(id);
        out.push(
            dev.create("household", grid, id)
                .set("address_code", format!("{grid}-{h:03}"))
                .set("address", format!("西塞山区 {}号楼 {}单元", g + 1, h + 1))
                .set("use", if h % 3 == 0 { "rental" } else { "residential" })
                .set("owner_name", name(n + h))
                .set("owner_phone", format!("138{:08}", n * 7 + h))
                .set("rental", h % 3 == 0)
                .commit(),
        );
    }
    for r in 0..10 {
        out.push(
            dev.create("resident", grid, Uuid::new_v4())
                .set("name", name(n + 10 + r))
                .set(
                    "id_number",
                    format!("42020219{:02}0101{:04}", 60 + r, n + r),
                )
                .set("phone", format!("139{:08}", n * 11 + r))
                .set("household", households[r % 5].to_string())
                .set(
                    "category",
                    if r == 3 {
                        "left_behind_elderly"
                    } else {
                        "registered"
                    },
                )
                .commit(),
        );
    }
    let place = Uuid::new_v4();
    out.push(
        dev.create("place", grid, place)
            .set("name", format!("{}号网格快递驿站", g + 1))
            .set("type", "express_logistics")
            .set("inspection_interval_days", 10i64)
            .set("status", "active")
            .append(
                "inspections",
                entry("2026-11-20T10:00:00+08:00", &[("result", "pass".into())]),
            )
            .commit(),
    );
    // Three events: one just reported, one dispatched, one closed, each
    // walked through the event flow one step at a time.
    let paths: [&[&str]; 3] = [
        &[],
        &["accepted", "verified", "dispatched"],
        &[
            "accepted",
            "verified",
            "dispatched",
            "handled",
            "checked",
            "closed",
        ],
    ];
    for (e, path) in paths.iter().enumerate() {
        let event = Uuid::new_v4();
        out.push(
            dev.create("event", grid, event)
                .set(
                    "category",
                    if e == 0 {
                        "fire_safety"
                    } else {
                        "public_order"
                    },
                )
                .set("title", format!("演示事件 {}-{}", g + 1, e + 1))
                .set("severity", "medium")
                .set("status", "reported")
                .set("place", place.to_string())
                .append(
                    "actions",
                    entry("2026-11-27T09:00:00+08:00", &[("action", "report".into())]),
                )
                .commit(),
        );
        for status in path.iter() {
            out.push(dev.edit(event).set("status", *status).commit());
        }
    }
    let dispute = Uuid::new_v4();
    out.push(
        dev.create("dispute", grid, dispute)
            .set("category", "neighbour")
            .set("summary", "楼上漏水引发邻里纠纷")
            .add("parties", &name(n + 40))
            .add("parties", &name(n + 41))
            .set("channel", "peoples")
            .set("status", "registered")
            .set("received_on", "2026-11-25")
            .append(
                "sessions",
                entry(
                    "2026-11-26T15:00:00+08:00",
                    &[
                        ("mediator", name(n + 42).into()),
                        ("outcome", "continued".into()),
                    ],
                ),
            )
            .commit(),
    );
    out.push(
        dev.edit(dispute)
            .set("status", "mediating")
            .escalate(Level::Community)
            .commit(),
    );
    out.push(
        dev.create("key_person", grid, Uuid::new_v4())
            .set("name", name(n + 50))
            .set("category", "community_correction")
            .set("risk_level", "medium")
            .set("community_police", name(n + 51))
            .add("duties", "stabilize")
            .add("duties", "assist")
            .set("visit_interval_days", 30i64)
            .append(
                "visits",
                entry(
                    "2026-11-01T10:00:00+08:00",
                    &[
                        ("visitor", name(n + 51).into()),
                        ("method", "in_person".into()),
                    ],
                ),
            )
            .commit(),
    );
    let round = Uuid::new_v4();
    let mut patrol = dev
        .create("patrol_round", grid, round)
        .set("route", format!("{}号网格夜巡", g + 1))
        .set("status", "in_progress");
    for cp in ["东门", "驿站", "学校后门"] {
        patrol = patrol.add("planned_checkpoints", cp);
    }
    out.push(patrol.add("members", &name(n + 60)).commit());
    for (i, cp) in ["东门", "驿站"].iter().enumerate() {
        out.push(
            dev.edit(round)
                .append(
                    "check_ins",
                    entry(
                        &format!("2026-11-27T21:{:02}:00+08:00", 10 * i),
                        &[("checkpoint", (*cp).into()), ("method", "qr".into())],
                    ),
                )
                .commit(),
        );
    }
    out.push(dev.edit(round).set("status", "completed").commit());
    out
}

/// The demo org tree: (code, parent, level, name).
pub const DEMO_TREE: [(&str, Option<&str>, &str, &str); 6] = [
    ("420203", None, "district", "西塞山区"),
    ("420203-01", Some("420203"), "park", "工业园区"),
    ("420203-01-001", Some("420203-01"), "community", "示范社区"),
    ("demo-g01", Some("420203-01-001"), "grid", "第一网格"),
    ("demo-g02", Some("420203-01-001"), "grid", "第二网格"),
    ("demo-g03", Some("420203-01-001"), "grid", "第三网格"),
];

/// The demo logins: (username, role, node). All share [`DEMO_PASSWORD`].
pub const DEMO_USERS: [(&str, &str, &str); 8] = [
    ("admin", "admin", "420203"),
    ("supervisor01", "supervisor", "420203-01-001"),
    ("worker01", "grid_worker", "demo-g01"),
    ("worker02", "grid_worker", "demo-g02"),
    ("worker03", "grid_worker", "demo-g03"),
    ("patrol01", "patrol", "420203-01-001"),
    ("police01", "police", "420203-01-001"),
    ("mediator01", "mediator", "420203-01-001"),
];
pub const DEMO_PASSWORD: &str = "gridsync-demo";

/// Create the demo org tree and logins where missing.
fn demo_people(store: &Store) -> Result<usize, StoreError> {
    let now = now_ms();
    let known: Vec<String> = store.org_tree()?.into_iter().map(|n| n.code).collect();
    for (code, parent, level, name) in DEMO_TREE {
        if !known.iter().any(|k| k == code) {
            store.create_node(&OrgNodeRow {
                code: code.into(),
                parent: parent.map(str::to_owned),
                level: level.into(),
                name: name.into(),
                created_at: now,
                updated_at: now,
            })?;
        }
    }
    let mut created = 0;
    for (username, role, node) in DEMO_USERS {
        if store.user_by_name(username)?.is_none() {
            store.create_user(&NewUser {
                id: 0,
                username: username.into(),
                full_name: format!("演示用户 {username}"),
                password_hash: password::hash(DEMO_PASSWORD),
                role: role.into(),
                node: node.into(),
                disabled: false,
                created_at: now,
                updated_at: now,
            })?;
            created += 1;
        }
    }
    Ok(created)
}

/// Load the demo district unless it is there: its org tree, its logins and
/// its records. Says what was done, logins included.
pub fn demo(store: &Store) -> Result<String, StoreError> {
    demo_people(store)?;
    let records = demo_records(store)?;
    let logins: Vec<String> = DEMO_USERS
        .iter()
        .map(|(u, r, n)| format!("  {u:<13} {r:<12} {n}"))
        .collect();
    Ok(format!(
        "{records}\ndemo logins (password `{DEMO_PASSWORD}`):\n{}",
        logins.join("\n")
    ))
}

fn demo_records(store: &Store) -> Result<String, StoreError> {
    let probe = RecordQuery {
        grid: DEMO_GRIDS[0].to_owned(),
        collections: gridsync_core::Schema::current()
            .collections
            .iter()
            .map(|c| c.name.to_owned())
            .collect(),
        include_deleted: true,
        limit: 1,
        ..RecordQuery::default()
    };
    if !store.list(&probe)?.is_empty() {
        return Ok(format!(
            "demo district already loaded (grids {})",
            DEMO_GRIDS.join(", ")
        ));
    }
    let next = u64::try_from(store.actor_max_seq(SERVER_ACTOR)?).unwrap_or(0) + 1;
    let mut dev = Device::resume(SERVER_ACTOR, next, Replica::default());
    let mut raws = Vec::new();
    for (g, grid) in DEMO_GRIDS.iter().enumerate() {
        for made in grid_changes(&mut dev, g, grid) {
            let change = made.map_err(|e| StoreError::Corrupt {
                id: "demo".into(),
                reason: e.to_string(),
            })?;
            raws.push(RawValue::from_string(change.to_json()).expect("a change is JSON"));
        }
    }
    let mut applied = 0;
    for chunk in raws.chunks(200) {
        let batch = Uuid::new_v4().to_string();
        let push = Push {
            actor: SERVER_ACTOR,
            batch: &batch,
            changes: chunk,
            guard: &allow_all,
        };
        for r in store.push(&push, now_ms())? {
            match r {
                ChangeResult::Applied { .. } => applied += 1,
                other => {
                    return Err(StoreError::Corrupt {
                        id: "demo".into(),
                        reason: format!("a demo change was not applied: {other:?}"),
                    })
                }
            }
        }
    }
    let records = dev.replica().records().count();
    Ok(format!(
        "demo district loaded: {records} records in grids {} ({applied} changes)",
        DEMO_GRIDS.join(", ")
    ))
}
