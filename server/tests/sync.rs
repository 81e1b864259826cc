//! The sync API against the real server on port 0, on SQLite and PostgreSQL.

mod common;

use common::{on_both_backends, Backend, Phone, TestServer};
use gridsync_core::{Level, Value};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(
    two_phones_edit_offline_and_converge,
    the_same_request_twice_is_harmless,
    refused_changes_are_quarantined_and_the_rest_applies,
    a_first_sync_of_a_big_grid_comes_in_pages,
    a_device_far_behind_gets_record_states_then_changes,
    reads_lists_history_and_conflicts,
    concurrent_syncs_on_one_record_both_merge,
    health_readiness_and_metrics,
    a_push_only_sync_answers_results_and_nothing_else,
    a_transfer_over_several_grids_pages_grid_by_grid_and_misses_nothing,
);

const GRID: &str = "420203-001-003-012";

fn status_of(r: &serde_json::Value) -> &str {
    r["status"].as_str().unwrap()
}

fn two_phones_edit_offline_and_converge(b: &Backend) {
    let s = TestServer::start(b);
    let mut a = Phone::enroll(&s, "user11", "grid_worker", GRID, &[GRID]);
    let mut w = Phone::enroll(&s, "user12", "grid_worker", GRID, &[GRID]);
    let id = Uuid::new_v4();
    let c = a.make(|d| {
        d.create("event", GRID, id)
            .set("status", "reported")
            .add("tags", "night")
            .commit()
    });
    let results = a.sync(&s);
    assert_eq!(status_of(&results[0]), "applied");
    assert_eq!(results[0]["seq"], c.seq);
    assert!(results[0]["server_seq"].as_i64().unwrap() >= 1);

    w.sync(&s);
    assert!(
        w.device.replica().record(id).is_some(),
        "the second phone pulled the record"
    );

    // Offline, both move the case; one also adds a log entry and escalates.
    a.make(|d| d.edit(id).set("status", "accepted").commit());
    let entry = gridsync_core::Entry {
        id: Uuid::new_v4(),
        at: "2026-11-28T10:00:00+08:00".into(),
        fields: [("action".to_string(), Value::from("visit"))].into(),
    };
    w.make(|d| {
        d.edit(id)
            .set("status", "rejected")
            .append("actions", entry)
            .escalate(Level::Community)
            .commit()
    });
    a.sync(&s);
    w.sync(&s);
    a.sync(&s);

    let ours = a.device.replica().view();
    assert_eq!(ours, w.device.replica().view(), "both phones agree");
    let server = s.get(&format!("/v1/records/{id}"));
    let record = &server["record"];
    assert_eq!(record["conflicted"], true);
    assert_eq!(record["level"], "community");
    assert_eq!(
        record["fields"]["status"]["conflict"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(record["fields"]["actions"].as_array().unwrap().len(), 1);
    assert_eq!(
        serde_json::to_value(&ours[&id]).unwrap()["fields"],
        record["fields"],
        "the server shows what the phones show"
    );

    // A supervisor's phone that has seen both resolves the conflict.
    a.make(|d| d.edit(id).set("status", "verified").commit());
    a.sync(&s);
    let record = &s.get(&format!("/v1/records/{id}"))["record"];
    assert_eq!(record["conflicted"], false);
    assert_eq!(record["fields"]["status"]["value"], "verified");
    assert_eq!(
        s.get(&format!("/v1/grids/{GRID}/conflicts"))["records"],
        json!([])
    );
}

fn the_same_request_twice_is_harmless(b: &Backend) {
    let s = TestServer::start(b);
    let mut a = Phone::enroll(&s, "user21", "grid_worker", GRID, &[GRID]);
    let id = Uuid::new_v4();
    let c1 = a.make(|d| {
        d.create("household", GRID, id)
            .set("address", "1 Lane")
            .commit()
    });
    let c2 = a.make(|d| d.edit(id).set("owner_name", "Li").commit());
    let body = json!({"actor": a.actor(), "batch": Uuid::new_v4().to_string(), "cursor": 0, "grids": [GRID], "changes": [c1, c2]});
    let (st, first) = s.sync(&a.token, body.clone());
    assert_eq!(st, 200);
    let (st, second) = s.sync(&a.token, body);
    assert_eq!(st, 200);
    let statuses = |r: &serde_json::Value| {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| status_of(x).to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&first), ["applied", "applied"]);
    assert_eq!(statuses(&second), ["duplicate", "duplicate"]);
    let rec = s.get(&format!("/v1/records/{id}"));
    assert_eq!(rec["history"].as_array().unwrap().len(), 2, "logged once");
    assert_eq!(rec["record"]["fields"]["owner_name"]["value"], "Li");
    // A duplicate inside one batch is a duplicate too.
    let c3 = a.make(|d| d.edit(id).set("rental", true).commit());
    let (_, r) = s.sync(
        &a.token,
        json!({"actor": a.actor(), "grids": [GRID], "changes": [c3, c3]}),
    );
    assert_eq!(statuses(&r), ["applied", "duplicate"]);
}

fn refused_changes_are_quarantined_and_the_rest_applies(b: &Backend) {
    let s = TestServer::start(b);
    let mut a = Phone::enroll(&s, "user31", "grid_worker", GRID, &[GRID]);
    let good = a.make(|d| {
        d.create("event", GRID, Uuid::new_v4())
            .set("status", "reported")
            .commit()
    });
    let mut bad = a
        .device
        .create("event", GRID, Uuid::new_v4())
        .set("title", "x")
        .commit()
        .unwrap();
    bad.ops = vec![gridsync_core::Op::Set {
        field: "status".into(),
        value: Value::from("teleported"),
        seen: Default::default(),
    }];
    let malformed = json!({"actor": 31, "seq": 99, "record": "not-a-uuid"});
    let mut other_actor = good.clone();
    other_actor.actor = 32;
    let (st, r) = s.sync(
        &a.token,
        json!({"actor": a.actor(), "grids": [GRID], "changes": [good, bad, malformed, other_actor]}),
    );
    assert_eq!(st, 200);
    let res = r["results"].as_array().unwrap();
    assert_eq!(status_of(&res[0]), "applied");
    assert_eq!(
        (
            status_of(&res[1]),
            res[1]["code"].as_str(),
            res[1]["field"].as_str()
        ),
        ("refused", Some("value_not_allowed"), Some("status"))
    );
    assert_eq!(
        (status_of(&res[2]), res[2]["code"].as_str()),
        ("refused", Some("malformed_change"))
    );
    assert_eq!(
        (status_of(&res[3]), res[3]["code"].as_str()),
        ("refused", Some("actor_mismatch"))
    );
    assert!(res[1]["message"].as_str().unwrap().contains("teleported"));

    // A reused sequence number with other content is refused loudly too.
    let mut reused = bad.clone();
    reused.seq = 1;
    reused.ops = vec![gridsync_core::Op::Set {
        field: "title".into(),
        value: Value::from("other"),
        seen: Default::default(),
    }];
    let (_, r) = s.sync(
        &a.token,
        json!({"actor": a.actor(), "grids": [GRID], "changes": [reused]}),
    );
    assert_eq!(r["results"][0]["code"], "reused_sequence");

    // The admin sees every refused change; a supervisor those of their grids.
    let (_, all) = s.get_as(&s.admin_token(), "/v1/quarantine");
    let q = all["changes"].as_array().unwrap().clone();
    let codes: Vec<&str> = q.iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "value_not_allowed",
            "malformed_change",
            "actor_mismatch",
            "reused_sequence"
        ]
    );
    assert!(
        q[1]["body"].as_str().unwrap().contains("not-a-uuid"),
        "the bytes sent are kept"
    );
    // Sending the same refused change again does not fill the quarantine.
    let (_, _) = s.sync(
        &a.token,
        json!({"actor": a.actor(), "grids": [GRID], "changes": [bad]}),
    );
    assert_eq!(
        s.get_as(
            &s.admin_token(),
            &format!("/v1/quarantine?actor={}", a.actor())
        )
        .1["changes"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        s.get(&format!("/v1/quarantine?grid={GRID}"))["changes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

fn a_first_sync_of_a_big_grid_comes_in_pages(b: &Backend) {
    let s = TestServer::start(b);
    let mut writer = Phone::enroll(&s, "user41", "grid_worker", GRID, &[GRID]);
    let mut ids = Vec::new();
    for i in 0..57 {
        let id = Uuid::new_v4();
        ids.push(id);
        writer.make(|d| {
            d.create("resident", GRID, id)
                .set("name", format!("居民{i}"))
                .commit()
        });
    }
    writer.sync(&s);
    // Elsewhere: a record of another grid, which the reader must not get.
    let mut other = Phone::enroll(&s, "user42", "grid_worker", "other-grid", &["other-grid"]);
    other.make(|d| {
        d.create("place", "other-grid", Uuid::new_v4())
            .set("name", "x")
            .commit()
    });
    other.sync(&s);

    let mut reader = Phone::enroll(&s, "user43", "grid_worker", GRID, &[GRID]);
    reader.page = 10;
    let mut pages = 0;
    let mut resume = serde_json::Value::Null;
    loop {
        let mut body =
            json!({"actor": reader.actor(), "cursor": reader.cursor, "grids": [GRID], "limit": 10});
        if !resume.is_null() {
            body["resume"] = resume.clone();
        }
        let (_, r) = s.sync(&reader.token, body);
        pages += 1;
        assert!(r["records"].as_array().map_or(0, |v| v.len()) <= 10);
        resume = r.get("resume").cloned().unwrap_or_default();
        if !r["more"].as_bool().unwrap() {
            reader.cursor = r["cursor"].clone();
            break;
        }
        let empty = s.sync(&reader.token, json!({"grids": ["g2"]})).1["cursor"].clone();
        assert_eq!(
            r["cursor"], empty,
            "the cursor only moves when the transfer ends"
        );
    }
    assert_eq!(pages, 6);
    // The phone's own loop gets the same 57 records, none of the other grid.
    let mut fresh = Phone::enroll(&s, "user44", "grid_worker", GRID, &[GRID]);
    fresh.page = 10;
    fresh.sync(&s);
    assert_eq!(fresh.device.replica().records().count(), 57);
    assert_eq!(
        fresh.device.replica().view(),
        writer.device.replica().view()
    );
    // Caught up: the next pull from its cursor brings nothing.
    let (st, r) = s.sync(
        &fresh.token,
        json!({"cursor": fresh.cursor, "grids": [GRID]}),
    );
    assert_eq!(st, 200, "{r}");
    assert!(
        r.get("changes").is_none() && r.get("records").is_none(),
        "{r}"
    );
    assert_eq!(r["cursor"], fresh.cursor);
}

fn a_device_far_behind_gets_record_states_then_changes(b: &Backend) {
    let s = TestServer::start_with(b, gridsync_server::Limits::default(), 5);
    let mut a = Phone::enroll(&s, "user51", "grid_worker", GRID, &[GRID]);
    let mut w = Phone::enroll(&s, "user52", "grid_worker", GRID, &[GRID]);
    let id = Uuid::new_v4();
    a.make(|d| {
        d.create("event", GRID, id)
            .set("status", "reported")
            .commit()
    });
    a.sync(&s);
    w.sync(&s);
    // A writes a lot while W is offline: W gets states, not 30 changes.
    for i in 0..30 {
        a.make(|d| d.edit(id).set("title", format!("t{i}")).commit());
    }
    a.sync(&s);
    let (_, r) = s.sync(
        &w.token,
        json!({"actor": w.actor(), "cursor": w.cursor, "grids": [GRID]}),
    );
    assert_eq!(r["records"].as_array().unwrap().len(), 1);
    assert!(r.get("changes").is_none());
    w.sync(&s);
    assert_eq!(w.device.replica().view(), a.device.replica().view());
    // A little later, a few changes come as changes.
    a.make(|d| d.edit(id).set("severity", "high").commit());
    a.sync(&s);
    let (_, r) = s.sync(
        &w.token,
        json!({"actor": w.actor(), "cursor": w.cursor, "grids": [GRID]}),
    );
    assert_eq!(r["changes"].as_array().unwrap().len(), 1);
    assert!(r.get("records").is_none());
}

fn reads_lists_history_and_conflicts(b: &Backend) {
    let s = TestServer::start(b);
    let mut a = Phone::enroll(&s, "user61", "grid_worker", GRID, &[GRID]);
    let mut w = Phone::enroll(&s, "user62", "grid_worker", GRID, &[GRID]);
    let mut events = Vec::new();
    for (i, close) in [false, true, false].into_iter().enumerate() {
        let id = Uuid::new_v4();
        events.push(id);
        a.make(|d| {
            d.create("event", GRID, id)
                .set("status", "reported")
                .set("title", format!("e{i}"))
                .commit()
        });
        if close {
            a.make(|d| d.edit(id).set("status", "rejected").commit());
        }
    }
    let hh = Uuid::new_v4();
    a.make(|d| {
        d.create("household", GRID, hh)
            .set("address", "2 Lane")
            .commit()
    });
    a.sync(&s);
    w.sync(&s);
    a.make(|d| d.edit(events[0]).set("assignee", "user:user61").commit());
    w.make(|d| d.edit(events[0]).set("assignee", "user62").commit());
    w.make(|d| d.delete(hh));
    a.sync(&s);
    w.sync(&s);

    let all = s.get(&format!("/v1/grids/{GRID}/records"));
    assert_eq!(
        all["records"].as_array().unwrap().len(),
        3,
        "the deleted household is hidden"
    );
    let with_deleted = s.get(&format!("/v1/grids/{GRID}/records?include_deleted=true"));
    assert_eq!(with_deleted["records"].as_array().unwrap().len(), 4);
    let reported = s.get(&format!(
        "/v1/grids/{GRID}/records?collection=event&status=reported"
    ));
    assert_eq!(reported["records"].as_array().unwrap().len(), 2);
    let closed = s.get(&format!("/v1/grids/{GRID}/records?status=rejected"));
    assert!(closed["records"][0]["closed_at"].is_string(), "{closed}");
    // Paging.
    let page1 = s.get(&format!("/v1/grids/{GRID}/records?limit=2"));
    let next = page1["next"].as_str().unwrap();
    let page2 = s.get(&format!("/v1/grids/{GRID}/records?limit=2&after={next}"));
    assert_eq!(page2["records"].as_array().unwrap().len(), 1);
    assert!(page2.get("next").is_none());
    let future = s.get(&format!(
        "/v1/grids/{GRID}/records?updated_since=2999-01-01T00:00:00Z"
    ));
    assert_eq!(future["records"], json!([]));

    let conflicts = s.get(&format!("/v1/grids/{GRID}/conflicts"));
    let recs = conflicts["records"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    let expected = vec![i64::from(a.actor()), i64::from(w.actor())];
    let writers: Vec<i64> = recs[0]["fields"]["assignee"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["actor"].as_i64().unwrap())
        .collect();
    assert_eq!(writers, expected);

    let rec = s.get(&format!("/v1/records/{}", events[0]));
    let history = rec["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert!(history
        .windows(2)
        .all(|w| w[0]["server_seq"].as_i64() < w[1]["server_seq"].as_i64()));
    assert_eq!(history[0]["change"]["ops"][0]["set"]["field"], "status");
}

fn concurrent_syncs_on_one_record_both_merge(b: &Backend) {
    // Two server processes' worth: two servers on one database.
    let s1 = TestServer::start(b);
    let s2 = TestServer::start(b);
    let id = Uuid::new_v4();
    let mut seed = Phone::enroll(&s1, "user70", "grid_worker", GRID, &[GRID]);
    seed.make(|d| {
        d.create("patrol_round", GRID, id)
            .set("route", "night")
            .commit()
    });
    seed.sync(&s1);
    let mut phones: Vec<Phone> = (71..=74)
        .map(|a| Phone::enroll(&s1, &format!("user{a}"), "grid_worker", GRID, &[GRID]))
        .collect();
    for p in &mut phones {
        p.sync(&s1);
    }
    // Each phone appends 25 check-ins and sets its own fields, offline.
    for (i, p) in phones.iter_mut().enumerate() {
        for k in 0..25 {
            let entry = gridsync_core::Entry {
                id: Uuid::new_v4(),
                at: format!("2026-11-28T21:{k:02}:00+08:00"),
                fields: [
                    ("checkpoint".to_string(), Value::from(format!("cp{i}-{k}"))),
                    ("method".to_string(), Value::from("qr")),
                ]
                .into(),
            };
            p.make(|d| {
                d.edit(id)
                    .append("check_ins", entry)
                    .add("members", &format!("m{i}"))
                    .commit()
            });
        }
    }
    std::thread::scope(|scope| {
        for (i, p) in phones.iter_mut().enumerate() {
            let server = if i % 2 == 0 { &s1 } else { &s2 };
            scope.spawn(move || {
                for r in p.sync(server) {
                    assert_eq!(r["status"], "applied", "{r}");
                }
            });
        }
    });
    let rec = s1.get(&format!("/v1/records/{id}"))["record"].clone();
    assert_eq!(
        rec["fields"]["check_ins"].as_array().unwrap().len(),
        100,
        "no check-in lost"
    );
    assert_eq!(rec["fields"]["members"], json!(["m0", "m1", "m2", "m3"]));
    assert_eq!(s2.get(&format!("/v1/records/{id}"))["record"], rec);
    // The log is gap-free and holds every change once.
    let history = s2.get(&format!("/v1/records/{id}?history=1000"))["history"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(history.len(), 101);
}

fn health_readiness_and_metrics(b: &Backend) {
    let s = TestServer::start(b);
    assert_eq!(s.get("/healthz")["status"], "ok");
    assert_eq!(s.get("/readyz")["status"], "ready");
    let mut a = Phone::enroll(&s, "user81", "grid_worker", GRID, &[GRID]);
    a.make(|d| {
        d.create("event", GRID, Uuid::new_v4())
            .set("status", "reported")
            .commit()
    });
    a.sync(&s);
    let text = ureq::get(&s.url("/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        text.contains("gridsync_sync_changes_total{outcome=\"applied\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "gridsync_http_requests_total{method=\"POST\",route=\"/v1/sync\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("gridsync_sync_duration_seconds_bucket"),
        "{text}"
    );
    let schema = s.get("/v1/schema");
    assert_eq!(schema["version"], gridsync_core::SCHEMA_VERSION);
}

/// `"pull": false`: the answer carries the results and no pull at all, even
/// with other devices' changes waiting; the device's cursor stays usable.
fn a_push_only_sync_answers_results_and_nothing_else(b: &Backend) {
    let s = TestServer::start(b);
    let mut other = Phone::enroll(&s, "user61", "grid_worker", GRID, &[GRID]);
    let mut me = Phone::enroll(&s, "user62", "grid_worker", GRID, &[GRID]);
    me.sync(&s);
    for i in 0..20 {
        other.make(|d| {
            d.create("resident", GRID, Uuid::new_v4())
                .set("name", format!("居民{i}"))
                .commit()
        });
    }
    other.sync(&s);
    let c = me.make(|d| {
        d.create("event", GRID, Uuid::new_v4())
            .set("status", "reported")
            .commit()
    });
    let (st, r) = s.sync(
        &me.token,
        json!({"actor": me.actor(), "cursor": me.cursor, "grids": [GRID],
               "changes": [c], "pull": false}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["actor", "batch", "more", "results"], "{r}");
    // The same push again, as a retry: a duplicate, still no pull.
    let (_, again) = s.sync(
        &me.token,
        json!({"actor": me.actor(), "cursor": me.cursor, "changes": [c], "pull": false}),
    );
    assert_eq!(again["results"][0]["status"], "duplicate", "{again}");
    // The next pull from the cursor kept brings the other phone's 20
    // records (beside its own event, which it has).
    me.outbox.clear();
    me.sync(&s);
    assert_eq!(me.device.replica().records().count(), 21);
}

/// A first pull of several grids goes grid by grid, each by record id, and
/// pages may end inside a grid: every state arrives once, even an id that
/// two grids hold (ids are unique only within a grid), whatever the page.
fn a_transfer_over_several_grids_pages_grid_by_grid_and_misses_nothing(b: &Backend) {
    let s = TestServer::start(b);
    let shared = Uuid::new_v4();
    let mut made: Vec<(String, String)> = Vec::new();
    for (grid, n) in [("g1", 7), ("g2", 1), ("g3", 6)] {
        let mut w = Phone::enroll(&s, &format!("w-{grid}"), "grid_worker", grid, &[grid]);
        for i in 0..n {
            // The first record of g1 and of g3 share an id.
            let id = if i == 0 && grid != "g2" {
                shared
            } else {
                Uuid::new_v4()
            };
            w.make(|d| {
                d.create("household", grid, id)
                    .set("address", format!("{grid} #{i}"))
                    .commit()
            });
            made.push((grid.to_owned(), id.to_string()));
        }
        w.sync(&s);
    }
    made.sort();
    let grids = ["g1", "g2", "g3"];
    let reader = Phone::enroll(&s, "sup", "supervisor", "d", &grids);
    for limit in [1, 3, 4, 7, 100] {
        let mut got: Vec<(String, String)> = Vec::new();
        let mut resume = serde_json::Value::Null;
        let mut pages = 0;
        loop {
            let mut body =
                json!({"actor": reader.actor(), "cursor": 0, "grids": grids, "limit": limit});
            if !resume.is_null() {
                body["resume"] = resume.clone();
            }
            let (st, r) = s.sync(&reader.token, body);
            assert_eq!(st, 200, "{r}");
            pages += 1;
            for rec in r["records"].as_array().into_iter().flatten() {
                got.push((
                    rec["grid"].as_str().unwrap().to_owned(),
                    rec["id"].as_str().unwrap().to_owned(),
                ));
            }
            resume = r.get("resume").cloned().unwrap_or_default();
            if !r["more"].as_bool().unwrap() {
                break;
            }
        }
        // In grid order, each grid by id: the order the server promises.
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "limit {limit}");
        assert_eq!(got, made, "limit {limit}");
        assert_eq!(pages, made.len().div_ceil(limit), "limit {limit}");
    }
}
