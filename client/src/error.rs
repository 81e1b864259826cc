//! The client's errors.

use gridsync_core::ChangeError;

/// Why a device operation failed. Nothing the user made is lost by any of
/// these: a failed sync leaves the outbox as it was.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("local store: {0}")]
    Store(#[from] diesel::result::Error),
    #[error("local store: cannot open: {0}")]
    Open(#[from] diesel::ConnectionError),
    #[error("local store: migration failed: {0}")]
    Migration(String),
    #[error("this folder already holds an enrolled device")]
    AlreadyEnrolled,
    #[error("no device is enrolled here yet: run `gridsync-device enroll` first")]
    NotEnrolled,
    #[error("local record state unreadable: {0}")]
    Stored(#[from] gridsync_core::record::StoredError),
    /// The change was refused on the device (the server would refuse it too).
    #[error("{0}")]
    Change(#[from] ChangeError),
    /// The server could not be reached (after the retries).
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an error.
    #[error("server said {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// The server's answer is not what the protocol says.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error("{0}")]
    Usage(String),
    /// A CA file given to trust could not be used.
    #[error("{path}: {why}")]
    Tls { path: String, why: String },
}

impl ClientError {
    /// A stable machine-readable code: the server's when it refused, the
    /// core's when the device refused a change.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            ClientError::Change(e) => Some(e.code()),
            ClientError::Usage(_) => Some("invalid_input"),
            ClientError::NotEnrolled => Some("not_enrolled"),
            ClientError::AlreadyEnrolled => Some("already_enrolled"),
            ClientError::Unreachable(_) => Some("server_unreachable"),
            ClientError::Tls { .. } => Some("invalid_ca_cert"),
            _ => None,
        }
    }
}

impl From<crate::sync::Failure> for ClientError {
    fn from(f: crate::sync::Failure) -> Self {
        match f {
            crate::sync::Failure::Transport(t) => ClientError::Unreachable(t),
            crate::sync::Failure::Status {
                status,
                code,
                message,
            } => ClientError::Api {
                status,
                code,
                message,
            },
        }
    }
}
