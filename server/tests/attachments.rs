//! Attachments end to end over HTTP against the real server: a photo
//! referenced by a synced record, uploaded in chunks with interruptions and a
//! corrupted chunk, resumed, verified, served by range and by scope; the same
//! bytes from two devices kept once; a whole that does not hash to its name
//! refused; the limits.

mod common;

use common::photos::{
    begin, event_with_photo, fetch, interrupted_patch, jpeg, patch, reference, send_rest,
    upload_whole,
};
use common::{on_both_backends, Backend, Phone, TestServer};
use gridsync_core::Attachment;
use gridsync_server::attachments::checksum_header;
use serde_json::{json, Value as Json};
use uuid::Uuid;

on_both_backends!(
    a_photo_is_uploaded_in_chunks_resumed_and_served,
    the_same_bytes_from_two_devices_are_kept_once,
    downloads_follow_the_records_scope,
    bytes_that_are_not_what_they_claim_are_refused,
    the_limits_of_size_type_and_day,
    an_abandoned_upload_is_discarded_by_the_sweep,
    the_sweep_runs_on_its_own,
    bytes_lost_from_the_store_are_taken_again,
    many_phones_upload_at_once_while_syncing,
);

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<Json>(body).unwrap()["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn kept_blobs(s: &TestServer) -> usize {
    walk(&s.blobs.path().join("blobs"))
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p)
                } else {
                    1
                }
            })
            .sum()
        })
        .unwrap_or(0)
}

fn a_photo_is_uploaded_in_chunks_resumed_and_served(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let data = jpeg(480, 360, 1);
    assert!(data.len() > 200_000, "{}", data.len());
    let att = reference(&data, "image/jpeg");

    // Before the record that refers to it is synced, the server takes nothing.
    let (st, body) = begin(&s, &w.token, &att);
    assert_eq!(
        (st, body["code"].as_str()),
        (409, Some("attachment_not_referenced")),
        "{body}"
    );

    let id = event_with_photo(&s, &mut w, "g1", &att);
    // The record says the photo has not arrived.
    let rec = s.get(&format!("/v1/records/{id}"));
    assert_eq!(rec["attachments"][0]["sha256"], att.sha256);
    assert_eq!(rec["attachments"][0]["stored"], false);
    let (st, _, body) = fetch(
        &s,
        &w.token,
        &format!("/v1/attachments/{}", att.sha256),
        &[],
        &[],
    );
    assert_eq!((st, code(&body).as_str()), (404, "attachment_pending"));

    let (st, body) = begin(&s, &w.token, &att);
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        (body["state"].as_str(), body["offset"].as_u64()),
        (Some("uploading"), Some(0))
    );
    let upload = body["upload"].as_str().unwrap().to_owned();
    let chunk = 64 * 1024;

    // First chunk, then a connection dropped mid-chunk: nothing of it counts.
    let (st, body) = patch(
        &s,
        &w.token,
        &upload,
        0,
        &data[..chunk],
        Some(checksum_header(&data[..chunk])),
    );
    assert_eq!(
        (st, body["offset"].as_u64()),
        (200, Some(chunk as u64)),
        "{body}"
    );
    interrupted_patch(
        &s,
        &w.token,
        &upload,
        chunk,
        &data[chunk..2 * chunk],
        10_000,
    );
    // Asking again resumes from the last acknowledged offset, same upload.
    let (_, body) = begin(&s, &w.token, &att);
    assert_eq!(
        (body["offset"].as_u64(), body["upload"].as_str()),
        (Some(chunk as u64), Some(upload.as_str()))
    );

    // A chunk sent from the wrong offset is refused with where to resume.
    let (st, body) = patch(&s, &w.token, &upload, 0, &data[..chunk], None);
    assert_eq!(
        (st, body["code"].as_str()),
        (409, Some("offset_mismatch")),
        "{body}"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains(&chunk.to_string()));

    // A chunk damaged on the way (its checksum is of the true bytes).
    let mut damaged = data[chunk..2 * chunk].to_vec();
    damaged[1234] ^= 0xFF;
    let (st, body) = patch(
        &s,
        &w.token,
        &upload,
        chunk,
        &damaged,
        Some(checksum_header(&data[chunk..2 * chunk])),
    );
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("chunk_checksum_mismatch")),
        "{body}"
    );
    // Dropped again, at another offset, right at the start of the body.
    interrupted_patch(&s, &w.token, &upload, chunk, &data[chunk..3 * chunk], 0);
    let (_, body) = begin(&s, &w.token, &att);
    assert_eq!(body["offset"].as_u64(), Some(chunk as u64));

    // A chunk past the end, and one bigger than the server takes, are refused.
    let (st, body) = patch(&s, &w.token, &upload, chunk, &vec![0; data.len()], None);
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("beyond_size")),
        "{body}"
    );

    // The rest in uneven chunks; the last answer says it is kept.
    let done = send_rest(&s, &w.token, &upload, &data, chunk, 100_000);
    assert_eq!(done["state"], "stored");
    assert_eq!(kept_blobs(&s), 1);
    // The finished upload is gone.
    let (st, _) = patch(&s, &w.token, &upload, data.len(), b"x", None);
    assert_eq!(st, 404);
    // Asking again says there is nothing to send.
    let (_, body) = begin(&s, &w.token, &att);
    assert_eq!(
        (body["state"].as_str(), body["offset"].as_u64()),
        (Some("stored"), Some(data.len() as u64))
    );
    let rec = s.get(&format!("/v1/records/{id}"));
    assert_eq!(rec["attachments"][0]["stored"], true);

    // Whole, with its type, length, ETag and cache headers.
    let path = format!("/v1/attachments/{}", att.sha256);
    let hs = [
        "content-type",
        "etag",
        "cache-control",
        "accept-ranges",
        "content-length",
        "content-range",
    ];
    let (st, got, body) = fetch(&s, &w.token, &path, &[], &hs);
    assert_eq!(st, 200);
    assert_eq!(body, data);
    let etag = format!("\"{}\"", att.sha256);
    assert_eq!(got[0].as_deref(), Some("image/jpeg"));
    assert_eq!(got[1].as_deref(), Some(etag.as_str()));
    assert!(got[2].as_deref().unwrap().contains("immutable"));
    assert_eq!(got[3].as_deref(), Some("bytes"));
    assert_eq!(got[4], Some(data.len().to_string()));
    // Ranges: a slice, an open end, a suffix; one past the end is 416.
    for (range, from, to) in [
        ("bytes=100-199", 100, 200),
        (
            &format!("bytes={}-", data.len() - 10) as &str,
            data.len() - 10,
            data.len(),
        ),
        ("bytes=-5", data.len() - 5, data.len()),
    ] {
        let (st, got, body) = fetch(&s, &w.token, &path, &[("Range", range)], &hs);
        assert_eq!(st, 206, "{range}");
        assert_eq!(body, &data[from..to], "{range}");
        assert_eq!(
            got[5],
            Some(format!("bytes {from}-{}/{}", to - 1, data.len()))
        );
    }
    let past = format!("bytes={}-", data.len());
    let (st, got, body) = fetch(&s, &w.token, &path, &[("Range", &past)], &hs);
    assert_eq!((st, code(&body).as_str()), (416, "range_not_satisfiable"));
    assert_eq!(got[5], Some(format!("bytes */{}", data.len())));
    // A cached copy is still good.
    let (st, _, body) = fetch(&s, &w.token, &path, &[("If-None-Match", &etag)], &[]);
    assert_eq!((st, body.len()), (304, 0));
    // If-Range with another version gets the whole.
    let (st, _, body) = fetch(
        &s,
        &w.token,
        &path,
        &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")],
        &[],
    );
    assert_eq!((st, body.len()), (200, data.len()));

    // The thumbnail: a small JPEG, made once, kept.
    let thumb = format!("{path}/thumbnail");
    let (st, got, small) = fetch(&s, &w.token, &thumb, &[], &["content-type", "etag"]);
    assert_eq!(st, 200);
    assert_eq!(got[0].as_deref(), Some("image/jpeg"));
    let img = image::load_from_memory(&small).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));
    assert!(
        small.len() < data.len() / 2,
        "{} of {}",
        small.len(),
        data.len()
    );
    let (st, _, again) = fetch(&s, &w.token, &thumb, &[], &[]);
    assert_eq!((st, again), (200, small));
    let (st, _, _) = fetch(
        &s,
        &w.token,
        &thumb,
        &[("If-None-Match", got[1].as_deref().unwrap())],
        &[],
    );
    assert_eq!(st, 304);
}

fn the_same_bytes_from_two_devices_are_kept_once(b: &Backend) {
    let s = TestServer::start(b);
    let mut a = Phone::enroll(&s, "worker-a", "grid_worker", "g1", &["g1"]);
    let mut z = Phone::enroll(&s, "worker-z", "grid_worker", "g2", &["g2"]);
    let data = jpeg(200, 150, 2);
    let att = reference(&data, "image/jpeg");
    event_with_photo(&s, &mut a, "g1", &att);
    event_with_photo(&s, &mut z, "g2", &att);
    // Both begin before either finishes: two uploads.
    let (_, ua) = begin(&s, &a.token, &att);
    let (_, uz) = begin(&s, &z.token, &att);
    assert_ne!(ua["upload"], uz["upload"]);
    let half = data.len() / 2;
    send_rest(
        &s,
        &z.token,
        uz["upload"].as_str().unwrap(),
        &data[..],
        0,
        half + 1,
    );
    // The second device's own upload still finishes, and is kept once.
    send_rest(
        &s,
        &a.token,
        ua["upload"].as_str().unwrap(),
        &data,
        0,
        50_000,
    );
    assert_eq!(kept_blobs(&s), 1);
    // A third device with the same photo sends nothing at all.
    let mut third = Phone::enroll(&s, "worker-t", "grid_worker", "g1", &["g1"]);
    event_with_photo(&s, &mut third, "g1", &att);
    let (st, body) = begin(&s, &third.token, &att);
    assert_eq!((st, body["state"].as_str()), (200, Some("stored")));
    for token in [&a.token, &z.token, &third.token] {
        let (st, _, got) = fetch(
            &s,
            token,
            &format!("/v1/attachments/{}", att.sha256),
            &[],
            &[],
        );
        assert_eq!((st, got.len()), (200, data.len()));
    }
    assert!(
        s.blobs
            .path()
            .join("staging")
            .read_dir()
            .unwrap()
            .next()
            .is_none(),
        "nothing left staged"
    );
}

fn downloads_follow_the_records_scope(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let data = jpeg(64, 64, 3);
    let att = reference(&data, "image/jpeg");
    event_with_photo(&s, &mut w, "g1", &att);
    upload_whole(&s, &w.token, &att, &data);
    let path = format!("/v1/attachments/{}", att.sha256);

    // Another grid of the same community, another park: refused.
    for (user, node) in [("next-door", "g2"), ("far-away", "g3")] {
        let other = Phone::enroll(&s, user, "grid_worker", node, &[node]);
        for p in [path.clone(), format!("{path}/thumbnail")] {
            let (st, _, body) = fetch(&s, &other.token, &p, &[], &[]);
            assert_eq!(
                (st, code(&body).as_str()),
                (403, "out_of_scope"),
                "{user} {p}"
            );
        }
        // Nor may they upload it on a record they cannot see.
        let (st, body) = begin(&s, &other.token, &att);
        assert_eq!(
            (st, body["code"].as_str()),
            (409, Some("attachment_not_referenced"))
        );
    }
    // A supervisor above the grid may; so may the district supervisor.
    let (st, _, got) = fetch(&s, &s.supervisor_token(), &path, &[], &[]);
    assert_eq!((st, got), (200, data));
    let community = Phone::enroll(&s, "community-sup", "supervisor", "c1", &["g1"]);
    let (st, _, _) = fetch(&s, &community.token, &path, &[], &[]);
    assert_eq!(st, 200);
    // No token: 401. An unknown hash: 404. Not a hash: 400.
    let (st, _) = s.call(ureq::get(&s.url(&path)), None);
    assert_eq!(st, 401);
    let (st, _, body) = fetch(
        &s,
        &w.token,
        &format!("/v1/attachments/{}", "0".repeat(64)),
        &[],
        &[],
    );
    assert_eq!((st, code(&body).as_str()), (404, "not_found"));
    let (st, _, body) = fetch(&s, &w.token, "/v1/attachments/not-a-hash", &[], &[]);
    assert_eq!((st, code(&body).as_str()), (400, "invalid_sha256"));
}

fn bytes_that_are_not_what_they_claim_are_refused(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    // The record names one photo; the bytes sent are another of the same size.
    let data = jpeg(120, 90, 4);
    let mut other = data.clone();
    let last = other.len() - 3;
    other[last] ^= 0x55;
    let att = reference(&data, "image/jpeg");
    event_with_photo(&s, &mut w, "g1", &att);
    let (_, body) = begin(&s, &w.token, &att);
    let upload = body["upload"].as_str().unwrap().to_owned();
    let half = other.len() / 2;
    send_rest(&s, &w.token, &upload, &other[..half + 1], 0, half + 1);
    let rest = &other[half + 1..];
    let (st, body) = patch(
        &s,
        &w.token,
        &upload,
        half + 1,
        rest,
        Some(checksum_header(rest)),
    );
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("hash_mismatch")),
        "{body}"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("nothing was kept"));
    assert_eq!(kept_blobs(&s), 0);
    let (st, _, body) = fetch(
        &s,
        &w.token,
        &format!("/v1/attachments/{}", att.sha256),
        &[],
        &[],
    );
    assert_eq!((st, code(&body).as_str()), (404, "attachment_pending"));
    // The upload is gone; asking again starts over from 0, and the true
    // bytes are kept.
    let (st, _) = patch(&s, &w.token, &upload, 0, &data, None);
    assert_eq!(st, 404);
    let (_, body) = begin(&s, &w.token, &att);
    assert_eq!(body["offset"], 0);
    send_rest(
        &s,
        &w.token,
        body["upload"].as_str().unwrap(),
        &data,
        0,
        1 << 20,
    );
    assert_eq!(kept_blobs(&s), 1);

    // A PDF sent as a PNG: hashes right, but is not a PNG.
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        .to_vec();
    let fake = reference(&pdf, "image/png");
    event_with_photo(&s, &mut w, "g1", &fake);
    let (_, body) = begin(&s, &w.token, &fake);
    let (st, body) = patch(
        &s,
        &w.token,
        body["upload"].as_str().unwrap(),
        0,
        &pdf,
        None,
    );
    assert_eq!(
        (st, body["code"].as_str()),
        (415, Some("media_type_mismatch")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/pdf"),
        "{body}"
    );
    assert_eq!(kept_blobs(&s), 1);
}

fn the_limits_of_size_type_and_day(b: &Backend) {
    let limits = gridsync_server::Limits {
        attachments: gridsync_server::attachments::AttachmentLimits {
            max_bytes: 100_000,
            daily_bytes_per_device: 150_000,
            media_types: vec!["image/jpeg".into(), "application/pdf".into()],
            max_chunk_bytes: 50_000,
            ..Default::default()
        },
        ..gridsync_server::Limits::default()
    };
    let s = TestServer::start_with(b, limits, 2_000);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let big = Attachment {
        size: 100_001,
        ..reference(b"x", "image/jpeg")
    };
    let (st, body) = begin(&s, &w.token, &big);
    assert_eq!(
        (st, body["code"].as_str()),
        (413, Some("attachment_too_large")),
        "{body}"
    );
    let png = reference(b"x", "image/png");
    let (st, body) = begin(&s, &w.token, &png);
    assert_eq!(
        (st, body["code"].as_str()),
        (415, Some("media_type_not_allowed")),
        "{body}"
    );
    let (st, body) = s.call(
        s.authed(ureq::post(&s.url("/v1/attachments")), &w.token),
        Some(json!({"sha256": "nope", "media_type": "image/jpeg", "size": 3})),
    );
    assert_eq!((st, body["code"].as_str()), (400, Some("invalid_sha256")));

    // Two photos of ~90 kB: the first fits the day, the second does not.
    let (p1, p2) = (jpeg(260, 250, 5), jpeg(260, 250, 6));
    assert!(p1.len() > 75_000 && p1.len() <= 100_000, "{}", p1.len());
    let (a1, a2) = (reference(&p1, "image/jpeg"), reference(&p2, "image/jpeg"));
    event_with_photo(&s, &mut w, "g1", &a1);
    event_with_photo(&s, &mut w, "g1", &a2);
    let (_, body) = begin(&s, &w.token, &a1);
    let upload = body["upload"].as_str().unwrap().to_owned();
    // A chunk over the server's chunk limit.
    let (st, body) = patch(&s, &w.token, &upload, 0, &p1[..50_001], None);
    assert_eq!(
        (st, body["code"].as_str()),
        (413, Some("chunk_too_large")),
        "{body}"
    );
    send_rest(&s, &w.token, &upload, &p1, 0, 50_000);
    let (st, body) = begin(&s, &w.token, &a2);
    assert_eq!(
        (st, body["code"].as_str()),
        (429, Some("daily_upload_limit")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("midnight"));
    // Another device of another worker has its own day.
    let mut other = Phone::enroll(&s, "worker-2", "grid_worker", "g1", &["g1"]);
    other.sync(&s);
    let (st, body) = begin(&s, &other.token, &a2);
    assert_eq!(
        (st, body["state"].as_str()),
        (200, Some("uploading")),
        "{body}"
    );
}

fn an_abandoned_upload_is_discarded_by_the_sweep(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let data = jpeg(100, 100, 7);
    let att = reference(&data, "image/jpeg");
    event_with_photo(&s, &mut w, "g1", &att);
    let (_, body) = begin(&s, &w.token, &att);
    let first = body["upload"].as_str().unwrap().to_owned();
    let (st, _) = patch(&s, &w.token, &first, 0, &data[..1000], None);
    assert_eq!(st, 200);
    let staged = || s.blobs.path().join("staging").read_dir().unwrap().count();
    assert_eq!(staged(), 1);
    let admin = s.admin_token();
    let sweep = |days: i64| {
        let at = chrono::Utc::now() + chrono::Duration::days(days);
        let (st, body) = s.call(
            s.authed(ureq::post(&s.url("/v1/admin/sweep")), &admin),
            Some(json!({"at": at.to_rfc3339()})),
        );
        assert_eq!(st, 200, "{body}");
        body["uploads_discarded"].as_u64().unwrap()
    };
    // Three weeks without a byte: kept (phones stay offline for weeks).
    assert_eq!(sweep(21), 0);
    assert_eq!(staged(), 1);
    // A month: discarded, bytes and all.
    assert_eq!(sweep(31), 1);
    assert_eq!(staged(), 0);
    let (st, _) = patch(&s, &w.token, &first, 1000, &data[1000..], None);
    assert_eq!(st, 404);
    // The phone comes back: a new upload from 0, and it completes.
    let (_, body) = begin(&s, &w.token, &att);
    assert_eq!(body["offset"], 0);
    assert_ne!(body["upload"].as_str(), Some(first.as_str()));
    send_rest(
        &s,
        &w.token,
        body["upload"].as_str().unwrap(),
        &data,
        0,
        1 << 20,
    );
    assert_eq!(kept_blobs(&s), 1);
}

fn the_sweep_runs_on_its_own(b: &Backend) {
    let limits = gridsync_server::Limits {
        sweep_every: Some(std::time::Duration::from_millis(200)),
        ..gridsync_server::Limits::default()
    };
    let s = TestServer::start_with(b, limits, 2_000);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let id = Uuid::new_v4();
    w.make(|d| {
        d.create("event", "g1", id)
            .set("status", "reported")
            .set("title", "long overdue")
            .set("deadline", "2020-01-01T00:00:00+08:00")
            .commit()
    });
    w.sync(&s);
    // Nobody calls the sweep: within a few periods the case moves up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rec = s.get(&format!("/v1/records/{id}"));
        // Long past every level's deadline, it goes up one level a sweep:
        // a slow read (Citus) may see it past the first already.
        if rec["record"]["level"] != "grid" {
            assert_eq!(
                rec["history"][1]["change"]["ops"][0]["escalate"]["from"], "grid",
                "{rec}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not escalated: {rec}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn bytes_lost_from_the_store_are_taken_again(b: &Backend) {
    let s = TestServer::start(b);
    let mut w = Phone::enroll(&s, "worker", "grid_worker", "g1", &["g1"]);
    let data = jpeg(80, 60, 8);
    let att = reference(&data, "image/jpeg");
    event_with_photo(&s, &mut w, "g1", &att);
    upload_whole(&s, &w.token, &att, &data);
    // The folder loses the file (a restore from an older backup).
    let file = s
        .blobs
        .path()
        .join("blobs")
        .join(&att.sha256[..2])
        .join(&att.sha256);
    std::fs::remove_file(&file).unwrap();
    let path = format!("/v1/attachments/{}", att.sha256);
    for p in [path.clone(), format!("{path}/thumbnail")] {
        let (st, _, body) = fetch(&s, &w.token, &p, &[], &[]);
        assert_eq!(
            (st, code(&body).as_str()),
            (404, "attachment_missing"),
            "{p}"
        );
    }
    // A device that has it asks: the server takes it again.
    let (st, body) = begin(&s, &w.token, &att);
    assert_eq!(
        (st, body["state"].as_str()),
        (200, Some("uploading")),
        "{body}"
    );
    send_rest(
        &s,
        &w.token,
        body["upload"].as_str().unwrap(),
        &data,
        0,
        1 << 20,
    );
    let (st, _, got) = fetch(&s, &w.token, &path, &[], &[]);
    assert_eq!((st, got), (200, data));
}

fn many_phones_upload_at_once_while_syncing(b: &Backend) {
    let s = TestServer::start(b);
    // Phones of two grids; the same photo is on one record of each grid, so
    // two phones race to upload it.
    let shared = jpeg(120, 90, 100);
    // Each phone with its photos (reference, bytes).
    type Photos = Vec<(Attachment, Vec<u8>)>;
    let mut phones: Vec<(Phone, Photos)> = (0..8u32)
        .map(|i| {
            let grid = if i % 2 == 0 { "g1" } else { "g2" };
            let mut p = Phone::enroll(&s, &format!("w{i}"), "grid_worker", grid, &[grid]);
            let mut mine = Vec::new();
            for k in 0..3u32 {
                let data = if k == 0 && i < 2 {
                    shared.clone()
                } else {
                    jpeg(120, 90, 10 * i + k)
                };
                let att = reference(&data, "image/jpeg");
                event_with_photo(&s, &mut p, grid, &att);
                mine.push((att, data));
            }
            (p, mine)
        })
        .collect();
    std::thread::scope(|scope| {
        for (phone, mine) in phones.iter_mut() {
            let s = &s;
            scope.spawn(move || {
                for (att, data) in mine.iter() {
                    let (st, body) = begin(s, &phone.token, att);
                    assert_eq!(st, 200, "{body}");
                    if body["state"] == "uploading" {
                        let up = body["upload"].as_str().unwrap().to_owned();
                        let from = body["offset"].as_u64().unwrap() as usize;
                        // Small chunks, and a sync between photos: uploads
                        // and merges take turns at the writer.
                        send_rest(s, &phone.token, &up, data, from, 4096);
                    }
                    let grid = phone.grids[0].clone();
                    phone.make(|d| {
                        d.create("household", &grid, Uuid::new_v4())
                            .set("address", "1 Lane")
                            .commit()
                    });
                    phone.sync(s);
                }
            });
        }
    });
    let sup = s.supervisor_token();
    let mut distinct = std::collections::BTreeSet::new();
    for (_, mine) in &phones {
        for (att, data) in mine {
            distinct.insert(att.sha256.clone());
            let (st, _, got) = fetch(
                &s,
                &sup,
                &format!("/v1/attachments/{}", att.sha256),
                &[],
                &[],
            );
            assert_eq!(st, 200);
            assert!(&got == data, "{} differs", att.sha256);
        }
    }
    assert_eq!(distinct.len(), 23, "one photo shared by two phones");
    assert_eq!(kept_blobs(&s), 23);
    assert!(
        s.blobs
            .path()
            .join("staging")
            .read_dir()
            .unwrap()
            .next()
            .is_none(),
        "nothing left staged"
    );
}
