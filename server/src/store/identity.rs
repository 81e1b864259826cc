//! The identity tables: org tree, users, devices, refresh tokens, audit log,
//! quarantine decisions. Writes go through the same serialized
//! write transaction as sync batches (ids are allocated in it).

use std::collections::HashMap;

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::{QuarantineRow, Store, StoreError, WRITE_LOCK};
use crate::auth::policy::{binding_refusal, NodeLevel, Role};
use crate::db::models::{AuditRow, DeviceRow, NewUser, OrgNodeRow, RefreshRow, UserRow};
use crate::db::Conn;

/// The lowest actor id given to a device; below it are the server's own.
pub const FIRST_DEVICE_ACTOR: i64 = 1000;

/// How fresh a device's last sync time is kept: a sync writes it only when
/// the stored one is older than this.
/// Who wrote with an actor: the user and the device (a phone, or `desk` for
/// what they did on the desk).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Author {
    pub username: String,
    pub full_name: String,
    /// The device's name.
    pub device: String,
}

pub const LAST_SYNC_GRAIN_MS: i64 = 60_000;

/// Filters of the audit log; each given one must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// The user's name.
    pub who: Option<String>,
    pub action: Option<String>,
    /// From this instant (ms), inclusive.
    pub from: Option<i64>,
    /// Before this instant (ms).
    pub to: Option<i64>,
    pub limit: i64,
}

/// Changes to a user (admin API); `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub full_name: Option<String>,
    pub role: Option<String>,
    pub node: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

/// An audit entry to write.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub user_id: Option<i64>,
    pub username: String,
    pub device_id: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// What using a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid; it is now used and the new one stored.
    Rotated {
        user_id: i64,
        device_id: Option<String>,
        family: String,
    },
    /// Refused, with the code to answer (401). A reused token has revoked
    /// its whole family by the time this is returned (committed).
    Refused(&'static str),
}

macro_rules! identity_queries {
    ($module:ident, $conn:ty) => {
        mod $module {
            use super::*;
            use crate::db::schema::{
                audit_log, device_syncs, devices, org_nodes, quarantine, refresh_tokens, users,
            };
            use diesel::dsl::max;
            use diesel::prelude::*;

            pub(super) fn tree(c: &mut $conn) -> Result<Vec<OrgNodeRow>, StoreError> {
                Ok(org_nodes::table
                    .order(org_nodes::code.asc())
                    .select(OrgNodeRow::as_select())
                    .load(c)?)
            }

            fn check_parent(
                c: &mut $conn,
                level: NodeLevel,
                parent: Option<&str>,
            ) -> Result<(), StoreError> {
                let invalid = |message: String| StoreError::Invalid {
                    code: "invalid_parent",
                    message,
                };
                match (level.parent(), parent) {
                    (None, None) => Ok(()),
                    (None, Some(_)) => Err(invalid("a district has no parent".into())),
                    (Some(want), None) => Err(invalid(format!(
                        "a {} needs a {} parent",
                        level.as_str(),
                        want.as_str()
                    ))),
                    (Some(want), Some(p)) => {
                        let found = org_nodes::table
                            .find(p)
                            .select(org_nodes::level)
                            .first::<String>(c)
                            .optional()?;
                        match found {
                            None => Err(invalid(format!("parent `{p}` does not exist"))),
                            Some(l) if l == want.as_str() => Ok(()),
                            Some(l) => Err(invalid(format!(
                                "a {} goes under a {}; `{p}` is a {l}",
                                level.as_str(),
                                want.as_str()
                            ))),
                        }
                    }
                }
            }

            /// Refuse binding a user of `role` to `node`: a node that does
            /// not exist (`unknown_node`), a department user outside a
            /// department or anyone else in one (`role_node_mismatch`).
            fn check_binding(c: &mut $conn, role: &str, node: &str) -> Result<(), StoreError> {
                let level = org_nodes::table
                    .find(node)
                    .select(org_nodes::level)
                    .first::<String>(c)
                    .optional()?
                    .ok_or_else(|| StoreError::Invalid {
                        code: "unknown_node",
                        message: format!("node `{node}` does not exist"),
                    })?;
                let (Some(role), Some(level)) = (Role::parse(role), NodeLevel::parse(&level))
                else {
                    return Ok(()); // the API checks roles; stored levels are valid
                };
                match binding_refusal(role, level) {
                    None => Ok(()),
                    Some(message) => Err(StoreError::Invalid {
                        code: "role_node_mismatch",
                        message: format!("{message} (`{node}` is a {})", level.as_str()),
                    }),
                }
            }

            pub(super) fn create_node(c: &mut $conn, row: &OrgNodeRow) -> Result<(), StoreError> {
                let level = NodeLevel::parse(&row.level).ok_or_else(|| StoreError::Invalid {
                    code: "invalid_level",
                    message: format!(
                        "`{}` is not one of district, park, community, grid, department",
                        row.level
                    ),
                })?;
                if org_nodes::table
                    .find(&row.code)
                    .count()
                    .get_result::<i64>(c)?
                    > 0
                {
                    return Err(StoreError::Conflict {
                        code: "node_exists",
                        message: format!("node `{}` exists", row.code),
                    });
                }
                check_parent(c, level, row.parent.as_deref())?;
                diesel::insert_into(org_nodes::table)
                    .values(row)
                    .execute(c)?;
                Ok(())
            }

            pub(super) fn update_node(
                c: &mut $conn,
                code: &str,
                name: Option<&str>,
                parent: Option<&str>,
                now: i64,
            ) -> Result<OrgNodeRow, StoreError> {
                let node = org_nodes::table
                    .find(code)
                    .select(OrgNodeRow::as_select())
                    .first(c)
                    .optional()?
                    .ok_or_else(|| StoreError::NotFound(format!("node `{code}`")))?;
                if let Some(p) = parent {
                    let level = NodeLevel::parse(&node.level).expect("stored levels are valid");
                    check_parent(c, level, Some(p))?;
                    diesel::update(org_nodes::table.find(code))
                        .set(org_nodes::parent.eq(p))
                        .execute(c)?;
                }
                if let Some(n) = name {
                    diesel::update(org_nodes::table.find(code))
                        .set(org_nodes::name.eq(n))
                        .execute(c)?;
                }
                diesel::update(org_nodes::table.find(code))
                    .set(org_nodes::updated_at.eq(now))
                    .execute(c)?;
                Ok(org_nodes::table
                    .find(code)
                    .select(OrgNodeRow::as_select())
                    .first(c)?)
            }

            pub(super) fn create_user(
                c: &mut $conn,
                mut user: NewUser,
            ) -> Result<UserRow, StoreError> {
                if users::table
                    .filter(users::username.eq(&user.username))
                    .count()
                    .get_result::<i64>(c)?
                    > 0
                {
                    return Err(StoreError::Conflict {
                        code: "username_taken",
                        message: format!("username `{}` is taken", user.username),
                    });
                }
                check_binding(c, &user.role, &user.node)?;
                user.id = users::table
                    .select(max(users::id))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0)
                    + 1;
                diesel::insert_into(users::table).values(&user).execute(c)?;
                Ok(users::table
                    .find(user.id)
                    .select(UserRow::as_select())
                    .first(c)?)
            }

            pub(super) fn update_user(
                c: &mut $conn,
                id: i64,
                ch: &UserChanges,
                now: i64,
            ) -> Result<UserRow, StoreError> {
                let now_user = users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?
                    .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
                if ch.node.is_some() || ch.role.is_some() {
                    let role = ch.role.as_deref().unwrap_or(&now_user.role);
                    let node = ch.node.as_deref().unwrap_or(&now_user.node);
                    check_binding(c, role, node)?;
                }
                if let Some(node) = &ch.node {
                    diesel::update(users::table.find(id))
                        .set(users::node.eq(node))
                        .execute(c)?;
                }
                if let Some(v) = &ch.full_name {
                    diesel::update(users::table.find(id))
                        .set(users::full_name.eq(v))
                        .execute(c)?;
                }
                if let Some(v) = &ch.role {
                    diesel::update(users::table.find(id))
                        .set(users::role.eq(v))
                        .execute(c)?;
                }
                if let Some(v) = ch.disabled {
                    diesel::update(users::table.find(id))
                        .set(users::disabled.eq(v))
                        .execute(c)?;
                }
                if let Some(v) = &ch.password_hash {
                    diesel::update(users::table.find(id))
                        .set(users::password_hash.eq(v))
                        .execute(c)?;
                }
                diesel::update(users::table.find(id))
                    .set(users::updated_at.eq(now))
                    .execute(c)?;
                Ok(users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(c)?)
            }

            pub(super) fn users(c: &mut $conn) -> Result<Vec<UserRow>, StoreError> {
                Ok(users::table
                    .order(users::id.asc())
                    .select(UserRow::as_select())
                    .load(c)?)
            }

            pub(super) fn user_by_name(
                c: &mut $conn,
                name: &str,
            ) -> Result<Option<UserRow>, StoreError> {
                Ok(users::table
                    .filter(users::username.eq(name))
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?)
            }

            pub(super) fn user(c: &mut $conn, id: i64) -> Result<Option<UserRow>, StoreError> {
                Ok(users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(c)
                    .optional()?)
            }

            pub(super) fn register_device(
                c: &mut $conn,
                user_id: i64,
                id: &str,
                name: &str,
                now: i64,
            ) -> Result<DeviceRow, StoreError> {
                // Never reuse an actor: above every device's. Every actor
                // that ever synced is a device's (a sync needs a device's
                // token; rows are revoked, never deleted), so the grids'
                // logs need not be read (on Citus they span every worker).
                let used = devices::table
                    .select(max(devices::actor))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0);
                let actor = used.max(FIRST_DEVICE_ACTOR - 1) + 1;
                let row = DeviceRow {
                    id: id.to_owned(),
                    user_id,
                    actor,
                    name: name.to_owned(),
                    created_at: now,
                    revoked_at: None,
                };
                diesel::insert_into(devices::table)
                    .values(&row)
                    .execute(c)?;
                Ok(row)
            }

            pub(super) fn device(c: &mut $conn, id: &str) -> Result<Option<DeviceRow>, StoreError> {
                Ok(devices::table
                    .find(id)
                    .select(DeviceRow::as_select())
                    .first(c)
                    .optional()?)
            }

            pub(super) fn devices(
                c: &mut $conn,
                user: Option<i64>,
            ) -> Result<Vec<DeviceRow>, StoreError> {
                let mut q = devices::table.into_boxed();
                if let Some(u) = user {
                    q = q.filter(devices::user_id.eq(u));
                }
                Ok(q.order(devices::created_at.asc())
                    .select(DeviceRow::as_select())
                    .load(c)?)
            }

            pub(super) fn revoke_device(
                c: &mut $conn,
                id: &str,
                now: i64,
            ) -> Result<DeviceRow, StoreError> {
                let device = devices::table
                    .find(id)
                    .select(DeviceRow::as_select())
                    .first(c)
                    .optional()?
                    .ok_or_else(|| StoreError::NotFound(format!("device `{id}`")))?;
                if device.revoked_at.is_none() {
                    diesel::update(devices::table.find(id))
                        .set(devices::revoked_at.eq(now))
                        .execute(c)?;
                }
                diesel::update(refresh_tokens::table.filter(refresh_tokens::device_id.eq(id)))
                    .filter(refresh_tokens::revoked_at.is_null())
                    .set(refresh_tokens::revoked_at.eq(now))
                    .execute(c)?;
                Ok(devices::table
                    .find(id)
                    .select(DeviceRow::as_select())
                    .first(c)?)
            }

            pub(super) fn revoke_family(
                c: &mut $conn,
                family: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                diesel::update(refresh_tokens::table.filter(refresh_tokens::family.eq(family)))
                    .filter(refresh_tokens::revoked_at.is_null())
                    .set(refresh_tokens::revoked_at.eq(now))
                    .execute(c)?;
                Ok(())
            }

            pub(super) fn insert_refresh(
                c: &mut $conn,
                row: &RefreshRow,
            ) -> Result<(), StoreError> {
                diesel::insert_into(refresh_tokens::table)
                    .values(row)
                    .execute(c)?;
                Ok(())
            }

            pub(super) fn family_revoked(c: &mut $conn, family: &str) -> Result<bool, StoreError> {
                Ok(refresh_tokens::table
                    .filter(refresh_tokens::family.eq(family))
                    .filter(refresh_tokens::revoked_at.is_not_null())
                    .select(refresh_tokens::hash)
                    .first::<String>(c)
                    .optional()?
                    .is_some())
            }

            pub(super) fn rotate_refresh(
                c: &mut $conn,
                old_hash: &str,
                new: &RefreshRow,
                now: i64,
            ) -> Result<Rotation, StoreError> {
                let Some(old) = refresh_tokens::table
                    .find(old_hash)
                    .select(RefreshRow::as_select())
                    .first(c)
                    .optional()?
                else {
                    return Ok(Rotation::Refused("invalid_refresh_token"));
                };
                if old.revoked_at.is_some() {
                    return Ok(Rotation::Refused("refresh_token_revoked"));
                }
                if old.used_at.is_some() {
                    // Used twice: someone holds a copy. Revoke the whole family.
                    diesel::update(
                        refresh_tokens::table.filter(refresh_tokens::family.eq(&old.family)),
                    )
                    .filter(refresh_tokens::revoked_at.is_null())
                    .set(refresh_tokens::revoked_at.eq(now))
                    .execute(c)?;
                    return Ok(Rotation::Refused("refresh_token_reused"));
                }
                if old.expires_at <= now {
                    return Ok(Rotation::Refused("refresh_token_expired"));
                }
                diesel::update(refresh_tokens::table.find(old_hash))
                    .set(refresh_tokens::used_at.eq(now))
                    .execute(c)?;
                let row = RefreshRow {
                    family: old.family.clone(),
                    user_id: old.user_id,
                    device_id: old.device_id.clone(),
                    ..new.clone()
                };
                diesel::insert_into(refresh_tokens::table)
                    .values(&row)
                    .execute(c)?;
                Ok(Rotation::Rotated {
                    user_id: old.user_id,
                    device_id: old.device_id,
                    family: old.family,
                })
            }

            pub(super) fn audit(
                c: &mut $conn,
                entries: &[AuditEntry],
                now: i64,
            ) -> Result<(), StoreError> {
                let mut next = audit_log::table
                    .select(max(audit_log::id))
                    .first::<Option<i64>>(c)?
                    .unwrap_or(0)
                    + 1;
                for e in entries {
                    let row = AuditRow {
                        id: next,
                        at: now,
                        user_id: e.user_id,
                        username: e.username.clone(),
                        device_id: e.device_id.clone(),
                        address: e.address.clone(),
                        action: e.action.clone(),
                        target: e.target.clone(),
                        detail: e.detail.clone(),
                    };
                    diesel::insert_into(audit_log::table)
                        .values(&row)
                        .execute(c)?;
                    next += 1;
                }
                Ok(())
            }

            pub(super) fn audit_log(
                c: &mut $conn,
                q: &AuditQuery,
            ) -> Result<Vec<AuditRow>, StoreError> {
                let mut query = audit_log::table.into_boxed();
                if let Some(who) = &q.who {
                    query = query.filter(audit_log::username.eq(who.clone()));
                }
                if let Some(action) = &q.action {
                    query = query.filter(audit_log::action.eq(action.clone()));
                }
                if let Some(from) = q.from {
                    query = query.filter(audit_log::at.ge(from));
                }
                if let Some(to) = q.to {
                    query = query.filter(audit_log::at.lt(to));
                }
                Ok(query
                    .order(audit_log::id.desc())
                    .limit(q.limit)
                    .select(AuditRow::as_select())
                    .load(c)?)
            }

            pub(super) fn authors(
                c: &mut $conn,
                actors: &[i64],
            ) -> Result<Vec<(i64, String, String, String)>, StoreError> {
                Ok(devices::table
                    .inner_join(users::table.on(users::id.eq(devices::user_id)))
                    .filter(devices::actor.eq_any(actors.to_vec()))
                    .select((
                        devices::actor,
                        users::username,
                        users::full_name,
                        devices::name,
                    ))
                    .load(c)?)
            }

            pub(super) fn last_sync(c: &mut $conn, id: &str) -> Result<Option<i64>, StoreError> {
                Ok(device_syncs::table
                    .find(id)
                    .select(device_syncs::at)
                    .first(c)
                    .optional()?)
            }

            pub(super) fn last_syncs(c: &mut $conn) -> Result<Vec<(String, i64)>, StoreError> {
                Ok(device_syncs::table
                    .select((device_syncs::device_id, device_syncs::at))
                    .load(c)?)
            }

            pub(super) fn note_sync(c: &mut $conn, id: &str, now: i64) -> Result<(), StoreError> {
                diesel::insert_into(device_syncs::table)
                    .values((device_syncs::device_id.eq(id), device_syncs::at.eq(now)))
                    .on_conflict(device_syncs::device_id)
                    .do_update()
                    .set(device_syncs::at.eq(now))
                    .execute(c)?;
                Ok(())
            }

            pub(super) fn quarantined_change(
                c: &mut $conn,
                id: i64,
            ) -> Result<Option<QuarantineRow>, StoreError> {
                Ok(quarantine::table.find(id).first(c).optional()?)
            }

            pub(super) fn resolve_quarantine(
                c: &mut $conn,
                id: i64,
                resolution: &str,
                by: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                diesel::update(quarantine::table.find(id))
                    .filter(quarantine::resolution.is_null())
                    .set((
                        quarantine::resolution.eq(resolution),
                        quarantine::resolved_by.eq(by),
                        quarantine::resolved_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(())
            }
        }
    };
}

identity_queries!(on_sqlite, SqliteConnection);
identity_queries!(on_pg, PgConnection);

/// Note a device's sync inside a write transaction already open on SQLite
/// (the group commit of its push).
pub(crate) fn note_sync_in(
    c: &mut SqliteConnection,
    device: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_sqlite::note_sync(c, device, now)
}

/// How long a process serves the org tree it read (every request's scope
/// is drawn from it) before reading it again. This process's own changes
/// to the tree are served at once; another server's (two on one
/// PostgreSQL) within this time.
pub const TREE_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// The org tree as last read: when, and the changes to the tree this
/// process has made (a read begun before a change is not kept).
#[derive(Debug, Default)]
pub struct TreeCache {
    changes: u64,
    kept: Option<(std::time::Instant, Vec<OrgNodeRow>)>,
}

impl Store {
    /// The org tree's nodes, read at most every [`TREE_FRESH`].
    pub fn org_tree(&self) -> Result<Vec<OrgNodeRow>, StoreError> {
        let changes = {
            let cache = self.tree.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, rows)) = &cache.kept {
                if at.elapsed() < TREE_FRESH {
                    return Ok(rows.clone());
                }
            }
            cache.changes
        };
        let read = std::time::Instant::now();
        let rows: Vec<OrgNodeRow> = read_tx!(self, tree())?;
        let mut cache = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        if cache.changes == changes {
            cache.kept = Some((read, rows.clone()));
        }
        Ok(rows)
    }

    /// Read the tree afresh at its next use (after a change to it).
    fn tree_changed(&self) {
        let mut cache = self.tree.lock().unwrap_or_else(|e| e.into_inner());
        cache.changes += 1;
        cache.kept = None;
    }

    pub fn create_node(&self, row: &OrgNodeRow) -> Result<(), StoreError> {
        let made = write_tx!(self, create_node(row));
        self.tree_changed();
        made
    }

    pub fn update_node(
        &self,
        code: &str,
        name: Option<&str>,
        parent: Option<&str>,
        now: i64,
    ) -> Result<OrgNodeRow, StoreError> {
        let node = write_tx!(self, update_node(code, name, parent, now));
        self.tree_changed();
        node
    }

    pub fn create_user(&self, user: &NewUser) -> Result<UserRow, StoreError> {
        write_tx!(self, create_user(user.clone()))
    }

    pub fn update_user(
        &self,
        id: i64,
        changes: &UserChanges,
        now: i64,
    ) -> Result<UserRow, StoreError> {
        write_tx!(self, update_user(id, changes, now))
    }

    pub fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        read_tx!(self, users())
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        read_tx!(self, user_by_name(name))
    }

    pub fn user(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
        read_tx!(self, user(id))
    }

    pub fn register_device(
        &self,
        user_id: i64,
        id: &str,
        name: &str,
        now: i64,
    ) -> Result<DeviceRow, StoreError> {
        write_tx!(self, register_device(user_id, id, name, now))
    }

    /// The user's active device named `name`, registered on first use: the
    /// actor the server writes as on that user's behalf (their imports,
    /// their desk), one per user and purpose, so a record's clock grows by
    /// one actor per person, not per browser session or import run.
    /// Answers `(device id, actor)`.
    pub fn own_device(
        &self,
        user_id: i64,
        name: &str,
        now: i64,
    ) -> Result<(String, u32), StoreError> {
        let known = self
            .devices(Some(user_id))?
            .into_iter()
            .find(|d| d.name == name && d.revoked_at.is_none());
        let device = match known {
            Some(d) => d,
            None => self.register_device(user_id, &uuid::Uuid::new_v4().to_string(), name, now)?,
        };
        let actor = u32::try_from(device.actor).map_err(|_| StoreError::Corrupt {
            id: device.id.clone(),
            reason: format!("actor {} out of range", device.actor),
        })?;
        Ok((device.id, actor))
    }

    pub fn device(&self, id: &str) -> Result<Option<DeviceRow>, StoreError> {
        read_tx!(self, device(id))
    }

    pub fn devices(&self, user: Option<i64>) -> Result<Vec<DeviceRow>, StoreError> {
        read_tx!(self, devices(user))
    }

    pub fn revoke_device(&self, id: &str, now: i64) -> Result<DeviceRow, StoreError> {
        write_tx!(self, revoke_device(id, now))
    }

    /// End one login (a browser session's sign-out): its access tokens
    /// are refused from the next request.
    pub fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        write_tx!(self, revoke_family(family, now))
    }

    pub fn insert_refresh(&self, row: &RefreshRow) -> Result<(), StoreError> {
        write_tx!(self, insert_refresh(row))
    }

    /// Whether a refresh family (one login) was revoked: its access tokens
    /// are then refused.
    pub fn family_revoked(&self, family: &str) -> Result<bool, StoreError> {
        read_tx!(self, family_revoked(family))
    }

    pub fn rotate_refresh(
        &self,
        old_hash: &str,
        new: &RefreshRow,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        write_tx!(self, rotate_refresh(old_hash, new, now))
    }

    pub fn audit(&self, entries: &[AuditEntry], now: i64) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        write_tx!(self, audit(entries, now))
    }

    /// Audit entries that pass `q`'s filters, newest first.
    pub fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        read_tx!(self, audit_log(q))
    }

    /// A device synced at `now`: its last sync time, kept to
    /// [`LAST_SYNC_GRAIN_MS`]. Written only when the stored time is older
    /// (read first, so a phone syncing often takes no write lock each time).
    pub fn note_sync(&self, device: &str, now: i64) -> Result<(), StoreError> {
        if self.sync_unnoted(device, now)? {
            write_tx!(self, note_sync(device, now))?;
        }
        Ok(())
    }

    /// Whether a sync of `device` at `now` is to be written down (the time
    /// kept is older than [`LAST_SYNC_GRAIN_MS`]).
    pub fn sync_unnoted(&self, device: &str, now: i64) -> Result<bool, StoreError> {
        Ok(read_tx!(self, last_sync(device))?.is_none_or(|t| t <= now - LAST_SYNC_GRAIN_MS))
    }

    /// Whose the actors are: each actor's user and device, by actor (an
    /// actor no device holds, the server's own, is left out).
    pub fn authors(&self, actors: &[i64]) -> Result<HashMap<i64, Author>, StoreError> {
        if actors.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(read_tx!(self, authors(actors))?
            .into_iter()
            .map(|(actor, username, full_name, device)| {
                (
                    actor,
                    Author {
                        username,
                        full_name,
                        device,
                    },
                )
            })
            .collect())
    }

    /// When each device that ever synced last did, by device id.
    pub fn last_syncs(&self) -> Result<HashMap<String, i64>, StoreError> {
        Ok(read_tx!(self, last_syncs())?.into_iter().collect())
    }

    pub fn quarantined_change(&self, id: i64) -> Result<Option<QuarantineRow>, StoreError> {
        read_tx!(self, quarantined_change(id))
    }

    pub fn resolve_quarantine(
        &self,
        id: i64,
        resolution: &str,
        by: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, resolve_quarantine(id, resolution, by, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Database, Pool};

    fn node(code: &str, parent: Option<&str>, level: &str) -> OrgNodeRow {
        OrgNodeRow {
            code: code.into(),
            parent: parent.map(str::to_owned),
            level: level.into(),
            name: code.into(),
            created_at: 1,
            updated_at: 1,
        }
    }

    fn codes(store: &Store) -> Vec<String> {
        let mut codes: Vec<String> = store
            .org_tree()
            .unwrap()
            .into_iter()
            .map(|n| n.code)
            .collect();
        codes.sort();
        codes
    }

    /// Two servers on one database: each serves its own changes to the
    /// tree at once, and the other's within `TREE_FRESH`.
    #[test]
    fn the_tree_is_served_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("g.db"));
        let open = || {
            let pool = Pool::open(&db, 2).unwrap();
            pool.migrate().unwrap();
            Store::new(pool)
        };
        let (one, two) = (open(), open());
        one.create_node(&node("d", None, "district")).unwrap();
        assert_eq!(codes(&one), ["d"]);
        assert_eq!(codes(&two), ["d"]);
        two.create_node(&node("p", Some("d"), "park")).unwrap();
        assert_eq!(codes(&two), ["d", "p"], "its own change, at once");
        std::thread::sleep(TREE_FRESH);
        assert_eq!(codes(&one), ["d", "p"], "the other's, within TREE_FRESH");
        one.update_node("p", Some("园区"), None, 2).unwrap();
        let named = |s: &Store| {
            s.org_tree()
                .unwrap()
                .into_iter()
                .find(|n| n.code == "p")
                .unwrap()
                .name
        };
        assert_eq!(named(&one), "园区");
    }
}
