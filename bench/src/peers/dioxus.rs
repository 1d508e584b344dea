//! dioxus-liveview 0.7.10 with axum (`bench/peers/dioxus`): its build, its server, and
//! its websocket protocol as the crate's browser glue speaks it.
//!
//! The protocol, as read from the crate's `main.js` and its interpreter:
//! - The page's HTML carries the glue script, which names the websocket path
//!   (`__dioxusGetWsUrl("/counter/ws")`). The browser connects there; there is no join
//!   message: the server builds the page's `VirtualDom` and sends its first edits at once.
//! - Every server frame is a binary websocket frame whose first byte says what follows:
//!   `1` = a batch of edits for the interpreter, `0` = UTF-8 text (`__pong__`, queries).
//! - An edit batch is sledgehammer-bindgen's exported memory (decoded by [`decode`]):
//!   metadata words that point at an op stream and at separate u32, u16 and u8 argument
//!   arrays and one string buffer. Listener ops carry the element ids events are sent to.
//! - The browser sends events as text:
//!   `{"method":"user_event","params":{"name":"click","element":ID,"bubbles":true,"data":{..}}}`.
//!   An event the server cannot parse is dropped silently (no error frame), so a wrong
//!   message shows up here as a timeout.
//! - After every wake-up (an event, a task, a ping) the server renders and sends a
//!   batch, even an empty one (only the end-of-batch op): so an event that changes
//!   nothing on its own page still costs a frame.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Action, Answer, ClickError, Page};
use crate::procs;

/// The name the runner reports this server under.
pub const NAME: &str = "dioxus-liveview";
/// A cold build compiles dioxus and axum from source: several minutes on 2 busy cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
/// Opening a page (GET, upgrade, first edits) and answering one action get this long.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
const ACT_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames a single wait looks at before giving up on a needle: bounds every loop even
/// against a server that keeps sending.
const MAX_FRAMES_PER_WAIT: u32 = 100_000;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn manifest(root: &Path) -> PathBuf {
    root.join("bench/peers/dioxus/Cargo.toml")
}

/// Where the peer is built: under the repository's target/, never in the source tree.
fn target_dir(root: &Path) -> PathBuf {
    root.join("target/peers/dioxus")
}

fn binary(root: &Path) -> PathBuf {
    target_dir(root).join("release/mizulive-peer-dioxus")
}

/// Builds the peer (`cargo build --release --locked` of its own project, dioxus pinned
/// at 0.7.10 by its Cargo.lock). A no-op taking well under a second when up to date.
pub fn install(root: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").map(PathBuf::from).unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked", "--quiet", "--manifest-path"])
        .arg(manifest(root))
        .env("CARGO_TARGET_DIR", target_dir(root))
        // The bench's own build settings (say, from `cargo test`) are not the peer's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    procs::run_bounded(cmd, BUILD_TIMEOUT).map_err(|e| format!("building the dioxus-liveview peer: {e}"))
}

/// Starts the built peer on a free port of 127.0.0.1, pinned like every peer.
pub fn start(root: &Path) -> Result<procs::Server, String> {
    let exe = binary(root);
    if !exe.is_file() {
        return Err(format!("{} is missing (install builds it)", exe.display()));
    }
    let mut cmd = Command::new(exe);
    cmd.env("PORT", "0").env_remove("RUST_LOG");
    procs::Server::peer(NAME, cmd)
}

/// One open page of the dioxus-liveview peer.
pub struct Conn {
    ws: Ws,
    page: Page,
    /// Element ids of the page's click listeners in document order: counter `+1` and
    /// `Broadcast`; table the 100 `bump` buttons; list `Add`.
    buttons: Vec<u32>,
    /// String caches the server's batches refer back to; they live as long as the socket.
    caches: Caches,
    /// What this session's page shows, to know the answer each action must bring.
    count: u64,
    rows: Vec<u64>,
    /// Table page: the id of each row's value text node.
    cells: Vec<u32>,
    items: u64,
    /// The last broadcast value this session saw.
    bcast: u64,
    /// The texts of the batches that arrived during the last act, with their arrival,
    /// for `await_push`.
    pending: VecDeque<(Instant, Vec<String>)>,
}

impl super::Conn for Conn {
    async fn open(addr: SocketAddr, page: Page) -> Result<Self, String> {
        timeout(OPEN_TIMEOUT, open(addr, page))
            .await
            .map_err(|_| format!("opening {} took over {OPEN_TIMEOUT:?}", page.path()))?
    }

    async fn act(&mut self, action: Action) -> Result<Answer, ClickError> {
        timeout(ACT_TIMEOUT, self.act_inner(action)).await.map_err(|_| ClickError::Timeout)?
    }

    async fn await_push(&mut self, needle: &str) -> Result<Instant, ClickError> {
        while let Some((at, texts)) = self.pending.pop_front() {
            if texts.iter().any(|t| shows(t, needle)) {
                return Ok(at);
            }
        }
        let wait = async {
            for _ in 0..MAX_FRAMES_PER_WAIT {
                let frame = self.next_frame().await?;
                let at = Instant::now();
                let edits = self.decode_frame(&frame)?;
                self.note_bcast(&edits);
                if edits.texts.iter().any(|(_, t)| shows(t, needle)) {
                    return Ok(at);
                }
            }
            Err(ClickError::Socket(format!("no push with {needle:?} in {MAX_FRAMES_PER_WAIT} frames")))
        };
        timeout(ACT_TIMEOUT, wait).await.map_err(|_| ClickError::Timeout)?
    }
}

async fn open(addr: SocketAddr, page: Page) -> Result<Conn, String> {
    let html = get(addr, page.path()).await?;
    let ws_path =
        ws_path(&html).ok_or_else(|| format!("GET {}: no websocket path in the glue", page.path()))?;
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}{ws_path}"), Some(config), true)
            .await
            .map_err(|e| format!("websocket {ws_path}: {e}"))?;
    let mut conn = Conn {
        ws,
        page,
        buttons: Vec::new(),
        caches: Caches::default(),
        count: 0,
        rows: vec![0; 100],
        cells: Vec::new(),
        items: 0,
        bcast: 0,
        pending: VecDeque::new(),
    };
    // The first batch builds the whole page; its listeners are the buttons.
    let frame = conn.next_frame().await.map_err(|e| format!("waiting for the first edits: {e}"))?;
    let edits = conn.decode_frame(&frame).map_err(|e| format!("first edits: {e}"))?;
    if edits.batches == 0 {
        return Err("the first frame was not an edit batch".into());
    }
    conn.note_bcast(&edits);
    conn.buttons = edits
        .listeners
        .iter()
        .filter(|(_, name)| name.as_deref() == Some("click"))
        .map(|(id, _)| *id)
        .collect();
    let expected = match page {
        Page::Counter => 2,
        Page::Table => 100,
        Page::List => 1,
    };
    if conn.buttons.len() != expected {
        return Err(format!(
            "{}: {} click listeners in the first edits, expected {expected}",
            page.path(),
            conn.buttons.len()
        ));
    }
    if page == Page::Table {
        conn.cells = value_cells(&edits.texts).map_err(|e| format!("/table: {e}"))?;
    }
    conn.settle().await.map_err(|e| format!("{}: after the first edits: {e}", page.path()))?;
    Ok(conn)
}

impl Conn {
    /// Reads the frames every new session gets after its first edits, so that none of
    /// them is counted as the answer to the first act. The liveview history starts by
    /// evaluating a script in the browser: a `query` text frame, and the batch rendered
    /// after it. (The client does not answer it, so the history waits for good and sends
    /// nothing more.) The counter's broadcast subscription starts by setting its value,
    /// one more batch.
    async fn settle(&mut self) -> Result<(), ClickError> {
        let batches = if self.page == Page::Counter { 2 } else { 1 };
        let (mut query_seen, mut after_query, mut seen) = (false, 0, 0);
        for _ in 0..MAX_FRAMES_PER_WAIT {
            if query_seen && after_query >= 1 && seen >= batches {
                return Ok(());
            }
            let frame = self.next_frame().await?;
            let edits = self.decode_frame(&frame)?;
            self.note_bcast(&edits);
            if edits.batches == 1 {
                seen += 1;
                after_query += u32::from(query_seen);
            } else if frame.starts_with(b"\0{\"type\":\"query\"") {
                query_seen = true;
            }
        }
        Err(ClickError::Socket(format!("no settling in {MAX_FRAMES_PER_WAIT} frames")))
    }

    async fn act_inner(&mut self, action: Action) -> Result<Answer, ClickError> {
        let (button, expect) = match (self.page, action) {
            (Page::Counter, Action::Inc) => (self.buttons[0], Some((None, (self.count + 1).to_string()))),
            // The value is server-wide, so this session cannot know it: the answer is the
            // event's own batch, and the push that follows is for `await_push`.
            (Page::Counter, Action::Broadcast) => (self.buttons[1], None),
            (Page::Table, Action::Bump { row }) if (row as usize) < self.buttons.len() => {
                let cell = Some(self.cells[row as usize]);
                (self.buttons[row as usize], Some((cell, (self.rows[row as usize] + 1).to_string())))
            }
            (Page::List, Action::Add) => (self.buttons[0], Some((None, format!("item-{}", self.items + 1)))),
            (page, action) => {
                return Err(ClickError::Rejected(format!("{action:?} is not an action of {page:?}")))
            }
        };
        self.pending.clear();
        let event = click_event(button);
        let sent = Instant::now();
        self.ws.send(Message::text(event.clone())).await.map_err(|e| ClickError::Socket(e.to_string()))?;
        let mut answer = Answer { bytes_out: event.len() as u64, ..Answer::default() };
        for _ in 0..MAX_FRAMES_PER_WAIT {
            let frame = self.next_frame().await?;
            let at = sent.elapsed();
            if answer.frames == 0 {
                answer.first = at;
            }
            answer.frames += 1;
            answer.bytes_in += frame.len() as u64;
            let edits = self.decode_frame(&frame)?;
            self.note_bcast(&edits);
            let answered = match &expect {
                // The text, on the node it belongs to when the page tells which one that is.
                Some((node, text)) => {
                    edits.texts.iter().any(|(id, t)| t == text && (node.is_none() || id == node))
                }
                None => edits.batches == 1,
            };
            // A broadcast's push can come with or before the answer: keep it for await_push.
            self.pending.push_back((sent + at, edits.texts.into_iter().map(|(_, t)| t).collect()));
            if answered {
                answer.done = at;
                match action {
                    Action::Inc => self.count += 1,
                    Action::Bump { row } => self.rows[row as usize] += 1,
                    Action::Add => self.items += 1,
                    Action::Broadcast => {}
                }
                return Ok(answer);
            }
        }
        Err(ClickError::Socket(format!("no answer to {action:?} in {MAX_FRAMES_PER_WAIT} frames")))
    }

    /// The next server frame's payload (binary; the first byte is the kind). Pings are
    /// answered by tungstenite and skipped.
    async fn next_frame(&mut self) -> Result<Vec<u8>, ClickError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) => return Ok(b.to_vec()),
                // The glue reads every frame as bytes; a text frame is the same payload.
                Some(Ok(Message::Text(t))) => return Ok(t.as_bytes().to_vec()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(ClickError::Socket(format!("closed: {frame:?}")))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(ClickError::Socket(e.to_string())),
                None => return Err(ClickError::Socket("closed without a close frame".into())),
            }
        }
    }

    /// Decodes an edit batch (kind 1); text frames (kind 0) decode to nothing.
    fn decode_frame(&mut self, frame: &[u8]) -> Result<Edits, ClickError> {
        match frame.split_first() {
            Some((1, batch)) => decode(batch, &mut self.caches).map_err(ClickError::Socket),
            Some((0, _)) => Ok(Edits::default()),
            _ => Err(ClickError::Socket(format!("frame of unknown kind ({} bytes)", frame.len()))),
        }
    }

    /// Remembers the newest `bc-N` the page was given.
    fn note_bcast(&mut self, edits: &Edits) {
        for (_, text) in &edits.texts {
            if let Some(n) = text.strip_prefix("bc-").and_then(|n| n.parse::<u64>().ok()) {
                self.bcast = self.bcast.max(n);
            }
        }
    }
}

/// The message the glue sends for a click: a browser's click is a `PointerEvent`, so
/// the serialized data has the mouse, pointer and (for clicks) form fields.
fn click_event(element: u32) -> String {
    format!(
        concat!(
            r#"{{"method":"user_event","params":{{"name":"click","data":{{"#,
            r#""alt_key":false,"button":0,"buttons":0,"client_x":40,"client_y":120,"ctrl_key":false,"#,
            r#""meta_key":false,"offset_x":12,"offset_y":9,"page_x":40,"page_y":120,"screen_x":40,"#,
            r#""screen_y":200,"shift_key":false,"pointer_id":1,"width":1,"height":1,"pressure":0,"#,
            r#""tangential_pressure":0,"tilt_x":0,"tilt_y":0,"twist":0,"pointer_type":"mouse","#,
            r#""is_primary":false,"values":[],"value":""}},"element":{element},"bubbles":true}}}}"#
        ),
        element = element
    )
}

/// The id of each table row's value text node, from the first edits: dioxus creates a
/// row's dynamic texts last to first, so row N's value is the text just before `name-N`.
fn value_cells(texts: &[(Option<u32>, String)]) -> Result<Vec<u32>, String> {
    (0..100)
        .map(|row| {
            let name = format!("name-{row}");
            let at = texts.iter().position(|(_, t)| *t == name).ok_or_else(|| format!("no {name} text"))?;
            match at.checked_sub(1).map(|i| &texts[i]) {
                Some((Some(id), value)) if value == "0" => Ok(*id),
                _ => Err(format!("no value text before {name}")),
            }
        })
        .collect()
}

/// GETs `path` as a new browser and returns the body.
async fn get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("GET {path}: connect: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("GET {path}: write: {e}"))?;
    let mut response = Vec::with_capacity(64 * 1024);
    stream.read_to_end(&mut response).await.map_err(|e| format!("GET {path}: read: {e}"))?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {status:?}"));
    }
    let body = response.find("\r\n\r\n").map(|i| &response[i + 4..]).unwrap_or_default();
    Ok(body.to_string())
}

/// The websocket path the page's glue connects to: `var WS_ADDR = __dioxusGetWsUrl("PATH");`.
fn ws_path(html: &str) -> Option<&str> {
    const CALL: &str = "__dioxusGetWsUrl(\"";
    let start = html.find(CALL)? + CALL.len();
    let path = &html[start..start + html[start..].find('"')?];
    path.starts_with('/').then_some(path)
}

/// Whether a text node's text shows `needle`: contains it, and not as the start of a
/// longer number (`bc-1` is not shown by `bc-12`). Batches carry text nodes' strings
/// with nothing between them, so the needle is looked for in each text, not the bytes.
fn shows(text: &str, needle: &str) -> bool {
    !needle.is_empty()
        && text
            .match_indices(needle)
            .any(|(at, _)| !text[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The string caches of the interpreter (`attr`, `el`, `evt`, `namespace`, `ns_cache`):
/// a string sent once is later referred to by its slot. Only event names are kept; the
/// others only need their bytes skipped.
#[derive(Default)]
pub(crate) struct Caches {
    evt: Vec<Option<String>>,
}

/// What the bench reads from a batch.
#[derive(Debug, Default)]
pub(crate) struct Edits {
    /// 1 for an edit batch, 0 for a text frame.
    pub batches: u32,
    /// (element id, event name) of each listener added; the name is `None` when it came
    /// from a cache slot this client never saw filled.
    pub listeners: Vec<(u32, Option<String>)>,
    /// (node id, text) of each text node created or set; template text has no id.
    pub texts: Vec<(Option<u32>, String)>,
    /// Ops in the batch, the end marker excluded.
    pub ops: u32,
}

/// Reads one sledgehammer-bindgen batch as the generated interpreter of
/// dioxus-interpreter-js 0.7.10 (sledgehammer_bindgen 0.6) does: metadata u32 0 holds
/// flags, u32 1 the string buffer's offset, 2 its length, 3/4/5 the u32/u16/u8 arrays'
/// offsets and 6 the op stream's. Ops are bytes, four to a little-endian u32; each op
/// takes its arguments from the arrays in a fixed order (transcribed from the
/// interpreter's `run()`), and strings are cut from the string buffer by UTF-16 length.
pub(crate) fn decode(batch: &[u8], caches: &mut Caches) -> Result<Edits, String> {
    let meta = |slot: usize| {
        read_u32(batch, slot * 4).ok_or_else(|| format!("batch of {} bytes has no metadata", batch.len()))
    };
    let flags = meta(0)?;
    let strings = if flags & (1 << 2) != 0 {
        let (start, len) = (meta(1)? as usize, meta(2)? as usize);
        let bytes = batch.get(start..start + len).ok_or("string buffer out of bounds")?;
        // Short ASCII buffers are read byte by byte, the rest as UTF-8: the same text.
        String::from_utf8(bytes.to_vec()).map_err(|_| "string buffer is not UTF-8")?
    } else {
        String::new()
    };
    let mut r = Reader {
        batch,
        u32_at: meta(3)? as usize,
        u16_at: meta(4)? as usize,
        u8_at: meta(5)? as usize,
        strings: &strings,
        str_pos: 0,
    };
    let mut edits = Edits { batches: 1, ..Edits::default() };
    let mut p = meta(6)? as usize;
    // Every op is one byte of the batch, so a batch cannot hold more.
    for _ in 0..batch.len() / 4 + 1 {
        let word = read_u32(batch, p).ok_or("op stream runs past the batch")?;
        p += 4;
        for k in 0..4 {
            let op = (word >> (8 * k)) & 0xff;
            match op {
                // push_root, remove, create_placeholder: one id.
                0 | 6 | 9 => {
                    r.u32()?;
                }
                // append_children, replace_with, insert_after, insert_before: id, count.
                1 | 3..=5 => {
                    r.u32()?;
                    r.u16()?;
                }
                // pop_root, add_placeholder.
                2 | 20 => {}
                // create_raw_text (a template's static text).
                7 => {
                    let len = r.u32()?;
                    let text = r.str(len)?;
                    edits.texts.push((None, text));
                }
                // create_text_node: text, then id.
                8 => {
                    let len = r.u32()?;
                    let text = r.str(len)?;
                    let id = r.u32()?;
                    edits.texts.push((Some(id), text));
                }
                // new_event_listener: id, name, bubbles.
                10 => {
                    let id = r.u32()?;
                    let name = r.cached(Some(&mut caches.evt))?;
                    r.u8()?;
                    edits.listeners.push((id, name));
                }
                // remove_event_listener: id, name, bubbles.
                11 => {
                    r.u32()?;
                    r.cached(Some(&mut caches.evt))?;
                    r.u8()?;
                }
                // set_text: id, text.
                12 => {
                    let id = r.u32()?;
                    let len = r.u32()?;
                    let text = r.str(len)?;
                    edits.texts.push((Some(id), text));
                }
                // set_attribute: id, name, value, namespace.
                13 => {
                    r.u32()?;
                    r.cached(None)?;
                    let len = r.u32()?;
                    r.str(len)?;
                    r.cached(None)?;
                }
                // remove_attribute: name, namespace, id.
                14 => {
                    r.cached(None)?;
                    r.cached(None)?;
                    r.u32()?;
                }
                // assign_id: id, ptr, len.
                15 => {
                    r.u32()?;
                    r.u32()?;
                    r.u8()?;
                }
                // replace_placeholder: n, ptr, len.
                16 => {
                    r.u16()?;
                    r.u32()?;
                    r.u8()?;
                }
                // load_template: template, index, id.
                17 => {
                    r.u16()?;
                    r.u16()?;
                    r.u32()?;
                }
                // append_children_to_top: count.
                18 => {
                    r.u16()?;
                }
                // set_top_attribute: name, value, namespace.
                19 => {
                    r.cached(None)?;
                    let len = r.u32()?;
                    r.str(len)?;
                    r.cached(None)?;
                }
                // create_element: tag.
                21 => {
                    r.cached(None)?;
                }
                // create_element_ns: namespace, tag.
                22 => {
                    r.cached(None)?;
                    r.cached(None)?;
                }
                // add_templates: template, count.
                23 => {
                    r.u16()?;
                    r.u16()?;
                }
                // foreign_event_listener (what liveview sends): id, bubbles, name.
                24 => {
                    let id = r.u32()?;
                    r.u8()?;
                    let name = r.cached(Some(&mut caches.evt))?;
                    edits.listeners.push((id, name));
                }
                // assign_id_ref: id, then a u8 path of u32 length.
                25 => {
                    r.u32()?;
                    let len = r.u32()?;
                    r.u8_slice(len)?;
                }
                // replace_placeholder_ref: count, then a u8 path of u32 length.
                26 => {
                    r.u16()?;
                    let len = r.u32()?;
                    r.u8_slice(len)?;
                }
                // End of the batch.
                27 => return Ok(edits),
                // Padding between appended batches: the interpreter skips it.
                _ => continue,
            }
            edits.ops += 1;
        }
    }
    Err("op stream has no end".into())
}

fn read_u32(batch: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(batch.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// The argument arrays and the string buffer of one batch, read front to back.
struct Reader<'a> {
    batch: &'a [u8],
    u32_at: usize,
    u16_at: usize,
    u8_at: usize,
    strings: &'a str,
    /// Byte offset into `strings`.
    str_pos: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, String> {
        let v = read_u32(self.batch, self.u32_at).ok_or("u32 array runs past the batch")?;
        self.u32_at += 4;
        Ok(v)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.batch.get(self.u16_at..self.u16_at + 2).ok_or("u16 array runs past the batch")?;
        self.u16_at += 2;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u8(&mut self) -> Result<u8, String> {
        let v = *self.batch.get(self.u8_at).ok_or("u8 array runs past the batch")?;
        self.u8_at += 1;
        Ok(v)
    }

    fn u8_slice(&mut self, len: u32) -> Result<(), String> {
        let end = self.u8_at.checked_add(len as usize).filter(|&e| e <= self.batch.len());
        self.u8_at = end.ok_or("u8 array runs past the batch")?;
        Ok(())
    }

    /// The next `units` UTF-16 code units of the string buffer (JS `substring`).
    fn str(&mut self, units: u32) -> Result<String, String> {
        let rest = &self.strings[self.str_pos..];
        let mut taken = 0usize;
        let mut bytes = 0usize;
        for c in rest.chars() {
            if taken >= units as usize {
                break;
            }
            taken += c.len_utf16();
            bytes += c.len_utf8();
        }
        if taken != units as usize {
            return Err("string buffer runs out".into());
        }
        self.str_pos += bytes;
        Ok(rest[..bytes].to_string())
    }

    /// A cached string: a slot byte whose top bit says the string follows (u8 length)
    /// and fills the slot; without it the slot was filled by an earlier batch.
    fn cached(&mut self, cache: Option<&mut Vec<Option<String>>>) -> Result<Option<String>, String> {
        let slot = self.u8()?;
        let index = (slot & 0x7f) as usize;
        if slot & 0x80 != 0 {
            let len = self.u8()?;
            let text = self.str(len as u32)?;
            if let Some(cache) = cache {
                if cache.len() <= index {
                    cache.resize(index + 1, None);
                }
                cache[index] = Some(text.clone());
            }
            Ok(Some(text))
        } else {
            Ok(cache.and_then(|c| c.get(index).cloned().flatten()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Conn as _;
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is in the repository").to_path_buf()
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
    }

    /// Frames captured from the peer: a new /counter session's first edits, then the
    /// batch answering its first `+1`.
    const COUNTER_FIRST: &str = concat!(
        "017f000000dc0000004b0000006800000046000000bc0000001c00000015150712150715131412121507",
        "151314121215071215071212171119181918081a081a011b0000000000010001000200010002000100",
        "010005000000010000000000010001000100000000000700000007000000050000000b000000050000",
        "000200000009000000010000000200000001000000020000000300000001000000030000000400000004",
        "000000030000000100000005000000030000000000000080048102820183048002800002030000840604",
        "030180050401000201000101006d61696e6831436f756e74657270436f756e743a207370616e6964636f",
        "756e7442726f6164636173743a206263617374627574746f6e2b3142726f616463617374636c69636b62",
        "632d3030",
    );
    const COUNTER_INC: &str =
        "017f0000002c0000000100000024000000220000002c0000001c0000000c1b071200000000050000000100000031";

    #[test]
    fn decodes_the_counter_batches() {
        let mut caches = Caches::default();
        let first = unhex(COUNTER_FIRST);
        assert_eq!(first[0], 1, "an edit batch");
        let edits = decode(&first[1..], &mut caches).expect("first edits decode");
        let click = Some("click".to_string());
        assert_eq!(edits.listeners, vec![(2, click.clone()), (3, click)]);
        assert!(edits.texts.contains(&(Some(4), "bc-0".to_string())));
        assert!(edits.texts.contains(&(Some(5), "0".to_string())));
        assert!(edits.texts.contains(&(None, "Broadcast: ".to_string())));

        let inc = unhex(COUNTER_INC);
        let edits = decode(&inc[1..], &mut caches).expect("inc decodes");
        assert_eq!((edits.ops, edits.texts), (1, vec![(Some(5), "1".to_string())]));
        assert!(edits.listeners.is_empty());
        // Cut short, a batch is an error, not a panic.
        for len in [0, 3, 20, inc.len() - 2] {
            assert!(decode(&inc[1..len.max(1)], &mut caches).is_err(), "a batch cut to {len} bytes");
        }
    }

    #[test]
    fn a_needle_is_shown_whole() {
        assert!(shows("bc-1", "bc-1"));
        assert!(shows("now bc-12!", "bc-12"));
        assert!(!shows("bc-12", "bc-1"));
        assert!(!shows("bc-0", "bc-1"));
    }

    #[test]
    fn finds_the_websocket_path() {
        let html = r#"<script> function __dioxusGetWsUrl(path) { return path; }
            var WS_ADDR = __dioxusGetWsUrl("/table/ws"); </script>"#;
        assert_eq!(ws_path(html), Some("/table/ws"));
        assert_eq!(ws_path("<p>no glue</p>"), None);
    }

    /// Builds and starts the peer, then drives every page once. Slow the first time
    /// (the build): `cargo test --release -p mizulive-bench -- --ignored dioxus`.
    #[test]
    #[ignore]
    fn dioxus_peer_answers_every_action() {
        let root = repo_root();
        install(&root).expect("build");
        let server = start(&root).expect("start");
        let addr = server.addr;
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut a = Conn::open(addr, Page::Counter).await.expect("open /counter");
            for n in 1..=2 {
                let answer = a.act(Action::Inc).await.expect("inc");
                assert_eq!(a.count, n);
                eprintln!("counter inc -> {n}: {answer:?}");
            }
            let mut b = Conn::open(addr, Page::Counter).await.expect("open a second /counter");
            let answer = a.act(Action::Broadcast).await.expect("broadcast");
            eprintln!("counter broadcast: {answer:?}");
            // A fresh server: this is its first broadcast.
            a.await_push("bc-1").await.expect("the push on the acting session");
            b.await_push("bc-1").await.expect("the push on the other session");
            assert_eq!((a.bcast, b.bcast), (1, 1));
            // A session opened later starts at the server-wide value.
            let c = Conn::open(addr, Page::Counter).await.expect("open a third /counter");
            assert_eq!(c.bcast, 1);

            let mut t = Conn::open(addr, Page::Table).await.expect("open /table");
            for row in [7, 7, 99] {
                let answer = t.act(Action::Bump { row }).await.expect("bump");
                eprintln!("table bump row {row}: {answer:?}");
            }
            assert_eq!((t.rows[7], t.rows[99]), (2, 1));

            let mut l = Conn::open(addr, Page::List).await.expect("open /list");
            for n in 1..=3 {
                let answer = l.act(Action::Add).await.expect("add");
                assert_eq!(l.items, n);
                eprintln!("list add -> item-{n}: {answer:?}");
            }
        });
        server.stop().expect("stop");
    }
}
