//! Field workflows end to end through HTTP, with devices editing offline:
//! each case flow, deadlines from the rules table, the escalation sweep with a
//! controllable clock, a status conflict raised and resolved, and a move
//! outside the flow flagged rather than dropped.

mod common;

use common::{on_both_backends, Backend, Phone, TestServer};
use gridsync_core::{Entry, Level, Value};
use serde_json::{json, Value as Json};
use uuid::Uuid;

on_both_backends!(
    an_event_goes_through_its_flow_with_two_devices,
    a_status_conflict_is_shown_and_resolved,
    a_move_outside_the_flow_is_flagged_not_dropped,
    hazards_disputes_petitions_and_key_persons,
    patrol_check_ins_from_two_devices,
    the_sweep_escalates_overdue_cases_one_level,
    a_petition_escalated_twice_stays_overdue_and_on_the_lists,
    residents_registered_twice_are_listed_until_dismissed,
    residents_registered_twice_are_merged_into_one,
);

const DAY_MS: i64 = 86_400_000;

fn entry(at: &str, fields: &[(&str, &str)]) -> Entry {
    Entry {
        id: Uuid::new_v4(),
        at: at.into(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    }
}

/// A photos entry naming an attachment (its bytes are not uploaded here).
fn photo(at: &str, stage: &str, sha: char) -> Entry {
    let mut e = entry(at, &[("stage", stage)]);
    e.fields.insert(
        "photo".into(),
        Value::from(gridsync_core::Attachment {
            sha256: sha.to_string().repeat(64),
            media_type: "image/jpeg".into(),
            size: 1024,
            caption: Some(format!("{stage} photo")),
        }),
    );
    e
}

fn record(s: &TestServer, id: Uuid) -> Json {
    s.get(&format!("/v1/records/{id}"))["record"].clone()
}

fn ms(rfc3339: &Json) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// An admin's escalation sweep as of `at_ms`: what it did.
fn sweep_at(s: &TestServer, admin: &str, at_ms: i64) -> Json {
    let at = chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap()
        .to_rfc3339();
    let (st, body) = s.call(
        s.authed(ureq::post(&s.url("/v1/admin/sweep")), admin),
        Some(json!({"at": at})),
    );
    assert_eq!(st, 200, "{body}");
    body
}

fn people(s: &TestServer) -> (Phone, Phone) {
    let worker = Phone::enroll(s, "worker", "grid_worker", "g1", &["g1"]);
    let sup = Phone::enroll(s, "supervisor", "supervisor", "p1", &["g1"]);
    (worker, sup)
}

fn an_event_goes_through_its_flow_with_two_devices(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w, mut sup) = people(&s);
    let id = Uuid::new_v4();
    w.make(|d| {
        d.create("event", "g1", id)
            .set("category", "fire_safety")
            .set("title", "Blocked fire exit")
            .set("severity", "high")
            .set("status", "reported")
            .append("photos", photo("2026-11-28T09:00:00+08:00", "before", 'a'))
            .append(
                "actions",
                entry("2026-11-28T09:00:00+08:00", &[("action", "report")]),
            )
            .commit()
    });
    w.sync(&s);
    let r = record(&s, id);
    let created = ms(&r["created_at"]);
    assert_eq!(
        ms(&r["deadline"]),
        created + 3 * DAY_MS,
        "high severity: 72 hours"
    );
    sup.sync(&s);
    // Dispatched to a department of the district: 城管中队.
    let (st, body) = s.call(
        s.authed(ureq::post(&s.url("/v1/org/nodes")), &s.admin_token()),
        Some(json!({"code": "cg", "parent": "d", "level": "department", "name": "城管中队"})),
    );
    assert_eq!(st, 201, "{body}");
    for status in ["accepted", "verified", "dispatched"] {
        sup.make(|d| d.edit(id).set("status", status).commit());
    }
    sup.make(|d| {
        d.edit(id)
            .set("assignee", "department:cg")
            .append(
                "actions",
                entry(
                    "2026-11-28T10:00:00+08:00",
                    &[("action", "dispatch"), ("note", "to 城管")],
                ),
            )
            .commit()
    });
    sup.sync(&s);
    assert_eq!(record(&s, id)["fields"]["status"]["value"], "dispatched");
    assert_eq!(
        record(&s, id)["fields"]["assignee"]["value"],
        "department:cg"
    );
    // The worker, offline, handles it and adds the after photo.
    w.sync(&s);
    w.make(|d| {
        d.edit(id)
            .set("status", "handled")
            .append("photos", photo("2026-11-28T15:00:00+08:00", "after", 'b'))
            .append(
                "actions",
                entry("2026-11-28T15:00:00+08:00", &[("action", "handle")]),
            )
            .commit()
    });
    // The device refuses a move its flow does not allow.
    assert_eq!(
        w.device
            .edit(id)
            .set("status", "reported")
            .commit()
            .unwrap_err()
            .code(),
        "transition_not_allowed"
    );
    w.sync(&s);
    sup.sync(&s);
    sup.make(|d| d.edit(id).set("status", "checked").commit());
    sup.make(|d| d.edit(id).set("status", "closed").commit());
    sup.sync(&s);
    let r = record(&s, id);
    assert_eq!(r["fields"]["status"]["value"], "closed");
    assert!(r["closed_at"].is_string());
    assert!(r.get("deadline").is_none(), "a closed case is due nothing");
    assert_eq!(r["fields"]["actions"].as_array().unwrap().len(), 3);
    let photos = r["fields"]["photos"].as_array().unwrap();
    let stages: Vec<_> = photos.iter().map(|p| &p["fields"]["stage"]).collect();
    assert_eq!(stages, [&json!("before"), &json!("after")]);
    assert_eq!(photos[1]["fields"]["photo"]["sha256"], "b".repeat(64));
    assert_eq!(photos[1]["fields"]["photo"]["caption"], "after photo");
    assert!(r.get("flag").is_none());
    // Reopened (返工): it is open again, with a deadline.
    sup.make(|d| d.edit(id).set("status", "reopened").commit());
    sup.sync(&s);
    let r = record(&s, id);
    assert!(r.get("closed_at").is_none() && r["deadline"].is_string());
}

fn a_status_conflict_is_shown_and_resolved(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w, mut sup) = people(&s);
    let mut w2 = Phone::enroll(&s, "worker2", "grid_worker", "g1", &["g1"]);
    let id = Uuid::new_v4();
    w.make(|d| {
        d.create("event", "g1", id)
            .set("status", "reported")
            .set("title", "t")
            .commit()
    });
    w.sync(&s);
    w2.sync(&s);
    // Offline, one accepts, the other rejects.
    w.make(|d| d.edit(id).set("status", "accepted").commit());
    w2.make(|d| d.edit(id).set("status", "rejected").commit());
    w.sync(&s);
    w2.sync(&s);
    let r = record(&s, id);
    assert_eq!(r["conflicted"], true);
    let conflict = r["fields"]["status"]["conflict"].as_array().unwrap();
    let values: Vec<&str> = conflict
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 2);
    assert!(values.contains(&"accepted") && values.contains(&"rejected"));
    let listed = s.get("/v1/grids/g1/conflicts");
    assert_eq!(listed["records"][0]["id"], id.to_string());
    // The supervisor, having seen both, decides.
    sup.sync(&s);
    sup.make(|d| d.edit(id).set("status", "verified").commit());
    sup.sync(&s);
    let r = record(&s, id);
    assert_eq!(r["conflicted"], false);
    assert_eq!(r["fields"]["status"]["value"], "verified");
    assert!(r.get("flag").is_none(), "{r}");
    assert!(s.get("/v1/grids/g1/conflicts")["records"]
        .as_array()
        .unwrap()
        .is_empty());
}

fn a_move_outside_the_flow_is_flagged_not_dropped(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w, mut sup) = people(&s);
    let id = Uuid::new_v4();
    w.make(|d| {
        d.create("event", "g1", id)
            .set("status", "reported")
            .set("title", "t")
            .commit()
    });
    w.sync(&s);
    // An old app (or a hand-made client) jumps straight to `closed`.
    let mut jump = w.device.edit(id).set("title", "t2").commit().unwrap();
    jump.ops = vec![gridsync_core::Op::Set {
        field: "status".into(),
        value: Value::from("closed"),
        seen: w
            .device
            .replica()
            .record(id)
            .map(|_| gridsync_core::Clock::from([(w.actor(), 1)]))
            .unwrap(),
    }];
    w.outbox.push(jump);
    let results = w.sync(&s);
    assert_eq!(results[0]["status"], "applied", "merged, not refused");
    let r = record(&s, id);
    assert_eq!(r["fields"]["status"]["value"], "closed");
    let flag = r["flag"].as_str().unwrap();
    assert!(
        flag.contains("reported") && flag.contains("closed"),
        "{flag}"
    );
    // A supervisor sees the flag; a move within the flow afterwards clears it.
    sup.sync(&s);
    sup.make(|d| d.edit(id).set("status", "reopened").commit());
    sup.sync(&s);
    assert!(record(&s, id).get("flag").is_none());
}

fn hazards_disputes_petitions_and_key_persons(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w, mut sup) = people(&s);
    let police = Phone::enroll(&s, "police", "police", "c1", &["g1"]);
    let (hazard, dispute, petition, person) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    // Hazard: reported, confirmed, listed (挂牌整治) with a leader and a rectification day.
    w.make(|d| {
        d.create("hazard", "g1", hazard)
            .set("category", "fire")
            .set("severity", "high")
            .set("status", "reported")
            .commit()
    });
    w.make(|d| d.edit(hazard).set("status", "confirmed").commit());
    w.make(|d| {
        d.edit(hazard)
            .set("status", "listed")
            .set("listed", true)
            .set("responsible_leader", "街道办 李主任")
            .set("rectification_deadline", "2026-12-15")
            .set("listed_on", "2026-11-28")
            .commit()
    });
    // Dispute: sessions appended, an agreement, a follow-up visit.
    w.make(|d| {
        d.create("dispute", "g1", dispute)
            .set("category", "neighbour")
            .add("parties", "张三")
            .add("parties", "李四")
            .set("channel", "peoples")
            .set("status", "registered")
            .set("received_on", "2026-11-20")
            .commit()
    });
    for (at, outcome) in [
        ("2026-11-21T10:00:00+08:00", "continued"),
        ("2026-11-24T10:00:00+08:00", "agreed"),
    ] {
        w.make(|d| {
            let e = entry(at, &[("mediator", "调解员 刘"), ("outcome", outcome)]);
            d.edit(dispute)
                .set("status", "mediating")
                .append("sessions", e)
                .commit()
        });
    }
    w.sync(&s);
    // A mediator's phone records a session of its own while the worker's
    // phone, offline, records the agreement: both survive.
    let mut mediator = Phone::enroll(&s, "mediator", "mediator", "c1", &["g1"]);
    mediator.sync(&s);
    mediator.make(|d| {
        let e = entry(
            "2026-11-24T15:00:00+08:00",
            &[("mediator", "律师 陈"), ("outcome", "agreed")],
        );
        d.edit(dispute)
            .append("sessions", e)
            .set("mediator", "律师 陈")
            .commit()
    });
    w.make(|d| {
        d.edit(dispute)
            .set("status", "agreed")
            .set("agreement", "楼上修复防水，赔偿 500 元")
            .commit()
    });
    mediator.sync(&s);
    // Petition: received with its date.
    w.make(|d| {
        d.create("petition", "g1", petition)
            .add("petitioners", "王五")
            .set("group_size", 1i64)
            .set("matter", "拖欠工资")
            .set("status", "received")
            .set("received_on", "2026-11-25")
            .commit()
    });
    // Key person: visited on 1 November, interval 30 days.
    w.make(|d| {
        d.create("key_person", "g1", person)
            .set("name", "赵六")
            .set("risk_level", "medium")
            .set("community_police", "民警 孙")
            .add("duties", "stabilize")
            .append(
                "visits",
                entry(
                    "2026-11-01T10:00:00+08:00",
                    &[("visitor", "民警 孙"), ("method", "in_person")],
                ),
            )
            .commit()
    });
    w.sync(&s);
    let date = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - 8 * 3_600_000
    };
    assert_eq!(
        ms(&record(&s, hazard)["deadline"]),
        date("2026-12-16"),
        "end of the rectification day"
    );
    assert_eq!(
        ms(&record(&s, dispute)["deadline"]),
        date("2026-11-20") + 30 * DAY_MS,
        "a month from receipt"
    );
    let d = record(&s, dispute);
    assert_eq!(
        d["fields"]["sessions"].as_array().unwrap().len(),
        3,
        "every session kept"
    );
    assert_eq!(d["fields"]["status"]["value"], "agreed");
    assert_eq!(d["fields"]["mediator"]["value"], "律师 陈");
    assert_eq!(
        ms(&record(&s, petition)["deadline"]),
        date("2026-11-25") + 15 * DAY_MS,
        "accept or not within 15 days"
    );
    let visit = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00+08:00")
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        ms(&record(&s, person)["deadline"]),
        visit + 30 * DAY_MS,
        "next visit due"
    );
    // The petition is accepted with one extension; the reply is due 60 + 30 days after.
    sup.sync(&s);
    sup.make(|d| {
        d.edit(petition)
            .set("status", "accepted")
            .set("accepted_on", "2026-11-27")
            .commit()
    });
    sup.make(|d| {
        d.edit(petition)
            .set("status", "replying")
            .set("extension_days", 30i64)
            .set("extension_reason", "涉及多部门核实")
            .commit()
    });
    sup.sync(&s);
    assert_eq!(
        ms(&record(&s, petition)["deadline"]),
        date("2026-11-27") + 90 * DAY_MS
    );
    // The police officer visits again: the next visit moves.
    let mut police = police;
    police.sync(&s);
    police.make(|d| {
        let e = entry(
            "2026-11-28T16:00:00+08:00",
            &[
                ("visitor", "民警 孙"),
                ("method", "phone"),
                ("risk_assessment", "low"),
            ],
        );
        d.edit(person)
            .set("visit_interval_days", 14i64)
            .append("visits", e)
            .commit()
    });
    police.sync(&s);
    let last = chrono::DateTime::parse_from_rfc3339("2026-11-28T16:00:00+08:00")
        .unwrap()
        .timestamp_millis();
    assert_eq!(ms(&record(&s, person)["deadline"]), last + 14 * DAY_MS);
    // The hazard is fixed: re-inspected and delisted; it closes.
    w.sync(&s);
    w.make(|d| d.edit(hazard).set("status", "rectifying").commit());
    w.make(|d| {
        let e = entry("2026-12-10T10:00:00+08:00", &[("result", "fixed")]);
        d.edit(hazard)
            .set("status", "rechecked")
            .append("reinspections", e)
            .commit()
    });
    w.make(|d| {
        d.edit(hazard)
            .set("status", "delisted")
            .set("delisted_on", "2026-12-10")
            .commit()
    });
    w.make(|d| d.edit(hazard).set("status", "closed").commit());
    w.sync(&s);
    let r = record(&s, hazard);
    assert!(r["closed_at"].is_string() && r.get("deadline").is_none());
    assert_eq!(r["fields"]["reinspections"].as_array().unwrap().len(), 1);
    let (_, rules) = s.get_as(&w.token, "/v1/rules");
    assert!(rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["collection"] == "petition"));
}

fn patrol_check_ins_from_two_devices(b: &Backend) {
    let s = TestServer::start(b);
    let mut lead = Phone::enroll(&s, "patrol-lead", "patrol", "c1", &["g1"]);
    let mut mate = Phone::enroll(&s, "patrol-mate", "patrol", "c1", &["g1"]);
    let round = Uuid::new_v4();
    lead.make(|d| {
        d.create("patrol_round", "g1", round)
            .set("route", "夜巡一号线")
            .set("status", "planned")
            .add("planned_checkpoints", "东门")
            .add("planned_checkpoints", "驿站")
            .add("planned_checkpoints", "北桥")
            .add("members", "patrol-lead")
            .add("members", "patrol-mate")
            .commit()
    });
    lead.sync(&s);
    mate.sync(&s);
    lead.make(|d| {
        d.edit(round)
            .set("status", "in_progress")
            .set("started_at", "2026-11-28T21:00:00+08:00")
            .commit()
    });
    // Both check in offline, one by QR with a position, one by hand.
    lead.make(|d| {
        let mut e = entry(
            "2026-11-28T21:10:00+08:00",
            &[("checkpoint", "东门"), ("method", "qr")],
        );
        e.fields.insert(
            "position".into(),
            Value::Geo(gridsync_core::Geo {
                lat: 30.2,
                lng: 115.1,
            }),
        );
        d.edit(round).append("check_ins", e).commit()
    });
    mate.make(|d| {
        d.edit(round)
            .append(
                "check_ins",
                entry(
                    "2026-11-28T21:20:00+08:00",
                    &[
                        ("checkpoint", "驿站"),
                        ("method", "manual"),
                        ("note", "门锁坏了"),
                    ],
                ),
            )
            .commit()
    });
    lead.make(|d| {
        let e = entry(
            "2026-11-28T21:40:00+08:00",
            &[("checkpoint", "菜场"), ("method", "manual")],
        );
        d.edit(round).append("check_ins", e).commit()
    });
    mate.make(|d| d.edit(round).increment("sightings", 2).commit());
    lead.make(|d| d.edit(round).increment("sightings", 1).commit());
    lead.make(|d| {
        d.edit(round)
            .set("status", "completed")
            .set("ended_at", "2026-11-28T22:00:00+08:00")
            .commit()
    });
    // The mate's phone, offline, recorded its own start (earlier) and end
    // (later): the round ran from the first start to the last end.
    mate.make(|d| {
        d.edit(round)
            .set("started_at", "2026-11-28T20:50:00+08:00")
            .set("ended_at", "2026-11-28T22:15:00+08:00")
            .commit()
    });
    mate.sync(&s);
    lead.sync(&s);
    mate.sync(&s);
    let r = record(&s, round);
    assert_eq!(
        r["fields"]["started_at"]["value"],
        "2026-11-28T20:50:00+08:00"
    );
    assert_eq!(
        r["fields"]["ended_at"]["value"],
        "2026-11-28T22:15:00+08:00"
    );
    assert!(r["fields"]["started_at"].get("conflict").is_none(), "{r}");
    assert_eq!(r["conflicted"], false, "{r}");
    // The patrol report of the day it was walked: 东门 and 驿站 visited, 北桥
    // missed, and the lead's extra stop at 菜场 (in no plan) noticed.
    let sup = Phone::enroll(&s, "patrol-sup", "supervisor", "c1", &["g1"]);
    let (st, rep) = s.get_as(&sup.token, "/v1/reports/patrol?node=c1&date=2026-11-28");
    assert_eq!(st, 200, "{rep}");
    let line = &rep["rounds"][0];
    assert_eq!(line["id"], round.to_string(), "{rep}");
    assert_eq!(
        (
            &line["day"],
            &line["planned"],
            &line["visited"],
            &line["missed_checkpoints"],
            &line["unplanned"]
        ),
        (
            &json!("2026-11-28"),
            &json!(3),
            &json!(2),
            &json!(1),
            &json!(1)
        ),
        "{rep}"
    );
    assert_eq!(rep["totals"]["unplanned"], 1, "{rep}");
    let check_ins = r["fields"]["check_ins"].as_array().unwrap();
    let points: Vec<&str> = check_ins
        .iter()
        .map(|c| c["fields"]["checkpoint"].as_str().unwrap())
        .collect();
    assert_eq!(points, ["东门", "驿站", "菜场"], "in time order");
    assert_eq!(
        check_ins[0]["fields"]["position"],
        json!({"lat": 30.2, "lng": 115.1})
    );
    assert_eq!(r["fields"]["sightings"], 3);
    assert_eq!(r["fields"]["status"]["value"], "completed");
    assert_eq!(lead.device.replica().view(), mate.device.replica().view());
}

fn the_sweep_escalates_overdue_cases_one_level(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w, mut sup) = people(&s);
    let (late, fresh, household) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    w.make(|d| {
        d.create("event", "g1", late)
            .set("status", "reported")
            .set("severity", "medium")
            .set("title", "late")
            .commit()
    });
    w.make(|d| {
        d.create("event", "g1", fresh)
            .set("status", "reported")
            .set("severity", "low")
            .set("title", "fresh")
            .commit()
    });
    w.make(|d| {
        d.create("household", "g1", household)
            .set("address", "5 Lane")
            .commit()
    });
    w.sync(&s);
    let created = ms(&record(&s, late)["created_at"]);
    let admin = s.admin_token();
    let sweep = |at_ms: i64| sweep_at(&s, &admin, at_ms);
    assert_eq!(
        sweep(created + DAY_MS)["escalated"],
        0,
        "nothing is due yet"
    );
    // Eight days on, the medium event (7 days) is overdue; the low one (15) is not.
    let r = sweep(created + 8 * DAY_MS);
    assert_eq!(r["escalated"], 1, "{r}");
    let rec = record(&s, late);
    assert_eq!(rec["level"], "community");
    let rec_history = s.get(&format!("/v1/records/{late}"))["history"].clone();
    let last = rec_history.as_array().unwrap().last().unwrap();
    assert_eq!(last["actor"], 1, "written by the server's own actor");
    assert_eq!(
        last["change"]["ops"][0]["escalate"],
        json!({"from": "grid", "to": "community"})
    );
    assert_eq!(ms(&rec["level_since"]), created + 8 * DAY_MS);
    // A new level, a new level deadline; the statutory one (7 days from the
    // report) is gone and stays gone: still overdue.
    assert_eq!(ms(&rec["level_deadline"]), created + 15 * DAY_MS);
    assert_eq!(ms(&rec["statutory_deadline"]), created + 7 * DAY_MS);
    assert_eq!(rec["overdue"], true, "escalated is not forgiven");
    assert_eq!(record(&s, fresh)["level"], "grid");
    // It now shows in the community's case list, and not yet in the park's.
    let (st, community) = s.get_as(&sup.token, "/v1/nodes/c1/cases");
    assert_eq!(st, 200);
    let ids: Vec<&str> = community["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late.to_string().as_str()]);
    assert!(s.get_as(&sup.token, "/v1/nodes/p1/cases").1["records"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        s.get_as(&sup.token, "/v1/nodes/g1/cases").1["records"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.get_as(&w.token, "/v1/nodes/c1/cases").0,
        403,
        "a grid worker's node is its grid"
    );
    // The same sweep again does nothing; the next period escalates again.
    assert_eq!(sweep(created + 8 * DAY_MS)["escalated"], 0);
    let r = sweep(created + 16 * DAY_MS);
    assert_eq!(
        r["escalated"], 2,
        "the late one to park, the fresh one (15 days) to community: {r}"
    );
    assert_eq!(record(&s, late)["level"], "park");
    // A level never goes down: the worker's phone, which last saw the case
    // at grid level, escalates it to community; it stays at park.
    w.make(|d| d.edit(late).escalate(Level::Community).commit());
    let results = w.sync(&s);
    assert_eq!(results[0]["status"], "applied");
    assert_eq!(record(&s, late)["level"], "park");
    // A supervisor escalates by hand: to the district.
    sup.sync(&s);
    sup.make(|d| d.edit(late).escalate(Level::District).commit());
    sup.sync(&s);
    assert_eq!(record(&s, late)["level"], "district");
    assert_eq!(
        sweep(created + 400 * DAY_MS)["escalated"],
        1,
        "only the fresh one is left below district"
    );
    assert_eq!(record(&s, late)["level"], "district");
    assert_eq!(
        record(&s, late)["overdue"],
        true,
        "past due at the top: flagged overdue"
    );
    // Households have no deadline and are never swept.
    assert!(record(&s, household).get("deadline").is_none());
    let (st, _) = s.call(
        s.authed(ureq::post(&s.url("/v1/admin/sweep")), &sup.token),
        Some(json!({})),
    );
    assert_eq!(st, 403, "only admins sweep on demand");
}

/// The overdue list of `node`, as the node's supervisor reads it: ids.
fn overdue_at(s: &TestServer, token: &str, node: &str, list: &str) -> Vec<String> {
    let (st, r) = s.get_as(token, &format!("/v1/reports/overdue?node={node}"));
    assert_eq!(st, 200, "{r}");
    r[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

fn a_petition_escalated_twice_stays_overdue_and_on_the_lists(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w, _) = people(&s);
    let mut district = Phone::enroll(&s, "chief", "supervisor", "d", &["g1"]);
    let (petition, event) = (Uuid::new_v4(), Uuid::new_v4());
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let day_of = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .with_timezone(&china)
            .format("%Y-%m-%d")
            .to_string()
    };
    let start_of = |day: &str| {
        chrono::DateTime::parse_from_rfc3339(&format!("{day}T00:00:00+08:00"))
            .unwrap()
            .timestamp_millis()
    };
    // A petition received 40 days ago and registered only now; an event
    // whose phone clock runs a year behind.
    let received_day = day_of(chrono::Utc::now().timestamp_millis() - 40 * DAY_MS);
    let received_on = start_of(&received_day);
    w.make(|d| {
        d.create("petition", "g1", petition)
            .set("status", "received")
            .set("matter", "小区停车位分配")
            .set("received_on", received_day.as_str())
            .commit()
    });
    w.make(|d| {
        d.create("event", "g1", event)
            .set("status", "reported")
            .set("severity", "critical")
            .set("title", "燃气泄漏")
            .set("reported_at", "2025-11-30T09:00:00+08:00")
            .commit()
    });
    w.sync(&s);
    let created = ms(&record(&s, petition)["created_at"]);
    // The phone's year-old clock moves the report back three days at most.
    let ev = record(&s, event);
    assert_eq!(
        ms(&ev["statutory_deadline"]),
        ms(&ev["created_at"]) - 3 * DAY_MS + DAY_MS
    );
    assert_eq!(ev["overdue"], true, "{ev}");
    // The petition is late from the start by its 15 days from receipt; its
    // grid still has 15 days of its own.
    let p = record(&s, petition);
    assert_eq!(
        ms(&p["statutory_deadline"]),
        received_on + 15 * DAY_MS,
        "{p}"
    );
    assert_eq!(ms(&p["level_deadline"]), created + 15 * DAY_MS, "{p}");
    assert_eq!(p["overdue"], true, "{p}");
    let admin = s.admin_token();
    let sweep = |at_ms: i64| sweep_at(&s, &admin, at_ms);
    // A sweep now escalates nothing: each level has its own time to act.
    sweep(created + DAY_MS);
    assert_eq!(record(&s, petition)["level"], "grid");
    // The grid's 15 days run out: to the community. Then the community's:
    // to the park. Overdue all along against the 15 days from receipt.
    for (at, level) in [
        (created + 16 * DAY_MS, "community"),
        (created + 32 * DAY_MS, "park"),
    ] {
        sweep(at);
        let p = record(&s, petition);
        assert_eq!(
            (p["level"].as_str(), &p["overdue"]),
            (Some(level), &json!(true)),
            "{p}"
        );
        assert_eq!(
            ms(&p["statutory_deadline"]),
            received_on + 15 * DAY_MS,
            "kept: {p}"
        );
        assert_eq!(
            ms(&p["level_deadline"]),
            at + 15 * DAY_MS,
            "a new level's time: {p}"
        );
        assert_eq!(ms(&p["deadline"]), received_on + 15 * DAY_MS);
    }
    // On the overdue lists of its grid, of the park it is at now, and of the
    // district; nothing left a list on the way.
    for node in ["g1", "p1", "d"] {
        let petitions = overdue_at(&s, &district.token, node, "petitions");
        assert!(
            petitions.contains(&petition.to_string()),
            "{node}: {petitions:?}"
        );
        let cases = overdue_at(&s, &district.token, node, "cases");
        assert!(cases.contains(&event.to_string()), "{node}: {cases:?}");
    }
    // Accepted five days ago: the 60 days from acceptance are its
    // statutory limit now, and it is no longer late.
    district.sync(&s);
    let accepted_day = day_of(chrono::Utc::now().timestamp_millis() - 5 * DAY_MS);
    district.make(|d| {
        d.edit(petition)
            .set("status", "accepted")
            .set("accepted_on", accepted_day.as_str())
            .commit()
    });
    district.sync(&s);
    let p = record(&s, petition);
    assert_eq!(
        ms(&p["statutory_deadline"]),
        start_of(&accepted_day) + 60 * DAY_MS,
        "{p}"
    );
    assert_eq!(p["overdue"], false, "{p}");
    assert!(!overdue_at(&s, &district.token, "d", "petitions").contains(&petition.to_string()));
}

fn residents_registered_twice_are_listed_until_dismissed(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w1, _) = people(&s);
    let mut w2 = Phone::enroll(&s, "worker2", "grid_worker", "g2", &["g2"]);
    let chief = Phone::enroll(&s, "chief", "supervisor", "d", &["g1"]);
    let (shared, other) = ("420202199001011231", "11010519491231002X");
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // The same person registered by two workers in two grids, and another.
    w1.make(|d| {
        d.create("resident", "g1", a)
            .set("name", "王五")
            .set("id_number", shared)
            .commit()
    });
    w1.make(|d| {
        d.create("resident", "g1", c)
            .set("name", "赵六")
            .set("id_number", other)
            .commit()
    });
    w2.make(|d| {
        d.create("resident", "g2", b)
            .set("name", "王五")
            .set("id_number", shared)
            .commit()
    });
    w1.sync(&s);
    w2.sync(&s);
    let list = |token: &str, node: &str| s.get_as(token, &format!("/v1/nodes/{node}/duplicates"));
    let (st, d) = list(&chief.token, "d");
    assert_eq!(st, 200, "{d}");
    let groups = d["duplicates"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{d}");
    assert_eq!(groups[0]["id_number"], shared);
    let mut ids: Vec<&str> = groups[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = [a.to_string(), b.to_string()];
    want.sort();
    assert_eq!(ids, want, "{d}");
    // Within one grid there is nothing twice.
    assert!(list(&chief.token, "g1").1["duplicates"]
        .as_array()
        .unwrap()
        .is_empty());
    // Only supervisors read it.
    assert_eq!(list(&w1.token, "g1").0, 403);
    // Dismissed (no mistake): no longer listed; the read and the decision
    // are audited.
    let (st, body) = s.call(
        s.authed(
            ureq::post(&s.url(&format!("/v1/duplicates/{shared}/dismiss"))),
            &chief.token,
        ),
        Some(json!({})),
    );
    assert_eq!(st, 200, "{body}");
    assert!(list(&chief.token, "d").1["duplicates"]
        .as_array()
        .unwrap()
        .is_empty());
    let (st, _) = s.call(
        s.authed(
            ureq::post(&s.url("/v1/duplicates/12345/dismiss")),
            &chief.token,
        ),
        Some(json!({})),
    );
    assert_eq!(st, 400);
    let (st, audit) = s.get_as(&s.admin_token(), "/v1/audit");
    assert_eq!(st, 200, "{audit}");
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"read_duplicates") && actions.contains(&"dismiss_duplicate"),
        "{actions:?}"
    );
}

/// A supervisor merges a resident registered twice: the kept record takes
/// what it lacked from the other, the other is deleted (changes by the
/// server's actor that phones pull), and the number is no longer listed.
fn residents_registered_twice_are_merged_into_one(b: &Backend) {
    let s = TestServer::start(b);
    let (mut w1, _) = people(&s);
    let mut w2 = Phone::enroll(&s, "worker2", "grid_worker", "g2", &["g2"]);
    let chief = Phone::enroll(&s, "chief", "supervisor", "d", &["g1"]);
    let shared = "420202199001011231";
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    w1.make(|d| {
        d.create("resident", "g1", a)
            .set("name", "王五")
            .set("id_number", shared)
            .commit()
    });
    w2.make(|d| {
        d.create("resident", "g2", b)
            .set("name", "王五")
            .set("id_number", shared)
            .set("phone", "13812345678")
            .set("employer", "黄石港务")
            .add("tags", "租户")
            .commit()
    });
    w1.sync(&s);
    w2.sync(&s);
    let merge = |token: &str, keep: Uuid| {
        s.call(
            s.authed(
                ureq::post(&s.url(&format!("/v1/duplicates/{shared}/merge"))),
                token,
            ),
            Some(json!({"keep": keep})),
        )
    };
    // Only supervisors, and only one of the residents sharing it.
    assert_eq!(merge(&w1.token, a).0, 403);
    let (st, body) = merge(&chief.token, Uuid::new_v4());
    assert_eq!(
        (st, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (st, body) = merge(&chief.token, a);
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["decision"], "merged");
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "applied"),
        "{body}"
    );
    let kept = record(&s, a);
    assert_eq!(kept["fields"]["phone"]["value"], "13812345678", "{kept}");
    assert_eq!(kept["fields"]["employer"]["value"], "黄石港务");
    assert_eq!(kept["fields"]["tags"], json!(["租户"]));
    assert_eq!(kept["fields"]["name"]["value"], "王五");
    let (st, gone) = s.get_as(&chief.token, &format!("/v1/records/{b}"));
    assert_eq!(st, 200, "{gone}");
    assert_eq!(gone["record"]["deleted"], true, "{gone}");
    // The phones receive it like any change.
    w2.sync(&s);
    assert!(w2.device.replica().record(b).unwrap().view().deleted);
    let (_, d) = s.get_as(&chief.token, "/v1/nodes/d/duplicates");
    assert!(d["duplicates"].as_array().unwrap().is_empty(), "{d}");
}
