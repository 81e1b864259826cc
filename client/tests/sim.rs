//! The fleet simulator in a small configuration against the real server.

mod common;

use common::{Server, PASSWORD};
use gridsync_client::sim::{run, Config};

#[test]
fn a_small_fleet_storms_the_server_and_everyone_agrees() {
    let server = Server::start();
    let cfg = Config {
        server: server.url.clone(),
        devices: 12,
        changes: 25,
        admin: "admin".into(),
        admin_password: PASSWORD.into(),
        concurrency: 12,
        grids: None,
        batch: 7,
        seed: 7,
        progress: false,
        // The server runs in this process: both readings are of it.
        server_pid: Some(std::process::id()),
    };
    let report = run(&cfg).unwrap();
    assert!(report.ok(), "{:#?}", report.findings);
    assert_eq!(report.grids, 2);
    assert_eq!(report.devices, 12);
    assert_eq!(report.changes_made, 12 * 25);
    assert_eq!(report.delivered, 12 * 25);
    assert_eq!(report.refused, 0);
    // Batches of 7: every phone needed several round trips in the storm.
    assert!(report.storm_round_trips >= 12 * 4, "{report:?}");
    assert!(report.records_checked > 0);
    // The storm's CPU is read from procfs, for the phones and the server.
    let (phones, served) = (report.storm_phones_cpu, report.storm_server_cpu);
    assert!(phones.is_some_and(|c| c >= 0.0), "{phones:?}");
    assert!(served.is_some_and(|c| c >= 0.0), "{served:?}");
    // The storm's 300 changes went to the store's WAL: bytes were written.
    let written = report.storm_server_written;
    assert!(written.is_some_and(|b| b > 0), "{written:?}");
    assert!(report.storm_sync_ms.p50 > 0.0 && report.storm_sync_ms.p50 <= report.storm_sync_ms.max);

    // The shared household was edited concurrently: a conflict, kept.
    let conflicts = server.get("/v1/grids/g1/conflicts");
    assert!(
        !conflicts["records"].as_array().unwrap().is_empty(),
        "{conflicts}"
    );
}
