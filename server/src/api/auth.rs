//! Login, token refresh, devices.

use super::json::Json;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::policy::Role;
use crate::auth::tokens::{self, REFRESH_TTL_SECS};
use crate::auth::{password, Caller};
use crate::db::models::{DeviceRow, RefreshRow, UserRow};
use crate::error::ApiError;
use crate::store::identity::Rotation;
use crate::store::{Store, StoreError};

/// An access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// `Bearer`
    pub token_type: &'static str,
    /// Seconds the access token lives (900).
    pub expires_in: i64,
    /// Opaque; spent by `POST /v1/auth/refresh` (60 days).
    pub refresh_token: String,
}

/// A new access token and a new refresh token of a new family.
pub(super) fn issue(
    state: &AppState,
    store: &Store,
    user_id: i64,
    device: Option<&str>,
) -> Result<TokenPair, StoreError> {
    let now = now_ms() / 1000;
    let (refresh, hash) = tokens::new_refresh_token();
    let family = uuid::Uuid::new_v4().to_string();
    store.insert_refresh(&RefreshRow {
        hash,
        family: family.clone(),
        user_id,
        device_id: device.map(str::to_owned),
        issued_at: now,
        expires_at: now + REFRESH_TTL_SECS,
        used_at: None,
        revoked_at: None,
    })?;
    Ok(TokenPair {
        access_token: state.auth.keys.issue(user_id, device, Some(&family), now),
        token_type: "Bearer",
        expires_in: tokens::ACCESS_TTL_SECS,
        refresh_token: refresh,
    })
}

/// `POST /v1/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
    /// Bind the tokens to this registered device of the user (its id).
    #[serde(default)]
    device: Option<String>,
}

/// Who signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    id: i64,
    username: String,
    full_name: String,
    /// `grid_worker`, `patrol`, `police`, `mediator`, `supervisor` or `admin`.
    role: String,
    /// The org node the user is bound to: their scope.
    node: String,
}

/// A login's answer: the tokens and who signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOut {
    #[serde(flatten)]
    tokens: TokenPair,
    user: SignedIn,
}

/// Sign in: a short access token and a refresh token (docs/ACCESS.md).
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = LoginOut),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (an unknown user answers the same, as slowly)", body = ErrorBody),
        (status = 403, description = "`device_not_yours`: `device` is not an active device of this user", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed logins; wait `Retry-After` seconds", body = ErrorBody),
    ),
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<Login>,
) -> Result<HttpResponse, ApiError> {
    let Login {
        username,
        password,
        device,
    } = body.into_inner();
    let user = authenticate(&state, &req, username, password).await?;
    let st = state.clone();
    let user_id = user.id;
    let tokens = web::block(move || {
        if let Some(d) = &device {
            match st.store.device(d)? {
                Some(row) if row.user_id == user_id && row.revoked_at.is_none() => {}
                _ => return Ok(None),
            }
        }
        issue(&st, &st.store, user_id, device.as_deref()).map(Some)
    })
    .await??
    .ok_or_else(|| ApiError::Forbidden {
        code: "device_not_yours",
        message: "that device is not an active device of this user".into(),
    })?;
    Ok(HttpResponse::Ok().json(LoginOut {
        tokens,
        user: SignedIn::from(user),
    }))
}

impl From<UserRow> for SignedIn {
    fn from(user: UserRow) -> Self {
        SignedIn {
            id: user.id,
            username: user.username,
            full_name: user.full_name,
            role: user.role,
            node: user.node,
        }
    }
}

/// Check a username and password, throttled per account and per address
/// (docs/ACCESS.md): the user, or `invalid_credentials` (an unknown user
/// answers the same, as slowly), or `too_many_requests`.
pub async fn authenticate(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    username: String,
    password: String,
) -> Result<UserRow, ApiError> {
    let address = crate::access::client_address(req, &state.limits.trusted_proxies);
    state.auth.allow_login(&username, &address)?;
    let name = username.clone();
    let st = state.clone();
    let _turn = state.auth.hashing_turn().await;
    let found = web::block(move || {
        let Some(user) = st.store.user_by_name(&username)? else {
            // Spend the same time as a real check, so that timing tells nothing.
            password::verify_nothing(&password);
            return Ok(None);
        };
        if user.disabled || !password::verify(&password, &user.password_hash) {
            return Ok(None);
        }
        Ok::<_, StoreError>(Some(user))
    })
    .await??;
    found.ok_or_else(|| {
        state.auth.login_failed(&name, &address);
        state.metrics.login_failures.inc();
        ApiError::Unauthorized {
            code: "invalid_credentials",
            message: "wrong username or password".into(),
        }
    })
}

/// `POST /v1/auth/refresh` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    refresh_token: String,
}

/// Rotate a refresh token: the old one is spent; a spent one used again
/// revokes its whole family (someone else holds a copy).
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    request_body = Refresh,
    responses(
        (status = 200, description = "A new pair; keep the new refresh token, the old one is spent", body = TokenPair),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_refresh_token`, `refresh_token_reused` (its whole login is revoked), \
            `refresh_token_revoked`, `refresh_token_expired`", body = ErrorBody),
    ),
)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<Refresh>,
) -> Result<HttpResponse, ApiError> {
    let old = tokens::hash_refresh_token(&body.refresh_token);
    let st = state.clone();
    let outcome = web::block(move || {
        let now = now_ms() / 1000;
        let (token, hash) = tokens::new_refresh_token();
        let new = RefreshRow {
            hash,
            family: String::new(),
            user_id: 0,
            device_id: None,
            issued_at: now,
            expires_at: now + REFRESH_TTL_SECS,
            used_at: None,
            revoked_at: None,
        };
        let rotation = st.store.rotate_refresh(&old, &new, now)?;
        if let Rotation::Rotated {
            user_id,
            device_id,
            family,
        } = &rotation
        {
            // The user and the device must still be allowed.
            let user_ok = st.store.user(*user_id)?.is_some_and(|u| !u.disabled);
            let device_ok = match device_id {
                Some(d) => st.store.device(d)?.is_some_and(|d| d.revoked_at.is_none()),
                None => true,
            };
            if !user_ok || !device_ok {
                return Ok::<_, StoreError>(Err("refresh_token_revoked"));
            }
            let access = st
                .auth
                .keys
                .issue(*user_id, device_id.as_deref(), Some(family), now);
            return Ok(Ok((access, token)));
        }
        match rotation {
            Rotation::Refused(code) => Ok(Err(code)),
            Rotation::Rotated { .. } => unreachable!(),
        }
    })
    .await??;
    match outcome {
        Ok((access, refresh)) => Ok(HttpResponse::Ok().json(TokenPair {
            access_token: access,
            token_type: "Bearer",
            expires_in: tokens::ACCESS_TTL_SECS,
            refresh_token: refresh,
        })),
        Err(code) => Err(ApiError::Unauthorized {
            code,
            message: match code {
                "refresh_token_reused" => "this refresh token was already used; all tokens of its login are revoked, log in again",
                "refresh_token_expired" => "the refresh token has expired; log in again",
                "refresh_token_revoked" => "the refresh token was revoked; log in again",
                _ => "not a valid refresh token",
            }
            .into(),
        }),
    }
}

/// `POST /v1/devices` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// A name the user recognises ("Li's phone"), 1 to 100 characters.
    name: String,
}

/// A device registered, with tokens bound to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceOut {
    device: DeviceRow,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// Devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicesOut {
    devices: Vec<DeviceRow>,
}

/// A device revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedOut {
    device: DeviceRow,
}

/// Register this app install: it gets its actor id (never reused) and tokens
/// bound to it, which are what `POST /v1/sync` takes.
#[utoipa::path(
    post,
    path = "/v1/devices",
    tag = "auth",
    request_body = NewDevice,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered; sync with these tokens", body = DeviceOut),
        (status = 400, description = "`invalid_name`, `malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
    ),
)]
pub async fn register_device(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewDevice>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name;
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad(
            "invalid_name",
            "a device name has 1 to 100 characters",
        ));
    }
    let st = state.clone();
    let out = web::block(move || {
        let id = uuid::Uuid::new_v4().to_string();
        let device = st
            .store
            .register_device(caller.user_id, &id, name.trim(), now_ms())?;
        let tokens = issue(&st, &st.store, caller.user_id, Some(&id))?;
        Ok::<_, StoreError>(DeviceOut { device, tokens })
    })
    .await??;
    Ok(HttpResponse::Created().json(out))
}

/// Admins see every device; others their own.
#[utoipa::path(
    get,
    path = "/v1/devices",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The devices", body = DevicesOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
    ),
)]
pub async fn list_devices(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let filter = (caller.role != Role::Admin).then_some(caller.user_id);
    let store = state.store.clone();
    let devices = web::block(move || store.devices(filter)).await??;
    Ok(HttpResponse::Ok().json(DevicesOut { devices }))
}

/// An admin cuts a device off: its tokens stop working at once; what it
/// already synced stays.
#[utoipa::path(
    post,
    path = "/v1/devices/{id}/revoke",
    tag = "auth",
    params(("id" = String, Path, description = "The device's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked", body = RevokedOut),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn revoke_device(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let store = state.store.clone();
    let device = web::block(move || store.revoke_device(&id, now_ms())).await??;
    Ok(HttpResponse::Ok().json(RevokedOut { device }))
}
