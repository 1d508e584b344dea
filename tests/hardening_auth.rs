//! Who may use a session: the auth hook on every page GET, form POST and WebSocket
//! join; tokens bound to the browser they were issued to; the Origin of form posts
//! and upgrades (scheme included); secret rotation; the header parsing behind them.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use mizulive::{Auth, AuthDecision, RequestInfo};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Error as WsError;

const ALICE_ID: &str = "a11ce000000000000000000000000000";
const MALLORY_ID: &str = "ba5e0000000000000000000000000000";

/// `lv_bid=...` of a browser whose first page GET gave it the id `id` (signed with
/// the tests' secret).
fn browser(id: &str) -> &'static str {
    let value = mizulive::testing::browser_cookie_value(common::SECRET, id);
    Box::leak(format!("lv_bid={value}").into_boxed_str())
}

fn alice_browser() -> &'static str {
    static COOKIE: std::sync::OnceLock<&str> = std::sync::OnceLock::new();
    COOKIE.get_or_init(|| browser(ALICE_ID))
}

fn mallory_browser() -> &'static str {
    static COOKIE: std::sync::OnceLock<&str> = std::sync::OnceLock::new();
    COOKIE.get_or_init(|| browser(MALLORY_ID))
}
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// Who is logged in is the `user` cookie: `banned` is denied, none is sent to
/// `/login`. Records what it was asked.
#[derive(Default)]
struct CookieAuth {
    seen: Mutex<Vec<RequestInfo>>,
}

impl CookieAuth {
    fn seen(&self) -> Vec<(String, String)> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter().map(|r| (r.method.clone(), r.path.clone())).collect()
    }

    fn last(&self) -> RequestInfo {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.last().cloned().expect("the hook ran")
    }
}

impl Auth for CookieAuth {
    fn authenticate(&self, request: &RequestInfo) -> AuthDecision {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
        match request.cookies.get("user").and_then(Value::as_str) {
            Some("banned") => AuthDecision::Deny,
            Some(user) => AuthDecision::Allow(Some(user.to_string())),
            None => AuthDecision::Redirect("/login".into()),
        }
    }
}

fn with_auth(t: &TestApp) -> Arc<CookieAuth> {
    let auth = Arc::new(CookieAuth::default());
    t.app().set_auth(Some(auth.clone()));
    auth
}

async fn get(t: &TestApp, path: &str, cookie: &str) -> HttpResponse {
    http_raw(t.addr, "GET", path, &[("Cookie", cookie)], b"").await
}

/// GETs a page with `cookie`; returns its token and CSRF token.
async fn load(t: &TestApp, path: &str, cookie: &str) -> (String, String) {
    let resp = get(t, path, cookie).await;
    assert_eq!(resp.status, 200, "GET {path}: {}", resp.text());
    let b = boot(&resp.text());
    (b.token, b.csrf)
}

async fn post(t: &TestApp, headers: &[(&str, &str)], token: &str, csrf: &str) -> HttpResponse {
    let mut all = vec![FORM];
    all.extend_from_slice(headers);
    let body = form_encode(&[("_lv_token", token), ("_csrf", csrf), ("_lv_click", "inc?by=1")]);
    http_raw(t.addr, "POST", "/counter", &all, body.as_bytes()).await
}

/// Opens a socket with this app's origin and `cookie`, sends a join for `token`.
async fn join_as(t: &TestApp, cookie: Option<&str>, token: &str) -> WsClient {
    let mut ws = connect_ws_with(t.addr, Some(&t.origin()), cookie).await.expect("upgrade");
    ws.send_join(token, &t.url("/counter"), 0).await;
    ws
}

/// The next frame must be a join error `code` (not recoverable), then a 1008 close.
async fn expect_refused(ws: &mut WsClient, code: &str) {
    let e = ws.recv_type("error").await;
    assert_eq!(e["code"], code, "{e}");
    assert_eq!(e["recoverable"], false, "{e}");
    let frame = ws.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
}

/// The count the session named by the resume cookie of `post` shows.
async fn count_after(t: &TestApp, post: &HttpResponse, cookie: &str) -> Option<i64> {
    let resume = post.header("set-cookie").and_then(|c| c.split(';').next()).expect("a resume cookie");
    let page = get(t, "/counter", &format!("{cookie}; {resume}")).await;
    count_in(&page.text())
}

fn claims(token: &str) -> Value {
    let body = token.split('.').nth(1).expect("token has claims");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).expect("base64 claims")).expect("claims JSON")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[tokio::test]
async fn the_auth_hook_decides_every_post() {
    let t = TestApp::start(|_| {});
    let auth = with_auth(&t);
    let alice = format!("{}; user=alice", alice_browser());
    let (token, csrf) = load(&t, "/counter", &alice).await;

    let ok = post(&t, &[("Cookie", &alice)], &token, &csrf).await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(auth.last().method, "POST");
    assert_eq!(count_after(&t, &ok, &alice).await, Some(START + 1));

    // Logged out: sent to the login page; banned: 403; someone else: 403. None runs.
    let logged_out = post(&t, &[("Cookie", alice_browser())], &token, &csrf).await;
    assert_eq!(logged_out.status, 303, "{}", logged_out.text());
    assert_eq!(logged_out.header("location"), Some("/login"));
    let banned = post(&t, &[("Cookie", &format!("{}; user=banned", alice_browser()))], &token, &csrf).await;
    assert_eq!(banned.status, 403, "{}", banned.text());
    let bob = post(&t, &[("Cookie", &format!("{}; user=bob", alice_browser()))], &token, &csrf).await;
    assert_eq!(bob.status, 403, "{}", bob.text());
    let again = post(&t, &[("Cookie", &alice)], &token, &csrf).await;
    assert_eq!(count_after(&t, &again, &alice).await, Some(START + 2), "a refused POST ran its event");

    // The session is gone (another node, a restart): the POST would mount afresh from
    // the token's claims. Not for a user the hook does not say it is.
    let node2 = TestApp::start(|_| {});
    let _auth2 = with_auth(&node2);
    let remount = post(&node2, &[("Cookie", &format!("{}; user=bob", alice_browser()))], &token, &csrf).await;
    assert_eq!(remount.status, 403, "{}", remount.text());
    assert_eq!(node2.probe.mounts(), 0);
    let remount = post(&node2, &[("Cookie", &alice)], &token, &csrf).await;
    assert_eq!(remount.status, 303, "{}", remount.text());
    assert_eq!(node2.probe.mounts(), 1);
}

#[tokio::test]
async fn the_auth_hook_decides_every_join() {
    let t = TestApp::start(|_| {});
    let auth = with_auth(&t);
    let alice = format!("{}; user=alice", alice_browser());
    let (token, _) = load(&t, "/counter?tab=2", &alice).await;

    // Logged out, banned, another user: refused, not recoverable, 1008.
    let mut ws = join_as(&t, Some(alice_browser()), &token).await;
    expect_refused(&mut ws, "forbidden").await;
    let mut ws = join_as(&t, Some(&format!("{}; user=banned", alice_browser())), &token).await;
    expect_refused(&mut ws, "forbidden").await;
    let mut ws = join_as(&t, Some(&format!("{}; user=bob", alice_browser())), &token).await;
    expect_refused(&mut ws, "user_mismatch").await;

    // Alice herself joins; the hook saw her join as a GET of the page.
    let mut ws = join_as(&t, Some(&alice), &token).await;
    let joined = ws.recv_type("joined").await;
    assert_eq!(joined["resumed"], true, "{joined}");
    let info = auth.last();
    assert_eq!((info.method.as_str(), info.path.as_str()), ("GET", "/counter"), "{info:?}");
    assert_eq!(info.headers.get("upgrade").and_then(Value::as_str), Some("websocket"), "{info:?}");
    assert_eq!(info.cookies.get("user").and_then(Value::as_str), Some("alice"), "{info:?}");
    assert_eq!(auth.seen().iter().filter(|(m, _)| m == "GET").count(), 5, "{:?}", auth.seen());

    // A join that finds no session mounts from the token's claims: only for its user.
    let node2 = TestApp::start(|_| {});
    let _auth2 = with_auth(&node2);
    let mut ws = join_as(&node2, Some(&format!("{}; user=bob", alice_browser())), &token).await;
    expect_refused(&mut ws, "user_mismatch").await;
    assert_eq!(node2.probe.mounts(), 0);
    let mut ws = join_as(&node2, Some(&alice), &token).await;
    let joined = ws.recv_type("joined").await;
    assert_eq!(joined["resumed"], false, "{joined}");
    assert_eq!(node2.probe.mounts(), 1);
}

#[tokio::test]
async fn the_resume_get_checks_the_user() {
    let t = TestApp::start(|_| {});
    let _auth = with_auth(&t);
    let alice = format!("{}; user=alice", alice_browser());
    let (token, csrf) = load(&t, "/counter", &alice).await;
    let resp = post(&t, &[("Cookie", &alice)], &token, &csrf).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    // Bob, on the same computer after alice logged out, does not get her session.
    let resume = resp.header("set-cookie").and_then(|c| c.split(';').next()).expect("resume cookie");
    let page = get(&t, "/counter", &format!("{}; user=bob; {resume}", alice_browser())).await;
    assert_eq!(page.status, 200);
    assert_ne!(boot(&page.text()).token, token);
    assert_eq!(count_in(&page.text()), Some(START));
}

#[tokio::test]
async fn a_page_get_gives_the_browser_its_cookie() {
    let t = TestApp::start(|_| {});
    let first = http_raw(t.addr, "GET", "/counter", &[], b"").await;
    assert_eq!(first.status, 200);
    let set = first.header("set-cookie").expect("a browser cookie");
    assert!(set.starts_with("lv_bid="), "{set}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    let again = get(&t, "/counter", set.split(';').next().expect("pair")).await;
    assert_eq!(again.header("set-cookie"), None, "a browser with a cookie keeps it");

    // Over HTTPS (the option, or a trusted proxy's X-Forwarded-Proto) the cookie is
    // Secure and __Host- prefixed.
    let tls = TestApp::start(|o| o.secure_cookies = true);
    let set = http_raw(tls.addr, "GET", "/counter", &[], b"").await;
    let set = set.header("set-cookie").expect("a browser cookie");
    assert!(set.starts_with("__Host-lv_bid=") && set.contains("Secure"), "{set}");

    let proxied = TestApp::start(|o| o.trust_forwarded_proto = true);
    let https = http_raw(proxied.addr, "GET", "/counter", &[("X-Forwarded-Proto", "https")], b"").await;
    let set = https.header("set-cookie").expect("a browser cookie");
    assert!(set.starts_with("__Host-lv_bid=") && set.contains("Secure"), "{set}");
    // Without the trust, a client's header changes nothing.
    let forged = http_raw(t.addr, "GET", "/counter", &[("X-Forwarded-Proto", "https")], b"").await;
    let set = forged.header("set-cookie").expect("a browser cookie");
    assert!(set.starts_with("lv_bid=") && !set.contains("Secure"), "{set}");
}

#[tokio::test]
async fn a_token_lifted_from_one_browser_fails_in_another() {
    let t = TestApp::start(|_| {});
    let (token, csrf) = load(&t, "/counter", alice_browser()).await;

    for cookie in [Some(mallory_browser()), None, Some("lv_bid=not-an-id")] {
        let mut ws = join_as(&t, cookie, &token).await;
        expect_refused(&mut ws, "browser_mismatch").await;
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
        let resp = post(&t, &headers, &token, &csrf).await;
        assert_eq!(resp.status, 403, "{cookie:?}: {}", resp.text());
    }
    // In the browser it was issued to, it works, on both paths.
    let resp = post(&t, &[("Cookie", alice_browser())], &token, &csrf).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(count_after(&t, &resp, alice_browser()).await, Some(START + 1), "only this POST ran");
    let mut ws = join_as(&t, Some(alice_browser()), &token).await;
    ws.recv_type("joined").await;
}

#[tokio::test]
async fn a_cross_site_post_cannot_plant_a_session() {
    let t = TestApp::start(|_| {});
    // Mallory loads the page in her browser and takes its hidden fields to her site.
    let (token, csrf) = load(&t, "/counter", mallory_browser()).await;
    let own = format!("http://{}", t.addr);

    // Her site's form, submitted in alice's browser (alice's cookie goes along).
    let cross = [("Cookie", alice_browser()), ("Origin", "http://evil.example")];
    let resp = post(&t, &cross, &token, &csrf).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.header("set-cookie"), None, "a session was planted: {:?}", resp.headers);
    // A browser that sends Sec-Fetch-Site instead of Origin, and an https origin
    // for this plain-HTTP site: refused too.
    let fetch_site = [("Cookie", alice_browser()), ("Sec-Fetch-Site", "cross-site")];
    assert_eq!(post(&t, &fetch_site, &token, &csrf).await.status, 403);
    let https = format!("https://{}", t.addr);
    let scheme = [("Cookie", mallory_browser()), ("Origin", https.as_str())];
    assert_eq!(post(&t, &scheme, &token, &csrf).await.status, 403);
    // Even from the site itself, the token is not alice's browser's.
    let same_site = [("Cookie", alice_browser()), ("Origin", own.as_str())];
    assert_eq!(post(&t, &same_site, &token, &csrf).await.status, 403);
    // Mallory's own same-origin post works: the refusals above were not blanket ones.
    let hers = [("Cookie", mallory_browser()), ("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")];
    let resp = post(&t, &hers, &token, &csrf).await;
    assert_eq!(resp.status, 303, "{}", resp.text());

    // Her session's resume cookie, planted in alice's browser, is not adopted.
    let resume = resp.header("set-cookie").and_then(|c| c.split(';').next()).expect("resume cookie");
    let page = get(&t, "/counter", &format!("{}; {resume}", alice_browser())).await;
    assert_eq!(page.status, 200);
    assert_ne!(boot(&page.text()).token, token, "alice's browser adopted mallory's session");
    assert_eq!(count_in(&page.text()), Some(START));
}

#[tokio::test]
async fn upgrades_compare_the_origin_scheme() {
    let plain = TestApp::start(|_| {});
    let https = format!("https://{}", plain.addr);
    match connect_ws_with(plain.addr, Some(&https), Some(alice_browser())).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403),
        Err(e) => panic!("expected 403, got {e}"),
        Ok(_) => panic!("an https origin opened a socket on a plain-HTTP site"),
    }
    // Behind a TLS proxy (secure_cookies) it is the other way round.
    let tls = TestApp::start(|o| o.secure_cookies = true);
    let http_origin = format!("http://{}", tls.addr);
    assert!(connect_ws_with(tls.addr, Some(&http_origin), None).await.is_err(), "http origin accepted");
    let https = format!("https://{}", tls.addr);
    let cookie = &*format!("__Host-{}", alice_browser());
    let (token, _) = load(&tls, "/counter", cookie).await;
    let mut ws = connect_ws_with(tls.addr, Some(&https), Some(cookie)).await.expect("https origin");
    ws.join(&token, &tls.url("/counter"), 0).await;
}

#[tokio::test]
async fn previous_secrets_verify_for_their_while() {
    const NEW: &str = "a new secret for the rotation test, 32+ bytes";
    let old = TestApp::start(|_| {});
    let (token, csrf) = load(&old, "/counter", alice_browser()).await;

    // The secret rotated: what the old one signed still works, on a join and a POST.
    let rotated = TestApp::start(|o| {
        o.previous_secrets = vec![o.secret.take().expect("test secret")];
        o.secret = Some(NEW.into());
    });
    let mut ws = join_as(&rotated, Some(alice_browser()), &token).await;
    let joined = ws.recv_type("joined").await;
    assert_eq!(joined["resumed"], false, "{joined}");
    // The session it mounted has a token signed with the new secret.
    let fresh = joined["token"].as_str().expect("a new token").to_string();
    assert_ne!(fresh.split('.').next(), token.split('.').next(), "same key id");
    let resp = post(&rotated, &[("Cookie", alice_browser())], &token, &csrf).await;
    assert_eq!(resp.status, 303, "{}", resp.text());

    // Past previous_secrets_ttl_s they do not.
    let expired = TestApp::start(|o| {
        o.previous_secrets = vec![o.secret.take().expect("test secret")];
        o.secret = Some(NEW.into());
        o.previous_secrets_ttl_s = Some(0);
    });
    let mut ws = join_as(&expired, Some(alice_browser()), &token).await;
    expect_refused(&mut ws, "token_invalid").await;
    let resp = post(&expired, &[("Cookie", alice_browser())], &token, &csrf).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    // A new secret alone (no previous) refuses the old token too.
    let fresh_app = TestApp::start(|o| o.secret = Some(NEW.into()));
    let mut ws = join_as(&fresh_app, Some(alice_browser()), &token).await;
    expect_refused(&mut ws, "token_invalid").await;
}

#[tokio::test]
async fn token_ttl_s_bounds_every_token() {
    let t = TestApp::start(|o| o.token_ttl_s = 1);
    let (token, csrf) = load(&t, "/counter", alice_browser()).await;
    let exp = claims(&token)["exp"].as_u64().expect("exp");
    assert!(exp <= now() + 1, "GET token lives past token_ttl_s: {exp}");
    // The token a fresh mount hands out (another node) is bounded too.
    let node2 = TestApp::start(|o| o.token_ttl_s = 1);
    let mut ws = join_as(&node2, Some(alice_browser()), &token).await;
    let joined = ws.recv_type("joined").await;
    let exp = claims(joined["token"].as_str().expect("token"))["exp"].as_u64().expect("exp");
    assert!(exp <= now() + 1, "joined token lives past token_ttl_s: {exp}");
    drop(ws);

    // Once expired: the join says so, the POST starts over with the page.
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let mut ws = join_as(&t, Some(alice_browser()), &token).await;
        let frame = ws.recv_json(WAIT).await;
        if frame["t"] == "error" {
            assert_eq!(frame["code"], "token_expired", "{frame}");
            break;
        }
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resp = post(&t, &[("Cookie", alice_browser())], &token, &csrf).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(resp.header("set-cookie"), None, "an expired token's POST ran: {:?}", resp.headers);
}

#[tokio::test]
async fn gzip_with_q_zero_is_not_gzip() {
    let t = TestApp::start(|_| {});
    for (accept, gzip) in [
        ("gzip;q=0", false),
        ("gzip; q=0.0, identity", false),
        ("gzip;q=0.5", true),
        ("*", true),
        ("br", false),
    ] {
        let resp = http_raw(t.addr, "GET", "/_live/runtime.js", &[("Accept-Encoding", accept)], b"").await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-encoding") == Some("gzip"), gzip, "Accept-Encoding: {accept}");
    }
}

#[test]
fn rotation_and_cookie_options_are_validated() {
    use mizulive::Options;
    let err = Options::from_json(r#"{"previous_secrets": ["too short"]}"#).expect_err("refused");
    assert!(err.to_string().contains("previous_secrets"), "{err}");
    let opts = Options::from_json(
        r#"{"previous_secrets": ["an old secret that is long enough, 32+"], "previous_secrets_ttl_s": 60,
            "secure_cookies": true, "trust_forwarded_proto": true}"#,
    )
    .expect("valid options");
    assert_eq!(opts.previous_secrets_ttl_s, Some(60));
    assert!(opts.secure_cookies && opts.trust_forwarded_proto);
    let defaults = Options::from_json("{}").expect("defaults");
    assert!(defaults.previous_secrets.is_empty() && defaults.previous_secrets_ttl_s.is_none());
    assert!(!defaults.secure_cookies && !defaults.trust_forwarded_proto);
}

/// The auth hook of a join to a live session runs with the live sessions' callbacks:
/// new visitors who fill the host queue cannot keep that browser from reconnecting.
#[tokio::test]
async fn a_full_host_queue_lets_a_live_session_reconnect() {
    let t = TestApp::start(|o| {
        o.host_threads = 1;
        o.host_queue = 1;
    });
    let _auth = with_auth(&t);
    let cookie = format!("{}; user=alice", alice_browser());
    let (token, _) = load(&t, "/counter", &cookie).await;
    let (busy_token, _) = load(&t, "/counter", &cookie).await;
    let mut busy = join_as(&t, Some(&cookie), &busy_token).await;
    busy.recv_type("joined").await;
    // The only host thread is held by a slow callback; a queued visitor fills the
    // new visitors' lane and the next ones are refused.
    let slow = busy.event("slow", serde_json::json!({})).await;
    wait_for("the slow callback started", || t.probe.slow_started.load(std::sync::atomic::Ordering::SeqCst))
        .await;
    let mut visitors = Vec::new();
    for _ in 0..3 {
        let (addr, cookie) = (t.addr, cookie.clone());
        visitors.push(tokio::spawn(async move {
            http_raw(addr, "GET", "/counter", &[("Cookie", &cookie)], b"").await.status
        }));
    }
    let deadline = Instant::now() + WAIT;
    while visitors.iter().filter(|v| v.is_finished()).count() < 2 {
        assert!(Instant::now() < deadline, "the new visitors' lane never filled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The page's browser reconnects: its join waits for the thread, it is not refused.
    let mut ws = join_as(&t, Some(&cookie), &token).await;
    t.probe.open_gate();
    let joined = ws.recv_type("joined").await;
    assert_eq!(joined["resumed"], true, "{joined}");
    busy.expect_patch().await;
    busy.expect_ok(slow).await;
    let mut statuses = Vec::new();
    for v in visitors {
        statuses.push(v.await.expect("visitor"));
    }
    statuses.sort();
    assert_eq!(statuses, [200, 503, 503]);
}
