//! Conversions between the `crdts` types and our own JSON forms.
//!
//! `crdts` keeps some internals private and its serde form is about to change
//! upstream (CRDT-NOTES.md), and serde_json cannot write an `Orswot` holding
//! deferred removes (their map keys are clocks). So the wire and stored forms
//! are ours ([`SetState`], [`Clock`]), and we convert through `serde-value`,
//! which accepts any map key, using private mirrors of the crate's 7.3.2 serde
//! shape. `crdts` is pinned to `=7.3.2`; the round-trip tests catch any drift.

use std::collections::{BTreeMap, HashMap, HashSet};

use crdts::{GCounter, MVReg, Orswot, VClock};
use serde::{Deserialize, Serialize};

use crate::change::{DeferredRemove, SetState};
use crate::clock::{Actor, Clock};

#[derive(Serialize, Deserialize, PartialEq, Eq, Hash)]
struct VClockMirror {
    dots: BTreeMap<Actor, u64>,
}

#[derive(Serialize, Deserialize)]
struct OrswotMirror {
    clock: VClockMirror,
    entries: HashMap<String, VClockMirror>,
    deferred: HashMap<VClockMirror, HashSet<String>>,
}

#[derive(Deserialize)]
struct MVRegMirror<V> {
    vals: Vec<(VClockMirror, V)>,
}

#[derive(Deserialize)]
struct GCounterMirror {
    inner: VClockMirror,
}

fn through<T: Serialize, U: for<'de> Deserialize<'de>>(t: &T) -> U {
    serde_value::to_value(t)
        .and_then(|v| {
            v.deserialize_into()
                .map_err(|e| serde_value::SerializerError::Custom(e.to_string()))
        })
        .expect("crdts 7.3.2 serde shape (the crate is pinned; see crdt_form.rs)")
}

pub(crate) fn set_to_state(set: &Orswot<String, Actor>) -> SetState {
    let m: OrswotMirror = through(set);
    let mut deferred: Vec<DeferredRemove> = m
        .deferred
        .into_iter()
        .map(|(c, members)| DeferredRemove {
            clock: Clock(c.dots),
            members: members.into_iter().collect(),
        })
        .collect();
    deferred.sort_by(|a, b| a.clock.0.cmp(&b.clock.0));
    SetState {
        clock: Clock(m.clock.dots),
        entries: m
            .entries
            .into_iter()
            .map(|(k, c)| (k, Clock(c.dots)))
            .collect(),
        deferred,
    }
}

pub(crate) fn state_to_set(state: &SetState) -> Orswot<String, Actor> {
    let mirror = OrswotMirror {
        clock: VClockMirror {
            dots: state.clock.0.clone(),
        },
        entries: state
            .entries
            .iter()
            .map(|(k, c)| (k.clone(), VClockMirror { dots: c.0.clone() }))
            .collect(),
        deferred: state
            .deferred
            .iter()
            .map(|d| {
                (
                    VClockMirror {
                        dots: d.clock.0.clone(),
                    },
                    d.members.iter().cloned().collect(),
                )
            })
            .collect(),
    };
    through(&mirror)
}

/// The values of a register with their clocks.
pub(crate) fn register_values<V>(reg: &MVReg<V, Actor>) -> Vec<(Clock, V)>
where
    V: Clone + Serialize + for<'de> Deserialize<'de>,
{
    // Most registers hold one value: its clock is the register's read
    // clock (the join of its values' clocks), through the public API. Only
    // concurrent values need the private shape.
    let read = reg.read();
    if read.val.len() <= 1 {
        let clock = Clock::from(read.add_clock);
        return read.val.into_iter().map(|v| (clock.clone(), v)).collect();
    }
    let m: MVRegMirror<V> = through(reg);
    m.vals
        .into_iter()
        .map(|(c, v)| (Clock(c.dots), v))
        .collect()
}

/// A register holding the given concurrent values.
pub(crate) fn register_from<V: Clone + PartialEq>(vals: Vec<(Clock, V)>) -> MVReg<V, Actor> {
    use crdts::CmRDT;
    let mut reg = MVReg::new();
    for (clock, val) in vals {
        reg.apply(crdts::mvreg::Op::Put {
            clock: VClock::from(clock),
            val,
        });
    }
    reg
}

pub(crate) fn counter_clock(counter: &GCounter<Actor>) -> Clock {
    let m: GCounterMirror = through(counter);
    Clock(m.inner.dots)
}

pub(crate) fn counter_from(clock: &Clock) -> GCounter<Actor> {
    use crdts::CmRDT;
    let mut c = GCounter::new();
    for (actor, count) in &clock.0 {
        c.apply(crdts::Dot::new(*actor, *count));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crdts::CmRDT;

    #[test]
    fn an_orswot_with_deferred_removes_round_trips() {
        let mut set: Orswot<String, Actor> = Orswot::new();
        set.apply(set.add("a".into(), set.read_ctx().derive_add_ctx(1)));
        // A remove whose context is ahead of the set: it is deferred.
        set.apply(crdts::orswot::Op::Rm {
            clock: VClock::from(crdts::Dot::new(9, 4)),
            members: vec!["b".to_string()],
        });
        let state = set_to_state(&set);
        assert_eq!(state.deferred.len(), 1);
        // serde_json cannot write the crate's own form of this state...
        assert!(serde_json::to_string(&set).is_err());
        // ...but ours round-trips through JSON and back into an equal Orswot.
        let json = serde_json::to_string(&state).unwrap();
        let back: SetState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        assert_eq!(state_to_set(&back), set);
    }

    #[test]
    fn registers_and_counters_round_trip() {
        let reg = register_from(vec![
            (Clock::from([(1, 2)]), "x".to_string()),
            (Clock::from([(2, 5)]), "y".to_string()),
        ]);
        let vals = register_values(&reg);
        assert_eq!(vals.len(), 2);
        assert_eq!(register_from(vals), reg);
        // One value and none: read through the public API, as the private
        // shape gives them.
        for vals in [
            vec![(Clock::from([(1, 2), (3, 1)]), "x".to_string())],
            vec![],
        ] {
            let reg = register_from(vals.clone());
            assert_eq!(register_values(&reg), vals);
            let m: MVRegMirror<String> = through(&reg);
            let private: Vec<(Clock, String)> = m
                .vals
                .into_iter()
                .map(|(c, v)| (Clock(c.dots), v))
                .collect();
            assert_eq!(private, vals);
        }

        let mut c = GCounter::new();
        c.apply(c.inc_many(3, 7));
        c.apply(c.inc(4));
        let clock = counter_clock(&c);
        assert_eq!(clock, Clock::from([(3, 7), (4, 1)]));
        assert_eq!(counter_from(&clock), c);
    }
}
