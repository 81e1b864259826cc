//! The sync exchange on the wire (`POST /v1/sync`, docs/PROTOCOL.md "The sync
//! exchange"): defined once, used by the server and by the Rust client.
//!
//! The request and the answer are generic over how changes and record states
//! travel: the server reads each change as raw JSON (decoded on its own, so
//! one malformed change is refused without failing the others) and sends
//! stored JSON; a device sends the JSON it kept in its outbox and decodes
//! what it pulls.

use serde::{Deserialize, Serialize};

use crate::clock::{Actor, Seq};

/// `POST /v1/sync` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncRequest<C> {
    /// The device's actor id; when given it must be the token's device's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// A UUID naming this batch (kept in the log); made by the server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Where the device's pull stands: the token of the previous answer;
    /// absent (or `""`) on a first sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<CursorField>,
    /// Given back from the previous page of a transfer of record states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeField>,
    /// The grids to pull; all the grids of the user's node when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grids: Option<Vec<String>>,
    /// Unsent changes, oldest first.
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<C>,
    /// Page size of the pull (default and maximum set by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `false`: push only; the answer carries the results and nothing else.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub pull: bool,
    /// The `digest` of the inbox the device holds: an answer whose inbox
    /// is still that one says `inbox_unchanged` instead of sending it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_digest: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The cursor as a request carries it: the server's opaque token, or a
/// number. Numbers are what clients sent before positions per grid: `0`
/// still means "nothing pulled yet", any other number is answered
/// `400 cursor_outdated` (pull again from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CursorField {
    Token(String),
    Number(i64),
}

/// The resume token as a request carries it: the server's opaque token, or
/// the object older servers gave (answered `400 cursor_outdated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ResumeField {
    Token(String),
    Legacy(serde_json::Map<String, serde_json::Value>),
}

/// `POST /v1/sync` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse<C, R> {
    pub batch: String,
    pub actor: Actor,
    /// One per pushed change, in order.
    pub results: Vec<ChangeResult>,
    /// Grids asked for and not pulled, each with its reason.
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Changes after the cursor (changes mode).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<C>,
    /// Whole record states in the stored form (states mode).
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<R>,
    /// The token to send as `cursor` next time (absent on a push-only sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// While a transfer of states is under way: send it back as `resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// More waits: call again.
    #[serde(default)]
    pub more: bool,
    /// What is the caller's to do, as of this answer: on the answer that
    /// ends a pull (`more` false), absent on a push-only sync and when it
    /// is the one the request's `inbox_digest` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<Inbox>,
    /// The inbox as of this answer is the one the request's `inbox_digest`
    /// names: keep it (it is current now).
    #[serde(default, skip_serializing_if = "is_false")]
    pub inbox_unchanged: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why an item is in a person's inbox (docs/WORKFLOWS.md, "The inbox").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InboxKind {
    /// An open case assigned to you or dispatched to your department.
    Assigned,
    /// An open case you handle, past its due date.
    Overdue,
    /// An open case you handle, due within 24 hours.
    DueSoon,
    /// An open case escalated to your node's level.
    Escalated,
    /// A record of your grids with concurrent values to resolve.
    Conflict,
    /// A refused change of your grids awaiting your decision.
    Quarantined,
}

impl InboxKind {
    pub const ALL: [InboxKind; 6] = [
        InboxKind::Assigned,
        InboxKind::Overdue,
        InboxKind::DueSoon,
        InboxKind::Escalated,
        InboxKind::Conflict,
        InboxKind::Quarantined,
    ];

    pub fn label(self) -> crate::schema::Label {
        use crate::schema::Label;
        match self {
            InboxKind::Assigned => Label::new("交办给我", "Assigned to me"),
            InboxKind::Overdue => Label::new("已超期", "Overdue"),
            InboxKind::DueSoon => Label::new("24小时内到期", "Due within 24 h"),
            InboxKind::Escalated => Label::new("上报至本级", "Escalated to my level"),
            InboxKind::Conflict => Label::new("待裁决冲突", "Conflict to resolve"),
            InboxKind::Quarantined => Label::new("待处理的退回修改", "Refused change to decide"),
        }
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxItem {
    pub kind: InboxKind,
    /// The record (a quarantined change: the record it would change, if any).
    pub record: Option<String>,
    pub collection: Option<String>,
    pub grid: Option<String>,
    /// The record's title (a person's name masked), or why a change was refused.
    pub label: String,
    pub status: Option<String>,
    pub level: Option<String>,
    pub assignee: Option<String>,
    /// When it is due (RFC 3339), for a case.
    pub deadline: Option<String>,
    /// A quarantined change: its id (`POST /v1/quarantine/{id}/accept`) and code.
    pub quarantine: Option<i64>,
    pub code: Option<String>,
}

/// What is a person's to do, derived from the merged state on the server:
/// two devices of the same person never disagree about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inbox {
    /// When it was derived (RFC 3339).
    pub as_of: String,
    /// Per kind, the most urgent first (due first; then by id).
    pub items: Vec<InboxItem>,
    /// Kinds with more items than the limit per kind, cut there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<InboxKind>,
    /// Names the content (`items` and `truncated`, not `as_of`): sent back
    /// as a sync's `inbox_digest`, it spares the device the same list again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

/// The result for one pushed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeResult {
    /// Merged and logged at `server_seq`, its place in its grid's log.
    Applied {
        actor: Actor,
        seq: Seq,
        server_seq: i64,
    },
    /// The same change was applied before: sending it again is harmless.
    Duplicate { actor: Actor, seq: Seq },
    /// Refused with a code; kept in the server's quarantine.
    Refused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<Actor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<Seq>,
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

impl ChangeResult {
    pub fn outcome(&self) -> &'static str {
        match self {
            ChangeResult::Applied { .. } => "applied",
            ChangeResult::Duplicate { .. } => "duplicate",
            ChangeResult::Refused { .. } => "refused",
        }
    }
}

/// `POST /v1/devices/{id}/handover` body: the unsent changes of a revoked
/// install, sent with a fresh login of the same user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandOverRequest<C> {
    pub changes: Vec<C>,
}

/// `POST /v1/devices/{id}/handover` answer: one result per change, in order.
/// Each is `refused` with `device_revoked` and waits in the quarantine for a
/// supervisor (or `refused` with what else was wrong with it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandOverResponse {
    pub device: String,
    pub results: Vec<ChangeResult>,
}

/// A grid of the request's pull that was not pulled, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skipped {
    pub grid: String,
    pub code: String,
    pub message: String,
}
