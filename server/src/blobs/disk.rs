//! Attachments in a folder: `staging/<upload>` while an upload is under way
//! (one file, each part written at its offset), then `blobs/ab/<sha256>`;
//! thumbnails in `thumbs/`. File work runs on the blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{BlobError, BlobKey, BlobStore, ByteStream, Digest, HEAD_BYTES};

/// Read pieces this large when hashing or serving.
const PIECE: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct DiskStore {
    root: PathBuf,
}

impl DiskStore {
    /// A store in `root` (made if missing).
    pub fn open(root: impl Into<PathBuf>) -> Result<DiskStore, BlobError> {
        let root = root.into();
        for dir in ["staging", "blobs", "thumbs"] {
            fs::create_dir_all(root.join(dir))?;
        }
        Ok(DiskStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn staged(&self, upload: &str) -> Result<PathBuf, BlobError> {
        // Upload ids are the server's UUIDs; refuse anything that could
        // name a path outside the staging folder.
        if upload.is_empty()
            || !upload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(BlobError::NotFound(format!("upload {upload}")));
        }
        Ok(self.root.join("staging").join(upload))
    }

    fn path(&self, key: BlobKey<'_>) -> PathBuf {
        self.root.join(key.path())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Io(std::io::Error::other(e)))?
}

fn not_found(path: &Path, e: std::io::Error) -> BlobError {
    if e.kind() == std::io::ErrorKind::NotFound {
        BlobError::NotFound(path.display().to_string())
    } else {
        BlobError::Io(e)
    }
}

/// Make `path`'s folder and write `data` there through a temporary file,
/// synced, then renamed: a reader sees all of it or nothing.
fn write_whole(path: &Path, data: &[u8]) -> Result<(), BlobError> {
    let dir = path.parent().expect("keys have a folder");
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

#[async_trait::async_trait]
impl BlobStore for DiskStore {
    async fn stage(&self, upload: &str, offset: u64, data: Bytes) -> Result<(), BlobError> {
        let path = self.staged(upload)?;
        blocking(move || {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            f.seek(SeekFrom::Start(offset))?;
            // In slices: one multi-megabyte write() cost this kernel several
            // times the CPU of the same bytes in 1 MiB writes (PERFORMANCE.md,
            // "Attachment upload").
            for slice in data.chunks(1 << 20) {
                f.write_all(slice)?;
            }
            // The offset is acknowledged after this returns: the part must
            // survive a crash of the server.
            f.sync_data()?;
            Ok(())
        })
        .await
    }

    async fn digest(&self, upload: &str, size: u64) -> Result<Digest, BlobError> {
        let path = self.staged(upload)?;
        blocking(move || {
            let f = File::open(&path).map_err(|e| not_found(&path, e))?;
            let mut reader = f.take(size);
            let mut hasher = Sha256::new();
            let mut head = Vec::with_capacity(HEAD_BYTES);
            let mut buf = vec![0u8; PIECE];
            let mut seen = 0u64;
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                if head.len() < HEAD_BYTES {
                    let take = (HEAD_BYTES - head.len()).min(n);
                    head.extend_from_slice(&buf[..take]);
                }
                hasher.update(&buf[..n]);
                seen += n as u64;
            }
            if seen < size {
                return Err(BlobError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("upload {} holds {seen} of {size} bytes", path.display()),
                )));
            }
            Ok(Digest {
                sha256: format!("{:x}", hasher.finalize()),
                head,
            })
        })
        .await
    }

    async fn keep(&self, upload: &str, size: u64, key: BlobKey<'_>) -> Result<(), BlobError> {
        let from = self.staged(upload)?;
        let to = self.path(key);
        blocking(move || {
            let f = OpenOptions::new()
                .write(true)
                .open(&from)
                .map_err(|e| not_found(&from, e))?;
            // A longer earlier attempt may have left bytes past the end.
            f.set_len(size)?;
            f.sync_all()?;
            let dir = to.parent().expect("keys have a folder");
            fs::create_dir_all(dir)?;
            fs::rename(&from, &to)?;
            File::open(dir)?.sync_all()?;
            Ok(())
        })
        .await
    }

    async fn discard(&self, upload: &str) -> Result<(), BlobError> {
        let path = self.staged(upload)?;
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        })
        .await
    }

    async fn put(&self, key: BlobKey<'_>, data: Bytes) -> Result<(), BlobError> {
        let path = self.path(key);
        blocking(move || write_whole(&path, &data)).await
    }

    async fn get(&self, key: BlobKey<'_>) -> Result<Bytes, BlobError> {
        let path = self.path(key);
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) => Err(not_found(&path, e)),
        }
    }

    async fn exists(&self, key: BlobKey<'_>) -> Result<bool, BlobError> {
        Ok(tokio::fs::try_exists(self.path(key)).await?)
    }

    async fn read(&self, key: BlobKey<'_>, range: Range<u64>) -> Result<ByteStream, BlobError> {
        let path = self.path(key);
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| not_found(&path, e))?;
        f.seek(SeekFrom::Start(range.start)).await?;
        let left = range.end.saturating_sub(range.start);
        let stream = futures_util::stream::try_unfold((f, left), |(mut f, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let want = usize::try_from(left).unwrap_or(PIECE).min(PIECE);
            let mut buf = BytesMut::with_capacity(want);
            while buf.len() < want {
                let mut limited = (&mut f).take((want - buf.len()) as u64);
                if limited.read_buf(&mut buf).await? == 0 {
                    return Err(BlobError::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the attachment is shorter than its recorded size",
                    )));
                }
            }
            let n = buf.len() as u64;
            Ok(Some((buf.freeze(), (f, left - n))))
        });
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_store_conformance_checks() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        actix_web::rt::System::new().block_on(super::super::conformance::check(&store));
        // Nothing staged is left behind.
        assert_eq!(fs::read_dir(dir.path().join("staging")).unwrap().count(), 0);
    }

    #[test]
    fn refuses_upload_ids_that_are_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        for bad in ["../x", "a/b", "", "..", "a.b"] {
            assert!(store.staged(bad).is_err(), "{bad}");
        }
    }
}
