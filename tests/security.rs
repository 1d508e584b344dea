//! What the server refuses: malformed and oversize frames, cross-origin sockets,
//! forged or misused tokens, form posts without CSRF, event floods.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn expect_error_frame(ws: &mut WsClient, code: &str, recoverable: bool) -> Value {
    let e = ws.recv_type("error").await;
    assert_eq!(e["code"], code, "{e}");
    assert_eq!(e["recoverable"], recoverable, "{e}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    e
}

async fn heartbeat_round_trip(ws: &mut WsClient) {
    ws.send_json(&json!({"t": "heartbeat"})).await;
    ws.recv_type("heartbeat").await;
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_socket_stays_usable() {
    let t = TestApp::start(|o| o.max_frame_bytes = 1024);
    let (mut bystander, _, _) = t.live("/counter").await;
    let (_, boot) = t.page("/counter").await;
    let mut ws = t.connect().await;

    let event = json!({"t": "event", "ref": 1, "type": "click", "name": "inc", "values": {}});
    let cases = [
        ("not json at all".to_string(), "bad_frame"),
        ("[1]".to_string(), "bad_frame"),
        (r#"{"t":"dance"}"#.to_string(), "unknown_type"),
        (r#"{"t":5}"#.to_string(), "bad_frame"),
        (event.to_string(), "expected_join"),
    ];
    for (frame, code) in &cases {
        ws.send_text(frame).await;
        expect_error_frame(&mut ws, code, true).await;
    }
    ws.send(Message::binary(vec![0u8, 1, 2, 3])).await;
    expect_error_frame(&mut ws, "bad_frame", true).await;
    heartbeat_round_trip(&mut ws).await;

    // Still joinable, and after the join a bad frame leaves the session working.
    let joined = ws.join(&boot.token, &t.url("/counter"), 0).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    ws.send_text(r#"{"t":"event","ref":"seven","name":"inc"}"#).await;
    expect_error_frame(&mut ws, "bad_frame", true).await;
    ws.send_text(r#"{"t":"join","v":4,"token":"x","url":"/counter"}"#).await;
    expect_error_frame(&mut ws, "bad_frame", true).await;
    ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 1);
    heartbeat_round_trip(&mut ws).await;

    // A frame over max_frame_bytes closes the socket with 1009.
    let big = json!({"t": "heartbeat", "pad": "x".repeat(2000)}).to_string();
    ws.send_text(&big).await;
    let frame = ws.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Size, "{frame:?}");
    assert_eq!(u16::from(frame.code), 1009);

    // The server and other sessions carry on.
    let patch = bystander.event_patch("inc", json!({"by": "3"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 3));
    let (html, _) = t.page("/counter").await;
    assert_eq!(count_in(&html), Some(START));
    // The closed socket's session waits for a reconnect, state intact.
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &t.url("/counter"), 1).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 2));
}

fn assert_forbidden(result: Result<WsClient, WsError>, what: &str) {
    match result {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403, "{what}"),
        Err(e) => panic!("{what}: expected HTTP 403, got {e}"),
        Ok(_) => panic!("{what}: the upgrade was accepted"),
    }
}

#[tokio::test]
async fn cross_origin_upgrades_are_refused() {
    let t = TestApp::start(|o| o.allowed_origins = vec!["http://good.example".to_string()]);
    assert_forbidden(connect_ws(t.addr, Some("http://evil.example")).await, "foreign origin");
    assert_forbidden(connect_ws(t.addr, None).await, "no origin");
    // A different port is a different origin.
    let other_port = format!("http://127.0.0.1:{}", t.addr.port().wrapping_add(1));
    assert_forbidden(connect_ws(t.addr, Some(&other_port)).await, "other port");

    // The allowlisted origin gets a working socket.
    let (_, boot) = t.page("/counter").await;
    let mut ws = connect_ws(t.addr, Some("http://good.example")).await.expect("allowed origin");
    let joined = ws.join(&boot.token, &t.url("/counter"), 0).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    // And the page's own origin, of course.
    let mut own = t.connect().await;
    heartbeat_round_trip(&mut own).await;
}

/// `token` with one character of its signature replaced.
fn flip_signature_char(token: &str) -> String {
    let dot = token.rfind('.').expect("token has a signature");
    let i = dot + 6;
    let old = token.as_bytes()[i];
    let new = if old == b'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &token[..i], &token[i + 1..])
}

#[tokio::test]
async fn forged_and_misused_tokens_are_rejected() {
    let t = TestApp::start(|_| {});
    let url = t.url("/counter");
    let (_, boot) = t.page("/counter").await;

    let mut ws = t.connect().await;
    ws.send_join(&flip_signature_char(&boot.token), &url, 0).await;
    expect_error_frame(&mut ws, "token_invalid", false).await;
    ws.expect_closed().await;

    // Claims rewritten (to another page) under the original signature.
    let (kid, rest) = boot.token.split_once('.').expect("token shape");
    let (claims, sig) = rest.split_once('.').expect("token shape");
    let mut forged: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64 claims")).expect("claims JSON");
    forged["path"] = json!("/other");
    forged["route"] = json!("/other");
    let forged = format!("{kid}.{}.{sig}", URL_SAFE_NO_PAD.encode(forged.to_string()));
    let mut ws = t.connect().await;
    ws.send_join(&forged, &t.url("/other"), 0).await;
    expect_error_frame(&mut ws, "token_invalid", false).await;
    ws.expect_closed().await;

    let mut ws = t.connect().await;
    ws.send_join("not-a-token", &url, 0).await;
    expect_error_frame(&mut ws, "token_invalid", false).await;
    ws.expect_closed().await;

    // A valid token of /counter does not open /other.
    let mut ws = t.connect().await;
    ws.send_join(&boot.token, &t.url("/other"), 0).await;
    expect_error_frame(&mut ws, "route_mismatch", false).await;
    ws.expect_closed().await;

    let mut ws = t.connect().await;
    // A client of the previous version (a page loaded before an upgrade).
    ws.send_json(&json!({"t": "join", "v": 1, "token": boot.token, "url": url, "seq": 0})).await;
    expect_error_frame(&mut ws, "unsupported_version", false).await;
    ws.expect_closed().await;

    // None of that touched the real session.
    assert_eq!(t.probe.mounts(), 1);
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 0).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["root"], Value::Null, "{joined}");
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

async fn post(t: &TestApp, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
    http(t.addr, "POST", path, &[FORM], form_encode(fields).as_bytes()).await
}

async fn get_with_cookie(t: &TestApp, path: &str, cookie: &str) -> String {
    let resp = http(t.addr, "GET", path, &[("Cookie", cookie)], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.text()
}

#[tokio::test]
async fn form_posts_work_without_javascript_and_need_csrf() {
    let t = TestApp::start(|_| {});
    let (html, boot) = t.page("/counter").await;
    assert!(html.contains(r#"<form method="post" action="/counter">"#), "{html}");
    let token = hidden_input(&html, "_lv_token").expect("_lv_token input");
    let csrf = hidden_input(&html, "_csrf").expect("_csrf input");
    assert_eq!(token, boot.token);
    assert_eq!(csrf, boot.csrf);
    assert!(html.contains(r#"name="_lv_click" value="inc?by=1""#), "{html}");

    let click = ("_lv_click", "inc?by=1");
    let resp = post(&t, "/counter", &[("_lv_token", &token), ("_csrf", &csrf), click]).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(resp.header("location"), Some("/counter"));
    let set_cookie = resp.header("set-cookie").expect("a resume cookie");
    assert!(set_cookie.starts_with("lv_resume="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().expect("cookie pair").to_string();

    let page = get_with_cookie(&t, "/counter", &cookie).await;
    assert_eq!(count_in(&page), Some(START + 1), "{page}");
    assert_eq!(boot_token(&page), token, "the GET after the POST shows another session");
    assert_eq!(t.probe.mounts(), 1);

    let resp = post(&t, "/counter", &[("_lv_token", &token), ("_csrf", &csrf), click]).await;
    assert_eq!(resp.status, 303);
    let page = get_with_cookie(&t, "/counter", &cookie).await;
    assert_eq!(count_in(&page), Some(START + 2), "{page}");

    // Without CSRF, with a wrong one, with another session's: 403 and no effect.
    let (other_html, _) = t.page("/counter").await;
    let foreign_csrf = hidden_input(&other_html, "_csrf").expect("_csrf input");
    assert_ne!(foreign_csrf, csrf);
    for bad in
        [None, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), Some(""), Some(foreign_csrf.as_str())]
    {
        let mut fields = vec![("_lv_token", token.as_str()), click];
        if let Some(c) = bad {
            fields.push(("_csrf", c));
        }
        let resp = post(&t, "/counter", &fields).await;
        assert_eq!(resp.status, 403, "csrf {bad:?}: {}", resp.text());
    }

    // A token of another page.
    let (other_page, _) = t.page("/other").await;
    let other_token = hidden_input(&other_page, "_lv_token").expect("_lv_token input");
    let other_csrf = hidden_input(&other_page, "_csrf").expect("_csrf input");
    let resp = post(&t, "/counter", &[("_lv_token", &other_token), ("_csrf", &other_csrf), click]).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    // A forged token.
    let resp = post(&t, "/counter", &[("_lv_token", "x.y"), ("_csrf", &csrf), click]).await;
    assert_eq!(resp.status, 403, "{}", resp.text());

    let page = get_with_cookie(&t, "/counter", &cookie).await;
    assert_eq!(count_in(&page), Some(START + 2), "a refused POST ran its event: {page}");
}

fn boot_token(html: &str) -> String {
    boot(html).token
}

#[tokio::test]
async fn events_over_the_rate_limit_are_refused() {
    let t = TestApp::start(|o| {
        o.events_per_second = 1;
        o.event_burst = 2;
    });
    let (mut ws, _, _) = t.live("/counter").await;
    let r1 = ws.event("inc", json!({"by": "1"})).await;
    let r2 = ws.event("inc", json!({"by": "1"})).await;
    let r3 = ws.event("inc", json!({"by": "1"})).await;
    ws.expect_patch().await;
    ws.expect_ok(r1).await;
    let patch = ws.expect_patch().await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 2));
    ws.expect_ok(r2).await;
    // No patch before this reply: the event never reached the page.
    let error = ws.expect_error(r3).await;
    assert_eq!(error["code"], "rate_limited", "{error}");

    // The bucket refills at one event per second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 3, "{patch}");
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 3), "the limited event ran");
}

#[tokio::test]
async fn form_posts_share_the_event_rate_limit() {
    let t = TestApp::start(|o| {
        o.events_per_second = 1;
        o.event_burst = 2;
    });
    let (html, _) = t.page("/counter").await;
    let token = hidden_input(&html, "_lv_token").expect("_lv_token input");
    let csrf = hidden_input(&html, "_csrf").expect("_csrf input");
    let fields = [("_lv_token", token.as_str()), ("_csrf", csrf.as_str()), ("_lv_click", "inc?by=1")];
    let mut cookie = String::new();
    for _ in 0..2 {
        let resp = post(&t, "/counter", &fields).await;
        assert_eq!(resp.status, 303, "{}", resp.text());
        cookie = resp.header("set-cookie").and_then(|c| c.split(';').next()).expect("cookie").to_string();
    }
    let limited = post(&t, "/counter", &fields).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert_eq!(limited.header("retry-after"), Some("1"));
    let page = get_with_cookie(&t, "/counter", &cookie).await;
    assert_eq!(count_in(&page), Some(START + 2), "a refused POST ran its event: {page}");
}

#[tokio::test]
async fn sessions_beyond_max_sessions_are_refused_until_some_end() {
    let t = TestApp::start(|o| {
        o.max_sessions = 2;
        o.grace_ms = 300;
    });

    // A HEAD mounts nothing.
    let head = http(t.addr, "HEAD", "/counter", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(head.header("content-type").is_some_and(|v| v.starts_with("text/html")), "{:?}", head.headers);
    assert!(head.body.is_empty());
    assert_eq!(t.probe.mounts(), 0);

    let (ws_a, _, boot_a) = t.live("/counter").await;
    let (_, boot_b) = t.page("/counter").await;
    let full = t.get("/counter").await;
    assert_eq!(full.status, 503, "{}", full.text());
    assert_eq!(full.header("retry-after"), Some("5"));
    assert_eq!(t.probe.mounts(), 2);

    // A join that needs a fresh mount (its session lives in another process) is told
    // to come back later, and may: recoverable, close code 1013.
    let other = TestApp::start(|o| o.max_sessions = 2);
    let (_, foreign) = other.page("/counter").await;
    let mut ws = t.connect().await;
    ws.send_join(&foreign.token, &t.url("/counter"), 0).await;
    expect_error_frame(&mut ws, "overloaded", true).await;
    let frame = ws.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Again, "{frame:?}");

    // Joining an existing session needs no new one.
    let mut ws_b = t.connect().await;
    ws_b.join(&boot_b.token, &t.url("/counter"), 0).await;
    assert_eq!(t.probe.mounts(), 2);

    // When a session ends (its socket gone past the grace period) there is room again.
    drop(ws_b);
    t.wait_until("the dropped session ended", |app| app.session_count() < 2).await;
    t.page("/counter").await;
    assert_eq!(t.probe.mounts(), 3);
    drop((ws_a, boot_a));
}
