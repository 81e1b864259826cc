//! The admin API: the org tree, users, the audit log.

use super::json::Json;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::policy::{NodeLevel, Role};
use crate::auth::{password, Caller};
use crate::db::models::{AuditRow, NewUser, OrgNodeRow, UserRow};
use crate::error::ApiError;
use crate::store::identity::UserChanges;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// What `PATCH /v1/users/{id}` takes.
    id: i64,
    username: String,
    full_name: String,
    /// `grid_worker`, `patrol`, `police`, `mediator`, `supervisor` or `admin`.
    role: String,
    /// The org node the user is bound to: their scope.
    node: String,
    /// A disabled user's tokens stop working on the next request.
    disabled: bool,
}

/// The users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersOut {
    users: Vec<UserOut>,
}

/// The whole org tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodesOut {
    nodes: Vec<OrgNodeRow>,
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
#[utoipa::path(
    get,
    path = "/v1/org/nodes",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every node", body = NodesOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
    ),
)]
pub async fn list_nodes(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let nodes = web::block(move || store.org_tree()).await??;
    Ok(HttpResponse::Ok().json(NodesOut { nodes }))
}

/// `POST /v1/org/nodes` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    /// 1 to 64 of `A-Z a-z 0-9 - _ .`
    code: String,
    /// A node one level up (none for the district).
    #[serde(default)]
    parent: Option<String>,
    /// `district`, `park`, `community` or `grid`.
    level: String,
    name: String,
}

/// Add a node to the org tree (admins).
#[utoipa::path(
    post,
    path = "/v1/org/nodes",
    tag = "admin",
    request_body = NewNode,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = OrgNodeRow),
        (status = 400, description = "`invalid_code`, `invalid_level`, `invalid_name`, `invalid_parent`, \
            `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 409, description = "`node_exists`", body = ErrorBody),
    ),
)]
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
            "level is district, park, community, grid or department (under the district)",
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

/// `PATCH /v1/org/nodes/{code}` body: what to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeChanges {
    #[serde(default)]
    name: Option<String>,
    /// Move the node under another parent of the level above. A grid moved
    /// keeps its records and history (records name their grid by code).
    #[serde(default)]
    parent: Option<String>,
}

/// Rename a node or move it under another parent (admins).
#[utoipa::path(
    patch,
    path = "/v1/org/nodes/{code}",
    tag = "admin",
    params(("code" = String, Path, description = "The node's code")),
    request_body = NodeChanges,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The node as changed", body = OrgNodeRow),
        (status = 400, description = "`invalid_parent`, `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
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

/// Every user (admins).
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The users", body = UsersOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
    ),
)]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let store = state.store.clone();
    let users = web::block(move || store.users()).await??;
    let users: Vec<UserOut> = users.into_iter().map(UserOut::from).collect();
    Ok(HttpResponse::Ok().json(UsersOut { users }))
}

/// `POST /v1/users` body: every key required, no other.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// 1 to 64 of `A-Z a-z 0-9 - _ .`; unique.
    #[schema(example = "worker07")]
    username: String,
    #[schema(example = "王芳")]
    full_name: String,
    /// At least 8 characters (kept as an argon2id hash only).
    password: String,
    /// `grid_worker`, `patrol`, `police`, `mediator`, `supervisor` or `admin`.
    #[schema(example = "grid_worker")]
    role: String,
    /// The org node the user is bound to (an existing node's code): their scope.
    #[schema(example = "420203-001-001-001")]
    node: String,
}

fn check_role(role: &str) -> Result<(), ApiError> {
    Role::parse(role).map(|_| ()).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        ApiError::bad(
            "invalid_role",
            format!("role is one of {}", roles.join(", ")),
        )
    })
}

/// Create a user (admins).
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "admin",
    request_body = NewUserBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = UserOut),
        (status = 400, description = "`invalid_role`, `invalid_username`, `weak_password`, `unknown_node`, \
            `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
    ),
)]
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

/// `PATCH /v1/users/{id}` body: the keys given are changed, the others kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangesBody {
    #[serde(default)]
    full_name: Option<String>,
    /// Counts from the user's next request.
    #[serde(default)]
    role: Option<String>,
    /// Move the user: from the next request on, their scope is the new node;
    /// changes they made offline for grids outside it are refused
    /// (`out_of_scope`) and kept in quarantine.
    #[serde(default)]
    node: Option<String>,
    /// A disabled user's tokens stop working on the next request.
    #[serde(default)]
    disabled: Option<bool>,
    /// A new password, at least 8 characters.
    #[serde(default)]
    password: Option<String>,
}

/// Change a user: name, role, node (a move), disabled, password (admins).
#[utoipa::path(
    patch,
    path = "/v1/users/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserChangesBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user as changed", body = UserOut),
        (status = 400, description = "`invalid_role`, `weak_password`, `unknown_node`, `invalid_path`, \
            `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// How many entries, 1 to 5000 (default 200; others are clamped).
    limit: Option<i64>,
}

/// The audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    entries: Vec<AuditRow>,
}

/// The audit log, newest first (admins).
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "admin",
    params(AuditParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Audit entries, newest first", body = AuditOut),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
    ),
)]
pub async fn audit_log(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let limit = params.limit.unwrap_or(200).clamp(1, 5000);
    let store = state.store.clone();
    let entries = web::block(move || store.audit_log(limit)).await??;
    Ok(HttpResponse::Ok().json(AuditOut { entries }))
}
