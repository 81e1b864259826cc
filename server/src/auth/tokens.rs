//! Access tokens (JWT, HS256 pinned, issuer and audience checked) and
//! refresh tokens (random, stored hashed, rotated on use).

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "gridsync";
pub const AUDIENCE: &str = "gridsync-api";
/// Access tokens live minutes.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Refresh tokens live long: phones stay offline for weeks.
pub const REFRESH_TTL_SECS: i64 = 60 * 24 * 3600;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The device (app install) the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// The refresh family (one login) the token was issued in: a revoked
    /// family's access tokens are refused at once, not at their expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a token was refused (all 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token is not a valid gridsync token: {0}")]
    Invalid(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::WrongAudience => "token_wrong_audience",
            TokenError::WrongIssuer => "token_wrong_issuer",
            TokenError::Invalid(_) => "invalid_token",
        }
    }
}

/// One signing key: its id (the `kid` of the tokens it signs) and secret.
#[derive(Clone)]
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The keys and the validation rules. The first key signs; every key
/// verifies the tokens that name it (`kid`), so a new key can be added
/// while the old one's tokens run out, and the old one dropped after.
#[derive(Clone)]
pub struct Keys {
    keys: Vec<Key>,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        write!(f, "Keys(HS256, kids {kids:?})")
    }
}

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why keys could not be made (said with where they came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

impl Keys {
    /// One key, its id derived from the secret (so every node given the
    /// same secret names it alike). Any bytes: see [`Keys::from_secret`].
    pub fn new(secret: &[u8]) -> Keys {
        Keys::with(vec![(fingerprint(secret), secret.to_vec())])
    }

    /// One key from a configured secret of at least 32 bytes.
    pub fn from_secret(secret: &str) -> Result<Keys, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError(format!(
                "the signing secret must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(Keys::new(secret.as_bytes()))
    }

    /// Keys from a key file's text: one key a line, `KID SECRET`; blank
    /// lines and `#` comments are skipped. The first key signs.
    pub fn from_file_text(text: &str) -> Result<Keys, KeyError> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |why: String| KeyError(format!("line {}: {why}", n + 1));
            let (kid, secret) = line
                .split_once(char::is_whitespace)
                .map(|(k, s)| (k, s.trim()))
                .ok_or_else(|| at("write `KID SECRET`".into()))?;
            if secret.len() < MIN_SECRET_BYTES {
                return Err(at(format!(
                    "the secret of `{kid}` is shorter than {MIN_SECRET_BYTES} bytes"
                )));
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(at(format!("the key id `{kid}` is there twice")));
            }
            keys.push((kid.to_owned(), secret.as_bytes().to_vec()));
        }
        if keys.is_empty() {
            return Err(KeyError("no key in the file".into()));
        }
        Ok(Keys::with(keys))
    }

    fn with(keys: Vec<(String, Vec<u8>)>) -> Keys {
        // Only HS256 is accepted: `alg: none` and tokens signed with any other
        // algorithm (algorithm confusion) fail before the signature is checked.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let keys = keys
            .into_iter()
            .map(|(kid, secret)| Key {
                kid,
                encoding: EncodingKey::from_secret(&secret).expect("an HMAC key takes any bytes"),
                decoding: DecodingKey::from_secret(&secret).expect("an HMAC key takes any bytes"),
            })
            .collect();
        Keys { keys, validation }
    }

    /// The id of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// The ids of every key that verifies, the signing key first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// An access token for `user` (bound to `device` if given), of the
    /// refresh family `family` (a login's; none for a token minted
    /// outside one, as tests do), valid from `now`.
    pub fn issue(&self, user: i64, device: Option<&str>, family: Option<&str>, now: i64) -> String {
        self.issue_for(user, device, family, now, ACCESS_TTL_SECS)
    }

    /// [`Keys::issue`], living `ttl` seconds (a desk session's cookie).
    pub fn issue_for(
        &self,
        user: i64,
        device: Option<&str>,
        family: Option<&str>,
        now: i64,
        ttl: i64,
    ) -> String {
        let claims = Claims {
            sub: user.to_string(),
            dev: device.map(str::to_owned),
            fam: family.map(str::to_owned),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        self.sign(&claims)
    }

    /// Sign arbitrary claims (tests use it to forge bad tokens).
    pub fn sign(&self, claims: &Claims) -> String {
        let key = &self.keys[0];
        let header = Header {
            kid: Some(key.kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("HS256 signing cannot fail")
    }

    /// The token's claims, if one of the keys signed it: the key its `kid`
    /// names (a token without one: the signing key).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let key = match &header.kid {
            None => &self.keys[0],
            Some(kid) => self.keys.iter().find(|k| &k.kid == kid).ok_or_else(|| {
                TokenError::Invalid(format!(
                    "signed with the key `{kid}`, which this server no longer trusts"
                ))
            })?,
        };
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                _ => TokenError::Invalid(e.to_string()),
            })
    }
}

/// A new refresh token and the hash to store.
pub fn new_refresh_token() -> (String, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// What is stored of a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key line for a key file: `KID SECRET`, the id from `today`
/// (`YYYY-MM-DD`) and a random tail, the secret 32 random bytes in base64.
pub fn new_key_line(today: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut tail = [0u8; 3];
    rand::rngs::OsRng.fill_bytes(&mut tail);
    let tail: String = tail.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{today}-{tail} {}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The key id of a bare secret: the start of its SHA-256.
fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        crate::api::now_ms() / 1000
    }

    #[test]
    fn a_token_round_trips_and_binds_its_device() {
        let k = Keys::new(b"0123456789abcdef0123456789abcdef");
        let t = k.issue(7, Some("dev-1"), Some("fam-1"), now());
        let c = k.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.dev.as_deref()), ("7", Some("dev-1")));
    }

    #[test]
    fn a_token_names_its_key_and_only_a_key_still_trusted_verifies_it() {
        let line = |kid: &str| format!("{kid} {}", "k".repeat(32) + kid);
        let old = Keys::from_file_text(&line("old")).unwrap();
        let t = old.issue(7, None, None, now());
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.kid.as_deref(), Some("old"));
        // The rotation: the new key added (after: it verifies only), then
        // made the signing key (first), then the old one dropped.
        let steps = [
            (format!("{}\n{}", line("old"), line("new")), "old", true),
            (
                format!("# rotated\n{}\n\n{}", line("new"), line("old")),
                "new",
                true,
            ),
            (line("new"), "new", false),
        ];
        for (text, signs, old_verifies) in steps {
            let keys = Keys::from_file_text(&text).unwrap();
            assert_eq!(keys.signing_kid(), signs);
            assert_eq!(keys.verify(&t).is_ok(), old_verifies, "{text}");
            let fresh = keys.issue(8, None, None, now());
            assert_eq!(keys.verify(&fresh).unwrap().sub, "8");
        }
        // A key of the same name with another secret is another key.
        let forged = Keys::from_file_text(&format!("old {}", "x".repeat(40))).unwrap();
        assert!(forged.verify(&t).is_err());
    }

    #[test]
    fn key_files_say_which_line_is_wrong() {
        let ok = "k".repeat(32);
        let cases = [
            ("".to_owned(), "no key"),
            ("# only a comment".to_owned(), "no key"),
            ("lonely".to_owned(), "line 1: write `KID SECRET`"),
            ("a short".to_owned(), "line 1: the secret of `a` is shorter"),
            (
                format!("a {ok}\na {ok}"),
                "line 2: the key id `a` is there twice",
            ),
        ];
        for (text, says) in cases {
            let e = Keys::from_file_text(&text).unwrap_err().0;
            assert!(e.contains(says), "{text:?}: {e}");
        }
        assert!(Keys::from_secret("short").is_err());
        let line = new_key_line("2026-11-30");
        let keys = Keys::from_file_text(&line).unwrap();
        assert!(keys.signing_kid().starts_with("2026-11-30-"));
        assert_ne!(new_key_line("2026-11-30"), line);
    }

    #[test]
    fn refresh_tokens_are_stored_hashed() {
        let (token, hash) = new_refresh_token();
        assert_ne!(token, hash);
        assert_eq!(hash, hash_refresh_token(&token));
        assert_eq!(hash.len(), 64);
        assert_ne!(new_refresh_token().0, token);
    }
}
