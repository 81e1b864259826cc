//! Conversions between the `crdts` types and our own JSON forms.
//!
//! `crdts` keeps some internals private and its serde form is about to change
//! upstream (CRDT-NOTES.md), and serde_json cannot write an `Orswot` holding
//! deferred removes (their map keys are clocks). So the wire and stored forms
//! are ours ([`SetState`], [`Clock`]). Out of the crate's types we convert
//! through `serde-value`, which accepts any map key, into private mirrors of
//! the crate's 7.3.2 serde shape, or, for a register (the hot path of every
//! stored record), walk the crate's own `Serialize` with a serializer that
//! reads that shape ([`register_parts`]); into a set, the crate's own
//! `Deserialize` reads our state presented in that shape ([`state_to_set`]).
//! `crdts` is pinned to `=7.3.2`; the round-trip tests catch any drift.

use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::{HashMap, HashSet};

use crdts::{GCounter, MVReg, Orswot, VClock};
use serde::de::{self, value::Error as DeError};
use serde::{ser, Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::change::{DeferredRemove, SetState};
use crate::clock::{Actor, Clock, Seq};
use crate::record::Written;

#[derive(Serialize, Deserialize, PartialEq, Eq, Hash)]
struct VClockMirror {
    dots: BTreeMap<Actor, u64>,
}

#[cfg(test)]
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
        .expect(SHAPE)
}

/// The set a [`SetState`] describes. Read by the crate's own `Deserialize`
/// straight from the state ([`StateParts`]), as it would read the crate's
/// serde shape: no copy of the state and no tree of values in between
/// (this runs for every set a change or a stored record carries).
pub(crate) fn state_to_set(state: &SetState) -> Orswot<String, Actor> {
    Orswot::deserialize(StateParts::Set(state)).expect(SHAPE)
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

/// One value of a register as the crate's own `Serialize` shows it: the
/// dots of the clock it was written under (in actor order), its writer's
/// dot, and the value as JSON.
pub(crate) struct RegisterPart {
    pub dots: Vec<(Actor, Seq)>,
    pub actor: Actor,
    pub seq: Seq,
    pub value: Box<RawValue>,
}

/// The values of a register, read by walking the crate's own `Serialize`
/// (serde shape `{vals: [[{dots: {actor: n}}, written]]}`, see [`Walk`]):
/// nothing of the register is copied but the value's JSON and the dots,
/// where [`MVReg::read`] clones every clock twice and every value (this
/// runs for every register of every record stored).
pub(crate) fn register_parts(reg: &MVReg<Written, Actor>) -> Vec<RegisterPart> {
    let mut walked = Walked::default();
    reg.serialize(Walk {
        walked: &mut walked,
        at: At::Register,
    })
    .expect(SHAPE);
    walked.parts
}

/// The state of a set, read by walking the crate's own `Serialize` (serde
/// shape `{clock, entries: {member: clock}, deferred: {clock: [member]}}`,
/// see [`Walk`]): each member and clock is copied once, into the state.
pub(crate) fn set_to_state(set: &Orswot<String, Actor>) -> SetState {
    let mut walked = Walked::default();
    set.serialize(Walk {
        walked: &mut walked,
        at: At::Set,
    })
    .expect(SHAPE);
    let mut state = walked.set;
    state.deferred.sort_by(|a, b| a.clock.0.cmp(&b.clock.0));
    state
}

const SHAPE: &str = "crdts 7.3.2 serde shape (the crate is pinned; see crdt_form.rs)";

/// What a [`Walk`] has read so far.
#[derive(Default)]
struct Walked {
    parts: Vec<RegisterPart>,
    set: SetState,
    /// The clock last walked.
    dots: Vec<(Actor, Seq)>,
    value: Option<Box<RawValue>>,
    actor: Option<u64>,
    seq: Option<u64>,
    /// The member whose clock comes next (a set's entries).
    member: Option<String>,
    /// The clock whose members come next (a set's deferred removes).
    deferred: Option<Clock>,
}

impl Walked {
    fn clock(&mut self) -> Clock {
        Clock(self.dots.drain(..).collect())
    }
}

/// Where in the serde shape of a register or a set a [`Walk`] stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Register,
    Values,
    Pair(u8),
    Clock,
    Dots,
    Written,
    Set,
    Entries,
    Deferred,
    Members,
}

/// A serializer that reads a register's parts or a set's state from the
/// crate's own `Serialize` impl, which hands it each part by reference
/// (see [`register_parts`], [`set_to_state`]); any other shape is an error.
struct Walk<'w> {
    walked: &'w mut Walked,
    at: At,
}

impl Walk<'_> {
    fn expect(self, at: At) -> Result<Self, DeError> {
        if self.at == at {
            Ok(self)
        } else {
            Err(ser::Error::custom(SHAPE))
        }
    }

    fn next(&mut self, at: At) -> Walk<'_> {
        Walk {
            walked: self.walked,
            at,
        }
    }
}

/// The serializer methods of shapes the walk never meets: each refuses.
macro_rules! refuse {
    ($ok:ty; $($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, DeError> {
            Err(ser::Error::custom(SHAPE))
        })*
    };
}

/// The shapes no part of a register or a set takes, refused.
macro_rules! refuse_others {
    ($ok:ty) => {
        fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<$ok, DeError> {
            Err(ser::Error::custom(SHAPE))
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<$ok, DeError> {
            Err(ser::Error::custom(SHAPE))
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<$ok, DeError> {
            Err(ser::Error::custom(SHAPE))
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, DeError> {
            Err(ser::Error::custom(SHAPE))
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, DeError> {
            Err(ser::Error::custom(SHAPE))
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, DeError> {
            Err(ser::Error::custom(SHAPE))
        }
        refuse! { $ok;
            serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
            serialize_i64(i64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
            serialize_bytes(&[u8]); serialize_none(); serialize_unit();
            serialize_unit_struct(&'static str);
            serialize_unit_variant(&'static str, u32, &'static str);
        }
    };
}

impl ser::Serializer for Walk<'_> {
    type Ok = ();
    type Error = DeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = ser::Impossible<(), DeError>;
    type SerializeTupleVariant = ser::Impossible<(), DeError>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), DeError>;

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, DeError> {
        match self.at {
            At::Values | At::Members => Ok(self),
            _ => Err(ser::Error::custom(SHAPE)),
        }
    }

    fn serialize_tuple(self, _: usize) -> Result<Self, DeError> {
        self.expect(At::Pair(0))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self, DeError> {
        match self.at {
            At::Dots | At::Entries | At::Deferred => Ok(self),
            _ => Err(ser::Error::custom(SHAPE)),
        }
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, DeError> {
        match self.at {
            At::Register | At::Clock | At::Written | At::Set => Ok(self),
            _ => Err(ser::Error::custom(SHAPE)),
        }
    }

    refuse! { ();
        serialize_u8(u8); serialize_u16(u16); serialize_u32(u32); serialize_u64(u64);
        serialize_str(&str);
    }
    refuse_others!(());
}

impl ser::SerializeStruct for Walk<'_> {
    type Ok = ();
    type Error = DeError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), DeError> {
        match (self.at, key) {
            (At::Register, "vals") => value.serialize(self.next(At::Values)),
            (At::Clock, "dots") => {
                self.walked.dots.clear();
                value.serialize(self.next(At::Dots))
            }
            (At::Written, "value") => {
                let json = serde_json::value::to_raw_value(value).map_err(ser::Error::custom)?;
                self.walked.value = Some(json);
                Ok(())
            }
            (At::Written, "actor") => {
                self.walked.actor = Some(value.serialize(ReadLeaf)?.number()?);
                Ok(())
            }
            (At::Written, "seq") => {
                self.walked.seq = Some(value.serialize(ReadLeaf)?.number()?);
                Ok(())
            }
            (At::Set, "clock") => {
                value.serialize(self.next(At::Clock))?;
                self.walked.set.clock = self.walked.clock();
                Ok(())
            }
            (At::Set, "entries") => value.serialize(self.next(At::Entries)),
            (At::Set, "deferred") => value.serialize(self.next(At::Deferred)),
            _ => Err(ser::Error::custom(SHAPE)),
        }
    }

    fn end(self) -> Result<(), DeError> {
        Ok(())
    }
}

impl ser::SerializeSeq for Walk<'_> {
    type Ok = ();
    type Error = DeError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DeError> {
        match self.at {
            At::Values => value.serialize(self.next(At::Pair(0))),
            At::Members => {
                let member = value.serialize(ReadLeaf)?.text()?;
                match self.walked.set.deferred.last_mut() {
                    Some(d) => {
                        d.members.insert(member);
                        Ok(())
                    }
                    None => Err(ser::Error::custom(SHAPE)),
                }
            }
            _ => Err(ser::Error::custom(SHAPE)),
        }
    }

    fn end(self) -> Result<(), DeError> {
        Ok(())
    }
}

impl ser::SerializeTuple for Walk<'_> {
    type Ok = ();
    type Error = DeError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DeError> {
        match self.at {
            At::Pair(0) => {
                self.at = At::Pair(1);
                value.serialize(self.next(At::Clock))
            }
            At::Pair(1) => {
                self.at = At::Pair(2);
                value.serialize(self.next(At::Written))
            }
            _ => Err(ser::Error::custom(SHAPE)),
        }
    }

    fn end(self) -> Result<(), DeError> {
        let w = &mut *self.walked;
        let (Some(value), Some(actor), Some(seq)) = (w.value.take(), w.actor.take(), w.seq.take())
        else {
            return Err(ser::Error::custom(SHAPE));
        };
        w.parts.push(RegisterPart {
            dots: std::mem::take(&mut w.dots),
            actor: Actor::try_from(actor).map_err(ser::Error::custom)?,
            seq,
            value,
        });
        Ok(())
    }
}

impl ser::SerializeMap for Walk<'_> {
    type Ok = ();
    type Error = DeError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), DeError> {
        match self.at {
            At::Dots => {
                let actor = Actor::try_from(key.serialize(ReadLeaf)?.number()?)
                    .map_err(ser::Error::custom)?;
                self.walked.dots.push((actor, 0));
            }
            At::Entries => self.walked.member = Some(key.serialize(ReadLeaf)?.text()?),
            At::Deferred => {
                key.serialize(self.next(At::Clock))?;
                self.walked.deferred = Some(self.walked.clock());
            }
            _ => return Err(ser::Error::custom(SHAPE)),
        }
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DeError> {
        match self.at {
            At::Dots => {
                let n = value.serialize(ReadLeaf)?.number()?;
                let dot = self.walked.dots.last_mut();
                dot.ok_or_else(|| ser::Error::custom(SHAPE))?.1 = n;
            }
            At::Entries => {
                let member = self.walked.member.take();
                let member = member.ok_or_else(|| ser::Error::custom(SHAPE))?;
                value.serialize(self.next(At::Clock))?;
                let clock = self.walked.clock();
                self.walked.set.entries.insert(member, clock);
            }
            At::Deferred => {
                let clock = self.walked.deferred.take();
                let clock = clock.ok_or_else(|| ser::Error::custom(SHAPE))?;
                self.walked.set.deferred.push(DeferredRemove {
                    clock,
                    members: Default::default(),
                });
                value.serialize(self.next(At::Members))?;
            }
            _ => return Err(ser::Error::custom(SHAPE)),
        }
        Ok(())
    }

    fn end(self) -> Result<(), DeError> {
        Ok(())
    }
}

/// A number or a text at the leaves of the walk.
enum Leaf {
    Number(u64),
    Text(String),
}

impl Leaf {
    fn number(self) -> Result<u64, DeError> {
        match self {
            Leaf::Number(n) => Ok(n),
            Leaf::Text(_) => Err(ser::Error::custom(SHAPE)),
        }
    }

    fn text(self) -> Result<String, DeError> {
        match self {
            Leaf::Text(t) => Ok(t),
            Leaf::Number(_) => Err(ser::Error::custom(SHAPE)),
        }
    }
}

/// A serializer that reads a [`Leaf`].
struct ReadLeaf;

impl ser::Serializer for ReadLeaf {
    type Ok = Leaf;
    type Error = DeError;
    type SerializeSeq = ser::Impossible<Leaf, DeError>;
    type SerializeTuple = ser::Impossible<Leaf, DeError>;
    type SerializeTupleStruct = ser::Impossible<Leaf, DeError>;
    type SerializeTupleVariant = ser::Impossible<Leaf, DeError>;
    type SerializeMap = ser::Impossible<Leaf, DeError>;
    type SerializeStruct = ser::Impossible<Leaf, DeError>;
    type SerializeStructVariant = ser::Impossible<Leaf, DeError>;

    fn serialize_u8(self, n: u8) -> Result<Leaf, DeError> {
        Ok(Leaf::Number(n.into()))
    }
    fn serialize_u16(self, n: u16) -> Result<Leaf, DeError> {
        Ok(Leaf::Number(n.into()))
    }
    fn serialize_u32(self, n: u32) -> Result<Leaf, DeError> {
        Ok(Leaf::Number(n.into()))
    }
    fn serialize_u64(self, n: u64) -> Result<Leaf, DeError> {
        Ok(Leaf::Number(n))
    }
    fn serialize_str(self, t: &str) -> Result<Leaf, DeError> {
        Ok(Leaf::Text(t.to_owned()))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, DeError> {
        Err(ser::Error::custom(SHAPE))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, DeError> {
        Err(ser::Error::custom(SHAPE))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, DeError> {
        Err(ser::Error::custom(SHAPE))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, DeError> {
        Err(ser::Error::custom(SHAPE))
    }
    refuse_others!(Leaf);
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

    /// The state as the earlier writer made it: through a tree of values,
    /// into the mirror of the crate's serde shape.
    fn state_through_the_mirror(set: &Orswot<String, Actor>) -> SetState {
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

    proptest::proptest! {
        /// Any set, deferred removes included, is written to its state as
        /// the writer through the mirror wrote it, and read back from it as
        /// it was, and as the reader through the mirror reads it.
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
            proptest::prop_assert_eq!(&state, &state_through_the_mirror(&set));
            let read = state_to_set(&state);
            proptest::prop_assert_eq!(&read, &set);
            proptest::prop_assert_eq!(&read, &through_the_mirror(&state));
            proptest::prop_assert_eq!(set_to_state(&read), state);
        }
    }

    /// The walk reads each value of a register with the clock it was
    /// written under, as the mirror of the private shape gives them: none,
    /// one, and concurrent values whose clocks are and are not their own dot.
    #[test]
    fn a_register_is_walked_as_the_mirror_reads_it() {
        let w = |text: &str, actor, seq| Written {
            value: crate::Value::from(text),
            actor,
            seq,
        };
        for vals in [
            vec![],
            vec![(Clock::from([(1, 2), (3, 1)]), w("x", 1, 2))],
            vec![
                (Clock::from([(1, 2)]), w("x", 1, 2)),
                (Clock::from([(2, 5), (1, 1)]), w("家庭 \"y\"", 2, 5)),
                (Clock::from([(4, 9)]), w("z", 3, 7)),
            ],
        ] {
            let reg = register_from(vals);
            let m: MVRegMirror<Written> = through(&reg);
            let walked: Vec<(Clock, Written)> = register_parts(&reg)
                .into_iter()
                .map(|p| {
                    let written = Written {
                        value: serde_json::from_str(p.value.get()).unwrap(),
                        actor: p.actor,
                        seq: p.seq,
                    };
                    (Clock(p.dots.into_iter().collect()), written)
                })
                .collect();
            let mirrored: Vec<(Clock, Written)> = m
                .vals
                .into_iter()
                .map(|(c, v)| (Clock(c.dots), v))
                .collect();
            assert_eq!(walked, mirrored);
        }
        // Any other shape is refused, not misread.
        let not_a_register = crdts::LWWReg {
            val: 1u32,
            marker: 2u64,
        };
        assert!(not_a_register
            .serialize(Walk {
                walked: &mut Walked::default(),
                at: At::Register,
            })
            .is_err());
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
