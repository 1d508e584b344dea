//! One benchmark client: a mizulive session (GET the page, open the socket, join) or a
//! bare connection to the echo server, and the timed round trip both share.

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Opening a client (GET, upgrade, join) and one round trip each get this long.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
pub(crate) const ROUNDTRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the page embeds its boot data in.
const BOOT_MARKER: &str = "id=\"lv-boot\"";

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The server a client talks to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The C counter: sessions, events, patches.
    Live(SocketAddr),
    /// The echo baseline: the event frame comes back verbatim.
    Echo(SocketAddr),
}

/// An open, joined client.
pub struct Client {
    ws: Ws,
    live: bool,
    next_ref: u64,
    /// The count the last patch showed (the C counter's `id="count"`), to notice a
    /// lost patch: every click adds one.
    last_count: Option<i64>,
    /// Patches whose count was not the previous one plus one.
    count_gaps: u64,
}

/// How long one round trip took: to the first frame that answers it (the patch, or
/// the echo) and to the last (the reply, or again the echo).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub first: Duration,
    pub done: Duration,
}

/// Why a round trip failed.
#[derive(Debug)]
pub enum ClickError {
    /// The reply said `rate_limited`: the bench sent faster than the server allows.
    RateLimited,
    /// Any other `ok:false` reply, with its code.
    Rejected(String),
    /// The reply was ok but no patch preceded it (the counter always changes).
    MissingPatch,
    /// The socket closed or failed, or the server sent something unexpected.
    Socket(String),
    Timeout,
}

impl ClickError {
    /// After these the socket is in an unknown state and the client is dropped.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ClickError::Socket(_) | ClickError::Timeout)
    }
}

impl fmt::Display for ClickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClickError::RateLimited => write!(f, "reply rate_limited"),
            ClickError::Rejected(code) => write!(f, "reply not ok: {code}"),
            ClickError::MissingPatch => write!(f, "ok reply without a patch before it"),
            ClickError::Socket(why) => write!(f, "socket: {why}"),
            ClickError::Timeout => write!(f, "no answer within {ROUNDTRIP_TIMEOUT:?}"),
        }
    }
}

/// The fields of a server frame the bench looks at; the rest (HTML) is skipped
/// without being copied.
#[derive(Deserialize)]
pub(crate) struct Frame<'a> {
    /// A mizulive patch carries no `t`: it reads as "patch".
    #[serde(default = "untagged")]
    pub t: &'a str,
    #[serde(rename = "ref")]
    pub reference: Option<u64>,
    pub ok: Option<bool>,
    pub error: Option<FrameError>,
    pub code: Option<String>,
}

fn untagged() -> &'static str {
    "patch"
}

#[derive(Deserialize)]
pub(crate) struct FrameError {
    pub code: String,
}

impl Target {
    /// Opens and (for mizulive) joins a client.
    pub async fn open(self) -> Result<Client, String> {
        let opened = match self {
            Target::Live(addr) => timeout(OPEN_TIMEOUT, open_live(addr, "/counter")).await,
            Target::Echo(addr) => timeout(OPEN_TIMEOUT, open_echo(addr)).await,
        };
        opened.map_err(|_| format!("opening took over {OPEN_TIMEOUT:?}"))?
    }
}

/// The client side uses small buffers too, so 10,000 idle sockets keep the bench
/// process small; it does not change what the server is measured to use.
pub(crate) fn client_ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

/// Opens and joins a session of the page at `path` (say `/rooms/bench`) of a mizulive
/// server, as `Target::Live` does for `/counter`.
pub async fn open_page(addr: SocketAddr, path: &str) -> Result<Client, String> {
    timeout(OPEN_TIMEOUT, open_live(addr, path))
        .await
        .map_err(|_| format!("opening took over {OPEN_TIMEOUT:?}"))?
}

async fn open_live(addr: SocketAddr, path: &str) -> Result<Client, String> {
    let (ws, token) = upgrade(addr, path).await?;
    let mut client = Client { ws, live: true, next_ref: 0, last_count: None, count_gaps: 0 };
    client.join(addr, path, &token).await?;
    Ok(client)
}

/// GETs the page at `path` as a new browser and opens its socket as the browser would
/// (Origin and cookie set); returns the socket, not yet joined, and the page's token.
/// Not bounded in time: callers wrap it in their own timeout.
pub(crate) async fn upgrade(addr: SocketAddr, path: &str) -> Result<(Ws, String), String> {
    let (token, cookie) = fetch_token(addr, path).await?;
    let mut req = format!("ws://{addr}/_live/websocket")
        .into_client_request()
        .map_err(|e| format!("websocket request: {e}"))?;
    // The server refuses an upgrade without a same-origin Origin header.
    let origin =
        HeaderValue::from_str(&format!("http://{addr}")).expect("an address is a valid header value");
    req.headers_mut().insert("Origin", origin);
    // The token is bound to the browser cookie the GET set: a browser sends it back.
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| format!("browser cookie: {e}"))?;
    req.headers_mut().insert("Cookie", cookie);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(client_ws_config()), true)
        .await
        .map_err(|e| format!("websocket connect: {e}"))?;
    Ok((ws, token))
}

/// The count a patch of the C counter shows (`<strong id="count">N</strong>` inside
/// a JSON string), if it shows one.
fn shown_count(frame: &str) -> Option<i64> {
    const NEEDLE: &str = r#"id=\"count\">"#;
    let rest = &frame[frame.find(NEEDLE)? + NEEDLE.len()..];
    let end = rest.find(|c: char| c != '-' && !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// The `join` frame of a session whose page at `path` gave `token`.
pub(crate) fn join_frame(addr: SocketAddr, path: &str, token: &str) -> String {
    serde_json::json!({
        "t": "join", "v": 4, "token": token, "url": format!("http://{addr}{path}"), "seq": 0,
    })
    .to_string()
}

async fn open_echo(addr: SocketAddr) -> Result<Client, String> {
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(format!("ws://{addr}/"), Some(client_ws_config()), true)
            .await
            .map_err(|e| format!("websocket connect: {e}"))?;
    Ok(Client { ws, live: false, next_ref: 0, last_count: None, count_gaps: 0 })
}

/// GETs the page (which mounts a session) as a new browser; returns the token from its
/// boot data and the browser cookie (`name=value`) it was bound to.
async fn fetch_token(addr: SocketAddr, path: &str) -> Result<(String, String), String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("GET {path}: connect: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("GET {path}: write: {e}"))?;
    let mut response = Vec::with_capacity(8192);
    stream.read_to_end(&mut response).await.map_err(|e| format!("GET {path}: read: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {path}: {status:?}"));
    }
    let token = boot_token(&response).ok_or_else(|| format!("GET {path}: no token in the lv-boot script"))?;
    let cookie = set_cookie(&response).ok_or_else(|| format!("GET {path}: no browser cookie"))?;
    Ok((token, cookie))
}

/// `name=value` of the first `Set-Cookie` header of a response head.
fn set_cookie(response: &str) -> Option<String> {
    let head = &response[..response.find("\r\n\r\n")?];
    let value = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie").then_some(value)
    })?;
    Some(value.split(';').next()?.trim().to_string())
}

/// The `token` of `<script id="lv-boot" type="application/json">{...}</script>`.
fn boot_token(html: &str) -> Option<String> {
    let after_marker = &html[html.find(BOOT_MARKER)?..];
    let json_start = &after_marker[after_marker.find('>')? + 1..];
    let json = &json_start[..json_start.find("</script>")?];
    let boot: serde_json::Value = serde_json::from_str(json).ok()?;
    boot.get("token")?.as_str().map(str::to_owned)
}

impl Client {
    /// Patches of the C counter whose count was not one more than the last one's so
    /// far: each one means a patch was lost.
    pub fn count_gaps(&self) -> u64 {
        self.count_gaps
    }

    async fn join(&mut self, addr: SocketAddr, path: &str, token: &str) -> Result<(), String> {
        let join = join_frame(addr, path, token);
        self.ws.send(Message::text(join)).await.map_err(|e| format!("sending join: {e}"))?;
        loop {
            let text = self.next_text().await.map_err(|e| format!("waiting for joined: {e}"))?;
            let frame = parse(&text).map_err(|e| format!("waiting for joined: {e}"))?;
            match frame.t {
                "joined" => return Ok(()),
                "error" => return Err(format!("join refused: {}", frame.code.unwrap_or_default())),
                // Nothing else is expected before joined; tolerate it rather than guess.
                _ => continue,
            }
        }
    }

    /// Sends one click on `inc` and waits for its answer. Against the echo server the
    /// same bytes are sent, so both servers parse and write frames of the same size.
    pub async fn roundtrip(&mut self) -> Result<Timing, ClickError> {
        self.next_ref += 1;
        let reference = self.next_ref;
        let event: Utf8Bytes = format!(
            r#"{{"t":"event","ref":{reference},"type":"click","name":"inc","target":null,"values":{{"by":"1"}},"form":{{}},"key":null,"meta":{{"shift":false,"ctrl":false,"alt":false,"meta":false}}}}"#
        )
        .into();
        let sent = Instant::now();
        let exchange = async {
            self.ws
                .send(Message::Text(event.clone()))
                .await
                .map_err(|e| ClickError::Socket(e.to_string()))?;
            if self.live {
                self.await_reply(reference, sent).await
            } else {
                self.await_echo(&event, sent).await
            }
        };
        timeout(ROUNDTRIP_TIMEOUT, exchange).await.map_err(|_| ClickError::Timeout)?
    }

    /// The event's patch comes first, then its reply (the protocol orders them), unless
    /// the patch is the reply too.
    async fn await_reply(&mut self, reference: u64, sent: Instant) -> Result<Timing, ClickError> {
        let mut patch_at = None;
        loop {
            let text = self.next_text().await?;
            let frame = parse(&text).map_err(ClickError::Socket)?;
            match frame.t {
                "patch" => {
                    let at = *patch_at.get_or_insert_with(|| sent.elapsed());
                    if let Some(count) = shown_count(&text) {
                        if self.last_count.is_some_and(|last| count != last + 1) {
                            self.count_gaps += 1;
                        }
                        self.last_count = Some(count);
                    }
                    // A patch that answers the event is its reply as well (a success).
                    if frame.reference == Some(reference) {
                        return Ok(Timing { first: at, done: at });
                    }
                }
                "reply" if frame.reference == Some(reference) => {
                    let done = sent.elapsed();
                    return match (frame.ok, frame.error) {
                        (Some(true), _) => {
                            Ok(Timing { first: patch_at.ok_or(ClickError::MissingPatch)?, done })
                        }
                        (_, Some(e)) if e.code == "rate_limited" => Err(ClickError::RateLimited),
                        (_, e) => Err(ClickError::Rejected(e.map(|e| e.code).unwrap_or_default())),
                    };
                }
                "close" | "error" => return Err(ClickError::Socket(format!("server sent {text}"))),
                _ => continue,
            }
        }
    }

    async fn await_echo(&mut self, event: &Utf8Bytes, sent: Instant) -> Result<Timing, ClickError> {
        let text = self.next_text().await?;
        if text.as_str() != event.as_str() {
            return Err(ClickError::Socket(format!("echo returned {text}")));
        }
        let t = sent.elapsed();
        Ok(Timing { first: t, done: t })
    }

    /// Submits form `form` with one field `field` = `text` (what a browser sends for
    /// `lv.form(form)`) and waits for the ok reply; patches before it are skipped.
    pub async fn submit(&mut self, form: &str, field: &str, text: &str) -> Result<(), ClickError> {
        self.next_ref += 1;
        let reference = self.next_ref;
        let event = serde_json::json!({
            "t": "event", "ref": reference, "type": "submit", "name": form, "target": null,
            "values": {}, "form": { field: [text] }, "key": null,
            "meta": {"shift": false, "ctrl": false, "alt": false, "meta": false},
        });
        let exchange = async {
            self.ws
                .send(Message::text(event.to_string()))
                .await
                .map_err(|e| ClickError::Socket(e.to_string()))?;
            loop {
                let text = self.next_text().await?;
                let frame = parse(&text).map_err(ClickError::Socket)?;
                match frame.t {
                    // The reply, or the patch that is the reply as well.
                    "reply" | "patch" if frame.reference == Some(reference) => {
                        return match (frame.ok, frame.error) {
                            (Some(true), _) => Ok(()),
                            (_, Some(e)) if e.code == "rate_limited" => Err(ClickError::RateLimited),
                            (_, e) => Err(ClickError::Rejected(e.map(|e| e.code).unwrap_or_default())),
                        };
                    }
                    "close" | "error" => return Err(ClickError::Socket(format!("server sent {text}"))),
                    _ => continue,
                }
            }
        };
        timeout(ROUNDTRIP_TIMEOUT, exchange).await.map_err(|_| ClickError::Timeout)?
    }

    /// Waits for a patch whose text contains `needle` and returns when it arrived.
    /// Earlier patches (the publishes of earlier rounds) are skipped.
    pub async fn await_patch_with(&mut self, needle: &str) -> Result<Instant, ClickError> {
        let wait = async {
            loop {
                let text = self.next_text().await?;
                let frame = parse(&text).map_err(ClickError::Socket)?;
                match frame.t {
                    "patch" if text.as_str().contains(needle) => return Ok(Instant::now()),
                    "close" | "error" => return Err(ClickError::Socket(format!("server sent {text}"))),
                    _ => continue,
                }
            }
        };
        timeout(ROUNDTRIP_TIMEOUT, wait).await.map_err(|_| ClickError::Timeout)?
    }

    async fn next_text(&mut self) -> Result<Utf8Bytes, ClickError> {
        next_text(&mut self.ws).await
    }
}

/// The next text frame; pings and pongs are skipped (tungstenite answers pings).
pub(crate) async fn next_text(ws: &mut Ws) -> Result<Utf8Bytes, ClickError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Close(frame))) => return Err(ClickError::Socket(format!("closed: {frame:?}"))),
            Some(Ok(Message::Binary(_))) => return Err(ClickError::Socket("unexpected binary frame".into())),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ClickError::Socket(e.to_string())),
            None => return Err(ClickError::Socket("closed without a close frame".into())),
        }
    }
}

pub(crate) fn parse(text: &str) -> Result<Frame<'_>, String> {
    serde_json::from_str(text).map_err(|e| format!("unparsable frame ({e}): {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_a_patch_shows() {
        let frame = r#"{"ref":3,"regions":{"log":"<ol></ol>","stats":"<p>Count: <strong id=\"count\">-12</strong></p>"}}"#;
        assert_eq!(shown_count(frame), Some(-12));
        assert_eq!(shown_count(r#"{"regions":{"count":"5"}}"#), None);
    }

    #[test]
    fn finds_the_boot_token() {
        let html =
            r#"<body><script id="lv-boot" type="application/json">{"token":"ab.cd","seq":0}</script></body>"#;
        assert_eq!(boot_token(html).as_deref(), Some("ab.cd"));
        assert_eq!(boot_token("<body></body>"), None);
        let head = "HTTP/1.1 200 OK\r\nSet-Cookie: lv_bid=ab; HttpOnly; Path=/\r\n\r\n<p>";
        assert_eq!(set_cookie(head).as_deref(), Some("lv_bid=ab"));
    }
}
