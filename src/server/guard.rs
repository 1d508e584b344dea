//! What a request shows before it reaches a session: which browser sent it (the
//! browser cookie), which site it comes from (`Origin`), and who it is (the auth hook).
//!
//! A session token is bound to the browser it was issued to: the page GET gives the
//! browser a random id in an HttpOnly cookie and puts a hash of that id in the token's
//! claims. A form POST, the resume GET after it and a WebSocket join must come with
//! the same cookie, so a token copied out of one browser is worth nothing in another,
//! and a cross-site form cannot plant a session. docs/protocol.md, "Browser binding".

use cookie::{Cookie, SameSite};
use hyper::header::{self, HeaderMap};
use hyper::Method;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::app::{AuthDecision, RequestInfo, Shared};
use crate::browser::BrowserSession;
use crate::host::{Lane, Refused};
use crate::options::Options;
use crate::token::{browser_hash, random_id, Signer};

/// The browser cookie over plain HTTP.
const BROWSER_COOKIE: &str = "lv_bid";
/// The browser cookie over HTTPS: the `__Host-` prefix makes the browser refuse it
/// unless it is `Secure`, has `Path=/` and no `Domain`, so a sibling subdomain cannot
/// set it for this host.
const BROWSER_COOKIE_SECURE: &str = "__Host-lv_bid";

/// How long the browser session store may take to answer for the auth hook.
const BROWSER_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the browser reached the site over HTTPS. The server itself speaks plain
/// HTTP, so this is what the options say: `X-Forwarded-Proto` when the proxy is
/// trusted to set it, else `secure_cookies`.
pub(crate) fn is_secure(opts: &Options, headers: &HeaderMap) -> bool {
    if opts.trust_forwarded_proto {
        let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
        // A chain of proxies appends: the first value is the one the browser used.
        if let Some(proto) = forwarded.and_then(|v| v.split(',').next()) {
            return proto.trim().eq_ignore_ascii_case("https");
        }
    }
    opts.secure_cookies
}

/// The value of the cookie `name`, from every `Cookie` header of the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers).find(|c| c.name() == name).map(|c| c.value().to_string())
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'static>> + '_ {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()).filter_map(Result::ok))
}

fn browser_cookie_name(secure: bool) -> &'static str {
    if secure {
        BROWSER_COOKIE_SECURE
    } else {
        BROWSER_COOKIE
    }
}

/// The hash of the request's browser id (what token claims hold), if it has a
/// browser cookie we signed.
pub(crate) fn browser_of(opts: &Options, signer: &Signer, headers: &HeaderMap) -> Option<String> {
    let value = cookie(headers, browser_cookie_name(is_secure(opts, headers)))?;
    signer.browser_id(&value).map(|(id, _)| browser_hash(id))
}

/// The request's browser (the hash of its id) for a page GET, and the `Set-Cookie`
/// that gives it one when it has none yet, or one we did not sign (made up, or
/// signed with a secret no longer in use): a fresh id then, so nothing kept for
/// another browser is reached. A cookie signed with a previous secret still in
/// use keeps its id and is signed again with the current one.
pub(crate) fn browser_for_page(
    opts: &Options,
    signer: &Signer,
    headers: &HeaderMap,
) -> (String, Option<String>) {
    let secure = is_secure(opts, headers);
    let known = cookie(headers, browser_cookie_name(secure))
        .and_then(|value| signer.browser_id(&value).map(|(id, current)| (id.to_string(), current)));
    let id = match known {
        Some((id, true)) => return (browser_hash(&id), None),
        Some((id, false)) => id,
        None => random_id(),
    };
    // A session cookie: it lives as long as the browser, tokens at most token_ttl_s.
    let cookie = Cookie::build((browser_cookie_name(secure), signer.browser_cookie(&id)))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    (browser_hash(&id), Some(cookie.to_string()))
}

/// `Origin` names this site (scheme, host and port, as the browser reached it) or one
/// of `allowed_origins`.
pub(crate) fn origin_allowed(opts: &Options, headers: &HeaderMap, origin: &str) -> bool {
    if opts.allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if is_secure(opts, headers) { "https://" } else { "http://" };
    origin.strip_prefix(scheme).is_some_and(|h| h.eq_ignore_ascii_case(host))
}

/// Whether a form POST may come from where it says it comes from. Browsers send
/// `Origin` on every POST (and `Sec-Fetch-Site` since 2020), so a request with
/// neither is not from a browser (curl, a test client): it cannot carry a victim's
/// cookie, and the token and cookie checks still apply to it.
pub(crate) fn post_origin_allowed(opts: &Options, headers: &HeaderMap) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.to_str().is_ok_and(|o| origin_allowed(opts, headers, o));
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => true,
    }
}

/// What the auth hook sees of a request: its method, path and query, headers and
/// cookies.
pub(crate) fn request_info(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> RequestInfo {
    let mut names = Map::new();
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            names.insert(name.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let mut jar = Map::new();
    // A repeated name keeps its first value, as `cookie` reads it: the hook must see
    // the cookie the server itself goes by (a browser sends the most specific first).
    for c in cookies(headers) {
        jar.entry(c.name().to_string()).or_insert_with(|| Value::String(c.value().to_string()));
    }
    RequestInfo {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: names,
        cookies: jar,
        browser: Map::new(),
        browser_session: Default::default(),
    }
}

/// Runs the auth hook (if any) on a host thread. A request for a session that is alive
/// goes in the live lane; any other (a new visitor) in the new visitors' lane, where it
/// is refused (`Refused::Full`, counted) rather than queued when that lane is full, so
/// a flood of page requests cannot starve live sessions nor keep their browsers from
/// reconnecting. A hook that panics denies.
///
/// The hook sees the session map of `browser` (the hash of the request's browser
/// id) and may write to it: its writes are stored unless it denies the request.
pub(crate) async fn authenticate(
    shared: &Arc<Shared>,
    mut info: RequestInfo,
    sid: Option<&str>,
    browser: &str,
) -> Result<AuthDecision, Refused> {
    let auth = shared.auth.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(auth) = auth else { return Ok(AuthDecision::Allow(None)) };
    let store = &shared.browsers;
    let map = match tokio::time::timeout(BROWSER_STORE_TIMEOUT, store.load(browser)).await {
        Ok(Ok(map)) => map,
        Ok(Err(e)) => {
            tracing::warn!("reading the browser session for the auth hook failed: {e}");
            Arc::default()
        }
        Err(_) => {
            tracing::warn!("reading the browser session for the auth hook timed out");
            Arc::default()
        }
    };
    info.browser = (*map).clone();
    let session = Arc::new(Mutex::new(BrowserSession::new(map, shared.opts.max_browser_session_bytes)));
    info.browser_session = session.clone();
    let lane = match sid {
        Some(sid) if shared.sessions.get(sid).is_some() => Lane::Live,
        _ => Lane::New,
    };
    let decided = shared
        .host
        .run(lane, move || {
            let path = info.path.clone();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| auth.authenticate(&info)))
                .unwrap_or_else(|panic| {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".into());
                    tracing::warn!(%path, "the auth hook panicked: {msg}; refusing the request (403)");
                    AuthDecision::Deny
                })
        })
        .await;
    if decided == Err(Refused::Full) {
        crate::metrics::inc(&shared.metrics.host_queue_rejections);
    }
    if matches!(decided, Ok(AuthDecision::Allow(_) | AuthDecision::Redirect(_))) {
        let writes = session.lock().unwrap_or_else(|e| e.into_inner()).take_writes();
        if !writes.is_empty() {
            match tokio::time::timeout(BROWSER_STORE_TIMEOUT, store.apply(browser, writes)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("storing the auth hook's browser session writes failed: {e}"),
                Err(_) => tracing::warn!("storing the auth hook's browser session writes timed out"),
            }
        }
    }
    decided
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_hook_sees_the_cookie_the_server_goes_by() {
        let h = headers(&[("cookie", "lv_bid=first; theme=dark"), ("cookie", "lv_bid=second")]);
        let info = request_info(&Method::GET, "/", "", &h);
        assert_eq!(info.cookies.get("lv_bid"), Some(&Value::String("first".into())));
        assert_eq!(cookie(&h, "lv_bid").as_deref(), Some("first"));
    }

    #[test]
    fn origins_compare_scheme_and_host() {
        let plain = Options::default();
        let h = headers(&[("host", "example.com:3000")]);
        assert!(origin_allowed(&plain, &h, "http://example.com:3000"));
        assert!(!origin_allowed(&plain, &h, "https://example.com:3000"));
        assert!(!origin_allowed(&plain, &h, "http://evil.example"));
        assert!(!origin_allowed(&plain, &h, "null"));

        let tls = Options { secure_cookies: true, ..Options::default() };
        assert!(origin_allowed(&tls, &h, "https://example.com:3000"));
        assert!(!origin_allowed(&tls, &h, "http://example.com:3000"));

        // The forwarded scheme counts only when the proxy is trusted.
        let h = headers(&[("host", "example.com"), ("x-forwarded-proto", "https")]);
        assert!(!origin_allowed(&plain, &h, "https://example.com"));
        let proxied = Options { trust_forwarded_proto: true, ..Options::default() };
        assert!(origin_allowed(&proxied, &h, "https://example.com"));
        assert!(!origin_allowed(&proxied, &h, "http://example.com"));
    }

    #[test]
    fn post_origin() {
        let o = Options::default();
        assert!(post_origin_allowed(&o, &headers(&[("host", "h"), ("origin", "http://h")])));
        assert!(!post_origin_allowed(&o, &headers(&[("host", "h"), ("origin", "http://evil")])));
        assert!(!post_origin_allowed(&o, &headers(&[("host", "h"), ("sec-fetch-site", "cross-site")])));
        assert!(!post_origin_allowed(&o, &headers(&[("host", "h"), ("sec-fetch-site", "same-site")])));
        assert!(post_origin_allowed(&o, &headers(&[("host", "h"), ("sec-fetch-site", "same-origin")])));
        assert!(post_origin_allowed(&o, &headers(&[("host", "h")])));
    }

    #[test]
    fn browser_cookie() {
        let o = Options::default();
        let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
        let (hash, set) = browser_for_page(&o, &signer, &headers(&[]));
        let set = set.expect("a new browser gets a cookie");
        assert!(set.starts_with("lv_bid="), "{set}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(!set.contains("Secure"), "{set}");
        let pair = set.split(';').next().unwrap_or_default().to_string();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("a=1; {pair}")).expect("value"));
        assert_eq!(browser_for_page(&o, &signer, &h), (hash.clone(), None));
        assert_eq!(browser_of(&o, &signer, &h), Some(hash.clone()));

        // Not an id we made (unsigned, or signed with another key): replaced.
        for forged in ["lv_bid=chosen", "lv_bid=0123456789abcdef0123456789abcdef"] {
            let (other, set) = browser_for_page(&o, &signer, &headers(&[("cookie", forged)]));
            assert!(set.is_some());
            assert_ne!(other, hash);
            assert_eq!(browser_of(&o, &signer, &headers(&[("cookie", forged)])), None);
        }
        let elsewhere = Signer::new(b"another secret another secret 00");
        assert_eq!(browser_of(&o, &elsewhere, &h), None);

        let tls = Options { secure_cookies: true, ..Options::default() };
        let (_, set) = browser_for_page(&tls, &signer, &headers(&[]));
        let set = set.expect("cookie");
        assert!(set.starts_with("__Host-lv_bid=") && set.contains("Secure"), "{set}");
    }
}
