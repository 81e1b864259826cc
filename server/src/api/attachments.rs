//! Attachments over HTTP: begin or resume an upload, send chunks, download
//! (ranges, ETag), thumbnails. The protocol is in `docs/PROTOCOL.md`
//! ("Attachments"); the decisions in [`crate::attachments`].

use super::json::Json;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;

use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::attachments::{self, thumbnail, Access, Answer, Refusal};
use crate::auth::Caller;
use crate::blobs::BlobKey;
use crate::error::ApiError;
use crate::store::attachments::{AttachmentRow, Begun, Known, UploadAsk, UploadRow};
use crate::store::StoreError;

/// Attachments never change: a cache may keep them as long as it likes.
const CACHE: &str = "private, max-age=31536000, immutable";

/// `POST /v1/attachments` body: what a record refers to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadIn {
    /// The SHA-256 of the bytes, 64 lowercase hex digits.
    sha256: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `application/pdf` (the
    /// server may take fewer: `--attachment-types`).
    media_type: String,
    /// Bytes, at most the server's `--max-attachment-bytes`.
    size: u64,
}

/// Where an attachment's upload stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadOut {
    sha256: String,
    /// `stored` (nothing more to send) or `uploading`.
    #[schema(value_type = String, example = "uploading")]
    state: &'static str,
    /// The upload to send chunks to (while uploading).
    #[serde(skip_serializing_if = "Option::is_none")]
    upload: Option<String>,
    /// Bytes the server has acknowledged: send from here.
    offset: u64,
    size: u64,
    /// The chunk size the server suggests (it takes up to `max_chunk`).
    chunk_size: u64,
    max_chunk: u64,
}

impl UploadOut {
    fn stored(state: &AppState, sha256: String, size: u64) -> UploadOut {
        let l = &state.limits.attachments;
        UploadOut {
            sha256,
            state: "stored",
            upload: None,
            offset: size,
            size,
            chunk_size: l.chunk_bytes,
            max_chunk: l.max_chunk_bytes,
        }
    }

    fn open(state: &AppState, u: &UploadRow) -> UploadOut {
        let l = &state.limits.attachments;
        UploadOut {
            sha256: u.sha256.clone(),
            state: "uploading",
            upload: Some(u.id.clone()),
            offset: to_u64(u.received),
            size: to_u64(u.size),
            chunk_size: l.chunk_bytes,
            max_chunk: l.max_chunk_bytes,
        }
    }
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Uploads are counted per device; a token without one counts as its user's.
fn device_key(caller: &Caller) -> String {
    match &caller.device {
        Some(d) => d.id.clone(),
        None => format!("user:{}", caller.user_id),
    }
}

fn refusal(r: &Refusal) -> ApiError {
    let (code, message) = (r.code(), r.to_string());
    match r {
        Refusal::TooLarge { .. } => ApiError::TooLarge { code, message },
        Refusal::MediaType(..) => ApiError::WrongMediaType { code, message },
        Refusal::BadHash(_) | Refusal::Empty => ApiError::BadRequest { code, message },
    }
}

/// `POST /v1/attachments`: begin or resume an upload.
///
/// Begin an upload, or learn where it stands (the same request resumes it
/// after a failure), or learn that the server has these bytes already.
#[utoipa::path(
    post,
    path = "/v1/attachments",
    tag = "attachments",
    request_body = UploadIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`stored` (send nothing) or `uploading` from `offset`", body = UploadOut),
        (status = 400, description = "`invalid_sha256`, `attachment_empty`, `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 409, description = "`attachment_not_referenced`: sync the change that refers to it first", body = ErrorBody),
        (status = 413, description = "`attachment_too_large`", body = ErrorBody),
        (status = 415, description = "`media_type_not_allowed`", body = ErrorBody),
        (status = 429, description = "`daily_upload_limit`: the device's bytes for the day are used up", body = ErrorBody),
    ),
)]
pub async fn begin(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<UploadIn>,
) -> Result<HttpResponse, ApiError> {
    let ask = body.into_inner();
    state
        .limits
        .attachments
        .check(&ask.sha256, &ask.media_type, ask.size)
        .map_err(|r| refusal(&r))?;
    let now = now_ms();
    let upload = UploadAsk {
        id: uuid::Uuid::new_v4().to_string(),
        sha256: ask.sha256.clone(),
        device: device_key(&caller),
        user_id: caller.user_id,
        media_type: ask.media_type.clone(),
        size: to_i64(ask.size),
        day: attachments::china_day(now),
        daily_limit: to_i64(state.limits.attachments.daily_bytes_per_device),
    };
    let mut begun = begin_upload(&state, &caller, &upload, ask.size, now).await?;
    if let Begun::Kept(row) = &begun {
        // The books say kept; the store must agree (a restored database
        // may remember bytes a restored folder lacks): else take them again.
        if !state.blobs.exists(BlobKey::Original(&row.sha256)).await? {
            tracing::warn!(sha256 = %row.sha256, "attachment missing from the store: taking it again");
            let st = state.clone();
            let sha = row.sha256.clone();
            web::block(move || st.store.forget_attachment(&sha)).await??;
            begun = begin_upload(&state, &caller, &upload, ask.size, now).await?;
        }
    }
    let out = match begun {
        Begun::Kept(row) => UploadOut::stored(&state, row.sha256, to_u64(row.size)),
        // Every byte arrived but the server stopped before keeping them.
        Begun::Open(u) if u.received == u.size => finish(&state, &u).await?,
        Begun::Open(u) => UploadOut::open(&state, &u),
    };
    Ok(HttpResponse::Ok().json(out))
}

/// For a department's staff, the referring records dispatched to their
/// department (read only then: other roles reach by grid).
fn dispatched(
    store: &crate::store::Store,
    scope: &crate::auth::policy::Scope,
    refs: &[crate::store::attachments::RefRow],
) -> Result<Vec<(String, String)>, StoreError> {
    if scope.role != crate::auth::policy::Role::Department || refs.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<(String, String)> = refs
        .iter()
        .map(|r| (r.grid.clone(), r.record_id.clone()))
        .collect();
    Ok(attachments::dispatched_refs(
        &store.records_by_keys(&keys)?,
        scope,
    ))
}

/// Check the caller may upload these bytes, then begin or resume.
async fn begin_upload(
    state: &web::Data<AppState>,
    caller: &Caller,
    upload: &UploadAsk,
    size: u64,
    now: i64,
) -> Result<Begun, ApiError> {
    let st = state.clone();
    let caller = caller.clone();
    let upload = upload.clone();
    web::block(move || -> Result<Begun, ApiError> {
        let scope = caller.scope(&st.store)?;
        let known = st.store.attachment(&upload.sha256)?;
        let dispatched = dispatched(&st.store, &scope, &known.refs)?;
        if attachments::matching_ref(&known.refs, &scope, &dispatched, &upload.media_type, size)
            .is_none()
        {
            return Err(ApiError::Conflict {
                code: "attachment_not_referenced",
                message: format!(
                    "no record you can read refers to {} as {} of {} bytes: sync the \
                     record change that refers to it first",
                    upload.sha256, upload.media_type, size
                ),
            });
        }
        Ok(st.store.begin_upload(&upload, now)?)
    })
    .await?
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `PATCH /v1/attachments/uploads/{id}`: one chunk of an upload.
///
/// The bytes from `Upload-Offset`, optionally with `Upload-Checksum: sha256
/// <base64>` of this chunk. A chunk is acknowledged whole or not at all; the
/// one that completes the bytes makes the server check them and keep them
/// (`stored`).
#[utoipa::path(
    patch,
    path = "/v1/attachments/uploads/{id}",
    tag = "attachments",
    params(
        ("id" = String, Path, description = "The upload's id (`upload` of `POST /v1/attachments`)"),
        ("Upload-Offset" = u64, Header, description = "The byte offset this chunk starts at: the acknowledged `offset`"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 <base64 of the chunk's SHA-256>`"),
    ),
    request_body(
        content(("application/offset+octet-stream")),
        description = "The bytes from `Upload-Offset`, at most `max_chunk`",
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Acknowledged: the new `offset`, or `stored` after the last chunk", body = UploadOut),
        (status = 400, description = "`invalid_offset`, `invalid_checksum`, `chunk_checksum_mismatch`, `beyond_size`, \
            `empty_chunk`, `incomplete_chunk`, `hash_mismatch` (nothing kept: start again from 0)", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 404, description = "`not_found`: finished, discarded or never begun; ask again", body = ErrorBody),
        (status = 408, description = "`body_timeout`", body = ErrorBody),
        (status = 409, description = "`offset_mismatch`: ask again (POST) and go on from the server's offset", body = ErrorBody),
        (status = 413, description = "`chunk_too_large`", body = ErrorBody),
        (status = 415, description = "`media_type_mismatch`: the bytes are not the declared type; nothing kept", body = ErrorBody),
        (status = 429, description = "`daily_upload_limit`", body = ErrorBody),
    ),
)]
pub async fn chunk(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let offset: u64 = header_str(&req, "upload-offset")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::bad(
                "invalid_offset",
                "Upload-Offset must give the byte offset this chunk starts at",
            )
        })?;
    let checksum = header_str(&req, "upload-checksum")
        .map(attachments::parse_checksum)
        .transpose()
        .map_err(|m| ApiError::bad("invalid_checksum", m))?;
    let st = state.clone();
    let lookup = id.clone();
    let upload = web::block(move || st.store.upload(&lookup))
        .await??
        .filter(|u| u.device == device_key(&caller))
        .ok_or_else(|| ApiError::NotFound {
            what: format!("upload {id} (finished, discarded or never begun: POST /v1/attachments)"),
        })?;
    if to_i64(offset) != upload.received {
        return Err(ApiError::Conflict {
            code: "offset_mismatch",
            message: format!(
                "upload {id} is at offset {}, not {offset}: resume from there",
                upload.received
            ),
        });
    }
    let left = to_u64(upload.size - upload.received);
    let max_chunk = state.limits.attachments.max_chunk_bytes;
    let declared: Option<u64> = header_str(&req, "content-length").and_then(|v| v.parse().ok());
    let too_much = |n: u64| -> Option<ApiError> {
        if n > left {
            Some(ApiError::bad(
                "beyond_size",
                format!("upload {id} needs {left} more bytes; this chunk has more"),
            ))
        } else if n > max_chunk {
            Some(ApiError::TooLarge {
                code: "chunk_too_large",
                message: format!("a chunk is at most {max_chunk} bytes"),
            })
        } else {
            None
        }
    };
    if let Some(e) = declared.and_then(too_much) {
        return Err(e);
    }
    // At most one chunk is held in memory, never the whole attachment.
    let mut data = BytesMut::with_capacity(declared.unwrap_or(0).min(max_chunk) as usize);
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| {
            if crate::wire::timed_out(&e) {
                ApiError::BodyTimeout(e.to_string())
            } else {
                ApiError::bad("incomplete_chunk", e.to_string())
            }
        })?;
        if let Some(e) = too_much((data.len() + piece.len()) as u64) {
            return Err(e);
        }
        data.extend_from_slice(&piece);
    }
    if data.is_empty() {
        return Err(ApiError::bad(
            "empty_chunk",
            "a chunk has at least one byte",
        ));
    }
    let data = data.freeze();
    if let Some(want) = checksum {
        let d = data.clone();
        let got: [u8; 32] = web::block(move || Sha256::digest(&d).into()).await?;
        if got != want {
            return Err(ApiError::bad(
                "chunk_checksum_mismatch",
                format!(
                    "the {} bytes at offset {offset} do not match their Upload-Checksum \
                     (damaged on the way?); nothing of them was kept: send them again",
                    data.len()
                ),
            ));
        }
    }
    let to = offset + data.len() as u64;
    state.blobs.stage(&upload.id, offset, data).await?;
    let now = now_ms();
    let st = state.clone();
    let day = attachments::china_day(now);
    let row = web::block(move || {
        st.store
            .advance_upload(&id, to_i64(offset), to_i64(to), &day, now)
    })
    .await??;
    state.metrics.attachment_bytes_received.inc_by(to - offset);
    let out = if row.received == row.size {
        finish(&state, &row).await?
    } else {
        UploadOut::open(&state, &row)
    };
    Ok(HttpResponse::Ok().json(out))
}

/// Every byte is in: keep the attachment if it is what it claims to be,
/// else discard the upload and say why.
async fn finish(state: &AppState, u: &UploadRow) -> Result<UploadOut, ApiError> {
    match finish_once(state, u).await {
        // Two requests finished the same upload at once (a device retrying
        // after a timeout): the other one moved the bytes first.
        Err(ApiError::Internal(_)) | Err(ApiError::NotFound { .. })
            if staging_gone(state, &u.id).await =>
        {
            let st = state.clone();
            let sha = u.sha256.clone();
            let known = web::block(move || st.store.attachment(&sha)).await??;
            match known.kept {
                Some(row) => Ok(UploadOut::stored(state, row.sha256, to_u64(row.size))),
                None => Err(ApiError::NotFound {
                    what: format!("upload {} (ended meanwhile: POST /v1/attachments)", u.id),
                }),
            }
        }
        other => other,
    }
}

/// Whether nothing is staged for `upload` any more.
async fn staging_gone(state: &AppState, upload: &str) -> bool {
    matches!(
        state.blobs.digest(upload, 0).await,
        Err(crate::blobs::BlobError::NotFound(_))
    )
}

async fn finish_once(state: &AppState, u: &UploadRow) -> Result<UploadOut, ApiError> {
    let size = to_u64(u.size);
    let digest = state.blobs.digest(&u.id, size).await?;
    let refused = if digest.sha256 != u.sha256 {
        Some(ApiError::bad(
            "hash_mismatch",
            format!(
                "the {size} bytes received hash to {}, not {}; nothing was kept: \
                 upload them again from offset 0",
                digest.sha256, u.sha256
            ),
        ))
    } else if !attachments::looks_like(&digest.head, &u.media_type) {
        Some(ApiError::WrongMediaType {
            code: "media_type_mismatch",
            message: format!(
                "the bytes are {}, not {} as declared; nothing was kept",
                attachments::sniffed(&digest.head),
                u.media_type
            ),
        })
    } else {
        None
    };
    let kept = match refused {
        Some(_) => {
            state.blobs.discard(&u.id).await?;
            None
        }
        None => {
            state
                .blobs
                .keep(&u.id, size, BlobKey::Original(&u.sha256))
                .await?;
            Some(AttachmentRow {
                sha256: u.sha256.clone(),
                media_type: u.media_type.clone(),
                size: u.size,
                stored_at: now_ms(),
                user_id: u.user_id,
                device: u.device.clone(),
            })
        }
    };
    let st = state.clone();
    let id = u.id.clone();
    let row = kept.clone();
    web::block(move || st.store.finish_upload(&id, row.as_ref())).await??;
    if let Some(e) = refused {
        return Err(e);
    }
    state.metrics.attachments_stored.inc();
    Ok(UploadOut::stored(state, u.sha256.clone(), size))
}

/// The attachment as `caller` may see it: 404 if no record refers to it,
/// 403 if none in reach does, `attachment_pending` if its bytes have not
/// arrived.
async fn readable(
    state: &web::Data<AppState>,
    caller: Caller,
    sha: &str,
) -> Result<AttachmentRow, ApiError> {
    if !gridsync_core::is_sha256_hex(sha) {
        return Err(ApiError::bad(
            "invalid_sha256",
            format!("`{sha}` is not a SHA-256 (64 lowercase hex digits)"),
        ));
    }
    let st = state.clone();
    let key = sha.to_owned();
    let (known, scope, dispatched) = web::block(move || -> Result<_, StoreError> {
        let known = st.store.attachment(&key)?;
        let scope = caller.scope(&st.store)?;
        let dispatched = dispatched(&st.store, &scope, &known.refs)?;
        Ok((known, scope, dispatched))
    })
    .await??;
    let Known { kept, refs } = known;
    match attachments::access(&refs, &scope, &dispatched) {
        Access::Unknown => Err(ApiError::NotFound {
            what: format!("attachment {sha}"),
        }),
        Access::OutOfScope => Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: format!(
                "no record under node `{}` that a {} reads refers to attachment {sha}",
                scope.node,
                scope.role.as_str()
            ),
        }),
        Access::Allowed => kept.ok_or_else(|| ApiError::Missing {
            code: "attachment_pending",
            message: format!(
                "attachment {sha} is referenced by a record, but the device that took it \
                 has not uploaded it yet"
            ),
        }),
    }
}

/// A read of kept bytes failed: `attachment_missing` when the store has
/// them not (restored from an older backup?).
fn lost(sha: &str, e: crate::blobs::BlobError) -> ApiError {
    match e {
        crate::blobs::BlobError::NotFound(_) => ApiError::Missing {
            code: "attachment_missing",
            message: format!(
                "attachment {sha} is recorded as kept but its bytes are missing from the \
                 attachment store (restored from a backup?); a device that has it can \
                 upload it again"
            ),
        },
        other => other.into(),
    }
}

/// 304: the caller's copy is the one.
fn not_modified(tag: String) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, CACHE))
        .finish()
}

/// `GET /v1/attachments/{sha256}`: the bytes, whole or a range.
///
/// Served to a caller who may read a record that refers to them.
#[utoipa::path(
    get,
    path = "/v1/attachments/{sha256}",
    tag = "attachments",
    params(
        ("sha256" = String, Path, description = "The attachment's SHA-256, 64 lowercase hex digits"),
        ("Range" = Option<String>, Header, description = "One range, `bytes=from-to` (several, or a malformed one, give the whole)"),
        ("If-None-Match" = Option<String>, Header, description = "`\"<sha256>\"`: answered 304"),
        ("If-Range" = Option<String>, Header, description = "Another tag gives the whole"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bytes (`ETag`, `Cache-Control: private, max-age=31536000, immutable`, `Accept-Ranges: bytes`)",
            content(("image/jpeg"), ("image/png"), ("image/webp"), ("application/pdf"))),
        (status = 206, description = "The range asked for, with `Content-Range`",
            content(("image/jpeg"), ("image/png"), ("image/webp"), ("application/pdf"))),
        (status = 304, description = "The caller's copy is the one"),
        (status = 400, description = "`invalid_sha256`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`out_of_scope`: no record in the caller's reach refers to it", body = ErrorBody),
        (status = 404, description = "`not_found` (no record refers to it), `attachment_pending` (not uploaded yet), \
            `attachment_missing`", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`, with `Content-Range: bytes */size`", body = ErrorBody),
    ),
)]
pub async fn download(
    state: web::Data<AppState>,
    caller: Caller,
    sha: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let row = readable(&state, caller, &sha).await?;
    let size = to_u64(row.size);
    let tag = attachments::etag(&row.sha256, None);
    let plan = attachments::answer(
        &tag,
        size,
        header_str(&req, "if-none-match"),
        header_str(&req, "range"),
        header_str(&req, "if-range"),
    );
    let (status, range) = match plan {
        Answer::NotModified => return Ok(not_modified(tag)),
        Answer::Unsatisfiable => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .json(serde_json::json!({
                    "code": "range_not_satisfiable",
                    "message": format!("attachment {} has {size} bytes", row.sha256),
                })))
        }
        Answer::Whole => (StatusCode::OK, 0..size),
        Answer::Part(r) => (StatusCode::PARTIAL_CONTENT, r),
    };
    let stream = match state
        .blobs
        .read(BlobKey::Original(&row.sha256), range.clone())
        .await
    {
        Ok(s) => s,
        Err(e) => return Err(lost(&row.sha256, e)),
    }
    .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()));
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, row.media_type.as_str()))
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, CACHE))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        // Photos and scans are compressed already, and ranges count bytes
        // as stored: never gzipped on the way.
        .insert_header(header::ContentEncoding::Identity);
    if status == StatusCode::PARTIAL_CONTENT {
        res.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", range.start, range.end - 1),
        ));
    }
    Ok(res.no_chunking(range.end - range.start).streaming(stream))
}

/// `GET /v1/attachments/{sha256}/thumbnail`: a small JPEG of a photo.
///
/// Made on first request and kept.
#[utoipa::path(
    get,
    path = "/v1/attachments/{sha256}/thumbnail",
    tag = "attachments",
    params(
        ("sha256" = String, Path, description = "The attachment's SHA-256, 64 lowercase hex digits"),
        ("If-None-Match" = Option<String>, Header, description = "The thumbnail's `ETag`: answered 304"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A JPEG at most 320 pixels on its longer side", content(("image/jpeg"))),
        (status = 304, description = "The caller's copy is the one"),
        (status = 400, description = "`invalid_sha256`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`out_of_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`, `attachment_pending`, `attachment_missing`, `no_thumbnail` (a PDF)", body = ErrorBody),
        (status = 415, description = "`undecodable_image`", body = ErrorBody),
    ),
)]
pub async fn thumbnail(
    state: web::Data<AppState>,
    caller: Caller,
    sha: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let row = readable(&state, caller, &sha).await?;
    if thumbnail::format_of(&row.media_type).is_none() {
        return Err(ApiError::Missing {
            code: "no_thumbnail",
            message: format!(
                "{} has no thumbnail: download the attachment",
                row.media_type
            ),
        });
    }
    let tag = attachments::etag(&row.sha256, Some(&format!("t{}", thumbnail::EDGE)));
    if attachments::answer(&tag, 0, header_str(&req, "if-none-match"), None, None)
        == Answer::NotModified
    {
        return Ok(not_modified(tag));
    }
    let key = BlobKey::Thumbnail(&row.sha256, thumbnail::EDGE);
    let bytes = if state.blobs.exists(key).await? {
        state.blobs.get(key).await?
    } else {
        // Decoding a photo takes tens of MB and a core: a few at a time.
        let _turn = state
            .thumbnails
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let original = crate::blobs::read_all(
            &*state.blobs,
            BlobKey::Original(&row.sha256),
            to_u64(row.size),
        )
        .await
        .map_err(|e| lost(&row.sha256, e))?;
        let media = row.media_type.clone();
        let made = web::block(move || thumbnail::make(&original, &media))
            .await?
            .map_err(|e| ApiError::WrongMediaType {
                code: "undecodable_image",
                message: e.to_string(),
            })?;
        let made = Bytes::from(made);
        state.blobs.put(key, made.clone()).await?;
        made
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/jpeg"))
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, CACHE))
        .insert_header(header::ContentEncoding::Identity)
        .body(bytes))
}
