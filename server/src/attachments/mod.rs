//! Attachment decisions, pure and tested without HTTP: the limits an upload
//! is checked against, who may read an attachment, what a download request
//! asks for (ranges, caching), chunk checksums, media type sniffing.
//! The bytes are in [`crate::blobs`], the books in [`crate::store::attachments`],
//! the protocol in `docs/PROTOCOL.md` ("Attachments").

pub mod thumbnail;

use std::ops::Range;

use base64::Engine;
use chrono::TimeZone;
use sha2::{Digest, Sha256};

use crate::auth::policy::Scope;
use crate::store::attachments::RefRow;

/// What an operator configures for attachments.
#[derive(Debug, Clone)]
pub struct AttachmentLimits {
    /// Largest attachment, in bytes.
    pub max_bytes: u64,
    /// Bytes one device may send per day (China time).
    pub daily_bytes_per_device: u64,
    /// Media types accepted (a subset of the core's
    /// [`gridsync_core::ATTACHMENT_MEDIA_TYPES`]).
    pub media_types: Vec<String>,
    /// The chunk size the server suggests.
    pub chunk_bytes: u64,
    /// Largest chunk accepted in one request.
    pub max_chunk_bytes: u64,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_bytes: 25 * 1024 * 1024,
            daily_bytes_per_device: 2 * 1024 * 1024 * 1024,
            media_types: gridsync_core::ATTACHMENT_MEDIA_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            chunk_bytes: 1024 * 1024,
            max_chunk_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Why an upload is refused before a byte is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`{0}` is not a SHA-256 (64 lowercase hex digits)")]
    BadHash(String),
    #[error("{size} bytes is over this server's limit of {max} bytes per attachment")]
    TooLarge { size: u64, max: u64 },
    #[error("an attachment has at least one byte")]
    Empty,
    #[error("`{0}` is not accepted here (accepted: {1})")]
    MediaType(String, String),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::BadHash(_) => "invalid_sha256",
            Refusal::TooLarge { .. } => "attachment_too_large",
            Refusal::Empty => "attachment_empty",
            Refusal::MediaType(..) => "media_type_not_allowed",
        }
    }
}

impl AttachmentLimits {
    /// Check what a device says it will upload.
    pub fn check(&self, sha256: &str, media_type: &str, size: u64) -> Result<(), Refusal> {
        if !gridsync_core::is_sha256_hex(sha256) {
            return Err(Refusal::BadHash(sha256.chars().take(80).collect()));
        }
        if !self.media_types.iter().any(|m| m == media_type) {
            return Err(Refusal::MediaType(
                media_type.chars().take(80).collect(),
                self.media_types.join(", "),
            ));
        }
        if size == 0 {
            return Err(Refusal::Empty);
        }
        if size > self.max_bytes {
            return Err(Refusal::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// Whether a caller may read an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A record in the caller's reach refers to it.
    Allowed,
    /// Records refer to it, none the caller may read.
    OutOfScope,
    /// No record refers to it.
    Unknown,
}

/// Whether the record a reference names is in the caller's reach: its
/// grid, or (a department's staff, who have no grids) one of `dispatched`,
/// the `(grid, record id)` of the referring records dispatched to their
/// department ([`dispatched_refs`]).
fn reaches(r: &RefRow, scope: &Scope, dispatched: &[(String, String)]) -> bool {
    scope.has_grid(&r.grid)
        || dispatched
            .iter()
            .any(|(grid, id)| *grid == r.grid && *id == r.record_id)
}

/// The `(grid, record id)` of the records among `rows` (those the
/// references name) that are dispatched to the caller's department: what a
/// department's staff reach. Empty for every other role.
pub fn dispatched_refs(
    rows: &[crate::db::models::RecordRow],
    scope: &Scope,
) -> Vec<(String, String)> {
    if scope.role != crate::auth::policy::Role::Department {
        return Vec::new();
    }
    rows.iter()
        .filter(|r| crate::dispatch::reaches(scope, &r.grid, r.assignee.as_deref()))
        .map(|r| (r.grid.clone(), r.id.clone()))
        .collect()
}

/// A caller may read an attachment when a record it may read (in reach,
/// its collection readable by the role) refers to it.
pub fn access(refs: &[RefRow], scope: &Scope, dispatched: &[(String, String)]) -> Access {
    if refs.is_empty() {
        Access::Unknown
    } else if refs
        .iter()
        .any(|r| reaches(r, scope, dispatched) && scope.role.may_read(&r.collection))
    {
        Access::Allowed
    } else {
        Access::OutOfScope
    }
}

/// The reference a caller's upload must match: one it may read, with the
/// media type and size the upload declares.
pub fn matching_ref<'a>(
    refs: &'a [RefRow],
    scope: &Scope,
    dispatched: &[(String, String)],
    media_type: &str,
    size: u64,
) -> Option<&'a RefRow> {
    refs.iter().find(|r| {
        reaches(r, scope, dispatched)
            && scope.role.may_read(&r.collection)
            && r.media_type == media_type
            && u64::try_from(r.size).ok() == Some(size)
    })
}

/// A chunk's `Upload-Checksum: sha256 <base64>` (the tus checksum header).
pub fn parse_checksum(header: &str) -> Result<[u8; 32], String> {
    let (algo, b64) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("`{header}` is not `sha256 <base64 digest>`"))?;
    if !algo.eq_ignore_ascii_case("sha256") {
        return Err(format!(
            "checksum algorithm `{algo}` is not supported (sha256 is)"
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| format!("`{b64}` is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| "a sha256 digest is 32 bytes".to_owned())
}

/// The `Upload-Checksum` header value for `data`.
pub fn checksum_header(data: &[u8]) -> String {
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
    )
}

/// Whether the first bytes of an upload look like its declared media type.
pub fn looks_like(head: &[u8], media_type: &str) -> bool {
    infer::get(head).is_some_and(|t| t.mime_type() == media_type)
}

/// What a media type is, for error messages: what the bytes look like.
pub fn sniffed(head: &[u8]) -> &'static str {
    infer::get(head).map_or("unrecognised bytes", |t| t.mime_type())
}

/// The day (China time, where the districts are) an upload counts against.
pub fn china_day(ms: i64) -> String {
    crate::reports::zone()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The strong ETag of an attachment (or of its thumbnail).
pub fn etag(sha256: &str, variant: Option<&str>) -> String {
    match variant {
        None => format!("\"{sha256}\""),
        Some(v) => format!("\"{sha256}-{v}\""),
    }
}

/// What to answer a download with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 304: the caller has these bytes.
    NotModified,
    /// 200 with everything.
    Whole,
    /// 206 with these bytes.
    Part(Range<u64>),
    /// 416.
    Unsatisfiable,
}

/// Decide a download from its `If-None-Match`, `Range` and `If-Range`
/// headers (RFC 9110): a malformed range or several ranges get the whole
/// (a server may ignore a range), an impossible one 416.
pub fn answer(
    etag: &str,
    size: u64,
    if_none_match: Option<&str>,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Answer {
    if let Some(inm) = if_none_match {
        if inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
        {
            return Answer::NotModified;
        }
    }
    let Some(range) = range else {
        return Answer::Whole;
    };
    if if_range.is_some_and(|v| v.trim() != etag) {
        return Answer::Whole;
    }
    use http_range_header::RangeUnsatisfiableError as E;
    let parsed = match http_range_header::parse_range_header(range) {
        Ok(p) => p,
        Err(E::Invalid(_)) => return Answer::Whole,
        Err(_) => return Answer::Unsatisfiable,
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            Answer::Part(*r.start()..r.end() + 1)
        }
        Ok(_) => Answer::Whole,
        Err(E::Invalid(_)) => Answer::Whole,
        Err(_) => Answer::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests;
