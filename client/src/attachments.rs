//! Attachments on the device: a photo is copied into the device folder under
//! its SHA-256 when it is attached (so it survives the camera roll), a change
//! that refers to it queues its upload, and the upload runs after the change
//! is acknowledged, resuming where the server says it stands. The decisions
//! (what a failed chunk means) are pure and tested with a table.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use gridsync_core::{Attachment, Change, Op, Value, ATTACHMENT_MEDIA_TYPES};
use sha2::{Digest, Sha256};

use crate::error::ClientError;
use crate::sync::{recover, Failure, Recovery, RetryPolicy};

/// The folder, inside the device folder, that holds attachment files.
pub const FOLDER: &str = "attachments";

/// Where the bytes of `sha256` are kept in a device folder.
pub fn path_of(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(FOLDER).join(sha256)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ClientError + '_ {
    move |e| ClientError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

/// Copy the file at `src` into the device folder, hashing it on the way,
/// and make the reference a change carries. Its media type is read from
/// its first bytes (a JPEG named `.png` is a JPEG); only photos and PDFs
/// are taken.
pub fn ingest(dir: &Path, src: &Path, caption: Option<&str>) -> Result<Attachment, ClientError> {
    let folder = dir.join(FOLDER);
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let mut input = File::open(src).map_err(io(src))?;
    let tmp = folder.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let mut out = File::create(&tmp).map_err(io(&tmp))?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let copied = (|| -> Result<(), ClientError> {
        loop {
            let n = input.read(&mut buf).map_err(io(src))?;
            if n == 0 {
                break;
            }
            if head.len() < 64 {
                head.extend_from_slice(&buf[..n.min(64 - head.len())]);
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io(&tmp))?;
            size += n as u64;
        }
        out.sync_all().map_err(io(&tmp))
    })();
    let checked = copied.and_then(|()| {
        let media_type = infer::get(&head)
            .map(|t| t.mime_type())
            .filter(|m| ATTACHMENT_MEDIA_TYPES.contains(m))
            .ok_or_else(|| {
                ClientError::Usage(format!(
                    "{} is not a photo or a PDF (taken: {})",
                    src.display(),
                    ATTACHMENT_MEDIA_TYPES.join(", ")
                ))
            })?;
        if size == 0 || size > gridsync_core::schema::ATTACHMENT_MAX_BYTES {
            return Err(ClientError::Usage(format!(
                "{} has {size} bytes: an attachment has 1 to {} bytes",
                src.display(),
                gridsync_core::schema::ATTACHMENT_MAX_BYTES
            )));
        }
        Ok(media_type)
    });
    let media_type = match checked {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let sha256 = format!("{:x}", hasher.finalize());
    let kept = path_of(dir, &sha256);
    std::fs::rename(&tmp, &kept).map_err(io(&kept))?;
    File::open(&folder)
        .and_then(|f| f.sync_all())
        .map_err(io(&folder))?;
    Ok(Attachment {
        sha256,
        media_type: media_type.to_owned(),
        size,
        caption: caption.map(str::to_owned),
    })
}

/// The attachments a change refers to, once each.
pub fn refs_in(change: &Change) -> Vec<Attachment> {
    let mut out: Vec<Attachment> = Vec::new();
    let mut keep = |v: &Value| {
        if let Value::Attachment(a) = v {
            if !out.iter().any(|o| o.sha256 == a.sha256) {
                out.push((**a).clone());
            }
        }
    };
    for op in &change.ops {
        match op {
            Op::Set { value, .. } => keep(value),
            Op::Append { entry, .. } => entry.fields.values().for_each(&mut keep),
            _ => {}
        }
    }
    out
}

/// The `Upload-Checksum` header of a chunk.
pub fn checksum_header(data: &[u8]) -> String {
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
    )
}

/// Whether the file at `path` still hashes to `sha256` (a phone's storage
/// can fail too).
pub fn intact(path: &Path, sha256: &str) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher).is_ok() && format!("{:x}", hasher.finalize()) == sha256
}

/// What to do when a step of an upload failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRecovery {
    /// Pause, then ask the server where the upload stands and go on.
    Retry(Duration),
    /// The access token expired: refresh it and go on.
    Refresh,
    /// Ask the server where the upload stands and go on from there (the
    /// chunk was damaged on the way, the offset moved, the upload ended).
    Reask,
    /// The whole did not hash to its name on the server: check the file
    /// here and send it again from the start.
    Restart,
    /// Not now (the server has not the record yet, or the day's limit is
    /// used up): keep it waiting for the next sync.
    Later(String),
    /// The server will not take it as it is (too large, a type it does not
    /// take): keep it here, marked refused with the reason.
    Refused(String),
    /// Give up this sync (the server is unreachable or says something
    /// unexpected); it stays waiting.
    GiveUp,
}

/// Decide what a failed upload step means (`attempt`: failures so far in a
/// row, for the backoff).
pub fn on_failure(
    failure: &Failure,
    attempt: u32,
    policy: &RetryPolicy,
    jitter: f64,
) -> UploadRecovery {
    if let Failure::Status {
        status,
        code,
        message,
    } = failure
    {
        let reason = format!("{code}: {message}");
        match (*status, code.as_str()) {
            // Ask where it stands and go on; a server that keeps saying so
            // is not making progress: give up this sync after as many
            // tries as for a transient failure.
            (409, "offset_mismatch")
            | (404, "not_found")
            | (400, "chunk_checksum_mismatch" | "incomplete_chunk" | "beyond_size") => {
                return if attempt + 1 >= policy.attempts {
                    UploadRecovery::GiveUp
                } else {
                    UploadRecovery::Reask
                }
            }
            (400, "hash_mismatch") => return UploadRecovery::Restart,
            (409, "attachment_not_referenced") | (429, "daily_upload_limit") => {
                return UploadRecovery::Later(reason)
            }
            (413, _) | (415, _) | (400, "invalid_sha256" | "attachment_empty") => {
                return UploadRecovery::Refused(reason)
            }
            _ => {}
        }
    }
    match recover(failure, attempt, policy, jitter) {
        Recovery::Retry(p) => UploadRecovery::Retry(p),
        Recovery::Refresh => UploadRecovery::Refresh,
        Recovery::PullFromZero | Recovery::GiveUp => UploadRecovery::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: &str) -> Failure {
        Failure::Status {
            status,
            code: code.into(),
            message: "why".into(),
        }
    }

    #[test]
    fn what_a_failed_upload_step_means() {
        let p = RetryPolicy::default();
        let later = |code: &str| UploadRecovery::Later(format!("{code}: why"));
        let refused = |code: &str| UploadRecovery::Refused(format!("{code}: why"));
        let table: Vec<(Failure, u32, UploadRecovery)> = vec![
            (status(409, "offset_mismatch"), 0, UploadRecovery::Reask),
            (status(404, "not_found"), 0, UploadRecovery::Reask),
            (
                status(409, "offset_mismatch"),
                p.attempts - 1,
                UploadRecovery::GiveUp,
            ),
            (
                status(400, "chunk_checksum_mismatch"),
                0,
                UploadRecovery::Reask,
            ),
            (
                status(400, "chunk_checksum_mismatch"),
                p.attempts - 1,
                UploadRecovery::GiveUp,
            ),
            (status(400, "incomplete_chunk"), 1, UploadRecovery::Reask),
            (status(400, "hash_mismatch"), 0, UploadRecovery::Restart),
            (
                status(409, "attachment_not_referenced"),
                0,
                later("attachment_not_referenced"),
            ),
            (
                status(429, "daily_upload_limit"),
                0,
                later("daily_upload_limit"),
            ),
            (
                status(413, "attachment_too_large"),
                0,
                refused("attachment_too_large"),
            ),
            (
                status(415, "media_type_not_allowed"),
                0,
                refused("media_type_not_allowed"),
            ),
            (
                status(415, "media_type_mismatch"),
                0,
                refused("media_type_mismatch"),
            ),
            (status(401, "token_expired"), 0, UploadRecovery::Refresh),
            (status(401, "invalid_token"), 0, UploadRecovery::GiveUp),
            (status(403, "out_of_scope"), 0, UploadRecovery::GiveUp),
            (status(500, "internal"), 0, UploadRecovery::GiveUp),
            (
                status(503, "store_unavailable"),
                p.attempts - 1,
                UploadRecovery::GiveUp,
            ),
            (
                Failure::Transport("reset".into()),
                p.attempts - 1,
                UploadRecovery::GiveUp,
            ),
        ];
        for (f, attempt, want) in table {
            assert_eq!(
                on_failure(&f, attempt, &p, 0.0),
                want,
                "{f:?} attempt {attempt}"
            );
        }
        // Transient failures back off like the sync loop.
        assert!(matches!(
            on_failure(&Failure::Transport("reset".into()), 0, &p, 0.0),
            UploadRecovery::Retry(_)
        ));
        assert!(matches!(
            on_failure(&status(429, "too_many_requests"), 1, &p, 0.5),
            UploadRecovery::Retry(_)
        ));
    }

    #[test]
    fn ingest_copies_hashes_and_types_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("scan.png");
        // A PDF named .png is a PDF.
        std::fs::write(&src, b"%PDF-1.4\n%%EOF\n").unwrap();
        let a = ingest(dir.path(), &src, Some("协议")).unwrap();
        assert_eq!(a.media_type, "application/pdf");
        assert_eq!(a.size, 15);
        assert_eq!(a.caption.as_deref(), Some("协议"));
        assert!(intact(&path_of(dir.path(), &a.sha256), &a.sha256));
        // Something else is refused and leaves nothing behind.
        let exe = dir.path().join("photo.jpg");
        std::fs::write(&exe, b"MZ\x90\x00\x03").unwrap();
        assert!(matches!(
            ingest(dir.path(), &exe, None),
            Err(ClientError::Usage(_))
        ));
        let empty = dir.path().join("empty.jpg");
        std::fs::write(&empty, b"").unwrap();
        assert!(ingest(dir.path(), &empty, None).is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path().join(FOLDER))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1, "only the PDF is kept");
        assert!(!intact(&dir.path().join("missing"), &a.sha256));
    }
}
