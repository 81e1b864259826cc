//! The fleet simulator: many phones, one shift, the end-of-shift storm.
//!
//! [`run`] plays a whole shift against a running server:
//!
//! 1. **enroll**: users of its own (a grid worker and a patrol member per
//!    grid, named after the run) log in once and register the phones;
//! 2. **shared records**: the first phone of each grid makes the records
//!    everyone in the grid works on (a patrol round, a household, a dispute,
//!    a key person) and syncs;
//! 3. **first sync** of every phone (the grid's records arrive);
//! 4. **offline work**: each phone makes its changes from a seeded script
//!    ([`script`]): check-ins, sightings, events and their moves, mediation
//!    sessions, visits, concurrent edits of the shared household;
//! 5. **the storm**: every phone syncs at once; each sync is timed;
//! 6. **catch-up**: every phone syncs again to pull what came after it;
//! 7. **verdict** ([`check`]): a district supervisor's phones pull every
//!    grid; every phone's records must equal the server's, every phone must
//!    hold exactly what the server lists for it, and every record, entry and
//!    increment the phones made must be on the server, with empty outboxes
//!    and no refusals.

pub mod check;
pub mod script;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::http::{Http, Tokens};
use crate::sync::RetryPolicy;
use crate::{Client, ClientError, LocalStore};
use script::{Role, Shared, SimPhone, Work};

/// A simulation.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: String,
    pub devices: usize,
    /// Changes each phone makes offline.
    pub changes: usize,
    pub admin: String,
    pub admin_password: String,
    /// Phones syncing at the same moment in the storm.
    pub concurrency: usize,
    /// Use at most this many grids (all when `None`).
    pub grids: Option<usize>,
    /// Changes per round trip.
    pub batch: usize,
    pub seed: u64,
    pub progress: bool,
    /// The server's process, when it runs on this machine: its CPU in the
    /// storm is reported beside the phones' own.
    pub server_pid: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: "http://127.0.0.1:8080".into(),
            devices: 1_000,
            changes: 100,
            admin: "admin".into(),
            admin_password: "gridsync-demo".into(),
            concurrency: 1_000,
            grids: None,
            batch: 500,
            seed: 1,
            progress: true,
            server_pid: None,
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(mut samples: Vec<Duration>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i].as_secs_f64() * 1000.0
        };
        Latency {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// What a simulation did and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub run: String,
    pub devices: usize,
    pub grids: usize,
    pub changes_made: u64,
    pub setup_secs: f64,
    pub first_sync_secs: f64,
    /// The storm: every phone syncing at once.
    pub storm_secs: f64,
    pub storm_changes_per_sec: f64,
    pub storm_sync_ms: Latency,
    pub storm_round_trips: u64,
    pub storm_retries: u64,
    /// Why the storm's retries were needed (the server's code, or `transport`).
    pub storm_retry_reasons: BTreeMap<String, u32>,
    /// CPU seconds the simulated phones used in the storm (this process).
    pub storm_phones_cpu: Option<f64>,
    /// CPU seconds the server used in the storm (with `server_pid`).
    pub storm_server_cpu: Option<f64>,
    /// Bytes the server wrote in the storm (with `server_pid`): its
    /// `write(2)`s to the database, its WAL and its log, whether or not
    /// they reached the disk yet.
    pub storm_server_written: Option<u64>,
    pub delivered: u64,
    pub refused: u64,
    pub records_checked: u64,
    /// Disagreements and losses; empty when all is well.
    pub findings: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// `f` on every item, `concurrency` items at a time, in order within each
/// of `concurrency` runs; the results in the items' order. Each run is a
/// thread of its own that sleeps while its phone waits on the network:
/// rayon's workers spin while they look for work, and with 1,000 of them
/// blocked on HTTP their spinning took 68% of the simulator's CPU, on the
/// server's cores (PERFORMANCE.md).
fn at_once<T: Send, R: Send>(
    items: &mut [T],
    concurrency: usize,
    f: impl Fn(&mut T) -> Result<R, ClientError> + Sync,
) -> Result<Vec<R>, ClientError> {
    let runs = concurrency.clamp(1, 1_000).min(items.len().max(1));
    let size = items.len().div_ceil(runs).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let runs: Vec<_> = items
            .chunks_mut(size)
            .map(|run| s.spawn(move || run.iter_mut().map(f).collect::<Result<Vec<R>, _>>()))
            .collect();
        let mut out = Vec::new();
        for run in runs {
            out.extend(run.join().expect("a simulated phone's thread panicked")?);
        }
        Ok(out)
    })
}

/// Bytes a process has handed to `write(2)` and its kin so far (`wchar` of
/// its `/proc/PID/io`); none where there is no procfs or it may not be read.
pub fn bytes_written(pid: &str) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// CPU seconds (user and system) a process has used, from its
/// `/proc/PID/stat` (`self` for this one); none where there is no procfs.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    // Clock ticks per second: 100 on every Linux this runs on.
    const CLK_TCK: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) and its ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, 11 and 12 after ')'.
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((tick(11)? + tick(12)?) / CLK_TCK)
}

#[derive(Debug, Deserialize)]
struct Node {
    code: String,
    parent: Option<String>,
    level: String,
}

#[derive(Debug, Deserialize)]
struct Nodes {
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    records: Vec<ListedRecord>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListedRecord {
    id: Uuid,
}

fn bar(cfg: &Config, len: usize, what: &str) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:40}] {pos}/{len} {elapsed_precise} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

/// Run a simulation. `Err` when it could not run (server unreachable, setup
/// refused); `Ok` with findings when it ran and found disagreements.
pub fn run(cfg: &Config) -> Result<Report, ClientError> {
    let started = Instant::now();
    // Several servers (`a,b`: nodes of one cluster): phones are spread over
    // them in turn; setup and checks use the first.
    let servers: Vec<Http> = cfg.server.split(',').map(|s| Http::new(s.trim())).collect();
    let http = &servers[0];
    // For what computes (making changes offline, the checks); the phases
    // that sync run each phone on a thread of its own ([`at_once`]).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(16)
        .build()
        .map_err(|e| ClientError::Usage(format!("thread pool: {e}")))?;
    let run_id = format!("{:06x}", rand::thread_rng().gen::<u32>() & 0xff_ffff);
    let password = format!("sim-{run_id}-pass");

    // 1. The tree, the users, the phones.
    let admin = patiently(|| {
        http.login(&cfg.admin, &cfg.admin_password)
            .map_err(ClientError::from)
    })?;
    let nodes: Nodes = patiently(|| {
        http.get("/v1/org/nodes", &admin.access_token)
            .map_err(ClientError::from)
    })?;
    let root = nodes
        .nodes
        .iter()
        .find(|n| n.parent.is_none())
        .ok_or_else(|| ClientError::Usage("the server has no org tree".into()))?
        .code
        .clone();
    let mut grids: Vec<String> = nodes
        .nodes
        .iter()
        .filter(|n| n.level == "grid")
        .map(|n| n.code.clone())
        .collect();
    grids.sort();
    grids.truncate(cfg.grids.unwrap_or(usize::MAX).min(cfg.devices).max(1));
    if grids.is_empty() {
        return Err(ClientError::Usage("the server's tree has no grids".into()));
    }
    let placement = |i: usize| {
        let g = i % grids.len();
        let role = if (i / grids.len()).is_multiple_of(2) {
            Role::Worker
        } else {
            Role::Patrol
        };
        (g, role)
    };
    let username = |g: usize, role: Role| {
        let r = if role == Role::Worker { "w" } else { "p" };
        format!("sim{run_id}-{r}{g:04}")
    };
    let users: BTreeSet<(usize, Role)> = (0..cfg.devices).map(placement).collect();
    let bar_setup = bar(cfg, users.len() + cfg.devices, "enroll");
    let users: Vec<(usize, Role)> = users.into_iter().collect();
    let logins: BTreeMap<(usize, Role), Tokens> = pool.install(|| {
        users
            .par_iter()
            .map(|&(g, role)| {
                let name = username(g, role);
                patiently(|| {
                    http.post::<serde_json::Value>(
                        "/v1/users",
                        Some(&admin.access_token),
                        &json!({"username": name, "full_name": format!("模拟{name}"),
                            "password": password, "role": role.as_str(), "node": grids[g]}),
                    )
                    .map_err(ClientError::from)
                })?;
                let tokens = patiently(|| http.login(&name, &password).map_err(ClientError::from))?;
                bar_setup.inc(1);
                Ok(((g, role), tokens))
            })
            .collect::<Result<_, ClientError>>()
    })?;
    // Record and entry ids are fresh UUID v7s, as the app makes them (never
    // shared between runs or phones); the seed decides what each phone does.
    let shared: Vec<Shared> = grids
        .iter()
        .map(|_| Shared {
            round: Uuid::now_v7(),
            household: Uuid::now_v7(),
            dispute: Uuid::now_v7(),
            key_person: Uuid::now_v7(),
        })
        .collect();
    let mut phones: Vec<SimPhone> = pool.install(|| {
        (0..cfg.devices)
            .into_par_iter()
            .map(|i| {
                let (g, role) = placement(i);
                let user = username(g, role);
                // Phones of one server share its agent (and so open most
                // connections anew). An agent per phone was tried: the
                // storm took 10.2-10.9 s instead of 8.9 s, its kept-alive
                // connections having gone idle past the server's keep-alive
                // since the first sync (PERFORMANCE.md).
                let mut client = patiently(|| {
                    Client::register(
                        LocalStore::in_memory()?,
                        &servers[i % servers.len()],
                        &user,
                        &logins[&(g, role)],
                        &format!("simulated phone {i}"),
                        Some(vec![grids[g].clone()]),
                    )
                })?;
                client.options.batch = cfg.batch;
                client.options.retry = PATIENT;
                bar_setup.inc(1);
                Ok(SimPhone {
                    index: i,
                    client,
                    role,
                    grid: grids[g].clone(),
                    user,
                    shared: shared[g],
                    own_events: Vec::new(),
                    work: Work::default(),
                    rng: StdRng::seed_from_u64(
                        cfg.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    ),
                })
            })
            .collect::<Result<_, ClientError>>()
    })?;
    bar_setup.finish();

    // 2. The shared records, made by the first phone of each grid.
    at_once(&mut phones[..grids.len()], cfg.concurrency, |p| {
        p.make_shared()?;
        p.client.sync().map(|_| ())
    })?;
    let setup_secs = started.elapsed().as_secs_f64();

    // 3. First sync of every phone.
    let t = Instant::now();
    let bar_first = bar(cfg, phones.len(), "first sync");
    at_once(&mut phones, cfg.concurrency, |p| {
        p.client.sync()?;
        bar_first.inc(1);
        Ok(())
    })?;
    bar_first.finish();
    let first_sync_secs = t.elapsed().as_secs_f64();

    // 4. Offline work.
    let bar_work = bar(cfg, phones.len(), "offline work");
    pool.install(|| {
        phones.par_iter_mut().try_for_each(|p| {
            for _ in 0..cfg.changes {
                p.step()?;
            }
            bar_work.inc(1);
            Ok::<_, ClientError>(())
        })
    })?;
    bar_work.finish();
    let changes_made: u64 = phones.iter().map(|p| p.work.changes).sum();

    // 5. The storm.
    let bar_storm = bar(cfg, phones.len(), "storm");
    let server_pid = cfg.server_pid.map(|p| p.to_string());
    let cpu = || {
        (
            cpu_seconds("self"),
            server_pid.as_deref().and_then(cpu_seconds),
        )
    };
    let written = || server_pid.as_deref().and_then(bytes_written);
    let cpu_before = cpu();
    let written_before = written();
    let t = Instant::now();
    let storm: Vec<(Duration, crate::SyncReport)> = at_once(&mut phones, cfg.concurrency, |p| {
        let s = Instant::now();
        let r = p.client.sync()?;
        bar_storm.inc(1);
        Ok((s.elapsed(), r))
    })?;
    let storm_secs = t.elapsed().as_secs_f64();
    let cpu_after = cpu();
    let written_after = written();
    let used = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    bar_storm.finish();

    // 6. Catch-up.
    let catch_up: Vec<crate::SyncReport> =
        at_once(&mut phones, cfg.concurrency, |p| p.client.sync())?;

    // 7. The verdict.
    let mut findings = Vec::new();
    let delivered: u64 = storm.iter().map(|(_, r)| r.delivered).sum::<u64>()
        + catch_up.iter().map(|r| r.delivered).sum::<u64>();
    let refused: u64 = storm.iter().map(|(_, r)| r.refused).sum::<u64>()
        + catch_up.iter().map(|r| r.refused).sum::<u64>();
    if delivered != changes_made {
        findings.push(format!(
            "{changes_made} changes made, {delivered} acknowledged in the storm"
        ));
    }
    for p in &mut phones {
        let (waiting, refusals) = (p.client.outbox_len()?, p.client.refused()?);
        if waiting != 0 {
            findings.push(format!(
                "phone {}: {waiting} changes still waiting",
                p.index
            ));
        }
        for r in refusals {
            findings.push(format!(
                "phone {}: seq {} refused: {} {}",
                p.index, r.seq, r.code, r.message
            ));
        }
    }
    let truth = audit(
        http,
        cfg,
        &root,
        &grids,
        &run_id,
        &password,
        &admin.access_token,
    )?;
    let mut records_checked = 0;
    let verdicts: Vec<Vec<String>> = pool.install(|| {
        phones
            .par_iter_mut()
            .map(|p| check::states_agree(&format!("phone {}", p.index), p.client.replica(), &truth))
            .collect()
    });
    findings.extend(verdicts.into_iter().flatten());
    // What the server lists for each (grid, role), read by one of its phones.
    let mut listed: BTreeMap<(String, Role), BTreeSet<Uuid>> = BTreeMap::new();
    for p in &mut phones {
        let key = (p.grid.clone(), p.role);
        if !listed.contains_key(&key) {
            listed.insert(key.clone(), list_grid(&mut p.client, &p.grid)?);
        }
        let ids = &listed[&key];
        records_checked += ids.len() as u64;
        findings.extend(check::holds_all(
            &format!("phone {}", p.index),
            p.client.replica(),
            &p.grid,
            ids,
        ));
    }
    let works: Vec<(String, &Work)> = phones
        .iter()
        .map(|p| (format!("phone {}", p.index), &p.work))
        .collect();
    findings.extend(check::nothing_lost(&works, &truth));

    Ok(Report {
        run: run_id,
        devices: phones.len(),
        grids: grids.len(),
        changes_made,
        setup_secs,
        first_sync_secs,
        storm_secs,
        storm_phones_cpu: used(cpu_before.0, cpu_after.0),
        storm_server_cpu: used(cpu_before.1, cpu_after.1),
        storm_server_written: written_before
            .zip(written_after)
            .map(|(a, b)| b.saturating_sub(a)),
        storm_changes_per_sec: changes_made as f64 / storm_secs.max(1e-9),
        storm_sync_ms: Latency::of(storm.iter().map(|(d, _)| *d).collect()),
        storm_round_trips: storm.iter().map(|(_, r)| u64::from(r.round_trips)).sum(),
        storm_retries: storm.iter().map(|(_, r)| u64::from(r.retries)).sum(),
        storm_retry_reasons: storm.iter().fold(BTreeMap::new(), |mut all, (_, r)| {
            for (reason, n) in &r.retry_reasons {
                *all.entry(reason.clone()).or_default() += n;
            }
            all
        }),
        delivered,
        refused,
        records_checked,
        findings,
    })
}

/// The server's state of every record of the simulated grids, pulled by a
/// district supervisor's phones (one per 100 grids, the sync's limit).
fn audit(
    http: &Http,
    cfg: &Config,
    root: &str,
    grids: &[String],
    run_id: &str,
    password: &str,
    admin_token: &str,
) -> Result<BTreeMap<Uuid, gridsync_core::Record>, ClientError> {
    let name = format!("sim{run_id}-audit");
    patiently(|| {
        http.post::<serde_json::Value>(
            "/v1/users",
            Some(admin_token),
            &json!({"username": name, "full_name": "模拟督查", "password": password,
                "role": "supervisor", "node": root}),
        )
        .map_err(ClientError::from)
    })?;
    let login = patiently(|| http.login(&name, password).map_err(ClientError::from))?;
    let mut truth = BTreeMap::new();
    for chunk in grids.chunks(100) {
        let mut auditor = patiently(|| {
            Client::register(
                LocalStore::in_memory()?,
                http,
                &name,
                &login,
                "simulation audit",
                Some(chunk.to_vec()),
            )
        })?;
        auditor.options.batch = cfg.batch;
        auditor.options.retry = PATIENT;
        auditor.sync()?;
        for r in auditor.replica().records() {
            truth.insert(r.id, r.clone());
        }
    }
    Ok(truth)
}

/// Ids of every record (deleted ones too) the server lists in `grid` for a
/// phone's user.
fn list_grid(phone: &mut Client, grid: &str) -> Result<BTreeSet<Uuid>, ClientError> {
    let mut ids = BTreeSet::new();
    let mut after = String::new();
    loop {
        let path = format!("/v1/grids/{grid}/records?limit=1000&include_deleted=true{after}");
        let page: Listed = patiently(|| phone.get(&path))?;
        ids.extend(page.records.iter().map(|r| r.id));
        match page.next {
            Some(next) => after = format!("&after={next}"),
            None => return Ok(ids),
        }
    }
}

/// How a simulated phone retries a round trip: as the app does, but for up
/// to about a minute (12 tries, pauses doubling to 8 s), as [`patiently`]
/// waits. A phone whose sync gives up syncs again later; a simulated one
/// would end the run instead, with what its earlier round trips delivered
/// left out of the count. On Citus, a transaction cancelled to break a
/// distributed deadlock while a worker drains answers `503` several times
/// in a row (seen in CI: a phone's sync gave up after its 6 tries).
const PATIENT: RetryPolicy = RetryPolicy {
    attempts: 12,
    first: std::time::Duration::from_millis(250),
    max: std::time::Duration::from_secs(8),
};

/// A setup call, tried again while the store is briefly unavailable (`503`:
/// on Citus, a worker's shards moving or a transaction cancelled to break a
/// deadlock; nothing was written), as a phone's sync is: for up to a
/// minute, as long as a worker's shards can take to move on a slow machine
/// (8 tries over 9 s were once not enough while a worker left).
fn patiently<T>(mut call: impl FnMut() -> Result<T, ClientError>) -> Result<T, ClientError> {
    let until = Instant::now() + std::time::Duration::from_secs(60);
    let mut wait = std::time::Duration::from_millis(100);
    loop {
        match call() {
            Err(ClientError::Api { status: 503, .. }) if Instant::now() < until => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(2));
            }
            done => return done,
        }
    }
}
