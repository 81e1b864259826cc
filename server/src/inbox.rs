//! A person's inbox (docs/WORKFLOWS.md, "The inbox"): what is theirs to do,
//! derived from the merged state, so two devices never disagree about it.
//! Served by `GET /v1/inbox` and with the answer that ends a device's pull.
//!
//! - **assigned**: open cases assigned to the person (`user:NAME`, or the
//!   bare name older apps wrote) or dispatched to their department;
//! - **overdue** and **due soon** (within 24 h): open cases the person
//!   handles: those of their grids at their node's level (a department's
//!   staff: those dispatched to it);
//! - **escalated**: open cases of their grids raised to their node's level
//!   (above the grid);
//! - **conflict**: records of their grids, of collections they write, with
//!   concurrent values to resolve;
//! - **quarantined**: for those who decide on refused changes, the open ones
//!   of their grids.

use std::collections::BTreeSet;

use gridsync_core::wire::{Inbox, InboxItem, InboxKind};
use gridsync_core::{Level, Schema};

use crate::auth::policy::{NodeLevel, Role, Scope};
use crate::db::models::{CaseLine, QuarantineRow};
use crate::dispatch;
use crate::reports::stored_label;
use crate::store::{CaseQuery, Reach, Store, StoreError};

/// Most items of each kind.
pub const LIMIT: i64 = 50;
const DAY_MS: i64 = 24 * 3_600_000;

/// Who the inbox is for.
#[derive(Debug, Clone)]
pub struct Person<'a> {
    pub username: &'a str,
    pub scope: &'a Scope,
}

impl Person<'_> {
    /// The level of the cases the person handles (none: a department's
    /// staff handle what is dispatched, at any level).
    fn handles(&self) -> Option<Level> {
        self.scope.level.and_then(NodeLevel::handling_level)
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn case_item(kind: InboxKind, (row, state): (CaseLine, Option<String>)) -> InboxItem {
    let label = stored_label(row.label, state.as_deref().unwrap_or_default());
    InboxItem {
        kind,
        record: Some(row.id),
        collection: Some(row.collection),
        grid: Some(row.grid),
        label,
        status: row.status,
        level: Some(row.level),
        assignee: row.assignee,
        deadline: row.deadline.map(rfc3339),
        quarantine: None,
        code: None,
    }
}

fn quarantine_item(row: &QuarantineRow) -> InboxItem {
    InboxItem {
        kind: InboxKind::Quarantined,
        record: row.record_id.clone(),
        collection: None,
        grid: row.grid.clone().filter(|g| !g.is_empty()),
        label: row.message.chars().take(120).collect(),
        status: None,
        level: None,
        assignee: None,
        deadline: None,
        quarantine: Some(row.id),
        code: Some(row.code.clone()),
    }
}

/// The case lists of a person's inbox as of `now`, in the order the inbox
/// shows them: what to ask the store, decided without it. Each asks for
/// one item more than [`LIMIT`], to tell a full list from a cut one.
pub fn queries(who: &Person<'_>, now: i64) -> Vec<(InboxKind, CaseQuery)> {
    let role = who.scope.role;
    // What can be assigned and fall due: collections with a status flow
    // (cases, a hazard's department tasks, 研判).
    let cases: Vec<String> = Schema::current()
        .collections
        .iter()
        .filter(|c| c.flow.is_some() && role.may_read(c.name))
        .map(|c| c.name.to_owned())
        .collect();
    let mine = dispatch::keys_of(who.username, role, &who.scope.node);
    let grids: Vec<String> = who.scope.grids.iter().cloned().collect();
    let query = |reach: Reach, level: Option<Level>| CaseQuery {
        reach,
        levels: level.map(|l| vec![l.as_str().to_owned()]),
        collections: cases.clone(),
        open: true,
        by_due: true,
        limit: LIMIT + 1,
        ..CaseQuery::default()
    };
    // What the person handles: the cases of their grids at their level, or
    // (a department) those dispatched to them.
    let handled = match who.handles() {
        Some(level) => query(Reach::Grids(grids.clone()), Some(level)),
        None => query(Reach::Assigned(mine.clone()), None),
    };
    let mut lists = vec![
        (InboxKind::Assigned, query(Reach::Assigned(mine), None)),
        (
            InboxKind::Overdue,
            CaseQuery {
                due_before: Some(now),
                ..handled.clone()
            },
        ),
        (
            InboxKind::DueSoon,
            CaseQuery {
                due_from: Some(now),
                due_before: Some(now + DAY_MS),
                ..handled
            },
        ),
    ];
    // Escalated to the person's level: above the grid only.
    if let Some(level) = who.handles().filter(|l| *l > Level::Grid) {
        lists.push((
            InboxKind::Escalated,
            query(Reach::Grids(grids.clone()), Some(level)),
        ));
    }
    if !grids.is_empty() && !role.writes().is_empty() {
        lists.push((
            InboxKind::Conflict,
            CaseQuery {
                reach: Reach::Grids(grids),
                collections: role.writes().iter().map(|c| c.to_string()).collect(),
                conflicted: true,
                by_due: true,
                limit: LIMIT + 1,
                ..CaseQuery::default()
            },
        ));
    }
    lists
}

/// The person's inbox as of `now`.
pub fn inbox(store: &Store, who: &Person<'_>, now: i64) -> Result<Inbox, StoreError> {
    let mut items = Vec::new();
    let mut truncated = BTreeSet::new();
    let mut keep = |kind: InboxKind, mut list: Vec<InboxItem>| {
        if list.len() as i64 > LIMIT {
            list.truncate(LIMIT as usize);
            truncated.insert(kind);
        }
        items.push((kind, list));
    };
    for (kind, query) in queries(who, now) {
        let rows = store.case_lines(&query)?;
        keep(kind, rows.into_iter().map(|r| case_item(kind, r)).collect());
    }
    let grids: Vec<String> = who.scope.grids.iter().cloned().collect();
    if who.scope.role.resolves_quarantine() && !grids.is_empty() {
        let held = store.quarantined(None, Some(&grids), LIMIT + 1)?;
        keep(
            InboxKind::Quarantined,
            held.iter().map(quarantine_item).collect(),
        );
    }
    items.sort_by_key(|(kind, _)| InboxKind::ALL.iter().position(|k| k == kind));
    let items: Vec<InboxItem> = items.into_iter().flat_map(|(_, list)| list).collect();
    let truncated: Vec<InboxKind> = truncated.into_iter().collect();
    Ok(Inbox {
        as_of: rfc3339(now),
        digest: digest(&items, &truncated),
        items,
        truncated,
    })
}

/// Names an inbox's content, its items and cut kinds (not when it was
/// derived): the first 128 bits of the SHA-256 of their JSON, in hex.
/// Equal lists, derived by any server process, have equal digests.
pub fn digest(items: &[InboxItem], truncated: &[InboxKind]) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(&(items, truncated)).expect("an inbox serializes");
    hex::encode(&Sha256::digest(json)[..16])
}

/// What the answer that ends a pull says of the inbox: the inbox itself,
/// or (`true`) that it is the one the device holds, named by the digest
/// the device sent.
///
/// ```
/// use gridsync_core::wire::Inbox;
/// use gridsync_server::inbox::{answer, digest};
/// let inbox = Inbox { as_of: "now".into(), items: vec![], truncated: vec![], digest: digest(&[], &[]) };
/// let held = inbox.digest.clone();
/// assert_eq!(answer(inbox.clone(), Some(&held)), (None, true));
/// assert_eq!(answer(inbox.clone(), None), (Some(inbox), false));
/// ```
pub fn answer(inbox: Inbox, held: Option<&str>) -> (Option<Inbox>, bool) {
    if held == Some(inbox.digest.as_str()) {
        (None, true)
    } else {
        (Some(inbox), false)
    }
}

/// Whether a role has an inbox at all (an admin manages, not handles).
pub fn has_inbox(role: Role) -> bool {
    !role.reads().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::sample_scope as scope;
    use crate::db::{Database, Pool};

    fn item(kind: InboxKind, record: &str, label: &str) -> InboxItem {
        InboxItem {
            kind,
            record: Some(record.into()),
            collection: Some("event".into()),
            grid: Some("g1".into()),
            label: label.into(),
            status: Some("reported".into()),
            level: None,
            assignee: None,
            deadline: None,
            quarantine: None,
            code: None,
        }
    }

    /// The digest names the lists, whatever else: equal lists, equal
    /// digests; any item, label, order or cut kind changed, another.
    #[test]
    fn the_digest_names_the_lists() {
        let a = item(InboxKind::Assigned, "r1", "交给我");
        let b = item(InboxKind::Conflict, "r2", "1号");
        let base = digest(&[a.clone(), b.clone()], &[]);
        assert_eq!(base.len(), 32);
        assert_eq!(base, digest(&[a.clone(), b.clone()], &[]));
        let others = [
            digest(&[b.clone(), a.clone()], &[]),
            digest(std::slice::from_ref(&a), &[]),
            digest(&[a.clone(), item(InboxKind::Conflict, "r2", "一号")], &[]),
            digest(&[a.clone(), b.clone()], &[InboxKind::Conflict]),
            digest(&[], &[]),
        ];
        for d in &others {
            assert_ne!(d, &base);
        }
        // Held: told unchanged; another or none: sent.
        let inbox = Inbox {
            as_of: "2026-12-02T08:00:00+08:00".into(),
            items: vec![a, b],
            truncated: vec![],
            digest: base.clone(),
        };
        assert_eq!(answer(inbox.clone(), Some(&base)), (None, true));
        for held in [None, Some(others[0].as_str()), Some("")] {
            assert_eq!(answer(inbox.clone(), held), (Some(inbox.clone()), false));
        }
    }

    /// Every list of every inbox is read through an index made for it, on
    /// a store without statistics (a new one): never by walking the
    /// records of a grid, which every pull would pay for.
    #[test]
    fn every_inbox_list_is_read_through_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(&Database::Sqlite(dir.path().join("g.db")), 2).unwrap();
        pool.migrate().unwrap();
        let store = Store::new(pool);
        let people = [
            (Role::GridWorker, "g1"),
            (Role::Mediator, "c"),
            (Role::Supervisor, "c"),
            (Role::Supervisor, "p"),
            (Role::Supervisor, "d"),
            (Role::Department, "fire"),
        ];
        let mut seen = BTreeSet::new();
        for (role, node) in people {
            let scope = scope(role, node);
            let who = Person {
                username: "someone",
                scope: &scope,
            };
            for (kind, query) in queries(&who, 1_800_000_000_000) {
                let plan = store.cases_plan(&query).unwrap();
                // The conflict list's index also holds what it sorts by and
                // shows: its rows are not read from the table to be sorted.
                let index = match kind {
                    InboxKind::Assigned => "records_assignee (",
                    InboxKind::Conflict => {
                        "records_grid_conflicts (grid=? AND collection=? AND deleted=?)"
                    }
                    _ if matches!(query.reach, Reach::Assigned(_)) => "records_assignee (",
                    _ => "records_inbox (",
                };
                assert!(
                    plan.first().is_some_and(
                        |s| s.starts_with(&format!("SEARCH records USING INDEX {index}"))
                    ),
                    "{role:?} at {node}, {kind:?}: {plan:?}"
                );
                // (The bound lists are read whole: `SCAN json_each`.)
                assert!(
                    plan.iter().all(|s| !s.starts_with("SCAN records")),
                    "{role:?} at {node}, {kind:?}: {plan:?}"
                );
                seen.insert(kind);
            }
        }
        let cases = [
            InboxKind::Assigned,
            InboxKind::Overdue,
            InboxKind::DueSoon,
            InboxKind::Escalated,
            InboxKind::Conflict,
        ];
        assert_eq!(seen, cases.into_iter().collect(), "every kind checked");
    }
}
