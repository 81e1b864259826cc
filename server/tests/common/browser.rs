//! A headless Chromium driven over the DevTools protocol (a WebSocket, no
//! chromedriver), for the browser suites: the desk and the dashboard.
//! `GRIDSYNC_CHROMIUM` names another browser binary.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A headless Chromium with a fresh profile, killed when dropped.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    pub fn launch() -> Browser {
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
    pub fn call(&mut self, method: &str, params: &Json) -> Json {
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
    pub fn eval(&mut self, expr: &str) -> Json {
        let r = self.call(
            "Runtime.evaluate",
            &json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// `expr`'s value, or `None` when it throws or the page is between
    /// documents (a navigation destroys the context it ran in).
    pub fn try_eval(&mut self, expr: &str) -> Option<Json> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": "Runtime.evaluate",
            "params": {"expression": expr, "returnByValue": true, "awaitPromise": true}});
        self.ws.send(Message::Text(msg.to_string().into())).unwrap();
        loop {
            let m = self.ws.read().expect("a DevTools reply");
            let Ok(text) = m.to_text() else { continue };
            let v: Json = serde_json::from_str(text).unwrap_or(Json::Null);
            if v["id"] == id {
                if v.get("error").is_some() || v["result"].get("exceptionDetails").is_some() {
                    return None;
                }
                return Some(v["result"]["result"]["value"].clone());
            }
        }
    }

    /// Wait until `expr` is true in the page (across a navigation).
    pub fn wait_for(&mut self, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.try_eval(&format!("!!({expr})")) != Some(json!(true)) {
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

pub fn text_of(b: &mut Browser, id: &str) -> String {
    b.eval(&format!("document.getElementById('{id}').textContent"))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A table on the page as (first column, the cell of `key`) pairs.
pub fn column(b: &mut Browser, table: &str, key: &str) -> Vec<(String, String)> {
    let v = b.eval(&format!(
        "[...document.querySelectorAll('#table-{table} tbody tr')].map(tr => \
         [tr.dataset.row, tr.querySelector('[data-key={key}]').textContent])"
    ));
    serde_json::from_value(v).unwrap()
}

pub fn set(b: &mut Browser, id: &str, value: &str) {
    b.eval(&format!(
        "(() => {{ const e = document.getElementById('{id}'); e.value = {}; \
         e.dispatchEvent(new Event('change')); return e.value; }})()",
        json!(value)
    ));
}

/// Save what the page shows as a PNG.
pub fn screenshot(b: &mut Browser, path: &str) {
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

// ------------------------------------------------------------------ the desk

/// Sign in to the desk at `base` (the server's `http://host:port`) as
/// `username` through its form, as a person does (the session cookie and
/// CSRF token come from the answer), and wait for the role's start page to
/// finish loading.
pub fn desk_log_in(b: &mut Browser, base: &str, username: &str, password: &str) {
    b.call("Page.enable", &json!({}));
    b.call("Page.navigate", &json!({"url": "about:blank"}));
    b.call("Page.navigate", &json!({"url": format!("{base}/desk")}));
    b.wait_for(
        "document.readyState === 'complete' && document.body.dataset.session === 'none' \
         && !document.getElementById('login-view').hidden",
    );
    set(b, "username", username);
    set(b, "password", password);
    b.eval("document.getElementById('login').click()");
    b.wait_for("document.body.dataset.session === 'signed-in'");
    wait_done(b);
}

/// Sign in as `username` and open `hash`; wait for the screen to load.
pub fn desk_at(b: &mut Browser, base: &str, username: &str, password: &str, hash: &str) {
    desk_log_in(b, base, username, password);
    open(b, base, hash);
}

/// Open `hash` on the desk (a fresh page load: the session is the cookie)
/// and wait for the screen.
pub fn open(b: &mut Browser, base: &str, hash: &str) {
    b.call("Page.navigate", &json!({"url": "about:blank"}));
    b.call(
        "Page.navigate",
        &json!({"url": format!("{base}/desk{hash}")}),
    );
    wait_done(b);
}

/// Wait until the screen says it has finished loading.
pub fn wait_done(b: &mut Browser) {
    b.wait_for(
        "document.readyState === 'complete' && document.getElementById('status') \
         && document.getElementById('status').dataset.state === 'done'",
    );
}

/// Click the element `selector` picks (the status is reset first, so a
/// following `wait_done` waits for the next screen).
pub fn click(b: &mut Browser, selector: &str) {
    b.eval(&format!(
        "(() => {{ document.getElementById('status').dataset.state = 'clicked'; \
         const e = document.querySelector({0}); \
         if (!e) throw new Error('no ' + {0}); \
         e.dispatchEvent(new MouseEvent('click', {{bubbles: true, cancelable: true}})); }})()",
        json!(selector)
    ));
}

pub fn hash(b: &mut Browser) -> String {
    b.eval("location.hash").as_str().unwrap().to_owned()
}

pub fn viewport(b: &mut Browser, width: u32, height: u32, mobile: bool) {
    b.call(
        "Emulation.setDeviceMetricsOverride",
        &json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
    );
}

/// Nothing came from anywhere but this server (object URLs of its answers
/// included).
pub fn assert_only_local(b: &mut Browser, base: &str) {
    let foreign = b.eval(&format!(
        "performance.getEntriesByType('resource').map(e => e.name)\
         .filter(n => !n.startsWith({0}) && !n.startsWith('blob:' + {0}))",
        json!(base)
    ));
    assert_eq!(foreign, json!([]));
}

/// `GRIDSYNC_DESK_SCREENSHOTS=dir`: the whole page as seen, as `dir/name`.
pub fn keep(b: &mut Browser, name: &str) {
    let Ok(dir) = std::env::var("GRIDSYNC_DESK_SCREENSHOTS") else {
        return;
    };
    // Relative to the workspace (a test runs in its crate's folder).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let m = b.call("Page.getLayoutMetrics", &json!({}));
    let h = m["cssContentSize"]["height"]
        .as_f64()
        .unwrap_or(768.0)
        .ceil();
    let w = b.eval("window.innerWidth").as_f64().unwrap();
    let shot = b.call(
        "Page.captureScreenshot",
        &json!({"format": "png", "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
    );
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shot["data"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(std::path::Path::new(&dir).join(name), png).unwrap();
}
