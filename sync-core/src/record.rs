//! A record's CRDT state, how changes and other states join into it, and how
//! it reads.
//!
//! | field kind | state                        | a change carries           |
//! |------------|------------------------------|----------------------------|
//! | scalar     | `MVReg<Written, Actor>`      | value + context it had seen |
//! | set        | `Orswot<String, Actor>`      | the author's whole set      |
//! | log        | entries keyed by UUID        | one new entry               |
//! | level      | max-register                 | from → to                   |
//! | counter    | `GCounter<Actor>`            | the author's running total  |
//!
//! Soft delete is an enable-wins flag: every change other than a delete adds
//! its dot to `live`; a delete adds the edit context it had seen to `deletes`.
//! The record reads as deleted when some delete has seen every edit: an edit
//! made concurrently with a delete (offline, before the delete reached it)
//! keeps the record alive. Nothing is ever erased by a delete.

use std::collections::BTreeMap;

use crdts::{CmRDT, CvRDT, GCounter, MVReg, Orswot, VClock};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::change::{Change, Entry, Op};
use crate::clock::{Actor, Clock, Seq};
use crate::crdt_form;
use crate::error::ChangeError;
use crate::schema::{CollectionDef, Concurrent, FieldDef, FieldKind, Level, Schema};
use crate::value::{Attachment, Value};

/// A value in a register, with the change that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Written {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::FieldValue))]
    pub value: Value,
    pub actor: Actor,
    pub seq: Seq,
}

/// A log entry as stored: what the author wrote plus which change appended it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub id: Uuid,
    pub at: String,
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, crate::openapi::FieldValue>))]
    pub fields: BTreeMap<String, Value>,
    pub actor: Actor,
    pub seq: Seq,
}

impl LogEntry {
    fn same_content(&self, e: &Entry) -> bool {
        self.at == e.at && self.fields == e.fields
    }
}

#[derive(Debug, Clone)]
pub(crate) enum FieldState {
    Scalar(MVReg<Written, Actor>),
    Set(Orswot<String, Actor>),
    Log(BTreeMap<Uuid, LogEntry>),
    Counter(GCounter<Actor>),
}

/// The merged state of one record.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: Uuid,
    pub collection: &'static CollectionDef,
    pub grid: String,
    pub(crate) fields: BTreeMap<&'static str, FieldState>,
    pub(crate) level: Level,
    /// Dots of every change that was not a delete.
    pub(crate) live: VClock<Actor>,
    /// Join of the edit contexts seen by deletes.
    pub(crate) deletes: VClock<Actor>,
}

impl Record {
    pub fn new(id: Uuid, collection: &'static CollectionDef, grid: String) -> Record {
        Record {
            id,
            collection,
            grid,
            fields: BTreeMap::new(),
            level: Level::Grid,
            live: VClock::new(),
            deletes: VClock::new(),
        }
    }

    /// Whether the record reads as deleted (see the module docs).
    pub fn is_deleted(&self) -> bool {
        !self.deletes.is_empty() && self.live <= self.deletes
    }

    /// The handling level (cases only; `Grid` for other collections).
    pub fn level(&self) -> Level {
        self.level
    }

    /// Which changes of each actor this record has seen edits from.
    pub fn edit_context(&self) -> Clock {
        Clock::from(&self.live)
    }

    /// Validate a change and create the record it is the first change of.
    /// For replicas whose records live in storage (the server): duplicate
    /// detection by dot is theirs, as is loading the record if it exists.
    pub fn from_change(schema: &Schema, change: &Change) -> Result<Record, ChangeError> {
        let collection = crate::validate::validate(schema, change)?;
        Ok(Record::from_validated(collection, change))
    }

    /// Create the record of a change that [`crate::validate::validate`]
    /// already accepted, as of `collection` (what it returned): for a receiver
    /// that validates before it takes a lock, and must not pay twice.
    pub fn from_validated(collection: &'static CollectionDef, change: &Change) -> Record {
        let mut record = Record::new(change.record, collection, change.grid.clone());
        record.apply(change);
        record
    }

    /// Validate a change against the schema and this record's state, then
    /// join it. On error the record is unchanged.
    pub fn apply_change(&mut self, schema: &Schema, change: &Change) -> Result<(), ChangeError> {
        crate::validate::validate(schema, change)?;
        self.apply_validated(change)
    }

    /// [`Record::apply_change`] for a change that [`crate::validate::validate`]
    /// already accepted: only the checks that need this record's state run.
    pub fn apply_validated(&mut self, change: &Change) -> Result<(), ChangeError> {
        if change.record != self.id {
            return Err(ChangeError::InvalidHeader {
                what: "record",
                reason: format!("is {}, not {}", change.record, self.id),
            });
        }
        self.check(change)?;
        self.apply(change);
        Ok(())
    }

    /// Checks that need this record's state; nothing is changed.
    pub(crate) fn check(&self, change: &Change) -> Result<(), ChangeError> {
        if change.collection != self.collection.name || change.grid != self.grid {
            return Err(ChangeError::RecordMismatch {
                record: self.id,
                collection: self.collection.name.to_owned(),
                grid: self.grid.clone(),
            });
        }
        for op in &change.ops {
            if let Op::Append { field, entry } = op {
                if let Some(FieldState::Log(log)) = self.fields.get(field.as_str()) {
                    if let Some(existing) = log.get(&entry.id) {
                        if !existing.same_content(entry) {
                            return Err(ChangeError::EntryIdReused {
                                field: field.clone(),
                                id: entry.id,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Join a validated change into the record. Commutative, associative and
    /// idempotent: each op is a delta state joined with the field's state.
    pub(crate) fn apply(&mut self, change: &Change) {
        let (actor, seq) = (change.actor, change.seq);
        let dot = crdts::Dot::new(actor, seq);
        for op in &change.ops {
            match op {
                Op::Set { field, value, seen } => {
                    let name = self.field_name(field);
                    if let FieldState::Scalar(reg) = self.field_mut(name) {
                        reg.apply(crdts::mvreg::Op::Put {
                            clock: seen.with_dot(actor, seq),
                            val: Written {
                                value: value.clone(),
                                actor,
                                seq,
                            },
                        });
                    }
                }
                Op::Members { field, state, .. } => {
                    let name = self.field_name(field);
                    if let FieldState::Set(set) = self.field_mut(name) {
                        set.merge(crdt_form::state_to_set(state));
                    }
                }
                Op::Append { field, entry } => {
                    let name = self.field_name(field);
                    if let FieldState::Log(log) = self.field_mut(name) {
                        log.entry(entry.id).or_insert_with(|| LogEntry {
                            id: entry.id,
                            at: entry.at.clone(),
                            fields: entry.fields.clone(),
                            actor,
                            seq,
                        });
                    }
                }
                Op::Escalate { to, .. } => self.level = self.level.max(*to),
                Op::Increment { field, total, .. } => {
                    let name = self.field_name(field);
                    if let FieldState::Counter(c) = self.field_mut(name) {
                        c.apply(crdts::Dot::new(actor, *total));
                    }
                }
                Op::Delete { seen } => self.deletes.merge(VClock::from(seen.clone())),
                Op::Restore {} => {}
            }
        }
        if !matches!(change.ops.first(), Some(Op::Delete { .. })) {
            self.live.apply(dot);
        }
    }

    /// Join another replica's state of the same record into this one (what a
    /// device far behind receives instead of the change log).
    pub fn merge(&mut self, other: &Record) {
        debug_assert_eq!(self.id, other.id);
        for (name, theirs) in &other.fields {
            let ours = self.field_mut(name);
            match (ours, theirs) {
                (FieldState::Scalar(a), FieldState::Scalar(b)) => a.merge(b.clone()),
                (FieldState::Set(a), FieldState::Set(b)) => a.merge(b.clone()),
                (FieldState::Log(a), FieldState::Log(b)) => {
                    for (id, e) in b {
                        a.entry(*id).or_insert_with(|| e.clone());
                    }
                }
                (FieldState::Counter(a), FieldState::Counter(b)) => a.merge(b.clone()),
                _ => unreachable!("one schema, one kind per field"),
            }
        }
        self.level = self.level.max(other.level);
        self.live.merge(other.live.clone());
        self.deletes.merge(other.deletes.clone());
    }

    fn field_name(&self, field: &str) -> &'static str {
        self.collection
            .field(field)
            .map(|f| f.name)
            .expect("validated against the schema")
    }

    fn field_mut(&mut self, name: &'static str) -> &mut FieldState {
        let collection = self.collection;
        self.fields.entry(name).or_insert_with(|| {
            match collection.field(name).map(|f| f.kind).expect("validated") {
                FieldKind::Scalar { .. } => FieldState::Scalar(MVReg::new()),
                FieldKind::Set { .. } => FieldState::Set(Orswot::new()),
                FieldKind::Log { .. } => FieldState::Log(BTreeMap::new()),
                FieldKind::Counter => FieldState::Counter(GCounter::new()),
                FieldKind::Level => unreachable!("the level lives in Record::level"),
            }
        })
    }

    /// Replace the values of the scalar fields `hide` selects with what `mask`
    /// makes of them, keeping every clock: for a replica that must not hold
    /// some values in full (personal data). The result still merges; a write
    /// made on top of it replaces the masked values like any other.
    pub fn redact(&mut self, hide: impl Fn(&FieldDef) -> bool, mask: impl Fn(&Value) -> Value) {
        let collection = self.collection;
        for (name, state) in self.fields.iter_mut() {
            let Some(def) = collection.field(name) else {
                continue;
            };
            if let (true, FieldState::Scalar(reg)) = (hide(def), &mut *state) {
                let vals = crdt_form::register_values(reg)
                    .into_iter()
                    .map(|(clock, w)| {
                        let value = mask(&w.value);
                        (clock, Written { value, ..w })
                    })
                    .collect();
                *reg = crdt_form::register_from(vals);
            }
        }
    }

    // --- reading -------------------------------------------------------------

    /// The scalar register of a field, for building the next write.
    pub(crate) fn scalar_context(&self, field: &str) -> Clock {
        match self.fields.get(field) {
            Some(FieldState::Scalar(reg)) => Clock::from(reg.read_ctx().add_clock),
            _ => Clock::default(),
        }
    }

    pub(crate) fn set_state(&self, field: &str) -> Orswot<String, Actor> {
        match self.fields.get(field) {
            Some(FieldState::Set(s)) => s.clone(),
            _ => Orswot::new(),
        }
    }

    pub(crate) fn counter_of(&self, field: &str, actor: Actor) -> u64 {
        match self.fields.get(field) {
            Some(FieldState::Counter(c)) => crdt_form::counter_clock(c).get(actor),
            _ => 0,
        }
    }

    /// The distinct values a scalar field holds (several in a conflict),
    /// cheaper than a whole [`Record::view`].
    pub fn values(&self, field: &str) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        if let Some(FieldState::Scalar(reg)) = self.fields.get(field) {
            for w in reg.read().val {
                if !out.contains(&w.value) {
                    out.push(w.value);
                }
            }
        }
        out
    }

    /// Every attachment the record refers to, in a scalar (each concurrent
    /// value counts) or a log entry, once each, ordered by hash: what the
    /// server keeps as the record's references (who may download what).
    /// Only the fields the schema lets hold attachments are read (the
    /// server asks this of every record a sync touches).
    pub fn attachments(&self) -> Vec<Attachment> {
        let mut out: BTreeMap<String, Attachment> = BTreeMap::new();
        let mut keep = |v: &Value| {
            if let Value::Attachment(a) = v {
                out.entry(a.sha256.clone()).or_insert_with(|| (**a).clone());
            }
        };
        let fields = self
            .collection
            .fields
            .iter()
            .filter(|f| f.holds_attachments());
        for state in fields.filter_map(|f| self.fields.get(f.name)) {
            match state {
                FieldState::Scalar(reg) => reg.read().val.iter().for_each(|w| keep(&w.value)),
                FieldState::Log(log) => log
                    .values()
                    .flat_map(|e| e.fields.values())
                    .for_each(&mut keep),
                FieldState::Set(_) | FieldState::Counter(_) => {}
            }
        }
        out.into_values().collect()
    }

    /// What a user sees: visible values, conflicts, members, logs in the
    /// order of their instants ([`log_order`]).
    pub fn view(&self) -> RecordView {
        let fields = self
            .fields
            .iter()
            .map(|(name, state)| {
                let view = match state {
                    FieldState::Scalar(reg) => {
                        let concurrent = match self.collection.field(name).map(|f| f.kind) {
                            Some(FieldKind::Scalar { concurrent, .. }) => concurrent,
                            _ => Concurrent::Conflict,
                        };
                        FieldView::scalar(reg.read().val, concurrent)
                    }
                    FieldState::Set(set) => {
                        let mut members: Vec<String> = set.read().val.into_iter().collect();
                        members.sort();
                        FieldView::Set(members)
                    }
                    FieldState::Log(log) => {
                        let mut entries: Vec<LogEntry> = log.values().cloned().collect();
                        entries.sort_by_cached_key(log_order);
                        FieldView::Log(entries)
                    }
                    FieldState::Counter(c) => FieldView::Counter(
                        crdt_form::counter_clock(c)
                            .0
                            .values()
                            .fold(0u64, |sum, t| sum.saturating_add(*t)),
                    ),
                };
                (*name, view)
            })
            .collect();
        RecordView {
            id: self.id,
            collection: self.collection.name,
            grid: self.grid.clone(),
            deleted: self.is_deleted(),
            level: self.collection.level_field().map(|_| self.level),
            fields,
        }
    }
}

/// A record as a user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordView {
    pub id: Uuid,
    pub collection: &'static str,
    pub grid: String,
    pub deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    pub fields: BTreeMap<&'static str, FieldView>,
}

impl RecordView {
    /// The display value of a scalar field (`Null` when unset).
    pub fn value(&self, field: &str) -> &Value {
        match self.fields.get(field) {
            Some(FieldView::Scalar { value, .. }) => value,
            _ => &Value::Null,
        }
    }

    /// The plain columns a store keeps beside the state so that lists and
    /// reports are queries over indexes: display values of the well-known
    /// fields, the level, deletion and the number of fields in conflict.
    pub fn summary(&self) -> Summary {
        let text = |f: &str| self.value(f).as_str().map(str::to_owned);
        Summary {
            status: text("status"),
            category: text("category").or_else(|| text("type")),
            assignee: text("assignee"),
            deadline: text("deadline"),
            level: self.level.unwrap_or_default(),
            deleted: self.deleted,
            conflicts: self.conflicts().count(),
        }
    }

    /// The fields whose concurrent values await resolution.
    pub fn conflicts(&self) -> impl Iterator<Item = (&'static str, &[Written])> {
        self.fields.iter().filter_map(|(name, f)| match f {
            FieldView::Scalar { conflict, .. } if !conflict.is_empty() => {
                Some((*name, conflict.as_slice()))
            }
            _ => None,
        })
    }
}

/// Derived columns of a record (see [`RecordView::summary`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub status: Option<String>,
    pub category: Option<String>,
    pub assignee: Option<String>,
    /// RFC 3339, as written.
    pub deadline: Option<String>,
    pub level: Level,
    pub deleted: bool,
    pub conflicts: usize,
}

/// One field as a user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FieldView {
    /// `value` is the display value: with concurrent writes, the one written
    /// by the highest `(seq, actor)`, a rule that reads no clock and is the
    /// same on every replica. `conflict` lists every concurrent value with
    /// its writer, in `(actor, seq)` order; empty when there is no conflict.
    Scalar {
        #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::FieldValue))]
        value: Value,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        conflict: Vec<Written>,
    },
    /// Members in lexical order.
    Set(Vec<String>),
    /// Entries ordered by `(at, actor, seq, id)`.
    Log(Vec<LogEntry>),
    Counter(u64),
}

impl FieldView {
    fn scalar(mut vals: Vec<Written>, concurrent: Concurrent) -> FieldView {
        vals.sort_by_key(|w| (w.actor, w.seq));
        // A time several devices each know part of: the earliest or the
        // latest of their values, not a conflict (ties by author).
        let instant = |w: &Written| {
            w.value
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
        };
        let picked = match concurrent {
            Concurrent::Conflict => None,
            Concurrent::Earliest => vals
                .iter()
                .filter(|w| instant(w).is_some())
                .min_by_key(|w| instant(w)),
            Concurrent::Latest => vals
                .iter()
                .filter(|w| instant(w).is_some())
                .max_by_key(|w| instant(w)),
        };
        if let Some(w) = picked {
            return FieldView::Scalar {
                value: w.value.clone(),
                conflict: Vec::new(),
            };
        }
        let value = vals
            .iter()
            .max_by_key(|w| (w.seq, w.actor))
            .map(|w| w.value.clone())
            .unwrap_or(Value::Null);
        let distinct = vals.iter().skip(1).any(|w| w.value != vals[0].value);
        FieldView::Scalar {
            value,
            conflict: if distinct { vals } else { Vec::new() },
        }
    }
}

// --- the stored form ----------------------------------------------------------

/// Version of the stored form written by [`Record::to_stored`]. Format 1
/// (each register value with its whole clock) is still read.
pub const STORED_FORMAT: u32 = 2;

/// The stored form as it is read. It is written from borrowed parts
/// ([`StoredOut`]); the tests hold those bytes to this shape's own.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(deny_unknown_fields)]
struct Stored {
    format: u32,
    id: Uuid,
    collection: String,
    grid: String,
    #[serde(default, skip_serializing_if = "is_grid")]
    level: Level,
    #[serde(default, skip_serializing_if = "Clock::is_empty")]
    live: Clock,
    #[serde(default, skip_serializing_if = "Clock::is_empty")]
    deletes: Clock,
    fields: BTreeMap<std::borrow::Cow<'static, str>, StoredField>,
}

fn is_grid(l: &Level) -> bool {
    *l == Level::Grid
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum StoredField {
    /// Concurrent values, each with the clock it was written under.
    Reg(Vec<StoredValue>),
    Set(crate::change::SetState),
    Log(Vec<LogEntry>),
    /// Each actor's running count.
    Counter(Clock),
}

/// One value of a register. Its clock is what its writer had seen plus the
/// writer's own dot; format 2 stores only the first (`seen`, absent when
/// empty), since `actor` and `seq` are the dot. Format 1 stored the whole
/// `clock`; a value whose clock is not of that shape is stored with it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredValue {
    value: Value,
    actor: Actor,
    seq: Seq,
    #[serde(default, skip_serializing_if = "Clock::is_empty")]
    seen: Clock,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clock: Option<Clock>,
}

impl StoredValue {
    fn clock(&self) -> Clock {
        match &self.clock {
            Some(c) => c.clone(),
            None => {
                let mut c = self.seen.clone();
                c.0.insert(self.actor, self.seq);
                c
            }
        }
    }
}

/// Why a stored record could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("stored record is not valid JSON of the stored form: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stored form version {0} is not known (this build reads 1 to {STORED_FORMAT})")]
    Format(u32),
    #[error("stored record names unknown collection `{0}`")]
    Collection(String),
    #[error("stored record has field `{0}` of another kind than the schema says")]
    Field(String),
}

impl Record {
    /// The stored form: JSON with a format version, holding every part of the
    /// state (clocks included), so that [`Record::from_stored`] gives back a
    /// record that reads and merges exactly as this one.
    pub fn to_stored(&self) -> String {
        let fields = self
            .fields
            .iter()
            .map(|(name, state)| {
                let f = match state {
                    FieldState::Scalar(reg) => FieldOut::Parts(PartsOut::Reg({
                        // Canonical: equal states store equal bytes, whatever the arrival order.
                        let mut parts = crdt_form::register_parts(reg);
                        parts.sort_by_key(|p| (p.actor, p.seq));
                        parts.into_iter().map(ValueOut::new).collect()
                    })),
                    FieldState::Set(s) => {
                        FieldOut::Made(StoredField::Set(crdt_form::set_to_state(s)))
                    }
                    FieldState::Log(l) => FieldOut::Parts(PartsOut::Log(l.values().collect())),
                    FieldState::Counter(c) => {
                        FieldOut::Made(StoredField::Counter(crdt_form::counter_clock(c)))
                    }
                };
                (*name, f)
            })
            .collect();
        let stored = StoredOut {
            format: STORED_FORMAT,
            id: self.id,
            collection: self.collection.name,
            grid: &self.grid,
            level: self.level,
            live: (!self.live.is_empty()).then_some(&self.live.dots),
            deletes: (!self.deletes.is_empty()).then_some(&self.deletes.dots),
            fields,
        };
        serde_json::to_string(&stored).expect("stored form is plain data")
    }

    /// Read a record back from its stored form.
    pub fn from_stored(schema: &Schema, json: &str) -> Result<Record, StoredError> {
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        // Read once; the format alone is read only when the whole is not
        // this format's (a form from a later version says so, by number).
        let stored: Stored = match serde_json::from_str::<Stored>(json) {
            Ok(s) if s.format == STORED_FORMAT || s.format == 1 => s,
            Ok(s) => return Err(StoredError::Format(s.format)),
            Err(e) => {
                let Version { format } = serde_json::from_str(json)?;
                if format != STORED_FORMAT && format != 1 {
                    return Err(StoredError::Format(format));
                }
                return Err(e.into());
            }
        };
        let collection = schema
            .collection(&stored.collection)
            .ok_or_else(|| StoredError::Collection(stored.collection.clone()))?;
        let mut fields = BTreeMap::new();
        for (name, f) in stored.fields {
            let def = collection
                .field(&name)
                .ok_or_else(|| StoredError::Field(name.to_string()))?;
            let state = match (f, def.kind) {
                (StoredField::Reg(vals), FieldKind::Scalar { .. }) => {
                    FieldState::Scalar(crdt_form::register_from(
                        vals.into_iter()
                            .map(|v| {
                                let clock = v.clock();
                                let written = Written {
                                    value: v.value,
                                    actor: v.actor,
                                    seq: v.seq,
                                };
                                (clock, written)
                            })
                            .collect(),
                    ))
                }
                (StoredField::Set(s), FieldKind::Set { .. }) => {
                    FieldState::Set(crdt_form::state_to_set(&s))
                }
                (StoredField::Log(l), FieldKind::Log { .. }) => {
                    FieldState::Log(l.into_iter().map(|e| (e.id, e)).collect())
                }
                (StoredField::Counter(c), FieldKind::Counter) => {
                    FieldState::Counter(crdt_form::counter_from(&c))
                }
                _ => return Err(StoredError::Field(name.into_owned())),
            };
            fields.insert(def.name, state);
        }
        Ok(Record {
            id: stored.id,
            collection,
            grid: stored.grid,
            fields,
            level: stored.level,
            live: stored.live.into(),
            deletes: stored.deletes.into(),
        })
    }

    /// The stored form `json` with the values of the scalar fields `hide`
    /// picks replaced by `mask`'s: the bytes [`Record::from_stored`],
    /// [`Record::redact`] and [`Record::to_stored`] give, without building
    /// the record. Only the fields picked are read; the rest of the form is
    /// copied as it is (a form of this format is canonical). A form of
    /// format 1 takes the long way, and is written back in this format.
    pub fn redact_stored(
        schema: &Schema,
        json: &str,
        hide: impl Fn(&FieldDef) -> bool,
        mask: impl Fn(&Value) -> Value,
    ) -> Result<String, StoredError> {
        let shallow: Shallow<'_> = match serde_json::from_str(json) {
            Ok(s) => s,
            Err(e) => {
                // Whatever the shape, a later format is refused by number.
                Record::from_stored(schema, json)?;
                return Err(e.into());
            }
        };
        if shallow.format != STORED_FORMAT {
            let mut record = Record::from_stored(schema, json)?;
            record.redact(hide, mask);
            return Ok(record.to_stored());
        }
        let collection = schema
            .collection(&shallow.collection)
            .ok_or_else(|| StoredError::Collection(shallow.collection.to_string()))?;
        let mut fields = BTreeMap::new();
        let mut touched = false;
        for (name, raw) in &shallow.fields {
            let def = collection
                .field(name)
                .ok_or_else(|| StoredError::Field(name.to_string()))?;
            if !(matches!(def.kind, FieldKind::Scalar { .. }) && hide(def)) {
                fields.insert(name.as_ref(), FieldOut::Kept(raw));
                continue;
            }
            let StoredField::Reg(mut vals) = serde_json::from_str(raw.get())? else {
                return Err(StoredError::Field(name.to_string()));
            };
            for v in vals.iter_mut() {
                v.value = mask(&v.value);
            }
            touched = true;
            fields.insert(name.as_ref(), FieldOut::Made(StoredField::Reg(vals)));
        }
        if !touched {
            return Ok(json.to_owned());
        }
        let out = StoredOut {
            format: shallow.format,
            id: shallow.id,
            collection: &shallow.collection,
            grid: &shallow.grid,
            level: shallow.level,
            live: shallow.live,
            deletes: shallow.deletes,
            fields,
        };
        Ok(serde_json::to_string(&out).expect("stored form is plain data"))
    }
}

/// The stored form read only as deep as its envelope: each field is kept as
/// its JSON text ([`Record::redact_stored`]). Its fields are [`Stored`]'s,
/// in the same order, with the same rules for what is left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shallow<'a> {
    format: u32,
    id: Uuid,
    #[serde(borrow)]
    collection: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    grid: std::borrow::Cow<'a, str>,
    #[serde(default)]
    level: Level,
    #[serde(default, borrow)]
    live: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow)]
    deletes: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    fields: BTreeMap<std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue>,
}

/// The stored form as written, by [`Record::to_stored`] and
/// [`Record::redact_stored`], from borrowed parts. Clocks are `C`: a
/// record's dots, or a stored form's as they were read.
#[derive(Serialize)]
struct StoredOut<'a, C> {
    format: u32,
    id: Uuid,
    collection: &'a str,
    grid: &'a str,
    #[serde(skip_serializing_if = "is_grid")]
    level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<C>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletes: Option<C>,
    fields: BTreeMap<&'a str, FieldOut<'a>>,
}

/// A field of [`StoredOut`]: kept as it was read, made anew, or written
/// from the record's own parts.
#[derive(Serialize)]
#[serde(untagged)]
enum FieldOut<'a> {
    Kept(&'a serde_json::value::RawValue),
    Made(StoredField),
    Parts(PartsOut<'a>),
}

/// A register or a log written from the record's parts, in the bytes
/// [`StoredField`] gives it.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum PartsOut<'a> {
    Reg(Vec<ValueOut>),
    Log(Vec<&'a LogEntry>),
}

/// A [`StoredValue`] as written from a register's parts: its value as the
/// JSON it already is.
#[derive(Serialize)]
struct ValueOut {
    value: Box<serde_json::value::RawValue>,
    actor: Actor,
    seq: Seq,
    #[serde(skip_serializing_if = "Dots::is_empty")]
    seen: Dots,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock: Option<Dots>,
}

impl ValueOut {
    fn new(part: crdt_form::RegisterPart) -> ValueOut {
        // The clock without the value's own dot is what its writer had seen;
        // a clock of another shape is kept whole.
        let mut dots = part.dots;
        let own = dots.iter().position(|&(a, _)| a == part.actor);
        let (seen, clock) = match own {
            Some(i) if dots[i].1 == part.seq => {
                dots.remove(i);
                (Dots(dots), None)
            }
            _ => (Dots(Vec::new()), Some(Dots(dots))),
        };
        ValueOut {
            value: part.value,
            actor: part.actor,
            seq: part.seq,
            seen,
            clock,
        }
    }
}

/// A clock's dots in actor order, written as [`Clock`] writes them.
struct Dots(Vec<(Actor, Seq)>);

impl Dots {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Dots {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(a, n)| (a, n)))
    }
}

/// Where a log entry reads: by the instant its `at` names (not its text:
/// `00:30:00+00:00` is after `08:00:00+08:00`), then, for one instant, by
/// its author's actor and sequence, then by its id. Every reader, on the
/// server and the device, orders logs by this. An `at` that is no RFC 3339
/// time (never accepted by validation) reads first.
///
/// ```
/// # use gridsync_core::record::log_order;
/// # use gridsync_core::record::LogEntry;
/// let entry = |at: &str, actor| LogEntry {
///     id: uuid::Uuid::nil(), at: at.into(), fields: Default::default(), actor, seq: 1,
/// };
/// let utc = entry("2026-11-28T00:30:00+00:00", 1);
/// let china = entry("2026-11-28T08:00:00+08:00", 2);
/// assert!(log_order(&china) < log_order(&utc), "08:00 China time is 00:00 UTC");
/// ```
pub fn log_order(e: &LogEntry) -> (Option<(i64, u32)>, Actor, Seq, Uuid) {
    let instant = chrono::DateTime::parse_from_rfc3339(&e.at)
        .ok()
        .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()));
    (instant, e.actor, e.seq, e.id)
}

#[cfg(test)]
mod stored_form_tests {
    use super::*;

    /// The stored form read by the reader's own shape ([`Stored`]) and
    /// written again by its derive: the bytes `to_stored` wrote before it
    /// wrote from borrowed parts.
    fn by_the_reader(json: &str) -> String {
        serde_json::to_string(&serde_json::from_str::<Stored>(json).unwrap()).unwrap()
    }

    proptest::proptest! {
        /// Whatever three devices did to a record, concurrently or not, its
        /// stored form is the bytes the reader's shape writes, and reads back
        /// as the same record.
        #[test]
        fn the_stored_form_is_written_as_the_reader_reads_it(
            steps in proptest::collection::vec((0usize..3, 0u8..8, 0u8..4), 1..40)
        ) {
            use crate::Device;
            let id = Uuid::from_u128(9);
            let mut phones: Vec<Device> = (1..=3).map(Device::new).collect();
            let first = phones[0].create("event", "g-001", id).set("status", "reported").commit().unwrap();
            let mut made = vec![first];
            for p in &mut phones[1..] {
                p.receive(&made[0]).unwrap();
            }
            for (device, kind, n) in steps {
                let p = &mut phones[device];
                let edit = p.edit(id);
                let change = match kind {
                    0 => edit.set("title", format!("title {n}")).commit(),
                    1 => edit.set("status", ["accepted", "verified", "closed", "reported"][usize::from(n)]).commit(),
                    2 => edit.add("tags", ["a", "b", "家庭"][usize::from(n % 3)]).commit(),
                    3 => edit.remove("tags", ["a", "b", "家庭"][usize::from(n % 3)]).commit(),
                    4 => edit.increment("report_count", u64::from(n) + 1).commit(),
                    5 => edit.append("actions", Entry {
                        id: Uuid::from_u128(100 + made.len() as u128),
                        at: format!("2026-11-28T0{n}:00:00+08:00"),
                        fields: BTreeMap::from([("action".to_string(), Value::from("step"))]),
                    }).commit(),
                    6 => p.delete(id),
                    // Catch up with everything made so far.
                    _ => {
                        for c in &made {
                            p.receive(c).unwrap();
                        }
                        continue;
                    }
                };
                if let Ok(c) = change {
                    made.push(c);
                }
            }
            for p in &phones {
                let r = p.replica().record(id).unwrap();
                let stored = r.to_stored();
                proptest::prop_assert_eq!(&by_the_reader(&stored), &stored);
                let back = Record::from_stored(Schema::current(), &stored).unwrap();
                proptest::prop_assert_eq!(back.view(), r.view());
                proptest::prop_assert_eq!(back.to_stored(), stored);
            }
        }
    }

    /// Format 1, as stores written before format 2 hold it, reads as the
    /// same record; written again it is format 2, without each register
    /// value's own dot repeated in its clock, and reads back the same.
    #[test]
    fn format_1_is_read_and_format_2_is_leaner() {
        let v1 = r#"{"format":1,"id":"5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44","collection":"event","grid":"g-001",
            "level":"community","live":{"3":40,"7":41},
            "fields":{"status":{"reg":[{"clock":{"3":40},"value":"accepted","actor":3,"seq":40},
                                       {"clock":{"3":12,"7":41},"value":"rejected","actor":7,"seq":41}]},
                      "report_count":{"counter":{"7":3}}}}"#;
        let schema = Schema::current();
        let r = Record::from_stored(schema, v1).unwrap();
        let v2 = r.to_stored();
        assert!(v2.starts_with(r#"{"format":2"#), "{v2}");
        assert!(
            v2.contains(r#"{"value":"accepted","actor":3,"seq":40}"#),
            "{v2}"
        );
        assert!(
            v2.contains(r#"{"value":"rejected","actor":7,"seq":41,"seen":{"3":12}}"#),
            "{v2}"
        );
        assert_eq!(by_the_reader(&v2), v2);
        let back = Record::from_stored(schema, &v2).unwrap();
        assert_eq!(back.view(), r.view());
        assert_eq!(back.to_stored(), v2);
        assert!(v2.len() < v1.split_whitespace().collect::<String>().len());
        // A format this build does not know is refused.
        let v9 = v2.replacen(r#""format":2"#, r#""format":9"#, 1);
        assert!(matches!(
            Record::from_stored(schema, &v9),
            Err(StoredError::Format(9))
        ));
        // Also when its shape is not this format's.
        let v9 = r#"{"format":9,"record":{"id":"x"}}"#;
        assert!(matches!(
            Record::from_stored(schema, v9),
            Err(StoredError::Format(9))
        ));
    }

    /// Redacting a stored form without building the record: format 1 takes
    /// the long way and comes back as format 2; a later format is refused by
    /// number, whatever its shape; a field the schema does not know, or a
    /// scalar stored as another kind, is refused as the long way refuses it.
    #[test]
    fn a_stored_form_is_redacted_as_building_it_would() {
        let schema = Schema::current();
        let star = |_: &Value| Value::from("***");
        let status = |f: &FieldDef| f.name == "status";
        let v1 = r#"{"format":1,"id":"5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44","collection":"event","grid":"g-001",
            "fields":{"status":{"reg":[{"clock":{"3":40},"value":"accepted","actor":3,"seq":40}]}}}"#;
        let mut long = Record::from_stored(schema, v1).unwrap();
        long.redact(status, star);
        let short = Record::redact_stored(schema, v1, status, star).unwrap();
        assert_eq!(short, long.to_stored());
        assert!(
            short.contains(r#"{"value":"***","actor":3,"seq":40}"#),
            "{short}"
        );

        let v2 = Record::from_stored(schema, v1).unwrap().to_stored();
        assert_eq!(
            Record::redact_stored(schema, &v2, status, star).unwrap(),
            short
        );
        // Nothing hidden: the same bytes.
        assert_eq!(
            Record::redact_stored(schema, &v2, |_| false, star).unwrap(),
            v2
        );
        for (bad, refused) in [
            (v2.replacen(r#""format":2"#, r#""format":9"#, 1), "version 9"),
            (r#"{"format":9,"record":{"id":"x"}}"#.to_owned(), "version 9"),
            (v2.replacen(r#""status""#, r#""no_such_field""#, 1), "no_such_field"),
            (v2.replacen(r#""event""#, r#""no_such_collection""#, 1), "no_such_collection"),
            (v2.replacen(r#"{"reg":"#, r#"{"counter":{"3":1},"x":"#, 1), "valid JSON"),
            (r#"{"format":2,"id":"5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44","collection":"event","grid":"g","fields":{"status":{"counter":{"3":1}}}}"#.to_owned(), "status"),
        ] {
            let e = Record::redact_stored(schema, &bad, status, star).unwrap_err();
            assert!(e.to_string().contains(refused), "{bad}: {e}");
            assert_eq!(
                std::mem::discriminant(&e),
                std::mem::discriminant(&Record::from_stored(schema, &bad).err().unwrap()),
                "{bad}: {e}"
            );
        }
    }
}

#[cfg(test)]
mod log_order_tests {
    use super::*;
    use crate::Device;

    /// Entries appended by two phones in two time zones, in whatever order
    /// they arrive, read in the order of their instants; one instant written
    /// two ways reads by author, then id.
    #[test]
    fn a_log_reads_in_the_order_of_its_instants() {
        let id = Uuid::from_u128(7);
        let entry = |n: u128, at: &str| Entry {
            id: Uuid::from_u128(n),
            at: at.into(),
            fields: [("action".to_owned(), Value::from("note"))].into(),
        };
        // (entry id, at, which phone), in the order they are appended.
        let appended = [
            (1, "2026-11-28T08:00:00+08:00", 0), // 00:00 UTC
            (2, "2026-11-28T00:30:00+00:00", 1), // 00:30 UTC
            (3, "2026-11-27T23:59:59.500Z", 1),  // before both
            (4, "2026-11-28T08:30:00+08:00", 0), // 00:30 UTC: same instant as 2
            (5, "2026-11-28T09:00:00+09:00", 1), // 00:00 UTC: same instant as 1
        ];
        let mut a = Device::new(10);
        let mut b = Device::new(20);
        a.create("event", "g", id)
            .set("status", "reported")
            .commit()
            .unwrap();
        b.merge_record(&a_state(&a, id)).unwrap();
        for (n, at, phone) in appended {
            let d = if phone == 0 { &mut a } else { &mut b };
            d.edit(id).append("actions", entry(n, at)).commit().unwrap();
        }
        // Merge both ways: the same order on both, whatever came first.
        let (sa, sb) = (a_state(&a, id), a_state(&b, id));
        a.merge_record(&sb).unwrap();
        b.merge_record(&sa).unwrap();
        for d in [&a, &b] {
            let view = d.replica().record(id).unwrap().view();
            let Some(crate::FieldView::Log(entries)) = view.fields.get("actions") else {
                panic!("no log");
            };
            let order: Vec<u128> = entries.iter().map(|e| e.id.as_u128()).collect();
            // 3 (23:59:59.5); 00:00 UTC: 1 (actor 10) before 5 (actor 20);
            // 00:30 UTC: 4 (actor 10) before 2 (actor 20).
            assert_eq!(order, [3, 1, 5, 4, 2]);
        }
    }

    fn a_state(d: &Device, id: Uuid) -> Record {
        d.replica().record(id).unwrap().clone()
    }
}

#[cfg(test)]
mod concurrent_time_tests {
    use super::*;
    use crate::Device;

    /// Two phones of a patrol team each record the round's start and end,
    /// concurrently: the round starts at the earliest and ends at the
    /// latest, on both, in either merge order, with no conflict; a later
    /// write that saw both replaces them.
    #[test]
    fn a_teams_start_is_the_earliest_and_its_end_the_latest() {
        let id = Uuid::from_u128(11);
        let mut a = Device::new(1);
        a.create("patrol_round", "g", id)
            .set("status", "in_progress")
            .commit()
            .unwrap();
        let mut b = Device::new(2);
        b.merge_record(a.replica().record(id).unwrap()).unwrap();
        a.edit(id)
            .set("started_at", "2026-11-28T20:05:00+08:00")
            .set("ended_at", "2026-11-28T22:00:00+08:00")
            .commit()
            .unwrap();
        b.edit(id)
            .set("started_at", "2026-11-28T12:01:00Z") // 20:01 China time
            .set("ended_at", "2026-11-28T22:30:00+08:00")
            .commit()
            .unwrap();
        let (sa, sb) = (
            a.replica().record(id).unwrap().clone(),
            b.replica().record(id).unwrap().clone(),
        );
        a.merge_record(&sb).unwrap();
        b.merge_record(&sa).unwrap();
        for d in [&a, &b] {
            let v = d.replica().record(id).unwrap().view();
            assert_eq!(v.value("started_at"), &Value::from("2026-11-28T12:01:00Z"));
            assert_eq!(
                v.value("ended_at"),
                &Value::from("2026-11-28T22:30:00+08:00")
            );
            assert_eq!(v.conflicts().count(), 0);
        }
        a.edit(id)
            .set("ended_at", "2026-11-28T21:00:00+08:00")
            .commit()
            .unwrap();
        let v = a.replica().record(id).unwrap().view();
        assert_eq!(
            v.value("ended_at"),
            &Value::from("2026-11-28T21:00:00+08:00")
        );
        // Any other field still shows its conflict.
        let mut c = Device::new(3);
        c.merge_record(a.replica().record(id).unwrap()).unwrap();
        a.edit(id).set("route", "东环线").commit().unwrap();
        c.edit(id).set("route", "西环线").commit().unwrap();
        a.merge_record(c.replica().record(id).unwrap()).unwrap();
        assert_eq!(
            a.replica().record(id).unwrap().view().conflicts().count(),
            1
        );
    }
}
