//! Replicas: a set of records that changes are applied to, and the device
//! API that makes changes.
//!
//! The same [`Replica`] is the server's merge step and the phone's local
//! state. A [`Device`] wraps a replica with the device's actor id and its next
//! sequence number, and makes changes through [`Edit`]: every change it makes
//! is validated and applied to its own replica before it is handed out, so a
//! second change is always built on top of the first.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap};

use crdts::CmRDT;
use uuid::Uuid;

use crate::change::{Change, Entry, Op};
use crate::clock::{Actor, Seq};
use crate::crdt_form;
use crate::error::ChangeError;
use crate::record::{Record, RecordView};
use crate::schema::{Level, Schema, SCHEMA_VERSION};
use crate::validate::validate;
use crate::value::Value;

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The change was new and is now part of the state.
    Applied,
    /// The same change (same actor, sequence and content) was applied before.
    Duplicate,
}

/// Records and the changes that made them.
#[derive(Debug, Clone)]
pub struct Replica {
    schema: &'static Schema,
    records: BTreeMap<Uuid, Record>,
    /// Content digest of every change applied, by `(actor, seq)`.
    seen: HashMap<(Actor, Seq), u64, foldhash::fast::FixedState>,
}

impl Default for Replica {
    fn default() -> Self {
        Replica::new(Schema::current())
    }
}

impl Replica {
    pub fn new(schema: &'static Schema) -> Replica {
        Replica {
            schema,
            records: BTreeMap::new(),
            seen: HashMap::default(),
        }
    }

    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    /// Validate and apply one change: all of it, or (with the reason) none.
    pub fn apply(&mut self, change: &Change) -> Result<Outcome, ChangeError> {
        let collection = validate(self.schema, change)?;
        let digest = change.digest();
        match self.seen.get(&(change.actor, change.seq)) {
            Some(d) if *d == digest => return Ok(Outcome::Duplicate),
            Some(_) => {
                return Err(ChangeError::ReusedSequence {
                    actor: change.actor,
                    seq: change.seq,
                })
            }
            None => {}
        }
        let record = match self.records.entry(change.record) {
            MapEntry::Occupied(e) => {
                e.get().check(change)?;
                e.into_mut()
            }
            MapEntry::Vacant(e) => {
                e.insert(Record::new(change.record, collection, change.grid.clone()))
            }
        };
        record.apply(change);
        self.seen.insert((change.actor, change.seq), digest);
        Ok(Outcome::Applied)
    }

    /// Join a whole record state (from a replica that is ahead) into this one.
    pub fn merge_record(&mut self, state: &Record) -> Result<(), ChangeError> {
        self.join_record(std::borrow::Cow::Borrowed(state))
    }

    /// [`Replica::merge_record`] for a state the caller is done with: a
    /// record not held yet is taken as it is, not copied.
    pub fn merge_record_owned(&mut self, state: Record) -> Result<(), ChangeError> {
        self.join_record(std::borrow::Cow::Owned(state))
    }

    fn join_record(&mut self, state: std::borrow::Cow<'_, Record>) -> Result<(), ChangeError> {
        match self.records.entry(state.id) {
            MapEntry::Occupied(mut e) => {
                let ours = e.get_mut();
                if ours.collection.name != state.collection.name || ours.grid != state.grid {
                    return Err(ChangeError::RecordMismatch {
                        record: ours.id,
                        collection: ours.collection.name.to_owned(),
                        grid: ours.grid.clone(),
                    });
                }
                ours.merge(&state);
            }
            MapEntry::Vacant(e) => {
                e.insert(state.into_owned());
            }
        }
        Ok(())
    }

    pub fn record(&self, id: Uuid) -> Option<&Record> {
        self.records.get(&id)
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// Every record as a user sees it, by id.
    pub fn view(&self) -> BTreeMap<Uuid, RecordView> {
        self.records.iter().map(|(id, r)| (*id, r.view())).collect()
    }
}

/// One app install: its actor id, its next sequence number and its replica.
#[derive(Debug, Clone)]
pub struct Device {
    actor: Actor,
    next_seq: Seq,
    replica: Replica,
}

impl Device {
    /// A fresh install with the actor id the server assigned.
    pub fn new(actor: Actor) -> Device {
        Device::resume(actor, 1, Replica::default())
    }

    /// An install restarted from its durable state.
    pub fn resume(actor: Actor, next_seq: Seq, replica: Replica) -> Device {
        Device {
            actor,
            next_seq,
            replica,
        }
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Apply a change that came from elsewhere (a pull).
    pub fn receive(&mut self, change: &Change) -> Result<Outcome, ChangeError> {
        self.replica.apply(change)
    }

    /// Join a record state that came from elsewhere (a pull of states).
    pub fn merge_record(&mut self, state: &Record) -> Result<(), ChangeError> {
        self.replica.merge_record(state)
    }

    /// [`Device::merge_record`] without copying a record not held yet.
    pub fn merge_record_owned(&mut self, state: Record) -> Result<(), ChangeError> {
        self.replica.merge_record_owned(state)
    }

    /// Start a change that creates record `id` (a new UUID v4 the app chose).
    pub fn create(&mut self, collection: &str, grid: &str, id: Uuid) -> Edit<'_> {
        Edit {
            record: id,
            target: Target::New {
                collection: collection.to_owned(),
                grid: grid.to_owned(),
            },
            intents: Vec::new(),
            device: self,
        }
    }

    /// Start a change to an existing record.
    pub fn edit(&mut self, id: Uuid) -> Edit<'_> {
        Edit {
            record: id,
            target: Target::Existing,
            intents: Vec::new(),
            device: self,
        }
    }

    /// Soft-delete a record (see [`crate::record`] for what wins against
    /// concurrent edits).
    pub fn delete(&mut self, id: Uuid) -> Result<Change, ChangeError> {
        let record = self
            .replica
            .record(id)
            .ok_or(ChangeError::UnknownRecord { record: id })?;
        if record.is_deleted() {
            return Err(ChangeError::RecordDeleted { record: id });
        }
        let ops = vec![Op::Delete {
            seen: record.edit_context(),
        }];
        let (collection, grid) = (record.collection.name.to_owned(), record.grid.clone());
        self.commit(id, collection, grid, ops)
    }

    fn commit(
        &mut self,
        record: Uuid,
        collection: String,
        grid: String,
        ops: Vec<Op>,
    ) -> Result<Change, ChangeError> {
        let change = Change {
            actor: self.actor,
            seq: self.next_seq,
            record,
            collection,
            grid,
            schema: SCHEMA_VERSION,
            ops,
        };
        // The case's dates in order against what this device shows.
        crate::validate::check_dates(&change, self.replica.record(record))?;
        self.replica.apply(&change)?;
        self.next_seq += 1;
        Ok(change)
    }
}

#[derive(Debug)]
enum Target {
    New { collection: String, grid: String },
    Existing,
}

#[derive(Debug)]
enum Intent {
    Set(String, Value),
    Add(String, String),
    Remove(String, String),
    Append(String, Entry),
    Escalate(Level),
    Increment(String, u64),
    Restore,
}

/// A change being built; nothing happens until [`Edit::commit`].
#[derive(Debug)]
#[must_use = "an edit does nothing until commit()"]
pub struct Edit<'a> {
    device: &'a mut Device,
    record: Uuid,
    target: Target,
    intents: Vec<Intent>,
}

impl Edit<'_> {
    /// Write a scalar field (`Value::Null` clears it). Writing a field whose
    /// conflict you have read resolves the conflict.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.intents
            .push(Intent::Set(field.to_owned(), value.into()));
        self
    }

    /// Add a member to a set field.
    pub fn add(mut self, field: &str, member: &str) -> Self {
        self.intents
            .push(Intent::Add(field.to_owned(), member.to_owned()));
        self
    }

    /// Remove a member from a set field (only the additions this replica has
    /// seen; a concurrent add elsewhere wins).
    pub fn remove(mut self, field: &str, member: &str) -> Self {
        self.intents
            .push(Intent::Remove(field.to_owned(), member.to_owned()));
        self
    }

    /// Append an entry to a log field.
    pub fn append(mut self, field: &str, entry: Entry) -> Self {
        self.intents.push(Intent::Append(field.to_owned(), entry));
        self
    }

    /// Raise the handling level.
    pub fn escalate(mut self, to: Level) -> Self {
        self.intents.push(Intent::Escalate(to));
        self
    }

    /// Increment a counter field.
    pub fn increment(mut self, field: &str, by: u64) -> Self {
        self.intents.push(Intent::Increment(field.to_owned(), by));
        self
    }

    /// Bring a deleted record back (may be combined with edits).
    pub fn restore(mut self) -> Self {
        self.intents.push(Intent::Restore);
        self
    }

    /// Build the change, validate it, apply it to the device's replica and
    /// return it for the outbox. On error nothing changes and the sequence
    /// number is not used.
    pub fn commit(self) -> Result<Change, ChangeError> {
        let Edit {
            device,
            record: id,
            target,
            intents,
        } = self;
        let existing = device.replica.record(id);
        let (collection, grid) = match (&target, existing) {
            (Target::New { collection, grid }, None) => (collection.clone(), grid.clone()),
            (Target::New { .. }, Some(r)) | (Target::Existing, Some(r)) => {
                (r.collection.name.to_owned(), r.grid.clone())
            }
            (Target::Existing, None) => return Err(ChangeError::UnknownRecord { record: id }),
        };
        let restoring = intents.iter().any(|i| matches!(i, Intent::Restore));
        if existing.is_some_and(Record::is_deleted) && !restoring {
            return Err(ChangeError::RecordDeleted { record: id });
        }
        check_flow(existing, &collection, &intents)?;
        let ops = build_ops(existing, device.actor, device.next_seq, intents);
        device.commit(id, collection, grid, ops)
    }
}

/// A device refuses a status move its flow does not allow. With a status
/// conflict, a move allowed from any of the concurrent statuses is allowed
/// (that is how a supervisor resolves it).
fn check_flow(
    record: Option<&Record>,
    collection: &str,
    intents: &[Intent],
) -> Result<(), ChangeError> {
    let Some(flow) = crate::flows::Flow::of(collection) else {
        return Ok(());
    };
    for intent in intents {
        let Intent::Set(field, Value::Text(to)) = intent else {
            continue;
        };
        if field != "status" {
            continue;
        }
        let from: Vec<String> = record
            .map(|r| r.values("status"))
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let allowed = if from.is_empty() {
            flow.allows(None, to)
        } else {
            from.iter().any(|f| flow.allows(Some(f), to))
        };
        if !allowed {
            return Err(ChangeError::TransitionNotAllowed {
                field: field.clone(),
                from,
                to: to.clone(),
            });
        }
    }
    Ok(())
}

fn build_ops(record: Option<&Record>, actor: Actor, seq: Seq, intents: Vec<Intent>) -> Vec<Op> {
    let mut ops = Vec::with_capacity(intents.len());
    // Set fields are gathered so that one op carries each field's final state.
    let mut members: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for intent in intents {
        match intent {
            Intent::Set(field, value) => {
                let seen = record.map(|r| r.scalar_context(&field)).unwrap_or_default();
                ops.push(Op::Set { field, value, seen });
            }
            Intent::Add(field, m) => members.entry(field).or_default().0.push(m),
            Intent::Remove(field, m) => members.entry(field).or_default().1.push(m),
            Intent::Append(field, entry) => ops.push(Op::Append { field, entry }),
            Intent::Escalate(to) => ops.push(Op::Escalate {
                from: record.map(Record::level).unwrap_or_default(),
                to,
            }),
            Intent::Increment(field, by) => {
                let total = record.map(|r| r.counter_of(&field, actor)).unwrap_or(0) + by;
                ops.push(Op::Increment { field, by, total });
            }
            Intent::Restore => ops.insert(0, Op::Restore {}),
        }
    }
    for (field, (mut add, mut remove)) in members {
        add.sort();
        add.dedup();
        remove.sort();
        remove.dedup();
        let mut set = record.map(|r| r.set_state(&field)).unwrap_or_default();
        if !add.is_empty() {
            set.apply(crdts::orswot::Op::Add {
                dot: crdts::Dot::new(actor, seq),
                members: add.clone(),
            });
        }
        for m in &remove {
            let ctx = set.contains(m).derive_rm_ctx();
            set.apply(set.rm(m.clone(), ctx));
        }
        ops.push(Op::Members {
            field,
            add,
            remove,
            state: crdt_form::set_to_state(&set),
        });
    }
    ops
}
