//! What a write transaction must offer the ingest pipeline ([`super::apply`]),
//! and its implementation on each backend. The implementations are SQL and
//! nothing else: every decision is in the pipeline. A new backend implements
//! [`WriteTx`] for its connection; the compiler lists what is missing.

use std::collections::HashMap;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use crate::db::any_of::any_of;
use crate::db::models::{NewChange, NewDelivery, NewQuarantine, RecordForm, RecordRow};
use crate::db::record_update::{Moved, UpdateRecord};
use crate::reports::StockKey;
use crate::store::attachments::NewRef;
use crate::store::StoreError;

/// How a backend keeps concurrent writers apart, inside a write
/// transaction (held until it ends).
pub trait Locks {
    /// Before a batch of `actor` writes to `grids` (sorted): batches of one
    /// actor, and batches writing to one grid, take turns; others run at once.
    fn lock_batch(&mut self, actor: i64, grids: &[&str]) -> Result<(), StoreError>;
    /// Before a write that must run alone (the sweep touches every grid).
    fn lock_all(&mut self) -> Result<(), StoreError>;
    /// Numbers for `n` new quarantine rows, taken without waiting for
    /// another writer.
    fn quarantine_ids(&mut self, n: usize) -> Result<Vec<i64>, StoreError>;
}

/// One write transaction, as the ingest pipeline sees it.
pub trait WriteTx: Locks {
    /// The newest position of each of these grids' logs (absent: none yet).
    fn grid_heads(&mut self, grids: &[String]) -> Result<HashMap<String, i64>, StoreError>;
    /// Move these grids' heads to these positions.
    fn set_grid_heads(&mut self, heads: &HashMap<String, i64>) -> Result<(), StoreError>;
    /// The bodies already logged for these sequence numbers of `actor` in
    /// these grids, by `(grid, actor_seq)`.
    fn logged(
        &mut self,
        actor: i64,
        grids: &[String],
        seqs: &[i64],
    ) -> Result<HashMap<(String, i64), String>, StoreError>;
    /// The highest sequence applied of each of these actors in each of these
    /// grids, by `(grid, actor)` (absent: none).
    fn actor_heads(
        &mut self,
        grids: &[String],
        actors: &[i64],
    ) -> Result<HashMap<(String, i64), i64>, StoreError>;
    /// The highest sequence of `actor` applied in any grid (0 if none): a
    /// read over every grid, for the server's own actor.
    fn actor_newest(&mut self, actor: i64) -> Result<i64, StoreError>;
    /// The stored rows of the records with these ids in these grids (those
    /// that exist; a caller keeps the `(grid, id)` pairs it asked for).
    fn load_records(
        &mut self,
        grids: &[String],
        ids: &[String],
    ) -> Result<Vec<RecordRow>, StoreError>;
    /// What a plan made outside the write transaction checks in it: the
    /// `(grid, id, last_seq, overdue)` of the records with these ids in
    /// these grids (those that exist).
    fn record_versions(
        &mut self,
        grids: &[String],
        ids: &[String],
    ) -> Result<Vec<(String, String, i64, bool)>, StoreError>;
    /// Log merged changes.
    fn insert_changes(&mut self, rows: &[NewChange]) -> Result<(), StoreError>;
    /// Write records that did not exist.
    fn insert_records(&mut self, rows: &[RecordForm]) -> Result<(), StoreError>;
    /// Rewrite a record that exists: the columns no index covers, and the
    /// indexed ones in the groups that `moved`.
    fn update_record(&mut self, row: &RecordForm, moved: Moved) -> Result<(), StoreError>;
    /// Set the actor's highest applied sequence in these grids.
    fn set_actor_heads(&mut self, actor: i64, heads: &[(String, i64)]) -> Result<(), StoreError>;
    /// Keep refused changes, once each (a device retrying the same refused
    /// change does not fill the quarantine).
    fn quarantine(&mut self, rows: Vec<NewQuarantine>) -> Result<(), StoreError>;
    /// Add these moves (distinct keys, sorted) to the report stock.
    fn move_stock(&mut self, moves: &[(StockKey, i64)]) -> Result<(), StoreError>;
    /// Add attachment references (known ones are left as they are).
    fn add_refs(&mut self, refs: &[NewRef]) -> Result<(), StoreError>;
    /// Mark open records past their deadline overdue; how many of each
    /// report-stock key were marked, keyed as they were before.
    fn mark_overdue(&mut self, now: i64) -> Result<Vec<(StockKey, i64)>, StoreError>;
    /// The residents whose whole, valid ID number is `id_key`.
    fn residents_by_id_key(&mut self, id_key: &str) -> Result<Vec<RecordRow>, StoreError>;
    /// Keep a decision on residents sharing an ID number.
    fn decide_duplicate(
        &mut self,
        id_key: &str,
        decision: &str,
        by: i64,
        at: i64,
    ) -> Result<(), StoreError>;
    /// The active webhooks of these departments: `(webhook id, department)`.
    fn webhook_targets(&mut self, departments: &[String])
        -> Result<Vec<(i64, String)>, StoreError>;
    /// Queue webhook deliveries.
    fn enqueue_deliveries(&mut self, rows: &[NewDelivery]) -> Result<(), StoreError>;
    /// The records of `collection` in `grid` (not deleted): `(id, stored
    /// state)`.
    fn grid_records(
        &mut self,
        grid: &str,
        collection: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Open cases of `collections` past their level's due date below the
    /// top level, by id: `(id, stored state)`.
    fn due_cases(
        &mut self,
        now: i64,
        collections: &[&str],
        top: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

/// Rows per statement of the multi-row inserts (SQLite allows 32,766 bound
/// values a statement; a record row has 24).
const CHUNK: usize = 500;

/// The SQL of [`WriteTx`], written once with diesel's query builder and
/// compiled for each backend's connection. It holds queries only.
/// `$rows_per_insert` is how many rows one insert statement of new records
/// and changes carries: 1 on SQLite, where one statement a row is prepared
/// once and kept (a multi-row insert is a new SQL text for each number of
/// rows, built and prepared again: a group commit's rows vary), and
/// [`CHUNK`] on PostgreSQL, where each statement is a round trip.
macro_rules! diesel_write_tx {
    ($conn:ty, $rows_per_insert:expr) => {
        impl WriteTx for $conn {
            fn grid_heads(&mut self, grids: &[String]) -> Result<HashMap<String, i64>, StoreError> {
                use crate::db::schema::grid_heads as gh;
                use diesel::prelude::*;
                // Each key list is one bound value (`db::any_of`): no
                // statement's binds grow with it, so none is split.
                let rows = gh::table
                    .filter(any_of(gh::grid, grids))
                    .select((gh::grid, gh::seq))
                    .load::<(String, i64)>(self)?;
                Ok(rows.into_iter().collect())
            }

            fn set_grid_heads(&mut self, heads: &HashMap<String, i64>) -> Result<(), StoreError> {
                use crate::db::schema::grid_heads as gh;
                use diesel::prelude::*;
                for (grid, seq) in heads {
                    diesel::insert_into(gh::table)
                        .values((gh::grid.eq(grid), gh::seq.eq(seq)))
                        .on_conflict(gh::grid)
                        .do_update()
                        .set(gh::seq.eq(seq))
                        .execute(self)?;
                }
                Ok(())
            }

            fn logged(
                &mut self,
                actor: i64,
                grids: &[String],
                seqs: &[i64],
            ) -> Result<HashMap<(String, i64), String>, StoreError> {
                use crate::db::schema::changes;
                use diesel::prelude::*;
                let rows = changes::table
                    .filter(any_of(changes::grid, grids))
                    .filter(changes::actor.eq(actor))
                    .filter(any_of(changes::actor_seq, seqs))
                    .select((changes::grid, changes::actor_seq, changes::body))
                    .load::<(String, i64, String)>(self)?;
                Ok(rows.into_iter().map(|(g, s, b)| ((g, s), b)).collect())
            }

            fn actor_heads(
                &mut self,
                grids: &[String],
                ids: &[i64],
            ) -> Result<HashMap<(String, i64), i64>, StoreError> {
                use crate::db::schema::actor_heads as ah;
                use diesel::prelude::*;
                let rows = ah::table
                    .filter(any_of(ah::grid, grids))
                    .filter(any_of(ah::actor, ids))
                    .select((ah::grid, ah::actor, ah::seq))
                    .load::<(String, i64, i64)>(self)?;
                Ok(rows.into_iter().map(|(g, a, s)| ((g, a), s)).collect())
            }

            fn actor_newest(&mut self, actor: i64) -> Result<i64, StoreError> {
                use crate::db::schema::actor_heads as ah;
                use diesel::prelude::*;
                Ok(ah::table
                    .filter(ah::actor.eq(actor))
                    .select(diesel::dsl::max(ah::seq))
                    .first::<Option<i64>>(self)?
                    .unwrap_or(0))
            }

            fn load_records(
                &mut self,
                grids: &[String],
                ids: &[String],
            ) -> Result<Vec<RecordRow>, StoreError> {
                use crate::db::schema::records;
                use diesel::prelude::*;
                Ok(records::table
                    .filter(any_of(records::grid, grids))
                    .filter(any_of(records::id, ids))
                    .select(RecordRow::as_select())
                    .load(self)?)
            }

            fn record_versions(
                &mut self,
                grids: &[String],
                ids: &[String],
            ) -> Result<Vec<(String, String, i64, bool)>, StoreError> {
                use crate::db::schema::records;
                use diesel::prelude::*;
                Ok(records::table
                    .filter(any_of(records::grid, grids))
                    .filter(any_of(records::id, ids))
                    .select((
                        records::grid,
                        records::id,
                        records::last_seq,
                        records::overdue,
                    ))
                    .load(self)?)
            }

            fn insert_changes(&mut self, rows: &[NewChange]) -> Result<(), StoreError> {
                use crate::db::schema::changes;
                use diesel::prelude::*;
                if $rows_per_insert == 1 {
                    for row in rows {
                        diesel::insert_into(changes::table)
                            .values(row)
                            .execute(self)?;
                    }
                    return Ok(());
                }
                for chunk in rows.chunks($rows_per_insert) {
                    diesel::insert_into(changes::table)
                        .values(chunk)
                        .execute(self)?;
                }
                Ok(())
            }

            fn insert_records(&mut self, rows: &[RecordForm]) -> Result<(), StoreError> {
                use crate::db::schema::records;
                use diesel::prelude::*;
                if $rows_per_insert == 1 {
                    for row in rows {
                        diesel::insert_into(records::table)
                            .values(row)
                            .execute(self)?;
                    }
                    return Ok(());
                }
                for chunk in rows.chunks($rows_per_insert) {
                    diesel::insert_into(records::table)
                        .values(chunk)
                        .execute(self)?;
                }
                Ok(())
            }

            fn update_record(&mut self, row: &RecordForm, moved: Moved) -> Result<(), StoreError> {
                use diesel::RunQueryDsl;
                UpdateRecord { form: row, moved }.execute(self)?;
                Ok(())
            }

            fn set_actor_heads(
                &mut self,
                actor: i64,
                heads: &[(String, i64)],
            ) -> Result<(), StoreError> {
                use crate::db::schema::actor_heads as ah;
                use diesel::prelude::*;
                for (grid, seq) in heads {
                    diesel::insert_into(ah::table)
                        .values((ah::grid.eq(grid), ah::actor.eq(actor), ah::seq.eq(seq)))
                        .on_conflict((ah::grid, ah::actor))
                        .do_update()
                        .set(ah::seq.eq(seq))
                        .execute(self)?;
                }
                Ok(())
            }

            fn quarantine(&mut self, rows: Vec<NewQuarantine>) -> Result<(), StoreError> {
                use crate::db::schema::quarantine;
                use diesel::prelude::*;
                if rows.is_empty() {
                    return Ok(());
                }
                // The sender's batches take turns (its lock is held), so
                // the check below sees every row it could repeat.
                let mut fresh = Vec::new();
                for q in rows {
                    // Looked up by sender and sequence first (indexed), so
                    // a device that sends refusal after refusal never makes
                    // each batch scan the whole quarantine.
                    // In the change's grid (the same change names the same
                    // grid): on Citus one shard, not every shard.
                    let mut known = quarantine::table
                        .filter(quarantine::grid.eq(&q.grid))
                        .filter(quarantine::actor.eq(q.actor))
                        .filter(quarantine::body.eq(&q.body))
                        .filter(quarantine::code.eq(&q.code))
                        .into_boxed();
                    known = match q.actor_seq {
                        Some(seq) => known.filter(quarantine::actor_seq.eq(seq)),
                        None => known.filter(quarantine::actor_seq.is_null()),
                    };
                    let known = known.select(quarantine::id).first::<i64>(self).optional()?;
                    if known.is_none() && !fresh.contains(&q) {
                        fresh.push(q);
                    }
                }
                let ids = self.quarantine_ids(fresh.len())?;
                for (mut q, id) in fresh.into_iter().zip(ids) {
                    q.id = id;
                    diesel::insert_into(quarantine::table)
                        .values(&q)
                        .execute(self)?;
                }
                Ok(())
            }

            fn move_stock(&mut self, moves: &[(StockKey, i64)]) -> Result<(), StoreError> {
                use crate::db::schema::report_stock as rs;
                use diesel::prelude::*;
                // The keys are distinct, so no row is hit twice by one statement.
                for chunk in moves.chunks(CHUNK) {
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|(k, d)| {
                            (
                                rs::grid.eq(&k.grid),
                                rs::collection.eq(&k.collection),
                                rs::level.eq(&k.level),
                                rs::status.eq(&k.status),
                                rs::category.eq(&k.category),
                                rs::open.eq(k.open),
                                rs::overdue.eq(k.overdue),
                                rs::conflicted.eq(k.conflicted),
                                rs::n.eq(*d),
                            )
                        })
                        .collect();
                    diesel::insert_into(rs::table)
                        .values(&rows)
                        .on_conflict((
                            rs::grid,
                            rs::collection,
                            rs::level,
                            rs::status,
                            rs::category,
                            rs::open,
                            rs::overdue,
                            rs::conflicted,
                        ))
                        .do_update()
                        .set(rs::n.eq(rs::n + diesel::upsert::excluded(rs::n)))
                        .execute(self)?;
                }
                Ok(())
            }

            fn add_refs(&mut self, refs: &[NewRef]) -> Result<(), StoreError> {
                use crate::db::schema::attachment_refs as ar;
                use diesel::prelude::*;
                for chunk in refs.chunks(CHUNK) {
                    // Tuples: diesel's SQLite upsert takes only batches it
                    // can write without the DEFAULT keyword.
                    let rows: Vec<_> = chunk
                        .iter()
                        .map(|r| {
                            (
                                ar::sha256.eq(&r.sha256),
                                ar::record_id.eq(&r.record_id),
                                ar::grid.eq(&r.grid),
                                ar::collection.eq(&r.collection),
                                ar::media_type.eq(&r.media_type),
                                ar::size.eq(r.size),
                            )
                        })
                        .collect();
                    diesel::insert_into(ar::table)
                        .values(&rows)
                        .on_conflict((ar::grid, ar::sha256, ar::record_id))
                        .do_nothing()
                        .execute(self)?;
                }
                Ok(())
            }

            fn mark_overdue(&mut self, now: i64) -> Result<Vec<(StockKey, i64)>, StoreError> {
                use crate::db::schema::records;
                use crate::reports::{stock_key, StockOf};
                use diesel::prelude::*;
                // Written out, so that the planner can use the partial
                // index of open cases by deadline (`records_open_due`).
                let newly = || {
                    records::table
                        .filter(records::deadline.lt(now))
                        .filter(crate::db::partial::OPEN)
                        .filter(records::overdue.eq(false))
                };
                let groups = newly()
                    .group_by((
                        records::grid,
                        records::collection,
                        records::level,
                        records::status,
                        records::category,
                        records::conflicts,
                    ))
                    .select((
                        records::grid,
                        records::collection,
                        records::level,
                        records::status,
                        records::category,
                        records::conflicts,
                        diesel::dsl::count_star(),
                    ))
                    .load::<(
                        String,
                        String,
                        String,
                        Option<String>,
                        Option<String>,
                        i32,
                        i64,
                    )>(self)?;
                diesel::update(newly())
                    .set(records::overdue.eq(true))
                    .execute(self)?;
                Ok(groups
                    .iter()
                    .filter_map(
                        |(grid, collection, level, status, category, conflicts, n)| {
                            let key = stock_key(StockOf {
                                grid,
                                collection,
                                level,
                                status: status.as_deref(),
                                category: category.as_deref(),
                                closed: false,
                                overdue: false,
                                conflicts: *conflicts,
                                deleted: false,
                            })?;
                            Some((key, *n))
                        },
                    )
                    .collect())
            }

            fn residents_by_id_key(&mut self, id_key: &str) -> Result<Vec<RecordRow>, StoreError> {
                use crate::db::schema::records;
                use diesel::prelude::*;
                Ok(records::table
                    .filter(records::id_key.eq(id_key))
                    .filter(records::collection.eq("resident"))
                    .order((records::grid.asc(), records::id.asc()))
                    .select(RecordRow::as_select())
                    .load(self)?)
            }

            fn decide_duplicate(
                &mut self,
                id_key: &str,
                decision: &str,
                by: i64,
                at: i64,
            ) -> Result<(), StoreError> {
                use crate::db::schema::duplicate_decisions as dd;
                use diesel::prelude::*;
                diesel::delete(dd::table.find(id_key)).execute(self)?;
                diesel::insert_into(dd::table)
                    .values((
                        dd::id_key.eq(id_key),
                        dd::decision.eq(decision),
                        dd::decided_by.eq(by),
                        dd::decided_at.eq(at),
                    ))
                    .execute(self)?;
                Ok(())
            }

            fn webhook_targets(
                &mut self,
                departments: &[String],
            ) -> Result<Vec<(i64, String)>, StoreError> {
                use crate::db::schema::webhooks;
                use diesel::prelude::*;
                Ok(webhooks::table
                    .filter(webhooks::department.eq_any(departments))
                    .filter(webhooks::active.eq(true))
                    .order(webhooks::id.asc())
                    .select((webhooks::id, webhooks::department))
                    .load::<(i64, String)>(self)?)
            }

            fn enqueue_deliveries(&mut self, rows: &[NewDelivery]) -> Result<(), StoreError> {
                use crate::db::schema::webhook_deliveries;
                use diesel::prelude::*;
                for chunk in rows.chunks(CHUNK) {
                    diesel::insert_into(webhook_deliveries::table)
                        .values(chunk)
                        .execute(self)?;
                }
                Ok(())
            }

            fn grid_records(
                &mut self,
                grid: &str,
                collection: &str,
            ) -> Result<Vec<(String, String)>, StoreError> {
                use crate::db::schema::records;
                use diesel::prelude::*;
                Ok(records::table
                    .filter(records::grid.eq(grid))
                    .filter(records::collection.eq(collection))
                    .filter(records::deleted.eq(false))
                    .order(records::id.asc())
                    .select((records::id, records::state))
                    .load::<(String, String)>(self)?)
            }

            fn due_cases(
                &mut self,
                now: i64,
                collections: &[&str],
                top: &str,
            ) -> Result<Vec<(String, String)>, StoreError> {
                use crate::db::schema::records;
                use diesel::prelude::*;
                // The level's own time ran out: a statutory limit past is
                // overdue, but escalating it again each sweep would only
                // carry it to the top.
                Ok(records::table
                    .filter(records::level_deadline.lt(now))
                    .filter(records::closed_at.is_null())
                    .filter(records::deleted.eq(false))
                    .filter(records::collection.eq_any(collections))
                    .filter(records::level.ne(top))
                    .order(records::id.asc())
                    .select((records::id, records::state))
                    .load::<(String, String)>(self)?)
            }
        }
    };
}

diesel_write_tx!(SqliteConnection, 1);
diesel_write_tx!(PgConnection, CHUNK);

/// SQLite has one writer at a time (the pool's writer lock and `BEGIN
/// IMMEDIATE`): a write transaction is alone by construction.
impl Locks for SqliteConnection {
    fn lock_batch(&mut self, _actor: i64, _grids: &[&str]) -> Result<(), StoreError> {
        Ok(())
    }
    fn lock_all(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    fn quarantine_ids(&mut self, n: usize) -> Result<Vec<i64>, StoreError> {
        use crate::db::schema::quarantine;
        use diesel::prelude::*;
        let top = quarantine::table
            .select(diesel::dsl::max(quarantine::id))
            .first::<Option<i64>>(self)?
            .unwrap_or(0);
        Ok((1..=n as i64).map(|k| top + k).collect())
    }
}

/// Transaction-scoped advisory locks, shared by every server process on the
/// database. A batch holds the shared ingest lock, its actor's lock
/// (two-key space, class 1) and its grids' locks (one-key space: a 64-bit
/// hash of the grid id), taken in one order by every writer; the sweep holds
/// the ingest lock exclusively.
impl Locks for PgConnection {
    fn lock_batch(&mut self, actor: i64, grids: &[&str]) -> Result<(), StoreError> {
        use diesel::sql_types::{BigInt, Integer, Text};
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1)")
            .bind::<BigInt, _>(INGEST_LOCK)
            .execute(self)?;
        // Actor ids are 32-bit; the key is the same bits.
        diesel::sql_query("SELECT pg_advisory_xact_lock(1, $1)")
            .bind::<Integer, _>(actor as u32 as i32)
            .execute(self)?;
        for grid in grids {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<Text, _>(*grid)
                .execute(self)?;
        }
        Ok(())
    }
    fn lock_all(&mut self) -> Result<(), StoreError> {
        use diesel::sql_types::BigInt;
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(INGEST_LOCK)
            .execute(self)?;
        Ok(())
    }
    fn quarantine_ids(&mut self, n: usize) -> Result<Vec<i64>, StoreError> {
        use diesel::sql_types::{BigInt, Integer};
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<Id> =
            diesel::sql_query("SELECT nextval('quarantine_ids') AS id FROM generate_series(1, $1)")
                .bind::<Integer, _>(n as i32)
                .load(self)?;
        Ok(ids.into_iter().map(|i| i.id).collect())
    }
}

/// The advisory lock every batch holds shared and the sweep exclusively.
pub const INGEST_LOCK: i64 = 0x6772_6964; // "grid"

#[cfg(test)]
mod tests {
    use diesel::query_builder::{InsertStatement, QueryId};
    use diesel::Insertable;

    use crate::db::models::{NewChange, RecordForm};
    use crate::db::schema::{changes, records};

    /// Whether inserting one `R` into `T` has an id known from its type
    /// alone. Without one, diesel builds the statement's SQL again at every
    /// execution to look it up in the statement cache (on SQLite, a column
    /// left to its default is left out of the SQL, so the text depends on
    /// the values).
    fn found_by_type<'a, T, R>() -> bool
    where
        T: diesel::Table + QueryId + 'static,
        &'a R: Insertable<T>,
        R: 'a,
        <&'a R as Insertable<T>>::Values: QueryId,
    {
        <InsertStatement<T, <&'a R as Insertable<T>>::Values> as QueryId>::HAS_STATIC_QUERY_ID
    }

    /// The writer inserts a change row for every change and a record row
    /// for every new record: both statements are prepared once and found
    /// by type (building their SQL was 8% of the SQLite writer's CPU).
    #[test]
    fn the_writer_s_inserts_are_found_by_type() {
        assert!(found_by_type::<changes::table, NewChange>());
        assert!(found_by_type::<records::table, RecordForm>());
    }
}
