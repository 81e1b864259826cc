//! The real binary as an operator runs it: one access line per request
//! (JSON or plain text, no colour in a file), `X-Request-Id` on every
//! answer, gzip for a client that accepts it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start(format: &str) -> Running {
        Running::start_with(format, &[])
    }

    fn start_with(format: &str, serve_args: &[&str]) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("out.log");
        let child = Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args([
                "--log-format",
                format,
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
            ])
            .args(serve_args)
            .env("DATABASE_URL", dir.path().join("g.db"))
            .env(
                "GRIDSYNC_JWT_SECRET",
                "edge-test-secret-edge-test-secret-0123",
            )
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let t = Instant::now();
        while ureq::get(&format!("{base}/readyz")).call().is_err() {
            assert!(t.elapsed() < Duration::from_secs(30), "not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Running {
            child,
            base,
            log,
            _dir: dir,
        }
    }

    /// Stop the server; its log.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A raw request: the status line and headers of the answer, lower-cased,
/// and the body's length as sent.
fn raw_get(base: &str, path: &str, headers: &str) -> (String, usize) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&all[..split]).to_lowercase(),
        all.len() - split - 4,
    )
}

#[test]
fn every_request_has_an_id_and_an_access_line() {
    let s = Running::start("json");
    let res = ureq::get(&format!("{}/healthz", s.base))
        .set("X-Request-Id", "probe-1")
        .call()
        .unwrap();
    assert_eq!(res.header("x-request-id"), Some("probe-1"));
    let err = ureq::get(&format!("{}/v1/nothing-here", s.base))
        .set("X-Request-Id", "not a sane id")
        .call()
        .unwrap_err();
    let ureq::Error::Status(404, res) = err else {
        panic!("{err}")
    };
    let made = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");
    let body: serde_json::Value = res.into_json().unwrap();
    assert_eq!(body["code"], "not_found");

    let log = s.stop();
    assert!(!log.contains('\u{1b}'), "no colour in a file: {log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access = |id: &str| {
        lines
            .iter()
            .find(|l| l["target"] == "gridsync::access" && l["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}: {log}"))
    };
    let a = access("probe-1");
    assert_eq!(
        (a["method"].as_str(), a["route"].as_str()),
        (Some("GET"), Some("/healthz"))
    );
    assert_eq!(a["status"], 200);
    assert!(a["ms"].as_f64().unwrap() >= 0.0);
    assert!(a["bytes"].as_u64().is_some(), "{a}");
    let b = access(&made);
    assert_eq!(b["status"], 404);
    assert_eq!(b["path"], "/v1/nothing-here");
}

#[test]
fn text_logs_have_no_colour_in_a_file_and_answers_are_gzipped_when_asked() {
    let s = Running::start("text");
    let (plain, plain_len) = raw_get(&s.base, "/v1/schema", "");
    assert!(plain.starts_with("http/1.1 200"), "{plain}");
    assert!(!plain.contains("content-encoding"), "{plain}");
    let (gz, gz_len) = raw_get(&s.base, "/v1/schema", "Accept-Encoding: gzip\r\n");
    assert!(gz.contains("content-encoding: gzip"), "{gz}");
    assert!(
        gz_len * 3 < plain_len,
        "{gz_len} gzipped against {plain_len}"
    );
    let log = s.stop();
    assert!(!log.contains('\u{1b}'), "no colour in a file: {log}");
    assert!(
        log.lines().any(|l| l.contains("gridsync::access")
            && l.contains("route=/v1/schema")
            && l.contains("status=200")),
        "{log}"
    );
}

/// Send a request head and part of a body, and keep the connection open.
fn stall(base: &str, path: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"username\""
    );
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// What came back on a stalled connection, read until it closes.
fn answer(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    all
}

#[test]
fn a_stalled_body_is_cut_off_and_one_address_holds_only_so_many_requests() {
    let s = Running::start_with(
        "text",
        &[
            "--body-idle-timeout-secs",
            "1",
            "--max-requests-per-address",
            "3",
        ],
    );
    let health = || {
        let t = Instant::now();
        let st = match ureq::get(&format!("{}/healthz", s.base)).call() {
            Ok(r) => (r.status(), None),
            Err(ureq::Error::Status(st, r)) => (st, r.header("retry-after").map(str::to_owned)),
            Err(e) => panic!("{e}"),
        };
        (st, t.elapsed())
    };
    // Two stalled bodies: the server answers others at once.
    let t = Instant::now();
    let stalled: Vec<TcpStream> = (0..2).map(|_| stall(&s.base, "/v1/auth/login")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let ((st, _), took) = health();
    assert_eq!(st, 200);
    assert!(took < Duration::from_millis(500), "{took:?}");
    // A third fills this address's share: the next request waits its turn.
    let third = stall(&s.base, "/v1/auth/login");
    std::thread::sleep(Duration::from_millis(400));
    let ((st, retry), _) = health();
    assert_eq!(
        (st, retry.as_deref()),
        (429, Some("1")),
        "{}",
        std::fs::read_to_string(&s.log).unwrap()
    );
    // Each stalled body is cut off after a second without a byte: 408.
    for c in stalled.into_iter().chain([third]) {
        let a = answer(c);
        assert!(a.starts_with("HTTP/1.1 408"), "{a}");
        assert!(a.contains("body_timeout"), "{a}");
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(health().0 .0, 200, "the address's share is back");
    let log = s.stop();
    assert!(log.contains("status=408"), "{log}");
    assert!(log.contains("status=429"), "{log}");
}

#[test]
fn metrics_need_their_token_and_tell_what_an_operator_needs() {
    let s = Running::start_with("text", &["--metrics-token", "scrape-me-0123456789"]);
    let metrics = |auth: Option<&str>| {
        let mut r = ureq::get(&format!("{}/metrics", s.base));
        if let Some(a) = auth {
            r = r.set("Authorization", a);
        }
        match r.call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(st, r)) => (st, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer scrape-me-012345678"),
    ] {
        let (st, body) = metrics(auth);
        assert_eq!(st, 401, "{auth:?}: {body}");
        assert!(body.contains("missing_token"), "{body}");
    }
    // A wrong password counts as a login failure.
    let e = ureq::post(&format!("{}/v1/auth/login", s.base))
        .send_json(serde_json::json!({"username": "nobody", "password": "wrong-password"}))
        .unwrap_err();
    assert!(matches!(e, ureq::Error::Status(401, _)), "{e}");
    let (st, text) = metrics(Some("Bearer scrape-me-0123456789"));
    assert_eq!(st, 200);
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(value("gridsync_login_failures_total"), 1.0);
    assert_eq!(value("gridsync_quarantine_open"), 0.0);
    assert_eq!(value("gridsync_sweeps_total"), 0.0);
    assert!(value("gridsync_db_pool_connections{state=\"idle\"}") >= 1.0);
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") > 0.0);
    assert!(
        text.contains(
            "gridsync_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/auth/login\"} 1"
        ),
        "{text}"
    );
}
