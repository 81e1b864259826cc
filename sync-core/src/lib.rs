//! # gridsync-core: the merge core
//!
//! Field workers edit records on phones that are offline for hours or weeks;
//! this crate is what makes their edits merge, in any order, on any number of
//! replicas (the server, other phones), into one state that loses nothing.
//! It is pure: no I/O, no async, no database, so the server and the phone run
//! the very same merge and it is tested without either.
//!
//! ## Layout
//! - [`schema`]: the collections of the domain (household … key person) as
//!   data, with their field kinds and limits.
//! - [`value`]: scalar values as they travel in JSON.
//! - [`clock`]: actors, sequence numbers, causal contexts.
//! - [`change`]: [`Change`], the unit a device makes and syncs, and its ops.
//! - [`validate`](mod@validate): schema checks; a bad change is refused with a typed
//!   [`ChangeError`] and nothing of it is applied.
//! - [`flows`]: the status flows of cases (event, hazard, dispute, petition,
//!   patrol round).
//! - [`record`]: a record's CRDT state, merge, reading (conflicts included),
//!   and the versioned stored form.
//! - [`replica`]: [`Replica`] (apply changes, merge states) and [`Device`]
//!   (make changes through [`Edit`]).
//!
//! ## Why it converges
//! Every op in a change is a delta *state* joined into the record: a register
//! write carries the context it had seen plus the change's own dot, a set
//! edit carries the author's whole set, a log entry is keyed by its UUID, a
//! level is a maximum, a counter carries the author's running total. Joins
//! are commutative, associative and idempotent, so delivery order and
//! duplication do not matter. Dots are `(actor, seq)` of the change, so no two
//! changes share one. See `docs/ARCHITECTURE.md` and `docs/PROTOCOL.md`.
//!
//! ## Example: two offline devices, one conflict, resolved
//! ```
//! use gridsync_core::{Device, Replica, Value};
//! use uuid::Uuid;
//!
//! let id = Uuid::from_u128(1);
//! let mut a = Device::new(1);
//! let mut b = Device::new(2);
//! let mut server = Replica::default();
//!
//! let created = a.create("event", "g-001", id).set("status", "reported").commit()?;
//! server.apply(&created)?;
//! b.receive(&created)?;
//!
//! // Both go offline and move the case to different statuses.
//! let from_a = a.edit(id).set("status", "accepted").commit()?;
//! let from_b = b.edit(id).set("status", "rejected").commit()?;
//! server.apply(&from_b)?;
//! server.apply(&from_a)?;
//!
//! let view = server.record(id).unwrap().view();
//! let conflict: Vec<_> = view.conflicts().collect();
//! assert_eq!(conflict[0].0, "status");
//! assert_eq!(conflict[0].1.len(), 2);
//!
//! // A supervisor who has seen both values writes the field: resolved.
//! a.receive(&from_b)?;
//! let resolved = a.edit(id).set("status", "verified").commit()?;
//! server.apply(&resolved)?;
//! let view = server.record(id).unwrap().view();
//! assert_eq!(view.value("status"), &Value::from("verified"));
//! assert_eq!(view.conflicts().count(), 0);
//! # Ok::<(), gridsync_core::ChangeError>(())
//! ```

pub mod change;
pub mod clock;
mod crdt_form;
pub mod error;
pub mod flows;
pub mod json;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod record;
pub mod replica;
pub mod schema;
pub mod validate;
pub mod value;
pub mod wire;

pub use change::{Change, DeferredRemove, Entry, Op, SetState};
pub use clock::{Actor, Clock, Seq};
pub use error::ChangeError;
pub use flows::Flow;
pub use record::{
    FieldView, LogEntry, Record, RecordView, StoredError, Summary, Written, STORED_FORMAT,
};
pub use replica::{Device, Edit, Outcome, Replica};
pub use schema::{
    Choice, Choices, CollectionDef, FieldDef, FieldKind, Label, Level, OverdueList, ScalarType,
    Schema, Title, ATTACHMENT_MEDIA_TYPES, SCHEMA_VERSION,
};
pub use validate::{is_sha256_hex, validate};
pub use value::{Attachment, Geo, Value};
