//! The attachment side of [`Client`]: attach a file, upload what acknowledged
//! changes refer to (after the change exchange of a sync), fetch what others
//! attached, and say where each attachment of a record stands.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use gridsync_core::{Attachment, Value};
use serde::Serialize;

use super::{now_ms, ChunkSent, Client, Progress, SyncReport};
use crate::attachments::{self, on_failure, UploadRecovery};
use crate::error::ClientError;
use crate::http::UploadAnswer;
use crate::store::{UploadRow, REFUSED, UPLOADED, WAITING};
use crate::sync::Failure;

/// Where an attachment of a record stands, as this device knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentState {
    #[serde(flatten)]
    pub reference: AttachmentRef,
    /// Its bytes are on this device.
    pub here: bool,
    /// This device's upload of it, when one of its own changes refers to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadRow>,
}

/// An attachment reference, as serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentRef {
    pub sha256: String,
    pub media_type: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

impl AttachmentState {
    /// One line for a person.
    pub fn describe(&self) -> String {
        let what = format!(
            "{} {} ({} bytes){}",
            &self.reference.sha256[..12],
            self.reference.media_type,
            self.reference.size,
            self.reference
                .caption
                .as_deref()
                .map(|c| format!(" “{c}”"))
                .unwrap_or_default()
        );
        let state = match (&self.upload, self.here) {
            (Some(u), _) if u.state == UPLOADED => "uploaded".to_owned(),
            (Some(u), _) if u.state == REFUSED => format!(
                "refused by the server: {}",
                u.reason.as_deref().unwrap_or("no reason given")
            ),
            (Some(u), _) => format!(
                "waiting to upload ({} of {} bytes sent){}",
                u.sent,
                u.size,
                u.reason
                    .as_deref()
                    .map(|r| format!("; last try: {r}"))
                    .unwrap_or_default()
            ),
            (None, true) => "on this device".to_owned(),
            (None, false) => format!(
                "not on this device (gridsync-device fetch {})",
                self.reference.sha256
            ),
        };
        format!("{what}: {state}")
    }
}

impl Client {
    fn folder(&self) -> Result<PathBuf, ClientError> {
        self.store.dir().map(|d| d.to_owned()).ok_or_else(|| {
            ClientError::Usage("this device keeps no files (its store is in memory)".into())
        })
    }

    /// Copy a photo or a scanned page into the device folder and return the
    /// reference to put in a change (a photos entry, `agreement_scan`…).
    /// Its upload is queued when a change that refers to it is made.
    pub fn attach(
        &mut self,
        path: &std::path::Path,
        caption: Option<&str>,
    ) -> Result<Attachment, ClientError> {
        attachments::ingest(&self.folder()?, path, caption)
    }

    /// Every attachment `record` refers to, and where each stands.
    pub fn attachment_states(
        &mut self,
        record: uuid::Uuid,
    ) -> Result<Vec<AttachmentState>, ClientError> {
        let Some(r) = self.device.replica().record(record) else {
            return Ok(Vec::new());
        };
        let refs = r.attachments();
        let uploads = self.store.uploads()?;
        let dir = self.store.dir().map(|d| d.to_owned());
        Ok(refs
            .into_iter()
            .map(|a| AttachmentState {
                here: dir
                    .as_ref()
                    .is_some_and(|d| attachments::path_of(d, &a.sha256).exists()),
                upload: uploads.iter().find(|u| u.sha256 == a.sha256).cloned(),
                reference: AttachmentRef {
                    sha256: a.sha256,
                    media_type: a.media_type,
                    size: a.size,
                    caption: a.caption,
                },
            })
            .collect())
    }

    /// Upload the attachments of changes the server has acknowledged.
    pub(super) fn upload_waiting(
        &mut self,
        observe: &mut dyn FnMut(&Progress<'_>),
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let mut chunks = 0u32;
        for u in self.store.uploads_ready()? {
            if self.store.was_refused(u.seq)? {
                self.store.set_upload(
                    &u.sha256,
                    REFUSED,
                    u.sent,
                    Some("the change that refers to it was refused (see `refused`)"),
                    now_ms(),
                )?;
                continue;
            }
            let outcome = self.upload_one(&u, observe, report, &mut chunks);
            match outcome {
                Ok(None) => report.uploaded += 1,
                Ok(Some(reason)) => {
                    report.upload_problems.insert(u.sha256.clone(), reason);
                }
                Err(e) => {
                    report.uploads_waiting = self.waiting_count()?;
                    return Err(e);
                }
            }
        }
        report.uploads_waiting = self.waiting_count()?;
        Ok(())
    }

    fn waiting_count(&mut self) -> Result<u64, ClientError> {
        Ok(self
            .store
            .uploads()?
            .iter()
            .filter(|u| u.state == WAITING)
            .count() as u64)
    }

    fn begin(&mut self, u: &UploadRow) -> Result<UploadAnswer, Failure> {
        self.http.begin_upload(
            &self.row.access_token,
            &u.sha256,
            &u.media_type,
            u64::try_from(u.size).unwrap_or(0),
        )
    }

    /// One attachment: `None` when the server has it whole, else why it
    /// stays waiting or was refused. An error ends the sync (unreachable).
    fn upload_one(
        &mut self,
        u: &UploadRow,
        observe: &mut dyn FnMut(&Progress<'_>),
        report: &mut SyncReport,
        chunks: &mut u32,
    ) -> Result<Option<String>, ClientError> {
        let path = attachments::path_of(&self.folder()?, &u.sha256);
        let mut file = File::open(&path).ok();
        let size = u64::try_from(u.size).unwrap_or(0);
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut restarted = false;
        let mut step = self.begin(u);
        loop {
            let failure = match step {
                Ok(answer) if answer.state == "stored" => {
                    self.store
                        .set_upload(&u.sha256, UPLOADED, u.size, None, now_ms())?;
                    return Ok(None);
                }
                Ok(answer) => {
                    let Some(f) = file.as_mut() else {
                        let why = "its bytes are not on this device and not on the server";
                        self.store
                            .set_upload(&u.sha256, WAITING, 0, Some(why), now_ms())?;
                        return Ok(Some(why.to_owned()));
                    };
                    let upload = answer.upload.clone().unwrap_or_default();
                    let chunk = self.options.upload_chunk.unwrap_or(answer.chunk_size);
                    let len = chunk
                        .min(answer.max_chunk)
                        .min(size - answer.offset.min(size));
                    let mut data = vec![0u8; len as usize];
                    let read = f
                        .seek(SeekFrom::Start(answer.offset))
                        .and_then(|_| f.read_exact(&mut data));
                    if let Err(e) = read {
                        // A damaged or shortened file here must not hold up
                        // the photos queued behind it: it waits, with why.
                        let why = format!("the file on this device cannot be read: {e}");
                        self.store
                            .set_upload(&u.sha256, WAITING, u.sent, Some(&why), now_ms())?;
                        return Ok(Some(why));
                    }
                    match self.http.send_chunk(
                        &self.row.access_token,
                        &upload,
                        answer.offset,
                        &data,
                    ) {
                        Ok(next) => {
                            attempt = 0;
                            *chunks += 1;
                            report.upload_bytes += next.offset.saturating_sub(answer.offset);
                            self.store.set_upload(
                                &u.sha256,
                                WAITING,
                                i64::try_from(next.offset).unwrap_or(i64::MAX),
                                None,
                                now_ms(),
                            )?;
                            observe(&Progress::Chunk(ChunkSent {
                                sha256: &u.sha256,
                                offset: next.offset,
                                size,
                                chunks: *chunks,
                            }));
                            step = Ok(next);
                            continue;
                        }
                        Err(f) => f,
                    }
                }
                Err(f) => f,
            };
            match on_failure(&failure, attempt, &self.options.retry, rand::random()) {
                UploadRecovery::Retry(pause) => {
                    attempt += 1;
                    report.retries += 1;
                    *report
                        .retry_reasons
                        .entry(match &failure {
                            Failure::Transport(_) => "upload transport".to_owned(),
                            Failure::Status { status, code, .. } => {
                                format!("upload {status} {code}")
                            }
                        })
                        .or_default() += 1;
                    std::thread::sleep(pause);
                }
                UploadRecovery::Reask => attempt += 1,
                UploadRecovery::Refresh if !refreshed => {
                    refreshed = true;
                    self.refresh_tokens()?;
                }
                UploadRecovery::Restart if !restarted => {
                    restarted = true;
                    if !attachments::intact(&path, &u.sha256) {
                        let why = "the file on this device no longer matches its hash \
                                   (storage damaged?); it cannot be uploaded";
                        self.store
                            .set_upload(&u.sha256, REFUSED, 0, Some(why), now_ms())?;
                        return Ok(Some(why.to_owned()));
                    }
                }
                UploadRecovery::Later(why) => {
                    self.store
                        .set_upload(&u.sha256, WAITING, u.sent, Some(&why), now_ms())?;
                    return Ok(Some(why));
                }
                UploadRecovery::Refused(why) => {
                    self.store
                        .set_upload(&u.sha256, REFUSED, u.sent, Some(&why), now_ms())?;
                    return Ok(Some(why));
                }
                UploadRecovery::Refresh | UploadRecovery::Restart | UploadRecovery::GiveUp => {
                    let why = match &failure {
                        Failure::Transport(t) => format!("unreachable: {t}"),
                        Failure::Status { code, message, .. } => format!("{code}: {message}"),
                    };
                    self.store
                        .set_upload(&u.sha256, WAITING, u.sent, Some(&why), now_ms())?;
                    return Err(failure.into());
                }
            }
            step = self.begin(u);
        }
    }

    /// Fetch an attachment's bytes into the device folder (resuming a
    /// partial download), check them against their hash, and return where
    /// they are. A photo whose device has not uploaded it yet is the
    /// server's `attachment_pending`.
    pub fn fetch_attachment(&mut self, sha256: &str) -> Result<PathBuf, ClientError> {
        if !gridsync_core::is_sha256_hex(sha256) {
            return Err(ClientError::Usage(format!(
                "`{sha256}` is not an attachment hash (64 lowercase hex digits)"
            )));
        }
        let dir = self.folder()?;
        let done = attachments::path_of(&dir, sha256);
        if done.exists() {
            return Ok(done);
        }
        std::fs::create_dir_all(dir.join(attachments::FOLDER)).map_err(|e| ClientError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let part = dir.join(attachments::FOLDER).join(format!("{sha256}.part"));
        let io = |e: std::io::Error| ClientError::Io {
            path: part.display().to_string(),
            source: e,
        };
        // A download that ended before its check (a crash): done if whole.
        if attachments::intact(&part, sha256) {
            std::fs::rename(&part, &done).map_err(io)?;
            return Ok(done);
        }
        let mut from = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let res = loop {
            let answer = match self.http.download(&self.row.access_token, sha256, from) {
                Err(Failure::Status {
                    status: 401, code, ..
                }) if code == "token_expired" => {
                    self.refresh_tokens()?;
                    self.http.download(&self.row.access_token, sha256, from)
                }
                other => other,
            };
            match answer {
                // What is here is no prefix of it (longer than the whole):
                // start again from the first byte.
                Err(Failure::Status { status: 416, .. }) if from > 0 => from = 0,
                other => break other.map_err(ClientError::from)?,
            }
        };
        // 206: the rest after what we have; 200: all of it from the start.
        let mut out = if res.status() == 206 {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&part)
                .map_err(io)?
        } else {
            File::create(&part).map_err(io)?
        };
        std::io::copy(&mut res.into_reader(), &mut out).map_err(io)?;
        out.sync_all().map_err(io)?;
        if !attachments::intact(&part, sha256) {
            let _ = std::fs::remove_file(&part);
            return Err(ClientError::Protocol(format!(
                "the bytes fetched for {sha256} do not hash to it; fetch again"
            )));
        }
        std::fs::rename(&part, &done).map_err(io)?;
        Ok(done)
    }
}

/// The attachment reference written as JSON for a `field=` argument.
pub fn reference_json(a: &Attachment) -> String {
    serde_json::to_string(&Value::from(a.clone())).expect("values serialize")
}
