//! Collection schemas as data.
//!
//! Each collection is one [`CollectionDef`] in [`collections`]; adding a field
//! or a collection is one edit there (and, for a field, a bump of
//! [`SCHEMA_VERSION`] with the field's `since` set to it). The same table is
//! what a client in another language reads: [`Schema::to_json`] writes it.

mod collections;

use std::sync::OnceLock;

use serde::Serialize;

pub use collections::COLLECTIONS;

/// The newest schema version this build understands. Every change carries the
/// version it was made under; a change from a newer app is refused (and kept
/// in quarantine) until the server is upgraded, and a change may only touch
/// fields that existed in its version.
pub const SCHEMA_VERSION: u32 = 2;

/// Handling level of a case. Cases move up only: "small matters stay in the
/// community, big matters in the park, hard matters in the district".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    Grid,
    Community,
    Park,
    District,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Grid, Level::Community, Level::Park, Level::District];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Grid => "grid",
            Level::Community => "community",
            Level::Park => "park",
            Level::District => "district",
        }
    }

    /// The next level up, if any.
    pub fn up(self) -> Option<Level> {
        match self {
            Level::Grid => Some(Level::Community),
            Level::Community => Some(Level::Park),
            Level::Park => Some(Level::District),
            Level::District => None,
        }
    }
}

/// What a scalar field holds (`type` in the schema's JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScalarType {
    /// Free text of at most `max_len` characters.
    Text {
        max_len: usize,
    },
    /// A whole number within `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    /// A decimal number as a string, e.g. `"12.50"`: at most 18 digits before
    /// and 6 after the point.
    Decimal,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 with an offset, e.g. `2026-11-28T09:30:00+08:00`. Named
    /// `datetime` in the schema's JSON, as docs/PROTOCOL.md spells it.
    #[serde(rename = "datetime")]
    DateTime,
    /// One of the listed values.
    Enum {
        values: &'static [&'static str],
    },
    /// The id (UUID) of a record of the named collection.
    Ref {
        collection: &'static str,
    },
    /// A WGS-84 position `{"lat": …, "lng": …}`.
    Geo,
    /// A photo or scanned page by the SHA-256 of its bytes
    /// (`crate::value::Attachment`), of one of [`ATTACHMENT_MEDIA_TYPES`].
    Attachment,
    /// A resident ID number (居民身份证号码, GB 11643-1999): 17 digits and
    /// a check character (`0`-`9` or `X`), a known province, a real birth
    /// date.
    IdNumber,
    /// A phone number: a mainland mobile number (11 digits from `1[3-9]`),
    /// or a landline with its area code (`0` and 9 to 11 digits, a `-` after
    /// the area code allowed), or `+86` before either.
    Phone,
}

/// The dates of a case that go in order: `(collection, earlier, later)`. A
/// change that would put a later one before an earlier one is refused
/// (`dates_out_of_order`), by the device and by the server.
pub const DATE_ORDER: &[(&str, &str, &str)] = &[
    ("petition", "received_on", "accepted_on"),
    ("dispute", "received_on", "follow_up_on"),
    ("hazard", "listed_on", "delisted_on"),
    ("hazard", "listed_on", "rectification_deadline"),
];

/// The media types an attachment may have: photos and scanned documents.
/// A server may narrow this list (its upload limits); it cannot widen it.
pub const ATTACHMENT_MEDIA_TYPES: &[&str] =
    &["image/jpeg", "image/png", "image/webp", "application/pdf"];

/// The largest attachment a reference may name (the server's own limit is
/// usually far lower).
pub const ATTACHMENT_MAX_BYTES: u64 = 1 << 30;

/// Longest attachment caption, in characters.
pub const CAPTION_MAX_CHARS: usize = 200;

/// One field of a log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryField {
    pub name: &'static str,
    #[serde(flatten)]
    pub ty: ScalarType,
    pub required: bool,
}

/// The kind of a field, which decides its CRDT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    /// A multi-value register (`crdts::MVReg`): concurrent writes are kept
    /// side by side as a conflict until a write that has seen them all.
    Scalar {
        #[serde(flatten)]
        ty: ScalarType,
        /// What concurrent values show as: a conflict (the default), or,
        /// for a time two devices each know part of, the earliest or the
        /// latest of them, never a conflict.
        #[serde(skip_serializing_if = "Concurrent::is_conflict")]
        concurrent: Concurrent,
    },
    /// An add-wins observed-remove set of strings (`crdts::Orswot`).
    /// `values`, when given, lists the members allowed.
    Set {
        max_members: usize,
        max_len: usize,
        values: Option<&'static [&'static str]>,
    },
    /// A grow-only log of entries keyed by UUID: never edited, never lost.
    Log {
        entry: &'static [EntryField],
        max_entry_bytes: usize,
    },
    /// The handling level: a max-register that only moves up.
    Level,
    /// A grow-only counter (`crdts::GCounter`).
    Counter,
}

/// What a scalar field shows when devices wrote it concurrently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Concurrent {
    /// Every concurrent value, side by side, until a write that saw them.
    #[default]
    Conflict,
    /// The earliest time (a patrol round's start: when its first member set
    /// off).
    Earliest,
    /// The latest time (a round's end: when its last member came back).
    Latest,
}

impl Concurrent {
    pub fn is_conflict(&self) -> bool {
        *self == Concurrent::Conflict
    }
}

/// One field of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldDef {
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: FieldKind,
    /// The schema version that introduced the field.
    pub since: u32,
    /// Personal data (PIPL): masked in responses unless the role may see it.
    pub sensitive: bool,
}

/// One collection: its name, its fields, the version that introduced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionDef {
    pub name: &'static str,
    pub since: u32,
    pub fields: &'static [FieldDef],
}

impl CollectionDef {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The collection's handling-level field, if its records are cases.
    pub fn level_field(&self) -> Option<&'static FieldDef> {
        self.fields
            .iter()
            .find(|f| matches!(f.kind, FieldKind::Level))
    }
}

/// The schema this build speaks: every collection at [`SCHEMA_VERSION`].
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schema {
    pub version: u32,
    pub collections: &'static [CollectionDef],
}

impl Schema {
    /// The built-in schema.
    pub fn current() -> &'static Schema {
        static SCHEMA: Schema = Schema {
            version: SCHEMA_VERSION,
            collections: COLLECTIONS,
        };
        &SCHEMA
    }

    pub fn collection(&self, name: &str) -> Option<&'static CollectionDef> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// The schema as JSON, for clients written in other languages.
    pub fn to_json(&self) -> &'static str {
        static JSON: OnceLock<String> = OnceLock::new();
        JSON.get_or_init(|| {
            serde_json::to_string_pretty(Schema::current()).expect("schema is plain data")
        })
    }
}

impl FieldDef {
    /// Whether values of this field may be attachments (an attachment
    /// scalar, or a log with an attachment entry field).
    pub fn holds_attachments(&self) -> bool {
        match &self.kind {
            FieldKind::Scalar { ty, .. } => *ty == ScalarType::Attachment,
            FieldKind::Log { entry, .. } => entry.iter().any(|e| e.ty == ScalarType::Attachment),
            FieldKind::Set { .. } | FieldKind::Level | FieldKind::Counter => false,
        }
    }
}

// Small constructors that keep the collection table readable.

pub(crate) const fn text(name: &'static str, max_len: usize) -> FieldDef {
    scalar(name, ScalarType::Text { max_len })
}

pub(crate) const fn scalar(name: &'static str, ty: ScalarType) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Scalar {
            ty,
            concurrent: Concurrent::Conflict,
        },
        since: 1,
        sensitive: false,
    }
}

/// A time field whose concurrent values show as the earliest (`Earliest`)
/// or the latest (`Latest`) of them.
pub(crate) const fn resolved(mut f: FieldDef, concurrent: Concurrent) -> FieldDef {
    if let FieldKind::Scalar { ty, .. } = f.kind {
        f.kind = FieldKind::Scalar { ty, concurrent };
    }
    f
}

/// A field added by schema version `version`.
pub(crate) const fn since(version: u32, mut f: FieldDef) -> FieldDef {
    f.since = version;
    f
}

pub(crate) const fn sensitive(mut f: FieldDef) -> FieldDef {
    f.sensitive = true;
    f
}

pub(crate) const fn one_of(name: &'static str, values: &'static [&'static str]) -> FieldDef {
    scalar(name, ScalarType::Enum { values })
}

pub(crate) const fn set(name: &'static str, max_members: usize) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Set {
            max_members,
            max_len: 128,
            values: None,
        },
        since: 1,
        sensitive: false,
    }
}

pub(crate) const fn set_of(name: &'static str, values: &'static [&'static str]) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Set {
            max_members: values.len(),
            max_len: 64,
            values: Some(values),
        },
        since: 1,
        sensitive: false,
    }
}

pub(crate) const fn log(name: &'static str, entry: &'static [EntryField]) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Log {
            entry,
            max_entry_bytes: 4 * 1024,
        },
        since: 1,
        sensitive: false,
    }
}

pub(crate) const fn level() -> FieldDef {
    FieldDef {
        name: "level",
        kind: FieldKind::Level,
        since: 1,
        sensitive: false,
    }
}

pub(crate) const fn counter(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Counter,
        since: 1,
        sensitive: false,
    }
}

pub(crate) const fn entry(name: &'static str, ty: ScalarType, required: bool) -> EntryField {
    EntryField { name, ty, required }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_references_resolve() {
        let schema = Schema::current();
        let mut names = HashSet::new();
        for c in schema.collections {
            assert!(names.insert(c.name), "collection {} twice", c.name);
            assert!(c.since >= 1 && c.since <= SCHEMA_VERSION);
            let mut fields = HashSet::new();
            for f in c.fields {
                assert!(fields.insert(f.name), "{}.{} twice", c.name, f.name);
                assert!(f.since >= c.since && f.since <= SCHEMA_VERSION);
                let check = |ty: &ScalarType| match ty {
                    ScalarType::Ref { collection } => assert!(
                        schema.collection(collection).is_some(),
                        "{}.{} refers to unknown {collection}",
                        c.name,
                        f.name
                    ),
                    ScalarType::Enum { values } => assert!(!values.is_empty()),
                    _ => {}
                };
                match &f.kind {
                    FieldKind::Scalar { ty, .. } => check(ty),
                    FieldKind::Log { entry, .. } => {
                        let mut entry_names = HashSet::new();
                        for e in *entry {
                            assert!(entry_names.insert(e.name));
                            check(&e.ty);
                        }
                    }
                    _ => {}
                }
            }
            assert!(
                c.fields
                    .iter()
                    .filter(|f| f.kind == FieldKind::Level)
                    .count()
                    <= 1,
                "{} has two level fields",
                c.name
            );
        }
    }

    #[test]
    fn which_fields_hold_attachments() {
        let schema = Schema::current();
        let holding = |c: &str| -> Vec<&str> {
            let def = schema.collection(c).unwrap();
            def.fields
                .iter()
                .filter(|f| f.holds_attachments())
                .map(|f| f.name)
                .collect()
        };
        assert_eq!(holding("event"), ["photos", "actions"]);
        assert_eq!(holding("dispute"), ["agreement_scan", "sessions"]);
        assert_eq!(holding("patrol_round"), ["check_ins"]);
        assert!(holding("household").is_empty());
        assert!(holding("key_person").is_empty());
    }

    #[test]
    fn every_collection_of_the_domain_is_there() {
        for name in [
            "household",
            "resident",
            "place",
            "patrol_round",
            "event",
            "hazard",
            "dispute",
            "petition",
            "key_person",
        ] {
            assert!(Schema::current().collection(name).is_some(), "{name}");
        }
    }

    #[test]
    fn schema_json_is_readable() {
        let v: serde_json::Value = serde_json::from_str(Schema::current().to_json()).unwrap();
        assert_eq!(v["version"], SCHEMA_VERSION);
        let event = v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "event")
            .unwrap();
        let status = event["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "status")
            .unwrap();
        assert_eq!(status["kind"], "scalar");
        assert_eq!(status["type"], "enum");
        assert_eq!(status["values"][0], "reported");
    }

    /// The type names are those of docs/PROTOCOL.md ("Values of scalar
    /// fields"): `datetime`, not serde's `date_time`.
    #[test]
    fn scalar_types_are_named_as_the_protocol_names_them() {
        let name = |ty: ScalarType| serde_json::to_value(ty).unwrap()["type"].clone();
        assert_eq!(name(ScalarType::DateTime), "datetime");
        assert_eq!(name(ScalarType::Date), "date");
        assert_eq!(name(ScalarType::Text { max_len: 1 }), "text");
        assert!(!Schema::current().to_json().contains("date_time"));
        assert!(Schema::current().to_json().contains("\"datetime\""));
    }
}
