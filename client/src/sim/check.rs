//! The simulator's verdict: pure comparisons of what the phones hold, what
//! the server holds and what the phones did. Each returns the findings; an
//! empty list means agreement.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_core::record::FieldView;
use gridsync_core::{Record, Replica, Value};
use uuid::Uuid;

use super::script::Work;

/// A record's stored form with personal data blanked, so that a copy the
/// server masked for a phone compares equal to the full copy (masked states
/// keep their clocks).
pub fn comparable(record: &Record) -> String {
    let mut r = record.clone();
    r.redact(|f| f.sensitive, |_| Value::Text("*".into()));
    r.to_stored()
}

/// Every record a phone holds equals the server's state of it.
pub fn states_agree(phone: &str, held: &Replica, truth: &BTreeMap<Uuid, Record>) -> Vec<String> {
    let mut findings = Vec::new();
    for r in held.records() {
        match truth.get(&r.id) {
            None => findings.push(format!(
                "{phone}: holds {} {} that the server does not have",
                r.collection.name, r.id
            )),
            Some(t) if comparable(t) != comparable(r) => findings.push(format!(
                "{phone}: {} {} differs from the server's",
                r.collection.name, r.id
            )),
            Some(_) => {}
        }
    }
    findings
}

/// A phone holds exactly the records the server lists for its user in its
/// grid.
pub fn holds_all(phone: &str, held: &Replica, grid: &str, listed: &BTreeSet<Uuid>) -> Vec<String> {
    let mine: BTreeSet<Uuid> = held
        .records()
        .filter(|r| r.grid == grid)
        .map(|r| r.id)
        .collect();
    let mut findings = Vec::new();
    for id in listed.difference(&mine) {
        findings.push(format!("{phone}: misses record {id} of {grid}"));
    }
    for id in mine.difference(listed) {
        findings.push(format!(
            "{phone}: holds record {id} the server does not list for {grid}"
        ));
    }
    findings
}

/// Nothing the phones did is missing from the server's state: every record
/// created, every log entry appended, every counter increment.
pub fn nothing_lost(works: &[(String, &Work)], truth: &BTreeMap<Uuid, Record>) -> Vec<String> {
    let mut findings = Vec::new();
    let mut increments: BTreeMap<Uuid, u64> = BTreeMap::new();
    for (phone, work) in works {
        for id in &work.created {
            if !truth.contains_key(id) {
                findings.push(format!(
                    "{phone}: created {id}, which the server does not have"
                ));
            }
        }
        for (record, entries) in &work.entries {
            let have = logged_entries(truth.get(record));
            for e in entries {
                if !have.contains(e) {
                    findings.push(format!(
                        "{phone}: entry {e} of {record} is missing on the server"
                    ));
                }
            }
        }
        for (record, by) in &work.increments {
            *increments.entry(*record).or_default() += by;
        }
    }
    for (record, sum) in increments {
        let total = truth.get(&record).map(counter_total).unwrap_or(0);
        if total != sum {
            findings.push(format!(
                "counter of {record}: the phones added {sum}, the server counts {total}"
            ));
        }
    }
    findings
}

fn logged_entries(record: Option<&Record>) -> BTreeSet<Uuid> {
    let Some(r) = record else {
        return BTreeSet::new();
    };
    r.view()
        .fields
        .values()
        .filter_map(|f| match f {
            FieldView::Log(entries) => Some(entries.iter().map(|e| e.id)),
            _ => None,
        })
        .flatten()
        .collect()
}

fn counter_total(r: &Record) -> u64 {
    r.view()
        .fields
        .values()
        .map(|f| match f {
            FieldView::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::{Device, Entry};

    fn round(d: &mut Device, id: Uuid) {
        d.create("patrol_round", "g1", id)
            .set("route", "东环线")
            .commit()
            .unwrap();
    }

    fn check_in(d: &mut Device, id: Uuid) -> Uuid {
        let e = Entry {
            id: Uuid::new_v4(),
            at: "2026-11-28T20:00:00+08:00".into(),
            fields: [
                ("checkpoint".to_owned(), Value::from("cp-01")),
                ("method".to_owned(), Value::from("qr")),
            ]
            .into(),
        };
        let eid = e.id;
        d.edit(id).append("check_ins", e).commit().unwrap();
        eid
    }

    fn truth_of(d: &Device) -> BTreeMap<Uuid, Record> {
        d.replica().records().map(|r| (r.id, r.clone())).collect()
    }

    #[test]
    fn agreement_and_its_breaches_are_found() {
        let id = Uuid::new_v4();
        let mut server = Device::new(1000);
        round(&mut server, id);
        let mut phone = Device::new(1001);
        phone
            .merge_record(server.replica().record(id).unwrap())
            .unwrap();
        let truth = truth_of(&server);
        assert!(states_agree("p", phone.replica(), &truth).is_empty());
        let listed: BTreeSet<Uuid> = [id].into();
        assert!(holds_all("p", phone.replica(), "g1", &listed).is_empty());

        // A check-in the server never got: the phone's copy differs.
        check_in(&mut phone, id);
        let f = states_agree("p", phone.replica(), &truth);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("differs"));
        // A record the server does not list, and one the phone misses.
        let other = Uuid::new_v4();
        round(&mut phone, other);
        let f = holds_all("p", phone.replica(), "g1", &[id, Uuid::nil()].into());
        assert_eq!(f.len(), 2, "{f:?}");
    }

    #[test]
    fn a_masked_copy_compares_equal_to_the_full_one() {
        let id = Uuid::new_v4();
        let mut d = Device::new(1000);
        d.create("resident", "g1", id)
            .set("name", "王伟")
            .set("phone", "13800001111")
            .commit()
            .unwrap();
        let full = d.replica().record(id).unwrap().clone();
        let mut masked = full.clone();
        masked.redact(|f| f.sensitive, |_| Value::from("138****1111"));
        assert_ne!(full.to_stored(), masked.to_stored());
        assert_eq!(comparable(&full), comparable(&masked));
    }

    #[test]
    fn lost_entries_records_and_increments_are_found() {
        let id = Uuid::new_v4();
        let mut phone = Device::new(1000);
        round(&mut phone, id);
        let kept = check_in(&mut phone, id);
        let server = truth_of(&phone);
        let lost = check_in(&mut phone, id);
        let work = Work {
            changes: 3,
            entries: [(id, vec![kept, lost])].into(),
            increments: [(id, 2)].into(),
            created: vec![id, Uuid::nil()],
        };
        let f = nothing_lost(&[("p".into(), &work)], &server);
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f.iter().any(|m| m.contains(&lost.to_string())));
        assert!(f.iter().any(|m| m.contains("created 00000000")));
        assert!(f
            .iter()
            .any(|m| m.contains("the phones added 2, the server counts 0")));
        let ok = Work {
            entries: [(id, vec![kept])].into(),
            created: vec![id],
            ..Work::default()
        };
        assert!(nothing_lost(&[("p".into(), &ok)], &server).is_empty());
    }
}
