//! The one API error type: every error response is JSON with a stable
//! machine-readable `code` and a human `message`, and each variant has one
//! explicit HTTP status.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::store::StoreError;
use crate::sync::PullError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or asks for something impossible.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// Not here (yet), for a reason the code names (e.g. an attachment
    /// referenced but not uploaded yet).
    #[error("{message}")]
    Missing { code: &'static str, message: String },
    /// No valid credentials: a missing, bad, expired or revoked token.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Valid credentials, but not for this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Too many attempts for now; `retry_after` seconds until the next may
    /// go through (sent as `Retry-After`).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("the request body is over the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The request body stopped arriving (`--body-idle-timeout-secs`).
    #[error("the request body stopped arriving: {0}")]
    BodyTimeout(String),
    /// Something declared is over a configured size limit.
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// A media type this server does not take, or bytes that are not what
    /// they claim.
    #[error("{message}")]
    WrongMediaType { code: &'static str, message: String },
    /// A quota is used up for now.
    #[error("{message}")]
    OverQuota { code: &'static str, message: String },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The database is unreachable or busy: try again.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::NotFound { .. } => "not_found",
            ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Missing { code, .. }
            | ApiError::TooLarge { code, .. }
            | ApiError::WrongMediaType { code, .. }
            | ApiError::OverQuota { code, .. } => code,
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "store_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } | ApiError::Missing { .. } => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::WrongMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::OverQuota { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.status_code().is_server_error() {
            tracing::error!(code = self.code(), "{self}");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::TooManyRequests { retry_after, .. } = self {
            res.insert_header((
                actix_web::http::header::RETRY_AFTER,
                (*retry_after).max(1).to_string(),
            ));
        }
        res.json(serde_json::json!({
            "code": self.code(),
            "message": self.to_string(),
        }))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as Db};
        match e {
            StoreError::Pull(PullError::CursorAhead { .. }) => {
                ApiError::bad("cursor_ahead", e.to_string())
            }
            StoreError::Pull(PullError::BadResume) => {
                ApiError::bad("invalid_resume", e.to_string())
            }
            StoreError::Pull(PullError::Outdated) => {
                ApiError::bad("cursor_outdated", e.to_string())
            }
            StoreError::Pull(PullError::BadCursor) => {
                ApiError::bad("invalid_cursor", e.to_string())
            }
            StoreError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            StoreError::NotFound(what) => ApiError::NotFound { what },
            StoreError::Conflict { code, message } => ApiError::Conflict { code, message },
            StoreError::Invalid { code, message } => ApiError::BadRequest { code, message },
            StoreError::OverQuota { code, message } => ApiError::OverQuota { code, message },
            StoreError::Pool(_) | StoreError::Open(_) => ApiError::Unavailable(e.to_string()),
            StoreError::Query(Db::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => {
                ApiError::Unavailable(e.to_string())
            }
            StoreError::Query(Db::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                _,
            )) => ApiError::Unavailable(e.to_string()),
            StoreError::Query(Db::DatabaseError(_, ref info)) if passing(info.message()) => {
                ApiError::Unavailable(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// A database failure that a retry can get past: on Citus, a worker that
/// cannot be reached (down, restarting, its shards moving) or a transaction
/// cancelled to break a deadlock. Diesel does not give the SQLSTATE of
/// these, so the message decides.
fn passing(message: &str) -> bool {
    const SIGNS: [&str; 4] = [
        "connection to the remote node",
        "could not connect to",
        "deadlock",
        "could not establish",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}

impl From<crate::blobs::BlobError> for ApiError {
    fn from(e: crate::blobs::BlobError) -> Self {
        match e {
            crate::blobs::BlobError::Remote(_) => ApiError::Unavailable(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

/// Body extractor errors, mapped once for the whole app.
pub fn json_error(err: JsonPayloadError, limit: usize) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge { limit }
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Payload(e) if crate::wire::timed_out(&e) => {
            ApiError::BodyTimeout(e.to_string())
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::bad("invalid_request", e.to_string())
        }
        JsonPayloadError::Deserialize(e) => ApiError::bad("malformed_json", e.to_string()),
        other => ApiError::bad("invalid_request", other.to_string()),
    }
}

pub fn query_error(err: &QueryPayloadError) -> ApiError {
    ApiError::bad("invalid_query", err.to_string())
}

pub fn path_error(err: &PathError) -> ApiError {
    ApiError::bad("invalid_path", err.to_string())
}
