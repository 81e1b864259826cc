//! The sync exchange as data and decisions, with no I/O.
//!
//! A round trip is a [`SyncRequest`] (the oldest part of the outbox, the
//! cursor, the resume token) and a [`SyncResponse`] (one result per pushed
//! change, then a page of changes or of record states). What to do with a
//! response ([`sort_results`]) and with a failure ([`recover`]) are pure
//! functions, so the loop in [`crate::Client::sync`] only moves data
//! between them, the transport and the store.
//!
//! ```
//! use gridsync_client::sync::{recover, Failure, Recovery, RetryPolicy};
//! let policy = RetryPolicy::default();
//! // A dropped connection is retried after a pause that grows per attempt…
//! let lost = Failure::Transport("connection reset".into());
//! assert!(matches!(recover(&lost, 0, &policy, 0.5), Recovery::Retry(_)));
//! // …an expired access token is refreshed, a refused request is not retried.
//! let expired = Failure::Status { status: 401, code: "token_expired".into(), message: String::new() };
//! assert_eq!(recover(&expired, 0, &policy, 0.5), Recovery::Refresh);
//! let bad = Failure::Status { status: 400, code: "invalid_request".into(), message: String::new() };
//! assert_eq!(recover(&bad, 0, &policy, 0.5), Recovery::GiveUp);
//! ```

use std::time::Duration;

use gridsync_core::Change;
use serde_json::value::RawValue;

/// `POST /v1/sync` body: the outbox entries as they were kept when made.
pub type SyncRequest<'a> = gridsync_core::wire::SyncRequest<&'a RawValue>;
/// `POST /v1/sync` answer: changes decoded, record states in the stored form.
pub type SyncResponse = gridsync_core::wire::SyncResponse<Change, Box<RawValue>>;
/// The server's verdict on one pushed change.
pub use gridsync_core::wire::ChangeResult as PushResult;
pub use gridsync_core::wire::{CursorField, ResumeField};

/// A refusal, paired with the outbox entry it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub seq: u64,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

/// Pair the results with the pushed sequence numbers: which left the outbox
/// as delivered (applied, or the server had it already) and which were
/// refused. The server answers one result per change, in order; an answer
/// that does not is a protocol error and nothing is acknowledged.
pub fn sort_results(
    sent: &[u64],
    results: &[PushResult],
) -> Result<(Vec<u64>, Vec<Refusal>), String> {
    if sent.len() != results.len() {
        return Err(format!(
            "{} results for {} changes",
            results.len(),
            sent.len()
        ));
    }
    let mut done = Vec::new();
    let mut refused = Vec::new();
    for (&seq, result) in sent.iter().zip(results) {
        match result {
            PushResult::Applied { seq: s, .. } | PushResult::Duplicate { seq: s, .. }
                if *s == seq =>
            {
                done.push(seq)
            }
            PushResult::Refused {
                seq: s,
                code,
                message,
                field,
                ..
            } if s.is_none_or(|s| s == seq) => refused.push(Refusal {
                seq,
                code: code.clone(),
                field: field.clone(),
                message: message.clone(),
            }),
            other => return Err(format!("result {other:?} answers change {seq}")),
        }
    }
    Ok((done, refused))
}

/// How a failed round trip failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer: connection refused, reset, timed out.
    Transport(String),
    /// An error answer, `{"code", "message"}`.
    Status {
        status: u16,
        code: String,
        message: String,
    },
}

/// What to do after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Send the same request again after the pause.
    Retry(Duration),
    /// Get a new access token with the refresh token, then resend.
    Refresh,
    /// The server is behind this device (restored from a backup): pull
    /// from 0 and resend the outbox.
    PullFromZero,
    /// Report the error; the outbox stays as it is.
    GiveUp,
}

/// Retries of one round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first: Duration::from_millis(250),
            max: Duration::from_secs(8),
        }
    }
}

/// The decision after `attempt` failed tries (0 for the first failure);
/// `jitter` in [0, 1) spreads the retries of a fleet that lost the server at
/// the same moment.
pub fn recover(failure: &Failure, attempt: u32, policy: &RetryPolicy, jitter: f64) -> Recovery {
    let transient = match failure {
        Failure::Transport(_) => true,
        Failure::Status { status, code, .. } => match (*status, code.as_str()) {
            (401, "token_expired") => return Recovery::Refresh,
            (400, "cursor_ahead" | "invalid_resume" | "cursor_outdated" | "invalid_cursor") => {
                return Recovery::PullFromZero
            }
            (429 | 502 | 503 | 504, _) => true,
            _ => false,
        },
    };
    if !transient || attempt + 1 >= policy.attempts {
        return Recovery::GiveUp;
    }
    let exp = policy.first.saturating_mul(1u32 << attempt.min(16));
    let base = exp.min(policy.max);
    // Full pause scaled into [base/2, base): never zero, never in lockstep.
    Recovery::Retry(base.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: &str) -> Failure {
        Failure::Status {
            status,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn recovery_table() {
        let p = RetryPolicy::default();
        let ms = Duration::from_millis;
        let cases: Vec<(Failure, u32, f64, Recovery)> = vec![
            (
                Failure::Transport("reset".into()),
                0,
                0.0,
                Recovery::Retry(ms(125)),
            ),
            (
                Failure::Transport("reset".into()),
                0,
                1.0,
                Recovery::Retry(ms(250)),
            ),
            (
                Failure::Transport("reset".into()),
                2,
                0.0,
                Recovery::Retry(ms(500)),
            ),
            (
                Failure::Transport("reset".into()),
                4,
                1.0,
                Recovery::Retry(ms(4000)),
            ),
            (Failure::Transport("reset".into()), 5, 0.0, Recovery::GiveUp),
            (
                status(503, "store_unavailable"),
                1,
                0.0,
                Recovery::Retry(ms(250)),
            ),
            (
                status(429, "too_many_requests"),
                0,
                0.0,
                Recovery::Retry(ms(125)),
            ),
            (status(401, "token_expired"), 0, 0.0, Recovery::Refresh),
            (status(401, "token_expired"), 9, 0.0, Recovery::Refresh),
            (status(401, "invalid_token"), 0, 0.0, Recovery::GiveUp),
            (status(403, "device_revoked"), 0, 0.0, Recovery::GiveUp),
            (status(400, "cursor_ahead"), 0, 0.0, Recovery::PullFromZero),
            (
                status(400, "invalid_resume"),
                0,
                0.0,
                Recovery::PullFromZero,
            ),
            (status(400, "too_many_changes"), 0, 0.0, Recovery::GiveUp),
            (status(500, "internal"), 0, 0.0, Recovery::GiveUp),
        ];
        for (failure, attempt, jitter, want) in cases {
            assert_eq!(
                recover(&failure, attempt, &p, jitter),
                want,
                "{failure:?} attempt {attempt}"
            );
        }
    }

    #[test]
    fn pauses_are_capped() {
        let p = RetryPolicy {
            attempts: 100,
            ..RetryPolicy::default()
        };
        for attempt in 0..60 {
            match recover(&Failure::Transport(String::new()), attempt, &p, 0.999) {
                Recovery::Retry(d) => assert!(d <= p.max && d > Duration::ZERO, "{d:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn results_pair_by_position() {
        let results = vec![
            PushResult::Applied {
                actor: 7,
                seq: 4,
                server_seq: 10,
            },
            PushResult::Duplicate { actor: 7, seq: 5 },
            PushResult::Refused {
                actor: Some(7),
                seq: Some(6),
                code: "value_not_allowed".into(),
                message: "no".into(),
                field: Some("status".into()),
            },
            PushResult::Refused {
                actor: None,
                seq: None,
                code: "malformed_change".into(),
                message: "?".into(),
                field: None,
            },
        ];
        let (done, refused) = sort_results(&[4, 5, 6, 7], &results).unwrap();
        assert_eq!(done, vec![4, 5]);
        assert_eq!(
            refused
                .iter()
                .map(|r| (r.seq, r.code.as_str()))
                .collect::<Vec<_>>(),
            vec![(6, "value_not_allowed"), (7, "malformed_change")]
        );
        assert_eq!(refused[0].field.as_deref(), Some("status"));
    }

    #[test]
    fn a_mismatched_answer_acknowledges_nothing() {
        let one = vec![PushResult::Applied {
            actor: 7,
            seq: 4,
            server_seq: 1,
        }];
        assert!(sort_results(&[4, 5], &one).is_err());
        assert!(sort_results(&[5], &one).is_err());
        assert!(sort_results(&[], &[]).unwrap().0.is_empty());
    }
}
