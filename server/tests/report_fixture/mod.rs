//! The hand-countable district of the report tests (`reports.rs`,
//! `dashboard.rs`): every figure they check is counted in [`fixture`].
#![allow(dead_code)]

use chrono::{Duration, NaiveDate};
use gridsync_core::{Entry, Geo, Level, Value};
use uuid::Uuid;

use crate::common::{Phone, TestServer};

/// Today, yesterday and the day before, in China time (the reports' zone).
pub fn today() -> NaiveDate {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3_600_000)
        .unwrap()
        .date_naive()
}

pub fn entry(at: &str, fields: &[(&str, &str)]) -> Entry {
    Entry {
        id: Uuid::new_v4(),
        at: at.into(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    }
}

/// The ids of the fixture's records.
pub struct Fixture {
    pub e1: Uuid,
    pub e2: Uuid,
    pub e3: Uuid,
    pub e4: Uuid,
    pub e5: Uuid,
    pub kp: Uuid,
    pub pl1: Uuid,
    pub pl2: Uuid,
    pub pt: Uuid,
    pub h1: Uuid,
    pub dp1: Uuid,
    pub dp2: Uuid,
    pub r1: Uuid,
    pub r2: Uuid,
    pub r3: Uuid,
}

/// The hand-countable district (all made today):
///
/// | grid | record | state | counts as |
/// |---|---|---|---|
/// | g1 | e1 event fire_safety, high | reported | open |
/// | g1 | e2 event traffic, deadline 2026-01-01 | reported | open, overdue |
/// | g1 | e3 event fire_safety | closed by the supervisor | closed |
/// | g1 | e4 event fire_safety | escalated to community | open, escalated |
/// | g1 | e5 event public_order, critical (24 h) | reported | open, due soon |
/// | g1 | kp key person 张三, last visit 2026-01-01 | active | overdue (visit due) |
/// | g1 | pl1 place, inspected 10 days ago at 00:00 | | overdue since today 00:00 |
/// | g1 | pl2 place, name in conflict (two workers) | | conflicted |
/// | g2 | pt petition land, received 2026-09-01 | received | overdue (15 days) |
/// | g2 | dp1 dispute neighbour, received 2026-10-01 | mediating | overdue (a month) |
/// | g1 | dp2 dispute family | closed by the mediator | closed |
/// | g3 | h1 hazard fire | reported | open (park p2) |
/// | g1 | r1 round today, planned A–D, check-ins A, B, B | in_progress | 4 planned, 2 visited, 3 check-ins |
/// | g2 | r2 round yesterday, planned A, B, no check-in | planned | missed |
/// | g2 | r3 round today, planned A | cancelled | missed, closed |
///
/// Positions (the map): in g1 the corners of a square, e1 (30.50, 114.40),
/// e2 (30.50, 114.41), pl1 (30.51, 114.41), pl2 (30.51, 114.40), and e5 at
/// its centre; in g3 h1 (30.60, 114.50); nothing else has one. e1 is titled
/// 消防通道堵塞 at 光谷大道77号B栋 (search).
///
/// Workers: `w1` (grid worker, c1) made e1–e5, kp (1 visit), pl1 (1
/// inspection), pl2, pt; `w3` (grid worker, g1) one edit of pl2; `w2` (grid
/// worker, g3) h1; `med` (mediator, c1) dp1 and dp2 (2 sessions, 1 agreed, 1
/// closed); `pat` (patrol, c1) the rounds; `sup` (supervisor, p1) closed e3
/// and escalated e4.
/// A position.
pub fn at(lat: f64, lng: f64) -> Value {
    Value::Geo(Geo { lat, lng })
}

pub fn fixture(s: &TestServer) -> Fixture {
    let t = today();
    let ids: Vec<Uuid> = (0..15).map(|_| Uuid::new_v4()).collect();
    let f = Fixture {
        e1: ids[0],
        e2: ids[1],
        e3: ids[2],
        e4: ids[3],
        e5: ids[4],
        kp: ids[5],
        pl1: ids[6],
        pl2: ids[7],
        pt: ids[8],
        h1: ids[9],
        dp1: ids[10],
        dp2: ids[11],
        r1: ids[12],
        r2: ids[13],
        r3: ids[14],
    };
    let mut w1 = Phone::enroll(s, "w1", "grid_worker", "c1", &["g1", "g2"]);
    let mut w2 = Phone::enroll(s, "w2", "grid_worker", "g3", &["g3"]);
    let mut w3 = Phone::enroll(s, "w3", "grid_worker", "g1", &["g1"]);
    let mut med = Phone::enroll(s, "med", "mediator", "c1", &["g1", "g2"]);
    let mut pat = Phone::enroll(s, "pat", "patrol", "c1", &["g1", "g2"]);
    let mut sup = Phone::enroll(s, "sup", "supervisor", "p1", &["g1", "g2"]);

    for (id, cat, extra, place) in [
        (
            f.e1,
            "fire_safety",
            ("severity", "high"),
            Some((30.50, 114.40)),
        ),
        (
            f.e2,
            "traffic",
            ("deadline", "2026-01-01T00:00:00+08:00"),
            Some((30.50, 114.41)),
        ),
        (f.e3, "fire_safety", ("title", "e3"), None),
        (f.e4, "fire_safety", ("title", "e4"), None),
        (
            f.e5,
            "public_order",
            ("severity", "critical"),
            Some((30.505, 114.405)),
        ),
    ] {
        w1.make(|d| {
            let mut c = d
                .create("event", "g1", id)
                .set("category", cat)
                .set("status", "reported")
                .set(extra.0, extra.1);
            if let Some((lat, lng)) = place {
                c = c.set("location", at(lat, lng));
            }
            if id == f.e1 {
                c = c
                    .set("title", "消防通道堵塞")
                    .set("address", "光谷大道77号B栋");
            }
            c.commit()
        });
    }
    w1.make(|d| {
        d.create("key_person", "g1", f.kp)
            .set("name", "张三")
            .set("id_number", "420202199001011231")
            .set("status", "active")
            .commit()
    });
    w1.make(|d| {
        d.edit(f.kp)
            .append(
                "visits",
                entry(
                    "2026-01-01T10:00:00+08:00",
                    &[("visitor", "w1"), ("method", "in_person")],
                ),
            )
            .commit()
    });
    let inspected = format!("{}T00:00:00+08:00", t - Duration::days(10));
    w1.make(|d| {
        d.create("place", "g1", f.pl1)
            .set("name", "星光KTV")
            .set("location", at(30.51, 114.41))
            .append("inspections", entry(&inspected, &[("result", "pass")]))
            .commit()
    });
    w1.make(|d| {
        d.create("place", "g1", f.pl2)
            .set("name", "便利店")
            .set("location", at(30.51, 114.40))
            .commit()
    });
    w1.make(|d| {
        d.create("petition", "g2", f.pt)
            .set("category", "land")
            .set("status", "received")
            .set("received_on", "2026-09-01")
            .commit()
    });
    w1.sync(s);
    // w3 renames pl2 while w1, offline, renames it too: a conflict.
    w3.sync(s);
    w3.make(|d| d.edit(f.pl2).set("name", "便利店A").commit());
    w1.make(|d| d.edit(f.pl2).set("name", "便利店B").commit());
    w3.sync(s);
    w1.sync(s);

    w2.make(|d| {
        d.create("hazard", "g3", f.h1)
            .set("category", "fire")
            .set("status", "reported")
            .set("location", at(30.60, 114.50))
            .commit()
    });
    w2.sync(s);

    let session = |outcome: &str| {
        entry(
            "2026-11-20T10:00:00+08:00",
            &[("mediator", "med"), ("outcome", outcome)],
        )
    };
    med.make(|d| {
        d.create("dispute", "g2", f.dp1)
            .set("category", "neighbour")
            .set("status", "registered")
            .set("received_on", "2026-10-01")
            .commit()
    });
    med.make(|d| {
        d.edit(f.dp1)
            .set("status", "mediating")
            .append("sessions", session("continued"))
            .commit()
    });
    med.make(|d| {
        d.create("dispute", "g1", f.dp2)
            .set("category", "family")
            .set("status", "registered")
            .commit()
    });
    med.make(|d| {
        d.edit(f.dp2)
            .set("status", "mediating")
            .append("sessions", session("agreed"))
            .commit()
    });
    med.make(|d| d.edit(f.dp2).set("status", "agreed").commit());
    med.make(|d| d.edit(f.dp2).set("status", "closed").commit());
    med.sync(s);

    let at = |day: NaiveDate, hm: &str| format!("{day}T{hm}:00+08:00");
    pat.make(|d| {
        d.create("patrol_round", "g1", f.r1)
            .set("status", "planned")
            .set("planned_start", at(t, "08:00"))
            .add("planned_checkpoints", "A")
            .add("planned_checkpoints", "B")
            .add("planned_checkpoints", "C")
            .add("planned_checkpoints", "D")
            .commit()
    });
    pat.make(|d| d.edit(f.r1).set("status", "in_progress").commit());
    for (hm, cp, how) in [
        ("08:05", "A", "qr"),
        ("08:20", "B", "nfc"),
        ("08:21", "B", "manual"),
    ] {
        pat.make(|d| {
            d.edit(f.r1)
                .append(
                    "check_ins",
                    entry(&at(t, hm), &[("checkpoint", cp), ("method", how)]),
                )
                .commit()
        });
    }
    pat.make(|d| {
        d.create("patrol_round", "g2", f.r2)
            .set("status", "planned")
            .set("planned_start", at(t - Duration::days(1), "09:00"))
            .add("planned_checkpoints", "A")
            .add("planned_checkpoints", "B")
            .commit()
    });
    pat.make(|d| {
        d.create("patrol_round", "g2", f.r3)
            .set("status", "planned")
            .set("planned_start", at(t, "00:00"))
            .add("planned_checkpoints", "A")
            .commit()
    });
    pat.make(|d| d.edit(f.r3).set("status", "cancelled").commit());
    pat.sync(s);

    sup.sync(s);
    for st in [
        "accepted",
        "verified",
        "dispatched",
        "handled",
        "checked",
        "closed",
    ] {
        sup.make(|d| d.edit(f.e3).set("status", st).commit());
    }
    sup.make(|d| d.edit(f.e4).escalate(Level::Community).commit());
    sup.sync(s);
    f
}

/// A period around today (a day either side): the fixture was made today,
/// whatever the hour in China.
pub fn around() -> String {
    let t = today();
    format!(
        "from={}&to={}",
        t - Duration::days(1),
        t + Duration::days(1)
    )
}
