//! Webhooks and their deliveries: the SQL (docs/WEBHOOKS.md). Queuing
//! happens inside the write path (`ingest::WriteTx::enqueue_deliveries`).

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{Store, StoreError, WRITE_LOCK};
use crate::db::models::{DeliveryRow, WebhookRow};
use crate::db::Conn;

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: i64,
    pub status: Option<i32>,
    pub error: Option<String>,
    /// Delivered (a 2xx).
    pub delivered: bool,
    /// When to try again (none: give up, `failed`).
    pub next_at: Option<i64>,
    pub at: i64,
}

macro_rules! webhook_queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::{webhook_deliveries as d, webhooks as w};
            use diesel::prelude::*;

            pub(super) fn create(
                c: &mut $conn,
                department: &str,
                url: &str,
                secret: &str,
                at: i64,
            ) -> Result<WebhookRow, StoreError> {
                diesel::insert_into(w::table)
                    .values((
                        w::department.eq(department),
                        w::url.eq(url),
                        w::secret.eq(secret),
                        w::active.eq(true),
                        w::created_at.eq(at),
                    ))
                    .execute(c)?;
                Ok(w::table
                    .filter(w::department.eq(department))
                    .order(w::id.desc())
                    .select(WebhookRow::as_select())
                    .first(c)?)
            }

            pub(super) fn list(
                c: &mut $conn,
                department: Option<&str>,
            ) -> Result<Vec<WebhookRow>, StoreError> {
                let mut q = w::table.into_boxed();
                if let Some(dep) = department {
                    q = q.filter(w::department.eq(dep.to_owned()));
                }
                Ok(q.order(w::id.asc())
                    .select(WebhookRow::as_select())
                    .load(c)?)
            }

            pub(super) fn one(c: &mut $conn, id: i64) -> Result<Option<WebhookRow>, StoreError> {
                Ok(w::table
                    .find(id)
                    .select(WebhookRow::as_select())
                    .first(c)
                    .optional()?)
            }

            /// Stop a webhook: no event is queued for it any more; what is
            /// queued is still delivered.
            pub(super) fn deactivate(c: &mut $conn, id: i64) -> Result<usize, StoreError> {
                Ok(diesel::update(w::table.find(id))
                    .set(w::active.eq(false))
                    .execute(c)?)
            }

            pub(super) fn deliveries(
                c: &mut $conn,
                webhook: i64,
                limit: i64,
            ) -> Result<Vec<DeliveryRow>, StoreError> {
                Ok(d::table
                    .filter(d::webhook_id.eq(webhook))
                    .order(d::id.desc())
                    .limit(limit)
                    .select(DeliveryRow::as_select())
                    .load(c)?)
            }

            /// Pending deliveries due by `now`, oldest first, with their
            /// webhook's URL and secret.
            pub(super) fn due(
                c: &mut $conn,
                now: i64,
                limit: i64,
            ) -> Result<Vec<(DeliveryRow, WebhookRow)>, StoreError> {
                Ok(d::table
                    .inner_join(w::table.on(w::id.eq(d::webhook_id)))
                    .filter(d::state.eq("pending"))
                    .filter(d::next_at.le(now))
                    .order(d::id.asc())
                    .limit(limit)
                    .select((DeliveryRow::as_select(), WebhookRow::as_select()))
                    .load(c)?)
            }

            pub(super) fn record(c: &mut $conn, a: &Attempt) -> Result<(), StoreError> {
                let state = match (a.delivered, a.next_at) {
                    (true, _) => "delivered",
                    (false, Some(_)) => "pending",
                    (false, None) => "failed",
                };
                diesel::update(d::table.find(a.id))
                    .set((
                        d::attempts.eq(d::attempts + 1),
                        d::state.eq(state),
                        d::last_status.eq(a.status),
                        d::last_error.eq(&a.error),
                        d::next_at.eq(a.next_at.unwrap_or(a.at)),
                        d::delivered_at.eq(a.delivered.then_some(a.at)),
                    ))
                    .execute(c)?;
                Ok(())
            }

            /// Try a failed delivery again now (from its next attempt on).
            pub(super) fn retry(c: &mut $conn, id: i64, now: i64) -> Result<usize, StoreError> {
                Ok(
                    diesel::update(d::table.find(id).filter(d::state.eq("failed")))
                        .set((d::state.eq("pending"), d::next_at.eq(now)))
                        .execute(c)?,
                )
            }
        }
    };
}

webhook_queries!(on_sqlite, SqliteConnection);
webhook_queries!(on_pg, PgConnection);

impl Store {
    pub fn create_webhook(
        &self,
        department: &str,
        url: &str,
        secret: &str,
        at: i64,
    ) -> Result<WebhookRow, StoreError> {
        write_tx!(self, create(department, url, secret, at))
    }

    pub fn webhooks(&self, department: Option<&str>) -> Result<Vec<WebhookRow>, StoreError> {
        read_tx!(self, list(department))
    }

    pub fn webhook(&self, id: i64) -> Result<Option<WebhookRow>, StoreError> {
        read_tx!(self, one(id))
    }

    pub fn deactivate_webhook(&self, id: i64) -> Result<usize, StoreError> {
        write_tx!(self, deactivate(id))
    }

    /// A webhook's deliveries, newest first.
    pub fn deliveries(&self, webhook: i64, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        read_tx!(self, deliveries(webhook, limit))
    }

    pub fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(DeliveryRow, WebhookRow)>, StoreError> {
        read_tx!(self, due(now, limit))
    }

    pub fn record_attempt(&self, a: &Attempt) -> Result<(), StoreError> {
        write_tx!(self, record(a))
    }

    pub fn retry_delivery(&self, id: i64, now: i64) -> Result<usize, StoreError> {
        write_tx!(self, retry(id, now))
    }
}
