//! The device's local SQLite store: its identity and tokens, the merged
//! records of its grids, the outbox, the refused changes and the uploads of
//! attachments (whose bytes are files beside it, see [`crate::attachments`]).
//!
//! Every write is one transaction that moves the store from one consistent
//! state to the next: a change goes into the outbox together with the record
//! it edits and the next sequence number; an acknowledged sync removes the
//! acknowledged changes together with the records and cursor it pulled. A
//! process killed at any point leaves either the old or the new state.

use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::path::Path;

use crate::error::ClientError;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The database file inside a device folder.
pub const DB_FILE: &str = "device.db";

pub(crate) mod schema {
    diesel::table! {
        device (id) {
            id -> Integer,
            server -> Text,
            username -> Text,
            device_id -> Text,
            actor -> BigInt,
            next_seq -> BigInt,
            cursor -> Nullable<Text>,
            resume -> Nullable<Text>,
            grids -> Nullable<Text>,
            access_token -> Text,
            refresh_token -> Text,
            last_sync_at -> Nullable<BigInt>,
        }
    }
    diesel::table! {
        inbox (id) {
            id -> Integer,
            body -> Text,
            received_at -> BigInt,
        }
    }
    diesel::table! {
        records (id) {
            id -> Text,
            collection -> Text,
            grid -> Text,
            state -> Text,
        }
    }
    diesel::table! {
        outbox (seq) {
            seq -> BigInt,
            record -> Text,
            change -> Text,
            made_at -> BigInt,
        }
    }
    diesel::table! {
        uploads (sha256) {
            sha256 -> Text,
            media_type -> Text,
            size -> BigInt,
            seq -> BigInt,
            state -> Text,
            sent -> BigInt,
            reason -> Nullable<Text>,
            updated_at -> BigInt,
        }
    }
    diesel::table! {
        refused (seq) {
            seq -> BigInt,
            record -> Text,
            change -> Text,
            code -> Text,
            field -> Nullable<Text>,
            message -> Text,
            refused_at -> BigInt,
        }
    }
}

use schema::{device, outbox, records, refused, uploads};

diesel::allow_tables_to_appear_in_same_query!(outbox, uploads);

/// An attachment of this device's own changes, and how far its upload is.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = uploads)]
pub struct UploadRow {
    pub sha256: String,
    pub media_type: String,
    pub size: i64,
    /// The change that first referred to it.
    pub seq: i64,
    /// `waiting`, `uploaded` or `refused`.
    pub state: String,
    /// Bytes the server has acknowledged.
    pub sent: i64,
    /// Why it is not uploaded yet (`code: message`), if it tried.
    pub reason: Option<String>,
    pub updated_at: i64,
}

/// Upload states.
pub const WAITING: &str = "waiting";
pub const UPLOADED: &str = "uploaded";
pub const REFUSED: &str = "refused";

/// The device row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = device)]
pub struct DeviceRow {
    pub id: i32,
    pub server: String,
    pub username: String,
    pub device_id: String,
    pub actor: i64,
    pub next_seq: i64,
    /// The server's cursor token (none before the first pull).
    pub cursor: Option<String>,
    pub resume: Option<String>,
    pub grids: Option<String>,
    pub access_token: String,
    pub refresh_token: String,
    pub last_sync_at: Option<i64>,
}

/// A record state as kept.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = records)]
pub struct RecordRow {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub state: String,
}

/// A change waiting to be acknowledged.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub seq: i64,
    pub record: String,
    pub change: String,
    pub made_at: i64,
}

/// A change the server refused, with its reason.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = refused)]
pub struct RefusedRow {
    pub seq: i64,
    pub record: String,
    pub change: String,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
    pub refused_at: i64,
}

/// What one sync round trip writes, all or nothing.
#[derive(Debug, Default)]
pub struct Acknowledged {
    /// Outbox sequence numbers the server applied or already had.
    pub done: Vec<i64>,
    /// Outbox entries the server refused (moved out of the outbox).
    pub refused: Vec<RefusedRow>,
    /// Record states touched by the pull.
    pub records: Vec<RecordRow>,
    /// The server's cursor token after this answer (none: unchanged).
    pub cursor: Option<String>,
    pub resume: Option<String>,
    pub at: i64,
    /// The inbox the answer brought (JSON), if it brought one.
    pub inbox: Option<String>,
    /// The answer said the inbox kept is still current (it is now as of `at`).
    pub inbox_current: bool,
}

/// The local store. One connection: a device is one process.
pub struct LocalStore {
    conn: SqliteConnection,
    /// The device folder (attachment files live in it); none in memory.
    dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore").finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Open (creating and migrating) the store in a device folder.
    pub fn open_dir(dir: &Path) -> Result<LocalStore, ClientError> {
        std::fs::create_dir_all(dir).map_err(|e| ClientError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let path = dir.join(DB_FILE);
        let mut store = Self::open_url(&path.to_string_lossy(), true)?;
        store.dir = Some(dir.to_owned());
        Ok(store)
    }

    /// The device folder, for a store opened in one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// A store that lives in memory only (simulated devices).
    pub fn in_memory() -> Result<LocalStore, ClientError> {
        Self::open_url(":memory:", false)
    }

    fn open_url(url: &str, durable: bool) -> Result<LocalStore, ClientError> {
        let mut conn = SqliteConnection::establish(url)?;
        // A change the user saw saved must survive a power cut: fsync at
        // every commit (WAL + FULL).
        let pragmas = if durable {
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
        } else {
            "PRAGMA journal_mode = MEMORY;"
        };
        diesel::connection::SimpleConnection::batch_execute(&mut conn, pragmas)?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| ClientError::Migration(e.to_string()))?;
        Ok(LocalStore { conn, dir: None })
    }

    pub fn device(&mut self) -> Result<Option<DeviceRow>, ClientError> {
        Ok(device::table
            .select(DeviceRow::as_select())
            .first(&mut self.conn)
            .optional()?)
    }

    /// Write the device row of a new enrollment. A folder holds one device.
    pub fn enroll(&mut self, row: &DeviceRow) -> Result<(), ClientError> {
        self.conn.immediate_transaction(|c| {
            if device::table.count().get_result::<i64>(c)? > 0 {
                return Err(ClientError::AlreadyEnrolled);
            }
            diesel::insert_into(device::table).values(row).execute(c)?;
            Ok(())
        })
    }

    pub fn set_tokens(&mut self, access: &str, refresh: &str) -> Result<(), ClientError> {
        diesel::update(device::table)
            .set((
                device::access_token.eq(access),
                device::refresh_token.eq(refresh),
            ))
            .execute(&mut self.conn)?;
        Ok(())
    }

    /// Forget the cursor and any transfer (the server asked for a pull from 0).
    pub fn reset_cursor(&mut self) -> Result<(), ClientError> {
        diesel::update(device::table)
            .set((
                device::cursor.eq(None::<String>),
                device::resume.eq(None::<String>),
            ))
            .execute(&mut self.conn)?;
        Ok(())
    }

    pub fn records(&mut self) -> Result<Vec<RecordRow>, ClientError> {
        Ok(records::table
            .select(RecordRow::as_select())
            .order(records::id)
            .load(&mut self.conn)?)
    }

    /// The oldest `limit` changes of the outbox.
    pub fn outbox(&mut self, limit: i64) -> Result<Vec<OutboxRow>, ClientError> {
        Ok(outbox::table
            .select(OutboxRow::as_select())
            .order(outbox::seq)
            .limit(limit)
            .load(&mut self.conn)?)
    }

    pub fn outbox_len(&mut self) -> Result<i64, ClientError> {
        Ok(outbox::table.count().get_result(&mut self.conn)?)
    }

    pub fn refused_len(&mut self) -> Result<i64, ClientError> {
        Ok(refused::table.count().get_result(&mut self.conn)?)
    }

    pub fn refused(&mut self) -> Result<Vec<RefusedRow>, ClientError> {
        Ok(refused::table
            .select(RefusedRow::as_select())
            .order(refused::seq)
            .load(&mut self.conn)?)
    }

    /// Keep a change made on this device: the outbox entry, the record it
    /// edits, the next sequence number and the uploads of the attachments it
    /// refers to (one already queued stays as it is), in one transaction.
    pub fn record_change(
        &mut self,
        change: &OutboxRow,
        record: &RecordRow,
        next_seq: i64,
        attachments: &[UploadRow],
    ) -> Result<(), ClientError> {
        self.conn.immediate_transaction(|c| {
            diesel::insert_into(outbox::table)
                .values(change)
                .execute(c)?;
            for u in attachments {
                diesel::insert_or_ignore_into(uploads::table)
                    .values(u)
                    .execute(c)?;
            }
            upsert_record(c, record)?;
            diesel::update(device::table)
                .set(device::next_seq.eq(next_seq))
                .execute(c)?;
            Ok(())
        })
    }

    /// Keep what one sync round trip brought, in one transaction.
    pub fn acknowledge(&mut self, ack: &Acknowledged) -> Result<(), ClientError> {
        self.conn.immediate_transaction(|c| {
            for chunk in ack.done.chunks(500) {
                diesel::delete(outbox::table.filter(outbox::seq.eq_any(chunk))).execute(c)?;
            }
            for r in &ack.refused {
                diesel::delete(outbox::table.filter(outbox::seq.eq(r.seq))).execute(c)?;
                diesel::replace_into(refused::table).values(r).execute(c)?;
            }
            for r in &ack.records {
                upsert_record(c, r)?;
            }
            diesel::update(device::table)
                .set((
                    device::cursor.eq(&ack.cursor),
                    device::resume.eq(&ack.resume),
                    device::last_sync_at.eq(ack.at),
                ))
                .execute(c)?;
            if let Some(body) = &ack.inbox {
                diesel::replace_into(schema::inbox::table)
                    .values((
                        schema::inbox::id.eq(1),
                        schema::inbox::body.eq(body),
                        schema::inbox::received_at.eq(ack.at),
                    ))
                    .execute(c)?;
            }
            if ack.inbox.is_none() && ack.inbox_current {
                diesel::update(schema::inbox::table)
                    .set(schema::inbox::received_at.eq(ack.at))
                    .execute(c)?;
            }
            Ok(())
        })
    }

    /// The inbox the last completed pull brought, and when (ms).
    pub fn inbox(&mut self) -> Result<Option<(String, i64)>, ClientError> {
        use schema::inbox::dsl::*;
        Ok(inbox
            .select((body, received_at))
            .first::<(String, i64)>(&mut self.conn)
            .optional()?)
    }
}

impl LocalStore {
    /// Every upload, oldest change first.
    pub fn uploads(&mut self) -> Result<Vec<UploadRow>, ClientError> {
        Ok(uploads::table
            .select(UploadRow::as_select())
            .order((uploads::seq, uploads::sha256))
            .load(&mut self.conn)?)
    }

    /// Uploads waiting whose change has left the outbox (acknowledged or
    /// refused), oldest first.
    pub fn uploads_ready(&mut self) -> Result<Vec<UploadRow>, ClientError> {
        Ok(uploads::table
            .filter(uploads::state.eq(WAITING))
            .filter(uploads::seq.ne_all(outbox::table.select(outbox::seq)))
            .select(UploadRow::as_select())
            .order((uploads::seq, uploads::sha256))
            .load(&mut self.conn)?)
    }

    /// Whether change `seq` was refused by the server.
    pub fn was_refused(&mut self, seq: i64) -> Result<bool, ClientError> {
        Ok(refused::table
            .find(seq)
            .count()
            .get_result::<i64>(&mut self.conn)?
            > 0)
    }

    /// Note how far an upload is, or that it ended.
    pub fn set_upload(
        &mut self,
        sha256: &str,
        state: &str,
        sent: i64,
        reason: Option<&str>,
        at: i64,
    ) -> Result<(), ClientError> {
        diesel::update(uploads::table.find(sha256))
            .set((
                uploads::state.eq(state),
                uploads::sent.eq(sent),
                uploads::reason.eq(reason),
                uploads::updated_at.eq(at),
            ))
            .execute(&mut self.conn)?;
        Ok(())
    }
}

/// Keep a record's state. A record never changes its grid or collection, so
/// a state kept before is updated in place: its row alone is rewritten and
/// neither index is touched (`REPLACE` would delete the row and its index
/// entries and insert them again). Two plain statements rather than one
/// `ON CONFLICT DO UPDATE`, which diesel prepares anew at every call.
fn upsert_record(c: &mut SqliteConnection, r: &RecordRow) -> Result<(), ClientError> {
    let inserted = diesel::insert_or_ignore_into(records::table)
        .values(r)
        .execute(c)?;
    if inserted == 0 {
        diesel::update(records::table.find(&r.id))
            .set(records::state.eq(&r.state))
            .execute(c)?;
    }
    Ok(())
}
