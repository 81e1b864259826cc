//! The field app and the terminal together: a `gridsync-device` phone and
//! the web app (headless Chromium at 360×780) work on shared records, each
//! offline in turn, and converge: the same values, members and conflicts on
//! both, as the server holds them.
//!
//! `cargo test -p gridsync-client --test app -- --ignored` (needs Chromium).

mod common;
// The server's Chromium driver; not every helper is used here.
#[allow(dead_code)]
#[path = "../../server/tests/common/app_driver.rs"]
mod app_driver;
#[allow(dead_code)]
#[path = "../../server/tests/common/browser.rs"]
mod browser;

use app_driver::{current, save, show, sign_in, sync};
use browser::{set, Browser};
use common::{ok, Server, PASSWORD};
use serde_json::{json, Value as Json};

/// A field as the app's record page shows it.
fn shown(b: &mut Browser, key: &str) -> String {
    b.eval(&format!(
        "(document.querySelector('#record-fields [data-key={key}]') || {{}}).textContent || ''"
    ))
    .as_str()
    .unwrap()
    .to_owned()
}

fn value(record: &Json, name: &str) -> Json {
    let f = &record["fields"][name];
    f.get("value").cloned().unwrap_or_else(|| f.clone())
}

#[test]
#[ignore = "needs Chromium: cargo test -p gridsync-client --test app -- --ignored"]
fn a_terminal_phone_and_the_app_converge_on_shared_records() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    server.user("wang", "grid_worker", "g1");
    let phone = tempfile::tempdir().unwrap();
    let phone = phone.path();
    ok(
        phone,
        &["enroll", "--server", &server.url, "--user", "wang"],
    );

    let mut b = Browser::launch();
    sign_in(&mut b, &server.url, "li", PASSWORD);

    // The app registers a household; the terminal phone pulls it.
    show(&mut b, "#/new?collection=household");
    set(&mut b, "f-address", "建设路 12号");
    set(&mut b, "f-tags", "出租屋");
    save(&mut b);
    sync(&mut b);
    let id = current(&mut b);
    ok(phone, &["sync"]);
    let on_phone = ok(phone, &["show", &id]);
    assert_eq!(
        value(&on_phone, "address"),
        json!("建设路 12号"),
        "{on_phone}"
    );

    // Each edits it while the other does too: the terminal adds a tag and
    // writes the note, the app writes the note too.
    ok(
        phone,
        &["edit", &id, "note=王：二楼空置", "--add", "tags=重点关注"],
    );
    show(&mut b, &format!("#/edit/{id}"));
    set(&mut b, "f-note", "李：二楼有人住");
    save(&mut b);
    sync(&mut b);
    ok(phone, &["sync"]);
    sync(&mut b);

    // Both hold the same: both tags, the note in conflict with both values.
    let on_phone = ok(phone, &["show", &id]);
    show(&mut b, &format!("#/record/{id}"));
    let tags = shown(&mut b, "tags");
    assert!(
        tags.contains("出租屋") && tags.contains("重点关注"),
        "{tags}"
    );
    assert_eq!(value(&on_phone, "tags"), json!(["出租屋", "重点关注"]));
    let note = shown(&mut b, "note");
    assert!(
        note.contains("王：二楼空置") && note.contains("李：二楼有人住"),
        "{note}"
    );
    assert_eq!(
        on_phone["fields"]["note"]["conflict"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{on_phone}"
    );

    // The terminal resolves it; the app shows the resolution.
    ok(phone, &["resolve", &id, "note", "李：二楼有人住，已核实"]);
    ok(phone, &["sync"]);
    sync(&mut b);
    show(&mut b, &format!("#/record/{id}"));
    assert_eq!(shown(&mut b, "note"), "李：二楼有人住，已核实");
    let server_side = server.get(&format!("/v1/records/{id}?grid=g1"));
    assert_eq!(
        server_side["record"]["fields"]["note"],
        json!({"value": "李：二楼有人住，已核实"})
    );
}
