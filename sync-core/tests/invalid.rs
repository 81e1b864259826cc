//! One test per kind of invalid change: each is refused with a typed error
//! that names the field and the reason, and nothing of it is applied.

use gridsync_core::schema::{CollectionDef, FieldDef};
use gridsync_core::{
    Change, ChangeError, Clock, Device, Entry, Level, Op, Outcome, Replica, Schema, SetState,
    Value, SCHEMA_VERSION,
};
use uuid::Uuid;

const ID: Uuid = Uuid::from_u128(7);

/// A server replica holding one event, a device that made it, and a valid
/// next change to mutate into invalid ones.
fn setup() -> (Replica, Change) {
    let mut phone = Device::new(3);
    let create = phone
        .create("event", "g-001", ID)
        .set("status", "reported")
        .add("tags", "night")
        .commit()
        .unwrap();
    let mut server = Replica::default();
    server.apply(&create).unwrap();
    let next = phone
        .edit(ID)
        .set("title", "Blocked exit")
        .commit()
        .unwrap();
    (server, next)
}

fn with_ops(base: &Change, ops: Vec<Op>) -> Change {
    Change {
        ops,
        ..base.clone()
    }
}

fn set(field: &str, value: Value) -> Op {
    Op::Set {
        field: field.into(),
        value,
        seen: Clock::default(),
    }
}

/// Apply, expect a refusal, check that nothing changed; return the error.
fn refused(server: &mut Replica, change: &Change) -> ChangeError {
    let before = server.view();
    let err = server
        .apply(change)
        .expect_err("the change must be refused");
    assert_eq!(
        server.view(),
        before,
        "a refused change must leave no trace"
    );
    assert!(!err.to_string().is_empty());
    err
}

#[test]
fn unknown_collection() {
    let (mut s, next) = setup();
    let c = Change {
        collection: "spaceship".into(),
        record: Uuid::from_u128(8),
        ..next
    };
    let e = refused(&mut s, &c);
    assert_eq!(
        e,
        ChangeError::UnknownCollection {
            collection: "spaceship".into()
        }
    );
    assert_eq!(e.code(), "unknown_collection");
}

#[test]
fn unknown_field() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &with_ops(&next, vec![set("colour", Value::from("red"))]),
    );
    assert_eq!(e.code(), "unknown_field");
    assert_eq!(e.field(), Some("colour"));
}

#[test]
fn wrong_type() {
    let (mut s, next) = setup();
    let e = refused(&mut s, &with_ops(&next, vec![set("title", Value::Int(5))]));
    assert_eq!(e.code(), "wrong_type");
    assert_eq!(e.field(), Some("title"));
    assert!(
        e.to_string().contains("expected a string, got an integer"),
        "{e}"
    );

    // A float where a decimal string is expected says how decimals travel.
    let mut hazard = Device::new(4);
    let c = hazard
        .create("hazard", "g-001", Uuid::from_u128(9))
        .set("description", "x")
        .commit()
        .unwrap();
    let bad = with_ops(
        &c,
        vec![set("estimated_cost", serde_json::from_str("12.5").unwrap())],
    );
    let e = refused(&mut s, &bad);
    assert!(e.to_string().contains("decimals travel as strings"), "{e}");
}

#[test]
fn malformed_formats_of_typed_strings() {
    let (mut s, next) = setup();
    for (field, value, expected) in [
        ("deadline", "tomorrow", "RFC 3339"),
        ("place", "not-a-uuid", "UUID of a place"),
    ] {
        let e = refused(
            &mut s,
            &with_ops(&next, vec![set(field, Value::from(value))]),
        );
        assert_eq!((e.code(), e.field()), ("wrong_type", Some(field)));
        assert!(e.to_string().contains(expected), "{e}");
    }
    let mut p = Device::new(4);
    let c = p
        .create("resident", "g-001", Uuid::from_u128(9))
        .set("name", "Zhang")
        .commit()
        .unwrap();
    let e = refused(
        &mut s,
        &with_ops(&c, vec![set("birth_date", Value::from("2026-02-30"))]),
    );
    assert_eq!((e.code(), e.field()), ("wrong_type", Some("birth_date")));
}

#[test]
fn enum_value_not_allowed() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &with_ops(&next, vec![set("status", Value::from("teleported"))]),
    );
    assert_eq!(e.code(), "value_not_allowed");
    assert_eq!(e.field(), Some("status"));
    assert!(
        e.to_string().contains("reported"),
        "lists what is allowed: {e}"
    );
}

#[test]
fn string_over_its_size_limit() {
    let (mut s, next) = setup();
    // 201 characters, each three bytes in UTF-8: the limit counts characters.
    let long = "网".repeat(201);
    let e = refused(
        &mut s,
        &with_ops(&next, vec![set("title", Value::from(long))]),
    );
    assert_eq!(
        e,
        ChangeError::TooLong {
            field: "title".into(),
            len: 201,
            max: 200
        }
    );
    // Exactly at the limit is fine.
    let ok = with_ops(&next, vec![set("title", Value::from("网".repeat(200)))]);
    assert_eq!(s.apply(&ok).unwrap(), Outcome::Applied);
}

#[test]
fn integer_out_of_range() {
    let (mut s, _) = setup();
    let mut p = Device::new(4);
    let c = p
        .create("petition", "g-001", Uuid::from_u128(9))
        .set("matter", "wages")
        .commit()
        .unwrap();
    let e = refused(
        &mut s,
        &with_ops(&c, vec![set("extension_days", Value::Int(31))]),
    );
    assert_eq!(
        (e.code(), e.field()),
        ("out_of_range", Some("extension_days"))
    );
}

fn append(field: &str, fields: &[(&str, Value)]) -> Op {
    Op::Append {
        field: field.into(),
        entry: Entry {
            id: Uuid::from_u128(99),
            at: "2026-11-28T09:00:00+08:00".into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        },
    }
}

#[test]
fn log_entry_over_its_size_limit() {
    let (mut s, next) = setup();
    // Each field fits its own limit (a note of 2,000 characters); the entry
    // as a whole does not: 2,000 Chinese characters are 6,000 bytes of JSON,
    // over the 4 KiB an entry may take.
    let ascii = [
        ("action", Value::from("visit")),
        ("note", Value::from("n".repeat(2000))),
    ];
    assert_eq!(
        s.apply(&with_ops(&next, vec![append("actions", &ascii)]))
            .unwrap(),
        Outcome::Applied
    );

    let later = Change {
        seq: next.seq + 1,
        ..next
    };
    let wide = [
        ("action", Value::from("visit")),
        ("note", Value::from("网".repeat(2000))),
    ];
    let e = refused(&mut s, &with_ops(&later, vec![append("actions", &wide)]));
    assert_eq!((e.code(), e.field()), ("entry_too_large", Some("actions")));
    assert!(e.to_string().contains("at most 4096"), "{e}");
}

#[test]
fn log_entry_missing_a_required_field_or_with_an_unknown_one() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![append("actions", &[("note", Value::from("x"))])],
        ),
    );
    assert_eq!(
        e,
        ChangeError::MissingEntryField {
            field: "actions".into(),
            entry_field: "action"
        }
    );
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![append(
                "actions",
                &[("action", Value::from("x")), ("mood", Value::from("ok"))],
            )],
        ),
    );
    assert_eq!(
        (e.code(), e.field()),
        ("unknown_field", Some("actions.mood"))
    );
}

#[test]
fn a_level_that_would_go_down() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![Op::Escalate {
                from: Level::Park,
                to: Level::Community,
            }],
        ),
    );
    assert_eq!(
        e,
        ChangeError::LevelDown {
            from: Level::Park,
            to: Level::Community
        }
    );
    assert_eq!(e.field(), Some("level"));
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![Op::Escalate {
                from: Level::Grid,
                to: Level::Grid,
            }],
        ),
    );
    assert_eq!(e.code(), "level_down");
    // The device API refuses it too, before it reaches an outbox.
    let mut p = Device::new(4);
    let c = p
        .create("event", "g-1", Uuid::from_u128(5))
        .escalate(Level::Park)
        .commit()
        .unwrap();
    assert_eq!(
        p.edit(c.record)
            .escalate(Level::Community)
            .commit()
            .unwrap_err()
            .code(),
        "level_down"
    );
    assert_eq!(p.next_seq(), 2, "a refused edit uses no sequence number");
}

#[test]
fn a_reused_actor_sequence_with_different_content() {
    let (mut s, next) = setup();
    assert_eq!(s.apply(&next).unwrap(), Outcome::Applied);
    let forged = with_ops(&next, vec![set("title", Value::from("Something else"))]);
    let e = refused(&mut s, &forged);
    assert_eq!(
        e,
        ChangeError::ReusedSequence {
            actor: 3,
            seq: next.seq
        }
    );
}

#[test]
fn an_unknown_schema_version() {
    let (mut s, next) = setup();
    for v in [0, SCHEMA_VERSION + 1] {
        let e = refused(
            &mut s,
            &Change {
                schema: v,
                ..next.clone()
            },
        );
        assert_eq!(e.code(), "unknown_schema_version");
    }
}

#[test]
fn a_field_newer_than_the_changes_schema_version() {
    use gridsync_core::schema::{since, text};
    static FIELDS: [FieldDef; 2] = [text("name", 10), since(2, text("colour", 10))];
    static COLLECTIONS: [CollectionDef; 1] = [CollectionDef::new("thing", "物", "Thing", &FIELDS)];
    static SCHEMA: Schema = Schema {
        version: 2,
        collections: &COLLECTIONS,
        levels: &gridsync_core::schema::LEVELS,
        overdue_lists: &[],
    };
    let mut r = Replica::new(&SCHEMA);
    let c = Change {
        actor: 1,
        seq: 1,
        record: ID,
        collection: "thing".into(),
        grid: "g".into(),
        schema: 1,
        ops: vec![set("colour", Value::from("red"))],
    };
    let e = refused(&mut r, &c);
    assert_eq!(
        e,
        ChangeError::FieldTooNew {
            field: "colour".into(),
            since: 2,
            schema: 1
        }
    );
}

#[test]
fn an_op_that_does_not_fit_the_fields_kind() {
    let (mut s, next) = setup();
    let e = refused(&mut s, &with_ops(&next, vec![append("status", &[])]));
    assert_eq!(
        e,
        ChangeError::WrongOp {
            field: "status".into(),
            kind: "scalar",
            op: "append"
        }
    );
    let e = refused(
        &mut s,
        &with_ops(&next, vec![set("tags", Value::from("x"))]),
    );
    assert_eq!((e.code(), e.field()), ("wrong_op", Some("tags")));
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![Op::Escalate {
                from: Level::Grid,
                to: Level::Park,
            }],
        )
        .with_collection("household"),
    );
    assert_eq!(
        e.code(),
        "unknown_field",
        "households have no handling level"
    );
}

trait WithCollection {
    fn with_collection(self, c: &str) -> Change;
}
impl WithCollection for Change {
    fn with_collection(self, c: &str) -> Change {
        Change {
            collection: c.into(),
            record: Uuid::from_u128(77),
            ..self
        }
    }
}

#[test]
fn the_same_field_twice_in_one_change() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![
                set("title", Value::from("a")),
                set("title", Value::from("b")),
            ],
        ),
    );
    assert_eq!(
        e,
        ChangeError::FieldTwice {
            field: "title".into()
        }
    );
}

#[test]
fn a_context_that_claims_the_changes_own_future() {
    let (mut s, next) = setup();
    let op = Op::Set {
        field: "title".into(),
        value: Value::from("x"),
        seen: Clock::from([(3, next.seq)]),
    };
    let e = refused(&mut s, &with_ops(&next, vec![op]));
    assert_eq!((e.code(), e.field()), ("context_ahead", Some("title")));
}

#[test]
fn a_set_state_that_contradicts_its_edit() {
    let (mut s, next) = setup();
    let seq = next.seq;
    let state = |members: &[(&str, u64)]| SetState {
        clock: Clock::from([(3, seq)]),
        entries: members
            .iter()
            .map(|(m, s)| (m.to_string(), Clock::from([(3, *s)])))
            .collect(),
        deferred: vec![],
    };
    let members = |add: &[&str], remove: &[&str], st: SetState| Op::Members {
        field: "tags".into(),
        add: add.iter().map(|s| s.to_string()).collect(),
        remove: remove.iter().map(|s| s.to_string()).collect(),
        state: st,
    };
    for (op, why) in [
        (members(&["x"], &[], state(&[])), "not in the state"),
        (
            members(&[], &["night"], state(&[("night", 1)])),
            "still in the state",
        ),
        (
            members(&["x"], &["x"], state(&[("x", seq)])),
            "both added and removed",
        ),
        (members(&[], &[], state(&[])), "neither adds nor removes"),
    ] {
        let e = refused(&mut s, &with_ops(&next, vec![op]));
        assert_eq!((e.code(), e.field()), ("invalid_op", Some("tags")));
        assert!(e.to_string().contains(why), "{e}");
    }
    let too_many: Vec<(String, u64)> = (0..33).map(|i| (format!("t{i}"), seq)).collect();
    let refs: Vec<(&str, u64)> = too_many.iter().map(|(m, s)| (m.as_str(), *s)).collect();
    let e = refused(
        &mut s,
        &with_ops(&next, vec![members(&["t0"], &[], state(&refs))]),
    );
    assert_eq!(
        e,
        ChangeError::TooManyMembers {
            field: "tags".into(),
            count: 33,
            max: 32
        }
    );
}

#[test]
fn a_set_member_outside_its_allowed_values() {
    let mut p = Device::new(4);
    let e = p
        .create("key_person", "g-1", ID)
        .add("duties", "surveil")
        .commit()
        .unwrap_err();
    assert_eq!((e.code(), e.field()), ("value_not_allowed", Some("duties")));
}

#[test]
fn a_delete_mixed_with_other_ops() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &with_ops(
            &next,
            vec![
                Op::Delete {
                    seen: Clock::default(),
                },
                set("title", Value::from("x")),
            ],
        ),
    );
    assert_eq!(e, ChangeError::DeleteNotAlone);
}

#[test]
fn a_bad_header() {
    let (mut s, next) = setup();
    for (c, what) in [
        (
            Change {
                actor: 0,
                ..next.clone()
            },
            "actor",
        ),
        (
            Change {
                seq: 0,
                ..next.clone()
            },
            "seq",
        ),
        (
            Change {
                grid: String::new(),
                ..next.clone()
            },
            "grid",
        ),
        (
            Change {
                grid: "g/../x".into(),
                ..next.clone()
            },
            "grid",
        ),
        (
            Change {
                record: Uuid::nil(),
                ..next.clone()
            },
            "record",
        ),
        (with_ops(&next, vec![]), "ops"),
        (with_ops(&next, vec![Op::Restore {}; 257]), "ops"),
    ] {
        let e = refused(&mut s, &c);
        assert_eq!(e.code(), "invalid_header");
        assert!(e.to_string().contains(what), "{e}");
    }
}

#[test]
fn a_change_that_moves_a_record_to_another_collection_or_grid() {
    let (mut s, next) = setup();
    let e = refused(
        &mut s,
        &Change {
            grid: "g-002".into(),
            ..next.clone()
        },
    );
    assert_eq!(e.code(), "record_mismatch");
    let e = refused(
        &mut s,
        &Change {
            collection: "hazard".into(),
            ops: vec![set("description", Value::from("x"))],
            ..next
        },
    );
    assert_eq!(e.code(), "record_mismatch");
}

#[test]
fn a_log_entry_id_reused_with_other_content() {
    let (mut s, next) = setup();
    let first = with_ops(
        &next,
        vec![append("actions", &[("action", Value::from("accept"))])],
    );
    s.apply(&first).unwrap();
    let again = Change {
        seq: next.seq + 1,
        ..with_ops(
            &next,
            vec![append("actions", &[("action", Value::from("other"))])],
        )
    };
    let e = refused(&mut s, &again);
    assert_eq!((e.code(), e.field()), ("entry_id_reused", Some("actions")));
}

#[test]
fn malformed_json_is_a_decode_error_not_a_panic() {
    for bad in [
        "{",
        "{\"actor\":1}",
        "{\"actor\":-1,\"seq\":1,\"record\":\"00000000-0000-0000-0000-000000000001\",\"collection\":\"event\",\"grid\":\"g\",\"schema\":1,\"ops\":[]}",
        "{\"actor\":1,\"seq\":1,\"record\":\"nope\",\"collection\":\"event\",\"grid\":\"g\",\"schema\":1,\"ops\":[]}",
        "{\"actor\":1,\"seq\":1,\"record\":\"00000000-0000-0000-0000-000000000001\",\"collection\":\"event\",\"grid\":\"g\",\"schema\":1,\"ops\":[{\"fly\":{}}]}",
        "{\"actor\":1,\"seq\":1,\"record\":\"00000000-0000-0000-0000-000000000001\",\"collection\":\"event\",\"grid\":\"g\",\"schema\":1,\"ops\":[],\"extra\":1}",
    ] {
        assert!(Change::from_json(bad.as_bytes()).is_err(), "{bad}");
    }
    // And a well-formed one decodes to exactly what was sent.
    let (_, next) = setup();
    assert_eq!(Change::from_json(next.to_json().as_bytes()).unwrap(), next);
}

#[test]
fn a_bad_attachment_reference() {
    let (mut s, next) = setup();
    let photo = |sha: &str, media: &str, size: u64, caption: Option<String>| {
        Value::from(gridsync_core::Attachment {
            sha256: sha.into(),
            media_type: media.into(),
            size,
            caption,
        })
    };
    let good = "a".repeat(64);
    let cases = [
        (photo("ABC", "image/jpeg", 10, None), "wrong_type"),
        (photo(&"A".repeat(64), "image/jpeg", 10, None), "wrong_type"),
        (
            photo(&good, "application/x-msdownload", 10, None),
            "value_not_allowed",
        ),
        (photo(&good, "image/jpeg", 0, None), "out_of_range"),
        (
            photo(&good, "image/jpeg", (1 << 30) + 1, None),
            "out_of_range",
        ),
        (
            photo(&good, "image/jpeg", 10, Some("说".repeat(201))),
            "too_long",
        ),
        (Value::from("att-1234"), "wrong_type"),
    ];
    for (value, code) in cases {
        let e = refused(
            &mut s,
            &with_ops(
                &next,
                vec![append(
                    "photos",
                    &[("photo", value.clone()), ("stage", Value::from("before"))],
                )],
            ),
        );
        assert_eq!(e.code(), code, "{value:?}: {e}");
        assert!(e.to_string().contains("photo"), "{e}");
    }
    // The same reference, well formed, is kept, and the record names it.
    let ok = photo(&good, "image/jpeg", 10, Some("说".repeat(200)));
    let applied = with_ops(
        &next,
        vec![append(
            "photos",
            &[("photo", ok), ("stage", Value::from("before"))],
        )],
    );
    assert_eq!(s.apply(&applied).unwrap(), Outcome::Applied);
    let refs = s.record(ID).unwrap().attachments();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].sha256, good);
}

/// What a hostile or broken device can send beyond the schema's own checks:
/// numbers past what every client can count, text PostgreSQL cannot hold,
/// contexts too large to carry, and arrays where objects belong. Each is
/// refused with its code and leaves nothing behind.
#[test]
fn bounds_on_numbers_text_and_contexts() {
    use gridsync_core::validate::{MAX_CONTEXT_ENTRIES, MAX_COUNT, MAX_SEQ};
    let (mut s, next) = setup();
    let wide: Clock = Clock(
        (1..=MAX_CONTEXT_ENTRIES as u32 + 1)
            .map(|a| (a + 10, 1))
            .collect(),
    );
    let table: Vec<(&str, Change, &str)> = vec![
        (
            "seq past 2^53-1",
            Change {
                seq: MAX_SEQ + 1,
                ..next.clone()
            },
            "invalid_header",
        ),
        (
            "increment past the largest count",
            with_ops(
                &next,
                vec![Op::Increment {
                    field: "report_count".into(),
                    by: u64::MAX,
                    total: u64::MAX,
                }],
            ),
            "out_of_range",
        ),
        (
            "running total past the largest count",
            with_ops(
                &next,
                vec![Op::Increment {
                    field: "report_count".into(),
                    by: 1,
                    total: MAX_COUNT + 1,
                }],
            ),
            "out_of_range",
        ),
        (
            "NUL in a text value",
            with_ops(&next, vec![set("title", Value::Text("a\0b".into()))]),
            "invalid_text",
        ),
        (
            "a register context naming too many actors",
            with_ops(
                &next,
                vec![Op::Set {
                    field: "title".into(),
                    value: Value::Text("x".into()),
                    seen: wide.clone(),
                }],
            ),
            "context_too_large",
        ),
        (
            "a delete context naming too many actors",
            with_ops(&next, vec![Op::Delete { seen: wide }]),
            "context_too_large",
        ),
    ];
    for (what, change, code) in table {
        let e = refused(&mut s, &change);
        assert_eq!(e.code(), code, "{what}: {e}");
    }
    // The largest values themselves are fine.
    let ok = with_ops(
        &next,
        vec![Op::Increment {
            field: "report_count".into(),
            by: MAX_COUNT,
            total: MAX_COUNT,
        }],
    );
    s.apply(&ok).unwrap();
}

#[test]
fn claims_beyond_what_was_made_are_refused_by_a_receiver_that_knows() {
    use gridsync_core::validate::check_claims;
    let (_, next) = setup();
    let claim = |seen: Clock| {
        with_ops(
            &next,
            vec![Op::Set {
                field: "title".into(),
                value: Value::Text("x".into()),
                seen,
            }],
        )
    };
    let known = |actor: u32| match actor {
        5 => 40,
        _ => 0,
    };
    // (context, verdict): the author's own earlier changes are its business
    // (bounded by its seq); others' only as far as they were made.
    let table: Vec<(Clock, Result<(), &str>)> = vec![
        (Clock::default(), Ok(())),
        (Clock::from([(5, 40)]), Ok(())),
        (Clock::from([(5, 41)]), Err("context_unseen")),
        (
            Clock::from([(1001, 1_000_000_000_000)]),
            Err("context_unseen"),
        ),
        (Clock::from([(3, next.seq - 1)]), Ok(())),
        (Clock::from([(5, 40), (6, 1)]), Err("context_unseen")),
    ];
    for (seen, verdict) in table {
        let got = check_claims(&claim(seen.clone()), known).map_err(|e| e.code());
        assert_eq!(got, verdict, "{seen:?}");
    }
    // A set state's clock and its members' dots are claims too.
    let mut state = SetState {
        clock: Clock::from([(3, next.seq), (9, 7)]),
        ..SetState::default()
    };
    state
        .entries
        .insert("night".into(), Clock::from([(3, next.seq)]));
    let members = with_ops(
        &next,
        vec![Op::Members {
            field: "tags".into(),
            add: vec!["night".into()],
            remove: vec![],
            state,
        }],
    );
    let e = check_claims(&members, known).unwrap_err();
    assert_eq!(e.code(), "context_unseen");
    assert_eq!(e.field(), Some("tags"));
    assert_eq!(
        members.claimed_actors().into_iter().collect::<Vec<_>>(),
        vec![9]
    );
}

#[test]
fn arrays_where_objects_belong_do_not_decode() {
    let good = r#"{"actor":3,"seq":2,"record":"00000000-0000-0000-0000-000000000007","collection":"event","grid":"g-001","schema":1,"ops":[{"set":{"field":"title","value":"x"}}]}"#;
    assert!(Change::from_json(good.as_bytes()).is_ok());
    for bad in [
        r#"[3,2,"00000000-0000-0000-0000-000000000007","event","g-001",1,[{"set":{"field":"title","value":"x"}}]]"#,
        r#"{"actor":3,"seq":2,"record":"00000000-0000-0000-0000-000000000007","collection":"event","grid":"g-001","schema":1,"ops":[{"set":["title","x",{}]}]}"#,
        r#"{"actor":3,"seq":2,"record":"00000000-0000-0000-0000-000000000007","collection":"event","grid":"g-001","schema":1,"ops":[{"append":{"field":"actions","entry":["00000000-0000-0000-0000-000000000009","2026-11-28T09:30:00+08:00",{}]}}]}"#,
        r#"{"actor":3,"seq":2,"record":"00000000-0000-0000-0000-000000000007","collection":"event","grid":"g-001","schema":1,"ops":[{"members":{"field":"tags","add":["a"],"state":[{"3":2},{"a":{"3":2}}]}}]}"#,
        r#"{"actor":3,"seq":2,"record":"00000000-0000-0000-0000-000000000007","collection":"event","grid":"g-001","schema":1,"ops":[{"restore":[]}]}"#,
    ] {
        let e = Change::from_json(bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("a JSON object"), "{bad}: {e}");
    }
}
