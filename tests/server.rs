//! The HTTP side and the app lifecycle: page GETs, the runtime asset, shutdown.

mod common;

use common::*;
use mizulive::Page;
use serde_json::json;
use std::io::Read;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn get_renders_the_mounted_state() {
    let t = TestApp::start(|_| {});
    let resp = t.get("/counter").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let ct = resp.header("content-type").expect("content-type");
    assert!(ct.starts_with("text/html"), "{ct}");
    let html = resp.text();
    assert!(html.contains(r#"<div id="lv-root" data-lv>"#), "{html}");
    assert!(html.contains(r#"<div id="stats"><p>Count: <strong id="count">41</strong></p></div>"#), "{html}");
    assert_eq!(count_in(&html), Some(START));
    assert!(html.contains(r#"<script id="lv-boot" type="application/json">"#), "{html}");
    assert!(html.contains(r#"<script src="/_live/runtime.js?v="#), "{html}");
    let boot_at = html.find("lv-boot").expect("boot");
    assert!(boot_at < html.find("</body>").expect("</body>"), "boot data after </body>");
    let boot = boot(&html);
    assert_eq!(boot.seq, 0);
    assert!(!boot.token.is_empty() && !boot.csrf.is_empty());
    assert_eq!(t.probe.mounts(), 1);

    // Each GET is its own session.
    let (_, second) = t.page("/counter").await;
    assert_ne!(second.token, boot.token);
    assert_eq!(t.probe.mounts(), 2);

    assert_eq!(t.get("/nope").await.status, 404);
    assert_eq!(t.get("/counter/extra").await.status, 404);
    assert_eq!(t.probe.mounts(), 2);
}

/// The goodbye of a shutdown: a `close` frame that says to reconnect, then the close
/// code for a restart.
async fn expect_shutdown_goodbye(ws: &mut WsClient, close: serde_json::Value) {
    assert_eq!(close["reason"], "shutdown", "{close}");
    assert_eq!(close["reconnect"], true, "{close}");
    let frame = ws.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Restart, "{frame:?}");
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect_and_releases_pages_once() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;
    let (_, _) = t.page("/other").await;
    assert_eq!(t.probe.drops(), 0);

    let app = t.app().clone();
    let shutting = tokio::task::spawn_blocking(move || app.shutdown());
    let close = ws.recv_type("close").await;
    expect_shutdown_goodbye(&mut ws, close).await;
    ws.expect_end().await;
    shutting.await.expect("shutdown thread").expect("shutdown");

    // A host's own server keeps its port; the library's listener closes.
    if common::host::from_env().is_none() {
        assert!(std::net::TcpStream::connect(t.addr).is_err(), "the port still accepts connections");
    }
    assert_eq!(t.probe.drops(), 1, "the page was not released exactly once");
    assert_eq!(t.app().session_count(), 0);
    // Idempotent, and dropping the app releases nothing twice.
    t.shutdown().await;
    let probe = t.probe.clone();
    drop(t);
    assert_eq!(probe.drops(), 1);
}

/// Every open socket hears the shutdown before the runtime stops: with many at once
/// (and the host threads busy), none sees its connection reset instead of the
/// `close` frame that tells it to reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reaches_every_open_socket_before_the_runtime_stops() {
    // One IO thread: every session's goodbye and every socket's write take turns on it.
    let t = TestApp::start(|o| o.io_threads = 1);
    let mut sockets = Vec::new();
    for _ in 0..200 {
        sockets.push(t.live("/counter").await.0);
    }
    let app = t.app().clone();
    let shutting = tokio::task::spawn_blocking(move || app.shutdown());
    for ws in &mut sockets {
        let close = ws.recv_type("close").await;
        expect_shutdown_goodbye(ws, close).await;
    }
    shutting.await.expect("shutdown thread").expect("shutdown");
}

/// A socket open but not joined yet (a page still loading its runtime) is told to
/// reconnect too, instead of being cut when the runtime stops.
#[tokio::test]
async fn shutdown_tells_a_socket_not_joined_yet_to_reconnect() {
    let t = TestApp::start(|_| {});
    let (mut joined, _, _) = t.live("/counter").await;
    let mut waiting = t.connect().await;
    let app = t.app().clone();
    let shutting = tokio::task::spawn_blocking(move || app.shutdown());
    for ws in [&mut waiting, &mut joined] {
        let close = ws.recv_type("close").await;
        expect_shutdown_goodbye(ws, close).await;
    }
    shutting.await.expect("shutdown thread").expect("shutdown");
}

/// `max_frame_bytes` bounds what clients send, not what pages render: a patch many
/// times larger arrives whole, and the socket stays open.
#[tokio::test]
async fn a_patch_larger_than_the_frame_limit_reaches_the_client() {
    let t = TestApp::start(|o| o.max_frame_bytes = 16 * 1024);
    let (mut ws, _, _) = t.live("/counter").await;
    let r = ws.event("sub", json!({"topic": "big"})).await;
    ws.expect_ok(r).await;
    let line = "y".repeat(300 * 1024);
    t.app().publish("big", &json!({"msg": line}).to_string()).expect("publish");
    let patch = ws.expect_patch().await;
    assert_eq!(patch.to_string().matches(&line).count(), 1, "the patch carries the message");
    // Still open: the next event is answered.
    let patch = ws.event_patch("inc", json!({})).await;
    assert_eq!(count_in(patch["regions"]["stats"].as_str().unwrap_or_default()), Some(START + 1));
}

/// A socket whose client is behind (megabytes of patches queued and in the kernel's
/// buffers when the shutdown starts) still gets every frame and the goodbye once its
/// client reads again: the runtime is not stopped under its writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_socket_that_is_behind_finish_its_goodbye() {
    const MESSAGES: usize = 40;
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;
    let r = ws.event("sub", json!({"topic": "news"})).await;
    ws.expect_ok(r).await;
    // Each message makes the whole log region grow by 20 KB (the state stays below
    // `max_state_bytes`): about 16 MB of patches the client does not read yet.
    let line = "x".repeat(20 * 1024);
    for _ in 0..MESSAGES {
        t.app().publish("news", &json!({"msg": line}).to_string()).expect("publish");
    }
    let probe = t.probe.clone();
    common::wait_for("every message to be rendered", || probe.infos() == MESSAGES).await;

    let app = t.app().clone();
    let shutting = tokio::task::spawn_blocking(move || app.shutdown());
    // Renders may have been folded together; the last patch shows the whole log.
    let mut last = None;
    let close = loop {
        let frame = ws.recv_json(WAIT).await;
        match frame["t"].as_str() {
            Some("patch") => last = Some(frame.to_string()),
            Some("close") => break frame,
            _ => panic!("unexpected frame {frame}"),
        }
    };
    let last = last.expect("a patch before the goodbye");
    assert_eq!(last.matches(&line).count(), MESSAGES, "the last patch has every message");
    expect_shutdown_goodbye(&mut ws, close).await;
    shutting.await.expect("shutdown thread").expect("shutdown");
}

#[tokio::test]
async fn runtime_asset_is_cached_and_gzipped() {
    let t = TestApp::start(|_| {});
    let plain = t.get("/_live/runtime.js").await;
    assert_eq!(plain.status, 200);
    let ct = plain.header("content-type").expect("content-type");
    assert!(ct.contains("javascript"), "{ct}");
    assert_eq!(plain.header("content-encoding"), None);
    assert!(!plain.body.is_empty());
    let etag = plain.header("etag").expect("an ETag").to_string();

    let gz = http(t.addr, "GET", "/_live/runtime.js", &[("Accept-Encoding", "gzip, deflate")], b"").await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(gz.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
    // A budget, so growth is a decision: the runtime ships unminified.
    assert!(gz.body.len() <= 10 * 1024, "gzipped runtime is {} bytes", gz.body.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gz.body.as_slice()).read_to_end(&mut unzipped).expect("valid gzip");
    assert_eq!(unzipped, plain.body);
    assert_eq!(gz.header("etag"), Some(etag.as_str()));

    let cached = http(t.addr, "GET", "/_live/runtime.js", &[("If-None-Match", &etag)], b"").await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    let stale = http(t.addr, "GET", "/_live/runtime.js", &[("If-None-Match", "\"0000\"")], b"").await;
    assert_eq!(stale.status, 200);
    assert_eq!(plain.header("cache-control"), Some("public, max-age=300"));
}

#[tokio::test]
async fn a_page_names_its_runtime_by_version_which_is_kept_for_a_year() {
    let t = TestApp::start(|_| {});
    let page = t.get("/counter").await;
    let html = page.text();
    let src = html
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no runtime script in {html}"));
    let version = src.strip_prefix("/_live/runtime.js?v=").unwrap_or_else(|| panic!("unversioned: {src}"));
    let current = t.get(src).await;
    assert_eq!(current.status, 200);
    assert_eq!(current.header("cache-control"), Some("public, max-age=31536000, immutable"));
    // The version is the runtime's: its ETag, so a new runtime gets a new URL.
    assert_eq!(current.header("etag").map(|e| e.trim_matches('"')), Some(version));
    assert_eq!(current.body, t.get("/_live/runtime.js").await.body);
    // Another version (a page of an older runtime) is not promised to stay.
    let older = t.get("/_live/runtime.js?v=0000000000000000").await;
    assert_eq!(older.status, 200);
    assert_eq!(older.header("cache-control"), Some("public, max-age=300"));
}

#[tokio::test]
async fn static_files_are_served_from_their_folder_only() {
    let dir = std::env::temp_dir().join(format!("mizulive-static-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("public/css")).expect("static folder");
    std::fs::write(dir.join("public/css/app.css"), "body { color: teal }").expect("css");
    std::fs::write(dir.join("public/.env"), "SECRET=1").expect("hidden file");
    std::fs::write(dir.join("secret.txt"), "not public").expect("outside file");
    let public = dir.join("public");
    let t = TestApp::start(|o| o.static_dir = Some(public.clone()));

    let css = t.get("/static/css/app.css").await;
    assert_eq!(css.status, 200, "{}", css.text());
    assert_eq!(css.text(), "body { color: teal }");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("x-content-type-options"), Some("nosniff"));
    let etag = css.header("etag").expect("an ETag").to_string();
    let again = http(t.addr, "GET", "/static/css/app.css", &[("If-None-Match", &etag)], b"").await;
    assert_eq!(again.status, 304);

    for path in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/.env",
        "/static/css/",
        "/static/x.css",
    ] {
        let resp = t.get(path).await;
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
        assert!(!resp.text().contains("not public") && !resp.text().contains("SECRET"), "{path}");
    }
    let post = http(t.addr, "POST", "/static/css/app.css", &[], b"x").await;
    assert_eq!(post.status, 405);
    // Pages still work next to them, and none may hide under the prefix.
    assert_eq!(t.get("/counter").await.status, 200);
    let probe: Arc<dyn Page> = Arc::new(Counter { probe: t.probe.clone() });
    let err = t.app().register_page("/static/page", counter_spec(probe)).expect_err("a page under /static/");
    assert!(err.to_string().contains("static_prefix"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Records the route params each mount saw.
#[derive(Default)]
struct Params(std::sync::Mutex<Vec<serde_json::Value>>);

impl Page for Params {
    fn mount(&self, ctx: &mut mizulive::Ctx<'_>) -> Result<(), mizulive::HostError> {
        self.0.lock().unwrap().push(serde_json::Value::Object(ctx.params().clone()));
        ctx.set_state(serde_json::json!({"count": 0, "log": []}));
        Ok(())
    }

    fn event(&self, _: &mut mizulive::Ctx<'_>, _: &mizulive::Event) -> Result<(), mizulive::HostError> {
        Ok(())
    }
}

#[tokio::test]
async fn route_params_arrive_percent_decoded() {
    let t = TestApp::start(|_| {});
    let seen = Arc::new(Params::default());
    t.app().register_page("/boards/{board}", counter_spec(seen.clone())).expect("register /boards/{board}");
    for path in ["/boards/a", "/boards/%61", "/boards/%C3%A9t%C3%A9", "/boards/a%20b", "/boards/%FF"] {
        assert_eq!(t.get(path).await.status, 200, "{path}");
    }
    let boards: Vec<String> =
        seen.0.lock().unwrap().iter().map(|p| p["board"].as_str().unwrap_or("?").to_string()).collect();
    assert_eq!(boards, ["a", "a", "été", "a b", "\u{fffd}"]);
    // A route in another framework's syntax is refused, naming ours.
    let err = t.app().register_page("/q/:id", counter_spec(seen.clone())).expect_err("/q/:id");
    assert!(err.to_string().contains("write \"/q/{id}\""), "{err}");
}

#[tokio::test]
async fn a_template_error_on_the_page_get_names_the_template_once() {
    let t = TestApp::start(|o| o.dev = true);
    let view = r#"<div id="lv-root" data-lv>{{ state.nope.deeper }}</div>"#;
    t.app().add_view("pages/broken.html", view).expect("add the view");
    let probe: Arc<dyn Page> = Arc::new(Counter { probe: t.probe.clone() });
    let spec = mizulive::PageSpec {
        template: "broken".into(),
        regions: Default::default(),
        layout: None,
        handler: probe,
    };
    t.app().register_page("/broken", spec).expect("register /broken");
    let resp = t.get("/broken").await;
    assert_eq!(resp.status, 500);
    let body = resp.text();
    assert_eq!(body.matches("template error").count(), 1, "{body}");
    assert!(body.contains("pages/broken.html"), "{body}");
}
