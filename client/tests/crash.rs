//! `gridsync-device` killed in the middle of a sync, then started again:
//! nothing lost, nothing doubled.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{Server, PASSWORD};
use gridsync_client::{Client, LocalStore};
use gridsync_core::record::FieldView;
use gridsync_core::{Entry, Value};
use serde_json::Value as Json;
use uuid::Uuid;

fn device(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsync-device"));
    c.arg("--dir").arg(dir).env("GRIDSYNC_PASSWORD", PASSWORD);
    c
}

fn ok(cmd: &mut Command) -> Json {
    let out: Output = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status(dir: &std::path::Path) -> Json {
    ok(device(dir).args(["--json", "status"]))
}

/// Check-ins in the server's state of the round and changes in its log.
fn on_server(server: &Server, round: &str) -> (usize, usize) {
    let r = server.get(&format!("/v1/records/{round}?history=1000"));
    let check_ins = r["record"]["fields"]["check_ins"].as_array().unwrap().len();
    (check_ins, r["history"].as_array().unwrap().len())
}

#[test]
fn killed_mid_sync_then_restarted_loses_and_doubles_nothing() {
    let server = Server::start();
    server.user("zhou", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let enrolled = ok(device(dir).args([
        "--json",
        "enroll",
        "--server",
        &server.url,
        "--user",
        "zhou",
        "--grid",
        "g1",
    ]));
    assert!(enrolled["actor"].as_u64().unwrap() >= 1000, "{enrolled}");
    let made = ok(device(dir).args([
        "--json",
        "create",
        "patrol_round",
        "--grid",
        "g1",
        "route=东环线",
        "status=in_progress",
        "--add",
        "planned_checkpoints=cp-01",
        "--add",
        "planned_checkpoints=cp-02",
    ]));
    let round = made["id"].as_str().unwrap().to_owned();
    ok(device(dir).args([
        "--json",
        "check-in",
        &round,
        "cp-01",
        "--note",
        "正常",
        "--position",
        "30.2,115.1",
    ]));

    // A long shift offline: 600 more check-ins, made through the library.
    {
        let mut phone = Client::open(LocalStore::open_dir(dir).unwrap()).unwrap();
        let id = Uuid::parse_str(&round).unwrap();
        for i in 0..600 {
            let entry = Entry {
                id: Uuid::new_v4(),
                at: format!("2026-11-28T{:02}:{:02}:00+08:00", 8 + i / 60, i % 60),
                fields: [
                    (
                        "checkpoint".to_owned(),
                        Value::from(format!("cp-{:02}", i % 2 + 1)),
                    ),
                    ("method".to_owned(), Value::from("qr")),
                ]
                .into(),
            };
            phone
                .make(|d| d.edit(id).append("check_ins", entry).commit())
                .unwrap();
        }
    }
    let total = 602; // create + 601 check-ins
    assert_eq!(status(dir)["outbox"], total);

    // 1. Dies right after the third answer arrived, before keeping it: the
    // server has 3 × 50, the phone still thinks only 2 × 50 went.
    let died = device(dir)
        .args(["sync", "--batch", "50"])
        .env("GRIDSYNC_DEVICE_DIE_AFTER_ANSWERS", "3")
        .output()
        .unwrap();
    assert!(!died.status.success(), "the hook aborts the process");
    assert_eq!(status(dir)["outbox"], total - 100);
    assert_eq!(on_server(&server, &round).1, 150);

    // 2. Killed at random moments of a slow sync (one change per round trip:
    // hundreds of round trips, far longer than the pauses below).
    let mut killed = 0;
    for pause in [120u64, 250, 60] {
        let mut child = device(dir).args(["sync", "--batch", "1"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(pause));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    let waiting = status(dir)["outbox"].as_i64().unwrap();
    assert!(
        killed > 0 && waiting > 0,
        "the kills landed mid-sync ({killed} killed, {waiting} waiting)"
    );

    // 3. Started again: everything arrives once.
    let report = ok(device(dir).args(["--json", "sync"]));
    assert_eq!(report["refused"], 0, "{report}");
    let s = status(dir);
    assert_eq!(
        (s["outbox"].as_i64(), s["refused"].as_i64()),
        (Some(0), Some(0)),
        "{s}"
    );
    assert_eq!(
        on_server(&server, &round),
        (total - 1, total),
        "every check-in once, every change logged once"
    );
    let phone = Client::open(LocalStore::open_dir(dir).unwrap()).unwrap();
    let view = phone.view(Uuid::parse_str(&round).unwrap()).unwrap();
    let FieldView::Log(check_ins) = &view.fields["check_ins"] else {
        panic!()
    };
    assert_eq!(check_ins.len(), total - 1);
}
