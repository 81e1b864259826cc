//! Where the tables sit on a Citus cluster.
//!
//! Every grid-scoped table is distributed by `grid` and colocated with
//! `records`: a grid's records, log, heads, quarantine, attachment
//! references and report stock sit in one shard, on one worker, so a sync
//! for one grid is a transaction on that worker. The small shared tables
//! (the org tree, settings, the audit log, attachments and uploads) are
//! reference tables: a copy on every node. The accounts (users, devices,
//! tokens) stay on the coordinator ([`COORDINATOR`]).
//!
//! [`layout`] runs after the migrations, which are the same as on plain
//! PostgreSQL (their keys already begin with the grid). It is idempotent: a
//! table already placed is left as it is.

use diesel::pg::PgConnection;
use diesel::sql_types::{Nullable, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};

use super::DbError;

/// The grid-scoped tables, distributed by `grid`; the first is the one the
/// others are colocated with.
pub const DISTRIBUTED: [&str; 7] = [
    "records",
    "changes",
    "grid_heads",
    "actor_heads",
    "quarantine",
    "attachment_refs",
    "report_stock",
];

/// Tables copied to every node (read anywhere; a write needs every node).
pub const REFERENCE: [&str; 9] = [
    "org_nodes",
    "audit_log",
    "settings",
    "attachments",
    "uploads",
    "upload_days",
    "duplicate_decisions",
    "webhooks",
    "webhook_deliveries",
];

/// Tables kept on the coordinator alone (Citus "local" tables in its
/// metadata): the accounts, read on every request and written at every
/// login and refresh. They hang off `org_nodes` by foreign keys, which Citus
/// allows from a coordinator table to a reference table. No distributed
/// query joins them, and a login never needs a worker: logins and token
/// refreshes go on while a worker is down.
pub const COORDINATOR: [&str; 3] = ["users", "devices", "refresh_tokens"];

/// Plain tables on the coordinator, outside Citus's metadata: written on
/// every sync, they have no foreign key, so a write locks nothing on the
/// workers. (A write to a [`COORDINATOR`] table locks the reference table
/// its keys point to on every node, and a worker leaving the cluster waits
/// for that lock: written per sync, it deadlocked with `citus_remove_node`.)
pub const LOCAL: [&str; 1] = ["device_syncs"];

/// How the store is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One PostgreSQL server (or SQLite): every table is local.
    Plain,
    /// A Citus coordinator, with the extension's version.
    Citus { version: String },
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layout::Plain => f.write_str("plain (every table local)"),
            Layout::Citus { version } => write!(
                f,
                "Citus {version}: {} tables distributed by grid, {} reference tables, {} on the coordinator",
                DISTRIBUTED.len(),
                REFERENCE.len(),
                COORDINATOR.len()
            ),
        }
    }
}

/// What `migrate` should do about Citus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Want {
    /// Distribute when the database has the Citus extension.
    #[default]
    Auto,
    /// Distribute, and fail if the database is not a Citus coordinator.
    Citus,
    /// Leave every table local, even on Citus.
    Plain,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    extversion: String,
}

#[derive(QueryableByName)]
struct Placed {
    #[diesel(sql_type = Nullable<Text>)]
    method: Option<String>,
}

/// The Citus version, when the connected database has the extension.
pub fn detect(c: &mut PgConnection) -> Result<Option<String>, DbError> {
    Ok(
        diesel::sql_query("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            .get_result::<Version>(c)
            .optional()?
            .map(|v| v.extversion),
    )
}

/// How `table` is placed, as Citus's partition method and replication
/// model: `hs` distributed by hash, `nt` reference (a copy on every node),
/// `ns` kept on the coordinator; none: not in Citus's metadata.
pub fn placement(c: &mut PgConnection, table: &str) -> Result<Option<String>, DbError> {
    Ok(diesel::sql_query(
        "SELECT partmethod::text || repmodel::text AS method FROM pg_dist_partition \
         WHERE logicalrelid = to_regclass($1)",
    )
    .bind::<Text, _>(table)
    .get_result::<Placed>(c)
    .optional()?
    .and_then(|p| p.method))
}

/// Whether the store has no tables yet (checked before migrating).
pub fn fresh(c: &mut PgConnection) -> Result<bool, DbError> {
    #[derive(QueryableByName)]
    struct Missing {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        missing: bool,
    }
    Ok(
        diesel::sql_query("SELECT to_regclass('records') IS NULL AS missing")
            .get_result::<Missing>(c)?
            .missing,
    )
}

/// Place the tables as `want` says; returns the layout the store has.
/// `fresh`: the migrations just made the tables. `auto` distributes a fresh
/// store on a Citus coordinator, and places new tables of a distributed
/// one; a store laid out plain stays plain.
pub fn layout(c: &mut PgConnection, want: Want, fresh: bool) -> Result<Layout, DbError> {
    let version = match (want, detect(c)?) {
        // Nothing is placed; a store already distributed stays so.
        (Want::Plain, _) => return current(c),
        (Want::Auto, None) => return Ok(Layout::Plain),
        (Want::Auto, Some(_)) if !fresh && current(c)? == Layout::Plain => {
            return Ok(Layout::Plain)
        }
        (Want::Citus, None) => {
            return Err(DbError::Migration(
                "--layout citus: this database has no Citus extension \
                 (CREATE EXTENSION citus on the coordinator and every worker first)"
                    .into(),
            ))
        }
        (_, Some(v)) => v,
    };
    for table in REFERENCE {
        if placement(c, table)?.is_none() {
            diesel::sql_query("SELECT create_reference_table($1)")
                .bind::<Text, _>(table)
                .execute(c)?;
        }
    }
    // Placing `org_nodes` already made these coordinator tables (Citus
    // does so for a table with a foreign key to a reference table).
    for table in COORDINATOR {
        if placement(c, table)?.is_none() {
            diesel::sql_query(
                "SELECT citus_add_local_table_to_metadata($1, cascade_via_foreign_keys => true)",
            )
            .bind::<Text, _>(table)
            .execute(c)?;
        }
    }
    let first = DISTRIBUTED[0];
    for table in DISTRIBUTED {
        if placement(c, table)?.is_none() {
            let colocate = if table == first { "default" } else { first };
            diesel::sql_query("SELECT create_distributed_table($1, 'grid', colocate_with => $2)")
                .bind::<Text, _>(table)
                .bind::<Text, _>(colocate)
                .execute(c)?;
        }
    }
    Ok(Layout::Citus { version })
}

/// The layout a database has now (nothing is changed).
pub fn current(c: &mut PgConnection) -> Result<Layout, DbError> {
    let Some(version) = detect(c)? else {
        return Ok(Layout::Plain);
    };
    Ok(match placement(c, DISTRIBUTED[0])? {
        Some(_) => Layout::Citus { version },
        None => Layout::Plain,
    })
}
