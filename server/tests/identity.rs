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
    devices_are_listed_with_their_users_and_last_sync,
    users_are_bound_to_departments_by_role_and_managed,
    the_audit_log_is_filtered_by_who_what_and_when,
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

/// The devices an admin, a supervisor and a worker list: with the user,
/// the node and when each last synced; only an admin revokes, and the
/// revocation is audited.
fn devices_are_listed_with_their_users_and_last_sync(b: &Backend) {
    let s = TestServer::start(b);
    let admin = s.admin_token();
    let mut near = Phone::enroll(&s, "near", "grid_worker", "g1", &["g1"]);
    let far = Phone::enroll(&s, "far", "grid_worker", "g3", &["g3"]);
    let boss = Phone::enroll(&s, "boss", "supervisor", "c1", &["g1"]);
    let listed = |token: &str| -> Vec<Value> {
        let (st, body) = s.get_as(token, "/v1/devices");
        assert_eq!(st, 200, "{body}");
        body["devices"].as_array().unwrap().clone()
    };
    let of = |devices: &[Value], id: &str| devices.iter().find(|d| d["id"] == id).cloned();
    let all = listed(&admin);
    let d = of(&all, &near.device_id).unwrap();
    assert_eq!(
        (
            d["username"].as_str(),
            d["full_name"].as_str(),
            d["node"].as_str()
        ),
        (Some("near"), Some("near"), Some("g1"))
    );
    assert!(d["last_sync_at"].is_null(), "never synced: {d}");
    let before = now() * 1000;
    near.sync(&s);
    let after = now() * 1000 + 1000;
    let d = of(&listed(&admin), &near.device_id).unwrap();
    let at = d["last_sync_at"].as_i64().expect("synced");
    assert!(
        (before - 1000..=after).contains(&at),
        "{at} not in {before}..{after}"
    );
    // A supervisor lists the devices of the users under their node.
    let seen = listed(&boss.token);
    assert!(of(&seen, &near.device_id).is_some());
    assert!(of(&seen, &boss.device_id).is_some());
    assert!(of(&seen, &far.device_id).is_none(), "g3 is outside c1");
    // A worker lists their own.
    let own = listed(&far.token);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], far.device_id.as_str());
    // Revoking is an admin's.
    let revoke = |token: &str, id: &str| {
        s.call(
            s.authed(
                ureq::post(&s.url(&format!("/v1/devices/{id}/revoke"))),
                token,
            ),
            None,
        )
    };
    let (st, body) = revoke(&boss.token, &near.device_id);
    assert_eq!((st, body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(revoke(&admin, &near.device_id).0, 200);
    let d = of(&listed(&boss.token), &near.device_id).unwrap();
    assert!(d["revoked_at"].is_i64());
    assert_eq!(pull(&s, &near.token).1["code"], "device_revoked");
    let (_, audit) = s.get_as(&admin, "/v1/audit?action=revoke_device");
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["target"], format!("device:{}", near.device_id));
    assert_eq!(entries[0]["username"], common::ADMIN);
}

/// A department's users are bound to a department node and nobody else
/// is, on create and on every change; users are disabled, enabled, given a
/// new password and moved.
fn users_are_bound_to_departments_by_role_and_managed(b: &Backend) {
    let s = TestServer::start(b);
    let admin = s.admin_token();
    let post =
        |path: &str, body: Value| s.call(s.authed(ureq::post(&s.url(path)), &admin), Some(body));
    let patch =
        |path: &str, body: Value| s.call(s.authed(ureq::patch(&s.url(path)), &admin), Some(body));
    for (code, name) in [("water", "区水务局"), ("fire", "区消防救援大队")] {
        let (st, body) = post(
            "/v1/org/nodes",
            json!({"code": code, "parent": "d", "level": "department", "name": name}),
        );
        assert_eq!(st, 201, "{body}");
    }
    let (st, body) = patch("/v1/org/nodes/fire", json!({"name": "区消防大队"}));
    assert_eq!((st, body["name"].as_str()), (200, Some("区消防大队")));
    let (st, body) = patch("/v1/org/nodes/fire", json!({"name": "  "}));
    assert_eq!((st, body["code"].as_str()), (400, Some("invalid_name")));
    let user = |name: &str, role: &str, node: &str| {
        post(
            "/v1/users",
            json!({"username": name, "full_name": name, "password": PASSWORD, "role": role, "node": node}),
        )
    };
    let code = |r: (u16, Value)| (r.0, r.1["code"].as_str().unwrap_or_default().to_owned());
    let mismatch = (400, "role_node_mismatch".to_owned());
    assert_eq!(code(user("d1", "department", "g1")), mismatch);
    assert_eq!(code(user("d1", "department", "d")), mismatch);
    assert_eq!(code(user("w1", "grid_worker", "water")), mismatch);
    assert_eq!(code(user("s1", "supervisor", "water")), mismatch);
    assert_eq!(
        code(user("d1", "department", "nowhere")),
        (400, "unknown_node".into())
    );
    let (st, d1) = user("d1", "department", "water");
    assert_eq!(st, 201, "{d1}");
    let (st, w1) = user("w1", "grid_worker", "g1");
    assert_eq!(st, 201, "{w1}");
    let d1 = format!("/v1/users/{}", d1["id"]);
    let w1 = format!("/v1/users/{}", w1["id"]);
    // Moves: a department user to another department, never to a grid; a
    // worker to a grid, never to a department unless made a department user.
    let (st, moved) = patch(&d1, json!({"node": "fire"}));
    assert_eq!((st, moved["node"].as_str()), (200, Some("fire")));
    assert_eq!(code(patch(&d1, json!({"node": "g1"}))), mismatch);
    assert_eq!(code(patch(&d1, json!({"role": "grid_worker"}))), mismatch);
    assert_eq!(code(patch(&w1, json!({"node": "water"}))), mismatch);
    assert_eq!(code(patch(&w1, json!({"role": "department"}))), mismatch);
    let (st, moved) = patch(&w1, json!({"node": "g3"}));
    assert_eq!((st, moved["node"].as_str()), (200, Some("g3")));
    let (st, moved) = patch(&w1, json!({"role": "department", "node": "water"}));
    assert_eq!(
        (st, moved["role"].as_str(), moved["node"].as_str()),
        (200, Some("department"), Some("water"))
    );
    // Disabled: no login; enabled: in again; a new password replaces the old.
    let login = |name: &str, pw: &str| {
        s.call(
            ureq::post(&s.url("/v1/auth/login")),
            Some(json!({"username": name, "password": pw})),
        )
    };
    assert_eq!(login("d1", PASSWORD).0, 200);
    assert_eq!(patch(&d1, json!({"disabled": true})).0, 200);
    assert_eq!(
        code(login("d1", PASSWORD)),
        (401, "invalid_credentials".into())
    );
    let (st, back) = patch(
        &d1,
        json!({"disabled": false, "password": "a new long password"}),
    );
    assert_eq!((st, back["disabled"].as_bool()), (200, Some(false)));
    assert_eq!(
        code(login("d1", PASSWORD)),
        (401, "invalid_credentials".into())
    );
    assert_eq!(login("d1", "a new long password").0, 200);
    // Audited, the password never written.
    let (_, audit) = s.get_as(&admin, "/v1/audit?action=update_user");
    let details: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "user:d1")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(
        details.contains(&"disabled=false password reset"),
        "{details:?}"
    );
    assert!(details.contains(&"node=fire"), "{details:?}");
    assert!(!audit.to_string().contains("a new long password"));
}

/// `GET /v1/audit?who=&action=&from=&to=`: each filter narrows the log, in
/// the store's query.
fn the_audit_log_is_filtered_by_who_what_and_when(b: &Backend) {
    let s = TestServer::start(b);
    let admin = s.admin_token();
    s.create_user("w1", "grid_worker", "g1");
    s.create_user("w2", "grid_worker", "g2");
    let other = s.supervisor_token(); // `chief`, made by the admin
    let (st, _) = s.call(
        s.authed(ureq::post(&s.url("/v1/org/nodes")), &admin),
        Some(json!({"code": "g9", "parent": "c1", "level": "grid", "name": "九"})),
    );
    assert_eq!(st, 201);
    let entries = |query: &str| -> Vec<Value> {
        let (st, body) = s.get_as(&admin, &format!("/v1/audit{query}"));
        assert_eq!(st, 200, "{query}: {body}");
        body["entries"].as_array().unwrap().clone()
    };
    let actions = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["action"].as_str().unwrap(),
                    e["target"].as_str().unwrap()
                )
            })
            .collect()
    };
    let all = entries("");
    assert!(all.len() >= 4, "{all:?}");
    assert_eq!(
        actions(&entries("?action=create_user")),
        [
            "create_user user:chief",
            "create_user user:w2",
            "create_user user:w1"
        ]
    );
    assert_eq!(
        actions(&entries("?action=create_node&who=root")),
        ["create_node node:g9"]
    );
    assert!(entries("?who=chief").is_empty());
    assert_eq!(entries("?action=create_user&limit=1").len(), 1);
    // When: China days, or instants.
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        entries(&format!("?from={today}&to={today}")).len(),
        all.len()
    );
    assert!(entries("?to=2020-01-01").is_empty());
    assert!(entries("?from=2999-01-01").is_empty());
    let cut = all[1]["at"].as_i64().unwrap();
    let instant = chrono::DateTime::from_timestamp_millis(cut + 1)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let later = entries(&format!("?from={}", instant.replace('+', "%2B")));
    assert!(
        later.iter().all(|e| e["at"].as_i64().unwrap() > cut),
        "{later:?}"
    );
    for bad in [
        "?from=yesterday",
        "?from=2026-12-02&to=2026-12-01",
        "?whom=root",
    ] {
        let (st, body) = s.get_as(&admin, &format!("/v1/audit{bad}"));
        assert_eq!(
            (st, body["code"].as_str()),
            (400, Some("invalid_query")),
            "{bad}"
        );
    }
    // Admins only.
    let (st, body) = s.get_as(&other, "/v1/audit");
    assert_eq!((st, body["code"].as_str()), (403, Some("forbidden")));
}
