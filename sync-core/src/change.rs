//! Changes: the unit a device makes, syncs and the server logs.
//!
//! A change is one author's edit of one record: a header (who, which record,
//! under which schema) and one or more [`Op`]s. Every op is a *delta state*
//! that is joined into the record, never an operation that assumes the
//! receiver has seen what the author had seen. That is what makes applying
//! changes commutative, associative and idempotent under any delivery order
//! (see `docs/PROTOCOL.md` for the wire form and `docs/ARCHITECTURE.md` for
//! why `crdts::Map` and op-based `Orswot` are not used).
//!
//! The author's new dot is never written into an op: it is always the change's
//! own `(actor, seq)`. Two changes therefore never share a dot, even when a
//! client builds the second without applying the first.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::{Actor, Clock, Seq};
use crate::json::Obj;
use crate::schema::Level;
use crate::value::Value;

/// One author's edit of one record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Obj<ChangeWire>")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// The app install that made the change.
    pub actor: Actor,
    /// Its gap-free sequence number for that actor, from 1.
    pub seq: Seq,
    /// The record (UUID), created by its first change.
    pub record: Uuid,
    pub collection: String,
    pub grid: String,
    /// The schema version the change was made under.
    pub schema: u32,
    pub ops: Vec<Op>,
}

/// One edit inside a change. On the wire: `{"set": {...}}`, `{"members": {...}}`…
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", from = "OpWire")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Op {
    /// Write a scalar field. `seen` is the field's causal context on the
    /// author's replica (the clocks of the values it had read); writing after
    /// reading a conflict therefore replaces every value of the conflict.
    Set {
        field: String,
        #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::FieldValue))]
        value: Value,
        #[serde(default, skip_serializing_if = "Clock::is_empty")]
        seen: Clock,
    },
    /// Add and/or remove members of a set field. `state` is the whole set
    /// (an `Orswot`) on the author's replica after the edit; receivers join it.
    /// `add` and `remove` say what the author did, for history and review.
    Members {
        field: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove: Vec<String>,
        state: SetState,
    },
    /// Append one entry to a log field.
    Append { field: String, entry: Entry },
    /// Raise the handling level from `from` (the level the author saw) to `to`.
    Escalate { from: Level, to: Level },
    /// Increment a counter field by `by`; `total` is the author's own running
    /// count after the increment (what the `GCounter` keeps per actor).
    Increment { field: String, by: u64, total: u64 },
    /// Soft-delete the record. `seen` is the record's edit context on the
    /// author's replica; edits it had not seen keep the record alive.
    Delete {
        #[serde(default, skip_serializing_if = "Clock::is_empty")]
        seen: Clock,
    },
    /// Bring a deleted record back.
    Restore {},
}

impl Op {
    /// The field the op edits, if it edits one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Op::Set { field, .. }
            | Op::Members { field, .. }
            | Op::Append { field, .. }
            | Op::Increment { field, .. } => Some(field),
            Op::Escalate { .. } => Some("level"),
            Op::Delete { .. } | Op::Restore {} => None,
        }
    }

    /// The op's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Set { .. } => "set",
            Op::Members { .. } => "members",
            Op::Append { .. } => "append",
            Op::Escalate { .. } => "escalate",
            Op::Increment { .. } => "increment",
            Op::Delete { .. } => "delete",
            Op::Restore {} => "restore",
        }
    }
}

/// The state of a set field in its own JSON form: the `Orswot`'s clock, each
/// member with the dots that added it, and removes waiting for their context
/// (always empty when states are only joined, kept so every state round-trips).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Obj<SetStateWire>")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetState {
    pub clock: Clock,
    pub entries: BTreeMap<String, Clock>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<DeferredRemove>,
}

/// A remove whose context is ahead of the set's clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Obj<DeferredRemove2>")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeferredRemove {
    pub clock: Clock,
    pub members: BTreeSet<String>,
}

/// A log entry as the author writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Obj<EntryWire>")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    /// Chosen by the author (UUID v4); the entry's identity forever.
    pub id: Uuid,
    /// When it happened, by the author's clock (RFC 3339). Display and
    /// ordering only: merges never read a wall clock.
    pub at: String,
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, crate::openapi::FieldValue>))]
    pub fields: BTreeMap<String, Value>,
}

impl Change {
    /// A fingerprint of the content, to tell a duplicate delivery from a
    /// reused `(actor, seq)` with different content. Stable within a build.
    pub fn digest(&self) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(0x6772_6964).hash_one(self)
    }

    /// Every causal context the change carries, with the field it is about
    /// (`(record)` for a delete): a register write's `seen`, a set state's
    /// clock and its members' and deferred removes' dots, a delete's `seen`.
    /// These are what the author claims to have seen; a receiver checks them
    /// ([`crate::validate::check_claims`]).
    pub fn contexts(&self) -> Vec<(&str, &Clock)> {
        let mut out = Vec::new();
        for op in &self.ops {
            match op {
                Op::Set { field, seen, .. } => out.push((field.as_str(), seen)),
                Op::Members { field, state, .. } => {
                    out.push((field.as_str(), &state.clock));
                    out.extend(state.entries.values().map(|c| (field.as_str(), c)));
                    out.extend(state.deferred.iter().map(|d| (field.as_str(), &d.clock)));
                }
                Op::Delete { seen } => out.push(("(record)", seen)),
                Op::Append { .. } | Op::Escalate { .. } | Op::Increment { .. } | Op::Restore {} => {
                }
            }
        }
        out
    }

    /// The actors other than its author that the change's contexts name.
    pub fn claimed_actors(&self) -> BTreeSet<Actor> {
        self.contexts()
            .into_iter()
            .flat_map(|(_, c)| c.0.keys().copied())
            .filter(|a| *a != self.actor)
            .collect()
    }

    /// Decode one change from JSON.
    pub fn from_json(json: &[u8]) -> Result<Change, serde_json::Error> {
        serde_json::from_slice(json)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a change is plain data")
    }
}

// The wire forms as they are read: every struct from a JSON object only
// (`crate::json`), unknown keys refused. Serializing uses the types above.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeWire {
    actor: Actor,
    seq: Seq,
    record: Uuid,
    collection: String,
    grid: String,
    schema: u32,
    ops: Vec<Op>,
}

impl From<Obj<ChangeWire>> for Change {
    fn from(Obj(w): Obj<ChangeWire>) -> Change {
        Change {
            actor: w.actor,
            seq: w.seq,
            record: w.record,
            collection: w.collection,
            grid: w.grid,
            schema: w.schema,
            ops: w.ops,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OpWire {
    Set(Obj<SetWire>),
    Members(Obj<MembersWire>),
    Append(Obj<AppendWire>),
    Escalate(Obj<EscalateWire>),
    Increment(Obj<IncrementWire>),
    Delete(Obj<DeleteWire>),
    Restore(Obj<RestoreWire>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetWire {
    field: String,
    value: Value,
    #[serde(default)]
    seen: Clock,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersWire {
    field: String,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
    state: SetState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendWire {
    field: String,
    entry: Entry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateWire {
    from: Level,
    to: Level,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncrementWire {
    field: String,
    by: u64,
    total: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteWire {
    #[serde(default)]
    seen: Clock,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreWire {}

impl From<OpWire> for Op {
    fn from(w: OpWire) -> Op {
        match w {
            OpWire::Set(Obj(o)) => Op::Set {
                field: o.field,
                value: o.value,
                seen: o.seen,
            },
            OpWire::Members(Obj(o)) => Op::Members {
                field: o.field,
                add: o.add,
                remove: o.remove,
                state: o.state,
            },
            OpWire::Append(Obj(o)) => Op::Append {
                field: o.field,
                entry: o.entry,
            },
            OpWire::Escalate(Obj(o)) => Op::Escalate {
                from: o.from,
                to: o.to,
            },
            OpWire::Increment(Obj(o)) => Op::Increment {
                field: o.field,
                by: o.by,
                total: o.total,
            },
            OpWire::Delete(Obj(o)) => Op::Delete { seen: o.seen },
            OpWire::Restore(Obj(RestoreWire {})) => Op::Restore {},
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStateWire {
    clock: Clock,
    entries: BTreeMap<String, Clock>,
    #[serde(default)]
    deferred: Vec<DeferredRemove>,
}

impl From<Obj<SetStateWire>> for SetState {
    fn from(Obj(w): Obj<SetStateWire>) -> SetState {
        SetState {
            clock: w.clock,
            entries: w.entries,
            deferred: w.deferred,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeferredRemove2 {
    clock: Clock,
    members: BTreeSet<String>,
}

impl From<Obj<DeferredRemove2>> for DeferredRemove {
    fn from(Obj(w): Obj<DeferredRemove2>) -> DeferredRemove {
        DeferredRemove {
            clock: w.clock,
            members: w.members,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryWire {
    id: Uuid,
    at: String,
    fields: BTreeMap<String, Value>,
}

impl From<Obj<EntryWire>> for Entry {
    fn from(Obj(w): Obj<EntryWire>) -> Entry {
        Entry {
            id: w.id,
            at: w.at,
            fields: w.fields,
        }
    }
}
