//! Deadlines: a rules table from collection, status, severity and handling
//! level to a time limit. Pure. The defaults follow DOMAIN.md; a deployment
//! replaces them with a JSON file (`--rules`).

use chrono::{DateTime, NaiveDate};
use gridsync_core::{Level, RecordView, Value};
use serde::{Deserialize, Serialize};

/// One rule; the first rule that matches a case gives its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub collection: String,
    /// Only cases in one of these statuses (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<String>>,
    /// Only cases of this severity (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Only cases at this handling level (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// A date field of the case the limit counts from while the case is at
    /// grid level (e.g. a petition's `received_on`). After an escalation, and
    /// when absent, the limit counts from when the case reached its level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub hours: i64,
    /// An integer field of days added to the limit (a petition's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plus_days: Option<String>,
}

/// The rules in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

const HOUR_MS: i64 = 3_600_000;

fn rule(
    collection: &str,
    status: Option<&[&str]>,
    severity: Option<&str>,
    from: Option<&str>,
    hours: i64,
) -> Rule {
    Rule {
        collection: collection.into(),
        status: status.map(|s| s.iter().map(|x| x.to_string()).collect()),
        severity: severity.map(str::to_owned),
        level: None,
        from: from.map(str::to_owned),
        hours,
        plus_days: None,
    }
}

impl Default for Rules {
    /// DOMAIN.md: events by severity (as 数字城管 platforms do); hazards
    /// likewise, twice as long; disputes closed within a month of receipt;
    /// petitions accepted or not within 15 days of receipt and answered
    /// within 60 days of acceptance, plus an extension of up to 30 days.
    fn default() -> Self {
        // A listed hazard (挂牌整治) is due at the end of its rectification day.
        let mut rules = vec![rule(
            "hazard",
            Some(&["listed", "rectifying", "rechecked"]),
            None,
            Some("rectification_deadline"),
            24,
        )];
        for (severity, hours) in [
            ("critical", 24),
            ("high", 72),
            ("medium", 168),
            ("low", 360),
        ] {
            rules.push(rule("event", None, Some(severity), None, hours));
            rules.push(rule("hazard", None, Some(severity), None, hours * 2));
        }
        rules.push(rule("event", None, None, None, 168));
        rules.push(rule("hazard", None, None, None, 336));
        rules.push(rule("dispute", None, None, Some("received_on"), 30 * 24));
        rules.push(rule(
            "petition",
            Some(&["received"]),
            None,
            Some("received_on"),
            15 * 24,
        ));
        rules.push(Rule {
            plus_days: Some("extension_days".into()),
            ..rule(
                "petition",
                Some(&["accepted", "replying"]),
                None,
                Some("accepted_on"),
                60 * 24,
            )
        });
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

/// The latest entry of `log` (by its time) plus `interval_field` days.
fn next_after_log(
    view: &RecordView,
    log: &str,
    interval_field: &str,
    default_days: i64,
    since: i64,
) -> Option<i64> {
    if view.value("status").as_str() == Some("archived")
        || view.value("status").as_str() == Some("closed")
    {
        return None;
    }
    let last = match view.fields.get(log) {
        Some(gridsync_core::FieldView::Log(entries)) => entries
            .iter()
            .filter_map(|e| date_ms(&Value::from(e.at.as_str())))
            .max(),
        _ => None,
    };
    let days = match view.value(interval_field) {
        Value::Int(d) => *d,
        _ => default_days,
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
        }
        Ok(rules)
    }

    /// When a record is next due (ms), or never: a case's deadline (an
    /// explicit `deadline` written on it wins over the rules; closed cases
    /// have none), a key person's next visit (last visit + their interval,
    /// default 30 days), a place's next inspection (default every 10 days).
    pub fn deadline(&self, view: &RecordView, level_since: i64) -> Option<i64> {
        match view.collection {
            "key_person" => {
                return next_after_log(view, "visits", "visit_interval_days", 30, level_since)
            }
            "place" => {
                return next_after_log(
                    view,
                    "inspections",
                    "inspection_interval_days",
                    10,
                    level_since,
                )
            }
            _ => {}
        }
        let flow = gridsync_core::Flow::of(view.collection)?;
        let status = view.value("status").as_str();
        if status.is_some_and(|s| flow.is_terminal(s)) {
            return None;
        }
        if let Some(explicit) = date_ms(view.value("deadline")) {
            return Some(explicit);
        }
        let level = view.level.unwrap_or_default();
        let severity = view.value("severity").as_str();
        let r = self.rules.iter().find(|r| {
            r.collection == view.collection
                && r.status
                    .as_ref()
                    .is_none_or(|s| status.is_some_and(|st| s.iter().any(|x| x == st)))
                && r.severity.as_deref().is_none_or(|s| Some(s) == severity)
                && r.level.is_none_or(|l| l == level)
        })?;
        let base = match (&r.from, level) {
            (Some(field), Level::Grid) => date_ms(view.value(field)).unwrap_or(level_since),
            _ => level_since,
        };
        let extra_days = match &r.plus_days {
            Some(f) => match view.value(f) {
                Value::Int(d) => *d,
                _ => 0,
            },
            None => 0,
        };
        Some(base + r.hours * HOUR_MS + extra_days * 24 * HOUR_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::Device;
    use uuid::Uuid;

    const T0: i64 = 1_780_000_000_000;

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
        let days = |n: i64| n * 24 * HOUR_MS;
        let received = date_ms(&Value::from("2026-11-01")).unwrap();
        let accepted = date_ms(&Value::from("2026-11-10")).unwrap();
        let cases: Vec<(RecordView, Option<i64>)> = vec![
            (
                view(
                    "event",
                    &[
                        ("status", "reported".into()),
                        ("severity", "critical".into()),
                    ],
                    false,
                ),
                Some(T0 + days(1)),
            ),
            (
                view(
                    "event",
                    &[("status", "reported".into()), ("severity", "low".into())],
                    false,
                ),
                Some(T0 + days(15)),
            ),
            (
                view("event", &[("status", "reported".into())], false),
                Some(T0 + days(7)),
            ),
            (
                view(
                    "hazard",
                    &[("status", "reported".into()), ("severity", "high".into())],
                    false,
                ),
                Some(T0 + days(6)),
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
                Some(received + days(30)),
            ),
            // After an escalation the month counts from when it reached the level.
            (
                view(
                    "dispute",
                    &[
                        ("status", "registered".into()),
                        ("received_on", "2026-11-01".into()),
                    ],
                    true,
                ),
                Some(T0 + days(30)),
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
                Some(received + days(15)),
            ),
            (
                view(
                    "petition",
                    &[
                        ("status", "received".into()),
                        ("accepted_on", "2026-11-10".into()),
                        ("extension_days", Value::Int(30)),
                    ],
                    false,
                ),
                Some(T0 + days(15)),
            ),
            (view("household", &[("address", "x".into())], false), None),
            (
                view(
                    "event",
                    &[
                        ("status", "reported".into()),
                        ("deadline", "2026-12-01T18:00:00+08:00".into()),
                    ],
                    false,
                ),
                date_ms(&Value::from("2026-12-01T18:00:00+08:00")),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(rules.deadline(&v, T0), want, "{:?}", v.fields);
        }
        // A petition accepted, with its extension.
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
        assert_eq!(rules.deadline(&v, T0), Some(accepted + days(90)));
        // Closed cases have none.
        d.edit(id).set("status", "replying").commit().unwrap();
        d.edit(id).set("status", "replied").commit().unwrap();
        d.edit(id).set("status", "closed").commit().unwrap();
        assert_eq!(
            rules.deadline(&d.replica().record(id).unwrap().view(), T0),
            None
        );
    }

    #[test]
    fn a_rules_file() {
        let json = r#"{"rules": [{"collection": "event", "level": "community", "hours": 48}, {"collection": "event", "hours": 12}]}"#;
        let rules = Rules::from_json(json).unwrap();
        assert_eq!(
            rules.deadline(&view("event", &[("status", "reported".into())], false), T0),
            Some(T0 + 12 * HOUR_MS)
        );
        assert_eq!(
            rules.deadline(&view("event", &[("status", "reported".into())], true), T0),
            Some(T0 + 48 * HOUR_MS)
        );
        assert!(
            Rules::from_json(r#"{"rules": [{"collection": "household", "hours": 1}]}"#).is_err()
        );
        assert!(Rules::from_json(r#"{"rules": [{"collection": "event", "hours": 0}]}"#).is_err());
        assert!(Rules::from_json(r#"{"rules": [{"collection": "event", "hourz": 1}]}"#).is_err());
        let defaults = serde_json::to_string(&Rules::default()).unwrap();
        assert_eq!(
            Rules::from_json(&defaults).unwrap(),
            Rules::default(),
            "the defaults are a valid file"
        );
    }
}
