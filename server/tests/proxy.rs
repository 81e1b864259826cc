//! gridsync behind nginx, as docs/OPERATIONS.md ("Behind a reverse proxy
//! (nginx)") sets it up: nginx terminates TLS with a certificate of a CA made
//! here and forwards to the real `gridsync` binary, which trusts it
//! (`--trusted-proxy 127.0.0.1`). The nginx configuration is
//! deploy/nginx/gridsync.conf itself, with this run's ports and paths.
//!
//! Clients speak through nginx from other loopback addresses (127.0.0.2,
//! 127.0.0.3: curl `--interface`), so that the client's real address, the
//! proxy's (127.0.0.1) and a forged one (6.6.6.6) are all different.
//!
//! Ignored: it needs nginx, curl and openssl. Run with
//! `GRIDSYNC_TEST_NGINX=/usr/sbin/nginx cargo test -p gridsync-server --test proxy -- --ignored`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DEMO_PASSWORD: &str = "gridsync-demo";
const GRID: &str = "420203-001-001-001";
/// A client's own claim, which must never become its address.
const FORGED: &str = "6.6.6.6";

/// A child process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until `what` listens on `port`; fail with its logs if it exits or
/// takes too long.
fn wait_for_port(port: u16, what: &str, process: &mut Running, logs: &[PathBuf]) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = process.0.try_wait().unwrap();
        if exited.is_some() || t.elapsed() > Duration::from_secs(20) {
            let logs: Vec<String> = logs
                .iter()
                .map(|l| std::fs::read_to_string(l).unwrap_or_default())
                .collect();
            panic!(
                "{what} does not listen on {port} ({exited:?}): {}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is it installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a certificate it signed for 127.0.0.1 and localhost, with the
/// openssl command: (CA certificate, server certificate, server key).
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |name: &str| dir.join(name);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(Command::new("openssl")
        .args(["req", "-x509"])
        .args(ec)
        .args(["-days", "2", "-subj", "/CN=gridsync proxy test CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .arg("req")
        .args(ec)
        .args(["-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
         basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-set_serial", "2"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("server.ext"))
        .arg("-out")
        .arg(p("server.pem")));
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

/// `text` with `from` replaced by `to`, which must occur exactly once (the
/// test and deploy/nginx/gridsync.conf must not drift apart).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "deploy/nginx/gridsync.conf should hold `{from}` once"
    );
    text.replacen(from, to, 1)
}

struct Ports {
    https: u16,
    http: u16,
    gridsync: u16,
}

/// deploy/nginx/gridsync.conf with this run's ports and files, and no IPv6
/// listener (CI's loopback may have none).
fn render_site(dir: &Path, ports: &Ports, cert: &Path, key: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/gridsync.conf");
    let mut conf = std::fs::read_to_string(&path).unwrap();
    conf = replace_once(
        &conf,
        "server 127.0.0.1:8080;",
        &format!("server 127.0.0.1:{};", ports.gridsync),
    );
    conf = replace_once(
        &conf,
        "listen 80;",
        &format!("listen 127.0.0.1:{};", ports.http),
    );
    conf = replace_once(
        &conf,
        "listen 443 ssl http2;",
        &format!("listen 127.0.0.1:{} ssl http2;", ports.https),
    );
    conf = replace_once(
        &conf,
        "/etc/ssl/gridsync/fullchain.pem",
        cert.to_str().unwrap(),
    );
    conf = replace_once(
        &conf,
        "/etc/ssl/gridsync/privkey.pem",
        key.to_str().unwrap(),
    );
    conf = replace_once(
        &conf,
        "/var/log/nginx/gridsync.access.log",
        dir.join("access.log").to_str().unwrap(),
    );
    let ipv6 = conf.lines().filter(|l| l.contains("listen [::]")).count();
    assert_eq!(ipv6, 2, "the IPv6 listeners of gridsync.conf");
    conf.lines()
        .filter(|l| !l.contains("listen [::]"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The main configuration around the site: everything under `dir`, one
/// process in the foreground (no workers to leave behind when it is killed).
fn nginx_main_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;\n\
         master_process off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         client_body_temp_path {d}/client_body;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         include {d}/gridsync.conf;\n\
         }}\n"
    )
}

/// An answer as curl saw it.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// The last header block (names lower-cased).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {}, {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

struct Setup {
    dir: PathBuf,
    ca: PathBuf,
    https: String,
    http: String,
    direct: String,
    gridsync_log: PathBuf,
    calls: AtomicUsize,
}

impl Setup {
    /// A request with curl from the loopback address `from`.
    fn curl(
        &self,
        from: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let (head, out, sent) = (
            self.dir.join(format!("curl-{n}.head")),
            self.dir.join(format!("curl-{n}.body")),
            self.dir.join(format!("curl-{n}.sent")),
        );
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "20", "--interface", from, "-X", method])
            .arg("--cacert")
            .arg(&self.ca)
            .arg("-D")
            .arg(&head)
            .arg("-o")
            .arg(&out)
            .args(["-w", "%{http_code}", "-H", "Expect:"]);
        for (name, value) in headers {
            cmd.args(["-H", &format!("{name}: {value}")]);
        }
        if let Some(body) = body {
            std::fs::write(&sent, body).unwrap();
            cmd.arg("--data-binary").arg(format!("@{}", sent.display()));
        }
        let done = cmd.arg(url).output().expect("curl");
        assert!(
            done.status.success(),
            "curl {method} {url}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let head = std::fs::read_to_string(&head).unwrap();
        let block = head
            .split("\r\n\r\n")
            .filter(|b| !b.trim().is_empty())
            .last()
            .unwrap_or_default();
        let headers = block
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status: String::from_utf8_lossy(&done.stdout).parse().unwrap(),
            headers,
            body: std::fs::read(&out).unwrap_or_default(),
        }
    }

    /// A JSON request through nginx, from `from`, with a forged
    /// `X-Forwarded-For` and `Forwarded`.
    fn call(
        &self,
        from: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        request_id: &str,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("X-Forwarded-For", FORGED),
            ("Forwarded", "for=6.6.6.6;proto=https"),
            ("X-Request-Id", request_id),
        ];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        let body = body.map(|b| b.to_string().into_bytes());
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.curl(
            from,
            method,
            &format!("{}{path}", self.https),
            &headers,
            body.as_deref(),
        )
    }

    fn login(&self, from: &str, user: &str, password: &str, request_id: &str) -> Reply {
        self.call(
            from,
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"username": user, "password": password})),
            request_id,
        )
    }

    fn token(&self, from: &str, user: &str) -> String {
        let r = self.login(from, user, DEMO_PASSWORD, &format!("login-{user}"));
        assert_eq!(
            r.status,
            200,
            "{user}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// gridsync's access line of a request (JSON logs), waiting a moment
    /// for it to be written.
    fn access_line(&self, request_id: &str) -> Value {
        let t = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.gridsync_log).unwrap();
            let line = log
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["target"] == "gridsync::access" && l["request_id"] == request_id);
            match line {
                Some(line) => return line,
                None if t.elapsed() < Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                None => panic!("no access line for {request_id}: {log}"),
            }
        }
    }

    /// nginx's access log line of a request.
    fn nginx_line(&self, request_id: &str) -> String {
        let t = Instant::now();
        loop {
            let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
            if let Some(line) = log
                .lines()
                .find(|l| l.ends_with(&format!(" rid={request_id}")))
            {
                return line.to_owned();
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "no nginx line for {request_id}: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A real JPEG of noise (it does not compress): about 1 MB at 900×800.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut x: u32 = 2_654_435_761;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[test]
#[ignore = "needs nginx: set GRIDSYNC_TEST_NGINX (e.g. /usr/sbin/nginx)"]
fn behind_nginx_tls_the_client_address_comes_from_the_proxy() {
    let Some(nginx_bin) = std::env::var_os("GRIDSYNC_TEST_NGINX") else {
        eprintln!(
            "skipped: set GRIDSYNC_TEST_NGINX to an nginx binary (/usr/sbin/nginx) \
             to run gridsync behind nginx"
        );
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (ca, cert, key) = make_certificates(&dir);
    let ports = Ports {
        https: free_port(),
        http: free_port(),
        gridsync: free_port(),
    };

    // gridsync, trusting the proxy on 127.0.0.1 alone.
    let gridsync_log = dir.join("gridsync.log");
    let mut gridsync = Running(
        Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(["--log-format", "json", "serve", "--demo", "--addr"])
            .arg(format!("127.0.0.1:{}", ports.gridsync))
            .args(["--trusted-proxy", "127.0.0.1"])
            .env("DATABASE_URL", dir.join("gridsync.db"))
            .env(
                "GRIDSYNC_JWT_SECRET",
                "proxy-test-secret-proxy-test-secret-0123",
            )
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(std::fs::File::create(&gridsync_log).unwrap()))
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("gridsync.err")).unwrap(),
            ))
            .spawn()
            .unwrap(),
    );

    // nginx with deploy/nginx/gridsync.conf.
    std::fs::write(
        dir.join("gridsync.conf"),
        render_site(&dir, &ports, &cert, &key),
    )
    .unwrap();
    std::fs::write(dir.join("nginx.conf"), nginx_main_conf(&dir)).unwrap();
    let nginx_err = dir.join("nginx.stderr");
    let mut nginx = Running(
        Command::new(&nginx_bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&nginx_err).unwrap()))
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", Path::new(&nginx_bin).display())),
    );
    wait_for_port(
        ports.https,
        "nginx",
        &mut nginx,
        &[nginx_err, dir.join("error.log")],
    );
    wait_for_port(
        ports.gridsync,
        "gridsync",
        &mut gridsync,
        &[dir.join("gridsync.err"), gridsync_log.clone()],
    );

    let s = Setup {
        ca,
        https: format!("https://127.0.0.1:{}", ports.https),
        http: format!("http://127.0.0.1:{}", ports.http),
        direct: format!("http://127.0.0.1:{}", ports.gridsync),
        gridsync_log,
        calls: AtomicUsize::new(0),
        dir,
    };
    // gridsync is ready once its store is (the demo district loaded).
    let t = Instant::now();
    loop {
        let r = s.curl(
            "127.0.0.2",
            "GET",
            &format!("{}/readyz", s.https),
            &[],
            None,
        );
        if r.status == 200 {
            // No id sent: nginx makes one, and gridsync takes it, so one id
            // names the request in both logs.
            let id = r.header("x-request-id").expect("X-Request-Id").to_owned();
            assert_eq!(id.len(), 32, "{id}");
            assert_eq!(r.json()["status"], "ready");
            assert_eq!(s.access_line(&id)["route"], "/readyz");
            assert!(s.nginx_line(&id).starts_with("127.0.0.2 "));
            break;
        }
        // 502 until gridsync listens.
        assert!(t.elapsed() < Duration::from_secs(20), "not ready: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Plain HTTP is sent to HTTPS, a POST kept a POST.
    let r = s.curl("127.0.0.2", "GET", &format!("{}/readyz", s.http), &[], None);
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("https://127.0.0.1/readyz"));

    // A wrong password through nginx, with forged X-Forwarded-For and
    // Forwarded. nginx sends `X-Forwarded-For: 6.6.6.6, 127.0.0.2` and no
    // Forwarded; gridsync, its peer being the trusted 127.0.0.1, reads the
    // list from the right and stops at the first untrusted hop: 127.0.0.2,
    // the real client.
    let r = s.login("127.0.0.2", "worker01", "wrong-password", "proxy-login-1");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "invalid_credentials");
    assert_eq!(r.header("x-request-id"), Some("proxy-login-1"));
    let line = s.access_line("proxy-login-1");
    assert_eq!(line["address"], "127.0.0.2", "{line}");
    assert_eq!(line["status"], 401);
    assert!(s.nginx_line("proxy-login-1").starts_with("127.0.0.2 [")); // nginx saw the same client

    // The login limit counts that address: five failures lock worker01 from
    // 127.0.0.2 (the forged address would lock it for everyone who forges
    // it, the proxy's for everyone), while worker01 at 127.0.0.3, sending
    // the same forged headers, still logs in.
    for i in 2..=6 {
        let r = s.login(
            "127.0.0.2",
            "worker01",
            "wrong-password",
            &format!("proxy-login-{i}"),
        );
        assert!([401, 429].contains(&r.status), "{r:?}");
    }
    let r = s.login("127.0.0.2", "worker01", DEMO_PASSWORD, "proxy-login-locked");
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some());
    let worker = s.token("127.0.0.3", "worker01");

    // The audit log names the client too: a supervisor's export from
    // 127.0.0.3, read back by the admin.
    let supervisor = s.token("127.0.0.3", "supervisor01");
    let r = s.call(
        "127.0.0.3",
        "GET",
        "/v1/reports/summary?format=csv",
        Some(&supervisor),
        None,
        "proxy-export",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let admin = s.token("127.0.0.3", "admin");
    let r = s.call(
        "127.0.0.3",
        "GET",
        "/v1/audit",
        Some(&admin),
        None,
        "proxy-audit",
    );
    assert_eq!(r.status, 200);
    let audit = r.json();
    let export = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "export_report")
        .max_by_key(|e| e["id"].as_i64())
        .unwrap_or_else(|| panic!("no export in the audit log: {audit}"));
    assert_eq!(export["address"], "127.0.0.3", "{export}");

    // Straight to gridsync, not through nginx: the peer (127.0.0.2) is no
    // trusted proxy, so its X-Forwarded-For is its own claim, ignored.
    let r = s.curl(
        "127.0.0.2",
        "GET",
        &format!("{}/healthz", s.direct),
        &[("X-Forwarded-For", FORGED), ("X-Request-Id", "direct-1")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(s.access_line("direct-1")["address"], "127.0.0.2");

    // A sync batch of about 600 kB through nginx: 100 new events with long
    // descriptions (2,000 characters of 3 bytes each in UTF-8).
    let r = s.call(
        "127.0.0.3",
        "POST",
        "/v1/devices",
        Some(&worker),
        Some(&json!({"name": "proxy test phone"})),
        "proxy-device",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let device = r.json();
    let actor = device["device"]["actor"].as_i64().unwrap();
    let phone = device["access_token"].as_str().unwrap().to_owned();
    let description = "楼道堆放杂物，堵塞消防通道。".repeat(2000 / 14);
    let changes: Vec<Value> = (1..=100)
        .map(|seq| {
            json!({
                "actor": actor, "seq": seq, "record": uuid::Uuid::new_v4(),
                "collection": "event", "grid": GRID, "schema": 1,
                "ops": [
                    {"set": {"field": "category", "value": "fire_safety"}},
                    {"set": {"field": "title", "value": format!("消防通道 {seq}")}},
                    {"set": {"field": "description", "value": description}},
                    {"set": {"field": "status", "value": "reported"}},
                ]
            })
        })
        .collect();
    let batch = json!({"actor": actor, "changes": changes, "pull": false});
    let size = batch.to_string().len();
    assert!((500_000..8 << 20).contains(&size), "{size} bytes");
    let r = s.call(
        "127.0.0.3",
        "POST",
        "/v1/sync",
        Some(&phone),
        Some(&batch),
        "proxy-sync-1",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("x-request-id"), Some("proxy-sync-1"));
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 100);
    assert!(
        results.iter().all(|r| r["status"] == "applied"),
        "{results:?}"
    );
    assert_eq!(s.access_line("proxy-sync-1")["address"], "127.0.0.3");

    // A photo of about 1 MB in one chunk, streamed through nginx
    // (proxy_request_buffering off for uploads), then read back.
    let photo = jpeg(900, 800);
    let sha = format!("{:x}", Sha256::digest(&photo));
    let record = uuid::Uuid::new_v4();
    let change = json!({
        "actor": actor, "seq": 101, "record": record, "collection": "event",
        "grid": GRID, "schema": 1,
        "ops": [
            {"set": {"field": "category", "value": "fire_safety"}},
            {"set": {"field": "title", "value": "消防通道 照片"}},
            {"set": {"field": "status", "value": "reported"}},
            {"append": {"field": "photos", "entry": {
                "id": uuid::Uuid::new_v4(), "at": "2026-11-28T09:00:00+08:00",
                "fields": {
                    "photo": {"sha256": sha, "media_type": "image/jpeg", "size": photo.len()},
                    "stage": "before"
                }
            }}}
        ]
    });
    let r = s.call(
        "127.0.0.3",
        "POST",
        "/v1/sync",
        Some(&phone),
        Some(&json!({"actor": actor, "changes": [change], "pull": false})),
        "proxy-sync-2",
    );
    assert_eq!(r.json()["results"][0]["status"], "applied", "{r:?}");
    let r = s.call(
        "127.0.0.3",
        "POST",
        "/v1/attachments",
        Some(&phone),
        Some(&json!({"sha256": sha, "media_type": "image/jpeg", "size": photo.len()})),
        "proxy-upload-begin",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let upload = r.json()["upload"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {phone}");
    let r = s.curl(
        "127.0.0.3",
        "PATCH",
        &format!("{}/v1/attachments/uploads/{upload}", s.https),
        &[
            ("Authorization", auth.as_str()),
            ("Upload-Offset", "0"),
            ("Content-Type", "application/offset+octet-stream"),
            ("X-Request-Id", "proxy-upload-chunk"),
        ],
        Some(&photo),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["state"], "stored");
    assert_eq!(s.access_line("proxy-upload-chunk")["address"], "127.0.0.3");
    let r = s.curl(
        "127.0.0.2",
        "GET",
        &format!("{}/v1/attachments/{sha}", s.https),
        &[("Authorization", auth.as_str())],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.body == photo, "the photo read back differs");

    // Over gridsync's 8 MiB: refused by nginx in gridsync's words.
    let mut big = Vec::with_capacity(9 << 20);
    big.write_all(b"{\"changes\": [], \"pad\": \"").unwrap();
    big.resize((9 << 20) - 2, b'x');
    big.write_all(b"\"}").unwrap();
    let r = s.curl(
        "127.0.0.3",
        "POST",
        &format!("{}/v1/sync", s.https),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("X-Request-Id", "proxy-too-large"),
        ],
        Some(&big),
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], "payload_too_large");
    assert_eq!(r.header("x-request-id"), Some("proxy-too-large"));

    eprintln!("behind nginx: done in {:.1?}", started.elapsed());
}
