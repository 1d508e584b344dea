//! github.com/jfyne/live v0.16.2 (Go): its server (`bench/peers/jfyne-live`), built with
//! `go build`, and its own WebSocket protocol, spoken the way its browser client
//! (`web/src/socket.ts` and `event.ts` in that repository) speaks it.
//!
//! The protocol, as the client and the engine (`engine.go`) implement it:
//! - `GET /page` mounts and renders a session and sets the cookie `_psid=<socket id>`
//!   (Max-Age 1 s; the JS client copies it into a 60 s cookie of its own).
//! - The socket is `ws://host/page`, the page's own path, with that cookie. The server
//!   first sends `{"t":"connect"}`, then mounts the session again.
//! - Every frame either way is `{"t":type,"i":id,"d":data}`. An event is
//!   `{"t":"inc","i":7,"d":{}}`, `d` carrying the element's `live-value-*` attributes
//!   (`{"row":"3"}`); the server answers with zero or more `{"t":"patch","d":[...]}`
//!   (a list of `{Anchor, Action, HTML}`) and then `{"t":"ack","i":7,"d":null}`, in that
//!   order, since both go through the same per-socket queue. A failing handler adds an
//!   `{"t":"err",...}` frame. A broadcast reaches a session as a patch of its own.
//! - The engine starts reading events before that second mount is done, so an event
//!   sent at once can be handled against the state of the GET and its patch lost (the
//!   first render after connect has nothing to diff against): with 64 sessions opening
//!   at once, 8 % of first events came back acked without their patch. A browser's user
//!   never clicks that fast; `open` waits it out by sending one `params` event (what the
//!   JS client sends when the URL's query changes) and waiting for its ack, which the
//!   server writes only once the mount and its render are done (none failed then).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Action, Answer, ClickError, Page};
use crate::client::next_text;
use crate::procs;

/// The server's name in the results.
pub const NAME: &str = "jfyne/live";
/// The Go module of the server, relative to the repository root.
const MODULE_DIR: &str = "bench/peers/jfyne-live";
/// The built server, relative to the repository root.
const BINARY: &str = "target/peers/jfyne-live";
/// Where `go` is looked for when it is not on PATH (the official tarball's place).
const GO_FALLBACK: &str = "/usr/local/go/bin/go";
/// A cold build downloads the module and its dependencies and compiles them (about
/// half a minute here); a warm one takes well under a second.
const GO_BUILD_TIMEOUT: Duration = Duration::from_secs(300);
/// Opening a page (GET, upgrade, connect, the mount handshake) gets this long, and an
/// act this long for its answer.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// A push waits longer: the engine renders a broadcast for its sessions one after the
/// other, and the last of 10,000 counter sessions had it after 9 s here.
const PUSH_TIMEOUT: Duration = Duration::from_secs(60);
/// The session cookie the engine sets on the GET and reads on the upgrade.
const SESSION_COOKIE: &str = "_psid";
/// Patches kept for `await_push` that arrived while an act was waiting for its ack.
const PENDING_MAX: usize = 64;
/// Rows of the table page (`bench/peers/PAGES.md`).
const ROWS: usize = 100;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Builds the server into `target/peers/jfyne-live` with the Go module's pinned
/// versions (go.mod and go.sum). Go's build cache makes it quick when nothing changed.
pub fn install(root: &Path) -> Result<(), String> {
    let go = procs::find_executable("go")
        .or_else(|| Path::new(GO_FALLBACK).is_file().then(|| PathBuf::from(GO_FALLBACK)))
        .ok_or_else(|| format!("go not found on PATH nor at {GO_FALLBACK}"))?;
    let exe = root.join(BINARY);
    if let Some(dir) = exe.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let mut cmd = Command::new(go);
    cmd.args(["build", "-o"]).arg(&exe).arg(".").current_dir(root.join(MODULE_DIR));
    // GOTOOLCHAIN=local: use the Go that is installed, never download another one.
    // -mod=readonly: the versions are the ones in go.mod and go.sum, or the build fails.
    cmd.env("GOTOOLCHAIN", "local").env("GOFLAGS", "-buildvcs=false -mod=readonly");
    procs::run_bounded(cmd, GO_BUILD_TIMEOUT).map_err(|e| format!("{NAME}: go build failed: {e}"))
}

/// Starts the server built by [`install`] on a free port, pinned like every peer.
pub fn start(root: &Path) -> Result<procs::Server, String> {
    let exe = root.join(BINARY);
    if !exe.is_file() {
        return Err(format!("{NAME}: {} is missing (install builds it)", exe.display()));
    }
    let mut cmd = Command::new(exe);
    cmd.env("PORT", "0");
    procs::Server::peer(NAME, cmd)
}

/// The fields of a server frame the client looks at.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    t: &'a str,
    i: Option<u64>,
}

/// One entry of a patch frame's `d`.
#[derive(Deserialize)]
struct Patch {
    #[serde(rename = "HTML")]
    html: String,
}

/// One open page of the jfyne/live server.
pub struct Conn {
    ws: Ws,
    page: Page,
    /// The id of the last event sent (the JS client numbers them from 1 too).
    last_id: u64,
    /// What the page shows now, to know the value each act must bring.
    count: u64,
    cells: Vec<u64>,
    items: u64,
    /// Patches that arrived during an act, with their arrival, for `await_push`: a
    /// broadcast's patch can reach the acting session before the act's own ack.
    pending: VecDeque<(Instant, Utf8Bytes)>,
}

impl super::Conn for Conn {
    async fn open(addr: SocketAddr, page: Page) -> Result<Self, String> {
        timeout(OPEN_TIMEOUT, open(addr, page))
            .await
            .map_err(|_| format!("{NAME}: opening {} took over {OPEN_TIMEOUT:?}", page.path()))?
    }

    async fn act(&mut self, action: Action) -> Result<Answer, ClickError> {
        let (name, data, expect) = self.event(action)?;
        self.pending.clear();
        self.last_id += 1;
        let id = self.last_id;
        let event = format!(r#"{{"t":"{name}","i":{id},"d":{data}}}"#);
        let bytes_out = event.len() as u64;
        let sent = Instant::now();
        let exchange = async {
            self.ws.send(Message::text(event)).await.map_err(|e| ClickError::Socket(e.to_string()))?;
            self.await_ack(id, sent, expect.as_deref()).await
        };
        let mut answer = timeout(ANSWER_TIMEOUT, exchange).await.map_err(|_| ClickError::Timeout)??;
        answer.bytes_out = bytes_out;
        // The act is complete and checked: the page shows the new value now.
        match action {
            Action::Inc => self.count += 1,
            Action::Bump { row } => self.cells[row as usize] += 1,
            Action::Add => self.items += 1,
            Action::Broadcast => {}
        }
        Ok(answer)
    }

    async fn await_push(&mut self, needle: &str) -> Result<Instant, ClickError> {
        while let Some((at, text)) = self.pending.pop_front() {
            if patch_contains(&text, needle)? {
                return Ok(at);
            }
        }
        let wait = async {
            loop {
                let text = next_text(&mut self.ws).await?;
                let at = Instant::now();
                let frame = parse(&text).map_err(ClickError::Socket)?;
                match frame.t {
                    "patch" if patch_contains(&text, needle)? => return Ok(at),
                    "err" => return Err(ClickError::Rejected(text.to_string())),
                    _ => continue,
                }
            }
        };
        timeout(PUSH_TIMEOUT, wait).await.map_err(|_| ClickError::Timeout)?
    }
}

impl Conn {
    /// The event's name, its `d` (the button's `live-value-*` attributes, as the JS
    /// client sends them), and the text the answer must show, if the client knows it.
    fn event(&self, action: Action) -> Result<(&'static str, String, Option<String>), ClickError> {
        let wrong_page =
            || ClickError::Rejected(format!("{action:?} is not an action of {}", self.page.path()));
        match (action, self.page) {
            (Action::Inc, Page::Counter) => Ok(("inc", "{}".into(), Some((self.count + 1).to_string()))),
            // The value is server-wide: this session cannot know it. The push carries it;
            // the caller checks it with `await_push`.
            (Action::Broadcast, Page::Counter) => Ok(("broadcast", "{}".into(), None)),
            (Action::Bump { row }, Page::Table) => {
                let cell = self.cells.get(row as usize).ok_or_else(wrong_page)?;
                Ok(("bump", format!(r#"{{"row":"{row}"}}"#), Some((cell + 1).to_string())))
            }
            (Action::Add, Page::List) => Ok(("add", "{}".into(), Some(format!("item-{}", self.items + 1)))),
            _ => Err(wrong_page()),
        }
    }

    /// Reads the event's patches and its ack. `expect`, when given, must be the text of
    /// an element in one of the patches.
    async fn await_ack(
        &mut self,
        id: u64,
        sent: Instant,
        expect: Option<&str>,
    ) -> Result<Answer, ClickError> {
        let mut answer = Answer::default();
        let mut first = None;
        let mut seen = expect.is_none();
        loop {
            let text = next_text(&mut self.ws).await?;
            let at = Instant::now();
            answer.frames += 1;
            answer.bytes_in += text.len() as u64;
            let frame = parse(&text).map_err(ClickError::Socket)?;
            match frame.t {
                "patch" => {
                    first.get_or_insert(at - sent);
                    if let Some(expect) = expect {
                        seen = seen || patch_shows(&text, expect)?;
                    }
                    if self.pending.len() == PENDING_MAX {
                        self.pending.pop_front();
                    }
                    self.pending.push_back((at, text));
                }
                "ack" if frame.i == Some(id) => {
                    answer.done = at - sent;
                    answer.first = first.unwrap_or(answer.done);
                    return if seen { Ok(answer) } else { Err(ClickError::MissingPatch) };
                }
                "err" => return Err(ClickError::Rejected(text.to_string())),
                // Acks of other events, params, redirects: not part of this answer's
                // check, but counted, since they came in while it was awaited.
                _ => continue,
            }
        }
    }
}

async fn open(addr: SocketAddr, page: Page) -> Result<Conn, String> {
    let path = page.path();
    let cookie = get_page(addr, path).await?;
    let mut req =
        format!("ws://{addr}{path}").into_client_request().map_err(|e| format!("websocket request: {e}"))?;
    // What a browser sends: its Origin (the server refuses a foreign one) and the cookie.
    let origin = HeaderValue::from_str(&format!("http://{addr}")).map_err(|e| format!("origin: {e}"))?;
    req.headers_mut().insert("Origin", origin);
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| format!("session cookie: {e}"))?;
    req.headers_mut().insert("Cookie", cookie);
    // Small client buffers, as the mizulive client uses, so 10,000 idle sockets keep
    // the bench process small; the server's side is unaffected.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        .await
        .map_err(|e| format!("websocket connect {path}: {e}"))?;
    let mut conn =
        Conn { ws, page, last_id: 0, count: 0, cells: vec![0; ROWS], items: 0, pending: VecDeque::new() };
    let text = next_text(&mut conn.ws).await.map_err(|e| format!("waiting for connect: {e}"))?;
    if parse(&text).map(|f| f.t) != Ok("connect") {
        return Err(format!("expected the connect frame first, got {text}"));
    }
    // The mount handshake (see the module's doc): a params event with the URL's (empty)
    // query, answered once the session is mounted.
    conn.last_id += 1;
    let id = conn.last_id;
    let params = format!(r#"{{"t":"params","i":{id},"d":{{}}}}"#);
    conn.ws.send(Message::text(params)).await.map_err(|e| format!("sending params: {e}"))?;
    loop {
        let text = next_text(&mut conn.ws).await.map_err(|e| format!("waiting for the params ack: {e}"))?;
        let frame = parse(&text)?;
        match frame.t {
            "ack" if frame.i == Some(id) => return Ok(conn),
            "err" => return Err(format!("mount failed: {text}")),
            _ => continue,
        }
    }
}

/// GETs the page as a new browser and returns its session cookie (`_psid=...`).
async fn get_page(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("GET {path}: connect: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("GET {path}: write: {e}"))?;
    let mut response = Vec::with_capacity(16 * 1024);
    stream.read_to_end(&mut response).await.map_err(|e| format!("GET {path}: read: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {status:?}"));
    }
    if !response.contains("live-rendered") {
        return Err(format!("GET {path}: the page is not rendered by live"));
    }
    session_cookie(&response).ok_or_else(|| format!("GET {path}: no {SESSION_COOKIE} cookie"))
}

/// `_psid=value` from the `Set-Cookie` headers of a response head.
fn session_cookie(response: &str) -> Option<String> {
    let head = &response[..response.find("\r\n\r\n")?];
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.eq_ignore_ascii_case("set-cookie") {
            return None;
        }
        let pair = value.split(';').next()?.trim();
        let (cookie, id) = pair.split_once('=')?;
        (cookie == SESSION_COOKIE && !id.is_empty()).then(|| pair.to_string())
    })
}

/// The patches of a patch frame.
fn patches(frame: &str) -> Result<Vec<Patch>, ClickError> {
    #[derive(Deserialize)]
    struct PatchFrame {
        d: Vec<Patch>,
    }
    serde_json::from_str::<PatchFrame>(frame)
        .map(|f| f.d)
        .map_err(|e| ClickError::Socket(format!("bad patch frame ({e}): {frame}")))
}

/// Whether one of the patches of a patch frame has an element whose text is `expect`
/// (a patch is a fragment of HTML; its texts are what lies between its tags).
fn patch_shows(frame: &str, expect: &str) -> Result<bool, ClickError> {
    Ok(patches(frame)?.iter().any(|p| texts(&p.html).any(|t| t == expect)))
}

/// Whether the HTML of one of the patches of a patch frame contains `needle`. The HTML
/// is matched decoded: Go's encoding/json writes `<` and `>` as `\u003c` and `\u003e`.
fn patch_contains(frame: &str, needle: &str) -> Result<bool, ClickError> {
    Ok(patches(frame)?.iter().any(|p| p.html.contains(needle)))
}

/// The texts of an HTML fragment: what lies outside its tags, trimmed, the empty ones
/// left out.
fn texts(html: &str) -> impl Iterator<Item = &str> {
    html.split('<')
        .map(|piece| piece.split_once('>').map_or(piece, |(_, text)| text))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn parse(text: &str) -> Result<Frame<'_>, String> {
    serde_json::from_str(text).map_err(|e| format!("unparsable frame ({e}): {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::Conn as _;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let response = "HTTP/1.1 200 OK\r\nSet-Cookie: other=1; Path=/\r\n\
                        set-cookie: _psid=abc123; Path=/; Max-Age=1\r\n\r\n<html>";
        assert_eq!(session_cookie(response).as_deref(), Some("_psid=abc123"));
        assert_eq!(session_cookie("HTTP/1.1 200 OK\r\nSet-Cookie: _psid=; Path=/\r\n\r\n"), None);
    }

    #[test]
    fn a_patch_shows_the_texts_of_its_elements_only() {
        let frame =
            r#"{"t":"patch","d":[{"Anchor":"_l_1_1","Action":1,"HTML":"<span _l_1=\"\">12</span>"}]}"#;
        assert!(patch_shows(frame, "12").unwrap());
        assert!(!patch_shows(frame, "1").unwrap());
        let text_only = r#"{"t":"patch","d":[{"Anchor":"_l_1","Action":1,"HTML":"item-3"}]}"#;
        assert!(patch_shows(text_only, "item-3").unwrap());
    }

    /// The whole path against the real server: install, start, open, act, push. (A
    /// runtime of its own, as the bench's main builds one: the crate's tokio has no
    /// macros.)
    #[test]
    #[ignore = "builds and runs the Go server (make bench-peers runs it)"]
    fn jfyne_live_serves_the_pages() {
        let root = crate::root_dir();
        let begun = Instant::now();
        install(&root).expect("install");
        eprintln!("install took {:?}", begun.elapsed());
        let server = start(&root).expect("start");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(session_walk(server.addr));
        server.stop().expect("stop");
    }

    async fn session_walk(addr: SocketAddr) {
        let mut a = Conn::open(addr, Page::Counter).await.expect("open /counter");
        for n in 1..=2 {
            let answer = a.act(Action::Inc).await.expect("inc");
            assert_eq!(a.count, n);
            eprintln!("/counter inc -> {n}: {answer:?}");
        }
        let mut b = Conn::open(addr, Page::Counter).await.expect("open a second /counter");
        let answer = a.act(Action::Broadcast).await.expect("broadcast");
        eprintln!("/counter broadcast: {answer:?}");
        // A fresh server: this is its first broadcast.
        a.await_push(">bc-1<").await.expect("the push on the acting session");
        b.await_push(">bc-1<").await.expect("the push on the other session");

        let mut t = Conn::open(addr, Page::Table).await.expect("open /table");
        for _ in 0..2 {
            let answer = t.act(Action::Bump { row: 42 }).await.expect("bump");
            eprintln!("/table bump row 42 -> {}: {answer:?}", t.cells[42]);
        }
        assert!(matches!(t.act(Action::Inc).await, Err(ClickError::Rejected(_))));

        let mut l = Conn::open(addr, Page::List).await.expect("open /list");
        for n in 1..=3 {
            let answer = l.act(Action::Add).await.expect("add");
            assert_eq!(l.items, n);
            eprintln!("/list add -> item-{n}: {answer:?}");
        }
    }
}
