//! The desk's dashboard (`server/assets/desk/dashboard.js`) in headless
//! Chromium, driven over the DevTools protocol (a WebSocket, no
//! chromedriver): signed in with a desk session, the district's figures read
//! from the page and compared with the hand-counted district of
//! `report_fixture`; the trend per day and week; the overdue lists; the brief
//! under the print style; drill-down district → park → community → grid →
//! case by clicking; the map and search reaching the same case; a grid
//! worker's masked values staying masked; a community at phone width; the
//! keyboard; nothing loaded from elsewhere. And (the first dashboard's test,
//! still on its case panel) an overdue case's photos.
//!
//! Ignored by a plain `cargo test` (it needs Chromium: Debian's `chromium`
//! package, which `.ci/run` installs, and a CJK font such as
//! `fonts-wqy-microhei` for screenshots that read); run it with
//! `cargo test -p gridsync-server --test dashboard -- --ignored`.
//! `GRIDSYNC_CHROMIUM` names another browser binary;
//! `GRIDSYNC_DESK_SCREENSHOTS=docs/desk` keeps the district dashboard
//! (1366×768) and a community's at phone width (360×780) as PNG files there;
//! `GRIDSYNC_DASHBOARD_CASE_SCREENSHOT=file.png` the case panel with its photos.

// The harness's backend macro is for the two-backend suites, not this one.
#[allow(unused)]
mod common;
mod report_fixture;

use chrono::Duration as Days;
use common::browser::{screenshot, set, text_of, Browser};
use common::photos::{begin, jpeg, patch, reference};
use common::{Backend, Phone, TestServer, PASSWORD};
use gridsync_core::{Attachment, Entry, Value};
use report_fixture::{fixture, today};
use serde_json::{json, Value as Json};
use uuid::Uuid;

/// Open the dashboard afresh and log in as `username`; the report view is ready.
fn log_in(b: &mut Browser, s: &TestServer, username: &str) {
    b.call("Page.navigate", &json!({"url": s.url("/dashboard")}));
    // The login form of the new page (an old page has it hidden).
    b.wait_for(
        "document.readyState === 'complete' && document.getElementById('username') \
         && !document.getElementById('login-view').hidden",
    );
    set(b, "username", username);
    set(b, "password", PASSWORD);
    b.eval("document.getElementById('login').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'ready'");
}

/// Nothing came from anywhere but this server (object URLs of its answers
/// included).
fn assert_only_local(b: &mut Browser, s: &TestServer) {
    let foreign = b.eval(&format!(
        "performance.getEntriesByType('resource').map(e => e.name)\
         .filter(n => !n.startsWith({0}) && !n.startsWith('blob:' + {0}))",
        json!(s.base)
    ));
    assert_eq!(foreign, json!([]));
}

/// `data` as a record refers to it, with `caption`.
fn captioned(data: &[u8], media_type: &str, caption: &str) -> Attachment {
    Attachment {
        caption: Some(caption.into()),
        ..reference(data, media_type)
    }
}

/// Upload `data` (referred to by a record `token` reads) in one chunk.
fn upload(s: &TestServer, token: &str, att: &Attachment, data: &[u8]) {
    let (st, body) = begin(s, token, att);
    assert_eq!(
        (st, body["state"].as_str()),
        (200, Some("uploading")),
        "{body}"
    );
    let (st, body) = patch(s, token, body["upload"].as_str().unwrap(), 0, data, None);
    assert_eq!(
        (st, body["state"].as_str()),
        (200, Some("stored")),
        "{body}"
    );
}

fn photo_entry(att: &Attachment, stage: &str, note: &str) -> Entry {
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("photo".to_owned(), Value::from(att.clone()));
    fields.insert("stage".to_owned(), Value::from(stage));
    if !note.is_empty() {
        fields.insert("note".to_owned(), Value::from(note));
    }
    Entry {
        id: Uuid::new_v4(),
        at: "2026-11-20T09:00:00+08:00".into(),
        fields,
    }
}

// ---------------------------------------------------------------- the desk

/// Sign in to the desk as `username` (a session cookie, as the shell's form
/// makes it) and open `hash`; wait for the screen to finish loading.
fn desk_at(b: &mut Browser, s: &TestServer, username: &str, hash: &str) {
    b.call("Page.navigate", &json!({"url": s.url("/desk")}));
    b.wait_for("document.readyState === 'complete'");
    let signed = b.eval(&format!(
        "fetch('/v1/auth/session', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, \
         body: JSON.stringify({{username: {}, password: {}}})}}).then(r => r.status)",
        json!(username),
        json!(PASSWORD)
    ));
    assert_eq!(signed, json!(200));
    open(b, s, hash);
}

/// Open `hash` on the desk (a fresh page load) and wait for the screen.
fn open(b: &mut Browser, s: &TestServer, hash: &str) {
    b.call("Page.navigate", &json!({"url": "about:blank"}));
    b.call(
        "Page.navigate",
        &json!({"url": s.url(&format!("/desk{hash}"))}),
    );
    wait_done(b);
}

fn wait_done(b: &mut Browser) {
    b.wait_for(
        "document.readyState === 'complete' && document.getElementById('status') \
         && document.getElementById('status').dataset.state === 'done'",
    );
}

/// Click the element `selector` picks and wait for the next screen.
fn click(b: &mut Browser, selector: &str) {
    b.eval(&format!(
        "(() => {{ document.getElementById('status').dataset.state = 'clicked'; \
         const e = document.querySelector({0}); \
         if (!e) throw new Error('no ' + {0}); \
         e.dispatchEvent(new MouseEvent('click', {{bubbles: true, cancelable: true}})); }})()",
        json!(selector)
    ));
}

fn hash(b: &mut Browser) -> String {
    b.eval("location.hash").as_str().unwrap().to_owned()
}

/// A table's `key` column as shown, per row (`data-row`).
fn shown(b: &mut Browser, table: &str, key: &str) -> Vec<(String, String)> {
    let v = b.eval(&format!(
        "[...document.querySelectorAll('#{table} tbody tr')].map(tr => \
         [tr.dataset.row, tr.querySelector('[data-key={key}]').textContent])"
    ));
    serde_json::from_value(v).unwrap()
}

fn card(b: &mut Browser, key: &str) -> String {
    b.eval(&format!(
        "document.querySelector('#dash-cards [data-key={key}] .dash-card-value').textContent"
    ))
    .as_str()
    .unwrap()
    .to_owned()
}

fn viewport(b: &mut Browser, width: u32, height: u32, mobile: bool) {
    b.call(
        "Emulation.setDeviceMetricsOverride",
        &json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
    );
}

/// `GRIDSYNC_DESK_SCREENSHOTS=dir`: the page as seen, as `dir/name`.
fn keep(b: &mut Browser, name: &str) {
    if let Ok(dir) = std::env::var("GRIDSYNC_DESK_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        // The whole page: its height, at the current width.
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
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_supervisor_reads_the_district_on_the_desk() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    fixture(&s);
    s.supervisor_token(); // creates `chief`, supervisor of the district
    let t = today();
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    viewport(&mut b, 1366, 768, false);
    // Loaded on arrival: no button to press.
    desk_at(
        &mut b,
        &s,
        "chief",
        &format!(
            "#/dashboard?node=d&period=range&from={}&to={}",
            t - Days::days(1),
            t + Days::days(1)
        ),
    );
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
    .map(|k| card(&mut b, k))
    .collect();
    assert_eq!(totals, ["15", "12", "15", "3", "5", "1", "1"]);
    // Nodes by name, with their figures.
    assert_eq!(
        shown(&mut b, "dash-by-node", "name"),
        [
            ("p1".to_owned(), "node p1".to_owned()),
            ("p2".to_owned(), "node p2".to_owned())
        ]
    );
    assert_eq!(
        shown(&mut b, "dash-by-node", "records"),
        [
            ("p1".to_owned(), "14".to_owned()),
            ("p2".to_owned(), "1".to_owned())
        ]
    );
    let events = shown(&mut b, "dash-by-collection", "new")
        .into_iter()
        .find(|(c, _)| c == "event")
        .unwrap();
    assert_eq!(events.1, "5");
    // The schema's words, never codes.
    let text = b.eval("document.getElementById('dash-body').innerText");
    let text = text.as_str().unwrap();
    for word in ["事件", "已上报", "在办", "超期"] {
        assert!(text.contains(word), "{word}");
    }
    for code in [
        "fire_safety",
        "by_node",
        "reported",
        "patrol_round",
        "grid_workers",
    ] {
        assert!(!text.contains(code), "{code} shown");
    }
    // The charts: the server's SVG, drawn.
    let charts = b.eval(
        "Promise.all([...document.querySelectorAll('.dash-chart img')].map(i => \
         i.decode().then(() => [i.src, i.naturalWidth])))",
    );
    let charts = charts.as_array().unwrap();
    assert!(charts.len() >= 4, "{charts:?}");
    for c in charts {
        assert!(c[0].as_str().unwrap().contains("/v1/reports/chart.svg?"));
        assert!(c[1].as_i64().unwrap() > 100, "{c}");
    }
    // The trend per day, then per week.
    let days = shown(&mut b, "dash-trend", "reported");
    assert_eq!(
        days.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
        ["0", "9", "0"]
    );
    b.eval("document.getElementById('status').dataset.state = 'changing'");
    set(&mut b, "dash-by", "week");
    wait_done(&mut b);
    assert!(hash(&mut b).contains("by=week"));
    let weeks: i64 = shown(&mut b, "dash-trend", "reported")
        .iter()
        .map(|(_, n)| n.parse::<i64>().unwrap())
        .sum();
    assert_eq!(weeks, 9);
    keep(&mut b, "dashboard-district.png");

    // The overdue lists, with words; the key person's name masked.
    open(&mut b, &s, "#/dashboard?node=d&report=overdue");
    for list in ["cases", "petitions", "mediations", "key_persons", "places"] {
        let n = b.eval(&format!(
            "document.querySelector('#dash-list-counts [data-key={list}] .dash-card-value').textContent"
        ));
        assert_eq!(n, json!("1"), "{list}");
    }
    assert_eq!(shown(&mut b, "dash-list-key_persons", "label")[0].1, "张*");
    // The brief, printable: the print style hides the desk's chrome.
    open(&mut b, &s, "#/brief?node=d");
    b.call("Emulation.setEmulatedMedia", &json!({"media": "print"}));
    assert_eq!(
        b.eval("getComputedStyle(document.querySelector('.dash-controls')).display"),
        json!("none")
    );
    assert_eq!(
        b.eval("getComputedStyle(document.getElementById('status')).display"),
        json!("none")
    );
    b.call("Emulation.setEmulatedMedia", &json!({"media": ""}));
    let pdf = b.call(
        "Page.printToPDF",
        &json!({"paperWidth": 8.27, "paperHeight": 11.69}),
    );
    assert!(pdf["data"].as_str().unwrap().len() > 1000);
    assert_only_local(&mut b, &s);
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn drill_down_map_and_search_reach_the_case() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    let f = fixture(&s);
    s.supervisor_token();
    let e1 = f.e1.to_string();
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    viewport(&mut b, 1366, 768, false);
    desk_at(&mut b, &s, "chief", "#/dashboard?node=d");
    // District → park → community → grid, by clicking the rows.
    for (row, node) in [("p1", "p1"), ("c1", "c1"), ("g1", "g1")] {
        click(&mut b, &format!("#dash-by-node tr[data-row='{row}']"));
        wait_done(&mut b);
        assert!(
            hash(&mut b).contains(&format!("node={node}")),
            "{}",
            hash(&mut b)
        );
        let crumbs = b.eval("document.querySelector('.dash-crumbs').textContent");
        assert!(crumbs.as_str().unwrap().contains(&format!("node {node}")));
    }
    // At the grid, its cases; the case opens.
    let cases = shown(&mut b, "dash-cases", "title");
    assert!(
        cases.contains(&(e1.clone(), "消防通道堵塞".to_owned())),
        "{cases:?}"
    );
    click(&mut b, &format!("#dash-cases tr[data-row='{e1}']"));
    b.wait_for(&format!("location.hash === '#/case/{e1}'"));
    // A breadcrumb goes back up.
    open(&mut b, &s, "#/dashboard?node=g1");
    click(&mut b, ".dash-crumbs a[href*='node=p1']");
    wait_done(&mut b);
    assert!(hash(&mut b).contains("node=p1"));

    // The map shows the case, and its grid's outline; a click opens it.
    open(&mut b, &s, "#/map?node=c1");
    assert_eq!(
        b.eval("document.querySelectorAll('#dash-map .map-point').length"),
        json!(5)
    );
    assert_eq!(
        b.eval("document.querySelector('#dash-map [data-grid=g1] polygon').getAttribute('points').split(' ').length"),
        json!(4)
    );
    let label = b.eval(&format!(
        "document.querySelector('#dash-map a[data-id=\"{e1}\"]').getAttribute('aria-label')"
    ));
    assert!(label.as_str().unwrap().contains("消防通道堵塞"), "{label}");
    click(&mut b, &format!("#dash-map a[data-id=\"{e1}\"]"));
    b.wait_for(&format!("location.hash === '#/case/{e1}'"));

    // Search finds it by its address.
    open(
        &mut b,
        &s,
        "#/search?q=%E5%85%89%E8%B0%B7%E5%A4%A7%E9%81%93",
    );
    let hits = shown(&mut b, "search-table", "title");
    assert_eq!(hits, [(e1.clone(), "消防通道堵塞".to_owned())]);
    click(&mut b, &format!("#search-table tr[data-row='{e1}']"));
    b.wait_for(&format!("location.hash === '#/case/{e1}'"));
    assert_only_local(&mut b, &s);
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_grid_workers_masked_fields_stay_masked_on_the_desk() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    let f = fixture(&s);
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    desk_at(&mut b, &s, "w1", "#/search?q=%E5%BC%A0%E4%B8%89");
    let hits = shown(&mut b, "search-table", "title");
    assert_eq!(hits, [(f.kp.to_string(), "张*".to_owned())]);
    let fields = shown(&mut b, "search-table", "fields");
    assert!(fields[0].1.contains("420202********1231"), "{fields:?}");
    let page = b.eval("document.body.innerText");
    assert!(!page.as_str().unwrap().contains("420202199001011231"));
    // The ID number itself finds nothing for the worker.
    open(&mut b, &s, "#/search?q=420202199001011231");
    assert_eq!(
        b.eval("document.querySelectorAll('#search-table tbody tr').length"),
        json!(0)
    );
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_community_dashboard_fits_a_phone() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    fixture(&s);
    s.supervisor_token();
    let t = today();
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    viewport(&mut b, 360, 780, true);
    desk_at(
        &mut b,
        &s,
        "chief",
        &format!(
            "#/dashboard?node=c1&period=range&from={}&to={}",
            t - Days::days(1),
            t + Days::days(1)
        ),
    );
    assert_eq!(card(&mut b, "records"), "14");
    // No sideways scroll: the page is as wide as the screen.
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        json!(true),
        "{}",
        b.eval("document.documentElement.scrollWidth")
    );
    keep(&mut b, "dashboard-community-phone.png");
    open(&mut b, &s, "#/map?node=c1");
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        json!(true)
    );
    // Keyboard: the rows are in the tab order and open with Enter.
    open(
        &mut b,
        &s,
        &format!("#/dashboard?node=c1&period=range&from={t}&to={t}"),
    );
    b.eval("document.querySelector('#dash-by-node tr[data-row=g1]').focus()");
    b.call(
        "Input.dispatchKeyEvent",
        &json!({"type": "keyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}),
    );
    b.wait_for("location.hash.includes('node=g1')");
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_supervisor_sees_the_photos_of_an_overdue_case() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    s.supervisor_token(); // `chief`, supervisor of the district
    s.create_user("sup2", "supervisor", "p2"); // another park: not g1

    // An overdue event in g1 with three photos: a JPEG uploaded, a JPEG its
    // phone has not sent yet, a PDF uploaded; and an action.
    let mut w = Phone::enroll(&s, "w1", "grid_worker", "c1", &["g1"]);
    let shown = jpeg(480, 360, 1);
    let shown_ref = captioned(&shown, "image/jpeg", "堵塞的消防通道");
    let pending_ref = captioned(&jpeg(200, 100, 2), "image/jpeg", "清理后");
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let pdf_ref = captioned(pdf, "application/pdf", "整改通知书");
    // The action's photo: uploaded, then lost by the store (a restore from
    // an older backup).
    let lost = jpeg(120, 90, 3);
    let lost_ref = captioned(&lost, "image/jpeg", "现场");
    let id = Uuid::new_v4();
    let deadline = format!("{}T00:00:00+08:00", today() - Days::days(3));
    let mut action = report_fixture::entry(
        "2026-11-20T10:00:00+08:00",
        &[("action", "accept"), ("note", "已受理")],
    );
    action
        .fields
        .insert("photo".to_owned(), Value::from(lost_ref.clone()));
    w.make(|d| {
        d.create("event", "g1", id)
            .set("category", "fire_safety")
            .set("title", "Blocked fire exit")
            .set("status", "reported")
            .set("assignee", "w1")
            .set("deadline", deadline.as_str())
            .append("photos", photo_entry(&shown_ref, "before", "楼梯口"))
            .append("actions", action)
            .commit()
    });
    // A field once per change: one more change for each further photo.
    for (att, stage) in [(&pending_ref, "after"), (&pdf_ref, "document")] {
        w.make(|d| {
            d.edit(id)
                .append("photos", photo_entry(att, stage, ""))
                .commit()
        });
    }
    w.sync(&s);
    upload(&s, &w.token, &shown_ref, &shown);
    upload(&s, &w.token, &pdf_ref, pdf);
    upload(&s, &w.token, &lost_ref, &lost);
    let file = s.blobs.path().join("blobs").join(&lost_ref.sha256[..2]);
    std::fs::remove_file(file.join(&lost_ref.sha256)).unwrap();

    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    log_in(&mut b, &s, "chief");
    set(&mut b, "report", "overdue");
    b.eval("document.getElementById('load').click()");
    let row = format!("#table-cases tr[data-id='{id}']");
    b.wait_for(&format!("document.querySelector(\"{row}\")"));

    // Open the case: its fields and its action log.
    b.eval(&format!("document.querySelector(\"{row}\").click()"));
    b.wait_for("document.getElementById('case-panel').dataset.state === 'done'");
    assert_eq!(
        b.eval("document.getElementById('case-panel').hidden"),
        json!(false)
    );
    assert!(text_of(&mut b, "case-title").contains("Blocked fire exit"));
    // Fields and codes by the schema's labels, not codes.
    let fields = text_of(&mut b, "case-fields");
    for want in ["事件类别", "消防安全", "已上报", "网格", "w1", "超期"] {
        assert!(fields.contains(want), "{want} in {fields}");
    }
    for code in ["fire_safety", "reported"] {
        assert!(!fields.contains(code), "{code} in {fields}");
    }
    assert!(text_of(&mut b, "case-logs").contains("已受理"));

    // The uploaded photo: a thumbnail of at most 320 px, fetched with the token.
    let tile =
        |sha: &str| format!("document.querySelector('#case-photos [data-sha256=\"{sha}\"]')");
    let thumb = format!("{}.querySelector('img')", tile(&shown_ref.sha256));
    b.wait_for(&format!(
        "{thumb} && {thumb}.complete && {thumb}.naturalWidth > 0"
    ));
    let size: (u32, u32) =
        serde_json::from_value(b.eval(&format!("[{thumb}.naturalWidth, {thumb}.naturalHeight]")))
            .unwrap();
    assert!(size.0 <= 320 && size.1 <= 320 && size.0 > 0, "{size:?}");
    let thumb_url = b.eval(&format!("{thumb}.src"));
    assert!(
        thumb_url.as_str().unwrap().starts_with("blob:"),
        "{thumb_url}"
    );
    let photos = text_of(&mut b, "case-photos");
    assert!(photos.contains("堵塞的消防通道"), "{photos}");
    assert!(
        photos.contains("处置前 Before"),
        "the stage's label: {photos}"
    );

    // The one not uploaded yet says so, plainly: no image.
    let pending = tile(&pending_ref.sha256);
    let text = b.eval(&format!("{pending}.textContent"));
    let text = text.as_str().unwrap();
    assert!(
        text.contains("照片尚未上传") && text.contains("not uploaded yet"),
        "{text}"
    );
    assert_eq!(
        b.eval(&format!("{pending}.querySelector('img')")),
        Json::Null
    );
    // The PDF is a document tile, not an image.
    let doc = tile(&pdf_ref.sha256);
    assert_eq!(b.eval(&format!("{doc}.dataset.state")), json!("document"));
    assert_eq!(b.eval(&format!("{doc}.querySelector('img')")), Json::Null);
    if let Ok(path) = std::env::var("GRIDSYNC_DASHBOARD_CASE_SCREENSHOT") {
        screenshot(&mut b, &path);
    }
    // The lost one: a plain message, no image.
    let gone = tile(&lost_ref.sha256);
    b.wait_for(&format!("{gone}.dataset.state === 'error'"));
    assert_eq!(b.eval(&format!("{gone}.querySelector('img')")), Json::Null);
    let text = b.eval(&format!("{gone}.querySelector('.thumb').textContent"));
    assert!(!text.as_str().unwrap().is_empty(), "{text}");
    // Nowhere a broken image.
    assert_eq!(
        b.eval("[...document.querySelectorAll('#case-panel img')].filter(i => i.complete && i.naturalWidth === 0).length"),
        json!(0)
    );

    // Click the thumbnail: the full photo, at its real size.
    b.eval(&format!(
        "{}.querySelector('button').click()",
        tile(&shown_ref.sha256)
    ));
    b.wait_for("document.getElementById('photo-view').dataset.state === 'shown'");
    let full: (u32, u32) = serde_json::from_value(b.eval(
        "[document.getElementById('photo-full').naturalWidth, document.getElementById('photo-full').naturalHeight]",
    ))
    .unwrap();
    assert_eq!(full, (480, 360));
    b.eval("document.getElementById('photo-close').click()");
    assert_eq!(
        b.eval("document.getElementById('photo-view').hidden"),
        json!(true)
    );

    // The PDF opens in the same view.
    b.eval(&format!("{doc}.querySelector('button').click()"));
    b.wait_for("document.getElementById('photo-view').dataset.state === 'shown'");
    assert!(b
        .eval("document.querySelector('#photo-body iframe').src")
        .as_str()
        .unwrap()
        .starts_with("blob:"));
    b.eval("document.getElementById('photo-close').click()");

    // The photos came through the API (and count in the check below).
    assert_eq!(
        b.eval("performance.getEntriesByType('resource').some(e => e.name.endsWith('/thumbnail'))"),
        json!(true)
    );

    // The action's lost photo opened from the log: a plain message.
    b.eval("document.querySelector('#log-actions td[data-key=photo] button').click()");
    b.wait_for("document.getElementById('photo-view').dataset.state === 'error'");
    assert!(text_of(&mut b, "photo-body").contains("missing"));
    assert_eq!(
        b.eval("document.querySelectorAll('#photo-body img').length"),
        json!(0)
    );
    b.eval("document.getElementById('photo-close').click()");

    // Closing the panel revokes its object URLs.
    b.eval("document.getElementById('case-close').click()");
    assert_eq!(
        b.eval("document.getElementById('case-panel').hidden"),
        json!(true)
    );
    assert_eq!(
        b.eval(&format!(
            "fetch({thumb_url}).then(() => 'still there', () => 'revoked')"
        )),
        json!("revoked")
    );
    assert_only_local(&mut b, &s);

    // A supervisor of the other park: not in their lists, and the case does
    // not open for them.
    b.eval("sessionStorage.clear()");
    log_in(&mut b, &s, "sup2");
    set(&mut b, "report", "overdue");
    b.eval("document.getElementById('load').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'done'");
    assert_eq!(
        b.eval(&format!("document.querySelector(\"{row}\")")),
        Json::Null
    );
    b.eval(&format!("openCase('{id}')"));
    b.wait_for("document.getElementById('case-panel').dataset.state === 'error'");
    assert!(text_of(&mut b, "case-status").contains("not found"));
    assert_eq!(
        b.eval("document.querySelectorAll('#case-panel img').length"),
        json!(0)
    );
    assert_only_local(&mut b, &s);
}
