//! A phone's first sync of a grid holding 20,000 records: the real server
//! (in this process, on port 0, over a temp SQLite file) and the real
//! client with its durable file store, end to end. Target: within 3 s.
//!
//! `cargo bench -p gridsync-client --bench first_sync`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::Server;
use gridsync_client::LocalStore;

const RECORDS: usize = 20_000;
const RUNS: usize = 5;

fn main() {
    let server = Server::start();
    server.user("loader", "grid_worker", "g1");
    server.user("newcomer", "grid_worker", "g1");

    common::load_grid(&server, "loader", "g1", RECORDS);

    let mut times = Vec::new();
    for run in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open_dir(dir.path()).unwrap();
        let http = server.http();
        let login = http.login("newcomer", common::PASSWORD).unwrap();
        let mut phone = gridsync_client::Client::register(
            store,
            &http,
            "newcomer",
            &login,
            &format!("new phone {run}"),
            Some(vec!["g1".into()]),
        )
        .unwrap();
        let t = Instant::now();
        let report = phone.sync().unwrap();
        let took = t.elapsed();
        assert_eq!(report.pulled_records as usize, RECORDS);
        assert_eq!(phone.replica().records().count(), RECORDS);
        // What it kept survives a restart.
        drop(phone);
        let reopened =
            gridsync_client::Client::open(LocalStore::open_dir(dir.path()).unwrap()).unwrap();
        assert_eq!(reopened.replica().records().count(), RECORDS);
        println!(
            "run {run}: first sync of {RECORDS} records in {:.3} s ({} round trips)",
            took.as_secs_f64(),
            report.round_trips
        );
        times.push(took);
    }
    times.sort();
    let s = |d: Duration| d.as_secs_f64();
    println!(
        "first sync of a {RECORDS}-record grid: median {:.3} s, min {:.3} s, max {:.3} s over {RUNS} runs (target 3 s)",
        s(times[RUNS / 2]),
        s(times[0]),
        s(times[RUNS - 1])
    );
}
