//! The collections of DOMAIN.md, one definition each. Every record belongs to
//! exactly one grid (the change header carries it), so no collection repeats a
//! grid field. Case collections (event, hazard, dispute, petition) carry a
//! `level` (the handling level), a `status` and a `deadline`.

use super::ScalarType::{Bool, Date, DateTime, Decimal, Geo, IdNumber, Integer, Phone, Text};
use super::*;

const SEVERITY: &[&str] = &["low", "medium", "high", "critical"];
const PHOTO: ScalarType = ScalarType::Attachment;
const NOTE: ScalarType = Text { max_len: 2000 };

const fn reference(name: &'static str, collection: &'static str) -> FieldDef {
    scalar(name, ScalarType::Ref { collection })
}

const fn int(name: &'static str, min: i64, max: i64) -> FieldDef {
    scalar(name, Integer { min, max })
}

/// The case actions log shared by events, hazards and petitions.
const ACTION_ENTRY: &[EntryField] = &[
    entry("action", Text { max_len: 64 }, true),
    entry("note", NOTE, false),
    entry("photo", PHOTO, false),
];

/// The photos of a case: evidence, so a log (grow-only) rather than a set.
const PHOTO_ENTRY: &[EntryField] = &[
    entry("photo", PHOTO, true),
    entry(
        "stage",
        ScalarType::Enum {
            values: &["before", "after", "scene", "document"],
        },
        true,
    ),
    entry("note", NOTE, false),
];

pub static COLLECTIONS: &[CollectionDef] = &[
    CollectionDef {
        name: "household",
        since: 1,
        fields: &[
            text("address_code", 64),
            text("address", 200),
            one_of(
                "use",
                &["residential", "rental", "commercial", "mixed", "vacant"],
            ),
            text("owner_name", 64),
            sensitive(scalar("owner_phone", Phone)),
            scalar("rental", Bool),
            set("residents", 64),
            scalar("location", Geo),
            set("tags", 32),
            text("note", 2000),
        ],
    },
    CollectionDef {
        name: "resident",
        since: 1,
        fields: &[
            text("name", 64),
            sensitive(scalar("id_number", IdNumber)),
            sensitive(scalar("phone", Phone)),
            one_of("gender", &["male", "female"]),
            scalar("birth_date", Date),
            reference("household", "household"),
            text("employer", 128),
            one_of(
                "category",
                &[
                    "registered",
                    "floating",
                    "left_behind_elderly",
                    "left_behind_child",
                    "special_group",
                ],
            ),
            set("tags", 32),
            text("note", 2000),
        ],
    },
    CollectionDef {
        name: "place",
        since: 1,
        fields: &[
            text("name", 128),
            one_of(
                "type",
                &[
                    "entertainment",
                    "flammable_explosive",
                    "crowded",
                    "express_logistics",
                    "school_surroundings",
                    "enterprise",
                    "other",
                ],
            ),
            text("address", 200),
            scalar("location", Geo),
            text("responsible_person", 64),
            sensitive(scalar("responsible_phone", Phone)),
            text("tag_code", 64),
            int("inspection_interval_days", 1, 366),
            one_of("status", &["active", "suspended", "closed"]),
            log(
                "inspections",
                &[
                    entry(
                        "result",
                        ScalarType::Enum {
                            values: &["pass", "issues_found", "fail"],
                        },
                        true,
                    ),
                    entry("note", NOTE, false),
                    entry("photo", PHOTO, false),
                ],
            ),
            set("tags", 32),
        ],
    },
    CollectionDef {
        name: "patrol_round",
        since: 1,
        fields: &[
            text("route", 128),
            set("planned_checkpoints", 200),
            set("members", 50),
            scalar("planned_start", DateTime),
            // A team's phones each record their own start and end: the round
            // starts when the first member set off and ends when the last
            // came back, never a conflict.
            resolved(scalar("started_at", DateTime), Concurrent::Earliest),
            resolved(scalar("ended_at", DateTime), Concurrent::Latest),
            one_of(
                "status",
                &["planned", "in_progress", "completed", "cancelled"],
            ),
            log(
                "check_ins",
                &[
                    entry("checkpoint", Text { max_len: 128 }, true),
                    entry(
                        "method",
                        ScalarType::Enum {
                            values: &["qr", "nfc", "manual"],
                        },
                        true,
                    ),
                    entry("position", Geo, false),
                    entry("note", NOTE, false),
                    entry("photo", PHOTO, false),
                ],
            ),
            counter("sightings"),
            text("note", 2000),
        ],
    },
    CollectionDef {
        name: "event",
        since: 1,
        fields: &[
            one_of(
                "category",
                &[
                    "public_order",
                    "fire_safety",
                    "traffic",
                    "environment",
                    "infrastructure",
                    "sanitation",
                    "illegal_construction",
                    "dispute_lead",
                    "other",
                ],
            ),
            text("title", 200),
            text("description", 4000),
            scalar("location", Geo),
            text("address", 200),
            reference("place", "place"),
            text("reporter", 64),
            one_of("severity", SEVERITY),
            one_of(
                "status",
                &[
                    "reported",
                    "accepted",
                    "verified",
                    "dispatched",
                    "handled",
                    "checked",
                    "closed",
                    "rejected",
                    "parked",
                    "reopened",
                ],
            ),
            level(),
            text("assignee", 64),
            scalar("deadline", DateTime),
            log("photos", PHOTO_ENTRY),
            log("actions", ACTION_ENTRY),
            counter("report_count"),
            set("tags", 32),
            // When it was reported in the field, by the phone's clock; the
            // statutory limit counts from it, bounded by when the server
            // received the report (docs/WORKFLOWS.md, "Deadlines").
            since(2, scalar("reported_at", DateTime)),
        ],
    },
    CollectionDef {
        name: "hazard",
        since: 1,
        fields: &[
            reference("place", "place"),
            one_of(
                "category",
                &[
                    "fire",
                    "structural",
                    "electrical",
                    "gas",
                    "chemical",
                    "crowd",
                    "traffic",
                    "other",
                ],
            ),
            text("description", 4000),
            scalar("location", Geo),
            one_of("severity", SEVERITY),
            one_of(
                "status",
                &[
                    "reported",
                    "confirmed",
                    "listed",
                    "rectifying",
                    "rechecked",
                    "delisted",
                    "closed",
                ],
            ),
            level(),
            text("assignee", 64),
            scalar("deadline", DateTime),
            scalar("listed", Bool),
            text("responsible_leader", 64),
            scalar("rectification_deadline", Date),
            scalar("listed_on", Date),
            scalar("delisted_on", Date),
            log(
                "reinspections",
                &[
                    entry(
                        "result",
                        ScalarType::Enum {
                            values: &["fixed", "partly_fixed", "not_fixed"],
                        },
                        true,
                    ),
                    entry("note", NOTE, false),
                    entry("photo", PHOTO, false),
                ],
            ),
            log("photos", PHOTO_ENTRY),
            scalar("estimated_cost", Decimal),
            since(2, scalar("reported_at", DateTime)),
        ],
    },
    CollectionDef {
        name: "dispute",
        since: 1,
        fields: &[
            one_of(
                "category",
                &[
                    "neighbour",
                    "family",
                    "labour",
                    "traffic_accident",
                    "medical",
                    "land_demolition",
                    "property",
                    "contract",
                    "other",
                ],
            ),
            text("summary", 4000),
            set("parties", 20),
            one_of(
                "channel",
                &["peoples", "administrative", "judicial", "third_party"],
            ),
            one_of(
                "status",
                &[
                    "registered",
                    "mediating",
                    "agreed",
                    "failed",
                    "referred",
                    "followed_up",
                    "closed",
                ],
            ),
            level(),
            text("mediator", 64),
            text("assignee", 64),
            scalar("received_on", Date),
            scalar("deadline", DateTime),
            text("agreement", 4000),
            // The signed agreement, photographed or scanned.
            scalar("agreement_scan", PHOTO),
            scalar("follow_up_on", Date),
            text("follow_up_result", 2000),
            log(
                "sessions",
                &[
                    entry("mediator", Text { max_len: 64 }, true),
                    entry(
                        "outcome",
                        ScalarType::Enum {
                            values: &["continued", "agreed", "failed"],
                        },
                        true,
                    ),
                    entry("note", NOTE, false),
                    entry("photo", PHOTO, false),
                ],
            ),
        ],
    },
    CollectionDef {
        name: "petition",
        since: 1,
        fields: &[
            set("petitioners", 50),
            int("group_size", 1, 100_000),
            text("matter", 4000),
            one_of(
                "category",
                &[
                    "land",
                    "housing",
                    "labour",
                    "social_security",
                    "environment",
                    "law_enforcement",
                    "other",
                ],
            ),
            scalar("received_on", Date),
            one_of("acceptance", &["pending", "accepted", "not_accepted"]),
            scalar("accepted_on", Date),
            int("extension_days", 0, 30),
            text("extension_reason", 2000),
            text("responsible_unit", 128),
            one_of(
                "status",
                &[
                    "received",
                    "accepted",
                    "not_accepted",
                    "replying",
                    "replied",
                    "closed",
                ],
            ),
            level(),
            text("assignee", 64),
            scalar("deadline", DateTime),
            text("reply", 4000),
            one_of(
                "satisfaction",
                &["satisfied", "basically_satisfied", "unsatisfied"],
            ),
            log("actions", ACTION_ENTRY),
        ],
    },
    CollectionDef {
        name: "key_person",
        since: 1,
        fields: &[
            text("name", 64),
            sensitive(scalar("id_number", IdNumber)),
            sensitive(scalar("phone", Phone)),
            reference("resident", "resident"),
            one_of(
                "category",
                &[
                    "mental_health",
                    "drug_related",
                    "community_correction",
                    "released_prisoner",
                    "key_petitioner",
                    "other",
                ],
            ),
            one_of("risk_level", &["low", "medium", "high"]),
            // The five responsible officials (五包一).
            text("district_leader", 64),
            text("department_head", 64),
            text("park_cadre", 64),
            text("community_cadre", 64),
            text("community_police", 64),
            // The five duties: 稳控, 疏导, 转化, 帮扶, 化解.
            set_of(
                "duties",
                &["stabilize", "counsel", "transform", "assist", "resolve"],
            ),
            int("visit_interval_days", 1, 366),
            one_of("status", &["active", "archived"]),
            log(
                "visits",
                &[
                    entry("visitor", Text { max_len: 64 }, true),
                    entry(
                        "method",
                        ScalarType::Enum {
                            values: &["in_person", "phone", "video"],
                        },
                        true,
                    ),
                    entry(
                        "risk_assessment",
                        ScalarType::Enum {
                            values: &["low", "medium", "high"],
                        },
                        false,
                    ),
                    entry("note", NOTE, false),
                ],
            ),
        ],
    },
];
