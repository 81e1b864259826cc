//! Identity and access through HTTP: the bad-token catalogue, the scope
//! catalogue (every role × read/write × inside/outside its node), masking,
//! the audit log, moved users and the quarantine, revoked devices, the tree.

mod common;

use base64::Engine;
use common::{on_both_backends, Backend, Phone, TestServer, PASSWORD, SECRET};
use gridsync_server::auth::tokens::{Claims, Keys, AUDIENCE, ISSUER};
use gridsync_server::Limits;
use serde_json::{json, Value};
use uuid::Uuid;

on_both_backends!(
    bad_tokens_are_refused_with_a_clear_code,
    refresh_tokens_rotate_and_a_replay_revokes_the_family,
    a_revoked_device_is_cut_off_and_its_data_stays,
    every_role_reads_and_writes_only_inside_its_node,
    personal_data_is_masked_unless_the_role_may_see_it,
    key_person_reads_are_audited,
    a_moved_workers_offline_changes_wait_for_a_supervisor,
    the_org_tree_is_managed_and_a_moved_grid_keeps_its_records,
    failed_logins_are_limited,
    client_addresses_come_from_trusted_proxies_only,
);

fn now() -> i64 {
    gridsync_server::api::now_ms() / 1000
}

fn claims(sub: i64, dev: Option<&str>) -> Claims {
    Claims {
        sub: sub.to_string(),
        dev: dev.map(str::to_owned),
        fam: None,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now(),
        nbf: now(),
        exp: now() + 600,
        jti: Uuid::new_v4().to_string(),
    }
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn pull(s: &TestServer, token: &str) -> (u16, Value) {
    s.sync(token, json!({"grids": ["g1"]}))
}

fn bad_tokens_are_refused_with_a_clear_code(b: &Backend) {
    let s = TestServer::start(b);
    let p = Phone::enroll(&s, "wang", "grid_worker", "g1", &["g1"]);
    let other = Phone::enroll(&s, "li", "grid_worker", "g1", &["g1"]);
    let me = s.login("wang", PASSWORD)["user"]["id"].as_i64().unwrap();
    assert_eq!(pull(&s, &p.token).0, 200, "the real token works");

    let keys = s.keys();
    let stranger = Keys::new(b"not-the-server-secret-not-the-server-secret");
    let header_none = b64(&json!({"alg": "none", "typ": "JWT"}));
    let body = b64(&serde_json::to_value(claims(me, Some(&p.device_id))).unwrap());
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(me, Some(&p.device_id)),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let expired = Claims {
        iat: now() - 7200,
        nbf: now() - 7200,
        exp: now() - 3600,
        ..claims(me, Some(&p.device_id))
    };
    let early = Claims {
        nbf: now() + 3600,
        exp: now() + 7200,
        ..claims(me, Some(&p.device_id))
    };
    let audience = Claims {
        aud: "another-api".into(),
        ..claims(me, Some(&p.device_id))
    };
    let issuer = Claims {
        iss: "someone-else".into(),
        ..claims(me, Some(&p.device_id))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "forged signature",
            stranger.sign(&claims(me, Some(&p.device_id))),
            "invalid_token",
        ),
        (
            "alg none",
            format!("{header_none}.{body}."),
            "invalid_token",
        ),
        ("algorithm confusion (HS512)", hs512, "invalid_token"),
        ("expired", keys.sign(&expired), "token_expired"),
        ("not yet valid", keys.sign(&early), "token_not_yet_valid"),
        (
            "wrong audience",
            keys.sign(&audience),
            "token_wrong_audience",
        ),
        ("wrong issuer", keys.sign(&issuer), "token_wrong_issuer"),
        (
            "another user's device",
            keys.sign(&claims(me, Some(&other.device_id))),
            "invalid_token",
        ),
        (
            "a device that does not exist",
            keys.sign(&claims(me, Some("no-such-device"))),
            "invalid_token",
        ),
        (
            "a user that does not exist",
            keys.sign(&claims(999_999, None)),
            "invalid_token",
        ),
        ("garbage", "not.a.token".into(), "invalid_token"),
    ];
    for (what, token, code) in cases {
        let (st, body) = pull(&s, &token);
        assert_eq!(
            (st, body["code"].as_str()),
            (401, Some(code)),
            "{what}: {body}"
        );
    }
    let (st, body) = s.call(
        ureq::post(&s.url("/v1/sync")),
        Some(json!({"grids": ["g1"]})),
    );
    assert_eq!((st, body["code"].as_str()), (401, Some("missing_token")));
    // A token without a device may not sync; logging in with another's device is refused.
    let plain = s.login("wang", PASSWORD)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(pull(&s, &plain).1["code"], "device_required");
    let (st, body) = s.call(
        ureq::post(&s.url("/v1/auth/login")),
        Some(json!({"username": "wang", "password": PASSWORD, "device": other.device_id})),
    );
    assert_eq!((st, body["code"].as_str()), (403, Some("device_not_yours")));
    // A disabled user is cut off at once.
    let admin = s.admin_token();
    let (st, _) = s.call(
        s.authed(ureq::patch(&s.url(&format!("/v1/users/{me}"))), &admin),
        Some(json!({"disabled": true})),
    );
    assert_eq!(st, 200);
    assert_eq!(pull(&s, &p.token).1["code"], "user_disabled");
}

fn refresh(s: &TestServer, token: &str) -> (u16, Value) {
    s.call(
        ureq::post(&s.url("/v1/auth/refresh")),
        Some(json!({"refresh_token": token})),
    )
}

fn refresh_tokens_rotate_and_a_replay_revokes_the_family(b: &Backend) {
    let s = TestServer::start(b);
    let p = Phone::enroll(&s, "zhao", "grid_worker", "g1", &["g1"]);
    let (st, first) = refresh(&s, &p.refresh);
    assert_eq!(st, 200, "{first}");
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        pull(&s, access).0,
        200,
        "the new access token is bound to the same device"
    );
    let next = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, p.refresh, "rotated");
    // The old token again: someone holds a copy. The whole family dies.
    let (st, body) = refresh(&s, &p.refresh);
    assert_eq!(
        (st, body["code"].as_str()),
        (401, Some("refresh_token_reused"))
    );
    let (st, body) = refresh(&s, &next);
    assert_eq!(
        (st, body["code"].as_str()),
        (401, Some("refresh_token_revoked"))
    );
    // Its access tokens stop at once, not at their expiry: the first one
    // and the rotated one, on a read and on a sync.
    for token in [p.token.as_str(), access] {
        let (st, body) = pull(&s, token);
        assert_eq!(
            (st, body["code"].as_str()),
            (401, Some("token_revoked")),
            "{body}"
        );
        let (st, body) = s.get_as(token, "/v1/org/nodes");
        assert_eq!(
            (st, body["code"].as_str()),
            (401, Some("token_revoked")),
            "{body}"
        );
    }
    let (st, body) = refresh(&s, "made-up");
    assert_eq!(
        (st, body["code"].as_str()),
        (401, Some("invalid_refresh_token"))
    );
    // Logging in again starts a new family.
    let again = s.login("zhao", PASSWORD);
    assert_eq!(refresh(&s, again["refresh_token"].as_str().unwrap()).0, 200);
}

fn a_revoked_device_is_cut_off_and_its_data_stays(b: &Backend) {
    let s = TestServer::start(b);
    let mut p = Phone::enroll(&s, "sun", "grid_worker", "g1", &["g1"]);
    let id = Uuid::new_v4();
    p.make(|d| {
        d.create("household", "g1", id)
            .set("address", "3 Lane")
            .commit()
    });
    p.sync(&s);
    let admin = s.admin_token();
    let (st, _) = s.call(
        s.authed(
            ureq::post(&s.url(&format!("/v1/devices/{}/revoke", p.device_id))),
            &admin,
        ),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(pull(&s, &p.token).1["code"], "device_revoked");
    assert_eq!(refresh(&s, &p.refresh).1["code"], "refresh_token_revoked");
    let (_, devices) = s.get_as(&admin, "/v1/devices");
    let mine = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == p.device_id.as_str())
        .unwrap()
        .clone();
    assert!(mine["revoked_at"].is_i64());
    // What it synced stays; a new install gets a new actor, never the old one.
    assert_eq!(
        s.get(&format!("/v1/records/{id}"))["record"]["fields"]["address"]["value"],
        "3 Lane"
    );
    let again = Phone::enroll_existing(&s, "sun", PASSWORD, &["g1"]);
    assert!(again.actor() > p.actor());
    // Only an admin revokes.
    let (st, body) = s.call(
        s.authed(
            ureq::post(&s.url(&format!("/v1/devices/{}/revoke", again.device_id))),
            &again.token,
        ),
        None,
    );
    assert_eq!((st, body["code"].as_str()), (403, Some("forbidden")));
}

/// A change creating a minimal record of `collection` in `grid`: its
/// title, as the schema names it.
fn create(p: &mut Phone, collection: &str, grid: &str) -> gridsync_core::Change {
    let field = gridsync_core::Schema::current()
        .collection(collection)
        .and_then(|c| c.title)
        .unwrap_or_else(|| panic!("{collection} has no title"))
        .field();
    let c = p
        .device
        .create(collection, grid, Uuid::new_v4())
        .set(field, "x")
        .commit()
        .unwrap();
    c
}

fn every_role_reads_and_writes_only_inside_its_node(b: &Backend) {
    use gridsync_server::auth::policy::Role;
    let collections: Vec<&str> = gridsync_core::Schema::current()
        .collections
        .iter()
        .map(|c| c.name)
        .collect();
    let s = TestServer::start(b);
    // (role, node): each node contains g1; none contains g3.
    let people = [
        (Role::GridWorker, "g1"),
        (Role::Patrol, "c1"),
        (Role::Police, "c1"),
        (Role::Mediator, "c1"),
        (Role::Supervisor, "p1"),
        (Role::Admin, "p1"),
    ];
    // Something of every collection in g1 and g3, written by a district-wide worker.
    // (A supervisor writes what a grid worker does not: 研判.)
    let mut worker = Phone::enroll(&s, "seeder", "grid_worker", "d", &["g1", "g3"]);
    let mut chief = Phone::enroll(&s, "chief", "supervisor", "d", &["g1", "g3"]);
    for c in &collections {
        let seeder = if Role::GridWorker.may_write(c) {
            &mut worker
        } else {
            &mut chief
        };
        for grid in ["g1", "g3"] {
            let change = create(seeder, c, grid);
            seeder.outbox.push(change);
        }
    }
    for seeder in [&mut worker, &mut chief] {
        let results = seeder.sync(&s);
        assert!(results.iter().all(|r| r["status"] == "applied"));
    }

    for (role, node) in people {
        let name = format!("{}-user", role.as_str());
        let mut p = Phone::enroll(&s, &name, role.as_str(), node, &["g1"]);
        // Write: every collection, inside and outside.
        let mut expected = Vec::new();
        for c in collections.iter().copied() {
            for grid in ["g1", "g3"] {
                let change = create(&mut p, c, grid);
                p.outbox.push(change);
                expected.push(match (grid, role.may_write(c)) {
                    ("g3", _) => "out_of_scope",
                    (_, false) => "forbidden_collection",
                    _ => "applied",
                });
            }
        }
        let results = p.sync(&s);
        let got: Vec<&str> = results
            .iter()
            .map(|r| r["code"].as_str().unwrap_or(r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(got, expected, "{role:?} writes");

        // Read inside: only the collections of the role; outside: refused.
        let (st, inside) = s.get_as(&p.token, "/v1/grids/g1/records?limit=1000");
        let (st3, outside) = s.get_as(&p.token, "/v1/grids/g3/records");
        if role.reads().is_empty() {
            assert_eq!(
                (st, inside["code"].as_str()),
                (403, Some("forbidden")),
                "{role:?}"
            );
            continue;
        }
        assert_eq!(st, 200, "{role:?}: {inside}");
        assert_eq!(
            (st3, outside["code"].as_str()),
            (403, Some("out_of_scope")),
            "{role:?}"
        );
        let mut seen: Vec<String> = inside["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["collection"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        seen.dedup();
        let mut want: Vec<String> = role.reads().iter().map(|c| c.to_string()).collect();
        want.sort();
        assert_eq!(seen, want, "{role:?} reads");
        // A fresh device of the user pulls exactly those collections of g1.
        let mut fresh = Phone::enroll_existing(&s, &name, PASSWORD, &["g1"]);
        fresh.sync(&s);
        let pulled: std::collections::BTreeSet<(&str, String)> = fresh
            .device
            .replica()
            .records()
            .map(|r| (r.collection.name, r.grid.clone()))
            .collect();
        assert!(
            pulled.iter().all(|(c, g)| g == "g1" && role.may_read(c)),
            "{role:?} pulled {pulled:?}"
        );
        for c in role.reads() {
            assert!(
                pulled.contains(&(c, "g1".to_string())),
                "{role:?} did not pull {c}"
            );
        }
        // A pull naming a grid outside the node pulls nothing of it, and
        // says so (the push of the same request is not held up by it).
        let (st, body) = s.sync(&p.token, json!({"grids": ["g3"]}));
        assert_eq!(st, 200, "{role:?}: {body}");
        assert_eq!(body["skipped"][0]["grid"], "g3", "{role:?}: {body}");
        assert_eq!(
            body["skipped"][0]["code"], "out_of_scope",
            "{role:?}: {body}"
        );
        assert!(body.get("changes").is_none() && body.get("records").is_none());
        // Admin-only endpoints.
        let (st, _) = s.get_as(&p.token, "/v1/users");
        assert_eq!(
            st,
            if role == Role::Admin { 200 } else { 403 },
            "{role:?} /v1/users"
        );
    }

    // A department's staff: no grid is theirs. They write only what is
    // dispatched to their department (nothing here: every new record is
    // refused `not_dispatched`, other collections `forbidden_collection`),
    // read no grid and pull none (docs/ACCESS.md; tests/dispatch.rs has
    // what is dispatched).
    let (st, body) = s.call(
        s.authed(ureq::post(&s.url("/v1/org/nodes")), &s.admin_token()),
        Some(json!({"code": "dw", "parent": "d", "level": "department", "name": "区水务局"})),
    );
    assert_eq!(st, 201, "{body}");
    let mut p = Phone::enroll(&s, "department-user", "department", "dw", &["g1"]);
    let mut expected = Vec::new();
    let mut changes = Vec::new();
    for c in collections.iter().copied() {
        for grid in ["g1", "g3"] {
            changes.push(serde_json::to_value(create(&mut p, c, grid)).unwrap());
            expected.push(if Role::Department.may_write(c) {
                "not_dispatched"
            } else {
                "forbidden_collection"
            });
        }
    }
    let (st, body) = s.sync(
        &p.token,
        json!({"actor": p.actor(), "changes": changes, "pull": false}),
    );
    assert_eq!(st, 200, "{body}");
    let got: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(got, expected, "department writes");
    for grid in ["g1", "g3"] {
        let (st, body) = s.get_as(&p.token, &format!("/v1/grids/{grid}/records"));
        assert_eq!(
            (st, body["code"].as_str()),
            (403, Some("out_of_scope")),
            "{body}"
        );
    }
    let (st, body) = s.sync(&p.token, json!({"grids": ["g1"]}));
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["skipped"][0]["code"], "out_of_scope", "{body}");
    assert_eq!(s.get_as(&p.token, "/v1/users").0, 403);
}

fn personal_data_is_masked_unless_the_role_may_see_it(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let id = Uuid::new_v4();
    w.make(|d| {
        d.create("resident", "g1", id)
            .set("name", "Wang Fang")
            .set("id_number", "420202199001011231")
            .set("phone", "13812345678")
            .commit()
    });
    w.sync(&s);
    let mut worker2 = Phone::enroll(&s, "worker2", "grid_worker", "g1", &["g1"]);
    let police = Phone::enroll(&s, "police", "police", "c1", &["g1"]);
    let path = format!("/v1/records/{id}");
    let fields = |token: &str| s.get_as(token, &path).1["record"]["fields"].clone();
    let masked = fields(&worker2.token);
    assert_eq!(masked["id_number"]["value"], "420202********1231");
    assert_eq!(masked["phone"]["value"], "138****5678");
    assert_eq!(masked["name"]["value"], "Wang Fang");
    let full = fields(&police.token);
    assert_eq!(full["id_number"]["value"], "420202199001011231");
    assert_eq!(
        fields(&s.supervisor_token())["phone"]["value"],
        "13812345678"
    );
    // The history and the list are masked too, and so is what a device pulls.
    let (_, rec) = s.get_as(&worker2.token, &path);
    assert!(!rec.to_string().contains("199001011231"), "{rec}");
    let (_, list) = s.get_as(&worker2.token, "/v1/grids/g1/records");
    assert!(!list.to_string().contains("13812345678"));
    worker2.sync(&s);
    let local = worker2.device.replica().record(id).unwrap().view();
    assert_eq!(
        local.value("id_number"),
        &gridsync_core::Value::from("420202********1231")
    );
    // The masked copy still merges: the second worker corrects the phone.
    worker2.make(|d| d.edit(id).set("phone", "13987654321").commit());
    worker2.sync(&s);
    assert_eq!(fields(&police.token)["phone"]["value"], "13987654321");
    assert_eq!(
        fields(&police.token)["id_number"]["value"],
        "420202199001011231",
        "untouched fields keep their full value"
    );
}

fn key_person_reads_are_audited(b: &Backend) {
    let s = TestServer::start(b);
    let mut police = Phone::enroll(&s, "officer", "police", "c1", &["g1"]);
    let id = Uuid::new_v4();
    police.make(|d| {
        d.create("key_person", "g1", id)
            .set("name", "Zhou")
            .set("risk_level", "high")
            .commit()
    });
    police.sync(&s);
    let worker = Phone::enroll(&s, "gw", "grid_worker", "g1", &["g1"]);
    let (st, _) = s.get_as(&worker.token, &format!("/v1/records/{id}"));
    assert_eq!(st, 200);
    let (st, _) = s.get_as(&worker.token, "/v1/grids/g1/records?collection=key_person");
    assert_eq!(st, 200);
    let mut puller = Phone::enroll(&s, "gw2", "grid_worker", "g1", &["g1"]);
    puller.sync(&s);
    let admin = s.admin_token();
    let (st, log) = s.get_as(&admin, "/v1/audit");
    assert_eq!(st, 200);
    let entries = log["entries"].as_array().unwrap();
    let by = |user: &str, action: &str| {
        entries
            .iter()
            .filter(|e| e["username"] == user && e["action"] == action)
            .cloned()
            .collect::<Vec<_>>()
    };
    let reads = by("gw", "read_key_person");
    assert_eq!(reads.len(), 2, "{entries:?}");
    assert_eq!(reads[0]["target"], format!("key_person:{id}"));
    assert_eq!(reads[0]["device_id"], worker.device_id.as_str());
    assert!(reads[0]["address"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1"));
    assert!(reads[0]["at"].as_i64().unwrap() > 0);
    assert_eq!(by("gw2", "sync_key_persons").len(), 1);
    // Only admins read the audit log.
    assert_eq!(s.get_as(&worker.token, "/v1/audit").0, 403);
}

fn a_moved_workers_offline_changes_wait_for_a_supervisor(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "mover", "grid_worker", "g1", &["g1"]);
    let me = s.login("mover", PASSWORD)["user"]["id"].as_i64().unwrap();
    let (keep, drop_) = (Uuid::new_v4(), Uuid::new_v4());
    w.make(|d| {
        d.create("event", "g1", keep)
            .set("title", "seen at night")
            .commit()
    });
    w.make(|d| {
        d.create("event", "g1", drop_)
            .set("title", "duplicate report")
            .commit()
    });
    // While the phone is offline, the worker is moved to g3 (another park).
    let admin = s.admin_token();
    let (st, _) = s.call(
        s.authed(ureq::patch(&s.url(&format!("/v1/users/{me}"))), &admin),
        Some(json!({"node": "g3"})),
    );
    assert_eq!(st, 200);
    w.grids = vec!["g3".into()];
    let results = w.sync(&s);
    assert!(
        results.iter().all(|r| r["code"] == "out_of_scope"),
        "{results:?}"
    );
    // Kept, and visible to a supervisor of g1, not to one of the other park.
    let sup = Phone::enroll(&s, "sup-p1", "supervisor", "p1", &["g1"]);
    let other_sup = Phone::enroll(&s, "sup-p2", "supervisor", "p2", &["g3"]);
    let (_, q) = s.get_as(&sup.token, "/v1/quarantine");
    let rows = q["changes"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    assert!(s.get_as(&other_sup.token, "/v1/quarantine").1["changes"]
        .as_array()
        .unwrap()
        .is_empty());
    let id_of = |record: Uuid| {
        rows.iter()
            .find(|r| r["record_id"] == record.to_string())
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let decide = |token: &str, id: i64, what: &str| {
        s.call(
            s.authed(
                ureq::post(&s.url(&format!("/v1/quarantine/{id}/{what}"))),
                token,
            ),
            None,
        )
    };
    assert_eq!(
        decide(&other_sup.token, id_of(keep), "accept").1["code"],
        "out_of_scope"
    );
    assert_eq!(
        decide(&w.token, id_of(keep), "accept").1["code"],
        "forbidden"
    );
    let (st, body) = decide(&sup.token, id_of(keep), "accept");
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["results"][0]["status"], "applied");
    let (st, _) = decide(&sup.token, id_of(drop_), "reject");
    assert_eq!(st, 200);
    assert_eq!(
        decide(&sup.token, id_of(keep), "reject").1["code"],
        "already_resolved"
    );
    // The accepted change is merged as its author made it; the rejected one is not.
    let rec = s.get(&format!("/v1/records/{keep}"));
    assert_eq!(rec["history"][0]["actor"], i64::from(w.actor()));
    let (st, _) = s.get_as(&s.supervisor_token(), &format!("/v1/records/{drop_}"));
    assert_eq!(st, 404);
    let (_, q) = s.get_as(&sup.token, "/v1/quarantine");
    let resolutions: Vec<&str> = q["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resolution"].as_str().unwrap())
        .collect();
    assert_eq!(resolutions, ["accepted", "rejected"]);
    let (_, log) = s.get_as(&admin, "/v1/audit");
    assert!(log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "quarantine_accept"));
}

fn the_org_tree_is_managed_and_a_moved_grid_keeps_its_records(b: &Backend) {
    let s = TestServer::start(b);
    let admin = s.admin_token();
    let post =
        |path: &str, body: Value| s.call(s.authed(ureq::post(&s.url(path)), &admin), Some(body));
    let patch =
        |path: &str, body: Value| s.call(s.authed(ureq::patch(&s.url(path)), &admin), Some(body));
    assert_eq!(
        post(
            "/v1/org/nodes",
            json!({"code": "g4", "parent": "c1", "level": "grid", "name": "四号网格"})
        )
        .0,
        201
    );
    let cases = [
        (
            json!({"code": "g4", "parent": "c1", "level": "grid", "name": "x"}),
            409,
            "node_exists",
        ),
        (
            json!({"code": "g5", "parent": "p1", "level": "grid", "name": "x"}),
            400,
            "invalid_parent",
        ),
        (
            json!({"code": "g5", "parent": "nowhere", "level": "grid", "name": "x"}),
            400,
            "invalid_parent",
        ),
        (
            json!({"code": "g5", "level": "grid", "name": "x"}),
            400,
            "invalid_parent",
        ),
        (
            json!({"code": "g5", "parent": "c1", "level": "village", "name": "x"}),
            400,
            "invalid_level",
        ),
        (
            json!({"code": "a/b", "parent": "c1", "level": "grid", "name": "x"}),
            400,
            "invalid_code",
        ),
    ];
    for (body, status, code) in cases {
        let (st, res) = post("/v1/org/nodes", body.clone());
        assert_eq!((st, res["code"].as_str()), (status, Some(code)), "{body}");
    }
    let mut w = Phone::enroll(&s, "g4worker", "grid_worker", "g4", &["g4"]);
    let id = Uuid::new_v4();
    w.make(|d| d.create("place", "g4", id).set("name", "快递驿站").commit());
    w.sync(&s);
    let sup1 = Phone::enroll(&s, "s1", "supervisor", "p1", &["g4"]);
    let sup2 = Phone::enroll(&s, "s2", "supervisor", "p2", &["g3"]);
    assert_eq!(s.get_as(&sup1.token, "/v1/grids/g4/records").0, 200);
    assert_eq!(s.get_as(&sup2.token, "/v1/grids/g4/records").0, 403);
    // Rename, then move the grid to the other park's community.
    let (st, node) = patch("/v1/org/nodes/g4", json!({"name": "四号网格（新）"}));
    assert_eq!((st, node["name"].as_str()), (200, Some("四号网格（新）")));
    assert_eq!(
        patch("/v1/org/nodes/g4", json!({"parent": "p2"})).1["code"],
        "invalid_parent"
    );
    let (st, node) = patch("/v1/org/nodes/g4", json!({"parent": "c2"}));
    assert_eq!((st, node["parent"].as_str()), (200, Some("c2")));
    assert_eq!(s.get_as(&sup1.token, "/v1/grids/g4/records").0, 403);
    let (st, list) = s.get_as(&sup2.token, "/v1/grids/g4/records");
    assert_eq!(st, 200);
    assert_eq!(
        list["records"][0]["id"],
        id.to_string(),
        "the grid kept its records"
    );
    let (_, rec) = s.get_as(&sup2.token, &format!("/v1/records/{id}"));
    assert_eq!(
        rec["history"].as_array().unwrap().len(),
        1,
        "and their history"
    );
    assert_eq!(patch("/v1/org/nodes/nowhere", json!({"name": "x"})).0, 404);
    let (_, tree) = s.get_as(&w.token, "/v1/org/nodes");
    assert!(tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["code"] == "g4"));
}

fn failed_logins_are_limited(b: &Backend) {
    let s = TestServer::start(b);
    s.create_user("guessme", "grid_worker", "g1");
    let attempt = |pw: &str| {
        s.call(
            ureq::post(&s.url("/v1/auth/login")),
            Some(json!({"username": "guessme", "password": pw})),
        )
    };
    // Five failures a minute are allowed; the one past them locks the account.
    for _ in 0..6 {
        assert_eq!(attempt("wrong password").1["code"], "invalid_credentials");
    }
    let (st, body) = attempt("wrong password");
    assert_eq!(
        (st, body["code"].as_str()),
        (429, Some("too_many_requests"))
    );
    // Locked out even with the right password, for now.
    assert_eq!(attempt(PASSWORD).0, 429);
    // Unknown users answer like wrong passwords.
    let (st, body) = s.call(
        ureq::post(&s.url("/v1/auth/login")),
        Some(json!({"username": "nobody", "password": "whatever-123"})),
    );
    assert_eq!(
        (st, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
}

/// `X-Forwarded-For` and `Forwarded` count only from a trusted proxy: from
/// anyone else the address is the TCP peer's, for the login limits and the
/// audit log alike. Behind a trusted proxy, an account hammered from one
/// address stays open to its owner at another, and a lockout says when to
/// come back (`Retry-After`).
fn client_addresses_come_from_trusted_proxies_only(b: &Backend) {
    let login = |s: &TestServer, forwarded_for: &str, pw: &str| {
        let res = ureq::post(&s.url("/v1/auth/login"))
            .set("X-Forwarded-For", forwarded_for)
            .send_json(json!({"username": "guessme", "password": pw}));
        match res {
            Ok(r) => (r.status(), None),
            Err(ureq::Error::Status(st, r)) => (st, r.header("retry-after").map(str::to_owned)),
            Err(e) => panic!("{e}"),
        }
    };
    let exported_from = |s: &TestServer, forwarded_for: &str| {
        let token = s.supervisor_token();
        let res = ureq::get(&s.url("/v1/reports/summary?format=csv"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("X-Forwarded-For", forwarded_for)
            .call()
            .unwrap();
        assert_eq!(res.status(), 200);
        let (_, log) = s.get_as(&s.admin_token(), "/v1/audit");
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "export_report")
            .max_by_key(|e| e["id"].as_i64())
            .map(|e| e["address"].as_str().unwrap().to_owned())
            .unwrap()
    };

    // No trusted proxy: a forged header changes nothing.
    let s = TestServer::start(b);
    s.create_user("guessme", "grid_worker", "g1");
    for i in 0..6 {
        assert_eq!(login(&s, &format!("198.51.100.{i}"), "wrong").0, 401);
    }
    let (st, retry) = login(&s, "203.0.113.99", PASSWORD);
    assert_eq!(st, 429, "a made-up address does not escape the lockout");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(exported_from(&s, "203.0.113.99"), "127.0.0.1");

    // The test's own address is a trusted proxy: the hop it names counts.
    let limits = Limits {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Limits::default()
    };
    let b2 = match b {
        Backend::Sqlite(_) => Backend::sqlite(),
        _ => Backend::postgres().unwrap(),
    };
    let s = TestServer::start_with(&b2, limits, 2_000);
    s.create_user("guessme", "grid_worker", "g1");
    for _ in 0..6 {
        assert_eq!(login(&s, "198.51.100.1", "wrong").0, 401);
    }
    let (st, retry) = login(&s, "198.51.100.1", PASSWORD);
    assert_eq!(st, 429, "locked out from the attacker's address");
    assert!(retry.is_some());
    assert_eq!(
        login(&s, "198.51.100.2", PASSWORD).0,
        200,
        "the owner, elsewhere, still logs in"
    );
    assert_eq!(exported_from(&s, "203.0.113.7"), "203.0.113.7");
    assert_eq!(
        exported_from(&s, "1.2.3.4, 203.0.113.8"),
        "203.0.113.8",
        "the hop the proxy saw, not what the client wrote before it"
    );
}
