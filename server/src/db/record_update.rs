//! Rewriting a record after a merge: one `UPDATE` that sets the columns no
//! index covers, and of the indexed ones only those whose values moved.
//!
//! A record row sits under fifteen secondary indexes (lists, reports,
//! deadlines, duplicates). A database updates an index when its columns
//! are named in the `SET`, whether or not their values changed, so a
//! rewrite of every column moved every index entry of the record. Most
//! merges change the state and little else: setting only what moved keeps
//! most index pages untouched (on PostgreSQL the update can stay a HOT
//! one). Which indexed columns moved is decided by [`moved`], a pure
//! function; the statement is cached per shape (at most 2⁵ of them).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Integer, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

use super::models::{RecordForm, RecordRow};

/// A record's indexed columns (beyond its key and `last_seq`), as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Indexed {
    pub collection: String,
    pub created_at: i64,
    pub status: Option<String>,
    pub level: String,
    pub category: Option<String>,
    pub deleted: bool,
    pub closed_at: Option<i64>,
    pub level_since: i64,
    pub deadline: Option<i64>,
    pub conflicts: i32,
    pub starts_at: Option<i64>,
    pub id_key: Option<String>,
    pub assignee: Option<String>,
}

impl Indexed {
    pub fn of_row(r: &RecordRow) -> Indexed {
        Indexed {
            collection: r.collection.clone(),
            created_at: r.created_at,
            status: r.status.clone(),
            level: r.level.clone(),
            category: r.category.clone(),
            deleted: r.deleted,
            closed_at: r.closed_at,
            level_since: r.level_since,
            deadline: r.deadline,
            conflicts: r.conflicts,
            starts_at: r.starts_at,
            id_key: r.id_key.clone(),
            assignee: r.assignee.clone(),
        }
    }

    pub fn of_form(f: &RecordForm) -> Indexed {
        Indexed {
            collection: f.collection.clone(),
            created_at: f.created_at,
            status: f.status.clone(),
            level: f.level.clone(),
            category: f.category.clone(),
            deleted: f.deleted,
            closed_at: f.closed_at,
            level_since: f.level_since,
            deadline: f.deadline,
            conflicts: f.conflicts,
            starts_at: f.starts_at,
            id_key: f.id_key.clone(),
            assignee: f.assignee.clone(),
        }
    }
}

/// Which groups of indexed columns a rewrite sets. Each group is the
/// columns that the same indexes cover; a group is set whole when any of
/// its columns moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Moved {
    /// What the case lists and reports index: collection, created_at,
    /// status, level, category, deleted, closed_at, level_since, deadline.
    pub case: bool,
    /// `conflicts` (the partial index of records in conflict).
    pub conflicts: bool,
    /// A round's `starts_at`.
    pub round: bool,
    /// A resident's `id_key`.
    pub id_key: bool,
    /// `assignee`.
    pub assignee: bool,
}

impl Moved {
    /// Every group: what a new record (or an unknown prior row) needs.
    pub const ALL: Moved = Moved {
        case: true,
        conflicts: true,
        round: true,
        id_key: true,
        assignee: true,
    };
}

/// Which groups moved from `before` to `after`. Pure.
///
/// ```
/// use gridsync_server::db::record_update::{moved, Indexed, Moved};
/// let before = Indexed { status: Some("reported".into()), ..Indexed::default() };
/// let after = Indexed { status: Some("accepted".into()), ..before.clone() };
/// assert_eq!(moved(&before, &after), Moved { case: true, ..Moved::default() });
/// assert_eq!(moved(&before, &before), Moved::default());
/// ```
pub fn moved(before: &Indexed, after: &Indexed) -> Moved {
    Moved {
        case: before.collection != after.collection
            || before.created_at != after.created_at
            || before.status != after.status
            || before.level != after.level
            || before.category != after.category
            || before.deleted != after.deleted
            || before.closed_at != after.closed_at
            || before.level_since != after.level_since
            || before.deadline != after.deadline,
        conflicts: before.conflicts != after.conflicts,
        round: before.starts_at != after.starts_at,
        id_key: before.id_key != after.id_key,
        assignee: before.assignee != after.assignee,
    }
}

/// `UPDATE records SET … WHERE grid = ? AND id = ?` for one merged record:
/// the unindexed columns always, the indexed groups that [`moved`].
#[derive(Debug)]
pub struct UpdateRecord<'a> {
    pub form: &'a RecordForm,
    pub moved: Moved,
}

impl QueryId for UpdateRecord<'_> {
    type QueryId = ();
    // Not one static shape: cached by its SQL, one statement per shape.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for UpdateRecord<'_> {}

impl<DB> QueryFragment<DB> for UpdateRecord<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Integer> + HasSqlType<Bool>,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
    bool: ToSql<Bool, DB>,
    Option<String>: ToSql<Nullable<Text>, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
    Option<i32>: ToSql<Nullable<Integer>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let f = self.form;
        out.push_sql("UPDATE records SET state = ");
        out.push_bind_param::<Text, _>(&f.state)?;
        out.push_sql(", last_seq = ");
        out.push_bind_param::<BigInt, _>(&f.last_seq)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<BigInt, _>(&f.updated_at)?;
        out.push_sql(", statutory_deadline = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&f.statutory_deadline)?;
        out.push_sql(", level_deadline = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&f.level_deadline)?;
        out.push_sql(", overdue = ");
        out.push_bind_param::<Bool, _>(&f.overdue)?;
        out.push_sql(", flag = ");
        out.push_bind_param::<Nullable<Text>, _>(&f.flag)?;
        out.push_sql(", planned = ");
        out.push_bind_param::<Nullable<Integer>, _>(&f.planned)?;
        out.push_sql(", visited = ");
        out.push_bind_param::<Nullable<Integer>, _>(&f.visited)?;
        out.push_sql(", checkins = ");
        out.push_bind_param::<Nullable<Integer>, _>(&f.checkins)?;
        out.push_sql(", unplanned = ");
        out.push_bind_param::<Nullable<Integer>, _>(&f.unplanned)?;
        out.push_sql(", label = ");
        out.push_bind_param::<Nullable<Text>, _>(&f.label)?;
        if self.moved.case {
            out.push_sql(", collection = ");
            out.push_bind_param::<Text, _>(&f.collection)?;
            out.push_sql(", created_at = ");
            out.push_bind_param::<BigInt, _>(&f.created_at)?;
            out.push_sql(", status = ");
            out.push_bind_param::<Nullable<Text>, _>(&f.status)?;
            out.push_sql(", level = ");
            out.push_bind_param::<Text, _>(&f.level)?;
            out.push_sql(", category = ");
            out.push_bind_param::<Nullable<Text>, _>(&f.category)?;
            out.push_sql(", deleted = ");
            out.push_bind_param::<Bool, _>(&f.deleted)?;
            out.push_sql(", closed_at = ");
            out.push_bind_param::<Nullable<BigInt>, _>(&f.closed_at)?;
            out.push_sql(", level_since = ");
            out.push_bind_param::<BigInt, _>(&f.level_since)?;
            out.push_sql(", deadline = ");
            out.push_bind_param::<Nullable<BigInt>, _>(&f.deadline)?;
        }
        if self.moved.conflicts {
            out.push_sql(", conflicts = ");
            out.push_bind_param::<Integer, _>(&f.conflicts)?;
        }
        if self.moved.round {
            out.push_sql(", starts_at = ");
            out.push_bind_param::<Nullable<BigInt>, _>(&f.starts_at)?;
        }
        if self.moved.id_key {
            out.push_sql(", id_key = ");
            out.push_bind_param::<Nullable<Text>, _>(&f.id_key)?;
        }
        if self.moved.assignee {
            out.push_sql(", assignee = ");
            out.push_bind_param::<Nullable<Text>, _>(&f.assignee)?;
        }
        out.push_sql(" WHERE grid = ");
        out.push_bind_param::<Text, _>(&f.grid)?;
        out.push_sql(" AND id = ");
        out.push_bind_param::<Text, _>(&f.id)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::records;
    use diesel::sqlite::Sqlite;
    use diesel::QueryDsl;

    fn form() -> RecordForm {
        RecordForm {
            id: "r".into(),
            collection: "event".into(),
            grid: "g".into(),
            state: "{}".into(),
            status: Some("reported".into()),
            level: "grid".into(),
            category: None,
            assignee: None,
            deadline: None,
            deleted: false,
            conflicts: 0,
            created_at: 1,
            updated_at: 2,
            closed_at: None,
            last_seq: 3,
            level_since: 1,
            overdue: false,
            flag: None,
            planned: None,
            visited: None,
            checkins: None,
            starts_at: None,
            statutory_deadline: None,
            level_deadline: None,
            unplanned: None,
            id_key: None,
            label: Some("r".into()),
        }
    }

    /// The columns an SQL text sets, in order.
    fn set_columns(sql: &str) -> Vec<String> {
        let set = sql.split(" SET ").nth(1).expect("a SET");
        let set = set.split(" WHERE ").next().expect("a SET list");
        let mut cols: Vec<String> = set
            .split(", ")
            .map(|a| a.split(" = ").next().unwrap_or_default().replace('`', ""))
            .map(|c| c.replace('"', ""))
            .collect();
        cols.sort();
        cols
    }

    #[test]
    fn with_every_group_it_sets_what_a_full_rewrite_sets() {
        let f = form();
        let ours = diesel::debug_query::<Sqlite, _>(&UpdateRecord {
            form: &f,
            moved: Moved::ALL,
        })
        .to_string();
        let full = diesel::debug_query::<Sqlite, _>(
            &diesel::update(records::table.find((&f.grid, &f.id))).set(&f),
        )
        .to_string();
        assert_eq!(set_columns(&ours), set_columns(&full));
    }

    #[test]
    fn each_indexed_column_moves_its_group() {
        let before = Indexed::of_form(&form());
        type Edit = Box<dyn Fn(&mut Indexed)>;
        let cases: Vec<(&str, Edit, Moved)> = vec![
            ("nothing", Box::new(|_| {}), Moved::default()),
            (
                "status",
                Box::new(|i| i.status = Some("accepted".into())),
                Moved {
                    case: true,
                    ..Moved::default()
                },
            ),
            (
                "level",
                Box::new(|i| i.level = "community".into()),
                Moved {
                    case: true,
                    ..Moved::default()
                },
            ),
            (
                "deadline",
                Box::new(|i| i.deadline = Some(9)),
                Moved {
                    case: true,
                    ..Moved::default()
                },
            ),
            (
                "closed",
                Box::new(|i| i.closed_at = Some(9)),
                Moved {
                    case: true,
                    ..Moved::default()
                },
            ),
            (
                "conflicts",
                Box::new(|i| i.conflicts = 1),
                Moved {
                    conflicts: true,
                    ..Moved::default()
                },
            ),
            (
                "round",
                Box::new(|i| i.starts_at = Some(5)),
                Moved {
                    round: true,
                    ..Moved::default()
                },
            ),
            (
                "id key",
                Box::new(|i| i.id_key = Some("X".into())),
                Moved {
                    id_key: true,
                    ..Moved::default()
                },
            ),
            (
                "assignee",
                Box::new(|i| i.assignee = Some("user:w".into())),
                Moved {
                    assignee: true,
                    ..Moved::default()
                },
            ),
        ];
        for (name, edit, want) in cases {
            let mut after = before.clone();
            edit(&mut after);
            assert_eq!(moved(&before, &after), want, "{name}");
        }
    }

    #[test]
    fn only_the_moved_groups_are_set() {
        let f = form();
        let sql = diesel::debug_query::<Sqlite, _>(&UpdateRecord {
            form: &f,
            moved: Moved {
                assignee: true,
                ..Moved::default()
            },
        })
        .to_string();
        let cols = set_columns(&sql);
        assert!(cols.contains(&"assignee".to_owned()), "{sql}");
        for c in [
            "status",
            "level",
            "deadline",
            "conflicts",
            "id_key",
            "starts_at",
        ] {
            assert!(!cols.contains(&c.to_owned()), "{c} in {sql}");
        }
        assert!(cols.contains(&"state".to_owned()) && cols.contains(&"last_seq".to_owned()));
    }
}
