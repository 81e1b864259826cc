//! Each trap listed in `shared/design/CRDT-NOTES.md`, as its own test.

use gridsync_core::{Change, ChangeError, Clock, Device, FieldView, Op, Outcome, Replica, Value};
use uuid::Uuid;

const ID: Uuid = Uuid::from_u128(42);

fn members(r: &Replica, field: &str) -> Vec<String> {
    match r.record(ID).unwrap().view().fields.get(field) {
        Some(FieldView::Set(m)) => m.clone(),
        _ => Vec::new(),
    }
}

fn all_orders(changes: &[Change]) -> Vec<Replica> {
    // Every permutation of up to 4 changes, each delivered twice.
    fn perms(items: Vec<usize>) -> Vec<Vec<usize>> {
        if items.len() <= 1 {
            return vec![items];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.clone();
            let x = rest.remove(i);
            for mut p in perms(rest) {
                p.insert(0, x);
                out.push(p);
            }
        }
        out
    }
    perms((0..changes.len()).collect())
        .into_iter()
        .map(|order| {
            let mut r = Replica::default();
            for i in order.iter().chain(order.iter().rev()) {
                r.apply(&changes[*i]).unwrap();
            }
            r
        })
        .collect()
}

/// #160 and the `Map` remove-context trap: a remove must carry what it saw,
/// and be honoured whatever arrives first.
#[test]
fn a_remove_is_kept_in_any_delivery_order() {
    let mut a = Device::new(1);
    let mut b = Device::new(2);
    let create = a
        .create("event", "g-1", ID)
        .add("tags", "x")
        .commit()
        .unwrap();
    b.receive(&create).unwrap();
    let remove = b.edit(ID).remove("tags", "x").commit().unwrap();
    let add_y = a.edit(ID).add("tags", "y").commit().unwrap();

    // The remove names the dot it removes: its state's clock covers it.
    let Op::Members {
        state,
        remove: removed,
        ..
    } = &remove.ops[0]
    else {
        panic!()
    };
    assert_eq!(removed, &["x".to_string()]);
    assert!(state.clock.get(1) >= 1 && !state.entries.contains_key("x"));

    for r in all_orders(&[create, remove, add_y]) {
        assert_eq!(
            members(&r, "tags"),
            ["y"],
            "x must stay removed, y (concurrent) kept"
        );
    }
}

/// A removal arriving before the addition it removes (out of causal order) is
/// not lost: the op-based `Orswot` would defer it, `Map` would drop it.
#[test]
fn a_remove_delivered_before_its_add_still_removes() {
    let mut a = Device::new(1);
    let mut b = Device::new(2);
    let create = a
        .create("event", "g-1", ID)
        .set("title", "t")
        .commit()
        .unwrap();
    let add = a.edit(ID).add("tags", "x").commit().unwrap();
    b.receive(&create).unwrap();
    b.receive(&add).unwrap();
    let remove = b.edit(ID).remove("tags", "x").commit().unwrap();

    let mut server = Replica::default();
    server.apply(&remove).unwrap();
    server.apply(&create).unwrap();
    server.apply(&add).unwrap();
    assert!(members(&server, "tags").is_empty());
}

/// A reused actor (reinstall restored from a backup, two phones sharing an
/// id) is refused loudly instead of silently losing the new writes.
#[test]
fn a_reused_actor_sequence_is_refused_loudly() {
    let mut phone = Device::new(7);
    let create = phone
        .create("event", "g-1", ID)
        .set("title", "first")
        .commit()
        .unwrap();
    let mut server = Replica::default();
    assert_eq!(server.apply(&create).unwrap(), Outcome::Applied);
    assert_eq!(
        server.apply(&create).unwrap(),
        Outcome::Duplicate,
        "the same change twice is harmless"
    );

    // The same install id restored on a second phone starts again at seq 1.
    let mut clone = Device::new(7);
    let other = clone
        .create("event", "g-1", Uuid::from_u128(43))
        .set("title", "other")
        .commit()
        .unwrap();
    assert_eq!(other.seq, create.seq);
    let err = server.apply(&other).unwrap_err();
    assert_eq!(err, ChangeError::ReusedSequence { actor: 7, seq: 1 });
    assert_eq!(err.code(), "reused_sequence");
    assert!(
        server.record(Uuid::from_u128(43)).is_none(),
        "nothing of it applied"
    );
}

/// Two changes built from the same state without applying the first: the
/// crate would give both ops the same dot and drop the second. Here a dot is
/// the change's own `(actor, seq)`, so both are distinct and the later one
/// (which a device always builds on top of the first) wins in any order.
#[test]
fn two_changes_built_from_the_same_state_both_count() {
    let mut a = Device::new(1);
    let create = a
        .create("event", "g-1", ID)
        .set("title", "v0")
        .commit()
        .unwrap();
    let base = create.clone();
    // Hand-built, as a careless client might: same context, two sequence numbers.
    let write = |seq: u64, title: &str| Change {
        seq,
        ops: vec![Op::Set {
            field: "title".into(),
            value: Value::from(title),
            seen: Clock::from([(1, 1)]),
        }],
        ..base.clone()
    };
    let (first, second) = (write(2, "v1"), write(3, "v2"));
    for order in [
        [&create, &first, &second],
        [&create, &second, &first],
        [&second, &first, &create],
    ] {
        let mut r = Replica::default();
        for c in order {
            assert_eq!(
                r.apply(c).unwrap(),
                Outcome::Applied,
                "neither is taken for a duplicate"
            );
        }
        let view = r.record(ID).unwrap().view();
        assert_eq!(view.value("title"), &Value::from("v2"));
        assert_eq!(view.conflicts().count(), 0);
    }

    // Through the device API the second change is always built on the first.
    let c1 = a.edit(ID).set("title", "v1").commit().unwrap();
    let c2 = a.edit(ID).set("title", "v2").commit().unwrap();
    let Op::Set { seen, .. } = &c2.ops[0] else {
        panic!()
    };
    assert_eq!(seen.get(1), c1.seq);
}

/// A member removed on one device and re-added on another: add wins over a
/// concurrent remove; a remove that saw the re-add removes it.
#[test]
fn a_member_removed_on_one_device_and_re_added_on_another() {
    let mut a = Device::new(1);
    let mut b = Device::new(2);
    let mut c = Device::new(3);
    let create = a
        .create("dispute", "g-1", ID)
        .add("parties", "Wang")
        .commit()
        .unwrap();
    b.receive(&create).unwrap();
    c.receive(&create).unwrap();

    let removed = b.edit(ID).remove("parties", "Wang").commit().unwrap();
    let re_added = c.edit(ID).add("parties", "Wang").commit().unwrap();
    for r in all_orders(&[create.clone(), removed.clone(), re_added.clone()]) {
        assert_eq!(
            members(&r, "parties"),
            ["Wang"],
            "the concurrent re-add wins"
        );
    }

    // B then sees the re-add and removes again: now it is gone everywhere.
    b.receive(&re_added).unwrap();
    let removed_again = b.edit(ID).remove("parties", "Wang").commit().unwrap();
    for r in all_orders(&[create, removed, re_added, removed_again]) {
        assert!(members(&r, "parties").is_empty());
    }
}

/// Delivery without causal order: one device's changes in reverse order give
/// the same state as in order (the `Map` trap: 1753/2000 with per-device order only).
#[test]
fn a_devices_changes_in_reverse_order_give_the_same_state() {
    let mut a = Device::new(1);
    let mut made = vec![a
        .create("event", "g-1", ID)
        .set("status", "reported")
        .commit()
        .unwrap()];
    for (i, s) in ["accepted", "verified", "dispatched"].iter().enumerate() {
        made.push(
            a.edit(ID)
                .set("status", *s)
                .add("tags", &format!("t{i}"))
                .commit()
                .unwrap(),
        );
        made.push(
            a.edit(ID)
                .remove("tags", &format!("t{i}"))
                .increment("report_count", 1)
                .commit()
                .unwrap(),
        );
    }
    let mut forward = Replica::default();
    let mut backward = Replica::default();
    for c in &made {
        forward.apply(c).unwrap();
    }
    for c in made.iter().rev() {
        backward.apply(c).unwrap();
    }
    assert_eq!(forward.view(), backward.view());
    assert_eq!(forward.view(), a.replica().view());
    let v = forward.record(ID).unwrap().view();
    assert_eq!(v.value("status"), &Value::from("dispatched"));
    assert!(members(&forward, "tags").is_empty());
    assert_eq!(v.fields["report_count"], FieldView::Counter(3));
}

/// Soft delete: a delete hides, never erases; an edit made concurrently with
/// it (offline, before the delete reached the device) keeps the record; a
/// delete that saw every edit wins; a restore brings it back.
#[test]
fn delete_and_concurrent_edit_semantics() {
    let mut sup = Device::new(1);
    let mut worker = Device::new(2);
    let create = worker
        .create("household", "g-1", ID)
        .set("address", "1 Lane")
        .commit()
        .unwrap();
    sup.receive(&create).unwrap();

    let delete = sup.delete(ID).unwrap();
    let offline_edit = worker
        .edit(ID)
        .set("owner_name", "Li Hua")
        .commit()
        .unwrap();
    for r in all_orders(&[create.clone(), delete.clone(), offline_edit.clone()]) {
        let v = r.record(ID).unwrap().view();
        assert!(
            !v.deleted,
            "an edit the deleter had not seen keeps the record"
        );
        assert_eq!(v.value("owner_name"), &Value::from("Li Hua"));
    }

    // The supervisor sees the edit and deletes again: deleted, data kept.
    sup.receive(&offline_edit).unwrap();
    let delete2 = sup.delete(ID).unwrap();
    for r in all_orders(&[
        create.clone(),
        delete.clone(),
        offline_edit.clone(),
        delete2.clone(),
    ]) {
        let v = r.record(ID).unwrap().view();
        assert!(v.deleted);
        assert_eq!(
            v.value("address"),
            &Value::from("1 Lane"),
            "a delete erases nothing"
        );
    }

    // Editing a deleted record needs a restore; the restore brings it back.
    worker.receive(&delete2).unwrap();
    assert_eq!(
        worker
            .edit(ID)
            .set("note", "x")
            .commit()
            .unwrap_err()
            .code(),
        "record_deleted"
    );
    let restore = worker
        .edit(ID)
        .restore()
        .set("note", "moved back")
        .commit()
        .unwrap();
    let mut r = Replica::default();
    for c in [&restore, &delete2, &create, &offline_edit, &delete] {
        r.apply(c).unwrap();
    }
    assert!(!r.record(ID).unwrap().view().deleted);
}

/// Compare visible state, never serialized state: internal clocks depend on
/// delivery order even when everything a user sees is equal.
#[test]
fn visible_state_is_what_is_compared() {
    let mut a = Device::new(1);
    let mut b = Device::new(2);
    let create = a
        .create("event", "g-1", ID)
        .set("status", "reported")
        .commit()
        .unwrap();
    b.receive(&create).unwrap();
    let x = a.edit(ID).set("status", "accepted").commit().unwrap();
    let y = b.edit(ID).set("status", "accepted").commit().unwrap();
    let views: Vec<_> = all_orders(&[create, x, y])
        .iter()
        .map(Replica::view)
        .collect();
    assert!(views.windows(2).all(|w| w[0] == w[1]));
    // Two devices wrote the same value concurrently: no conflict to show.
    assert_eq!(views[0][&ID].conflicts().count(), 0);
}

/// The storage-backed path (load a record, apply a change, store it) gives the
/// same state as an in-memory replica, and refuses what the replica refuses.
#[test]
fn store_backed_apply_matches_the_replica() {
    use gridsync_core::{Record, Schema};
    let mut a = Device::new(1);
    let made = [
        a.create("event", "g-1", ID)
            .set("status", "reported")
            .set("category", "fire_safety")
            .commit()
            .unwrap(),
        a.edit(ID)
            .add("tags", "x")
            .escalate(gridsync_core::Level::Community)
            .commit()
            .unwrap(),
        a.edit(ID)
            .set("assignee", "Chen")
            .set("deadline", "2026-12-01T18:00:00+08:00")
            .commit()
            .unwrap(),
    ];
    let schema = Schema::current();
    let mut stored = Record::from_change(schema, &made[0]).unwrap().to_stored();
    for c in &made[1..] {
        let mut r = Record::from_stored(schema, &stored).unwrap();
        r.apply_change(schema, c).unwrap();
        stored = r.to_stored();
    }
    let r = Record::from_stored(schema, &stored).unwrap();
    assert_eq!(r.view(), a.replica().record(ID).unwrap().view());
    let s = r.view().summary();
    assert_eq!(s.status.as_deref(), Some("reported"));
    assert_eq!(s.category.as_deref(), Some("fire_safety"));
    assert_eq!(s.assignee.as_deref(), Some("Chen"));
    assert_eq!(s.level, gridsync_core::Level::Community);
    assert_eq!((s.deleted, s.conflicts), (false, 0));

    let mut bad = made[2].clone();
    bad.grid = "g-2".into();
    let mut r2 = r.clone();
    assert_eq!(
        r2.apply_change(schema, &bad).unwrap_err().code(),
        "record_mismatch"
    );
    assert_eq!(r2.view(), r.view());
}

/// A redacted copy (personal data masked for a role) keeps its clocks: it
/// still merges, and a later write replaces the masked value everywhere.
#[test]
fn a_redacted_record_still_merges() {
    use gridsync_core::{Record, Schema};
    let mut w = Device::new(1);
    let create = w
        .create("resident", "g-1", ID)
        .set("name", "Wang")
        .set("id_number", "420202199001011231")
        .commit()
        .unwrap();
    let mut copy = w.replica().record(ID).unwrap().clone();
    copy.redact(|f| f.sensitive, |_| Value::from("****"));
    let v = copy.view();
    assert_eq!(v.value("id_number"), &Value::from("****"));
    assert_eq!(v.value("name"), &Value::from("Wang"));
    // The device holding the masked copy fixes the number: its write wins.
    let mut replica = Replica::default();
    replica.merge_record(&copy).unwrap();
    let mut phone = Device::resume(2, 1, replica);
    let fix = phone
        .edit(ID)
        .set("id_number", "420202199001015670")
        .commit()
        .unwrap();
    let mut server = Replica::default();
    server.apply(&create).unwrap();
    server.apply(&fix).unwrap();
    let v = server.record(ID).unwrap().view();
    assert_eq!(v.value("id_number"), &Value::from("420202199001015670"));
    assert_eq!(v.conflicts().count(), 0);
    let _ = Record::from_stored(Schema::current(), &copy.to_stored()).unwrap();
}
