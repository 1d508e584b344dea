//! What the server sends and what a session holds, against hostile content: escaping
//! in every layout, redirect targets, security headers, the live root, and the
//! memory bounds of a session (resume buffer, state size, rollback).

mod common;

use common::*;
use mizulive::{App, Ctx, Event, HostError, Options, Page, PageSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A title as a chat room built from user input might have.
const HOSTILE_TITLE: &str = r#"<script>alert("t")</script> & co"#;

/// A page like a chat room: messages are shared by every session of the page (a new
/// visitor sees the ones sent before), and events do what their name says:
///
/// - `say` (`text`): post a message, re-render the body (mark the root)
/// - `go` / `nav` (`to`): `redirect` / `navigate` there
/// - `go_ignore` (`to`): `redirect` there ignoring its error, change `last`, return ok
/// - `grow` / `grow_mut` / `grow_json` (`n`): make `blob` `n` bytes long with
///   `set`, `state_mut` or `set_state_json`
/// - `last` (`text`): set `last`, mark `last`
/// - `touch`: count `n` up, mark `last` (shows what the state holds)
/// - `fail_after_changes`: change the state every way there is, then fail
struct Room {
    messages: Arc<Mutex<Vec<String>>>,
}

fn text(event: &Event, key: &str) -> Result<String, HostError> {
    event.get(key).ok_or_else(|| HostError(format!("{} needs {key}", event.name)))
}

fn blob(event: &Event) -> String {
    "x".repeat(event.int("n", 0).max(0) as usize)
}

impl Page for Room {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        let messages = self.messages.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ctx.set_state(json!({"messages": messages, "last": "", "n": 0, "blob": ""}));
        ctx.set_title(HOSTILE_TITLE);
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError> {
        match event.name.as_str() {
            "say" => {
                let line = text(event, "text")?;
                self.messages.lock().unwrap_or_else(|e| e.into_inner()).push(line.clone());
                ctx.set("/messages/-", json!(line))?;
                ctx.mark("lv-root")?;
            }
            "go" => ctx.redirect(&text(event, "to")?)?,
            "nav" => ctx.navigate(&text(event, "to")?, false)?,
            "go_ignore" => {
                let _ = ctx.redirect(&text(event, "to")?);
                ctx.set("/last", json!("changed by go_ignore"))?;
                ctx.mark("last")?;
            }
            "grow" => {
                ctx.set("/blob", json!(blob(event)))?;
                ctx.mark("last")?;
            }
            "grow_mut" => {
                ctx.state_mut()["blob"] = json!(blob(event));
                ctx.mark("last")?;
            }
            "grow_json" => {
                let mut state = ctx.state().clone();
                state["blob"] = json!(blob(event));
                ctx.set_state_json(&state.to_string())?;
                ctx.mark("last")?;
            }
            "grow_json_quiet" => {
                // The write's own answer, kept from the callback's.
                let mut state = ctx.state().clone();
                state["blob"] = json!(blob(event));
                if ctx.set_state_json(&state.to_string()).is_err() {
                    ctx.set("/last", json!("refused"))?;
                }
                ctx.mark("last")?;
            }
            "last" => {
                ctx.set("/last", json!(text(event, "text")?))?;
                ctx.mark("last")?;
            }
            "touch" => {
                let n = ctx.get("/n").and_then(Value::as_i64).unwrap_or(0);
                ctx.set("/n", json!(n + 1))?;
                ctx.mark("last")?;
            }
            "fail_after_changes" => {
                ctx.set("/n", json!(1000))?;
                ctx.state_mut()["last"] = json!("changed in place");
                ctx.remove("/blob");
                ctx.flash("info", "never shown");
                ctx.set_title("never set");
                ctx.mark("last")?;
                return Err(HostError("failing after changes".into()));
            }
            other => return Err(HostError(format!("unknown event {other}"))),
        }
        Ok(())
    }
}

fn room_spec(messages: Arc<Mutex<Vec<String>>>) -> PageSpec {
    let mut regions = BTreeMap::new();
    regions.insert("messages".to_string(), "output/messages".to_string());
    regions.insert("last".to_string(), "output/last".to_string());
    PageSpec { template: "output/index".into(), regions, layout: None, handler: Arc::new(Room { messages }) }
}

/// An app serving [`Room`] at `/room`, in dev mode (so error replies carry the
/// callback's message).
struct RoomApp {
    app: Option<Arc<App>>,
    addr: SocketAddr,
}

impl RoomApp {
    fn start(configure: impl FnOnce(&mut Options)) -> RoomApp {
        let mut opts = base_options();
        opts.dev = true;
        configure(&mut opts);
        let app = App::new(opts).expect("App::new");
        app.register_page("/room", room_spec(Arc::default())).expect("register /room");
        let addr = app.start("127.0.0.1:0").expect("start");
        RoomApp { app: Some(Arc::new(app)), addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> HttpResponse {
        http(self.addr, "GET", path, &[], b"").await
    }

    /// GETs the room, opens a socket and joins; returns the socket and the page.
    async fn live(&self) -> (WsClient, Loaded) {
        let page = self.page().await;
        let mut ws = connect_ws(self.addr, Some(&self.url(""))).await.expect("WebSocket connect");
        let joined = ws.join(&page.boot.token, &self.url("/room"), 0).await;
        assert_eq!(joined["resumed"], true, "{joined}");
        (ws, page)
    }

    /// GETs the room as a browser would, keeping the cookies it sets.
    async fn page(&self) -> Loaded {
        let resp = self.get("/room").await;
        assert_eq!(resp.status, 200, "GET /room: {}", resp.text());
        let html = resp.text();
        let cookies = cookies_of(&resp);
        Loaded { boot: boot(&html), html, cookies }
    }

    /// A no-JS form POST from the page's own origin, with the page's cookies.
    async fn post(&self, page: &Loaded, click: &str) -> HttpResponse {
        let token = hidden_input(&page.html, "_lv_token").expect("_lv_token input");
        let csrf = hidden_input(&page.html, "_csrf").expect("_csrf input");
        let body = form_encode(&[("_lv_token", &token), ("_csrf", &csrf), ("_lv_click", click)]);
        let origin = self.url("");
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &origin)];
        if !page.cookies.is_empty() {
            headers.push(("Cookie", &page.cookies));
        }
        http(self.addr, "POST", "/room", &headers, body.as_bytes()).await
    }
}

impl Drop for RoomApp {
    fn drop(&mut self) {
        if let Some(app) = self.app.take() {
            let _ = std::thread::spawn(move || drop(app)).join();
        }
    }
}

struct Loaded {
    html: String,
    boot: Boot,
    /// `name=value; ...` of every cookie the GET set.
    cookies: String,
}

fn cookies_of(resp: &HttpResponse) -> String {
    resp.headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `last` region's text as a patch shows it.
fn last_region(patch: &Value) -> String {
    region(patch, "last").trim().to_string()
}

// ---------------------------------------------------------------------------------
// 1. Every template escapes
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_fallback_layout_escapes_the_title() {
    // No `layouts/missing.html`: the built-in layout is used.
    let t = RoomApp::start(|o| o.layout = "missing".into());
    let html = t.page().await.html;
    assert!(html.contains(r#"<meta name="viewport""#), "not the fallback layout: {html}");
    assert!(
        html.contains("<title>&lt;script&gt;alert(&quot;t&quot;)&lt;") && html.contains(" &amp; co</title>"),
        "the title is not escaped: {html}"
    );
    assert!(!html.contains("<script>alert"), "a script from the title reached the page: {html}");
    // The body is markup, not text: it is not escaped a second time.
    assert!(html.contains(r#"<div id="lv-root" data-lv>"#), "{html}");

    // The folder's own layout escapes the same way.
    let t = RoomApp::start(|_| {});
    let html = t.page().await.html;
    assert!(html.contains("<title>&lt;script&gt;"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
}

// ---------------------------------------------------------------------------------
// 2. Redirect and navigate targets
// ---------------------------------------------------------------------------------

const REFUSED_TARGETS: &[&str] = &[
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    "/\\evil.example/x",
    "/\t/evil.example/x",
    "https://evil.example/x",
    "http://pay.example.evil.example/x",
    "https://pay.example@evil.example/x",
    "https:evil.example",
    "evil.example",
    "",
];

#[tokio::test]
async fn redirect_and_navigate_refuse_other_sites_over_the_socket() {
    let t = RoomApp::start(|o| o.redirect_hosts = vec!["pay.example".into()]);
    let (mut ws, _) = t.live().await;

    for event in ["go", "nav"] {
        for to in REFUSED_TARGETS {
            let r = ws.event(event, json!({ "to": to })).await;
            // The error reply comes first: no redirect or navigate frame before it.
            let error = ws.expect_error(r).await;
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains("refused"), "{event} {to:?}: {error}");
            assert!(
                message.contains(&format!("{to:?}")),
                "{event} {to:?}: the message names no URL: {error}"
            );
        }
    }

    // Paths of the app and listed hosts pass, in any case, with any port.
    for to in ["/next", "/rooms/a?b=c#d", "https://pay.example/checkout", "http://PAY.example:8443/x"] {
        let r = ws.event("go", json!({ "to": to })).await;
        let frame = ws.recv_type("redirect").await;
        assert_eq!(frame["to"], *to, "{frame}");
        ws.expect_ok(r).await;

        let r = ws.event("nav", json!({ "to": to })).await;
        let frame = ws.recv_type("navigate").await;
        assert_eq!(frame["to"], *to, "{frame}");
        ws.expect_ok(r).await;
    }
}

#[tokio::test]
async fn a_refused_redirect_fails_the_callback_even_when_the_host_ignores_it() {
    let t = RoomApp::start(|_| {});
    let (mut ws, _) = t.live().await;
    let r = ws.event("go_ignore", json!({"to": "javascript:alert(1)"})).await;
    let error = ws.expect_error(r).await;
    assert!(error["message"].as_str().unwrap_or_default().contains("javascript:alert(1)"), "{error}");
    // Nothing of the failed callback was committed.
    let patch = ws.event_patch("touch", json!({})).await;
    assert_eq!(last_region(&patch), "<p>n=1 last= blob=0</p>", "{patch}");
}

#[tokio::test]
async fn redirect_is_refused_on_the_no_javascript_path() {
    let t = RoomApp::start(|_| {});
    for to in ["javascript:alert(1)", "//evil.example/x", "https://evil.example/x"] {
        let page = t.page().await;
        let click = format!("go?{}", form_encode(&[("to", to)]));
        let resp = t.post(&page, &click).await;
        assert_eq!(resp.status, 303, "{to:?}: {}", resp.text());
        assert_eq!(resp.header("location"), Some("/room"), "{to:?} was followed");
    }
    // An allowed one is followed.
    let page = t.page().await;
    let resp = t.post(&page, "go?to=%2Fnext").await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(resp.header("location"), Some("/next"));
}

#[test]
fn redirect_hosts_must_be_host_names() {
    for bad in ["", "https://pay.example", "pay.example/x", "user@pay.example"] {
        let opts = Options { redirect_hosts: vec![bad.into()], ..base_options() };
        assert!(App::new(opts).is_err(), "{bad:?} was accepted");
    }
}

// ---------------------------------------------------------------------------------
// 3. Security headers
// ---------------------------------------------------------------------------------

fn directive<'a>(csp: &'a str, name: &str) -> Option<&'a str> {
    csp.split(';').map(str::trim).find(|d| d.split(' ').next() == Some(name))
}

#[tokio::test]
async fn pages_carry_a_csp_and_the_other_security_headers() {
    let t = RoomApp::start(|_| {});
    let page = t.get("/room").await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a Content-Security-Policy on the page");
    assert_eq!(directive(csp, "script-src"), Some("script-src 'self'"), "{csp}");
    assert_eq!(directive(csp, "frame-ancestors"), Some("frame-ancestors 'self'"), "{csp}");
    assert_eq!(directive(csp, "object-src"), Some("object-src 'none'"), "{csp}");
    assert_eq!(directive(csp, "base-uri"), Some("base-uri 'self'"), "{csp}");
    assert_eq!(directive(csp, "default-src"), Some("default-src 'self'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));
    // The page needs nothing the policy forbids: its only script is the runtime from
    // this origin, its boot data a JSON block.
    let html = page.text();
    assert!(html.contains(r#"<script src="/_live/runtime.js?v="#), "{html}");
    assert_eq!(html.matches("<script").count(), 2, "an inline script would be blocked: {html}");

    let js = t.get("/_live/runtime.js").await;
    assert_eq!(js.status, 200);
    assert_eq!(js.header("x-content-type-options"), Some("nosniff"));
    assert!(js.header("content-type").is_some_and(|v| v.starts_with("text/javascript")));

    for path in ["/nowhere", "/_live/websocket"] {
        let resp = t.get(path).await;
        assert!(resp.status >= 400, "{path}: {}", resp.status);
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert!(resp.header("content-security-policy").is_some(), "{path}: {:?}", resp.headers);
    }
}

#[tokio::test]
async fn the_csp_can_be_extended_or_replaced() {
    let t = RoomApp::start(|o| {
        o.csp_extra =
            Some("img-src https://cdn.example; connect-src wss://push.example; script-src 'self'".into());
        o.redirect_hosts = vec!["pay.example".into()];
    });
    let resp = t.get("/room").await;
    let csp = resp.header("content-security-policy").expect("a CSP");
    assert_eq!(directive(csp, "img-src"), Some("img-src 'self' data: https://cdn.example"), "{csp}");
    // Absent from the default: starts from default-src, so 'self' stays allowed.
    assert_eq!(directive(csp, "connect-src"), Some("connect-src 'self' wss://push.example"), "{csp}");
    assert_eq!(directive(csp, "script-src"), Some("script-src 'self'"), "{csp}");
    // A no-JS POST may end on a listed host.
    assert_eq!(directive(csp, "form-action"), Some("form-action 'self' pay.example"), "{csp}");

    let t = RoomApp::start(|o| o.csp = Some("default-src 'none'; frame-ancestors 'none'".into()));
    let resp = t.get("/room").await;
    assert_eq!(resp.header("content-security-policy"), Some("default-src 'none'; frame-ancestors 'none'"));

    let t = RoomApp::start(|o| o.csp = Some(String::new()));
    let resp = t.get("/room").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-security-policy"), None);
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));

    let opts = Options { csp: Some("default-src 'self'\r\nSet-Cookie: x=y".into()), ..base_options() };
    assert!(App::new(opts).is_err(), "a CSP that splits headers was accepted");
}

// ---------------------------------------------------------------------------------
// 4. The live root is found structurally
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_message_that_says_data_lv_keeps_the_page_live() {
    let t = RoomApp::start(|_| {});
    let (mut ws, _) = t.live().await;
    let wrapper = r#"<div id="lv-root" data-lv>"#;
    for line in ["data-lv", "<div data-lv>", "<main data-lv=\"\">"] {
        let patch = ws.event_patch("say", json!({ "text": line })).await;
        let root = patch["root"].as_str().unwrap_or_else(|| panic!("no root: {patch}"));
        assert!(root.starts_with(wrapper), "the body lost its live root after {line:?}: {root}");
    }
    // A new visitor's page, with those messages in it, is live too.
    let page = t.page().await;
    assert!(page.html.contains("&lt;div data-lv&gt;"), "{}", page.html);
    assert!(page.html.contains(wrapper), "the page has no live root: {}", page.html);
}

// ---------------------------------------------------------------------------------
// 5. Memory bounds
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_resume_buffer_is_bounded_in_bytes() {
    // Room for one patch carrying 1000 bytes, not two.
    let t = RoomApp::start(|o| o.resume_buffer_bytes = 1500);
    let url = t.url("/room");
    let (mut ws, page) = t.live().await;
    let a = "a".repeat(1000);
    let b = "b".repeat(1000);
    ws.event_patch("last", json!({ "text": a })).await;
    ws.event_patch("last", json!({ "text": b })).await;
    assert_eq!(ws.seq, 2);
    drop(ws);

    // One patch behind: it is still kept, and replayed.
    let mut ws = connect_ws(t.addr, Some(&t.url(""))).await.expect("connect");
    let joined = ws.join(&page.boot.token, &url, 1).await;
    assert_eq!(joined["root"], Value::Null, "{joined}");
    let missed = ws.expect_patch().await;
    assert_eq!(ws.seq, 2, "{missed}");
    drop(ws);

    // Two behind: the older one was let go for the bytes, though 64 could be kept.
    let mut ws = connect_ws(t.addr, Some(&t.url(""))).await.expect("connect");
    let joined = ws.join(&page.boot.token, &url, 0).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["seq"], 2, "{joined}");
    let root =
        joined["root"].as_str().unwrap_or_else(|| panic!("a client too far behind got no body: {joined}"));
    assert!(root.contains(&b), "{root}");
    ws.expect_no_frame(QUIET).await;

    // A patch alone bigger than the buffer is not kept.
    let big = "c".repeat(2000);
    ws.event_patch("last", json!({ "text": big })).await;
    assert_eq!(ws.seq, 3);
    drop(ws);
    let mut ws = connect_ws(t.addr, Some(&t.url(""))).await.expect("connect");
    let joined = ws.join(&page.boot.token, &url, 2).await;
    let root = joined["root"].as_str().unwrap_or_else(|| panic!("no body: {joined}"));
    assert!(root.contains(&big), "{root}");
    ws.expect_no_frame(QUIET).await;
}

#[tokio::test]
async fn a_state_over_the_limit_fails_the_callback_and_keeps_the_old_state() {
    let t = RoomApp::start(|o| o.max_state_bytes = 2000);
    let (mut ws, _) = t.live().await;
    let patch = ws.event_patch("grow", json!({"n": "1000"})).await;
    assert_eq!(last_region(&patch), "<p>n=0 last= blob=1000</p>", "{patch}");

    for event in ["grow", "grow_mut", "grow_json"] {
        let r = ws.event(event, json!({"n": "5000"})).await;
        let error = ws.expect_error(r).await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("max_state_bytes"), "{event}: {error}");
        assert!(message.contains("2000"), "{event}: the limit is not named: {error}");
        assert!(message.contains("50"), "{event}: the size is not named: {error}");
    }
    // The state is the one before the failed callbacks.
    let patch = ws.event_patch("touch", json!({})).await;
    assert_eq!(last_region(&patch), "<p>n=1 last= blob=1000</p>", "{patch}");
    // Shrinking again is fine.
    let patch = ws.event_patch("grow_mut", json!({"n": "10"})).await;
    assert_eq!(last_region(&patch), "<p>n=1 last= blob=10</p>", "{patch}");
    // Values that replace each other add up to more than the limit, the state does not.
    for i in 0..20 {
        let text = format!("{i:03}{}", "y".repeat(300));
        let patch = ws.event_patch("last", json!({ "text": text })).await;
        assert!(last_region(&patch).contains(&text), "{patch}");
    }
    // A state written whole after one written whole is compared with it and only its
    // changes are set: one over the limit is still refused by the write itself.
    ws.event_patch("grow_json", json!({"n": "20"})).await;
    let patch = ws.event_patch("grow_json_quiet", json!({"n": "5000"})).await;
    assert_eq!(last_region(&patch), "<p>n=1 last=refused blob=20</p>", "{patch}");
}

#[test]
fn max_state_bytes_must_be_positive() {
    let opts = Options { max_state_bytes: 0, ..base_options() };
    assert!(App::new(opts).is_err());
}

#[tokio::test]
async fn a_failed_callback_changes_nothing_whichever_way_it_changed_the_state() {
    let t = RoomApp::start(|_| {});
    let (mut ws, _) = t.live().await;
    ws.event_patch("grow", json!({"n": "3"})).await;
    let r = ws.event("fail_after_changes", json!({})).await;
    let error = ws.expect_error(r).await;
    assert!(error["message"].as_str().unwrap_or_default().contains("failing after changes"), "{error}");
    // A read-only callback between: nothing to copy, nothing lost.
    let r = ws.event("go", json!({"to": "/stay"})).await;
    ws.recv_type("redirect").await;
    ws.expect_ok(r).await;
    let patch = ws.event_patch("touch", json!({})).await;
    assert_eq!(last_region(&patch), "<p>n=1 last= blob=3</p>", "{patch}");
    assert!(patch["title"].is_null(), "the failed callback's title was sent: {patch}");
    ws.expect_no_frame(QUIET).await;
}
