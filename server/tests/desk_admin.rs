//! The desk's admin screens in a real headless Chromium against a real
//! server and a real phone: an admin revokes a device and its next sync is
//! refused; creates a user and moves one to a department; uploads a
//! register, reads the dry run's report, confirms it; filters the audit
//! log; adds a grid and renames a department. The users page at phone
//! width does not scroll sideways.
//!
//! `cargo test -p gridsync-server --test desk_admin -- --ignored`.

// The harness's backend macro is for the two-backend suites, not this one.
#[allow(unused)]
mod common;

use std::path::PathBuf;

use common::browser::{desk_log_in, screenshot, set, Browser};
use common::{Phone, TestServer, ADMIN, PASSWORD};
use serde_json::{json, Value as Json};

/// Open an admin page and wait until it has loaded.
fn open(b: &mut Browser, page: &str, ready: &str) {
    b.eval(&format!("location.hash = '#/admin/{page}'"));
    b.wait_for(&format!(
        "document.querySelector({}) && document.querySelector('#status').dataset.state === 'done'",
        json!(ready)
    ));
}

fn click(b: &mut Browser, selector: &str) {
    b.wait_for(&format!("document.querySelector({})", json!(selector)));
    b.eval(&format!(
        "document.querySelector({}).click()",
        json!(selector)
    ));
}

fn submit(b: &mut Browser, form: &str) {
    b.eval(&format!(
        "document.getElementById('{form}').requestSubmit()"
    ));
}

fn text(b: &mut Browser, selector: &str) -> String {
    b.eval(&format!(
        "(document.querySelector({}) || {{}}).textContent || ''",
        json!(selector)
    ))
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Where screenshots go, when `GRIDSYNC_DESK_SCREENSHOTS` names a folder
/// (relative to the workspace).
fn screenshot_dir() -> Option<PathBuf> {
    let dir = std::env::var("GRIDSYNC_DESK_SCREENSHOTS").ok()?;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

/// A user as the API has them.
fn user(s: &TestServer, username: &str) -> Json {
    let (_, users) = s.get_as(&s.admin_token(), "/v1/users");
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .cloned()
        .unwrap_or(Json::Null)
}

fn households(s: &TestServer, grid: &str) -> usize {
    s.get(&format!("/v1/grids/{grid}/records?collection=household"))["records"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
#[ignore = "needs Chromium (apt-get install chromium): cargo test -p gridsync-server --test desk_admin -- --ignored"]
fn an_admin_manages_devices_users_imports_and_reads_the_audit_log() {
    let backend = common::Backend::sqlite();
    let s = TestServer::start(&backend);
    let mut phone = Phone::enroll(&s, "li", "grid_worker", "g1", &["g1"]);
    phone.sync(&s);
    let (st, _) = s.call(
        s.authed(ureq::post(&s.url("/v1/org/nodes")), &s.admin_token()),
        Some(json!({"code": "water", "parent": "d", "level": "department", "name": "区水务局"})),
    );
    assert_eq!(st, 201);

    let mut b = Browser::launch();
    desk_log_in(&mut b, &s.base, ADMIN, PASSWORD);

    // Devices: the phone with its user and last sync; revoked after a
    // confirmation; its next sync is refused.
    let row = format!("tr[data-device='{}']", phone.device_id);
    open(&mut b, "devices", &row);
    assert!(text(&mut b, &row).contains("li"), "{}", text(&mut b, &row));
    let synced = text(&mut b, &format!("{row} [data-key=last_sync]"));
    assert!(synced.starts_with("20"), "a time: {synced}");
    click(&mut b, &format!("{row} [data-action=revoke]"));
    click(&mut b, "#revoke-confirm");
    b.wait_for(&format!(
        "/已吊销|Revoked/.test(document.querySelector(\"{row} [data-key=state]\").textContent)"
    ));
    let (st, body) = s.sync(
        &phone.token,
        json!({"actor": phone.actor(), "changes": [], "grids": ["g1"]}),
    );
    assert_eq!((st, body["code"].as_str()), (401, Some("device_revoked")));

    // Users: a new user; an error shown with its code; a move to a
    // department (role and node together).
    open(&mut b, "users", "#admin-users");
    click(&mut b, "#user-new");
    set(&mut b, "new-username", "zhao");
    set(&mut b, "new-full-name", "赵敏");
    set(&mut b, "new-password", "a long enough password");
    set(&mut b, "new-role", "grid_worker");
    set(&mut b, "new-node", "g2");
    submit(&mut b, "user-create");
    b.wait_for("document.querySelector('tr[data-username=zhao]')");
    let zhao = user(&s, "zhao");
    assert_eq!(
        (zhao["role"].as_str(), zhao["node"].as_str()),
        (Some("grid_worker"), Some("g2"))
    );
    click(&mut b, "#user-new");
    set(&mut b, "new-username", "zhao");
    set(&mut b, "new-full-name", "又一个赵");
    set(&mut b, "new-password", "a long enough password");
    submit(&mut b, "user-create");
    b.wait_for("/username_taken/.test(document.querySelector('.admin-error').textContent)");
    click(&mut b, "#user-create button[type=button]");
    click(&mut b, "tr[data-username=zhao] [data-action=move]");
    set(&mut b, "move-role", "department");
    set(&mut b, "move-node", "water");
    submit(&mut b, "user-move");
    b.wait_for("/water/.test(document.querySelector('tr[data-username=zhao]').textContent)");
    let zhao = user(&s, "zhao");
    assert_eq!(
        (zhao["role"].as_str(), zhao["node"].as_str()),
        (Some("department"), Some("water"))
    );
    // At phone width the page does not scroll sideways.
    b.call(
        "Emulation.setDeviceMetricsOverride",
        &json!({"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": true}),
    );
    b.wait_for("document.documentElement.scrollWidth <= 360");
    let wide = b.eval("document.documentElement.scrollWidth");
    assert!(wide.as_i64().unwrap() <= 360, "{wide}");
    if let Some(dir) = screenshot_dir() {
        screenshot(&mut b, dir.join("admin-users.png").to_str().unwrap());
    }
    b.call(
        "Emulation.setDeviceMetricsOverride",
        &json!({"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false}),
    );

    // Import: a CSV checked (nothing written, its problems listed), then
    // imported.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("房屋.csv");
    std::fs::write(
        &csv,
        "网格编码 grid,地址 address,房屋用途 use\r\ng1,幸福路1号,自住\r\ng1,幸福路2号,不知道\r\nother-grid,和平路3号,自住\r\n",
    )
    .unwrap();
    open(&mut b, "import", "#import-form");
    let doc = b.call("DOM.getDocument", &json!({}));
    let input = b.call(
        "DOM.querySelector",
        &json!({"nodeId": doc["root"]["nodeId"], "selector": "#import-file"}),
    );
    b.call(
        "DOM.setFileInputFiles",
        &json!({"nodeId": input["nodeId"], "files": [csv.to_str().unwrap()]}),
    );
    set(&mut b, "import-node", "c1");
    set(&mut b, "import-collection", "household");
    submit(&mut b, "import-form");
    b.wait_for("document.querySelector('#import-report[data-run=dry]')");
    let refused = b.eval(
        "[...document.querySelectorAll('#import-refusals tbody tr')].map(tr => tr.dataset.row)",
    );
    assert_eq!(refused, json!(["3", "4"]), "the two bad rows");
    assert_eq!(
        text(
            &mut b,
            "#import-counts tr[data-collection=total] td:nth-child(2)"
        ),
        "1"
    );
    assert_eq!(households(&s, "g1"), 0, "a dry run writes nothing");
    click(&mut b, "#import-confirm");
    b.wait_for("document.querySelector('#import-report[data-run=done]')");
    assert_eq!(
        households(&s, "g1"),
        1,
        "confirmed, the row is in the store"
    );

    // Audit: filtered by what and who.
    open(&mut b, "audit", "#admin-audit");
    set(&mut b, "audit-action", "revoke_device");
    set(&mut b, "audit-who", ADMIN);
    submit(&mut b, "audit-form");
    b.wait_for(
        "location.hash.includes('action=revoke_device') && \
         document.querySelectorAll('#admin-audit tbody tr').length === 1",
    );
    let target = text(&mut b, "#admin-audit tbody tr td:nth-child(4)");
    assert_eq!(target, format!("device:{}", phone.device_id));
    set(&mut b, "audit-action", "import_registers");
    submit(&mut b, "audit-form");
    b.wait_for(
        "location.hash.includes('action=import_registers') && \
         [...document.querySelectorAll('#admin-audit tbody tr')].every(tr => tr.dataset.action === 'import_registers') && \
         document.querySelectorAll('#admin-audit tbody tr').length === 1",
    );

    // The org tree: a grid added under a community, a department renamed.
    open(&mut b, "org", "#org-tree");
    click(
        &mut b,
        "li[data-code=c1] > details > .org-row [data-action=add]",
    );
    set(&mut b, "org-level", "grid");
    set(&mut b, "org-code", "g7");
    set(&mut b, "org-name", "七号网格");
    submit(&mut b, "org-form");
    b.wait_for("document.querySelector('li[data-code=g7]')");
    click(
        &mut b,
        "#org-departments li[data-code=water] [data-action=rename]",
    );
    set(&mut b, "org-name", "区水利局");
    submit(&mut b, "org-form");
    b.wait_for("/区水利局/.test(document.querySelector('#org-departments').textContent)");
    let (_, tree) = s.get_as(&s.admin_token(), "/v1/org/nodes");
    let node = |code: &str| {
        tree["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["code"] == code)
            .cloned()
            .unwrap_or(Json::Null)
    };
    assert_eq!(
        (node("g7")["parent"].as_str(), node("g7")["level"].as_str()),
        (Some("c1"), Some("grid"))
    );
    assert_eq!(node("water")["name"], "区水利局");
}
