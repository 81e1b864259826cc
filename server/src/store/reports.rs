//! The reads behind the supervisor reports (the figures are added up in
//! `crate::reports`). Each is one read transaction over the records' derived
//! columns and the change log, written once for both backends.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{Store, StoreError};
use crate::db::models::UserRow;
use crate::db::Conn;
use crate::reports::{count_rows, ActivityChange, CountRow, FlowRow, Flows, RoundRow, StockKey};

/// The time windows of a summary (ms).
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// The period: `[from, to)`.
    pub from: i64,
    pub to: i64,
    /// Now: overdue and due-soon count from here.
    pub as_of: i64,
    /// How far ahead "due soon" looks.
    pub soon: i64,
    /// Count the at-risk figures (newly overdue, due soon): the brief does,
    /// the summary does not (they cost a table read per record).
    pub at_risk: bool,
}

/// A record past (or near) its deadline, as the lists read it.
#[derive(Debug, Clone)]
pub struct LateRow {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub category: Option<String>,
    pub status: Option<String>,
    pub level: String,
    pub assignee: Option<String>,
    pub deadline: i64,
    pub state: String,
    /// The list label kept at merge time (none: derive it from `state`).
    pub label: Option<String>,
}

/// Late records (at most the limit per collection) and how many there are
/// per collection.
pub type Late = (Vec<LateRow>, Vec<(String, i64)>);

/// What the late lists ask for.
#[derive(Debug, Clone)]
pub struct LateQuery {
    pub grids: Vec<String>,
    pub collections: Vec<String>,
    /// Deadlines before this (ms).
    pub before: i64,
    /// And at or after this, if given.
    pub since: Option<i64>,
    /// Most rows per collection.
    pub limit: i64,
}

/// The change log of a period, the devices' actors, the users.
#[derive(Debug, Clone)]
pub struct ActivityRows {
    pub changes: Vec<ActivityChange>,
    /// actor → user id.
    pub actors: Vec<(i64, i64)>,
    pub users: Vec<UserRow>,
}

type FlowTuple = (String, String, String, Option<String>, Option<String>, i64);

macro_rules! report_queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::partial;
            use crate::db::schema::{changes, devices, records, users};
            use diesel::dsl::count_star;
            use diesel::prelude::*;

            /// The kept stock of the grids, and what moved in the windows:
            /// narrow ranges of covering indexes, no table rows.
            pub(super) fn counts(
                c: &mut $conn,
                grids: &[String],
                w: Windows,
            ) -> Result<Vec<CountRow>, StoreError> {
                use crate::db::schema::report_stock as rs;
                let stock = rs::table
                    .filter(rs::grid.eq_any(grids))
                    .filter(rs::n.ne(0))
                    .select((
                        rs::grid,
                        rs::collection,
                        rs::level,
                        rs::status,
                        rs::category,
                        rs::open,
                        rs::overdue,
                        rs::conflicted,
                        rs::n,
                    ))
                    .load::<(
                        String,
                        String,
                        String,
                        String,
                        String,
                        bool,
                        bool,
                        bool,
                        i64,
                    )>(c)?
                    .into_iter()
                    .map(|r| {
                        (
                            StockKey {
                                grid: r.0,
                                collection: r.1,
                                level: r.2,
                                status: r.3,
                                category: r.4,
                                open: r.5,
                                overdue: r.6,
                                conflicted: r.7,
                            },
                            r.8,
                        )
                    })
                    .collect::<Vec<_>>();
                let key = (
                    records::grid,
                    records::collection,
                    records::level,
                    records::status,
                    records::category,
                );
                let flow = |rows: Vec<FlowTuple>| -> Vec<FlowRow> {
                    rows.into_iter()
                        .map(|r| FlowRow {
                            grid: r.0,
                            collection: r.1,
                            level: r.2,
                            status: r.3,
                            category: r.4,
                            n: r.5,
                        })
                        .collect()
                };
                let new = records::table
                    .filter(records::created_at.ge(w.from))
                    .filter(records::created_at.lt(w.to))
                    .filter(records::grid.eq_any(grids))
                    .filter(records::deleted.eq(false))
                    .group_by(key)
                    .select((key.0, key.1, key.2, key.3, key.4, count_star()))
                    .load::<FlowTuple>(c)?;
                let closed = records::table
                    .filter(records::closed_at.ge(w.from))
                    .filter(records::closed_at.lt(w.to))
                    .filter(records::grid.eq_any(grids))
                    .filter(records::deleted.eq(false))
                    .group_by(key)
                    .select((key.0, key.1, key.2, key.3, key.4, count_star()))
                    .load::<FlowTuple>(c)?;
                // Literal conditions (`db::partial`), so that SQLite can use
                // the partial indexes.
                let escalated = records::table
                    .filter(partial::ABOVE_GRID)
                    .filter(records::level_since.ge(w.from))
                    .filter(records::level_since.lt(w.to))
                    .filter(records::level_since.gt(records::created_at))
                    .filter(records::grid.eq_any(grids))
                    .filter(records::deleted.eq(false))
                    .group_by(key)
                    .select((key.0, key.1, key.2, key.3, key.4, count_star()))
                    .load::<FlowTuple>(c)?;
                let open_due = |lo: i64, hi: i64| {
                    records::table
                        .filter(partial::OPEN)
                        .filter(records::deadline.ge(lo))
                        .filter(records::deadline.lt(hi))
                        .filter(records::grid.eq_any(grids))
                        .group_by(key)
                        .select((key.0, key.1, key.2, key.3, key.4, count_star()))
                };
                let (newly_overdue, due_soon) = if w.at_risk {
                    (
                        open_due(w.from, w.to.min(w.as_of)).load::<FlowTuple>(c)?,
                        open_due(w.as_of, w.as_of + w.soon).load::<FlowTuple>(c)?,
                    )
                } else {
                    (Vec::new(), Vec::new())
                };
                let flows = Flows {
                    new: flow(new),
                    closed: flow(closed),
                    escalated: flow(escalated),
                    newly_overdue: flow(newly_overdue),
                    due_soon: flow(due_soon),
                };
                Ok(count_rows(&stock, &flows))
            }

            /// Patrol rounds due to start in `[from, to)`.
            pub(super) fn rounds(
                c: &mut $conn,
                grids: &[String],
                from: i64,
                to: i64,
            ) -> Result<Vec<RoundRow>, StoreError> {
                let rows = records::table
                    .filter(records::starts_at.ge(from))
                    .filter(records::starts_at.lt(to))
                    .filter(records::grid.eq_any(grids))
                    .filter(records::collection.eq("patrol_round"))
                    .filter(records::deleted.eq(false))
                    .select((
                        records::id,
                        records::grid,
                        records::starts_at.assume_not_null(),
                        records::status,
                        records::planned,
                        records::visited,
                        records::checkins,
                        records::unplanned,
                    ))
                    .load::<(
                        String,
                        String,
                        i64,
                        Option<String>,
                        Option<i32>,
                        Option<i32>,
                        Option<i32>,
                        Option<i32>,
                    )>(c)?;
                Ok(rows
                    .into_iter()
                    .map(|r| RoundRow {
                        id: r.0,
                        grid: r.1,
                        starts_at: r.2,
                        status: r.3,
                        planned: r.4.unwrap_or(0),
                        visited: r.5.unwrap_or(0),
                        checkins: r.6.unwrap_or(0),
                        unplanned: r.7.unwrap_or(0),
                    })
                    .collect())
            }

            /// Open records past (or near) their deadline, oldest deadline
            /// first, at most `limit` per collection; and how many there are
            /// per collection.
            pub(super) fn late(c: &mut $conn, q: &LateQuery) -> Result<Late, StoreError> {
                let since = q.since.unwrap_or(i64::MIN);
                let base = || {
                    records::table
                        .filter(records::deadline.lt(q.before))
                        .filter(records::deadline.ge(since))
                        .filter(partial::OPEN)
                        .filter(records::grid.eq_any(&q.grids))
                };
                let counts = base()
                    .filter(records::collection.eq_any(&q.collections))
                    .group_by(records::collection)
                    .select((records::collection, count_star()))
                    .load::<(String, i64)>(c)?;
                let mut rows = Vec::new();
                for col in &q.collections {
                    let part = base()
                        .filter(records::collection.eq(col))
                        .order((records::deadline.asc(), records::id.asc()))
                        .limit(q.limit)
                        .select((
                            records::id,
                            records::collection,
                            records::grid,
                            records::category,
                            records::status,
                            records::level,
                            records::assignee,
                            records::deadline.assume_not_null(),
                            records::state,
                            records::label,
                        ))
                        .load::<(
                            String,
                            String,
                            String,
                            Option<String>,
                            Option<String>,
                            String,
                            Option<String>,
                            i64,
                            String,
                            Option<String>,
                        )>(c)?;
                    rows.extend(part.into_iter().map(|r| LateRow {
                        id: r.0,
                        collection: r.1,
                        grid: r.2,
                        category: r.3,
                        status: r.4,
                        level: r.5,
                        assignee: r.6,
                        deadline: r.7,
                        state: r.8,
                        label: r.9,
                    }));
                }
                Ok((rows, counts))
            }

            /// The changes devices made in `[from, to)` to the grids, and who
            /// the devices belong to.
            pub(super) fn activity(
                c: &mut $conn,
                grids: &[String],
                from: i64,
                to: i64,
                first_device_actor: i64,
            ) -> Result<ActivityRows, StoreError> {
                let rows = changes::table
                    .filter(changes::received_at.ge(from))
                    .filter(changes::received_at.lt(to))
                    .filter(changes::grid.eq_any(grids))
                    .filter(changes::actor.ge(first_device_actor))
                    .select((changes::actor, changes::record_id, changes::body))
                    .load::<(i64, String, String)>(c)?;
                let actors = devices::table
                    .select((devices::actor, devices::user_id))
                    .load::<(i64, i64)>(c)?;
                let users = users::table.select(UserRow::as_select()).load(c)?;
                Ok(ActivityRows {
                    changes: rows
                        .into_iter()
                        .map(|(actor, record_id, body)| ActivityChange {
                            actor,
                            record_id,
                            body,
                        })
                        .collect(),
                    actors,
                    users,
                })
            }
        }
    };
}

report_queries!(on_sqlite, SqliteConnection);
report_queries!(on_pg, PgConnection);

impl Store {
    /// Every summary figure per grid, collection, level, status, category.
    pub fn report_counts(&self, grids: &[String], w: Windows) -> Result<Vec<CountRow>, StoreError> {
        read_tx!(self, counts(grids, w))
    }

    /// Patrol rounds due to start in `[from, to)`.
    pub fn report_rounds(
        &self,
        grids: &[String],
        from: i64,
        to: i64,
    ) -> Result<Vec<RoundRow>, StoreError> {
        read_tx!(self, rounds(grids, from, to))
    }

    /// Open records past a deadline, and their count per collection.
    pub fn report_late(&self, q: &LateQuery) -> Result<Late, StoreError> {
        read_tx!(self, late(q))
    }

    /// The devices' changes to some grids in a period, with who made them.
    pub fn report_activity(
        &self,
        grids: &[String],
        from: i64,
        to: i64,
    ) -> Result<ActivityRows, StoreError> {
        let first = super::identity::FIRST_DEVICE_ACTOR;
        read_tx!(self, activity(grids, from, to, first))
    }
}
