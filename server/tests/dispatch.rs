//! Dispatch (分拨) and the inbox, over HTTP against the real server, on both
//! backends: departments are org nodes with staff; a case's assignee names a
//! user or a department the server knows; a department's staff see and act
//! on exactly the cases dispatched to it, whatever their grid; everyone's
//! inbox lists what is theirs to do, by the API and at the end of a pull.

mod common;

use common::{on_both_backends, Backend, Phone, TestServer};
use serde_json::{json, Value as Json};
use uuid::Uuid;

on_both_backends!(
    departments_act_on_what_is_dispatched_to_them,
    the_inbox_lists_what_is_yours_to_do,
    a_full_inbox_list_keeps_the_most_urgent,
    a_hazard_closes_when_its_department_tasks_are_done,
);

/// A department node `code` under the district.
fn department(s: &TestServer, code: &str, name: &str) {
    let (st, body) = s.call(
        s.authed(ureq::post(&s.url("/v1/org/nodes")), &s.admin_token()),
        Some(json!({"code": code, "parent": "d", "level": "department", "name": name})),
    );
    assert_eq!(st, 201, "{body}");
}

fn status(results: &[Json]) -> Vec<(String, String)> {
    results
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Push a phone's outbox without pulling (a department pulls no grids).
fn push_only(s: &TestServer, p: &mut Phone) -> Vec<Json> {
    let changes: Vec<Json> = p
        .outbox
        .drain(..)
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    let (st, body) = s.sync(
        &p.token,
        json!({"actor": p.actor(), "changes": changes, "pull": false}),
    );
    assert_eq!(st, 200, "{body}");
    body["results"].as_array().unwrap().clone()
}

fn kinds(inbox: &Json, kind: &str) -> Vec<String> {
    inbox["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no inbox: {inbox}"))
        .iter()
        .filter(|i| i["kind"] == kind)
        .map(|i| {
            i["record"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("quarantine:{}", i["quarantine"]))
        })
        .collect()
}

fn departments_act_on_what_is_dispatched_to_them(b: &Backend) {
    let s = TestServer::start(b);
    department(&s, "dw", "区水务局");
    department(&s, "df", "区消防救援大队");
    let mut worker = Phone::enroll(&s, "w1", "grid_worker", "g1", &["g1"]);
    let mut far = Phone::enroll(&s, "w3", "grid_worker", "g3", &["g3"]);
    let mut water = Phone::enroll(&s, "water1", "department", "dw", &[]);

    // Cases in two grids of two parks dispatched to the water bureau, one to
    // the fire brigade, one to nobody yet; and assignees nobody knows.
    let (leak, flood, fire, open) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    for (id, to) in [(leak, "department:dw"), (fire, "department:df")] {
        worker.make(|d| {
            d.create("event", "g1", id)
                .set("title", "漏水")
                .set("status", "reported")
                .set("assignee", to)
                .commit()
        });
    }
    worker.make(|d| {
        d.create("event", "g1", open)
            .set("title", "未分拨")
            .set("status", "reported")
            .commit()
    });
    for to in ["department:nowhere", "user:nobody"] {
        worker.make(|d| {
            d.create("event", "g1", Uuid::new_v4())
                .set("title", "x")
                .set("assignee", to)
                .commit()
        });
    }
    assert_eq!(
        status(&worker.sync(&s)),
        [
            ("applied".into(), "".into()),
            ("applied".into(), "".into()),
            ("applied".into(), "".into()),
            ("refused".into(), "unknown_assignee".into()),
            ("refused".into(), "unknown_assignee".into()),
        ]
    );
    // Free text is no assignee: the device refuses it, and so does the
    // server when another client sends it.
    let e = worker
        .device
        .create("event", "g1", Uuid::new_v4())
        .set("assignee", "水务局 张科长")
        .commit()
        .unwrap_err();
    assert_eq!(e.code(), "invalid_assignee");
    let mut raw = serde_json::to_value(
        worker
            .device
            .create("event", "g1", Uuid::new_v4())
            .set("assignee", "user:w1")
            .commit()
            .unwrap(),
    )
    .unwrap();
    let text = raw.to_string().replace("user:w1", "水务局 张科长");
    raw = serde_json::from_str(&text).unwrap();
    let (st, body) = s.sync(
        &worker.token,
        json!({"actor": worker.actor(), "changes": [raw], "pull": false}),
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["results"][0]["code"], "invalid_assignee", "{body}");
    far.make(|d| {
        d.create("hazard", "g3", flood)
            .set("description", "内涝")
            .set("status", "reported")
            .set("assignee", "department:dw")
            .commit()
    });
    assert_eq!(status(&far.sync(&s)), [("applied".into(), "".into())]);

    // The bureau reads its two cases, in both grids, and nothing else.
    for (id, seen) in [(leak, true), (flood, true), (fire, false), (open, false)] {
        let (st, body) = s.get_as(&water.token, &format!("/v1/records/{id}"));
        assert_eq!(st == 200, seen, "{id}: {st} {body}");
    }
    let (st, list) = s.get_as(&water.token, "/v1/nodes/dw/cases");
    assert_eq!(st, 200, "{list}");
    let mut ids: Vec<&str> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = [leak.to_string(), flood.to_string()];
    want.sort();
    assert_eq!(ids, want);
    // Another department's list is out of its reach.
    let (st, body) = s.get_as(&water.token, "/v1/nodes/df/cases");
    assert_eq!((st, body["code"].as_str()), (403, Some("out_of_scope")));

    // It acts on them: its device rebuilds each case from the history the
    // API gives (the bureau's own for its case; the fire brigade's case, as
    // the chief reads it, stands for a device that knows of it anyway), and
    // only what is dispatched to it is taken; the rest is refused and kept.
    for (id, token) in [(leak, water.token.clone()), (fire, s.supervisor_token())] {
        learn(&s, &mut water, &token, id);
        water.make(|d| d.edit(id).set("status", "accepted").commit());
    }
    assert_eq!(
        status(&push_only(&s, &mut water)),
        [
            ("applied".into(), "".into()),
            ("refused".into(), "not_dispatched".into())
        ]
    );
    let (_, leak_now) = s.get_as(&water.token, &format!("/v1/records/{leak}"));
    assert_eq!(
        leak_now["record"]["fields"]["status"]["value"], "accepted",
        "{leak_now}"
    );
    let (_, quarantine) = s.get_as(&s.supervisor_token(), "/v1/quarantine");
    assert!(
        quarantine["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["code"] == "not_dispatched" && q["record_id"] == fire.to_string()),
        "{quarantine}"
    );
}

fn the_inbox_lists_what_is_yours_to_do(b: &Backend) {
    let s = TestServer::start(b);
    department(&s, "dw", "区水务局");
    let mut worker = Phone::enroll(&s, "w1", "grid_worker", "g1", &["g1"]);
    let mut other = Phone::enroll(&s, "w1b", "grid_worker", "g1", &["g1"]);
    let water = Phone::enroll(&s, "water1", "department", "dw", &[]);
    let chief = s.supervisor_token();

    let past = "2026-01-01T08:00:00+08:00";
    let (mine, late, dispatched, conflicted) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    worker.make(|d| {
        d.create("event", "g1", mine)
            .set("title", "交给我")
            .set("status", "reported")
            .set("assignee", "user:w1b")
            .commit()
    });
    worker.make(|d| {
        d.create("event", "g1", late)
            .set("title", "超期")
            .set("status", "reported")
            .set("deadline", past)
            .commit()
    });
    worker.make(|d| {
        d.create("event", "g1", dispatched)
            .set("title", "分拨")
            .set("status", "reported")
            .set("assignee", "department:dw")
            .commit()
    });
    worker.make(|d| {
        d.create("household", "g1", conflicted)
            .set("address", "1号")
            .commit()
    });
    worker.sync(&s);
    other.sync(&s);
    // Two phones write one field unaware of each other: a conflict.
    worker.make(|d| d.edit(conflicted).set("address", "1号楼").commit());
    other.make(|d| d.edit(conflicted).set("address", "一号楼").commit());
    worker.sync(&s);
    other.sync(&s);
    // A change outside the worker's grid: refused, awaiting the chief.
    worker.make(|d| {
        d.create("event", "g3", Uuid::new_v4())
            .set("title", "越界")
            .commit()
    });
    worker.sync(&s);

    // The grid worker who was assigned one: by the API and with the pull.
    let (st, inbox) = s.get_as(&other.token, "/v1/inbox");
    assert_eq!(st, 200, "{inbox}");
    assert_eq!(kinds(&inbox, "assigned"), [mine.to_string()]);
    assert_eq!(kinds(&inbox, "overdue"), [late.to_string()]);
    assert_eq!(kinds(&inbox, "conflict"), [conflicted.to_string()]);
    assert!(kinds(&inbox, "quarantined").is_empty());
    other.sync(&s);
    assert_eq!(
        other.inbox["items"], inbox["items"],
        "the pull brings the same"
    );
    // The items carry the schema's title.
    let item = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "assigned")
        .unwrap();
    assert_eq!(item["label"], "交给我");
    // Rows written before labels were kept: the label comes from the state.
    assert!(b.execute("UPDATE records SET label = NULL") > 0);
    let (_, unlabelled) = s.get_as(&other.token, "/v1/inbox");
    assert_eq!(unlabelled["items"], inbox["items"]);

    // An inbox the device holds is not sent again: a pull that names its
    // digest is told `inbox_unchanged`; another digest gets the inbox.
    let held = inbox["digest"]
        .as_str()
        .expect("the inbox has a digest")
        .to_owned();
    assert_eq!(held.len(), 32, "{inbox}");
    assert_eq!(
        other.inbox["digest"], inbox["digest"],
        "the pull's is the same"
    );
    let pull = |digest: &str| {
        let (st, body) = s.sync(
            &other.token,
            json!({"actor": other.actor(), "grids": ["g1"], "inbox_digest": digest}),
        );
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["more"], false, "{body}");
        body
    };
    let again = pull(&held);
    assert!(again.get("inbox").is_none(), "{again}");
    assert_eq!(again["inbox_unchanged"], true, "{again}");
    let stale = pull(&"0".repeat(32));
    assert_eq!(stale["inbox"]["items"], inbox["items"], "{stale}");
    assert!(stale.get("inbox_unchanged").is_none(), "{stale}");
    // Something new to do: the digest held names an older inbox.
    let another = Uuid::new_v4();
    worker.make(|d| {
        d.create("event", "g1", another)
            .set("title", "又一件")
            .set("status", "reported")
            .set("assignee", "user:w1b")
            .commit()
    });
    worker.sync(&s);
    let changed = pull(&held);
    let mut assigned = kinds(&changed["inbox"], "assigned");
    assigned.sort();
    let mut want = vec![mine.to_string(), another.to_string()];
    want.sort();
    assert_eq!(assigned, want);
    assert_ne!(changed["inbox"]["digest"].as_str(), Some(held.as_str()));

    // The department: what is dispatched to it, by the API and with a
    // pull of its phone (which pulls no grid).
    let (_, inbox) = s.get_as(&water.token, "/v1/inbox");
    assert_eq!(kinds(&inbox, "assigned"), [dispatched.to_string()]);
    let (st, pulled) = s.sync(&water.token, json!({"actor": water.actor()}));
    assert_eq!(st, 200, "{pulled}");
    assert_eq!(pulled["inbox"]["items"], inbox["items"], "{pulled}");
    assert!(kinds(&inbox, "conflict").is_empty());

    // The district chief: refused changes to decide; grid-level cases are
    // not theirs until escalated.
    let (_, inbox) = s.get_as(&chief, "/v1/inbox");
    assert_eq!(kinds(&inbox, "quarantined").len(), 1, "{inbox}");
    assert!(kinds(&inbox, "overdue").is_empty(), "{inbox}");
    // Escalated to the district: now theirs, and late.
    let mut boss = Phone::enroll_existing(&s, "chief", common::PASSWORD, &["g1"]);
    boss.sync(&s);
    for level in [
        gridsync_core::Level::Community,
        gridsync_core::Level::Park,
        gridsync_core::Level::District,
    ] {
        boss.make(|d| d.edit(late).escalate(level).commit());
    }
    boss.sync(&s);
    let (_, inbox) = s.get_as(&chief, "/v1/inbox");
    assert_eq!(kinds(&inbox, "escalated"), [late.to_string()], "{inbox}");
    assert_eq!(kinds(&inbox, "overdue"), [late.to_string()], "{inbox}");

    // An admin handles nothing.
    let (st, body) = s.get_as(&s.admin_token(), "/v1/inbox");
    assert_eq!((st, body["code"].as_str()), (403, Some("forbidden")));
}

fn a_full_inbox_list_keeps_the_most_urgent(b: &Backend) {
    let s = TestServer::start(b);
    let mut worker = Phone::enroll(&s, "w1", "grid_worker", "g1", &["g1"]);
    // 53 late events, one day apart, made in an order unrelated to their
    // deadlines (ids are random too).
    let mut by_due: Vec<(String, Uuid)> = Vec::new();
    for i in 0..53u32 {
        let day = (i * 20) % 53 + 1;
        let due = format!(
            "2026-{:02}-{:02}T08:00:00+08:00",
            1 + (day - 1) / 28,
            1 + (day - 1) % 28
        );
        let id = Uuid::new_v4();
        worker.make(|d| {
            d.create("event", "g1", id)
                .set("title", "超期")
                .set("status", "reported")
                .set("deadline", due.as_str())
                .commit()
        });
        by_due.push((due, id));
    }
    worker.sync(&s);
    by_due.sort();
    let (st, inbox) = s.get_as(&worker.token, "/v1/inbox");
    assert_eq!(st, 200, "{inbox}");
    let want: Vec<String> = by_due[..50].iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(
        kinds(&inbox, "overdue"),
        want,
        "the 50 most overdue, in order"
    );
    assert_eq!(inbox["truncated"], json!(["overdue"]), "{inbox}");
    worker.sync(&s);
    assert_eq!(
        worker.inbox["items"], inbox["items"],
        "the pull brings the same"
    );
}

/// A device of `p` learns record `id` from its history, as `token` reads it.
fn learn(s: &TestServer, p: &mut Phone, token: &str, id: Uuid) {
    let (st, body) = s.get_as(token, &format!("/v1/records/{id}?history=100"));
    assert_eq!(st, 200, "{body}");
    for h in body["history"].as_array().unwrap() {
        let change: gridsync_core::Change = serde_json::from_value(h["change"].clone()).unwrap();
        p.device.receive(&change).unwrap();
    }
}

fn recheck(result: &str) -> gridsync_core::Entry {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("result".to_owned(), gridsync_core::Value::from(result));
    gridsync_core::Entry {
        id: Uuid::new_v4(),
        at: chrono::Utc::now().to_rfc3339(),
        fields,
    }
}

fn a_hazard_closes_when_its_department_tasks_are_done(b: &Backend) {
    let s = TestServer::start(b);
    department(&s, "dw", "区水务局");
    department(&s, "df", "区消防救援大队");
    let mut chief = Phone::enroll(&s, "boss", "supervisor", "d", &["g1"]);
    let mut water = Phone::enroll(&s, "water1", "department", "dw", &[]);
    let mut fire = Phone::enroll(&s, "fire1", "department", "df", &[]);

    // A hazard under joint remediation: a task for each department.
    let hazard = Uuid::new_v4();
    chief.make(|d| {
        d.create("hazard", "g1", hazard)
            .set("description", "地下车库积水且消防通道堵塞")
            .set("status", "reported")
            .commit()
    });
    for status in ["confirmed", "rectifying"] {
        chief.make(|d| d.edit(hazard).set("status", status).commit());
    }
    let (wt, ft) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, to, what) in [
        (wt, "department:dw", "排水"),
        (ft, "department:df", "清理消防通道"),
    ] {
        chief.make(|d| {
            d.create("hazard_task", "g1", id)
                .set("hazard", hazard.to_string())
                .set("task", what)
                .set("assignee", to)
                .set("status", "assigned")
                .set("deadline", "2026-01-01T18:00:00+08:00")
                .commit()
        });
    }
    chief.make(|d| d.edit(hazard).set("status", "rechecked").commit());
    chief.make(|d| d.edit(hazard).set("status", "closed").commit());
    let results = status(&chief.sync(&s));
    assert_eq!(
        results.last().unwrap(),
        &("refused".to_owned(), "hazard_tasks_open".to_owned()),
        "{results:?}"
    );
    assert!(results[..results.len() - 1]
        .iter()
        .all(|(st, _)| st == "applied"));

    // Each department sees its task, late, in its inbox; works it; and
    // cannot touch the other's.
    let (_, inbox) = s.get_as(&water.token, "/v1/inbox");
    assert_eq!(kinds(&inbox, "overdue"), [wt.to_string()], "{inbox}");
    let (_, list) = s.get_as(&water.token, "/v1/nodes/dw/cases");
    let listed: Vec<&str> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [wt.to_string()], "its department's list: {list}");
    let (water_token, chief_token) = (water.token.clone(), chief.token.clone());
    learn(&s, &mut water, &water_token, wt);
    learn(&s, &mut water, &chief_token, ft);
    for status in ["rectifying", "done"] {
        water.make(|d| d.edit(wt).set("status", status).commit());
    }
    water.make(|d| d.edit(ft).set("status", "rectifying").commit());
    assert_eq!(
        status(&push_only(&s, &mut water)),
        [
            ("applied".into(), "".into()),
            ("applied".into(), "".into()),
            ("refused".into(), "not_dispatched".into()),
        ]
    );
    let fire_token = fire.token.clone();
    learn(&s, &mut fire, &fire_token, ft);
    for status in ["rectifying", "done"] {
        fire.make(|d| d.edit(ft).set("status", status).commit());
    }
    assert!(status(&push_only(&s, &mut fire))
        .iter()
        .all(|(st, _)| st == "applied"));

    // Every task done; a recheck that did not find it fixed still holds it.
    chief.sync(&s);
    chief.make(|d| {
        d.edit(hazard)
            .append("reinspections", recheck("not_fixed"))
            .commit()
    });
    chief.make(|d| d.edit(hazard).set("status", "closed").commit());
    assert_eq!(
        status(&chief.sync(&s)),
        [
            ("applied".into(), "".into()),
            ("refused".into(), "recheck_not_passed".into()),
        ]
    );
    chief.make(|d| {
        d.edit(hazard)
            .append("reinspections", recheck("fixed"))
            .commit()
    });
    chief.make(|d| d.edit(hazard).set("status", "closed").commit());
    assert!(status(&chief.sync(&s))
        .iter()
        .all(|(st, _)| st == "applied"));
    let (_, h) = s.get_as(&chief.token, &format!("/v1/records/{hazard}"));
    assert_eq!(h["record"]["fields"]["status"]["value"], "closed", "{h}");
    assert!(h["record"]["closed_at"].is_string(), "{h}");
}
