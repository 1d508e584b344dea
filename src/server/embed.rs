//! Pages served by the host's own web server: a request it received handed in and a
//! response handed back, and WebSockets it accepted, either given over as a socket
//! or carried frame by frame. Every request goes through the same code as on the
//! library's own listener ([`super::http::respond`], [`super::ws::check`] and the
//! socket loop), so every defence holds on this path too.

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::conn::Slot;
use super::http::{self, text, Body};
use super::ws;
use crate::app::Shared;
use crate::error::{Error, Result};
use crate::metrics;

/// How many frames a host may hand in ahead of the socket's reader before
/// [`HostSocket::receive`] refuses more: a client sending faster than its page is
/// handled is dropped, as one whose TCP window the library's own server stops reading.
const INBOUND_FRAMES: usize = 64;

/// How many frames for hosts' sockets wait for [`next_frame`] before the sockets'
/// writers wait in turn (and a client whose queue then fills is dropped).
pub(crate) const HOST_FRAMES: usize = 4096;

/// A request as the host's server received it: method, target (path and query) and
/// headers, each checked; the body is the whole body the host read.
pub fn request(method: &str, target: &str, headers: &[u8], body: Bytes) -> Result<Request<Bytes>> {
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| Error::Request(format!("method {method:?} is not an HTTP method")))?;
    if !target.starts_with('/') {
        return Err(Error::Request(format!("target {target:?} must be a path (\"/counter?x=1\")")));
    }
    let uri: hyper::Uri =
        target.parse().map_err(|e| Error::Request(format!("target {target:?} is not a valid path: {e}")))?;
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = parse_headers(headers)?;
    Ok(req)
}

/// Header lines, `Name: value` each, ended by CRLF (or LF); the last may omit it.
fn parse_headers(block: &[u8]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let shown = || String::from_utf8_lossy(line).into_owned();
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| Error::Request(format!("header line {:?} has no ':'", shown())))?;
        let name = HeaderName::from_bytes(&line[..colon])
            .map_err(|_| Error::Request(format!("header line {:?}: invalid name", shown())))?;
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii())
            .map_err(|_| Error::Request(format!("header line {:?}: invalid value", shown())))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Answers a request the host's server received (anything but a WebSocket upgrade).
pub(crate) async fn respond(shared: Arc<Shared>, req: Request<Bytes>) -> Response<Bytes> {
    into_bytes(http::respond(shared, req.map(Full::new)).await)
}

/// A response with its body in one piece.
pub(super) fn into_bytes(resp: Response<Body>) -> Response<Bytes> {
    let (parts, body) = resp.into_parts();
    // A `Full` body has its one frame ready: collecting it never waits.
    let body = body.collect().now_or_never().and_then(|b| b.ok()).map(|b| b.to_bytes()).unwrap_or_default();
    Response::from_parts(parts, body)
}

/// A slot under `max_connections` for a host's socket, or the 503 that refuses it.
pub(super) fn slot(shared: &Shared) -> std::result::Result<Slot, Box<Response<Body>>> {
    match shared.slots.clone().try_acquire_owned() {
        Ok(permit) => Ok(Slot::new(permit, shared.metrics.clone())),
        Err(_) => {
            metrics::inc(&shared.metrics.connections_refused);
            let mut resp = text(StatusCode::SERVICE_UNAVAILABLE, "503 too many connections, retry");
            resp.headers_mut().insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("5"));
            Err(Box::new(resp))
        }
    }
}

/// Takes over a socket on which the host's server read an upgrade request: answers
/// it (`101`, or the refusal) on the socket and runs the WebSocket there. `pending`
/// holds bytes the host read past the request head. Call it inside the runtime.
/// A plain function, not an `async fn`: the request is read here and dropped, where an
/// `async fn` would keep room for it (twice) for as long as the socket lives.
pub(crate) fn adopt(
    shared: Arc<Shared>,
    req: Request<()>,
    socket: std::net::TcpStream,
    pending: Vec<u8>,
) -> impl std::future::Future<Output = ()> {
    socket.set_nonblocking(true).ok();
    let taken = match tokio::net::TcpStream::from_std(socket) {
        Ok(stream) => {
            let checked =
                slot(&shared).and_then(|slot| ws::check(&shared, req.headers()).map(|ok| (slot, ok)));
            Some((stream, checked))
        }
        Err(e) => {
            tracing::warn!("a WebSocket handed over by the host cannot be used: {e}");
            None
        }
    };
    drop(req);
    async move {
        let Some((mut stream, checked)) = taken else { return };
        let _ = stream.set_nodelay(true);
        let (slot, (accept, request)) = match checked {
            Ok(ok) => ok,
            Err(refusal) => {
                let refusal = http::security_headers(&shared, *refusal);
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), write_response(&mut stream, refusal)).await;
                let _ = stream.shutdown().await;
                return;
            }
        };
        let switching = ws::switching(&accept);
        if tokio::time::timeout(Duration::from_secs(5), write_response(&mut stream, switching)).await.is_err()
        {
            return;
        }
        ws::serve_tcp(shared, request, stream, pending, slot).await;
    }
}

/// Writes a response in HTTP/1.1 on a socket the library was handed.
async fn write_response(stream: &mut tokio::net::TcpStream, resp: Response<Body>) -> std::io::Result<()> {
    let (parts, body) = into_bytes(resp).into_parts();
    let status = parts.status;
    let mut head = format!("HTTP/1.1 {} {}\r\n", status.as_str(), status.canonical_reason().unwrap_or(""));
    for (name, value) in &parts.headers {
        head.push_str(name.as_str());
        head.push_str(": ");
        head.push_str(&String::from_utf8_lossy(value.as_bytes()));
        head.push_str("\r\n");
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.flush().await
}

/// A frame for one of the host's sockets, taken with [`next_frame`].
#[derive(Debug, Clone, PartialEq)]
pub struct HostFrame {
    /// The tag the host gave the socket when it opened it.
    pub tag: u64,
    /// `None` for a text frame; else the socket is done: close it with this code.
    pub close: Option<u16>,
    /// The text frame, or the close reason.
    pub data: Utf8Bytes,
}

/// The library's end of a WebSocket whose frames the host's server carries. Dropping
/// it tells the session the socket closed.
pub struct HostSocket {
    inbound: Mutex<Option<mpsc::Sender<std::result::Result<Message, WsError>>>>,
    max: usize,
}

impl HostSocket {
    /// Hands in a frame the client sent (`binary` for a binary frame, which the
    /// protocol refuses). A frame over `max_frame_bytes` closes the socket (1009), as
    /// on the library's own listener. Refused once the socket is closed, or when the
    /// client sends faster than its page is handled (the socket is then closed).
    pub fn receive(&self, data: &[u8], binary: bool) -> Result<()> {
        let mut inbound = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = inbound.as_ref() else {
            return Err(Error::State("the WebSocket is closed".into()));
        };
        let frame = if data.len() > self.max {
            Err(WsError::Capacity(CapacityError::MessageTooLong { size: data.len(), max_size: self.max }))
        } else if binary {
            Ok(Message::Binary(Bytes::copy_from_slice(data)))
        } else {
            let text = std::str::from_utf8(data)
                .map_err(|e| Error::Request(format!("a text frame must be UTF-8: {e}")))?;
            Ok(Message::Text(text.into()))
        };
        match tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                *inbound = None;
                Err(Error::Busy(format!(
                    "{INBOUND_FRAMES} frames are waiting for the page: the client sends too fast; \
                     the socket is closed"
                )))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                *inbound = None;
                Err(Error::State("the WebSocket is closed".into()))
            }
        }
    }
}

/// Opens a WebSocket the host's server accepted and carries: checks the upgrade
/// request like the library's own listener does. `Err` is the refusal to answer
/// instead of accepting (403 for a foreign Origin, 503 past `max_connections`).
pub(crate) fn open(
    shared: &Arc<Shared>,
    req: &Request<()>,
    tag: u64,
) -> std::result::Result<HostSocket, Box<Response<Bytes>>> {
    let refuse = |r: Box<Response<Body>>| Box::new(into_bytes(http::security_headers(shared, *r)));
    let slot = slot(shared).map_err(refuse)?;
    let (_, request) = ws::check(shared, req.headers()).map_err(refuse)?;
    let (in_tx, mut in_rx) = mpsc::channel(INBOUND_FRAMES);
    let closed = Arc::new(AtomicBool::new(false));
    let frames = shared.host_frames.0.clone();
    let sink = {
        let closed = closed.clone();
        Box::pin(futures_util::sink::unfold(frames.clone(), move |frames, msg: Message| {
            let closed = closed.clone();
            async move {
                let frame = match msg {
                    Message::Text(data) => HostFrame { tag, close: None, data },
                    Message::Close(frame) => {
                        closed.store(true, Ordering::Relaxed);
                        let (code, reason) =
                            frame.map_or((1000, Utf8Bytes::default()), |f| (f.code.into(), f.reason));
                        HostFrame { tag, close: Some(code), data: reason }
                    }
                    _ => return Ok(frames),
                };
                frames.send(frame).await.map_err(|_| WsError::ConnectionClosed)?;
                Ok::<_, WsError>(frames)
            }
        }))
    };
    let stream = futures_util::stream::poll_fn(move |cx| in_rx.poll_recv(cx)).boxed();
    let task_shared = shared.clone();
    ws::spawn_socket(shared, async move {
        ws::serve_frames(task_shared, request, sink, stream).await;
        // Ended without a close frame (the client went, or sent too fast): the host
        // still learns that the socket is done.
        if !closed.load(Ordering::Relaxed) {
            let _ = frames.send(HostFrame { tag, close: Some(1000), data: Utf8Bytes::default() }).await;
        }
        drop(slot);
    });
    Ok(HostSocket { inbound: Mutex::new(Some(in_tx)), max: shared.opts.max_frame_bytes })
}

/// A frame already waiting for the host's sockets, if any (and no other thread is
/// taking one).
pub(crate) fn try_next_frame(shared: &Shared) -> Option<HostFrame> {
    shared.host_frames.1.try_lock().ok()?.try_recv().ok()
}

/// The next frame for any of the host's sockets, waiting at most `timeout`; `None`
/// when none came in time. Frames of one socket come in order.
pub(crate) async fn next_frame(shared: &Shared, timeout: Duration) -> Option<HostFrame> {
    let mut rx = shared.host_frames.1.lock().await;
    tokio::time::timeout(timeout, rx.recv()).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let req = request(
            "POST",
            "/counter?x=1",
            b"Host: a\r\nCookie: x=1\r\nCookie: y=2\nX-Empty:\r\n",
            Bytes::new(),
        )
        .expect("a valid request");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/counter");
        assert_eq!(req.uri().query(), Some("x=1"));
        assert_eq!(req.headers().get_all("cookie").iter().count(), 2);
        assert_eq!(req.headers().get("x-empty").map(|v| v.as_bytes()), Some(&b""[..]));
        for (method, target, headers, what) in [
            ("GE T", "/", &b""[..], "not an HTTP method"),
            ("GET", "counter", b"", "must be a path"),
            ("GET", "http://evil/x", b"", "must be a path"),
            ("GET", "/a b", b"", "not a valid path"),
            ("GET", "/", b"Host a", "has no ':'"),
            ("GET", "/", b"Ho st: a", "invalid name"),
            ("GET", "/", b"Host: a\rb", "invalid value"),
        ] {
            let err = request(method, target, headers, Bytes::new()).expect_err(what).to_string();
            assert!(err.contains(what), "{method} {target} {headers:?}: {err}");
        }
    }
}
