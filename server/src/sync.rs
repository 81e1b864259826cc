//! The sync exchange's decisions, as pure functions (tested without a
//! database): where a device's pull stands (its [`Cursor`]), what a pull
//! sends, and the device's next cursor.
//!
//! Every grid has a log of its own, numbered from 1 (`changes.seq`, the
//! newest in `grid_heads`): batches for different grids never wait for one
//! another's number. A device's cursor is therefore a position per grid,
//! sent to it as an opaque token.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Per grid, the newest position of its log a device has pulled (absent: 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub BTreeMap<String, i64>);

/// The version prefix of cursor tokens.
const CURSOR_V1: &str = "c1.";
/// The version prefix of resume tokens.
const RESUME_V1: &str = "r1.";

impl Cursor {
    /// The position of `grid` (0: nothing pulled yet).
    pub fn get(&self, grid: &str) -> i64 {
        self.0.get(grid).copied().unwrap_or(0)
    }

    /// The token a device keeps and sends back: opaque to clients.
    ///
    /// ```
    /// use gridsync_server::sync::Cursor;
    /// let c = Cursor([("g-001".to_string(), 41), ("g-002".to_string(), 7)].into());
    /// let token = c.encode();
    /// assert!(token.starts_with("c1."));
    /// assert_eq!(Cursor::decode(&token), Ok(c));
    /// assert_eq!(Cursor::decode(""), Ok(Cursor::default()));
    /// ```
    pub fn encode(&self) -> String {
        let text = self
            .0
            .iter()
            .filter(|(_, s)| **s > 0)
            .map(|(g, s)| format!("{g}:{s}"))
            .collect::<Vec<_>>()
            .join(",");
        format!("{CURSOR_V1}{}", URL_SAFE_NO_PAD.encode(text))
    }

    /// Read a token made by [`Cursor::encode`]; the empty string is the
    /// cursor of a device that has pulled nothing.
    pub fn decode(token: &str) -> Result<Cursor, PullError> {
        if token.is_empty() {
            return Ok(Cursor::default());
        }
        let bytes = token
            .strip_prefix(CURSOR_V1)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(PullError::BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| PullError::BadCursor)?;
        let mut map = BTreeMap::new();
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            let (grid, seq) = pair.rsplit_once(':').ok_or(PullError::BadCursor)?;
            let seq: i64 = seq.parse().map_err(|_| PullError::BadCursor)?;
            if !gridsync_core::validate::valid_code(grid) || seq < 0 {
                return Err(PullError::BadCursor);
            }
            map.insert(grid.to_owned(), seq);
        }
        Ok(Cursor(map))
    }
}

pub use gridsync_core::wire::CursorField;

/// What a request's cursor means to this server.
pub trait CursorOf {
    fn cursor(&self) -> Result<Cursor, PullError>;
}

impl CursorOf for CursorField {
    /// The cursor it names: `0` is a device that has pulled nothing; any
    /// other number is from before positions per grid (`cursor_outdated`:
    /// pull again from the start).
    fn cursor(&self) -> Result<Cursor, PullError> {
        match self {
            CursorField::Number(0) => Ok(Cursor::default()),
            CursorField::Number(_) => Err(PullError::Outdated),
            CursorField::Token(t) => Cursor::decode(t),
        }
    }
}

/// Where a paged transfer of record states stands. The device sends it back
/// unchanged (an opaque token) to get the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The heads when the transfer started: the device's cursor for these
    /// grids once the last page is delivered.
    pub snapshot: Cursor,
    /// The last record sent: its grid and its id. A transfer goes grid by
    /// grid, each by record id (one grid's rows sit on one node).
    pub after: RecordKey,
}

/// A record's place in a paged transfer: `(grid, id)`.
pub type RecordKey = (String, String);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeForm {
    s: String,
    g: String,
    a: String,
}

impl Resume {
    pub fn encode(&self) -> String {
        let form = ResumeForm {
            s: self.snapshot.encode(),
            g: self.after.0.clone(),
            a: self.after.1.clone(),
        };
        let json = serde_json::to_string(&form).expect("plain strings");
        format!("{RESUME_V1}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(token: &str) -> Result<Resume, PullError> {
        let form: ResumeForm = token
            .strip_prefix(RESUME_V1)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .and_then(|j| serde_json::from_slice(&j).ok())
            .ok_or(PullError::BadResume)?;
        Ok(Resume {
            snapshot: Cursor::decode(&form.s).map_err(|_| PullError::BadResume)?,
            after: (form.g, form.a),
        })
    }
}

/// What one pull sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullPlan {
    /// The changes after the cursor, by grid and position.
    Changes,
    /// Whole record states (for a device that has nothing yet of a grid, or
    /// is far behind), paged by grid, then record id; when the last page is
    /// sent, the cursor of these grids becomes `snapshot`.
    States {
        snapshot: Cursor,
        after: Option<RecordKey>,
    },
}

/// Why a pull cannot be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    #[error("the cursor is at {cursor} of grid `{grid}`, whose log ends at {head}; was the server restored from a backup? Pull again from the start (no cursor)")]
    CursorAhead {
        grid: String,
        cursor: i64,
        head: i64,
    },
    #[error("the resume token does not belong to this cursor; pull again from the start")]
    BadResume,
    #[error("this cursor is a number from before positions per grid; pull again from the start (no cursor) and keep the token the server answers")]
    Outdated,
    #[error("the cursor is not a token this server made; pull again from the start (no cursor)")]
    BadCursor,
}

/// Decide what to send. `heads` are the newest positions of the grids pulled
/// (in the pull's snapshot), `pending` how many changes wait for the device
/// (counted up to `threshold + 1`).
///
/// A device that has nothing yet of a grid with news, or is more than
/// `threshold` changes behind, gets record states: a grid of 20k records is
/// then 20k states, not its whole history. A transfer of states, once begun,
/// continues to its end: a device that switched to changes half-way would
/// miss the older changes of records it had not received yet.
pub fn plan_pull(
    cursor: &Cursor,
    resume: Option<&Resume>,
    pending: usize,
    threshold: usize,
    heads: &Cursor,
) -> Result<PullPlan, PullError> {
    for (grid, head) in &heads.0 {
        let at = cursor.get(grid);
        if at > *head {
            return Err(PullError::CursorAhead {
                grid: grid.clone(),
                cursor: at,
                head: *head,
            });
        }
    }
    if let Some(r) = resume {
        let fits = heads
            .0
            .iter()
            .all(|(g, head)| (cursor.get(g)..=*head).contains(&r.snapshot.get(g)));
        if !fits || r.after.0.is_empty() || r.after.1.is_empty() {
            return Err(PullError::BadResume);
        }
        return Ok(PullPlan::States {
            snapshot: r.snapshot.clone(),
            after: Some(r.after.clone()),
        });
    }
    let new_grid = heads
        .0
        .iter()
        .any(|(g, head)| *head > 0 && cursor.get(g) == 0);
    if pending > 0 && (new_grid || pending > threshold) {
        return Ok(PullPlan::States {
            snapshot: heads.clone(),
            after: None,
        });
    }
    Ok(PullPlan::Changes)
}

/// The device's next cursor after a page of changes ordered by grid, then
/// position. `last_sent` is the last change of the page as `(grid, seq)`,
/// `more` whether changes were left out of the page. Grids before the last
/// one were read to their end (their heads); the last one up to what was
/// sent; those after it, if more wait, not at all. Never backwards.
pub fn next_cursor_after_changes(
    cursor: &Cursor,
    heads: &Cursor,
    last_sent: Option<(&str, i64)>,
    more: bool,
) -> Cursor {
    let mut next = cursor.clone();
    for (grid, head) in &heads.0 {
        let to = match (more, last_sent) {
            (true, Some((last, seq))) if grid.as_str() == last => seq,
            (true, Some((last, _))) if grid.as_str() > last => continue,
            _ => *head,
        };
        let at = next.0.entry(grid.clone()).or_insert(0);
        *at = (*at).max(to);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pairs: &[(&str, i64)]) -> Cursor {
        Cursor(pairs.iter().map(|(g, s)| (g.to_string(), *s)).collect())
    }

    fn resume(snapshot: Cursor, after: &str) -> Resume {
        Resume {
            snapshot,
            after: ("a".into(), after.into()),
        }
    }

    type Case = (
        (Cursor, Option<Resume>, usize, usize, Cursor),
        Result<PullPlan, PullError>,
    );

    #[test]
    fn plans() {
        use PullPlan::*;
        let states = |snapshot| States {
            snapshot,
            after: None,
        };
        let heads = c(&[("a", 500), ("b", 50)]);
        // (cursor, resume, pending, threshold, heads) → plan
        let table: Vec<Case> = vec![
            ((c(&[]), None, 0, 100, c(&[("a", 0)])), Ok(Changes)),
            ((c(&[]), None, 0, 100, heads.clone()), Ok(Changes)),
            (
                (c(&[]), None, 1, 100, heads.clone()),
                Ok(states(heads.clone())),
            ),
            (
                (c(&[("a", 10), ("b", 50)]), None, 100, 100, heads.clone()),
                Ok(Changes),
            ),
            (
                (c(&[("a", 10), ("b", 50)]), None, 101, 100, heads.clone()),
                Ok(states(heads.clone())),
            ),
            // A grid added to the device's set comes as states.
            (
                (c(&[("a", 500)]), None, 3, 100, heads.clone()),
                Ok(states(heads.clone())),
            ),
            (
                (
                    c(&[("a", 10)]),
                    Some(resume(c(&[("a", 400), ("b", 50)]), "r")),
                    0,
                    100,
                    heads.clone(),
                ),
                Ok(States {
                    snapshot: c(&[("a", 400), ("b", 50)]),
                    after: Some(("a".into(), "r".into())),
                }),
            ),
            (
                (
                    c(&[("a", 10)]),
                    Some(resume(c(&[("a", 501)]), "r")),
                    0,
                    100,
                    heads.clone(),
                ),
                Err(PullError::BadResume),
            ),
            (
                (
                    c(&[("a", 10)]),
                    Some(resume(c(&[("a", 5)]), "r")),
                    0,
                    100,
                    heads.clone(),
                ),
                Err(PullError::BadResume),
            ),
            (
                (
                    c(&[("a", 10)]),
                    Some(resume(c(&[("a", 50)]), "")),
                    0,
                    100,
                    heads.clone(),
                ),
                Err(PullError::BadResume),
            ),
            (
                (c(&[("a", 600)]), None, 0, 100, heads),
                Err(PullError::CursorAhead {
                    grid: "a".into(),
                    cursor: 600,
                    head: 500,
                }),
            ),
            // Grids not pulled this time do not count.
            ((c(&[("z", 9)]), None, 0, 100, c(&[("a", 0)])), Ok(Changes)),
        ];
        for ((cursor, r, pending, threshold, heads), expected) in table {
            assert_eq!(
                plan_pull(&cursor, r.as_ref(), pending, threshold, &heads),
                expected,
                "cursor {cursor:?} pending {pending} resume {r:?}"
            );
        }
    }

    #[test]
    fn cursors() {
        let heads = c(&[("a", 90), ("b", 30), ("c", 12)]);
        let at = c(&[("a", 10), ("b", 20), ("z", 4)]);
        // Everything read: every grid at its head, others kept.
        assert_eq!(
            next_cursor_after_changes(&at, &heads, Some(("c", 12)), false),
            c(&[("a", 90), ("b", 30), ("c", 12), ("z", 4)])
        );
        // A page ending in b: a read to its end, b up to what was sent, c not yet.
        assert_eq!(
            next_cursor_after_changes(&at, &heads, Some(("b", 25)), true),
            c(&[("a", 90), ("b", 25), ("z", 4)])
        );
        // Nothing sent, nothing waiting: heads (past other devices' changes
        // and other collections too).
        assert_eq!(
            next_cursor_after_changes(&at, &heads, None, false),
            c(&[("a", 90), ("b", 30), ("c", 12), ("z", 4)])
        );
        // Never backwards.
        assert_eq!(
            next_cursor_after_changes(&c(&[("a", 95)]), &c(&[("a", 90)]), None, false),
            c(&[("a", 95)])
        );
    }

    #[test]
    fn tokens() {
        let cur = c(&[("420203-001-001-001", 1200), ("g.2", 3), ("zero", 0)]);
        let back = Cursor::decode(&cur.encode()).unwrap();
        assert_eq!(back, c(&[("420203-001-001-001", 1200), ("g.2", 3)]));
        for bad in [
            "1200",
            "c1.@@",
            "c1.",
            "x1.Zw",
            &format!("c1.{}", URL_SAFE_NO_PAD.encode("g:x")),
        ] {
            let got = Cursor::decode(bad);
            assert!(
                got == Err(PullError::BadCursor) || (bad == "c1." && got == Ok(Cursor::default())),
                "{bad}: {got:?}"
            );
        }
        assert_eq!(CursorField::Number(0).cursor(), Ok(Cursor::default()));
        assert_eq!(CursorField::Number(1200).cursor(), Err(PullError::Outdated));
        let r = resume(cur, "5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44");
        assert_eq!(
            Resume::decode(&r.encode()),
            Ok(resume(back, "5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44"))
        );
        assert_eq!(Resume::decode("{}"), Err(PullError::BadResume));
    }
}
