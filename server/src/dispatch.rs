//! Dispatch (分拨): cases assigned to a user or dispatched to a department.
//!
//! A case's `assignee` names a user (`user:NAME`) or a department node
//! (`department:CODE`), never free text: a change naming anyone the server
//! does not know is refused (`unknown_assignee`). A department's staff see
//! and act on exactly the cases dispatched to their department, whatever
//! their grid (docs/ACCESS.md). Pure, but for [`Directory::load`].

use std::collections::HashSet;

use gridsync_core::schema::{FieldKind, ScalarType};
use gridsync_core::validate::Assignee;
use gridsync_core::{Change, ChangeError, Op, Record, Schema, Value};

use crate::auth::policy::{NodeLevel, Role, Scope};
use crate::store::{Store, StoreError};

/// Who may be assigned a case: the users and the department nodes.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: HashSet<String>,
    pub departments: HashSet<String>,
}

impl Directory {
    pub fn load(store: &Store) -> Result<Directory, StoreError> {
        Ok(Directory {
            users: store.users()?.into_iter().map(|u| u.username).collect(),
            departments: store
                .org_tree()?
                .into_iter()
                .filter(|n| n.level == NodeLevel::Department.as_str())
                .map(|n| n.code)
                .collect(),
        })
    }

    pub fn knows(&self, a: Assignee<'_>) -> bool {
        match a {
            Assignee::User(name) => self.users.contains(name),
            Assignee::Department(code) => self.departments.contains(code),
        }
    }
}

/// Whether a change (as sent: the raw text) may name an assignee, so that
/// the directory is worth loading.
pub fn may_assign(raw: &str) -> bool {
    raw.contains("\"assignee\"")
}

/// The assignee fields a change writes and their values.
fn assignments(change: &Change) -> impl Iterator<Item = (&str, &str)> {
    let def = Schema::current().collection(&change.collection);
    change.ops.iter().filter_map(move |op| match op {
        Op::Set {
            field,
            value: Value::Text(v),
            ..
        } if def.and_then(|d| d.field(field)).is_some_and(|f| {
            matches!(
                f.kind,
                FieldKind::Scalar {
                    ty: ScalarType::Assignee,
                    ..
                }
            )
        }) =>
        {
            Some((field.as_str(), v.as_str()))
        }
        _ => None,
    })
}

/// Why a change's assignee is refused, if it is: it names a user or a
/// department the server does not know. (A value that names nobody at all
/// is the schema's to refuse: `invalid_assignee`.)
pub fn unknown_assignee(change: &Change, dir: &Directory) -> Option<ChangeError> {
    assignments(change).find_map(|(field, value)| {
        let unknown = Assignee::parse(value).is_some_and(|a| !dir.knows(a));
        unknown.then(|| ChangeError::UnknownAssignee {
            field: field.to_owned(),
            value: value.chars().take(80).collect(),
        })
    })
}

/// The assignee keys that name a caller: a user by name (and the bare name
/// older apps wrote), and a department's staff by their department.
pub fn keys_of(username: &str, role: Role, node: &str) -> Vec<String> {
    let mut keys = vec![Assignee::User(username).key(), username.to_owned()];
    if role == Role::Department {
        keys.push(Assignee::Department(node).key());
    }
    keys
}

/// The assignee a department's staff act for: `department:CODE`.
pub fn department_key(node: &str) -> String {
    Assignee::Department(node).key()
}

/// Whether `record` is assigned to one of `keys` (any of its concurrent
/// assignees).
pub fn is_dispatched(record: &Record, keys: &[String]) -> bool {
    record.values("assignee").iter().any(|v| {
        v.as_str()
            .and_then(Assignee::parse)
            .is_some_and(|a| keys.contains(&a.key()))
    })
}

/// Whether a caller of `scope` reaches a record of `grid` assigned to
/// `assignee`: by its grid, or, for a department's staff, by dispatch.
pub fn reaches(scope: &Scope, grid: &str, assignee: Option<&str>) -> bool {
    match scope.role {
        Role::Department => row_assigned(assignee, &[department_key(&scope.node)]),
        _ => scope.has_grid(grid),
    }
}

/// Whether a stored row's assignee column (the shown value) is one of `keys`.
pub fn row_assigned(assignee: Option<&str>, keys: &[String]) -> bool {
    assignee
        .and_then(Assignee::parse)
        .is_some_and(|a| keys.contains(&a.key()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::Device;
    use uuid::Uuid;

    fn dir() -> Directory {
        Directory {
            users: ["w1".to_owned(), "chief".to_owned()].into(),
            departments: ["d-water".to_owned()].into(),
        }
    }

    #[test]
    fn who_may_be_assigned() {
        let mut d = Device::new(1);
        // (value written, refused?)
        let table = [
            ("user:w1", false),
            ("w1", false),
            ("department:d-water", false),
            ("department:d-fire", true),
            ("user:nobody", true),
            ("user:d-water", true),
        ];
        for (value, refused) in table {
            let c = d
                .create("event", "g1", Uuid::new_v4())
                .set("assignee", value)
                .commit()
                .unwrap();
            let e = unknown_assignee(&c, &dir());
            assert_eq!(e.is_some(), refused, "{value}");
            if let Some(e) = e {
                assert_eq!(
                    (e.code(), e.field()),
                    ("unknown_assignee", Some("assignee"))
                );
            }
        }
        // A change that assigns nobody is not looked at.
        let c = d
            .create("event", "g1", Uuid::new_v4())
            .set("title", "x")
            .commit()
            .unwrap();
        assert!(unknown_assignee(&c, &dir()).is_none());
    }

    #[test]
    fn what_is_dispatched_to_whom() {
        let mut d = Device::new(1);
        let id = Uuid::new_v4();
        d.create("event", "g1", id)
            .set("assignee", "department:d-water")
            .commit()
            .unwrap();
        let r = d.replica().record(id).unwrap();
        let water = keys_of("li", Role::Department, "d-water");
        let fire = keys_of("wang", Role::Department, "d-fire");
        assert!(is_dispatched(r, &water));
        assert!(!is_dispatched(r, &fire));
        // A user by the name older apps wrote, or the prefixed one.
        let worker = keys_of("w1", Role::GridWorker, "g1");
        assert!(row_assigned(Some("w1"), &worker));
        assert!(row_assigned(Some("user:w1"), &worker));
        assert!(!row_assigned(Some("department:g1"), &worker));
        assert!(!row_assigned(None, &worker));
    }
}
