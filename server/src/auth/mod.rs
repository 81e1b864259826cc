//! Identity and access: who the caller is ([`Caller`], from a bearer token),
//! what they may reach ([`policy`]), tokens and passwords.

pub mod keys;
pub mod password;
pub mod policy;
pub mod session;
pub mod tokens;

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use self::policy::{OrgTree, Role, Scope};
use self::tokens::{Keys, TokenError};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// Failed logins allowed per minute, per account and per address; past
/// them, the account (or address) waits until the limiter lets it in again.
const FAILURES_PER_ACCOUNT: u32 = 5;
const FAILURES_PER_ADDRESS: u32 = 20;

/// Signing keys and login throttles, shared by the workers of one process.
pub struct Auth {
    pub keys: Keys,
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<String>,
    /// Keys (account or address) locked out, until when.
    locked: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Password hashes computed at once. Each argon2 hash takes 19 MiB and
    /// a core's worth of time: a morning of logins at once must neither
    /// oversubscribe the cores nor grow the heap by 19 MiB per waiting thread.
    hashing: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(keys: Keys) -> Auth {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).expect("non-zero"));
        Auth {
            keys,
            per_account: RateLimiter::keyed(per_minute(FAILURES_PER_ACCOUNT)),
            per_address: RateLimiter::keyed(per_minute(FAILURES_PER_ADDRESS)),
            locked: std::sync::Mutex::new(std::collections::HashMap::new()),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        }
    }

    /// Wait for a turn to hash or verify a password; hold the permit until
    /// the hashing is done.
    pub async fn hashing_turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.hashing
            .acquire()
            .await
            .expect("the hashing semaphore is never closed")
    }

    /// Refuse a login attempt while this account is locked out from this
    /// address, or this address is locked out: the owner of an account
    /// that an attacker hammers from elsewhere still logs in.
    pub fn allow_login(&self, username: &str, address: &str) -> Result<(), ApiError> {
        let now = std::time::Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        locked.retain(|_, until| *until > now);
        let until = [account_key(username, address), format!("address:{address}")]
            .iter()
            .filter_map(|k| locked.get(k).copied())
            .max();
        match until {
            Some(until) => Err(ApiError::TooManyRequests {
                message: "too many failed logins; wait and try again (Retry-After)".into(),
                retry_after: (until - now).as_secs_f64().ceil() as u64,
            }),
            None => Ok(()),
        }
    }

    /// Count a failed login; too many lock the account from this address,
    /// or the address.
    pub fn login_failed(&self, username: &str, address: &str) {
        let clock = governor::clock::DefaultClock::default();
        let lock = |key: String, until: Option<std::time::Instant>| {
            if let Some(until) = until {
                self.locked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, until);
            }
        };
        let account = account_key(username, address);
        if let Err(not_until) = self.per_account.check_key(&account) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&clock));
            lock(account, std::time::Instant::now().checked_add(wait));
        }
        if let Err(not_until) = self.per_address.check_key(&address.to_owned()) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&clock));
            lock(
                format!("address:{address}"),
                std::time::Instant::now().checked_add(wait),
            );
        }
    }
}

/// The lockout key of an account tried from an address.
fn account_key(username: &str, address: &str) -> String {
    format!("account:{}@{address}", username.to_lowercase())
}

/// The device a token is bound to.
#[derive(Debug, Clone)]
pub struct CallerDevice {
    pub id: String,
    pub actor: u32,
}

/// The authenticated caller of a request, as the store knows them now: a
/// user moved or disabled, or a device revoked, counts from the next request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub node: String,
    pub device: Option<CallerDevice>,
    pub address: Option<String>,
    /// Signed in through a desk session (the cookie): its login family.
    pub session: Option<String>,
}

impl Caller {
    /// The caller's reach, from the current org tree (call inside `web::block`).
    pub fn scope(&self, store: &Store) -> Result<Scope, StoreError> {
        Ok(Scope::new(&load_tree(store)?, self.role, &self.node))
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "forbidden",
                message: format!("a {} may not do this", self.role.as_str()),
            })
        }
    }
}

/// The org tree, from the store.
pub fn load_tree(store: &Store) -> Result<OrgTree, StoreError> {
    Ok(OrgTree::new(store.org_tree()?.into_iter().filter_map(
        |n| {
            let level = policy::NodeLevel::parse(&n.level)?;
            Some((n.code, n.parent, level))
        },
    )))
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::Unauthorized {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::Unauthorized {
        code,
        message: message.to_owned(),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let address = req
            .app_data::<web::Data<AppState>>()
            .map(|st| crate::access::client_address(req, &st.limits.trusted_proxies));
        // A desk session's cookie stands in for the header; a write with
        // it must prove it comes from the desk's own page.
        let cookie = match header {
            Some(_) => None,
            None => req.cookie(session::COOKIE).map(|c| c.value().to_owned()),
        };
        let h = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let sent = (
            req.method().as_str().to_owned(),
            h("origin"),
            h("sec-fetch-site"),
            req.connection_info().host().to_owned(),
            h(session::CSRF_HEADER),
        );
        let forgery = move |family: &str| {
            session::csrf_refusal(
                &session::Origin {
                    method: &sent.0,
                    origin: sent.1.as_deref(),
                    fetch_site: sent.2.as_deref(),
                    host: &sent.3,
                    csrf: sent.4.as_deref(),
                },
                family,
            )
        };
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let (claims, session) = match (header, cookie) {
                (Some(header), _) => {
                    let token = header.strip_prefix("Bearer ").ok_or_else(|| {
                        unauthorized("missing_token", "send Authorization: Bearer <access token>")
                    })?;
                    (state.auth.keys.verify(token.trim())?, None)
                }
                (None, Some(cookie)) => {
                    let claims = state.auth.keys.verify(cookie.trim())?;
                    let family = match (&claims.fam, &claims.dev) {
                        (Some(f), None) => f.clone(),
                        _ => {
                            return Err(unauthorized(
                                "invalid_token",
                                "a session cookie holds a desk session's token",
                            ))
                        }
                    };
                    if let Some(why) = forgery(&family) {
                        return Err(ApiError::Forbidden {
                            code: "csrf_failed",
                            message: why.into(),
                        });
                    }
                    (claims, Some(family))
                }
                (None, None) => {
                    return Err(unauthorized(
                        "missing_token",
                        "send Authorization: Bearer <access token>",
                    ))
                }
            };
            let user_id: i64 = claims
                .sub
                .parse()
                .map_err(|_| unauthorized("invalid_token", "the token names no user"))?;
            let store = state.store.clone();
            let device_id = claims.dev.clone();
            let family = claims.fam.clone();
            let (user, device, revoked) = web::block(move || {
                let user = store.user(user_id)?;
                let device = match &device_id {
                    Some(d) => store.device(d)?,
                    None => None,
                };
                let revoked = match &family {
                    Some(f) => store.family_revoked(f)?,
                    None => false,
                };
                Ok::<_, StoreError>((user, device, revoked))
            })
            .await??;
            let user = user
                .ok_or_else(|| unauthorized("invalid_token", "the token's user does not exist"))?;
            if user.disabled {
                return Err(unauthorized("user_disabled", "this account is disabled"));
            }
            let device = match (claims.dev, device) {
                (None, _) => None,
                (Some(_), None) => {
                    return Err(unauthorized(
                        "invalid_token",
                        "the token's device does not exist",
                    ))
                }
                (Some(_), Some(d)) if d.user_id != user.id => {
                    return Err(unauthorized(
                        "invalid_token",
                        "the token's device belongs to another user",
                    ))
                }
                (Some(_), Some(d)) if d.revoked_at.is_some() => {
                    return Err(unauthorized(
                        "device_revoked",
                        "this device has been revoked",
                    ))
                }
                (Some(_), Some(d)) => Some(CallerDevice {
                    id: d.id,
                    actor: u32::try_from(d.actor)
                        .map_err(|_| ApiError::Internal("actor out of range".into()))?,
                }),
            };
            // After the user's and the device's own codes: revoking a device
            // revokes its logins too.
            if revoked {
                return Err(unauthorized(
                    "token_revoked",
                    "this login was revoked (its refresh token was used twice): log in again",
                ));
            }
            let role = Role::parse(&user.role)
                .ok_or_else(|| ApiError::Internal(format!("stored role `{}`", user.role)))?;
            crate::access::note_caller(
                &req,
                &user.username,
                device.as_ref().map(|d| d.id.as_str()),
            );
            Ok(Caller {
                user_id: user.id,
                username: user.username,
                role,
                node: user.node,
                device,
                address,
                session,
            })
        })
    }
}
