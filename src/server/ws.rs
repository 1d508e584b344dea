//! The WebSocket endpoint: upgrade with an Origin check, then one task per socket
//! that reads frames, forwards events to its session and writes what waits for the
//! socket (on a TCP socket, only what the socket did not take when it was sent: see
//! `session::Outlet`).

use futures_util::future::OptionFuture;
use futures_util::{FutureExt, Sink, SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::conn::Tracked;
use super::guard;
use super::http::{finish, text, Body};
use super::woken::Woken;
use crate::app::{AuthDecision, Shared};
use crate::host::Refused;
use crate::metrics;
use crate::protocol::{self, ClientFrame, Join, PROTOCOL_VERSION};
use crate::session::{
    self, queue as frame_queue, Conn, Kill, Origin, Outbound, Outlet, QueueRx, SessionHandle, SessionMsg,
    Wire,
};
use crate::token::TokenError;

/// Error code of a join refused because `max_sessions` are alive.
const OVERLOADED: &str = "overloaded";

/// What a join needs of the upgrade request that opened its socket: the headers and
/// cookies the auth hook sees, and the browser the cookie names. The socket's task
/// holds it until its one join takes it. Boxed: the task keeps room for it for as long
/// as the socket lives, and a box is one pointer in an idle socket's task, not 120
/// bytes.
pub(crate) struct UpgradeRequest(Box<Upgrade>);

struct Upgrade {
    headers: HeaderMap,
    browser: Option<String>,
}

/// The Sec-WebSocket-Accept value for a valid upgrade that passes the Origin check,
/// and what its join will need; else the response that refuses it. Whichever server
/// received the upgrade (this library's, or a host's) asks this first.
pub(crate) fn check(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<(String, UpgradeRequest), Box<Response<Body>>> {
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let version_ok = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Box::new(text(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade")));
    };
    if !is_upgrade || !version_ok {
        return Err(Box::new(text(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade (version 13)")));
    }
    if !origin_allowed(shared, headers) {
        return Err(Box::new(text(StatusCode::FORBIDDEN, "cross-origin WebSocket refused")));
    }
    let request = UpgradeRequest(Box::new(Upgrade {
        headers: headers.clone(),
        browser: guard::browser_of(&shared.opts, &shared.signer, headers),
    }));
    Ok((derive_accept_key(key.as_bytes()), request))
}

/// The `101 Switching Protocols` that completes an upgrade.
pub(crate) fn switching(accept: &str) -> Response<Body> {
    finish(
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept),
        Body::default(),
    )
}

pub(crate) async fn upgrade(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let (accept, request) = match check(&shared, req.headers()) {
        Ok(checked) => checked,
        Err(refused) => return *refused,
    };
    // Only the upgrade is kept, not the request: the task keeps room for what it
    // captures for as long as the socket lives.
    let upgrade = hyper::upgrade::on(req);
    let task_shared = shared.clone();
    spawn_socket(&task_shared, async move {
        let upgraded = match upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("upgrade failed: {e}");
                return;
            }
        };
        // The library's own connection: its socket is written directly (see
        // `Outlet`). Any other stream is written through its WebSocket's sink.
        match upgraded.downcast::<TokioIo<Tracked>>() {
            Ok(parts) => {
                let (stream, slot) = parts.io.into_inner().into_parts();
                // Copied out: the bytes are a view of the connection's whole read
                // buffer, which the socket's task would otherwise keep for its life.
                let pending = parts.read_buf.to_vec();
                drop(parts.read_buf);
                serve_tcp(shared, request, stream, pending, slot).await;
            }
            Err(upgraded) => serve_io(shared, request, TokioIo::new(upgraded), Vec::new()).await,
        }
    });
    switching(&accept)
}

/// Runs a socket on a TCP connection whose upgrade was answered; `pending` holds bytes
/// the client sent after its upgrade request that were already read. `keep` (the
/// connection's slot) is held until the socket ends.
pub(crate) async fn serve_tcp<K: Send>(
    shared: Arc<Shared>,
    request: UpgradeRequest,
    stream: TcpStream,
    pending: Vec<u8>,
    keep: K,
) {
    let stream = Arc::new(stream);
    let wire = Wire::new(stream.clone(), shared.opts.outbound_queue);
    let io = WireIo { stream, wire: wire.clone() };
    let config = socket_config(&shared);
    let ws = WebSocketStream::from_partially_read(io, pending, Role::Server, Some(config)).await;
    let writer = wire.drain();
    run(shared, request, Outlet::Wire(wire.clone()), writer, ws).await;
    wire.release();
    drop(keep);
}

/// A TCP socket as its WebSocket library sees it: read as usual, written through its
/// [`Wire`], where what the library frames itself (pongs, its reply to a close) keeps
/// its place among the session's frames.
struct WireIo {
    stream: Arc<TcpStream>,
    wire: Arc<Wire>,
}

impl AsyncRead for WireIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            std::task::ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Not ready after all: readiness was cleared, wait for the next.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for WireIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.wire.write_raw(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a socket over a byte stream whose upgrade was answered; `pending` holds bytes
/// the client sent after its upgrade request that were already read.
pub(crate) async fn serve_io<IO>(shared: Arc<Shared>, request: UpgradeRequest, io: IO, pending: Vec<u8>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = socket_config(&shared);
    let ws = WebSocketStream::from_partially_read(io, pending, Role::Server, Some(config)).await;
    let (sink, stream) = ws.split();
    serve_frames(shared, request, sink, stream).await;
}

/// The WebSocket settings of every socket.
fn socket_config(shared: &Shared) -> WebSocketConfig {
    let max = shared.opts.max_frame_bytes;
    // Small buffers: an idle socket then costs a few KiB instead of ~140 KB. Events
    // are about 200 bytes; a larger frame grows the buffer for itself. The join frame
    // (its token) is larger: reading it grows the buffer once, to its length plus
    // what was read of it, where a 1 KiB start kept 1 KiB (and 2 KiB past a 500-byte
    // join), since the codec reserves a frame's length on top of the part it holds.
    // `max_frame_bytes` bounds what a client sends, not what a page renders: the write
    // buffer holds at most the frame being written (the writer waits for it to drain
    // before it feeds the next, and the socket's queue bounds the rest), so it is not
    // capped; a cap would end the socket, without a word, on a patch larger than it.
    WebSocketConfig::default()
        .read_buffer_size(256)
        .write_buffer_size(0)
        .max_write_buffer_size(usize::MAX)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Runs a socket whose frames some other code reads and writes (a host's WebSocket).
/// A plain function, not an `async fn`: that would keep its own copy of the arguments
/// beside `run`'s for as long as the socket lives.
pub(crate) fn serve_frames<S, R>(
    shared: Arc<Shared>,
    request: UpgradeRequest,
    sink: S,
    stream: R,
) -> impl std::future::Future<Output = ()>
where
    S: Sink<Message, Error = WsError> + Unpin + Send,
    R: futures_util::Stream<Item = Result<Message, WsError>> + Unpin + Send,
{
    let (out_tx, out_rx) = frame_queue(shared.opts.outbound_queue);
    run(shared, request, Outlet::Queue(out_tx), write(sink, out_rx), stream)
}

/// Same origin (scheme, host and port, the scheme as `secure_cookies` or a trusted
/// `X-Forwarded-Proto` say) or on the allowlist. A missing Origin is refused: browsers
/// always send one, and the check is what stops cross-site socket hijacking.
fn origin_allowed(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    guard::origin_allowed(&shared.opts, headers, origin)
}

/// How long frames queued before the socket ends (an error, a close) may take to go out.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Spawns a socket's task, counted in `metrics.sockets` from now until the task ends
/// or is dropped. A shutdown waits for the sockets it counts to write their goodbye,
/// so one whose task has not run yet (its client already has the `101`) must count
/// too, or the runtime stops before it says anything. Every socket's task starts here.
pub(crate) fn spawn_socket(shared: &Shared, task: impl Future<Output = ()> + Send + 'static) {
    shared.metrics.sockets.fetch_add(1, Ordering::Relaxed);
    shared.rt.spawn(counted(task, SocketCount(shared.metrics.clone())));
}

/// `task`, holding `count` until it ends or is dropped. Not an `async` block awaiting
/// `task`: that keeps room for `task` twice (as captured, and as awaited) for as long
/// as the socket lives, 1.4 KB more per socket.
fn counted<F: Future<Output = ()>>(task: F, count: SocketCount) -> impl Future<Output = ()> {
    task.map(move |()| drop(count))
}

/// One socket in `metrics.sockets`, for as long as it lives (see [`spawn_socket`]).
struct SocketCount(Arc<crate::metrics::Metrics>);

impl Drop for SocketCount {
    fn drop(&mut self) {
        self.0.sockets.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why the reading side stopped.
enum ReadEnd {
    /// The client is gone (closed, errored): nothing more to write.
    Gone,
    /// Frames explaining the end (an error, a close) are queued: write them first.
    Flush,
}

/// One socket: a reader that handles the client's frames and a writer that sends
/// what waits for the socket, in one task. Every frame out goes through the bounded
/// outlet (a queue, or the wire of a TCP socket), so a client that does not read
/// fills it and is dropped (by the session, or here for heartbeats and errors), and no
/// write can keep the socket from seeing `kill` or its idle timeout.
async fn run<W, R>(shared: Arc<Shared>, request: UpgradeRequest, out_tx: Outlet, writer: W, stream: R)
where
    W: Future<Output = ()>,
    R: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
{
    let kill = Arc::new(Kill::default());
    let conn_id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let mut joined: Option<SessionHandle> = None;
    let mut request = Some(request);

    let mut writer = std::pin::pin!(writer);
    let end = {
        // Most wakes of a socket's task are frames to write (a patch, a broadcast):
        // the reading side is polled only when its own waker fired.
        let reader =
            std::pin::pin!(read(&shared, stream, &out_tx, &kill, conn_id, &mut joined, &mut request));
        let mut reader = Woken::new(reader);
        let mut killed = std::pin::pin!(kill.given());
        // The two sides take turns going first, as `select!` has them: each spends
        // from one budget of tokio's per poll, so a side always first could keep the
        // other waiting for as long as a client floods frames (or a session, patches).
        let mut read_first = false;
        std::future::poll_fn(|cx| {
            if killed.as_mut().poll(cx).is_ready() {
                return Poll::Ready(ReadEnd::Gone);
            }
            read_first = !read_first;
            if read_first {
                if let Poll::Ready(end) = reader.poll_woken(cx) {
                    return Poll::Ready(end);
                }
            }
            if writer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(ReadEnd::Gone);
            }
            if !read_first {
                if let Poll::Ready(end) = reader.poll_woken(cx) {
                    return Poll::Ready(end);
                }
            }
            Poll::Pending
        })
        .await
    };
    if let ReadEnd::Flush = end {
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, async {
            tokio::select! {
                () = &mut writer => {}
                () = kill.given() => {}
            }
        })
        .await;
    }
    if let Some(handle) = joined {
        let _ = handle.tx.send(SessionMsg::Detach { conn_id }).await;
    }
}

/// Writes queued frames until a close frame is written, a write fails, or the queue
/// is closed. Frames queued together are fed, then flushed once. (With the write
/// buffer at 0, set for small idle sockets, each frame is still its own write.)
async fn write<S: Sink<Message, Error = WsError> + Unpin>(mut sink: S, mut out_rx: QueueRx<Outbound>) {
    while let Some(mut out) = out_rx.recv().await {
        loop {
            match out {
                // The frame's text is shared, not copied, into the message.
                Outbound::Text(t) => {
                    if sink.feed(Message::Text(t)).await.is_err() {
                        return;
                    }
                }
                Outbound::Close { code, reason } => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
            }
            match out_rx.try_recv() {
                Some(next) => out = next,
                None => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

/// Queues a frame of the socket's own (a heartbeat, an error). False when the queue
/// is full: the client is not reading.
fn queue(out_tx: &Outlet, frame: String) -> bool {
    out_tx.try_send(Outbound::Text(frame.into())).is_ok()
}

fn queue_close(out_tx: &Outlet, code: CloseCode, reason: &'static str) {
    let _ = out_tx.try_send(Outbound::Close { code: code.into(), reason });
}

/// Handles the client's frames until the socket should end.
async fn read<R: futures_util::Stream<Item = Result<Message, WsError>> + Unpin>(
    shared: &Arc<Shared>,
    mut stream: R,
    out_tx: &Outlet,
    kill: &Arc<Kill>,
    conn_id: u64,
    joined: &mut Option<SessionHandle>,
    request: &mut Option<UpgradeRequest>,
) -> ReadEnd {
    let opts = &shared.opts;
    // A socket that sends nothing (not even heartbeats) for this long is closed.
    let idle_timeout = Duration::from_millis(opts.socket_idle_timeout_ms);
    // One timer serves both deadlines: until the join it fires at the join deadline
    // (or the idle one, if sooner), then only at the idle one.
    let join_by = Instant::now() + Duration::from_millis(opts.join_timeout_ms);
    let mut idle = std::pin::pin!(tokio::time::sleep_until(join_by.min(Instant::now() + idle_timeout)));
    // Frames that do no work for the page (heartbeats, pings, refused frames) are
    // limited on their own: answering them is the server's cost alone.
    let mut control = Bucket::new(opts.control_frames_per_second, opts.control_frame_burst);
    // A joined socket hears of a shutdown from its session; one not joined yet, here.
    let mut closing = shared.closing.subscribe();
    // When the last frame arrived.
    let mut active = Instant::now();
    loop {
        // Boxed, and only until the join: a joined socket, what an idle one is, keeps
        // no room for it in its task.
        let mut shutdown = joined.is_none().then(|| Box::pin(closing.wait_for(|c| *c)));
        let msg = tokio::select! {
            msg = stream.next() => msg,
            Some(_) = OptionFuture::from(shutdown.as_mut()), if shutdown.is_some() => {
                let _ = queue(out_tx, protocol::close("shutdown", true));
                queue_close(out_tx, CloseCode::Restart, "server restart");
                return ReadEnd::Flush;
            }
            () = &mut idle => {
                // A joined socket's timer is set once and moved on only when it fires
                // early, from the last frame: not reset for every frame.
                if joined.is_some() && Instant::now() < active + idle_timeout {
                    idle.as_mut().reset(active + idle_timeout);
                    continue;
                }
                if joined.is_none() && Instant::now() >= join_by {
                    metrics::inc(&shared.metrics.join_timeouts);
                    let _ = queue(out_tx, protocol::error("join_timeout", "no join arrived in time", false));
                    queue_close(out_tx, CloseCode::Policy, "join timeout");
                } else {
                    queue_close(out_tx, CloseCode::Away, "idle");
                }
                return ReadEnd::Flush;
            }
        };
        active = Instant::now();
        if joined.is_none() {
            idle.as_mut().reset((active + idle_timeout).min(join_by));
        }
        let frame = match msg {
            Some(Ok(Message::Text(t))) => ClientFrame::parse(t.as_str()),
            Some(Ok(Message::Binary(_))) => Err(protocol::FrameError {
                code: "bad_frame",
                message: "binary frames are not supported; send JSON text".into(),
            }),
            Some(Ok(Message::Close(_))) | None => return ReadEnd::Gone,
            // Pings (answered by tungstenite) and pongs.
            Some(Ok(_)) => {
                if !control.take() {
                    return too_many_frames(shared, out_tx);
                }
                continue;
            }
            Some(Err(WsError::Capacity(e))) => {
                let _ = out_tx
                    .try_send(Outbound::Close { code: CloseCode::Size.into(), reason: "frame too large" });
                tracing::debug!("closing a socket: {e}");
                return ReadEnd::Flush;
            }
            Some(Err(e)) => {
                tracing::debug!("socket error: {e}");
                return ReadEnd::Gone;
            }
        };
        let works = matches!(
            (&frame, &*joined),
            (Ok(ClientFrame::Join(_)), None) | (Ok(ClientFrame::Event { .. }), Some(_))
        );
        if !works && !control.take() {
            return too_many_frames(shared, out_tx);
        }
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                if !queue(out_tx, protocol::error(e.code, &e.message, true)) {
                    return ReadEnd::Gone;
                }
                continue;
            }
        };
        match (frame, &*joined) {
            (ClientFrame::Heartbeat, _) => {
                if !queue(out_tx, protocol::heartbeat()) {
                    return ReadEnd::Gone;
                }
            }
            (ClientFrame::Join(join), None) => {
                let conn = Conn { id: conn_id, tx: out_tx.clone(), kill: kill.clone() };
                // Boxed: a join (perhaps a mount) happens once per socket, and inline
                // its future would enlarge every idle socket's task.
                match Box::pin(join_session(shared, join, conn, request.take())).await {
                    Ok(handle) => {
                        *joined = Some(handle);
                        // From now on only the idle deadline applies.
                        idle.as_mut().reset(Instant::now() + idle_timeout);
                    }
                    Err((REDIRECT, to)) => {
                        // A fresh mount sent the browser elsewhere (or back to its
                        // page's GET, to answer the status it asked for).
                        let _ = queue(out_tx, protocol::redirect(&to));
                        queue_close(out_tx, CloseCode::Normal, "redirect");
                        return ReadEnd::Flush;
                    }
                    Err((code, message)) => {
                        let (recoverable, close) = join_error_kind(code);
                        let _ = queue(out_tx, protocol::error(code, &message, recoverable));
                        queue_close(out_tx, close, code);
                        return ReadEnd::Flush;
                    }
                }
            }
            (ClientFrame::Join(_), Some(_)) => {
                if !queue(out_tx, protocol::error("bad_frame", "this socket has already joined", true)) {
                    return ReadEnd::Gone;
                }
            }
            (ClientFrame::Event { .. }, None) => {
                if !queue(out_tx, protocol::error("expected_join", "send join before any event", true)) {
                    return ReadEnd::Gone;
                }
            }
            (ClientFrame::Event { r#ref, eid, event }, Some(handle)) => {
                let msg = SessionMsg::Event { conn_id, r#ref, eid, event };
                if handle.tx.send(msg).await.is_err() {
                    let _ = queue(out_tx, protocol::close("session_closed", true));
                    queue_close(out_tx, CloseCode::Normal, "session closed");
                    return ReadEnd::Flush;
                }
            }
        }
    }
}

/// A token bucket for a socket's control frames (see `control_frames_per_second`).
struct Bucket {
    tokens: f32,
    rate: f32,
    burst: f32,
    refilled: Instant,
}

impl Bucket {
    fn new(rate: u32, burst: u32) -> Self {
        Bucket { tokens: burst as f32, rate: rate as f32, burst: burst as f32, refilled: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f32();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Ends a socket that sent too many heartbeats, pings or refused frames.
fn too_many_frames(shared: &Shared, out_tx: &Outlet) -> ReadEnd {
    metrics::inc(&shared.metrics.control_frames_limited);
    let _ = queue(out_tx, protocol::error("too_many_frames", "too many heartbeats or refused frames", false));
    queue_close(out_tx, CloseCode::Policy, "too many frames");
    ReadEnd::Flush
}

/// Whether a join error lets the client try again, and the close code that follows
/// it (docs/protocol.md, "error").
fn join_error_kind(code: &str) -> (bool, CloseCode) {
    match code {
        // Overload passes: the client retries with backoff.
        OVERLOADED => (true, CloseCode::Again),
        "internal" => (true, CloseCode::Error),
        _ => (false, CloseCode::Policy),
    }
}

/// Adopts the token's session, or mounts a new one from its claims.
async fn join_session(
    shared: &Arc<Shared>,
    join: Join,
    conn: Conn,
    request: Option<UpgradeRequest>,
) -> Result<SessionHandle, (&'static str, String)> {
    if join.v != PROTOCOL_VERSION {
        return Err((
            "unsupported_version",
            format!("protocol version {} is not supported (expected {PROTOCOL_VERSION})", join.v),
        ));
    }
    let claims = shared.signer.verify(&join.token).map_err(|e| match e {
        TokenError::Expired => ("token_expired", "the session token expired; reload the page".to_string()),
        TokenError::Invalid => ("token_invalid", "the session token is not valid".to_string()),
    })?;
    let path = url_path(&join.url);
    if path != claims.path {
        return Err(("route_mismatch", format!("the token belongs to {}, not {path}", claims.path)));
    }
    let route = match shared.route(&path) {
        Some((route, _)) if route.pattern == claims.route => route,
        _ => return Err(("page_not_found", format!("no page is registered at {path}"))),
    };
    check_request(shared, request, &claims, &path, url_query(&join.url)).await?;
    let mut conn = conn;
    // Twice at most: a session that ended (or left for another node) between the
    // lookup and the attach is looked up once more, in the store too.
    for _ in 0..2 {
        let found = super::find_session(shared, &claims.sid, &route, true)
            .await
            .map_err(|_| (OVERLOADED, "the session is moving; retrying".to_string()))?;
        let Some(handle) = found else { break };
        let msg = SessionMsg::Attach { conn, last_seq: join.seq, fresh: false };
        match handle.tx.send(msg).await {
            Ok(()) => return Ok(handle),
            Err(SessionMsg::Attach { conn: c, .. }) => conn = c,
            Err(_) => return Err(("internal", "session ended".into())),
        }
    }
    let here = match url_query(&join.url) {
        "" => path.clone(),
        query => format!("{path}?{query}"),
    };
    mount_fresh(shared, route, claims, conn, &here).await
}

/// The join's request (its upgrade) must come from the browser the token was issued
/// to, and the auth hook, asked now as for a GET of the page, must allow the token's
/// user: a logout or a ban counts at once, and a token lifted from a page takes over
/// nobody's session.
async fn check_request(
    shared: &Arc<Shared>,
    request: Option<UpgradeRequest>,
    claims: &crate::token::Claims,
    path: &str,
    query: &str,
) -> Result<(), (&'static str, String)> {
    let Some(UpgradeRequest(request)) = request else {
        return Err(("internal", "the socket's upgrade request is gone".into()));
    };
    if request.browser.as_deref() != Some(claims.br.as_str()) {
        return Err((
            "browser_mismatch",
            "the session token was issued to another browser (or its cookie is gone); reload the page".into(),
        ));
    }
    let info = guard::request_info(&hyper::Method::GET, path, query, &request.headers);
    match guard::authenticate(shared, info, Some(&claims.sid), &claims.br).await {
        Ok(AuthDecision::Allow(uid)) if uid == claims.uid => Ok(()),
        Ok(AuthDecision::Allow(_)) => {
            Err(("user_mismatch", "the session belongs to another user; reload the page".into()))
        }
        Ok(AuthDecision::Deny | AuthDecision::Redirect(_)) => {
            Err(("forbidden", "the auth hook refused this page; reload it".into()))
        }
        Err(Refused::Full) => Err((OVERLOADED, "the server is busy; retrying".into())),
        Err(Refused::Closed) => Err(("internal", "the server is shutting down".into())),
    }
}

/// A join's answer that is no error: the client is sent to this URL (a `redirect`
/// frame) and the socket closes.
const REDIRECT: &str = "redirect";

/// Mounts a session for a join that found none. A mount that redirects sends the
/// browser there; one that fails with a status (404) sends it to the page's own URL,
/// whose GET then answers that status.
async fn mount_fresh(
    shared: &Arc<Shared>,
    route: Arc<crate::page::Route>,
    claims: crate::token::Claims,
    conn: Conn,
    url: &str,
) -> Result<SessionHandle, (&'static str, String)> {
    let origin =
        Origin { route, path: claims.path, params: claims.params, user_id: claims.uid, browser: claims.br };
    let spawned = session::spawn(&shared.core, origin).await;
    let spawned = match spawned {
        Ok((_, _, session::Answer { redirect: Some(to), .. })) => return Err((REDIRECT, to)),
        Err(crate::error::Error::Answered { .. }) => return Err((REDIRECT, url.to_string())),
        other => other,
    };
    let (_, handle, _) = spawned.map_err(|e| match e {
        // Busy or shutting down: another try (perhaps on a restarted server) may work.
        crate::error::Error::Busy(_) => (OVERLOADED, "the server is busy; retrying".to_string()),
        crate::error::Error::State(_) => ("internal", "the session could not start; retrying".to_string()),
        e if shared.opts.dev => ("host_error", e.to_string()),
        _ => ("host_error", "the page failed to mount".to_string()),
    })?;
    handle
        .tx
        .send(SessionMsg::Attach { conn, last_seq: 0, fresh: true })
        .await
        .map_err(|_| ("internal", "session ended".to_string()))?;
    Ok(handle)
}

/// The query of a URL, without `?` and `#fragment`; empty when it has none.
fn url_query(url: &str) -> &str {
    let url = url.split('#').next().unwrap_or("");
    url.split_once('?').map_or("", |(_, q)| q)
}

/// The path of an absolute or relative URL.
fn url_path(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => url,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    rest[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::{counted, url_path, url_query, SocketCount};
    use crate::metrics::Metrics;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// A socket's task is as large as what it runs, not twice that: it lives as long
    /// as the socket, and idle sockets are most of a server's memory.
    #[test]
    fn a_counted_task_keeps_room_for_its_future_once() {
        let metrics = Arc::new(Metrics::default());
        let big = [0u8; 1024];
        let task = async move {
            std::future::ready(()).await;
            std::hint::black_box(big);
        };
        let alone = std::mem::size_of_val(&task);
        metrics.sockets.fetch_add(1, Ordering::Relaxed);
        let wrapped = counted(task, SocketCount(metrics.clone()));
        assert!(
            std::mem::size_of_val(&wrapped) <= alone + 16,
            "{} for a {alone}-byte task",
            std::mem::size_of_val(&wrapped)
        );
        drop(wrapped);
        assert_eq!(metrics.sockets.load(Ordering::Relaxed), 0, "a dropped task no longer counts");
    }

    #[test]
    fn queries() {
        assert_eq!(url_query("http://h/counter?x=1#y?z"), "x=1");
        assert_eq!(url_query("/counter#a?b"), "");
        assert_eq!(url_query("/counter"), "");
    }

    #[test]
    fn paths() {
        assert_eq!(url_path("http://127.0.0.1:3000/counter?x=1#y"), "/counter");
        assert_eq!(url_path("https://h"), "/");
        assert_eq!(url_path("/rooms/a"), "/rooms/a");
    }
}
