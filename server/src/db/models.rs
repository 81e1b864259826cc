//! Row structs (what queries return) and insert forms (what we write), kept apart.

use diesel::prelude::*;

use super::schema::{changes, quarantine, records};

/// A record row, state and derived columns.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = records)]
pub struct RecordRow {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub state: String,
    pub status: Option<String>,
    pub level: String,
    pub category: Option<String>,
    pub assignee: Option<String>,
    pub deadline: Option<i64>,
    pub deleted: bool,
    pub conflicts: i32,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub last_seq: i64,
    pub level_since: i64,
    pub overdue: bool,
    /// Why the record needs a look (a status move outside its flow).
    pub flag: Option<String>,
    /// Patrol rounds: checkpoints planned, planned checkpoints visited,
    /// check-ins, and when the round was due to start (ms).
    pub planned: Option<i32>,
    pub visited: Option<i32>,
    pub checkins: Option<i32>,
    pub starts_at: Option<i64>,
}

/// A record as written after a merge (insert or full update).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = records, treat_none_as_null = true, primary_key(grid, id))]
pub struct RecordForm {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub state: String,
    pub status: Option<String>,
    pub level: String,
    pub category: Option<String>,
    pub assignee: Option<String>,
    pub deadline: Option<i64>,
    pub deleted: bool,
    pub conflicts: i32,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub last_seq: i64,
    pub level_since: i64,
    pub overdue: bool,
    /// Why the record needs a look (a status move outside its flow).
    pub flag: Option<String>,
    /// Patrol rounds: checkpoints planned, planned checkpoints visited,
    /// check-ins, and when the round was due to start (ms).
    pub planned: Option<i32>,
    pub visited: Option<i32>,
    pub checkins: Option<i32>,
    pub starts_at: Option<i64>,
}

/// A merged change, as logged.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    pub seq: i64,
    pub record_id: String,
    pub grid: String,
    pub actor: i64,
    pub actor_seq: i64,
    pub batch_id: String,
    pub received_at: i64,
    pub body: String,
    pub collection: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = changes)]
pub struct NewChange {
    pub seq: i64,
    pub record_id: String,
    pub grid: String,
    pub actor: i64,
    pub actor_seq: i64,
    pub batch_id: String,
    pub received_at: i64,
    pub body: String,
    pub collection: String,
}

fn empty_as_null<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v.as_deref() {
        None | Some("") => s.serialize_none(),
        Some(g) => s.serialize_str(g),
    }
}

/// A quarantined change.
#[derive(Debug, Clone, serde::Serialize, Queryable)]
pub struct QuarantineRow {
    pub id: i64,
    pub actor: Option<i64>,
    pub actor_seq: Option<i64>,
    pub record_id: Option<String>,
    /// Stored as `''` when the refused change named no grid (the grid keys
    /// the row); shown as `null`.
    #[serde(serialize_with = "empty_as_null")]
    pub grid: Option<String>,
    pub batch_id: String,
    pub received_at: i64,
    pub code: String,
    pub message: String,
    pub body: String,
    /// `accepted` or `rejected` once a supervisor decided; absent while open.
    pub resolution: Option<String>,
    pub resolved_by: Option<i64>,
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = quarantine)]
pub struct NewQuarantine {
    pub id: i64,
    pub actor: Option<i64>,
    pub actor_seq: Option<i64>,
    pub record_id: Option<String>,
    pub grid: Option<String>,
    pub batch_id: String,
    pub received_at: i64,
    pub code: String,
    pub message: String,
    pub body: String,
}

/// A node of the org tree.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = super::schema::org_nodes)]
pub struct OrgNodeRow {
    pub code: String,
    pub parent: Option<String>,
    pub level: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: String,
    pub node: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::users)]
pub struct NewUser {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: String,
    pub node: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = super::schema::devices)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: i64,
    pub actor: i64,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::refresh_tokens)]
pub struct RefreshRow {
    pub hash: String,
    pub family: String,
    pub user_id: i64,
    pub device_id: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = super::schema::audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub device_id: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
}
