//! Attachments in an S3-compatible object store, which several server nodes
//! share (the disk store is one node's folder). Under the configured prefix:
//!
//! - `staging/<upload>/<offset>`: one object per staged part, the offset as
//!   20 zero-padded digits so that names sort as numbers do; a part staged
//!   again at the same offset replaces the earlier attempt;
//! - `blobs/ab/<sha256>`: a kept upload, written by a multipart upload that
//!   streams the parts in offset order, after which the parts are deleted;
//! - `thumbs/ab/<sha256>-<edge>.jpg`: thumbnails, put and got whole.
//!
//! Nothing is held whole in memory: hashing and keeping stream the parts,
//! reads are ranged GETs passed on as streams.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest as _, Sha256};

use super::{BlobError, BlobKey, BlobStore, ByteStream, Digest, HEAD_BYTES};

/// Multipart chunks (5 MiB each, S3's smallest part but the last) that may
/// be in flight at once while keeping an upload: bounds the memory a keep
/// takes to about this many chunks plus the one being filled.
const PARTS_IN_FLIGHT: usize = 2;

/// Where the S3 store keeps its objects and how it reaches them.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// `https://host:port` of an S3-compatible server; none: AWS itself (or
    /// `AWS_ENDPOINT` from the environment).
    pub endpoint: Option<String>,
    /// Empty: `AWS_REGION`/`AWS_DEFAULT_REGION` from the environment, else
    /// `us-east-1`.
    pub region: String,
    /// None: `AWS_ACCESS_KEY_ID` from the environment (or the instance's
    /// role, as the AWS SDKs do).
    pub access_key_id: Option<String>,
    /// None: `AWS_SECRET_ACCESS_KEY` from the environment.
    pub secret_access_key: Option<String>,
    /// Allow an `http://` endpoint (test servers, a private network).
    pub allow_http: bool,
    /// A folder-like prefix for every object of this store (`gridsync` and
    /// `gridsync/` both put objects under `gridsync/`); empty: the bucket's
    /// root.
    pub prefix: String,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The attachment store on an S3-compatible object store.
#[derive(Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// The configured prefix, validated; the root when none.
    prefix: Path,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

/// One staged part, as listed.
#[derive(Debug)]
struct Part {
    location: Path,
    offset: u64,
    len: u64,
}

fn remote(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { path, .. } => BlobError::NotFound(path),
        other => BlobError::Remote(other.to_string()),
    }
}

fn invalid(message: String) -> BlobError {
    BlobError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        message,
    ))
}

/// Pass `inner` on, failing if it yields other than exactly `expected`
/// bytes (an object shorter than the caller's size, or one replaced while
/// it was read).
fn exactly(
    inner: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
    expected: u64,
    what: String,
) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static {
    futures_util::stream::try_unfold(
        (inner, 0u64, what),
        move |(mut inner, seen, what)| async move {
            match inner.next().await {
                Some(Ok(piece)) => {
                    let seen = seen + piece.len() as u64;
                    if seen > expected {
                        return Err(invalid(format!(
                            "{what} returned more than the {expected} bytes asked for"
                        )));
                    }
                    Ok(Some((piece, (inner, seen, what))))
                }
                Some(Err(e)) => Err(remote(e)),
                None if seen < expected => Err(BlobError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{what} holds {seen} of the {expected} bytes expected"),
                ))),
                None => Ok(None),
            }
        },
    )
}

impl S3Store {
    /// A store on `config.bucket`, which must exist. Nothing is sent until
    /// the first operation.
    pub fn open(config: &S3Config) -> Result<S3Store, BlobError> {
        let prefix = Path::parse(&config.prefix)
            .map_err(|e| BlobError::Remote(format!("S3 prefix `{}`: {e}", config.prefix)))?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_allow_http(config.allow_http);
        if !config.region.is_empty() {
            builder = builder.with_region(&config.region);
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(remote)?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket: config.bucket.clone(),
            prefix,
        })
    }

    /// `<prefix>/<relative>`; `relative` is one of ours (no empty segment).
    fn object(&self, relative: &str) -> Path {
        let mut path = self.prefix.clone();
        path.extend(relative.split('/'));
        path
    }

    /// The folder of `upload`'s parts.
    fn staging(&self, upload: &str) -> Result<Path, BlobError> {
        // Upload ids are the server's UUIDs; refuse anything else, as the
        // disk store does (there it could name a path outside staging).
        if upload.is_empty()
            || !upload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(BlobError::NotFound(format!("upload {upload}")));
        }
        Ok(self.object(&format!("staging/{upload}")))
    }

    /// Every part staged for `upload`, in offset order.
    async fn parts(&self, upload: &str) -> Result<Vec<Part>, BlobError> {
        let folder = self.staging(upload)?;
        let listed: Vec<_> = self
            .store
            .list(Some(&folder))
            .try_collect()
            .await
            .map_err(remote)?;
        let mut parts = Vec::with_capacity(listed.len());
        for meta in listed {
            let offset = meta
                .location
                .filename()
                .and_then(|name| name.parse::<u64>().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "`{}` in the staging of upload {upload} is not a part",
                        meta.location
                    ))
                })?;
            parts.push(Part {
                location: meta.location,
                offset,
                len: meta.size,
            });
        }
        parts.sort_by_key(|p| p.offset);
        Ok(parts)
    }

    /// The parts of `upload` that make `[0, size)`, each with how much of it
    /// belongs there: they must follow each other with neither gap nor
    /// overlap. Parts past `size` (an earlier, longer attempt) are left out,
    /// as the disk store cuts its file to `size`.
    async fn plan(&self, upload: &str, size: u64) -> Result<Vec<(Path, u64)>, BlobError> {
        let parts = self.parts(upload).await?;
        if parts.is_empty() {
            return Err(BlobError::NotFound(format!("upload {upload}")));
        }
        let mut plan = Vec::with_capacity(parts.len());
        let mut at = 0u64;
        for part in parts {
            if at >= size && part.offset >= size {
                break;
            }
            if part.offset > at {
                return Err(invalid(format!(
                    "upload {upload}: nothing is staged for bytes {at}..{} (a gap before the part at {})",
                    part.offset.min(size),
                    part.offset
                )));
            }
            if part.offset < at {
                return Err(invalid(format!(
                    "upload {upload}: the part at {} overlaps the one before, which ends at {at}",
                    part.offset
                )));
            }
            let take = part.len.min(size - at);
            at += take;
            if take > 0 {
                plan.push((part.location, take));
            }
        }
        if at < size {
            return Err(BlobError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("upload {upload} holds {at} of {size} bytes"),
            )));
        }
        Ok(plan)
    }

    /// The bytes of the planned parts, one part after the other.
    fn stream_plan(
        &self,
        plan: Vec<(Path, u64)>,
    ) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static {
        let store = Arc::clone(&self.store);
        futures_util::stream::iter(plan)
            .then(move |(location, take)| {
                let store = Arc::clone(&store);
                async move {
                    let options = GetOptions::new().with_range(Some(GetRange::Bounded(0..take)));
                    let got = store.get_opts(&location, options).await.map_err(remote)?;
                    Ok::<_, BlobError>(exactly(
                        got.into_stream(),
                        take,
                        format!("staged part {location}"),
                    ))
                }
            })
            .try_flatten()
    }

    /// Delete `locations` (missing ones are no error).
    async fn delete_all(&self, locations: Vec<Path>) -> Result<(), BlobError> {
        if locations.is_empty() {
            return Ok(());
        }
        let locations = futures_util::stream::iter(locations.into_iter().map(Ok)).boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote(e)),
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    async fn stage(&self, upload: &str, offset: u64, data: Bytes) -> Result<(), BlobError> {
        let location = self.staging(upload)?.join(format!("{offset:020}").as_str());
        // A PUT is durable once answered: the offset may be acknowledged.
        self.store
            .put(&location, data.into())
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn digest(&self, upload: &str, size: u64) -> Result<Digest, BlobError> {
        let plan = self.plan(upload, size).await?;
        let mut pieces = std::pin::pin!(self.stream_plan(plan));
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(HEAD_BYTES);
        while let Some(piece) = pieces.try_next().await? {
            if head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - head.len()).min(piece.len());
                head.extend_from_slice(&piece[..take]);
            }
            hasher.update(&piece);
        }
        Ok(Digest {
            sha256: format!("{:x}", hasher.finalize()),
            head,
        })
    }

    async fn keep(&self, upload: &str, size: u64, key: BlobKey<'_>) -> Result<(), BlobError> {
        let plan = self.plan(upload, size).await?;
        let target = self.object(&key.path());
        let multipart = self.store.put_multipart(&target).await.map_err(remote)?;
        // 5 MiB chunks, sent while the next one fills; an object of a
        // single chunk is still one complete multipart upload.
        let mut writer = WriteMultipart::new(multipart);
        let copied = async {
            let mut pieces = std::pin::pin!(self.stream_plan(plan));
            while let Some(piece) = pieces.try_next().await? {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(remote)?;
                writer.put(piece);
            }
            Ok::<_, BlobError>(())
        }
        .await;
        if let Err(e) = copied {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(%target, error = %abort, "could not abort a multipart upload");
            }
            return Err(e);
        }
        writer.finish().await.map_err(remote)?;
        self.discard(upload).await
    }

    async fn discard(&self, upload: &str) -> Result<(), BlobError> {
        let parts = self.parts(upload).await?;
        self.delete_all(parts.into_iter().map(|p| p.location).collect())
            .await
    }

    async fn put(&self, key: BlobKey<'_>, data: Bytes) -> Result<(), BlobError> {
        self.store
            .put(&self.object(&key.path()), data.into())
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn get(&self, key: BlobKey<'_>) -> Result<Bytes, BlobError> {
        let got = self
            .store
            .get(&self.object(&key.path()))
            .await
            .map_err(remote)?;
        got.bytes().await.map_err(remote)
    }

    async fn exists(&self, key: BlobKey<'_>) -> Result<bool, BlobError> {
        match self.store.head(&self.object(&key.path())).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(remote(e)),
        }
    }

    async fn read(&self, key: BlobKey<'_>, range: Range<u64>) -> Result<ByteStream, BlobError> {
        let location = self.object(&key.path());
        if range.start >= range.end {
            // S3 refuses an empty range; still say whether the key is there.
            self.store.head(&location).await.map_err(remote)?;
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let expected = range.end - range.start;
        let options = GetOptions::new().with_range(Some(GetRange::Bounded(range)));
        let got = self
            .store
            .get_opts(&location, options)
            .await
            .map_err(remote)?;
        Ok(Box::pin(exactly(
            got.into_stream(),
            expected,
            format!("attachment {location}"),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> S3Config {
        S3Config {
            bucket: "attachments".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            region: "us-east-1".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI-very-secret".into()),
            allow_http: true,
            prefix: "gridsync/".into(),
        }
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let config = config();
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        let store = S3Store::open(&config).unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn lays_out_objects_under_the_prefix() {
        let store = S3Store::open(&config()).unwrap();
        let sha = "ab".repeat(32);
        assert_eq!(
            store.object(&BlobKey::Original(&sha).path()).as_ref(),
            format!("gridsync/blobs/ab/{sha}")
        );
        let up = "0b6c3f0e-8d1c-4f7e-9a51-3f1f2b9c4d10";
        assert_eq!(
            store.staging(up).unwrap().as_ref(),
            format!("gridsync/staging/{up}")
        );
        let bare = S3Store::open(&S3Config {
            prefix: String::new(),
            ..config()
        })
        .unwrap();
        assert_eq!(
            bare.object(&BlobKey::Thumbnail(&sha, 320).path()).as_ref(),
            format!("thumbs/ab/{sha}-320.jpg")
        );
        assert!(S3Store::open(&S3Config {
            prefix: "a//b".into(),
            ..config()
        })
        .is_err());
    }

    #[test]
    fn refuses_upload_ids_that_are_paths() {
        let store = S3Store::open(&config()).unwrap();
        for bad in ["../x", "a/b", "", "..", "a.b", "a b"] {
            assert!(store.staging(bad).is_err(), "{bad}");
        }
    }
}
