//! `column IN (a list of values)` as one SQL text whatever the number of
//! values, so that the statement is prepared once and kept.
//!
//! Diesel's `eq_any` writes one placeholder a value on SQLite (`IN (?, ?,
//! …)`): a list of another length is another SQL text, and diesel does not
//! cache such a statement at all, so SQLite parses and plans it again at
//! every call. On the write path (the records a batch touches, the log
//! entries it may repeat, the actors' heads) that was 4% of a push's CPU;
//! in the inbox's lists, before they used it, an eighth of the storm's.
//! [`any_of`] binds the list once instead:
//!
//! - SQLite: `column IN (SELECT value FROM json_each(?))`, the list bound as
//!   one JSON array (SQLite still looks each value up in the column's index);
//! - PostgreSQL: `column = ANY(?)`, the list bound as one array, which is
//!   what `eq_any` writes there already (so Citus still prunes the shards
//!   of a `grid = ANY(…)` by the values bound).

use std::marker::PhantomData;

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, Bool, HasSqlType, SqlType, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;
use serde::Serialize;

/// `column` is one of `values` (see the module's documentation).
#[derive(Debug, Clone)]
pub struct AnyOf<'a, C, T> {
    column: C,
    values: &'a [T],
    /// The values as a JSON array, for SQLite's `json_each`.
    json: String,
}

/// `column` is one of `values`: a filter for diesel's query builder.
pub fn any_of<C, T: Serialize>(column: C, values: &[T]) -> AnyOf<'_, C, T> {
    AnyOf {
        column,
        values,
        json: serde_json::to_string(values).expect("a list of keys serializes"),
    }
}

impl<C: Expression, T> Expression for AnyOf<'_, C, T> {
    type SqlType = Bool;
}

impl<C, T, QS> AppearsOnTable<QS> for AnyOf<'_, C, T>
where
    C: AppearsOnTable<QS>,
    Self: Expression,
{
}

impl<C: ValidGrouping<GB>, T, GB> ValidGrouping<GB> for AnyOf<'_, C, T> {
    type IsAggregate = C::IsAggregate;
}

/// What the statement cache knows an [`AnyOf`] by: its SQL text is the
/// column's and the same for any number of values.
#[derive(Debug)]
pub struct AnyOfId<C>(PhantomData<C>);

impl<C: QueryId, T> QueryId for AnyOf<'_, C, T> {
    type QueryId = AnyOfId<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C, T> QueryFragment<Sqlite> for AnyOf<'_, C, T>
where
    C: QueryFragment<Sqlite>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C, T, ST> QueryFragment<Pg> for AnyOf<'_, C, T>
where
    C: QueryFragment<Pg> + Expression<SqlType = ST>,
    ST: SqlType + 'static,
    Pg: HasSqlType<ST>,
    [T]: ToSql<Array<ST>, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<ST>, [T]>(self.values)?;
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::query_builder::QueryId;
    use diesel::sqlite::SqliteConnection;

    use super::any_of;

    diesel::table! {
        keys (k) {
            k -> Text,
            n -> BigInt,
        }
    }

    fn store() -> SqliteConnection {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute(
            "CREATE TABLE keys (k TEXT PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO keys VALUES ('a', 1), ('b\"''', 2), ('网格', 9223372036854775807),
                                     ('', -9223372036854775808), ('z', 0);",
        )
        .unwrap();
        c
    }

    /// The same rows as `eq_any` for any list: none, one, quotes, CJK, the
    /// empty string, the ends of `i64`, values not there, repeats.
    #[test]
    fn it_selects_what_eq_any_selects() {
        let c = &mut store();
        let texts: &[&[&str]] = &[
            &[],
            &["a"],
            &["b\"'", "网格", "missing"],
            &["", "a", "a", "z"],
        ];
        for list in texts {
            let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            let mut ours: Vec<String> = keys::table
                .filter(any_of(keys::k, &list))
                .select(keys::k)
                .load(c)
                .unwrap();
            let mut theirs: Vec<String> = keys::table
                .filter(keys::k.eq_any(&list))
                .select(keys::k)
                .load(c)
                .unwrap();
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "{list:?}");
        }
        let numbers: &[&[i64]] = &[&[], &[i64::MAX, i64::MIN], &[1, 2, 3]];
        for list in numbers {
            let mut ours: Vec<i64> = keys::table
                .filter(any_of(keys::n, list))
                .select(keys::n)
                .load(c)
                .unwrap();
            ours.sort();
            let mut want: Vec<i64> = list.iter().copied().filter(|n| *n != 3).collect();
            want.sort();
            assert_eq!(ours, want, "{list:?}");
        }
    }

    /// One SQL text for every length: the statement cache finds it by type
    /// (`eq_any`'s is never cached on SQLite).
    #[test]
    fn its_statement_is_cached_by_type() {
        fn found_by_type<Q: QueryId>(_: &Q) -> bool {
            Q::HAS_STATIC_QUERY_ID
        }
        let list = vec!["a".to_owned()];
        let ours = keys::table.filter(any_of(keys::k, &list)).select(keys::k);
        assert!(found_by_type(&ours));
    }
}
