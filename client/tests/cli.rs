//! `gridsync-device` as a person or a script uses it: two phones, a conflict
//! listed and resolved, bad input refused with nothing kept.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, PASSWORD};
use serde_json::Value as Json;

fn device(dir: &Path, args: &[&str]) -> (bool, Json, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync-device"))
        .arg("--dir")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env("GRIDSYNC_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> Json {
    let (success, json, err) = device(dir, args);
    assert!(success, "{args:?}: {err}");
    json
}

#[test]
fn two_phones_in_a_terminal_resolve_a_conflict() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    server.user("wang", "grid_worker", "g1");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path(), b.path());
    ok(a, &["enroll", "--server", &server.url, "--user", "li"]);
    ok(b, &["enroll", "--server", &server.url, "--user", "wang"]);

    let made = ok(
        a,
        &[
            "create",
            "household",
            "--grid",
            "g1",
            "address=幸福路 8号楼",
            "rental=true",
            "--add",
            "tags=出租屋",
        ],
    );
    let id = made["id"].as_str().unwrap().to_owned();
    ok(a, &["sync"]);
    ok(b, &["sync"]);
    let listed = ok(b, &["list", "--collection", "household"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());

    ok(a, &["edit", &id, "note=甲说: 租户已搬走"]);
    ok(
        b,
        &["edit", &id, "note=乙说: 租户仍在", "--add", "tags=已走访"],
    );
    ok(a, &["sync"]);
    ok(b, &["sync"]);
    ok(a, &["sync"]);
    let conflicts = ok(a, &["conflicts"]);
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    assert_eq!(conflicts[0]["field"], "note");
    let picked = conflicts[0]["values"][1]["value"].clone();

    ok(a, &["resolve", &id, "note", "--pick", "1"]);
    ok(a, &["sync"]);
    ok(b, &["sync"]);
    for dir in [a, b] {
        assert!(ok(dir, &["conflicts"]).as_array().unwrap().is_empty());
        let shown = ok(dir, &["show", &id]);
        assert_eq!(shown["fields"]["note"]["value"], picked, "{shown}");
        let tags = shown["fields"]["tags"].as_array().unwrap();
        assert_eq!(tags.len(), 2, "both tags kept: {shown}");
    }
    let status = ok(b, &["status"]);
    assert_eq!(
        (status["outbox"].as_i64(), status["conflicts"].as_i64()),
        (Some(0), Some(0))
    );
}

#[test]
fn bad_input_is_refused_clearly_and_keeps_nothing() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // Before enrolling.
    let (success, _, err) = device(dir, &["status"]);
    assert!(!success);
    assert!(err.contains("enroll"), "{err}");

    ok(dir, &["enroll", "--server", &server.url, "--user", "li"]);
    let id = ok(
        dir,
        &[
            "create",
            "event",
            "--grid",
            "g1",
            "title=路灯不亮",
            "status=reported",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: [(&[&str], &str); 6] = [
        (&["create", "spaceship", "--grid", "g1"], "invalid_input"),
        (&["edit", &id, "severity=apocalyptic"], "value_not_allowed"),
        (&["edit", &id, "status=closed"], "transition_not_allowed"),
        (&["edit", &id, "title"], "not NAME=VALUE"),
        (&["append", &id, "actions", "colour=red"], "has no `colour`"),
        (
            &["edit", "00000000-0000-4000-8000-000000000000", "title=x"],
            "no record",
        ),
    ];
    for (args, want) in cases {
        let (success, _, err) = device(dir, args);
        assert!(!success, "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let status = ok(dir, &["status"]);
    assert_eq!(status["outbox"], 1, "only the event was kept: {status}");
    assert_eq!(
        status["next_seq"], 2,
        "refused edits use no sequence number"
    );
}
