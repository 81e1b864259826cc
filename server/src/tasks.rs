//! A hazard's joint remediation (组织关联部门进行集中整治): each department's
//! part is a `hazard_task` record in the hazard's grid, dispatched to the
//! department, with its own status, deadline and photos. The hazard closes
//! (`closed`, `delisted`) only when every task of it is done and its latest
//! recheck (`reinspections`) found it fixed; a change closing it sooner is
//! refused and kept for a supervisor (`hazard_tasks_open`,
//! `recheck_not_passed`). Pure: the write path hands in the records.

use gridsync_core::{FieldView, Op, Record, RecordView, Value};
use uuid::Uuid;

/// The statuses that end a hazard's remediation.
pub const CLOSING: &[&str] = &["closed", "delisted"];

/// Whether `change` moves a hazard to a closing status.
pub fn closes_hazard(collection: &str, ops: &[Op]) -> bool {
    collection == "hazard"
        && ops.iter().any(|o| {
            matches!(o, Op::Set { field, value: Value::Text(s), .. }
                if field == "status" && CLOSING.contains(&s.as_str()))
        })
}

/// The tasks of `hazard` among `tasks` (open task records of its grid)
/// that are not done.
pub fn open_tasks_of(hazard: Uuid, tasks: &[Record]) -> Vec<Uuid> {
    let id = Value::from(hazard.to_string());
    tasks
        .iter()
        .filter(|t| !t.view().deleted)
        .filter(|t| t.values("hazard").contains(&id))
        .filter(|t| !t.values("status").contains(&Value::from("done")))
        .map(|t| t.id)
        .collect()
}

/// Why a hazard, as it would be after the change, may not close: `(code,
/// message)`. `open`: its tasks that are not done. A hazard with no tasks
/// closes along its flow alone.
pub fn close_refusal(
    after: &RecordView,
    open: &[Uuid],
    had_tasks: bool,
) -> Option<(&'static str, String)> {
    if !open.is_empty() {
        let ids: Vec<String> = open.iter().map(Uuid::to_string).collect();
        return Some((
            "hazard_tasks_open",
            format!(
                "hazard {} has {} department task(s) not done: {}",
                after.id,
                open.len(),
                ids.join(", ")
            ),
        ));
    }
    if had_tasks && latest_recheck(after) != Some("fixed") {
        return Some((
            "recheck_not_passed",
            format!(
                "hazard {}: its latest recheck did not find it fixed",
                after.id
            ),
        ));
    }
    None
}

/// The result of the latest reinspection, by its time.
fn latest_recheck(view: &RecordView) -> Option<&str> {
    match view.fields.get("reinspections") {
        Some(FieldView::Log(entries)) => entries
            .iter()
            .max_by_key(|e| gridsync_core::record::log_order(e))
            .and_then(|e| e.fields.get("result"))
            .and_then(Value::as_str),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::{Device, Entry};

    fn recheck(at: &str, result: &str) -> Entry {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("result".to_owned(), Value::from(result));
        Entry {
            id: Uuid::new_v4(),
            at: at.to_owned(),
            fields,
        }
    }

    #[test]
    fn a_hazard_closes_when_its_tasks_are_done_and_the_recheck_passes() {
        let mut d = Device::new(1);
        let hazard = Uuid::new_v4();
        d.create("hazard", "g1", hazard)
            .set("status", "reported")
            .append(
                "reinspections",
                recheck("2026-11-20T10:00:00+08:00", "fixed"),
            )
            .commit()
            .unwrap();
        // A log once per change: the second recheck, later, found it partly fixed.
        d.edit(hazard)
            .append(
                "reinspections",
                recheck("2026-11-21T10:00:00+08:00", "partly_fixed"),
            )
            .commit()
            .unwrap();
        let task = |d: &mut Device, done: bool| {
            let id = Uuid::new_v4();
            d.create("hazard_task", "g1", id)
                .set("hazard", hazard.to_string())
                .set("status", "assigned")
                .commit()
                .unwrap();
            d.edit(id).set("status", "rectifying").commit().unwrap();
            if done {
                d.edit(id).set("status", "done").commit().unwrap();
            }
            d.replica().record(id).unwrap().clone()
        };
        let done = task(&mut d, true);
        let working = task(&mut d, false);
        let view = d.replica().record(hazard).unwrap().view();

        // (tasks, refusal code)
        let table: [(Vec<Record>, Option<&str>); 4] = [
            (vec![], None),
            (vec![done.clone()], Some("recheck_not_passed")),
            (
                vec![done.clone(), working.clone()],
                Some("hazard_tasks_open"),
            ),
            (vec![working.clone()], Some("hazard_tasks_open")),
        ];
        for (tasks, want) in table {
            let open = open_tasks_of(hazard, &tasks);
            let got = close_refusal(&view, &open, !tasks.is_empty()).map(|r| r.0);
            assert_eq!(got, want, "{} tasks", tasks.len());
        }
        // The latest recheck (by its time) passes: done tasks let it close.
        d.edit(hazard)
            .append(
                "reinspections",
                recheck("2026-11-22T10:00:00+08:00", "fixed"),
            )
            .commit()
            .unwrap();
        let view = d.replica().record(hazard).unwrap().view();
        assert_eq!(
            close_refusal(&view, &open_tasks_of(hazard, &[done]), true),
            None
        );
        // Another hazard's tasks are not this one's.
        assert!(open_tasks_of(Uuid::new_v4(), &[working]).is_empty());
    }

    #[test]
    fn what_closes_a_hazard() {
        let mut d = Device::new(1);
        let id = Uuid::new_v4();
        let c = d
            .create("hazard", "g1", id)
            .set("status", "reported")
            .commit()
            .unwrap();
        assert!(!closes_hazard("hazard", &c.ops));
        let c = d.edit(id).set("status", "closed").commit().unwrap(); // reported → closed
        assert!(closes_hazard("hazard", &c.ops));
        assert!(!closes_hazard("event", &c.ops));
    }
}
