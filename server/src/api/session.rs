//! The desk's browser sessions (docs/ACCESS.md, "Desk sessions"): sign in
//! to a cookie, renew it while working, sign out.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{authenticate, SignedIn};
use super::json::Json;
use super::schemas::ErrorBody;
use super::{now_ms, AppState};
use crate::auth::session::{csrf_token, COOKIE, IDLE_SECS};
use crate::auth::tokens::{self, REFRESH_TTL_SECS};
use crate::auth::Caller;
use crate::db::models::{RefreshRow, UserRow};
use crate::error::ApiError;
use crate::store::StoreError;

/// `POST /v1/auth/session` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionLogin {
    username: String,
    password: String,
}

/// A desk session: who, and the token every write must carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    user: SignedIn,
    /// Send it as `X-CSRF-Token` with every request that is not a read.
    csrf_token: String,
    /// The session ends after this many seconds without a renewal
    /// (`GET /v1/auth/session`).
    idle_seconds: i64,
}

/// The session cookie holding `token`: HttpOnly, SameSite=Strict, Secure
/// when the desk is served over HTTPS, for the idle time (0: clear it).
fn cookie(req: &HttpRequest, token: &str, max_age: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(Duration::seconds(max_age))
        .finish()
}

/// The answer that starts or renews the session `family` of `user`: a
/// cookie good for another idle period, who, and the CSRF token.
fn session_answer(
    state: &AppState,
    req: &HttpRequest,
    user: UserRow,
    family: &str,
) -> HttpResponse {
    let token = state
        .auth
        .keys
        .issue_for(user.id, None, Some(family), now_ms() / 1000, IDLE_SECS);
    HttpResponse::Ok()
        .cookie(cookie(req, &token, IDLE_SECS))
        .json(SessionOut {
            user: SignedIn::from(user),
            csrf_token: csrf_token(family),
            idle_seconds: IDLE_SECS,
        })
}

/// Sign in to the desk: a session cookie and its CSRF token.
#[utoipa::path(
    post,
    path = "/v1/auth/session",
    tag = "auth",
    request_body = SessionLogin,
    responses(
        (status = 200, description = "Signed in; the cookie `gridsync_session` is set", body = SessionOut),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed logins", body = ErrorBody),
    ),
)]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SessionLogin>,
) -> Result<HttpResponse, ApiError> {
    let SessionLogin { username, password } = body.into_inner();
    let user = authenticate(&state, &req, username, password).await?;
    let st = state.clone();
    let user_id = user.id;
    let family = web::block(move || {
        let now = now_ms() / 1000;
        let (_, hash) = tokens::new_refresh_token();
        let family = uuid::Uuid::new_v4().to_string();
        // The login's family: what sign-out revokes. Its refresh token is
        // never handed out: a session is renewed by its cookie alone.
        st.store.insert_refresh(&RefreshRow {
            hash,
            family: family.clone(),
            user_id,
            device_id: None,
            issued_at: now,
            expires_at: now + REFRESH_TTL_SECS,
            used_at: None,
            revoked_at: None,
        })?;
        Ok::<_, StoreError>(family)
    })
    .await??;
    Ok(session_answer(&state, &req, user, &family))
}

/// Who this session is, renewed for another idle period.
#[utoipa::path(
    get,
    path = "/v1/auth/session",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session, renewed (a new cookie)", body = SessionOut),
        (status = 401, description = "`missing_token`, `token_expired` (idle too long), \
            `token_revoked` (signed out), `user_disabled`", body = ErrorBody),
        (status = 400, description = "`not_a_session`: a bearer token is not a desk session", body = ErrorBody),
    ),
)]
pub async fn current(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let family = caller.session.clone().ok_or_else(|| {
        ApiError::bad(
            "not_a_session",
            "sign in with POST /v1/auth/session to hold a desk session",
        )
    })?;
    let store = state.store.clone();
    let id = caller.user_id;
    let user = web::block(move || store.user(id))
        .await??
        .ok_or_else(|| ApiError::NotFound {
            what: format!("user {id}"),
        })?;
    Ok(session_answer(&state, &req, user, &family))
}

/// Sign out: the session's cookie is refused from now on, and cleared.
#[utoipa::path(
    delete,
    path = "/v1/auth/session",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "`csrf_failed`", body = ErrorBody),
    ),
)]
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    if let Some(family) = caller.session.clone() {
        let store = state.store.clone();
        web::block(move || store.revoke_family(&family, now_ms() / 1000)).await??;
    }
    Ok(HttpResponse::NoContent()
        .cookie(cookie(&req, "", 0))
        .finish())
}
