//! Browser sessions of the desk: the access token rides in a cookie the
//! page's scripts cannot read (HttpOnly, SameSite=Strict, Secure under TLS),
//! and every write carries a CSRF token the page got when it signed in.
//!
//! The session is one login (a refresh family, as a phone's login is):
//! signing out revokes the family, so its cookie is refused from the next
//! request on. The cookie's token lives [`IDLE_SECS`]; the desk renews it
//! while its user works (`GET /v1/auth/session`), so a desk left alone for
//! that long is signed out.
//!
//! The CSRF token is derived from the family, a random UUID that only the
//! cookie's (unreadable) token holds, so another origin can neither read
//! nor forge it, and the server keeps nothing per session to check it.

use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "gridsync_session";
/// The header a write carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session left alone this long is over (30 minutes).
pub const IDLE_SECS: i64 = 30 * 60;

/// The CSRF token of the session (login family) `family`.
///
/// ```
/// use gridsync_server::auth::session::csrf_token;
/// let a = csrf_token("0b7d4f7c-2f6e-4e43-9d36-4b3f0f1c2a11");
/// assert_eq!(a.len(), 64);
/// assert_eq!(a, csrf_token("0b7d4f7c-2f6e-4e43-9d36-4b3f0f1c2a11"));
/// assert_ne!(a, csrf_token("another login"));
/// ```
pub fn csrf_token(family: &str) -> String {
    hex::encode(Sha256::digest(format!("gridsync csrf v1:{family}")))
}

/// What a cookie-authenticated request shows of where it came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The `Origin` header, if sent.
    pub origin: Option<&'a str>,
    /// The `Sec-Fetch-Site` header, if sent.
    pub fetch_site: Option<&'a str>,
    /// The `Host` the request was sent to.
    pub host: &'a str,
    /// The CSRF header, if sent.
    pub csrf: Option<&'a str>,
}

/// Why a cookie-authenticated request is refused as a possible cross-site
/// forgery (`csrf_failed`), or `None` when it may go on. Reads are allowed
/// (they change nothing and their answers go to the page that asked, which
/// a browser keeps from other origins); every other method must come from
/// this origin and carry the session's token.
pub fn csrf_refusal(req: &Origin<'_>, family: &str) -> Option<&'static str> {
    if matches!(req.method, "GET" | "HEAD" | "OPTIONS") {
        return None;
    }
    if req.fetch_site.is_some_and(|s| s != "same-origin") {
        return Some("the request came from another site");
    }
    if let Some(origin) = req.origin {
        let host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if !host.eq_ignore_ascii_case(req.host) {
            return Some("the request came from another origin");
        }
    }
    let want = csrf_token(family);
    match req.csrf {
        None => Some("send the session's CSRF token in X-CSRF-Token"),
        Some(t) if !bool::from(subtle::ConstantTimeEq::ct_eq(t.as_bytes(), want.as_bytes())) => {
            Some("the CSRF token is not this session's")
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_need_this_origin_and_this_sessions_token() {
        let fam = "f-1";
        let good = csrf_token(fam);
        let other = csrf_token("f-2");
        let base = Origin {
            method: "POST",
            origin: Some("http://desk.example:8080"),
            fetch_site: Some("same-origin"),
            host: "desk.example:8080",
            csrf: Some(&good),
        };
        let table: &[(&str, Origin<'_>, bool)] = &[
            ("a same-origin write with the token", base, true),
            (
                "a read needs no token",
                Origin {
                    method: "GET",
                    csrf: None,
                    origin: Some("http://evil.example"),
                    ..base
                },
                true,
            ),
            ("no token", Origin { csrf: None, ..base }, false),
            (
                "another session's token",
                Origin {
                    csrf: Some(&other),
                    ..base
                },
                false,
            ),
            (
                "another origin, same site (another port)",
                Origin {
                    origin: Some("http://desk.example:9090"),
                    fetch_site: Some("same-site"),
                    ..base
                },
                false,
            ),
            (
                "another origin, no fetch metadata",
                Origin {
                    origin: Some("https://evil.example"),
                    fetch_site: None,
                    ..base
                },
                false,
            ),
            (
                "an old browser: no Origin, no fetch metadata, the token",
                Origin {
                    origin: None,
                    fetch_site: None,
                    ..base
                },
                true,
            ),
            (
                "a DELETE is a write",
                Origin {
                    method: "DELETE",
                    csrf: None,
                    ..base
                },
                false,
            ),
        ];
        for (what, req, allowed) in table {
            assert_eq!(csrf_refusal(req, fam).is_none(), *allowed, "{what}");
        }
    }
}
