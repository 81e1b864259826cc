//! gridsync side by side with pouchdb-server 4.2.0 (issue 13): the same
//! household workload, the same devices, the same HTTP client, against the
//! real `gridsync` release server and against pouchdb-server (in memory, and
//! on its leveldb store). A plain program (`harness = false`); run it with
//! `bash client/benches/peer.sh`, which builds the servers' binaries,
//! installs pouchdb-server into `client/benches/peer/node_modules` and runs
//! this bench.
//!
//! The workload (the same values for both systems, from one seed):
//!
//! - 100 devices in 6 grids (devices `i` of grid `i * 6 / 100`, 16 or 17 a
//!   grid); each makes 100 households (the 8 scalar fields of gridsync's
//!   `household`: `address_code`, `address`, `use`, `owner_name`,
//!   `owner_phone`, `rental`, `location`, `note`, plus 1-2 members of the
//!   `tags` set) in its grid, offline, and pushes them in one request.
//!   Run twice: at concurrency 16 and at concurrency 100, each on a fresh
//!   server (fresh store).
//! - In the concurrency-100 run, each device then pulls its grid (not
//!   timed), edits 20 households of its neighbours in the grid, offline
//!   (records #0-#9 of the next device of its grid: `note`, `use`, a tag;
//!   records #5-#14 of the one after: `note`, `owner_name`, a tag), and all
//!   push at once. Records #5-#9 of every device are so edited by two
//!   devices that had not seen each other's edit: 500 records whose `note`
//!   is written concurrently.
//! - Then each device's fresh replica pulls its grid from nothing (first
//!   pull); each device makes 5 new changes (4 notes on its own records, 1
//!   new household) and pushes them (not timed); every replica pulls again
//!   (incremental pull).
//!
//! Per phase and system: wall time, records/s, p50/p99 of one device's
//! operation, CPU of the server, of this process (all the devices) and of
//! every other process (another build on the same cores shows there), the
//! server's peak RSS in the phase (`VmHWM` after writing `5` to
//! `/proc/PID/clear_refs` at the phase's start) and its peak heap
//! (`RssAnon`, sampled every 20 ms; gridsync's RSS also counts the pages of
//! the database file it maps).
//!
//! gridsync: `gridsync create-admin`, `gridsync serve` on an empty SQLite
//! file; the org tree, one grid worker per grid (bound to the community, so
//! that its scope also holds a seventh, empty grid) and every device
//! registered over HTTP, then the server is restarted so that the measured
//! process holds no argon2 work area (docs/PERFORMANCE.md, attachment
//! upload). Devices are `gridsync_client::Client`s with in-memory stores and
//! one HTTP agent each (keep-alive per device); every timed operation is one
//! `Client::sync()`. The pushing devices pull the empty grid, so a push
//! round trip carries only the push, as `_bulk_docs` does; editors and
//! replicas pull their own grid.
//!
//! pouchdb-server: one database per grid. Push: `POST /{db}/_bulk_docs`
//! with `new_edits: false` and revision ids made on the device, as PouchDB's
//! replication sends them. Edit: the editor's replica holds the documents
//! of its first pull; an edit is a new revision of that document
//! (`_revisions` naming its parent), pushed with `new_edits: false`, then
//! the editor pulls what changed since (as gridsync's editor does in its
//! sync). Pull: `GET /{db}/_changes?include_docs=true&since=…&limit=500`
//! until a page is short. One `ureq` agent per device, as for gridsync.
//! The `pouchdb-plain` system is the same in memory with plain updates
//! (each edit carries the `_rev` its device last saw; no `new_edits:
//! false`), run up to the edits to count the edits refused as conflicts.
//!
//! Pull bytes: after each timed pull, one more fresh replica per grid pulls
//! the same through a counting TCP proxy in this process (not timed).
//!
//! Knobs: `GRIDSYNC_PEER_DEVICES` (100), `GRIDSYNC_PEER_RECORDS` (100 per
//! device, at least 25), `GRIDSYNC_PEER_GRIDS` (6), `GRIDSYNC_PEER_CONCURRENCY`
//! (`16,100`: one push run each, the last one runs the whole workload),
//! `GRIDSYNC_PEER_SYSTEMS` (`gridsync,pouchdb-memory,pouchdb-leveldb,pouchdb-plain`),
//! `GRIDSYNC_PEER_SEED` (1), `GRIDSYNC_PEER_RUNS` (3: the whole sequence
//! again on fresh servers; each run's table, then the medians),
//! `GRIDSYNC_PEER_KEEP=1` (keep the servers' folders and logs),
//! `GRIDSYNC_BENCH_SERVER` (the `gridsync` binary;
//! default `target/release/gridsync`), `GRIDSYNC_PEER_POUCHDB` (the
//! pouchdb-server script; default `client/benches/peer/node_modules/…`),
//! `GRIDSYNC_PEER_NODE` (`node`), `GRIDSYNC_BENCH_DIR` (where the temp
//! folders go).
//! Figures: docs/PERFORMANCE.md, "Side by side with pouchdb-server (issue 13)".

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use gridsync_client::http::Tokens;
use gridsync_client::sim::{cpu_seconds, Latency};
use gridsync_client::{Client, Http, LocalStore, SyncReport};
use gridsync_core::record::FieldView;
use gridsync_core::{Change, Geo, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde_json::{json, Value as Json};
use uuid::Uuid;

const ADMIN_PASSWORD: &str = "peer-bench-admin-password";
const USER_PASSWORD: &str = "peer-bench-user-password";
const JWT_SECRET: &str = "peer-bench-secret-peer-bench-secret-0123";
const DISTRICT: &str = "420203";
const PARK: &str = "420203-001";
const COMMUNITY: &str = "420203-001-001";
/// A grid nobody writes: what the pushing devices pull.
const QUIET_GRID: &str = "420203-001-001-099";
/// `_changes` page, the same as gridsync's default pull page.
const PAGE: usize = 500;
/// `/proc/<pid>/stat` and `/proc/stat` count in clock ticks, 100 a second.
const CLK_TCK: f64 = 100.0;
const MIB: f64 = 1024.0;

const USES: [&str; 5] = ["residential", "rental", "commercial", "mixed", "vacant"];
const TAGS: [&str; 6] = [
    "elderly_alone",
    "rental_registered",
    "key_care",
    "fire_extinguisher",
    "pets",
    "disabled_member",
];
const STREETS: [&str; 6] = [
    "临江路",
    "黄思湾路",
    "沿湖路",
    "颐阳路",
    "八卦嘴路",
    "铁山路",
];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
const GIVEN: [&str; 10] = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

// --- the workload --------------------------------------------------------------

#[derive(Debug, Clone)]
struct House {
    id: Uuid,
    address_code: String,
    address: String,
    use_: &'static str,
    owner_name: String,
    owner_phone: String,
    rental: bool,
    lat: f64,
    lng: f64,
    note: String,
    tags: Vec<&'static str>,
}

/// The 8 scalar fields of a household, set on a change being built.
fn household_fields<'a>(e: gridsync_core::Edit<'a>, h: &House) -> gridsync_core::Edit<'a> {
    e.set("address_code", h.address_code.as_str())
        .set("address", h.address.as_str())
        .set("use", h.use_)
        .set("owner_name", h.owner_name.as_str())
        .set("owner_phone", h.owner_phone.as_str())
        .set("rental", h.rental)
        .set(
            "location",
            Value::Geo(Geo {
                lat: h.lat,
                lng: h.lng,
            }),
        )
        .set("note", h.note.as_str())
}

/// One device's edit of a neighbour's household: as the next device of the
/// grid `note`, `use` and a tag; as the one after `note`, `owner_name` and a
/// tag.
#[derive(Debug, Clone)]
struct EditOp {
    owner: usize,
    index: usize,
    note: String,
    use_: Option<&'static str>,
    owner_name: Option<String>,
    tag: String,
}

#[derive(Debug)]
struct Workload {
    grids: Vec<String>,
    device_grid: Vec<usize>,
    /// Per device: its `records` households, then the one it adds later.
    houses: Vec<Vec<House>>,
    /// Per device: its edits of its neighbours' households.
    edits: Vec<Vec<EditOp>>,
    /// Per device: new notes on its own households #20-#23 (untouched by
    /// the edits), made before the incremental pull.
    later_notes: Vec<Vec<(usize, String)>>,
    records: usize,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn make_house(rng: &mut StdRng, grid: &str, device: usize, k: usize) -> House {
    let id = uuid::Builder::from_random_bytes(rng.gen()).into_uuid();
    let street = STREETS[rng.gen_range(0..STREETS.len())];
    let no = rng.gen_range(1..300);
    let people = rng.gen_range(1..7);
    let mut tags = vec![TAGS[rng.gen_range(0..TAGS.len())]];
    if rng.gen_bool(0.5) {
        let t = TAGS[rng.gen_range(0..TAGS.len())];
        if t != tags[0] {
            tags.push(t);
        }
    }
    House {
        id,
        address_code: format!("{grid}-{device:03}-{k:04}"),
        address: format!(
            "湖北省黄石市西塞山区{street}{no}号{}栋{}单元{}室",
            rng.gen_range(1..30),
            rng.gen_range(1..7),
            rng.gen_range(101..1802)
        ),
        use_: USES[rng.gen_range(0..4)],
        owner_name: format!(
            "{}{}",
            SURNAMES[rng.gen_range(0..SURNAMES.len())],
            GIVEN[rng.gen_range(0..GIVEN.len())]
        ),
        owner_phone: format!(
            "1{}{:09}",
            [3, 5, 8][rng.gen_range(0..3)],
            rng.gen_range(0..1_000_000_000u32)
        ),
        rental: rng.gen_bool(0.3),
        lat: round6(30.20 + rng.gen_range(0.0..0.05)),
        lng: round6(115.10 + rng.gen_range(0.0..0.08)),
        note: format!("常住{people}人，{}登记，门牌清晰。", 2020 + no % 7),
        tags,
    }
}

impl Workload {
    fn new(devices: usize, records: usize, grids: usize, seed: u64) -> Workload {
        let codes: Vec<String> = (1..=grids).map(|g| format!("{COMMUNITY}-{g:03}")).collect();
        let device_grid: Vec<usize> = (0..devices).map(|i| i * grids / devices).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        let houses: Vec<Vec<House>> = (0..devices)
            .map(|i| {
                (0..=records)
                    .map(|k| make_house(&mut rng, &codes[device_grid[i]], i, k))
                    .collect()
            })
            .collect();
        let members: Vec<Vec<usize>> = (0..grids)
            .map(|g| (0..devices).filter(|&i| device_grid[i] == g).collect())
            .collect();
        let after = |i: usize, n: usize| {
            let m = &members[device_grid[i]];
            let pos = m
                .iter()
                .position(|&d| d == i)
                .expect("a member of its grid");
            m[(pos + n) % m.len()]
        };
        let mut edits = Vec::with_capacity(devices);
        for i in 0..devices {
            let mut ops = Vec::new();
            let next = after(i, 1);
            for (k, h) in houses[next].iter().enumerate().take(10) {
                let pos = USES.iter().position(|u| *u == h.use_).unwrap_or(0);
                ops.push(EditOp {
                    owner: next,
                    index: k,
                    note: format!("复查（{i}号机）：消防器材在位，楼道畅通，第{k}户。"),
                    use_: Some(USES[(pos + 1) % USES.len()]),
                    owner_name: None,
                    tag: format!("checked-d{i:03}"),
                });
            }
            let next2 = after(i, 2);
            for (k, h) in houses[next2].iter().enumerate().take(15).skip(5) {
                ops.push(EditOp {
                    owner: next2,
                    index: k,
                    note: format!("走访（{i}号机）：户主在家，登记信息已核对，第{k}户。"),
                    use_: None,
                    owner_name: Some(format!("{}（已核{i}）", h.owner_name)),
                    tag: format!("visited-d{i:03}"),
                });
            }
            edits.push(ops);
        }
        let later_notes = (0..devices)
            .map(|i| {
                (20..24)
                    .map(|k| (k, format!("第二轮巡查（{i}号机）：无异常，第{k}户。")))
                    .collect()
            })
            .collect();
        Workload {
            grids: codes,
            device_grid,
            houses,
            edits,
            later_notes,
            records,
        }
    }

    fn devices(&self) -> usize {
        self.device_grid.len()
    }

    fn grid_of(&self, device: usize) -> &str {
        &self.grids[self.device_grid[device]]
    }

    fn grid_devices(&self, g: usize) -> usize {
        self.device_grid.iter().filter(|&&d| d == g).count()
    }

    /// Records in a grid once everything is pushed (the late ones included).
    fn grid_records(&self, g: usize) -> usize {
        self.grid_devices(g) * (self.records + 1)
    }

    /// Records edited by two devices that had not seen each other's edit.
    fn doubly_edited(&self) -> usize {
        let mut n: BTreeMap<(usize, usize), u32> = BTreeMap::new();
        for ops in &self.edits {
            for op in ops {
                *n.entry((op.owner, op.index)).or_default() += 1;
            }
        }
        n.values().filter(|&&c| c > 1).count()
    }
}

// --- processes -------------------------------------------------------------------

/// A server's folder: removed afterwards unless `GRIDSYNC_PEER_KEEP=1`.
struct Workdir {
    _removed_on_drop: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Workdir {
    fn new(root: &Path, what: &str) -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gridsync-peer-{what}-"))
            .tempdir_in(root)
            .unwrap();
        let path = dir.path().to_owned();
        if std::env::var("GRIDSYNC_PEER_KEEP").is_ok_and(|v| v == "1") {
            eprintln!("keeping {}", dir.keep().display());
            return Workdir {
                _removed_on_drop: None,
                path,
            };
        }
        Workdir {
            _removed_on_drop: Some(dir),
            path,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// CPU seconds used by every process of the machine (all cores).
fn machine_busy() -> f64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = s.lines().next().unwrap_or_default();
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let get = |i: usize| v.get(i).copied().unwrap_or(0.0);
    (get(0) + get(1) + get(2) + get(5) + get(6) + get(7)) / CLK_TCK
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn wait_ready(url: &str, child: &mut Child, log: &Path) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if agent.get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} not ready within 60 s");
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The real `gridsync` server over a SQLite file in `dir`.
struct Gridsync {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Gridsync {
    fn create(bin: &Path, dir: &Path) -> Gridsync {
        let out = Command::new(bin)
            .args([
                "create-admin",
                "--username",
                "admin",
                "--district",
                DISTRICT,
                "--district-name",
                "西塞山区",
            ])
            .env("DATABASE_URL", dir.join("gridsync.db"))
            .env("GRIDSYNC_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect("run gridsync create-admin");
        assert!(
            out.status.success(),
            "gridsync create-admin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut s = Gridsync {
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
        };
        s.start();
        s
    }

    fn start(&mut self) {
        let log = self.dir.join("server.log");
        let child = Command::new(&self.bin)
            .args([
                "serve",
                "--database-url",
                &self.dir.join("gridsync.db").to_string_lossy(),
                "--addr",
                &format!("127.0.0.1:{}", self.port),
            ])
            .env("GRIDSYNC_JWT_SECRET", JWT_SECRET)
            .env("GRIDSYNC_SWEEP_SECS", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.dir.join("server.out")).unwrap())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .expect("start gridsync serve");
        let url = format!("{}/readyz", self.base());
        wait_ready(&url, self.child.insert(child), &log);
    }

    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
        self.start();
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }
}

impl Drop for Gridsync {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
    }
}

/// pouchdb-server, in memory or over leveldb in `dir/data`.
struct Pouch {
    child: Child,
    port: u16,
}

impl Pouch {
    fn start(node: &str, script: &Path, dir: &Path, in_memory: bool) -> Pouch {
        let port = free_port();
        let mut args: Vec<String> = vec![
            script.to_string_lossy().into_owned(),
            "--port".into(),
            port.to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--no-stdout-logs".into(),
            "--config".into(),
            dir.join("config.json").to_string_lossy().into_owned(),
        ];
        if in_memory {
            args.push("--in-memory".into());
        } else {
            let data = dir.join("data");
            std::fs::create_dir_all(&data).unwrap();
            args.push("--dir".into());
            args.push(data.to_string_lossy().into_owned());
        }
        let log = dir.join("server.log");
        let mut child = Command::new(node)
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("server.err")).unwrap())
            .spawn()
            .expect("start pouchdb-server");
        wait_ready(&format!("http://127.0.0.1:{port}/"), &mut child, &log);
        Pouch { child, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Pouch {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

// --- a counting proxy ----------------------------------------------------------

/// A TCP forwarder on loopback that counts the bytes each way.
struct Proxy {
    port: u16,
    down: Arc<AtomicU64>,
    up: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicU64::new(0));
        let up = Arc::new(AtomicU64::new(0));
        let (d, u) = (down.clone(), up.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let pipe = |mut from: TcpStream, mut to: TcpStream, n: Arc<AtomicU64>| {
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(k) => {
                                    n.fetch_add(k as u64, Ordering::Relaxed);
                                    if to.write_all(&buf[..k]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                };
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    u.clone(),
                );
                pipe(server, client, d.clone());
            }
        });
        Proxy { port, down, up }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Bytes (down, up) since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.down.swap(0, Ordering::Relaxed),
            self.up.swap(0, Ordering::Relaxed),
        )
    }
}

// --- timing a phase ------------------------------------------------------------

/// What one device's operation did.
#[derive(Debug, Default, Clone)]
struct OpOut {
    records: u64,
    requests: u64,
    retries: u64,
    /// Why each retry was needed.
    reasons: BTreeMap<String, u64>,
    /// Records or changes received besides (the editors' pulls).
    pulled: u64,
    /// Edits the server refused as conflicting (pouchdb plain updates).
    refused: u64,
}

#[derive(Debug, Clone)]
struct Phase {
    system: &'static str,
    phase: String,
    concurrency: usize,
    wall: f64,
    records: u64,
    requests: u64,
    retries: u64,
    pulled: u64,
    refused: u64,
    latency: Latency,
    server_cpu: f64,
    client_cpu: f64,
    other_cpu: f64,
    retry_reasons: BTreeMap<String, u64>,
    rss_before_mib: f64,
    peak_rss_mib: f64,
    /// The server's heap (`RssAnon`): at the start, and its peak sampled
    /// every 20 ms.
    anon_before_mib: f64,
    peak_anon_mib: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.records as f64 / self.wall.max(1e-9)
    }

    fn print(&self) {
        println!(
            "  {:<16} {:<18} c={:<3} {:>7.3} s {:>7} rec {:>9.0} rec/s  p50 {:>7.1} ms  p99 {:>7.1} ms  \
             {} req, {} retries {:?}, {} pulled besides  server CPU {:.2} s ({:.0} µs/rec)  devices' CPU {:.2} s  \
             others {:.2} s  RSS {:.1} → peak {:.1} MiB, heap {:.1} → peak {:.1} MiB",
            self.system,
            self.phase,
            self.concurrency,
            self.wall,
            self.records,
            self.rate(),
            self.latency.p50,
            self.latency.p99,
            self.requests,
            self.retries,
            self.retry_reasons,
            self.pulled,
            self.server_cpu,
            self.server_cpu * 1e6 / self.records.max(1) as f64,
            self.client_cpu,
            self.other_cpu,
            self.rss_before_mib,
            self.peak_rss_mib,
            self.anon_before_mib,
            self.peak_anon_mib
        );
    }
}

/// Run `op` over every item with `concurrency` threads, all released at
/// once; the clock runs from the first request to the last answer.
fn measure<T: Send>(
    system: &'static str,
    phase: &str,
    server_pid: u32,
    items: &mut [T],
    concurrency: usize,
    op: impl Fn(usize, &mut T) -> OpOut + Sync,
) -> Phase {
    std::thread::sleep(Duration::from_millis(500)); // let the last phase settle
    let cells: Vec<Mutex<&mut T>> = items.iter_mut().map(Mutex::new).collect();
    let next = AtomicUsize::new(0);
    // (started, took, what it did) of every operation.
    let outs: Mutex<Vec<(Instant, Duration, OpOut)>> = Mutex::new(Vec::with_capacity(cells.len()));
    let threads = concurrency.clamp(1, cells.len().max(1));
    let barrier = Barrier::new(threads + 1);
    let _ = std::fs::write(format!("/proc/{server_pid}/clear_refs"), "5");
    let rss_before = status_kib(server_pid, "VmRSS:");
    let anon_before = status_kib(server_pid, "RssAnon:");
    let finished = AtomicUsize::new(0);
    let peak_anon = AtomicU64::new(anon_before);
    let (server0, self0, all0) = (
        cpu_seconds(&server_pid.to_string()).unwrap_or(0.0),
        cpu_seconds("self").unwrap_or(0.0),
        machine_busy(),
    );
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(cell) = cells.get(i) else { break };
                    let mut item = cell.lock().unwrap();
                    let t = Instant::now();
                    let out = op(i, &mut **item);
                    let took = t.elapsed();
                    outs.lock().unwrap().push((t, took, out));
                }
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }
        s.spawn(|| {
            while finished.load(Ordering::Relaxed) < threads {
                peak_anon.fetch_max(status_kib(server_pid, "RssAnon:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        barrier.wait();
    });
    let (server1, self1, all1) = (
        cpu_seconds(&server_pid.to_string()).unwrap_or(0.0),
        cpu_seconds("self").unwrap_or(0.0),
        machine_busy(),
    );
    let peak = status_kib(server_pid, "VmHWM:");
    let outs = outs.into_inner().unwrap();
    // From the first request to the last answer (the main thread may be
    // scheduled after the released workers: it does not take the time).
    let first = outs.iter().map(|(t, _, _)| *t).min();
    let last = outs.iter().map(|(t, d, _)| *t + *d).max();
    let wall = match (first, last) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let sum = |f: fn(&OpOut) -> u64| outs.iter().map(|(_, _, o)| f(o)).sum::<u64>();
    let p = Phase {
        system,
        phase: phase.to_owned(),
        concurrency: threads,
        wall,
        records: sum(|o| o.records),
        requests: sum(|o| o.requests),
        retries: sum(|o| o.retries),
        retry_reasons: outs.iter().fold(BTreeMap::new(), |mut all, (_, _, o)| {
            for (k, v) in &o.reasons {
                *all.entry(k.clone()).or_default() += v;
            }
            all
        }),
        pulled: sum(|o| o.pulled),
        refused: sum(|o| o.refused),
        latency: Latency::of(outs.iter().map(|(_, d, _)| *d).collect()),
        server_cpu: server1 - server0,
        client_cpu: self1 - self0,
        other_cpu: ((all1 - all0) - (server1 - server0) - (self1 - self0)).max(0.0),
        rss_before_mib: rss_before as f64 / MIB,
        peak_rss_mib: peak as f64 / MIB,
        anon_before_mib: anon_before as f64 / MIB,
        peak_anon_mib: peak_anon
            .load(Ordering::Relaxed)
            .max(status_kib(server_pid, "RssAnon:")) as f64
            / MIB,
    };
    p.print();
    p
}

/// Run `f` over every item on a pool of 16 threads (setup, not timed).
fn setup_each<T: Send>(items: &mut [T], f: impl Fn(usize, &mut T) + Sync + Send) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(16)
        .build()
        .unwrap();
    pool.install(|| {
        items
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, item)| f(i, item))
    });
}

// --- what each system did with the concurrent edits ------------------------------

#[derive(Debug, Default, Clone)]
struct Outcome {
    system: &'static str,
    edits: u64,
    field_writes: u64,
    /// Field writes a reader sees (the value, or one of a conflict's values;
    /// the tag among the set's members).
    visible: u64,
    /// gridsync: records and fields in conflict (`GET /v1/grids/{g}/conflicts`).
    conflicted_records: u64,
    conflicted_fields: u64,
    /// pouchdb: documents with `_conflicts`, and the losing revisions.
    docs_with_conflicts: u64,
    losing_revisions: u64,
    /// pouchdb plain updates: edits answered `conflict` (the 409 of `_bulk_docs`).
    refused: u64,
}

#[derive(Debug, Default, Clone)]
struct Bytes {
    system: &'static str,
    push_body_per_record: f64,
    first_down: u64,
    first_records: u64,
    incr_down: u64,
    incr_records: u64,
    /// One household nobody edited (device 0's #50), as a replica holds it:
    /// gridsync's stored form, pouchdb's document.
    sample_state: usize,
}

#[derive(Debug, Default)]
struct Results {
    phases: Vec<Phase>,
    outcomes: Vec<Outcome>,
    bytes: Vec<Bytes>,
}

// --- gridsync --------------------------------------------------------------------

struct Gs {
    client: Client,
    /// Changes made and not yet pushed, with their JSON size.
    made_bytes: u64,
}

fn gs_sync(c: &mut Client) -> SyncReport {
    match c.sync() {
        Ok(r) => {
            assert_eq!(r.refused, 0, "gridsync refused a change");
            r
        }
        Err(e) => panic!("gridsync sync failed: {e}"),
    }
}

fn gs_out(r: &SyncReport, records: u64, pulled: u64) -> OpOut {
    OpOut {
        records,
        requests: u64::from(r.round_trips),
        retries: u64::from(r.retries),
        reasons: r
            .retry_reasons
            .iter()
            .map(|(k, v)| (k.clone(), u64::from(*v)))
            .collect(),
        pulled,
        refused: 0,
    }
}

fn gs_make(
    c: &mut Gs,
    f: impl FnOnce(&mut gridsync_core::Device) -> Result<Change, gridsync_core::ChangeError>,
) {
    let change = c.client.make(f).expect("make a change");
    c.made_bytes += serde_json::to_string(&change).unwrap().len() as u64;
}

fn gs_register(http: &Http, user: &str, tokens: &Tokens, name: &str, grid: &str) -> Gs {
    let client = Client::register(
        LocalStore::in_memory().unwrap(),
        http,
        user,
        tokens,
        name,
        Some(vec![grid.to_owned()]),
    )
    .unwrap_or_else(|e| panic!("register {name}: {e}"));
    Gs {
        client,
        made_bytes: 0,
    }
}

fn gs_value_holds(view: &gridsync_core::RecordView, field: &str, want: &str) -> bool {
    match view.fields.get(field) {
        Some(FieldView::Scalar { value, conflict }) => {
            value == &Value::from(want) || conflict.iter().any(|w| w.value == Value::from(want))
        }
        Some(FieldView::Set(members)) => members.iter().any(|m| m == want),
        _ => false,
    }
}

fn run_gridsync(
    bin: &Path,
    root: &Path,
    w: &Workload,
    concurrency: usize,
    whole: bool,
    out: &mut Results,
) {
    const SYS: &str = "gridsync";
    let dir = Workdir::new(root, "gridsync");
    let mut server = Gridsync::create(bin, dir.path());
    let base = server.base();
    let proxy = Proxy::start(server.port);

    // The tree and the users, over HTTP as an admin would.
    let admin_http = Http::new(&base);
    let admin = admin_http.login("admin", ADMIN_PASSWORD).unwrap();
    let node = |code: &str, parent: &str, level: &str| {
        admin_http
            .post::<Json>(
                "/v1/org/nodes",
                Some(&admin.access_token),
                &json!({"code": code, "parent": parent, "level": level, "name": format!("节点{code}")}),
            )
            .unwrap_or_else(|e| panic!("create node {code}: {e:?}"));
    };
    node(PARK, DISTRICT, "park");
    node(COMMUNITY, PARK, "community");
    for g in w.grids.iter().map(String::as_str).chain([QUIET_GRID]) {
        node(g, COMMUNITY, "grid");
    }
    let users: Vec<(String, Tokens)> = (0..w.grids.len())
        .map(|g| {
            let name = format!("peer-w{g}");
            admin_http
                .post::<Json>(
                    "/v1/users",
                    Some(&admin.access_token),
                    &json!({"username": name, "full_name": format!("网格员{g}"),
                        "password": USER_PASSWORD, "role": "grid_worker", "node": COMMUNITY}),
                )
                .unwrap_or_else(|e| panic!("create user {name}: {e:?}"));
            let tokens = admin_http.login(&name, USER_PASSWORD).unwrap();
            (name, tokens)
        })
        .collect();
    let devices = w.devices();
    let register = |role: &str, i: usize, grid: &str, base: &str| {
        let (user, tokens) = &users[w.device_grid[i]];
        gs_register(&Http::new(base), user, tokens, &format!("{role} {i}"), grid)
    };
    let mut creators: Vec<Option<Gs>> = (0..devices).map(|_| None).collect();
    setup_each(&mut creators, |i, c| {
        *c = Some(register("creator", i, QUIET_GRID, &base))
    });
    let mut creators: Vec<Gs> = creators.into_iter().map(Option::unwrap).collect();
    let (mut editors, mut readers, mut byte_readers) = if whole {
        let mut e: Vec<Option<Gs>> = (0..devices).map(|_| None).collect();
        setup_each(&mut e, |i, c| {
            *c = Some(register("editor", i, w.grid_of(i), &base))
        });
        let mut r: Vec<Option<Gs>> = (0..devices).map(|_| None).collect();
        setup_each(&mut r, |i, c| {
            *c = Some(register("replica", i, w.grid_of(i), &base))
        });
        // One per grid, through the counting proxy.
        let b: Vec<Gs> = (0..w.grids.len())
            .map(|g| {
                let first = w.device_grid.iter().position(|&d| d == g).unwrap();
                register("byte counter", first, &w.grids[g], &proxy.base())
            })
            .collect();
        (
            e.into_iter().map(Option::unwrap).collect(),
            r.into_iter().map(Option::unwrap).collect(),
            b,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    // A server process that never hashed a password (19 MiB of argon2 work
    // area per core otherwise stays in its RSS).
    server.restart();
    let pid = server.pid();

    // Offline: every creator makes its households.
    setup_each(&mut creators, |i, c| {
        let grid = w.grid_of(i);
        for h in &w.houses[i][..w.records] {
            gs_make(c, |d| {
                let mut e = household_fields(d.create("household", grid, h.id), h);
                for t in &h.tags {
                    e = e.add("tags", t);
                }
                e.commit()
            });
        }
    });
    let push_bytes: u64 = creators.iter().map(|c| c.made_bytes).sum();
    let per = w.records as u64;
    out.phases.push(measure(
        SYS,
        &format!("push (c={concurrency})"),
        pid,
        &mut creators,
        concurrency,
        |_, c| {
            let r = gs_sync(&mut c.client);
            assert_eq!(r.delivered, per, "every change acknowledged");
            gs_out(&r, r.delivered, r.pulled_changes + r.pulled_records)
        },
    ));
    if !whole {
        return;
    }

    // Editors pull their grid (not timed), then edit offline.
    setup_each(&mut editors, |_, e| {
        gs_sync(&mut e.client);
    });
    setup_each(&mut editors, |i, e| {
        for op in &w.edits[i] {
            let id = w.houses[op.owner][op.index].id;
            gs_make(e, |d| {
                let mut ed = d.edit(id).set("note", op.note.as_str());
                if let Some(u) = op.use_ {
                    ed = ed.set("use", u);
                }
                if let Some(n) = &op.owner_name {
                    ed = ed.set("owner_name", n.as_str());
                }
                ed.add("tags", &op.tag).commit()
            });
        }
    });
    let edits_per = w.edits[0].len() as u64;
    out.phases.push(measure(
        SYS,
        "edit",
        pid,
        &mut editors,
        concurrency,
        |_, e| {
            let r = gs_sync(&mut e.client);
            assert_eq!(r.delivered, edits_per);
            gs_out(&r, r.delivered, r.pulled_changes + r.pulled_records)
        },
    ));
    // What the server keeps of the concurrent edits.
    let mut outcome = Outcome {
        system: SYS,
        edits: w.edits.iter().map(|e| e.len() as u64).sum(),
        ..Outcome::default()
    };
    for (g, grid) in w.grids.iter().enumerate() {
        let first = w.device_grid.iter().position(|&d| d == g).unwrap();
        let c: Json = editors[first]
            .client
            .get(&format!("/v1/grids/{grid}/conflicts"))
            .unwrap();
        for r in c["records"].as_array().unwrap() {
            outcome.conflicted_records += 1;
            outcome.conflicted_fields += r["fields"].as_object().map_or(0, |f| f.len() as u64);
        }
    }

    let grid_now = |i: usize| (w.grid_devices(w.device_grid[i]) * w.records) as u64;
    out.phases.push(measure(
        SYS,
        "first pull",
        pid,
        &mut readers,
        concurrency,
        |i, r| {
            let rep = gs_sync(&mut r.client);
            assert_eq!(rep.pulled_records + rep.pulled_changes, grid_now(i));
            gs_out(&rep, rep.pulled_records + rep.pulled_changes, 0)
        },
    ));
    proxy.take();
    let mut first_records = 0;
    for b in &mut byte_readers {
        let r = gs_sync(&mut b.client);
        first_records += r.pulled_records + r.pulled_changes;
    }
    let (first_down, _) = proxy.take();

    // Field writes a reader sees, from each device's replica.
    for (i, ops) in w.edits.iter().enumerate() {
        for op in ops {
            // The replica of the owner's device holds the owner's grid.
            debug_assert_eq!(w.device_grid[op.owner], w.device_grid[i]);
            let view = readers[op.owner]
                .client
                .view(w.houses[op.owner][op.index].id)
                .expect("the reader holds the record");
            let mut checks = vec![("note", op.note.as_str()), ("tags", op.tag.as_str())];
            if let Some(u) = op.use_ {
                checks.push(("use", u));
            }
            if let Some(n) = &op.owner_name {
                checks.push(("owner_name", n.as_str()));
            }
            for (field, want) in checks {
                outcome.field_writes += 1;
                if gs_value_holds(&view, field, want) {
                    outcome.visible += 1;
                }
            }
        }
    }
    out.outcomes.push(outcome);

    // A few new changes (pushed, not timed), then the incremental pull.
    setup_each(&mut creators, |i, c| {
        let grid = w.grid_of(i);
        for (k, note) in &w.later_notes[i] {
            let id = w.houses[i][*k].id;
            gs_make(c, |d| d.edit(id).set("note", note.as_str()).commit());
        }
        let h = &w.houses[i][w.records];
        gs_make(c, |d| {
            household_fields(d.create("household", grid, h.id), h)
                .add("tags", h.tags[0])
                .commit()
        });
        let r = gs_sync(&mut c.client);
        assert_eq!(r.delivered, w.later_notes[i].len() as u64 + 1);
    });
    out.phases.push(measure(
        SYS,
        "incremental pull",
        pid,
        &mut readers,
        concurrency,
        |_, r| {
            let rep = gs_sync(&mut r.client);
            gs_out(&rep, rep.pulled_records + rep.pulled_changes, 0)
        },
    ));
    proxy.take();
    let mut incr_records = 0;
    for b in &mut byte_readers {
        let r = gs_sync(&mut b.client);
        incr_records += r.pulled_records + r.pulled_changes;
    }
    let (incr_down, _) = proxy.take();
    for (i, r) in readers.iter().enumerate() {
        assert_eq!(
            r.client.replica().records().count(),
            w.grid_records(w.device_grid[i]),
            "replica {i} holds its whole grid"
        );
    }
    let sample_state = readers[0]
        .client
        .replica()
        .record(w.houses[0][50].id)
        .map_or(0, |r| r.to_stored().len());
    out.bytes.push(Bytes {
        system: SYS,
        push_body_per_record: push_bytes as f64 / (devices * w.records) as f64,
        first_down,
        first_records,
        incr_down,
        incr_records,
        sample_state,
    });
}

// --- pouchdb-server ----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edits {
    /// `new_edits: false` with revisions made on the device (replication).
    Replicated,
    /// Plain updates carrying the `_rev` the device last saw.
    Plain,
}

struct PouchDevice {
    agent: ureq::Agent,
    base: String,
    db: String,
    /// Documents by id, as last pulled (with `_rev`).
    replica: HashMap<String, Json>,
    since: Json,
    rng: StdRng,
    /// Own documents' revisions (id → rev), for later edits.
    own_revs: HashMap<String, String>,
    pending: Vec<Json>,
}

fn db_name(grid: &str) -> String {
    format!("g{grid}")
}

fn agent() -> ureq::Agent {
    // The same settings as gridsync_client::Http.
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout_read(Duration::from_secs(120))
        .timeout_write(Duration::from_secs(120))
        .build()
}

impl PouchDevice {
    fn new(base: &str, grid: &str, seed: u64) -> PouchDevice {
        PouchDevice {
            agent: agent(),
            base: base.to_owned(),
            db: db_name(grid),
            replica: HashMap::new(),
            since: json!(0),
            rng: StdRng::seed_from_u64(seed),
            own_revs: HashMap::new(),
            pending: Vec::new(),
        }
    }

    fn rev_id(&mut self) -> String {
        format!("{:032x}", self.rng.gen::<u128>())
    }

    /// `GET url`, or `POST url` with a JSON body; a transport failure is
    /// retried (as gridsync's client does).
    fn send(&self, out: &mut OpOut, url: &str, body: Option<&[u8]>) -> Vec<u8> {
        let mut attempt = 0;
        loop {
            let answer = match body {
                Some(b) => self
                    .agent
                    .post(url)
                    .set("Content-Type", "application/json")
                    .send_bytes(b),
                None => self.agent.get(url).call(),
            };
            match answer.map_err(Box::new) {
                Ok(r) => {
                    let mut body = Vec::new();
                    r.into_reader().read_to_end(&mut body).unwrap();
                    return body;
                }
                Err(e) if matches!(*e, ureq::Error::Transport(_)) && attempt < 5 => {
                    attempt += 1;
                    out.retries += 1;
                    *out.reasons.entry("transport".into()).or_default() += 1;
                    eprintln!("pouchdb: retrying after {e}");
                    std::thread::sleep(Duration::from_millis(250 << attempt));
                }
                Err(e) => panic!("pouchdb request failed: {e}"),
            }
        }
    }

    /// `POST _bulk_docs` of the pending documents: (results, refused).
    fn push(&mut self, mode: Edits, out: &mut OpOut) -> Vec<Json> {
        let docs = std::mem::take(&mut self.pending);
        let body = match mode {
            Edits::Replicated => json!({"new_edits": false, "docs": docs}),
            Edits::Plain => json!({ "docs": docs }),
        };
        let body = serde_json::to_vec(&body).unwrap();
        let url = format!("{}/{}/_bulk_docs", self.base, self.db);
        let answer = self.send(out, &url, Some(&body));
        out.requests += 1;
        out.records += docs.len() as u64;
        let results: Vec<Json> = serde_json::from_slice(&answer).expect("a _bulk_docs answer");
        for r in &results {
            match r.get("error").and_then(Json::as_str) {
                None => {}
                Some("conflict") => out.refused += 1,
                Some(e) => panic!("pouchdb refused a document: {e}: {r}"),
            }
        }
        results
    }

    /// `GET _changes` from `since`, page after page; returns the documents.
    fn pull(&mut self, out: &mut OpOut) -> u64 {
        let mut docs = 0;
        loop {
            let since = match &self.since {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let url = format!(
                "{}/{}/_changes?include_docs=true&since={}&limit={PAGE}",
                self.base,
                self.db,
                encode(&since)
            );
            let body = self.send(out, &url, None);
            out.requests += 1;
            let page: Json = serde_json::from_slice(&body).expect("a _changes answer");
            let results = page["results"].as_array().expect("results");
            let n = results.len();
            for r in results {
                let id = r["id"].as_str().unwrap().to_owned();
                self.replica.insert(id, r["doc"].clone());
            }
            docs += n as u64;
            self.since = page["last_seq"].clone();
            if n < PAGE {
                return docs;
            }
        }
    }
}

/// Percent-encode a `since` value for a query string.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn house_doc(h: &House, grid: &str) -> Json {
    json!({
        "_id": h.id.to_string(),
        "collection": "household",
        "grid": grid,
        "address_code": h.address_code,
        "address": h.address,
        "use": h.use_,
        "owner_name": h.owner_name,
        "owner_phone": h.owner_phone,
        "rental": h.rental,
        "location": {"lat": h.lat, "lng": h.lng},
        "note": h.note,
        "tags": h.tags,
    })
}

/// Make `doc` a new revision of itself (replication) or mark the revision it
/// updates (plain).
fn next_revision(doc: &mut Json, mode: Edits, new_id: &str) {
    let obj = doc.as_object_mut().unwrap();
    obj.remove("_conflicts");
    if mode == Edits::Replicated {
        let (n, parent) = match obj.get("_rev").and_then(Json::as_str) {
            Some(rev) => {
                let (n, id) = rev.split_once('-').expect("a revision is N-ID");
                (
                    n.parse::<u64>().expect("a revision number"),
                    Some(id.to_owned()),
                )
            }
            None => (0, None),
        };
        let mut ids = vec![json!(new_id)];
        ids.extend(parent.map(Json::from));
        obj.insert("_rev".into(), json!(format!("{}-{new_id}", n + 1)));
        obj.insert("_revisions".into(), json!({"start": n + 1, "ids": ids}));
    }
}

#[allow(clippy::too_many_arguments)]
fn run_pouch(
    system: &'static str,
    node: &str,
    script: &Path,
    root: &Path,
    w: &Workload,
    concurrency: usize,
    whole: bool,
    in_memory: bool,
    mode: Edits,
    out: &mut Results,
) {
    let dir = Workdir::new(root, "pouchdb");
    let server = Pouch::start(node, script, dir.path(), in_memory);
    let base = server.base();
    let pid = server.pid();
    let proxy = Proxy::start(server.port);
    let setup = agent();
    for g in &w.grids {
        setup
            .put(&format!("{base}/{}", db_name(g)))
            .call()
            .unwrap_or_else(|e| panic!("create database {g}: {e}"));
    }
    let devices = w.devices();
    let mut creators: Vec<PouchDevice> = (0..devices)
        .map(|i| PouchDevice::new(&base, w.grid_of(i), 1_000 + i as u64))
        .collect();
    setup_each(&mut creators, |i, c| {
        let grid = w.grid_of(i);
        for h in &w.houses[i][..w.records] {
            let mut doc = house_doc(h, grid);
            if mode == Edits::Replicated {
                let rev = c.rev_id();
                next_revision(&mut doc, mode, &rev);
                c.own_revs.insert(h.id.to_string(), format!("1-{rev}"));
            }
            c.pending.push(doc);
        }
    });
    let push_bytes: u64 = creators
        .iter()
        .map(|c| {
            serde_json::to_vec(&json!({"new_edits": false, "docs": c.pending}))
                .unwrap()
                .len() as u64
        })
        .sum();
    out.phases.push(measure(
        system,
        &format!("push (c={concurrency})"),
        pid,
        &mut creators,
        concurrency,
        |_, c| {
            let mut o = OpOut::default();
            c.push(mode, &mut o);
            assert_eq!(o.refused, 0);
            o
        },
    ));
    if !whole {
        return;
    }

    // Editors pull their database (not timed), then edit their replica.
    let mut editors: Vec<PouchDevice> = (0..devices)
        .map(|i| PouchDevice::new(&base, w.grid_of(i), 2_000 + i as u64))
        .collect();
    setup_each(&mut editors, |_, e| {
        e.pull(&mut OpOut::default());
    });
    setup_each(&mut editors, |i, e| {
        for op in &w.edits[i] {
            let id = w.houses[op.owner][op.index].id.to_string();
            let mut doc = e.replica.get(&id).expect("the editor holds it").clone();
            doc["note"] = json!(op.note);
            if let Some(u) = op.use_ {
                doc["use"] = json!(u);
            }
            if let Some(n) = &op.owner_name {
                doc["owner_name"] = json!(n);
            }
            doc["tags"].as_array_mut().unwrap().push(json!(op.tag));
            let rev = e.rev_id();
            next_revision(&mut doc, mode, &rev);
            e.pending.push(doc);
        }
    });
    out.phases.push(measure(
        system,
        "edit",
        pid,
        &mut editors,
        concurrency,
        |_, e| {
            let mut o = OpOut::default();
            e.push(mode, &mut o);
            let before = o.requests;
            let mut pulled = OpOut::default();
            o.pulled = e.pull(&mut pulled);
            o.requests = before + pulled.requests;
            o.retries += pulled.retries;
            for (k, v) in pulled.reasons {
                *o.reasons.entry(k).or_default() += v;
            }
            o
        },
    ));
    let refused = out.phases.last().map_or(0, |p| p.refused);
    let mut outcome = Outcome {
        system,
        edits: w.edits.iter().map(|e| e.len() as u64).sum(),
        refused,
        ..Outcome::default()
    };
    for g in &w.grids {
        let body: Json = setup
            .get(&format!(
                "{base}/{}/_all_docs?include_docs=true&conflicts=true",
                db_name(g)
            ))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        for row in body["rows"].as_array().unwrap() {
            if let Some(c) = row["doc"]["_conflicts"].as_array() {
                outcome.docs_with_conflicts += 1;
                outcome.losing_revisions += c.len() as u64;
            }
        }
    }
    if mode == Edits::Plain {
        out.outcomes.push(outcome);
        return;
    }

    let mut readers: Vec<PouchDevice> = (0..devices)
        .map(|i| PouchDevice::new(&base, w.grid_of(i), 3_000 + i as u64))
        .collect();
    let per_grid = |i: usize| (w.grid_devices(w.device_grid[i]) * w.records) as u64;
    out.phases.push(measure(
        system,
        "first pull",
        pid,
        &mut readers,
        concurrency,
        |i, r| {
            let mut o = OpOut::default();
            o.records = r.pull(&mut o);
            assert_eq!(o.records, per_grid(i));
            o
        },
    ));
    let mut byte_readers: Vec<PouchDevice> = w
        .grids
        .iter()
        .enumerate()
        .map(|(g, grid)| PouchDevice::new(&proxy.base(), grid, 4_000 + g as u64))
        .collect();
    proxy.take();
    let first_records: u64 = byte_readers
        .iter_mut()
        .map(|b| b.pull(&mut OpOut::default()))
        .sum();
    let (first_down, _) = proxy.take();

    // Field writes a reader sees in the winning revisions.
    for ops in &w.edits {
        for op in ops {
            let doc = &readers[op.owner].replica[&w.houses[op.owner][op.index].id.to_string()];
            let mut checks = vec![("note", op.note.as_str())];
            if let Some(u) = op.use_ {
                checks.push(("use", u));
            }
            if let Some(n) = &op.owner_name {
                checks.push(("owner_name", n.as_str()));
            }
            for (field, want) in checks {
                outcome.field_writes += 1;
                if doc[field].as_str() == Some(want) {
                    outcome.visible += 1;
                }
            }
            outcome.field_writes += 1;
            if doc["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|m| m.as_str() == Some(op.tag.as_str())))
            {
                outcome.visible += 1;
            }
        }
    }
    out.outcomes.push(outcome);

    // A few new changes (pushed, not timed), then the incremental pull.
    setup_each(&mut creators, |i, c| {
        let grid = w.grid_of(i);
        for (k, note) in &w.later_notes[i] {
            let h = &w.houses[i][*k];
            let id = h.id.to_string();
            let mut doc = house_doc(h, grid);
            doc["_rev"] = json!(c.own_revs[&id]);
            doc["note"] = json!(note);
            let rev = c.rev_id();
            next_revision(&mut doc, mode, &rev);
            c.pending.push(doc);
        }
        let h = &w.houses[i][w.records];
        let mut doc = house_doc(h, grid);
        doc["tags"] = json!([h.tags[0]]);
        let rev = c.rev_id();
        next_revision(&mut doc, mode, &rev);
        c.pending.push(doc);
        let mut o = OpOut::default();
        c.push(mode, &mut o);
        assert_eq!(o.refused, 0);
    });
    out.phases.push(measure(
        system,
        "incremental pull",
        pid,
        &mut readers,
        concurrency,
        |_, r| {
            let mut o = OpOut::default();
            o.records = r.pull(&mut o);
            o
        },
    ));
    proxy.take();
    let incr_records: u64 = byte_readers
        .iter_mut()
        .map(|b| b.pull(&mut OpOut::default()))
        .sum();
    let (incr_down, _) = proxy.take();
    for (i, r) in readers.iter().enumerate() {
        assert_eq!(
            r.replica.len(),
            w.grid_records(w.device_grid[i]),
            "replica {i} holds its whole database"
        );
    }
    let sample_state = readers[0]
        .replica
        .get(&w.houses[0][50].id.to_string())
        .map_or(0, |d| d.to_string().len());
    out.bytes.push(Bytes {
        system,
        push_body_per_record: push_bytes as f64 / (devices * w.records) as f64,
        first_down,
        first_records,
        incr_down,
        incr_records,
        sample_state,
    });
}

// --- the report ------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The phases of every run: medians over the runs (the value itself for
/// one run), the ratio as the median of each run's own ratio, "other CPU"
/// as the largest of the runs.
fn phase_table(runs: &[Results]) -> String {
    let mut s = String::new();
    let many = runs.len() > 1;
    let _ = writeln!(
        s,
        "| phase | system | wall | records | records/s | gridsync ÷ this{} | p50 | p99 | requests (retries) | server CPU (µs/record) | devices' CPU | other CPU{} | server RSS start → peak | server heap peak |",
        if many { " (range)" } else { "" },
        if many { " (largest)" } else { "" }
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    // Phase by phase, the systems in the order they ran.
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for p in &runs[0].phases {
        for q in runs[0].phases.iter().filter(|q| q.phase == p.phase) {
            if !keys.contains(&(q.phase.as_str(), q.system)) {
                keys.push((q.phase.as_str(), q.system));
            }
        }
    }
    for (phase, system) in keys {
        let of = |run: &'_ Results| {
            run.phases
                .iter()
                .find(|p| p.phase == phase && p.system == system)
                .cloned()
        };
        let gs_of = |run: &'_ Results| {
            run.phases
                .iter()
                .find(|p| p.phase == phase && p.system == "gridsync")
                .cloned()
        };
        let all: Vec<Phase> = runs.iter().filter_map(of).collect();
        let m = |f: fn(&Phase) -> f64| median(all.iter().map(f).collect());
        let ratios: Vec<f64> = runs
            .iter()
            .filter_map(|r| Some(gs_of(r)?.rate() / of(r)?.rate()))
            .collect();
        let ratio = if system == "gridsync" || ratios.is_empty() {
            String::new()
        } else if many {
            format!(
                "**{:.2}** ({:.2}–{:.2})",
                median(ratios.clone()),
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(0.0, f64::max)
            )
        } else {
            format!("**{:.2}**", ratios[0])
        };
        let _ = writeln!(
            s,
            "| {} (c={}) | {} | {:.2} s | {:.0} | {:.0} | {} | {:.0} ms | {:.0} ms | {:.0} ({:.0}) | {:.2} s ({:.0}) | {:.2} s | {:.2} s | {:.0} → {:.0} MiB | {:.0} MiB |",
            phase.split(" (c=").next().unwrap_or(phase),
            all[0].concurrency,
            system,
            m(|p| p.wall),
            m(|p| p.records as f64),
            m(Phase::rate),
            ratio,
            m(|p| p.latency.p50),
            m(|p| p.latency.p99),
            m(|p| p.requests as f64),
            all.iter().map(|p| p.retries).sum::<u64>() as f64,
            m(|p| p.server_cpu),
            m(|p| p.server_cpu * 1e6 / p.records.max(1) as f64),
            m(|p| p.client_cpu),
            all.iter().map(|p| p.other_cpu).fold(0.0, f64::max),
            m(|p| p.rss_before_mib),
            m(|p| p.peak_rss_mib),
            m(|p| p.peak_anon_mib)
        );
    }
    s
}

/// What the systems did with the concurrent edits, and the bytes (the same
/// in every run: the workload is seeded).
fn outcome_tables(res: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| concurrent edits | edits | field writes | seen by a reader | gridsync: records / fields in conflict | pouchdb: docs with `_conflicts` / losing revisions | edits refused as `conflict` |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for o in &res.outcomes {
        let seen = if o.field_writes == 0 {
            "—".to_owned()
        } else {
            format!("{} of {}", o.visible, o.field_writes)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            o.system,
            o.edits,
            if o.field_writes == 0 {
                "—".to_owned()
            } else {
                o.field_writes.to_string()
            },
            seen,
            if o.system == "gridsync" {
                format!("{} / {}", o.conflicted_records, o.conflicted_fields)
            } else {
                "—".into()
            },
            if o.system == "gridsync" {
                "—".into()
            } else {
                format!("{} / {}", o.docs_with_conflicts, o.losing_revisions)
            },
            o.refused
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| bytes | push: JSON per record sent | first pull: bytes received (records) | per record | incremental pull: bytes received (records) | per record | one unedited household as the replica keeps it |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for b in &res.bytes {
        let _ = writeln!(
            s,
            "| {} | {:.0} B | {} ({}) | {:.0} B | {} ({}) | {:.0} B | {} B |",
            b.system,
            b.push_body_per_record,
            b.first_down,
            b.first_records,
            b.first_down as f64 / b.first_records.max(1) as f64,
            b.incr_down,
            b.incr_records,
            b.incr_down as f64 / b.incr_records.max(1) as f64,
            b.sample_state
        );
    }
    s
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let devices = env_usize("GRIDSYNC_PEER_DEVICES", 100);
    let records = env_usize("GRIDSYNC_PEER_RECORDS", 100);
    let grids = env_usize("GRIDSYNC_PEER_GRIDS", 6);
    assert!(records >= 25, "GRIDSYNC_PEER_RECORDS: at least 25");
    assert!(
        (1..=99).contains(&grids) && devices >= 3 * grids,
        "at least 3 devices a grid, at most 99 grids"
    );
    let concurrency: Vec<usize> = std::env::var("GRIDSYNC_PEER_CONCURRENCY")
        .unwrap_or_else(|_| "16,100".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    assert!(!concurrency.is_empty(), "GRIDSYNC_PEER_CONCURRENCY");
    let systems: Vec<String> = std::env::var("GRIDSYNC_PEER_SYSTEMS")
        .unwrap_or_else(|_| "gridsync,pouchdb-memory,pouchdb-leveldb,pouchdb-plain".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let seed = env_usize("GRIDSYNC_PEER_SEED", 1) as u64;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bin = std::env::var_os("GRIDSYNC_BENCH_SERVER").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| repo.join("target"), PathBuf::from)
                .join("release")
                .join("gridsync")
        },
        PathBuf::from,
    );
    let script = std::env::var_os("GRIDSYNC_PEER_POUCHDB").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("benches/peer/node_modules/pouchdb-server/bin/pouchdb-server")
        },
        PathBuf::from,
    );
    let node = std::env::var("GRIDSYNC_PEER_NODE").unwrap_or_else(|_| "node".into());
    let root =
        std::env::var_os("GRIDSYNC_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    if systems.iter().any(|s| s == "gridsync") {
        assert!(
            bin.exists(),
            "{} is missing: run `bash client/benches/peer.sh` (or `cargo build --release -p gridsync-server`)",
            bin.display()
        );
    }
    if systems.iter().any(|s| s.starts_with("pouchdb")) {
        assert!(
            script.exists(),
            "{} is missing: run `bash client/benches/peer.sh` (it installs pouchdb-server with npm)",
            script.display()
        );
    }

    let w = Workload::new(devices, records, grids, seed);
    println!(
        "workload: {devices} devices in {grids} grids, {records} households each ({} in all), \
         {} edits ({} records edited by two devices), 5 new changes a device before the incremental pull",
        devices * records,
        w.edits.iter().map(Vec::len).sum::<usize>(),
        w.doubly_edited()
    );
    let runs = env_usize("GRIDSYNC_PEER_RUNS", 3).max(1);
    let mut all: Vec<Results> = Vec::new();
    for run in 1..=runs {
        println!("## run {run} of {runs}");
        let mut res = Results::default();
        let last = concurrency.len() - 1;
        for (n, &c) in concurrency.iter().enumerate() {
            let whole = n == last;
            println!(
                "run at concurrency {c}{}",
                if whole {
                    " (whole workload)"
                } else {
                    " (push)"
                }
            );
            for s in &systems {
                match s.as_str() {
                    "gridsync" => run_gridsync(&bin, &root, &w, c, whole, &mut res),
                    "pouchdb-memory" => run_pouch(
                        "pouchdb (memory)",
                        &node,
                        &script,
                        &root,
                        &w,
                        c,
                        whole,
                        true,
                        Edits::Replicated,
                        &mut res,
                    ),
                    "pouchdb-leveldb" => run_pouch(
                        "pouchdb (leveldb)",
                        &node,
                        &script,
                        &root,
                        &w,
                        c,
                        whole,
                        false,
                        Edits::Replicated,
                        &mut res,
                    ),
                    "pouchdb-plain" if whole => run_pouch(
                        "pouchdb (memory, plain _rev updates)",
                        &node,
                        &script,
                        &root,
                        &w,
                        c,
                        true,
                        true,
                        Edits::Plain,
                        &mut res,
                    ),
                    "pouchdb-plain" => {}
                    other => panic!("GRIDSYNC_PEER_SYSTEMS: unknown system `{other}`"),
                }
            }
        }
        println!();
        print!("{}", phase_table(std::slice::from_ref(&res)));
        println!();
        all.push(res);
    }
    if runs > 1 {
        println!("## median of {runs} runs");
        print!("{}", phase_table(&all));
        println!();
    }
    print!("{}", outcome_tables(&all[0]));
}
