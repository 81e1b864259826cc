//! One access line per request, and its request id.
//!
//! Every response carries `X-Request-Id`: the caller's own, when it sent a
//! sane one (a proxy's or a device's, so one id follows the request across
//! hops), else a new one. The access line (target `gridsync::access`) gives
//! method, route, path, status, bytes, duration, user, device and the id;
//! everything logged while the request runs is in a span with the same id.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Who made a request, as the `Caller` extractor found (set in the
/// request's extensions once a token is verified).
#[derive(Debug, Clone)]
pub struct Who {
    pub user: String,
    pub device: Option<String>,
}

/// The id of a request: the caller's, if it is 1 to 64 characters of
/// letters, digits, `-`, `_`, `.`, `:`; else a new random one.
///
/// ```
/// use actix_web::http::header::HeaderValue;
/// use gridsync_server::access::request_id;
/// assert_eq!(request_id(Some(&HeaderValue::from_static("lb-42"))), "lb-42");
/// assert_eq!(request_id(Some(&HeaderValue::from_static("a b"))).len(), 32);
/// ```
pub fn request_id(sent: Option<&HeaderValue>) -> String {
    sent.and_then(|v| v.to_str().ok())
        .filter(|s| {
            (1..=64).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Note who the caller is, for the access line.
pub fn note_caller(req: &actix_web::HttpRequest, user: &str, device: Option<&str>) {
    req.extensions_mut().insert(Who {
        user: user.to_owned(),
        device: device.map(str::to_owned),
    });
}

/// The response's body size, when known (streams: none).
pub fn body_bytes(size: actix_web::body::BodySize) -> Option<u64> {
    match size {
        actix_web::body::BodySize::Sized(n) => Some(n),
        actix_web::body::BodySize::None => Some(0),
        actix_web::body::BodySize::Stream => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        let v = |s: &'static str| Some(HeaderValue::from_static(s));
        for (sent, kept) in [
            (v("lb-42"), true),
            (v("0af7651916cd43dd8448eb211c80319c"), true),
            (v("req_1.2:3"), true),
            (v(""), false),
            (v("a b"), false),
            (None, false),
        ] {
            let id = request_id(sent.as_ref());
            if kept {
                assert_eq!(
                    Some(id.as_str()),
                    sent.as_ref().and_then(|s| s.to_str().ok())
                );
            } else {
                assert_eq!(id.len(), 32, "{sent:?}");
                assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
            }
        }
        let long = HeaderValue::from_str(&"a".repeat(65)).unwrap();
        assert_eq!(request_id(Some(&long)).len(), 32);
        let two = (request_id(None), request_id(None));
        assert_ne!(two.0, two.1);
    }
}
