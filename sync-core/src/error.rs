//! Why a change was refused. Every refusal names what was wrong (the field,
//! where there is one) and why; nothing of a refused change is applied.

use thiserror::Error;
use uuid::Uuid;

use crate::clock::{Actor, Seq};
use crate::schema::Level;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChangeError {
    #[error("schema version {found} is not known here (this build speaks 1 to {supported})")]
    UnknownSchemaVersion { found: u32, supported: u32 },
    #[error("unknown collection `{collection}`")]
    UnknownCollection { collection: String },
    #[error("invalid change header: {what} {reason}")]
    InvalidHeader { what: &'static str, reason: String },
    #[error("field `{field}` does not exist in `{collection}`")]
    UnknownField { collection: String, field: String },
    #[error(
        "`{field}` came with schema version {since}; the change was made under version {schema}"
    )]
    FieldTooNew {
        field: String,
        since: u32,
        schema: u32,
    },
    #[error("field `{field}` is a {kind} field; `{op}` does not apply to it")]
    WrongOp {
        field: String,
        kind: &'static str,
        op: &'static str,
    },
    #[error("field `{field}` is written twice in one change")]
    FieldTwice { field: String },
    #[error("field `{field}`: expected {expected}, got {found}")]
    WrongType {
        field: String,
        expected: String,
        found: String,
    },
    #[error("field `{field}`: `{value}` is not one of {allowed:?}")]
    NotAllowed {
        field: String,
        value: String,
        allowed: Vec<&'static str>,
    },
    #[error("field `{field}`: {len} characters, at most {max} allowed")]
    TooLong {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("field `{field}`: {value} is outside {min}..={max}")]
    OutOfRange {
        field: String,
        value: String,
        min: String,
        max: String,
    },
    #[error("field `{field}`: {count} members, at most {max} allowed")]
    TooManyMembers {
        field: String,
        count: usize,
        max: usize,
    },
    #[error("field `{field}`: not a resident ID number: {reason}")]
    InvalidIdNumber { field: String, reason: String },
    #[error("field `{field}`: `{value}` is not a phone number (a mobile number of 11 digits, or a landline with its area code)")]
    InvalidPhone { field: String, value: String },
    #[error("field `{field}`: `{value}` names no assignee (`user:NAME` or `department:CODE`)")]
    InvalidAssignee { field: String, value: String },
    #[error("field `{field}`: no user or department `{value}` is known here")]
    UnknownAssignee { field: String, value: String },
    #[error("field `{field}`: {value} is before `{earlier}` ({earlier_value}); a case's dates go in order")]
    DatesOutOfOrder {
        field: String,
        value: String,
        earlier: String,
        earlier_value: String,
    },
    #[error("field `{field}`: the entry is {size} bytes, at most {max} allowed")]
    EntryTooLarge {
        field: String,
        size: usize,
        max: usize,
    },
    #[error("field `{field}`: required entry field `{entry_field}` is missing")]
    MissingEntryField {
        field: String,
        entry_field: &'static str,
    },
    #[error("level would go down (or stay) from {from:?} to {to:?}; levels only move up")]
    LevelDown { from: Level, to: Level },
    #[error("field `{field}`: {reason}")]
    InvalidOp { field: String, reason: String },
    #[error("field `{field}`: the context claims to have seen change {seen} of actor {actor}, which is not before this change ({seq})")]
    ContextAhead {
        field: String,
        actor: Actor,
        seen: Seq,
        seq: Seq,
    },
    #[error("field `{field}`: the context claims change {claimed} of actor {actor}, but only {known} of that actor's changes were ever applied here")]
    ContextUnseen {
        field: String,
        actor: Actor,
        claimed: Seq,
        known: Seq,
    },
    #[error("field `{field}`: a context of {entries} actors, at most {max} allowed")]
    ContextTooLarge {
        field: String,
        entries: usize,
        max: usize,
    },
    #[error("field `{field}`: text may not hold the NUL character (U+0000)")]
    InvalidText { field: String },
    #[error("a delete must be the only op of its change")]
    DeleteNotAlone,
    #[error("actor {actor} already sent change {seq} with different content; an actor id and sequence are never reused")]
    ReusedSequence { actor: Actor, seq: Seq },
    #[error("record {record} is a `{collection}` of grid `{grid}`; the change says otherwise")]
    RecordMismatch {
        record: Uuid,
        collection: String,
        grid: String,
    },
    #[error("field `{field}`: entry {id} already exists with different content")]
    EntryIdReused { field: String, id: Uuid },
    #[error("record {record} is deleted; restore it before editing it")]
    RecordDeleted { record: Uuid },
    #[error("record {record} is not known here")]
    UnknownRecord { record: Uuid },
    #[error("field `{field}`: the flow does not go from {from:?} to `{to}`")]
    TransitionNotAllowed {
        field: String,
        from: Vec<String>,
        to: String,
    },
}

impl ChangeError {
    /// A stable machine-readable code, for APIs and quarantine rows.
    pub fn code(&self) -> &'static str {
        match self {
            ChangeError::UnknownSchemaVersion { .. } => "unknown_schema_version",
            ChangeError::UnknownCollection { .. } => "unknown_collection",
            ChangeError::InvalidHeader { .. } => "invalid_header",
            ChangeError::UnknownField { .. } => "unknown_field",
            ChangeError::FieldTooNew { .. } => "field_too_new",
            ChangeError::WrongOp { .. } => "wrong_op",
            ChangeError::FieldTwice { .. } => "field_twice",
            ChangeError::WrongType { .. } => "wrong_type",
            ChangeError::NotAllowed { .. } => "value_not_allowed",
            ChangeError::TooLong { .. } => "too_long",
            ChangeError::OutOfRange { .. } => "out_of_range",
            ChangeError::TooManyMembers { .. } => "too_many_members",
            ChangeError::EntryTooLarge { .. } => "entry_too_large",
            ChangeError::MissingEntryField { .. } => "missing_entry_field",
            ChangeError::LevelDown { .. } => "level_down",
            ChangeError::InvalidOp { .. } => "invalid_op",
            ChangeError::ContextAhead { .. } => "context_ahead",
            ChangeError::ContextUnseen { .. } => "context_unseen",
            ChangeError::ContextTooLarge { .. } => "context_too_large",
            ChangeError::InvalidText { .. } => "invalid_text",
            ChangeError::DeleteNotAlone => "delete_not_alone",
            ChangeError::ReusedSequence { .. } => "reused_sequence",
            ChangeError::RecordMismatch { .. } => "record_mismatch",
            ChangeError::EntryIdReused { .. } => "entry_id_reused",
            ChangeError::RecordDeleted { .. } => "record_deleted",
            ChangeError::UnknownRecord { .. } => "unknown_record",
            ChangeError::TransitionNotAllowed { .. } => "transition_not_allowed",
            ChangeError::InvalidIdNumber { .. } => "invalid_id_number",
            ChangeError::InvalidPhone { .. } => "invalid_phone",
            ChangeError::InvalidAssignee { .. } => "invalid_assignee",
            ChangeError::UnknownAssignee { .. } => "unknown_assignee",
            ChangeError::DatesOutOfOrder { .. } => "dates_out_of_order",
        }
    }

    /// The field the refusal is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ChangeError::UnknownField { field, .. }
            | ChangeError::FieldTooNew { field, .. }
            | ChangeError::WrongOp { field, .. }
            | ChangeError::FieldTwice { field }
            | ChangeError::WrongType { field, .. }
            | ChangeError::NotAllowed { field, .. }
            | ChangeError::TooLong { field, .. }
            | ChangeError::OutOfRange { field, .. }
            | ChangeError::TooManyMembers { field, .. }
            | ChangeError::EntryTooLarge { field, .. }
            | ChangeError::MissingEntryField { field, .. }
            | ChangeError::InvalidOp { field, .. }
            | ChangeError::ContextAhead { field, .. }
            | ChangeError::ContextUnseen { field, .. }
            | ChangeError::ContextTooLarge { field, .. }
            | ChangeError::InvalidText { field }
            | ChangeError::EntryIdReused { field, .. }
            | ChangeError::TransitionNotAllowed { field, .. }
            | ChangeError::InvalidIdNumber { field, .. }
            | ChangeError::InvalidPhone { field, .. }
            | ChangeError::InvalidAssignee { field, .. }
            | ChangeError::UnknownAssignee { field, .. }
            | ChangeError::DatesOutOfOrder { field, .. } => Some(field),
            ChangeError::LevelDown { .. } => Some("level"),
            _ => None,
        }
    }
}
