//! The desk's budgets (issue 17, docs/PERFORMANCE.md "The desk"): every
//! desk page on the 300-grid district served within 300 ms at p95, a
//! drill-down click answered within 300 ms, the first load at most 300 KB.
//!
//! 1. A fresh SQLite store with the reference district (`gridsync seed
//!    --fixture district`: 325 nodes, 792 logins, 27,160 records made by the
//!    logins' phones through the merge), or the one `GRIDSYNC_BENCH_DB` names
//!    (kept, and reused on the next run).
//! 2. The real server (port 0, in process), a district supervisor's token.
//! 3. Each request the dashboard makes, timed `GRIDSYNC_BENCH_RUNS` times
//!    (30) after 3 warm-ups, one at a time: p50 and p95.
//! 4. A drill-down click at each level (district, park, community, grid):
//!    the requests the dashboard makes on arriving at a node, every one sent
//!    at once (charts included), timed until the last answer; and as
//!    dashboard.js shows the page: the report, then the trend (and a grid's
//!    cases) at once.
//! 5. The first load's bytes as sent (gzip where the server compresses):
//!    the desk's files, the shell's reads, the dashboard's reads.
//!
//! `cargo bench -p gridsync-server --bench desk`

use std::net::TcpListener;
use std::time::Instant;

use gridsync_server::db::Database;
use gridsync_server::fixture::{self, Options, Shape, DEFAULT_SEED, DEMO_PASSWORD};
use gridsync_server::{open_store, Limits};

const SECRET: &str = "desk-bench-secret-desk-bench-secret!";

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// p50 and p95 (nearest rank) of some times.
fn quantiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95), ms[ms.len() - 1])
}

struct Client {
    base: String,
    token: String,
}

impl Client {
    /// GET `path`: status, body bytes as sent, and whether gzip-encoded.
    fn get(&self, path: &str, auth: bool) -> (u16, usize) {
        let mut req = ureq::get(&format!("{}{path}", self.base)).set("Accept-Encoding", "gzip");
        if auth {
            req = req.set("Authorization", &format!("Bearer {}", self.token));
        }
        let r = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{path}: {e}"),
        };
        let status = r.status();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes).expect("a body");
        (status, bytes.len())
    }

    fn text(&self, path: &str) -> String {
        ureq::get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_string()
            .expect("text")
    }
}

/// What the dashboard asks for on arriving at `node` (docs/REPORTS.md, "The
/// desk's dashboard"): the summary, the trend, and the charts.
fn arrival(node: &str, grid: bool) -> Vec<String> {
    let mut v = vec![
        format!("/v1/reports/summary?node={node}&period=month"),
        format!("/v1/reports/trend?node={node}"),
        format!("/v1/reports/chart.svg?chart=nodes&node={node}&period=month&metric=open"),
        format!("/v1/reports/chart.svg?chart=trend&node={node}"),
        format!("/v1/reports/chart.svg?chart=categories&collection=event&node={node}&period=month"),
    ];
    if grid {
        v.push(format!("/v1/nodes/{node}/cases?limit=100"));
    }
    v
}

/// `f` timed `runs` times after 3 warm-ups, in ms.
fn timed(runs: usize, f: impl Fn()) -> Vec<f64> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let t = Instant::now();
        f();
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times
}

/// Every request of `reqs` sent at once (a browser's parallel fetches); each
/// must answer 200.
fn at_once(c: &Client, reqs: &[String]) {
    std::thread::scope(|s| {
        for r in reqs {
            s.spawn(move || assert_eq!(c.get(r, true).0, 200, "{r}"));
        }
    });
}

fn main() {
    let runs: usize = std::env::var("GRIDSYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);
    println!("load average before: {}", load_average());
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = std::env::var("GRIDSYNC_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("desk.db"));
    let reuse = path.exists();
    let store = open_store(&Database::Sqlite(path.clone()), 4).expect("the store");
    if reuse {
        println!("reusing the store at {path:?}");
    } else {
        let t = Instant::now();
        let shape = Shape::named("district").expect("the district shape");
        let options = Options {
            seed: DEFAULT_SEED,
            scale: 1,
            as_of: gridsync_server::api::now_ms(),
        };
        let report =
            fixture::load(&store, &shape, options, &mut |_, _| {}).expect("the district loads");
        println!(
            "district loaded in {:.1} s: {} records",
            t.elapsed().as_secs_f64(),
            report.records.values().sum::<usize>()
        );
    }
    let tree = store.org_tree().expect("the tree");
    let district = tree
        .iter()
        .find(|n| n.level == "district")
        .expect("a district")
        .code
        .clone();
    let child = |of: &str| {
        tree.iter()
            .filter(|n| n.parent.as_deref() == Some(of))
            .map(|n| n.code.clone())
            .min()
            .expect("a child")
    };
    let park = child(&district);
    let community = child(&park);
    let grid = child(&community);
    let chief = store
        .users()
        .expect("users")
        .into_iter()
        .find(|u| u.role == "supervisor" && u.node == district)
        .expect("a district supervisor")
        .username;
    let grids = tree.iter().filter(|n| n.level == "grid").count();
    println!("district {district} ({grids} grids); park {park}, community {community}, grid {grid}; as {chief}");

    let auth =
        gridsync_server::auth_for(gridsync_server::auth::tokens::Keys::new(SECRET.as_bytes()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let limits = Limits {
        sweep_every: None,
        ..Limits::default()
    };
    let blobs = dir.path().join("blobs");
    let blobs = gridsync_server::blobs::disk::DiskStore::open(blobs).expect("attachment folder");
    let running = gridsync_server::Background::start(
        listener,
        store,
        limits,
        auth,
        std::sync::Arc::new(blobs),
    )
    .expect("serve");
    let base = running.url.clone();
    let login: serde_json::Value = ureq::post(&format!("{base}/v1/auth/login"))
        .send_json(serde_json::json!({"username": chief, "password": DEMO_PASSWORD}))
        .expect("login")
        .into_json()
        .expect("json");
    let token = login["access_token"].as_str().expect("a token").to_owned();
    let c = Client { base, token };

    // --- every request of the dashboard, one at a time -----------------------
    let d = &district;
    let mut pages: Vec<(String, String)> = Vec::new();
    for (what, node, grid_level) in [
        ("district", d.as_str(), false),
        ("park", park.as_str(), false),
        ("community", community.as_str(), false),
        ("grid", grid.as_str(), true),
    ] {
        for p in arrival(node, grid_level) {
            pages.push((what.to_owned(), p));
        }
    }
    for p in [
        format!("/v1/reports/patrol?node={d}&period=month"),
        format!("/v1/reports/overdue?node={d}"),
        format!("/v1/reports/ranking?node={d}&period=month"),
        format!("/v1/reports/brief?node={d}"),
        format!("/v1/reports/trend?node={d}&period=quarter&by=week"),
        format!("/v1/reports/chart.svg?chart=trend&node={d}&period=quarter&by=week"),
        format!("/v1/reports/chart.svg?chart=patrol&node={community}&period=month"),
        format!("/v1/reports/map?node={d}"),
        format!("/v1/reports/map?node={community}"),
        // A surname (many hits), an address word, nothing to find.
        format!("/v1/search?node={d}&q=%E7%8E%8B"),
        format!("/v1/search?node={d}&q=%E8%B7%AF"),
        format!("/v1/search?node={d}&q=%E6%97%A0%E6%AD%A4%E8%AE%B0%E5%BD%95"),
    ] {
        pages.push(("district".to_owned(), p));
    }
    // The work pages: the queue (a node's open cases and the inbox), a case
    // page, the decisions, the device list.
    let open: serde_json::Value =
        serde_json::from_str(&c.text(&format!("/v1/nodes/{grid}/cases?limit=1"))).expect("cases");
    let case = open["records"][0]["id"]
        .as_str()
        .expect("a case in the grid")
        .to_owned();
    for (what, p) in [
        ("district", format!("/v1/nodes/{d}/cases?limit=1000")),
        (
            "community",
            format!("/v1/nodes/{community}/cases?limit=1000"),
        ),
        ("grid", format!("/v1/nodes/{grid}/cases?limit=1000")),
        ("district", "/v1/inbox".to_owned()),
        (
            "grid",
            format!("/v1/records/{case}?history=200&grid={grid}"),
        ),
        ("grid", format!("/v1/records/{case}?history=200")),
        (
            "grid",
            format!("/v1/grids/{grid}/records?collection=hazard_task&limit=1000"),
        ),
        ("district", "/v1/quarantine?limit=1000".to_owned()),
        ("district", format!("/v1/nodes/{d}/duplicates")),
        ("district", "/v1/devices".to_owned()),
        ("district", "/v1/org/nodes".to_owned()),
    ] {
        pages.push((what.to_owned(), p));
    }
    println!();
    println!("| level | request | bytes sent | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    let mut worst = 0f64;
    for (what, p) in &pages {
        let bytes = std::cell::Cell::new(0);
        let times = timed(runs, || {
            let (st, n) = c.get(p, true);
            assert_eq!(st, 200, "{p}");
            bytes.set(n);
        });
        let bytes = bytes.get();
        let (p50, p95, max) = quantiles(times);
        worst = worst.max(p95);
        println!("| {what} | `{p}` | {bytes} | {p50:.1} | {p95:.1} | {max:.1} |");
    }
    println!("worst p95 of a request: {worst:.1} ms");

    // --- a drill-down click: the arrival's requests at once ------------------
    println!();
    println!("| drill-down to | requests | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (what, node, grid_level) in [
        ("district", d.as_str(), false),
        ("park", park.as_str(), false),
        ("community", community.as_str(), false),
        ("grid", grid.as_str(), true),
    ] {
        let reqs = arrival(node, grid_level);
        let times = timed(runs, || at_once(&c, &reqs));
        let (p50, p95, max) = quantiles(times);
        println!(
            "| {what} `{node}` | {} | {p50:.1} | {p95:.1} | {max:.1} |",
            reqs.len()
        );
    }

    // --- a drill-down click as the dashboard makes it -------------------------
    // dashboard.js reads the report, then the trend (and a grid's cases) at
    // once, and shows them ("done"); the charts are images that fill in as
    // they arrive, those below the fold when scrolled to (loading=lazy).
    println!();
    println!("| drill-down to, until the page is shown | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|");
    for (what, node, grid_level) in [
        ("district", d.as_str(), false),
        ("park", park.as_str(), false),
        ("community", community.as_str(), false),
        ("grid", grid.as_str(), true),
    ] {
        let reqs = arrival(node, grid_level);
        let then: Vec<String> = reqs
            .iter()
            .filter(|r| r.starts_with("/v1/reports/trend") || r.starts_with("/v1/nodes/"))
            .cloned()
            .collect();
        let times = timed(runs, || {
            assert_eq!(c.get(&reqs[0], true).0, 200);
            at_once(&c, &then);
        });
        let (p50, p95, max) = quantiles(times);
        println!("| {what} `{node}` | {p50:.1} | {p95:.1} | {max:.1} |");
    }

    // --- the first load's bytes ----------------------------------------------
    let index = c.text("/desk");
    let mut files: Vec<String> = vec!["/desk".into()];
    let refs = |text: &str, files: &mut Vec<String>| {
        for part in text.split(['"', '\'']) {
            let name = part
                .strip_prefix("/desk/")
                .or_else(|| part.strip_prefix("./"))
                .filter(|n| {
                    !n.is_empty()
                        && !n.contains('/')
                        && (n.ends_with(".js") || n.ends_with(".css") || n.ends_with(".svg"))
                });
            if let Some(n) = name {
                let f = format!("/desk/{n}");
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
    };
    refs(&index, &mut files);
    // Every screen module (app.js imports them by name as the routes need
    // them): counted all, an upper bound of any first load.
    for f in [
        "/desk/dashboard.js",
        "/desk/dashboard.css",
        "/desk/cases.js",
        "/desk/decide.js",
        "/desk/admin.js",
        "/app/dom.js",
    ] {
        if !files.iter().any(|x| x == f) {
            files.push(f.to_owned());
        }
    }
    let mut i = 1;
    while i < files.len() {
        if files[i].ends_with(".js") {
            let text = c.text(&files[i]);
            refs(&text, &mut files);
        }
        i += 1;
    }
    // The shell's reads, and the supervisor's start page (the queue) before
    // the dashboard's arrival.
    let shell = [
        "/v1/schema".to_owned(),
        "/v1/org/nodes".to_owned(),
        format!("/v1/nodes/{d}/cases?limit=1000"),
        "/v1/inbox".to_owned(),
    ];
    println!();
    println!("| first load | bytes sent |");
    println!("|---|---|");
    let mut total = 0;
    for f in files
        .iter()
        .chain(shell.iter())
        .chain(arrival(d, false).iter())
    {
        let (st, n) = c.get(f, !f.starts_with("/desk"));
        if st != 200 {
            println!("| `{f}` | (answered {st}: not counted) |");
            continue;
        }
        total += n;
        println!("| `{f}` | {n} |");
    }
    println!(
        "| **total** | **{total}** ({:.1} KB) |",
        total as f64 / 1024.0
    );
    println!();
    println!("load average after: {}", load_average());
}
