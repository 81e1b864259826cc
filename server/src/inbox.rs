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
use gridsync_core::{Level, Record, Schema};

use crate::auth::policy::{NodeLevel, Role, Scope};
use crate::db::models::{QuarantineRow, RecordRow};
use crate::dispatch;
use crate::reports::label_of;
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

fn case_item(kind: InboxKind, row: &RecordRow) -> InboxItem {
    let label = Record::from_stored(Schema::current(), &row.state)
        .map(|r| label_of(&r.view()))
        .unwrap_or_default();
    InboxItem {
        kind,
        record: Some(row.id.clone()),
        collection: Some(row.collection.clone()),
        grid: Some(row.grid.clone()),
        label,
        status: row.status.clone(),
        level: Some(row.level.clone()),
        assignee: row.assignee.clone(),
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

/// The person's inbox as of `now`.
pub fn inbox(store: &Store, who: &Person<'_>, now: i64) -> Result<Inbox, StoreError> {
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
    let all_levels: Vec<String> = Level::ALL.iter().map(|l| l.as_str().to_owned()).collect();
    let query = |reach: Reach, levels: Vec<String>| CaseQuery {
        reach,
        levels,
        collections: cases.clone(),
        open: true,
        limit: LIMIT + 1,
        ..CaseQuery::default()
    };
    // What the person handles: the cases of their grids at their level, or
    // (a department) those dispatched to them.
    let handled = match who.handles() {
        Some(level) => query(Reach::Grids(grids.clone()), vec![level.as_str().to_owned()]),
        None => query(Reach::Assigned(mine.clone()), all_levels.clone()),
    };
    let mut lists: Vec<(InboxKind, Vec<InboxItem>)> = Vec::new();
    let mut cut = Vec::new();
    let mut keep = |kind: InboxKind, mut items: Vec<InboxItem>| {
        if items.len() as i64 > LIMIT {
            items.truncate(LIMIT as usize);
            cut.push(kind);
        }
        lists.push((kind, items));
    };
    let by_due = |mut rows: Vec<RecordRow>| {
        rows.sort_by(|a, b| {
            (a.deadline.is_none(), a.deadline, &a.id).cmp(&(
                b.deadline.is_none(),
                b.deadline,
                &b.id,
            ))
        });
        rows
    };

    let assigned = store.cases(&query(Reach::Assigned(mine), all_levels.clone()))?;
    keep(
        InboxKind::Assigned,
        by_due(assigned)
            .iter()
            .map(|r| case_item(InboxKind::Assigned, r))
            .collect(),
    );
    let overdue = store.cases(&CaseQuery {
        due_before: Some(now),
        ..handled.clone()
    })?;
    keep(
        InboxKind::Overdue,
        by_due(overdue)
            .iter()
            .map(|r| case_item(InboxKind::Overdue, r))
            .collect(),
    );
    let soon = store.cases(&CaseQuery {
        due_from: Some(now),
        due_before: Some(now + DAY_MS),
        ..handled
    })?;
    keep(
        InboxKind::DueSoon,
        by_due(soon)
            .iter()
            .map(|r| case_item(InboxKind::DueSoon, r))
            .collect(),
    );
    // Escalated to the person's level: above the grid only.
    if let Some(level) = who.handles().filter(|l| *l > Level::Grid) {
        let up = store.cases(&query(
            Reach::Grids(grids.clone()),
            vec![level.as_str().to_owned()],
        ))?;
        keep(
            InboxKind::Escalated,
            by_due(up)
                .iter()
                .map(|r| case_item(InboxKind::Escalated, r))
                .collect(),
        );
    }
    if !grids.is_empty() && !role.writes().is_empty() {
        let conflicted = store.cases(&CaseQuery {
            reach: Reach::Grids(grids.clone()),
            levels: all_levels,
            collections: role.writes().iter().map(|c| c.to_string()).collect(),
            conflicted: true,
            limit: LIMIT + 1,
            ..CaseQuery::default()
        })?;
        keep(
            InboxKind::Conflict,
            conflicted
                .iter()
                .map(|r| case_item(InboxKind::Conflict, r))
                .collect(),
        );
    }
    if role.resolves_quarantine() && !grids.is_empty() {
        let held = store.quarantined(None, Some(&grids), LIMIT + 1)?;
        keep(
            InboxKind::Quarantined,
            held.iter().map(quarantine_item).collect(),
        );
    }
    let mut items = Vec::new();
    for kind in InboxKind::ALL {
        if let Some((_, list)) = lists.iter_mut().find(|(k, _)| *k == kind) {
            items.append(list);
        }
    }
    let truncated: BTreeSet<InboxKind> = cut.into_iter().collect();
    Ok(Inbox {
        as_of: rfc3339(now),
        items,
        truncated: truncated.into_iter().collect(),
    })
}

/// Whether a role has an inbox at all (an admin manages, not handles).
pub fn has_inbox(role: Role) -> bool {
    !role.reads().is_empty()
}
