//! [`TestClient`]: a headless browser for one page, driven in-process.

use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

use super::dom::{Dom, NodeId};
use super::select::Selector;
use crate::app::{App, Shared};
use crate::error::{Error, Result};
use crate::server::memory::{self, MemoryFrame, MemorySocket};

/// How long an event waits for its reply unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The client sends a heartbeat when it has sent nothing for this long, as the
/// browser runtime does, so a long test is not dropped as idle.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// A join `seq` ahead of any session's: the server answers with the whole body.
const RESYNC: u64 = (1 << 53) - 1;
/// How many redirects one page load follows.
const MAX_REDIRECTS: usize = 10;

/// How a [`TestClient`] reaches the app: extra request headers and cookies (an auth
/// hook's session cookie), the host name, the reply timeout.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// How long an event waits for its reply (and a page load for its join).
    pub timeout: Duration,
    /// Sent with every request and the WebSocket upgrade (`Authorization`, ...).
    pub headers: Vec<(String, String)>,
    /// Cookies the browser holds before its first request, for every path.
    pub cookies: Vec<(String, String)>,
    /// The `Host` the browser asks for; its origin is `http://` (or `https://` with
    /// `secure_cookies`) and this host, so the app's Origin check passes.
    pub host: String,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            timeout: DEFAULT_TIMEOUT,
            headers: Vec::new(),
            cookies: Vec::new(),
            host: "localhost".into(),
        }
    }
}

impl TestOptions {
    /// Reads `{"timeout_ms": 5000, "headers": {"Name": "value"}, "cookies": {"name":
    /// "value"}, "host": "localhost"}` (every key optional), for the C ABI.
    pub fn from_json(text: &str) -> Result<TestOptions> {
        let v: Value = serde_json::from_str(text).map_err(Error::json)?;
        let obj =
            v.as_object().ok_or_else(|| Error::Json("test client options must be a JSON object".into()))?;
        let mut opts = TestOptions::default();
        for (key, value) in obj {
            let pairs = |what: &str| -> Result<Vec<(String, String)>> {
                let map =
                    value.as_object().ok_or_else(|| Error::Json(format!("\"{what}\" must be an object")))?;
                map.iter()
                    .map(|(k, v)| match v.as_str() {
                        Some(s) => Ok((k.clone(), s.to_string())),
                        None => Err(Error::Json(format!("\"{what}\".\"{k}\" must be a string"))),
                    })
                    .collect()
            };
            match key.as_str() {
                "timeout_ms" => {
                    let ms = value
                        .as_u64()
                        .ok_or_else(|| Error::Json("\"timeout_ms\" must be a whole number".into()))?;
                    opts.timeout = Duration::from_millis(ms);
                }
                "headers" => opts.headers = pairs("headers")?,
                "cookies" => opts.cookies = pairs("cookies")?,
                "host" => {
                    opts.host = value
                        .as_str()
                        .ok_or_else(|| Error::Json("\"host\" must be a string".into()))?
                        .to_string()
                }
                other => {
                    return Err(Error::Json(format!(
                        "unknown test client option {other:?} (known: timeout_ms, headers, cookies, host)"
                    )))
                }
            }
        }
        Ok(opts)
    }
}

/// A cookie the client's browser holds.
#[derive(Debug, Clone)]
struct JarCookie {
    name: String,
    value: String,
    path: String,
}

/// The page the client shows.
struct Page {
    /// Path and query.
    path: String,
    dom: Dom,
    /// Set by a `title` patch when the page has no `<title>`.
    title: Option<String>,
    token: String,
    seq: u64,
    socket: Option<MemorySocket>,
    /// Why the socket ended, once it has.
    closed: Option<String>,
}

/// A headless browser for pages of an [`App`], driven in-process: no listening port,
/// no `start` needed. It loads a page the way a browser does (a GET through the app's
/// request path, cookies kept, then a WebSocket joined in memory with the page's boot
/// data and an Origin the app accepts), keeps the page's HTML as a document that
/// patches change as the browser runtime changes the DOM, and sends events by
/// pointing at rendered elements with a CSS selector, so an event name that the
/// template misspells fails the test.
///
/// Every method blocks (at most the client's timeout, 5 s by default, unless it takes
/// one) and must not be called from a host callback or inside an async runtime.
///
/// ## Events
///
/// [`click`](TestClient::click), [`submit`](TestClient::submit),
/// [`change`](TestClient::change), [`key`](TestClient::key),
/// [`focus`](TestClient::focus) and [`blur`](TestClient::blur) take a selector for one
/// element (see [`TestClient::select`] for the supported subset). The event is built
/// as the browser runtime builds it: the element or its nearest ancestor with
/// `data-lv-<type>` names it, its `data-lv-value-*` attributes give `values`,
/// the nearest `data-lv-target` gives `target`, forms are read as `FormData` reads
/// them. A selector that matches nothing or several elements, or an element with no
/// `data-lv-<type>` in reach, is an error that names the selector and lists the
/// page's `data-lv-<type>` names. Each event waits for its reply: `Ok(())`, or
/// [`Error::Callback`] with the reply's code and message.
///
/// ## Pushes
///
/// Every frame that is not the answer to an event is queued as a push, as JSON:
/// patches from pub/sub and timers (already applied to the page when you read them),
/// `command`, `redirect`, `navigate`, `error` and `close` frames. The patch that
/// answers an event (and, when the reply comes apart from it, the last patch before
/// that reply) is the event's and is not queued; its commands and navigation are.
/// [`next_push`](TestClient::next_push) takes the next one, and
/// [`refute_push`](TestClient::refute_push) asserts that none arrives.
///
/// ## Redirects
///
/// A `redirect` or `navigate` to a path of the app is followed as a browser would:
/// the new page is loaded (GET, then a join on a new socket) and the client shows it
/// ([`path`](TestClient::path) tells where it is). One to another site is queued
/// only; the client then has no live page.
///
/// ```no_run
/// use mizulive::testing::TestClient;
/// # fn demo(app: &mizulive::App) -> mizulive::Result<()> {
/// let mut page = TestClient::open(app, "/counter")?;
/// page.click("button[data-lv-click=inc]")?;
/// assert!(page.region("stats")?.contains("Count: <b>1</b>"));
/// assert_eq!(page.state()?["count"], 1);
/// page.refute_push(std::time::Duration::from_millis(100))?;
/// # Ok(()) }
/// ```
pub struct TestClient {
    shared: Arc<Shared>,
    opts: TestOptions,
    origin: String,
    jar: Vec<JarCookie>,
    page: Option<Page>,
    /// Where the page went when it left the app (a redirect to another site).
    left_for: Option<String>,
    pushes: VecDeque<Value>,
    /// The answer to the last event: `{"ok": true}`, or `{"ok": false, "error":
    /// {"code", "message"}}`; `None` before any, or when the last got none.
    last_reply: Option<Value>,
    next_ref: u64,
    eid: u64,
    last_sent: Instant,
}

/// What an event was sent about, for messages.
struct About<'a> {
    kind: &'a str,
    selector: &'a str,
}

impl About<'_> {
    fn on(&self) -> String {
        if self.selector.is_empty() {
            "sent by hand".into()
        } else {
            format!("on {:?}", self.selector)
        }
    }
}

impl TestClient {
    /// Loads the page at `path` (a path of the app, with its query if any) and joins
    /// its live session.
    pub fn open(app: &App, path: &str) -> Result<TestClient> {
        TestClient::open_with(app, path, TestOptions::default())
    }

    /// [`TestClient::open`] with options (headers, cookies, host, timeout).
    pub fn open_with(app: &App, path: &str, opts: TestOptions) -> Result<TestClient> {
        let shared = app.shared().clone();
        let scheme = if shared.opts.secure_cookies { "https" } else { "http" };
        let origin = format!("{scheme}://{}", opts.host);
        let jar = opts
            .cookies
            .iter()
            .map(|(name, value)| JarCookie { name: name.clone(), value: value.clone(), path: "/".into() })
            .collect();
        let mut client = TestClient {
            shared,
            opts,
            origin,
            jar,
            page: None,
            left_for: None,
            pushes: VecDeque::new(),
            last_reply: None,
            next_ref: 0,
            eid: 0,
            last_sent: Instant::now(),
        };
        client.visit(path)?;
        Ok(client)
    }

    /// Loads another page in the same browser (its cookies kept), as typing a URL
    /// would; the old page's socket closes. Pushes still queued stay queued.
    pub fn visit(&mut self, path: &str) -> Result<()> {
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(Error::Request(format!("{path:?} is not a path of the app (\"/counter?x=1\")")));
        }
        self.page = None;
        self.left_for = None;
        let (path, html) = self.get(path)?;
        self.live(path, html)
    }

    /// Sets a cookie in the client's browser, for every path (a login cookie an auth
    /// hook reads).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.retain(|c| !(c.name == name && c.path == "/"));
        self.jar.push(JarCookie { name: name.into(), value: value.into(), path: "/".into() });
    }

    /// How long events wait for their reply.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.opts.timeout = timeout;
    }

    /// The path (and query) of the page shown.
    pub fn path(&self) -> Option<&str> {
        self.page.as_ref().map(|p| p.path.as_str())
    }

    // -- loading

    /// GETs `path`, following redirects within the app; the final path and body.
    fn get(&mut self, path: &str) -> Result<(String, String)> {
        let mut path = path.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut headers = self.base_headers(&path)?;
            headers.insert(hyper::header::ACCEPT, hyper::header::HeaderValue::from_static("text/html"));
            let mut req = hyper::Request::new(Bytes::new());
            *req.uri_mut() =
                path.parse().map_err(|e| Error::Request(format!("{path:?} is not a valid path: {e}")))?;
            *req.headers_mut() = headers;
            let resp = self.run(crate::server::embed::respond(self.shared.clone(), req))?;
            self.store_cookies(&path, resp.headers());
            let status = resp.status();
            if status.is_redirection() {
                let to =
                    resp.headers().get(hyper::header::LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(
                        || Error::State(format!("GET {path} answered {status} with no Location")),
                    )?;
                match self.local(to) {
                    Some(next) => {
                        path = next;
                        continue;
                    }
                    None => {
                        self.left_for = Some(to.to_string());
                        return Err(Error::State(format!("GET {path} redirected to {to}, outside the app")));
                    }
                }
            }
            let body = String::from_utf8_lossy(resp.body()).into_owned();
            if !status.is_success() {
                return Err(Error::NotFound(format!(
                    "GET {path} answered {status}: {}",
                    body.chars().take(300).collect::<String>()
                )));
            }
            return Ok((path, body));
        }
        Err(Error::State(format!("GET {path}: more than {MAX_REDIRECTS} redirects")))
    }

    /// Shows the page `html` loaded from `path` and joins its session.
    fn live(&mut self, path: String, html: String) -> Result<()> {
        let dom = Dom::parse(&html);
        let boot = dom.by_id(Dom::ROOT, "lv-boot").map(|b| dom.text_content(b)).ok_or_else(|| {
            Error::State(format!("GET {path}: the page has no boot data (#lv-boot): not a live page"))
        })?;
        let boot: Value = serde_json::from_str(&boot)
            .map_err(|e| Error::State(format!("GET {path}: the boot data is not JSON: {e}")))?;
        let token = boot["token"]
            .as_str()
            .ok_or_else(|| Error::State(format!("GET {path}: the boot data has no token")))?
            .to_string();
        if live_root(&dom).is_none() {
            return Err(Error::State(format!("GET {path}: the page has no live root ([data-lv])")));
        }
        self.eid = self.eid.max(boot["eid"].as_u64().unwrap_or(0));
        self.page = Some(Page {
            path,
            dom,
            title: None,
            token,
            seq: boot["seq"].as_u64().unwrap_or(0),
            socket: None,
            closed: None,
        });
        self.join(None)
    }

    /// Opens a socket and joins the page's session, with `seq` (the page's own when
    /// `None`).
    fn join(&mut self, seq: Option<u64>) -> Result<()> {
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let path = page.path.clone();
        let mut headers = self.base_headers(&path)?;
        let origin = hyper::header::HeaderValue::from_str(&self.origin)
            .map_err(|_| Error::Request(format!("host {:?} is not a valid header value", self.opts.host)))?;
        headers.insert(hyper::header::ORIGIN, origin);
        // The typed names: a `&'static str` name is parsed at run time, and that parse
        // reads bytes valgrind takes for uninitialised.
        use hyper::header::{CONNECTION, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
        for (name, value) in [
            (UPGRADE, "websocket"),
            (CONNECTION, "Upgrade"),
            (SEC_WEBSOCKET_VERSION, "13"),
            (SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ=="),
        ] {
            headers.insert(name, hyper::header::HeaderValue::from_static(value));
        }
        self.check_blocking()?;
        let socket =
            memory::open(&self.shared, &memory::upgrade_request(headers)).map_err(|(status, body)| {
                Error::State(format!("the WebSocket upgrade for {path} was refused: {status} {body}"))
            })?;
        let join = json!({
            "t": "join", "v": crate::protocol::PROTOCOL_VERSION, "token": page.token,
            "url": format!("{}{}", self.origin, path), "seq": seq.unwrap_or(page.seq),
        });
        if let Some(page) = self.page.as_mut() {
            page.socket = Some(socket);
            page.closed = None;
        }
        self.send(&join)?;
        let deadline = Instant::now() + self.opts.timeout;
        loop {
            let Some(f) = self.read_frame(deadline)? else {
                return Err(Error::Timeout(format!(
                    "no answer to the join of {path} within {:?}",
                    self.opts.timeout
                )));
            };
            match f["t"].as_str() {
                Some("joined") => {
                    let page = self.page.as_mut().ok_or_else(|| Error::State("the page went away".into()))?;
                    if let Some(token) = f["token"].as_str() {
                        page.token = token.to_string();
                    }
                    if let Some(root) = f["root"].as_str() {
                        morph_root(&mut page.dom, root);
                    }
                    if let Some(seq) = f["seq"].as_u64() {
                        page.seq = seq;
                    }
                    self.eid = self.eid.max(f["eid"].as_u64().unwrap_or(0));
                    return Ok(());
                }
                Some("error") => {
                    return Err(Error::State(format!(
                        "the join of {path} was refused: {}: {}",
                        f["code"].as_str().unwrap_or("?"),
                        f["message"].as_str().unwrap_or("")
                    )))
                }
                Some("heartbeat") => {}
                _ => self.pushes.push_back(f),
            }
        }
    }

    /// The headers every request of this browser carries: Host, the cookies for
    /// `path`, and the options' extra headers.
    fn base_headers(&self, path: &str) -> Result<hyper::HeaderMap> {
        let mut headers = hyper::HeaderMap::new();
        let bad = |what: &str| Error::Request(format!("{what} is not a valid header value"));
        headers.insert(
            hyper::header::HOST,
            hyper::header::HeaderValue::from_str(&self.opts.host).map_err(|_| bad("the host"))?,
        );
        let only_path = path.split('?').next().unwrap_or(path);
        let mut cookies: Vec<&JarCookie> =
            self.jar.iter().filter(|c| path_matches(only_path, &c.path)).collect();
        cookies.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        if !cookies.is_empty() {
            let line =
                cookies.iter().map(|c| format!("{}={}", c.name, c.value)).collect::<Vec<_>>().join("; ");
            headers.insert(
                hyper::header::COOKIE,
                hyper::header::HeaderValue::from_str(&line).map_err(|_| bad("a cookie"))?,
            );
        }
        for (name, value) in &self.opts.headers {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::Request(format!("{name:?} is not a valid header name")))?;
            let value =
                hyper::header::HeaderValue::from_str(value).map_err(|_| bad(&format!("header {name}")))?;
            headers.append(name, value);
        }
        Ok(headers)
    }

    /// Keeps the response's cookies as a browser does (`Max-Age=0` removes one).
    fn store_cookies(&mut self, request_path: &str, headers: &hyper::HeaderMap) {
        for value in headers.get_all(hyper::header::SET_COOKIE) {
            let Ok(Ok(c)) = value.to_str().map(|v| cookie::Cookie::parse(v.to_string())) else { continue };
            let path = c.path().map(str::to_string).unwrap_or_else(|| default_path(request_path));
            self.jar.retain(|j| !(j.name == c.name() && j.path == path));
            let expired = c.max_age().is_some_and(|age| age.whole_seconds() <= 0);
            if !expired {
                self.jar.push(JarCookie { name: c.name().to_string(), value: c.value().to_string(), path });
            }
        }
    }

    /// The path of the app that `to` (a Location, a redirect's target) names.
    fn local(&self, to: &str) -> Option<String> {
        if to.starts_with('/') && !to.starts_with("//") {
            return Some(to.to_string());
        }
        let rest = to.strip_prefix(&self.origin)?;
        if rest.is_empty() {
            Some("/".into())
        } else {
            rest.starts_with('/').then(|| rest.to_string())
        }
    }

    // -- the socket

    fn check_blocking(&self) -> Result<()> {
        if crate::host::on_host_thread() {
            return Err(Error::State("the test client cannot be used from a host callback".into()));
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::State("the test client blocks: not from inside an async runtime".into()));
        }
        if *self.shared.closing.borrow() {
            return Err(Error::State("the app was shut down".into()));
        }
        Ok(())
    }

    /// Runs `fut` on the app's runtime and waits for it.
    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        self.check_blocking()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shared.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.blocking_recv().map_err(|_| Error::State("the app was shut down".into()))
    }

    fn no_page(&self) -> Error {
        match &self.left_for {
            Some(to) => Error::State(format!("the page left the app for {to}: there is no page to use")),
            None => Error::State("no page is loaded".into()),
        }
    }

    fn send(&mut self, frame: &Value) -> Result<()> {
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let closed = || {
            Error::State(format!(
                "the page's socket is closed ({})",
                page.closed.as_deref().unwrap_or("closed")
            ))
        };
        let socket = page.socket.as_ref().ok_or_else(closed)?;
        socket.inbound.try_send(Ok(Message::Text(frame.to_string().into()))).map_err(|_| closed())?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// The next frame the server sent, waiting until `deadline`; `None` when none
    /// came. An error once the socket is closed (why it closed is queued as a push).
    fn read_frame(&mut self, deadline: Instant) -> Result<Option<Value>> {
        loop {
            let page = self.page.as_mut().ok_or_else(|| Error::State("no page is loaded".into()))?;
            let Some(socket) = page.socket.as_ref() else {
                return Err(Error::State(format!(
                    "the page's socket is closed ({})",
                    page.closed.as_deref().unwrap_or("closed")
                )));
            };
            let now = Instant::now();
            let beat_at = self.last_sent + HEARTBEAT;
            let wait = deadline.min(beat_at).saturating_duration_since(now);
            match socket.outbound.recv_timeout(wait) {
                Ok(MemoryFrame::Text(text)) => return parse_frame(&text).map(Some),
                Ok(MemoryFrame::Close(code, reason)) => {
                    page.socket = None;
                    let why = format!("closed by the server: {code} {reason}").trim_end().to_string();
                    page.closed = Some(why.clone());
                    return Err(Error::State(format!("the page's socket was {why}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    page.socket = None;
                    page.closed = Some("the app shut down".into());
                    return Err(Error::State("the page's socket closed: the app shut down".into()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    if Instant::now() >= beat_at {
                        self.send(&json!({"t": "heartbeat"}))?;
                    }
                }
            }
        }
    }

    /// Takes a frame that answers no event: applies it and queues it as a push.
    /// Returns the target of a redirect or navigation to follow.
    fn absorb(&mut self, f: Value) -> Result<Option<String>> {
        let follow = match f["t"].as_str() {
            Some("heartbeat") | Some("joined") => return Ok(None),
            Some("patch") => {
                self.apply_patch(&f)?;
                None
            }
            Some("redirect") | Some("navigate") => f["to"].as_str().map(str::to_string),
            _ => None,
        };
        self.pushes.push_back(f);
        Ok(follow)
    }

    /// Loads the page a redirect or navigation names, as the browser runtime does.
    fn follow(&mut self, to: &str) -> Result<()> {
        match self.local(to) {
            Some(path) => self.visit(&path),
            None => {
                self.page = None;
                self.left_for = Some(to.to_string());
                Ok(())
            }
        }
    }

    /// Takes every frame already waiting, as pushes.
    fn drain(&mut self) -> Result<()> {
        self.check_blocking()?;
        loop {
            let waiting =
                self.page.as_ref().and_then(|p| p.socket.as_ref()).and_then(|s| s.outbound.try_recv().ok());
            let Some(frame) = waiting else { return Ok(()) };
            let f = match frame {
                MemoryFrame::Text(text) => parse_frame(&text)?,
                MemoryFrame::Close(code, reason) => {
                    if let Some(page) = self.page.as_mut() {
                        page.socket = None;
                        page.closed =
                            Some(format!("closed by the server: {code} {reason}").trim_end().to_string());
                    }
                    return Ok(());
                }
            };
            if let Some(to) = self.absorb(f)? {
                return self.follow(&to);
            }
        }
    }

    // -- patches

    fn apply_patch(&mut self, f: &Value) -> Result<()> {
        let page = self.page.as_mut().ok_or_else(|| Error::State("no page is loaded".into()))?;
        let dom = &mut page.dom;
        if let Some(root) = f["root"].as_str() {
            morph_root(dom, root);
        }
        if let Some(regions) = f["regions"].as_object() {
            for (id, html) in regions {
                if let Some(el) = dom.by_id(Dom::ROOT, id) {
                    dom.clear(el);
                    dom.parse_into(el, html.as_str().unwrap_or(""));
                }
            }
        }
        let resync = !apply_parts(dom, f);
        if let Some(title) = f["title"].as_str() {
            match dom.descendants(Dom::ROOT).into_iter().find(|&n| dom.is(n, "title")) {
                Some(t) => dom.set_text(t, title),
                None => page.title = Some(title.to_string()),
            }
        }
        // Patches carry no number: each one is the next.
        page.seq += 1;
        if resync {
            // As the runtime does: the page no longer matches what the server patches,
            // so it rejoins asking for the whole body.
            page.socket = None;
            self.join(Some(RESYNC))?;
        }
        Ok(())
    }

    // -- events

    /// Sends an event frame and waits for its reply.
    fn send_event(&mut self, mut frame: Map<String, Value>, about: &About<'_>) -> Result<()> {
        self.drain()?;
        self.last_reply = None;
        self.next_ref += 1;
        self.eid += 1;
        let r#ref = self.next_ref;
        frame.insert("t".into(), "event".into());
        frame.insert("ref".into(), r#ref.into());
        frame.insert("eid".into(), self.eid.into());
        let name = frame.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        self.send(&Value::Object(frame))?;
        let deadline = Instant::now() + self.opts.timeout;
        let mut own_patch: Option<Value> = None;
        let mut follow = None;
        let result = loop {
            let f = match self.read_frame(deadline) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    break Err(Error::Timeout(format!(
                        "no reply to the {} {name:?} {} within {:?}",
                        about.kind,
                        about.on(),
                        self.opts.timeout
                    )))
                }
                Err(e) => {
                    break Err(Error::State(format!("the {} {name:?} {}: {e}", about.kind, about.on())))
                }
            };
            let answers = f["ref"].as_u64() == Some(r#ref);
            match f["t"].as_str() {
                Some("patch") => {
                    self.apply_patch(&f)?;
                    if answers {
                        self.last_reply = Some(json!({"ok": true}));
                        break Ok(());
                    }
                    if let Some(earlier) = own_patch.replace(f) {
                        self.pushes.push_back(earlier);
                    }
                }
                Some("reply") if answers => {
                    let ok = f["ok"].as_bool() == Some(true);
                    self.last_reply = Some(if ok {
                        json!({"ok": true})
                    } else {
                        json!({"ok": false, "error": f["error"]})
                    });
                    if ok {
                        break Ok(());
                    }
                    // A failed event changes nothing: a patch before it came from elsewhere.
                    if let Some(p) = own_patch.take() {
                        self.pushes.push_back(p);
                    }
                    let err = &f["error"];
                    break Err(Error::Callback(format!(
                        "{}: {} (the {} {name:?} {})",
                        err["code"].as_str().unwrap_or("?"),
                        err["message"].as_str().unwrap_or(""),
                        about.kind,
                        about.on()
                    )));
                }
                Some("redirect") | Some("navigate") => {
                    follow = f["to"].as_str().map(str::to_string);
                    self.pushes.push_back(f);
                }
                Some("heartbeat") => {}
                _ => self.pushes.push_back(f),
            }
        };
        if let Some(to) = follow {
            self.follow(&to)?;
        }
        result
    }

    /// The one element `selector` matches.
    fn one(&self, selector: &str, kind: &str) -> Result<NodeId> {
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let sel = Selector::parse(selector)
            .map_err(|e| Error::Request(format!("invalid selector {selector:?}: {e}")))?;
        let found = sel.select(&page.dom, Dom::ROOT);
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(Error::NotFound(format!(
                "{selector:?} matches no element of {}; {}",
                page.path,
                offered(&page.dom, kind)
            ))),
            n => Err(Error::Request(format!(
                "{selector:?} matches {n} elements of {} ({}); make it match one",
                page.path,
                found.iter().take(5).map(|&e| describe(&page.dom, e)).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The element itself or its nearest ancestor with `data-lv-<kind>`.
    fn handler(&self, node: NodeId, kind: &str, selector: &str) -> Result<NodeId> {
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let attr = format!("data-lv-{kind}");
        let dom = &page.dom;
        let el = dom.closest(node, |n| dom.has_attr(n, &attr)).ok_or_else(|| {
            Error::NotFound(format!(
                "{selector:?} ({}) has no {attr} on it or an ancestor; {}",
                describe(dom, node),
                offered(dom, kind)
            ))
        })?;
        if dom.attr(el, &attr) == Some("") {
            return Err(Error::NotFound(format!(
                "{selector:?} ({}): its {attr} is empty",
                describe(dom, el)
            )));
        }
        Ok(el)
    }

    fn dom(&self) -> Result<&Dom> {
        Ok(&self.page.as_ref().ok_or_else(|| self.no_page())?.dom)
    }

    fn dom_mut(&mut self) -> Result<&mut Dom> {
        if self.page.is_none() {
            return Err(self.no_page());
        }
        match self.page.as_mut() {
            Some(p) => Ok(&mut p.dom),
            None => Err(Error::State("no page is loaded".into())),
        }
    }

    /// Clicks the element `selector` matches: sends the `click` of it or its nearest
    /// ancestor with `data-lv-click`, with that element's `data-lv-value-*` (and, for a
    /// form field, its value as `value`).
    pub fn click(&mut self, selector: &str) -> Result<()> {
        self.simple("click", selector, None)
    }

    /// Focus enters the element: its (or its nearest ancestor's) `data-lv-focus`.
    pub fn focus(&mut self, selector: &str) -> Result<()> {
        self.simple("focus", selector, None)
    }

    /// Focus leaves the element: its (or its nearest ancestor's) `data-lv-blur`.
    pub fn blur(&mut self, selector: &str) -> Result<()> {
        self.simple("blur", selector, None)
    }

    /// A key event, `kind` `"keydown"` or `"keyup"`, with `KeyboardEvent.key` `key`
    /// (`"Enter"`, `"a"`, `" "`), on the element or its nearest ancestor with
    /// `data-lv-<kind>`. A key that the element's `data-lv-key` filters out is not sent
    /// (a browser would send nothing): that is an [`Error::NotFound`] naming the filter.
    pub fn key(&mut self, selector: &str, kind: &str, key: &str) -> Result<()> {
        if kind != "keydown" && kind != "keyup" {
            return Err(Error::Request(format!(
                "key event type {kind:?}: expected \"keydown\" or \"keyup\""
            )));
        }
        self.simple(kind, selector, Some(key))
    }

    fn simple(&mut self, kind: &str, selector: &str, key: Option<&str>) -> Result<()> {
        self.drain()?;
        let node = self.one(selector, kind)?;
        let el = self.handler(node, kind, selector)?;
        let dom = self.dom()?;
        if let (Some(key), Some(want)) = (key, dom.attr(el, "data-lv-key")) {
            if !key_wanted(want, key) {
                return Err(Error::NotFound(format!(
                    "{selector:?}: {key:?} is not sent, the element's data-lv-key is {want:?}"
                )));
            }
        }
        let mut frame = base_frame(dom, kind, el);
        if is_field(dom, el) {
            let values = frame.get_mut("values").and_then(Value::as_object_mut);
            if let Some(values) = values.filter(|v| !v.contains_key("value")) {
                values.insert("value".into(), field_value(dom, el).into());
            }
        }
        if let Some(key) = key {
            frame.insert("key".into(), key.into());
        }
        self.send_event(frame, &About { kind, selector })
    }

    /// Submits a form, as a browser does: `selector` names the form (with
    /// `data-lv-submit`) or a submit button in it, which is then the submitter (its
    /// name and value are sent). `overrides`, a JSON object, fills fields first as a
    /// user would, field name to value: a string, an array of strings (checkboxes,
    /// a multiple select), `true`/`false` (check or uncheck every checkbox of the
    /// name) or `null` (clear). A name the form has no field for, or a value no
    /// option or checkbox has, is an error.
    pub fn submit(&mut self, selector: &str, overrides: Option<&Value>) -> Result<()> {
        self.drain()?;
        let node = self.one(selector, "submit")?;
        let dom = self.dom()?;
        let form = dom.closest(node, |n| dom.is(n, "form")).ok_or_else(|| {
            Error::NotFound(format!(
                "{selector:?} ({}) is not a form or in one; {}",
                describe(dom, node),
                offered(dom, "submit")
            ))
        })?;
        let submitter = (node != form && is_submit_button(dom, node)).then_some(node);
        if !dom.has_attr(form, "data-lv-submit") {
            return Err(Error::NotFound(format!(
                "{selector:?}: its form ({}) has no data-lv-submit; {}",
                describe(dom, form),
                offered(dom, "submit")
            )));
        }
        if let Some(overrides) = overrides {
            let obj = overrides
                .as_object()
                .ok_or_else(|| Error::Json(format!("the fields for {selector:?} must be a JSON object")))?;
            for (name, value) in obj {
                let dom = self.dom_mut()?;
                fill(dom, form, name, value).map_err(|e| Error::NotFound(format!("{selector:?}: {e}")))?;
            }
        }
        let dom = self.dom()?;
        let mut data = form_data(dom, form);
        if let Some(sub) = submitter {
            if let Some(name) = dom.attr(sub, "name").filter(|n| !n.is_empty()) {
                add_field(&mut data, name, dom.attr(sub, "value").unwrap_or(""));
            }
        }
        let mut frame = base_frame(dom, "submit", form);
        frame.insert("form".into(), Value::Object(data));
        self.send_event(frame, &About { kind: "submit", selector })
    }

    /// Changes a form field as a user would and sends the `change` of its nearest
    /// ancestor with `data-lv-change` (the field itself or its form), with the whole
    /// form (or the lone field) and `field`. `value`: the text of a text field or
    /// textarea; the option to select (a JSON array of them for a multiple select);
    /// for a checkbox or radio, its own value or `"true"` checks it, `""` or `"false"`
    /// unchecks it.
    pub fn change(&mut self, selector: &str, value: &str) -> Result<()> {
        self.drain()?;
        let node = self.one(selector, "change")?;
        let dom = self.dom()?;
        if !is_field(dom, node) {
            return Err(Error::Request(format!(
                "{selector:?} is {}, not a form field (input, select, textarea)",
                describe(dom, node)
            )));
        }
        let el = self.handler(node, "change", selector)?;
        let dom = self.dom_mut()?;
        set_field(dom, node, value).map_err(|e| Error::NotFound(format!("{selector:?}: {e}")))?;
        let dom = self.dom()?;
        let form = match dom.closest(node, |n| dom.is(n, "form")) {
            Some(f) => form_data(dom, f),
            None => lone(dom, node),
        };
        let mut frame = base_frame(dom, "change", el);
        frame.insert("form".into(), Value::Object(form));
        if let Some(name) = dom.attr(node, "name").filter(|n| !n.is_empty()) {
            frame.insert("field".into(), name.into());
        }
        self.send_event(frame, &About { kind: "change", selector })
    }

    /// Sends an event frame written by hand (the escape hatch): a JSON object with at
    /// least `type` and `name`; `t`, `ref` and `eid` are filled in, and `target`,
    /// `values`, `form`, `key`, `meta` default as the runtime sends them.
    pub fn event(&mut self, event_json: &str) -> Result<()> {
        let v: Value = serde_json::from_str(event_json).map_err(Error::json)?;
        let Value::Object(given) = v else {
            return Err(Error::Json("an event must be a JSON object".into()));
        };
        for field in ["type", "name"] {
            if !given.get(field).is_some_and(Value::is_string) {
                return Err(Error::Json(format!("an event needs \"{field}\" (a string)")));
            }
        }
        let mut frame = match json!({
            "target": null, "values": {}, "form": {}, "key": null,
            "meta": {"shift": false, "ctrl": false, "alt": false, "meta": false},
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        frame.extend(given);
        let kind = frame["type"].as_str().unwrap_or("event").to_string();
        self.send_event(frame, &About { kind: &kind, selector: "" })
    }

    // -- pushes

    /// The next push (see the type's docs), waiting at most `timeout`; an
    /// [`Error::Timeout`] when none comes. A patch has been applied to the page
    /// already; a redirect or navigation followed.
    pub fn next_push(&mut self, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.pushes.pop_front() {
                return Ok(p);
            }
            let f = self.read_frame(deadline)?;
            let Some(f) = f else {
                return Err(Error::Timeout(format!("no push within {} ms", timeout.as_millis())));
            };
            if let Some(to) = self.absorb(f)? {
                self.follow(&to)?;
            }
        }
    }

    /// Asserts that no push arrives within `within` (and none is queued): an error
    /// naming what arrived otherwise.
    pub fn refute_push(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(p) = self.pushes.pop_front() {
                let shown: String = p.to_string().chars().take(500).collect();
                return Err(Error::State(format!(
                    "expected no push within {} ms, got {shown}",
                    within.as_millis()
                )));
            }
            let f = match self.read_frame(deadline) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                // A socket already closed sends nothing more.
                Err(_) if self.page.as_ref().is_some_and(|p| p.socket.is_none()) => {
                    return match self.pushes.pop_front() {
                        None => Ok(()),
                        Some(p) => Err(Error::State(format!(
                            "expected no push within {} ms, got {p}",
                            within.as_millis()
                        ))),
                    }
                }
                Err(e) => return Err(e),
            };
            if let Some(to) = self.absorb(f)? {
                self.follow(&to)?;
            }
        }
    }

    // -- reading

    /// The whole page as HTML (with the patches received so far applied).
    pub fn html(&mut self) -> Result<String> {
        self.drain()?;
        Ok(self.dom()?.inner_html(Dom::ROOT))
    }

    /// The inner HTML of the first element `selector` matches.
    pub fn html_of(&mut self, selector: &str) -> Result<String> {
        let el = self.first(selector)?;
        Ok(self.dom()?.inner_html(el))
    }

    /// The text content of the first element `selector` matches.
    pub fn text_of(&mut self, selector: &str) -> Result<String> {
        let el = self.first(selector)?;
        Ok(self.dom()?.text_content(el))
    }

    /// The elements `selector` matches, as their outer HTML. The selector subset:
    /// type, `*`, `#id`, `.class`, `[attr]`, `[attr=value]` (quoted or not; also `~=`,
    /// `^=`, `$=`, `*=`), compounds of them, the descendant and child (`>`)
    /// combinators, and lists (`a, b`).
    pub fn select(&mut self, selector: &str) -> Result<Vec<String>> {
        self.drain()?;
        let sel = Selector::parse(selector)
            .map_err(|e| Error::Request(format!("invalid selector {selector:?}: {e}")))?;
        let dom = self.dom()?;
        Ok(sel.select(dom, Dom::ROOT).into_iter().map(|n| dom.outer_html(n)).collect())
    }

    fn first(&mut self, selector: &str) -> Result<NodeId> {
        self.drain()?;
        let sel = Selector::parse(selector)
            .map_err(|e| Error::Request(format!("invalid selector {selector:?}: {e}")))?;
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        sel.select(&page.dom, Dom::ROOT)
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotFound(format!("{selector:?} matches no element of {}", page.path)))
    }

    /// The inner HTML of the element with id `id` (a region).
    pub fn region(&mut self, id: &str) -> Result<String> {
        self.drain()?;
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let dom = &page.dom;
        match dom.by_id(Dom::ROOT, id) {
            Some(el) => Ok(dom.inner_html(el)),
            None => {
                let ids: Vec<&str> = live_root(dom)
                    .map(|r| dom.descendants(r).into_iter().filter_map(|n| dom.attr(n, "id")).collect())
                    .unwrap_or_default();
                Err(Error::NotFound(format!(
                    "no element #{id} in {}; ids in its live root: {}",
                    page.path,
                    if ids.is_empty() { "none".into() } else { ids.join(", ") }
                )))
            }
        }
    }

    /// The page's title (`document.title`).
    pub fn title(&mut self) -> Result<String> {
        self.drain()?;
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let dom = &page.dom;
        let el = dom.descendants(Dom::ROOT).into_iter().find(|&n| dom.is(n, "title"));
        Ok(match (el, &page.title) {
            (Some(t), _) => dom.text_content(t).split_whitespace().collect::<Vec<_>>().join(" "),
            (None, Some(t)) => t.clone(),
            (None, None) => String::new(),
        })
    }

    /// The session's state as JSON, asked of the session itself (it is never on the
    /// wire): what it holds after every callback before now.
    pub fn state(&mut self) -> Result<Value> {
        Ok((*self.inspect()?.state).clone())
    }

    /// The answer to the last event sent: `{"ok": true}`, or `{"ok": false, "error":
    /// {"code": .., "message": ..}}` as the reply carried it (docs/protocol.md); `None`
    /// before any event, and when the last one got no answer (a timeout). What a
    /// binding reads to give a failed event's code and message as fields.
    pub fn last_reply(&self) -> Option<&Value> {
        self.last_reply.as_ref()
    }

    /// The flash a callback set that no render has shown yet (a render that reaches
    /// the browser shows it in the page, and clears it); an empty object when none.
    pub fn flash(&mut self) -> Result<Value> {
        Ok(Value::Object(self.inspect()?.flash))
    }

    fn inspect(&mut self) -> Result<crate::session::Inspection> {
        self.drain()?;
        let page = self.page.as_ref().ok_or_else(|| self.no_page())?;
        let claims = self
            .shared
            .signer
            .verify(&page.token)
            .map_err(|e| Error::State(format!("the page's token cannot be read: {e:?}")))?;
        let core = self.shared.core.clone();
        self.run(async move { crate::session::inspect(&core, &claims.sid).await })?
    }
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").field("path", &self.path()).field("pushes", &self.pushes.len()).finish()
    }
}

/// A frame the server sent, as JSON. A patch carries no `t` on the wire; here it is
/// given `"t": "patch"`, so that every frame a test sees names its kind.
fn parse_frame(text: &str) -> Result<Value> {
    let mut v: Value = serde_json::from_str(text)
        .map_err(|e| Error::State(format!("the server sent a frame that is not JSON ({e}): {text}")))?;
    if let Some(frame) = v.as_object_mut() {
        frame.entry("t").or_insert_with(|| "patch".into());
    }
    Ok(v)
}

// -- helpers over the document

fn live_root(dom: &Dom) -> Option<NodeId> {
    dom.descendants(Dom::ROOT).into_iter().find(|&n| dom.has_attr(n, "data-lv"))
}

/// Morphs the live root with the `[data-lv]` element of `html` (or, without one,
/// its children with `html`), as the runtime's `morphRoot`.
fn morph_root(dom: &mut Dom, html: &str) {
    let Some(live) = live_root(dom) else { return };
    let frag = dom.fragment(html);
    let next = dom.descendants(frag).into_iter().find(|&n| dom.has_attr(n, "data-lv"));
    dom.clear(live);
    match next {
        Some(next) => {
            dom.copy_attrs(live, next);
            dom.adopt_children(live, next);
        }
        None => dom.adopt_children(live, frag),
    }
}

/// Applies a patch's changes child by child (remove, set, text, append); false when
/// a child or region it names is not in the page, or not as the server made it.
fn apply_parts(dom: &mut Dom, p: &Value) -> bool {
    let by_id = |dom: &Dom, id: &str| dom.by_id(Dom::ROOT, id);
    for id in p["remove"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some(c) = by_id(dom, id) {
            dom.detach(c);
        }
    }
    if let Some(set) = p["set"].as_object() {
        for (id, html) in set {
            let Some(c) = by_id(dom, id) else { return false };
            let frag = dom.fragment(html.as_str().unwrap_or(""));
            let Some(next) = dom.element_children(frag).next() else { return false };
            dom.replace(c, next);
        }
    }
    // [count, index, text, index, text, ...], as the runtime applies it.
    if let Some(text) = p["text"].as_object() {
        for (id, t) in text {
            let Some(c) = by_id(dom, id) else { return false };
            let t = t.as_array().map(Vec::as_slice).unwrap_or_default();
            let nodes = dom.text_nodes(c);
            if t.first().and_then(Value::as_u64) != Some(nodes.len() as u64) {
                return false;
            }
            for pair in t[1..].chunks(2) {
                let at = pair[0].as_u64().and_then(|i| nodes.get(usize::try_from(i).ok()?));
                match (at, pair.get(1).and_then(Value::as_str)) {
                    (Some(&node), Some(value)) => dom.set_node_text(node, value),
                    _ => return false,
                }
            }
        }
    }
    if let Some(append) = p["append"].as_object() {
        for (id, html) in append {
            let Some(el) = by_id(dom, id) else { return false };
            dom.parse_into(el, html.as_str().unwrap_or(""));
        }
    }
    true
}

fn base_frame(dom: &Dom, kind: &str, el: NodeId) -> Map<String, Value> {
    let mut values = Map::new();
    for (name, value) in dom.attrs(el) {
        if let Some(v) = name.strip_prefix("data-lv-value-") {
            values.insert(v.to_string(), value.clone().into());
        }
    }
    let target =
        dom.closest(el, |n| dom.has_attr(n, "data-lv-target")).and_then(|t| dom.attr(t, "data-lv-target"));
    let mut frame = Map::new();
    frame.insert("type".into(), kind.into());
    frame.insert("name".into(), dom.attr(el, &format!("data-lv-{kind}")).unwrap_or("").into());
    frame.insert("target".into(), target.map_or(Value::Null, |t| t.into()));
    frame.insert("values".into(), Value::Object(values));
    frame.insert("form".into(), Value::Object(Map::new()));
    frame.insert("key".into(), Value::Null);
    frame.insert("meta".into(), json!({"shift": false, "ctrl": false, "alt": false, "meta": false}));
    frame
}

/// What the page offers for `data-lv-<kind>`, for an error message.
fn offered(dom: &Dom, kind: &str) -> String {
    let attr = format!("data-lv-{kind}");
    let mut names: Vec<&str> = Vec::new();
    for n in dom.descendants(Dom::ROOT) {
        if let Some(v) = dom.attr(n, &attr) {
            if !names.contains(&v) {
                names.push(v);
            }
        }
    }
    if names.is_empty() {
        format!("the page has no {attr} elements")
    } else {
        format!(
            "the page's {attr} names: {} (select one with [{attr}=NAME])",
            names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
        )
    }
}

/// A short description of an element: `<button id="x" class="y">`.
fn describe(dom: &Dom, el: NodeId) -> String {
    let mut s = format!("<{}", dom.name(el).unwrap_or("?"));
    for (n, v) in dom
        .attrs(el)
        .iter()
        .filter(|(n, _)| n == "id" || n == "class" || n == "name" || n.starts_with("data-lv-"))
    {
        s.push_str(&format!(" {n}=\"{v}\""));
    }
    s.push('>');
    s
}

fn key_wanted(want: &str, key: &str) -> bool {
    let name = match key {
        " " => "space".to_string(),
        "," => "comma".to_string(),
        k => k.to_lowercase(),
    };
    want.to_lowercase().split(',').any(|k| k.trim() == name)
}

fn is_field(dom: &Dom, el: NodeId) -> bool {
    matches!(dom.name(el), Some("input" | "select" | "textarea"))
}

fn input_type(dom: &Dom, el: NodeId) -> String {
    dom.attr(el, "type").unwrap_or("text").to_ascii_lowercase()
}

fn is_check(dom: &Dom, el: NodeId) -> bool {
    dom.is(el, "input") && matches!(input_type(dom, el).as_str(), "checkbox" | "radio")
}

fn is_submit_button(dom: &Dom, el: NodeId) -> bool {
    match dom.name(el) {
        Some("button") => {
            matches!(dom.attr(el, "type").map(str::to_ascii_lowercase).as_deref(), None | Some("submit"))
        }
        Some("input") => matches!(input_type(dom, el).as_str(), "submit" | "image"),
        _ => false,
    }
}

fn options(dom: &Dom, select: NodeId) -> Vec<NodeId> {
    dom.descendants(select).into_iter().filter(|&n| dom.is(n, "option")).collect()
}

fn option_value(dom: &Dom, o: NodeId) -> String {
    match dom.attr(o, "value") {
        Some(v) => v.to_string(),
        None => dom.text_content(o).split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// The options a select has selected, as a browser picks them: those marked
/// `selected`, or for a single select without one, its first enabled option.
fn selected(dom: &Dom, select: NodeId) -> Vec<NodeId> {
    let opts = options(dom, select);
    let marked: Vec<NodeId> = opts.iter().copied().filter(|&o| dom.has_attr(o, "selected")).collect();
    if dom.has_attr(select, "multiple") {
        return marked;
    }
    match marked.last() {
        Some(&o) => vec![o],
        None => opts.into_iter().find(|&o| !dom.has_attr(o, "disabled")).into_iter().collect(),
    }
}

/// A field's current value, as `el.value` reads it.
fn field_value(dom: &Dom, el: NodeId) -> String {
    match dom.name(el) {
        Some("select") => selected(dom, el).first().map(|&o| option_value(dom, o)).unwrap_or_default(),
        Some("textarea") => dom.text_content(el),
        _ => match dom.attr(el, "value") {
            Some(v) => v.to_string(),
            None if is_check(dom, el) => "on".into(),
            None => String::new(),
        },
    }
}

fn add_field(data: &mut Map<String, Value>, name: &str, value: &str) {
    if name == "_csrf" || name.starts_with("_lv_") {
        return;
    }
    if let Value::Array(list) = data.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new())) {
        list.push(value.into());
    }
}

/// The form's fields as the runtime sends them (`serialize(new FormData(form))`).
fn form_data(dom: &Dom, form: NodeId) -> Map<String, Value> {
    let mut data = Map::new();
    for el in dom.descendants(form) {
        if !is_field(dom, el) || dom.has_attr(el, "disabled") {
            continue;
        }
        let Some(name) = dom.attr(el, "name").filter(|n| !n.is_empty()) else { continue };
        match dom.name(el) {
            Some("select") => {
                for o in selected(dom, el) {
                    add_field(&mut data, name, &option_value(dom, o));
                }
            }
            Some("textarea") => add_field(&mut data, name, &dom.text_content(el)),
            _ => {
                let kind = input_type(dom, el);
                if matches!(kind.as_str(), "submit" | "button" | "reset" | "image") {
                    continue;
                }
                if is_check(dom, el) && !dom.has_attr(el, "checked") {
                    continue;
                }
                add_field(&mut data, name, &field_value(dom, el));
            }
        }
    }
    data
}

/// The runtime's `lone(field)`: a field outside any form.
fn lone(dom: &Dom, field: NodeId) -> Map<String, Value> {
    let mut data = Map::new();
    let Some(name) = dom.attr(field, "name").filter(|n| !n.is_empty()) else { return data };
    if dom.is(field, "select") {
        for o in selected(dom, field) {
            add_field(&mut data, name, &option_value(dom, o));
        }
    } else if !is_check(dom, field) || dom.has_attr(field, "checked") {
        add_field(&mut data, name, &field_value(dom, field));
    }
    data
}

/// Sets a field as a user would (see [`TestClient::change`] for `value`).
fn set_field(dom: &mut Dom, el: NodeId, value: &str) -> std::result::Result<(), String> {
    match dom.name(el) {
        Some("select") => {
            let wanted: Vec<String> = if dom.has_attr(el, "multiple") && value.trim_start().starts_with('[') {
                serde_json::from_str(value)
                    .map_err(|e| format!("{value:?} is not a JSON array of strings: {e}"))?
            } else {
                vec![value.to_string()]
            };
            select_options(dom, el, &wanted)
        }
        Some("textarea") => {
            dom.set_text(el, value);
            Ok(())
        }
        _ if is_check(dom, el) => {
            let own = field_value(dom, el);
            let on = match value {
                "" | "false" => false,
                "true" => true,
                v if v == own => true,
                v => {
                    return Err(format!(
                        "{v:?} is neither this box's value {own:?}, \"true\", \"false\" nor \"\""
                    ))
                }
            };
            check(dom, el, on);
            Ok(())
        }
        _ => {
            dom.set_attr(el, "value", value);
            Ok(())
        }
    }
}

fn check(dom: &mut Dom, el: NodeId, on: bool) {
    if on {
        // Checking a radio unchecks the others of its group (in its form).
        if input_type(dom, el) == "radio" {
            if let Some(name) = dom.attr(el, "name").map(str::to_string) {
                let scope = dom.closest(el, |n| dom.is(n, "form")).unwrap_or(Dom::ROOT);
                for other in dom.descendants(scope) {
                    if other != el
                        && dom.is(other, "input")
                        && input_type(dom, other) == "radio"
                        && dom.attr(other, "name") == Some(name.as_str())
                    {
                        dom.remove_attr(other, "checked");
                    }
                }
            }
        }
        dom.set_attr(el, "checked", "");
    } else {
        dom.remove_attr(el, "checked");
    }
}

fn select_options(dom: &mut Dom, select: NodeId, wanted: &[String]) -> std::result::Result<(), String> {
    let opts = options(dom, select);
    let values: Vec<String> = opts.iter().map(|&o| option_value(dom, o)).collect();
    if let Some(missing) = wanted.iter().find(|w| !values.contains(w)) {
        return Err(format!(
            "the select has no option {missing:?}; its options: {}",
            values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if wanted.len() > 1 && !dom.has_attr(select, "multiple") {
        return Err(format!("{} options for a select without `multiple`", wanted.len()));
    }
    for (o, v) in opts.into_iter().zip(values) {
        if wanted.contains(&v) {
            dom.set_attr(o, "selected", "");
        } else {
            dom.remove_attr(o, "selected");
        }
    }
    Ok(())
}

/// Fills the fields named `name` in `form` with `value` (see [`TestClient::submit`]).
fn fill(dom: &mut Dom, form: NodeId, name: &str, value: &Value) -> std::result::Result<(), String> {
    let fields: Vec<NodeId> = dom
        .descendants(form)
        .into_iter()
        .filter(|&n| is_field(dom, n) && dom.attr(n, "name") == Some(name))
        .collect();
    if fields.is_empty() {
        let mut names: Vec<&str> = Vec::new();
        for n in dom.descendants(form) {
            if let Some(f) =
                dom.attr(n, "name").filter(|f| is_field(dom, n) && !f.starts_with("_lv_") && *f != "_csrf")
            {
                if !names.contains(&f) {
                    names.push(f);
                }
            }
        }
        return Err(format!("the form has no field named {name:?}; its fields: {}", names.join(", ")));
    }
    let list: Vec<String> = match value {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("field {name:?}: {other} is not a string")),
            })
            .collect::<std::result::Result<_, _>>()?,
        Value::Bool(on) => {
            if !fields.iter().all(|&f| is_check(dom, f)) {
                return Err(format!("field {name:?}: true/false fits checkboxes only"));
            }
            for f in fields {
                check(dom, f, *on);
            }
            return Ok(());
        }
        Value::Object(_) => return Err(format!("field {name:?}: an object is not a field value")),
    };
    let first = fields[0];
    if dom.is(first, "select") {
        return select_options(dom, first, &list);
    }
    if is_check(dom, first) {
        let values: Vec<String> = fields.iter().map(|&f| field_value(dom, f)).collect();
        if let Some(missing) = list.iter().find(|w| !values.contains(w)) {
            return Err(format!(
                "no checkbox or radio {name:?} has the value {missing:?}; theirs: {}",
                values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
        for (f, v) in fields.into_iter().zip(values) {
            check(dom, f, list.contains(&v));
        }
        return Ok(());
    }
    if list.len() > fields.len() {
        return Err(format!("{} values for the {} field(s) named {name:?}", list.len(), fields.len()));
    }
    for (i, f) in fields.into_iter().enumerate() {
        let v = list.get(i).map(String::as_str).unwrap_or("");
        set_field(dom, f, v)?;
    }
    Ok(())
}

/// Whether a cookie with path `cookie_path` goes with a request for `path`.
fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

/// A cookie's default path: the request path up to its last `/`.
fn default_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_string(),
    }
}
