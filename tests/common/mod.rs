//! Shared helpers for the integration tests: a test page, an app on a free port, a
//! tiny HTTP/1.1 client and a WebSocket client that speaks docs/protocol.md.
//!
//! Every wait is bounded: a helper that does not get what it waits for within
//! [`WAIT`] fails the test with what it saw instead of hanging.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use mizulive::protocol::PROTOCOL_VERSION;
use mizulive::{App, Ctx, Event, HostError, Info, Options, Page, PageSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any single expected thing may take to arrive.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);
/// Signs every test app's tokens (at least 32 bytes).
pub const SECRET: &str = "mizulive-integration-tests-secret-0123456789";
/// The count every counter session mounts with: distinctive enough to find in HTML.
pub const START: i64 = 41;
/// A detail a failing callback reports; it must reach the browser only in dev mode.
pub const BOOM_DETAIL: &str = "disk quota exceeded on /srv/secret-volume";
pub const PANIC_DETAIL: &str = "index out of bounds in secret-module";

pub fn views_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("views")
}

/// Options every test app starts from: the test views, a fixed secret.
pub fn base_options() -> Options {
    Options { views: views_dir().into(), secret: Some(SECRET.to_string()), ..Options::default() }
}

// ---------------------------------------------------------------------------------
// The test page
// ---------------------------------------------------------------------------------

/// What the test page lets a test observe and control from outside.
#[derive(Default)]
pub struct Probe {
    pub mounts: AtomicUsize,
    pub drops: AtomicUsize,
    pub infos: AtomicUsize,
    /// Event callbacks run (every name, failed ones included).
    pub events: AtomicUsize,
    /// Set when the `slow` event's callback is running.
    pub slow_started: AtomicBool,
    /// The name of the thread the last event callback ran on.
    pub event_thread: Mutex<Option<String>>,
    /// Closed gate: the `slow` callback waits until a test opens it.
    gate: Mutex<bool>,
    gate_cv: Condvar,
}

impl Probe {
    pub fn mounts(&self) -> usize {
        self.mounts.load(Ordering::SeqCst)
    }

    pub fn drops(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }

    pub fn infos(&self) -> usize {
        self.infos.load(Ordering::SeqCst)
    }

    pub fn open_gate(&self) {
        *self.gate.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.gate_cv.notify_all();
    }

    /// Waits for the gate; false when it stayed closed for `timeout`.
    fn wait_gate(&self, timeout: Duration) -> bool {
        let guard = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) =
            self.gate_cv.wait_timeout_while(guard, timeout, |open| !*open).unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// The counter page the tests drive. Its events (by name):
///
/// - `inc` / `dec` (`by`): change the count, log it, mark `stats` and `log`
/// - `note`: log a line, mark `stats` and `log` (only `log` changes)
/// - `same`: mark `stats` without changing anything
/// - `break`: log a line and make the page body fail to render from then on
/// - `boom`: change the count, then fail with [`BOOM_DETAIL`]
/// - `panic`: change the count, then panic with [`PANIC_DETAIL`]
/// - `sub` (`topic`): subscribe; each publish `{"msg": m}` logs `m` and marks `log`
/// - `tick`: a 50 ms timer whose info logs `tick`
/// - `tick_cancel`: sets a timer and cancels it in the same callback
/// - `arm` / `disarm`: set a 500 ms timer, cancel it in a later event
/// - `sub_boom` (`topic`): subscribe and set a 50 ms timer, then fail
/// - `slow`: waits for [`Probe::open_gate`], then increments
/// - `flash`: flash `info` = `Saved`, mark `notice`; `notice`: mark `notice`
pub struct Counter {
    pub probe: Arc<Probe>,
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.probe.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn count(ctx: &Ctx<'_>) -> i64 {
    ctx.get("/count").and_then(Value::as_i64).unwrap_or(0)
}

impl Page for Counter {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        self.probe.mounts.fetch_add(1, Ordering::SeqCst);
        ctx.set_state(json!({"count": START, "log": []}));
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError> {
        self.probe.events.fetch_add(1, Ordering::SeqCst);
        *self.probe.event_thread.lock().unwrap_or_else(|e| e.into_inner()) =
            std::thread::current().name().map(str::to_owned);
        match event.name.as_str() {
            "inc" | "dec" => {
                let by = event.int("by", 1);
                let delta = if event.name == "inc" { by } else { -by };
                let n = count(ctx) + delta;
                ctx.set("/count", json!(n))?;
                ctx.set("/log/-", json!(format!("{} {by} = {n}", event.name)))?;
                ctx.mark("stats")?;
                ctx.mark("log")?;
            }
            "note" => {
                ctx.set("/log/-", json!("note"))?;
                ctx.mark("stats")?;
                ctx.mark("log")?;
            }
            "same" => ctx.mark("stats")?,
            "break" => {
                // The page body (not the regions) fails to render from now on.
                ctx.set("/broken", json!(true))?;
                ctx.set("/log/-", json!("broken"))?;
                ctx.mark("log")?;
            }
            "boom" => {
                ctx.set("/count", json!(999))?;
                ctx.mark("stats")?;
                return Err(HostError(BOOM_DETAIL.to_string()));
            }
            "panic" => {
                ctx.set("/count", json!(-999))?;
                ctx.mark("stats")?;
                panic!("{PANIC_DETAIL}");
            }
            "sub" => {
                let topic = event.get("topic").ok_or_else(|| HostError("sub needs a topic".into()))?;
                ctx.subscribe(&topic);
            }
            "tick" => {
                ctx.send_after(Duration::from_millis(50), r#"{"timer":"tick"}"#)?;
            }
            "sub_boom" => {
                let topic = event.get("topic").ok_or_else(|| HostError("sub_boom needs a topic".into()))?;
                ctx.subscribe(&topic);
                ctx.send_after(Duration::from_millis(50), r#"{"timer":"boom"}"#)?;
                return Err(HostError(BOOM_DETAIL.to_string()));
            }
            "tick_cancel" => {
                let id = ctx.send_after(Duration::from_millis(100), r#"{"timer":"cancelled"}"#)?;
                if !ctx.cancel_timer(id) {
                    return Err(HostError("a just-set timer could not be cancelled".into()));
                }
            }
            "arm" => {
                let id = ctx.send_after(Duration::from_millis(500), r#"{"timer":"armed"}"#)?;
                ctx.set("/timer", json!(id))?;
            }
            "disarm" => {
                let id =
                    ctx.get("/timer").and_then(Value::as_u64).ok_or_else(|| HostError("no timer".into()))?;
                // A slow machine that let the timer fire first says so, instead of
                // leaving the test to wonder where an unexpected patch came from.
                if !ctx.cancel_timer(id) {
                    return Err(HostError("the timer fired before disarm".into()));
                }
            }
            "slow" => {
                self.probe.slow_started.store(true, Ordering::SeqCst);
                if !self.probe.wait_gate(Duration::from_secs(10)) {
                    return Err(HostError("the gate was never opened".into()));
                }
                ctx.set("/count", json!(count(ctx) + 1))?;
                ctx.mark("stats")?;
            }
            "flash" => {
                ctx.flash("info", "Saved");
                ctx.mark("notice")?;
            }
            "notice" => ctx.mark("notice")?,
            // `rows`: items with ids, added at the end, changed or removed by id.
            "row_add" => {
                let text = event.get("text").unwrap_or_default();
                let id = ctx.get("/next_row").and_then(Value::as_u64).unwrap_or(0);
                if ctx.get("/rows").is_none() {
                    ctx.set("/rows", json!([]))?;
                }
                ctx.set("/rows/-", json!({"id": id, "text": text}))?;
                ctx.set("/next_row", json!(id + 1))?;
                ctx.mark("rows")?;
            }
            "row_set" | "row_del" => {
                let id = event.int("id", -1);
                let rows = ctx.get("/rows").and_then(|r| r.as_array().cloned()).unwrap_or_default();
                let at = rows
                    .iter()
                    .position(|r| r["id"].as_i64() == Some(id))
                    .ok_or_else(|| HostError(format!("no row {id}")))?;
                if event.name == "row_set" {
                    ctx.set(&format!("/rows/{at}/text"), json!(event.get("text").unwrap_or_default()))?;
                } else {
                    ctx.remove(&format!("/rows/{at}"));
                }
                ctx.mark("rows")?;
            }
            "inc_focus" => {
                ctx.set("/count", json!(count(ctx) + 1))?;
                ctx.mark("stats")?;
                ctx.focus("#count");
            }
            other => return Err(HostError(format!("unknown event {other}"))),
        }
        Ok(())
    }

    fn info(&self, ctx: &mut Ctx<'_>, info: &Info) -> Result<(), HostError> {
        self.probe.infos.fetch_add(1, Ordering::SeqCst);
        let data = info.json();
        let line = match &info.topic {
            Some(_) => data.get("msg").and_then(Value::as_str).unwrap_or("?").to_string(),
            None => data.get("timer").and_then(Value::as_str).unwrap_or("?").to_string(),
        };
        ctx.set("/log/-", json!(line))?;
        ctx.mark("log")?;
        Ok(())
    }
}

/// `/counter`'s spec: regions `stats`, `log`, `notice` and `rows` (keyed children).
pub fn counter_spec(handler: Arc<dyn Page>) -> PageSpec {
    let mut regions = BTreeMap::new();
    regions.insert("stats".to_string(), "counter/stats".to_string());
    regions.insert("log".to_string(), "counter/log".to_string());
    regions.insert("notice".to_string(), "counter/notice".to_string());
    regions.insert("rows".to_string(), "counter/rows".to_string());
    PageSpec { template: "counter/index".into(), regions, layout: None, handler }
}

/// `/other`'s spec: a second page with `stats` and `log`.
pub fn other_spec(handler: Arc<dyn Page>) -> PageSpec {
    let mut regions = BTreeMap::new();
    regions.insert("stats".to_string(), "counter/stats".to_string());
    regions.insert("log".to_string(), "counter/log".to_string());
    PageSpec { template: "other/index".into(), regions, layout: None, handler }
}

// ---------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------

/// A running app on 127.0.0.1 with `/counter` and `/other` served by one [`Counter`].
/// Dropping it shuts the app down on a plain thread (shutting a runtime down from
/// inside the test's async runtime is not allowed).
pub struct TestApp {
    app: Option<Arc<App>>,
    pub addr: SocketAddr,
    pub probe: Arc<Probe>,
}

impl TestApp {
    /// On the library's own listener, or behind the host server `MIZULIVE_TEST_SERVER`
    /// names (see [`host`]).
    pub fn start(configure: impl FnOnce(&mut Options)) -> TestApp {
        match host::from_env() {
            Some(mode) => TestApp::start_with(configure, |app| host::serve(app, mode)),
            None => TestApp::start_with(configure, |app| app.start("127.0.0.1:0").expect("start")),
        }
    }

    /// [`TestApp::start`] with another server in front: `listen` serves the app and
    /// returns the address the tests reach it at.
    pub fn start_with(
        configure: impl FnOnce(&mut Options),
        listen: impl FnOnce(&Arc<App>) -> SocketAddr,
    ) -> TestApp {
        let mut opts = base_options();
        configure(&mut opts);
        let app = App::new(opts).expect("App::new");
        let probe = Arc::new(Probe::default());
        let handler: Arc<dyn Page> = Arc::new(Counter { probe: probe.clone() });
        app.register_page("/counter", counter_spec(handler.clone())).expect("register /counter");
        app.register_page("/other", other_spec(handler)).expect("register /other");
        let app = Arc::new(app);
        let addr = listen(&app);
        TestApp { app: Some(app), addr, probe }
    }

    pub fn app(&self) -> &Arc<App> {
        self.app.as_ref().expect("the app is running")
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `App::shutdown` on a blocking thread.
    pub async fn shutdown(&self) {
        let app = self.app().clone();
        tokio::task::spawn_blocking(move || app.shutdown())
            .await
            .expect("shutdown thread")
            .expect("shutdown");
    }

    pub async fn get(&self, path: &str) -> HttpResponse {
        http(self.addr, "GET", path, &[], b"").await
    }

    /// GETs a page (200 expected) and returns its HTML and boot data.
    pub async fn page(&self, path: &str) -> (String, Boot) {
        let resp = self.get(path).await;
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.text());
        let html = resp.text();
        let boot = boot(&html);
        (html, boot)
    }

    /// A WebSocket with this app's own origin.
    pub async fn connect(&self) -> WsClient {
        connect_ws(self.addr, Some(&self.origin())).await.expect("WebSocket connect")
    }

    /// GET `path`, open a socket and join the GET's session. Returns the client, the
    /// `joined` frame and the boot data.
    pub async fn live(&self, path: &str) -> (WsClient, Value, Boot) {
        let (_, boot) = self.page(path).await;
        let mut ws = self.connect().await;
        let joined = ws.join(&boot.token, &self.url(path), 0).await;
        (ws, joined, boot)
    }

    /// Polls `cond` until it holds; fails the test after [`WAIT`].
    pub async fn wait_until(&self, what: &str, cond: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !cond(self.app()) {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(app) = self.app.take() {
            let _ = std::thread::spawn(move || drop(app)).join();
        }
    }
}

/// Polls a condition until it holds; fails the test after [`WAIT`].
pub async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------
// HTTP/1.1
// ---------------------------------------------------------------------------------

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The browser id every test request carries in its `lv_bid` cookie, as a browser
/// keeps the one its first page GET set. One per test process, so parallel tests
/// never race to store theirs.
pub fn browser_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{:032x}", (u128::from(std::process::id()) << 96) ^ nanos)
    })
}

/// `name=value` of the test browser's cookie, signed as apps with [`SECRET`] sign it.
pub fn browser_cookie() -> String {
    format!("lv_bid={}", mizulive::testing::browser_cookie_value(SECRET, browser_id()))
}

/// `headers` with the test browser's cookie added (to a `Cookie` header already there).
fn with_browser(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    match out.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case("cookie")) {
        Some((_, v)) => *v = format!("{v}; {}", browser_cookie()),
        None => out.push(("Cookie".into(), browser_cookie())),
    }
    out
}

/// One request on a fresh connection (`Connection: close`), read to the end, from
/// the test browser (with its cookie).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let headers = with_browser(headers);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    http_raw(addr, method, path, &headers, body).await
}

/// [`http`] with exactly the headers given: no browser cookie.
pub async fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(req.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no complete response within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    parse_response(&raw).unwrap_or_else(|e| panic!("{method} {path}: bad response ({e}): {raw:?}"))
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| e.to_string())?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line.split_once(':').ok_or_else(|| format!("bad header {line:?}"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut resp = HttpResponse { status, headers, body: Vec::new() };
    let chunked = resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    resp.body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad content-length {len:?}"))?;
        if rest.len() < len {
            return Err(format!("body has {} of {len} bytes", rest.len()));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(resp)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `application/x-www-form-urlencoded` for a form body.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

// ---------------------------------------------------------------------------------
// Reading pages
// ---------------------------------------------------------------------------------

/// The `lv-boot` data of a page.
#[derive(Debug, Clone)]
pub struct Boot {
    pub token: String,
    pub seq: u64,
    pub csrf: String,
    pub dev: bool,
    /// The last client event number the session applied.
    pub eid: u64,
}

pub fn boot(html: &str) -> Boot {
    let open = r#"<script id="lv-boot" type="application/json">"#;
    let start = html.find(open).unwrap_or_else(|| panic!("no lv-boot script in:\n{html}")) + open.len();
    let len = html[start..].find("</script>").expect("lv-boot script is closed");
    let json: Value = serde_json::from_str(&html[start..start + len]).expect("lv-boot holds JSON");
    let text = |k: &str| {
        json.get(k).and_then(Value::as_str).unwrap_or_else(|| panic!("boot {k}: {json}")).to_string()
    };
    Boot {
        token: text("token"),
        csrf: text("csrf"),
        seq: json.get("seq").and_then(Value::as_u64).expect("boot seq"),
        dev: json.get("dev").and_then(Value::as_bool).expect("boot dev"),
        eid: json.get("eid").and_then(Value::as_u64).expect("boot eid"),
    }
}

/// The value of the hidden input named `name` (as `lv.form` writes it).
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let needle = format!(r#"<input type="hidden" name="{name}" value=""#);
    let start = html.find(&needle)? + needle.len();
    let len = html[start..].find('"')?;
    Some(
        html[start..start + len]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The count shown by the `stats` partial in `html`, if any.
pub fn count_in(html: &str) -> Option<i64> {
    let needle = r#"<strong id="count">"#;
    let start = html.find(needle)? + needle.len();
    let len = html[start..].find('<')?;
    html[start..start + len].trim().parse().ok()
}

// ---------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct WsClient {
    pub ws: Ws,
    /// Patches carry no number: this counts them from `joined.seq`, as a browser does,
    /// so it is the number of the last patch received.
    pub seq: u64,
    next_ref: u64,
    /// The reply a patch carried (`ref` in a patch answers that event), handed out by
    /// the next `recv_type("reply")` as if it had been a frame of its own.
    folded: Option<Value>,
}

/// Opens `/_live/websocket` from the test browser (with its cookie), with `origin` as
/// the Origin header when given.
pub async fn connect_ws(addr: SocketAddr, origin: Option<&str>) -> Result<WsClient, WsError> {
    connect_ws_with(addr, origin, Some(&browser_cookie())).await
}

/// Opens `/_live/websocket` with the given Origin and Cookie headers, if any.
pub async fn connect_ws_with(
    addr: SocketAddr,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> Result<WsClient, WsError> {
    let mut req = format!("ws://{addr}/_live/websocket").into_client_request()?;
    if let Some(origin) = origin {
        req.headers_mut().insert("Origin", HeaderValue::from_str(origin).expect("origin header value"));
    }
    if let Some(cookie) = cookie {
        req.headers_mut().insert("Cookie", HeaderValue::from_str(cookie).expect("cookie header value"));
    }
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("WebSocket handshake timed out")?;
    Ok(WsClient { ws, seq: 0, next_ref: 0, folded: None })
}

impl WsClient {
    pub async fn send(&mut self, msg: Message) {
        tokio::time::timeout(WAIT, self.ws.send(msg)).await.expect("send timed out").expect("send");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    pub async fn send_json(&mut self, v: &Value) {
        self.send_text(&v.to_string()).await;
    }

    /// The next frame of any kind; fails the test on timeout, error or end of stream.
    pub async fn recv(&mut self, timeout: Duration) -> Message {
        match tokio::time::timeout(timeout, self.ws.next()).await {
            Err(_) => panic!("no frame within {timeout:?}"),
            Ok(None) => panic!("the socket ended while a frame was expected"),
            Ok(Some(Err(e))) => panic!("socket error while a frame was expected: {e}"),
            Ok(Some(Ok(msg))) => msg,
        }
    }

    /// The next frame, which must be a JSON text frame.
    pub async fn recv_json(&mut self, timeout: Duration) -> Value {
        let mut v: Value = match self.recv(timeout).await {
            Message::Text(t) => serde_json::from_str(t.as_str())
                .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {}", t.as_str())),
            other => panic!("expected a JSON text frame, got {other:?}"),
        };
        // A patch is the one frame without a tag on the wire; tests name it like the rest.
        assert_ne!(v["t"], "patch", "a patch carries no \"t\": {v}");
        if v.get("t").is_none() {
            v["t"] = "patch".into();
        }
        if v["t"] == "patch" {
            assert!(v.get("seq").is_none(), "a patch carries no number: {v}");
            self.seq += 1;
            if v.get("ref").is_some() {
                assert!(v.get("ok").is_none(), "a patch that answers an event carries no \"ok\": {v}");
                self.folded = Some(json!({"t": "reply", "ref": v["ref"], "ok": true}));
            }
        } else if v["t"] == "joined" {
            self.seq = v["seq"].as_u64().expect("joined carries seq");
        }
        v
    }

    /// The reply to `r` that the last patch carried, if it did (taken).
    pub fn folded_reply(&mut self, r: u64) -> Option<Value> {
        self.folded.take_if(|reply| reply["ref"] == r)
    }

    /// The next frame, which must be of type `t`. A reply folded into the patch before
    /// it counts as the next `reply` frame.
    pub async fn recv_type(&mut self, t: &str) -> Value {
        if t == "reply" {
            if let Some(reply) = self.folded.take() {
                return reply;
            }
        }
        let v = self.recv_json(WAIT).await;
        assert_eq!(v["t"], t, "expected a {t} frame, got {v}");
        v
    }

    /// Asserts that no frame arrives within `quiet`.
    pub async fn expect_no_frame(&mut self, quiet: Duration) {
        if let Ok(got) = tokio::time::timeout(quiet, self.ws.next()).await {
            panic!("expected no frame for {quiet:?}, got {got:?}");
        }
    }

    /// Waits for the server's close: a Close frame or the end of the stream. Returns
    /// the close frame, if one came. Any other frame fails the test.
    pub async fn expect_closed(&mut self) -> Option<CloseFrame> {
        match tokio::time::timeout(WAIT, self.ws.next()).await {
            Err(_) => panic!("the socket was not closed within {WAIT:?}"),
            Ok(None) => None,
            Ok(Some(Ok(Message::Close(frame)))) => frame,
            Ok(Some(Ok(other))) => panic!("expected the socket to close, got {other:?}"),
            Ok(Some(Err(e))) => panic!("socket error instead of a close: {e}"),
        }
    }

    /// Waits until the stream ends (after a Close frame was already read).
    pub async fn expect_end(&mut self) {
        match tokio::time::timeout(WAIT, self.ws.next()).await {
            Err(_) => panic!("the socket did not end within {WAIT:?}"),
            Ok(None) | Ok(Some(Err(_))) => {}
            Ok(Some(Ok(Message::Close(_)))) => {}
            Ok(Some(Ok(other))) => panic!("expected the socket to end, got {other:?}"),
        }
    }

    /// Sends `join` and returns the `joined` frame (fails on anything else).
    pub async fn join(&mut self, token: &str, url: &str, seq: u64) -> Value {
        self.send_join(token, url, seq).await;
        self.recv_type("joined").await
    }

    pub async fn send_join(&mut self, token: &str, url: &str, seq: u64) {
        self.send_json(&json!({"t": "join", "v": PROTOCOL_VERSION, "token": token, "url": url, "seq": seq}))
            .await;
    }

    /// Sends a click event with `values`; returns its ref.
    pub async fn event(&mut self, name: &str, values: Value) -> u64 {
        self.next_ref += 1;
        let r = self.next_ref;
        self.send_json(&json!({
            "t": "event", "ref": r, "type": "click", "name": name, "target": null,
            "values": values, "form": {}, "key": null,
            "meta": {"shift": false, "ctrl": false, "alt": false, "meta": false},
        }))
        .await;
        r
    }

    /// The next frame must be the ok reply to `r`.
    pub async fn expect_ok(&mut self, r: u64) -> Value {
        let reply = self.recv_type("reply").await;
        assert_eq!(reply["ref"], r, "reply to the wrong event: {reply}");
        assert_eq!(reply["ok"], true, "event {r} failed: {reply}");
        reply
    }

    /// The next frame must be the error reply to `r`; returns its `error` object.
    pub async fn expect_error(&mut self, r: u64) -> Value {
        let reply = self.recv_type("reply").await;
        assert_eq!(reply["ref"], r, "reply to the wrong event: {reply}");
        assert_eq!(reply["ok"], false, "event {r} should have failed: {reply}");
        reply["error"].clone()
    }

    /// The next frame must be a patch; returns it.
    pub async fn expect_patch(&mut self) -> Value {
        self.recv_type("patch").await
    }

    /// Sends an event and expects exactly one patch, then its ok reply.
    pub async fn event_patch(&mut self, name: &str, values: Value) -> Value {
        let r = self.event(name, values).await;
        let patch = self.expect_patch().await;
        self.expect_ok(r).await;
        patch
    }

    /// Sends an event and expects its ok reply with nothing before it.
    pub async fn event_quiet(&mut self, name: &str, values: Value) {
        let r = self.event(name, values).await;
        self.expect_ok(r).await;
    }
}

/// The region ids of a patch, sorted.
pub fn region_ids(patch: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        patch["regions"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    ids.sort();
    ids
}

/// A patch's changes child by child: its `remove`, `set`, `text` and `append` fields,
/// those it has (`{}` for none).
pub fn child_changes(patch: &Value) -> Value {
    let fields = ["remove", "set", "text", "append"];
    Value::Object(fields.iter().filter_map(|&k| Some((k.to_string(), patch.get(k)?.clone()))).collect())
}

/// The HTML of one region of a patch.
pub fn region<'a>(patch: &'a Value, id: &str) -> &'a str {
    patch["regions"][id].as_str().unwrap_or_else(|| panic!("patch has no region {id}: {patch}"))
}
pub mod host;
pub mod process;
pub mod redis;
