//! The write path: from the changes of `POST /v1/sync` to the rows written.
//!
//! Reading order, from the request to the row:
//!
//! 1. `api::sync::sync` checks the request and builds a [`Push`];
//! 2. [`prepare`] decodes and checks every change on its own, before any
//!    lock is taken (JSON shape, author, the sender's scope and role, the
//!    schema): pure, so many batches prepare at once;
//! 3. `Store::push` hands the prepared batch to a write transaction
//!    (`commit.rs`: on SQLite, batches waiting for the writer commit together,
//!    each planned beforehand on a reader; on PostgreSQL, one transaction
//!    each);
//! 4. [`apply`] runs inside it, over the small [`WriteTx`] interface that
//!    every backend implements with SQL only (`storage.rs`): duplicates, the
//!    claims of causal contexts, the merge by `gridsync-core`, the derived
//!    columns ([`record_form`]), and the rows: changes, records, the actor's
//!    head, the quarantine, the report stock, the attachment references.
//!
//! Nothing here knows which database it runs on.

pub mod commit;
pub mod storage;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use gridsync_core::schema::CollectionDef;
use gridsync_core::{Change, Record, Schema};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::db::models::{NewChange, NewQuarantine, RecordForm, RecordRow};
use crate::db::record_update::{moved, Indexed};
use crate::reports::{stock_key, stock_move, StockKey, StockOf};
use crate::rules::Rules;
use crate::store::attachments::{refs_of, NewRef};
use crate::store::StoreError;
pub use storage::WriteTx;

/// The changes a device pushes.
pub struct Push<'a> {
    pub actor: u32,
    pub batch: &'a str,
    /// Each change as sent; decoded one by one so that one malformed change
    /// is refused (and kept) without failing the others.
    pub changes: &'a [Box<RawValue>],
    /// Why the sender may not make this change, if it may not (scope, role):
    /// `(code, message)`. The change is then refused and quarantined.
    pub guard: &'a (dyn Fn(&Change) -> Option<(&'static str, String)> + Sync),
}

impl std::fmt::Debug for Push<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Push")
            .field("actor", &self.actor)
            .field("batch", &self.batch)
            .field("changes", &self.changes.len())
            .finish_non_exhaustive()
    }
}

/// A guard that lets every change through (the server's own writes).
pub fn allow_all(_: &Change) -> Option<(&'static str, String)> {
    None
}

pub use gridsync_core::wire::ChangeResult;

fn refused(
    change: Option<&Change>,
    code: &str,
    message: String,
    field: Option<&str>,
) -> ChangeResult {
    ChangeResult::Refused {
        actor: change.map(|c| c.actor),
        seq: change.map(|c| c.seq),
        code: code.to_owned(),
        message,
        field: field.map(str::to_owned),
    }
}

/// Text as every backend can keep it: PostgreSQL's text holds no NUL, and
/// a refusal's message may quote what a device sent (a field name with a NUL
/// in it). The character is replaced, never the row lost.
pub fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// One pushed change after [`prepare`].
#[derive(Debug)]
pub enum Item {
    /// Refused before any lock: kept in the quarantine as sent.
    Refused {
        change: Option<Change>,
        sent: String,
        result: ChangeResult,
    },
    /// Well-formed, the sender's to make, valid against the schema.
    Ready {
        change: Change,
        /// What the schema validation returned: the merge does not validate again.
        collection: &'static CollectionDef,
        /// The canonical body (what the log keeps and duplicates compare).
        body: String,
        actor_seq: i64,
    },
}

/// A batch decoded and checked, waiting for its write transaction.
#[derive(Debug)]
pub struct Prepared {
    pub actor: u32,
    pub batch: String,
    pub items: Vec<Item>,
    /// For a department's staff: the assignees (`department:CODE`) a record
    /// must be dispatched to for them to change it; none for everyone else.
    pub dispatched: Option<Vec<String>>,
}

impl Prepared {
    /// The grids the batch writes to (what a backend locks).
    pub fn grids(&self) -> BTreeSet<&str> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Ready { change, .. } => Some(change.grid.as_str()),
                Item::Refused { .. } => None,
            })
            .collect()
    }
}

/// Decode and check each change on its own, with no database: the author is
/// the sender, the sender may write it (scope, role), its seq fits, and the
/// schema takes it. Whatever fails here is refused alone.
pub fn prepare(schema: &Schema, p: &Push<'_>) -> Prepared {
    let items = p
        .changes
        .iter()
        .map(|sent| {
            let refuse =
                |change: Option<Change>, code: &str, message: String, field: Option<&str>| {
                    let result = refused(change.as_ref(), code, message, field);
                    Item::Refused {
                        change,
                        sent: sent.get().to_owned(),
                        result,
                    }
                };
            let change = match Change::from_json(sent.get().as_bytes()) {
                Ok(change) => change,
                Err(e) => {
                    let msg = format!("not a valid change: {e}");
                    return refuse(None, "malformed_change", msg, None);
                }
            };
            if change.actor != p.actor {
                let msg = format!(
                    "the change is by actor {}, the request by actor {}",
                    change.actor, p.actor
                );
                return refuse(Some(change), "actor_mismatch", msg, None);
            }
            if let Some((code, message)) = (p.guard)(&change) {
                return refuse(Some(change), code, message, None);
            }
            let collection = match gridsync_core::validate(schema, &change) {
                Ok(c) => c,
                Err(e) => return refuse(Some(change), e.code(), e.to_string(), e.field()),
            };
            let actor_seq = i64::try_from(change.seq).expect("validate bounds seq to 2^53-1");
            Item::Ready {
                body: change.to_json(),
                change,
                collection,
                actor_seq,
            }
        })
        .collect();
    Prepared {
        actor: p.actor,
        batch: p.batch.to_owned(),
        items,
        dispatched: None,
    }
}

/// What a record's row said before this batch (or, for a new record, its
/// creation), that the derived columns carry on from.
#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// The level stored (none for a new record).
    pub level: Option<String>,
    pub level_since: i64,
    pub flag: Option<String>,
    /// The assignee stored (a department's webhook is told when it changes).
    pub assignee: Option<String>,
}

/// A record loaded (or created) during a batch.
struct Loaded {
    record: Option<Record>,
    existed: bool,
    /// The indexed columns as stored (a rewrite sets those that moved).
    indexed: Indexed,
    prior: Prior,
    /// Index in the plan's `written` of the last change to it.
    last: usize,
    touched: bool,
    /// Where the stored row counts in the report stock.
    stock: Option<StockKey>,
}

impl Loaded {
    fn new(now: i64) -> Loaded {
        Loaded {
            stock: None,
            record: None,
            existed: false,
            indexed: Indexed::default(),
            prior: Prior {
                created_at: now,
                ..Prior::default()
            },
            last: 0,
            touched: false,
        }
    }

    fn from_row(schema: &Schema, row: RecordRow) -> Result<Loaded, StoreError> {
        let record = Record::from_stored(schema, &row.state).map_err(|e| StoreError::Corrupt {
            id: row.id.clone(),
            reason: e.to_string(),
        })?;
        Ok(Loaded {
            stock: row_stock(&row),
            indexed: Indexed::of_row(&row),
            record: Some(record),
            existed: true,
            prior: Prior {
                created_at: row.created_at,
                closed_at: row.closed_at,
                level: Some(row.level),
                level_since: row.level_since,
                flag: row.flag,
                assignee: row.assignee,
            },
            last: 0,
            touched: false,
        })
    }
}

/// The stock key of a stored row.
fn row_stock(row: &RecordRow) -> Option<StockKey> {
    stock_key(StockOf {
        grid: &row.grid,
        collection: &row.collection,
        level: &row.level,
        status: row.status.as_deref(),
        category: row.category.as_deref(),
        closed: row.closed_at.is_some(),
        overdue: row.overdue,
        conflicts: row.conflicts,
        deleted: row.deleted,
    })
}

/// The stock key of a row about to be written.
fn form_stock(form: &RecordForm) -> Option<StockKey> {
    stock_key(StockOf {
        grid: &form.grid,
        collection: &form.collection,
        level: &form.level,
        status: form.status.as_deref(),
        category: form.category.as_deref(),
        closed: form.closed_at.is_some(),
        overdue: form.overdue,
        conflicts: form.conflicts,
        deleted: form.deleted,
    })
}

/// Merge a prepared batch inside a write transaction: a result per change,
/// in the order sent. [`plan`] then [`write`], with the batch's locks held.
pub fn apply<T: WriteTx + ?Sized>(
    tx: &mut T,
    schema: &'static Schema,
    rules: &Rules,
    batch: &Prepared,
    now: i64,
) -> Result<Vec<ChangeResult>, StoreError> {
    let grids: Vec<&str> = batch.grids().into_iter().collect();
    tx.lock_batch(i64::from(batch.actor), &grids)?;
    let plan = plan(tx, schema, rules, batch, now)?;
    write(tx, plan)
}

/// What merging a batch comes to, before its changes are numbered: the
/// results, the rows to write, and what the plan read (so that a plan made
/// outside the write transaction can be checked in it: [`still_holds`]).
#[derive(Debug)]
pub struct Plan {
    actor: u32,
    now: i64,
    /// A result per change; an applied one's `server_seq` is set by [`write`].
    results: Vec<ChangeResult>,
    /// The changes to log, in order, with the index of their result.
    written: Vec<(usize, NewChange)>,
    touched: Vec<Touched>,
    held: Vec<NewQuarantine>,
    /// Webhooks of the departments the touched records are assigned to.
    hooks: Vec<(i64, String)>,
    reads: Reads,
}

/// A record the batch changed, merged, with its derived columns.
#[derive(Debug)]
struct Touched {
    record: Record,
    form: RecordForm,
    existed: bool,
    indexed: Indexed,
    prior_assignee: Option<String>,
    stock: Option<StockKey>,
    /// Index in `Plan::written` of its last change (its `last_seq`).
    last: usize,
}

/// What a plan depended on in the store.
#[derive(Debug, Default)]
struct Reads {
    grids: Vec<String>,
    seqs: Vec<i64>,
    ids: Vec<String>,
    /// The dots of the batch already logged, by `(grid, actor_seq)`.
    logged: HashMap<(String, i64), String>,
    /// The sender's own head per grid.
    own: HashMap<(String, i64), i64>,
    /// Each record the batch names: its `(last_seq, overdue)` as read, or
    /// none if it did not exist.
    versions: BTreeMap<(String, String), Option<(i64, bool)>>,
    /// The plan read more than the records it changes (a hazard's tasks):
    /// it is only made under the writer.
    wide: bool,
}

/// Merge a batch against what the store holds now, without writing: pure
/// apart from its reads.
pub fn plan<T: WriteTx + ?Sized>(
    tx: &mut T,
    schema: &'static Schema,
    rules: &Rules,
    batch: &Prepared,
    now: i64,
) -> Result<Plan, StoreError> {
    let mut results = Vec::with_capacity(batch.items.len());
    let mut held: Vec<NewQuarantine> = Vec::new();
    let quarantine = |held: &mut Vec<NewQuarantine>,
                      change: Option<&Change>,
                      body: &str,
                      result: &ChangeResult| {
        if let ChangeResult::Refused { code, message, .. } = result {
            held.push(NewQuarantine {
                id: 0,
                // Who sent it: the device that holds it until it is resolved.
                actor: Some(i64::from(batch.actor)),
                actor_seq: change.and_then(|c| i64::try_from(c.seq).ok()),
                record_id: change.map(|c| c.record.to_string()),
                // '' when none was named: the grid keys the row.
                grid: Some(change.map(|c| storable(&c.grid)).unwrap_or_default()),
                batch_id: batch.batch.clone(),
                received_at: now,
                code: code.clone(),
                message: storable(message),
                body: storable(body),
            });
        }
    };

    let mut reads = Reads {
        grids: batch.grids().into_iter().map(str::to_owned).collect(),
        ..Reads::default()
    };
    let grids = &reads.grids;
    // What the store knows already, in one query each: the dots of this
    // batch already logged, the heads of the actors its contexts name, and
    // the records it touches.
    let ready = || {
        batch.items.iter().filter_map(|i| match i {
            Item::Ready {
                change, actor_seq, ..
            } => Some((change, *actor_seq)),
            Item::Refused { .. } => None,
        })
    };
    reads.seqs = ready().map(|(_, s)| s).collect();
    reads.logged = tx.logged(i64::from(batch.actor), grids, &reads.seqs)?;
    // Keyed by grid, then sequence or actor: each change looks up its own
    // grid's map once, with no key built per lookup.
    let mut logged: HashMap<String, HashMap<i64, String>> = HashMap::new();
    for ((g, seq), body) in &reads.logged {
        logged
            .entry(g.clone())
            .or_default()
            .insert(*seq, body.clone());
    }
    // The sender's own heads too: they move below.
    let claimed: BTreeSet<i64> = ready()
        .flat_map(|(c, _)| c.claimed_actors())
        .map(i64::from)
        .chain([i64::from(batch.actor)])
        .collect();
    let mut heads: HashMap<String, HashMap<i64, i64>> = HashMap::new();
    for ((g, actor), seq) in tx.actor_heads(grids, &claimed.into_iter().collect::<Vec<_>>())? {
        if actor == i64::from(batch.actor) {
            reads.own.insert((g.clone(), actor), seq);
        }
        heads.entry(g).or_default().insert(actor, seq);
    }
    let none = HashMap::new();
    // A record is its grid and its id: every key below is the pair.
    reads.ids = ready()
        .map(|(c, _)| c.record.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let wanted: BTreeSet<(&str, Uuid)> =
        ready().map(|(c, _)| (c.grid.as_str(), c.record)).collect();
    for (g, id) in &wanted {
        reads
            .versions
            .insert(((*g).to_owned(), id.to_string()), None);
    }
    let mut loaded: HashMap<(String, Uuid), Loaded> = HashMap::new();
    for row in tx.load_records(grids, &reads.ids)? {
        let id = Uuid::parse_str(&row.id).map_err(|e| StoreError::Corrupt {
            id: row.id.clone(),
            reason: e.to_string(),
        })?;
        if wanted.contains(&(row.grid.as_str(), id)) {
            reads.versions.insert(
                (row.grid.clone(), row.id.clone()),
                Some((row.last_seq, row.overdue)),
            );
            loaded.insert((row.grid.clone(), id), Loaded::from_row(schema, row)?);
        }
    }

    let mut written: Vec<(usize, NewChange)> = Vec::new();
    for item in &batch.items {
        let (change, collection, body, actor_seq) = match item {
            Item::Refused {
                change,
                sent,
                result,
            } => {
                quarantine(&mut held, change.as_ref(), sent, result);
                results.push(result.clone());
                continue;
            }
            Item::Ready {
                change,
                collection,
                body,
                actor_seq,
            } => (change, *collection, body, *actor_seq),
        };
        let mut refuse = |e: gridsync_core::ChangeError| {
            let r = refused(Some(change), e.code(), e.to_string(), e.field());
            quarantine(&mut held, Some(change), body, &r);
            results.push(r);
        };
        match logged.get(&change.grid).and_then(|l| l.get(&actor_seq)) {
            Some(b) if b == body => {
                results.push(ChangeResult::Duplicate {
                    actor: change.actor,
                    seq: change.seq,
                });
                continue;
            }
            Some(_) => {
                refuse(gridsync_core::ChangeError::ReusedSequence {
                    actor: change.actor,
                    seq: change.seq,
                });
                continue;
            }
            None => {}
        }
        // Nothing a device claims to have seen may go beyond what was made
        // in the grid (PROTOCOL.md, "Bounds"): a context names dots of the
        // record it changes, and a record stays in its grid.
        let in_grid = heads.get(&change.grid).unwrap_or(&none);
        let known = |a: u32| {
            in_grid
                .get(&i64::from(a))
                .and_then(|s| u64::try_from(*s).ok())
                .unwrap_or(0)
        };
        if let Err(e) = gridsync_core::validate::check_claims(change, known) {
            refuse(e);
            continue;
        }
        // A department changes only what is dispatched to it, as merged here.
        if let Some(to) = &batch.dispatched {
            let record = loaded
                .get(&(change.grid.clone(), change.record))
                .and_then(|l| l.record.as_ref());
            if !record.is_some_and(|r| crate::dispatch::is_dispatched(r, to)) {
                let r = refused(
                    Some(change),
                    "not_dispatched",
                    format!(
                        "record {} is not dispatched to {}",
                        change.record,
                        to.join(", ")
                    ),
                    None,
                );
                quarantine(&mut held, Some(change), body, &r);
                results.push(r);
                continue;
            }
        }
        // A hazard closes only when its department tasks are done and its
        // latest recheck passed: checked on the hazard as it would be.
        if crate::tasks::closes_hazard(&change.collection, &change.ops) {
            // The tasks are other records of the grid: a plan that reads
            // them is made under the writer only.
            reads.wide = true;
            let key = (change.grid.clone(), change.record);
            if let Some(hazard) = loaded.get(&key).and_then(|l| l.record.as_ref()) {
                let mut after = hazard.clone();
                if after.apply_validated(change).is_ok() {
                    let mut tasks = Vec::new();
                    for (id, state) in tx.grid_records(&change.grid, "hazard_task")? {
                        let uuid = Uuid::parse_str(&id).unwrap_or_default();
                        // A task changed earlier in this batch, as it is now.
                        let current = loaded
                            .get(&(change.grid.clone(), uuid))
                            .and_then(|l| l.record.clone());
                        tasks.push(match current {
                            Some(r) => r,
                            None => Record::from_stored(schema, &state).map_err(|e| {
                                StoreError::Corrupt {
                                    id: id.clone(),
                                    reason: e.to_string(),
                                }
                            })?,
                        });
                    }
                    // Tasks made earlier in this batch, not stored yet.
                    let stored: BTreeSet<Uuid> = tasks.iter().map(|t| t.id).collect();
                    tasks.extend(
                        loaded
                            .iter()
                            .filter(|((g, id), _)| *g == change.grid && !stored.contains(id))
                            .filter_map(|(_, l)| l.record.as_ref())
                            .filter(|r| r.collection.name == "hazard_task")
                            .cloned(),
                    );
                    let this = gridsync_core::Value::from(change.record.to_string());
                    let had = tasks.iter().any(|t| t.values("hazard").contains(&this));
                    let open = crate::tasks::open_tasks_of(change.record, &tasks);
                    if let Some((code, message)) =
                        crate::tasks::close_refusal(&after.view(), &open, had)
                    {
                        let r = refused(Some(change), code, message, Some("status"));
                        quarantine(&mut held, Some(change), body, &r);
                        results.push(r);
                        continue;
                    }
                }
            }
        }
        let entry = match loaded.entry((change.grid.clone(), change.record)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Loaded::new(now)),
        };
        let moves_status = change
            .ops
            .iter()
            .any(|o| matches!(o, gridsync_core::Op::Set { field, .. } if field == "status"));
        let before = match (&entry.record, moves_status) {
            (Some(r), true) => r.values("status"),
            _ => Vec::new(),
        };
        // A case's dates in order, against the record as merged here.
        if let Err(e) = gridsync_core::validate::check_dates(change, entry.record.as_ref()) {
            refuse(e);
            continue;
        }
        // Validated in `prepare`: only the checks that need the record run.
        let merged = match &mut entry.record {
            Some(record) => record.apply_validated(change),
            None => {
                entry.record = Some(Record::from_validated(collection, change));
                Ok(())
            }
        };
        if let Err(e) = merged {
            refuse(e);
            continue;
        }
        if moves_status {
            let after = entry
                .record
                .as_ref()
                .map(|r| r.values("status"))
                .unwrap_or_default();
            let by = format!("{}:{}", change.actor, change.seq);
            entry.prior.flag = flow_flag(
                &change.collection,
                &before,
                &after,
                entry.prior.flag.take(),
                &by,
            );
        }
        entry.last = written.len();
        entry.touched = true;
        logged
            .entry(change.grid.clone())
            .or_default()
            .insert(actor_seq, body.clone());
        written.push((
            results.len(),
            NewChange {
                // Numbered by `write`, under the grid's lock.
                seq: 0,
                record_id: change.record.to_string(),
                grid: change.grid.clone(),
                actor: i64::from(change.actor),
                actor_seq,
                batch_id: batch.batch.clone(),
                received_at: now,
                body: body.clone(),
                collection: change.collection.clone(),
            },
        ));
        results.push(ChangeResult::Applied {
            actor: change.actor,
            seq: change.seq,
            server_seq: 0,
        });
    }

    // The derived columns and stored forms. On this batch's own thread: many
    // batches plan at once, and a helper pool would run beside the SQLite
    // writer at its priority (`commit::yield_to_writer`).
    let touched: Vec<Loaded> = loaded.into_values().filter(|l| l.touched).collect();
    let touched: Vec<Touched> = touched
        .into_iter()
        .map(|l| {
            let record = l.record.expect("a touched record exists");
            // `last_seq` is set when the batch's changes are numbered.
            let form = record_form(&record, &l.prior, 0, now, rules);
            Touched {
                record,
                form,
                existed: l.existed,
                indexed: l.indexed,
                prior_assignee: l.prior.assignee,
                stock: l.stock,
                last: l.last,
            }
        })
        .collect();
    // A department's webhooks are told of its cases' changes, in the same
    // transaction (docs/WEBHOOKS.md).
    let departments: BTreeSet<String> = touched
        .iter()
        .filter_map(|t| crate::webhooks::department_of(t.form.assignee.as_deref()))
        .map(str::to_owned)
        .collect();
    let hooks = if departments.is_empty() {
        Vec::new()
    } else {
        tx.webhook_targets(&departments.into_iter().collect::<Vec<_>>())?
    };
    Ok(Plan {
        actor: batch.actor,
        now,
        results,
        written,
        touched,
        held,
        hooks,
        reads,
    })
}

/// Whether a plan made outside the write transaction still holds in it:
/// none of its records moved, none of its dots was logged meanwhile, and the
/// sender's heads are where they were. (Other actors' heads only grow, so a
/// claim that passed still passes; a webhook added meanwhile is told from
/// the next change on.)
pub fn still_holds<T: WriteTx + ?Sized>(tx: &mut T, plan: &Plan) -> Result<bool, StoreError> {
    let r = &plan.reads;
    if r.wide {
        return Ok(false);
    }
    let mut now: BTreeMap<(String, String), Option<(i64, bool)>> =
        r.versions.keys().map(|k| (k.clone(), None)).collect();
    for (grid, id, last_seq, overdue) in tx.record_versions(&r.grids, &r.ids)? {
        if let Some(v) = now.get_mut(&(grid, id)) {
            *v = Some((last_seq, overdue));
        }
    }
    if now != r.versions {
        return Ok(false);
    }
    let actor = i64::from(plan.actor);
    if tx.logged(actor, &r.grids, &r.seqs)? != r.logged {
        return Ok(false);
    }
    let own = tx.actor_heads(&r.grids, &[actor])?;
    Ok(own == r.own)
}

/// Number a plan's changes in their grids' logs and write its rows.
pub fn write<T: WriteTx + ?Sized>(tx: &mut T, plan: Plan) -> Result<Vec<ChangeResult>, StoreError> {
    write_keeping(tx, plan).map(|(results, _)| results)
}

/// What a batch's write is done with: the merged records, their rows and
/// the batch's log rows. Handed back so that the SQLite writer, the one
/// thread every batch waits on, does not spend its time freeing them: the
/// batch's own thread drops them after its answer.
#[derive(Debug, Default)]
pub struct Spent {
    _records: Vec<Record>,
    _forms: Vec<RecordForm>,
    _rows: Vec<NewChange>,
    _reads: Reads,
}

/// [`write`], and what it is done with ([`Spent`]).
pub fn write_keeping<T: WriteTx + ?Sized>(
    tx: &mut T,
    plan: Plan,
) -> Result<(Vec<ChangeResult>, Spent), StoreError> {
    let Plan {
        actor,
        now,
        mut results,
        written,
        touched,
        held,
        hooks,
        reads,
    } = plan;
    // Each grid's log goes on from its head (the backend has locked the
    // grids of the batch, so no other writer numbers them meanwhile).
    let mut heads = tx.grid_heads(&reads.grids)?;
    let mut rows: Vec<NewChange> = Vec::with_capacity(written.len());
    for (at, mut row) in written {
        let head = heads.entry(row.grid.clone()).or_insert(0);
        *head += 1;
        row.seq = *head;
        if let Some(ChangeResult::Applied { server_seq, .. }) = results.get_mut(at) {
            *server_seq = *head;
        }
        rows.push(row);
    }
    tx.insert_changes(&rows)?;
    let moved_heads: HashMap<String, i64> = rows
        .iter()
        .map(|w| (w.grid.clone(), heads[&w.grid]))
        .collect();
    tx.set_grid_heads(&moved_heads)?;
    let mut created = Vec::new();
    let mut stock: HashMap<StockKey, i64> = HashMap::new();
    let mut refs: Vec<NewRef> = Vec::new();
    let mut deliveries = Vec::new();
    let mut spent = Spent {
        _records: Vec::with_capacity(touched.len()),
        _forms: Vec::with_capacity(touched.len()),
        ..Spent::default()
    };
    for mut t in touched {
        t.form.last_seq = rows[t.last].seq;
        if !hooks.is_empty() {
            deliveries.extend(crate::webhooks::deliveries_for(
                &t.form,
                &t.record,
                t.prior_assignee.as_deref(),
                &hooks,
                now,
            ));
        }
        refs.extend(refs_of(&t.record));
        stock_move(&mut stock, t.stock.clone(), form_stock(&t.form));
        if t.existed {
            tx.update_record(&t.form, moved(&t.indexed, &Indexed::of_form(&t.form)))?;
            spent._forms.push(t.form);
        } else {
            created.push(t.form);
        }
        spent._records.push(t.record);
    }
    tx.insert_records(&created)?;
    spent._forms.extend(created);
    // The sender's newest sequence in each grid it wrote to.
    let mut newest: HashMap<String, i64> = HashMap::new();
    for w in &rows {
        let known = reads
            .own
            .get(&(w.grid.clone(), w.actor))
            .copied()
            .unwrap_or(0);
        let n = newest.entry(w.grid.clone()).or_insert(known);
        *n = (*n).max(w.actor_seq);
    }
    let mut newest: Vec<(String, i64)> = newest.into_iter().collect();
    newest.sort();
    tx.set_actor_heads(i64::from(actor), &newest)?;
    tx.quarantine(held)?;
    let mut moves: Vec<(StockKey, i64)> = stock.into_iter().filter(|(_, d)| *d != 0).collect();
    // One order for every writer.
    moves.sort();
    tx.move_stock(&moves)?;
    tx.add_refs(&refs)?;
    if !deliveries.is_empty() {
        tx.enqueue_deliveries(&deliveries)?;
    }
    spent._rows = rows;
    spent._reads = reads;
    Ok((results, spent))
}

/// Whether the status values `before` → `after` (a change just applied)
/// follow the collection's flow; the flag to keep on the record: a move
/// outside the flow is flagged (and merged: refusing it would make replicas
/// diverge), a later move within it clears the flag.
pub fn flow_flag(
    collection: &str,
    before: &[gridsync_core::Value],
    after: &[gridsync_core::Value],
    flag: Option<String>,
    by: &str,
) -> Option<String> {
    let Some(flow) = gridsync_core::Flow::of(collection) else {
        return flag;
    };
    if before == after {
        return flag;
    }
    let text = |v: &gridsync_core::Value| v.as_str().unwrap_or_default().to_owned();
    let new: Vec<String> = after
        .iter()
        .filter(|v| !before.contains(v))
        .map(text)
        .collect();
    let old: Vec<String> = before.iter().map(text).collect();
    let allowed = new.iter().all(|to| {
        if old.is_empty() {
            flow.allows(None, to)
        } else {
            old.iter().any(|from| flow.allows(Some(from), to))
        }
    });
    if allowed {
        None
    } else {
        Some(format!(
            "status moved from {old:?} to {new:?} outside the {collection} flow (change {by})"
        ))
    }
}

/// A resident's ID number as duplicates are found by it: a whole, valid
/// one (never a masked one), upper case.
fn id_key(view: &gridsync_core::RecordView) -> Option<String> {
    if view.collection != "resident" {
        return None;
    }
    let id = view.value("id_number").as_str()?;
    gridsync_core::validate::id_number(id).ok()?;
    Some(id.to_uppercase())
}

/// The derived columns of a record after a merge. Pure.
pub fn record_form(
    record: &Record,
    prior: &Prior,
    last_seq: i64,
    now: i64,
    rules: &Rules,
) -> RecordForm {
    let view = record.view();
    let summary = view.summary();
    let patrol = crate::reports::patrol_figures(&view, prior.created_at);
    let level = summary.level.as_str();
    // Deadlines count from when the case reached its level.
    let level_since = match &prior.level {
        Some(l) if l == level => prior.level_since,
        _ => now,
    };
    // A statutory limit counts from the case's fixed event, bounded by when
    // the server received the case; a level limit from reaching its level.
    let deadlines = rules.deadlines(
        &view,
        crate::rules::Since {
            level: level_since,
            received: prior.created_at,
        },
    );
    let deadline = deadlines.due();
    // Closed: a status that ends the case in its collection's flow.
    let closed = match (
        gridsync_core::Flow::of(record.collection.name),
        summary.status.as_deref(),
    ) {
        (Some(flow), Some(status)) => flow.is_terminal(status),
        _ => false,
    };
    RecordForm {
        id: record.id.to_string(),
        collection: record.collection.name.to_owned(),
        grid: record.grid.clone(),
        state: record.to_stored(),
        status: summary.status,
        level: summary.level.as_str().to_owned(),
        category: summary.category,
        assignee: summary.assignee,
        deadline,
        statutory_deadline: deadlines.statutory,
        level_deadline: deadlines.level,
        deleted: summary.deleted,
        conflicts: i32::try_from(summary.conflicts).unwrap_or(i32::MAX),
        created_at: prior.created_at,
        updated_at: now,
        closed_at: if closed {
            prior.closed_at.or(Some(now))
        } else {
            None
        },
        last_seq,
        level_since,
        overdue: deadline.is_some_and(|d| d < now),
        flag: prior.flag.clone(),
        planned: patrol.map(|p| p.planned),
        visited: patrol.map(|p| p.visited),
        checkins: patrol.map(|p| p.checkins),
        starts_at: patrol.map(|p| p.starts_at),
        unplanned: patrol.map(|p| p.unplanned),
        id_key: id_key(&view),
        label: Some(crate::reports::label_of(&view)),
    }
}
