//! `gridsync-sim`: a fleet of simulated phones against a running server,
//! through one shift and the end-of-shift storm; then the verdict. Exits
//! non-zero on any disagreement or loss.

use std::process::ExitCode;

use clap::Parser;
use gridsync_client::sim::{self, Config};

#[derive(Parser)]
#[command(
    name = "gridsync-sim",
    version,
    args_override_self = true,
    about = "Simulate a fleet of phones: offline shift, end-of-shift sync storm, then check that nothing was lost and everyone agrees."
)]
struct Args {
    /// The server's base URL; several, comma-separated, for nodes of one
    /// cluster (phones are spread over them in turn).
    #[arg(long, env = "GRIDSYNC_SERVER")]
    server: String,
    /// Simulated phones.
    #[arg(long, default_value_t = 1_000)]
    devices: usize,
    /// Changes each phone makes offline.
    #[arg(long, default_value_t = 100)]
    changes: usize,
    /// An admin account (creates the simulation's users).
    #[arg(long, default_value = "admin")]
    admin: String,
    #[arg(
        long,
        env = "GRIDSYNC_ADMIN_PASSWORD",
        default_value = "gridsync-demo",
        hide_env_values = true
    )]
    admin_password: String,
    /// Phones syncing at the same moment (at most 1,000).
    #[arg(long, default_value_t = 1_000)]
    concurrency: usize,
    /// Use at most this many grids of the server's tree.
    #[arg(long)]
    grids: Option<usize>,
    /// Changes per sync round trip.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Seed of the phones' scripts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// The server's process id, when it runs on this machine: the storm's
    /// CPU is reported split between the server and the phones.
    #[arg(long)]
    server_pid: Option<u32>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = Config {
        server: a.server,
        devices: a.devices.max(1),
        changes: a.changes,
        admin: a.admin,
        admin_password: a.admin_password,
        concurrency: a.concurrency,
        grids: a.grids,
        batch: a.batch.max(1),
        seed: a.seed,
        progress: !a.quiet && !a.json,
        server_pid: a.server_pid,
    };
    let report = match sim::run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            if a.json {
                let code = e.code().unwrap_or("sim_error");
                eprintln!(
                    "{}",
                    serde_json::json!({"code": code, "message": format!("could not run: {e}")})
                );
            } else {
                eprintln!("gridsync-sim: could not run: {e}");
            }
            return ExitCode::from(2);
        }
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report prints")
        );
    } else {
        println!(
            "run {}: {} phones in {} grids made {} changes offline",
            report.run, report.devices, report.grids, report.changes_made
        );
        println!(
            "setup {:.1} s, first sync {:.1} s",
            report.setup_secs, report.first_sync_secs
        );
        println!(
            "storm: {:.2} s, {:.0} changes/s, {} round trips, {} retries{}",
            report.storm_secs,
            report.storm_changes_per_sec,
            report.storm_round_trips,
            report.storm_retries,
            if report.storm_retry_reasons.is_empty() {
                String::new()
            } else {
                format!(" ({:?})", report.storm_retry_reasons)
            }
        );
        if let Some(phones) = report.storm_phones_cpu {
            let server = report
                .storm_server_cpu
                .map_or_else(|| "not watched".to_owned(), |s| format!("{s:.1} s"));
            println!(
                "CPU in the storm: server {server}, simulated phones {phones:.1} s (of {:.1} s × {} cores)",
                report.storm_secs,
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
        }
        if let Some(bytes) = report.storm_server_written {
            println!(
                "server wrote {:.0} MB in the storm ({:.0} bytes per change)",
                bytes as f64 / 1e6,
                bytes as f64 / report.changes_made.max(1) as f64
            );
        }
        let l = &report.storm_sync_ms;
        println!(
            "sync latency in the storm: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            l.p50, l.p95, l.p99, l.max
        );
        println!(
            "delivered {}, refused {}, {} record listings checked",
            report.delivered, report.refused, report.records_checked
        );
        for f in report.findings.iter().take(50) {
            println!("FINDING: {f}");
        }
        if report.findings.len() > 50 {
            println!("… and {} more findings", report.findings.len() - 50);
        }
        println!(
            "{}",
            if report.ok() {
                "verdict: every phone agrees with the server; nothing lost"
            } else {
                "verdict: DISAGREEMENT OR LOSS"
            }
        );
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
