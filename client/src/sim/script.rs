//! What a simulated phone does offline: a seeded script of field work.

use std::collections::BTreeMap;

use gridsync_core::{Entry, Value};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use uuid::Uuid;

use crate::{Client, ClientError};

/// The role a simulated phone plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// 网格员: registers, mediates, visits, checks in.
    Worker,
    /// 巡逻队员: checks in, reports events.
    Patrol,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "grid_worker",
            Role::Patrol => "patrol",
        }
    }
}

/// The records of a grid every phone of the grid works on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    pub round: Uuid,
    pub household: Uuid,
    pub dispute: Uuid,
    pub key_person: Uuid,
}

/// Checkpoints of the shared round.
pub const CHECKPOINTS: [&str; 6] = ["cp-01", "cp-02", "cp-03", "cp-04", "cp-05", "cp-06"];

/// What one phone did, to check later that none of it was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    pub changes: u64,
    /// Log entries appended, by record.
    pub entries: BTreeMap<Uuid, Vec<Uuid>>,
    /// Counter increments by record.
    pub increments: BTreeMap<Uuid, u64>,
    /// Records created.
    pub created: Vec<Uuid>,
}

fn at(rng: &mut StdRng) -> String {
    format!(
        "2026-11-28T{:02}:{:02}:{:02}+08:00",
        rng.gen_range(8..22),
        rng.gen_range(0..60),
        rng.gen_range(0..60)
    )
}

fn entry(rng: &mut StdRng, fields: &[(&str, Value)]) -> Entry {
    Entry {
        id: Uuid::now_v7(),
        at: at(rng),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// The next status of an event along its flow, when there is one.
fn next_event_status(current: &str) -> Option<&'static str> {
    Some(match current {
        "reported" => "accepted",
        "accepted" => "verified",
        "verified" => "dispatched",
        "dispatched" => "handled",
        _ => return None,
    })
}

/// One simulated phone: its client, its place and its script's state.
#[derive(Debug)]
pub struct SimPhone {
    pub index: usize,
    pub client: Client,
    pub role: Role,
    pub grid: String,
    pub user: String,
    pub shared: Shared,
    /// Events this phone created, to act on again.
    pub own_events: Vec<Uuid>,
    pub work: Work,
    pub rng: StdRng,
}

impl SimPhone {
    /// Make the shared records of the grid (the first phone of each grid).
    pub fn make_shared(&mut self) -> Result<(), ClientError> {
        let (ids, grid) = (self.shared, self.grid.clone());
        let grid = grid.as_str();
        self.client.make(|d| {
            let mut round = d
                .create("patrol_round", grid, ids.round)
                .set("route", format!("{grid} 夜间巡逻线"))
                .set("status", "in_progress")
                .set("planned_start", "2026-11-28T19:00:00+08:00");
            for cp in CHECKPOINTS {
                round = round.add("planned_checkpoints", cp);
            }
            round.commit()
        })?;
        self.client.make(|d| {
            d.create("household", grid, ids.household)
                .set("address", format!("{grid} 幸福路 8号楼 3单元 501"))
                .set("use", "rental")
                .set("rental", true)
                .commit()
        })?;
        self.client.make(|d| {
            d.create("dispute", grid, ids.dispute)
                .set("category", "neighbour")
                .set("summary", "楼上漏水引发邻里纠纷")
                .set("status", "registered")
                .set("received_on", "2026-11-27")
                .commit()
        })?;
        self.client.make(|d| {
            d.create("key_person", grid, ids.key_person)
                .set("name", "模拟人员")
                .set("category", "mental_health")
                .set("risk_level", "low")
                .set("status", "active")
                .commit()
        })?;
        Ok(())
    }

    /// One step of field work: exactly one change, kept in the outbox.
    pub fn step(&mut self) -> Result<(), ClientError> {
        let SimPhone {
            rng,
            role,
            grid,
            user: me,
            shared,
            own_events,
            work,
            client: phone,
            ..
        } = self;
        let shared = *shared;
        let roll: u32 = rng.gen_range(0..100);
        let choice = match role {
            Role::Patrol => match roll {
                0..=49 => "check_in",
                50..=59 => "sighting",
                60..=74 => "new_event",
                75..=89 => "event_note",
                _ => "event_action",
            },
            Role::Worker => match roll {
                0..=14 => "household_note",
                15..=24 => "household_tag",
                25..=39 => "session",
                40..=54 => "visit",
                55..=64 => "new_resident",
                65..=74 => "new_event",
                75..=84 => "event_move",
                _ => "check_in",
            },
        };
        let needs_event = matches!(choice, "event_note" | "event_action" | "event_move");
        let choice = if needs_event && own_events.is_empty() {
            "new_event"
        } else {
            choice
        };
        let event = own_events.choose(rng).copied();
        let stamp = at(rng);
        let n: u32 = rng.gen_range(1..10_000);
        let mut appended: Option<(Uuid, Uuid)> = None;
        let mut created: Option<Uuid> = None;
        let mut counted: Option<(Uuid, u64)> = None;
        match choice {
            "check_in" => {
                let cp = *CHECKPOINTS.choose(rng).expect("checkpoints");
                let e = entry(rng, &[("checkpoint", cp.into()), ("method", "qr".into())]);
                appended = Some((shared.round, e.id));
                phone.make(|d| d.edit(shared.round).append("check_ins", e).commit())?;
            }
            "sighting" => {
                let by = rng.gen_range(1..4);
                counted = Some((shared.round, by));
                phone.make(|d| d.edit(shared.round).increment("sightings", by).commit())?;
            }
            "household_note" => {
                let note = format!("{me} 于 {stamp} 走访: 租户 {n} 号在家");
                phone.make(|d| d.edit(shared.household).set("note", note.as_str()).commit())?;
            }
            "household_tag" => {
                let tag = ["出租屋", "独居老人", "重点关注", "已走访"]
                    .choose(rng)
                    .expect("tags")
                    .to_string();
                phone.make(|d| d.edit(shared.household).add("tags", &tag).commit())?;
            }
            "session" => {
                let e = entry(
                    rng,
                    &[
                        ("mediator", me.as_str().into()),
                        ("outcome", "continued".into()),
                        ("note", format!("第 {n} 次调解").into()),
                    ],
                );
                appended = Some((shared.dispute, e.id));
                phone.make(|d| d.edit(shared.dispute).append("sessions", e).commit())?;
            }
            "visit" => {
                let e = entry(
                    rng,
                    &[
                        ("visitor", me.as_str().into()),
                        ("method", "in_person".into()),
                        ("risk_assessment", "low".into()),
                    ],
                );
                appended = Some((shared.key_person, e.id));
                phone.make(|d| d.edit(shared.key_person).append("visits", e).commit())?;
            }
            "new_resident" => {
                let id = Uuid::now_v7();
                created = Some(id);
                phone.make(|d| {
                    d.create("resident", grid, id)
                        .set("name", format!("居民{n}"))
                        .set("category", "floating")
                        .set("household", shared.household.to_string())
                        .commit()
                })?;
            }
            "new_event" => {
                let id = Uuid::now_v7();
                created = Some(id);
                let category = [
                    "public_order",
                    "fire_safety",
                    "sanitation",
                    "infrastructure",
                ]
                .choose(rng)
                .expect("categories")
                .to_string();
                phone.make(|d| {
                    d.create("event", grid, id)
                        .set("title", format!("{grid} 巡查发现问题 {n}"))
                        .set("category", category.as_str())
                        .set("severity", "low")
                        .set("status", "reported")
                        .commit()
                })?;
                own_events.push(id);
            }
            "event_note" => {
                let id = event.expect("checked above");
                phone.make(|d| {
                    d.edit(id)
                        .set("description", format!("补充说明 {n}"))
                        .commit()
                })?;
            }
            "event_action" => {
                let id = event.expect("checked above");
                let e = entry(rng, &[("action", "photographed".into())]);
                appended = Some((id, e.id));
                phone.make(|d| d.edit(id).append("actions", e).commit())?;
            }
            "event_move" => {
                let id = event.expect("checked above");
                phone.make(|d| {
                    let status = d
                        .replica()
                        .record(id)
                        .and_then(|r| r.view().value("status").as_str().map(str::to_owned))
                        .unwrap_or_default();
                    match next_event_status(&status) {
                        Some(next) => d.edit(id).set("status", next).commit(),
                        None => d
                            .edit(id)
                            .set("description", format!("处理中 {n}"))
                            .commit(),
                    }
                })?;
            }
            other => unreachable!("no step {other}"),
        }
        work.changes += 1;
        if let Some((record, entry)) = appended {
            work.entries.entry(record).or_default().push(entry);
        }
        if let Some(id) = created {
            work.created.push(id);
        }
        if let Some((record, by)) = counted {
            *work.increments.entry(record).or_default() += by;
        }
        Ok(())
    }
}
