//! The desk over HTTP, against the real server: a session in a cookie, CSRF
//! refused, actions as changes of the user's one desk actor that phones
//! pull, a conflict resolved, sign-out.

mod common;

use common::{on_both_backends, Backend, Phone, TestServer, PASSWORD};
use serde_json::{json, Value as Json};
use uuid::Uuid;

on_both_backends!(
    a_desk_session_acts_on_cases_as_one_actor_per_person,
    writes_from_another_origin_or_without_the_token_are_refused,
);

/// A desk session of `username`: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn sign_in(s: &TestServer, username: &str) -> Session {
    let res = ureq::post(&s.url("/v1/auth/session"))
        .send_json(json!({"username": username, "password": PASSWORD}))
        .expect("signed in");
    let set = res.header("set-cookie").expect("a cookie").to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("gridsync_session="), "{cookie}");
    let body: Json = res.into_json().unwrap();
    assert_eq!(body["user"]["username"], username);
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

fn edit(s: &TestServer, who: &Session, id: Uuid, body: Json) -> (u16, Json) {
    s.call(
        ureq::post(&s.url(&format!("/v1/records/{id}/edits")))
            .set("Cookie", &who.cookie)
            .set("X-CSRF-Token", &who.csrf)
            .set("Origin", &s.base),
        Some(body),
    )
}

fn department(s: &TestServer, code: &str, name: &str) {
    let (st, body) = s.call(
        s.authed(ureq::post(&s.url("/v1/org/nodes")), &s.admin_token()),
        Some(json!({"code": code, "name": name, "level": "department", "parent": "d"})),
    );
    assert_eq!(st, 201, "{body}");
}

fn a_desk_session_acts_on_cases_as_one_actor_per_person(b: &Backend) {
    let s = TestServer::start(b);
    s.supervisor_token(); // `chief`, supervisor of the district
    department(&s, "dw", "区水务局");
    let mut worker = Phone::enroll(&s, "w1", "grid_worker", "g1", &["g1"]);
    let mut other = Phone::enroll(&s, "w2", "grid_worker", "g1", &["g1"]);
    let id = Uuid::new_v4();
    worker.make(|d| {
        d.create("event", "g1", id)
            .set("title", "路灯损坏")
            .set("status", "reported")
            .commit()
    });
    worker.sync(&s);
    other.sync(&s);

    // The session reads who it is, and is renewed.
    let chief = sign_in(&s, "chief");
    let (st, me) = s.call(
        ureq::get(&s.url("/v1/auth/session")).set("Cookie", &chief.cookie),
        None,
    );
    assert_eq!((st, me["user"]["role"].as_str()), (200, Some("supervisor")));
    assert_eq!(me["csrf_token"].as_str(), Some(chief.csrf.as_str()));

    // Accept, verify, dispatch to a department: each a change.
    for (status, extra) in [
        ("accepted", json!({})),
        ("verified", json!({})),
        ("dispatched", json!({"assignee": "department:dw"})),
    ] {
        let mut set = extra;
        set["status"] = json!(status);
        let (st, out) = edit(&s, &chief, id, json!({"set": set}));
        assert_eq!(st, 200, "{out}");
        assert_eq!(out["result"]["status"], "applied", "{out}");
        assert_eq!(out["record"]["fields"]["status"]["value"], status, "{out}");
    }
    // A move the flow does not allow is refused and writes nothing.
    let (st, out) = edit(&s, &chief, id, json!({"set": {"status": "closed"}}));
    assert_eq!(
        (st, out["code"].as_str()),
        (409, Some("outside_flow")),
        "{out}"
    );
    let (st, out) = edit(&s, &chief, id, json!({}));
    assert_eq!(
        (st, out["code"].as_str()),
        (400, Some("empty_edit")),
        "{out}"
    );
    // An unknown assignee is refused as a phone's would be.
    let (st, out) = edit(
        &s,
        &chief,
        id,
        json!({"set": {"assignee": "department:nowhere"}}),
    );
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["result"]["code"], "unknown_assignee", "{out}");

    // A second session of the same person writes as the same actor.
    let again = sign_in(&s, "chief");
    let (st, out) = edit(&s, &again, id, json!({"escalate": true}));
    assert_eq!(
        (st, out["result"]["status"].as_str()),
        (200, Some("applied")),
        "{out}"
    );
    let record = s.get(&format!("/v1/records/{id}?history=50"));
    let mut actors: Vec<u64> = record["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["actor"].as_u64().unwrap())
        .collect();
    actors.sort();
    actors.dedup();
    assert_eq!(
        actors.len(),
        2,
        "the worker's phone and chief's desk: {actors:?}"
    );
    assert_eq!(record["record"]["level"], "community", "{record}");

    // The phone sees the desk's work on its next sync.
    worker.sync(&s);
    let view = worker.device.replica().record(id).unwrap().view();
    assert_eq!(view.value("status").as_str(), Some("dispatched"));
    assert_eq!(view.value("assignee").as_str(), Some("department:dw"));

    // Two phones write the title at once; the desk picks one and the
    // conflict is gone, on the server and on both phones.
    worker.make(|d| d.edit(id).set("title", "路灯损坏（东）").commit());
    other.make(|d| d.edit(id).set("title", "路灯不亮").commit());
    worker.sync(&s);
    other.sync(&s);
    let (_, conflicts) = s.get_as(&s.supervisor_token(), "/v1/grids/g1/conflicts");
    assert_eq!(
        conflicts["records"].as_array().map(Vec::len),
        Some(1),
        "{conflicts}"
    );
    let (st, out) = edit(&s, &chief, id, json!({"set": {"title": "路灯不亮"}}));
    assert_eq!(
        (st, out["result"]["status"].as_str()),
        (200, Some("applied")),
        "{out}"
    );
    assert_eq!(out["record"]["conflicted"], false, "{out}");
    for phone in [&mut worker, &mut other] {
        phone.sync(&s);
        let view = phone.device.replica().record(id).unwrap().view();
        assert_eq!(view.value("title").as_str(), Some("路灯不亮"));
        assert_eq!(
            view.conflicts().count(),
            0,
            "the title is no longer in conflict"
        );
    }

    // Signing out ends the session: its cookie is refused from now on.
    let (st, _) = s.call(
        ureq::delete(&s.url("/v1/auth/session"))
            .set("Cookie", &chief.cookie)
            .set("X-CSRF-Token", &chief.csrf),
        None,
    );
    assert_eq!(st, 204);
    let (st, out) = s.call(
        ureq::get(&s.url("/v1/auth/session")).set("Cookie", &chief.cookie),
        None,
    );
    assert_eq!(
        (st, out["code"].as_str()),
        (401, Some("token_revoked")),
        "{out}"
    );
    // The other session goes on.
    let (st, _) = s.call(
        ureq::get(&s.url("/v1/auth/session")).set("Cookie", &again.cookie),
        None,
    );
    assert_eq!(st, 200);
}

fn writes_from_another_origin_or_without_the_token_are_refused(b: &Backend) {
    let s = TestServer::start(b);
    s.supervisor_token();
    let mut worker = Phone::enroll(&s, "w1", "grid_worker", "g1", &["g1"]);
    let id = Uuid::new_v4();
    worker.make(|d| {
        d.create("event", "g1", id)
            .set("title", "x")
            .set("status", "reported")
            .commit()
    });
    worker.sync(&s);
    let chief = sign_in(&s, "chief");
    let url = s.url(&format!("/v1/records/{id}/edits"));
    let body = json!({"set": {"status": "accepted"}});
    let other_port = {
        let (host, port) = s.base.rsplit_once(':').unwrap();
        format!("{host}:{}", port.parse::<u16>().unwrap().wrapping_add(1))
    };
    let refused = [
        ("no token", ureq::post(&url).set("Cookie", &chief.cookie)),
        (
            "another session's token",
            ureq::post(&url)
                .set("Cookie", &chief.cookie)
                .set("X-CSRF-Token", &"0".repeat(64)),
        ),
        (
            "another origin on the same host",
            ureq::post(&url)
                .set("Cookie", &chief.cookie)
                .set("X-CSRF-Token", &chief.csrf)
                .set("Origin", &other_port),
        ),
        (
            "a cross-site fetch",
            ureq::post(&url)
                .set("Cookie", &chief.cookie)
                .set("X-CSRF-Token", &chief.csrf)
                .set("Sec-Fetch-Site", "cross-site"),
        ),
    ];
    for (what, req) in refused {
        let (st, out) = s.call(req, Some(body.clone()));
        assert_eq!(
            (st, out["code"].as_str()),
            (403, Some("csrf_failed")),
            "{what}: {out}"
        );
    }
    // Nothing was written.
    let record = s.get(&format!("/v1/records/{id}"));
    assert_eq!(record["record"]["fields"]["status"]["value"], "reported");
    // A bearer token needs no CSRF token (no browser sends it by itself).
    let (st, out) = s.call(
        s.authed(ureq::post(&url), &s.supervisor_token()),
        Some(body),
    );
    assert_eq!(
        (st, out["result"]["status"].as_str()),
        (200, Some("applied")),
        "{out}"
    );
}
