//! Residents registered twice: records of the `resident` collection that
//! share a whole, valid ID number (`records.id_key`) within some grids, and
//! the supervisors' decisions on them.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{Store, StoreError, WRITE_LOCK};
use crate::db::models::RecordRow;
use crate::db::Conn;

macro_rules! duplicate_queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::{duplicate_decisions, records};
            use diesel::dsl::count_star;
            use diesel::prelude::*;

            /// Residents of `grids` whose ID number another resident of
            /// `grids` has too, and that no decision dismissed; by number,
            /// grid and id. At most `limit` numbers.
            pub(super) fn duplicates(
                c: &mut $conn,
                grids: &[String],
                limit: i64,
            ) -> Result<Vec<RecordRow>, StoreError> {
                let residents = || {
                    records::table
                        .filter(records::collection.eq("resident"))
                        .filter(records::deleted.eq(false))
                        .filter(records::grid.eq_any(grids))
                };
                let dismissed: Vec<String> = duplicate_decisions::table
                    .select(duplicate_decisions::id_key)
                    .load(c)?;
                let shared: Vec<Option<String>> = residents()
                    .filter(records::id_key.is_not_null())
                    .filter(records::id_key.ne_all(&dismissed))
                    .group_by(records::id_key)
                    .having(count_star().gt(1))
                    .select(records::id_key)
                    .order(records::id_key.asc())
                    .limit(limit)
                    .load(c)?;
                let shared: Vec<String> = shared.into_iter().flatten().collect();
                if shared.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(residents()
                    .filter(records::id_key.eq_any(&shared))
                    .order((
                        records::id_key.asc(),
                        records::grid.asc(),
                        records::id.asc(),
                    ))
                    .select(RecordRow::as_select())
                    .load(c)?)
            }

            /// Keep a decision on a shared number (`dismissed`: no mistake).
            pub(super) fn decide(
                c: &mut $conn,
                id_key: &str,
                decision: &str,
                by: i64,
                at: i64,
            ) -> Result<(), StoreError> {
                diesel::delete(duplicate_decisions::table.find(id_key)).execute(c)?;
                diesel::insert_into(duplicate_decisions::table)
                    .values((
                        duplicate_decisions::id_key.eq(id_key),
                        duplicate_decisions::decision.eq(decision),
                        duplicate_decisions::decided_by.eq(by),
                        duplicate_decisions::decided_at.eq(at),
                    ))
                    .execute(c)?;
                Ok(())
            }
        }
    };
}

duplicate_queries!(on_sqlite, SqliteConnection);
duplicate_queries!(on_pg, PgConnection);

impl Store {
    /// Residents sharing an ID number within `grids`, not dismissed.
    pub fn duplicate_residents(
        &self,
        grids: &[String],
        limit: i64,
    ) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, duplicates(grids, limit))
    }

    /// Dismiss a shared ID number: its residents are no longer listed.
    pub fn dismiss_duplicate(&self, id_key: &str, by: i64, at: i64) -> Result<(), StoreError> {
        write_tx!(self, decide(id_key, "dismissed", by, at))
    }
}
