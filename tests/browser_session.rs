//! The browser session: a small map per browser (its signed `lv_bid` cookie) that
//! every page session of that browser mounts with, reads and writes; over the
//! WebSocket and on the no-JS POST, from the auth hook, across nodes through Redis.
//! And what it must not do: reach another browser, outgrow its limit, keep a failed
//! callback's writes, outlive its idle time.

mod common;

use common::redis::RedisServer;
use common::*;
use mizulive::{Auth, AuthDecision, Ctx, Event, HostError, Page, PageSpec, RequestInfo};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PAGE: &str = r#"<div id="lv-root" data-lv>
  {{ lv.form() }}<button {{ lv.click("set", key="voter", value="nojs") }}>vote</button></form>
  <p id="voter">{{ browser.voter }}</p>
</div>"#;

/// What every mount saw of the browser session, and the errors writes got.
#[derive(Default)]
struct Voter {
    mounts: Mutex<Vec<Map<String, Value>>>,
    /// The browser id each mount saw.
    ids: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
}

impl Voter {
    fn last_mount(&self) -> Map<String, Value> {
        self.mounts.lock().unwrap().last().cloned().expect("a mount ran")
    }
}

fn text(event: &Event, key: &str) -> String {
    event.values.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Page for Voter {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        self.mounts.lock().unwrap().push(ctx.browser_session().clone());
        self.ids.lock().unwrap().push(ctx.browser_id().to_string());
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError> {
        match event.name.as_str() {
            "set" => ctx.browser_set(&text(event, "key"), json!(text(event, "value")))?,
            "remove" => {
                ctx.browser_remove(&text(event, "key"));
            }
            "fail" => {
                ctx.browser_set("voter", json!("dropped"))?;
                return Err(HostError("refused after writing".into()));
            }
            "big" => {
                ctx.browser_set("small", json!("fits"))?;
                if let Err(e) = ctx.browser_set("big", json!("x".repeat(200))) {
                    self.errors.lock().unwrap().push(e.to_string());
                }
            }
            _ => {}
        }
        ctx.mark("lv-root")?;
        Ok(())
    }
}

fn spec(handler: Arc<Voter>) -> PageSpec {
    PageSpec { template: "vote/index".into(), regions: Default::default(), layout: None, handler }
}

fn with_voter(t: &TestApp) -> Arc<Voter> {
    let voter = Arc::new(Voter::default());
    t.app().add_view("pages/vote/index.html", PAGE).expect("add the view");
    t.app().register_page("/vote", spec(voter.clone())).expect("register /vote");
    voter
}

/// `lv_bid=...` of another browser than the tests' own.
fn other_browser() -> String {
    let id = format!("{:032x}", u128::from(std::process::id()) << 64 | 0xb0b);
    format!("lv_bid={}", mizulive::testing::browser_cookie_value(SECRET, &id))
}

/// What `<p id="voter">` shows in a page.
fn voter_in(html: &str) -> String {
    let start = html.find(r#"<p id="voter">"#).expect("the voter paragraph") + r#"<p id="voter">"#.len();
    html[start..].split('<').next().unwrap_or_default().to_string()
}

/// Loads `/vote` as the tests' browser and returns what its page shows.
async fn shown(t: &TestApp) -> String {
    let (html, _) = t.page("/vote").await;
    voter_in(&html)
}

/// Loads `/vote` with exactly the `cookie` given.
async fn shown_to(t: &TestApp, cookie: &str) -> (String, HttpResponse) {
    let resp = http_raw(t.addr, "GET", "/vote", &[("Cookie", cookie)], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    (voter_in(&resp.text()), resp)
}

/// Votes over the WebSocket in a page of the tests' browser.
async fn vote_live(t: &TestApp, value: &str) {
    let (mut ws, _, _) = t.live("/vote").await;
    let patch = ws.event_patch("set", json!({"key": "voter", "value": value})).await;
    assert!(patch.to_string().contains(value), "the page shows the vote at once: {patch}");
}

#[tokio::test]
async fn a_write_reaches_the_next_mount_of_the_same_browser_only() {
    let t = TestApp::start(|_| {});
    let voter = with_voter(&t);
    assert_eq!(shown(&t).await, "");
    assert!(voter.last_mount().is_empty());

    vote_live(&t, "v1").await;
    // Another page load (another tab) in this browser mounts with it.
    assert_eq!(shown(&t).await, "v1");
    assert_eq!(voter.last_mount().get("voter"), Some(&json!("v1")));
    // Another browser does not.
    let (other, _) = shown_to(&t, &other_browser()).await;
    assert_eq!(other, "");
    assert!(voter.last_mount().is_empty(), "{:?}", voter.last_mount());

    // Removing a key is seen the same way.
    let (mut ws, _, _) = t.live("/vote").await;
    ws.event_patch("remove", json!({"key": "voter"})).await;
    assert_eq!(shown(&t).await, "");
}

#[tokio::test]
async fn a_no_js_post_writes_too() {
    let t = TestApp::start(|_| {});
    let _voter = with_voter(&t);
    let (html, boot) = t.page("/vote").await;
    let click = hidden_input(&html, "_lv_click").unwrap_or_else(|| "set?key=voter&value=nojs".into());
    let body = form_encode(&[("_lv_token", &boot.token), ("_csrf", &boot.csrf), ("_lv_click", &click)]);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let resp = http(t.addr, "POST", "/vote", &form, body.as_bytes()).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(shown(&t).await, "nojs", "a fresh page load (no resume cookie) sees the POST's write");
}

/// Logs in whoever brings a `login` cookie, by writing them into the browser
/// session; the user is whoever the browser session names.
struct LoginHook;

impl Auth for LoginHook {
    fn authenticate(&self, request: &RequestInfo) -> AuthDecision {
        if let Some(user) = request.cookies.get("login") {
            if request.browser_set("user", user.clone()).is_err() {
                return AuthDecision::Deny;
            }
        }
        let user = request.browser_session().get("user").and_then(Value::as_str).map(str::to_string);
        AuthDecision::Allow(user)
    }
}

#[tokio::test]
async fn the_auth_hook_sets_a_key_that_mount_sees() {
    let t = TestApp::start(|_| {});
    let voter = with_voter(&t);
    t.app().set_auth(Some(Arc::new(LoginHook)));
    let resp = http(t.addr, "GET", "/vote", &[("Cookie", "login=ann")], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(voter.last_mount().get("user"), Some(&json!("ann")), "mount sees the hook's write");
    // The next load, with no login cookie, is still ann's: the browser remembers.
    let (_, boot) = t.page("/vote").await;
    assert_eq!(voter.last_mount().get("user"), Some(&json!("ann")));
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &t.url("/vote"), 0).await;
    assert_eq!(joined["resumed"], true, "the join is ann's too: {joined}");
    // Another browser is nobody.
    let (_, _) = shown_to(&t, &other_browser()).await;
    assert!(voter.last_mount().is_empty());
}

#[tokio::test]
async fn a_forged_cookie_gets_a_fresh_id_and_none_of_the_victims_data() {
    let t = TestApp::start(|_| {});
    let _voter = with_voter(&t);
    vote_live(&t, "victim").await;
    let victim = browser_cookie();
    let (id, tag) = victim.trim_start_matches("lv_bid=").split_once('.').expect("a signed cookie");
    let other_tag = other_browser().split_once('.').map(|(_, t)| t.to_string()).expect("signed");
    let forgeries = [
        format!("lv_bid={id}"),
        format!("lv_bid={id}.{other_tag}"),
        format!("lv_bid={id}.{}", &tag[1..]),
        format!("lv_bid={id}.AAAAAAAAAAAAAAAAAAAAAA"),
    ];
    for forged in &forgeries {
        let (shown, resp) = shown_to(&t, forged).await;
        assert_eq!(shown, "", "{forged} reached the victim's map");
        let set = resp.header("set-cookie").unwrap_or_else(|| panic!("{forged}: no fresh cookie"));
        assert!(set.starts_with("lv_bid=") && !set.contains(id), "{forged}: {set}");
    }
    assert_eq!(shown(&t).await, "victim", "the victim's own cookie still works");
}

#[tokio::test]
async fn a_map_over_the_limit_is_refused_and_changes_nothing() {
    let t = TestApp::start(|o| o.max_browser_session_bytes = 64);
    let voter = with_voter(&t);
    let (mut ws, _, _) = t.live("/vote").await;
    ws.event_quiet("big", json!({})).await;
    let errors = voter.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("max_browser_session_bytes") && errors[0].contains("64"), "{errors:?}");
    t.page("/vote").await;
    let seen = voter.last_mount();
    assert_eq!(seen.get("small"), Some(&json!("fits")), "the write within the limit stays: {seen:?}");
    assert_eq!(seen.get("big"), None, "{seen:?}");
}

#[tokio::test]
async fn a_failing_callbacks_writes_are_dropped() {
    let t = TestApp::start(|_| {});
    let voter = with_voter(&t);
    let (mut ws, _, _) = t.live("/vote").await;
    let r = ws.event("fail", json!({})).await;
    ws.expect_error(r).await;
    assert_eq!(shown(&t).await, "");
    assert!(voter.last_mount().is_empty(), "{:?}", voter.last_mount());
}

#[tokio::test]
async fn nodes_sharing_redis_share_the_map() {
    let redis = RedisServer::start();
    let node1 = TestApp::start(|o| o.redis = Some(redis.url()));
    let node2 = TestApp::start(|o| o.redis = Some(redis.url()));
    let _v1 = with_voter(&node1);
    let voter2 = with_voter(&node2);
    vote_live(&node1, "on-node-1").await;
    assert_eq!(shown(&node2).await, "on-node-1");
    assert_eq!(voter2.last_mount().get("voter"), Some(&json!("on-node-1")));
    let (other, _) = shown_to(&node2, &other_browser()).await;
    assert_eq!(other, "");
    // Written on node 2 (a no-JS POST), seen on node 1.
    let (_, boot) = node2.page("/vote").await;
    let body = form_encode(&[
        ("_lv_token", &boot.token),
        ("_csrf", &boot.csrf),
        ("_lv_click", "set?key=voter&value=on-node-2"),
    ]);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let resp = http(node2.addr, "POST", "/vote", &form, body.as_bytes()).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(shown(&node1).await, "on-node-2");
}

#[tokio::test]
async fn an_idle_map_expires() {
    let t = TestApp::start(|o| o.browser_session_ttl_s = 1);
    let _voter = with_voter(&t);
    vote_live(&t, "short-lived").await;
    assert_eq!(shown(&t).await, "short-lived");
    // Used last by the load above: once a second has passed since, it is gone.
    let used = Instant::now();
    tokio::time::sleep_until((used + Duration::from_millis(1100)).into()).await;
    assert_eq!(shown(&t).await, "");
}

#[tokio::test]
async fn every_page_of_a_browser_sees_one_browser_id() {
    let t = TestApp::start(|_| {});
    let voter = with_voter(&t);
    shown(&t).await;
    shown(&t).await;
    shown_to(&t, &other_browser()).await;
    let ids = voter.ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "two page loads of one browser");
    assert_ne!(ids[0], ids[2], "another browser");
    assert_eq!(ids[0].len(), 22, "{ids:?}");
    assert!(!ids[0].contains(browser_id()), "the id is a pseudonym, not the cookie's id");
}
