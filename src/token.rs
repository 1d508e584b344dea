//! Signed session tokens and CSRF tokens.
//!
//! A token binds a session id to the route it was issued for, the route's params and
//! the user id, and expires. It is what lets a WebSocket join adopt the session the
//! GET mounted, and lets a join that finds no session mount afresh from the claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

/// What a token says about its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Session id.
    pub sid: String,
    /// Route pattern the session belongs to, e.g. `/rooms/{room}`.
    pub route: String,
    /// The concrete path, e.g. `/rooms/lobby`.
    pub path: String,
    /// Route params captured from the path.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// User id from the auth hook, if any.
    pub uid: Option<String>,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Invalid,
    Expired,
}

/// Signs and verifies tokens with one secret.
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Signer { key: secret.to_vec() }
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        // A domain prefix keeps a CSRF tag from ever validating as a token signature.
        mac.update(domain);
        mac.update(data);
        mac
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let body = serde_json::to_vec(claims).expect("claims serialize");
        let sig = self.mac(b"token\0", &body).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let (body, sig) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Invalid)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TokenError::Invalid)?;
        self.mac(b"token\0", &body).verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&body).map_err(|_| TokenError::Invalid)?;
        if claims.exp < now_secs() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The CSRF token for a session: only someone who could read the page has it.
    pub fn csrf(&self, sid: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"csrf\0", sid.as_bytes()).finalize().into_bytes())
    }

    pub fn check_csrf(&self, sid: &str, csrf: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(csrf) {
            Ok(tag) => self.mac(b"csrf\0", sid.as_bytes()).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// 128 random bits as 32 hex characters.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn fill_random(buf: &mut [u8]) {
    // The OS generator failing leaves nothing safe to sign with; there is no fallback.
    getrandom::fill(buf).expect("the OS random number generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sid: "s1".into(),
            route: "/rooms/{room}".into(),
            path: "/rooms/a".into(),
            params: serde_json::json!({"room": "a"}).as_object().cloned().unwrap_or_default(),
            uid: Some("alice".into()),
            exp,
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let c = claims(now_secs() + 60);
        let t = s.sign(&c);
        assert_eq!(s.verify(&t), Ok(c));
        let mut bad = t.clone();
        bad.insert(3, 'x');
        assert_eq!(s.verify(&bad), Err(TokenError::Invalid));
        let other = Signer::new(b"another secret another secret 00");
        assert_eq!(other.verify(&t), Err(TokenError::Invalid));
        assert_eq!(s.verify(&s.sign(&claims(1))), Err(TokenError::Expired));
    }

    #[test]
    fn csrf_is_bound_to_session() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let tag = s.csrf("a");
        assert!(s.check_csrf("a", &tag));
        assert!(!s.check_csrf("b", &tag));
        assert!(!s.check_csrf("a", "nope"));
    }
}
