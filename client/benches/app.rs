//! The field app's budgets (issue 18, docs/PERFORMANCE.md "The field app"),
//! side by side with `gridsync-device` in one run:
//! - the app shell at most 200 KB transferred (gzip, as the server sends it);
//! - a first sync of a 20,000-record grid in headless Chromium, beside the
//!   same first sync by `gridsync-device` (the terminal phone);
//! - opening that grid's lists from IndexedDB (6,667 households, 13,333
//!   residents: each over the budget's 2,000 records) within 1 s.
//!
//! `cargo bench -p gridsync-client --bench app` (needs Chromium).

#[path = "../tests/common/mod.rs"]
mod common;
// The server's Chromium driver; not every helper is used here.
#[allow(dead_code)]
#[path = "../../server/tests/common/browser.rs"]
mod browser;
// Not every helper is used here either.
#[allow(dead_code)]
#[path = "../../server/tests/common/app_driver.rs"]
mod app_driver;

use std::io::Read;
use std::time::{Duration, Instant};

use browser::{set, viewport, Browser};
use common::{ok, Server, PASSWORD};
use serde_json::json;

const RECORDS: usize = 20_000;
/// The budget's grid: 2,000 records (667 households, 1,333 residents).
const SMALL: usize = 2_000;
const RUNS: usize = 3;

/// Wait (up to `secs`) until `expr` is true in the page.
fn until(b: &mut Browser, expr: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while b.try_eval(&format!("!!({expr})")) != Some(json!(true)) {
        assert!(Instant::now() < deadline, "timed out waiting for {expr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let server = Server::start();
    server.user("loader", "grid_worker", "g1");
    server.user("newcomer", "grid_worker", "g1");
    server.user("small", "grid_worker", "g2");
    common::load_grid(&server, "loader", "g1", RECORDS);
    common::load_grid(&server, "small", "g2", SMALL);

    // --- the shell, as sent -----------------------------------------------
    let mut shell = 0;
    println!("| app shell file | bytes sent (gzip) |");
    println!("|---|---|");
    for f in [
        "/app/",
        "/app/app.js",
        "/app/store.js",
        "/app/protocol.js",
        "/app/dom.js",
        "/app/sw.js",
        "/app/style.css",
        "/app/icon.svg",
        "/app/manifest.webmanifest",
    ] {
        let r = ureq::get(&format!("{}{f}", server.url))
            .set("Accept-Encoding", "gzip")
            .call()
            .unwrap();
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).unwrap();
        println!("| `{f}` | {} |", body.len());
        shell += body.len();
    }
    println!(
        "| **total** | **{shell}** ({:.1} KB; budget 200 KB) |",
        shell as f64 / 1024.0
    );

    // --- gridsync-device's first sync ---------------------------------------
    let mut device = Vec::new();
    for run in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        ok(
            dir.path(),
            &[
                "enroll",
                "--server",
                &server.url,
                "--user",
                "newcomer",
                "--name",
                &format!("terminal {run}"),
            ],
        );
        let t = Instant::now();
        ok(dir.path(), &["sync"]);
        device.push(t.elapsed().as_secs_f64());
        let listed = ok(dir.path(), &["list", "--collection", "household"]);
        assert_eq!(listed.as_array().unwrap().len(), RECORDS.div_ceil(3));
    }

    // --- the app's first sync, and its lists ----------------------------------
    let (mut app, mut households, mut residents) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let mut b = Browser::launch();
        b.call("Page.enable", &json!({}));
        viewport(&mut b, 360, 780, true);
        b.call(
            "Page.navigate",
            &json!({"url": format!("{}/app/", server.url)}),
        );
        until(
            &mut b,
            "document.getElementById('status').dataset.state === 'signed-out'",
            30,
        );
        set(&mut b, "username", "newcomer");
        set(&mut b, "password", PASSWORD);
        // Sign-in registers the device and starts the first sync.
        b.eval("window.__signed = performance.now(); document.getElementById('login').click()");
        until(
            &mut b,
            "document.getElementById('status').dataset.state === 'syncing'",
            30,
        );
        b.eval("window.__sync = performance.now()");
        until(&mut b, "document.getElementById('status').dataset.state === 'ready' && document.getElementById('status').textContent === '已同步'", 600);
        let took = b
            .eval("(performance.now() - window.__sync) / 1000")
            .as_f64()
            .unwrap();
        app.push(took);
        let held = b.eval("new Promise(r => { const q = indexedDB.open('gridsync'); q.onsuccess = () => { const c = q.result.transaction('records').objectStore('records').count(); c.onsuccess = () => r(c.result); }; })");
        assert_eq!(held, json!(RECORDS));
        // Opening a list: from the hash change to the list shown.
        for (collection, out) in [("household", &mut households), ("resident", &mut residents)] {
            let ms = b.eval(&format!(
                "new Promise(r => {{ const v = document.getElementById('view'); v.dataset.ready = 'no'; const t = performance.now(); \
                 location.hash = '#/records?collection={collection}'; \
                 const w = () => document.getElementById('view').dataset.ready === 'true' ? r(performance.now() - t) : setTimeout(w, 5); w(); }})"
            ));
            out.push(ms.as_f64().unwrap() / 1000.0);
        }
        let shown = b.eval("document.querySelectorAll('#records li').length");
        assert_eq!(shown, json!(RECORDS - RECORDS.div_ceil(3)));
    }
    // The budget's grid of 2,000 records: the app of a worker of g2.
    let mut small = Vec::new();
    for _ in 0..RUNS {
        let mut b = Browser::launch();
        app_driver::sign_in(&mut b, &server.url, "small", PASSWORD);
        until(
            &mut b,
            "document.getElementById('status').textContent === '已同步'",
            120,
        );
        let mut total = 0.0;
        for collection in ["household", "resident"] {
            let ms = b.eval(&format!(
                "new Promise(r => {{ const v = document.getElementById('view'); v.dataset.ready = 'no'; const t = performance.now(); \
                 location.hash = '#/records?collection={collection}'; \
                 const w = () => document.getElementById('view').dataset.ready === 'true' ? r(performance.now() - t) : setTimeout(w, 5); w(); }})"
            ));
            total += ms.as_f64().unwrap() / 1000.0;
        }
        small.push(total);
    }
    let (sm, _, smax) = median(small);
    let (dm, dmin, dmax) = median(device);
    let (am, amin, amax) = median(app);
    let (hm, _, hmax) = median(households);
    let (rm, _, rmax) = median(residents);
    println!();
    println!("| first sync of a {RECORDS}-record grid ({RUNS} runs) | median s | min | max |");
    println!("|---|---|---|---|");
    println!("| `gridsync-device sync` (terminal, SQLite) | {dm:.2} | {dmin:.2} | {dmax:.2} |");
    println!(
        "| the field app in headless Chromium (IndexedDB) | {am:.2} | {amin:.2} | {amax:.2} |"
    );
    println!();
    println!("| opening a list from IndexedDB | median s | max s | budget |");
    println!("|---|---|---|---|");
    println!(
        "| {} households | {hm:.3} | {hmax:.3} | 1 s for 2,000 |",
        RECORDS.div_ceil(3)
    );
    println!(
        "| {} residents | {rm:.3} | {rmax:.3} | 1 s for 2,000 |",
        RECORDS - RECORDS.div_ceil(3)
    );
    println!(
        "| a grid of {SMALL}: its households, then its residents | {sm:.3} | {smax:.3} | 1 s |"
    );
}
