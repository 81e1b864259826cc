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

/// The escalations of `due` (records as `(id, stored state)`): one change per
/// case not at the top level, raising it one level, by `actor` from `next`.
pub fn escalations(
    schema: &Schema,
    due: &[(String, String)],
    actor: u32,
    next: u64,
) -> Result<Vec<Box<RawValue>>, StoreError> {
    let corrupt = |id: &str, e: &dyn std::fmt::Display| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    };
    let mut replica = Replica::default();
    for (id, state) in due {
        let r = Record::from_stored(schema, state).map_err(|e| corrupt(id, &e))?;
        replica.merge_record(&r).map_err(|e| corrupt(id, &e))?;
    }
    let mut dev = Device::resume(actor, next, replica);
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
