//! The sync exchange's decisions, as pure functions (tested without a
//! database): what a pull sends, and what the device's next cursor is.

use serde::{Deserialize, Serialize};

/// Where a paged transfer of record states stands. The device sends it back
/// unchanged to get the next page; it is opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// The server sequence the transfer started at; the device's cursor once
    /// the last page is delivered.
    pub snapshot: i64,
    /// The last record id sent.
    pub after: String,
}

/// What one pull sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullPlan {
    /// The changes after the cursor, in server order.
    Changes,
    /// Whole record states (for a device that has nothing yet or is far
    /// behind), paged by record id; when the last page is sent, the cursor
    /// becomes `snapshot`.
    States {
        snapshot: i64,
        after: Option<String>,
    },
}

/// Why a pull cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    #[error("cursor {cursor} is ahead of the server ({max_seq}); was the server restored from a backup? Pull again from 0")]
    CursorAhead { cursor: i64, max_seq: i64 },
    #[error("the resume token does not belong to this cursor")]
    BadResume,
}

/// Decide what to send. `pending` is how many changes wait for the device
/// (counted up to `threshold + 1`), `max_seq` the newest server sequence.
///
/// A first pull (cursor 0) or one more than `threshold` changes behind gets
/// record states: a grid of 20k records is then 20k states, not its whole
/// history. A transfer of states, once begun, continues to its end: a device
/// that switched to changes half-way would miss the older changes of records
/// it had not received yet.
pub fn plan_pull(
    cursor: i64,
    resume: Option<&Resume>,
    pending: usize,
    threshold: usize,
    max_seq: i64,
) -> Result<PullPlan, PullError> {
    if cursor < 0 || cursor > max_seq {
        return Err(PullError::CursorAhead { cursor, max_seq });
    }
    if let Some(r) = resume {
        if r.snapshot < cursor || r.snapshot > max_seq || r.after.is_empty() {
            return Err(PullError::BadResume);
        }
        return Ok(PullPlan::States {
            snapshot: r.snapshot,
            after: Some(r.after.clone()),
        });
    }
    if pending > 0 && (cursor == 0 || pending > threshold) {
        return Ok(PullPlan::States {
            snapshot: max_seq,
            after: None,
        });
    }
    Ok(PullPlan::Changes)
}

/// The device's next cursor after a page of changes: the last change sent if
/// more wait, else the newest sequence (past other grids' changes too).
pub fn next_cursor_after_changes(
    last_sent: Option<i64>,
    more: bool,
    max_seq: i64,
    cursor: i64,
) -> i64 {
    match (more, last_sent) {
        (true, Some(last)) => last,
        _ => max_seq.max(cursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(snapshot: i64, after: &str) -> Resume {
        Resume {
            snapshot,
            after: after.into(),
        }
    }

    type Case = (
        (i64, Option<Resume>, usize, usize, i64),
        Result<PullPlan, PullError>,
    );

    #[test]
    fn plans() {
        use PullPlan::*;
        let states = |snapshot| States {
            snapshot,
            after: None,
        };
        // (cursor, resume, pending, threshold, max_seq) → plan
        let table: Vec<Case> = vec![
            ((0, None, 0, 100, 0), Ok(Changes)),
            ((0, None, 0, 100, 50), Ok(Changes)),
            ((0, None, 1, 100, 50), Ok(states(50))),
            ((10, None, 100, 100, 500), Ok(Changes)),
            ((10, None, 101, 100, 500), Ok(states(500))),
            (
                (10, Some(resume(400, "b")), 0, 100, 500),
                Ok(States {
                    snapshot: 400,
                    after: Some("b".into()),
                }),
            ),
            (
                (10, Some(resume(501, "b")), 0, 100, 500),
                Err(PullError::BadResume),
            ),
            (
                (10, Some(resume(5, "b")), 0, 100, 500),
                Err(PullError::BadResume),
            ),
            (
                (10, Some(resume(50, "")), 0, 100, 500),
                Err(PullError::BadResume),
            ),
            (
                (600, None, 0, 100, 500),
                Err(PullError::CursorAhead {
                    cursor: 600,
                    max_seq: 500,
                }),
            ),
            (
                (-1, None, 0, 100, 500),
                Err(PullError::CursorAhead {
                    cursor: -1,
                    max_seq: 500,
                }),
            ),
        ];
        for ((cursor, r, pending, threshold, max_seq), expected) in table {
            assert_eq!(
                plan_pull(cursor, r.as_ref(), pending, threshold, max_seq),
                expected,
                "cursor {cursor} pending {pending} resume {r:?}"
            );
        }
    }

    #[test]
    fn cursors() {
        assert_eq!(next_cursor_after_changes(Some(40), true, 90, 10), 40);
        assert_eq!(next_cursor_after_changes(Some(40), false, 90, 10), 90);
        assert_eq!(next_cursor_after_changes(None, false, 90, 10), 90);
        assert_eq!(
            next_cursor_after_changes(None, false, 5, 10),
            10,
            "never backwards"
        );
    }
}
