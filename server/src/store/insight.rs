//! The reads behind the dashboard's trend, map and search (the answers are
//! made in `crate::reports::insight`), written once for both backends.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{Store, StoreError};
use crate::db::schema::records as r;
use crate::db::Conn;
use crate::reports::insight::TrendTimes;

/// A record as the map and search read it: its columns and stored state.
#[derive(Debug, Clone)]
pub struct StateRow {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub status: Option<String>,
    pub overdue: bool,
    pub updated_at: i64,
    pub state: String,
}

type StateTuple = (String, String, String, Option<String>, bool, i64, String);

/// The columns a [`StateTuple`] is read from.
const STATE_COLUMNS: (
    r::id,
    r::collection,
    r::grid,
    r::status,
    r::overdue,
    r::updated_at,
    r::state,
) = (
    r::id,
    r::collection,
    r::grid,
    r::status,
    r::overdue,
    r::updated_at,
    r::state,
);

fn state_row(r: StateTuple) -> StateRow {
    StateRow {
        id: r.0,
        collection: r.1,
        grid: r.2,
        status: r.3,
        overdue: r.4,
        updated_at: r.5,
        state: r.6,
    }
}

macro_rules! insight_queries {
    ($module:ident, $conn:ty, $like:literal) => {
        mod $module {
            use super::*;
            use crate::db::schema::records;
            use diesel::dsl::sql;
            use diesel::prelude::*;
            use diesel::sql_types::{Bool, Text};

            /// When the cases of `grids` were reported, closed, and missed
            /// their deadline, inside `[from, to)` (deadlines up to `as_of`).
            pub(super) fn trend(
                c: &mut $conn,
                grids: &[String],
                collections: &[String],
                from: i64,
                to: i64,
                as_of: i64,
            ) -> Result<TrendTimes, StoreError> {
                let base = || {
                    records::table
                        .filter(records::grid.eq_any(grids))
                        .filter(records::collection.eq_any(collections))
                        .filter(records::deleted.eq(false))
                };
                let reported = base()
                    .filter(records::created_at.ge(from))
                    .filter(records::created_at.lt(to))
                    .select(records::created_at)
                    .load::<i64>(c)?;
                let closed = base()
                    .filter(records::closed_at.ge(from))
                    .filter(records::closed_at.lt(to))
                    .select(records::closed_at.assume_not_null())
                    .load::<i64>(c)?;
                let overdue = base()
                    .filter(records::deadline.ge(from))
                    .filter(records::deadline.lt(to.min(as_of)))
                    .filter(
                        records::closed_at
                            .is_null()
                            .or(records::closed_at.gt(records::deadline)),
                    )
                    .select(records::deadline.assume_not_null())
                    .load::<i64>(c)?;
                Ok(TrendTimes {
                    reported,
                    closed,
                    overdue,
                })
            }

            /// Every record of `collections` in `grids` (the map reads their
            /// positions from the states), by grid and id.
            pub(super) fn states(
                c: &mut $conn,
                grids: &[String],
                collections: &[String],
            ) -> Result<Vec<StateRow>, StoreError> {
                Ok(records::table
                    .filter(records::grid.eq_any(grids))
                    .filter(records::collection.eq_any(collections))
                    .filter(records::deleted.eq(false))
                    .order((records::grid.asc(), records::id.asc()))
                    .select(STATE_COLUMNS)
                    .load::<StateTuple>(c)?
                    .into_iter()
                    .map(state_row)
                    .collect())
            }

            /// Records whose stored state matches `pattern` (a `LIKE`
            /// pattern with `\` escapes, see `reports::insight::like_pattern`),
            /// latest change first, at most `cap`.
            pub(super) fn candidates(
                c: &mut $conn,
                grids: &[String],
                collections: &[String],
                pattern: &str,
                cap: i64,
            ) -> Result<Vec<StateRow>, StoreError> {
                Ok(records::table
                    .filter(records::grid.eq_any(grids))
                    .filter(records::collection.eq_any(collections))
                    .filter(records::deleted.eq(false))
                    .filter(
                        sql::<Bool>(concat!("state ", $like, " "))
                            .bind::<Text, _>(pattern)
                            .sql(" ESCAPE '\\'"),
                    )
                    .order((records::updated_at.desc(), records::id.asc()))
                    .limit(cap)
                    .select(STATE_COLUMNS)
                    .load::<StateTuple>(c)?
                    .into_iter()
                    .map(state_row)
                    .collect())
            }
        }
    };
}

// SQLite's LIKE folds ASCII case; PostgreSQL's ILIKE folds at least that.
insight_queries!(on_sqlite, SqliteConnection, "LIKE");
insight_queries!(on_pg, PgConnection, "ILIKE");

impl Store {
    /// The trend's times for the cases of `grids` in `[from, to)`.
    pub fn trend_times(
        &self,
        grids: &[String],
        collections: &[String],
        from: i64,
        to: i64,
        as_of: i64,
    ) -> Result<TrendTimes, StoreError> {
        read_tx!(self, trend(grids, collections, from, to, as_of))
    }

    /// The records of `collections` in `grids`, with their states.
    pub fn record_states(
        &self,
        grids: &[String],
        collections: &[String],
    ) -> Result<Vec<StateRow>, StoreError> {
        read_tx!(self, states(grids, collections))
    }

    /// Records whose state may hold a search's text (a superset: the caller
    /// checks the fields).
    pub fn search_candidates(
        &self,
        grids: &[String],
        collections: &[String],
        pattern: &str,
        cap: i64,
    ) -> Result<Vec<StateRow>, StoreError> {
        read_tx!(self, candidates(grids, collections, pattern, cap))
    }
}
