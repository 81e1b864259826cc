//! The dashboard in headless Chromium, driven over the DevTools protocol
//! (a WebSocket, no chromedriver): log in on the page, open the district's
//! summary and overdue lists, read the figures from the page and compare them
//! with the hand-counted district of `report_fixture`; open an overdue case
//! and see its photos (a thumbnail, the full photo, one not uploaded yet, a
//! PDF, one lost by the store), and a supervisor of another park not see it.
//!
//! Ignored by a plain `cargo test` (it needs Chromium: Debian's `chromium`
//! package, which `.ci/run` installs); run it with
//! `cargo test -p gridsync-server --test dashboard -- --ignored`.
//! `GRIDSYNC_CHROMIUM` names another browser binary;
//! `GRIDSYNC_DASHBOARD_SCREENSHOT=file.png` saves the district summary as seen,
//! `GRIDSYNC_DASHBOARD_CASE_SCREENSHOT=file.png` the case panel with its photos.

// The harness's backend macro is for the two-backend suites, not this one.
#[allow(unused)]
mod common;
mod report_fixture;

use chrono::Duration as Days;
use common::browser::{column, screenshot, set, text_of, Browser};
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
    // Codes show as the schema's labels.
    let names: Vec<String> = column(&mut b, "by_collection", "collection")
        .into_iter()
        .map(|(_, shown)| shown)
        .collect();
    assert!(names.contains(&"事件".to_owned()), "{names:?}");
    assert!(!names.contains(&"event".to_owned()), "{names:?}");
    let statuses: Vec<String> = column(&mut b, "by_status", "status")
        .into_iter()
        .map(|(_, shown)| shown)
        .collect();
    assert!(statuses.contains(&"已上报".to_owned()), "{statuses:?}");
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
        screenshot(&mut b, &path);
    }

    // The overdue lists: one of each; the key person's name masked.
    set(&mut b, "report", "overdue");
    b.eval("document.getElementById('load').click()");
    b.wait_for("document.getElementById('status').dataset.state === 'done' && document.getElementById('table-key_persons')");
    for list in ["cases", "petitions", "mediations", "key_persons", "places"] {
        assert_eq!(text_of(&mut b, &format!("total-{list}")), "1", "{list}");
    }
    // Every list of the schema has its card, the new ones too.
    for list in gridsync_core::schema::OVERDUE_LISTS {
        assert_eq!(
            b.eval(&format!("!!document.getElementById('total-{}')", list.code)),
            json!(true),
            "{}",
            list.code
        );
    }
    assert_eq!(column(&mut b, "key_persons", "label")[0].1, "张*");

    // Nothing came from anywhere but this server.
    assert_only_local(&mut b, &s);
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
