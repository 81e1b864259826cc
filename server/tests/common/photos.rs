//! Photos for the attachment tests: real JPEGs, records that refer to
//! them, and the upload and download requests.

use std::io::{Read, Write};

use gridsync_core::{Attachment, Entry, Value};
use gridsync_server::attachments::checksum_header;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Phone, TestServer};

pub fn sha_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// A real JPEG of about `w`×`h` pixels of noise (so it does not compress).
pub fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

pub fn reference(data: &[u8], media_type: &str) -> Attachment {
    Attachment {
        sha256: sha_hex(data),
        media_type: media_type.into(),
        size: data.len() as u64,
        caption: Some("堵塞的消防通道".into()),
    }
}

/// An event in `grid` whose photos log refers to `att`; synced.
pub fn event_with_photo(s: &TestServer, phone: &mut Phone, grid: &str, att: &Attachment) -> Uuid {
    let id = Uuid::new_v4();
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("photo".to_owned(), Value::from(att.clone()));
    fields.insert("stage".to_owned(), Value::from("before"));
    let entry = Entry {
        id: Uuid::new_v4(),
        at: "2026-11-28T09:00:00+08:00".into(),
        fields,
    };
    phone.make(|d| {
        d.create("event", grid, id)
            .set("category", "fire_safety")
            .set("title", "Blocked fire exit")
            .set("status", "reported")
            .append("photos", entry)
            .commit()
    });
    phone.sync(s);
    id
}

pub fn begin(s: &TestServer, token: &str, att: &Attachment) -> (u16, Json) {
    s.call(
        s.authed(ureq::post(&s.url("/v1/attachments")), token),
        Some(json!({"sha256": att.sha256, "media_type": att.media_type, "size": att.size})),
    )
}

pub fn patch(
    s: &TestServer,
    token: &str,
    upload: &str,
    offset: usize,
    data: &[u8],
    checksum: Option<String>,
) -> (u16, Json) {
    let mut req = s
        .authed(
            ureq::request(
                "PATCH",
                &s.url(&format!("/v1/attachments/uploads/{upload}")),
            ),
            token,
        )
        .set("Content-Type", "application/offset+octet-stream")
        .set("Upload-Offset", &offset.to_string());
    if let Some(c) = checksum {
        req = req.set("Upload-Checksum", &c);
    }
    match req.send_bytes(data) {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(st, r)) => (st, r.into_json().unwrap_or(Json::Null)),
        Err(e) => panic!("transport error: {e}"),
    }
}

/// Send `data[offset..]` in chunks of `chunk`, each with its checksum.
pub fn send_rest(
    s: &TestServer,
    token: &str,
    upload: &str,
    data: &[u8],
    mut offset: usize,
    chunk: usize,
) -> Json {
    loop {
        let end = (offset + chunk).min(data.len());
        let part = &data[offset..end];
        let (st, body) = patch(s, token, upload, offset, part, Some(checksum_header(part)));
        assert_eq!(st, 200, "chunk at {offset}: {body}");
        assert_eq!(body["offset"], end);
        if end == data.len() {
            return body;
        }
        offset = end;
    }
}

/// A chunk whose connection drops after `sent` of its `declared` bytes.
pub fn interrupted_patch(
    s: &TestServer,
    token: &str,
    upload: &str,
    offset: usize,
    part: &[u8],
    sent: usize,
) {
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "PATCH /v1/attachments/uploads/{upload} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nUpload-Offset: {offset}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        part.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(&part[..sent]).unwrap();
    tcp.flush().unwrap();
    drop(tcp);
    // Let the server notice the drop before the next request.
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// GET with a token: status, headers asked for, body bytes.
pub fn fetch(
    s: &TestServer,
    token: &str,
    path: &str,
    headers: &[(&str, &str)],
    want: &[&str],
) -> (u16, Vec<Option<String>>, Vec<u8>) {
    let mut req = s.authed(ureq::get(&s.url(path)), token);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let r = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let st = r.status();
    let hs = want
        .iter()
        .map(|h| r.header(h).map(str::to_owned))
        .collect();
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    (st, hs, body)
}

/// Upload all of `data` for `att` in one chunk (the record is synced).
pub fn upload_whole(s: &TestServer, token: &str, att: &Attachment, data: &[u8]) -> Json {
    let (st, body) = begin(s, token, att);
    assert_eq!(st, 200, "{body}");
    send_rest(s, token, body["upload"].as_str().unwrap(), data, 0, 1 << 20)
}
