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
use common::browser::{
    assert_only_local, click, desk_at, hash, keep, open, screenshot, set, text_of, viewport,
    wait_done, Browser,
};
use common::photos::{begin, jpeg, patch, reference};
use common::{Backend, Phone, TestServer, PASSWORD};
use gridsync_core::{Attachment, Entry, Value};
use report_fixture::{fixture, today};
use serde_json::{json, Value as Json};
use uuid::Uuid;

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

/// A browser of `size` (width, height, mobile) on the desk as `chief`, at
/// `node`'s dashboard for the three days around today.
fn dashboard_at(s: &TestServer, node: &str, size: (u32, u32, bool)) -> Browser {
    let t = today();
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    viewport(&mut b, size.0, size.1, size.2);
    desk_at(
        &mut b,
        &s.base,
        "chief",
        PASSWORD,
        &format!(
            "#/dashboard?node={node}&period=range&from={}&to={}",
            t - Days::days(1),
            t + Days::days(1)
        ),
    );
    b
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

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_supervisor_reads_the_district_on_the_desk() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    fixture(&s);
    s.supervisor_token(); // creates `chief`, supervisor of the district
                          // Loaded on arrival: no button to press.
    let mut b = dashboard_at(&s, "d", (1366, 768, false));
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
    open(&mut b, &s.base, "#/dashboard?node=d&report=overdue");
    for list in ["cases", "petitions", "mediations", "key_persons", "places"] {
        let n = b.eval(&format!(
            "document.querySelector('#dash-list-counts [data-key={list}] .dash-card-value').textContent"
        ));
        assert_eq!(n, json!("1"), "{list}");
    }
    assert_eq!(shown(&mut b, "dash-list-key_persons", "label")[0].1, "张*");
    // The brief, printable: the print style hides the desk's chrome.
    open(&mut b, &s.base, "#/brief?node=d");
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
    assert_only_local(&mut b, &s.base);
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
    desk_at(&mut b, &s.base, "chief", PASSWORD, "#/dashboard?node=d");
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
    open(&mut b, &s.base, "#/dashboard?node=g1");
    click(&mut b, ".dash-crumbs a[href*='node=p1']");
    wait_done(&mut b);
    assert!(hash(&mut b).contains("node=p1"));

    // The map shows the case, and its grid's outline; a click opens it.
    open(&mut b, &s.base, "#/map?node=c1");
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
        &s.base,
        "#/search?q=%E5%85%89%E8%B0%B7%E5%A4%A7%E9%81%93",
    );
    let hits = shown(&mut b, "search-table", "title");
    assert_eq!(hits, [(e1.clone(), "消防通道堵塞".to_owned())]);
    click(&mut b, &format!("#search-table tr[data-row='{e1}']"));
    b.wait_for(&format!("location.hash === '#/case/{e1}'"));
    assert_only_local(&mut b, &s.base);
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test dashboard -- --ignored"]
fn a_grid_workers_masked_fields_stay_masked_on_the_desk() {
    let backend = Backend::sqlite();
    let s = TestServer::start(&backend);
    let f = fixture(&s);
    let mut b = Browser::launch();
    b.call("Page.enable", &json!({}));
    desk_at(
        &mut b,
        &s.base,
        "w1",
        PASSWORD,
        "#/search?q=%E5%BC%A0%E4%B8%89",
    );
    let hits = shown(&mut b, "search-table", "title");
    assert_eq!(hits, [(f.kp.to_string(), "张*".to_owned())]);
    let fields = shown(&mut b, "search-table", "fields");
    assert!(fields[0].1.contains("420202********1231"), "{fields:?}");
    let page = b.eval("document.body.innerText");
    assert!(!page.as_str().unwrap().contains("420202199001011231"));
    // The ID number itself finds nothing for the worker.
    open(&mut b, &s.base, "#/search?q=420202199001011231");
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
    let mut b = dashboard_at(&s, "c1", (360, 780, true));
    assert_eq!(card(&mut b, "records"), "14");
    // No sideways scroll: the page is as wide as the screen.
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        json!(true),
        "{}",
        b.eval("document.documentElement.scrollWidth")
    );
    keep(&mut b, "dashboard-community-phone.png");
    open(&mut b, &s.base, "#/map?node=c1");
    assert_eq!(
        b.eval("document.documentElement.scrollWidth <= window.innerWidth"),
        json!(true)
    );
    // Keyboard: the rows are in the tab order and open with Enter.
    let t = today();
    open(
        &mut b,
        &s.base,
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
    // The case from the district's overdue list, by a click.
    desk_at(
        &mut b,
        &s.base,
        "chief",
        PASSWORD,
        "#/dashboard?report=overdue",
    );
    let row = format!("tr[data-row='{id}']");
    b.wait_for(&format!("document.querySelector(\"{row}\")"));
    click(&mut b, &row);
    b.wait_for(&format!("location.hash === '#/case/{id}'"));
    wait_done(&mut b);
    assert!(text_of(&mut b, "case-title").contains("Blocked fire exit"));
    // Fields and codes by the schema's labels, not codes.
    let fields = text_of(&mut b, "case-fields");
    for want in ["事件类别", "消防安全", "已上报", "w1", "已超期"] {
        assert!(fields.contains(want), "{want} in {fields}");
    }
    for code in ["fire_safety", "reported"] {
        assert!(!fields.contains(code), "{code} in {fields}");
    }
    assert!(text_of(&mut b, "log-actions").contains("已受理"));

    // The uploaded photo: a thumbnail of at most 320 px, fetched with the session.
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
    assert!(photos.contains("处置前"), "the stage's label: {photos}");

    // The one not uploaded yet says so, plainly: no image.
    let pending = tile(&pending_ref.sha256);
    let text = b.eval(&format!("{pending}.textContent"));
    assert!(text.as_str().unwrap().contains("照片尚未上传"), "{text}");
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
    // Nowhere a broken image.
    assert_eq!(
        b.eval("[...document.querySelectorAll('#view img')].filter(i => i.complete && i.naturalWidth === 0).length"),
        json!(0)
    );

    // Click the thumbnail: the full photo, at its real size.
    b.eval(&format!(
        "{}.querySelector('button').click()",
        tile(&shown_ref.sha256)
    ));
    b.wait_for("document.getElementById('photo-view') && document.getElementById('photo-view').dataset.state === 'shown'");
    let full: (u32, u32) = serde_json::from_value(b.eval(
        "new Promise(r => { const i = document.getElementById('photo-full'); \
         const go = () => r([i.naturalWidth, i.naturalHeight]); i.complete ? go() : i.onload = go; })",
    ))
    .unwrap();
    assert_eq!(full, (480, 360));
    b.eval("document.getElementById('photo-close').click()");
    assert_eq!(b.eval("document.getElementById('photo-view')"), Json::Null);

    // The PDF opens in the same view.
    b.eval(&format!("{doc}.querySelector('button').click()"));
    b.wait_for("document.getElementById('photo-view') && document.getElementById('photo-view').dataset.state === 'shown'");
    assert!(b
        .eval("document.querySelector('#photo-body iframe').src")
        .as_str()
        .unwrap()
        .starts_with("blob:"));
    b.eval("document.getElementById('photo-close').click()");

    // The action's lost photo opened from the log: a plain message.
    b.eval("document.querySelector('#log-actions td[data-key=photo] button').click()");
    b.wait_for("document.getElementById('photo-view') && document.getElementById('photo-view').dataset.state === 'error'");
    assert!(text_of(&mut b, "photo-body").contains("丢失"));
    assert_eq!(
        b.eval("document.querySelectorAll('#photo-body img').length"),
        json!(0)
    );
    b.eval("document.getElementById('photo-close').click()");

    // Leaving the case page revokes its object URLs.
    open(&mut b, &s.base, "#/queue");
    assert_eq!(
        b.eval(&format!(
            "fetch({thumb_url}).then(() => 'still there', () => 'revoked')"
        )),
        json!("revoked")
    );
    assert_only_local(&mut b, &s.base);

    // A supervisor of the other park: the case does not open for them.
    b.eval("fetch('/v1/auth/session', {method: 'DELETE', headers: {'X-CSRF-Token': 'x'}})");
    let mut b = Browser::launch();
    desk_at(&mut b, &s.base, "sup2", PASSWORD, "#/queue");
    b.call(
        "Page.navigate",
        &json!({"url": s.url(&format!("/desk#/case/{id}"))}),
    );
    b.wait_for("document.getElementById('status').dataset.state === 'error'");
    assert_eq!(
        b.eval("document.querySelectorAll('#view img').length"),
        json!(0)
    );
    assert_only_local(&mut b, &s.base);
}
