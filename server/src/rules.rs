//! Deadlines: a rules table from collection, status, severity and handling
//! level to a time limit. Pure. The defaults follow DOMAIN.md; a deployment
//! replaces them with a JSON file (`--rules`).

use chrono::{DateTime, NaiveDate};
use gridsync_core::schema::Schedule;
use gridsync_core::{Level, RecordView, Value};
use serde::{Deserialize, Serialize};

/// What a limit counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// From a fixed event of the case (`from`: a petition's receipt, a
    /// dispute's, an event's report), at every level: an escalation does not
    /// restart it.
    Statutory,
    /// From when the case reached its current level: each level gets its
    /// own time, and running out of it is what the sweep escalates.
    Level,
}

/// One rule. Of each kind, the first rule that matches a case gives that
/// due date: a case has a statutory due date and a level due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub collection: String,
    /// `statutory` or `level`; when absent, `statutory` if the rule has a
    /// `from`, else `level`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// Only cases in one of these statuses (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<String>>,
    /// Only cases of this severity (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Only cases at this handling level (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// A statutory limit's fixed event: a date or time field of the case
    /// (a petition's `received_on`, an event's `reported_at`). When the case
    /// does not have it, the limit counts from when the server received the
    /// case. A level limit has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub hours: i64,
    /// An integer field of days added to the limit (a petition's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plus_days: Option<String>,
}

impl Rule {
    /// What the rule's limit counts from.
    pub fn limit(&self) -> Limit {
        self.limit.unwrap_or(if self.from.is_some() {
            Limit::Statutory
        } else {
            Limit::Level
        })
    }
}

/// A case's two due dates (ms): overdue on either makes it overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadlines {
    /// Counted from the case's fixed event, kept across escalation.
    pub statutory: Option<i64>,
    /// Counted from when the case reached its level (or a date a supervisor
    /// wrote in its `deadline`); for a key person's visit or a place's
    /// inspection, the next one due.
    pub level: Option<i64>,
}

impl Deadlines {
    /// The earlier of the two: when the case is due.
    pub fn due(&self) -> Option<i64> {
        match (self.statutory, self.level) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// When a case's clocks start: when it reached its level, and when the
/// server received it (its first change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    pub level: i64,
    pub received: i64,
}

/// The field a case's report time is kept in, by the reporting phone's clock.
pub use gridsync_core::schema::REPORTED_AT;

/// How much earlier than the server's receipt a phone may say a case was
/// reported: a phone offline for up to three days reports truly; a clock
/// further behind moves the statutory due date at most this much earlier,
/// and a clock ahead never moves it later than the receipt.
pub const REPORT_SKEW_MS: i64 = 72 * HOUR_MS;

/// The report time to count from: the phone's, within
/// [receipt − [`REPORT_SKEW_MS`], receipt]; the receipt when none was sent.
pub fn report_time(phone: Option<i64>, received: i64) -> i64 {
    phone.map_or(received, |t| t.clamp(received - REPORT_SKEW_MS, received))
}

/// The deadline rules in force (`--rules FILE` replaces the defaults; the
/// file has this shape), tried in order (docs/WORKFLOWS.md, "Deadlines").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

const HOUR_MS: i64 = 3_600_000;

impl Default for Rules {
    /// The default time limits of every case collection, from its
    /// definition (`deadlines` in `sync-core/src/schema/collections.rs`):
    /// a limit for both clocks becomes a statutory rule from the case's
    /// fixed event and a level rule of the same time.
    fn default() -> Self {
        use gridsync_core::schema::Clocks;
        let mut rules = Vec::new();
        for limit in [Limit::Statutory, Limit::Level] {
            for c in gridsync_core::Schema::current().cases() {
                for d in c.deadlines {
                    let sets = match d.clocks {
                        Clocks::Both => true,
                        Clocks::Statutory => limit == Limit::Statutory,
                        Clocks::Level => limit == Limit::Level,
                    };
                    if !sets {
                        continue;
                    }
                    rules.push(Rule {
                        collection: c.name.into(),
                        limit: Some(limit),
                        status: d.status.map(|s| s.iter().map(|x| x.to_string()).collect()),
                        severity: d.severity.map(str::to_owned),
                        level: None,
                        from: d
                            .from
                            .filter(|_| limit == Limit::Statutory)
                            .map(str::to_owned),
                        hours: d.hours,
                        plus_days: d.plus_days.map(str::to_owned),
                    });
                }
            }
        }
        Rules { rules }
    }
}

fn date_ms(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    // A date counts from its start, China time (the deployment's zone).
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis() - 8 * HOUR_MS)
}

/// The latest entry of the schedule's log (by its time) plus its interval
/// in days; nothing when the record is idle or not scheduled.
fn next_after_log(view: &RecordView, schedule: &Schedule, since: i64) -> Option<i64> {
    let status = view.value("status").as_str();
    if status.is_some_and(|s| schedule.idle.contains(&s)) {
        return None;
    }
    if let Some((field, value)) = schedule.only {
        if view.value(field).as_str() != Some(value) {
            return None;
        }
    }
    let last = match view.fields.get(schedule.log) {
        Some(gridsync_core::FieldView::Log(entries)) => entries
            .iter()
            .filter_map(|e| date_ms(&Value::from(e.at.as_str())))
            .max(),
        _ => None,
    };
    let days = match view.value(schedule.interval_field) {
        Value::Int(d) => *d,
        _ => schedule.default_days,
    };
    Some(last.unwrap_or(since) + days * 24 * HOUR_MS)
}

impl Rules {
    pub fn from_json(json: &str) -> Result<Rules, String> {
        let rules: Rules = serde_json::from_str(json).map_err(|e| format!("rules file: {e}"))?;
        for r in &rules.rules {
            if gridsync_core::Flow::of(&r.collection).is_none() {
                return Err(format!("rules file: `{}` has no case flow", r.collection));
            }
            if r.hours <= 0 {
                return Err(format!("rules file: a limit of {} hours", r.hours));
            }
            if r.limit() == Limit::Level && r.from.is_some() {
                return Err(format!(
                    "rules file: a level limit of `{}` counts from when the case reached its level, not from `{}`",
                    r.collection,
                    r.from.as_deref().unwrap_or_default()
                ));
            }
        }
        Ok(rules)
    }

    /// When a record is next due (ms), or never: a case's statutory and
    /// level due dates (closed cases have none; an explicit `deadline`
    /// written on the case is its level due date), a key person's next visit
    /// (last visit + their interval, default 30 days), a place's next
    /// inspection (default every 10 days).
    pub fn deadlines(&self, view: &RecordView, since: Since) -> Deadlines {
        let schedule_only = |level| Deadlines {
            statutory: None,
            level,
        };
        let def = gridsync_core::Schema::current().collection(view.collection);
        if let Some(schedule) = def.and_then(|d| d.schedule.as_ref()) {
            return schedule_only(next_after_log(view, schedule, since.level));
        }
        let Some(flow) = gridsync_core::Flow::of(view.collection) else {
            return Deadlines::default();
        };
        let status = view.value("status").as_str();
        if status.is_some_and(|s| flow.is_terminal(s)) {
            return Deadlines::default();
        }
        let level = view.level.unwrap_or_default();
        let severity = view.value("severity").as_str();
        let first = |limit: Limit| {
            self.rules.iter().find(|r| {
                r.limit() == limit
                    && r.collection == view.collection
                    && r.status
                        .as_ref()
                        .is_none_or(|s| status.is_some_and(|st| s.iter().any(|x| x == st)))
                    && r.severity.as_deref().is_none_or(|s| Some(s) == severity)
                    && r.level.is_none_or(|l| l == level)
            })
        };
        let due = |r: &Rule, base: i64| {
            let extra_days = match r.plus_days.as_ref().map(|f| view.value(f)) {
                Some(Value::Int(d)) => *d,
                _ => 0,
            };
            base + r.hours * HOUR_MS + extra_days * 24 * HOUR_MS
        };
        let statutory = first(Limit::Statutory).map(|r| {
            let base = match r.from.as_deref() {
                Some(REPORTED_AT) => report_time(date_ms(view.value(REPORTED_AT)), since.received),
                Some(field) => date_ms(view.value(field)).unwrap_or(since.received),
                None => since.received,
            };
            due(r, base)
        });
        let level = match date_ms(view.value("deadline")) {
            Some(explicit) => Some(explicit),
            None => first(Limit::Level).map(|r| due(r, since.level)),
        };
        Deadlines { statutory, level }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::Device;
    use uuid::Uuid;

    const T0: i64 = 1_780_000_000_000;
    const DAY: i64 = 24 * HOUR_MS;
    const AT_T0: Since = Since {
        level: T0,
        received: T0,
    };

    fn view(collection: &str, fields: &[(&str, Value)], escalate: bool) -> RecordView {
        let mut d = Device::new(1);
        let id = Uuid::from_u128(1);
        let mut e = d.create(collection, "g", id);
        for (k, v) in fields {
            e = e.set(k, v.clone());
        }
        e.commit().unwrap();
        if escalate {
            d.edit(id).escalate(Level::Community).commit().unwrap();
        }
        d.replica().record(id).unwrap().view()
    }

    #[test]
    fn the_default_table() {
        let rules = Rules::default();
        let received = date_ms(&Value::from("2026-11-01")).unwrap();
        // (case, statutory due, level due), with the case received and at
        // its level since T0.
        let mut cases: Vec<(RecordView, Option<i64>, Option<i64>)> = vec![
            (
                view(
                    "event",
                    &[
                        ("status", "reported".into()),
                        ("severity", "critical".into()),
                    ],
                    false,
                ),
                Some(T0 + DAY),
                Some(T0 + DAY),
            ),
            (
                view(
                    "event",
                    &[("status", "reported".into()), ("severity", "low".into())],
                    false,
                ),
                Some(T0 + 15 * DAY),
                Some(T0 + 15 * DAY),
            ),
            (
                view("event", &[("status", "reported".into())], false),
                Some(T0 + 7 * DAY),
                Some(T0 + 7 * DAY),
            ),
            (
                view(
                    "hazard",
                    &[("status", "reported".into()), ("severity", "high".into())],
                    false,
                ),
                Some(T0 + 6 * DAY),
                Some(T0 + 6 * DAY),
            ),
            (
                view(
                    "dispute",
                    &[
                        ("status", "registered".into()),
                        ("received_on", "2026-11-01".into()),
                    ],
                    false,
                ),
                Some(received + 30 * DAY),
                Some(T0 + 30 * DAY),
            ),
            (
                view(
                    "petition",
                    &[
                        ("status", "received".into()),
                        ("received_on", "2026-11-01".into()),
                    ],
                    false,
                ),
                Some(received + 15 * DAY),
                Some(T0 + 15 * DAY),
            ),
            // No receipt date written: the statutory limit counts from when
            // the server received the case.
            (
                view(
                    "petition",
                    &[
                        ("status", "received".into()),
                        ("extension_days", Value::Int(30)),
                    ],
                    false,
                ),
                Some(T0 + 15 * DAY),
                Some(T0 + 15 * DAY),
            ),
            (
                view("household", &[("address", "x".into())], false),
                None,
                None,
            ),
            // A supervisor's own date is the level's.
            (
                view(
                    "event",
                    &[
                        ("status", "reported".into()),
                        ("deadline", "2026-12-01T18:00:00+08:00".into()),
                    ],
                    false,
                ),
                Some(T0 + 7 * DAY),
                date_ms(&Value::from("2026-12-01T18:00:00+08:00")),
            ),
        ];
        // A listed hazard: its rectification day, and no level limit.
        let rectify = date_ms(&Value::from("2026-12-16")).unwrap();
        let mut d = Device::new(1);
        let id = Uuid::from_u128(3);
        d.create("hazard", "g", id)
            .set("status", "reported")
            .set("severity", "high")
            .commit()
            .unwrap();
        for status in ["confirmed", "listed"] {
            d.edit(id).set("status", status).commit().unwrap();
        }
        d.edit(id)
            .set("rectification_deadline", "2026-12-16")
            .commit()
            .unwrap();
        cases.push((
            d.replica().record(id).unwrap().view(),
            Some(rectify + DAY),
            None,
        ));
        for (v, statutory, level) in cases {
            let d = rules.deadlines(&v, AT_T0);
            assert_eq!((d.statutory, d.level), (statutory, level), "{:?}", v.fields);
        }
        // A petition accepted, with its extension; closed, none.
        let accepted = date_ms(&Value::from("2026-11-10")).unwrap();
        let mut d = Device::new(1);
        let id = Uuid::from_u128(2);
        d.create("petition", "g", id)
            .set("status", "received")
            .commit()
            .unwrap();
        d.edit(id)
            .set("status", "accepted")
            .set("accepted_on", "2026-11-10")
            .set("extension_days", 30i64)
            .commit()
            .unwrap();
        let v = d.replica().record(id).unwrap().view();
        assert_eq!(
            rules.deadlines(&v, AT_T0).statutory,
            Some(accepted + 90 * DAY)
        );
        for status in ["replying", "replied", "closed"] {
            d.edit(id).set("status", status).commit().unwrap();
        }
        let closed = rules.deadlines(&d.replica().record(id).unwrap().view(), AT_T0);
        assert_eq!(closed, Deadlines::default());
        assert_eq!(closed.due(), None);
    }

    #[test]
    fn an_escalation_restarts_the_level_limit_and_keeps_the_statutory_one() {
        let rules = Rules::default();
        let received = date_ms(&Value::from("2026-11-01")).unwrap();
        let petition = view(
            "petition",
            &[
                ("status", "received".into()),
                ("received_on", "2026-11-01".into()),
            ],
            true,
        );
        // Escalated 20 days after receipt: the 15 days from receipt are
        // gone and stay gone; the new level has 15 days of its own.
        let escalated = received + 20 * DAY;
        let d = rules.deadlines(
            &petition,
            Since {
                level: escalated,
                received,
            },
        );
        assert_eq!(d.statutory, Some(received + 15 * DAY));
        assert_eq!(d.level, Some(escalated + 15 * DAY));
        assert_eq!(
            d.due(),
            Some(received + 15 * DAY),
            "still overdue after the escalation"
        );
    }

    #[test]
    fn a_phone_clock_moves_the_report_time_only_within_its_bound() {
        let rules = Rules::default();
        let at = |t: i64| {
            chrono::DateTime::from_timestamp_millis(t)
                .unwrap()
                .to_rfc3339()
        };
        let received = T0;
        let cases = [
            (None, received),
            (Some(received - HOUR_MS), received - HOUR_MS),
            (Some(received - 2 * DAY), received - 2 * DAY),
            // A clock a year behind: three days before the receipt at most.
            (Some(received - 365 * DAY), received - REPORT_SKEW_MS),
            // A clock ahead: never after the receipt.
            (Some(received + 30 * DAY), received),
        ];
        for (phone, counted) in cases {
            let mut fields = vec![
                ("status", Value::from("reported")),
                ("severity", "critical".into()),
            ];
            if let Some(t) = phone {
                fields.push((REPORTED_AT, Value::from(at(t).as_str())));
            }
            let v = view("event", &fields, false);
            let d = rules.deadlines(
                &v,
                Since {
                    level: received,
                    received,
                },
            );
            assert_eq!(d.statutory, Some(counted + DAY), "{phone:?}");
            assert_eq!(report_time(phone, received), counted);
        }
    }

    #[test]
    fn a_rules_file() {
        let json = r#"{"rules": [{"collection": "event", "level": "community", "hours": 48}, {"collection": "event", "hours": 12},
            {"collection": "event", "from": "reported_at", "hours": 100}]}"#;
        let rules = Rules::from_json(json).unwrap();
        let grid = rules.deadlines(
            &view("event", &[("status", "reported".into())], false),
            AT_T0,
        );
        assert_eq!(
            (grid.level, grid.statutory),
            (Some(T0 + 12 * HOUR_MS), Some(T0 + 100 * HOUR_MS))
        );
        let up = rules.deadlines(
            &view("event", &[("status", "reported".into())], true),
            AT_T0,
        );
        assert_eq!(up.level, Some(T0 + 48 * HOUR_MS));
        for (bad, says) in [
            (
                r#"{"rules": [{"collection": "household", "hours": 1}]}"#,
                "no case flow",
            ),
            (
                r#"{"rules": [{"collection": "event", "hours": 0}]}"#,
                "0 hours",
            ),
            (
                r#"{"rules": [{"collection": "event", "hourz": 1}]}"#,
                "hourz",
            ),
            (
                r#"{"rules": [{"collection": "event", "limit": "level", "from": "reported_at", "hours": 1}]}"#,
                "level limit",
            ),
            (
                r#"{"rules": [{"collection": "event", "limit": "lifelong", "hours": 1}]}"#,
                "lifelong",
            ),
        ] {
            let e = Rules::from_json(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let defaults = serde_json::to_string(&Rules::default()).unwrap();
        assert_eq!(
            Rules::from_json(&defaults).unwrap(),
            Rules::default(),
            "the defaults are a valid file"
        );
    }
}
