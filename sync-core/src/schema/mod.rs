//! Collection schemas as data.
//!
//! Each collection is one [`CollectionDef`] in [`collections`]; adding a field
//! or a collection is one edit there (and, for a field, a bump of
//! [`SCHEMA_VERSION`] with the field's `since` set to it). The same table is
//! what a client in another language reads: [`Schema::to_json`] writes it.

mod collections;

use std::sync::OnceLock;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

pub use crate::flows::Flow;
pub use collections::{COLLECTIONS, REPORTED_AT};

/// What people read for a code: Chinese, as the district works, and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Label {
    pub zh: &'static str,
    pub en: &'static str,
}

impl Label {
    pub const fn new(zh: &'static str, en: &'static str) -> Label {
        Label { zh, en }
    }

    pub fn is_empty(&self) -> bool {
        self.zh.is_empty() || self.en.is_empty()
    }
}

/// One allowed value of an enum or of a closed set: its code (what is
/// stored and sent) and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Choice {
    pub code: &'static str,
    pub label: Label,
}

/// `c("closed", "已办结", "Closed")`: a choice, as the tables write it.
pub const fn c(code: &'static str, zh: &'static str, en: &'static str) -> Choice {
    Choice {
        code,
        label: Label { zh, en },
    }
}

/// The allowed values of a field. In the schema's JSON: `values`, the codes
/// in order, and `value_labels`, each code's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choices(pub &'static [Choice]);

impl Choices {
    pub fn contains(&self, code: &str) -> bool {
        self.0.iter().any(|c| c.code == code)
    }

    pub fn codes(&self) -> impl Iterator<Item = &'static str> {
        self.0.iter().map(|c| c.code)
    }

    pub fn label(&self, code: &str) -> Option<Label> {
        self.0.iter().find(|c| c.code == code).map(|c| c.label)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Choices {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Labels(&'static [Choice]);
        impl Serialize for Labels {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for c in self.0 {
                    m.serialize_entry(c.code, &c.label)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("values", &self.codes().collect::<Vec<_>>())?;
        m.serialize_entry("value_labels", &Labels(self.0))?;
        m.end()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Choices {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .property(
                "values",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .required("values")
            .property(
                "value_labels",
                ObjectBuilder::new().additional_properties(Some(Label::schema())),
            )
            .required("value_labels")
            .description(Some("The allowed codes in order, and each code's label."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Choices {}

/// The members a set allows: any (a free set), or the listed choices
/// (`values` and `value_labels` in the schema's JSON, as for an enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed(pub Option<Choices>);

impl Serialize for Closed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(c) => c.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Closed {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ObjectBuilder::new()
            .property(
                "values",
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .property(
                "value_labels",
                ObjectBuilder::new().additional_properties(Some(Label::schema())),
            )
            .description(Some(
                "The members allowed, when the set is closed, and their labels.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Closed {}

/// The newest schema version this build understands. Every change carries the
/// version it was made under; a change from a newer app is refused (and kept
/// in quarantine) until the server is upgraded, and a change may only touch
/// fields that existed in its version.
pub const SCHEMA_VERSION: u32 = 3;

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
    /// What the level is called.
    pub fn label(self) -> Label {
        LEVELS[self as usize].label
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn up(self) -> Option<Level> {
        match self {
            Level::Grid => Some(Level::Community),
            Level::Community => Some(Level::Park),
            Level::Park => Some(Level::District),
            Level::District => None,
        }
    }
}

/// The levels, in [`Level::ALL`] order, with their labels (the schema's
/// JSON lists them: a handling level and an org node's level share them).
pub const LEVELS: [Choice; 4] = [
    c("grid", "网格", "Grid"),
    c("community", "社区", "Community"),
    c("park", "园区", "Park"),
    c("district", "区", "District"),
];

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
        #[serde(flatten)]
        values: Choices,
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
    /// Who a case is assigned to: `user:USERNAME` or `department:CODE` (a
    /// department node). A bare name, as schema versions 1 and 2 wrote it,
    /// is read as `user:NAME`. The server refuses a name it does not know
    /// (`unknown_assignee`).
    Assignee,
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
    pub label: Label,
}

impl EntryField {
    /// The entry field, called `zh` / `en`.
    pub const fn is(mut self, zh: &'static str, en: &'static str) -> EntryField {
        self.label = Label { zh, en };
        self
    }
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
        #[serde(flatten)]
        values: Closed,
        /// Members are the ids (UUIDs) of records of this collection (a
        /// household's residents), when given.
        #[serde(skip_serializing_if = "Option::is_none")]
        refs: Option<&'static str>,
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
    pub label: Label,
}

impl FieldDef {
    /// The field, called `zh` / `en`.
    pub const fn is(mut self, zh: &'static str, en: &'static str) -> FieldDef {
        self.label = Label { zh, en };
        self
    }

    /// The label of one of the field's codes (an enum value, a member of a
    /// closed set), if it has one.
    pub fn value_label(&self, code: &str) -> Option<Label> {
        match self.kind {
            FieldKind::Scalar {
                ty: ScalarType::Enum { values },
                ..
            }
            | FieldKind::Set {
                values: Closed(Some(values)),
                ..
            } => values.label(code),
            FieldKind::Level => Level::parse(code).map(Level::label),
            _ => None,
        }
    }
}

/// How a record is named in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "field", rename_all = "snake_case")]
pub enum Title {
    /// By a text field, its first 60 characters.
    Text(&'static str),
    /// By a person's name, all but its first character masked (`王**`).
    Name(&'static str),
}

impl Title {
    pub fn field(&self) -> &'static str {
        match self {
            Title::Text(f) | Title::Name(f) => f,
        }
    }
}

/// The overdue lists a late record goes to (docs/REPORTS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OverdueList {
    /// Events and hazards.
    Cases,
    Petitions,
    Mediations,
    /// Key persons not visited in time.
    KeyPersons,
    /// Places not inspected in time.
    Places,
    /// Special-group residents not visited in time.
    SpecialGroups,
    /// 研判 whose time limit passed.
    Assessments,
}

impl OverdueList {
    pub const ALL: [OverdueList; 7] = [
        OverdueList::Cases,
        OverdueList::Petitions,
        OverdueList::Mediations,
        OverdueList::KeyPersons,
        OverdueList::Places,
        OverdueList::SpecialGroups,
        OverdueList::Assessments,
    ];

    pub fn as_str(self) -> &'static str {
        OVERDUE_LISTS[self as usize].code
    }

    pub fn label(self) -> Label {
        OVERDUE_LISTS[self as usize].label
    }

    /// The collections whose late records it lists.
    pub fn collections(self) -> impl Iterator<Item = &'static str> {
        Schema::current()
            .collections
            .iter()
            .filter(move |c| c.overdue == Some(self))
            .map(|c| c.name)
    }
}

/// The overdue lists, in [`OverdueList::ALL`] order, with their labels.
pub const OVERDUE_LISTS: [Choice; 7] = [
    c("cases", "超期事件与隐患", "Overdue events and hazards"),
    c("petitions", "超期信访", "Overdue petitions"),
    c("mediations", "超期调解", "Overdue mediations"),
    c("key_persons", "待走访重点人员", "Key persons due a visit"),
    c("places", "未按期巡查场所", "Places due an inspection"),
    c(
        "special_groups",
        "待走访特殊人群",
        "Special-group residents due a visit",
    ),
    c("assessments", "超期研判化解", "Overdue assessments"),
];

/// Which of a case's two clocks a default deadline sets (the server's
/// rules table is derived from these; docs/WORKFLOWS.md, "Deadlines").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Clocks {
    /// The same time from the case's fixed event (`from`, kept across
    /// escalation) and again from when it reached each level.
    Both,
    /// Only from the fixed event.
    Statutory,
    /// Only from when the case reached its level.
    Level,
}

/// A default time limit of a case: the first that matches a case (status,
/// severity) gives each of its due dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadlineDef {
    pub clocks: Clocks,
    /// Only cases in one of these statuses (all when absent).
    pub status: Option<&'static [&'static str]>,
    /// Only cases of this severity (all when absent).
    pub severity: Option<&'static str>,
    /// The statutory limit's fixed event: a date or time field of the case.
    pub from: Option<&'static str>,
    pub hours: i64,
    /// An integer field of days added to the limit (a petition's extension).
    pub plus_days: Option<&'static str>,
}

impl DeadlineDef {
    /// `hours` from `from`, and again at each level.
    pub const fn both(from: &'static str, hours: i64) -> DeadlineDef {
        DeadlineDef {
            clocks: Clocks::Both,
            status: None,
            severity: None,
            from: Some(from),
            hours,
            plus_days: None,
        }
    }

    pub const fn clocks(mut self, clocks: Clocks) -> DeadlineDef {
        self.clocks = clocks;
        self
    }

    pub const fn in_status(mut self, status: &'static [&'static str]) -> DeadlineDef {
        self.status = Some(status);
        self
    }

    pub const fn severity(mut self, severity: &'static str) -> DeadlineDef {
        self.severity = Some(severity);
        self
    }

    pub const fn plus_days(mut self, field: &'static str) -> DeadlineDef {
        self.plus_days = Some(field);
        self
    }
}

/// A record due again some days after the last entry of a log: a key
/// person's visits, a place's inspections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub log: &'static str,
    /// An integer field of days between entries.
    pub interval_field: &'static str,
    /// The interval when the record has none.
    pub default_days: i64,
    /// Statuses in which nothing is due.
    pub idle: &'static [&'static str],
    /// Only records whose `(field, value)` is this (a resident's visits:
    /// only a special group's).
    pub only: Option<(&'static str, &'static str)>,
}

/// One collection: its name, its fields, the version that introduced it,
/// and everything the service derives from it: what it is called, how a
/// record is named in lists, its case flow and deadlines, which overdue
/// list its late records go to, and which roles write and read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionDef {
    pub name: &'static str,
    pub since: u32,
    pub fields: &'static [FieldDef],
    pub label: Label,
    pub title: Option<Title>,
    /// The status flow, for collections whose records move along one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<&'static Flow>,
    /// Default time limits (cases).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub deadlines: &'static [DeadlineDef],
    /// When the record is next due (scheduled visits and inspections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue: Option<OverdueList>,
    /// Roles that write it (and so read it), by name.
    pub written_by: &'static [&'static str],
    /// Roles that only read it.
    pub read_by: &'static [&'static str],
}

impl CollectionDef {
    /// A collection of `fields`, called `zh` / `en`, from schema version 1,
    /// written and read by nobody until [`CollectionDef::access`] says.
    pub const fn new(
        name: &'static str,
        zh: &'static str,
        en: &'static str,
        fields: &'static [FieldDef],
    ) -> CollectionDef {
        CollectionDef {
            name,
            since: 1,
            fields,
            label: Label { zh, en },
            title: None,
            flow: None,
            deadlines: &[],
            schedule: None,
            overdue: None,
            written_by: &[],
            read_by: &[],
        }
    }

    pub const fn since(mut self, version: u32) -> CollectionDef {
        self.since = version;
        self
    }

    pub const fn titled(mut self, title: Title) -> CollectionDef {
        self.title = Some(title);
        self
    }

    /// A case: its flow, its default deadlines and its overdue list.
    pub const fn case(
        mut self,
        flow: &'static Flow,
        deadlines: &'static [DeadlineDef],
        overdue: OverdueList,
    ) -> CollectionDef {
        self.flow = Some(flow);
        self.deadlines = deadlines;
        self.overdue = Some(overdue);
        self
    }

    pub const fn flow(mut self, flow: &'static Flow) -> CollectionDef {
        self.flow = Some(flow);
        self
    }

    /// Late records go to `list` (a record with a flow and a `deadline`).
    pub const fn overdue(mut self, list: OverdueList) -> CollectionDef {
        self.overdue = Some(list);
        self
    }

    pub const fn scheduled(mut self, schedule: Schedule, overdue: OverdueList) -> CollectionDef {
        self.schedule = Some(schedule);
        self.overdue = Some(overdue);
        self
    }

    pub const fn access(
        mut self,
        written_by: &'static [&'static str],
        read_by: &'static [&'static str],
    ) -> CollectionDef {
        self.written_by = written_by;
        self.read_by = read_by;
        self
    }

    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether its records are cases: they have a handling level.
    pub fn is_case(&self) -> bool {
        self.level_field().is_some()
    }

    pub fn writable_by(&self, role: &str) -> bool {
        self.written_by.contains(&role)
    }

    pub fn readable_by(&self, role: &str) -> bool {
        self.writable_by(role) || self.read_by.contains(&role)
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
    /// The handling levels and their labels.
    pub levels: &'static [Choice],
    /// The overdue lists and their labels.
    pub overdue_lists: &'static [Choice],
}

impl Schema {
    /// The built-in schema.
    pub fn current() -> &'static Schema {
        static SCHEMA: Schema = Schema {
            version: SCHEMA_VERSION,
            collections: COLLECTIONS,
            levels: &LEVELS,
            overdue_lists: &OVERDUE_LISTS,
        };
        &SCHEMA
    }

    pub fn collection(&self, name: &str) -> Option<&'static CollectionDef> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// The collections whose records are cases.
    pub fn cases(&self) -> impl Iterator<Item = &'static CollectionDef> {
        self.collections.iter().filter(|c| c.is_case())
    }

    /// The label of `code` in `collection.field` (an enum value, a member
    /// of a closed set, a level); the code itself when it has none.
    pub fn value_label(&self, collection: &str, field: &str, code: &str) -> Option<Label> {
        self.collection(collection)?.field(field)?.value_label(code)
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

pub const fn text(name: &'static str, max_len: usize) -> FieldDef {
    scalar(name, ScalarType::Text { max_len })
}

pub const fn scalar(name: &'static str, ty: ScalarType) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Scalar {
            ty,
            concurrent: Concurrent::Conflict,
        },
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

/// A time field whose concurrent values show as the earliest (`Earliest`)
/// or the latest (`Latest`) of them.
pub const fn resolved(mut f: FieldDef, concurrent: Concurrent) -> FieldDef {
    if let FieldKind::Scalar { ty, .. } = f.kind {
        f.kind = FieldKind::Scalar { ty, concurrent };
    }
    f
}

/// A field added by schema version `version`.
pub const fn since(version: u32, mut f: FieldDef) -> FieldDef {
    f.since = version;
    f
}

pub const fn sensitive(mut f: FieldDef) -> FieldDef {
    f.sensitive = true;
    f
}

pub const fn one_of(name: &'static str, values: &'static [Choice]) -> FieldDef {
    scalar(
        name,
        ScalarType::Enum {
            values: Choices(values),
        },
    )
}

pub const fn set(name: &'static str, max_members: usize) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Set {
            max_members,
            max_len: 128,
            values: Closed(None),
            refs: None,
        },
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

pub const fn set_of(name: &'static str, values: &'static [Choice]) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Set {
            max_members: values.len(),
            max_len: 64,
            values: Closed(Some(Choices(values))),
            refs: None,
        },
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

/// A set of references: the ids of records of `collection`.
pub const fn refs(name: &'static str, collection: &'static str, max_members: usize) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Set {
            max_members,
            max_len: 36,
            values: Closed(None),
            refs: Some(collection),
        },
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

pub const fn log(name: &'static str, entry: &'static [EntryField]) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Log {
            entry,
            max_entry_bytes: 4 * 1024,
        },
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

pub const fn level() -> FieldDef {
    FieldDef {
        name: "level",
        kind: FieldKind::Level,
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

pub const fn counter(name: &'static str) -> FieldDef {
    FieldDef {
        name,
        kind: FieldKind::Counter,
        since: 1,
        sensitive: false,
        label: Label { zh: "", en: "" },
    }
}

pub const fn entry(name: &'static str, ty: ScalarType, required: bool) -> EntryField {
    EntryField {
        name,
        ty,
        required,
        label: Label { zh: "", en: "" },
    }
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
                    FieldKind::Set {
                        refs: Some(collection),
                        ..
                    } => assert!(schema.collection(collection).is_some()),
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
            "assessment",
            "hazard_task",
        ] {
            assert!(Schema::current().collection(name).is_some(), "{name}");
        }
    }

    /// Every collection, field, entry field and code has a Chinese and an
    /// English label; what the definitions derive is consistent.
    #[test]
    fn everything_is_labelled_and_derived_consistently() {
        let schema = Schema::current();
        for c in schema.collections {
            assert!(!c.label.is_empty(), "{}", c.name);
            let choices = |ty: &ScalarType, what: &str| {
                if let ScalarType::Enum { values } = ty {
                    for v in values.0 {
                        assert!(!v.label.is_empty(), "{what} `{}`", v.code);
                    }
                }
            };
            for f in c.fields {
                let what = format!("{}.{}", c.name, f.name);
                assert!(!f.label.is_empty(), "{what}");
                match &f.kind {
                    FieldKind::Scalar { ty, .. } => choices(ty, &what),
                    FieldKind::Set {
                        values: Closed(Some(v)),
                        ..
                    } => {
                        for v in v.0 {
                            assert!(!v.label.is_empty(), "{what} `{}`", v.code);
                        }
                    }
                    FieldKind::Log { entry, .. } => {
                        for e in *entry {
                            assert!(!e.label.is_empty(), "{what}.{}", e.name);
                            choices(&e.ty, &what);
                        }
                    }
                    _ => {}
                }
            }
            let title = c.title.unwrap_or_else(|| panic!("{} has no title", c.name));
            assert!(
                matches!(
                    c.field(title.field()).map(|f| f.kind),
                    Some(FieldKind::Scalar {
                        ty: ScalarType::Text { .. },
                        ..
                    })
                ),
                "{}: title `{}` is not a text field",
                c.name,
                title.field()
            );
            // A case has a flow, deadlines, an overdue list and a status.
            if c.is_case() {
                assert!(c.flow.is_some() && c.overdue.is_some(), "{}", c.name);
                assert!(!c.deadlines.is_empty(), "{}", c.name);
                for d in c.deadlines {
                    for field in d.from.iter().chain(d.plus_days.iter()) {
                        assert!(c.field(field).is_some(), "{}: `{field}`", c.name);
                    }
                    for s in d.status.into_iter().flatten() {
                        assert!(c.field("status").unwrap().value_label(s).is_some());
                    }
                }
            } else {
                assert!(c.deadlines.is_empty(), "{}", c.name);
            }
            if let Some(s) = c.schedule {
                assert!(c.field(s.log).is_some() && c.field(s.interval_field).is_some());
            }
            assert!(!c.written_by.is_empty(), "{} is written by nobody", c.name);
        }
        for list in OverdueList::ALL {
            assert!(
                list.collections().next().is_some(),
                "{list:?} lists nothing"
            );
        }
        assert_eq!(
            schema
                .value_label("event", "status", "dispatched")
                .unwrap()
                .zh,
            "已派遣"
        );
        assert_eq!(
            schema.value_label("hazard", "level", "park").unwrap().zh,
            "园区"
        );
        assert_eq!(
            schema
                .value_label("key_person", "duties", "resolve")
                .unwrap()
                .zh,
            "化解"
        );
        assert!(schema.value_label("event", "status", "nonsense").is_none());
        for (i, l) in Level::ALL.iter().enumerate() {
            assert_eq!(*l as usize, i);
            assert_eq!(LEVELS[i].code, l.as_str());
        }
        for (i, l) in OverdueList::ALL.iter().enumerate() {
            assert_eq!(*l as usize, i);
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
        assert_eq!(status["value_labels"]["reported"]["zh"], "已上报");
        assert_eq!(status["label"]["zh"], "状态");
        assert_eq!(event["label"]["zh"], "事件");
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
