//! `--echo-server`: the baseline. A bare tokio-tungstenite server that sends every
//! text frame back, with the same runtime size (2 worker threads, mizulive's default
//! `io_threads`) and the same WebSocket buffer configuration as mizulive's endpoint.
//! It runs as a child process so its RSS is measured like the counter's.
//!
//! The frame [`BROADCAST`] is echoed too, and first pushes `{"t":"push","text":"bc-<n>"}`
//! (n = 1, 2, ...) to every other socket through a `tokio::sync::broadcast` channel:
//! the floor under a fan-out, what the runtime and the sockets cost to deliver one
//! frame to N tasks that each write it.

use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// The line printed once listening, followed by the address.
pub const READY_PREFIX: &str = "echo listening on ";

/// The frame that asks for a push to every other socket (and is echoed).
pub const BROADCAST: &str = "broadcast";

/// Pushes one socket may fall behind by before it misses some (it then goes on).
const PUSH_BACKLOG: usize = 16;

/// mizulive's default `max_frame_bytes`.
const MAX_FRAME: usize = 64 * 1024;

/// The server exits on its own after this long, even if nobody stops it.
const LIFETIME: Duration = Duration::from_secs(600);

/// The configuration mizulive's `server/ws.rs` uses, so the baseline pays the same
/// per-socket buffer cost.
pub fn server_ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_FRAME * 4)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

/// Entry point of `--echo-server`: serves until SIGINT or SIGTERM, or `LIFETIME`. The
/// signals are handled here, not left to their default action: a process started
/// from a background job inherits SIGINT ignored.
pub fn serve() -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("building the echo runtime: {e}"))?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        println!("{READY_PREFIX}{addr}");
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
        tokio::select! {
            _ = tokio::time::timeout(LIFETIME, accept_loop(listener)) => {}
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}

/// What every connection shares: the push channel and the broadcasts so far.
struct Hub {
    pushes: broadcast::Sender<Utf8Bytes>,
    sent: AtomicU64,
}

async fn accept_loop(listener: TcpListener) {
    let hub = Arc::new(Hub { pushes: broadcast::channel(PUSH_BACKLOG).0, sent: AtomicU64::new(0) });
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream, hub.clone()));
            }
            // Out of descriptors or similar: back off rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn echo(stream: TcpStream, hub: Arc<Hub>) {
    // mizulive sets TCP_NODELAY on accepted sockets too.
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(server_ws_config())).await
    else {
        return;
    };
    let mut pushes = hub.pushes.subscribe();
    loop {
        let written = tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(msg @ Message::Text(_))) if msg.to_text().is_ok_and(|t| t == BROADCAST) => {
                    // Not to this socket: drop the receiver while sending, take a new one.
                    drop(pushes);
                    let n = hub.sent.fetch_add(1, Ordering::Relaxed) + 1;
                    let _ = hub.pushes.send(format!(r#"{{"t":"push","text":"bc-{n}"}}"#).into());
                    pushes = hub.pushes.subscribe();
                    ws.send(msg).await
                }
                Some(Ok(msg @ (Message::Text(_) | Message::Binary(_)))) => ws.send(msg).await,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                // tungstenite answers pings itself.
                Some(Ok(_)) => Ok(()),
            },
            push = pushes.recv() => match push {
                Ok(text) => ws.send(Message::Text(text)).await,
                Err(broadcast::error::RecvError::Lagged(_)) => Ok(()),
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        if written.is_err() {
            break;
        }
    }
}
