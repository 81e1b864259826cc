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
    let mut a = Phone::new(5, &[GRID]);
    let id = Uuid::new_v4();
    let c = a.make(|d| {
        d.create("event", GRID, id)
            .set("status", "reported")
            .commit()
    });
    let sync = || ureq::post(&s.url("/v1/sync"));

    let raw = |body: &str, ct: &str| match sync().set("Content-Type", ct).send_string(body) {
        Ok(r) => (r.status(), r.into_json::<serde_json::Value>().unwrap()),
        Err(ureq::Error::Status(st, r)) => (st, r.into_json().unwrap()),
        Err(e) => panic!("{e}"),
    };
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
            s.sync(json!({"actor": 5, "grids": [GRID], "changes": vec![c.clone(); 6]})),
        ),
        (
            400,
            "invalid_actor",
            s.sync(json!({"actor": 0, "grids": [GRID], "changes": [c]})),
        ),
        (
            400,
            "invalid_grids",
            s.sync(json!({"actor": 5, "grids": [], "changes": [c]})),
        ),
        (
            400,
            "invalid_grids",
            s.sync(json!({"actor": 5, "grids": ["../etc"], "changes": [c]})),
        ),
        (
            400,
            "invalid_batch",
            s.sync(json!({"actor": 5, "batch": "b1", "grids": [GRID], "changes": [c]})),
        ),
        (
            400,
            "cursor_ahead",
            s.sync(json!({"actor": 5, "cursor": 999, "grids": [GRID], "changes": [c]})),
        ),
        (
            400,
            "invalid_resume",
            s.sync(json!({"actor": 5, "grids": [GRID], "resume": {"snapshot": 10, "after": "x"}})),
        ),
        (
            400,
            "invalid_id",
            s.call(ureq::get(&s.url("/v1/records/not-a-uuid")), None),
        ),
        (
            404,
            "not_found",
            s.call(
                ureq::get(&s.url(&format!("/v1/records/{}", Uuid::new_v4()))),
                None,
            ),
        ),
        (
            400,
            "unknown_collection",
            s.call(
                ureq::get(&s.url(&format!("/v1/grids/{GRID}/records?collection=ufo"))),
                None,
            ),
        ),
        (
            400,
            "invalid_query",
            s.call(
                ureq::get(&s.url(&format!("/v1/grids/{GRID}/records?limit=0"))),
                None,
            ),
        ),
        (
            400,
            "invalid_query",
            s.call(
                ureq::get(&s.url(&format!("/v1/grids/{GRID}/records?updated_since=yesterday"))),
                None,
            ),
        ),
        (
            400,
            "invalid_query",
            s.call(
                ureq::get(&s.url(&format!("/v1/grids/{GRID}/records?after=nope"))),
                None,
            ),
        ),
        (
            404,
            "not_found",
            s.call(ureq::get(&s.url("/v2/anything")), None),
        ),
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
