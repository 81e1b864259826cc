//! The S3 attachment store against a real S3-compatible server: ignored by
//! default, run with the endpoint of one (`.ci/s3` starts moto's server):
//!
//! ```sh
//! GRIDSYNC_TEST_S3=$(bash .ci/s3) cargo test -p gridsync-server --test s3 -- --ignored
//! ```
//!
//! Each test makes a bucket of its own.

use std::future::Future;

use bytes::Bytes;
use futures_util::TryStreamExt;
use gridsync_server::blobs::s3::{S3Config, S3Store};
use gridsync_server::blobs::{conformance, read_all, BlobKey, BlobStore};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::ObjectStore;
use rand::seq::SliceRandom;
use sha2::{Digest as _, Sha256};

#[allow(unused_macros, unused_imports)] // the two-backend macro: this suite runs on SQLite only
mod common;

const PREFIX: &str = "gridsync/";

/// The endpoint named by `GRIDSYNC_TEST_S3`.
fn endpoint() -> String {
    std::env::var("GRIDSYNC_TEST_S3")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|u| u.trim_end_matches('/').to_string())
        .expect(
            "the S3 tests need GRIDSYNC_TEST_S3=http://host:port, an S3-compatible server \
             that accepts unsigned bucket creation: GRIDSYNC_TEST_S3=$(bash .ci/s3)",
        )
}

/// A fresh bucket on the test server and its config. Bucket creation is an
/// unsigned `PUT /bucket`, which moto accepts (object_store cannot create
/// buckets).
fn fresh_bucket() -> S3Config {
    let endpoint = endpoint();
    let bucket = format!("gridsync-test-{}", uuid::Uuid::new_v4().simple());
    ureq::put(&format!("{endpoint}/{bucket}"))
        .call()
        .unwrap_or_else(|e| panic!("creating bucket {bucket} on {endpoint}: {e}"));
    S3Config {
        bucket,
        endpoint: Some(endpoint),
        region: "us-east-1".into(),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        allow_http: true,
        prefix: PREFIX.into(),
    }
}

/// Every key in the bucket under `prefix`, seen directly (not through the
/// store under test).
async fn keys_under(config: &S3Config, prefix: &str) -> Vec<String> {
    let raw = AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_endpoint(config.endpoint.as_deref().unwrap())
        .with_region(&config.region)
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_allow_http(true)
        .build()
        .unwrap();
    let listed: Vec<_> = raw
        .list(Some(&Path::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    listed.into_iter().map(|m| m.location.to_string()).collect()
}

fn run<F: Future>(f: F) -> F::Output {
    actix_web::rt::System::new().block_on(f)
}

fn hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

#[test]
#[ignore = "needs an S3-compatible server: GRIDSYNC_TEST_S3=$(bash .ci/s3) cargo test --test s3 -- --ignored"]
fn s3_store_passes_the_store_conformance_checks() {
    let config = fresh_bucket();
    let store = S3Store::open(&config).unwrap();
    run(async {
        conformance::check(&store).await;
        // Nothing staged is left behind, and everything is under the prefix.
        assert_eq!(
            keys_under(&config, "gridsync/staging").await,
            Vec::<String>::new()
        );
        let all = keys_under(&config, "").await;
        assert!(!all.is_empty());
        assert!(all.iter().all(|k| k.starts_with(PREFIX)), "{all:?}");
    });
}

#[test]
#[ignore = "needs an S3-compatible server: GRIDSYNC_TEST_S3=$(bash .ci/s3) cargo test --test s3 -- --ignored"]
fn a_12_mib_upload_staged_out_of_order_goes_through_multipart() {
    const MIB: usize = 1024 * 1024;
    let config = fresh_bucket();
    let store = S3Store::open(&config).unwrap();
    let data: Vec<u8> = (0..12 * MIB as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let sha = hex(&data);
    let size = data.len() as u64;
    let up = uuid::Uuid::new_v4().to_string();
    let mut offsets: Vec<usize> = (0..12).map(|i| i * MIB).collect();
    offsets.shuffle(&mut rand::thread_rng());
    run(async {
        for &at in &offsets {
            let part = Bytes::copy_from_slice(&data[at..at + MIB]);
            store.stage(&up, at as u64, part).await.unwrap();
        }
        assert_eq!(keys_under(&config, "gridsync/staging").await.len(), 12);
        let d = store.digest(&up, size).await.unwrap();
        assert_eq!(d.sha256, sha);
        assert_eq!(d.head, data[..gridsync_server::blobs::HEAD_BYTES]);

        let key = BlobKey::Original(&sha);
        store.keep(&up, size, key).await.unwrap();
        assert!(store.exists(key).await.unwrap());
        assert_eq!(
            keys_under(&config, "gridsync/staging").await,
            Vec::<String>::new()
        );
        assert_eq!(
            keys_under(&config, "gridsync/blobs").await,
            vec![format!("gridsync/{}", key.path())]
        );

        // Ranges across the 5 MiB multipart chunks and the staged parts.
        let mut back = Vec::with_capacity(data.len());
        let step = 1_000_003u64;
        let mut at = 0u64;
        while at < size {
            let end = (at + step).min(size);
            let mut s = store.read(key, at..end).await.unwrap();
            let before = back.len();
            while let Some(piece) = s.try_next().await.unwrap() {
                back.extend_from_slice(&piece);
            }
            assert_eq!(back.len() - before, (end - at) as usize, "{at}..{end}");
            at = end;
        }
        assert!(back == data, "the ranges read back differ from the upload");
        let across = (5 * MIB - 10) as u64..(5 * MIB + 10) as u64;
        let mut s = store.read(key, across.clone()).await.unwrap();
        let mut piece = Vec::new();
        while let Some(p) = s.try_next().await.unwrap() {
            piece.extend_from_slice(&p);
        }
        assert_eq!(
            piece,
            data[across.start as usize..across.end as usize].to_vec()
        );

        // Reading past the end is an error, not a short answer.
        let mut s = store.read(key, size - 10..size + 10).await.unwrap();
        let mut failed = false;
        loop {
            match s.try_next().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "a read past the end of the object succeeded");
    });
}

#[test]
#[ignore = "needs an S3-compatible server: GRIDSYNC_TEST_S3=$(bash .ci/s3) cargo test --test s3 -- --ignored"]
fn digest_and_keep_refuse_gaps_overlaps_and_short_uploads() {
    let config = fresh_bucket();
    let store = S3Store::open(&config).unwrap();
    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 253) as u8).collect();
    let part = |r: std::ops::Range<usize>| Bytes::copy_from_slice(&data[r]);
    run(async {
        // A gap: [0, 10k) and [20k, 30k).
        let gap = uuid::Uuid::new_v4().to_string();
        store.stage(&gap, 0, part(0..10_000)).await.unwrap();
        store
            .stage(&gap, 20_000, part(20_000..30_000))
            .await
            .unwrap();
        let err = store.digest(&gap, 30_000).await.unwrap_err().to_string();
        assert!(err.contains("gap"), "{err}");
        let sha = hex(&data);
        let err = store
            .keep(&gap, 30_000, BlobKey::Original(&sha))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("gap"), "{err}");
        assert!(!store.exists(BlobKey::Original(&sha)).await.unwrap());
        // Filling it makes the upload whole.
        store
            .stage(&gap, 10_000, part(10_000..20_000))
            .await
            .unwrap();
        assert_eq!(store.digest(&gap, 30_000).await.unwrap().sha256, sha);
        // What lies past the size (an earlier, longer attempt) is left out.
        assert_eq!(
            store.digest(&gap, 25_000).await.unwrap().sha256,
            hex(&data[..25_000])
        );
        store.discard(&gap).await.unwrap();

        // An overlap: [0, 20k) and [10k, 30k).
        let overlap = uuid::Uuid::new_v4().to_string();
        store.stage(&overlap, 0, part(0..20_000)).await.unwrap();
        store
            .stage(&overlap, 10_000, part(10_000..30_000))
            .await
            .unwrap();
        let err = store
            .digest(&overlap, 30_000)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("overlaps"), "{err}");
        store.discard(&overlap).await.unwrap();

        // Short: fewer bytes staged than the size.
        let short = uuid::Uuid::new_v4().to_string();
        store.stage(&short, 0, part(0..10_000)).await.unwrap();
        let err = store.digest(&short, 30_000).await.unwrap_err().to_string();
        assert!(err.contains("10000 of 30000"), "{err}");
        store.discard(&short).await.unwrap();

        // Nothing staged at all, and ids that are not ours.
        let none = uuid::Uuid::new_v4().to_string();
        assert!(store.digest(&none, 1).await.is_err());
        assert!(store
            .stage("../x", 0, Bytes::from_static(b"x"))
            .await
            .is_err());
        assert_eq!(
            keys_under(&config, "gridsync/staging").await,
            Vec::<String>::new()
        );
        // A missing key reads as not found.
        let missing = "0".repeat(64);
        assert!(matches!(
            read_all(&store, BlobKey::Original(&missing), 10).await,
            Err(gridsync_server::blobs::BlobError::NotFound(_))
        ));
    });
}

#[test]
#[ignore = "needs an S3-compatible server: GRIDSYNC_TEST_S3=$(bash .ci/s3) cargo test --test s3 -- --ignored"]
fn the_server_keeps_and_serves_attachments_in_a_bucket() {
    use common::photos::{begin, event_with_photo, fetch, jpeg, reference, send_rest};
    let config = fresh_bucket();
    let store = S3Store::open(&config).unwrap();
    let s = common::TestServer::start_on(
        &common::Backend::sqlite(),
        gridsync_server::Limits::default(),
        2_000,
        std::sync::Arc::new(store),
        tempfile::tempdir().unwrap(),
    );
    let mut a = common::Phone::enroll(&s, "worker-a", "grid_worker", "g1", &["g1"]);
    let mut z = common::Phone::enroll(&s, "worker-z", "grid_worker", "g2", &["g2"]);
    // Over 5 MiB: kept through a multipart upload of several parts.
    let data = jpeg(2200, 2000, 9);
    assert!(data.len() > 5 * 1024 * 1024, "{}", data.len());
    let att = reference(&data, "image/jpeg");
    event_with_photo(&s, &mut a, "g1", &att);
    let (_, body) = begin(&s, &a.token, &att);
    let upload = body["upload"].as_str().unwrap().to_owned();
    // Half, then ask again (as after a failure), then the rest.
    let half = data.len() / 2;
    send_rest(&s, &a.token, &upload, &data[..half], 0, 1 << 20);
    let (_, body) = begin(&s, &a.token, &att);
    assert_eq!(body["offset"].as_u64(), Some(half as u64));
    let done = send_rest(&s, &a.token, &upload, &data, half, 1 << 20);
    assert_eq!(done["state"], "stored");

    let keys = run(keys_under(&config, PREFIX));
    assert!(
        keys.contains(&format!(
            "{PREFIX}blobs/{}/{}",
            &att.sha256[..2],
            att.sha256
        )),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| !k.contains("staging/")), "{keys:?}");

    // Whole, a range, the thumbnail (made from the bucket, kept in it).
    let path = format!("/v1/attachments/{}", att.sha256);
    let (st, _, got) = fetch(&s, &a.token, &path, &[], &[]);
    assert_eq!((st, got.len()), (200, data.len()));
    assert!(got == data);
    let (st, _, part) = fetch(
        &s,
        &a.token,
        &path,
        &[("Range", "bytes=5000000-5000099")],
        &[],
    );
    assert_eq!((st, part.as_slice()), (206, &data[5_000_000..5_000_100]));
    let (st, _, thumb) = fetch(&s, &a.token, &format!("{path}/thumbnail"), &[], &[]);
    assert_eq!(st, 200);
    let img = image::load_from_memory(&thumb).unwrap();
    assert!(img.width() <= 320 && img.height() <= 320);
    let keys = run(keys_under(&config, &format!("{PREFIX}thumbs/")));
    assert_eq!(keys.len(), 1, "{keys:?}");

    // Another device with the same photo sends nothing; one object kept.
    event_with_photo(&s, &mut z, "g2", &att);
    let (_, body) = begin(&s, &z.token, &att);
    assert_eq!(body["state"], "stored");
    let blobs = run(keys_under(&config, &format!("{PREFIX}blobs/")));
    assert_eq!(blobs.len(), 1, "{blobs:?}");
}
