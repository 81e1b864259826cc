//! The server's own moves in the case flows: the escalation sweep. The
//! server writes as its own actor ([`crate::store::SERVER_ACTOR`]), through
//! the same write path as every device ([`crate::ingest`]), so its changes
//! are logged, pulled and merged like any other.

use std::collections::HashMap;

use gridsync_core::{Device, Level, Record, Replica, Schema};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::ingest::{allow_all, apply, prepare, ChangeResult, Push, WriteTx};
use crate::reports::StockKey;
use crate::rules::Rules;
use crate::store::{StoreError, SERVER_ACTOR};

fn corrupt(id: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    }
}

/// A replica holding the stored records `rows` (`(id, stored state)`).
fn replica_of(schema: &Schema, rows: &[(String, String)]) -> Result<Replica, StoreError> {
    let mut replica = Replica::default();
    for (id, state) in rows {
        let r = Record::from_stored(schema, state).map_err(|e| corrupt(id, &e))?;
        replica.merge_record(&r).map_err(|e| corrupt(id, &e))?;
    }
    Ok(replica)
}

/// The escalations of `due` (records as `(id, stored state)`): one change per
/// case not at the top level, raising it one level, by `actor` from `next`.
pub fn escalations(
    schema: &Schema,
    due: &[(String, String)],
    actor: u32,
    next: u64,
) -> Result<Vec<Box<RawValue>>, StoreError> {
    let mut dev = Device::resume(actor, next, replica_of(schema, due)?);
    let mut out = Vec::with_capacity(due.len());
    for (id, _) in due {
        let uuid = Uuid::parse_str(id).map_err(|e| corrupt(id, &e))?;
        let level = dev
            .replica()
            .record(uuid)
            .map(Record::level)
            .unwrap_or_default();
        let Some(up) = level.up() else { continue };
        let change = dev
            .edit(uuid)
            .escalate(up)
            .commit()
            .map_err(|e| corrupt(id, &e))?;
        out.push(RawValue::from_string(change.to_json()).map_err(|e| corrupt(id, &e))?);
    }
    Ok(out)
}

/// Escalate every open case past its deadline one level, as the server's
/// own actor, logged like any change; mark overdue records (the report stock
/// follows them). Runs inside one write transaction.
pub fn sweep<T: WriteTx + ?Sized>(
    tx: &mut T,
    schema: &'static Schema,
    rules: &Rules,
    now: i64,
) -> Result<Vec<ChangeResult>, StoreError> {
    let mut moves: HashMap<StockKey, i64> = HashMap::new();
    for (key, n) in tx.mark_overdue(now)? {
        let to = StockKey {
            overdue: true,
            ..key.clone()
        };
        *moves.entry(key).or_default() -= n;
        *moves.entry(to).or_default() += n;
    }
    let mut moves: Vec<(StockKey, i64)> = moves.into_iter().filter(|(_, d)| *d != 0).collect();
    moves.sort();
    tx.move_stock(&moves)?;
    // Only cases have a handling level to raise.
    let cases: Vec<&str> = schema
        .collections
        .iter()
        .filter(|c| c.level_field().is_some())
        .map(|c| c.name)
        .collect();
    let due = tx.due_cases(now, &cases, Level::District.as_str())?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let next = tx.actor_newest(i64::from(SERVER_ACTOR))? + 1;
    let raws = escalations(schema, &due, SERVER_ACTOR, u64::try_from(next).unwrap_or(1))?;
    let batch = Uuid::new_v4().to_string();
    let push = Push {
        actor: SERVER_ACTOR,
        batch: &batch,
        changes: &raws,
        guard: &allow_all,
    };
    apply(tx, schema, rules, &prepare(schema, &push), now)
}

/// The changes that merge residents registered twice into `keep`: `keep`
/// takes each scalar value it lacks from the first other that has one, the
/// others' set members and log entries (visits), and the others are
/// deleted; made by `actor` from `next`. `residents`: `(id, stored state)`,
/// `keep` among them. Pure.
pub fn merge_changes(
    schema: &Schema,
    residents: &[(String, String)],
    keep: Uuid,
    actor: u32,
    next: u64,
) -> Result<Vec<Box<RawValue>>, StoreError> {
    let replica = replica_of(schema, residents)?;
    let others: Vec<Uuid> = residents
        .iter()
        .filter_map(|(id, _)| Uuid::parse_str(id).ok())
        .filter(|id| *id != keep)
        .collect();
    let kept = replica
        .record(keep)
        .ok_or_else(|| corrupt(&keep.to_string(), &"not among the residents"))?
        .view();
    let views: Vec<gridsync_core::RecordView> = others
        .iter()
        .filter_map(|id| replica.record(*id).map(Record::view))
        .collect();
    let mut dev = Device::resume(actor, next, replica);
    let mut edit = dev.edit(keep);
    let mut changed = false;
    let def = schema
        .collection("resident")
        .ok_or_else(|| corrupt("resident", &"no such collection"))?;
    for f in def.fields {
        match &f.kind {
            gridsync_core::FieldKind::Scalar { .. } => {
                if *kept.value(f.name) != gridsync_core::Value::Null {
                    continue;
                }
                if let Some(v) = views
                    .iter()
                    .map(|v| v.value(f.name))
                    .find(|v| **v != gridsync_core::Value::Null)
                {
                    edit = edit.set(f.name, v.clone());
                    changed = true;
                }
            }
            gridsync_core::FieldKind::Set { .. } => {
                let have = match kept.fields.get(f.name) {
                    Some(gridsync_core::FieldView::Set(m)) => m.clone(),
                    _ => Vec::new(),
                };
                let mut added = std::collections::BTreeSet::new();
                for v in &views {
                    if let Some(gridsync_core::FieldView::Set(members)) = v.fields.get(f.name) {
                        for m in members.iter().filter(|m| !have.contains(m)) {
                            if added.insert(m.clone()) {
                                edit = edit.add(f.name, m);
                                changed = true;
                            }
                        }
                    }
                }
            }
            gridsync_core::FieldKind::Log { .. } => {
                // One entry per change and field: the first other's first.
                if let Some(e) = views.iter().find_map(|v| match v.fields.get(f.name) {
                    Some(gridsync_core::FieldView::Log(entries)) => entries.first().cloned(),
                    _ => None,
                }) {
                    edit = edit.append(
                        f.name,
                        gridsync_core::Entry {
                            id: e.id,
                            at: e.at,
                            fields: e.fields,
                        },
                    );
                    changed = true;
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let push = |c: gridsync_core::Change| {
        RawValue::from_string(c.to_json()).map_err(|e| corrupt(&c.record.to_string(), &e))
    };
    if changed {
        let c = edit.commit().map_err(|e| corrupt(&keep.to_string(), &e))?;
        out.push(push(c)?);
    } else {
        drop(edit);
    }
    for id in others {
        let c = dev.delete(id).map_err(|e| corrupt(&id.to_string(), &e))?;
        out.push(push(c)?);
    }
    Ok(out)
}

/// Merge the residents sharing `id_key` within `grids` into `keep`, as the
/// server's own actor, and keep the decision (`merged`, by `by`). Runs
/// inside one write transaction. `None`: `keep` is not one of them.
#[allow(clippy::too_many_arguments)]
pub fn merge_residents<T: WriteTx + ?Sized>(
    tx: &mut T,
    schema: &'static Schema,
    rules: &Rules,
    id_key: &str,
    grids: &[String],
    keep: Uuid,
    by: i64,
    now: i64,
) -> Result<Option<Vec<ChangeResult>>, StoreError> {
    let residents: Vec<(String, String)> = tx
        .residents_by_id_key(id_key)?
        .into_iter()
        .filter(|r| grids.contains(&r.grid) && !r.deleted)
        .map(|r| (r.id, r.state))
        .collect();
    if residents.len() < 2 || !residents.iter().any(|(id, _)| *id == keep.to_string()) {
        return Ok(None);
    }
    let next = tx.actor_newest(i64::from(SERVER_ACTOR))? + 1;
    let raws = merge_changes(
        schema,
        &residents,
        keep,
        SERVER_ACTOR,
        u64::try_from(next).unwrap_or(1),
    )?;
    let batch = Uuid::new_v4().to_string();
    let push = Push {
        actor: SERVER_ACTOR,
        batch: &batch,
        changes: &raws,
        guard: &allow_all,
    };
    let results = apply(tx, schema, rules, &prepare(schema, &push), now)?;
    tx.decide_duplicate(id_key, "merged", by, now)?;
    Ok(Some(results))
}
