//! How cases move: the status flow of each collection that has one.
//!
//! A device refuses a transition its flow does not allow (see
//! [`crate::replica::Edit::commit`]). A replica that receives one anyway (two
//! devices moved a case offline, or an old app) still merges it: refusing it
//! would depend on delivery order and make replicas diverge. The server flags
//! such a record instead ([`Flow::allows`] on what it held and what it holds).

/// The status flow of one collection (its definition's `flow`, in
/// [`crate::schema::COLLECTIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flow {
    /// Statuses a record may be created with.
    pub initial: &'static [&'static str],
    /// Statuses that end the case (no deadline, no escalation).
    pub terminal: &'static [&'static str],
    /// `(from, [to…])`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<(String, Vec<String>)>))]
    pub moves: &'static [(&'static str, &'static [&'static str])],
}

impl Flow {
    /// The flow of `collection`, if its records have one.
    pub fn of(collection: &str) -> Option<&'static Flow> {
        crate::schema::Schema::current()
            .collection(collection)?
            .flow
    }

    /// Whether a record whose status was `from` (none: a new record) may
    /// become `to`. Writing the same status again is always allowed.
    pub fn allows(&self, from: Option<&str>, to: &str) -> bool {
        match from {
            None => self.initial.contains(&to),
            Some(f) if f == to => true,
            Some(f) => self
                .moves
                .iter()
                .find(|(from, _)| *from == f)
                .is_some_and(|(_, tos)| tos.contains(&to)),
        }
    }

    pub fn is_terminal(&self, status: &str) -> bool {
        self.terminal.contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldKind, ScalarType, Schema};

    #[test]
    fn flows_name_only_statuses_their_schema_allows() {
        for c in Schema::current().collections {
            let Some(f) = c.flow else { continue };
            let def = c.field("status").unwrap();
            let FieldKind::Scalar {
                ty: ScalarType::Enum { values },
                ..
            } = def.kind
            else {
                panic!("{} status is not an enum", c.name)
            };
            let named = f.initial.iter().chain(f.terminal).chain(
                f.moves
                    .iter()
                    .flat_map(|(from, tos)| std::iter::once(from).chain(tos.iter())),
            );
            for s in named {
                assert!(values.contains(s), "{}: `{s}` is not a status", c.name);
            }
            // Every status is reachable from an initial one.
            for v in values.codes() {
                let mut seen: Vec<&str> = f.initial.to_vec();
                let mut i = 0;
                while i < seen.len() {
                    let from = seen[i];
                    for to in f
                        .moves
                        .iter()
                        .filter(|(s, _)| *s == from)
                        .flat_map(|(_, t)| t.iter())
                    {
                        if !seen.contains(to) {
                            seen.push(to);
                        }
                    }
                    i += 1;
                }
                assert!(seen.contains(&v), "{}: `{v}` cannot be reached", c.name);
            }
        }
    }

    #[test]
    fn the_event_flow() {
        let f = Flow::of("event").unwrap();
        let table = [
            (None, "reported", true),
            (None, "closed", false),
            (Some("reported"), "accepted", true),
            (Some("reported"), "closed", false),
            (Some("handled"), "checked", true),
            (Some("checked"), "reopened", true),
            (Some("reopened"), "dispatched", true),
            (Some("closed"), "reopened", true),
            (Some("closed"), "accepted", false),
            (Some("parked"), "parked", true),
        ];
        for (from, to, ok) in table {
            assert_eq!(f.allows(from, to), ok, "{from:?} -> {to}");
        }
        assert!(f.is_terminal("closed") && !f.is_terminal("parked"));
        assert!(Flow::of("household").is_none());
    }
}
