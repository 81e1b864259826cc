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
    /// A case's two due dates (`deadline` is the earlier): from its fixed
    /// event, kept across escalation; and from reaching its level.
    pub statutory_deadline: Option<i64>,
    pub level_deadline: Option<i64>,
    /// Patrol rounds: distinct checkpoints checked in at that the plan
    /// does not name.
    pub unplanned: Option<i32>,
    /// Residents: the ID number, when whole and valid (duplicates are found
    /// by it).
    pub id_key: Option<String>,
    /// The label in lists ([`crate::reports::label_of`]); none: written
    /// before labels were kept, derive it from the state.
    pub label: Option<String>,
}

/// A record as an inbox item shows it ([`crate::inbox`]): no state, which
/// is read only for a row written before labels were kept.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = records)]
pub struct CaseLine {
    pub id: String,
    pub collection: String,
    pub grid: String,
    pub status: Option<String>,
    pub level: String,
    pub assignee: Option<String>,
    pub deadline: Option<i64>,
    pub label: Option<String>,
}

/// A record as written after a merge (insert or full update). `None` is
/// written as NULL both ways (every nullable column's default is NULL):
/// an insert then has one SQL text whatever is set, so the statement
/// cache finds it by type, without building its SQL again per row.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(
    table_name = records,
    treat_none_as_null = true,
    treat_none_as_default_value = false,
    primary_key(grid, id)
)]
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
    /// A case's two due dates (`deadline` is the earlier): from its fixed
    /// event, kept across escalation; and from reaching its level.
    pub statutory_deadline: Option<i64>,
    pub level_deadline: Option<i64>,
    /// Patrol rounds: distinct checkpoints checked in at that the plan
    /// does not name.
    pub unplanned: Option<i32>,
    /// Residents: the ID number, when whole and valid (duplicates are found
    /// by it).
    pub id_key: Option<String>,
    /// The label in lists ([`crate::reports::label_of`]); none: written
    /// before labels were kept, derive it from the state.
    pub label: Option<String>,
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

/// A change as logged. Inserted field by field as given (no column left to
/// its default), so that the insert is found in the statement cache by its
/// type (see [`RecordForm`]).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = changes, treat_none_as_default_value = false)]
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

/// A change the server refused, kept with its reason (`GET /v1/quarantine`).
#[derive(Debug, Clone, serde::Serialize, Queryable, utoipa::ToSchema)]
#[schema(as = Quarantined)]
pub struct QuarantineRow {
    /// What `POST /v1/quarantine/{id}/accept` and `…/reject` take.
    pub id: i64,
    pub actor: Option<i64>,
    /// The change's seq.
    pub actor_seq: Option<i64>,
    pub record_id: Option<String>,
    /// Stored as `''` when the refused change named no grid (the grid keys
    /// the row); shown as `null`.
    #[serde(serialize_with = "empty_as_null")]
    pub grid: Option<String>,
    pub batch_id: String,
    /// When it arrived (ms since the epoch).
    pub received_at: i64,
    /// Why it was refused (docs/PROTOCOL.md, "Errors"; `out_of_scope`,
    /// `forbidden_collection`, `malformed_change`, `device_revoked`…).
    pub code: String,
    pub message: String,
    /// The change as it was sent (JSON text).
    pub body: String,
    /// `accepted` or `rejected` once a supervisor decided; `null` while open.
    pub resolution: Option<String>,
    /// The user who decided.
    pub resolved_by: Option<i64>,
    /// When (ms since the epoch).
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

/// A node of the org tree: the one org-tree type, stored and served.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = super::schema::org_nodes)]
#[schema(as = OrgNode)]
pub struct OrgNodeRow {
    /// The node's code (a grid's is what records name).
    pub code: String,
    /// The node one level up; `null` for the district.
    pub parent: Option<String>,
    /// `district`, `park`, `community` or `grid`.
    pub level: String,
    pub name: String,
    /// Ms since the epoch.
    pub created_at: i64,
    /// Ms since the epoch.
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

/// An app install on a device.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = super::schema::devices)]
#[schema(as = Device)]
pub struct DeviceRow {
    /// What a login's `device` names.
    pub id: String,
    pub user_id: i64,
    /// The actor id its changes carry: assigned once, never reused.
    pub actor: i64,
    pub name: String,
    /// Ms since the epoch.
    pub created_at: i64,
    /// Ms since the epoch; `null` while active.
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

/// One audited action (docs/ACCESS.md, "Audit").
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = super::schema::audit_log)]
#[schema(as = AuditEntryOut)]
pub struct AuditRow {
    pub id: i64,
    /// Ms since the epoch.
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub device_id: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// e.g. `read_key_person`, `sync_key_persons`, `quarantine_accept`,
    /// `quarantine_reject`, `device_handover`, `export_report`,
    /// `report_key_persons`.
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A department's webhook (the secret is shown once, when it is made).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = super::schema::webhooks)]
#[schema(as = WebhookOut)]
pub struct WebhookRow {
    pub id: i64,
    /// The department node whose cases it carries.
    pub department: String,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub active: bool,
    pub created_at: i64,
}

/// An event queued for a webhook, and how its delivery went.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = super::schema::webhook_deliveries)]
#[schema(as = DeliveryOut)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    /// `case.dispatched` or `case.updated`.
    pub event: String,
    pub record_id: String,
    /// The JSON posted (the same at every attempt).
    pub body: String,
    pub created_at: i64,
    pub attempts: i32,
    /// When it is tried next (ms), while `pending`.
    pub next_at: i64,
    /// `pending`, `delivered` or `failed` (gave up; an admin may retry).
    pub state: String,
    /// The HTTP status of the last attempt, if one answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

/// An event to queue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::webhook_deliveries)]
pub struct NewDelivery {
    pub webhook_id: i64,
    pub event: String,
    pub record_id: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i32,
    pub next_at: i64,
    pub state: String,
}
