//! A hostile (or badly broken) device against the real server, on both
//! backends. For each attack: the honest devices' values are still there
//! and visible; the hostile change is refused with its code and kept in the
//! quarantine; the rest of its batch is applied. Never a 5xx.

mod common;

use common::{on_both_backends, Backend, Phone, TestServer, PASSWORD};
use serde_json::{json, Value as Json};
use uuid::Uuid;

on_both_backends!(
    hostile_changes_are_refused_alone_and_honest_values_stay,
    arrays_where_objects_belong_are_refused_with_a_code,
    a_pull_of_a_grid_out_of_scope_does_not_block_the_push,
    a_claim_refused_today_is_accepted_once_what_it_claims_was_made,
    a_record_id_reused_in_another_grid_is_another_record,
    base_data_that_is_wrong_is_refused_field_by_field,
);

const GRID: &str = "g1";

/// A change as JSON, by hand: what a device in another language sends.
fn change(actor: u32, seq: u64, record: Uuid, collection: &str, grid: &str, ops: &Json) -> Json {
    json!({"actor": actor, "seq": seq, "record": record, "collection": collection,
           "grid": grid, "schema": 1, "ops": ops})
}

/// A valid change of the hostile device's own: to check the batch goes on.
fn own_event(actor: u32, seq: u64) -> (Uuid, Json) {
    let id = Uuid::new_v4();
    let ops = json!([{"set": {"field": "title", "value": format!("own {seq}")}},
                     {"set": {"field": "status", "value": "reported"}}]);
    (id, change(actor, seq, id, "event", GRID, &ops))
}

fn record(s: &TestServer, id: Uuid) -> Json {
    s.get(&format!("/v1/records/{id}"))["record"].clone()
}

fn hostile_changes_are_refused_alone_and_honest_values_stay(b: &Backend) {
    let s = TestServer::start(b);
    let mut honest = Phone::enroll(&s, "honest", "grid_worker", GRID, &[GRID]);
    let mut hostile = Phone::enroll(&s, "hostile", "grid_worker", GRID, &[GRID]);
    let (h, a) = (hostile.actor(), honest.actor());

    // The honest phone reports an event with a counter.
    let ev = Uuid::new_v4();
    honest.make(|d| {
        d.create("event", GRID, ev)
            .set("title", "楼道堆放杂物")
            .set("status", "reported")
            .increment("report_count", 1)
            .commit()
    });
    let r = honest.sync(&s);
    assert_eq!(r[0]["status"], "applied", "{r:?}");
    hostile.sync(&s);

    let max = u64::MAX;
    let wide: serde_json::Map<String, Json> = (0..100_000u32)
        .map(|i| ((i + 10).to_string(), json!(1)))
        .collect();
    // (what, the hostile ops on the honest record, code, field)
    let attacks: Vec<(&str, Json, &str, Option<&str>)> = vec![
        (
            "a context claiming another actor's future",
            json!([{"set": {"field": "title", "value": "hostile", "seen": {a.to_string(): 1_000_000_000_000u64}}}]),
            "context_unseen",
            Some("title"),
        ),
        (
            "a set state claiming another actor's future",
            json!([{"members": {"field": "tags", "add": ["x"], "state": {
                "clock": {h.to_string(): 0, a.to_string(): 999_999},
                "entries": {"x": {h.to_string(): 0}}}}}]),
            "context_unseen",
            Some("tags"),
        ),
        (
            "a delete claiming another actor's future",
            json!([{"delete": {"seen": {a.to_string(): 77_777}}}]),
            "context_unseen",
            None,
        ),
        (
            "an increment that would wrap the counter",
            json!([{"increment": {"field": "report_count", "by": max, "total": max}}]),
            "out_of_range",
            Some("report_count"),
        ),
        (
            "a context of 100,000 actors",
            json!([{"set": {"field": "title", "value": "wide", "seen": wide}}]),
            "context_too_large",
            Some("title"),
        ),
        (
            "NUL in a text value",
            json!([{"set": {"field": "title", "value": "a\u{0}b"}}]),
            "invalid_text",
            Some("title"),
        ),
        (
            "NUL in a field name",
            json!([{"set": {"field": "ti\u{0}tle", "value": "x"}}]),
            "unknown_field",
            None,
        ),
    ];
    // Each attack in a batch of its own, between two valid changes.
    let mut seq = hostile.device.next_seq();
    for (what, ops, code, field) in &attacks {
        // The set-state attack names the hostile's own dot: make it this seq.
        let ops = serde_json::from_str::<Json>(
            &ops.to_string()
                .replace(&format!("\"{h}\":0"), &format!("\"{h}\":{}", seq + 1)),
        )
        .unwrap();
        let (_, before) = own_event(h, seq);
        let attack = change(h, seq + 1, ev, "event", GRID, &ops);
        let (after_id, after) = own_event(h, seq + 2);
        seq += 3;
        let (st, res) = s.sync(
            &hostile.token,
            json!({"actor": h, "grids": [GRID], "changes": [before, attack, after]}),
        );
        assert_eq!(st, 200, "{what}: {res}");
        let results = res["results"].as_array().unwrap();
        assert_eq!(results[0]["status"], "applied", "{what}: {res}");
        assert_eq!(results[1]["status"], "refused", "{what}: {res}");
        assert_eq!(results[1]["code"], *code, "{what}: {res}");
        if let Some(f) = field {
            assert_eq!(results[1]["field"], *f, "{what}: {res}");
        }
        assert_eq!(results[2]["status"], "applied", "{what}: {res}");
        assert_eq!(
            record(&s, after_id)["fields"]["title"]["value"],
            format!("own {}", seq - 1)
        );
    }

    // Headers and ids no backend can hold: refused alone, never a 5xx.
    let headers: Vec<(&str, Json, &str)> = vec![
        (
            "NUL in the grid",
            change(
                h,
                seq + 1,
                Uuid::new_v4(),
                "event",
                "g\u{0}1",
                &json!([{"set": {"field": "title", "value": "x"}}]),
            ),
            "out_of_scope",
        ),
        (
            "NUL in the collection",
            change(
                h,
                seq + 1,
                Uuid::new_v4(),
                "ev\u{0}ent",
                GRID,
                &json!([{"set": {"field": "title", "value": "x"}}]),
            ),
            "forbidden_collection",
        ),
        (
            "NUL in the record id",
            json!({"actor": h, "seq": seq + 1, "record": "00000000-0000-0000-0000-00000000\u{0}001",
                   "collection": "event", "grid": GRID, "schema": 1,
                   "ops": [{"set": {"field": "title", "value": "x"}}]}),
            "malformed_change",
        ),
        (
            "a seq past 2^53-1",
            change(
                h,
                1 << 53,
                Uuid::new_v4(),
                "event",
                GRID,
                &json!([{"set": {"field": "title", "value": "x"}}]),
            ),
            "invalid_header",
        ),
    ];
    for (what, bad, code) in headers {
        let (_, before) = own_event(h, seq);
        let (_, after) = own_event(h, seq + 2);
        seq += 3;
        let (st, res) = s.sync(
            &hostile.token,
            json!({"actor": h, "grids": [GRID], "changes": [before, bad, after]}),
        );
        assert_eq!(st, 200, "{what}: {res}");
        let results = res["results"].as_array().unwrap();
        assert_eq!(
            [
                &results[0]["status"],
                &results[1]["status"],
                &results[2]["status"]
            ],
            ["applied", "refused", "applied"],
            "{what}: {res}"
        );
        assert_eq!(results[1]["code"], code, "{what}: {res}");
    }

    // The honest record is as the honest phone left it.
    let rec = record(&s, ev);
    assert_eq!(rec["fields"]["title"]["value"], "楼道堆放杂物", "{rec}");
    assert!(rec["fields"]["title"].get("conflict").is_none(), "{rec}");
    assert_eq!(rec["fields"]["report_count"], 1, "{rec}");
    assert_eq!(rec["deleted"], false, "{rec}");

    // The honest actor can still write the field the first attack aimed at,
    // and its write shows.
    honest.make(|d| d.edit(ev).set("title", "已清理").commit());
    let r = honest.sync(&s);
    assert_eq!(r[0]["status"], "applied", "{r:?}");
    assert_eq!(record(&s, ev)["fields"]["title"]["value"], "已清理");

    // Every refusal is in the quarantine, with its code, once (an admin sees
    // those whose grid is no grid of the tree too).
    let (st, q) = s.get_as(&s.admin_token(), &format!("/v1/quarantine?actor={h}"));
    assert_eq!(st, 200);
    let codes: Vec<&str> = q["changes"]
        .as_array()
        .or_else(|| q["quarantine"].as_array())
        .unwrap_or_else(|| panic!("{q}"))
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = attacks.iter().map(|a| a.2).collect();
    expected.extend([
        "out_of_scope",
        "forbidden_collection",
        "malformed_change",
        "invalid_header",
    ]);
    let mut got = codes.clone();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected);
}

fn arrays_where_objects_belong_are_refused_with_a_code(b: &Backend) {
    let s = TestServer::start(b);
    s.create_user("worker03", "grid_worker", GRID);
    let phone = Phone::enroll_existing(&s, "worker03", PASSWORD, &[GRID]);
    let post = |path: &str, token: Option<&str>, body: &str| {
        let mut req = ureq::post(&s.url(path)).set("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        match req.send_string(body) {
            Ok(r) => (r.status(), r.into_json::<Json>().unwrap()),
            Err(ureq::Error::Status(st, r)) => (st, r.into_json().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    let admin = s.admin_token();
    let table: Vec<(&str, Option<&str>, &str)> = vec![
        ("/v1/sync", Some(&phone.token), "[]"),
        ("/v1/sync", Some(&phone.token), "[1, null, [\"g1\"]]"),
        ("/v1/sync", Some(&phone.token), r#"{"resume": ["1", "x"]}"#),
        (
            "/v1/auth/login",
            None,
            r#"["worker03", "correct horse battery"]"#,
        ),
        ("/v1/auth/refresh", None, r#"["x"]"#),
        ("/v1/devices", Some(&phone.token), r#"["phone"]"#),
        (
            "/v1/users",
            Some(&admin),
            r#"["u", "U", "pw-pw-pw-pw", "grid_worker", "g1"]"#,
        ),
        (
            "/v1/org/nodes",
            Some(&admin),
            r#"["g9", "c1", "grid", "G9"]"#,
        ),
        (
            "/v1/attachments",
            Some(&phone.token),
            r#"["ab", "image/jpeg", 1]"#,
        ),
    ];
    for (path, token, body) in table {
        let (st, res) = post(path, token, body);
        assert_eq!(st, 400, "{path} {body}: {res}");
        assert_eq!(res["code"], "invalid_request", "{path} {body}: {res}");
    }
    // The object forms still work.
    let (st, res) = post(
        "/v1/auth/login",
        None,
        r#"{"username": "worker03", "password": "correct horse battery"}"#,
    );
    assert_eq!(st, 200, "{res}");
}

fn a_pull_of_a_grid_out_of_scope_does_not_block_the_push(b: &Backend) {
    let s = TestServer::start(b);
    let id = s.create_user("mover", "grid_worker", "g1");
    let mut phone = Phone::enroll_existing(&s, "mover", PASSWORD, &["g1"]);
    phone.sync(&s);
    // Offline, the worker records an event in the old grid; meanwhile the
    // office moves them to g2.
    let old = Uuid::new_v4();
    phone.make(|d| {
        d.create("event", "g1", old)
            .set("status", "reported")
            .commit()
    });
    let (st, res) = s.call(
        s.authed(
            ureq::patch(&s.url(&format!("/v1/users/{id}"))),
            &s.admin_token(),
        ),
        Some(json!({"node": "g2"})),
    );
    assert_eq!(st, 200, "{res}");
    let new = Uuid::new_v4();
    phone.make(|d| {
        d.create("event", "g2", new)
            .set("status", "reported")
            .commit()
    });
    let changes: Vec<Json> = phone
        .outbox
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    let (st, res) = s.sync(
        &phone.token,
        json!({"actor": phone.actor(), "grids": ["g1", "g2"], "changes": changes}),
    );
    assert_eq!(st, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "refused", "{res}");
    assert_eq!(res["results"][0]["code"], "out_of_scope", "{res}");
    assert_eq!(res["results"][1]["status"], "applied", "{res}");
    assert_eq!(res["skipped"][0]["grid"], "g1", "{res}");
    assert_eq!(res["skipped"][0]["code"], "out_of_scope", "{res}");
    // The old grid's change waits in the quarantine for a supervisor.
    let q = s.get(&format!("/v1/quarantine?actor={}", phone.actor()));
    assert!(q.to_string().contains(&old.to_string()), "{q}");
    // Asking only for the old grid is no error either: nothing is pulled.
    let (st, res) = s.sync(
        &phone.token,
        json!({"actor": phone.actor(), "grids": ["g1"]}),
    );
    assert_eq!(st, 200, "{res}");
    assert!(
        res.get("changes").is_none() && res.get("records").is_none(),
        "{res}"
    );
}

/// The edge case of PROTOCOL.md "Bounds": a change refused `context_unseen`
/// waits in the quarantine; once the actor it names has made what it claims
/// (here: that actor's changes arrive after it), a supervisor's accept
/// checks it again, against the bound of that moment, and it merges.
fn a_claim_refused_today_is_accepted_once_what_it_claims_was_made(b: &Backend) {
    let s = TestServer::start(b);
    let mut late = Phone::enroll(&s, "late", "grid_worker", GRID, &[GRID]);
    let mut other = Phone::enroll(&s, "other", "grid_worker", GRID, &[GRID]);
    let ev = Uuid::new_v4();
    // `late` makes two changes offline; `other` somehow saw both (a phone
    // handed over, or a client that copied them) and writes over them.
    late.make(|d| d.create("event", GRID, ev).set("title", "one").commit());
    let second = late.make(|d| d.edit(ev).set("title", "two").commit());
    other.device.receive(&late.outbox[0]).unwrap();
    other.device.receive(&second).unwrap();
    other.make(|d| d.edit(ev).set("title", "three").commit());
    let r = other.sync(&s);
    assert_eq!(r[0]["code"], "context_unseen", "{r:?}");
    // `late` syncs: what the claim named now exists.
    let r = late.sync(&s);
    assert!(r.iter().all(|x| x["status"] == "applied"), "{r:?}");
    let (_, q) = s.get_as(
        &s.admin_token(),
        &format!("/v1/quarantine?actor={}", other.actor()),
    );
    let id = q["changes"][0]["id"].as_i64().unwrap();
    let (st, res) = s.call(
        s.authed(
            ureq::post(&s.url(&format!("/v1/quarantine/{id}/accept"))),
            &s.supervisor_token(),
        ),
        None,
    );
    assert_eq!(st, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "applied", "{res}");
    assert_eq!(record(&s, ev)["fields"]["title"]["value"], "three");
}

/// A record is its grid and its id (on Citus the grid places it, and no
/// key can span grids). A device in g2 that reuses the id of a g1 record
/// makes another record in g2; g1's record is untouched, and a read by id
/// alone that could mean either says so.
fn a_record_id_reused_in_another_grid_is_another_record(b: &Backend) {
    let s = TestServer::start(b);
    let mut li = Phone::enroll(&s, "li", "grid_worker", "g1", &["g1"]);
    let mut zhao = Phone::enroll(&s, "zhao", "grid_worker", "g2", &["g2"]);
    let id = Uuid::new_v4();
    li.make(|d| {
        d.create("event", "g1", id)
            .set("title", "g1's event")
            .set("status", "reported")
            .commit()
    });
    assert_eq!(li.sync(&s)[0]["status"], "applied");
    let (st, res) = s.sync(
        &zhao.token,
        json!({"actor": zhao.actor(), "grids": ["g2"], "changes": [change(
            zhao.actor(), 1, id, "event", "g2",
            &json!([{"set": {"field": "title", "value": "g2's event"}}]))]}),
    );
    assert_eq!(st, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "applied", "{res}");
    zhao.sync(&s);

    // By id alone, for a reader of both grids: ambiguous, with a code.
    let (st, res) = s.get_as(&s.supervisor_token(), &format!("/v1/records/{id}"));
    assert_eq!(st, 409, "{res}");
    assert_eq!(res["code"], "ambiguous_record", "{res}");
    for (grid, title) in [("g1", "g1's event"), ("g2", "g2's event")] {
        let r = s.get(&format!("/v1/records/{id}?grid={grid}"));
        assert_eq!(r["record"]["grid"], grid, "{r}");
        assert_eq!(r["record"]["fields"]["title"]["value"], title, "{r}");
        assert_eq!(r["history"].as_array().unwrap().len(), 1, "{r}");
    }
    // For a reader of one grid: that grid's record.
    let (st, res) = s.get_as(&li.token, &format!("/v1/records/{id}"));
    assert_eq!(st, 200, "{res}");
    assert_eq!(res["record"]["grid"], "g1", "{res}");
    // Each grid's log holds its own change once.
    let (st, res) = s.get_as(&zhao.token, &format!("/v1/records/{id}?grid=g1"));
    assert_eq!(st, 404, "{res}");
    assert!(res["code"].is_string(), "{res}");
}

/// Base data a device in another language sends wrong (it skipped the
/// checks a gridsync device makes): each change refused with its code and
/// field, kept in the quarantine, the rest of the batch applied.
fn base_data_that_is_wrong_is_refused_field_by_field(b: &Backend) {
    let s = TestServer::start(b);
    let p = Phone::enroll(&s, "raw", "grid_worker", GRID, &[GRID]);
    let a = p.actor();
    let set = |f: &str, v: &str| json!({"set": {"field": f, "value": v}});
    let (petition, resident, resident2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq
    };
    // (change, expected status, code, field)
    let cases: Vec<(Json, &str, Option<&str>, Option<&str>)> = vec![
        (
            change(
                a,
                next(),
                resident,
                "resident",
                GRID,
                &json!([set("name", "王五"), set("id_number", "420202199001011234")]),
            ),
            "refused",
            Some("invalid_id_number"),
            Some("id_number"),
        ),
        (
            change(
                a,
                next(),
                Uuid::new_v4(),
                "resident",
                GRID,
                &json!([set("id_number", "420202199002301231")]),
            ),
            "refused",
            Some("invalid_id_number"),
            Some("id_number"),
        ),
        (
            change(
                a,
                next(),
                Uuid::new_v4(),
                "resident",
                GRID,
                &json!([set("phone", "12345")]),
            ),
            "refused",
            Some("invalid_phone"),
            Some("phone"),
        ),
        (
            change(
                a,
                next(),
                Uuid::new_v4(),
                "resident",
                GRID,
                &json!([
                    set("id_number", "420202199001011231"),
                    set("phone", "0714-6251234")
                ]),
            ),
            "applied",
            None,
            None,
        ),
        (
            change(
                a,
                next(),
                resident2,
                "resident",
                GRID,
                &json!([
                    set("id_number", "420202199001011231"),
                    set("birth_date", "1990-01-01")
                ]),
            ),
            "applied",
            None,
            None,
        ),
        // Against what the server holds: a birth date the number denies.
        (
            change(
                a,
                next(),
                resident2,
                "resident",
                GRID,
                &json!([set("birth_date", "1992-05-05")]),
            ),
            "refused",
            Some("invalid_id_number"),
            Some("birth_date"),
        ),
        (
            change(
                a,
                next(),
                petition,
                "petition",
                GRID,
                &json!([
                    set("status", "received"),
                    set("received_on", "2026-11-20"),
                    set("accepted_on", "2026-11-19")
                ]),
            ),
            "refused",
            Some("dates_out_of_order"),
            Some("accepted_on"),
        ),
        (
            change(
                a,
                next(),
                petition,
                "petition",
                GRID,
                &json!([set("status", "received"), set("received_on", "2026-11-20")]),
            ),
            "applied",
            None,
            None,
        ),
        // Against what the server holds: accepted before it was received.
        (
            change(
                a,
                next(),
                petition,
                "petition",
                GRID,
                &json!([set("accepted_on", "2026-11-18")]),
            ),
            "refused",
            Some("dates_out_of_order"),
            Some("accepted_on"),
        ),
        (
            change(
                a,
                next(),
                petition,
                "petition",
                GRID,
                &json!([set("accepted_on", "2026-11-21")]),
            ),
            "applied",
            None,
            None,
        ),
    ];
    let changes: Vec<Json> = cases.iter().map(|c| c.0.clone()).collect();
    let (st, body) = s.sync(
        &p.token,
        json!({"actor": a, "grids": [GRID], "changes": changes}),
    );
    assert_eq!(st, 200, "{body}");
    for (i, (_, status, code, field)) in cases.iter().enumerate() {
        let r = &body["results"][i];
        assert_eq!(r["status"], *status, "case {i}: {r}");
        assert_eq!(r["code"].as_str(), *code, "case {i}: {r}");
        assert_eq!(r["field"].as_str(), *field, "case {i}: {r}");
    }
    let q = s.get(&format!("/v1/quarantine?actor={a}"));
    let codes: Vec<&str> = q["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 6, "{q}");
    assert_eq!(
        record(&s, petition)["fields"]["accepted_on"]["value"],
        "2026-11-21"
    );
}
