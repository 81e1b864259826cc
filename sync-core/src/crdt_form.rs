//! Conversions between the `crdts` types and our own JSON forms.
//!
//! `crdts` keeps some internals private and its serde form is about to change
//! upstream (CRDT-NOTES.md), and serde_json cannot write an `Orswot` holding
//! deferred removes (their map keys are clocks). So the wire and stored forms
//! are ours ([`SetState`], [`Clock`]). Out of the crate's types we convert
//! through `serde-value`, which accepts any map key, into private mirrors of
//! the crate's 7.3.2 serde shape; into a set, the crate's own `Deserialize`
//! reads our state presented in that shape ([`state_to_set`]). `crdts` is
//! pinned to `=7.3.2`; the round-trip tests catch any drift.

use std::collections::{BTreeMap, HashMap, HashSet};

use crdts::{GCounter, MVReg, Orswot, VClock};
use serde::de::{self, value::Error as DeError};
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

/// The set a [`SetState`] describes. Read by the crate's own `Deserialize`
/// straight from the state ([`StateParts`]), as it would read the crate's
/// serde shape: no copy of the state and no tree of values in between
/// (this runs for every set a change or a stored record carries).
pub(crate) fn state_to_set(state: &SetState) -> Orswot<String, Actor> {
    Orswot::deserialize(StateParts::Set(state))
        .expect("crdts 7.3.2 serde shape (the crate is pinned; see crdt_form.rs)")
}

/// A part of a [`SetState`] presented in the serde shape of `crdts` 7.3.2
/// (the mirrors above): a set is `{clock, entries, deferred}`, a clock
/// `{dots: {actor: counter}}`, `entries` a map of member to clock,
/// `deferred` a map of clock to members.
#[derive(Clone, Copy)]
enum StateParts<'a> {
    Set(&'a SetState),
    Clock(&'a Clock),
    Dots(&'a Clock),
    Entries(&'a BTreeMap<String, Clock>),
    Deferred(&'a [DeferredRemove]),
    Members(&'a std::collections::BTreeSet<String>),
}

impl<'de> de::IntoDeserializer<'de, DeError> for StateParts<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for StateParts<'_> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        use de::value::{MapDeserializer, SeqDeserializer};
        match self {
            StateParts::Set(s) => v.visit_map(MapDeserializer::new(
                [
                    ("clock", StateParts::Clock(&s.clock)),
                    ("entries", StateParts::Entries(&s.entries)),
                    ("deferred", StateParts::Deferred(&s.deferred)),
                ]
                .into_iter(),
            )),
            StateParts::Clock(c) => v.visit_map(MapDeserializer::new(std::iter::once((
                "dots",
                StateParts::Dots(c),
            )))),
            StateParts::Dots(c) => {
                v.visit_map(MapDeserializer::new(c.0.iter().map(|(a, n)| (*a, *n))))
            }
            StateParts::Entries(e) => v.visit_map(MapDeserializer::new(
                e.iter().map(|(m, c)| (m.as_str(), StateParts::Clock(c))),
            )),
            StateParts::Deferred(d) => v
                .visit_map(MapDeserializer::new(d.iter().map(|r| {
                    (StateParts::Clock(&r.clock), StateParts::Members(&r.members))
                }))),
            StateParts::Members(m) => {
                v.visit_seq(SeqDeserializer::new(m.iter().map(String::as_str)))
            }
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
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

    /// The set as the earlier reader made it: through a tree of values, from
    /// the mirror of the crate's serde shape.
    fn through_the_mirror(state: &SetState) -> Orswot<String, Actor> {
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

    proptest::proptest! {
        /// Any set, deferred removes included, is read back from its state
        /// as it was, and as the reader through the mirror reads it.
        #[test]
        fn a_set_is_read_back_from_its_state(
            ops in proptest::collection::vec((1u32..5, 0u8..3, 0usize..5, 1u64..4), 0..24)
        ) {
            const MEMBERS: [&str; 5] = ["a", "b", "c", "家庭", ""];
            let mut set: Orswot<String, Actor> = Orswot::new();
            for (actor, kind, member, ahead) in ops {
                let m = MEMBERS[member].to_string();
                match kind {
                    0 => set.apply(set.add(m, set.read_ctx().derive_add_ctx(actor))),
                    1 => set.apply(set.rm(m, set.contains(&MEMBERS[member].to_string()).derive_rm_ctx())),
                    // A remove from a context this set has not seen: deferred.
                    _ => {
                        let mut clock = set.read_ctx().add_clock;
                        clock.apply(crdts::Dot::new(actor, clock.get(&actor) + ahead));
                        set.apply(crdts::orswot::Op::Rm { clock, members: vec![m] });
                    }
                }
            }
            let state = set_to_state(&set);
            let read = state_to_set(&state);
            proptest::prop_assert_eq!(&read, &set);
            proptest::prop_assert_eq!(&read, &through_the_mirror(&state));
            proptest::prop_assert_eq!(set_to_state(&read), state);
        }
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
