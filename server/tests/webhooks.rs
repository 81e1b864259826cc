//! Outbound webhooks against a real receiving server started here: a
//! department's system is told of the cases dispatched to it, signed, at
//! least once, retried after a failure, each attempt in the delivery log.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{on_both_backends, Backend, Phone, TestServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;
use uuid::Uuid;

on_both_backends!(a_department_system_is_told_of_its_cases);

/// A request the receiver took: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// An HTTP server on port 0 that answers each request with the next status
/// of `answers` (the last one for ever after) and keeps what it took.
fn receiver(answers: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = got.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap(); // the request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            kept.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let status = answers[n.min(answers.len() - 1)];
            n += 1;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

/// Wait until `got` holds `n` requests (the server polls every second; a
/// retry comes 2 s after a failure).
fn wait_for(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    let start = Instant::now();
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} of {n} requests after 30 s: {now:?}",
            now.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verify(secret: &str, r: &Received) {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(r.header("x-gridsync-timestamp").as_bytes());
    mac.update(b".");
    mac.update(r.body.as_bytes());
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-gridsync-signature"), want, "signed: {r:?}");
}

fn a_department_system_is_told_of_its_cases(b: &Backend) {
    let s = TestServer::start(b);
    let admin = s.admin_token();
    let post =
        |path: &str, body: Json| s.call(s.authed(ureq::post(&s.url(path)), &admin), Some(body));
    for (code, name) in [("dx", "区信访局"), ("dj", "区司法局")] {
        let (st, body) = post(
            "/v1/org/nodes",
            json!({"code": code, "parent": "d", "level": "department", "name": name}),
        );
        assert_eq!(st, 201, "{body}");
    }
    // The petition bureau's system fails once, then takes everything.
    let (url, got) = receiver(vec![500, 200]);
    let secret = "petition-bureau-secret-2026";
    // Bad configurations are refused with a code.
    for (path, body, code) in [
        (
            "/v1/nodes/g1/webhooks",
            json!({"url": url}),
            "not_a_department",
        ),
        (
            "/v1/nodes/dx/webhooks",
            json!({"url": "ftp://x"}),
            "invalid_url",
        ),
        (
            "/v1/nodes/dx/webhooks",
            json!({"url": url, "secret": "short"}),
            "weak_secret",
        ),
    ] {
        let (st, r) = post(path, body);
        assert_eq!((st, r["code"].as_str()), (400, Some(code)), "{r}");
    }
    let (st, made) = post(
        "/v1/nodes/dx/webhooks",
        json!({"url": url, "secret": secret}),
    );
    assert_eq!(st, 201, "{made}");
    assert_eq!(made["secret"], secret);
    assert!(
        made["webhook"].get("secret").is_none(),
        "never shown again: {made}"
    );
    let hook = made["webhook"]["id"].as_i64().unwrap();
    let (st, r) = s.get_as(
        &s.supervisor_token(),
        &format!("/v1/webhooks/{hook}/deliveries"),
    );
    assert_eq!((st, r["code"].as_str()), (403, Some("forbidden")));

    // A petition dispatched to the bureau; another to the justice bureau
    // (no webhook there).
    let mut w = Phone::enroll(&s, "w1", "grid_worker", "g1", &["g1"]);
    let (petition, other) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, to) in [(petition, "department:dx"), (other, "department:dj")] {
        w.make(|d| {
            d.create("petition", "g1", id)
                .set("matter", "征地补偿款未到位")
                .set("status", "received")
                .set("assignee", to)
                .commit()
        });
    }
    w.sync(&s);

    // Tried, failed (500), tried again 2 s later with the same delivery id,
    // signed each time.
    let first = wait_for(&got, 2);
    assert_eq!(first.len(), 2, "{first:?}");
    for r in &first {
        verify(secret, r);
        assert_eq!(r.header("x-gridsync-event"), "case.dispatched");
        assert_eq!(r.header("content-type"), "application/json");
    }
    assert_eq!(
        first[0].header("x-gridsync-delivery"),
        first[1].header("x-gridsync-delivery")
    );
    assert_eq!(first[0].body, first[1].body, "the same event");
    let event: Json = serde_json::from_str(&first[1].body).unwrap();
    assert_eq!(event["event"], "case.dispatched");
    assert_eq!(event["department"], "dx");
    assert_eq!(event["record"]["id"], petition.to_string());
    assert_eq!(event["record"]["title"], "征地补偿款未到位");
    assert_eq!(event["record"]["assignee"], "department:dx");

    // The log: one delivery, two attempts, delivered.
    let log = |s: &TestServer| {
        let (st, r) = s.get_as(&admin, &format!("/v1/webhooks/{hook}/deliveries"));
        assert_eq!(st, 200, "{r}");
        r["deliveries"].as_array().unwrap().clone()
    };
    let start = Instant::now();
    let entries = loop {
        let l = log(&s);
        if l.first().is_some_and(|d| d["state"] == "delivered") || start.elapsed().as_secs() > 10 {
            break l;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["state"], "delivered");
    assert_eq!(entries[0]["attempts"], 2);
    assert_eq!(entries[0]["last_status"], 200);

    // A later change of the same case: `case.updated`, delivered at once.
    w.make(|d| d.edit(petition).set("status", "accepted").commit());
    w.sync(&s);
    let all = wait_for(&got, 3);
    verify(secret, &all[2]);
    assert_eq!(all[2].header("x-gridsync-event"), "case.updated");
    let event: Json = serde_json::from_str(&all[2].body).unwrap();
    assert_eq!(event["record"]["status"], "accepted");

    // Stopped: nothing more is queued.
    let (st, _) = s.call(
        s.authed(
            ureq::delete(&s.url(&format!("/v1/webhooks/{hook}"))),
            &admin,
        ),
        None,
    );
    assert_eq!(st, 204);
    w.make(|d| d.edit(petition).set("status", "replying").commit());
    w.sync(&s);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(got.lock().unwrap().len(), 3, "nothing after the stop");
    assert_eq!(log(&s).len(), 2);
    let (_, listed) = s.get_as(&admin, "/v1/nodes/dx/webhooks");
    assert_eq!(listed["webhooks"][0]["active"], false, "{listed}");
}
