//! The real binary serving HTTPS (`--tls-cert`/`--tls-key`) with a
//! certificate of a CA made here: the smoke path (login, a device, a change
//! synced and read back) over TLS, plain HTTP and strangers' CAs refused,
//! and a renewed certificate taken on SIGHUP without a restart.

#[path = "common/tls.rs"]
mod ca;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ca::{agent_trusting, Ca, ServerFiles};
use serde_json::{json, Value as Json};

const SECRET: &str = "tls-test-secret-tls-test-secret-0123456";
const PASSWORD: &str = "correct horse battery";

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gridsync(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsync"));
    c.env("DATABASE_URL", dir.join("g.db"))
        .env("GRIDSYNC_JWT_SECRET", SECRET)
        .env("GRIDSYNC_ADMIN_PASSWORD", PASSWORD)
        .env_remove("GRIDSYNC_TLS_CERT")
        .env_remove("GRIDSYNC_TLS_KEY");
    c
}

fn start(dir: &Path, files: &ServerFiles, ca: &Ca) -> Running {
    let made = gridsync(dir)
        .args(["create-admin", "--username", "root"])
        .args(["--district", "d", "--district-name", "District"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = gridsync(dir)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running {
        child,
        base: format!("https://127.0.0.1:{port}"),
    };
    let agent = agent_trusting(&ca.pem);
    let t = Instant::now();
    while agent
        .get(&format!("{}/readyz", running.base))
        .call()
        .is_err()
    {
        assert!(t.elapsed() < Duration::from_secs(30), "not ready over TLS");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: Json) -> Json {
    let mut req = agent.post(url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.send_json(body) {
        Ok(r) => r.into_json().unwrap(),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

#[test]
fn the_smoke_path_runs_over_https_and_a_renewed_certificate_is_taken_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("District intranet CA");
    let files = ca.server(dir.path(), "server");
    let s = start(dir.path(), &files, &ca);
    let https = agent_trusting(&ca.pem);
    let url = |p: &str| format!("{}{p}", s.base);

    // The smoke path: an admin makes a grid and a worker; the worker's
    // phone registers, syncs a change, and the record reads back.
    let admin = post(
        &https,
        &url("/v1/auth/login"),
        None,
        json!({"username": "root", "password": PASSWORD}),
    )["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (code, parent, level) in [
        ("p", "d", "park"),
        ("c", "p", "community"),
        ("g", "c", "grid"),
    ] {
        post(
            &https,
            &url("/v1/org/nodes"),
            Some(&admin),
            json!({"code": code, "parent": parent, "level": level, "name": code}),
        );
    }
    post(
        &https,
        &url("/v1/users"),
        Some(&admin),
        json!({"username": "w", "full_name": "W",
        "password": PASSWORD, "role": "grid_worker", "node": "g"}),
    );
    let login = post(
        &https,
        &url("/v1/auth/login"),
        None,
        json!({"username": "w", "password": PASSWORD}),
    );
    let phone = post(
        &https,
        &url("/v1/devices"),
        Some(login["access_token"].as_str().unwrap()),
        json!({"name": "phone"}),
    );
    let (token, actor) = (
        phone["access_token"].as_str().unwrap(),
        &phone["device"]["actor"],
    );
    let id = uuid::Uuid::new_v4();
    let answer = post(
        &https,
        &url("/v1/sync"),
        Some(token),
        json!({
        "actor": actor, "grids": ["g"],
        "changes": [{"actor": actor, "seq": 1, "record": id, "collection": "event", "grid": "g",
            "schema": 1, "ops": [{"set": {"field": "title", "value": "楼道堆放杂物"}},
                                  {"set": {"field": "status", "value": "reported"}}]}]}),
    );
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    let record: Json = https
        .get(&url(&format!("/v1/records/{id}?grid=g")))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(
        record["record"]["fields"]["title"]["value"], "楼道堆放杂物",
        "{record}"
    );

    // Plain HTTP on the TLS port, and a client that trusts another CA, get
    // nowhere.
    let plain = s.base.replace("https://", "http://");
    assert!(ureq::get(&format!("{plain}/healthz")).call().is_err());
    let other = Ca::new("Someone else");
    let refused = agent_trusting(&other.pem).get(&url("/healthz")).call();
    assert!(
        matches!(refused, Err(ureq::Error::Transport(_))),
        "{refused:?}"
    );

    // A renewed certificate, from a new CA, written over the files: the
    // server takes it on SIGHUP, and goes on serving.
    let renewal = Ca::new("District intranet CA, 2027");
    let renewed = renewal.server(dir.path(), "renewed");
    std::fs::rename(&renewed.cert, &files.cert).unwrap();
    std::fs::rename(&renewed.key, &files.key).unwrap();
    // Before the signal, the old certificate is still served.
    assert!(https.get(&url("/healthz")).call().is_ok());
    let hup = Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let new_agent = agent_trusting(&renewal.pem);
    let t = Instant::now();
    while new_agent.get(&url("/healthz")).call().is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the renewed certificate was not taken"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // (A new client: `https` keeps its connection from before.)
    assert!(
        agent_trusting(&ca.pem)
            .get(&url("/healthz"))
            .call()
            .is_err(),
        "the old certificate is still served"
    );
    // A broken file on the next SIGHUP keeps the certificate served.
    std::fs::write(&files.key, "not a key").unwrap();
    Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(new_agent.get(&url("/healthz")).call().is_ok());
}

#[test]
fn certificate_files_that_cannot_serve_stop_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("CA");
    let files = ca.server(dir.path(), "server");
    let other = ca.server(dir.path(), "other");
    let missing = dir.path().join("missing.crt");
    let cases: [(&Path, &Path, &str); 3] = [
        (&missing, &files.key, "missing.crt"),
        (&files.cert, &other.key, "does not go with the certificate"),
        (&files.key, &files.key, "no PEM certificate"),
    ];
    for (cert, key, says) in cases {
        let out = gridsync(dir.path())
            .args(["serve", "--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        assert!(!out.status.success());
        assert!(
            last.starts_with("gridsync: ") && last.contains(says),
            "{err}"
        );
    }
    // One without the other is a usage error.
    let out = gridsync(dir.path())
        .args(["serve", "--tls-cert"])
        .arg(&files.cert)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

#[test]
fn sighup_without_tls_reloads_nothing_and_stops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = gridsync(dir.path())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let healthy = || ureq::get(&format!("{}/healthz", s.base)).call().is_ok();
    let t = Instant::now();
    while !healthy() {
        assert!(t.elapsed() < Duration::from_secs(30), "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        healthy(),
        "a SIGHUP (systemctl reload) must not stop the service"
    );
}
