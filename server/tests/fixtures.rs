//! The demo fixture loaded into a real store, served, and read back through
//! HTTP by its own generated logins; on SQLite and PostgreSQL.

mod common;

use sha2::Digest as _;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::{on_both_backends, Backend, Phone, TestServer};
use gridsync_core::Change;
use gridsync_server::auth::policy::Role;
use gridsync_server::fixture::{self, FixtureError, Options, Shape, DEMO_PASSWORD};
use gridsync_server::store::identity::FIRST_DEVICE_ACTOR;
use gridsync_server::store::RecordQuery;
use serde_json::Value as Json;

on_both_backends!(
    the_demo_fixture_loads_once_and_its_logins_see_their_records,
    serve_demo_loads_the_demo_once_and_prints_its_logins,
    the_demo_is_written_by_its_users_phones,
    late_cases_stay_late_as_the_clock_moves_on,
);

/// The actor the first phone gets on a fresh store.
const FIRST: u32 = FIRST_DEVICE_ACTOR as u32;

fn demo_options() -> Options {
    Options {
        seed: 11,
        scale: 1,
        // 2026-11-28T12:00:00+08:00: a fixed present, so the statuses and
        // deadlines below are the same on every run.
        as_of: 1_795_838_400_000,
    }
}

/// Every record of a grid as `token` sees it, page by page.
fn all_records(s: &TestServer, token: &str, grid: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/v1/grids/{grid}/records?limit=100{after}");
        let (st, body) = s.get_as(token, &path);
        assert_eq!(st, 200, "{path}: {body}");
        out.extend(body["records"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return out,
        }
    }
}

fn by_collection(records: &[Json]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in records {
        *m.entry(r["collection"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    m
}

fn token(s: &TestServer, username: &str) -> String {
    s.login(username, DEMO_PASSWORD)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn the_demo_fixture_loads_once_and_its_logins_see_their_records(b: &Backend) {
    let shape = Shape::named("demo").unwrap();
    let options = demo_options();
    let expected = fixture::generate(&shape, options, FIRST).unwrap();
    let store = gridsync_server::open_store(&b.database(), 2).unwrap();
    let mut calls = Vec::new();
    let report = fixture::load(&store, &shape, options, &mut |done, total| {
        calls.push((done, total))
    })
    .unwrap();
    assert_eq!(report.records, expected.records);
    assert_eq!(report.changes - report.escalated, expected.changes.len());
    assert_eq!(report.logins, expected.users);
    // Progress: from nothing to everything, never backwards.
    assert_eq!(calls.first(), Some(&(0, expected.changes.len())));
    assert_eq!(
        calls.last(),
        Some(&(expected.changes.len(), expected.changes.len()))
    );
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    // Loading it again is refused, whatever the seed, and changes nothing.
    let again = fixture::load(
        &store,
        &shape,
        Options {
            seed: 12,
            ..options
        },
        &mut |_, _| {},
    );
    assert!(
        matches!(again, Err(FixtureError::AlreadyLoaded { ref node, .. }) if node == "420203"),
        "{again:?}"
    );
    drop(store);

    let s = TestServer::start(b);
    // The tree and the logins, as the admin of the fixture sees them.
    let admin = token(&s, "admin");
    let (st, nodes) = s.get_as(&admin, "/v1/org/nodes");
    assert_eq!(st, 200);
    // Every generated node is there, at its level under its parent.
    let served: BTreeMap<&str, (&str, Option<&str>)> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["code"].as_str().unwrap(),
                (n["level"].as_str().unwrap(), n["parent"].as_str()),
            )
        })
        .collect();
    for n in &expected.nodes {
        assert_eq!(
            served.get(n.code.as_str()),
            Some(&(n.level, n.parent.as_deref())),
            "{}",
            n.code
        );
    }
    let level_count = |l: &str| expected.nodes.iter().filter(|n| n.level == l).count();
    assert_eq!(level_count("district"), 1);
    assert_eq!(level_count("park"), shape.parks);
    assert_eq!(level_count("community"), shape.communities);
    assert_eq!(level_count("grid"), shape.grids);
    let (_, users) = s.get_as(&admin, "/v1/users");
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    for u in users["users"].as_array().unwrap() {
        if expected.users.iter().any(|e| e.username == u["username"]) {
            *roles
                .entry(u["role"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(roles["grid_worker"], shape.grids);
    assert_eq!(roles["patrol"], shape.patrol_members);
    assert_eq!(
        roles["police"],
        shape.communities * shape.police_per_community
    );
    assert_eq!(
        roles["mediator"],
        shape.communities * shape.mediators_per_community
    );
    assert_eq!(roles.values().sum::<usize>(), expected.users.len());

    // A generated grid worker logs in with the demo password and sees every
    // record of their grid, as many of each collection as were generated,
    // with phone and ID numbers masked.
    let worker = expected.users_of("grid_worker").nth(1).unwrap();
    let grid = worker.node.clone();
    let wt = token(&s, &worker.username);
    let seen = all_records(&s, &wt, &grid);
    let generated: BTreeMap<String, usize> = expected
        .per_grid
        .iter()
        .filter(|((g, _), _)| *g == grid)
        .map(|((_, c), n)| ((*c).to_owned(), *n))
        .collect();
    assert_eq!(by_collection(&seen), generated);
    // Records carry their history's dates: an event was created within the
    // batch window after its report (the batch it was merged in).
    let ms = |t: &Json| {
        chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    for e in seen.iter().filter(|r| r["collection"] == "event") {
        let reported = ms(&e["fields"]["actions"][0]["at"]);
        let created = ms(&e["created_at"]);
        assert!(
            (reported..reported + fixture::WINDOW).contains(&created),
            "{e}"
        );
        assert!(ms(&e["updated_at"]) >= created);
    }
    let resident = seen.iter().find(|r| r["collection"] == "resident").unwrap();
    let id_number = resident["fields"]["id_number"]["value"].as_str().unwrap();
    assert!(id_number.contains("********"), "masked: {id_number}");
    // Not another grid's.
    let other = expected.grids().find(|g| g.code != grid).unwrap();
    let (st, _) = s.get_as(&wt, &format!("/v1/grids/{}/records", other.code));
    assert_eq!(st, 403);
    // Their phone pulls the same records.
    let mut phone = Phone::enroll_existing(&s, &worker.username, DEMO_PASSWORD, &[&grid]);
    phone.sync(&s);
    assert_eq!(phone.device.replica().records().count(), seen.len());

    // A district supervisor sees every grid: the totals match the shape.
    let sup = expected
        .users_of("supervisor")
        .find(|u| u.node == "420203")
        .unwrap();
    let st_token = token(&s, &sup.username);
    let all: Vec<Json> = expected
        .grids()
        .flat_map(|g| all_records(&s, &st_token, &g.code))
        .collect();
    let totals = by_collection(&all);
    let want_totals: BTreeMap<String, usize> = expected
        .records
        .iter()
        .map(|(c, n)| ((*c).to_owned(), *n))
        .collect();
    assert_eq!(totals, want_totals);
    assert_eq!(
        want_totals["household"],
        shape.grids * shape.households_per_grid
    );
    // (and a resident registered twice in each community's showcase)
    assert_eq!(
        want_totals["resident"],
        shape.grids * shape.residents_per_grid + shape.communities
    );
    assert_eq!(want_totals["event"], shape.grids * shape.events_per_grid);
    // The history shows: closed and open cases, cases raised above their
    // grid, records past due (marked by the closing sweep).
    let events: Vec<&Json> = all.iter().filter(|r| r["collection"] == "event").collect();
    assert!(events.iter().any(|c| c["closed_at"].is_string()));
    assert!(events.iter().any(|c| c["closed_at"].is_null()));
    assert!(all
        .iter()
        .any(|r| r["level"].as_str().is_some_and(|l| l != "grid")));
    assert!(all.iter().any(|r| r["overdue"] == true));
    // A case the closing sweep escalated because its level's time ran out
    // is still overdue at its new level (its statutory limit stays): the
    // overdue lists keep what the sweep raised (issue 16).
    let escalated_late: Vec<&&Json> = events
        .iter()
        .filter(|c| c["level"] != "grid" && c["closed_at"].is_null())
        .filter(|c| {
            c["statutory_deadline"]
                .as_str()
                .is_some_and(|d| d < c["level_since"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        !escalated_late.is_empty(),
        "the demo shows an escalated late case"
    );
    for c in &escalated_late {
        assert_eq!(c["overdue"], true, "{c}");
    }
    // A patrol login reads its rounds but not households.
    let patrol = expected
        .users_of("patrol")
        .find(|u| expected.grids().any(|g| g.code == u.node))
        .unwrap();
    let pt = token(&s, &patrol.username);
    let (st, rounds) = s.get_as(
        &pt,
        &format!("/v1/grids/{}/records?collection=patrol_round", patrol.node),
    );
    assert_eq!(st, 200);
    assert_eq!(
        rounds["records"].as_array().unwrap().len(),
        shape.rounds_per_grid
    );
    let (st, _) = s.get_as(
        &pt,
        &format!("/v1/grids/{}/records?collection=household", patrol.node),
    );
    assert_eq!(st, 403);
}

fn serve_demo_loads_the_demo_once_and_prints_its_logins(b: &Backend) {
    let store = gridsync_server::open_store(&b.database(), 2).unwrap();
    let (first, photos) = fixture::demo(&store).unwrap();
    assert!(first.starts_with("fixture `demo` loaded"), "{first}");
    // Half the events have a photo of the scene: real JPEGs, each hashing
    // to its reference, each on a record, kept as if uploaded.
    assert!(!photos.is_empty());
    let folder = tempfile::tempdir().unwrap();
    let disk = gridsync_server::blobs::disk::DiskStore::open(folder.path()).unwrap();
    let kept = actix_web::rt::System::new()
        .block_on(fixture::keep_photos(&store, &disk, &photos))
        .unwrap();
    assert_eq!(kept, photos.len());
    for p in &photos {
        let sha = &p.reference.sha256;
        assert_eq!(sha, &format!("{:x}", sha2::Sha256::digest(&p.bytes)));
        assert!(gridsync_server::attachments::looks_like(
            &p.bytes,
            "image/jpeg"
        ));
        let known = store.attachment(sha).unwrap();
        assert_eq!(known.kept.map(|k| k.size), Some(p.bytes.len() as i64));
        assert_eq!(known.refs.len(), 1, "one event refers to {sha}");
        assert_eq!(known.refs[0].collection, "event");
        let on_disk = folder.path().join("blobs").join(&sha[..2]).join(sha);
        assert_eq!(std::fs::read(on_disk).unwrap(), p.bytes);
    }
    for login in [
        "admin",
        "supervisor01",
        "worker01",
        "patrol01",
        "police01",
        "mediator01",
    ] {
        assert!(first.contains(login), "{login} is printed: {first}");
    }
    let (again, none) = fixture::demo(&store).unwrap();
    assert!(again.starts_with("demo district already loaded"), "{again}");
    assert!(none.is_empty());
    assert!(again.contains("worker06"), "{again}");
    drop(store);
    let s = TestServer::start(b);
    let login = s.login("worker01", DEMO_PASSWORD);
    assert_eq!(login["user"]["role"], "grid_worker");
}

/// Whether `node` is `grid` or one of its ancestors in `f`'s tree.
fn holds(f: &fixture::Fixture, node: &str, grid: &str) -> bool {
    let mut at = Some(grid);
    while let Some(n) = at {
        if n == node {
            return true;
        }
        at = f
            .nodes
            .iter()
            .find(|x| x.code == n)
            .and_then(|x| x.parent.as_deref());
    }
    false
}

/// Issue 16, item 10: the demo is written by its users' phones. Every login
/// but the admin has one device, registered as enrollment does; every change
/// was pushed by the phone of a user whose role may write its collection in
/// that grid; no record shows a conflict; the rankings count what the grid
/// workers and the mediators did.
fn the_demo_is_written_by_its_users_phones(b: &Backend) {
    let shape = Shape::named("demo").unwrap();
    let options = demo_options();
    let expected = fixture::generate(&shape, options, FIRST).unwrap();
    let store = gridsync_server::open_store(&b.database(), 2).unwrap();
    fixture::load(&store, &shape, options, &mut |_, _| {}).unwrap();

    // One phone each, with the actor the generator planned.
    let users = store.users().unwrap();
    let devices = store.devices(None).unwrap();
    assert_eq!(devices.len(), expected.users.len() - 1);
    let user_of: HashMap<i64, i64> = devices.iter().map(|d| (d.actor, d.user_id)).collect();
    for login in &expected.users {
        let user = users.iter().find(|u| u.username == login.username).unwrap();
        let theirs: Vec<i64> = devices
            .iter()
            .filter(|d| d.user_id == user.id)
            .map(|d| d.actor)
            .collect();
        assert_eq!(
            theirs,
            login.actor.map(i64::from).into_iter().collect::<Vec<_>>()
        );
        assert!(theirs.iter().all(|a| *a >= FIRST_DEVICE_ACTOR));
    }

    // Every change of the fixture is a phone's, and its user may make it.
    let grids: Vec<String> = expected.grids().map(|g| g.code.clone()).collect();
    let day = 86_400_000;
    let activity = store
        .report_activity(&grids, options.as_of - 400 * day, options.as_of + day)
        .unwrap();
    // Every change but those the fixture means to be refused (each
    // community's showcase: a hazard closed too soon, left in quarantine).
    let refused = expected
        .changes
        .iter()
        .filter(|t| t.refused.is_some())
        .count();
    assert_eq!(refused, shape.communities);
    assert_eq!(activity.changes.len(), expected.changes.len() - refused);
    for c in &activity.changes {
        let change = Change::from_json(c.body.as_bytes()).unwrap();
        let user = users.iter().find(|u| u.id == user_of[&c.actor]).unwrap();
        let role = Role::parse(&user.role).unwrap();
        assert!(
            role.may_write(&change.collection),
            "{} wrote {}",
            user.username,
            change.collection
        );
        // A department's staff act on what is dispatched to them.
        assert!(
            role == Role::Department || holds(&expected, &user.node, &change.grid),
            "{}",
            user.username
        );
    }
    let held = store.quarantined(None, None, 100).unwrap();
    assert_eq!(held.len(), shape.communities, "{held:?}");
    assert!(held.iter().all(|q| q.code == "hazard_tasks_open"));

    // No record shows a conflict or a move outside its flow.
    let collections: Vec<String> = gridsync_core::Schema::current()
        .collections
        .iter()
        .map(|c| c.name.to_owned())
        .collect();
    let mut records = 0;
    let mut conflicts = 0;
    for grid in &grids {
        // Only the conflicts each community's showcase means: a hazard's
        // estimated cost, set by two phones offline.
        for c in store.conflicts(grid, &collections, 100).unwrap() {
            assert_eq!(c.collection, "hazard", "{}", c.id);
            conflicts += 1;
        }
        let rows = store
            .list(&RecordQuery {
                grid: grid.clone(),
                collections: collections.clone(),
                limit: 10_000,
                ..RecordQuery::default()
            })
            .unwrap();
        for r in &rows {
            assert_eq!(
                (r.conflicts, &r.flag),
                (
                    i32::from(r.collection == "hazard" && r.conflicts > 0),
                    &None
                ),
                "{} {}",
                r.collection,
                r.id
            );
        }
        records += rows.len();
    }
    assert_eq!(conflicts, shape.communities);
    assert_eq!(records, expected.records.values().sum::<usize>());
    drop(store);

    // The rankings over the whole history: every grid worker and every
    // mediator did something.
    let s = TestServer::start(b);
    let sup = expected
        .users_of("supervisor")
        .find(|u| u.node == shape.district_code)
        .unwrap();
    let st = token(&s, &sup.username);
    let date = |ms: i64| fixture::generate::date(ms);
    let path = format!(
        "/v1/reports/ranking?node={}&from={}&to={}&limit=1000",
        shape.district_code,
        date(options.as_of - 300 * day),
        date(options.as_of)
    );
    let (status, ranking) = s.get_as(&st, &path);
    assert_eq!(status, 200, "{ranking}");
    for (list, role) in [("grid_workers", "grid_worker"), ("mediators", "mediator")] {
        let lines = ranking[list].as_array().unwrap();
        assert_eq!(lines.len(), expected.users_of(role).count(), "{list}");
        for line in lines {
            assert!(line["score"].as_i64().unwrap() > 0, "{list}: {line}");
        }
    }
    // What the grid workers did adds up: their inspections are every
    // inspection of the fixture.
    let inspections: i64 = ranking["grid_workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["inspections"].as_i64().unwrap())
        .sum();
    let made = expected
        .changes
        .iter()
        .filter(|t| {
            t.change.ops.iter().any(
                |o| matches!(o, gridsync_core::Op::Append { field, .. } if field == "inspections"),
            )
        })
        .count();
    assert_eq!(inspections, made as i64);
    assert!(made > 0);
}

/// Issue 16, item 1, on the demo district with the clock moved on by
/// sweeps (each escalating what its level's time let run out): a late case
/// stays late at whatever level it is raised to, so no open case leaves the
/// overdue set; every petition not accepted within 15 days of its receipt
/// is overdue; and cases raised twice or more are there, still late.
fn late_cases_stay_late_as_the_clock_moves_on(b: &Backend) {
    use gridsync_server::store::{CaseQuery, Reach};
    const DAY: i64 = 24 * 3_600_000;
    let shape = Shape::named("demo").unwrap();
    let options = demo_options();
    let store = gridsync_server::open_store(&b.database(), 2).unwrap();
    fixture::load(&store, &shape, options, &mut |_, _| {}).unwrap();
    let grids: Vec<String> = store
        .org_tree()
        .unwrap()
        .into_iter()
        .filter(|n| n.level == "grid")
        .map(|n| n.code)
        .collect();
    let cases: Vec<String> = gridsync_core::Schema::current()
        .cases()
        .map(|c| c.name.to_owned())
        .collect();
    let open_cases = || {
        store
            .cases(&CaseQuery {
                reach: Reach::Grids(grids.clone()),
                levels: None,
                collections: cases.clone(),
                open: true,
                limit: 100_000,
                ..CaseQuery::default()
            })
            .unwrap()
    };
    let late = |rows: &[gridsync_server::db::models::RecordRow]| -> BTreeSet<String> {
        rows.iter()
            .filter(|r| r.overdue)
            .map(|r| r.id.clone())
            .collect()
    };
    let mut before = late(&open_cases());
    assert!(before.len() >= 5, "the demo has late cases: {before:?}");
    let date_ms = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - 8 * 3_600_000
    };
    for days in [1, 16, 45, 75] {
        let at = options.as_of + days * DAY;
        store.sweep(at).unwrap();
        let rows = open_cases();
        let now = late(&rows);
        let vanished: Vec<&String> = before.difference(&now).collect();
        assert!(
            vanished.is_empty(),
            "day {days}: no longer late: {vanished:?}"
        );
        for r in rows.iter().filter(|r| r.collection == "petition") {
            let rec =
                gridsync_core::Record::from_stored(gridsync_core::Schema::current(), &r.state)
                    .unwrap();
            let view = rec.view();
            let received = view.value("received_on").as_str().map(date_ms);
            if r.status.as_deref() == Some("received")
                && received.is_some_and(|t| t + 15 * DAY < at)
            {
                assert!(
                    r.overdue,
                    "day {days}: petition {} at {} not accepted in 15 days",
                    r.id, r.level
                );
            }
        }
        before = now;
    }
    // After 75 days, cases raised twice or more (to the park or the
    // district) are among the late ones.
    let rows = open_cases();
    let high: Vec<&gridsync_server::db::models::RecordRow> = rows
        .iter()
        .filter(|r| r.level == "park" || r.level == "district")
        .collect();
    assert!(!high.is_empty(), "the sweeps raised cases");
    assert!(
        high.iter().all(|r| r.overdue),
        "raised twice and still late"
    );
}
