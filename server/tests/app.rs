//! The field app (`/app/`) in headless Chromium at phone size, against the
//! real server reached through a cable the test can cut (a TCP relay it
//! stops): sign in (the app registers itself as a device), go offline and
//! reload (the service worker brings the app back), make records offline
//! (they wait in IndexedDB's outbox, across a reload), come back online and
//! sync: the server holds them, made by the app's own actor.
//!
//! `cargo test -p gridsync-server --test app -- --ignored` (needs Chromium).
//! `GRIDSYNC_DESK_SCREENSHOTS=docs/desk` keeps the app's screens at 360×780.

// The harness's backend macro is for the two-backend suites, not this one.
#[allow(unused)]
mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::browser::{assert_only_local, keep, set, viewport, Browser};
use common::{Backend, TestServer, PASSWORD};
use serde_json::json;

/// A relay in front of the server: what the browser calls "the network".
/// `cut()` drops every connection and refuses new ones until `mend()`.
struct Cable {
    base: String,
    online: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Cable {
    fn to(server: &str) -> Cable {
        let target = server.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let online = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (on, streams) = (online.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !on.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut held = streams.lock().unwrap();
                held.push(client.try_clone().unwrap());
                held.push(upstream.try_clone().unwrap());
                drop(held);
                pump(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pump(upstream, client);
            }
        });
        Cable { base, online, open }
    }

    fn cut(&self) {
        self.online.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn mend(&self) {
        self.online.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// The page's own idea of the network (navigator.onLine, and its requests).
fn page_online(b: &mut Browser, online: bool) {
    b.call(
        "Network.emulateNetworkConditions",
        &json!({"offline": !online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
    );
}

fn state(b: &mut Browser) -> String {
    b.eval("document.getElementById('status').dataset.state")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn outbox(b: &mut Browser) -> i64 {
    b.eval("Number(document.getElementById('outbox').dataset.count)")
        .as_i64()
        .unwrap()
}

/// Wait until the promise `expr` resolves to true.
fn wait_resolved(b: &mut Browser, expr: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.try_eval(expr) != Some(json!(true)) {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {expr}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn save(b: &mut Browser) {
    b.eval("document.getElementById('view').dataset.ready = 'no'; document.getElementById('record-form').requestSubmit()");
    b.wait_for("document.getElementById('view').dataset.ready === 'true' && location.hash.startsWith('#/record/')");
}

#[test]
#[ignore = "needs Chromium: cargo test -p gridsync-server --test app -- --ignored"]
fn the_app_works_offline_and_syncs_when_back_online() {
    let s = TestServer::start(&Backend::sqlite());
    s.create_user("w1", "grid_worker", "g1");
    let cable = Cable::to(&s.base);
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    b.call("Network.enable", &json!({}));
    viewport(&mut b, 360, 780, true);

    // Sign in: the app registers itself as a device and syncs.
    b.call("Page.navigate", &json!({"url": format!("{}/app", cable.base)}));
    b.wait_for("document.getElementById('status').dataset.state === 'signed-out'");
    keep(&mut b, "app-login.png");
    set(&mut b, "username", "w1");
    set(&mut b, "password", PASSWORD);
    b.eval("document.getElementById('login').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'ready' && document.getElementById('view').dataset.ready === 'true'");
    // The service worker has the shell.
    b.wait_for("navigator.serviceWorker.controller !== null");
    wait_resolved(&mut b, "caches.open('gridsync-app-1').then(c => c.keys()).then(k => k.length === 7)");
    let devices = s.get_as(&s.login("w1", PASSWORD)["access_token"].as_str().unwrap().to_owned(), "/v1/devices").1;
    let actor = devices["devices"][0]["actor"].as_i64().expect("the app's device");

    // Offline, and the server out of reach: a reload brings the app back.
    page_online(&mut b, false);
    cable.cut();
    b.call("Page.reload", &json!({}));
    b.wait_for("document.readyState === 'complete' && document.getElementById('status') && document.getElementById('status').dataset.state === 'ready'");
    assert_eq!(b.eval("navigator.onLine"), json!(false));
    assert!(b.eval("document.getElementById('net').textContent").as_str().unwrap().contains("离线"));

    // A household and an event, made offline: in the outbox.
    b.eval("location.hash = '#/new?collection=household'");
    b.wait_for("document.getElementById('record-form')");
    set(&mut b, "f-address", "幸福路 8号楼 2单元");
    set(&mut b, "f-tags", "出租屋，独居老人");
    keep(&mut b, "app-form.png");
    save(&mut b);
    b.eval("location.hash = '#/new?collection=event'");
    b.wait_for("document.getElementById('record-form')");
    set(&mut b, "f-title", "楼道堆放杂物");
    set(&mut b, "f-status", "reported");
    set(&mut b, "f-category", "fire_safety");
    save(&mut b);
    assert_eq!(outbox(&mut b), 2);
    // A reload keeps them (IndexedDB), still offline.
    b.call("Page.reload", &json!({}));
    b.wait_for("document.readyState === 'complete' && document.getElementById('status') && document.getElementById('status').dataset.state === 'ready'");
    assert_eq!(outbox(&mut b), 2);
    b.eval("location.hash = '#/records?collection=household'");
    b.wait_for("document.querySelector('#records li')");
    keep(&mut b, "app-records.png");
    assert_eq!(
        s.get("/v1/grids/g1/records?collection=household")["records"],
        json!([]),
        "nothing reached the server while offline"
    );

    // Back online: the sync pushes both.
    cable.mend();
    page_online(&mut b, true);
    b.eval("document.getElementById('sync').click()");
    b.wait_for("Number(document.getElementById('outbox').dataset.count) === 0 && document.getElementById('status').dataset.state === 'ready'");
    let households = s.get("/v1/grids/g1/records?collection=household");
    let h = &households["records"][0];
    assert_eq!(h["fields"]["address"]["value"], "幸福路 8号楼 2单元", "{households}");
    assert_eq!(h["fields"]["tags"], json!(["出租屋", "独居老人"]), "{households}");
    let events = s.get("/v1/grids/g1/records?collection=event");
    assert_eq!(events["records"][0]["fields"]["title"]["value"], "楼道堆放杂物");
    // Made by the app's own actor.
    let id = h["id"].as_str().unwrap();
    let history = s.get(&format!("/v1/records/{id}?grid=g1"));
    assert_eq!(history["history"][0]["actor"].as_i64(), Some(actor), "{history}");
    assert_eq!(state(&mut b), "ready");
    assert_only_local(&mut b, &cable.base);
}
