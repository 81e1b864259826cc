//! Bad input gets a 4xx with a stable code, and nothing is half-applied.

mod common;

use common::{on_both_backends, Backend, Phone, TestServer};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(bad_requests_are_refused_whole_with_a_code);

const GRID: &str = "g-bad";

fn bad_requests_are_refused_whole_with_a_code(b: &Backend) {
    let limits = gridsync_server::Limits {
        max_body_bytes: 64 * 1024,
        max_batch: 5,
        ..Default::default()
    };
    let s = TestServer::start_with(b, limits, 2_000);
    let mut a = Phone::enroll(&s, "user5", "grid_worker", GRID, &[GRID]);
    let id = Uuid::new_v4();
    let c = a.make(|d| {
        d.create("event", GRID, id)
            .set("status", "reported")
            .commit()
    });
    let sync = || s.authed(ureq::post(&s.url("/v1/sync")), &a.token);
    let get = |path: &str| s.get_as(&a.token, path);

    let raw = |body: &str, ct: &str| match sync().set("Content-Type", ct).send_string(body) {
        Ok(r) => (r.status(), r.into_json::<serde_json::Value>().unwrap()),
        Err(ureq::Error::Status(st, r)) => (st, r.into_json().unwrap()),
        Err(e) => panic!("{e}"),
    };
    // A token as this server makes them, far ahead of the grid's log (as
    // after a restore from an older backup).
    let ahead = gridsync_server::sync::Cursor([(GRID.to_string(), 999)].into()).encode();
    let cases: Vec<(u16, &str, (u16, serde_json::Value))> = vec![
        (
            400,
            "malformed_json",
            raw("{\"actor\": 5, ", "application/json"),
        ),
        (
            400,
            "invalid_request",
            raw(
                "{\"actor\": \"five\", \"grids\": [\"g\"]}",
                "application/json",
            ),
        ),
        (
            400,
            "invalid_request",
            raw(
                "{\"actor\": 5, \"grids\": [\"g\"], \"surprise\": 1}",
                "application/json",
            ),
        ),
        (
            415,
            "unsupported_media_type",
            raw("{\"actor\": 5, \"grids\": [\"g\"]}", "text/plain"),
        ),
        (
            413,
            "payload_too_large",
            raw(
                &format!(
                    "{{\"actor\": 5, \"grids\": [\"g\"], \"pad\": \"{}\"}}",
                    "x".repeat(70_000)
                ),
                "application/json",
            ),
        ),
        (
            400,
            "too_many_changes",
            s.sync(
                &a.token,
                json!({"actor": a.actor(), "grids": [GRID], "changes": vec![c.clone(); 6]}),
            ),
        ),
        (
            403,
            "actor_not_yours",
            s.sync(
                &a.token,
                json!({"actor": a.actor() + 1, "grids": [GRID], "changes": [c]}),
            ),
        ),
        (
            400,
            "invalid_grids",
            s.sync(&a.token, json!({"grids": [], "changes": [c]})),
        ),
        (
            400,
            "invalid_grids",
            s.sync(&a.token, json!({"grids": ["../etc"], "changes": [c]})),
        ),
        (
            400,
            "invalid_batch",
            s.sync(
                &a.token,
                json!({"batch": "b1", "grids": [GRID], "changes": [c]}),
            ),
        ),
        (
            400,
            "cursor_outdated",
            s.sync(
                &a.token,
                json!({"cursor": 999, "grids": [GRID], "changes": [c]}),
            ),
        ),
        (
            400,
            "cursor_ahead",
            s.sync(
                &a.token,
                json!({"cursor": ahead, "grids": [GRID], "changes": [c]}),
            ),
        ),
        (
            400,
            "invalid_cursor",
            s.sync(
                &a.token,
                json!({"cursor": "c1.not-base64!", "grids": [GRID], "changes": [c]}),
            ),
        ),
        (
            400,
            "invalid_resume",
            s.sync(&a.token, json!({"grids": [GRID], "resume": "r1.made-up"})),
        ),
        (
            400,
            "cursor_outdated",
            s.sync(
                &a.token,
                json!({"grids": [GRID], "resume": {"snapshot": 10, "after": "x"}}),
            ),
        ),
        (400, "invalid_id", get("/v1/records/not-a-uuid")),
        (
            404,
            "not_found",
            get(&format!("/v1/records/{}", Uuid::new_v4())),
        ),
        (
            400,
            "unknown_collection",
            get(&format!("/v1/grids/{GRID}/records?collection=ufo")),
        ),
        (
            400,
            "invalid_query",
            get(&format!("/v1/grids/{GRID}/records?limit=0")),
        ),
        (
            400,
            "invalid_query",
            get(&format!("/v1/grids/{GRID}/records?updated_since=yesterday")),
        ),
        (
            400,
            "invalid_query",
            get(&format!("/v1/grids/{GRID}/records?after=nope")),
        ),
        (404, "not_found", get("/v2/anything")),
    ];
    for (status, code, (got_status, body)) in cases {
        assert_eq!(
            (got_status, body["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // None of the refused requests applied the change it carried.
    assert!(s.get(&format!("/v1/grids/{GRID}/records"))["records"]
        .as_array()
        .unwrap()
        .is_empty());
    let results = a.sync(&s);
    assert_eq!(results[0]["status"], "applied");
}
