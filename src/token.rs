//! Signed session tokens and CSRF tokens.
//!
//! A token binds a session id to the route it was issued for, the route's params and
//! the user id, and expires. It is what lets a WebSocket join adopt the session the
//! GET mounted, and lets a join that finds no session mount afresh from the claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
    /// The browser the token was issued to: [`browser_hash`] of its browser cookie. A
    /// POST or join must come with the cookie that hashes to it.
    pub br: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Invalid,
    Expired,
}

/// One signing secret and the id tokens name it by.
struct Key {
    id: String,
    secret: Vec<u8>,
}

impl Key {
    fn new(secret: &[u8]) -> Self {
        // The id is a short hash of the secret, so configuring a rotation needs no
        // ids: 32 bits identify a key among a few and reveal nothing usable.
        let digest = Sha256::new().chain_update(b"mizulive key id\0").chain_update(secret).finalize();
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Key { id, secret: secret.to_vec() }
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        // A domain prefix keeps a CSRF tag from ever validating as a token signature.
        mac.update(domain);
        mac.update(data);
        mac
    }
}

/// Signs tokens with the current secret and verifies them with it or, until
/// `previous_until`, with a previous one (a secret rotation in progress).
///
/// A token reads `<key id>.<claims>.<signature>` (base64url claims and signature), so
/// verifying picks its key at once instead of trying each.
pub struct Signer {
    current: Key,
    previous: Vec<Key>,
    /// Unix seconds after which the previous secrets verify nothing.
    previous_until: u64,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Signer { current: Key::new(secret), previous: Vec::new(), previous_until: 0 }
    }

    /// A signer that still accepts what `previous` secrets signed until the Unix time
    /// `until`.
    pub fn with_previous(secret: &[u8], previous: &[&[u8]], until: u64) -> Self {
        let previous = previous.iter().map(|s| Key::new(s)).collect();
        Signer { current: Key::new(secret), previous, previous_until: until }
    }

    /// The keys that verify now: the current one first.
    fn verifying(&self) -> impl Iterator<Item = &Key> {
        let previous_live = now_secs() < self.previous_until;
        std::iter::once(&self.current).chain(self.previous.iter().filter(move |_| previous_live))
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let body = serde_json::to_vec(claims).expect("claims serialize");
        let sig = self.current.mac(b"token\0", &body).finalize().into_bytes();
        format!("{}.{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.splitn(3, '.');
        let (Some(kid), Some(body), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let key = self.verifying().find(|k| k.id == kid).ok_or(TokenError::Invalid)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Invalid)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TokenError::Invalid)?;
        key.mac(b"token\0", &body).verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&body).map_err(|_| TokenError::Invalid)?;
        if claims.exp < now_secs() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The CSRF token for a session in one browser: only a page that browser loaded
    /// has it, and it is worth nothing without that browser's cookie.
    pub fn csrf(&self, sid: &str, browser: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.current.mac(b"csrf\0", &csrf_data(sid, browser)).finalize().into_bytes())
    }

    /// The value of a browser cookie for the browser id `id`: `<id>.<tag>`, the tag a
    /// MAC of the id (128 bits, base64url), so a browser cannot choose its id and a
    /// cookie made up elsewhere is worth nothing.
    pub fn browser_cookie(&self, id: &str) -> String {
        let tag = self.current.mac(b"browser\0", id.as_bytes()).finalize().into_bytes();
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(&tag[..BROWSER_TAG_BYTES]))
    }

    /// The browser id in a browser cookie's value, when we made it: `(id, current)`,
    /// `current` false when a previous secret signed it (the cookie is then re-issued).
    pub fn browser_id<'a>(&self, value: &'a str) -> Option<(&'a str, bool)> {
        let (id, tag) = value.split_once('.')?;
        if !is_random_id(id) {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != BROWSER_TAG_BYTES {
            return None;
        }
        let key = self
            .verifying()
            .position(|k| k.mac(b"browser\0", id.as_bytes()).verify_truncated_left(&tag).is_ok())?;
        Some((id, key == 0))
    }

    pub fn check_csrf(&self, sid: &str, browser: &str, csrf: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(csrf) else { return false };
        let data = csrf_data(sid, browser);
        self.verifying().any(|k| k.mac(b"csrf\0", &data).verify_slice(&tag).is_ok())
    }
}

/// Bytes of MAC a browser cookie keeps.
const BROWSER_TAG_BYTES: usize = 16;

fn csrf_data(sid: &str, browser: &str) -> Vec<u8> {
    // Neither part holds a NUL (hex and base64url), so the pair reads one way only.
    [sid.as_bytes(), b"\0", browser.as_bytes()].concat()
}

/// What a token stores of a browser cookie's value: a hash, so a token read out of a
/// page does not reveal the (HttpOnly) cookie.
pub fn browser_hash(browser_id: &str) -> String {
    let digest = Sha256::new().chain_update(b"mizulive browser\0").chain_update(browser_id).finalize();
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Whether `value` looks like an id [`random_id`] made: a cookie that does not is
/// replaced, so a browser id is always 128 random bits.
pub fn is_random_id(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Milliseconds since the Unix epoch (what timers in a snapshot are kept in).
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
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

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OLD: &[u8] = b"the previous secret, 32 bytes ok";

    fn claims(exp: u64) -> Claims {
        Claims {
            sid: "s1".into(),
            route: "/rooms/{room}".into(),
            path: "/rooms/a".into(),
            params: serde_json::json!({"room": "a"}).as_object().cloned().unwrap_or_default(),
            uid: Some("alice".into()),
            br: browser_hash("b1"),
            exp,
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let s = Signer::new(SECRET);
        let c = claims(now_secs() + 60);
        let t = s.sign(&c);
        assert_eq!(s.verify(&t), Ok(c));
        let mut bad = t.clone();
        bad.insert(12, 'x');
        assert_eq!(s.verify(&bad), Err(TokenError::Invalid));
        let other = Signer::new(b"another secret another secret 00");
        assert_eq!(other.verify(&t), Err(TokenError::Invalid));
        assert_eq!(s.verify(&s.sign(&claims(1))), Err(TokenError::Expired));
        // Without its key id, or with another key's, a token is refused.
        let (_, rest) = t.split_once('.').unwrap_or_default();
        assert_eq!(s.verify(rest), Err(TokenError::Invalid));
        let other_kid = other.sign(&claims(now_secs() + 60));
        let forged = format!("{}.{rest}", other_kid.split('.').next().unwrap_or_default());
        assert_eq!(s.verify(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn previous_secrets_verify_until_their_time_is_up() {
        let old = Signer::new(OLD);
        let c = claims(now_secs() + 60);
        let old_token = old.sign(&c);
        let old_csrf = old.csrf("s1", "b");

        let rotating = Signer::with_previous(SECRET, &[OLD], now_secs() + 60);
        assert_eq!(rotating.verify(&old_token), Ok(c.clone()));
        assert!(rotating.check_csrf("s1", "b", &old_csrf));
        // What it signs now uses the new secret, which the old signer does not know.
        let new_token = rotating.sign(&c);
        assert_ne!(new_token.split('.').next(), old_token.split('.').next());
        assert_eq!(old.verify(&new_token), Err(TokenError::Invalid));
        assert_eq!(rotating.verify(&new_token), Ok(c.clone()));

        let expired = Signer::with_previous(SECRET, &[OLD], now_secs().saturating_sub(1));
        assert_eq!(expired.verify(&old_token), Err(TokenError::Invalid));
        assert!(!expired.check_csrf("s1", "b", &old_csrf));
        assert_eq!(expired.verify(&new_token), Ok(c));
    }

    #[test]
    fn csrf_is_bound_to_session_and_browser() {
        let s = Signer::new(SECRET);
        let tag = s.csrf("a", "b1");
        assert!(s.check_csrf("a", "b1", &tag));
        assert!(!s.check_csrf("b", "b1", &tag));
        assert!(!s.check_csrf("a", "b2", &tag));
        assert!(!s.check_csrf("a", "b1", "nope"));
    }

    #[test]
    fn browser_cookies_are_signed() {
        let s = Signer::new(SECRET);
        let id = random_id();
        let value = s.browser_cookie(&id);
        assert_eq!(s.browser_id(&value), Some((id.as_str(), true)));
        // Unsigned, another id under the tag, a cut tag, another key's tag: refused.
        assert_eq!(s.browser_id(&id), None);
        let other = random_id();
        let tag = value.split_once('.').map(|(_, t)| t).unwrap_or_default();
        assert_eq!(s.browser_id(&format!("{other}.{tag}")), None);
        assert_eq!(s.browser_id(&value[..value.len() - 1]), None);
        assert_eq!(s.browser_id(&format!("{value}A")), None);
        assert_eq!(Signer::new(OLD).browser_id(&value), None);
        assert_eq!(s.browser_id(&format!("chosen.{tag}")), None);
        // Made with a previous secret: accepted while it verifies, marked not current.
        let old = Signer::new(OLD).browser_cookie(&id);
        let rotating = Signer::with_previous(SECRET, &[OLD], now_secs() + 60);
        assert_eq!(rotating.browser_id(&old), Some((id.as_str(), false)));
        assert_eq!(rotating.browser_id(&value), Some((id.as_str(), true)));
    }

    #[test]
    fn the_c_tests_browser_cookie_is_signed_with_their_secret() {
        // tests/c/abi.c and tests/c_examples.rs send this cookie to apps with this secret.
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            s.browser_cookie("0123456789abcdef0123456789abcdef"),
            "0123456789abcdef0123456789abcdef.-A697zMVFYhagKzWPEmZPw"
        );
    }

    #[test]
    fn browser_ids() {
        assert!(is_random_id(&random_id()));
        assert!(!is_random_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_random_id("short"));
        assert_ne!(browser_hash("a"), browser_hash("b"));
        assert_eq!(browser_hash("a"), browser_hash("a"));
    }
}
