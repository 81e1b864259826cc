//! The admin API: the org tree, users, the audit log.

use super::json::Json;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{now_ms, AppState};
use crate::auth::policy::{NodeLevel, Role};
use crate::auth::{password, Caller};
use crate::db::models::{NewUser, OrgNodeRow, UserRow};
use crate::error::ApiError;
use crate::store::identity::UserChanges;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserOut {
    id: i64,
    username: String,
    full_name: String,
    role: String,
    node: String,
    disabled: bool,
}

impl From<UserRow> for UserOut {
    fn from(u: UserRow) -> Self {
        UserOut {
            id: u.id,
            username: u.username,
            full_name: u.full_name,
            role: u.role,
            node: u.node,
            disabled: u.disabled,
        }
    }
}

/// The whole tree (any signed-in user: codes and names are not personal data).
pub async fn list_nodes(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let nodes = web::block(move || store.org_tree()).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "nodes": nodes })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    code: String,
    #[serde(default)]
    parent: Option<String>,
    level: String,
    name: String,
}

pub async fn create_node(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewNode>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let n = body.into_inner();
    if !gridsync_core::validate::valid_code(&n.code) {
        return Err(ApiError::bad(
            "invalid_code",
            "a node code is 1 to 64 characters of A-Z a-z 0-9 - _ .",
        ));
    }
    if NodeLevel::parse(&n.level).is_none() {
        return Err(ApiError::bad(
            "invalid_level",
            "level is district, park, community or grid",
        ));
    }
    if n.name.trim().is_empty() {
        return Err(ApiError::bad("invalid_name", "a node needs a name"));
    }
    let now = now_ms();
    let row = OrgNodeRow {
        code: n.code,
        parent: n.parent,
        level: n.level,
        name: n.name,
        created_at: now,
        updated_at: now,
    };
    let store = state.store.clone();
    let out = row.clone();
    web::block(move || store.create_node(&row)).await??;
    Ok(HttpResponse::Created().json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeChanges {
    #[serde(default)]
    name: Option<String>,
    /// Move the node under another parent of the level above. A grid moved
    /// keeps its records and history (records name their grid by code).
    #[serde(default)]
    parent: Option<String>,
}

pub async fn update_node(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
    body: Json<NodeChanges>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let ch = body.into_inner();
    let store = state.store.clone();
    let node = web::block(move || {
        store.update_node(&code, ch.name.as_deref(), ch.parent.as_deref(), now_ms())
    })
    .await??;
    Ok(HttpResponse::Ok().json(node))
}

pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let store = state.store.clone();
    let users = web::block(move || store.users()).await??;
    let users: Vec<UserOut> = users.into_iter().map(UserOut::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "users": users })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    full_name: String,
    password: String,
    role: String,
    node: String,
}

fn check_role(role: &str) -> Result<(), ApiError> {
    Role::parse(role).map(|_| ()).ok_or_else(|| {
        ApiError::bad(
            "invalid_role",
            "role is one of grid_worker, patrol, police, mediator, supervisor, admin",
        )
    })
}

pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewUserBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let u = body.into_inner();
    check_role(&u.role)?;
    if !gridsync_core::validate::valid_code(&u.username) {
        return Err(ApiError::bad(
            "invalid_username",
            "a username is 1 to 64 of A-Z a-z 0-9 - _ .",
        ));
    }
    password::acceptable(&u.password).map_err(|m| ApiError::bad("weak_password", m))?;
    let store = state.store.clone();
    let _turn = state.auth.hashing_turn().await;
    let user = web::block(move || {
        let now = now_ms();
        store.create_user(&NewUser {
            id: 0,
            username: u.username,
            full_name: u.full_name,
            password_hash: password::hash(&u.password),
            role: u.role,
            node: u.node,
            disabled: false,
            created_at: now,
            updated_at: now,
        })
    })
    .await??;
    Ok(HttpResponse::Created().json(UserOut::from(user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChangesBody {
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    /// Move the user: from the next request on, their scope is the new node;
    /// changes they made offline for grids outside it are refused
    /// (`out_of_scope`) and kept in quarantine.
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: Json<UserChangesBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let b = body.into_inner();
    if let Some(r) = &b.role {
        check_role(r)?;
    }
    if let Some(p) = &b.password {
        password::acceptable(p).map_err(|m| ApiError::bad("weak_password", m))?;
    }
    let store = state.store.clone();
    let id = id.into_inner();
    let _turn = match b.password {
        Some(_) => Some(state.auth.hashing_turn().await),
        None => None,
    };
    let user = web::block(move || {
        let changes = UserChanges {
            full_name: b.full_name,
            role: b.role,
            node: b.node,
            disabled: b.disabled,
            password_hash: b.password.as_deref().map(password::hash),
        };
        store.update_user(id, &changes, now_ms())
    })
    .await??;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    limit: Option<i64>,
}

/// Newest first.
pub async fn audit_log(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let limit = params.limit.unwrap_or(200).clamp(1, 5000);
    let store = state.store.clone();
    let entries = web::block(move || store.audit_log(limit)).await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "entries": entries })))
}
