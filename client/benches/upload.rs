//! Attachment upload: 200 photos of ~3 MB from one device over loopback,
//! through the client's resumable chunked upload, against plain `curl`
//! sending the same bytes to the same kind of server; and whether the
//! server's memory stays flat. A plain program (`harness = false`).
//!
//! Every path of every run gets a **fresh server** (the real `gridsync`
//! release binary as a child process, a temp SQLite file, a temp
//! attachments folder), so the same 200 files are uploaded each time and
//! dedup never short-circuits an upload:
//!
//! 1. Setup, not timed: the org tree `d → p1 → c1 → g1` and a grid worker
//!    `li` are written into the store before the server starts; the server
//!    first runs with `--attachment-daily-bytes 1`. A device enrolls,
//!    makes 200 `event` records in `g1`, each with one `photos` entry
//!    referring to one photo, and syncs: the 200 changes are merged (so the
//!    records refer to the hashes), every upload is answered
//!    `429 daily_upload_limit` and stays queued. The server is stopped and
//!    started again on the same store with the default limits, and the
//!    page cache's dirty pages are flushed (`sync`).
//! 2. Timed, one of:
//!    - `gridsync 1 MiB`: `Client::sync()` with the server's chunk size
//!      (1 MiB: 3 chunks a photo). The sync is one empty change round trip,
//!      then for each photo `POST /v1/attachments` and its `PATCH`es, each
//!      chunk with its `Upload-Checksum`, each acknowledgement written to
//!      the phone's store.
//!    - `gridsync 4 MiB`: the same with `options.upload_chunk = 4 MiB` (one
//!      chunk a photo).
//!    - `curl`: for each photo, one `curl` process for `POST
//!      /v1/attachments` and one `curl -X PATCH --data-binary @file` of the
//!      whole file as one chunk (no checksum header; curl's own `Expect:
//!      100-continue`). The files were attached to records exactly as above
//!      (the device only refers to them, it never uploads them), and curl
//!      sends the device's access token, read from its store.
//!    - `curl keep-alive`: the same requests from three `curl` processes
//!      (`--next`, one kept-alive connection each): the 200 POSTs, the
//!      PATCHes of the first 10 photos, those of the other 190 (split to
//!      read the memory after 10). No process start per file: the closest
//!      to "the bytes through the server and nothing else".
//!
//!    The clock runs from before the first request to after the last answer,
//!    so every way times the whole per-file sequence (POST + PATCHes).
//!    Each run does every way once, starting with another way each run.
//! 3. Server memory, from `/proc/<pid>/status` of the restarted server:
//!    `VmRSS` and `RssAnon` before the first upload, after the 10th photo is
//!    stored and after the last; `VmHWM` (peak RSS) at the end; `RssAnon`
//!    sampled every 20 ms for its peak.
//! 4. Checks: every photo `stored`; the server's
//!    `gridsync_attachments_stored_total` and
//!    `gridsync_attachment_bytes_received_total` equal the photos and their
//!    bytes; the attachments folder holds one file per photo.
//!
//! Run: `cargo bench -p gridsync-client --bench upload` (it first runs
//! `cargo build --release -p gridsync-server` for the server binary).
//! Knobs: `GRIDSYNC_BENCH_PHOTOS` (200), `GRIDSYNC_BENCH_RUNS` (3),
//! `GRIDSYNC_BENCH_PATHS` (`g1m,g4m,curl,curlka`), `GRIDSYNC_BENCH_SERVER`
//! (a `gridsync` binary to use instead of building one),
//! `GRIDSYNC_BENCH_DIR` (where the temp folders go; default the system temp
//! folder), `GRIDSYNC_BENCH_CURL_CHECKSUM=1` (curl's PATCH carries
//! `Upload-Checksum` too), `GRIDSYNC_BENCH_CURL_ARGS` (more curl arguments,
//! e.g. `-H Expect:`).
//! Figures: `docs/PERFORMANCE.md`, "Attachment upload: 200 photos × 3 MB".

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gridsync_client::{Client, Http, LocalStore, Progress};
use gridsync_core::{Attachment, Entry, Value};
use gridsync_server::auth::password;
use gridsync_server::db::models::{NewUser, OrgNodeRow};
use gridsync_server::db::Database;
use gridsync_server::open_store;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const JWT_SECRET: &str = "gridsync-upload-bench-secret-0123456789abcdef";
const PASSWORD: &str = "upload bench password";
/// Photos of noise this large encode to about 3.0 MB of JPEG.
const WIDTH: u32 = 1_920;
const HEIGHT: u32 = 1_248;
/// `/proc/<pid>/stat` times are in clock ticks; 100 per second on Linux.
const CLK_TCK: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// --- photos -----------------------------------------------------------------

struct Photo {
    path: PathBuf,
    sha256: String,
    size: u64,
    /// `Upload-Checksum` of the whole file (for `GRIDSYNC_BENCH_CURL_CHECKSUM`).
    checksum: String,
}

/// A real JPEG of noise (it does not compress), different for every seed.
fn jpeg(seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(WIDTH, HEIGHT, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn make_photos(dir: &Path, n: usize) -> Vec<Photo> {
    std::fs::create_dir_all(dir).unwrap();
    let photos: Vec<Photo> = (0..n)
        .into_par_iter()
        .map(|i| {
            let data = jpeg(i as u32 + 1);
            let path = dir.join(format!("IMG_{:04}.jpg", i + 1));
            std::fs::write(&path, &data).unwrap();
            Photo {
                path,
                sha256: format!("{:x}", Sha256::digest(&data)),
                size: data.len() as u64,
                checksum: gridsync_client::attachments::checksum_header(&data),
            }
        })
        .collect();
    let mut hashes: Vec<&str> = photos.iter().map(|p| p.sha256.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), n, "every photo is different");
    photos
}

// --- the server ---------------------------------------------------------------

fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("GRIDSYNC_BENCH_SERVER") {
        return PathBuf::from(bin);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "-q", "-p", "gridsync-server"])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --release -p gridsync-server");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    target.join("release").join("gridsync")
}

/// The org tree and the grid worker, written before the server starts.
fn prepare_store(db: &Path) {
    let store = open_store(&Database::Sqlite(db.to_owned()), 1).unwrap();
    for (code, parent, level) in [
        ("d", None, "district"),
        ("p1", Some("d"), "park"),
        ("c1", Some("p1"), "community"),
        ("g1", Some("c1"), "grid"),
    ] {
        store
            .create_node(&OrgNodeRow {
                code: code.into(),
                parent: parent.map(str::to_owned),
                level: level.into(),
                name: format!("node {code}"),
                created_at: 0,
                updated_at: 0,
            })
            .unwrap();
    }
    store
        .create_user(&NewUser {
            id: 0,
            username: "li".into(),
            full_name: "李网格员".into(),
            password_hash: password::hash(PASSWORD),
            role: "grid_worker".into(),
            node: "g1".into(),
            disabled: false,
            created_at: 0,
            updated_at: 0,
        })
        .unwrap();
}

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(bin: &Path, dir: &Path, extra: &[&str]) -> Server {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("an address").port()
        };
        let log = dir.join("server.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the server log");
        let err = out.try_clone().expect("the server log");
        let child = Command::new(bin)
            .arg("serve")
            .arg("--attachments-dir")
            .arg(dir.join("attachments"))
            .args(extra)
            .env("DATABASE_URL", dir.join("server.db"))
            .env("GRIDSYNC_ADDR", format!("127.0.0.1:{port}"))
            .env("GRIDSYNC_JWT_SECRET", JWT_SECRET)
            .env("GRIDSYNC_SWEEP_SECS", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start gridsync");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = ureq::get(&format!("{}/readyz", server.base))
                .timeout(Duration::from_secs(2))
                .call()
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            if ready {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("gridsync exited early ({status}):\n{}", server.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "gridsync not ready after 30 s:\n{}",
                server.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn metric(&self, name: &str) -> u64 {
        let text = ureq::get(&format!("{}/metrics", self.base))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics")) as u64
    }
}

// --- /proc ------------------------------------------------------------------

/// A `/proc/<pid>/status` figure in KiB (`VmHWM`, `VmRSS`, `RssAnon`).
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, Default)]
struct Mem {
    rss_kib: u64,
    anon_kib: u64,
}

fn mem(pid: u32) -> Mem {
    Mem {
        rss_kib: status_kib(pid, "VmRSS"),
        anon_kib: status_kib(pid, "RssAnon"),
    }
}

/// User + system CPU seconds of a process; with `children`, also of its
/// children that were waited for (the `curl`s).
fn cpu_seconds(pid: &str, children: bool) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let rest = &stat[stat.rfind(')').expect("a comm field") + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17; `rest` starts at 3.
    let ticks = f[11] + f[12] + if children { f[13] + f[14] } else { 0 };
    ticks as f64 / CLK_TCK
}

/// CPU seconds the whole machine spent busy (from `/proc/stat`).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let f: Vec<u64> = stat
        .lines()
        .next()
        .expect("a cpu line")
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: u64 = f.iter().take(8).sum::<u64>() - f[3] - f[4];
    busy as f64 / CLK_TCK
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Samples `RssAnon` of `pid` every 20 ms until dropped; the peak in KiB.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(status_kib(pid, "RssAnon"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

// --- one way (a path of the issue) ---------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// The device's upload, with this chunk size (`None`: the server's).
    Gridsync(Option<u64>),
    /// Two `curl` processes a photo: its POST, then its whole-file PATCH.
    Curl,
    /// `curl` with every transfer of a kind in one process (`--next`, one
    /// kept-alive connection): the 200 POSTs, then the PATCHes of the first
    /// 10 photos, then those of the rest (split to read the memory after 10).
    CurlKeepAlive,
}

impl Way {
    fn name(self) -> String {
        match self {
            Way::Gridsync(None) => "gridsync, server's chunk (1 MiB)".into(),
            Way::Gridsync(Some(c)) => format!("gridsync, {} MiB chunks", c >> 20),
            Way::Curl => "curl, 2 processes a photo".into(),
            Way::CurlKeepAlive => "curl, keep-alive (3 processes)".into(),
        }
    }

    fn key(self) -> &'static str {
        match self {
            Way::Gridsync(None) => "g1m",
            Way::Gridsync(Some(_)) => "g4m",
            Way::Curl => "curl",
            Way::CurlKeepAlive => "curlka",
        }
    }
}

#[derive(Debug, Clone)]
struct Outcome {
    way: Way,
    load_before: String,
    wall: Duration,
    bytes: u64,
    /// Time each photo took (from the previous one's end).
    per_photo: Vec<Duration>,
    /// Requests sent (POST + PATCH), from the server's side of things.
    requests: u64,
    mem_before: Mem,
    mem_10: Mem,
    mem_end: Mem,
    hwm_kib: u64,
    anon_peak_kib: u64,
    server_cpu: f64,
    bench_cpu: f64,
    other_cpu: f64,
    /// curl only: the POSTs' and the PATCHes' share of the wall time.
    post_time: Duration,
    patch_time: Duration,
}

impl Outcome {
    fn mib_s(&self) -> f64 {
        self.bytes as f64 / MIB / self.wall.as_secs_f64()
    }
}

fn photos_entry(photo: Value) -> Entry {
    let mut fields = BTreeMap::new();
    fields.insert("photo".to_owned(), photo);
    fields.insert("stage".to_owned(), Value::from("before"));
    Entry {
        id: Uuid::new_v4(),
        at: "2026-11-28T09:00:00+08:00".into(),
        fields,
    }
}

fn run_curl(args: &[&str]) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body"])
        .args(extra_curl_args())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON answer")
}

/// `GRIDSYNC_BENCH_CURL_ARGS`: more arguments for every curl transfer
/// (split on spaces; e.g. `-H Expect:`).
fn extra_curl_args() -> Vec<String> {
    std::env::var("GRIDSYNC_BENCH_CURL_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// With `GRIDSYNC_BENCH_CURL_CHECKSUM=1`, curl's PATCH carries the same
/// `Upload-Checksum` header the device sends (the server then hashes the
/// chunk on receipt too).
fn curl_checksum(p: &Photo) -> Vec<String> {
    if std::env::var_os("GRIDSYNC_BENCH_CURL_CHECKSUM").is_some_and(|v| v == "1") {
        vec!["-H".into(), format!("Upload-Checksum: {}", p.checksum)]
    } else {
        Vec::new()
    }
}

/// One `curl` process for many transfers, one kept-alive connection.
fn curl_batch(segments: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut args: Vec<String> = Vec::new();
    for (i, seg) in segments.enumerate() {
        if i > 0 {
            args.push("--next".into());
        }
        args.extend(["-sS".to_owned(), "--fail-with-body".into()]);
        args.extend(extra_curl_args());
        args.extend(seg);
    }
    let out = Command::new("curl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn one_way(bin: &Path, work: &Path, photos: &[Photo], way: Way) -> Outcome {
    let dir = tempfile::Builder::new()
        .prefix(&format!("upload-{}-", way.key()))
        .tempdir_in(work)
        .unwrap();
    let d = dir.path();
    prepare_store(&d.join("server.db"));
    let phone_dir = d.join("phone");

    // Setup: the records that refer to the photos reach the server; the
    // uploads stay queued (a daily limit of one byte).
    {
        let server = Server::start(bin, d, &["--attachment-daily-bytes", "1"]);
        let http = Http::new(&server.base);
        let store = LocalStore::open_dir(&phone_dir).unwrap();
        let mut phone = Client::enroll(store, &http, "li", PASSWORD, "bench phone", None).unwrap();
        for (i, p) in photos.iter().enumerate() {
            let att = match way {
                Way::Gridsync(_) => phone.attach(&p.path, None).unwrap(),
                // curl sends the file from where it is: the phone only refers to it.
                Way::Curl | Way::CurlKeepAlive => Attachment {
                    sha256: p.sha256.clone(),
                    media_type: "image/jpeg".into(),
                    size: p.size,
                    caption: None,
                },
            };
            assert_eq!((att.sha256.as_str(), att.size), (p.sha256.as_str(), p.size));
            let id = Uuid::new_v4();
            phone
                .make(|dev| {
                    dev.create("event", "g1", id)
                        .set("title", format!("楼道堆放杂物 {}", i + 1))
                        .set("status", "reported")
                        .append("photos", photos_entry(Value::from(att)))
                        .commit()
                })
                .unwrap();
        }
        let report = phone.sync().unwrap();
        assert_eq!(report.delivered as usize, photos.len(), "{report:?}");
        assert_eq!(
            (report.uploaded, report.uploads_waiting as usize),
            (0, photos.len()),
            "{report:?}"
        );
    }
    let server = Server::start(bin, d, &[]);
    let pid = server.pid();
    let spid = pid.to_string();
    assert!(Command::new("sync").status().unwrap().success());
    let total: u64 = photos.iter().map(|p| p.size).sum();
    let n = photos.len();
    let load_before = loadavg();

    let sampler = Sampler::start(pid);
    let mem_before = mem(pid);
    let mut mem_10 = Mem::default();
    let mut done_at: Vec<Instant> = Vec::with_capacity(n);
    let (mut post_time, mut patch_time) = (Duration::ZERO, Duration::ZERO);
    let mut per_transfer: Vec<Duration> = Vec::new();
    // curl sends with the device's own access token, read from its store: a
    // login here would leave the 19 MiB argon2 work area of a hashing
    // thread in the server's memory (`server/src/auth/password.rs`).
    let token = LocalStore::open_dir(&phone_dir)
        .unwrap()
        .device()
        .unwrap()
        .expect("an enrolled device")
        .access_token;
    let auth = format!("Authorization: Bearer {token}");
    let begin_url = format!("{}/v1/attachments", server.base);
    let ask = |p: &Photo| {
        format!(
            r#"{{"sha256":"{}","media_type":"image/jpeg","size":{}}}"#,
            p.sha256, p.size
        )
    };
    let patch_url = |id: &str| format!("{}/v1/attachments/uploads/{id}", server.base);
    // The device, reopened on the restarted server before the clock starts.
    let mut phone = match way {
        Way::Gridsync(chunk) => {
            let store = LocalStore::open_dir(&phone_dir).unwrap();
            let mut phone = Client::open_with(store, Http::new(&server.base)).unwrap();
            phone.options.upload_chunk = chunk;
            Some(phone)
        }
        Way::Curl | Way::CurlKeepAlive => None,
    };
    let cpu0 = (
        cpu_seconds(&spid, false),
        cpu_seconds("self", true),
        machine_busy_seconds(),
    );
    let t0 = Instant::now();
    match way {
        Way::Gridsync(_) => {
            let report = phone
                .as_mut()
                .expect("the device")
                .sync_observed(&mut |p| {
                    if let Progress::Chunk(c) = p {
                        if c.offset == c.size {
                            done_at.push(Instant::now());
                            if done_at.len() == 10.min(n) {
                                mem_10 = mem(pid);
                            }
                        }
                    }
                })
                .unwrap();
            assert_eq!(
                (report.uploaded as usize, report.upload_bytes),
                (n, total),
                "{report:?}"
            );
            assert_eq!(report.uploads_waiting, 0);
            assert_eq!(report.retries, 0, "{report:?}");
        }
        Way::Curl => {
            for p in photos {
                let t = Instant::now();
                let begun = run_curl(&[
                    "-H",
                    &auth,
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    &ask(p),
                    &begin_url,
                ]);
                assert_eq!(begun["state"], "uploading", "{begun}");
                assert_eq!(begun["offset"], 0, "{begun}");
                let id = begun["upload"].as_str().unwrap();
                let t_patch = Instant::now();
                post_time += t_patch - t;
                let checksum = curl_checksum(p);
                let checksum: Vec<&str> = checksum.iter().map(String::as_str).collect();
                let stored = run_curl(
                    &[
                        &checksum[..],
                        &[
                            "-X",
                            "PATCH",
                            "-H",
                            &auth,
                            "-H",
                            "Content-Type: application/offset+octet-stream",
                            "-H",
                            "Upload-Offset: 0",
                            "--data-binary",
                            &format!("@{}", p.path.display()),
                            &patch_url(id),
                        ],
                    ]
                    .concat(),
                );
                assert_eq!(stored["state"], "stored", "{stored}");
                let end = Instant::now();
                patch_time += end - t_patch;
                done_at.push(end);
                if done_at.len() == 10.min(n) {
                    mem_10 = mem(pid);
                }
            }
        }
        Way::CurlKeepAlive => {
            let out = curl_batch(photos.iter().map(|p| {
                vec![
                    "-H".to_owned(),
                    auth.clone(),
                    "-H".into(),
                    "Content-Type: application/json".into(),
                    "--data-binary".into(),
                    ask(p),
                    "-w".into(),
                    "\\n".into(),
                    begin_url.clone(),
                ]
            }));
            let begun: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out)
                .into_iter()
                .collect::<Result<_, _>>()
                .expect("JSON answers");
            assert_eq!(begun.len(), n);
            let ids: Vec<&str> = begun
                .iter()
                .map(|b| {
                    assert_eq!(
                        (&b["state"], &b["offset"]),
                        (&"uploading".into(), &0.into()),
                        "{b}"
                    );
                    b["upload"].as_str().unwrap()
                })
                .collect();
            let t_patch = Instant::now();
            post_time = t_patch - t0;
            let first = 10.min(n);
            for part in [0..first, first..n] {
                if part.is_empty() {
                    continue;
                }
                let out = curl_batch(part.map(|i| {
                    let mut seg = curl_checksum(&photos[i]);
                    seg.extend([
                        "-X".to_owned(),
                        "PATCH".into(),
                        "-H".into(),
                        auth.clone(),
                        "-H".into(),
                        "Content-Type: application/offset+octet-stream".into(),
                        "-H".into(),
                        "Upload-Offset: 0".into(),
                        "--data-binary".into(),
                        format!("@{}", photos[i].path.display()),
                        "-o".into(),
                        "/dev/null".into(),
                        "-w".into(),
                        "%{http_code} %{time_total}\\n".into(),
                        patch_url(ids[i]),
                    ]);
                    seg
                }));
                let end = Instant::now();
                for line in String::from_utf8(out).unwrap().lines() {
                    let (code, secs) = line.split_once(' ').expect("code and time");
                    assert_eq!(code, "200", "{line}");
                    // Each PATCH as curl timed it (connection kept alive).
                    per_transfer.push(Duration::from_secs_f64(secs.parse().unwrap()));
                    done_at.push(end);
                }
                if done_at.len() == first {
                    mem_10 = mem(pid);
                }
            }
            patch_time = t_patch.elapsed();
        }
    }
    let wall = t0.elapsed();
    let cpu1 = (
        cpu_seconds(&spid, false),
        cpu_seconds("self", true),
        machine_busy_seconds(),
    );
    let mem_end = mem(pid);
    let hwm_kib = status_kib(pid, "VmHWM");
    let anon_peak_kib = sampler.finish();

    // Checks, after the clock stops.
    assert_eq!(done_at.len(), n);
    assert_eq!(server.metric("gridsync_attachments_stored_total"), n as u64);
    assert_eq!(
        server.metric("gridsync_attachment_bytes_received_total"),
        total
    );
    let mut kept = 0;
    for shard in std::fs::read_dir(d.join("attachments").join("blobs")).unwrap() {
        kept += std::fs::read_dir(shard.unwrap().path()).unwrap().count();
    }
    assert_eq!(kept, n, "one kept file per photo");
    let chunks_per_photo = match way {
        Way::Gridsync(c) => photos
            .iter()
            .map(|p| p.size.div_ceil(c.unwrap_or(1 << 20)))
            .sum::<u64>(),
        Way::Curl | Way::CurlKeepAlive => n as u64,
    };

    let per_photo = if way == Way::CurlKeepAlive {
        per_transfer
    } else {
        let mut per_photo = Vec::with_capacity(n);
        let mut prev = t0;
        for t in &done_at {
            per_photo.push(*t - prev);
            prev = *t;
        }
        per_photo
    };
    let server_cpu = cpu1.0 - cpu0.0;
    let bench_cpu = cpu1.1 - cpu0.1;
    let other_cpu = (cpu1.2 - cpu0.2 - server_cpu - bench_cpu).max(0.0);
    drop(server);
    Outcome {
        way,
        load_before,
        wall,
        bytes: total,
        per_photo,
        requests: n as u64 + chunks_per_photo,
        mem_before,
        mem_10,
        mem_end,
        hwm_kib,
        anon_peak_kib,
        server_cpu,
        bench_cpu,
        other_cpu,
        post_time,
        patch_time,
    }
}

// --- report -----------------------------------------------------------------

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_outcome(run: usize, o: &Outcome) {
    let mut sorted = o.per_photo.clone();
    sorted.sort();
    println!(
        "run {run} | {:<34} | {:7.2} s | {:6.1} MiB/s | per photo p50 {:5.1} ms p99 {:6.1} ms max {:6.1} ms | {} requests",
        o.way.name(),
        o.wall.as_secs_f64(),
        o.mib_s(),
        quantile(&sorted, 0.5).as_secs_f64() * 1e3,
        quantile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().unwrap().as_secs_f64() * 1e3,
        o.requests,
    );
    println!(
        "      server RSS before {:.1} / after 10 photos {:.1} / after {} {:.1} MiB; heap (RssAnon) {:.1} / {:.1} / {:.1} MiB; peak RSS (VmHWM) {:.1} MiB, peak RssAnon {:.1} MiB",
        mib(o.mem_before.rss_kib),
        mib(o.mem_10.rss_kib),
        o.per_photo.len(),
        mib(o.mem_end.rss_kib),
        mib(o.mem_before.anon_kib),
        mib(o.mem_10.anon_kib),
        mib(o.mem_end.anon_kib),
        mib(o.hwm_kib),
        mib(o.anon_peak_kib),
    );
    let mut line = format!(
        "      CPU: server {:.2} s, bench {:.2} s (curl processes included), other processes {:.2} s; load before {}",
        o.server_cpu, o.bench_cpu, o.other_cpu, o.load_before
    );
    if matches!(o.way, Way::Curl | Way::CurlKeepAlive) {
        line += &format!(
            "; POSTs {:.2} s, PATCHes {:.2} s",
            o.post_time.as_secs_f64(),
            o.patch_time.as_secs_f64()
        );
    }
    println!("{line}");
}

fn main() {
    let n = env_usize("GRIDSYNC_BENCH_PHOTOS", 200);
    let runs = env_usize("GRIDSYNC_BENCH_RUNS", 3);
    let wanted =
        std::env::var("GRIDSYNC_BENCH_PATHS").unwrap_or_else(|_| "g1m,g4m,curl,curlka".into());
    let paths: Vec<Way> = [
        Way::Gridsync(None),
        Way::Gridsync(Some(4 << 20)),
        Way::Curl,
        Way::CurlKeepAlive,
    ]
    .into_iter()
    .filter(|p| wanted.split(',').any(|w| w.trim() == p.key()))
    .collect();
    assert!(
        !paths.is_empty(),
        "GRIDSYNC_BENCH_PATHS: of g1m, g4m, curl, curlka"
    );
    let bin = server_binary();
    let curl = Command::new("curl")
        .arg("--version")
        .output()
        .expect("curl");
    println!(
        "{} CPUs, Linux {}; server {}; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        bin.display(),
        String::from_utf8_lossy(&curl.stdout)
            .lines()
            .next()
            .unwrap_or("")
    );
    let work =
        std::env::var_os("GRIDSYNC_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = tempfile::Builder::new()
        .prefix("gridsync-upload-bench-")
        .tempdir_in(&work)
        .unwrap();
    let t = Instant::now();
    let photos = make_photos(&root.path().join("photos"), n);
    let total: u64 = photos.iter().map(|p| p.size).sum();
    println!(
        "{n} distinct JPEGs of noise, {WIDTH}×{HEIGHT}: {:.2} MB each on average ({} – {} bytes), {:.1} MB in all; made in {:.1} s",
        total as f64 / n as f64 / 1e6,
        photos.iter().map(|p| p.size).min().unwrap(),
        photos.iter().map(|p| p.size).max().unwrap(),
        total as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let mut all: Vec<Vec<Outcome>> = Vec::new();
    for run in 1..=runs {
        println!("--- run {run} of {runs} (load average {}) ---", loadavg());
        // Each run starts with another path, so no path always goes first.
        let mut order = paths.clone();
        order.rotate_left((run - 1) % paths.len());
        let mut outcomes = Vec::new();
        for p in order {
            let o = one_way(&bin, root.path(), &photos, p);
            print_outcome(run, &o);
            outcomes.push(o);
        }
        all.push(outcomes);
    }

    // Medians and ranges over the runs.
    println!();
    println!(
        "{n} photos, {:.1} MB, one device over loopback; {runs} run(s), each path on a fresh server",
        total as f64 / 1e6
    );
    println!("| path | MiB/s, median (range) | seconds, median | per photo p50 | server RSS after 10 → after {n} | peak RSS (VmHWM) | peak heap (RssAnon) |");
    println!("|---|---|---|---|---|---|---|");
    let of = |p: Way| -> Vec<&Outcome> {
        all.iter()
            .flat_map(|r| r.iter().filter(move |o| o.way == p))
            .collect()
    };
    for &p in &paths {
        let os = of(p);
        let mut tput: Vec<f64> = os.iter().map(|o| o.mib_s()).collect();
        let mut secs: Vec<f64> = os.iter().map(|o| o.wall.as_secs_f64()).collect();
        let mut p50: Vec<f64> = os
            .iter()
            .map(|o| {
                let mut s = o.per_photo.clone();
                s.sort();
                quantile(&s, 0.5).as_secs_f64() * 1e3
            })
            .collect();
        let (lo, hi) = (
            tput.iter().copied().fold(f64::INFINITY, f64::min),
            tput.iter().copied().fold(0.0, f64::max),
        );
        let mut m10: Vec<f64> = os.iter().map(|o| mib(o.mem_10.rss_kib)).collect();
        let mut mend: Vec<f64> = os.iter().map(|o| mib(o.mem_end.rss_kib)).collect();
        let mut hwm: Vec<f64> = os.iter().map(|o| mib(o.hwm_kib)).collect();
        let mut anon: Vec<f64> = os.iter().map(|o| mib(o.anon_peak_kib)).collect();
        let hwm_max = hwm.iter().copied().fold(0.0, f64::max);
        println!(
            "| {} | **{:.1}** ({:.1} – {:.1}) | {:.2} s | {:.1} ms | {:.1} → {:.1} MiB | {:.1} MiB (max {:.1}) | {:.1} MiB |",
            p.name(),
            median(&mut tput),
            lo,
            hi,
            median(&mut secs),
            median(&mut p50),
            median(&mut m10),
            median(&mut mend),
            median(&mut hwm),
            hwm_max,
            median(&mut anon),
        );
    }
    let ratios = |g: Way, c: Way| -> Vec<f64> {
        all.iter()
            .filter_map(|r| {
                let g = r.iter().find(|o| o.way == g)?;
                let c = r.iter().find(|o| o.way == c)?;
                Some(g.mib_s() / c.mib_s())
            })
            .collect()
    };
    let mut verdict = Vec::new();
    for &g in paths.iter().filter(|p| matches!(p, Way::Gridsync(_))) {
        for &c in paths.iter().filter(|p| !matches!(p, Way::Gridsync(_))) {
            let mut r = ratios(g, c);
            if r.is_empty() {
                continue;
            }
            let (lo, hi) = (
                r.iter().copied().fold(f64::INFINITY, f64::min),
                r.iter().copied().fold(0.0, f64::max),
            );
            let per_run: Vec<String> = r.iter().map(|x| format!("{x:.2}")).collect();
            let m = median(&mut r);
            println!(
                "ratio {} / {}: median {m:.2} (range {lo:.2} – {hi:.2}; runs {})",
                g.name(),
                c.name(),
                per_run.join(", ")
            );
            verdict.push(format!("{} / {} = {m:.2}", g.key(), c.key()));
        }
    }
    let all_hwm = all
        .iter()
        .flatten()
        .map(|o| mib(o.hwm_kib))
        .fold(0.0, f64::max);
    let growth = all
        .iter()
        .flatten()
        .map(|o| mib(o.mem_end.rss_kib) - mib(o.mem_10.rss_kib))
        .fold(f64::NEG_INFINITY, f64::max);
    println!(
        "verdict: {}; server memory {} (RSS grew at most {:.1} MiB from photo 10 to photo {n}; peak RSS at most {:.1} MiB against {:.0} MiB uploaded)",
        if verdict.is_empty() {
            "curl only".to_owned()
        } else {
            verdict.join(", ")
        },
        if growth < 8.0 && all_hwm < total as f64 / MIB / 4.0 {
            "flat"
        } else {
            "NOT flat"
        },
        growth,
        all_hwm,
        total as f64 / MIB
    );
}
