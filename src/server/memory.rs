//! A WebSocket carried in memory, for the test client (`crate::testing`): checked and
//! served by the same code as a socket on the library's listener or a host's, with
//! its frames on a channel of its own (never the queue of the host's sockets, which
//! an embedding loop may be reading).

use futures_util::StreamExt;
use hyper::Request;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::embed::{into_bytes, slot};
use super::{http, ws};
use crate::app::Shared;

/// How many frames the client may send ahead of the socket's reader.
const INBOUND_FRAMES: usize = 64;

/// What the server sends on an in-memory socket.
#[derive(Debug)]
pub(crate) enum MemoryFrame {
    Text(String),
    /// The server closed the socket with this code and reason.
    Close(u16, String),
}

/// The client's end of an in-memory WebSocket. Dropping it closes the socket.
pub(crate) struct MemorySocket {
    pub inbound: mpsc::Sender<Result<Message, WsError>>,
    pub outbound: std_mpsc::Receiver<MemoryFrame>,
}

/// Opens a socket for the upgrade request `req` (its headers: Origin, Host, cookies),
/// checked as on the library's own listener. `Err` carries the refusal's status and
/// body.
pub(crate) fn open(shared: &Arc<Shared>, req: &Request<()>) -> Result<MemorySocket, (u16, String)> {
    let refusal = |r: Box<hyper::Response<http::Body>>| {
        let r = into_bytes(*r);
        (r.status().as_u16(), String::from_utf8_lossy(r.body()).into_owned())
    };
    let slot = slot(shared).map_err(refusal)?;
    let (_, request) = ws::check(shared, req.headers()).map_err(refusal)?;
    let (in_tx, mut in_rx) = mpsc::channel(INBOUND_FRAMES);
    let (out_tx, out_rx) = std_mpsc::channel();
    // Unbounded, never blocking the writer: a test that reads no pushes for a while
    // is not dropped as a slow client; what the server sent waits here for it.
    let sink = Box::pin(futures_util::sink::unfold(out_tx.clone(), |tx, msg: Message| async move {
        let frame = match msg {
            Message::Text(t) => MemoryFrame::Text(t.as_str().to_string()),
            Message::Close(f) => {
                let (code, reason) =
                    f.map_or((1000, String::new()), |f| (f.code.into(), f.reason.to_string()));
                MemoryFrame::Close(code, reason)
            }
            _ => return Ok(tx),
        };
        tx.send(frame).map_err(|_| WsError::ConnectionClosed)?;
        Ok::<_, WsError>(tx)
    }));
    let stream = futures_util::stream::poll_fn(move |cx| in_rx.poll_recv(cx)).boxed();
    let task_shared = shared.clone();
    ws::spawn_socket(shared, async move {
        ws::serve_frames(task_shared, request, sink, stream).await;
        // Ended without a close frame: the client still learns that the socket is done.
        let _ = out_tx.send(MemoryFrame::Close(1006, String::new()));
        drop(slot);
    });
    Ok(MemorySocket { inbound: in_tx, outbound: out_rx })
}

/// An upgrade request to /_live/websocket with these headers.
pub(crate) fn upgrade_request(headers: hyper::HeaderMap) -> Request<()> {
    let mut req = Request::new(());
    *req.uri_mut() = hyper::Uri::from_static("/_live/websocket");
    *req.headers_mut() = headers;
    req
}
