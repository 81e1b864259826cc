//! The attachment tables: what is kept, which records refer to what (who may
//! read it), uploads under way and the bytes each device sent per day. The
//! bytes themselves are in [`crate::blobs`]; the decisions are in
//! [`crate::attachments`].

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, Insertable, Queryable, RunQueryDsl, Selectable};

use super::{Store, StoreError, WRITE_LOCK};
use crate::db::schema::{attachment_refs, attachments, uploads};
use crate::db::Conn;

/// A reference to add (from a merged record).
#[derive(Debug, Clone)]
pub struct NewRef {
    pub sha256: String,
    pub record_id: String,
    pub grid: String,
    pub collection: String,
    pub media_type: String,
    pub size: i64,
}

/// The references a merged record makes.
pub fn refs_of(record: &gridsync_core::Record) -> impl Iterator<Item = NewRef> + '_ {
    record.attachments().into_iter().map(move |a| NewRef {
        sha256: a.sha256,
        record_id: record.id.to_string(),
        grid: record.grid.clone(),
        collection: record.collection.name.to_owned(),
        media_type: a.media_type,
        size: i64::try_from(a.size).unwrap_or(i64::MAX),
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachment_refs)]
pub struct RefRow {
    pub sha256: String,
    pub record_id: String,
    pub grid: String,
    pub collection: String,
    pub media_type: String,
    pub size: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    pub sha256: String,
    pub media_type: String,
    pub size: i64,
    pub stored_at: i64,
    pub user_id: i64,
    pub device: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = uploads)]
pub struct UploadRow {
    pub id: String,
    pub sha256: String,
    pub device: String,
    pub user_id: i64,
    pub media_type: String,
    pub size: i64,
    pub received: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the store knows of one attachment: whether its bytes are kept, and
/// the records that refer to it.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub kept: Option<AttachmentRow>,
    pub refs: Vec<RefRow>,
}

/// Where an upload stands after `begin_upload`.
#[derive(Debug, Clone)]
pub enum Begun {
    /// The bytes are kept already: nothing to send.
    Kept(AttachmentRow),
    /// Send from `received` (a new upload starts at 0).
    Open(UploadRow),
}

/// An upload to begin or resume.
#[derive(Debug, Clone)]
pub struct UploadAsk {
    pub id: String,
    pub sha256: String,
    pub device: String,
    pub user_id: i64,
    pub media_type: String,
    pub size: i64,
    /// The day (China time) the bytes count against, and the device's limit.
    pub day: String,
    pub daily_limit: i64,
}

macro_rules! attachment_queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::upload_days;
            use diesel::prelude::*;

            pub(super) fn known(c: &mut $conn, sha: &str) -> Result<Known, StoreError> {
                let kept = attachments::table
                    .find(sha)
                    .select(AttachmentRow::as_select())
                    .get_result(c)
                    .optional()?;
                let refs = attachment_refs::table
                    .filter(attachment_refs::sha256.eq(sha))
                    .select(RefRow::as_select())
                    .load(c)?;
                Ok(Known { kept, refs })
            }

            pub(super) fn of_record(
                c: &mut $conn,
                grid: &str,
                record: &str,
            ) -> Result<Vec<(RefRow, bool)>, StoreError> {
                let refs: Vec<RefRow> = attachment_refs::table
                    .filter(attachment_refs::grid.eq(grid))
                    .filter(attachment_refs::record_id.eq(record))
                    .order(attachment_refs::sha256.asc())
                    .select(RefRow::as_select())
                    .load(c)?;
                let shas: Vec<&str> = refs.iter().map(|r| r.sha256.as_str()).collect();
                let kept: Vec<String> = attachments::table
                    .filter(attachments::sha256.eq_any(&shas))
                    .select(attachments::sha256)
                    .load(c)?;
                Ok(refs
                    .into_iter()
                    .map(|r| {
                        let k = kept.contains(&r.sha256);
                        (r, k)
                    })
                    .collect())
            }

            fn sent_today(c: &mut $conn, device: &str, day: &str) -> Result<i64, StoreError> {
                Ok(upload_days::table
                    .find((device, day))
                    .select(upload_days::bytes)
                    .get_result::<i64>(c)
                    .optional()?
                    .unwrap_or(0))
            }

            pub(super) fn begin_upload(
                c: &mut $conn,
                ask: &UploadAsk,
                now: i64,
            ) -> Result<Begun, StoreError> {
                if let Some(kept) = attachments::table
                    .find(&ask.sha256)
                    .select(AttachmentRow::as_select())
                    .get_result(c)
                    .optional()?
                {
                    return Ok(Begun::Kept(kept));
                }
                let open = uploads::table
                    .filter(uploads::device.eq(&ask.device))
                    .filter(uploads::sha256.eq(&ask.sha256))
                    .select(UploadRow::as_select())
                    .get_result(c)
                    .optional()?;
                let left = open.as_ref().map_or(ask.size, |u| u.size - u.received);
                let sent = sent_today(c, &ask.device, &ask.day)?;
                if sent + left > ask.daily_limit {
                    return Err(StoreError::OverQuota {
                        code: "daily_upload_limit",
                        message: format!(
                            "this device has sent {sent} bytes today; {left} more would pass \
                             the daily limit of {} (it resets at midnight, China time)",
                            ask.daily_limit
                        ),
                    });
                }
                if let Some(u) = open {
                    return Ok(Begun::Open(u));
                }
                let row = UploadRow {
                    id: ask.id.clone(),
                    sha256: ask.sha256.clone(),
                    device: ask.device.clone(),
                    user_id: ask.user_id,
                    media_type: ask.media_type.clone(),
                    size: ask.size,
                    received: 0,
                    created_at: now,
                    updated_at: now,
                };
                diesel::insert_into(uploads::table)
                    .values(&row)
                    .execute(c)?;
                Ok(Begun::Open(row))
            }

            pub(super) fn upload(c: &mut $conn, id: &str) -> Result<Option<UploadRow>, StoreError> {
                Ok(uploads::table
                    .find(id)
                    .select(UploadRow::as_select())
                    .get_result(c)
                    .optional()?)
            }

            pub(super) fn advance(
                c: &mut $conn,
                id: &str,
                from: i64,
                to: i64,
                day: &str,
                now: i64,
            ) -> Result<UploadRow, StoreError> {
                let moved = diesel::update(
                    uploads::table
                        .filter(uploads::id.eq(id))
                        .filter(uploads::received.eq(from)),
                )
                .set((uploads::received.eq(to), uploads::updated_at.eq(now)))
                .execute(c)?;
                let row =
                    upload(c, id)?.ok_or_else(|| StoreError::NotFound(format!("upload {id}")))?;
                if moved == 0 {
                    return Err(StoreError::Conflict {
                        code: "offset_mismatch",
                        message: format!(
                            "upload {id} is at offset {}, not {from}: resume from there",
                            row.received
                        ),
                    });
                }
                diesel::insert_into(upload_days::table)
                    .values((
                        upload_days::device.eq(&row.device),
                        upload_days::day.eq(day),
                        upload_days::bytes.eq(to - from),
                    ))
                    .on_conflict((upload_days::device, upload_days::day))
                    .do_update()
                    .set(upload_days::bytes.eq(upload_days::bytes + (to - from)))
                    .execute(c)?;
                Ok(row)
            }

            pub(super) fn forget(c: &mut $conn, sha: &str) -> Result<(), StoreError> {
                diesel::delete(attachments::table.find(sha)).execute(c)?;
                Ok(())
            }

            pub(super) fn stale(c: &mut $conn, before: i64) -> Result<Vec<UploadRow>, StoreError> {
                Ok(uploads::table
                    .filter(uploads::updated_at.lt(before))
                    .order(uploads::updated_at.asc())
                    .limit(1000)
                    .select(UploadRow::as_select())
                    .load(c)?)
            }

            pub(super) fn finish(
                c: &mut $conn,
                upload: &str,
                kept: Option<&AttachmentRow>,
            ) -> Result<(), StoreError> {
                if let Some(row) = kept {
                    diesel::insert_into(attachments::table)
                        .values(row)
                        .on_conflict(attachments::sha256)
                        .do_nothing()
                        .execute(c)?;
                }
                diesel::delete(uploads::table.find(upload)).execute(c)?;
                Ok(())
            }
        }
    };
}

attachment_queries!(on_sqlite, SqliteConnection);
attachment_queries!(on_pg, PgConnection);

impl Store {
    /// The attachment `sha` as the store knows it.
    pub fn attachment(&self, sha: &str) -> Result<Known, StoreError> {
        read_tx!(self, known(sha))
    }

    /// The attachments a record refers to, and whether each is kept.
    pub fn record_attachments(
        &self,
        grid: &str,
        record: &str,
    ) -> Result<Vec<(RefRow, bool)>, StoreError> {
        read_tx!(self, of_record(grid, record))
    }

    /// Begin (or resume) an upload, within the device's daily limit.
    pub fn begin_upload(&self, ask: &UploadAsk, now: i64) -> Result<Begun, StoreError> {
        write_tx!(self, begin_upload(ask, now))
    }

    pub fn upload(&self, id: &str) -> Result<Option<UploadRow>, StoreError> {
        read_tx!(self, upload(id))
    }

    /// Acknowledge the bytes `[from, to)` of an upload (a conflict if it is
    /// no longer at `from`), counted against its device's day.
    pub fn advance_upload(
        &self,
        id: &str,
        from: i64,
        to: i64,
        day: &str,
        now: i64,
    ) -> Result<UploadRow, StoreError> {
        write_tx!(self, advance(id, from, to, day, now))
    }

    /// Forget that `sha` is kept (its bytes were found missing from the
    /// attachment store, e.g. after a restore): the next upload keeps it again.
    pub fn forget_attachment(&self, sha: &str) -> Result<(), StoreError> {
        write_tx!(self, forget(sha))
    }

    /// Uploads not moved since `before` (at most 1,000, oldest first).
    pub fn stale_uploads(&self, before: i64) -> Result<Vec<UploadRow>, StoreError> {
        read_tx!(self, stale(before))
    }

    /// End an upload: the attachment is kept (when `kept`), the upload gone.
    pub fn finish_upload(
        &self,
        upload: &str,
        kept: Option<&AttachmentRow>,
    ) -> Result<(), StoreError> {
        write_tx!(self, finish(upload, kept))
    }
}
