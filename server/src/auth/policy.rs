//! Who may read and write what: roles, the org tree and scopes, masking.
//! Pure: tested without a database or HTTP.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// A user's one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    GridWorker,
    Patrol,
    Police,
    Mediator,
    Supervisor,
    Admin,
    /// A department's staff (区直部门, 综治成员单位): the cases dispatched
    /// to their department, whatever their grid.
    Department,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::GridWorker,
        Role::Patrol,
        Role::Police,
        Role::Mediator,
        Role::Supervisor,
        Role::Admin,
        Role::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::Patrol => "patrol",
            Role::Police => "police",
            Role::Mediator => "mediator",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Collections this role writes (inside its node): those whose
    /// definition says so (`written_by`, in the schema).
    pub fn writes(self) -> &'static [&'static str] {
        &Self::table()[self as usize].0
    }

    /// Collections this role reads (inside its node): those it writes and
    /// those whose definition lets it read (`read_by`).
    pub fn reads(self) -> &'static [&'static str] {
        &Self::table()[self as usize].1
    }

    /// Per role, in [`Role::ALL`] order: what it writes, what it reads.
    fn table() -> &'static [(Vec<&'static str>, Vec<&'static str>)] {
        static TABLE: OnceLock<Vec<(Vec<&'static str>, Vec<&'static str>)>> = OnceLock::new();
        TABLE.get_or_init(|| {
            let collections = gridsync_core::Schema::current().collections;
            Role::ALL
                .iter()
                .map(|r| {
                    let of = |keep: fn(&gridsync_core::CollectionDef, &str) -> bool| {
                        collections
                            .iter()
                            .filter(|c| keep(c, r.as_str()))
                            .map(|c| c.name)
                            .collect()
                    };
                    (
                        of(gridsync_core::CollectionDef::writable_by),
                        of(gridsync_core::CollectionDef::readable_by),
                    )
                })
                .collect()
        })
    }

    pub fn may_write(self, collection: &str) -> bool {
        self.writes().contains(&collection)
    }

    pub fn may_read(self, collection: &str) -> bool {
        self.reads().contains(&collection)
    }

    /// Whether the role sees ID numbers and phone numbers in full.
    pub fn sees_personal_data(self) -> bool {
        matches!(self, Role::Police | Role::Supervisor)
    }

    /// Whether the role decides on quarantined changes of its subtree.
    pub fn resolves_quarantine(self) -> bool {
        matches!(self, Role::Supervisor)
    }
}

/// The four levels of the org tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeLevel {
    District,
    Park,
    Community,
    Grid,
    /// A department of the district (区直部门, 综治成员单位): a node under
    /// the district with users and no grids; cases are dispatched to it.
    Department,
}

impl NodeLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeLevel::District => "district",
            NodeLevel::Park => "park",
            NodeLevel::Community => "community",
            NodeLevel::Grid => "grid",
            NodeLevel::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<NodeLevel> {
        [
            NodeLevel::District,
            NodeLevel::Park,
            NodeLevel::Community,
            NodeLevel::Grid,
            NodeLevel::Department,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }

    /// The handling level of cases at a node of this level (a department
    /// handles cases at whatever level they are).
    pub fn handling_level(self) -> Option<gridsync_core::Level> {
        use gridsync_core::Level;
        match self {
            NodeLevel::Grid => Some(Level::Grid),
            NodeLevel::Community => Some(Level::Community),
            NodeLevel::Park => Some(Level::Park),
            NodeLevel::District => Some(Level::District),
            NodeLevel::Department => None,
        }
    }

    /// The level a parent of this level has (none for a district).
    pub fn parent(self) -> Option<NodeLevel> {
        match self {
            NodeLevel::District => None,
            NodeLevel::Park => Some(NodeLevel::District),
            NodeLevel::Community => Some(NodeLevel::Park),
            NodeLevel::Grid => Some(NodeLevel::Community),
            NodeLevel::Department => Some(NodeLevel::District),
        }
    }
}

/// Why a user of `role` may not be bound to a node of `level`, if they may
/// not: a department's staff belong to a department node, and nobody else
/// does (a department has no grids: any other role there would reach
/// nothing).
pub fn binding_refusal(role: Role, level: NodeLevel) -> Option<String> {
    match (role, level) {
        (Role::Department, NodeLevel::Department) => None,
        (Role::Department, other) => Some(format!(
            "a department user is bound to a department node, not a {}",
            other.as_str()
        )),
        (other, NodeLevel::Department) => Some(format!(
            "a {} is bound to a district, park, community or grid, not a department",
            other.as_str()
        )),
        _ => None,
    }
}

/// The org tree, as loaded from the store.
#[derive(Debug, Clone, Default)]
pub struct OrgTree {
    nodes: HashMap<String, (Option<String>, NodeLevel)>,
}

impl OrgTree {
    pub fn new(rows: impl IntoIterator<Item = (String, Option<String>, NodeLevel)>) -> OrgTree {
        OrgTree {
            nodes: rows.into_iter().map(|(c, p, l)| (c, (p, l))).collect(),
        }
    }

    pub fn level(&self, code: &str) -> Option<NodeLevel> {
        self.nodes.get(code).map(|n| n.1)
    }

    /// Whether `node` is `ancestor` or lies below it.
    pub fn contains(&self, ancestor: &str, node: &str) -> bool {
        let mut at = Some(node);
        let mut steps = 0;
        while let Some(code) = at {
            if code == ancestor {
                return true;
            }
            at = self.nodes.get(code).and_then(|n| n.0.as_deref());
            steps += 1;
            if steps > 8 {
                return false; // the tree has four levels; a loop is not a tree
            }
        }
        false
    }

    /// Every grid at or below `node`.
    pub fn grids_under(&self, node: &str) -> BTreeSet<String> {
        self.nodes
            .iter()
            .filter(|(code, (_, level))| *level == NodeLevel::Grid && self.contains(node, code))
            .map(|(code, _)| code.clone())
            .collect()
    }
}

/// What one caller may reach: the grids under its node and its role.
#[derive(Debug, Clone)]
pub struct Scope {
    pub role: Role,
    pub node: String,
    /// The level of the node (none: a node the tree does not hold).
    pub level: Option<NodeLevel>,
    pub grids: BTreeSet<String>,
}

impl Scope {
    pub fn new(tree: &OrgTree, role: Role, node: &str) -> Scope {
        Scope {
            role,
            node: node.to_owned(),
            level: tree.level(node),
            grids: tree.grids_under(node),
        }
    }

    pub fn has_grid(&self, grid: &str) -> bool {
        self.grids.contains(grid)
    }

    /// Why this caller may not write `collection` into `grid`, if it may not.
    /// A department's staff write in any grid: what they may change is
    /// what is dispatched to them, checked against the merged record.
    pub fn write_refusal(&self, collection: &str, grid: &str) -> Option<(&'static str, String)> {
        if self.role != Role::Department && !self.has_grid(grid) {
            return Some((
                "out_of_scope",
                format!("grid `{grid}` is outside node `{}`", self.node),
            ));
        }
        if !self.role.may_write(collection) {
            return Some((
                "forbidden_collection",
                format!(
                    "a {} does not write `{collection}` records",
                    self.role.as_str()
                ),
            ));
        }
        None
    }
}

/// Personal data as shown to roles that may not see it in full: one
/// definition, in the core, whose validation takes the masked form back.
pub use gridsync_core::validate::mask;

/// A caller's scope in a small district for tests: `d` → park `p` →
/// community `c` → grids `g1`, `g2`, and the department `fire`.
#[cfg(test)]
pub(crate) fn sample_scope(role: Role, node: &str) -> Scope {
    let n = |c: &str, p: Option<&str>, l| (c.to_owned(), p.map(str::to_owned), l);
    let tree = OrgTree::new([
        n("d", None, NodeLevel::District),
        n("p", Some("d"), NodeLevel::Park),
        n("c", Some("p"), NodeLevel::Community),
        n("g1", Some("c"), NodeLevel::Grid),
        n("g2", Some("c"), NodeLevel::Grid),
        n("fire", Some("d"), NodeLevel::Department),
    ]);
    Scope::new(&tree, role, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> OrgTree {
        let n = |c: &str, p: Option<&str>, l| (c.to_owned(), p.map(str::to_owned), l);
        OrgTree::new([
            n("d", None, NodeLevel::District),
            n("p1", Some("d"), NodeLevel::Park),
            n("p2", Some("d"), NodeLevel::Park),
            n("c1", Some("p1"), NodeLevel::Community),
            n("c2", Some("p2"), NodeLevel::Community),
            n("g1", Some("c1"), NodeLevel::Grid),
            n("g2", Some("c1"), NodeLevel::Grid),
            n("g3", Some("c2"), NodeLevel::Grid),
        ])
    }

    #[test]
    fn scopes_follow_the_tree() {
        let t = tree();
        let grids = |node: &str| t.grids_under(node).into_iter().collect::<Vec<_>>();
        assert_eq!(grids("d"), ["g1", "g2", "g3"]);
        assert_eq!(grids("p1"), ["g1", "g2"]);
        assert_eq!(grids("c2"), ["g3"]);
        assert_eq!(grids("g2"), ["g2"]);
        assert!(grids("nowhere").is_empty());
        assert!(t.contains("d", "g3") && t.contains("g3", "g3") && !t.contains("p1", "g3"));
    }

    #[test]
    fn write_refusals() {
        let t = tree();
        let worker = Scope::new(&t, Role::GridWorker, "g1");
        assert_eq!(worker.write_refusal("resident", "g1"), None);
        assert_eq!(
            worker.write_refusal("resident", "g2").unwrap().0,
            "out_of_scope"
        );
        let patrol = Scope::new(&t, Role::Patrol, "c1");
        assert_eq!(patrol.write_refusal("patrol_round", "g2"), None);
        assert_eq!(
            patrol.write_refusal("resident", "g2").unwrap().0,
            "forbidden_collection"
        );
        let admin = Scope::new(&t, Role::Admin, "d");
        assert_eq!(
            admin.write_refusal("event", "g1").unwrap().0,
            "forbidden_collection"
        );
    }

    #[test]
    fn the_role_table() {
        use Role::*;
        // (role, collection, reads, writes)
        let table = [
            (GridWorker, "resident", true, true),
            (GridWorker, "key_person", true, true),
            (Patrol, "patrol_round", true, true),
            (Patrol, "event", true, true),
            (Patrol, "place", true, false),
            (Patrol, "resident", false, false),
            (Police, "key_person", true, true),
            (Police, "dispute", true, true),
            (Police, "household", true, false),
            (Mediator, "dispute", true, true),
            (Mediator, "resident", true, false),
            (Mediator, "key_person", false, false),
            (Supervisor, "event", true, true),
            (Supervisor, "petition", true, true),
            (Supervisor, "resident", true, false),
            (Supervisor, "assessment", true, true),
            (GridWorker, "assessment", true, false),
            (Patrol, "assessment", false, false),
            (Admin, "event", false, false),
        ];
        for (role, collection, reads, writes) in table {
            assert_eq!(
                role.may_read(collection),
                reads,
                "{role:?} reads {collection}"
            );
            assert_eq!(
                role.may_write(collection),
                writes,
                "{role:?} writes {collection}"
            );
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert!(
                role.writes().iter().all(|c| role.may_read(c)),
                "{role:?} writes what it cannot read"
            );
        }
    }

    /// Every role the schema names is a role; every collection is written
    /// by some role; roles are indexed in `ALL` order.
    #[test]
    fn the_schemas_roles_are_roles() {
        for c in gridsync_core::Schema::current().collections {
            for r in c.written_by.iter().chain(c.read_by) {
                assert!(Role::parse(r).is_some(), "{}: `{r}` is no role", c.name);
            }
            assert!(Role::ALL.iter().any(|r| r.may_write(c.name)), "{}", c.name);
        }
        for (i, r) in Role::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        // A supervisor writes every case.
        for c in gridsync_core::Schema::current().cases() {
            assert!(Role::Supervisor.may_write(c.name), "{}", c.name);
        }
    }

    #[test]
    fn only_department_users_belong_to_departments() {
        use NodeLevel::*;
        assert_eq!(binding_refusal(Role::Department, Department), None);
        assert!(binding_refusal(Role::Department, Grid).is_some());
        assert!(binding_refusal(Role::Department, District).is_some());
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Department) {
            assert!(binding_refusal(role, Department).is_some(), "{role:?}");
            for level in [District, Park, Community, Grid] {
                assert_eq!(binding_refusal(role, level), None, "{role:?} at {level:?}");
            }
        }
    }

    #[test]
    fn masking() {
        assert_eq!(mask("420202199001011234"), "420202********1234");
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("1234567"), "*******");
        assert_eq!(mask(""), "");
    }
}
