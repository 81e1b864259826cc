//! Actors, sequence numbers and the causal contexts that travel in changes.

use std::collections::BTreeMap;

use crdts::VClock;
use serde::{Deserialize, Serialize};

/// One app install on one device, assigned by the server and never reused.
/// Actor 0 is never assigned; the server writes as an actor of its own.
pub type Actor = u32;

/// A change's place in its actor's gap-free sequence, from 1.
pub type Seq = u64;

/// A causal context: for each actor, the highest sequence number of its writes
/// that the author had seen. On the wire: `{"7": 12, "31": 4}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Clock(pub BTreeMap<Actor, Seq>);

impl Clock {
    pub fn get(&self, actor: Actor) -> Seq {
        self.0.get(&actor).copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The clock with `actor` raised to `seq`: the context of a write made by
    /// that change.
    pub(crate) fn with_dot(&self, actor: Actor, seq: Seq) -> VClock<Actor> {
        let mut dots = self.0.clone();
        let e = dots.entry(actor).or_insert(0);
        *e = (*e).max(seq);
        VClock { dots }
    }
}

impl From<VClock<Actor>> for Clock {
    fn from(v: VClock<Actor>) -> Self {
        Clock(v.dots)
    }
}

impl From<&VClock<Actor>> for Clock {
    fn from(v: &VClock<Actor>) -> Self {
        Clock(v.dots.clone())
    }
}

impl From<Clock> for VClock<Actor> {
    fn from(c: Clock) -> Self {
        VClock { dots: c.0 }
    }
}

impl<const N: usize> From<[(Actor, Seq); N]> for Clock {
    fn from(dots: [(Actor, Seq); N]) -> Self {
        Clock(dots.into_iter().collect())
    }
}
