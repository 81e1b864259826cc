//! Driving the field app (`/app/`) in Chromium as a person does, for the
//! server's suites (`common::app_driver`) and the client's (included by
//! path beside `browser`).

use serde_json::json;

use super::browser::{keep, set, viewport, Browser};

/// A phone-sized page on `base`'s app, signed in as `username` (the app
/// registers itself as a device) and synced.
pub fn sign_in(b: &mut Browser, base: &str, username: &str, password: &str) {
    b.call("Page.enable", &json!({}));
    b.call("Network.enable", &json!({}));
    viewport(b, 360, 780, true);
    // `/app` sends to `/app/`, the service worker's scope.
    b.call("Page.navigate", &json!({"url": format!("{base}/app")}));
    b.wait_for("document.getElementById('status').dataset.state === 'signed-out'");
    keep(b, "app-login.png");
    set(b, "username", username);
    set(b, "password", password);
    b.eval("document.getElementById('login').click()");
    b.wait_for(
        "document.getElementById('status').dataset.state === 'ready' \
         && document.getElementById('view').dataset.ready === 'true'",
    );
}

/// Open `hash` (again, if it is the current one) and wait for its screen.
pub fn show(b: &mut Browser, hash: &str) {
    b.eval(&format!(
        "(() => {{ const h = {}; document.getElementById('view').dataset.ready = 'no'; \
         if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange')); \
         else location.hash = h; }})()",
        json!(hash)
    ));
    b.wait_for("document.getElementById('view').dataset.ready === 'true'");
}

/// Save the record form and wait for the record's page.
pub fn save(b: &mut Browser) {
    b.eval("document.getElementById('view').dataset.ready = 'no'; document.getElementById('record-form').requestSubmit()");
    b.wait_for("document.getElementById('view').dataset.ready === 'true' && location.hash.startsWith('#/record/')");
}

/// Press 同步 and wait until the outbox is empty and the sync done.
pub fn sync(b: &mut Browser) {
    b.eval("document.getElementById('status').dataset.state = 'asked'; document.getElementById('sync').click()");
    b.wait_for(
        "Number(document.getElementById('outbox').dataset.count) === 0 \
         && document.getElementById('status').dataset.state === 'ready'",
    );
}

/// The id of the record whose page is open.
pub fn current(b: &mut Browser) -> String {
    b.eval("location.hash.slice('#/record/'.length)")
        .as_str()
        .unwrap()
        .to_owned()
}

/// How many changes wait to be sent.
pub fn outbox(b: &mut Browser) -> i64 {
    b.eval("Number(document.getElementById('outbox').dataset.count)")
        .as_i64()
        .unwrap()
}
