//! The read side of `POST /v1/sync`: one page of what a device has not
//! pulled, in plain Rust over [`PullTx`], the few queries a pull needs, which
//! each backend implements with SQL only. The decisions (what to send, the
//! next cursor) are the pure functions of [`crate::sync`].

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use serde_json::value::RawValue;

use super::{raw, Pull, PullPage, StoreError};
use crate::sync::{next_cursor_after_changes, plan_pull, Cursor, PullPlan, Resume};

/// `(grid, position)`: a grid and the device's position in its log.
pub type GridAt = (String, i64);

/// What a read transaction must offer a pull.
pub trait PullTx {
    /// The newest positions of these grids' logs (0: none yet).
    fn heads(&mut self, grids: &[String]) -> Result<Cursor, StoreError>;
    /// Up to `limit` positions of changes after `after` (per grid), of these
    /// collections, by others than `me`: how many wait.
    fn count_after(
        &mut self,
        after: &[GridAt],
        collections: &[String],
        me: i64,
        limit: i64,
    ) -> Result<usize, StoreError>;
    /// Changes after `after` (per grid), of these collections, by others
    /// than `me`, ordered by grid then position: `(grid, seq, body)`.
    fn changes_after(
        &mut self,
        after: &[GridAt],
        collections: &[String],
        me: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64, String)>, StoreError>;
    /// Up to `limit` record states of one grid changed after position `at`,
    /// of these collections, with ids above `from`, ordered by id: `(id,
    /// stored state)`. One grid: on Citus, one node.
    fn states_of_grid(
        &mut self,
        grid: &str,
        at: i64,
        collections: &[String],
        from: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

/// The grids of `upto` past the device's position, with that position.
fn news(cursor: &Cursor, upto: &Cursor) -> Vec<GridAt> {
    upto.0
        .iter()
        .filter(|(g, h)| **h > cursor.get(g))
        .map(|(g, _)| (g.clone(), cursor.get(g)))
        .collect()
}

/// One page of what the device has not seen (inside one read snapshot).
pub fn pull<T: PullTx + ?Sized>(
    tx: &mut T,
    q: &Pull,
    threshold: usize,
) -> Result<PullPage, StoreError> {
    let heads = tx.heads(&q.grids)?;
    let me = i64::from(q.actor);
    let waiting = news(&q.cursor, &heads);
    let pending = match (&q.resume, waiting.is_empty()) {
        (None, false) => tx.count_after(&waiting, &q.collections, me, threshold as i64 + 1)?,
        _ => 0,
    };
    let limit = q.limit as i64;
    match plan_pull(&q.cursor, q.resume.as_ref(), pending, threshold, &heads)? {
        PullPlan::Changes => {
            if waiting.is_empty() {
                return Ok(PullPage {
                    cursor: next_cursor_after_changes(&q.cursor, &heads, None, false),
                    ..PullPage::default()
                });
            }
            let mut rows = tx.changes_after(&waiting, &q.collections, me, limit + 1)?;
            let more = rows.len() > q.limit;
            rows.truncate(q.limit);
            let cursor = next_cursor_after_changes(
                &q.cursor,
                &heads,
                rows.last().map(|r| (r.0.as_str(), r.1)),
                more,
            );
            let changes = rows
                .into_iter()
                .map(|(grid, seq, body)| raw(&format!("{grid}:{seq}"), body))
                .collect::<Result<Vec<Box<RawValue>>, _>>()?;
            Ok(PullPage {
                changes,
                records: Vec::new(),
                cursor,
                resume: None,
                more,
            })
        }
        PullPlan::States { snapshot, after } => {
            // The grids this transfer covers: those with news when it began.
            let covered = news(&q.cursor, &snapshot);
            if covered.is_empty() {
                return Ok(PullPage {
                    cursor: next_cursor_after_changes(&q.cursor, &snapshot, None, false),
                    ..PullPage::default()
                });
            }
            // Grid by grid (in order), each by record id, from where the
            // last page stopped, until the page is full.
            let mut rows: Vec<(String, String, String)> = Vec::new();
            for (grid, at) in &covered {
                let from = match &after {
                    Some((g, _)) if grid < g => continue,
                    Some((g, id)) if grid == g => Some(id.as_str()),
                    _ => None,
                };
                let room = limit + 1 - rows.len() as i64;
                let page = tx.states_of_grid(grid, *at, &q.collections, from, room)?;
                rows.extend(page.into_iter().map(|(id, s)| (grid.clone(), id, s)));
                if rows.len() > q.limit {
                    break;
                }
            }
            let more = rows.len() > q.limit;
            rows.truncate(q.limit);
            let resume = match (more, rows.last()) {
                (true, Some((grid, id, _))) => Some(Resume {
                    snapshot: snapshot.clone(),
                    after: (grid.clone(), id.clone()),
                }),
                _ => None,
            };
            // The cursor only moves when the last page is sent.
            let cursor = if resume.is_some() {
                q.cursor.clone()
            } else {
                next_cursor_after_changes(&q.cursor, &snapshot, None, false)
            };
            let records = rows
                .into_iter()
                .map(|(_, id, s)| raw(&id, s))
                .collect::<Result<Vec<Box<RawValue>>, _>>()?;
            Ok(PullPage {
                changes: Vec::new(),
                records,
                cursor,
                resume,
                more,
            })
        }
    }
}

/// Refuse a pull that cannot be answered (a cursor ahead of a grid's log, a
/// resume token that does not fit), before anything of its request applies.
pub fn check_pull<T: PullTx + ?Sized>(tx: &mut T, q: &Pull) -> Result<(), StoreError> {
    let heads = tx.heads(&q.grids)?;
    plan_pull(&q.cursor, q.resume.as_ref(), 0, 0, &heads)?;
    Ok(())
}

/// The SQL of [`PullTx`], written once with diesel's query builder and
/// compiled for each backend's connection. Queries only.
macro_rules! diesel_pull_tx {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::any_of::any_of;
            use crate::db::schema::{changes, grid_heads as gh, records};
            use diesel::prelude::*;

            type Backend = <$conn as diesel::Connection>::Backend;
            type Cond<T> =
                Box<dyn BoxableExpression<T, Backend, SqlType = diesel::sql_types::Bool>>;

            /// `(grid = g AND seq > at) OR …` over `after`.
            fn changes_after_cond(after: &[GridAt]) -> Option<Cond<changes::table>> {
                after.iter().fold(None, |acc, (g, at)| {
                    let one: Cond<changes::table> =
                        Box::new(changes::grid.eq(g.clone()).and(changes::seq.gt(*at)));
                    Some(match acc {
                        Some(acc) => Box::new(acc.or(one)),
                        None => one,
                    })
                })
            }

            impl PullTx for $conn {
                fn heads(&mut self, grids: &[String]) -> Result<Cursor, StoreError> {
                    let mut heads = Cursor(grids.iter().map(|g| (g.clone(), 0)).collect());
                    heads.0.extend(
                        gh::table
                            .filter(any_of(gh::grid, grids))
                            .select((gh::grid, gh::seq))
                            .load::<(String, i64)>(self)?,
                    );
                    Ok(heads)
                }

                fn count_after(
                    &mut self,
                    after: &[GridAt],
                    collections: &[String],
                    me: i64,
                    limit: i64,
                ) -> Result<usize, StoreError> {
                    let Some(cond) = changes_after_cond(after) else {
                        return Ok(0);
                    };
                    Ok(changes::table
                        .filter(cond)
                        .filter(any_of(changes::collection, collections))
                        .filter(changes::actor.ne(me))
                        .select(changes::seq)
                        .limit(limit)
                        .load::<i64>(self)?
                        .len())
                }

                fn changes_after(
                    &mut self,
                    after: &[GridAt],
                    collections: &[String],
                    me: i64,
                    limit: i64,
                ) -> Result<Vec<(String, i64, String)>, StoreError> {
                    let Some(cond) = changes_after_cond(after) else {
                        return Ok(Vec::new());
                    };
                    Ok(changes::table
                        .filter(cond)
                        .filter(any_of(changes::collection, collections))
                        .filter(changes::actor.ne(me))
                        .order((changes::grid.asc(), changes::seq.asc()))
                        .limit(limit)
                        .select((changes::grid, changes::seq, changes::body))
                        .load(self)?)
                }

                fn states_of_grid(
                    &mut self,
                    grid: &str,
                    at: i64,
                    collections: &[String],
                    from: Option<&str>,
                    limit: i64,
                ) -> Result<Vec<(String, String)>, StoreError> {
                    let mut query = records::table
                        .filter(records::grid.eq(grid))
                        .filter(records::last_seq.gt(at))
                        .filter(any_of(records::collection, collections))
                        .into_boxed();
                    if let Some(from) = from {
                        query = query.filter(records::id.gt(from.to_owned()));
                    }
                    Ok(query
                        .order(records::id.asc())
                        .limit(limit)
                        .select((records::id, records::state))
                        .load(self)?)
                }
            }
        }
    };
}

diesel_pull_tx!(on_sqlite, SqliteConnection);
diesel_pull_tx!(on_pg, PgConnection);
