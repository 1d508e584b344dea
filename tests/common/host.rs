//! A host's own web server in front of the app, as a C, Go or Python program would
//! run one: it accepts connections, reads each request and hands it to the library
//! (`App::handle_request`), and hands WebSocket upgrades over either as the socket
//! (`App::adopt_websocket`) or frame by frame (`App::open_websocket`, the frames to
//! send from `App::next_frame`). Plain threads and blocking sockets: the library's
//! blocking calls refuse to run inside an async runtime.
//!
//! `MIZULIVE_TEST_SERVER=adopt` or `=frames` puts it in front of every [`TestApp`]
//! (see `TestApp::start`), so the integration tests that attack the library's own
//! listener attack the host-served path too.
//!
//! [`TestApp`]: super::TestApp

use mizulive::embed::HostFrame;
use mizulive::App;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Message, WebSocket};

/// How the host server hands WebSockets to the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The socket itself, as a C or Go server can.
    Adopt,
    /// Frame by frame, as an ASGI server or one terminating TLS must.
    Frames,
}

/// The mode `MIZULIVE_TEST_SERVER` asks for, if any.
pub fn from_env() -> Option<Mode> {
    match std::env::var("MIZULIVE_TEST_SERVER").ok()?.as_str() {
        "adopt" => Some(Mode::Adopt),
        "frames" => Some(Mode::Frames),
        "" | "library" => None,
        other => panic!("MIZULIVE_TEST_SERVER={other:?}: expected adopt, frames or library"),
    }
}

/// Largest request head the host server reads.
const MAX_HEAD: usize = 64 * 1024;

/// Starts the host server on a free loopback port. It holds the app weakly: it
/// stops serving once the test drops the app.
pub fn serve(app: &Arc<App>, mode: Mode) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the host server");
    let addr = listener.local_addr().expect("host server address");
    let app = Arc::downgrade(app);
    let writers: Writers = Arc::default();
    if mode == Mode::Frames {
        let (app, writers) = (app.clone(), writers.clone());
        std::thread::spawn(move || dispatch(app, writers));
    }
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if app.strong_count() == 0 {
                return;
            }
            let (app, writers) = (app.clone(), writers.clone());
            std::thread::spawn(move || connection(app, conn, mode, writers));
        }
    });
    addr
}

/// Where each frames-mode socket's frames go, by tag.
type Writers = Arc<Mutex<HashMap<u64, mpsc::Sender<HostFrame>>>>;

/// Takes the library's frames and hands each to its socket's writer, until the app
/// is gone or shut down.
fn dispatch(app: Weak<App>, writers: Writers) {
    loop {
        let Some(app) = app.upgrade() else { return };
        match app.next_frame(Duration::from_millis(100)) {
            Ok(Some(frame)) => {
                let writer = writers.lock().unwrap().get(&frame.tag).cloned();
                if let Some(writer) = writer {
                    let _ = writer.send(frame);
                }
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

/// A request head as read off the socket.
struct Head {
    method: String,
    target: String,
    /// The header lines, as received.
    lines: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads a request head; returns it with the bytes read past it.
fn read_head(conn: &mut TcpStream) -> Option<(Head, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let (request_line, lines) = head.split_once("\r\n").unwrap_or((head, ""));
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let headers = lines
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = buf[end + 4..].to_vec();
    Some((Head { method, target, lines: lines.as_bytes().to_vec(), headers }, rest))
}

/// Serves one connection: one request, or one WebSocket.
fn connection(app: Weak<App>, mut conn: TcpStream, mode: Mode, writers: Writers) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let Some((head, mut rest)) = read_head(&mut conn) else { return };
    let Some(app) = app.upgrade() else { return };
    let upgrade = head.header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade && head.target.starts_with("/_live/websocket") {
        let req = mizulive::embed::request(&head.method, &head.target, &head.lines, Default::default())
            .expect("the browser's upgrade request is valid")
            .map(|_| ());
        let _ = conn.set_read_timeout(None);
        match mode {
            Mode::Adopt => app.adopt_websocket(req, conn, rest).expect("adopt the socket"),
            Mode::Frames => frames(&app, req, &head, conn, rest, &writers),
        }
        return;
    }
    let len: usize = head.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut chunk = [0u8; 4096];
    while rest.len() < len {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
        }
    }
    rest.truncate(len);
    let req = match mizulive::embed::request(&head.method, &head.target, &head.lines, rest.into()) {
        Ok(req) => req,
        Err(e) => {
            let _ = write!(conn, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n{e}");
            return;
        }
    };
    let resp = match app.handle_request(req) {
        Ok(resp) => resp,
        Err(e) => {
            let _ = write!(conn, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n{e}");
            return;
        }
    };
    let _ = conn.write_all(&response_bytes(&resp));
}

/// A response in HTTP/1.1, for a connection closed after it.
fn response_bytes(resp: &hyper::Response<bytes::Bytes>) -> Vec<u8> {
    let status = resp.status();
    let mut out = format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
    for (name, value) in resp.headers() {
        out.push_str(&format!("{name}: {}\r\n", value.to_str().expect("a visible ASCII header")));
    }
    if !resp.headers().contains_key("content-length") {
        out.push_str(&format!("Content-Length: {}\r\n", resp.body().len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(resp.body());
    bytes
}

/// Runs a frames-mode socket: the handshake and the frames on this side, every
/// frame in and out through the library.
fn frames(
    app: &App,
    req: hyper::Request<()>,
    head: &Head,
    mut conn: TcpStream,
    rest: Vec<u8>,
    writers: &Writers,
) {
    static TAGS: AtomicU64 = AtomicU64::new(1);
    let tag = TAGS.fetch_add(1, Ordering::Relaxed);
    // The tag's frames may come as soon as the library has the socket (a shutdown's
    // goodbye, before this thread has even answered the upgrade): they wait in the
    // channel, registered before the library knows the tag, for the writer below.
    let (tx, rx) = mpsc::channel::<HostFrame>();
    writers.lock().unwrap().insert(tag, tx);
    let forget = || writers.lock().unwrap().remove(&tag);
    let socket = match app.open_websocket(&req, tag).expect("open the socket") {
        Ok(socket) => socket,
        Err(refusal) => {
            forget();
            let _ = conn.write_all(&response_bytes(&refusal));
            return;
        }
    };
    let key = head.header("sec-websocket-key").unwrap_or("");
    let accept = derive_accept_key(key.as_bytes());
    let switching = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if conn.write_all(switching.as_bytes()).is_err() {
        forget();
        return;
    }
    // The writer: the library's frames for this tag, onto the socket.
    let out = conn.try_clone().expect("clone the socket");
    std::thread::spawn(move || {
        let mut ws = WebSocket::from_raw_socket(out, Role::Server, None);
        for frame in rx {
            match frame.close {
                None => {
                    if ws.send(Message::Text(frame.data)).is_err() {
                        return;
                    }
                }
                Some(code) => {
                    let close = CloseFrame { code: CloseCode::from(code), reason: frame.data };
                    let _ = ws.close(Some(close));
                    let _ = ws.flush();
                    let _ = ws.get_ref().shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        }
    });
    // The reader: the client's frames, into the library, until the socket closes.
    let mut ws = WebSocket::from_partially_read(conn, rest, Role::Server, None);
    loop {
        let sent = match ws.read() {
            Ok(Message::Text(t)) => socket.receive(t.as_bytes(), false),
            Ok(Message::Binary(b)) => socket.receive(&b, true),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
    // Dropping the socket tells the library it closed; the writer ends with its channel.
    drop(socket);
    forget();
}
