//! Where attachment bytes live: a small trait over a folder on disk (the
//! embedded setup, [`disk::DiskStore`]) or an S3-compatible object store
//! (several server nodes, [`s3`]).
//!
//! An upload is staged part by part ([`BlobStore::stage`], one part per
//! acknowledged chunk), hashed whole ([`BlobStore::digest`]) and only then
//! kept under its hash ([`BlobStore::keep`]); what fails verification is
//! discarded. Nothing is read whole into memory: reads are streams.

pub mod disk;
pub mod s3;

use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

/// A stream of bytes read from a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>;

/// What is kept: an attachment's bytes, or a thumbnail made of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKey<'a> {
    /// The bytes whose SHA-256 is this (lowercase hex).
    Original(&'a str),
    /// A JPEG at most `edge` pixels wide and high.
    Thumbnail(&'a str, u32),
}

impl BlobKey<'_> {
    /// The key as a relative path: `blobs/ab/ab12…`, `thumbs/ab/ab12…-320.jpg`.
    pub fn path(&self) -> String {
        match self {
            BlobKey::Original(sha) => format!("blobs/{}/{sha}", &sha[..2]),
            BlobKey::Thumbnail(sha, edge) => format!("thumbs/{}/{sha}-{edge}.jpg", &sha[..2]),
        }
    }
}

/// The hash of a staged upload and its first bytes (to check the media type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub sha256: String,
    /// Up to [`HEAD_BYTES`] from the start.
    pub head: Vec<u8>,
}

/// How much of the start of an upload [`Digest::head`] holds.
pub const HEAD_BYTES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("`{0}` is not in the attachment store")]
    NotFound(String),
    #[error("attachment store: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store: {0}")]
    Remote(String),
}

/// The storage of attachment bytes. Upload ids and keys are the caller's
/// (the database says which uploads exist and how far they are).
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Keep `data` as the part of `upload` that starts at `offset`, durably,
    /// replacing whatever an earlier attempt at that offset left.
    async fn stage(&self, upload: &str, offset: u64, data: Bytes) -> Result<(), BlobError>;

    /// Hash the staged bytes `[0, size)` of `upload`.
    async fn digest(&self, upload: &str, size: u64) -> Result<Digest, BlobError>;

    /// Move the staged bytes `[0, size)` of `upload` to `key` and remove the
    /// staging. Keeping the same key twice is harmless (same hash, same bytes).
    async fn keep(&self, upload: &str, size: u64, key: BlobKey<'_>) -> Result<(), BlobError>;

    /// Remove whatever is staged for `upload` (no error if nothing is).
    async fn discard(&self, upload: &str) -> Result<(), BlobError>;

    /// Store a small object whole (thumbnails).
    async fn put(&self, key: BlobKey<'_>, data: Bytes) -> Result<(), BlobError>;

    /// Read a small object whole (thumbnails).
    async fn get(&self, key: BlobKey<'_>) -> Result<Bytes, BlobError>;

    /// Whether `key` is kept.
    async fn exists(&self, key: BlobKey<'_>) -> Result<bool, BlobError>;

    /// Stream the bytes `range` of `key` (the caller checks the range
    /// against the size it knows).
    async fn read(&self, key: BlobKey<'_>, range: Range<u64>) -> Result<ByteStream, BlobError>;
}

/// Read all of `key` (for thumbnails: bounded by the attachment size limit).
pub async fn read_all(
    store: &dyn BlobStore,
    key: BlobKey<'_>,
    size: u64,
) -> Result<Vec<u8>, BlobError> {
    use futures_util::TryStreamExt;
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut stream = store.read(key, 0..size).await?;
    while let Some(piece) = stream.try_next().await? {
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

/// Tests every store must pass, run on the disk store here and on the S3
/// store against a real S3-compatible server (`tests/s3.rs`).
#[doc(hidden)]
pub mod conformance {
    use super::*;
    use sha2::{Digest as _, Sha256};

    fn hex(data: &[u8]) -> String {
        format!("{:x}", Sha256::digest(data))
    }

    /// Stage out of order and twice at one offset, digest, keep, read ranges,
    /// discard, put.
    pub async fn check(store: &dyn BlobStore) {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sha = hex(&data);
        let up = uuid::Uuid::new_v4().to_string();
        // A part, then a wrong attempt at the next offset replaced by the
        // right one, then the last part.
        store
            .stage(&up, 0, Bytes::copy_from_slice(&data[..100_000]))
            .await
            .unwrap();
        store
            .stage(&up, 100_000, Bytes::from(vec![0u8; 100_000]))
            .await
            .unwrap();
        store
            .stage(
                &up,
                100_000,
                Bytes::copy_from_slice(&data[100_000..200_000]),
            )
            .await
            .unwrap();
        store
            .stage(&up, 200_000, Bytes::copy_from_slice(&data[200_000..]))
            .await
            .unwrap();
        let d = store.digest(&up, data.len() as u64).await.unwrap();
        assert_eq!(d.sha256, sha);
        assert_eq!(d.head, data[..HEAD_BYTES]);
        let key = BlobKey::Original(&sha);
        assert!(!store.exists(key).await.unwrap());
        store.keep(&up, data.len() as u64, key).await.unwrap();
        assert!(store.exists(key).await.unwrap());
        let all = read_all(store, key, data.len() as u64).await.unwrap();
        assert_eq!(all, data);
        let mut mid = Vec::new();
        let mut s = store.read(key, 99_990..100_010).await.unwrap();
        while let Some(piece) = futures_util::TryStreamExt::try_next(&mut s).await.unwrap() {
            mid.extend_from_slice(&piece);
        }
        assert_eq!(mid, data[99_990..100_010]);

        // A discarded upload leaves nothing; discarding twice is fine.
        let gone = uuid::Uuid::new_v4().to_string();
        store
            .stage(&gone, 0, Bytes::from_static(b"xyz"))
            .await
            .unwrap();
        store.discard(&gone).await.unwrap();
        store.discard(&gone).await.unwrap();
        assert!(store.digest(&gone, 3).await.is_err());

        let thumb = BlobKey::Thumbnail(&sha, 320);
        store.put(thumb, Bytes::from_static(b"jpeg")).await.unwrap();
        assert_eq!(read_all(store, thumb, 4).await.unwrap(), b"jpeg");
        assert_eq!(&store.get(thumb).await.unwrap()[..], b"jpeg");
        assert!(matches!(
            store.get(BlobKey::Thumbnail(&"e".repeat(64), 320)).await,
            Err(BlobError::NotFound(_))
        ));
        let missing = "f".repeat(64);
        assert!(!store.exists(BlobKey::Original(&missing)).await.unwrap());
    }
}
