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

/// The signing key and the validation rules.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(HS256, …)")
    }
}

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        // Only HS256 is accepted: `alg: none` and tokens signed with any other
        // algorithm (algorithm confusion) fail before the signature is checked.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Keys {
            encoding: EncodingKey::from_secret(secret).expect("an HMAC key takes any bytes"),
            decoding: DecodingKey::from_secret(secret).expect("an HMAC key takes any bytes"),
            validation,
        }
    }

    /// An access token for `user` (bound to `device` if given), of the
    /// refresh family `family` (a login's; none for a token minted
    /// outside one, as tests do), valid from `now`.
    pub fn issue(&self, user: i64, device: Option<&str>, family: Option<&str>, now: i64) -> String {
        let claims = Claims {
            sub: user.to_string(),
            dev: device.map(str::to_owned),
            fam: family.map(str::to_owned),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TTL_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        self.sign(&claims)
    }

    /// Sign arbitrary claims (tests use it to forge bad tokens).
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
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

/// A random secret for signing, when none is configured.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
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
    fn refresh_tokens_are_stored_hashed() {
        let (token, hash) = new_refresh_token();
        assert_ne!(token, hash);
        assert_eq!(hash, hash_refresh_token(&token));
        assert_eq!(hash.len(), 64);
        assert_ne!(new_refresh_token().0, token);
    }
}
