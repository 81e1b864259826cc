//! Report benchmark (issue 7): a plain program (`harness = false`).
//!
//! 1. Sets up a fresh SQLite store (migrated as `serve` does): one district,
//!    6 parks, 30 communities, 300 grids, a district supervisor.
//! 2. Writes 1,000,000 record rows **directly** (multi-row diesel inserts, not
//!    through sync: the benchmark is about reading). Every row carries a real
//!    stored form of its collection (made by a `gridsync_core::Device`, about
//!    0.5 KB) and derived columns spread like a year of work: the nine
//!    collections in field proportions, statuses along each flow, closed
//!    cases with `closed_at`, deadlines, some escalated, 1% with a conflict,
//!    1% deleted, patrol figures on rounds; created over the last 365 days.
//!    The rows bypass the merge, so the report stock is then counted from
//!    them with the migration's backfill query.
//! 3. Times the district summary for the current month over 300 grids:
//!    (a) the store call plus the roll-up (`Store::report_counts` +
//!    `reports::summarize`), (b) end to end, `GET /v1/reports/summary` on
//!    the real server (port 0, in process) with the supervisor's token.
//!    Three warm-up runs each, then `GRIDSYNC_BENCH_RUNS` (30) timed runs;
//!    prints median, p95 and max, and the machine's load average.
//!
//! Run: `cargo bench -p gridsync-server --bench reports`.
//! Figures: `docs/PERFORMANCE.md`, "Reports (issue 7)".

use std::net::TcpListener;
use std::time::Instant;

use diesel::prelude::*;
use gridsync_core::{Device, Entry, Value};
use gridsync_server::auth::password;
use gridsync_server::db::models::{NewUser, OrgNodeRow, RecordForm};
use gridsync_server::db::schema::records;
use gridsync_server::db::{Conn, Database};
use gridsync_server::reports::{summarize, Tree, DAY_MS};
use gridsync_server::store::reports::Windows;
use gridsync_server::{open_store, Limits};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const SEED: u64 = 0x6772_6964_0000_0007; // "grid", issue 7
const RECORDS: usize = 1_000_000;
const PARKS: usize = 6;
const COMMUNITIES_PER_PARK: usize = 5;
const GRIDS_PER_COMMUNITY: usize = 10;
const DISTRICT: &str = "420203";
const SECRET: &str = "gridsync-reports-bench-secret-0123456789abcdef";
const PASSWORD: &str = "bench password";

/// (collection, share in thousandths, statuses with their weights, categories)
type Mix = (
    &'static str,
    u32,
    &'static [(&'static str, u32)],
    &'static [&'static str],
);
const MIX: &[Mix] = &[
    ("household", 150, &[], &[]),
    ("resident", 350, &[], &[]),
    ("place", 50, &[("active", 9), ("suspended", 1)], &[]),
    (
        "patrol_round",
        100,
        &[("completed", 8), ("in_progress", 1), ("cancelled", 1)],
        &[],
    ),
    (
        "event",
        200,
        &[
            ("closed", 70),
            ("reported", 5),
            ("accepted", 5),
            ("dispatched", 8),
            ("handled", 7),
            ("rejected", 3),
            ("parked", 2),
        ],
        &[
            "public_order",
            "fire_safety",
            "traffic",
            "environment",
            "infrastructure",
            "sanitation",
            "illegal_construction",
            "dispute_lead",
            "other",
        ],
    ),
    (
        "hazard",
        40,
        &[
            ("closed", 70),
            ("reported", 10),
            ("listed", 10),
            ("rectifying", 10),
        ],
        &[
            "fire",
            "structural",
            "electrical",
            "gas",
            "chemical",
            "crowd",
            "traffic",
            "other",
        ],
    ),
    (
        "dispute",
        50,
        &[
            ("closed", 75),
            ("registered", 5),
            ("mediating", 15),
            ("agreed", 5),
        ],
        &[
            "neighbour",
            "family",
            "labour",
            "traffic_accident",
            "medical",
            "land_demolition",
            "property",
            "contract",
            "other",
        ],
    ),
    (
        "petition",
        20,
        &[
            ("closed", 70),
            ("received", 10),
            ("accepted", 10),
            ("replying", 10),
        ],
        &[
            "land",
            "housing",
            "labour",
            "social_security",
            "environment",
            "law_enforcement",
            "other",
        ],
    ),
    ("key_person", 40, &[("active", 9), ("archived", 1)], &[]),
];
const TERMINAL: &[&str] = &[
    "closed",
    "rejected",
    "completed",
    "cancelled",
    "not_accepted",
];

fn pick<'a>(rng: &mut StdRng, weighted: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|w| w.1).sum();
    let mut x = rng.gen_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    weighted[0].0
}

/// A realistic stored form of each collection (its size is what matters).
fn templates() -> Vec<(&'static str, String)> {
    let mut d = Device::new(1000);
    let mut out = Vec::new();
    for (collection, ..) in MIX {
        let id = Uuid::from_u128(out.len() as u128 + 1);
        let mut e = d.create(collection, "420203-001-001-001", id);
        e = match *collection {
            "household" => e
                .set("address_code", "420203001001001-0301")
                .set("owner_name", "王建国")
                .set("address", "幸福路12号3栋301"),
            "resident" => e
                .set("name", "李秀英")
                .set("id_number", "420202199001011231")
                .set("phone", "13812345678"),
            "place" => e
                .set("name", "星光KTV")
                .set("type", "entertainment")
                .set("address", "幸福路12号"),
            "patrol_round" => e
                .set("route", "幸福小区夜巡")
                .set("status", "planned")
                .add("planned_checkpoints", "A")
                .add("planned_checkpoints", "B"),
            "event" => e
                .set("title", "占道经营 东门")
                .set("category", "public_order")
                .set("status", "reported")
                .set("severity", "medium"),
            "hazard" => e
                .set("description", "消防通道堵塞")
                .set("category", "fire")
                .set("status", "reported"),
            "dispute" => e
                .set("summary", "邻里噪音纠纷")
                .set("category", "neighbour")
                .set("status", "registered"),
            "petition" => e
                .set("matter", "拆迁补偿")
                .set("category", "land")
                .set("status", "received"),
            _ => e
                .set("name", "张三")
                .set("category", "other")
                .set("status", "active"),
        };
        e.commit().expect("a template");
        if *collection == "patrol_round" {
            d.edit(id)
                .append(
                    "check_ins",
                    Entry {
                        id: Uuid::from_u128(99),
                        at: "2026-11-01T20:00:00+08:00".into(),
                        fields: [
                            ("checkpoint".to_owned(), Value::from("A")),
                            ("method".to_owned(), Value::from("qr")),
                        ]
                        .into_iter()
                        .collect(),
                    },
                )
                .commit()
                .expect("a check-in");
        }
        out.push((
            *collection,
            d.replica().record(id).expect("made").to_stored(),
        ));
    }
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn stats(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}: runs {}, median {:.1} ms, p95 {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms.len(),
        at(0.5),
        at(0.95),
        ms[0],
        ms[ms.len() - 1]
    );
}

/// The org tree, the supervisor and the 1M rows.
fn set_up(store: &gridsync_server::store::Store) {
    let node = |code: String, parent: Option<String>, level: &str| OrgNodeRow {
        name: format!("node {code}"),
        code,
        parent,
        level: level.into(),
        created_at: 0,
        updated_at: 0,
    };
    store
        .create_node(&node(DISTRICT.into(), None, "district"))
        .expect("district");
    let mut grids = Vec::new();
    for p in 1..=PARKS {
        let park = format!("{DISTRICT}-{p:03}");
        store
            .create_node(&node(park.clone(), Some(DISTRICT.into()), "park"))
            .expect("park");
        for c in 1..=COMMUNITIES_PER_PARK {
            let community = format!("{park}-{c:03}");
            store
                .create_node(&node(community.clone(), Some(park.clone()), "community"))
                .expect("community");
            for g in 1..=GRIDS_PER_COMMUNITY {
                let grid = format!("{community}-{g:03}");
                store
                    .create_node(&node(grid.clone(), Some(community.clone()), "grid"))
                    .expect("grid");
                grids.push(grid);
            }
        }
    }
    store
        .create_user(&NewUser {
            id: 0,
            username: "chief".into(),
            full_name: "Chief".into(),
            password_hash: password::hash(PASSWORD),
            role: "supervisor".into(),
            node: DISTRICT.into(),
            disabled: false,
            created_at: 0,
            updated_at: 0,
        })
        .expect("the supervisor");

    // --- 1M rows, written directly -------------------------------------------
    let t = Instant::now();
    let templates = templates();
    let now = now_ms();
    let mut rng = StdRng::seed_from_u64(SEED);
    let shares: Vec<(usize, u32)> = MIX.iter().enumerate().map(|(i, m)| (i, m.1)).collect();
    let total_share: u32 = shares.iter().map(|s| s.1).sum();
    let levels = [
        ("grid", 85),
        ("community", 10),
        ("park", 4),
        ("district", 1),
    ];
    let Conn::Sqlite(mut conn) = store.pool().get().expect("a connection") else {
        unreachable!("the bench runs on SQLite")
    };
    diesel::sql_query("PRAGMA synchronous = OFF")
        .execute(&mut *conn)
        .expect("pragma");
    let mut state_bytes = 0usize;
    let mut batch: Vec<RecordForm> = Vec::with_capacity(500);
    let mut written = 0usize;
    while written < RECORDS {
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            for _ in 0..100 {
                batch.clear();
                for _ in 0..500 {
                    let mut x = rng.gen_range(0..total_share);
                    let mut k = 0;
                    for (i, s) in &shares {
                        if x < *s {
                            k = *i;
                            break;
                        }
                        x -= s;
                    }
                    let (collection, _, statuses, categories) = MIX[k];
                    let status =
                        (!statuses.is_empty()).then(|| pick(&mut rng, statuses).to_owned());
                    let category = (!categories.is_empty())
                        .then(|| categories[rng.gen_range(0..categories.len())].to_owned());
                    let created_at = now - rng.gen_range(0..365 * DAY_MS);
                    let is_case = !categories.is_empty();
                    let closed = status.as_deref().is_some_and(|s| TERMINAL.contains(&s));
                    let level = if is_case {
                        pick(&mut rng, &levels)
                    } else {
                        "grid"
                    };
                    let level_since = if level == "grid" {
                        created_at
                    } else {
                        created_at + rng.gen_range(1..10 * DAY_MS)
                    };
                    let deadline = match collection {
                        "key_person" => Some(created_at + rng.gen_range(0..400) * DAY_MS),
                        "place" => Some(now + rng.gen_range(-20..10) * DAY_MS),
                        _ if is_case && !closed => {
                            Some(level_since + rng.gen_range(1..60) * DAY_MS)
                        }
                        _ => None,
                    };
                    let round = collection == "patrol_round";
                    let planned = rng.gen_range(3..12);
                    let state = &templates[k].1;
                    state_bytes += state.len();
                    batch.push(RecordForm {
                        id: Uuid::from_u128(rng.gen()).to_string(),
                        collection: collection.into(),
                        grid: grids[rng.gen_range(0..grids.len())].clone(),
                        state: state.clone(),
                        status,
                        level: level.into(),
                        category,
                        assignee: None,
                        deadline,
                        deleted: rng.gen_range(0..100) == 0,
                        conflicts: i32::from(rng.gen_range(0..100) == 0),
                        created_at,
                        updated_at: created_at,
                        closed_at: closed.then(|| created_at + rng.gen_range(1..30 * DAY_MS)),
                        last_seq: 0,
                        level_since,
                        overdue: deadline.is_some_and(|d| d < now),
                        flag: None,
                        planned: round.then_some(planned),
                        visited: round.then(|| rng.gen_range(0..=planned)),
                        checkins: round.then(|| rng.gen_range(0..15)),
                        starts_at: round.then_some(created_at),
                        statutory_deadline: deadline,
                        level_deadline: deadline,
                        unplanned: round.then(|| rng.gen_range(0..3)),
                        id_key: None,
                        label: None,
                    });
                }
                diesel::insert_into(records::table)
                    .values(&batch)
                    .execute(c)?;
            }
            Ok(())
        })
        .expect("inserts");
        written += 50_000;
    }
    // The rows bypassed the merge, which keeps the report stock: count it as
    // the migration does for an existing store.
    diesel::sql_query(
        "INSERT INTO report_stock \
         SELECT grid, collection, level, COALESCE(status, ''), COALESCE(category, ''), \
                closed_at IS NULL, overdue, conflicts > 0, COUNT(*) \
         FROM records WHERE deleted = FALSE \
         GROUP BY grid, collection, level, COALESCE(status, ''), COALESCE(category, ''), \
                  closed_at IS NULL, overdue, conflicts > 0",
    )
    .execute(&mut *conn)
    .expect("the stock");
    diesel::sql_query("ANALYZE")
        .execute(&mut *conn)
        .expect("analyze");
    drop(conn);
    println!(
        "setup: {} grids, {} records ({:.0} MB of stored forms) written in {:.1} s",
        grids.len(),
        RECORDS,
        state_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let runs: usize = std::env::var("GRIDSYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);
    println!("load average before: {}", load_average());
    let dir = tempfile::tempdir().expect("a temp dir");
    // `GRIDSYNC_BENCH_DB=path`: keep the set-up store there and reuse it on
    // the next run (the setup takes minutes; the timings do not).
    let path = std::env::var("GRIDSYNC_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("reports.db"));
    let reuse = path.exists();
    let db = Database::Sqlite(path);
    let store = open_store(&db, 4).expect("the store");
    if reuse {
        println!("reusing the store at {db:?}");
    } else {
        set_up(&store);
    }
    let grids: Vec<String> = store
        .org_tree()
        .expect("tree")
        .into_iter()
        .filter(|n| n.level == "grid")
        .map(|n| n.code)
        .collect();
    let now = now_ms();
    // --- (a) the store call and the roll-up ----------------------------------
    let tree = Tree::new(
        store
            .org_tree()
            .expect("tree")
            .into_iter()
            .map(|n| (n.code, n.parent, n.level, n.name)),
    );
    let month_start = {
        use chrono::Datelike;
        let today = gridsync_server::reports::local_date(now);
        gridsync_server::reports::day_start(today.with_day(1).expect("day 1"))
    };
    let w = |as_of| Windows {
        from: month_start,
        to: now + DAY_MS,
        as_of,
        soon: DAY_MS,
        at_risk: false,
    };
    let mut times = Vec::new();
    let mut figures = None;
    for i in 0..runs + 3 {
        let t = Instant::now();
        let rows = store.report_counts(&grids, w(now_ms())).expect("counts");
        let s = summarize(&rows, &tree, DISTRICT);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if i >= 3 {
            times.push(ms);
        }
        figures = Some((rows.len(), s.totals));
    }
    let (groups, totals) = figures.expect("ran");
    println!(
        "district summary, month: {groups} groups; records {}, open {}, new {}, closed {}, overdue {}, escalated {}, conflicted {}",
        totals.records, totals.open, totals.new, totals.closed, totals.overdue, totals.escalated, totals.conflicted
    );
    assert!(totals.records > 980_000 && totals.records < RECORDS as i64);
    stats("(a) store call + roll-up", times);

    // --- (b) through HTTP ----------------------------------------------------
    let auth =
        gridsync_server::auth_for(gridsync_server::auth::tokens::Keys::new(SECRET.as_bytes()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let limits = Limits {
        sweep_every: None,
        ..Limits::default()
    };
    let blobs = std::env::temp_dir().join(format!("gridsync-reports-bench-{}", std::process::id()));
    let blobs = gridsync_server::blobs::disk::DiskStore::open(blobs).expect("attachment folder");
    let running = gridsync_server::Background::start(
        listener,
        store,
        limits,
        auth,
        std::sync::Arc::new(blobs),
    )
    .expect("serve");
    let base = running.url.clone();
    let login: serde_json::Value = ureq::post(&format!("{base}/v1/auth/login"))
        .send_json(serde_json::json!({"username": "chief", "password": PASSWORD}))
        .expect("login")
        .into_json()
        .expect("json");
    let token = login["access_token"].as_str().expect("a token").to_owned();
    let url = format!("{base}/v1/reports/summary?node={DISTRICT}&period=month");
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..runs + 3 {
        let t = Instant::now();
        let body = ureq::get(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("the summary")
            .into_string()
            .expect("a body");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if i >= 3 {
            times.push(ms);
        }
        bytes = body.len();
    }
    println!("HTTP response: {bytes} bytes of JSON");
    stats("(b) GET /v1/reports/summary", times);
    println!("load average after: {}", load_average());
}
