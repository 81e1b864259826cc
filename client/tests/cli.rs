//! `gridsync-device` as a person or a script uses it: two phones, a conflict
//! listed and resolved, bad input refused with nothing kept.

mod common;
#[path = "../../server/tests/common/tls.rs"]
mod tls;

use std::path::Path;
use std::process::Command;

use common::{device, ok, Server, PASSWORD};
use serde_json::{json, Value as Json};

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

/// A script can tell from `sync`'s exit status how it went: 0 everything
/// delivered, 3 some changes refused (`gridsync-device refused` lists them),
/// 1 the sync itself failed (docs/DEVICE.md).
#[test]
fn sync_exits_with_a_status_a_script_can_read() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    ok(dir, &["enroll", "--server", &server.url, "--user", "li"]);
    ok(
        dir,
        &[
            "create",
            "event",
            "--grid",
            "g1",
            "title=路灯不亮",
            "status=reported",
        ],
    );
    let sync = |dir: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_gridsync-device"))
            .args(["--dir", dir.to_str().unwrap(), "--json", "sync"])
            .output()
            .unwrap();
        let report: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
        (out.status.code(), report)
    };
    let (status, report) = sync(dir);
    assert_eq!(status, Some(0), "{report}");
    assert_eq!(report["delivered"], 1, "{report}");

    // A grid this worker does not hold: the server refuses the change.
    ok(
        dir,
        &[
            "create",
            "event",
            "--grid",
            "g2",
            "title=越界",
            "status=reported",
        ],
    );
    let (status, report) = sync(dir);
    assert_eq!(status, Some(3), "{report}");
    assert_eq!(report["refused"], 1, "{report}");
    let refused = ok(dir, &["refused"]);
    assert!(refused.to_string().contains("out_of_scope"), "{refused}");

    // The server gone: the sync fails (status 1) and nothing is lost.
    ok(
        dir,
        &[
            "create",
            "event",
            "--grid",
            "g1",
            "title=又一件",
            "status=reported",
        ],
    );
    drop(server);
    let (status, _) = sync(dir);
    assert_eq!(status, Some(1));
    assert_eq!(ok(dir, &["status"])["outbox"], 1);
}

/// `gridsync-sim --json` reports a run it could not make as JSON too.
#[test]
fn the_simulator_prints_its_errors_as_json_when_asked() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync-sim"))
        .args([
            "--server",
            &url,
            "--devices",
            "2",
            "--changes",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: Json = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(err["code"].is_string(), "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("could not run"),
        "{err}"
    );
}

#[test]
fn a_phone_enrolls_and_syncs_over_https_trusting_the_intranet_ca() {
    let certs = tempfile::tempdir().unwrap();
    let ca = tls::Ca::new("District intranet CA");
    let files = ca.server(certs.path(), "server");
    let ca_file = ca.write(&certs.path().join("intranet-ca.pem"));
    let server = Server::start_tls(&files.cert, &files.key, &ca_file);
    assert!(server.url.starts_with("https://"));
    server.user("li", "grid_worker", "g1");
    let phone = tempfile::tempdir().unwrap();
    let phone = phone.path();

    // Without the CA, the server's certificate is not trusted: a clear
    // error, nothing enrolled.
    let (enrolled, _, err) = device(phone, &["enroll", "--server", &server.url, "--user", "li"]);
    assert!(!enrolled);
    assert!(
        err.contains("server unreachable") && err.contains("certificate"),
        "{err}"
    );
    let (_, _, err) = device(phone, &["status"]);
    assert!(
        err.contains("not_enrolled") || err.contains("enroll"),
        "{err}"
    );

    // A CA file that is no certificate is refused, saying which file.
    let bad = certs.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let (enrolled, _, err) = device(
        phone,
        &[
            "--ca-cert",
            bad.to_str().unwrap(),
            "enroll",
            "--server",
            &server.url,
            "--user",
            "li",
        ],
    );
    assert!(!enrolled && err.contains("bad.pem"), "{err}");

    // With it: enrolled; later commands trust it without being told again.
    ok(
        phone,
        &[
            "--ca-cert",
            ca_file.to_str().unwrap(),
            "enroll",
            "--server",
            &server.url,
            "--user",
            "li",
        ],
    );
    let made = ok(
        phone,
        &[
            "create",
            "event",
            "--grid",
            "g1",
            "title=井盖缺失",
            "status=reported",
        ],
    );
    let synced = ok(phone, &["sync"]);
    assert_eq!(synced["delivered"].as_u64(), Some(1), "{synced}");
    let id = made["id"].as_str().unwrap();
    let served = server.get(&format!("/v1/records/{id}?grid=g1"));
    assert_eq!(
        served["record"]["fields"]["title"]["value"], "井盖缺失",
        "{served}"
    );
}

#[test]
fn a_revoked_phone_hands_its_unsent_changes_to_the_quarantine_and_nothing_else() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    server.user("wang", "grid_worker", "g1");
    server.user("chief", "supervisor", "d");
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (dir, other) = (dir.path(), other.path());
    ok(dir, &["enroll", "--server", &server.url, "--user", "li"]);
    ok(
        other,
        &["enroll", "--server", &server.url, "--user", "wang"],
    );
    ok(dir, &["sync"]);
    // Two events made offline; then the admin revokes the phone (say it was
    // reported lost, and then found).
    let mut made = Vec::new();
    for title in ["路灯不亮", "占道经营"] {
        let m = ok(
            dir,
            &[
                "create",
                "event",
                "--grid",
                "g1",
                &format!("title={title}"),
                "status=reported",
            ],
        );
        made.push(m["id"].as_str().unwrap().to_owned());
    }
    let http = server.http();
    let admin = http.login("admin", PASSWORD).unwrap().access_token;
    let device_id = ok(dir, &["status"])["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let _: Json = http
        .post(
            &format!("/v1/devices/{device_id}/revoke"),
            Some(&admin),
            &serde_json::json!({}),
        )
        .unwrap();

    // The phone cannot sync, and its own token cannot hand over either.
    let (synced, _, err) = device(dir, &["sync"]);
    assert!(!synced && err.contains("device_revoked"), "{err}");
    let own_token = gridsync_client::LocalStore::open_dir(dir)
        .unwrap()
        .device()
        .unwrap()
        .unwrap()
        .access_token;
    let refused = http.post::<Json>(
        &format!("/v1/devices/{device_id}/handover"),
        Some(&own_token),
        &serde_json::json!({"changes": []}),
    );
    assert!(
        matches!(&refused, Err(gridsync_client::sync::Failure::Status { status: 401, code, .. }) if code == "device_revoked"),
        "{refused:?}"
    );
    // Another user may not hand over li's phone; wang's own phone is not
    // revoked, so there is nothing to hand over.
    let wang = http.login("wang", PASSWORD).unwrap().access_token;
    let wang_device = ok(other, &["status"])["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (device, code) in [
        (&device_id, "not_found"),
        (&wang_device, "device_not_revoked"),
    ] {
        let r = http.post::<Json>(
            &format!("/v1/devices/{device}/handover"),
            Some(&wang),
            &serde_json::json!({"changes": []}),
        );
        assert!(
            matches!(&r, Err(gridsync_client::sync::Failure::Status { code: c, .. }) if c == code),
            "{r:?}"
        );
    }

    // The way out: the user's password, the outbox handed over, kept here
    // as refused with the server's code.
    let handed = ok(dir, &["handover"]);
    assert_eq!(handed["handed_over"], 2, "{handed}");
    let listed = ok(dir, &["refused"]);
    let codes: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["device_revoked", "device_revoked"], "{listed}");
    assert_eq!(ok(dir, &["status"])["outbox"], 0);
    // Nothing was applied on the phone's word.
    for id in &made {
        let r = http.get::<Json>(&format!("/v1/records/{id}?grid=g1"), &admin);
        assert!(r.is_err(), "{r:?}");
    }

    // The supervisor decides: one accepted (merged as the phone made it),
    // one rejected.
    let chief = http.login("chief", PASSWORD).unwrap().access_token;
    let q: Json = http.get("/v1/quarantine", &chief).unwrap();
    let rows: Vec<&Json> = q["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["code"] == "device_revoked")
        .collect();
    assert_eq!(rows.len(), 2, "{q}");
    assert!(
        rows[0]["message"]
            .as_str()
            .unwrap()
            .contains("handed over by li"),
        "{q}"
    );
    let by_record = |id: &str| {
        rows.iter().find(|r| r["record_id"] == id).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let _: Json = http
        .post(
            &format!("/v1/quarantine/{}/accept", by_record(&made[0])),
            Some(&chief),
            &serde_json::json!({}),
        )
        .unwrap();
    let _: Json = http
        .post(
            &format!("/v1/quarantine/{}/reject", by_record(&made[1])),
            Some(&chief),
            &serde_json::json!({}),
        )
        .unwrap();
    let accepted: Json = http
        .get(&format!("/v1/records/{}?grid=g1", made[0]), &chief)
        .unwrap();
    assert_eq!(
        accepted["record"]["fields"]["title"]["value"], "路灯不亮",
        "{accepted}"
    );
    assert!(http
        .get::<Json>(&format!("/v1/records/{}?grid=g1", made[1]), &chief)
        .is_err());
    // The hand-over is in the audit log.
    let audit: Json = http.get("/v1/audit", &admin).unwrap();
    assert!(audit.to_string().contains("device_handover"), "{audit}");
}

/// Text (no `--json`) for a person.
fn text(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync-device"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_device_shows_words_and_keeps_its_inbox_for_offline() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    server.user("wang", "grid_worker", "g1");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (a.path(), b.path());
    ok(a, &["enroll", "--server", &server.url, "--user", "li"]);
    ok(b, &["enroll", "--server", &server.url, "--user", "wang"]);
    assert_eq!(
        ok(b, &["inbox"])["items"],
        json!([]),
        "nothing before a sync"
    );

    // Li reports an event and assigns it to Wang; and one to nobody known.
    let made = ok(
        a,
        &[
            "create",
            "event",
            "--grid",
            "g1",
            "title=楼道堆物",
            "status=reported",
            "category=fire_safety",
            "assignee=user:wang",
        ],
    );
    let id = made["id"].as_str().unwrap().to_owned();
    let (success, refused, err) = device(
        a,
        &[
            "create",
            "event",
            "--grid",
            "g1",
            "title=x",
            "assignee=张 科长",
        ],
    );
    // Refused on the device: nothing made, the code said.
    assert!(!success && refused.is_null(), "{refused}");
    assert!(err.contains("invalid_assignee"), "{err}");
    ok(a, &["sync"]);
    ok(b, &["sync"]);

    // Wang's inbox came with the pull, and shows offline.
    let inbox = ok(b, &["inbox"]);
    let items = inbox["items"].as_array().unwrap();
    let assigned: Vec<&Json> = items.iter().filter(|i| i["kind"] == "assigned").collect();
    assert_eq!(assigned.len(), 1, "{inbox}");
    assert_eq!(assigned[0]["record"], id.as_str());
    assert_eq!(assigned[0]["label"], "楼道堆物");
    let shown = text(b, &["inbox"]);
    assert!(
        shown.contains("交办给我") && shown.contains("已上报"),
        "{shown}"
    );

    // Lists and records in words (the JSON keeps the codes).
    let listed = text(b, &["list"]);
    assert!(
        listed.contains("事件") && listed.contains("已上报"),
        "{listed}"
    );
    assert!(!listed.contains(" reported "), "{listed}");
    let record = text(b, &["show", &id]);
    for want in [
        "事件 Event",
        "状态 status: 已上报 (reported)",
        "事件类别 category: 消防安全 (fire_safety)",
    ] {
        assert!(record.contains(want), "{want} in {record}");
    }
    assert_eq!(
        ok(b, &["show", &id])["fields"]["status"]["value"],
        "reported"
    );
}
