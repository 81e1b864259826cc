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
}

/// A record as written after a merge (insert or full update).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = records, treat_none_as_null = true)]
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
}

#[derive(Debug, Clone, Insertable)]
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
