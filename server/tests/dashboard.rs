//! The dashboard in headless Chromium, driven over the DevTools protocol
//! (a WebSocket, no chromedriver): log in on the page, open the district's
//! summary and overdue lists, read the figures from the page and compare them
//! with the hand-counted district of `report_fixture`.
//!
//! Ignored by a plain `cargo test` (it needs Chromium: Debian's `chromium`
//! package, which `.ci/run` installs); run it with
//! `cargo test -p gridsync-server --test dashboard -- --ignored`.
//! `GRIDSYNC_CHROMIUM` names another browser binary;
//! `GRIDSYNC_DASHBOARD_SCREENSHOT=file.png` saves the district summary as seen.

// The harness's backend macro is for the two-backend suites, not this one.
#[allow(unused)]
mod common;
mod report_fixture;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use common::{Backend, TestServer, PASSWORD};
use report_fixture::{fixture, today};
use serde_json::{json, Value as Json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A headless Chromium with a fresh profile, killed when dropped.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    fn launch() -> Browser {
        let bin = std::env::var("GRIDSYNC_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (apt-get install chromium): {e}"));
        // Chromium writes the port it listens on into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "Chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let targets: Json = loop {
            match ureq::get(&format!("http://127.0.0.1:{port}/json/list")).call() {
                Ok(r) => break r.into_json().unwrap(),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("DevTools: {e}"),
            }
        };
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let url = page["webSocketDebuggerUrl"].as_str().unwrap();
        let (ws, _) = tungstenite::connect(url).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        Browser {
            child,
            _profile: profile,
            ws,
            next_id: 0,
        }
    }

    /// One DevTools command; its result.
    fn call(&mut self, method: &str, params: &Json) -> Json {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::Text(msg.into())).unwrap();
        loop {
            let m = self.ws.read().expect("a DevTools reply");
            let Ok(text) = m.to_text() else { continue };
            let v: Json = serde_json::from_str(text).unwrap_or(Json::Null);
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluate JavaScript in the page; its value.
    fn eval(&mut self, expr: &str) -> Json {
        let r = self.call(
            "Runtime.evaluate",
            &json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Wait until `expr` is true in the page.
    fn wait_for(&mut self, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(&format!("!!({expr})")) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {expr}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text_of(b: &mut Browser, id: &str) -> String {
    b.eval(&format!("document.getElementById('{id}').textContent"))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A table on the page as (first column, the cell of `key`) pairs.
fn column(b: &mut Browser, table: &str, key: &str) -> Vec<(String, String)> {
    let v = b.eval(&format!(
        "[...document.querySelectorAll('#table-{table} tbody tr')].map(tr => \
         [tr.dataset.row, tr.querySelector('[data-key={key}]').textContent])"
    ));
    serde_json::from_value(v).unwrap()
}

fn set(b: &mut Browser, id: &str, value: &str) {
    b.eval(&format!(
        "(() => {{ const e = document.getElementById('{id}'); e.value = {}; \
         e.dispatchEvent(new Event('change')); return e.value; }})()",
        json!(value)
    ));
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_supervisor_reads_the_district_report_on_the_dashboard() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    fixture(&s);
    s.supervisor_token(); // creates `chief`, supervisor of the district

    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    b.call("Page.navigate", &json!({"url": s.url("/dashboard")}));
    b.wait_for("document.readyState === 'complete' && document.getElementById('username')");

    // A wrong password is refused on the page.
    set(&mut b, "username", "chief");
    set(&mut b, "password", "wrong password");
    b.eval("document.getElementById('login').click()");
    b.wait_for("document.getElementById('login-error').textContent.length > 0");
    assert!(b.eval("document.getElementById('report-view').hidden") == json!(true));

    set(&mut b, "password", PASSWORD);
    b.eval("document.getElementById('login').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'ready'");
    let nodes: Vec<String> = serde_json::from_value(
        b.eval("[...document.getElementById('node').options].map(o => o.value)"),
    )
    .unwrap();
    assert_eq!(nodes[0], "d", "the district first: {nodes:?}");
    assert!(nodes.contains(&"g3".to_owned()));

    // The district summary for a period around today.
    let t = today();
    set(&mut b, "node", "d");
    set(&mut b, "report", "summary");
    set(&mut b, "period", "range");
    set(&mut b, "from", &(t - Days::days(1)).to_string());
    set(&mut b, "to", &(t + Days::days(1)).to_string());
    b.eval("document.getElementById('load').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'done'");
    let totals: Vec<String> = [
        "records",
        "open",
        "new",
        "closed",
        "overdue",
        "escalated",
        "conflicted",
    ]
    .iter()
    .map(|k| text_of(&mut b, &format!("total-{k}")))
    .collect();
    assert_eq!(totals, ["15", "12", "15", "3", "5", "1", "1"]);
    assert_eq!(
        column(&mut b, "by_node", "records"),
        [
            ("p1".to_owned(), "14".to_owned()),
            ("p2".to_owned(), "1".to_owned())
        ]
    );
    let events = column(&mut b, "by_collection", "new")
        .into_iter()
        .find(|(c, _)| c == "event")
        .unwrap();
    assert_eq!(events.1, "5");
    // Chinese labels, and the charts are inline SVG.
    assert!(b
        .eval("document.getElementById('cards').textContent")
        .as_str()
        .unwrap()
        .contains("超期"));
    assert_eq!(
        b.eval("document.querySelectorAll('#charts svg rect').length > 0"),
        json!(true)
    );

    // `GRIDSYNC_DASHBOARD_SCREENSHOT=file.png` keeps a picture of the page.
    if let Ok(path) = std::env::var("GRIDSYNC_DASHBOARD_SCREENSHOT") {
        b.call(
            "Emulation.setDeviceMetricsOverride",
            &json!({"width": 1280, "height": 1400, "deviceScaleFactor": 1, "mobile": false}),
        );
        let shot = b.call("Page.captureScreenshot", &json!({"format": "png"}));
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(path, png).unwrap();
    }

    // The overdue lists: one of each; the key person's name masked.
    set(&mut b, "report", "overdue");
    b.eval("document.getElementById('load').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'done' && document.getElementById('table-key_persons')");
    for list in ["cases", "petitions", "mediations", "key_persons", "places"] {
        assert_eq!(text_of(&mut b, &format!("total-{list}")), "1", "{list}");
    }
    assert_eq!(column(&mut b, "key_persons", "label")[0].1, "张*");

    // Nothing came from anywhere but this server.
    let foreign = b.eval(&format!(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith({}))",
        json!(s.base)
    ));
    assert_eq!(foreign, json!([]));
}
