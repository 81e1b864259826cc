//! The desk in headless Chromium (over the DevTools protocol) against the
//! real server, with real `gridsync-device` phones: a supervisor dispatches a
//! phone-reported event to a department, the department's user finds it in
//! the inbox and completes it with a photo, the supervisor closes it, and the
//! phone shows the final state after its sync; a conflict made by two phones
//! is decided on the desk and both phones agree; a quarantined change is
//! accepted and appears in its grid; a write from a page on another origin
//! is refused. Nothing is loaded from outside in any of them.
//!
//! Ignored by a plain `cargo test` (it needs Chromium); run it with
//! `cargo test -p gridsync-client --test desk -- --ignored`.
//! `GRIDSYNC_DESK_SCREENSHOTS=docs/desk` keeps the queue and the case page.

mod common;
// The server's Chromium driver; not every helper is used here.
#[allow(dead_code)]
#[path = "../../server/tests/common/browser.rs"]
mod browser;

use browser::{
    assert_only_local, desk_at, desk_log_in, keep, set, text_of, viewport, wait_done, Browser,
};
use common::{device, jpeg, ok, Server, PASSWORD};
use gridsync_server::db::models::OrgNodeRow;
use serde_json::{json, Value as Json};

/// A fresh phone folder with `username`'s install enrolled in it.
fn enrolled(server: &Server, username: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["enroll", "--server", &server.url, "--user", username],
    );
    dir
}

/// An event the phone in `dir` reports in g1 with `fields`: its id.
fn report(dir: &std::path::Path, fields: &[&str]) -> String {
    let mut args = vec!["create", "event", "--grid", "g1", "status=reported"];
    args.extend_from_slice(fields);
    ok(dir, &args)["id"].as_str().unwrap().to_owned()
}

fn department(server: &Server, code: &str, name: &str) {
    server
        .store
        .create_node(&OrgNodeRow {
            code: code.into(),
            parent: Some("d".into()),
            level: "department".into(),
            name: name.into(),
            created_at: 0,
            updated_at: 0,
        })
        .unwrap();
}

/// A scalar field of a record as a phone shows it.
fn field(record: &Json, name: &str) -> Json {
    let f = &record["fields"][name];
    f.get("value").cloned().unwrap_or_else(|| f.clone())
}

/// Click a flow action on the case page and wait for the page to reload.
fn act(b: &mut Browser, to: &str) {
    b.eval(&format!(
        "document.getElementById('status').dataset.state = 'clicked'; \
         document.querySelector('#case-actions button[data-to={to}]').click()"
    ));
    b.wait_for(&format!(
        "document.querySelector('#view[data-status={to}]') && document.getElementById('status').dataset.state === 'done'"
    ));
}

/// Submit a form of the page and wait for the page to reload; what the
/// page said when it fails instead.
fn submit(b: &mut Browser, form: &str) {
    b.eval(&format!(
        "document.getElementById('status').dataset.state = 'clicked'; \
         document.getElementById('{form}').requestSubmit()"
    ));
    b.wait_for(
        "document.getElementById('status').dataset.state === 'done' || \
         (document.getElementById('action-result') || {dataset: {}}).dataset.state === 'error'",
    );
    let said = b.eval("(document.getElementById('action-result') || {}).textContent || ''");
    assert_ne!(
        b.eval("(document.getElementById('action-result') || {dataset: {}}).dataset.state || ''"),
        json!("error"),
        "{form}: {said}"
    );
    wait_done(b);
}

fn sign_out(b: &mut Browser) {
    b.eval("document.getElementById('sign-out').click()");
    b.wait_for(
        "document.body.dataset.session === 'none' && !document.getElementById('login-view').hidden",
    );
}

#[test]
#[ignore = "needs Chromium: cargo test -p gridsync-client --test desk -- --ignored"]
fn a_reported_event_is_dispatched_worked_by_a_department_and_closed() {
    let server = Server::start();
    server.user("chief", "supervisor", "d");
    department(&server, "fire", "区消防救援大队");
    server.user("fire1", "department", "fire");
    server.user("li", "grid_worker", "g1");
    let phone = enrolled(&server, "li");
    let phone = phone.path();
    let id = report(phone, &["title=消防通道堵塞", "category=fire_safety"]);
    ok(phone, &["sync"]);

    // The supervisor finds it in g1's queue, to accept.
    let mut b = Browser::launch();
    viewport(&mut b, 1366, 768, false);
    desk_at(
        &mut b,
        &server.url,
        "chief",
        PASSWORD,
        "#/queue?node=g1&tab=accept",
    );
    let row = format!("#queue-body tr[data-id='{id}']");
    assert_eq!(
        b.eval(&format!("!!document.querySelector(\"{row}\")")),
        json!(true)
    );
    assert!(text_of(&mut b, "queue-body").contains("消防通道堵塞"));
    keep(&mut b, "desk-queue.png");
    b.eval(&format!(
        "document.getElementById('status').dataset.state = 'clicked'; document.querySelector(\"{row} a\").click()"
    ));
    wait_done(&mut b);
    assert!(text_of(&mut b, "case-title").contains("消防通道堵塞"));
    // Accept, verify, dispatch to the department.
    act(&mut b, "accepted");
    act(&mut b, "verified");
    set(&mut b, "dispatch-to", "department:fire");
    submit(&mut b, "dispatch-form");
    assert_eq!(
        b.eval("document.getElementById('view').dataset.status"),
        json!("dispatched")
    );
    assert!(text_of(&mut b, "case-fields").contains("区消防救援大队"));
    assert_only_local(&mut b, &server.url);
    sign_out(&mut b);

    // The department's user: it is in the inbox, assigned to them.
    desk_log_in(&mut b, &server.url, "fire1", PASSWORD);
    assert_eq!(
        b.eval(&format!(
            "document.querySelector(\"#queue-body tr[data-id='{id}']\").dataset.kind"
        )),
        json!("assigned")
    );
    b.eval(&format!(
        "document.getElementById('status').dataset.state = 'clicked'; \
         document.querySelector(\"#queue-body tr[data-id='{id}'] a\").click()"
    ));
    wait_done(&mut b);
    // A photo of the work done, uploaded from the desk.
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("通道已清理.jpg");
    let bytes = jpeg(640, 480, 7);
    std::fs::write(&photo, &bytes).unwrap();
    let doc = b.call("DOM.getDocument", &json!({}));
    let input = b.call(
        "DOM.querySelector",
        &json!({"nodeId": doc["root"]["nodeId"], "selector": "#photo-file"}),
    );
    b.call(
        "DOM.setFileInputFiles",
        &json!({"nodeId": input["nodeId"], "files": [photo.to_str().unwrap()]}),
    );
    set(&mut b, "photo-note", "已清理完毕");
    submit(&mut b, "photo-form");
    b.wait_for("document.querySelector('#case-photos .photo[data-state=shown]')");
    act(&mut b, "handled");
    sign_out(&mut b);

    // The supervisor checks and closes it; the timeline names who did what.
    desk_at(
        &mut b,
        &server.url,
        "chief",
        PASSWORD,
        &format!("#/case/{id}?grid=g1"),
    );
    b.wait_for("document.querySelector('#case-photos .photo[data-state=shown]')");
    act(&mut b, "checked");
    act(&mut b, "closed");
    let timeline = text_of(&mut b, "timeline");
    for who in ["li", "chief", "fire1"] {
        assert!(timeline.contains(who), "{who} in {timeline}");
    }
    b.wait_for("document.querySelector('#case-photos .photo[data-state=shown]')");
    keep(&mut b, "desk-case.png");
    viewport(&mut b, 360, 780, true);
    b.wait_for("document.documentElement.scrollWidth <= 360");
    keep(&mut b, "desk-case-phone.png");
    assert_only_local(&mut b, &server.url);

    // The phone, after its sync: closed, dispatched to the department, the
    // department's photo in its log, and the photo's bytes to be had.
    ok(phone, &["sync"]);
    let record = ok(phone, &["show", &id]);
    assert_eq!(field(&record, "status"), json!("closed"), "{record}");
    assert_eq!(
        field(&record, "assignee"),
        json!("department:fire"),
        "{record}"
    );
    let photos = record["fields"]["photos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(photos.len(), 1, "{record}");
    assert_eq!(photos[0]["fields"]["stage"], "after");
    assert_eq!(photos[0]["fields"]["note"], "已清理完毕");
    let sha = photos[0]["fields"]["photo"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = dir.path().join("fetched.jpg");
    ok(phone, &["fetch", &sha, "--out", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
}

#[test]
#[ignore = "needs Chromium: cargo test -p gridsync-client --test desk -- --ignored"]
fn a_conflict_made_by_two_phones_is_decided_on_the_desk() {
    let server = Server::start();
    server.user("chief", "supervisor", "d");
    server.user("li", "grid_worker", "g1");
    server.user("wang", "grid_worker", "g1");
    let (a, b_) = (enrolled(&server, "li"), enrolled(&server, "wang"));
    let (a, p2) = (a.path(), b_.path());
    let id = report(a, &["title=楼道堆物"]);
    ok(a, &["sync"]);
    ok(p2, &["sync"]);
    ok(a, &["edit", &id, "description=甲说：杂物已清走"]);
    ok(p2, &["edit", &id, "description=乙说：杂物仍在"]);
    ok(a, &["sync"]);
    ok(p2, &["sync"]);
    ok(a, &["sync"]);
    assert_eq!(ok(a, &["conflicts"]).as_array().unwrap().len(), 1);

    let mut b = Browser::launch();
    desk_at(&mut b, &server.url, "chief", PASSWORD, "#/conflicts");
    let card = format!("#conflicts .card[data-id='{id}']");
    let text = b.eval(&format!("document.querySelector(\"{card}\").textContent"));
    let text = text.as_str().unwrap();
    // Side by side, each with its writer.
    for want in ["甲说：杂物已清走", "乙说：杂物仍在", "li", "wang"] {
        assert!(text.contains(want), "{want} in {text}");
    }
    // Pick wang's.
    b.eval(&format!(
        "[...document.querySelectorAll(\"{card} .choice\")].find(c => c.textContent.includes('乙说')).querySelector('button').click()"
    ));
    b.wait_for(&format!(
        "document.querySelector(\"#conflicts .card[data-id='{id}']\") && \
         document.querySelector(\"#conflicts .card[data-id='{id}']\").textContent.includes('已裁决')"
    ));
    assert_only_local(&mut b, &server.url);

    for phone in [a, p2] {
        ok(phone, &["sync"]);
        let record = ok(phone, &["show", &id]);
        assert_eq!(
            field(&record, "description"),
            json!("乙说：杂物仍在"),
            "{record}"
        );
        assert_eq!(ok(phone, &["conflicts"]), json!([]));
    }
}

#[test]
#[ignore = "needs Chromium: cargo test -p gridsync-client --test desk -- --ignored"]
fn a_quarantined_change_is_accepted_on_the_desk_and_appears_in_its_grid() {
    let server = Server::start();
    server.user("chief", "supervisor", "d");
    server.user("li", "grid_worker", "g1");
    let phone = enrolled(&server, "li");
    let phone = phone.path();
    // Handed to a department the server does not know (yet): refused, kept.
    let id = report(phone, &["title=井盖缺失", "assignee=department:roads"]);
    // The sync says a change was refused (its exit status too).
    let (synced, _, _) = device(phone, &["sync"]);
    assert!(!synced, "a refused change fails the sync's exit status");
    let refused = ok(phone, &["refused"]);
    assert!(
        refused.to_string().contains("unknown_assignee"),
        "{refused}"
    );
    department(&server, "roads", "区市政局");

    let mut b = Browser::launch();
    desk_at(&mut b, &server.url, "chief", PASSWORD, "#/quarantine");
    let table = text_of(&mut b, "quarantine");
    assert!(
        table.contains("unknown_assignee") && table.contains("井盖缺失"),
        "{table}"
    );
    b.eval("document.querySelector('#quarantine tbody tr button.accept').click()");
    b.wait_for("document.querySelector('#quarantine tbody tr').dataset.state === 'accept'");
    assert_only_local(&mut b, &server.url);

    let listed = server.get("/v1/grids/g1/records?collection=event");
    assert!(
        listed["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id.as_str()),
        "{listed}"
    );
    ok(phone, &["sync"]);
    let record = ok(phone, &["show", &id]);
    assert_eq!(
        field(&record, "assignee"),
        json!("department:roads"),
        "{record}"
    );
}

#[test]
#[ignore = "needs Chromium: cargo test -p gridsync-client --test desk -- --ignored"]
fn a_write_from_a_page_on_another_origin_is_refused() {
    let server = Server::start();
    let elsewhere = Server::start();
    server.user("chief", "supervisor", "d");
    server.user("li", "grid_worker", "g1");
    let phone = enrolled(&server, "li");
    let phone = phone.path();
    let id = report(phone, &["title=路灯不亮"]);
    ok(phone, &["sync"]);

    // Signed in to the desk; then a page of another origin (the same host,
    // another port: the same site, so the cookie goes along) tries to write.
    let mut b = Browser::launch();
    desk_log_in(&mut b, &server.url, "chief", PASSWORD);
    b.call(
        "Page.navigate",
        &json!({"url": format!("{}/healthz", elsewhere.url)}),
    );
    b.wait_for("document.readyState === 'complete'");
    let target = format!("{}/v1/records/{id}/edits?grid=g1", server.url);
    // fetch without CORS: sent with the cookie, its answer unreadable.
    let sent = b.eval(&format!(
        "fetch({}, {{method: 'POST', mode: 'no-cors', credentials: 'include', \
         headers: {{'Content-Type': 'text/plain'}}, body: JSON.stringify({{set: {{status: 'accepted'}}}})}}) \
         .then(() => 'sent', e => 'failed: ' + e)",
        json!(target)
    ));
    assert_eq!(sent, json!("sent"));
    // A form posted across: the answer is the page, and it says why.
    b.eval(&format!(
        "(() => {{ const f = document.createElement('form'); f.method = 'POST'; f.action = {}; \
         f.enctype = 'text/plain'; const i = document.createElement('input'); \
         i.name = '{{\"set\":{{\"status\":\"accepted\"}},\"x\":\"'; i.value = '\"}}'; f.append(i); \
         document.body.append(f); f.submit(); }})()",
        json!(target)
    ));
    b.wait_for("location.pathname.endsWith('/edits') && document.readyState === 'complete'");
    let answer = b.eval("document.body.textContent");
    assert!(answer.as_str().unwrap().contains("csrf_failed"), "{answer}");

    // Nothing was written.
    let record = server.get(&format!("/v1/records/{id}?grid=g1"));
    assert_eq!(
        record["record"]["fields"]["status"]["value"], "reported",
        "{record}"
    );
    assert_eq!(record["history"].as_array().unwrap().len(), 1, "{record}");
}
