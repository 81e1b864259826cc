//! Schema validation of a change, before anything of it is applied.
//!
//! Validation here reads only the change and the schema, never a replica's
//! state: whether a change is refused must not depend on the order in which
//! changes arrive, or replicas would diverge. The few checks that need state
//! (a reused sequence number, a record of another collection, a reused log
//! entry id) are in [`crate::replica`] and only ever fire for broken clients.

use chrono::Datelike;
use uuid::Uuid;

use crate::change::{Change, Entry, Op, SetState};
use crate::clock::{Actor, Clock, Seq};
use crate::error::ChangeError;
use crate::schema::{
    CollectionDef, FieldDef, FieldKind, ScalarType, Schema, ATTACHMENT_MAX_BYTES,
    ATTACHMENT_MEDIA_TYPES, CAPTION_MAX_CHARS, SCHEMA_VERSION,
};
use crate::value::{Attachment, Value};

/// Most ops one change may carry.
pub const MAX_OPS: usize = 256;
/// Longest grid id.
pub const MAX_GRID_LEN: usize = 64;
/// The largest sequence number: 2^53 − 1, the largest integer a JavaScript
/// number (an IEEE double) holds exactly, so that every client can count.
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// The largest counter increment and running total (the same bound: a
/// counter's reading, a sum of totals, is computed without wrapping).
pub const MAX_COUNT: u64 = MAX_SEQ;
/// Most actors one causal context may name. A context names the writers a
/// device has seen of one field (or, for a delete, of the record); 1,024
/// installs editing one record is far beyond any real case, and the bound
/// keeps a hostile change from growing a record that every phone pulls.
pub const MAX_CONTEXT_ENTRIES: usize = 1024;

/// A grid id (and any other code of the org tree): 1 to 64 characters of
/// `A-Z a-z 0-9 - _ .`.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_GRID_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Check a change against the schema; on success, the collection it edits.
pub fn validate(schema: &Schema, change: &Change) -> Result<&'static CollectionDef, ChangeError> {
    if change.schema == 0 || change.schema > SCHEMA_VERSION {
        return Err(ChangeError::UnknownSchemaVersion {
            found: change.schema,
            supported: SCHEMA_VERSION,
        });
    }
    let collection = schema
        .collection(&change.collection)
        .filter(|c| c.since <= change.schema)
        .ok_or_else(|| ChangeError::UnknownCollection {
            collection: change.collection.clone(),
        })?;
    validate_header(change)?;
    for (field, clock) in change.contexts() {
        if clock.0.len() > MAX_CONTEXT_ENTRIES {
            return Err(ChangeError::ContextTooLarge {
                field: field.to_owned(),
                entries: clock.0.len(),
                max: MAX_CONTEXT_ENTRIES,
            });
        }
    }

    // Most changes carry a few ops: a linear scan beats hashing them.
    let mut touched: Vec<&str> = Vec::with_capacity(change.ops.len());
    for op in &change.ops {
        if let Some(field) = op.field() {
            if touched.contains(&field) {
                return Err(ChangeError::FieldTwice {
                    field: field.to_owned(),
                });
            }
            touched.push(field);
        }
        validate_op(collection, change, op)?;
    }
    check_dates(change, None)?;
    Ok(collection)
}

fn validate_header(change: &Change) -> Result<(), ChangeError> {
    let bad = |what, reason: &str| {
        Err(ChangeError::InvalidHeader {
            what,
            reason: reason.to_owned(),
        })
    };
    if change.actor == 0 {
        return bad("actor", "0 is never assigned");
    }
    if change.seq == 0 {
        return bad("seq", "starts at 1");
    }
    if change.seq > MAX_SEQ {
        return bad(
            "seq",
            "is above 2^53-1 (9007199254740991), the largest integer every client represents exactly",
        );
    }
    if change.record.is_nil() {
        return bad("record", "is the nil UUID");
    }
    if !valid_code(&change.grid) {
        return bad(
            "grid",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_', '.'",
        );
    }
    if change.ops.is_empty() {
        return bad("ops", "is empty");
    }
    if change.ops.len() > MAX_OPS {
        return bad(
            "ops",
            &format!("has {} ops, at most {MAX_OPS} allowed", change.ops.len()),
        );
    }
    let deletes = change
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Delete { .. }))
        .count();
    if deletes > 0 && change.ops.len() > 1 {
        return Err(ChangeError::DeleteNotAlone);
    }
    Ok(())
}

fn field_def(
    collection: &CollectionDef,
    change: &Change,
    name: &str,
) -> Result<&'static FieldDef, ChangeError> {
    let def = collection
        .field(name)
        .ok_or_else(|| ChangeError::UnknownField {
            collection: collection.name.to_owned(),
            field: name.to_owned(),
        })?;
    if def.since > change.schema {
        return Err(ChangeError::FieldTooNew {
            field: name.to_owned(),
            since: def.since,
            schema: change.schema,
        });
    }
    Ok(def)
}

fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Scalar { .. } => "scalar",
        FieldKind::Set { .. } => "set",
        FieldKind::Log { .. } => "log",
        FieldKind::Level => "level",
        FieldKind::Counter => "counter",
    }
}

fn validate_op(
    collection: &'static CollectionDef,
    change: &Change,
    op: &Op,
) -> Result<(), ChangeError> {
    let def = match op.field() {
        Some(name) => Some(field_def(collection, change, name)?),
        None => None,
    };
    let wrong_op = |def: &FieldDef| ChangeError::WrongOp {
        field: def.name.to_owned(),
        kind: kind_name(&def.kind),
        op: op.name(),
    };
    match (op, def.map(|d| (d, &d.kind))) {
        (Op::Set { field, value, seen }, Some((_, FieldKind::Scalar { ty, .. }))) => {
            check_context(field, seen, change)?;
            check_scalar(field, ty, value)
        }
        (
            Op::Members {
                field,
                add,
                remove,
                state,
            },
            Some((
                _,
                FieldKind::Set {
                    max_members,
                    max_len,
                    values,
                    refs,
                },
            )),
        ) => check_members(
            field,
            add,
            remove,
            state,
            *max_members,
            *max_len,
            values.0,
            *refs,
            change,
        ),
        (
            Op::Append { field, entry },
            Some((
                _,
                FieldKind::Log {
                    entry: fields,
                    max_entry_bytes,
                },
            )),
        ) => check_entry(field, entry, fields, *max_entry_bytes),
        (Op::Escalate { from, to }, Some((_, FieldKind::Level))) => {
            if to <= from {
                Err(ChangeError::LevelDown {
                    from: *from,
                    to: *to,
                })
            } else {
                Ok(())
            }
        }
        (Op::Increment { field, by, total }, Some((_, FieldKind::Counter))) => {
            if *by == 0 {
                Err(ChangeError::InvalidOp {
                    field: field.clone(),
                    reason: "an increment must be at least 1".into(),
                })
            } else if *by > MAX_COUNT || *total > MAX_COUNT {
                Err(ChangeError::OutOfRange {
                    field: field.clone(),
                    value: (*by).max(*total).to_string(),
                    min: "1".into(),
                    max: MAX_COUNT.to_string(),
                })
            } else if total < by {
                Err(ChangeError::InvalidOp {
                    field: field.clone(),
                    reason: format!("the running total {total} is below the increment {by}"),
                })
            } else {
                Ok(())
            }
        }
        (Op::Delete { seen }, None) => check_context("(record)", seen, change),
        (Op::Restore {}, None) => Ok(()),
        (_, Some((def, _))) => Err(wrong_op(def)),
        (_, None) => unreachable!("every op without a field is matched above"),
    }
}

/// Check what a change claims to have seen against what this replica knows
/// was made: `known(actor)` is the highest sequence of `actor` applied here
/// (on the server: by any node of the cluster). Every change reaches a device
/// through the server, so an honest device has seen nothing beyond that; for
/// the change's own actor the bound is the change's own seq (checked by
/// [`validate`]: `context_ahead`). A context that claims more would make a
/// value written later by that actor read as already covered (hiding it, and
/// shutting that actor out of the field), so it is refused: `context_unseen`.
///
/// ```
/// use gridsync_core::{validate::check_claims, Change};
/// let c = Change::from_json(br#"{"actor":9,"seq":3,"record":"5f0c6d1e-2b1a-4c8e-9a51-0d7a3f1b2c44",
///   "collection":"event","grid":"g1","schema":1,
///   "ops":[{"set":{"field":"title","value":"x","seen":{"4":1000000,"9":2}}}]}"#).unwrap();
/// let known = |actor| if actor == 4 { 12 } else { 0 };
/// assert_eq!(check_claims(&c, known).unwrap_err().code(), "context_unseen");
/// assert!(check_claims(&c, |_| 1_000_000).is_ok());
/// ```
pub fn check_claims(change: &Change, known: impl Fn(Actor) -> Seq) -> Result<(), ChangeError> {
    for (field, clock) in change.contexts() {
        for (&actor, &claimed) in &clock.0 {
            if actor == change.actor {
                continue;
            }
            let known = known(actor);
            if claimed > known {
                return Err(ChangeError::ContextUnseen {
                    field: field.to_owned(),
                    actor,
                    claimed,
                    known,
                });
            }
        }
    }
    Ok(())
}

/// A context may only mention the author's own earlier changes.
fn check_context(field: &str, seen: &Clock, change: &Change) -> Result<(), ChangeError> {
    let own = seen.get(change.actor);
    if own >= change.seq {
        return Err(ChangeError::ContextAhead {
            field: field.to_owned(),
            actor: change.actor,
            seen: own,
            seq: change.seq,
        });
    }
    Ok(())
}

/// Check a scalar value against its type. `Null` (clearing) is always allowed.
pub fn check_scalar(field: &str, ty: &ScalarType, value: &Value) -> Result<(), ChangeError> {
    let wrong = |expected: &str| ChangeError::WrongType {
        field: field.to_owned(),
        expected: expected.to_owned(),
        found: match value {
            Value::Fraction(_) => {
                "a fractional number (decimals travel as strings, e.g. \"12.50\")".to_owned()
            }
            other => other.shape().to_owned(),
        },
    };
    let bad_format = |expected: &str, text: &str| ChangeError::WrongType {
        field: field.to_owned(),
        expected: expected.to_owned(),
        found: format!("`{}`", truncate(text, 80)),
    };
    if *value == Value::Null {
        return Ok(());
    }
    match (ty, value) {
        (ScalarType::Text { max_len }, Value::Text(s)) => check_len(field, s, *max_len),
        (ScalarType::Integer { min, max }, Value::Int(i)) => {
            if i < min || i > max {
                Err(ChangeError::OutOfRange {
                    field: field.to_owned(),
                    value: i.to_string(),
                    min: min.to_string(),
                    max: max.to_string(),
                })
            } else {
                Ok(())
            }
        }
        (ScalarType::Decimal, Value::Text(s)) => {
            if is_decimal(s) {
                Ok(())
            } else {
                Err(bad_format(
                    "a decimal string like \"12.50\" (up to 18 digits, 6 after the point)",
                    s,
                ))
            }
        }
        (ScalarType::Bool, Value::Bool(_)) => Ok(()),
        (ScalarType::Date, Value::Text(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|_| ())
            .map_err(|_| bad_format("a date YYYY-MM-DD", s)),
        (ScalarType::DateTime, Value::Text(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|_| ())
            .map_err(|_| bad_format("an RFC 3339 date-time with offset", s)),
        (ScalarType::Enum { values }, Value::Text(s)) => {
            if values.contains(s) {
                Ok(())
            } else {
                Err(ChangeError::NotAllowed {
                    field: field.to_owned(),
                    value: truncate(s, 80).to_owned(),
                    allowed: values.codes().collect(),
                })
            }
        }
        (ScalarType::Ref { collection }, Value::Text(s)) => Uuid::parse_str(s)
            .map(|_| ())
            .map_err(|_| bad_format(&format!("the UUID of a {collection}"), s)),
        (ScalarType::Geo, Value::Geo(g)) => {
            if (-90.0..=90.0).contains(&g.lat) && (-180.0..=180.0).contains(&g.lng) {
                Ok(())
            } else {
                Err(ChangeError::OutOfRange {
                    field: field.to_owned(),
                    value: format!("{},{}", g.lat, g.lng),
                    min: "-90,-180".into(),
                    max: "90,180".into(),
                })
            }
        }
        (ScalarType::Attachment, Value::Attachment(a)) => check_attachment(field, a),
        (ScalarType::IdNumber | ScalarType::Phone, Value::Text(s)) if is_masked(s) => Ok(()),
        (ScalarType::IdNumber, Value::Text(s)) => {
            id_number(s).map_err(|reason| ChangeError::InvalidIdNumber {
                field: field.to_owned(),
                reason,
            })
        }
        (ScalarType::Assignee, Value::Text(s)) => match Assignee::parse(s) {
            Some(_) => Ok(()),
            None => Err(ChangeError::InvalidAssignee {
                field: field.to_owned(),
                value: truncate(s, 80).to_owned(),
            }),
        },
        (ScalarType::Phone, Value::Text(s)) => {
            if is_phone(s) {
                Ok(())
            } else {
                Err(ChangeError::InvalidPhone {
                    field: field.to_owned(),
                    value: truncate(s, 40).to_owned(),
                })
            }
        }
        (ScalarType::Text { .. }, _) => Err(wrong("a string")),
        (ScalarType::Integer { .. }, _) => Err(wrong("an integer")),
        (ScalarType::Decimal, _) => Err(wrong("a decimal string like \"12.50\"")),
        (ScalarType::Bool, _) => Err(wrong("a boolean")),
        (ScalarType::Date, _) => Err(wrong("a date string YYYY-MM-DD")),
        (ScalarType::DateTime, _) => Err(wrong("an RFC 3339 date-time string")),
        (ScalarType::Enum { .. }, _) => Err(wrong("a string")),
        (ScalarType::Ref { .. }, _) => Err(wrong("a UUID string")),
        (ScalarType::Geo, _) => Err(wrong("a position {\"lat\": …, \"lng\": …}")),
        (ScalarType::IdNumber, _) => Err(wrong("an ID number string")),
        (ScalarType::Phone, _) => Err(wrong("a phone number string")),
        (ScalarType::Assignee, _) => Err(wrong("`user:NAME` or `department:CODE`")),
        (ScalarType::Attachment, _) => Err(wrong(
            "an attachment {\"sha256\": …, \"media_type\": …, \"size\": …}",
        )),
    }
}

/// A record's dates agree: a case's dates in order
/// ([`crate::schema::DATE_ORDER`]), and a resident's ID number with its
/// `birth_date`. Each pair that
/// the change writes at least one of, read with the record's visible values
/// for the other (`record`: none for a new record, or for the checks that
/// need no state, as [`validate`] makes).
pub fn check_dates(change: &Change, record: Option<&crate::Record>) -> Result<(), ChangeError> {
    let written = |field: &str| {
        change.ops.iter().find_map(|op| match op {
            Op::Set {
                field: f, value, ..
            } if f == field => Some(value.clone()),
            _ => None,
        })
    };
    let current = |f: &str| record.and_then(|r| r.values(f).into_iter().next());
    let when = |v: &Value| {
        let s = v.as_str()?;
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp())
            .or_else(|| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.timestamp())
            })
    };
    for (collection, earlier, later) in crate::schema::DATE_ORDER {
        if change.collection != *collection {
            continue;
        }
        let (new_earlier, new_later) = (written(earlier), written(later));
        if new_earlier.is_none() && new_later.is_none() {
            continue;
        }
        let a = new_earlier.clone().or_else(|| current(earlier));
        let b = new_later.clone().or_else(|| current(later));
        let (Some(a), Some(b)) = (a, b) else { continue };
        if let (Some(ta), Some(tb)) = (when(&a), when(&b)) {
            if tb < ta {
                let (field, value) = match &new_later {
                    Some(v) => (*later, v.clone()),
                    None => (*earlier, a.clone()),
                };
                let (other, other_value) = if field == *later {
                    (*earlier, a)
                } else {
                    (*later, b)
                };
                return Err(ChangeError::DatesOutOfOrder {
                    field: field.to_owned(),
                    value: value.as_str().unwrap_or_default().to_owned(),
                    earlier: other.to_owned(),
                    earlier_value: other_value.as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    // An ID number carries a birth date: it and the record's `birth_date`
    // agree.
    let (new_id, new_birth) = (written("id_number"), written("birth_date"));
    if new_id.is_some() || new_birth.is_some() {
        let id = new_id.clone().or_else(|| current("id_number"));
        let birth = new_birth.or_else(|| current("birth_date"));
        let carried = id.as_ref().and_then(Value::as_str).and_then(id_birth);
        let written_birth = birth
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
        if let (Some(carried), Some(birth)) = (carried, written_birth) {
            if carried != birth {
                let field = if new_id.is_some() {
                    "id_number"
                } else {
                    "birth_date"
                };
                return Err(ChangeError::InvalidIdNumber {
                    field: field.to_owned(),
                    reason: format!(
                        "it carries the birth date {carried}, and the record's birth_date is {birth}"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The check character of the first 17 digits of a resident ID number
/// (ISO 7064 MOD 11-2, as GB 11643-1999 gives it).
///
/// ```
/// // The worked example of GB 11643-1999.
/// assert_eq!(gridsync_core::validate::id_check("11010519491231002"), 'X');
/// ```
pub fn id_check(first17: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
}

/// The province codes of GB/T 2260 an ID number's area may start with.
const PROVINCES: &[&str] = &[
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83",
];

/// Why `s` is not a resident ID number (GB 11643-1999), if it is not.
pub fn id_number(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    if b.len() != 18 {
        return Err(format!("{} characters, not 18", s.chars().count()));
    }
    if !b[..17].iter().all(u8::is_ascii_digit) {
        return Err("the first 17 characters must be digits".into());
    }
    if !PROVINCES.contains(&&s[..2]) {
        return Err(format!("`{}` is no province's code", &s[..2]));
    }
    if id_birth(s).is_none() {
        return Err(format!("`{}` is no birth date", &s[6..14]));
    }
    let check = id_check(&s[..17]);
    if b[17] as char != check {
        return Err(format!(
            "the check character is `{}`, it should be `{check}`",
            b[17] as char
        ));
    }
    Ok(())
}

/// The birth date an ID number carries (from 1900 on).
pub fn id_birth(s: &str) -> Option<chrono::NaiveDate> {
    let d = chrono::NaiveDate::parse_from_str(s.get(6..14)?, "%Y%m%d").ok()?;
    (d.year_ce().1 >= 1900).then_some(d)
}

/// A personal value masked for roles that may not see it (PIPL): the
/// first 6 and last 4 characters of a long one (an ID number), the first 3
/// and last 4 of a medium one (a phone number), nothing of a short one.
///
/// ```
/// use gridsync_core::validate::mask;
/// assert_eq!(mask("420202199001011234"), "420202********1234");
/// assert_eq!(mask("13812345678"), "138****5678");
/// ```
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let (head, tail) = kept_ends(chars.len());
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// How many characters [`mask`] keeps at each end of a value of `n`.
fn kept_ends(n: usize) -> (usize, usize) {
    match n {
        15.. => (6, 4),
        8..=14 => (3, 4),
        _ => (0, 0),
    }
}

/// Whether `s` is a value as [`mask`] shows it (`*` exactly where the mask
/// puts them): what a device of a role that does not see personal data
/// pulls, and keeps as it came.
fn is_masked(s: &str) -> bool {
    let n = s.chars().count();
    let (head, tail) = kept_ends(n);
    n > head + tail
        && s.chars()
            .enumerate()
            .all(|(i, c)| (c == '*') == (i >= head && i < n - tail))
}

/// Whether `s` is a phone number: a mainland mobile number or a landline
/// Who a case is assigned to (a value of [`ScalarType::Assignee`]).
///
/// ```
/// use gridsync_core::validate::Assignee;
/// assert_eq!(Assignee::parse("department:420203-D07"), Some(Assignee::Department("420203-D07")));
/// assert_eq!(Assignee::parse("user:worker01"), Some(Assignee::User("worker01")));
/// // A bare name (schema versions 1 and 2) is a user's.
/// assert_eq!(Assignee::parse("worker01"), Some(Assignee::User("worker01")));
/// assert_eq!(Assignee::parse("department:"), None);
/// assert_eq!(Assignee::parse("王 主任"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee<'a> {
    User(&'a str),
    Department(&'a str),
}

impl<'a> Assignee<'a> {
    /// The assignee a value names, if it is well formed: a name or code of
    /// 1 to 64 characters with no white space or control characters.
    pub fn parse(value: &'a str) -> Option<Assignee<'a>> {
        let ok = |name: &str| {
            !name.is_empty()
                && name.chars().count() <= 64
                && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        let a = match value.split_once(':') {
            Some(("user", name)) => Assignee::User(name),
            Some(("department", code)) => Assignee::Department(code),
            Some(_) => return None,
            None => Assignee::User(value),
        };
        match a {
            Assignee::User(n) | Assignee::Department(n) if ok(n) => Some(a),
            _ => None,
        }
    }

    /// The canonical form: `user:NAME`, `department:CODE`.
    pub fn key(&self) -> String {
        match self {
            Assignee::User(n) => format!("user:{n}"),
            Assignee::Department(c) => format!("department:{c}"),
        }
    }
}

/// with its area code, optionally after `+86`.
pub fn is_phone(s: &str) -> bool {
    let s = s
        .strip_prefix("+86")
        .map_or(s, |r| r.trim_start_matches([' ', '-']));
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || s.matches('-').count() > 1 {
        return false;
    }
    let b = digits.as_bytes();
    match b.first() {
        Some(b'1') => b.len() == 11 && (b'3'..=b'9').contains(&b[1]) && !s.contains('-'),
        Some(b'0') => (10..=12).contains(&b.len()),
        _ => false,
    }
}

/// An attachment reference: a SHA-256 in lowercase hex, a media type of
/// [`ATTACHMENT_MEDIA_TYPES`], a size within bounds, a short caption.
fn check_attachment(field: &str, a: &Attachment) -> Result<(), ChangeError> {
    let bad = |expected: &str, found: String| ChangeError::WrongType {
        field: field.to_owned(),
        expected: expected.to_owned(),
        found,
    };
    if !is_sha256_hex(&a.sha256) {
        return Err(bad(
            "an attachment whose sha256 is 64 lowercase hex digits",
            format!("`{}`", truncate(&a.sha256, 80)),
        ));
    }
    if !ATTACHMENT_MEDIA_TYPES.contains(&a.media_type.as_str()) {
        return Err(ChangeError::NotAllowed {
            field: format!("{field}.media_type"),
            value: truncate(&a.media_type, 80).to_owned(),
            allowed: ATTACHMENT_MEDIA_TYPES.to_vec(),
        });
    }
    if a.size == 0 || a.size > ATTACHMENT_MAX_BYTES {
        return Err(ChangeError::OutOfRange {
            field: format!("{field}.size"),
            value: a.size.to_string(),
            min: "1".into(),
            max: ATTACHMENT_MAX_BYTES.to_string(),
        });
    }
    match &a.caption {
        Some(c) => check_len(&format!("{field}.caption"), c, CAPTION_MAX_CHARS),
        None => Ok(()),
    }
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_len(field: &str, s: &str, max: usize) -> Result<(), ChangeError> {
    // PostgreSQL's text cannot hold NUL, and no form a person fills in needs it.
    if s.contains('\0') {
        return Err(ChangeError::InvalidText {
            field: field.to_owned(),
        });
    }
    // Byte length bounds the character count from above: skip the count when short.
    if s.len() <= max {
        return Ok(());
    }
    let len = s.chars().count();
    if len > max {
        return Err(ChangeError::TooLong {
            field: field.to_owned(),
            len,
            max,
        });
    }
    Ok(())
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `-?\d{1,18}(\.\d{1,6})?`
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    digits(int, 18) && frac.is_none_or(|f| digits(f, 6))
}

#[allow(clippy::too_many_arguments)]
fn check_members(
    field: &str,
    add: &[String],
    remove: &[String],
    state: &SetState,
    max_members: usize,
    max_len: usize,
    allowed: Option<crate::schema::Choices>,
    refs: Option<&str>,
    change: &Change,
) -> Result<(), ChangeError> {
    let invalid = |reason: String| ChangeError::InvalidOp {
        field: field.to_owned(),
        reason,
    };
    if add.is_empty() && remove.is_empty() {
        return Err(invalid("neither adds nor removes a member".into()));
    }
    for m in add.iter().chain(remove).chain(state.entries.keys()) {
        if m.is_empty() {
            return Err(invalid("a member is empty".into()));
        }
        check_len(field, m, max_len)?;
        if let Some(collection) = refs {
            if Uuid::parse_str(m).is_err() {
                return Err(ChangeError::WrongType {
                    field: field.to_owned(),
                    expected: format!("the UUID of a {collection}"),
                    found: format!("`{}`", truncate(m, 80)),
                });
            }
        }
        if let Some(values) = allowed {
            if !values.contains(m) {
                return Err(ChangeError::NotAllowed {
                    field: field.to_owned(),
                    value: truncate(m, 80).to_owned(),
                    allowed: values.codes().collect(),
                });
            }
        }
    }
    if state.entries.len() > max_members {
        return Err(ChangeError::TooManyMembers {
            field: field.to_owned(),
            count: state.entries.len(),
            max: max_members,
        });
    }
    if let Some(m) = add.iter().find(|m| remove.contains(m)) {
        return Err(invalid(format!("`{m}` is both added and removed")));
    }
    // The state may hold the author's dots up to this change and no further,
    // and must show what the author says it did.
    let (actor, seq) = (change.actor, change.seq);
    let clocks = std::iter::once(&state.clock)
        .chain(state.entries.values())
        .chain(state.deferred.iter().map(|d| &d.clock));
    if clocks.into_iter().any(|c| c.get(actor) > seq) {
        return Err(ChangeError::ContextAhead {
            field: field.to_owned(),
            actor,
            seen: state.clock.get(actor),
            seq,
        });
    }
    for m in add {
        if state.entries.get(m).map(|c| c.get(actor)) != Some(seq) {
            return Err(invalid(format!(
                "added member `{m}` is not in the state with this change's dot"
            )));
        }
    }
    if let Some(m) = remove.iter().find(|m| state.entries.contains_key(*m)) {
        return Err(invalid(format!(
            "removed member `{m}` is still in the state"
        )));
    }
    for (m, c) in &state.entries {
        if c.is_empty() || !c.0.iter().all(|(a, s)| state.clock.get(*a) >= *s) {
            return Err(invalid(format!(
                "member `{m}` has dots outside the set's clock"
            )));
        }
    }
    Ok(())
}

fn check_entry(
    field: &str,
    entry: &Entry,
    fields: &'static [crate::schema::EntryField],
    max_bytes: usize,
) -> Result<(), ChangeError> {
    if entry.id.is_nil() {
        return Err(ChangeError::InvalidOp {
            field: field.to_owned(),
            reason: "the entry id is the nil UUID".into(),
        });
    }
    check_scalar(
        &format!("{field}.at"),
        &ScalarType::DateTime,
        &Value::Text(entry.at.clone()),
    )?;
    for (name, value) in &entry.fields {
        let def =
            fields
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| ChangeError::UnknownField {
                    collection: format!("entry of {field}"),
                    field: format!("{field}.{name}"),
                })?;
        check_scalar(&format!("{field}.{name}"), &def.ty, value)?;
    }
    for def in fields.iter().filter(|f| f.required) {
        if entry.fields.get(def.name).is_none_or(|v| *v == Value::Null) {
            return Err(ChangeError::MissingEntryField {
                field: field.to_owned(),
                entry_field: def.name,
            });
        }
    }
    let size = serde_json::to_vec(entry)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(ChangeError::EntryTooLarge {
            field: field.to_owned(),
            size,
            max: max_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for ok in ["0", "-12.5", "123456789012345678.123456", "12.50"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in [
            "",
            "-",
            "1.",
            ".5",
            "1e5",
            "1.1234567",
            "1234567890123456789",
            "+1",
            "1,5",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("网格员网格员", 3), "网格员");
        assert_eq!(truncate("ab", 3), "ab");
    }
}

#[cfg(test)]
mod base_data_tests {
    use super::*;
    use crate::Device;

    /// A household's residents are references to resident records.
    #[test]
    fn a_household_refers_to_its_residents_by_record() {
        let mut d = Device::new(1);
        let resident = Uuid::new_v4().to_string();
        let table = [(resident.as_str(), None), ("张三", Some("wrong_type"))];
        for (member, refused) in table {
            let made = d
                .create("household", "g1", Uuid::new_v4())
                .add("members", member)
                .commit();
            assert_eq!(made.err().map(|e| e.code()), refused, "{member}");
        }
        // Names stay where older apps wrote them.
        assert!(d
            .create("household", "g1", Uuid::new_v4())
            .add("residents", "张三")
            .commit()
            .is_ok());
    }

    #[test]
    fn id_numbers_phones_and_their_masked_forms() {
        let ids = [
            ("11010519491231002X", Ok(())),
            ("420202199001011231", Ok(())),
            ("420202199001011234", Err("check character")),
            ("42020219900101123", Err("17 characters")),
            ("4202021990010112x1", Err("digits")),
            ("990202199001011231", Err("province")),
            ("420202199002301231", Err("birth date")),
            ("420202180001011231", Err("birth date")),
            ("11010519491231002x", Err("check character")),
        ];
        for (id, want) in ids {
            match (id_number(id), want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(says)) => assert!(e.contains(says), "{id}: {e}"),
                (got, _) => panic!("{id}: {got:?}"),
            }
        }
        for (phone, ok) in [
            ("13812345678", true),
            ("+86 13812345678", true),
            ("0714-6251234", true),
            ("07146251234", true),
            ("12812345678", false),
            ("1381234567", false),
            ("138-1234-5678", false),
            ("110", false),
            ("电话", false),
        ] {
            assert_eq!(is_phone(phone), ok, "{phone}");
        }
        // What the server shows a role without personal data is taken as it
        // came; any other `*` is not.
        let id_type = ScalarType::IdNumber;
        let check = |ty: &ScalarType, v: &str| check_scalar("f", ty, &Value::from(v));
        assert_eq!(check(&id_type, &mask("420202199001011231")), Ok(()));
        assert_eq!(check(&ScalarType::Phone, &mask("13812345678")), Ok(()));
        assert!(check(&id_type, "4202021990010112**").is_err());
        assert!(check(&ScalarType::Phone, "***********").is_err());
    }

    #[test]
    fn an_id_number_and_the_birth_date_agree() {
        let mut d = Device::new(1);
        let (ok, bad) = (uuid::Uuid::from_u128(10), uuid::Uuid::from_u128(11));
        d.create("resident", "g", ok)
            .set("id_number", "420202199001011231")
            .set("birth_date", "1990-01-01")
            .commit()
            .unwrap();
        let e = d
            .create("resident", "g", bad)
            .set("id_number", "420202199001011231")
            .set("birth_date", "1991-01-01")
            .commit()
            .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("invalid_id_number", Some("id_number"))
        );
        assert!(e.to_string().contains("1990-01-01"), "{e}");
        // A later edit of the birth date is checked against the number held.
        let e = d
            .edit(ok)
            .set("birth_date", "1990-02-01")
            .commit()
            .unwrap_err();
        assert_eq!(e.field(), Some("birth_date"));
        // A masked number (a role without personal data) carries no date.
        let mut masked = Device::new(2);
        masked
            .create("resident", "g", bad)
            .set("id_number", mask("420202199001011231").as_str())
            .set("birth_date", "1991-01-01")
            .commit()
            .unwrap();
    }

    #[test]
    fn a_device_keeps_a_cases_dates_in_order() {
        let mut d = Device::new(1);
        let id = uuid::Uuid::from_u128(9);
        d.create("petition", "g", id)
            .set("status", "received")
            .set("received_on", "2026-11-20")
            .commit()
            .unwrap();
        let e = d
            .edit(id)
            .set("accepted_on", "2026-11-19")
            .commit()
            .unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("dates_out_of_order", Some("accepted_on"))
        );
        assert!(e.to_string().contains("received_on"), "{e}");
        d.edit(id)
            .set("accepted_on", "2026-11-20")
            .commit()
            .unwrap();
        // Moving the earlier date past the later one is refused too.
        let e = d
            .edit(id)
            .set("received_on", "2026-11-25")
            .commit()
            .unwrap_err();
        assert_eq!(e.field(), Some("received_on"));
    }
}
