//! Citus workers join and leave while phones sync.
//!
//! A database of its own on the Citus cluster of `GRIDSYNC_TEST_CITUS_DIR`
//! (the folder `citus-cluster start DIR` made: `coordinator.port`,
//! `worker1.port`, `worker2.port`; loopback, user `postgres`, trust), with one
//! worker to begin with; `gridsync migrate` distributes the tables by grid,
//! `gridsync seed` loads the demo district, and two real `gridsync serve`
//! processes share the database. Then, while fleets of simulated phones
//! (`gridsync_client::sim`) sync through both processes round after round:
//!
//! - **join**: the second worker is added and the shards are rebalanced onto
//!   it;
//! - **leave**: the first worker is drained of its shards and removed.
//!
//! Then **a worker fails**: the second worker, holding every shard now,
//! crashes (`pg_ctl stop -m immediate`) while a real phone has changes in
//! its outbox. Its sync fails with `503 store_unavailable` (never 500) and
//! keeps the outbox; once the worker is started again the next sync
//! delivers every change once. The worker is started again by a guard if
//! the test fails while it is down (the cluster is shared); as root, the
//! test runs `pg_ctl` as the `postgres` user.
//!
//! Every round's verdict must be clean (every phone agrees with the servers,
//! nothing lost, nothing refused), and at the end the coordinator counts
//! every change once. The cluster's own database `gridsync` is not touched:
//! Citus keeps its node list per database, so the joins and leaves here
//! happen in a database made for the test and dropped after it.
//!
//! ```sh
//! GRIDSYNC_TEST_CITUS_DIR=/tmp/gridsync-citus \
//!   cargo test -p gridsync-client --test citus -- --ignored --nocapture
//! ```

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gridsync_client::sim::{self, Config, Report};
use gridsync_client::sync::{Failure, RetryPolicy};
use gridsync_client::{Client, ClientError, Http, LocalStore};
use uuid::Uuid;

/// Phones per round, the changes each makes offline, changes per round trip.
const DEVICES: usize = 150;
const CHANGES: usize = 40;
const BATCH: usize = 20;
/// Grids added under the demo's first community, beside its 6: the fleet's
/// grids then hash to many shards, so the moves carry grids in use.
const EXTRA_GRIDS: usize = 18;
/// The demo fixture's admin (fixtures/README.md).
const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "gridsync-demo";
const SECRET: &str = "citus-nodes-test-secret-citus-nodes-test-secret";
/// The changes of the records each round's first phone per grid makes (and
/// syncs) before the storm: a patrol round, a household, a dispute, a key
/// person (`SimPhone::make_shared`). The report's `delivered` counts the
/// storm and the catch-up only.
const SHARED_CHANGES_PER_GRID: u64 = 4;

/// The cluster's folder and ports.
struct Cluster {
    dir: PathBuf,
    coordinator: u16,
    worker1: u16,
    worker2: u16,
}

impl Cluster {
    fn from_env() -> Cluster {
        let dir = std::env::var_os("GRIDSYNC_TEST_CITUS_DIR").unwrap_or_else(|| {
            panic!(
                "set GRIDSYNC_TEST_CITUS_DIR to the folder of a running Citus cluster \
                 (one made by `citus-cluster start DIR`: coordinator.port, worker1.port, \
                 worker2.port; e.g. the one .ci/citus starts in /tmp/gridsync-citus)"
            )
        });
        let dir = PathBuf::from(dir);
        let port = |node: &str| -> u16 {
            let file = dir.join(format!("{node}.port"));
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
                panic!(
                    "GRIDSYNC_TEST_CITUS_DIR: cannot read {}: {e}",
                    file.display()
                )
            });
            text.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{}: not a port ({e}): {text:?}", file.display()))
        };
        Cluster {
            coordinator: port("coordinator"),
            worker1: port("worker1"),
            worker2: port("worker2"),
            dir,
        }
    }
}

/// The PostgreSQL 15 programs of the cluster's servers (`citus-cluster`).
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A shell command as the owner of the cluster's servers: PostgreSQL does
/// not run as root, so as root it runs as `postgres` (like `citus-cluster`).
fn as_postgres(script: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut c = if root {
        let mut c = Command::new("su");
        c.args(["postgres", "-s", "/bin/bash", "-c", script]);
        c
    } else {
        let mut c = Command::new("bash");
        c.args(["-c", script]);
        c
    };
    c.stdin(Stdio::null());
    c
}

/// `pg_ctl` on a node of the cluster (`worker2`…): its output, or why it
/// failed.
fn pg_ctl(cluster: &Cluster, node: &str, args: &str) -> Result<String, String> {
    let data = cluster.dir.join(node);
    let log = cluster.dir.join(format!("{node}.log"));
    let script = format!(
        "{PG_BIN}/pg_ctl -D '{}' -l '{}' {args}",
        data.display(),
        log.display()
    );
    match as_postgres(&script).output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(format!(
            "{script}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("{script}: {e}")),
    }
}

/// A node of the cluster stopped as if it crashed (`pg_ctl stop -m
/// immediate`: no checkpoint, connections cut), and started again when this
/// is dropped: a test that fails while the node is down must not leave the
/// shared cluster broken for what runs after it (nor the test's database
/// undroppable on that node).
struct Crashed<'a> {
    cluster: &'a Cluster,
    node: &'static str,
    up: bool,
}

impl<'a> Crashed<'a> {
    fn crash(cluster: &'a Cluster, node: &'static str) -> Crashed<'a> {
        // The guard first: a stop that fails halfway still starts it again.
        let mut crashed = Crashed {
            cluster,
            node,
            up: false,
        };
        if let Err(e) = pg_ctl(cluster, node, "-m immediate stop") {
            crashed.up = pg_ctl(cluster, node, "status").is_ok();
            panic!("{node} could not be stopped: {e}");
        }
        crashed
    }

    /// Start the node again, waiting until it takes connections (after its
    /// crash recovery).
    fn restart(&mut self) {
        let started = pg_ctl(self.cluster, self.node, "-w -t 60 start");
        self.up = started.is_ok();
        if let Err(e) = started {
            panic!("{} did not start again: {e}", self.node);
        }
    }
}

impl Drop for Crashed<'_> {
    fn drop(&mut self) {
        if !self.up {
            eprintln!("starting {} again after a failure", self.node);
            if let Err(e) = pg_ctl(self.cluster, self.node, "-w -t 60 start") {
                eprintln!("{} did not start again: {e}", self.node);
            }
        }
    }
}

fn psql_command(port: u16, db: &str, sql: &str) -> Command {
    let mut c = Command::new("psql");
    c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null());
    c
}

/// One statement through `psql` on a node; its output, trimmed. Panics on
/// any error.
fn psql(port: u16, db: &str, sql: &str) -> String {
    let out = psql_command(port, db, sql)
        .output()
        .unwrap_or_else(|e| panic!("psql could not start (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "psql on port {port}, database {db}: {sql}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// An operator's cluster command (a drain, a node's removal) run as an
/// operator runs it: Citus's deadlock detector may cancel it when it waits
/// on the locks that phones' syncs and logins hold (a write to a
/// coordinator table locks the reference table it refers to on every node,
/// the leaving one included), and the answer then is to run it again. Up to
/// five tries; each cancellation is printed. Any other error panics at once.
fn psql_operator(port: u16, db: &str, sql: &str) -> String {
    const TRIES: u32 = 5;
    for attempt in 1..=TRIES {
        let out = psql_command(port, db, sql)
            .output()
            .unwrap_or_else(|e| panic!("psql could not start (is it installed?): {e}"));
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("deadlock") && attempt < TRIES,
            "psql on port {port}, database {db} (try {attempt} of {TRIES}): {sql}\n{err}"
        );
        println!("  {sql}: cancelled to break a deadlock (try {attempt}), run again");
        std::thread::sleep(Duration::from_secs(1));
    }
    unreachable!("the last try returns or panics")
}

fn psql_count(port: u16, db: &str, sql: &str) -> u64 {
    let out = psql(port, db, sql);
    out.parse()
        .unwrap_or_else(|e| panic!("{sql}: not a count ({e}): {out:?}"))
}

/// The test's database on every node of the cluster, dropped at the end.
struct Database {
    name: String,
    ports: Vec<u16>,
}

impl Database {
    fn create(cluster: &Cluster) -> Database {
        let db = Database {
            name: format!("gs_nodes_{}", uuid::Uuid::new_v4().simple()),
            ports: vec![cluster.coordinator, cluster.worker1, cluster.worker2],
        };
        for &port in &db.ports {
            psql(port, "postgres", &format!("CREATE DATABASE {}", db.name));
            psql(port, &db.name, "CREATE EXTENSION citus");
        }
        let c = cluster.coordinator;
        psql(
            c,
            &db.name,
            &format!("SELECT citus_set_coordinator_host('127.0.0.1', {c})"),
        );
        // One worker to begin with; the second joins while phones sync.
        psql(
            c,
            &db.name,
            &format!("SELECT citus_add_node('127.0.0.1', {})", cluster.worker1),
        );
        db
    }

    fn url(&self, cluster: &Cluster) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            cluster.coordinator, self.name
        )
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        for &port in &self.ports {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            match psql_command(port, "postgres", &sql).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "could not drop {} on port {port}: {}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("could not drop {} on port {port}: {e}", self.name),
            }
        }
    }
}

/// The `gridsync` binary beside this test's executable
/// (target/<profile>/deps/citus-… → target/<profile>/gridsync), built
/// first when it is not there.
fn gridsync_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lies in target/<profile>/deps");
    let bin = profile_dir.join(format!("gridsync{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-p", "gridsync-server", "--bin", "gridsync"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo starts");
        assert!(status.success(), "building the gridsync binary failed");
        assert!(
            bin.exists(),
            "{} is still missing after the build",
            bin.display()
        );
    }
    bin
}

/// Run `gridsync` to completion; its stdout. Panics when it fails.
fn gridsync(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("gridsync starts");
    assert!(
        out.status.success(),
        "gridsync {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `gridsync serve` processes, killed at the end.
struct Servers {
    urls: Vec<String>,
    children: Vec<Child>,
    logs: Vec<PathBuf>,
}

impl Servers {
    fn start(bin: &Path, url: &str, dir: &Path, n: usize) -> Servers {
        let mut servers = Servers {
            urls: Vec::new(),
            children: Vec::new(),
            logs: Vec::new(),
        };
        let attachments = dir.join("attachments");
        for i in 0..n {
            let port = free_port();
            let log = dir.join(format!("server{i}.log"));
            let file = std::fs::File::create(&log).expect("server log");
            let child = Command::new(bin)
                .args(["serve", "--database-url", url])
                .args(["--addr", &format!("127.0.0.1:{port}")])
                .arg("--attachments-dir")
                .arg(&attachments)
                .env("GRIDSYNC_JWT_SECRET", SECRET)
                .env("GRIDSYNC_SWEEP_SECS", "0")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("server log"))
                .stderr(file)
                .spawn()
                .expect("gridsync serve starts");
            servers.children.push(child);
            servers.logs.push(log);
            servers.urls.push(format!("http://127.0.0.1:{port}"));
        }
        for i in 0..n {
            servers.wait_ready(i);
        }
        servers
    }

    fn wait_ready(&mut self, i: usize) {
        let url = format!("{}/readyz", self.urls[i]);
        let t = Instant::now();
        loop {
            if let Some(status) = self.children[i].try_wait().expect("server status") {
                panic!("server {i} exited ({status}):\n{}", self.log(i));
            }
            let ready = ureq::get(&url)
                .timeout(Duration::from_secs(2))
                .call()
                .is_ok();
            if ready {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "server {i} not ready after 60 s:\n{}",
                self.log(i)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.logs[i]).unwrap_or_default()
    }

    /// Lines of the servers' logs that say something went wrong.
    fn errors(&self) -> Vec<String> {
        (0..self.logs.len())
            .flat_map(|i| {
                self.log(i)
                    .lines()
                    .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("panic"))
                    .map(|l| format!("server {i}: {l}"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn all_alive(&mut self) {
        for i in 0..self.children.len() {
            if let Some(status) = self.children[i].try_wait().expect("server status") {
                panic!("server {i} exited ({status}):\n{}", self.log(i));
            }
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Changes the servers applied from phones since they started
/// (`gridsync_sync_changes_total{outcome="applied"}` of GET /metrics).
fn applied(urls: &[String]) -> u64 {
    urls.iter()
        .map(|url| {
            let text = ureq::get(&format!("{url}/metrics"))
                .timeout(Duration::from_secs(10))
                .call()
                .unwrap_or_else(|e| panic!("GET {url}/metrics: {e}"))
                .into_string()
                .expect("metrics text");
            text.lines()
                .find_map(|l| l.strip_prefix("gridsync_sync_changes_total{outcome=\"applied\"} "))
                .map_or(0, |n| n.trim().parse().expect("a count"))
        })
        .sum()
}

/// Requests the servers answered with `status` since they started (the sum
/// of `gridsync_http_requests_total{…,status="…"}` of GET /metrics).
fn answered(urls: &[String], status: u16) -> u64 {
    let label = format!("status=\"{status}\"");
    urls.iter()
        .map(|url| {
            let text = ureq::get(&format!("{url}/metrics"))
                .timeout(Duration::from_secs(10))
                .call()
                .unwrap_or_else(|e| panic!("GET {url}/metrics: {e}"))
                .into_string()
                .expect("metrics text");
            text.lines()
                .filter(|l| l.starts_with("gridsync_http_requests_total{") && l.contains(&label))
                .filter_map(|l| l.rsplit(' ').next()?.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// One fleet round: its seed, when it ran (seconds since the test began)
/// and what it found.
struct Round {
    seed: u64,
    start: f64,
    end: f64,
    report: Report,
}

/// A fleet of phones through both servers; its verdict must be clean.
fn fleet_round(servers: &str, seed: u64) -> Report {
    let cfg = Config {
        server: servers.to_owned(),
        devices: DEVICES,
        changes: CHANGES,
        admin: ADMIN.into(),
        admin_password: ADMIN_PASSWORD.into(),
        concurrency: DEVICES,
        grids: None,
        batch: BATCH,
        seed,
        progress: false,
        server_pid: None,
    };
    let report =
        sim::run(&cfg).unwrap_or_else(|e| panic!("fleet round (seed {seed}) could not run: {e}"));
    assert!(
        report.ok(),
        "fleet round (seed {seed}): {} findings, e.g. {:#?}",
        report.findings.len(),
        &report.findings[..report.findings.len().min(20)]
    );
    assert_eq!(report.delivered, report.changes_made, "seed {seed}");
    assert_eq!(report.refused, 0, "seed {seed}");
    assert_eq!(report.devices, DEVICES);
    report
}

/// What a phase did: the operation's time span, the changes the servers
/// applied meanwhile and the fleet's rounds.
struct Phase<T> {
    op: T,
    op_start: f64,
    op_end: f64,
    applied_during_op: u64,
    rounds: Vec<Round>,
}

/// Runs fleet rounds back to back through `servers` while `op` changes the
/// cluster: `op` starts `lead` after the first round, and rounds go on until
/// `op` has returned (the round in flight then finishes).
fn while_phones_sync<T>(
    servers: &[String],
    first_seed: u64,
    began: Instant,
    lead: Duration,
    op: impl FnOnce() -> T,
) -> Phase<T> {
    let done = AtomicBool::new(false);
    let list = servers.join(",");
    std::thread::scope(|s| {
        let fleet = s.spawn(|| {
            let mut rounds = Vec::new();
            for seed in first_seed.. {
                let start = began.elapsed().as_secs_f64();
                let report = fleet_round(&list, seed);
                let end = began.elapsed().as_secs_f64();
                println!(
                    "  round seed {seed}: {start:6.1}-{end:6.1} s, {} phones in {} grids, \
                     {} changes, storm {:.1} s (sync p99 {:.0} ms, max {:.0} ms; \
                     {} round trips, {} retries {:?})",
                    report.devices,
                    report.grids,
                    report.changes_made,
                    report.storm_secs,
                    report.storm_sync_ms.p99,
                    report.storm_sync_ms.max,
                    report.storm_round_trips,
                    report.storm_retries,
                    report.storm_retry_reasons
                );
                rounds.push(Round {
                    seed,
                    start,
                    end,
                    report,
                });
                if done.load(Ordering::SeqCst) {
                    break;
                }
            }
            rounds
        });
        std::thread::sleep(lead);
        let applied_before = applied(servers);
        let op_start = began.elapsed().as_secs_f64();
        // A failing `op` must not leave the fleet running for ever.
        let op = {
            struct Stop<'a>(&'a AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _stop = Stop(&done);
            op()
        };
        let op_end = began.elapsed().as_secs_f64();
        let applied_during_op = applied(servers) - applied_before;
        let rounds = fleet
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Phase {
            op,
            op_start,
            op_end,
            applied_during_op,
            rounds,
        }
    })
}

/// Shard placements of distributed tables on a node.
fn distributed_placements(c: u16, db: &str, port: u16) -> u64 {
    psql_count(
        c,
        db,
        &format!(
            "SELECT count(*) FROM citus_shards \
             WHERE citus_table_type = 'distributed' AND nodeport = {port}"
        ),
    )
}

/// Grids holding records whose shard is placed on a node.
fn grids_on(c: u16, db: &str, port: u16) -> u64 {
    psql_count(
        c,
        db,
        &format!(
            "SELECT count(*) FROM (SELECT DISTINCT grid FROM records) g \
             JOIN pg_dist_shard_placement p \
               ON p.shardid = get_shard_id_for_distribution_column('records', g.grid) \
             WHERE p.nodeport = {port}"
        ),
    )
}

/// A demo grid worker (fixtures/README.md): the phone of phase C.
const WORKER: &str = "worker01";
/// The changes that phone makes while worker 2 is down.
const OFFLINE: i64 = 3;

/// The answer of a GET with `token`: its status and code (`200 ok` when it
/// succeeded) and the message, for the outage's findings.
fn status_of(url: &str, path: &str, token: &str) -> (u16, String, String) {
    match Http::new(url).get::<serde_json::Value>(path, token) {
        Ok(_) => (200, "ok".into(), String::new()),
        Err(Failure::Status {
            status,
            code,
            message,
        }) => (status, code, message),
        Err(Failure::Transport(e)) => panic!("GET {url}{path}: no answer: {e}"),
    }
}

/// The status of a GET without a token (`/healthz`, `/readyz`).
fn unauthenticated_status(url: &str, path: &str) -> u16 {
    match ureq::get(&format!("{url}{path}"))
        .timeout(Duration::from_secs(10))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(ureq::Error::Transport(t)) => panic!("GET {url}{path}: {t}"),
    }
}

/// Phase C: worker 2, holding every shard, crashes while a real phone has
/// changes waiting; what fails fails with `503 store_unavailable` (never
/// 500), nothing the phone made is lost, and once the worker is back the
/// phone's next sync delivers every change once. `changes`: the changes on
/// the cluster before. Returns a line of what was seen.
fn a_worker_fails(
    cluster: &Cluster,
    db: &str,
    urls: &[String],
    admin_token: &str,
    changes: u64,
) -> String {
    let c = cluster.coordinator;
    // A grid worker's node is their grid.
    let grid = psql(
        c,
        db,
        &format!("SELECT node FROM users WHERE username = '{WORKER}'"),
    );
    let seeded_record = psql(
        c,
        db,
        &format!("SELECT id FROM records WHERE grid = '{grid}' ORDER BY id LIMIT 1"),
    );
    assert!(!seeded_record.is_empty(), "grid {grid} holds no record");

    // A real phone, enrolled through server 0 and synced once.
    let phone_dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::open_dir(phone_dir.path()).expect("the phone's store");
    let mut phone = Client::enroll(
        store,
        &Http::new(&urls[0]),
        WORKER,
        ADMIN_PASSWORD,
        "citus phone",
        None,
    )
    .expect("the grid worker enrolls");
    let first = phone.sync().expect("the first sync");
    assert!(
        first.pulled_records > 0,
        "the first sync pulled no record of grid {grid}: {first:?}"
    );

    // Offline: an event reported, corrected, and a second one.
    let event = Uuid::new_v4();
    let other = Uuid::new_v4();
    phone
        .make(|d| {
            d.create("event", &grid, event)
                .set("title", "单元门禁损坏")
                .set("status", "reported")
                .commit()
        })
        .expect("an event");
    phone
        .make(|d| d.edit(event).set("title", "3号楼单元门禁损坏").commit())
        .expect("the event corrected");
    phone
        .make(|d| {
            d.create("event", &grid, other)
                .set("title", "路灯损坏")
                .set("status", "reported")
                .commit()
        })
        .expect("a second event");
    assert_eq!(phone.outbox_len().expect("outbox"), OFFLINE);
    // The same grid worker logged in on server 1 (an admin does not read
    // records): the reads during the outage, and a refresh.
    let reader = Http::new(&urls[1])
        .login(WORKER, ADMIN_PASSWORD)
        .expect("the grid worker logs in");
    let errors_before = answered(urls, 500);
    let unavailable_before = answered(urls, 503);

    // The crash. From here on a failure starts worker 2 again (the guard).
    let t = Instant::now();
    let mut worker2 = Crashed::crash(cluster, "worker2");
    let crash_secs = t.elapsed().as_secs_f64();

    // The phone's sync fails after its retries (few and short here), and
    // says why; the outbox keeps every change.
    let down_retry = RetryPolicy {
        attempts: 3,
        first: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    phone.options.retry = down_retry.clone();
    let t = Instant::now();
    let down = phone.sync();
    let down_secs = t.elapsed().as_secs_f64();
    match &down {
        Err(ClientError::Api {
            status: 503,
            code,
            message,
        }) if code == "store_unavailable" => {
            println!("  worker 2 down: sync failed in {down_secs:.1} s: 503 {code}: {message}");
        }
        other => panic!("the sync with worker 2 down: {other:?}"),
    }
    assert_eq!(
        phone.outbox_len().expect("outbox"),
        OFFLINE,
        "the failed sync lost changes"
    );

    // Reads of the grid fail the same way, through either server.
    let mut seen = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        for path in [
            format!("/v1/grids/{grid}/conflicts"),
            format!("/v1/records/{seeded_record}"),
        ] {
            let (status, code, message) = status_of(url, &path, &reader.access_token);
            println!("  worker 2 down: server {i} GET {path}: {status} {code}: {message}");
            assert_eq!(
                (status, code.as_str()),
                (503, "store_unavailable"),
                "server {i} GET {path}: {message}"
            );
        }
        // The process is up, and ready: /readyz asks the coordinator only,
        // so a load balancer keeps sending phones here, and they get 503s
        // they retry.
        let health = unauthenticated_status(url, "/healthz");
        let ready = unauthenticated_status(url, "/readyz");
        println!("  worker 2 down: server {i} GET /healthz: {health}, GET /readyz: {ready}");
        assert_eq!((health, ready), (200, 200), "server {i}: /healthz, /readyz");
        seen.push(format!("server {i} healthz {health} readyz {ready}"));
    }
    // Logins, token refreshes and device registrations go on: the accounts
    // (users, devices, refresh tokens) stay on the coordinator alone
    // (`gridsync_server::db::citus::COORDINATOR`, Citus local tables), and a
    // new device's actor is chosen from `devices` alone.
    let identity = psql(
        c,
        db,
        "SELECT string_agg(table_name::text || ' ' || citus_table_type, ', ' \
         ORDER BY table_name::text) FROM citus_tables \
         WHERE table_name::text IN ('users', 'devices', 'refresh_tokens')",
    );
    assert_eq!(
        identity, "devices local, refresh_tokens local, users local",
        "the identity tables are placed otherwise now: logins and refreshes may \
         fail while a worker is down; update db/citus.rs's COORDINATOR and phase C"
    );
    let t = Instant::now();
    let login = Http::new(&urls[1])
        .login(WORKER, ADMIN_PASSWORD)
        .expect("a login with worker 2 down");
    Http::new(&urls[0])
        .refresh(&reader.refresh_token)
        .expect("a token refresh with worker 2 down");
    let identity_secs = t.elapsed().as_secs_f64();
    println!("  worker 2 down: login and token refresh answered in {identity_secs:.2} s");
    Http::new(&urls[1])
        .register(&login.access_token, "second phone")
        .expect("a device registration with worker 2 down");
    println!("  worker 2 down: server 1 POST /v1/devices: registered");
    // The org tree is a reference table, with a copy on worker 2: read
    // from the coordinator's copy, but a write needs every copy.
    let (status, code, message) = status_of(&urls[0], "/v1/org/nodes", admin_token);
    println!("  worker 2 down: server 0 GET /v1/org/nodes: {status} {code}");
    assert_eq!(
        status, 200,
        "reading the org tree with worker 2 down: {message}"
    );
    let grid_added = Http::new(&urls[1]).post::<serde_json::Value>(
        "/v1/org/nodes",
        Some(admin_token),
        &serde_json::json!({"code": "420203-001-001-199", "parent": "420203-001-001",
            "level": "grid", "name": "网格 199"}),
    );
    match &grid_added {
        Err(Failure::Status {
            status: 503,
            code,
            message,
        }) if code == "store_unavailable" => {
            println!("  worker 2 down: server 1 POST /v1/org/nodes: 503 {code}: {message}");
        }
        other => panic!("adding a grid with worker 2 down: {other:?}"),
    }
    seen.push(format!(
        "login and refresh ok in {identity_secs:.2} s, registration ok, org tree read \
         200, write 503"
    ));
    let errors_down = answered(urls, 500);
    // Every 503 is accounted for: each of the phone's tries (so it did
    // retry), the 4 reads and the org tree's write.
    let unavailable_down = answered(urls, 503) - unavailable_before;
    assert_eq!(
        unavailable_down,
        u64::from(down_retry.attempts) + 4 + 1,
        "503 answers while worker 2 was down"
    );

    // Worker 2 is back: the phone's next sync delivers the changes.
    let t = Instant::now();
    worker2.restart();
    let restart_secs = t.elapsed().as_secs_f64();
    phone.options.retry = RetryPolicy {
        attempts: 8,
        first: Duration::from_millis(250),
        max: Duration::from_secs(2),
    };
    let t = Instant::now();
    let back = phone.sync().expect("the sync after worker 2 is back");
    let back_secs = t.elapsed().as_secs_f64();
    println!(
        "  worker 2 back after {restart_secs:.1} s: sync in {back_secs:.1} s, {} delivered, \
         {} retries {:?}",
        back.delivered, back.retries, back.retry_reasons
    );
    assert_eq!(back.delivered, OFFLINE as u64, "{back:?}");
    assert_eq!(back.refused, 0, "{back:?}");
    assert_eq!(phone.outbox_len().expect("outbox"), 0);
    let record: serde_json::Value = phone
        .get(&format!("/v1/records/{event}"))
        .expect("the event on the server");
    assert_eq!(
        record["record"]["fields"]["title"]["value"], "3号楼单元门禁损坏",
        "{record}"
    );
    assert_eq!(
        record["record"]["fields"]["status"]["value"], "reported",
        "{record}"
    );
    let record: serde_json::Value = phone
        .get(&format!("/v1/records/{other}"))
        .expect("the second event on the server");
    assert_eq!(
        record["record"]["fields"]["title"]["value"], "路灯损坏",
        "{record}"
    );
    // Each change once, and nothing else new.
    let actor = phone.actor();
    let mine = psql_count(
        c,
        db,
        &format!("SELECT count(*) FROM changes WHERE actor = {actor}"),
    );
    let distinct = psql_count(
        c,
        db,
        &format!("SELECT count(DISTINCT actor_seq) FROM changes WHERE actor = {actor}"),
    );
    assert_eq!((mine, distinct), (OFFLINE as u64, OFFLINE as u64));
    assert_eq!(
        psql_count(c, db, "SELECT count(*) FROM changes"),
        changes + OFFLINE as u64
    );
    let errors_after = answered(urls, 500);
    assert_eq!(
        errors_after, errors_before,
        "the servers answered 500 during the outage or after it"
    );
    format!(
        "crash {crash_secs:.1} s, failed sync {down_secs:.1} s, {unavailable_down} answers 503 \
         while down, 500s {errors_before}/{errors_down}/{errors_after}, {}, restart \
         {restart_secs:.1} s, sync after {back_secs:.1} s ({} retries)",
        seen.join(", "),
        back.retries
    )
}

#[test]
#[ignore = "Citus: GRIDSYNC_TEST_CITUS_DIR=… cargo test -p gridsync-client --test citus -- --ignored"]
fn nodes_join_and_leave_while_phones_sync() {
    let began = Instant::now();
    let cluster = Cluster::from_env();
    let c = cluster.coordinator;
    let bin = gridsync_binary();
    let db = Database::create(&cluster);
    let url = db.url(&cluster);
    let dir = tempfile::tempdir().expect("temp dir");
    let attachments = dir.path().join("attachments");

    // The store: migrated (and so distributed by grid) by the real binary,
    // with the demo district in it.
    let migrated = gridsync(&bin, &["migrate", "--database-url", &url]);
    assert!(migrated.contains("Citus"), "not distributed: {migrated}");
    gridsync(
        &bin,
        &[
            "seed",
            "--fixture",
            "demo",
            "--database-url",
            &url,
            "--attachments-dir",
            attachments.to_str().expect("utf-8 temp dir"),
        ],
    );
    assert!(distributed_placements(c, &db.name, cluster.worker1) > 0);
    assert_eq!(distributed_placements(c, &db.name, cluster.worker2), 0);

    let mut servers = Servers::start(&bin, &url, dir.path(), 2);
    let list = servers.urls.join(",");

    // More grids, so that the fleet's grids sit in many shards.
    let http = Http::new(&servers.urls[0]);
    let admin = http.login(ADMIN, ADMIN_PASSWORD).expect("admin logs in");
    for i in 0..EXTRA_GRIDS {
        http.post::<serde_json::Value>(
            "/v1/org/nodes",
            Some(&admin.access_token),
            &serde_json::json!({"code": format!("420203-001-001-{:03}", 101 + i),
                "parent": "420203-001-001", "level": "grid", "name": format!("网格 {}", 101 + i)}),
        )
        .expect("admin adds a grid");
    }
    let seeded = psql_count(c, &db.name, "SELECT count(*) FROM changes");
    let setup_secs = began.elapsed().as_secs_f64();
    println!(
        "setup {setup_secs:.1} s: database {} ({migrated_layout}), {seeded} changes seeded, \
         servers {list}",
        db.name,
        migrated_layout = migrated.trim()
    );

    // Phase A, join: worker 2 is added and shards are moved onto it.
    // Citus moves shards without blocking writes through logical
    // replication, which needs wal_level = logical; the cluster runs with
    // the default (replica), so the moves block writes to a shard while it
    // is copied (`block_writes`): the phones' syncs to those grids wait.
    println!("join: worker 2 (port {}) joins", cluster.worker2);
    let join = while_phones_sync(&servers.urls, 1, began, Duration::from_secs(3), || {
        psql_operator(
            c,
            &db.name,
            &format!("SELECT citus_add_node('127.0.0.1', {})", cluster.worker2),
        );
        let job = psql(
            c,
            &db.name,
            "SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes')",
        );
        assert!(!job.is_empty(), "the rebalance scheduled no job");
        let t = Instant::now();
        loop {
            let state = psql(
                c,
                &db.name,
                &format!("SELECT state FROM citus_rebalance_status() WHERE job_id = {job}"),
            );
            match state.as_str() {
                "finished" => break,
                "failed" | "cancelled" | "failing" | "cancelling" => panic!(
                    "rebalance job {job} {state}: {}",
                    psql(
                        c,
                        &db.name,
                        &format!(
                            "SELECT details FROM citus_rebalance_status() WHERE job_id = {job}"
                        )
                    )
                ),
                _ => {}
            }
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "rebalance job {job} still {state} after 300 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        psql_count(
            c,
            &db.name,
            &format!(
                "SELECT count(*) FROM pg_dist_background_task \
                 WHERE job_id = {job} AND command LIKE '%citus_move_shard_placement%'"
            ),
        )
    });
    servers.all_alive();
    let moved_in = join.op;
    let on_worker2 = distributed_placements(c, &db.name, cluster.worker2);
    assert!(moved_in > 0, "the rebalance moved no shard");
    assert!(
        on_worker2 > 0,
        "worker 2 holds no shard after the rebalance"
    );
    let grids_on_worker2 = grids_on(c, &db.name, cluster.worker2);
    assert!(grids_on_worker2 > 0, "no grid in use moved to worker 2");

    // Phase B, leave: worker 1 is drained of its shards, then removed.
    println!("leave: worker 1 (port {}) leaves", cluster.worker1);
    let on_worker1_before = distributed_placements(c, &db.name, cluster.worker1);
    let seed = join.rounds.last().map_or(1, |r| r.seed + 1);
    let leave = while_phones_sync(&servers.urls, seed, began, Duration::from_secs(3), || {
        psql_operator(
            c,
            &db.name,
            &format!(
                "SELECT citus_drain_node('127.0.0.1', {}, shard_transfer_mode => 'block_writes')",
                cluster.worker1
            ),
        );
        let left = distributed_placements(c, &db.name, cluster.worker1);
        assert_eq!(left, 0, "worker 1 still holds shards after the drain");
        psql_operator(
            c,
            &db.name,
            &format!("SELECT citus_remove_node('127.0.0.1', {})", cluster.worker1),
        );
    });
    servers.all_alive();
    let nodes = psql(
        c,
        &db.name,
        "SELECT string_agg(nodeport::text, ',' ORDER BY nodeport) FROM pg_dist_node",
    );
    assert!(
        !nodes.split(',').any(|p| p == cluster.worker1.to_string()),
        "worker 1 is still a node: {nodes}"
    );
    assert_eq!(distributed_placements(c, &db.name, cluster.worker1), 0);
    let grids_total = psql_count(c, &db.name, "SELECT count(DISTINCT grid) FROM records");
    assert_eq!(
        grids_on(c, &db.name, cluster.worker2),
        grids_total,
        "every grid is on worker 2 now"
    );

    // Every phase overlapped the fleet: a round ran while the operation
    // did, and the servers applied phones' changes meanwhile.
    for (name, start, end, applied, rounds) in [
        (
            "join",
            join.op_start,
            join.op_end,
            join.applied_during_op,
            &join.rounds,
        ),
        (
            "leave",
            leave.op_start,
            leave.op_end,
            leave.applied_during_op,
            &leave.rounds,
        ),
    ] {
        assert!(
            rounds.iter().any(|r| r.start < end && r.end > start),
            "{name}: no fleet round ran while the cluster changed"
        );
        assert!(
            applied > 0,
            "{name}: no change was applied while the cluster changed"
        );
    }

    // Nothing doubled or lost across the moves, counted through the
    // coordinator: the seed's changes, plus per round the shared records'
    // changes and every change the phones delivered.
    let rounds: Vec<&Round> = join.rounds.iter().chain(&leave.rounds).collect();
    let delivered: u64 = rounds.iter().map(|r| r.report.delivered).sum();
    let shared: u64 = rounds
        .iter()
        .map(|r| SHARED_CHANGES_PER_GRID * r.report.grids as u64)
        .sum();
    let changes = psql_count(c, &db.name, "SELECT count(*) FROM changes");
    assert_eq!(
        changes,
        seeded + shared + delivered,
        "changes on the cluster: {seeded} seeded + {shared} shared + {delivered} delivered expected"
    );
    let doubled = psql_count(
        c,
        &db.name,
        "SELECT count(*) FROM (SELECT grid, actor, actor_seq FROM changes \
         GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
    );
    assert_eq!(doubled, 0, "changes stored twice");
    let doubled_anywhere = psql_count(
        c,
        &db.name,
        "SELECT count(*) FROM (SELECT actor, actor_seq FROM changes \
         GROUP BY 1, 2 HAVING count(*) > 1) d",
    );
    assert_eq!(doubled_anywhere, 0, "a change stored in two grids");

    let errors = servers.errors();
    for e in errors.iter().take(20) {
        println!("{e}");
    }
    let retries: BTreeMap<String, u32> = rounds.iter().fold(BTreeMap::new(), |mut all, r| {
        for (why, n) in &r.report.storm_retry_reasons {
            *all.entry(why.clone()).or_default() += n;
        }
        all
    });
    println!(
        "summary: {} rounds ({} join, {} leave) of {DEVICES} phones x {CHANGES} changes, \
         {delivered} changes delivered, {changes} on the cluster; \
         setup {setup_secs:.1} s, join phase {:.1} s (rebalance {:.1} s, {moved_in} shard groups \
         moved, {on_worker2} placements and {grids_on_worker2} grids on worker 2, {} changes \
         applied meanwhile), leave phase {:.1} s (drain and remove {:.1} s, \
         {on_worker1_before} placements moved, {} changes applied meanwhile), \
         total {:.1} s; storm retries {retries:?}; {} error lines in the server logs",
        rounds.len(),
        join.rounds.len(),
        leave.rounds.len(),
        join.rounds.last().map_or(0.0, |r| r.end) - setup_secs,
        join.op_end - join.op_start,
        join.applied_during_op,
        leave.rounds.last().map_or(0.0, |r| r.end) - join.rounds.last().map_or(0.0, |r| r.end),
        leave.op_end - leave.op_start,
        leave.applied_during_op,
        began.elapsed().as_secs_f64(),
        errors.len()
    );

    // Phase C, a worker fails: worker 2, which holds every shard now,
    // crashes while a phone has changes waiting, then comes back.
    let fail_start = began.elapsed().as_secs_f64();
    let failed = a_worker_fails(
        &cluster,
        &db.name,
        &servers.urls,
        &admin.access_token,
        changes,
    );
    servers.all_alive();
    println!(
        "fail phase {:.1} s: {failed}; total {:.1} s",
        began.elapsed().as_secs_f64() - fail_start,
        began.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    drop(servers);
    let killed = t.elapsed().as_secs_f64();
    drop(db);
    println!(
        "cleanup: servers stopped in {killed:.1} s, databases dropped in {:.1} s",
        t.elapsed().as_secs_f64() - killed
    );
}
