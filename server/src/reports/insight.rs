//! The dashboard's second version, its pure parts: trend buckets, grid
//! outlines from positions (a convex hull), and what search matches.
//! Definitions: docs/REPORTS.md ("Trend", "Map", "Search").

use chrono::{Datelike, Duration, NaiveDate};
use gridsync_core::{FieldView, RecordView, Schema, Title, Value};
use serde::Serialize;

use super::{local_date, Period};

// ---------------------------------------------------------------- trend

/// How a trend is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Day,
    /// Monday to Sunday, clipped to the period.
    Week,
}

impl By {
    pub fn parse(s: Option<&str>) -> Result<By, String> {
        match s {
            None | Some("day") => Ok(By::Day),
            Some("week") => Ok(By::Week),
            Some(other) => Err(format!("by `{other}` is not one of day, week")),
        }
    }
}

/// One bucket of a trend: its days (inclusive) and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub first_day: String,
    pub last_day: String,
    /// Cases reported (received by the server) in the bucket.
    pub reported: i64,
    /// Cases closed in the bucket.
    pub closed: i64,
    /// Cases whose deadline fell in the bucket (up to now) and that were
    /// not closed by it.
    pub overdue: i64,
}

/// The buckets of `period`, empty.
pub fn buckets(period: &Period, by: By) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut day = period.first;
    while day <= period.last {
        let last = match by {
            By::Day => day,
            By::Week => {
                let sunday =
                    day + Duration::days(6 - i64::from(day.weekday().num_days_from_monday()));
                sunday.min(period.last)
            }
        };
        out.push(Bucket {
            first_day: day.to_string(),
            last_day: last.to_string(),
            reported: 0,
            closed: 0,
            overdue: 0,
        });
        day = last + Duration::days(1);
    }
    out
}

/// The times (ms) the trend counts, each list for one figure.
#[derive(Debug, Clone, Default)]
pub struct TrendTimes {
    pub reported: Vec<i64>,
    pub closed: Vec<i64>,
    pub overdue: Vec<i64>,
}

/// Count `times` into the buckets of `period` (times outside it are left out).
pub fn trend(period: &Period, by: By, times: &TrendTimes) -> Vec<Bucket> {
    let mut out = buckets(period, by);
    let ends: Vec<String> = out.iter().map(|b| b.last_day.clone()).collect();
    // Buckets are in order and ISO dates sort as strings.
    let index = |ms: i64| -> Option<usize> {
        let day = local_date(ms);
        (period.first..=period.last)
            .contains(&day)
            .then(|| ends.partition_point(|last| *last < day.to_string()))
    };
    type Figure = fn(&mut Bucket) -> &mut i64;
    let lists: [(&[i64], Figure); 3] = [
        (&times.reported, |b| &mut b.reported),
        (&times.closed, |b| &mut b.closed),
        (&times.overdue, |b| &mut b.overdue),
    ];
    for (list, figure) in lists {
        for &ms in list {
            if let Some(i) = index(ms) {
                *figure(&mut out[i]) += 1;
            }
        }
    }
    out
}

/// A bucket's label on a chart: `11-03`, or `11-03–11-09` for a week.
pub fn bucket_label(b: &Bucket) -> String {
    let short = |d: &str| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|d| d.format("%m-%d").to_string())
            .unwrap_or_else(|_| d.to_owned())
    };
    if b.first_day == b.last_day {
        short(&b.first_day)
    } else {
        format!("{}–{}", short(&b.first_day), short(&b.last_day))
    }
}

// ---------------------------------------------------------------- map

/// A position as the map draws it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

/// Where a record is: its `location` field (the collections the map shows
/// keep their position there).
pub fn position(view: &RecordView) -> Option<Point> {
    match view.value("location") {
        Value::Geo(g) if g.lat.is_finite() && g.lng.is_finite() => Some(Point {
            lat: g.lat,
            lon: g.lng,
        }),
        _ => None,
    }
}

fn cross(o: Point, a: Point, b: Point) -> f64 {
    (a.lon - o.lon) * (b.lat - o.lat) - (a.lat - o.lat) * (b.lon - o.lon)
}

/// The convex hull of `points`, counter-clockwise (lon east, lat north),
/// without repeats: none for no point, the point for one, a segment for
/// points on a line.
pub fn hull(points: &[Point]) -> Vec<Point> {
    let mut p: Vec<Point> = points.to_vec();
    p.sort_by(|a, b| a.lon.total_cmp(&b.lon).then(a.lat.total_cmp(&b.lat)));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    // Monotone chain: the lower side left to right, the upper right to left.
    let mut h: Vec<Point> = Vec::with_capacity(p.len() + 1);
    for pass in 0..2 {
        let start = h.len();
        let iter: Box<dyn Iterator<Item = &Point>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in iter {
            while h.len() >= start + 2 && cross(h[h.len() - 2], h[h.len() - 1], q) <= 0.0 {
                h.pop();
            }
            h.push(q);
        }
        h.pop();
    }
    if h.len() < 3 {
        // Collinear: the two ends.
        return vec![p[0], p[p.len() - 1]];
    }
    h
}

// ---------------------------------------------------------------- search

/// The fields search reads in each collection: its title, its address, the
/// names of people it holds; and, for roles that see personal data in full,
/// its sensitive fields (ID and phone numbers). A role that sees a field
/// masked does not search it: its hidden value must not find the record.
pub fn search_fields(collection: &str, personal: bool) -> Vec<&'static str> {
    let Some(c) = Schema::current().collection(collection) else {
        return Vec::new();
    };
    const PEOPLE: &[&str] = &[
        "name",
        "owner_name",
        "responsible_person",
        "reporter",
        "address",
    ];
    let mut out: Vec<&'static str> = Vec::new();
    if let Some(t) = c.title {
        out.push(match t {
            Title::Name(f) | Title::Text(f) => f,
        });
    }
    for f in c.fields {
        let wanted = PEOPLE.contains(&f.name) || (personal && f.sensitive);
        if wanted && !out.contains(&f.name) {
            out.push(f.name);
        }
    }
    out
}

/// `q` folded for matching: ASCII letters lowercased, nothing else changed
/// (so that SQLite and PostgreSQL agree: see `like_pattern`).
pub fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Which of `fields` of `view` hold `q` (folded), in `fields` order.
pub fn matches(view: &RecordView, fields: &[&str], q: &str) -> Vec<&'static str> {
    let q = fold(q);
    let c = Schema::current().collection(view.collection);
    fields
        .iter()
        .filter(|f| match view.fields.get(**f) {
            Some(FieldView::Scalar { value, conflict }) => {
                let hit = |v: &Value| v.as_str().is_some_and(|s| fold(s).contains(&q));
                hit(value) || conflict.iter().any(|w| hit(&w.value))
            }
            _ => false,
        })
        .filter_map(|f| c.and_then(|c| c.field(f)).map(|d| d.name))
        .collect()
}

/// The SQL `LIKE` pattern a record's stored state must match to hold `q`
/// in some text value: `q` as JSON writes it inside a string, `%`, `_` and
/// `\` escaped (with `ESCAPE '\'`), between `%`s. SQLite's `LIKE` folds ASCII
/// case and PostgreSQL's `ILIKE` folds more, so either backend returns a
/// superset of the records [`matches`] keeps, and both give the same answer.
pub fn like_pattern(q: &str) -> String {
    let json = serde_json::to_string(q).unwrap_or_default();
    let inner = &json[1..json.len().saturating_sub(1).max(1)];
    let mut p = String::with_capacity(inner.len() + 8);
    p.push('%');
    for c in inner.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::{day_start, PeriodKind, DAY_MS};

    fn period(first: &str, last: &str) -> Period {
        Period {
            kind: PeriodKind::Range,
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }

    #[test]
    fn buckets_by_day_and_by_week() {
        let p = period("2026-11-05", "2026-11-18"); // a Thursday to a Wednesday
        let days = buckets(&p, By::Day);
        assert_eq!(days.len(), 14);
        assert_eq!(days[0].first_day, "2026-11-05");
        assert_eq!(days[13].last_day, "2026-11-18");
        let weeks: Vec<(String, String)> = buckets(&p, By::Week)
            .into_iter()
            .map(|b| (b.first_day, b.last_day))
            .collect();
        let w = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            weeks,
            [
                w("2026-11-05", "2026-11-08"),
                w("2026-11-09", "2026-11-15"),
                w("2026-11-16", "2026-11-18"),
            ]
        );
    }

    #[test]
    fn times_fall_into_china_days() {
        let p = period("2026-11-09", "2026-11-15");
        let d = |s: &str| day_start(s.parse().unwrap());
        let times = TrendTimes {
            // 23:59 China time on the 9th; 00:00 on the 10th; before and after the period.
            reported: vec![
                d("2026-11-10") - 60_000,
                d("2026-11-10"),
                d("2026-11-09") - 1,
                d("2026-11-16"),
            ],
            closed: vec![d("2026-11-15") + DAY_MS - 1],
            overdue: vec![d("2026-11-12") + 5],
        };
        let by_day = trend(&p, By::Day, &times);
        let got: Vec<(i64, i64, i64)> = by_day
            .iter()
            .map(|b| (b.reported, b.closed, b.overdue))
            .collect();
        assert_eq!(
            got,
            [
                (1, 0, 0),
                (1, 0, 0),
                (0, 0, 0),
                (0, 0, 1),
                (0, 0, 0),
                (0, 0, 0),
                (0, 1, 0)
            ]
        );
        let week = trend(&p, By::Week, &times);
        assert_eq!(week.len(), 1);
        assert_eq!(
            (week[0].reported, week[0].closed, week[0].overdue),
            (2, 1, 1)
        );
        assert_eq!(bucket_label(&week[0]), "11-09–11-15");
        assert_eq!(bucket_label(&by_day[0]), "11-09");
    }

    fn pt(lon: f64, lat: f64) -> Point {
        Point { lat, lon }
    }

    #[test]
    fn hulls() {
        assert!(hull(&[]).is_empty());
        assert_eq!(hull(&[pt(1.0, 1.0), pt(1.0, 1.0)]), [pt(1.0, 1.0)]);
        // Inside points and repeats are left out; corners counter-clockwise.
        let square = [
            pt(0.0, 0.0),
            pt(2.0, 0.0),
            pt(2.0, 2.0),
            pt(0.0, 2.0),
            pt(1.0, 1.0),
            pt(1.0, 0.0),
            pt(2.0, 2.0),
        ];
        assert_eq!(
            hull(&square),
            [pt(0.0, 0.0), pt(2.0, 0.0), pt(2.0, 2.0), pt(0.0, 2.0)]
        );
        // On a line: the two ends.
        assert_eq!(
            hull(&[pt(0.0, 0.0), pt(1.0, 1.0), pt(2.0, 2.0)]),
            [pt(0.0, 0.0), pt(2.0, 2.0)]
        );
    }

    #[test]
    fn search_reads_masked_fields_only_for_roles_that_see_them() {
        assert_eq!(search_fields("key_person", false), ["name"]);
        assert_eq!(
            search_fields("key_person", true),
            ["name", "id_number", "phone"]
        );
        assert_eq!(
            search_fields("event", false),
            ["title", "address", "reporter"]
        );
        assert_eq!(search_fields("household", false), ["address", "owner_name"]);
        assert!(search_fields("nothing", true).is_empty());
    }

    #[test]
    fn matching_folds_ascii_case_only() {
        let mut d = gridsync_core::Device::new(1);
        let id = uuid::Uuid::from_u128(7);
        d.create("event", "g", id)
            .set("title", "B栋 Fire door")
            .set("address", "光谷大道1号")
            .commit()
            .unwrap();
        let view = d.replica().record(id).unwrap().view();
        let f = search_fields("event", false);
        assert_eq!(matches(&view, &f, "b栋 FIRE"), ["title"]);
        assert_eq!(matches(&view, &f, "光谷"), ["address"]);
        assert!(matches(&view, &f, "nothing").is_empty());
        // Only ASCII folds: SQLite's LIKE folds nothing else.
        assert_eq!(fold("ÉA"), "Éa");
    }

    #[test]
    fn like_patterns_escape() {
        assert_eq!(like_pattern("光谷"), "%光谷%");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\\\\\b%");
        assert_eq!(like_pattern("\"x\""), "%\\\\\"x\\\\\"%");
    }
}
