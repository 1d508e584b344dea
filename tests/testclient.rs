//! The headless test client (`mizulive::testing::TestClient`) against a real app, in
//! process: no port is opened and `start` is never called. Every assertion is about
//! what a browser would show or what the session holds.

use mizulive::testing::{TestClient, TestOptions};
use mizulive::{App, Ctx, Error, Event, HostError, Info, Options, Page, PageSpec, ViewsSource};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(300);
const WAIT: Duration = Duration::from_secs(5);

const LAYOUT: &str = r#"<!doctype html>
<html><head><title>{{ title or "Todo" }}</title></head>
<body>{{ content }}</body></html>"#;

const PAGE: &str = r#"<div id="lv-root" data-lv>
  <h1>Todo</h1>
  <div id="stats">{{ partial("todo/stats") }}</div>
  <ul id="items">{{ partial("todo/items") }}</ul>
  <button id="add" {{ lv.click("add") }}>Add</button>
  <div {{ lv.target("toolbar") }}><button class="go" {{ lv.click("go") }}>Go</button></div>
  <button class="fail" {{ lv.click("fail") }}>Fail</button>
  <a class="nav" {{ lv.click("nav") }}>Next</a> <button class="later" {{ lv.click("later") }}>Later</button>
  <input id="q" name="q" value="hi &amp; bye" {{ lv.keydown("typed", key="Enter") }} {{ lv.focus("focused") }}>
  {{ lv.form("save") }}
    <input name="title" value="draft">
    <label><input type="checkbox" name="tags" value="a"> A</label>
    <label><input type="checkbox" name="tags" value="b" checked> B</label>
    <label><input type="checkbox" name="tags" value="c"> C</label>
    <input type="radio" name="size" value="s" checked><input type="radio" name="size" value="m">
    <select name="colors" multiple>
      <option value="red">Red<option value="green" selected>Green<option value="blue">Blue
    </select>
    <select name="pick" {{ lv.change("picked") }}><option>one<option>two</select>
    <textarea name="note">
line one</textarea>
    <button type="submit" name="action" value="save">Save</button>
  </form>
</div>"#;

const STATS: &str = r#"<p>Count: <b>{{ state["items"]|length }}</b>{% if state.typed %} typed={{ state.typed }}{% endif %}</p>"#;
const ITEMS: &str = r#"{% for i in state["items"] %}<li id="item-{{ i.id }}">{{ i.text }} <button {{ lv.click("del", id=i.id) }}>x</button></li>
{% endfor %}"#;
const OTHER: &str = r#"<div id="lv-root" data-lv><p id="where">the other page</p></div>"#;

struct Todo;

fn items<'c>(ctx: &'c mut Ctx<'_>) -> &'c mut Vec<Value> {
    ctx.state_mut()["items"].as_array_mut().expect("items is an array")
}

fn add(ctx: &mut Ctx<'_>, text: &str) -> Result<(), HostError> {
    let next = ctx.state()["next"].as_i64().unwrap_or(0) + 1;
    ctx.state_mut()["next"] = json!(next);
    items(ctx).push(json!({"id": next, "text": text}));
    ctx.mark("items")?;
    ctx.mark("stats")?;
    Ok(())
}

impl Page for Todo {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        ctx.set_state(json!({"items": [], "next": 0}));
        for text in ["milk", "eggs", "bread"] {
            add(ctx, text)?;
        }
        ctx.subscribe("todo");
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, e: &Event) -> Result<(), HostError> {
        ctx.state_mut()["last"] = serde_json::to_value(e).map_err(|e| HostError(e.to_string()))?;
        match e.name.as_str() {
            "add" => {
                add(ctx, "new")?;
                let n = ctx.state()["items"].as_array().map_or(0, Vec::len);
                ctx.set_title(&format!("{n} items"));
                ctx.focus("#q");
            }
            "del" => {
                let id: i64 =
                    e.values.get("id").and_then(Value::as_str).and_then(|v| v.parse().ok()).unwrap_or(-1);
                items(ctx).retain(|i| i["id"] != id);
                ctx.mark("items")?;
                ctx.mark("stats")?;
            }
            "rename" => {
                let id: i64 =
                    e.values.get("id").and_then(Value::as_str).and_then(|v| v.parse().ok()).unwrap_or(-1);
                let text = e.values.get("text").cloned().unwrap_or_default();
                for item in items(ctx).iter_mut().filter(|i| i["id"] == id) {
                    item["text"] = json!(text);
                }
                ctx.mark("items")?;
            }
            "typed" => {
                ctx.state_mut()["typed"] = json!(e.values.get("value"));
                ctx.mark("stats")?;
            }
            "focused" => {}
            "save" | "picked" => {
                ctx.state_mut()["saved"] = Value::Object(e.form.clone());
                ctx.flash("info", "saved");
            }
            "go" => ctx.redirect("/other")?,
            "nav" => ctx.navigate("/other?from=todo", false)?,
            "later" => {
                ctx.send_after(Duration::from_millis(50), r#"{"text":"from a timer"}"#)?;
            }
            "fail" => return Err(HostError("the disk is full".into())),
            other => return Err(HostError(format!("unknown event {other}"))),
        }
        Ok(())
    }

    fn info(&self, ctx: &mut Ctx<'_>, info: &Info) -> Result<(), HostError> {
        let v: Value = serde_json::from_str(&info.data).map_err(|e| HostError(e.to_string()))?;
        add(ctx, v["text"].as_str().unwrap_or("?"))
    }
}

struct Other;

impl Page for Other {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        let browser = ctx.browser_id().to_string();
        ctx.set_state(json!({"browser": browser}));
        Ok(())
    }

    fn event(&self, _ctx: &mut Ctx<'_>, _e: &Event) -> Result<(), HostError> {
        Ok(())
    }
}

fn app() -> App {
    let views: BTreeMap<String, String> = [
        ("layouts/default.html", LAYOUT),
        ("pages/todo.html", PAGE),
        ("pages/other.html", OTHER),
        ("partials/todo/stats.html", STATS),
        ("partials/todo/items.html", ITEMS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let opts = Options {
        views: ViewsSource::Memory(views),
        dev: true,
        secret: Some("testclient-tests-secret-0123456789abcdef".into()),
        ..Options::default()
    };
    let app = App::new(opts).expect("app");
    let regions = [("stats", "todo/stats"), ("items", "todo/items")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let spec = PageSpec { template: "todo".into(), regions, layout: None, handler: Arc::new(Todo) };
    app.register_page("/todo", spec).expect("register /todo");
    let other = PageSpec {
        template: "other".into(),
        regions: BTreeMap::new(),
        layout: None,
        handler: Arc::new(Other),
    };
    app.register_page("/other", other).expect("register /other");
    app
}

fn ids(html: &str) -> Vec<String> {
    html.split("<li id=\"").skip(1).map(|s| s.split('"').next().unwrap_or("").to_string()).collect()
}

#[test]
fn a_click_updates_its_region_title_and_state_and_queues_its_command() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    assert_eq!(page.region("stats").expect("stats"), "<p>Count: <b>3</b></p>");
    assert_eq!(page.title().expect("title"), "Todo");
    page.click("#add").expect("click add");
    assert_eq!(page.region("stats").expect("stats"), "<p>Count: <b>4</b></p>");
    assert_eq!(page.title().expect("title"), "4 items");
    assert!(page.html().expect("html").contains("<title>4 items</title>"));
    let state = page.state().expect("state");
    assert_eq!(state["items"].as_array().map(Vec::len), Some(4));
    assert_eq!(state["last"]["type"], "click");
    assert_eq!(state["last"]["name"], "add");
    // The focus command the event asked for is a push; the event's own patch is not.
    let cmd = page.next_push(WAIT).expect("the command");
    assert_eq!(cmd["t"], "command");
    assert_eq!(cmd["cmds"][0], json!({"op": "focus", "selector": "#q"}));
    page.refute_push(QUIET).expect("nothing else");
    assert_eq!(app.session_count(), 1, "one session: the GET's, joined");
}

#[test]
fn a_click_sends_values_and_target_as_the_runtime_does() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.click("#item-2 button").expect("delete eggs");
    let last = page.state().expect("state")["last"].clone();
    assert_eq!(last["values"], json!({"id": "2"}));
    assert_eq!(last["target"], Value::Null);
    assert_eq!(ids(&page.region("items").expect("items")), ["item-1", "item-3"]);
    // The redirecting button sits in a data-lv-target element.
    let err = page.click("button.go").err();
    assert!(err.is_none(), "{err:?}");
}

#[test]
fn keyed_list_patches_by_parts_are_applied() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    // A publish appends an item: the patch carries only the new child.
    app.publish("todo", r#"{"text":"from pubsub"}"#).expect("publish");
    let patch = page.next_push(WAIT).expect("the patch");
    assert_eq!(patch["t"], "patch");
    assert!(patch["append"]["items"].as_str().is_some_and(|h| h.contains("from pubsub")), "{patch}");
    assert!(patch["regions"].get("items").is_none(), "sent by parts, not whole: {patch}");
    let items = page.region("items").expect("items");
    assert_eq!(ids(&items), ["item-1", "item-2", "item-3", "item-4"]);
    assert!(items.contains("from pubsub"));
    // A removal in the middle.
    page.click("#item-2 [data-lv-click=del]").expect("delete");
    assert_eq!(ids(&page.region("items").expect("items")), ["item-1", "item-3", "item-4"]);
    // A renamed item: only its text goes out, and lands in the right node.
    page.event(r#"{"type":"click","name":"rename","values":{"id":"3","text":"rye & <spelt>"}}"#)
        .expect("rename");
    let items = page.region("items").expect("items");
    assert!(items.contains("<li id=\"item-3\">rye &amp; &lt;spelt&gt; <button"), "{items}");
    // What the client shows is what a fresh render of the same state shows.
    let fresh =
        app.render("partials/todo/items.html", &json!({"state": page.state().expect("state")}).to_string());
    let fresh = fresh.expect("render");
    // (Whitespace between the children aside: a removed child leaves its neighbour's.)
    let shown = page.region("items").expect("items");
    assert_eq!(fresh.replace('\n', ""), shown.replace('\n', ""));
}

#[test]
fn a_form_submit_sends_fields_as_a_browser_does() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.submit("form", None).expect("submit as rendered");
    let saved = page.state().expect("state")["saved"].clone();
    assert_eq!(
        saved,
        json!({"title": ["draft"], "tags": ["b"], "size": ["s"], "colors": ["green"], "pick": ["one"],
               "note": ["line one"]}),
        "no submitter, no _csrf or _lv_* fields; the unchecked boxes are absent"
    );
    let fields = json!({"title": "Shopping", "tags": ["a", "c"], "size": "m", "colors": ["red", "blue"],
                        "note": "two\nlines"});
    page.submit("form button[type=submit]", Some(&fields)).expect("submit with the button");
    let saved = page.state().expect("state")["saved"].clone();
    assert_eq!(
        saved,
        json!({"title": ["Shopping"], "tags": ["a", "c"], "size": ["m"], "colors": ["red", "blue"],
               "pick": ["one"], "note": ["two\nlines"], "action": ["save"]})
    );
    assert_eq!(page.state().expect("state")["last"]["name"], "save");
    assert_eq!(page.flash().expect("flash"), json!({"info": "saved"}), "nothing rendered it yet");
    // A field the form does not have, or a value no option has, fails by name.
    let err = page.submit("form", Some(&json!({"titel": "x"}))).expect_err("no such field").to_string();
    assert!(err.contains("no field named \"titel\"") && err.contains("title, tags"), "{err}");
    let err =
        page.submit("form", Some(&json!({"colors": ["pink"]}))).expect_err("no such option").to_string();
    assert!(err.contains("no option \"pink\""), "{err}");
}

#[test]
fn change_sends_the_form_and_the_field() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.change("select[name=pick]", "two").expect("change");
    let last = page.state().expect("state")["last"].clone();
    assert_eq!(last["type"], "change");
    assert_eq!(last["field"], "pick");
    assert_eq!(last["form"]["pick"], json!(["two"]));
    assert_eq!(last["form"]["title"], json!(["draft"]));
    let err = page.change("input[name=title]", "x").expect_err("no data-lv-change").to_string();
    assert!(err.contains("has no data-lv-change") && err.contains("\"picked\""), "{err}");
}

#[test]
fn keys_follow_data_lv_key() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    let err = page.key("#q", "keydown", "a").expect_err("filtered").to_string();
    assert!(err.contains("data-lv-key is \"Enter\""), "{err}");
    assert!(page.state().expect("state").get("typed").is_none(), "nothing was sent");
    page.key("#q", "keydown", "Enter").expect("Enter");
    let last = page.state().expect("state")["last"].clone();
    assert_eq!(last["key"], "Enter");
    assert_eq!(last["values"]["value"], "hi & bye", "the field's value, entities decoded");
    assert!(page.region("stats").expect("stats").contains("typed=hi &amp; bye"));
    let err = page.key("#q", "keyup", "Enter").expect_err("no keyup").to_string();
    assert!(err.contains("no data-lv-keyup"), "{err}");
}

#[test]
fn a_redirect_is_followed_to_the_next_page() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.click("button.go").expect("click go");
    assert_eq!(page.path(), Some("/other"));
    assert_eq!(page.text_of("#where").expect("where"), "the other page");
    let push = page.next_push(WAIT).expect("the redirect");
    assert_eq!(push, json!({"t": "redirect", "to": "/other"}));
    assert!(page.state().expect("state of the new page")["browser"].is_string());
}

#[test]
fn a_failing_callback_is_the_events_error() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    let err = page.click(".fail").expect_err("the callback fails");
    assert!(matches!(err, Error::Callback(_)), "{err:?}");
    let msg = err.to_string();
    assert_eq!(msg, "callback failed: host_error: the disk is full (the click \"fail\" on \".fail\")");
    page.refute_push(QUIET).expect("a failed event sends nothing");
    page.click("#add").expect("the session goes on");
}

#[test]
fn a_typo_in_an_event_name_fails_by_name() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    let err = page.click("[data-lv-click=ad]").expect_err("typo").to_string();
    assert!(err.contains("[data-lv-click=ad]") && err.contains("matches no element"), "{err}");
    assert!(err.contains("\"add\"") && err.contains("\"del\"") && err.contains("\"go\""), "{err}");
    let err = page.click("h1").expect_err("nothing to click").to_string();
    assert!(err.contains("has no data-lv-click"), "{err}");
    let err = page.click("button").expect_err("ambiguous").to_string();
    assert!(err.contains("matches") && err.contains("make it match one"), "{err}");
    let err = page.click("li:first-child").expect_err("unsupported").to_string();
    assert!(err.contains("pseudo-class"), "{err}");
    let err = page.region("stat").expect_err("no region").to_string();
    assert!(err.contains("no element #stat") && err.contains("stats"), "{err}");
}

#[test]
fn refute_push_names_what_arrived() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.refute_push(QUIET).expect("quiet");
    app.publish("todo", r#"{"text":"late"}"#).expect("publish");
    let err = page.refute_push(Duration::from_secs(2)).expect_err("a push arrived").to_string();
    assert!(err.contains("\"t\":\"patch\"") && err.contains("late"), "{err}");
    assert!(page.region("items").expect("items").contains("late"), "applied all the same");
    let err = page.next_push(QUIET).expect_err("none left");
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

#[test]
fn two_clients_on_one_topic_both_see_a_publish() {
    let app = app();
    let mut a = TestClient::open(&app, "/todo").expect("open a");
    let mut b = TestClient::open(&app, "/todo").expect("open b");
    a.click("#add").expect("a adds");
    assert_eq!(b.region("stats").expect("b"), "<p>Count: <b>3</b></p>", "sessions are apart");
    app.publish("todo", r#"{"text":"for all"}"#).expect("publish");
    for (name, page, count) in [("a", &mut a, 5), ("b", &mut b, 4)] {
        let mut push = page.next_push(WAIT).expect(name);
        if push["t"] == "command" {
            push = page.next_push(WAIT).expect(name);
        }
        assert_eq!(push["t"], "patch", "{name}: {push}");
        assert!(page.region("items").expect(name).contains("for all"), "{name}");
        assert_eq!(page.region("stats").expect(name), format!("<p>Count: <b>{count}</b></p>"), "{name}");
    }
    assert_eq!(app.session_count(), 2);
}

#[test]
fn the_raw_event_escape_hatch() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.event(r#"{"type":"click","name":"del","values":{"id":"1"}}"#).expect("raw event");
    assert_eq!(ids(&page.region("items").expect("items")), ["item-2", "item-3"]);
    let err = page.event(r#"{"type":"click"}"#).expect_err("no name").to_string();
    assert!(err.contains("\"name\""), "{err}");
}

#[test]
fn a_page_that_is_not_there_or_not_live_fails_to_open() {
    let app = app();
    let err = TestClient::open(&app, "/nope").expect_err("404").to_string();
    assert!(err.contains("GET /nope answered 404"), "{err}");
    let err = TestClient::open(&app, "/_live/runtime.js").expect_err("not a page").to_string();
    assert!(err.contains("no boot data"), "{err}");
    let opts = TestOptions { host: "example.test".into(), ..TestOptions::default() };
    let page = TestClient::open_with(&app, "/todo", opts).expect("any host: the origin follows it");
    assert_eq!(page.path(), Some("/todo"));
}

#[test]
fn the_clients_frames_never_reach_the_hosts_frame_queue() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.click("#add").expect("click");
    app.publish("todo", r#"{"text":"x"}"#).expect("publish");
    assert_eq!(page.next_push(WAIT).expect("command")["t"], "command");
    assert_eq!(page.next_push(WAIT).expect("patch")["t"], "patch");
    let stolen = app.next_frame(Duration::from_millis(200)).expect("next_frame");
    assert_eq!(stolen, None, "a host's embedding loop sees none of the test socket's frames");
}

struct LoginCookie;

impl mizulive::Auth for LoginCookie {
    fn authenticate(&self, request: &mizulive::RequestInfo) -> mizulive::AuthDecision {
        match request.cookies.get("login").and_then(Value::as_str) {
            Some(user) => mizulive::AuthDecision::Allow(Some(user.to_string())),
            None => mizulive::AuthDecision::Redirect("/login".into()),
        }
    }
}

#[test]
fn cookies_reach_the_auth_hook_and_https_origins_pass() {
    let views: BTreeMap<String, String> =
        [("pages/other.html", OTHER)].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let opts = Options {
        views: ViewsSource::Memory(views),
        secure_cookies: true,
        secret: Some("testclient-tests-secret-0123456789abcdef".into()),
        layout: String::new(),
        ..Options::default()
    };
    let app = App::new(opts).expect("app");
    let spec = PageSpec {
        template: "other".into(),
        regions: BTreeMap::new(),
        layout: None,
        handler: Arc::new(Other),
    };
    app.register_page("/other", spec).expect("register");
    app.set_auth(Some(Arc::new(LoginCookie)));
    let err = TestClient::open(&app, "/other").expect_err("redirected to log in").to_string();
    assert!(err.contains("GET /login answered 404"), "the hook's redirect was followed: {err}");
    let opts = TestOptions { cookies: vec![("login".into(), "ann".into())], ..TestOptions::default() };
    let mut page = TestClient::open_with(&app, "/other", opts).expect("logged in, over https");
    assert_eq!(page.text_of("#where").expect("where"), "the other page");
}

#[test]
fn focus_and_blur_use_their_attributes() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.focus("#q").expect("focus");
    let last = page.state().expect("state")["last"].clone();
    assert_eq!((last["type"].as_str(), last["name"].as_str()), (Some("focus"), Some("focused")));
    assert_eq!(last["values"]["value"], "hi & bye");
    let err = page.blur("#q").expect_err("no data-lv-blur").to_string();
    assert!(
        err.contains("has no data-lv-blur on it") && err.contains("the page has no data-lv-blur elements"),
        "{err}"
    );
}

#[test]
fn a_timer_pushes_and_a_navigation_is_followed() {
    let app = app();
    let mut page = TestClient::open(&app, "/todo").expect("open");
    page.click(".later").expect("set a timer");
    let patch = page.next_push(WAIT).expect("the timer's patch");
    assert_eq!(patch["t"], "patch");
    assert!(page.region("items").expect("items").contains("from a timer"));
    page.click("a.nav").expect("navigate");
    assert_eq!(
        page.next_push(WAIT).expect("navigate"),
        json!({"t": "navigate", "to": "/other?from=todo", "replace": false})
    );
    assert_eq!(page.path(), Some("/other?from=todo"));
    assert_eq!(page.text_of("#where").expect("the new page"), "the other page");
    let err = page.click(".later").expect_err("the old page is gone").to_string();
    assert!(err.contains("matches no element of /other?from=todo"), "{err}");
}

#[test]
fn one_client_is_one_browser() {
    let app = app();
    let mut page = TestClient::open(&app, "/other").expect("open");
    let first = page.state().expect("state")["browser"].clone();
    page.visit("/other").expect("load again");
    assert_eq!(page.state().expect("state")["browser"], first, "the browser cookie was kept");
    let mut other = TestClient::open(&app, "/other").expect("another browser");
    assert_ne!(other.state().expect("state")["browser"], first);
}

/// A page with more regions than a mark's bit set holds (64): a callback that marks
/// one region re-renders that one only, below the 64th place and beyond it.
#[test]
fn a_mark_re_renders_its_region_only_on_a_page_of_seventy() {
    struct Many;
    impl Page for Many {
        fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
            ctx.set_state_json(r#"{"n": 0}"#).map_err(|e| HostError(e.to_string()))
        }
        fn event(&self, ctx: &mut Ctx<'_>, e: &Event) -> Result<(), HostError> {
            let n = ctx.state()["n"].as_i64().unwrap_or(0) + 1;
            ctx.state_mut()["n"] = json!(n);
            ctx.mark(&e.get("which").unwrap_or_default()).map_err(|e| HostError(e.to_string()))
        }
    }
    // r00 .. r69: the spec orders regions by id, so each one's place is its number.
    let ids: Vec<String> = (0..70).map(|i| format!("r{i:02}")).collect();
    let body: String =
        ids.iter().map(|id| format!(r#"<span id="{id}">{{{{ partial("many/cell") }}}}</span>"#)).collect();
    let views: BTreeMap<String, String> = [
        ("pages/many.html".to_string(), format!(r#"<div id="lv-root" data-lv>{body}</div>"#)),
        ("partials/many/cell.html".to_string(), "{{ state.n }}".to_string()),
    ]
    .into();
    let opts = Options {
        views: ViewsSource::Memory(views),
        secret: Some("testclient-tests-secret-0123456789abcdef".into()),
        ..Options::default()
    };
    let app = App::new(opts).expect("app");
    let regions = ids.iter().map(|id| (id.clone(), "many/cell".to_string())).collect();
    let spec = PageSpec { template: "many".into(), regions, layout: None, handler: Arc::new(Many) };
    app.register_page("/many", spec).expect("register /many");

    let mut page = TestClient::open(&app, "/many").expect("open /many");
    let shown = |page: &mut TestClient| -> Vec<String> {
        ["r05", "r63", "r64", "r69"].iter().map(|id| page.text_of(&format!("#{id}")).expect(id)).collect()
    };
    assert_eq!(shown(&mut page), ["0", "0", "0", "0"]);
    for (which, after) in
        [("r69", ["0", "0", "0", "1"]), ("r05", ["2", "0", "0", "1"]), ("r64", ["2", "0", "3", "1"])]
    {
        page.event(&format!(r#"{{"type": "click", "name": "bump", "values": {{"which": "{which}"}}}}"#))
            .expect(which);
        assert_eq!(shown(&mut page), after, "after marking {which}");
    }
}
