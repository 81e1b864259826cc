//! What an import of existing registers reads ([`crate::import`]): the live
//! records of some grids that its rows may match by their natural keys, and
//! the stored states of the matched ones. Reads only: the import writes
//! through [`Store::push`] like any device.

use std::collections::{BTreeSet, HashSet};

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::{Store, StoreError};
use crate::db::models::RecordRow;
use crate::db::Conn;

/// Most values bound in one `IN (…)` list.
const CHUNK: usize = 500;

macro_rules! import_queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::records;
            use diesel::prelude::*;

            /// `(id, grid, id_key)` of the live residents of `grids` with a
            /// whole, valid ID number.
            pub(super) fn resident_keys(
                c: &mut $conn,
                grids: &[String],
            ) -> Result<Vec<(String, String, String)>, StoreError> {
                let mut out = Vec::new();
                for chunk in grids.chunks(CHUNK) {
                    let rows: Vec<(String, String, Option<String>)> = records::table
                        .filter(records::collection.eq("resident"))
                        .filter(records::deleted.eq(false))
                        .filter(records::grid.eq_any(chunk))
                        .filter(records::id_key.is_not_null())
                        .select((records::id, records::grid, records::id_key))
                        .load(c)?;
                    out.extend(rows.into_iter().filter_map(|(i, g, k)| Some((i, g, k?))));
                }
                Ok(out)
            }

            /// `(id, grid, stored state)` of the live records of one
            /// collection in `grids`.
            pub(super) fn live_states(
                c: &mut $conn,
                collection: &str,
                grids: &[String],
            ) -> Result<Vec<(String, String, String)>, StoreError> {
                let mut out = Vec::new();
                for chunk in grids.chunks(CHUNK) {
                    out.extend(
                        records::table
                            .filter(records::collection.eq(collection))
                            .filter(records::deleted.eq(false))
                            .filter(records::grid.eq_any(chunk))
                            .select((records::id, records::grid, records::state))
                            .load::<(String, String, String)>(c)?,
                    );
                }
                Ok(out)
            }

            /// The rows of these records, each named by `(grid, id)`.
            pub(super) fn by_keys(
                c: &mut $conn,
                keys: &[(String, String)],
            ) -> Result<Vec<RecordRow>, StoreError> {
                let mut out = Vec::with_capacity(keys.len());
                for chunk in keys.chunks(CHUNK) {
                    let wanted: HashSet<(&str, &str)> = chunk
                        .iter()
                        .map(|(g, i)| (g.as_str(), i.as_str()))
                        .collect();
                    let grids: BTreeSet<&str> = wanted.iter().map(|(g, _)| *g).collect();
                    let ids: Vec<&str> = wanted.iter().map(|(_, i)| *i).collect();
                    let rows: Vec<RecordRow> = records::table
                        .filter(records::grid.eq_any(grids))
                        .filter(records::id.eq_any(&ids))
                        .select(RecordRow::as_select())
                        .load(c)?;
                    out.extend(
                        rows.into_iter()
                            .filter(|r| wanted.contains(&(r.grid.as_str(), r.id.as_str()))),
                    );
                }
                Ok(out)
            }
        }
    };
}

import_queries!(on_sqlite, SqliteConnection);
import_queries!(on_pg, PgConnection);

impl Store {
    /// `(id, grid, ID number key)` of the live residents of `grids` that
    /// have a whole, valid ID number (`records.id_key`).
    pub fn resident_keys(
        &self,
        grids: &[String],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        read_tx!(self, resident_keys(grids))
    }

    /// `(id, grid, stored state)` of the live records of `collection` in
    /// `grids`.
    pub fn live_states(
        &self,
        collection: &str,
        grids: &[String],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        read_tx!(self, live_states(collection, grids))
    }

    /// The stored rows of the records named by `(grid, id)` (those that
    /// exist).
    pub fn records_by_keys(&self, keys: &[(String, String)]) -> Result<Vec<RecordRow>, StoreError> {
        read_tx!(self, by_keys(keys))
    }
}
