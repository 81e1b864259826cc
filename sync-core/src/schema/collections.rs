//! The collections of the domain, one definition each: fields and their
//! labels, and what the service derives from the definition (case flow,
//! deadlines, overdue list, title, roles). Every record belongs to exactly
//! one grid (the change header carries it), so no collection repeats a grid
//! field. Case collections carry a `level` (the handling level), a `status`
//! and a `deadline`.
//!
//! Adding a collection is one edit here (and a bump of [`SCHEMA_VERSION`]).

use super::ScalarType::{Bool, Date, DateTime, Decimal, Geo, IdNumber, Integer, Phone, Text};
use super::*;
use crate::flows::Flow;

const SEVERITY: &[Choice] = &[
    c("low", "一般", "Low"),
    c("medium", "较大", "Medium"),
    c("high", "重大", "High"),
    c("critical", "特别重大", "Critical"),
];
const PHOTO: ScalarType = ScalarType::Attachment;
const NOTE: ScalarType = Text { max_len: 2000 };

/// The time field a case's report time is kept in, by the phone's clock.
pub const REPORTED_AT: &str = "reported_at";

const fn reference(name: &'static str, collection: &'static str) -> FieldDef {
    scalar(name, ScalarType::Ref { collection })
}

const fn int(name: &'static str, min: i64, max: i64) -> FieldDef {
    scalar(name, Integer { min, max })
}

const fn choose(values: &'static [Choice]) -> ScalarType {
    ScalarType::Enum {
        values: Choices(values),
    }
}

// Roles, by name (`auth::policy::Role` on the server).
const GRID_WORKER: &str = "grid_worker";
const PATROL: &str = "patrol";
const POLICE: &str = "police";
const MEDIATOR: &str = "mediator";
const SUPERVISOR: &str = "supervisor";
/// A department (区直部门, 综治成员单位) acts on the cases dispatched to it
/// only, whatever their grid.
const DEPARTMENT: &str = "department";

/// The case actions log shared by events, hazards and petitions.
const ACTION_ENTRY: &[EntryField] = &[
    entry("action", Text { max_len: 64 }, true).is("处置动作", "Action"),
    entry("note", NOTE, false).is("说明", "Note"),
    entry("photo", PHOTO, false).is("照片", "Photo"),
];

/// The photos of a case: evidence, so a log (grow-only) rather than a set.
const PHOTO_ENTRY: &[EntryField] = &[
    entry("photo", PHOTO, true).is("照片", "Photo"),
    entry(
        "stage",
        choose(&[
            c("before", "处置前", "Before"),
            c("after", "处置后", "After"),
            c("scene", "现场", "Scene"),
            c("document", "文书", "Document"),
        ]),
        true,
    )
    .is("阶段", "Stage"),
    entry("note", NOTE, false).is("说明", "Note"),
];

/// A visit to a person: a key person's, a special-group resident's.
const VISIT_ENTRY: &[EntryField] = &[
    entry("visitor", Text { max_len: 64 }, true).is("走访人", "Visitor"),
    entry(
        "method",
        choose(&[
            c("in_person", "上门", "In person"),
            c("phone", "电话", "Phone"),
            c("video", "视频", "Video"),
        ]),
        true,
    )
    .is("方式", "Method"),
    entry(
        "risk_assessment",
        choose(&[
            c("low", "低", "Low"),
            c("medium", "中", "Medium"),
            c("high", "高", "High"),
        ]),
        false,
    )
    .is("风险评估", "Risk assessment"),
    entry("note", NOTE, false).is("情况记录", "Note"),
];

// ------------------------------------------------------------------ flows

/// After the 数字城管 event flow: accepted, verified, dispatched, handled,
/// checked, closed.
static EVENT_FLOW: Flow = Flow {
    initial: &["reported"],
    terminal: &["closed", "rejected"],
    moves: &[
        ("reported", &["accepted", "rejected"]),
        ("accepted", &["verified", "rejected", "parked"]),
        ("verified", &["dispatched", "parked"]),
        ("dispatched", &["handled", "parked"]),
        ("handled", &["checked", "reopened"]),
        ("checked", &["closed", "reopened"]),
        ("reopened", &["dispatched", "handled"]),
        ("parked", &["accepted", "dispatched"]),
        ("closed", &["reopened"]),
        ("rejected", &["reopened"]),
    ],
};

static HAZARD_FLOW: Flow = Flow {
    initial: &["reported"],
    terminal: &["closed"],
    moves: &[
        ("reported", &["confirmed", "closed"]),
        ("confirmed", &["listed", "rectifying", "closed"]),
        ("listed", &["rectifying"]),
        ("rectifying", &["rechecked"]),
        ("rechecked", &["rectifying", "delisted", "closed"]),
        ("delisted", &["closed"]),
    ],
};

static DISPUTE_FLOW: Flow = Flow {
    initial: &["registered"],
    terminal: &["closed"],
    moves: &[
        ("registered", &["mediating", "referred"]),
        ("mediating", &["agreed", "failed", "referred"]),
        ("agreed", &["followed_up", "closed"]),
        ("failed", &["referred", "mediating", "closed"]),
        ("referred", &["closed"]),
        ("followed_up", &["closed"]),
    ],
};

static PETITION_FLOW: Flow = Flow {
    initial: &["received"],
    terminal: &["closed", "not_accepted"],
    moves: &[
        ("received", &["accepted", "not_accepted"]),
        ("accepted", &["replying"]),
        ("replying", &["replied"]),
        ("replied", &["closed", "replying"]),
        ("not_accepted", &["closed"]),
    ],
};

static PATROL_FLOW: Flow = Flow {
    initial: &["planned", "in_progress"],
    terminal: &["completed", "cancelled"],
    moves: &[
        ("planned", &["in_progress", "cancelled"]),
        ("in_progress", &["completed", "cancelled"]),
    ],
};

/// A department's task in a hazard's joint remediation (组织关联部门进行集中
/// 整治): assigned, worked on, done; returned by the department when it is
/// not theirs, reopened when a recheck finds it not done.
static TASK_FLOW: Flow = Flow {
    initial: &["assigned"],
    terminal: &["done"],
    moves: &[
        ("assigned", &["rectifying", "returned"]),
        ("returned", &["assigned"]),
        ("rectifying", &["done", "returned"]),
        ("done", &["rectifying"]),
    ],
};

/// 研判: held, its conclusions assigned to a responsible leader or
/// department (包保), worked on within its time limit until resolved and
/// signed off (销号); a relapse reopens the work.
static ASSESSMENT_FLOW: Flow = Flow {
    initial: &["held"],
    terminal: &["closed"],
    moves: &[
        ("held", &["assigned", "closed"]),
        ("assigned", &["resolving"]),
        ("resolving", &["resolved"]),
        ("resolved", &["closed", "resolving"]),
    ],
};

// -------------------------------------------------------------- deadlines

/// Events by severity (as 数字城管 platforms do), from their report in the
/// field, and the same again at every level.
const EVENT_DEADLINES: &[DeadlineDef] = &[
    DeadlineDef::both(REPORTED_AT, 24).severity("critical"),
    DeadlineDef::both(REPORTED_AT, 72).severity("high"),
    DeadlineDef::both(REPORTED_AT, 168).severity("medium"),
    DeadlineDef::both(REPORTED_AT, 360).severity("low"),
    DeadlineDef::both(REPORTED_AT, 168),
];

/// Hazards as events, twice as long. Once listed (挂牌整治) a hazard is due
/// at the end of its rectification day, and no level limit escalates it
/// meanwhile.
const HAZARD_UNLISTED: &[&str] = &["reported", "confirmed"];
const HAZARD_DEADLINES: &[DeadlineDef] = &[
    DeadlineDef::both("rectification_deadline", 24)
        .clocks(Clocks::Statutory)
        .in_status(&["listed", "rectifying", "rechecked"]),
    DeadlineDef::both(REPORTED_AT, 48)
        .clocks(Clocks::Statutory)
        .severity("critical"),
    DeadlineDef::both(REPORTED_AT, 144)
        .clocks(Clocks::Statutory)
        .severity("high"),
    DeadlineDef::both(REPORTED_AT, 336)
        .clocks(Clocks::Statutory)
        .severity("medium"),
    DeadlineDef::both(REPORTED_AT, 720)
        .clocks(Clocks::Statutory)
        .severity("low"),
    DeadlineDef::both(REPORTED_AT, 336).clocks(Clocks::Statutory),
    DeadlineDef::both(REPORTED_AT, 48)
        .clocks(Clocks::Level)
        .in_status(HAZARD_UNLISTED)
        .severity("critical"),
    DeadlineDef::both(REPORTED_AT, 144)
        .clocks(Clocks::Level)
        .in_status(HAZARD_UNLISTED)
        .severity("high"),
    DeadlineDef::both(REPORTED_AT, 336)
        .clocks(Clocks::Level)
        .in_status(HAZARD_UNLISTED)
        .severity("medium"),
    DeadlineDef::both(REPORTED_AT, 720)
        .clocks(Clocks::Level)
        .in_status(HAZARD_UNLISTED)
        .severity("low"),
    DeadlineDef::both(REPORTED_AT, 336)
        .clocks(Clocks::Level)
        .in_status(HAZARD_UNLISTED),
];

/// Disputes closed within a month of receipt.
const DISPUTE_DEADLINES: &[DeadlineDef] = &[DeadlineDef::both("received_on", 30 * 24)];

/// Petitions accepted or not within 15 days of receipt, answered within 60
/// days of acceptance plus an extension of up to 30 days.
const PETITION_DEADLINES: &[DeadlineDef] = &[
    DeadlineDef::both("received_on", 15 * 24).in_status(&["received"]),
    DeadlineDef::both("accepted_on", 60 * 24)
        .in_status(&["accepted", "replying"])
        .plus_days("extension_days"),
];

/// 研判 resolved within 30 days of the meeting, unless the meeting set its
/// own time limit (`deadline`, 限时化解).
const ASSESSMENT_DEADLINES: &[DeadlineDef] = &[DeadlineDef::both("held_on", 30 * 24)];

// ------------------------------------------------------------ collections

pub static COLLECTIONS: &[CollectionDef] = &[
    CollectionDef::new(
        "household",
        "房屋户",
        "Household",
        &[
            text("address_code", 64).is("地址编码", "Address code"),
            text("address", 200).is("地址", "Address"),
            one_of(
                "use",
                &[
                    c("residential", "自住", "Residential"),
                    c("rental", "出租", "Rental"),
                    c("commercial", "商用", "Commercial"),
                    c("mixed", "混合", "Mixed"),
                    c("vacant", "空置", "Vacant"),
                ],
            )
            .is("房屋用途", "Use"),
            text("owner_name", 64).is("户主/房主", "Owner"),
            sensitive(scalar("owner_phone", Phone)).is("房主电话", "Owner's phone"),
            scalar("rental", Bool).is("是否出租", "Rented out"),
            // Names, as schema versions 1 and 2 kept them; `members` refers
            // to the resident records themselves.
            set("residents", 64).is("居住人员姓名", "Residents' names"),
            scalar("location", Geo).is("位置", "Location"),
            set("tags", 32).is("标签", "Tags"),
            text("note", 2000).is("备注", "Note"),
            since(3, refs("members", "resident", 64)).is("居住人员", "Residents"),
        ],
    )
    .titled(Title::Text("address"))
    .access(&[GRID_WORKER], &[POLICE, SUPERVISOR, MEDIATOR]),
    CollectionDef::new(
        "resident",
        "人口",
        "Resident",
        &[
            text("name", 64).is("姓名", "Name"),
            sensitive(scalar("id_number", IdNumber)).is("身份证号", "ID number"),
            sensitive(scalar("phone", Phone)).is("联系电话", "Phone"),
            one_of(
                "gender",
                &[c("male", "男", "Male"), c("female", "女", "Female")],
            )
            .is("性别", "Gender"),
            scalar("birth_date", Date).is("出生日期", "Birth date"),
            reference("household", "household").is("所属房屋户", "Household"),
            text("employer", 128).is("工作单位", "Employer"),
            one_of(
                "category",
                &[
                    c("registered", "户籍人口", "Registered"),
                    c("floating", "流动人口", "Floating"),
                    c("left_behind_elderly", "留守老人", "Left-behind elderly"),
                    c("left_behind_child", "留守儿童", "Left-behind child"),
                    c("special_group", "特殊人群", "Special group"),
                ],
            )
            .is("人员类别", "Category"),
            set("tags", 32).is("标签", "Tags"),
            text("note", 2000).is("备注", "Note"),
            // A special-group resident's visit plan, as key persons have.
            since(3, int("visit_interval_days", 1, 366)).is("走访周期（天）", "Visit every (days)"),
            since(3, log("visits", VISIT_ENTRY)).is("走访记录", "Visits"),
        ],
    )
    .titled(Title::Name("name"))
    .scheduled(
        Schedule {
            log: "visits",
            interval_field: "visit_interval_days",
            default_days: 30,
            idle: &[],
            only: Some(("category", "special_group")),
        },
        OverdueList::SpecialGroups,
    )
    .access(&[GRID_WORKER], &[POLICE, SUPERVISOR, MEDIATOR]),
    CollectionDef::new(
        "place",
        "场所",
        "Place",
        &[
            text("name", 128).is("名称", "Name"),
            one_of(
                "type",
                &[
                    c("entertainment", "娱乐场所", "Entertainment"),
                    c("flammable_explosive", "易燃易爆", "Flammable or explosive"),
                    c("crowded", "人员密集场所", "Crowded"),
                    c("express_logistics", "寄递物流", "Express and logistics"),
                    c("school_surroundings", "校园周边", "School surroundings"),
                    c("enterprise", "企业", "Enterprise"),
                    c("other", "其他", "Other"),
                ],
            )
            .is("场所类型", "Type"),
            text("address", 200).is("地址", "Address"),
            scalar("location", Geo).is("位置", "Location"),
            text("responsible_person", 64).is("负责人", "Responsible person"),
            sensitive(scalar("responsible_phone", Phone)).is("负责人电话", "Responsible's phone"),
            text("tag_code", 64).is("二维码标签", "Tag code"),
            int("inspection_interval_days", 1, 366).is("巡查周期（天）", "Inspect every (days)"),
            one_of(
                "status",
                &[
                    c("active", "在营", "Active"),
                    c("suspended", "停业", "Suspended"),
                    c("closed", "关闭", "Closed"),
                ],
            )
            .is("状态", "Status"),
            log(
                "inspections",
                &[
                    entry(
                        "result",
                        choose(&[
                            c("pass", "合格", "Pass"),
                            c("issues_found", "发现问题", "Issues found"),
                            c("fail", "不合格", "Fail"),
                        ]),
                        true,
                    )
                    .is("结果", "Result"),
                    entry("note", NOTE, false).is("说明", "Note"),
                    entry("photo", PHOTO, false).is("照片", "Photo"),
                ],
            )
            .is("巡查记录", "Inspections"),
            set("tags", 32).is("标签", "Tags"),
        ],
    )
    .titled(Title::Text("name"))
    .scheduled(
        Schedule {
            log: "inspections",
            interval_field: "inspection_interval_days",
            default_days: 10,
            idle: &["closed"],
            only: None,
        },
        OverdueList::Places,
    )
    .access(&[GRID_WORKER], &[POLICE, SUPERVISOR, PATROL]),
    CollectionDef::new(
        "patrol_round",
        "巡逻",
        "Patrol round",
        &[
            text("route", 128).is("路线", "Route"),
            set("planned_checkpoints", 200).is("计划点位", "Planned checkpoints"),
            set("members", 50).is("队员", "Members"),
            scalar("planned_start", DateTime).is("计划开始", "Planned start"),
            // A team's phones each record their own start and end: the round
            // starts when the first member set off and ends when the last
            // came back, never a conflict.
            resolved(scalar("started_at", DateTime), Concurrent::Earliest)
                .is("开始时间", "Started"),
            resolved(scalar("ended_at", DateTime), Concurrent::Latest).is("结束时间", "Ended"),
            one_of(
                "status",
                &[
                    c("planned", "计划中", "Planned"),
                    c("in_progress", "巡逻中", "In progress"),
                    c("completed", "已完成", "Completed"),
                    c("cancelled", "已取消", "Cancelled"),
                ],
            )
            .is("状态", "Status"),
            log(
                "check_ins",
                &[
                    entry("checkpoint", Text { max_len: 128 }, true).is("点位", "Checkpoint"),
                    entry(
                        "method",
                        choose(&[
                            c("qr", "扫码", "QR code"),
                            c("nfc", "NFC", "NFC"),
                            c("manual", "手工", "Manual"),
                        ]),
                        true,
                    )
                    .is("方式", "Method"),
                    entry("position", Geo, false).is("位置", "Position"),
                    entry("note", NOTE, false).is("说明", "Note"),
                    entry("photo", PHOTO, false).is("照片", "Photo"),
                ],
            )
            .is("打卡记录", "Check-ins"),
            counter("sightings").is("发现情况数", "Sightings"),
            text("note", 2000).is("备注", "Note"),
        ],
    )
    .titled(Title::Text("route"))
    .flow(&PATROL_FLOW)
    .access(&[GRID_WORKER, PATROL], &[POLICE, SUPERVISOR]),
    CollectionDef::new(
        "event",
        "事件",
        "Event",
        &[
            one_of(
                "category",
                &[
                    c("public_order", "治安", "Public order"),
                    c("fire_safety", "消防安全", "Fire safety"),
                    c("traffic", "交通", "Traffic"),
                    c("environment", "环境", "Environment"),
                    c("infrastructure", "基础设施", "Infrastructure"),
                    c("sanitation", "市容环卫", "Sanitation"),
                    c("illegal_construction", "违法建设", "Illegal construction"),
                    c("dispute_lead", "矛盾线索", "Dispute lead"),
                    c("other", "其他", "Other"),
                ],
            )
            .is("事件类别", "Category"),
            text("title", 200).is("标题", "Title"),
            text("description", 4000).is("描述", "Description"),
            scalar("location", Geo).is("位置", "Location"),
            text("address", 200).is("地址", "Address"),
            reference("place", "place").is("相关场所", "Place"),
            text("reporter", 64).is("报告人", "Reporter"),
            one_of("severity", SEVERITY).is("严重程度", "Severity"),
            one_of(
                "status",
                &[
                    c("reported", "已上报", "Reported"),
                    c("accepted", "已受理", "Accepted"),
                    c("verified", "已核实", "Verified"),
                    c("dispatched", "已派遣", "Dispatched"),
                    c("handled", "已处置", "Handled"),
                    c("checked", "已核查", "Checked"),
                    c("closed", "已结案", "Closed"),
                    c("rejected", "不予受理", "Rejected"),
                    c("parked", "暂缓", "Parked"),
                    c("reopened", "已重办", "Reopened"),
                ],
            )
            .is("状态", "Status"),
            level().is("处置层级", "Handling level"),
            scalar("assignee", ScalarType::Assignee).is("承办人", "Assignee"),
            scalar("deadline", DateTime).is("限办时间", "Deadline"),
            log("photos", PHOTO_ENTRY).is("照片", "Photos"),
            log("actions", ACTION_ENTRY).is("处置记录", "Actions"),
            counter("report_count").is("上报次数", "Times reported"),
            set("tags", 32).is("标签", "Tags"),
            // When it was reported in the field, by the phone's clock; the
            // statutory limit counts from it, bounded by when the server
            // received the report (docs/WORKFLOWS.md, "Deadlines").
            since(2, scalar(REPORTED_AT, DateTime)).is("上报时间", "Reported at"),
        ],
    )
    .titled(Title::Text("title"))
    .case(&EVENT_FLOW, EVENT_DEADLINES, OverdueList::Cases)
    .access(&[GRID_WORKER, PATROL, SUPERVISOR, DEPARTMENT], &[POLICE]),
    CollectionDef::new(
        "hazard",
        "隐患",
        "Hazard",
        &[
            reference("place", "place").is("相关场所", "Place"),
            one_of(
                "category",
                &[
                    c("fire", "火灾", "Fire"),
                    c("structural", "建筑结构", "Structural"),
                    c("electrical", "用电", "Electrical"),
                    c("gas", "燃气", "Gas"),
                    c("chemical", "危化品", "Chemical"),
                    c("crowd", "人员聚集", "Crowd"),
                    c("traffic", "交通", "Traffic"),
                    c("other", "其他", "Other"),
                ],
            )
            .is("隐患类别", "Category"),
            text("description", 4000).is("描述", "Description"),
            scalar("location", Geo).is("位置", "Location"),
            one_of("severity", SEVERITY).is("严重程度", "Severity"),
            one_of(
                "status",
                &[
                    c("reported", "已上报", "Reported"),
                    c("confirmed", "已确认", "Confirmed"),
                    c("listed", "已挂牌", "Listed"),
                    c("rectifying", "整改中", "Rectifying"),
                    c("rechecked", "已复查", "Rechecked"),
                    c("delisted", "已摘牌", "Delisted"),
                    c("closed", "已销号", "Closed"),
                ],
            )
            .is("状态", "Status"),
            level().is("处置层级", "Handling level"),
            scalar("assignee", ScalarType::Assignee).is("承办人", "Assignee"),
            scalar("deadline", DateTime).is("限办时间", "Deadline"),
            scalar("listed", Bool).is("挂牌督办", "Listed"),
            text("responsible_leader", 64).is("包保领导", "Responsible leader"),
            scalar("rectification_deadline", Date).is("整改期限", "Rectify by"),
            scalar("listed_on", Date).is("挂牌日期", "Listed on"),
            scalar("delisted_on", Date).is("摘牌日期", "Delisted on"),
            log(
                "reinspections",
                &[
                    entry(
                        "result",
                        choose(&[
                            c("fixed", "已整改", "Fixed"),
                            c("partly_fixed", "部分整改", "Partly fixed"),
                            c("not_fixed", "未整改", "Not fixed"),
                        ]),
                        true,
                    )
                    .is("复查结果", "Result"),
                    entry("note", NOTE, false).is("说明", "Note"),
                    entry("photo", PHOTO, false).is("照片", "Photo"),
                ],
            )
            .is("复查记录", "Reinspections"),
            log("photos", PHOTO_ENTRY).is("照片", "Photos"),
            scalar("estimated_cost", Decimal).is("预计费用（元）", "Estimated cost (yuan)"),
            since(2, scalar(REPORTED_AT, DateTime)).is("上报时间", "Reported at"),
        ],
    )
    .titled(Title::Text("description"))
    .case(&HAZARD_FLOW, HAZARD_DEADLINES, OverdueList::Cases)
    .access(&[GRID_WORKER, SUPERVISOR, DEPARTMENT], &[POLICE]),
    CollectionDef::new(
        "dispute",
        "矛盾纠纷",
        "Dispute",
        &[
            one_of(
                "category",
                &[
                    c("neighbour", "邻里纠纷", "Neighbours"),
                    c("family", "婚姻家庭", "Family"),
                    c("labour", "劳动争议", "Labour"),
                    c("traffic_accident", "交通事故", "Traffic accident"),
                    c("medical", "医疗纠纷", "Medical"),
                    c("land_demolition", "征地拆迁", "Land and demolition"),
                    c("property", "物业纠纷", "Property management"),
                    c("contract", "合同纠纷", "Contract"),
                    c("other", "其他", "Other"),
                ],
            )
            .is("纠纷类别", "Category"),
            text("summary", 4000).is("纠纷简要", "Summary"),
            set("parties", 20).is("当事人", "Parties"),
            one_of(
                "channel",
                &[
                    c("peoples", "人民调解", "People's mediation"),
                    c("administrative", "行政调解", "Administrative mediation"),
                    c("judicial", "司法调解", "Judicial mediation"),
                    c("third_party", "第三方调解", "Third-party mediation"),
                ],
            )
            .is("调解渠道", "Channel"),
            one_of(
                "status",
                &[
                    c("registered", "已登记", "Registered"),
                    c("mediating", "调解中", "Mediating"),
                    c("agreed", "调解成功", "Agreed"),
                    c("failed", "调解失败", "Failed"),
                    c("referred", "已移交", "Referred"),
                    c("followed_up", "已回访", "Followed up"),
                    c("closed", "已办结", "Closed"),
                ],
            )
            .is("状态", "Status"),
            level().is("处置层级", "Handling level"),
            text("mediator", 64).is("调解员", "Mediator"),
            scalar("assignee", ScalarType::Assignee).is("承办人", "Assignee"),
            scalar("received_on", Date).is("受理日期", "Received on"),
            scalar("deadline", DateTime).is("限办时间", "Deadline"),
            text("agreement", 4000).is("调解协议", "Agreement"),
            // The signed agreement, photographed or scanned.
            scalar("agreement_scan", PHOTO).is("协议扫描件", "Agreement scan"),
            scalar("follow_up_on", Date).is("回访日期", "Followed up on"),
            text("follow_up_result", 2000).is("回访情况", "Follow-up result"),
            log(
                "sessions",
                &[
                    entry("mediator", Text { max_len: 64 }, true).is("调解员", "Mediator"),
                    entry(
                        "outcome",
                        choose(&[
                            c("continued", "继续调解", "Continued"),
                            c("agreed", "达成协议", "Agreed"),
                            c("failed", "调解不成", "Failed"),
                        ]),
                        true,
                    )
                    .is("结果", "Outcome"),
                    entry("note", NOTE, false).is("说明", "Note"),
                    entry("photo", PHOTO, false).is("照片", "Photo"),
                ],
            )
            .is("调解记录", "Sessions"),
        ],
    )
    .titled(Title::Text("summary"))
    .case(&DISPUTE_FLOW, DISPUTE_DEADLINES, OverdueList::Mediations)
    .access(
        &[GRID_WORKER, POLICE, MEDIATOR, SUPERVISOR, DEPARTMENT],
        &[],
    ),
    CollectionDef::new(
        "petition",
        "信访",
        "Petition",
        &[
            set("petitioners", 50).is("信访人", "Petitioners"),
            int("group_size", 1, 100_000).is("人数", "Group size"),
            text("matter", 4000).is("信访事项", "Matter"),
            one_of(
                "category",
                &[
                    c("land", "土地", "Land"),
                    c("housing", "住房", "Housing"),
                    c("labour", "劳动", "Labour"),
                    c("social_security", "社会保障", "Social security"),
                    c("environment", "环境", "Environment"),
                    c("law_enforcement", "执法", "Law enforcement"),
                    c("other", "其他", "Other"),
                ],
            )
            .is("信访类别", "Category"),
            scalar("received_on", Date).is("登记日期", "Received on"),
            one_of(
                "acceptance",
                &[
                    c("pending", "待定", "Pending"),
                    c("accepted", "受理", "Accepted"),
                    c("not_accepted", "不予受理", "Not accepted"),
                ],
            )
            .is("受理情况", "Acceptance"),
            scalar("accepted_on", Date).is("受理日期", "Accepted on"),
            int("extension_days", 0, 30).is("延期（天）", "Extension (days)"),
            text("extension_reason", 2000).is("延期理由", "Extension reason"),
            text("responsible_unit", 128).is("责任单位", "Responsible unit"),
            one_of(
                "status",
                &[
                    c("received", "已登记", "Received"),
                    c("accepted", "已受理", "Accepted"),
                    c("not_accepted", "不予受理", "Not accepted"),
                    c("replying", "办理中", "Replying"),
                    c("replied", "已答复", "Replied"),
                    c("closed", "已办结", "Closed"),
                ],
            )
            .is("状态", "Status"),
            level().is("处置层级", "Handling level"),
            scalar("assignee", ScalarType::Assignee).is("承办人", "Assignee"),
            scalar("deadline", DateTime).is("限办时间", "Deadline"),
            text("reply", 4000).is("答复意见", "Reply"),
            one_of(
                "satisfaction",
                &[
                    c("satisfied", "满意", "Satisfied"),
                    c("basically_satisfied", "基本满意", "Basically satisfied"),
                    c("unsatisfied", "不满意", "Unsatisfied"),
                ],
            )
            .is("满意度", "Satisfaction"),
            log("actions", ACTION_ENTRY).is("办理记录", "Actions"),
        ],
    )
    .titled(Title::Text("matter"))
    .case(&PETITION_FLOW, PETITION_DEADLINES, OverdueList::Petitions)
    .access(&[GRID_WORKER, SUPERVISOR, DEPARTMENT], &[POLICE]),
    CollectionDef::new(
        "key_person",
        "重点人员",
        "Key person",
        &[
            text("name", 64).is("姓名", "Name"),
            sensitive(scalar("id_number", IdNumber)).is("身份证号", "ID number"),
            sensitive(scalar("phone", Phone)).is("联系电话", "Phone"),
            reference("resident", "resident").is("对应人口", "Resident"),
            one_of(
                "category",
                &[
                    c("mental_health", "严重精神障碍患者", "Mental health"),
                    c("drug_related", "涉毒人员", "Drug related"),
                    c(
                        "community_correction",
                        "社区矫正对象",
                        "Community correction",
                    ),
                    c("released_prisoner", "刑满释放人员", "Released prisoner"),
                    c("key_petitioner", "重点信访人员", "Key petitioner"),
                    c("other", "其他", "Other"),
                ],
            )
            .is("人员类别", "Category"),
            one_of(
                "risk_level",
                &[
                    c("low", "低", "Low"),
                    c("medium", "中", "Medium"),
                    c("high", "高", "High"),
                ],
            )
            .is("风险等级", "Risk level"),
            // The five responsible officials (五包一).
            text("district_leader", 64).is("包保区领导", "District leader"),
            text("department_head", 64).is("部门负责人", "Department head"),
            text("park_cadre", 64).is("园区干部", "Park cadre"),
            text("community_cadre", 64).is("社区干部", "Community cadre"),
            text("community_police", 64).is("社区民警", "Community police"),
            // The five duties: 稳控, 疏导, 转化, 帮扶, 化解.
            set_of(
                "duties",
                &[
                    c("stabilize", "稳控", "Stabilize"),
                    c("counsel", "疏导", "Counsel"),
                    c("transform", "转化", "Transform"),
                    c("assist", "帮扶", "Assist"),
                    c("resolve", "化解", "Resolve"),
                ],
            )
            .is("包保职责", "Duties"),
            int("visit_interval_days", 1, 366).is("走访周期（天）", "Visit every (days)"),
            one_of(
                "status",
                &[
                    c("active", "在管", "Active"),
                    c("archived", "已撤管", "Archived"),
                ],
            )
            .is("状态", "Status"),
            log("visits", VISIT_ENTRY).is("走访记录", "Visits"),
        ],
    )
    .titled(Title::Name("name"))
    .scheduled(
        Schedule {
            log: "visits",
            interval_field: "visit_interval_days",
            default_days: 30,
            idle: &["archived"],
            only: None,
        },
        OverdueList::KeyPersons,
    )
    .access(&[GRID_WORKER, POLICE], &[SUPERVISOR]),
    // One department's part of a hazard's remediation: a record of its own
    // in the hazard's grid, dispatched to the department, with its own
    // status, deadline and photos. The hazard closes only when every task is
    // done and its latest recheck found it fixed (docs/WORKFLOWS.md).
    CollectionDef::new(
        "hazard_task",
        "隐患整改任务",
        "Hazard task",
        &[
            since(3, reference("hazard", "hazard")).is("所属隐患", "Hazard"),
            since(3, text("task", 500)).is("整改内容", "Task"),
            since(3, scalar("assignee", ScalarType::Assignee)).is("责任部门", "Department"),
            since(
                3,
                one_of(
                    "status",
                    &[
                        c("assigned", "已交办", "Assigned"),
                        c("rectifying", "整改中", "Rectifying"),
                        c("done", "已完成", "Done"),
                        c("returned", "已退回", "Returned"),
                    ],
                ),
            )
            .is("状态", "Status"),
            since(3, scalar("deadline", DateTime)).is("整改期限", "Deadline"),
            since(3, log("photos", PHOTO_ENTRY)).is("照片", "Photos"),
            since(3, log("actions", ACTION_ENTRY)).is("办理记录", "Actions"),
            since(3, text("note", 2000)).is("备注", "Note"),
        ],
    )
    .since(3)
    .titled(Title::Text("task"))
    .flow(&TASK_FLOW)
    .overdue(OverdueList::Cases)
    .access(&[SUPERVISOR, DEPARTMENT], &[GRID_WORKER, POLICE]),
    // 研判: a meeting at a level of the 综治中心 that assesses risks and
    // assigns their resolution within a time limit (限时包保化解).
    CollectionDef::new(
        "assessment",
        "研判",
        "Assessment",
        &[
            since(3, text("title", 200)).is("研判议题", "Title"),
            since(3, scalar("held_on", Date)).is("研判日期", "Held on"),
            since(
                3,
                one_of(
                    "risk",
                    &[
                        c("low", "低风险", "Low"),
                        c("medium", "中风险", "Medium"),
                        c("high", "高风险", "High"),
                        c("major", "重大风险", "Major"),
                    ],
                ),
            )
            .is("风险等级", "Risk"),
            since(
                3,
                set_of(
                    "topics",
                    &[
                        c("disputes", "矛盾纠纷", "Disputes"),
                        c("petitions", "信访", "Petitions"),
                        c("public_security", "社会治安", "Public security"),
                        c("safety_hazards", "安全隐患", "Safety hazards"),
                        c("key_persons", "重点人员", "Key persons"),
                        c("special_groups", "特殊人群", "Special groups"),
                        c("public_opinion", "舆情", "Public opinion"),
                        c("other", "其他", "Other"),
                    ],
                ),
            )
            .is("研判内容", "Topics"),
            since(3, text("conclusions", 4000)).is("研判结论", "Conclusions"),
            since(3, text("responsible_leader", 64)).is("包保领导", "Responsible leader"),
            since(3, text("responsible_department", 128)).is("责任部门", "Responsible department"),
            since(
                3,
                one_of(
                    "status",
                    &[
                        c("held", "已研判", "Held"),
                        c("assigned", "已交办", "Assigned"),
                        c("resolving", "化解中", "Resolving"),
                        c("resolved", "已化解", "Resolved"),
                        c("closed", "已销号", "Closed"),
                    ],
                ),
            )
            .is("状态", "Status"),
            since(3, level()).is("研判层级", "Level"),
            since(3, scalar("assignee", ScalarType::Assignee)).is("承办人", "Assignee"),
            since(3, scalar("deadline", DateTime)).is("化解时限", "Resolve by"),
            since(
                3,
                log(
                    "follow_ups",
                    &[
                        entry(
                            "progress",
                            choose(&[
                                c("in_progress", "推进中", "In progress"),
                                c("stalled", "受阻", "Stalled"),
                                c("resolved", "已化解", "Resolved"),
                            ]),
                            true,
                        )
                        .is("进展", "Progress"),
                        entry("note", NOTE, true).is("情况", "Note"),
                        entry("photo", PHOTO, false).is("照片", "Photo"),
                    ],
                ),
            )
            .is("跟踪记录", "Follow-ups"),
        ],
    )
    .since(3)
    .titled(Title::Text("title"))
    .case(
        &ASSESSMENT_FLOW,
        ASSESSMENT_DEADLINES,
        OverdueList::Assessments,
    )
    .access(&[SUPERVISOR, DEPARTMENT], &[GRID_WORKER, POLICE]),
];
