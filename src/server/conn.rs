//! One accepted TCP connection: its slot under `max_connections`, and the watchdog
//! that closes it when a request head arrives too slowly (`header_timeout_ms`) or
//! when it sits idle between requests (`keep_alive_timeout_ms`).
//!
//! hyper's own `header_read_timeout` is not used: it also runs while a keep-alive
//! connection waits for its next request, so it cannot tell a slow header from an
//! idle connection, and the two get different limits here.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

use crate::metrics::Metrics;

/// What the connection is doing, as the watchdog sees it. Written by the socket
/// wrapper (bytes arrived) and the request guard (a request started or ended).
pub(crate) struct Activity {
    start: Instant,
    /// Requests whose handler is running. No timeout applies while one is.
    in_flight: AtomicUsize,
    /// Milliseconds after `start` when the connection last became idle.
    idle_since: AtomicU64,
    /// Milliseconds after `start` when the first byte of the next request head
    /// arrived; `NONE` while no partial head is waiting.
    head_since: AtomicU64,
    /// Bytes arrived while a request was in flight: part of a pipelined next head.
    early_bytes: AtomicBool,
    /// Wakes the watchdog when its deadline may have moved.
    changed: Notify,
}

const NONE: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            early_bytes: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            self.early_bytes.store(true, Ordering::Relaxed);
        } else if self.head_since.load(Ordering::Relaxed) == NONE {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    /// Marks a request as started (its head is complete); the returned guard marks
    /// it done when the handler's future finishes or is dropped.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Relaxed);
        RequestGuard(self.clone())
    }

    /// When the connection should be closed, given the limits; `None` while a
    /// request is being handled.
    fn deadline(&self, header: Duration, idle: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head = self.head_since.load(Ordering::Relaxed);
        if head != NONE {
            return Some(self.at(head) + header);
        }
        Some(self.at(self.idle_since.load(Ordering::Relaxed)) + idle)
    }
}

/// Held while a request's handler runs (see [`Activity::request`]).
pub(crate) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let a = &self.0;
        let now = a.now_ms();
        if a.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.idle_since.store(now, Ordering::Relaxed);
            // Part of the next head came in during the request: its clock runs now.
            if a.early_bytes.swap(false, Ordering::Relaxed) {
                a.head_since.store(now, Ordering::Relaxed);
            }
            a.changed.notify_one();
        }
    }
}

/// The connection's slot under `max_connections`: counted in the `connections` gauge
/// and given back when the socket closes, whether it ended as HTTP or as a WebSocket.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Slot {
    pub fn new(permit: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Self {
        metrics.connections.fetch_add(1, Ordering::Relaxed);
        Slot { _permit: permit, metrics }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The accepted socket, reporting arriving bytes to its [`Activity`]. It owns the
/// connection's [`Slot`], so an upgraded WebSocket keeps the slot until it closes.
pub(crate) struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    slot: Slot,
}

impl Tracked {
    pub fn new(stream: TcpStream, slot: Slot) -> (Self, Arc<Activity>) {
        let activity = Arc::new(Activity::new());
        (Tracked { stream, activity: activity.clone(), slot }, activity)
    }

    /// The socket, and the slot to hold for as long as it stays open (an upgraded
    /// WebSocket's, once no request is read from it any more).
    pub fn into_parts(self) -> (TcpStream, Slot) {
        (self.stream, self.slot)
    }
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Resolves when the connection has overstayed: a request head slower than
/// `header`, or no request for `idle`. Never while a request is being handled.
pub(crate) async fn overstayed(activity: &Activity, header: Duration, idle: Duration) {
    loop {
        let changed = activity.changed.notified();
        match activity.deadline(header, idle) {
            Some(deadline) if deadline <= Instant::now() => return,
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = changed => {}
                }
            }
            None => changed.await,
        }
    }
}
