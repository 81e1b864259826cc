use super::*;
use gridsync_core::{Device, Entry};
use uuid::Uuid;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// `period=week&date=…` as the handler hands it over.
fn parse(query: &str, today: NaiveDate) -> Result<Period, String> {
    let get = |k: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v)
    };
    Period::parse(get("period"), get("date"), get("from"), get("to"), today)
}

#[test]
fn periods() {
    let today = d("2026-11-28"); // a Saturday
    let table = [
        ("", PeriodKind::Day, "2026-11-28", "2026-11-28"),
        (
            "period=day&date=2026-02-03",
            PeriodKind::Day,
            "2026-02-03",
            "2026-02-03",
        ),
        ("period=week", PeriodKind::Week, "2026-11-23", "2026-11-29"),
        (
            "period=week&date=2026-11-23",
            PeriodKind::Week,
            "2026-11-23",
            "2026-11-29",
        ),
        (
            "period=month&date=2024-02-10",
            PeriodKind::Month,
            "2024-02-01",
            "2024-02-29",
        ),
        (
            "period=month&date=2026-12-31",
            PeriodKind::Month,
            "2026-12-01",
            "2026-12-31",
        ),
        (
            "period=quarter",
            PeriodKind::Quarter,
            "2026-10-01",
            "2026-12-31",
        ),
        (
            "period=quarter&date=2026-05-05",
            PeriodKind::Quarter,
            "2026-04-01",
            "2026-06-30",
        ),
        (
            "from=2026-11-01&to=2026-11-15",
            PeriodKind::Range,
            "2026-11-01",
            "2026-11-15",
        ),
        (
            "period=range&from=2026-11-01&to=2026-11-01",
            PeriodKind::Range,
            "2026-11-01",
            "2026-11-01",
        ),
    ];
    for (query, kind, first, last) in table {
        let p = parse(query, today).unwrap();
        assert_eq!(
            (p.kind, p.first, p.last),
            (kind, d(first), d(last)),
            "{query}"
        );
    }
    for bad in [
        "period=year",
        "period=day&date=2026-13-01",
        "from=2026-11-01",
        "from=2026-11-05&to=2026-11-01",
        "period=month&from=2026-11-01&to=2026-11-02",
        "from=2025-01-01&to=2026-11-02",
        "period=range",
        "date=2026-11-01&from=2026-11-01&to=2026-11-02",
    ] {
        assert!(parse(bad, today).is_err(), "{bad}");
    }
}

#[test]
fn a_day_is_counted_in_china_time() {
    let p = Period::parse(Some("day"), Some("2026-11-28"), None, None, d("2026-11-28")).unwrap();
    // 2026-11-28 00:00 +08:00 is 2026-11-27 16:00 UTC.
    let start = DateTime::parse_from_rfc3339("2026-11-27T16:00:00Z")
        .unwrap()
        .timestamp_millis();
    assert_eq!(p.start_ms(), start);
    assert_eq!(p.end_ms(), start + DAY_MS);
    assert_eq!(p.out().from, "2026-11-28T00:00:00+08:00");
    assert_eq!(local_date(start - 1), d("2026-11-27"));
    assert_eq!(local_date(start), d("2026-11-28"));
}

fn entry(at: &str, checkpoint: &str) -> Entry {
    Entry {
        id: Uuid::new_v4(),
        at: at.into(),
        fields: [
            ("checkpoint".to_owned(), Value::from(checkpoint)),
            ("method".to_owned(), Value::from("qr")),
        ]
        .into_iter()
        .collect(),
    }
}

#[test]
fn patrol_figures_of_a_round() {
    let mut dev = Device::new(1);
    let id = Uuid::from_u128(7);
    dev.create("patrol_round", "g", id)
        .set("status", "in_progress")
        .add("planned_checkpoints", "A")
        .add("planned_checkpoints", "B")
        .add("planned_checkpoints", "C")
        .commit()
        .unwrap();
    for (at, cp) in [
        ("2026-11-28T09:00:00+08:00", "A"),
        ("2026-11-28T09:30:00+08:00", "A"),
        ("2026-11-28T10:00:00+08:00", "X"),
    ] {
        dev.edit(id)
            .append("check_ins", entry(at, cp))
            .commit()
            .unwrap();
    }
    let view = dev.replica().record(id).unwrap().view();
    let f = patrol_figures(&view, 5).unwrap();
    let first = DateTime::parse_from_rfc3339("2026-11-28T09:00:00+08:00")
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        f,
        PatrolFigures {
            planned: 3,
            visited: 1,
            checkins: 3,
            unplanned: 1, // X is in no plan
            starts_at: first
        }
    );
    // Planned for another day, walked on the 28th: it counts on the 28th.
    dev.edit(id)
        .set("planned_start", "2026-11-29T20:00:00+08:00")
        .commit()
        .unwrap();
    let f = patrol_figures(&dev.replica().record(id).unwrap().view(), 5).unwrap();
    assert_eq!(local_date(f.starts_at), d("2026-11-28"));
    // Two phones of the team each record their start: the earliest, late
    // at night on the 27th, is when the round was walked.
    let mut mate = Device::new(3);
    mate.merge_record(dev.replica().record(id).unwrap())
        .unwrap();
    dev.edit(id)
        .set("started_at", "2026-11-28T08:55:00+08:00")
        .commit()
        .unwrap();
    mate.edit(id)
        .set("started_at", "2026-11-27T23:50:00+08:00")
        .commit()
        .unwrap();
    dev.merge_record(mate.replica().record(id).unwrap())
        .unwrap();
    let view = dev.replica().record(id).unwrap().view();
    assert_eq!(view.conflicts().count(), 0, "never a conflict");
    let f = patrol_figures(&view, 5).unwrap();
    assert_eq!(local_date(f.starts_at), d("2026-11-27"));
    // Not walked at all: its plan's day.
    let mut plan = Device::new(4);
    let planned = Uuid::from_u128(8);
    plan.create("patrol_round", "g", planned)
        .set("status", "planned")
        .set("planned_start", "2026-11-29T20:00:00+08:00")
        .commit()
        .unwrap();
    let f = patrol_figures(&plan.replica().record(planned).unwrap().view(), 5).unwrap();
    assert_eq!(local_date(f.starts_at), d("2026-11-29"));
    let mut other = Device::new(2);
    other
        .create("event", "g", id)
        .set("title", "t")
        .commit()
        .unwrap();
    assert_eq!(
        patrol_figures(&other.replica().record(id).unwrap().view(), 5),
        None
    );
}

#[test]
fn coverage_and_missed_rounds() {
    let day = day_start(d("2026-11-27"));
    let r = |id: &str, grid: &str, at: i64, status: &str, planned, visited, checkins| RoundRow {
        id: id.into(),
        grid: grid.into(),
        starts_at: at,
        status: Some(status.into()),
        planned,
        visited,
        checkins,
        unplanned: i32::from(id == "r1"),
    };
    let rounds = vec![
        // Four planned, all visited, and one stop the plan did not name.
        r("r1", "g1", day + 3_600_000, "completed", 4, 4, 5),
        r("r2", "g1", day + DAY_MS + 3_600_000, "in_progress", 4, 1, 1),
        r("r3", "g2", day + 7_200_000, "planned", 2, 0, 0), // its day is over: missed
        r("r4", "g2", day + DAY_MS + 7_200_000, "planned", 2, 0, 0), // today: not yet
        r("r5", "g2", day + DAY_MS + 9_000_000, "cancelled", 3, 0, 0), // missed
    ];
    let as_of = day + DAY_MS + 10 * 3_600_000;
    let rep = patrol_report(rounds, as_of);
    assert_eq!(
        rep.totals,
        Coverage {
            rounds: 5,
            missed: 2,
            planned: 15,
            visited: 5,
            missed_checkpoints: 10,
            unplanned: 1,
            checkins: 6,
            coverage: 0.333
        }
    );
    let grids: Vec<(String, i64, i64, i64)> = rep
        .by_grid
        .iter()
        .map(|k| {
            (
                k.key.grid.clone(),
                k.figures.rounds,
                k.figures.missed,
                k.figures.visited,
            )
        })
        .collect();
    assert_eq!(
        grids,
        [("g1".to_owned(), 2, 0, 5), ("g2".to_owned(), 3, 2, 0)]
    );
    let days: Vec<(String, i64)> = rep
        .by_day
        .iter()
        .map(|k| (k.key.day.clone(), k.figures.rounds))
        .collect();
    assert_eq!(
        days,
        [("2026-11-27".to_owned(), 2), ("2026-11-28".to_owned(), 3)]
    );
    let order: Vec<&str> = rep.rounds.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(order, ["r1", "r3", "r2", "r4", "r5"]);
}

fn tree() -> Tree {
    let n = |c: &str, p: Option<&str>, l: &str| {
        (
            c.to_owned(),
            p.map(str::to_owned),
            l.to_owned(),
            format!("N {c}"),
        )
    };
    Tree::new([
        n("d", None, "district"),
        n("p1", Some("d"), "park"),
        n("p2", Some("d"), "park"),
        n("c1", Some("p1"), "community"),
        n("c2", Some("p2"), "community"),
        n("g1", Some("c1"), "grid"),
        n("g2", Some("c1"), "grid"),
        n("g3", Some("c2"), "grid"),
    ])
}

#[test]
fn summaries_roll_up_the_tree() {
    let row = |grid: &str, collection: &str, status: &str, records, new, overdue| CountRow {
        grid: grid.into(),
        collection: collection.into(),
        category: None,
        status: Some(status.into()),
        level: "grid".into(),
        figures: Figures {
            records,
            open: records,
            new,
            overdue,
            ..Figures::default()
        },
    };
    let rows = vec![
        row("g1", "event", "reported", 3, 2, 1),
        row("g2", "event", "reported", 1, 1, 0),
        row("g2", "event", "closed", 2, 0, 0),
        row("g3", "dispute", "mediating", 4, 4, 2),
    ];
    let t = tree();
    let s = summarize(&rows, &t, "d");
    assert_eq!(
        (s.totals.records, s.totals.new, s.totals.overdue),
        (10, 7, 3)
    );
    let nodes: Vec<(String, i64)> = s
        .by_node
        .iter()
        .map(|k| (k.key.code.clone(), k.figures.records))
        .collect();
    assert_eq!(nodes, [("p1".to_owned(), 6), ("p2".to_owned(), 4)]);
    let by_status: Vec<(String, Option<String>, i64)> = s
        .by_status
        .iter()
        .map(|k| {
            (
                k.key.collection.clone(),
                k.key.status.clone(),
                k.figures.records,
            )
        })
        .collect();
    assert_eq!(
        by_status,
        [
            ("dispute".to_owned(), Some("mediating".to_owned()), 4),
            ("event".to_owned(), Some("closed".to_owned()), 2),
            ("event".to_owned(), Some("reported".to_owned()), 4),
        ]
    );
    // A community's rows go to its grids; a grid's to itself.
    let s = summarize(&rows[..3], &t, "c1");
    let nodes: Vec<(String, i64)> = s
        .by_node
        .iter()
        .map(|k| (k.key.code.clone(), k.figures.records))
        .collect();
    assert_eq!(nodes, [("g1".to_owned(), 3), ("g2".to_owned(), 3)]);
    let s = summarize(&rows[..1], &t, "g1");
    assert_eq!(s.by_node.len(), 1);
    assert_eq!(s.by_node[0].figures.records, 3);
}

#[test]
fn rankings_count_work_and_share_ranks() {
    let mut w1 = Device::new(1001);
    let mut w2 = Device::new(1002);
    let mut m = Device::new(1003);
    let mut changes = Vec::new();
    let mut log = |c: Change| {
        changes.push(ActivityChange {
            actor: i64::from(c.actor),
            record_id: c.record.to_string(),
            body: c.to_json(),
        })
    };
    let (e1, e2, k, dsp) = (
        Uuid::from_u128(1),
        Uuid::from_u128(2),
        Uuid::from_u128(3),
        Uuid::from_u128(4),
    );
    log(w1
        .create("event", "g1", e1)
        .set("status", "reported")
        .commit()
        .unwrap());
    log(w1
        .create("event", "g1", e2)
        .set("status", "reported")
        .commit()
        .unwrap());
    log(w2
        .create("key_person", "g1", k)
        .set("name", "n")
        .commit()
        .unwrap());
    let visit = |at: &str| Entry {
        id: Uuid::new_v4(),
        at: at.into(),
        fields: [
            ("visitor".to_owned(), Value::from("w2")),
            ("method".to_owned(), Value::from("in_person")),
        ]
        .into_iter()
        .collect(),
    };
    log(w2
        .edit(k)
        .append("visits", visit("2026-11-28T09:00:00+08:00"))
        .commit()
        .unwrap());
    log(m
        .create("dispute", "g1", dsp)
        .set("status", "registered")
        .commit()
        .unwrap());
    let session = Entry {
        id: Uuid::new_v4(),
        at: "2026-11-28T10:00:00+08:00".into(),
        fields: [
            ("mediator".to_owned(), Value::from("m")),
            ("outcome".to_owned(), Value::from("agreed")),
        ]
        .into_iter()
        .collect(),
    };
    log(m
        .edit(dsp)
        .set("status", "mediating")
        .append("sessions", session)
        .commit()
        .unwrap());
    log(m.edit(dsp).set("status", "agreed").commit().unwrap());
    log(m.edit(dsp).set("status", "closed").commit().unwrap());
    let actors: HashMap<i64, i64> = [(1001, 1), (1002, 2), (1003, 3)].into_iter().collect();
    let p = |id, name: &str, role: &str| Person {
        user_id: id,
        username: name.into(),
        full_name: name.into(),
        role: role.into(),
        node: "g1".into(),
    };
    let people = [
        p(1, "w1", "grid_worker"),
        p(2, "w2", "grid_worker"),
        p(4, "idle", "grid_worker"),
        p(3, "m", "mediator"),
    ];
    let r = rank(&changes, &actors, &people);
    let lines: Vec<(usize, &str, i64, i64)> = r
        .grid_workers
        .iter()
        .map(|l| {
            (
                l.rank,
                l.username.as_str(),
                l.activity.score,
                l.activity.changes,
            )
        })
        .collect();
    // w1 reported two events (score 2, 2 changes); w2 one visit (score 1).
    assert_eq!(lines, [(1, "w1", 2, 2), (2, "w2", 1, 2), (3, "idle", 0, 0)]);
    assert_eq!(r.grid_workers[0].activity.records, 2);
    assert_eq!(r.grid_workers[1].activity.visits, 1);
    let med = &r.mediators[0].activity;
    // a registered dispute counts as reported; 1 session + agreed + closed.
    assert_eq!(
        (
            med.sessions,
            med.agreed,
            med.closed,
            med.reported,
            med.score
        ),
        (1, 1, 1, 1, 3)
    );
}

#[test]
fn shared_ranks() {
    let people: Vec<Person> = ["b", "a", "c"]
        .iter()
        .enumerate()
        .map(|(i, n)| Person {
            user_id: i as i64,
            username: (*n).into(),
            full_name: (*n).into(),
            role: "grid_worker".into(),
            node: "g".into(),
        })
        .collect();
    let r = rank(&[], &HashMap::new(), &people);
    let lines: Vec<(usize, &str)> = r
        .grid_workers
        .iter()
        .map(|l| (l.rank, l.username.as_str()))
        .collect();
    assert_eq!(lines, [(1, "a"), (1, "b"), (1, "c")]);
}

#[test]
fn names_are_masked() {
    assert_eq!(mask_name("王小明"), "王**");
    assert_eq!(mask_name("Li"), "L*");
    assert_eq!(mask_name(""), "");
    assert_eq!(overdue_list("hazard"), Some("cases"));
    assert_eq!(overdue_list("dispute"), Some("mediations"));
    assert_eq!(overdue_list("household"), None);
    assert_eq!(days_late(0, DAY_MS * 2 + 5), 2);
    assert_eq!(days_late(10, 5), 0);
}
