//! Photos on the phone against the real server on port 0: attached offline,
//! uploaded after the change that refers to them, shown plainly while they
//! have not arrived, fetched by another phone; and the upload queue of
//! `gridsync-device` across a killed process.

mod common;

use std::io::Read;
use std::process::{Command, Output};

use common::{jpeg, Server, PASSWORD};
use gridsync_client::ClientError;
use gridsync_core::{Entry, Value};
use serde_json::Value as Json;
use uuid::Uuid;

/// GET the bytes of an attachment as the district supervisor.
fn on_server(server: &Server, sha: &str) -> (u16, Vec<u8>) {
    let _ = server.get("/v1/schema");
    let token = server.http().login("chief", PASSWORD).unwrap().access_token;
    let res = ureq::get(&format!("{}/v1/attachments/{sha}", server.url))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    let r = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let st = r.status();
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    (st, body)
}

fn photos_entry(photo: Value, stage: &str) -> Entry {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("photo".to_owned(), photo);
    fields.insert("stage".to_owned(), Value::from(stage));
    Entry {
        id: Uuid::new_v4(),
        at: "2026-11-28T09:00:00+08:00".into(),
        fields,
    }
}

#[test]
fn a_photo_taken_offline_is_uploaded_after_its_change_and_fetched_elsewhere() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    server.user("boss", "supervisor", "c1");
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut li = server.phone(da.path(), "li");
    let mut boss = server.phone(db.path(), "boss");

    // Offline: a photo is taken and attached to a new event.
    let photo = jpeg(700, 500, 1);
    let src = da.path().join("IMG_0001.jpg");
    std::fs::write(&src, &photo).unwrap();
    let att = li.attach(&src, Some("楼道堆物")).unwrap();
    std::fs::remove_file(&src).unwrap(); // the camera roll is cleared: the copy stays
    assert_eq!(att.media_type, "image/jpeg");
    assert_eq!(att.size, photo.len() as u64);
    let event = Uuid::new_v4();
    li.make(|d| {
        d.create("event", "g1", event)
            .set("title", "楼道堆放杂物")
            .set("status", "reported")
            .append("photos", photos_entry(Value::from(att.clone()), "before"))
            .commit()
    })
    .unwrap();
    let states = li.attachment_states(event).unwrap();
    assert_eq!(states.len(), 1);
    assert!(states[0].here);
    assert_eq!(states[0].upload.as_ref().unwrap().state, "waiting");
    assert!(
        states[0].describe().contains("waiting to upload (0 of"),
        "{}",
        states[0].describe()
    );
    assert_eq!(li.status().unwrap().uploads_waiting, 1);

    // One sync: the change first, then the photo in chunks.
    li.options.upload_chunk = Some(100_000);
    assert_eq!(li.status().unwrap().outbox, 1);

    let report = li.sync().unwrap();
    assert_eq!((report.delivered, report.uploaded), (1, 1), "{report:?}");
    assert_eq!(report.upload_bytes, photo.len() as u64);
    assert_eq!(report.uploads_waiting, 0);
    let after = li.status().unwrap();
    assert_eq!((after.outbox, after.uploads_waiting), (0, 0));
    assert_eq!(on_server(&server, &att.sha256), (200, photo.clone()));
    assert!(li.attachment_states(event).unwrap()[0]
        .describe()
        .ends_with("uploaded"));

    // The supervisor's phone: the record, the photo not here, fetched.
    boss.sync().unwrap();
    let states = boss.attachment_states(event).unwrap();
    assert!(!states[0].here && states[0].upload.is_none());
    assert!(states[0].describe().contains("not on this device"));
    let path = boss.fetch_attachment(&att.sha256).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), photo);
    assert!(boss.attachment_states(event).unwrap()[0].here);

    // Another photo whose file is lost on the phone before its sync: the
    // change arrives, the photo cannot; the phone says why, and the
    // supervisor's fetch says plainly that it has not arrived.
    let late = jpeg(64, 64, 2);
    std::fs::write(&src, &late).unwrap();
    let att2 = li.attach(&src, None).unwrap();
    li.make(|d| {
        d.edit(event)
            .append("photos", photos_entry(Value::from(att2.clone()), "after"))
            .commit()
    })
    .unwrap();
    std::fs::remove_file(da.path().join("attachments").join(&att2.sha256)).unwrap();
    let report = li.sync().unwrap();
    assert_eq!(report.uploaded, 0);
    assert_eq!(report.uploads_waiting, 1);
    assert!(report.upload_problems[&att2.sha256].contains("not on this device"));
    boss.sync().unwrap();
    match boss.fetch_attachment(&att2.sha256) {
        Err(e @ ClientError::Api { .. }) => {
            assert_eq!(e.code(), Some("attachment_pending"));
            assert!(e.to_string().contains("has not uploaded it yet"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // The file comes back (restored from a backup): the next sync sends it.
    std::fs::write(da.path().join("attachments").join(&att2.sha256), &late).unwrap();
    let report = li.sync().unwrap();
    assert_eq!((report.uploaded, report.uploads_waiting), (1, 0));
    // A download cut half way resumes from what it has (a range request).
    let folder = db.path().join("attachments");
    let half = late.len() / 2;
    std::fs::write(folder.join(format!("{}.part", att2.sha256)), &late[..half]).unwrap();
    let ranged = ranged_downloads(&server);
    let got = std::fs::read(boss.fetch_attachment(&att2.sha256).unwrap()).unwrap();
    assert_eq!(got, late);
    assert_eq!(
        ranged_downloads(&server),
        ranged + 1,
        "resumed with a range"
    );
    // A leftover that is no prefix of it (longer than the whole) is
    // replaced by the whole.
    std::fs::remove_file(folder.join(&att.sha256)).unwrap();
    std::fs::write(
        folder.join(format!("{}.part", att.sha256)),
        vec![7u8; photo.len() + 10],
    )
    .unwrap();
    let got = std::fs::read(boss.fetch_attachment(&att.sha256).unwrap()).unwrap();
    assert_eq!(got, photo);
    assert!(!folder.join(format!("{}.part", att.sha256)).exists());
}

#[test]
fn a_photo_on_a_refused_change_is_kept_and_marked() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let da = tempfile::tempdir().unwrap();
    let mut li = server.phone(da.path(), "li");
    let src = da.path().join("x.jpg");
    std::fs::write(&src, jpeg(32, 32, 3)).unwrap();
    let att = li.attach(&src, None).unwrap();
    // g2 is outside li's grid: the server refuses the change.
    let event = Uuid::new_v4();
    li.make(|d| {
        d.create("event", "g2", event)
            .set("status", "reported")
            .append("photos", photos_entry(Value::from(att.clone()), "scene"))
            .commit()
    })
    .unwrap();
    let report = li.sync().unwrap();
    assert_eq!(
        (report.refused, report.uploaded, report.uploads_waiting),
        (1, 0, 0)
    );
    let state = &li.attachment_states(event).unwrap()[0];
    assert!(state.here);
    assert!(state.describe().contains("refused"), "{}", state.describe());
    assert_eq!(on_server(&server, &att.sha256).0, 404);
}

#[test]
fn a_damaged_file_waits_without_holding_up_the_others() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let da = tempfile::tempdir().unwrap();
    let mut li = server.phone(da.path(), "li");
    let (first, second) = (jpeg(200, 150, 11), jpeg(200, 150, 12));
    let mut refs = Vec::new();
    for (i, bytes) in [&first, &second].into_iter().enumerate() {
        let src = da.path().join(format!("p{i}.jpg"));
        std::fs::write(&src, bytes).unwrap();
        let att = li.attach(&src, None).unwrap();
        li.make(|d| {
            d.create("event", "g1", Uuid::new_v4())
                .set("status", "reported")
                .append("photos", photos_entry(Value::from(att.clone()), "scene"))
                .commit()
        })
        .unwrap();
        refs.push(att);
    }
    // The first photo's copy is cut short (a failing card).
    let kept = da.path().join("attachments").join(&refs[0].sha256);
    std::fs::write(&kept, &first[..first.len() / 3]).unwrap();
    li.options.upload_chunk = Some(16 * 1024);
    let report = li.sync().unwrap();
    assert_eq!(
        (report.uploaded, report.uploads_waiting),
        (1, 1),
        "{report:?}"
    );
    assert!(
        report.upload_problems[&refs[0].sha256].contains("cannot be read"),
        "{report:?}"
    );
    assert_eq!(on_server(&server, &refs[1].sha256), (200, second));
    assert_eq!(on_server(&server, &refs[0].sha256).0, 404);
}

fn device(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsync-device"));
    c.arg("--dir").arg(dir).env("GRIDSYNC_PASSWORD", PASSWORD);
    c
}

fn run(cmd: &mut Command) -> (bool, Json, String) {
    let out: Output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    (out.status.success(), json, stderr)
}

fn ok(cmd: &mut Command) -> Json {
    let (success, json, stderr) = run(cmd);
    assert!(success, "{json}\n{stderr}");
    json
}

/// A counter of the server's `/metrics` (0 when it has no such line yet).
fn metric(server: &Server, line_start: &str) -> u64 {
    let text = ureq::get(&format!("{}/metrics", server.url))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .map_or(0, |v| v.trim().parse().unwrap())
}

fn received_bytes(server: &Server) -> u64 {
    metric(server, "gridsync_attachment_bytes_received_total ")
}

/// Attachment downloads answered with a range (206).
fn ranged_downloads(server: &Server) -> u64 {
    metric(
        server,
        r#"gridsync_http_requests_total{method="GET",route="/v1/attachments/{sha256}",status="206"} "#,
    )
}

#[test]
fn the_upload_queue_survives_a_killed_process() {
    let server = Server::start();
    server.user("zhou", "grid_worker", "g1");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("phone");
    ok(device(&dir).args([
        "--json",
        "enroll",
        "--server",
        &server.url,
        "--user",
        "zhou",
        "--grid",
        "g1",
    ]));
    let made = ok(device(&dir).args([
        "--json",
        "create",
        "dispute",
        "--grid",
        "g1",
        "summary=邻里噪音",
        "status=registered",
    ]));
    let id = made["id"].as_str().unwrap().to_owned();
    let photo = jpeg(900, 700, 4);
    let file = tmp.path().join("agreement.jpg");
    std::fs::write(&file, &photo).unwrap();
    ok(device(&dir).args([
        "--json",
        "--caption",
        "调解协议 第1页",
        "edit",
        &id,
        &format!("agreement_scan=@{}", file.display()),
    ]));
    let shown = ok(device(&dir).args(["--json", "show", &id]));
    let sha = shown["fields"]["agreement_scan"]["value"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(shown["attachments"][0]["upload"]["state"], "waiting");
    assert_eq!(
        shown["fields"]["agreement_scan"]["value"]["caption"],
        "调解协议 第1页"
    );

    // Killed right after the 3rd chunk is acknowledged.
    let chunk = 64 * 1024;
    let (success, _, _) = run(device(&dir)
        .args(["--json", "sync", "--chunk", &chunk.to_string()])
        .env("GRIDSYNC_DEVICE_DIE_AFTER_CHUNKS", "3"));
    assert!(!success, "the process was to die");
    let status = ok(device(&dir).args(["--json", "status"]));
    assert_eq!(
        (
            status["outbox"].as_u64(),
            status["uploads_waiting"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(
        status["upload_bytes_left"].as_u64(),
        Some(photo.len() as u64 - 3 * chunk)
    );
    assert_eq!(on_server(&server, &sha).0, 404, "not arrived yet");

    // Killed again, two chunks later, then left to finish.
    let (success, _, _) = run(device(&dir)
        .args(["--json", "sync", "--chunk", &chunk.to_string()])
        .env("GRIDSYNC_DEVICE_DIE_AFTER_CHUNKS", "2"));
    assert!(!success);
    let done = ok(device(&dir).args(["--json", "sync", "--chunk", &chunk.to_string()]));
    assert_eq!(
        (done["uploaded"].as_u64(), done["uploads_waiting"].as_u64()),
        (Some(1), Some(0)),
        "{done}"
    );
    assert_eq!(
        done["upload_bytes"].as_u64(),
        Some(photo.len() as u64 - 5 * chunk)
    );
    assert_eq!(on_server(&server, &sha), (200, photo.clone()));
    // Every acknowledged byte was sent once: resumed, never restarted.
    assert_eq!(received_bytes(&server), photo.len() as u64);
    let shown = ok(device(&dir).args(["show", &id]).arg("--json"));
    assert_eq!(shown["attachments"][0]["upload"]["state"], "uploaded");

    // Another phone fetches it by hash into its folder and a copy.
    server.user("wu", "supervisor", "c1");
    let other = tmp.path().join("other");
    ok(device(&other).args(["--json", "enroll", "--server", &server.url, "--user", "wu"]));
    ok(device(&other).args(["--json", "sync"]));
    let copy = tmp.path().join("copy.jpg");
    ok(device(&other)
        .args(["--json", "fetch", &sha, "--out"])
        .arg(&copy));
    assert_eq!(std::fs::read(&copy).unwrap(), photo);
    // Attaching what is not a photo is refused before anything is kept.
    let exe = tmp.path().join("evil.jpg");
    std::fs::write(&exe, b"MZ\x90\x00not a photo").unwrap();
    let (success, _, stderr) = run(device(&dir)
        .args(["--json", "edit", &id])
        .arg(format!("agreement_scan=@{}", exe.display())));
    assert!(!success);
    assert!(stderr.contains("not a photo or a PDF"), "{stderr}");
}
