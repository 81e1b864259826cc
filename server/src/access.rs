//! One access line per request, and its request id.
//!
//! Every response carries `X-Request-Id`: the caller's own, when it sent a
//! sane one (a proxy's or a device's, so one id follows the request across
//! hops), else a new one. The access line (target `gridsync::access`) gives
//! method, route, path, status, bytes, duration, user, device and the id;
//! everything logged while the request runs is in a span with the same id.

use std::net::IpAddr;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;
use ipnet::IpNet;

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

/// The client's address. The TCP peer, unless the peer is a trusted proxy
/// (`--trusted-proxy`): then the hops it forwarded (`Forwarded: for=…`, else
/// `X-Forwarded-For`) are read from the right, past every trusted one, and
/// the first untrusted hop is the client. A header from anyone else is
/// ignored, so a client cannot pick its own address; a hop that does not
/// parse stops the walk at the proxy that sent it.
///
/// ```
/// use gridsync_server::access::client_ip;
/// let proxy: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
/// let ip = |s: &str| s.parse().unwrap();
/// assert_eq!(client_ip(ip("10.0.0.5"), None, Some("203.0.113.7"), &[proxy]), ip("203.0.113.7"));
/// assert_eq!(client_ip(ip("198.51.100.9"), None, Some("203.0.113.7"), &[proxy]), ip("198.51.100.9"));
/// ```
pub fn client_ip(
    peer: IpAddr,
    forwarded: Option<&str>,
    x_forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match (forwarded, x_forwarded_for) {
        (Some(f), _) => f
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
                    })
                    .and_then(forwarded_for)
            })
            .collect(),
        (None, Some(x)) => x.split(',').map(|h| h.trim().parse().ok()).collect(),
        (None, None) => Vec::new(),
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match hop {
            Some(a) => client = *a,
            None => break,
        }
    }
    client
}

/// The address of a `Forwarded` `for=` value: `192.0.2.60`,
/// `"192.0.2.60:4711"`, `"[2001:db8::1]:4711"` (an obfuscated or `unknown`
/// node: none).
fn forwarded_for(v: &str) -> Option<IpAddr> {
    let v = v.trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    v.parse()
        .ok()
        .or_else(|| v.rsplit_once(':').and_then(|(a, _)| a.parse().ok()))
}

/// The client's address of a request, as [`client_ip`] decides.
pub fn client_address(req: &actix_web::HttpRequest, trusted: &[IpNet]) -> String {
    let Some(peer) = req.peer_addr() else {
        return "unknown".to_owned();
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    client_ip(
        peer.ip(),
        header("forwarded"),
        header("x-forwarded-for"),
        trusted,
    )
    .to_string()
}

/// A `--trusted-proxy` value: a network (`10.0.0.0/8`) or one address.
pub fn parse_trusted(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("--trusted-proxy: `{s}` is not an address or a network (CIDR)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses() {
        let nets: Vec<IpNet> = ["10.0.0.0/8", "::1/128"]
            .iter()
            .map(|s| parse_trusted(s).unwrap())
            .collect();
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        // (peer, Forwarded, X-Forwarded-For) → client
        let cases: [(&str, Option<&str>, Option<&str>, &str); 12] = [
            ("203.0.113.7", None, None, "203.0.113.7"),
            // Not a trusted peer: its headers are its own claims.
            ("203.0.113.7", None, Some("1.2.3.4"), "203.0.113.7"),
            ("203.0.113.7", Some("for=1.2.3.4"), None, "203.0.113.7"),
            // A trusted proxy: the hop it saw.
            ("10.0.0.5", None, Some("198.51.100.9"), "198.51.100.9"),
            ("10.0.0.5", None, None, "10.0.0.5"),
            // A forged hop in front of the real one is never reached.
            (
                "10.0.0.5",
                None,
                Some("1.2.3.4, 198.51.100.9"),
                "198.51.100.9",
            ),
            // Two trusted proxies in a row.
            (
                "10.0.0.5",
                None,
                Some("198.51.100.9, 10.0.0.9"),
                "198.51.100.9",
            ),
            (
                "10.0.0.5",
                Some("for=198.51.100.9;proto=https"),
                Some("1.1.1.1"),
                "198.51.100.9",
            ),
            (
                "10.0.0.5",
                Some(r#"for="[2001:db8::1]:4711""#),
                None,
                "2001:db8::1",
            ),
            (
                "10.0.0.5",
                Some(r#"for="198.51.100.9:4711", for=10.0.0.9"#),
                None,
                "198.51.100.9",
            ),
            // What does not parse stops at the proxy.
            ("10.0.0.5", Some("for=unknown"), None, "10.0.0.5"),
            ("::1", None, Some("garbage"), "::1"),
        ];
        for (peer, fwd, xff, want) in cases {
            assert_eq!(
                client_ip(ip(peer), fwd, xff, &nets),
                ip(want),
                "{peer} {fwd:?} {xff:?}"
            );
        }
        assert_eq!(
            parse_trusted("127.0.0.1").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert!(parse_trusted("10.0.0.0/33").is_err());
        assert!(parse_trusted("proxy.local").is_err());
    }

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
