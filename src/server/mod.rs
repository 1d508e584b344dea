//! The HTTP server: one port for page routes, the client runtime and the WebSocket.

pub mod asset;
mod conn;
pub(crate) mod embed;
mod error_page;
mod files;
pub(crate) mod guard;
pub(crate) mod http;
pub(crate) mod memory;
mod woken;
pub(crate) mod ws;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::app::Shared;
use crate::metrics;

/// What a connection beyond `max_connections` is told before it is closed.
const TOO_MANY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 33\r\n\r\n503 too many connections, retry\r\n";

/// Accepts connections until `stop` turns true.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let slots = shared.slots.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Beyond the cap a connection is closed at once rather than left waiting in
        // the backlog: the client learns right away, and a flood of idle connections
        // cannot hold the accept loop.
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics::inc(&shared.metrics.connections_refused);
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let slot = conn::Slot::new(permit, shared.metrics.clone());
        tokio::spawn(connection(shared.clone(), stream, slot, peer));
    }
}

/// Serves one connection until it ends or overstays its timeouts.
async fn connection(shared: Arc<Shared>, stream: TcpStream, slot: conn::Slot, peer: std::net::SocketAddr) {
    let header = Duration::from_millis(shared.opts.header_timeout_ms);
    let idle = Duration::from_millis(shared.opts.keep_alive_timeout_ms);
    let (io, activity) = conn::Tracked::new(stream, slot);
    let service = {
        let activity = activity.clone();
        service_fn(move |req| {
            // Held until the handler's future ends: no timeout cuts a request short.
            let guard = activity.request();
            let shared = shared.clone();
            async move {
                let resp = http::handle(shared, req).await;
                drop(guard);
                resp
            }
        })
    };
    // hyper's header timer stays off: the watchdog below times slow heads and idle
    // connections apart (see conn.rs).
    let conn = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::select! {
        ended = conn => {
            if let Err(e) = ended {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        }
        // Dropping the connection closes the socket.
        () = conn::overstayed(&activity, header, idle) => {
            tracing::debug!(%peer, "closing a connection: request head too slow or idle too long");
        }
    }
}

/// Tells a connection beyond the cap to come back later, without reading its
/// request, then closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(TOO_MANY)).await;
    let _ = stream.shutdown().await;
}

/// The session `id` of `route`'s page: on this node, or carried over from the store
/// (another node made it, or held it until it died or shut down). `Ok(None)` when it
/// is nowhere: the caller mounts afresh. An error (the store unreachable, a handover
/// that did not come in time) is for the client to retry: mounting afresh would
/// lose a session that lives on elsewhere. `joining`: a browser joins it.
async fn find_session(
    shared: &Arc<Shared>,
    id: &str,
    route: &Arc<crate::page::Route>,
    joining: bool,
) -> crate::error::Result<Option<crate::session::SessionHandle>> {
    if let Some(handle) = shared.sessions.get(id) {
        return Ok(Some(handle));
    }
    crate::session::restore(&shared.core, id, route, joining).await.map_err(|e| match e {
        busy @ crate::error::Error::Busy(_) => busy,
        other => {
            tracing::warn!(session = id, "restoring the session failed: {other}");
            crate::error::Error::Busy(format!("session {id} cannot be reached now"))
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_is_a_well_formed_response() {
        let text = std::str::from_utf8(super::TOO_MANY).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.parse().ok())
            .expect("a Content-Length");
        assert_eq!(len, body.len());
    }
}
