//! Where a session's frames go: its socket's [`Outlet`].
//!
//! A socket the library owns (its own server's, or one a host handed over) is a
//! [`Wire`]: whoever sends a frame writes it to the socket at once, on its own thread,
//! when nothing is waiting before it. A patch rendered on a host thread then leaves
//! from there, instead of waking an IO thread to write it: on an idle server that wake
//! and its cold caches were about a tenth of an event's latency. What the socket does
//! not take at once waits, in order, for the socket's task to write it when the client
//! reads. A socket whose frames some other code writes (a host's WebSocket, the
//! in-memory test transport) takes its frames through a [`queue`](super::queue) that
//! its task drains.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::net::TcpStream;

use super::{Outbound, QueueTx, TrySend};

/// How a socket's frames leave: see the module's comment.
#[derive(Clone)]
pub(crate) enum Outlet {
    Queue(QueueTx<Outbound>),
    Wire(Arc<Wire>),
}

impl Outlet {
    /// Sends `frame`, or queues it behind those waiting, without blocking. Refused
    /// when `capacity` frames wait (the client is not reading) or the socket is done.
    pub fn try_send(&self, frame: Outbound) -> Result<(), TrySend<Outbound>> {
        match self {
            Outlet::Queue(tx) => tx.try_send(frame),
            Outlet::Wire(wire) => wire.try_send(frame),
        }
    }
}

/// The writing side of a WebSocket on a TCP socket, shared by the threads that send
/// on it (the session's host thread, its actor, the socket's own task) and the
/// socket's task, which writes what had to wait.
///
/// Frames keep their order: one is written directly only when none waits, under the
/// lock that queues the others. The WebSocket library's own frames (pongs, its reply
/// to a client's close) pass through [`Wire::write_raw`] in the same order.
pub(crate) struct Wire {
    state: Mutex<State>,
    /// The socket's task, to write what waits (or to end).
    writer: AtomicWaker,
    capacity: usize,
}

struct State {
    /// `None` once the socket's task has let the socket go.
    stream: Option<Arc<TcpStream>>,
    waiting: VecDeque<Pending>,
    /// A close frame is queued or written: nothing more is taken.
    closed: bool,
    /// A write failed: the client is gone.
    dead: bool,
}

/// A frame, or the part of it the socket has not taken yet.
struct Pending {
    head: [u8; 10],
    head_len: u8,
    body: Body,
    /// Bytes of `head`, then of `body`, written already.
    written: usize,
}

enum Body {
    Text(crate::protocol::Frame),
    Bytes(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Text(t) => t.as_bytes(),
            Body::Bytes(b) => b,
        }
    }
}

/// Opcodes of the frames the server sends (RFC 6455, 5.2).
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;

impl Pending {
    /// A final, unmasked frame of one opcode around `body` (servers never mask).
    fn frame(opcode: u8, body: Body) -> Self {
        let len = body.bytes().len();
        let mut head = [0u8; 10];
        head[0] = 0x80 | opcode;
        let head_len = if len < 126 {
            head[1] = len as u8;
            2
        } else if len <= u16::MAX as usize {
            head[1] = 126;
            head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        } else {
            head[1] = 127;
            head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        };
        Pending { head, head_len, body, written: 0 }
    }

    fn of(out: Outbound) -> Self {
        match out {
            Outbound::Text(text) => Pending::frame(TEXT, Body::Text(text)),
            Outbound::Close { code, reason } => {
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                Pending::frame(CLOSE, Body::Bytes(payload))
            }
        }
    }

    /// Bytes already framed by the WebSocket library, passed through as they are.
    fn raw(bytes: Vec<u8>) -> Self {
        Pending { head: [0; 10], head_len: 0, body: Body::Bytes(bytes), written: 0 }
    }

    /// Writes what is left of it; true when all of it is written.
    fn write_to(&mut self, stream: &TcpStream) -> io::Result<bool> {
        let head_len = self.head_len as usize;
        loop {
            let body = self.body.bytes();
            let total = head_len + body.len();
            if self.written >= total {
                return Ok(true);
            }
            let result = if self.written < head_len {
                send(stream, &[IoSlice::new(&self.head[self.written..head_len]), IoSlice::new(body)])
            } else {
                send(stream, &[IoSlice::new(&body[self.written - head_len..])])
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Writes what the socket takes of `bufs`, in one call, without waiting.
///
/// Never raises SIGPIPE on a socket the client closed: a host written in C keeps
/// SIGPIPE's default, which ends the process, and these writes run on its threads.
/// (`writev`, which tokio's vectored write is, has no way to say so.)
#[cfg(target_os = "linux")]
fn send(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    stream.try_io(tokio::io::Interest::WRITABLE, || {
        // SAFETY: `msg` points at `bufs` (an `IoSlice` is an `iovec`), which outlive
        // the call; the descriptor is the open socket `stream` owns.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = bufs.len() as _;
            libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    })
}

/// Elsewhere: one buffer, written the way the standard library writes (its `send`).
#[cfg(not(target_os = "linux"))]
fn send(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
    stream.try_write(&joined)
}

impl State {
    /// Writes `frame` while nothing waits; true when all of it is written. A failed
    /// write marks the socket dead.
    fn write_now(&mut self, frame: &mut Pending) -> bool {
        let Some(stream) = self.stream.as_deref() else {
            self.dead = true;
            return false;
        };
        match frame.write_to(stream) {
            Ok(done) => done,
            Err(e) => {
                tracing::debug!("socket write failed: {e}");
                self.dead = true;
                false
            }
        }
    }

    /// Writes waiting frames, in order, until the socket takes no more; true when
    /// none waits. A failed write marks the socket dead.
    fn write_waiting(&mut self) -> bool {
        let Some(stream) = self.stream.as_deref() else {
            self.dead = true;
            return false;
        };
        while let Some(first) = self.waiting.front_mut() {
            match first.write_to(stream) {
                Ok(true) => {
                    self.waiting.pop_front();
                }
                Ok(false) => return false,
                Err(e) => {
                    tracing::debug!("socket write failed: {e}");
                    self.dead = true;
                    self.waiting.clear();
                    return false;
                }
            }
        }
        // Drained: an idle socket keeps no room for frames.
        self.waiting = VecDeque::new();
        true
    }
}

impl Wire {
    /// The writing side of `stream`; at most `capacity` of the session's frames wait.
    pub fn new(stream: Arc<TcpStream>, capacity: usize) -> Arc<Self> {
        Arc::new(Wire {
            state: Mutex::new(State {
                stream: Some(stream),
                waiting: VecDeque::new(),
                closed: false,
                dead: false,
            }),
            writer: AtomicWaker::new(),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_send(&self, out: Outbound) -> Result<(), TrySend<Outbound>> {
        let wake = {
            let mut state = self.lock();
            if state.closed || state.dead {
                return Err(TrySend::Closed(out));
            }
            if state.waiting.len() >= self.capacity {
                return Err(TrySend::Full(out));
            }
            state.closed = matches!(out, Outbound::Close { .. });
            let mut frame = Pending::of(out);
            // Written here when nothing waits before it (without passing through the
            // queue, which then holds no memory in an idle session); else, and for
            // what the socket did not take, it waits its turn.
            let all_written = state.waiting.is_empty() && state.write_now(&mut frame);
            if !all_written && !state.dead {
                state.waiting.push_back(frame);
            }
            !all_written || state.closed
        };
        if wake {
            self.writer.wake();
        }
        Ok(())
    }

    /// Passes on bytes the WebSocket library framed itself (a pong, its reply to a
    /// close), in order with the session's frames. Taken whole, so that a frame is
    /// never cut by another; dropped after a close frame or on a dead socket. A
    /// client that makes the library answer without reading is cut off.
    pub fn write_raw(&self, bytes: &[u8]) {
        let wake = {
            let mut state = self.lock();
            if state.closed || state.dead {
                return;
            }
            if state.waiting.len() >= 2 * self.capacity {
                tracing::debug!("client is not reading its control frames; disconnecting it");
                state.dead = true;
                state.waiting.clear();
                true
            } else {
                let mut frame = Pending::raw(bytes.to_vec());
                let all_written = state.waiting.is_empty() && state.write_now(&mut frame);
                if !all_written && !state.dead {
                    state.waiting.push_back(frame);
                }
                !all_written
            }
        };
        if wake {
            self.writer.wake();
        }
    }

    /// The socket's task: writes what waits as the client reads. Ready once a close
    /// frame is written, or the socket is dead.
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Registered before looking, so a frame queued in between wakes the task.
        self.writer.register(cx.waker());
        let mut state = self.lock();
        loop {
            if state.dead {
                return Poll::Ready(());
            }
            if state.write_waiting() {
                return if state.closed { Poll::Ready(()) } else { Poll::Pending };
            }
            if state.dead {
                return Poll::Ready(());
            }
            let Some(stream) = state.stream.clone() else { return Poll::Ready(()) };
            match stream.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => {
                    state.dead = true;
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Resolves like [`Wire::poll_drain`].
    pub async fn drain(&self) {
        std::future::poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// The socket's task is done with it: nothing more is written, and the socket
    /// closes as soon as the reading side lets it go too, even while a session still
    /// holds this wire.
    pub fn release(&self) {
        {
            let mut state = self.lock();
            state.dead = true;
            state.waiting.clear();
            state.stream = None;
        }
        self.writer.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::Duration;

    /// A wire on the server end of a loopback connection, and the client's end.
    async fn pair(capacity: usize) -> (Arc<Wire>, std::net::TcpStream) {
        let (wire, _, client) = pair_reading(capacity).await;
        (wire, client)
    }

    /// [`pair`], with the server's end to read from too.
    async fn pair_reading(capacity: usize) -> (Arc<Wire>, Arc<TcpStream>, std::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr));
        let (server, _) = listener.accept().await.unwrap();
        let client = client.await.unwrap().unwrap();
        client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let server = Arc::new(server);
        (Wire::new(server.clone(), capacity), server, client)
    }

    /// Reads one frame as a client does: (opcode, payload).
    fn read_frame(client: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        client.read_exact(&mut head).unwrap();
        assert_eq!(head[0] & 0x80, 0x80, "a final frame");
        assert_eq!(head[1] & 0x80, 0, "a server's frame is not masked");
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                client.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0u8; 8];
                client.read_exact(&mut n).unwrap();
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        client.read_exact(&mut payload).unwrap();
        (head[0] & 0x0f, payload)
    }

    fn text(s: &str) -> Outbound {
        Outbound::Text(s.to_string().into())
    }

    #[tokio::test]
    async fn frames_of_every_length_arrive_whole_and_in_order() {
        let (wire, mut client) = pair(8).await;
        let sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000];
        let reader = std::thread::spawn(move || {
            let frames: Vec<_> = (0..sizes.len() + 2).map(|_| read_frame(&mut client)).collect();
            frames
        });
        let drain = tokio::spawn({
            let wire = wire.clone();
            async move { wire.drain().await }
        });
        for (i, n) in sizes.iter().enumerate() {
            let body: String = std::iter::repeat_n(char::from(b'a' + i as u8), *n).collect();
            wire.try_send(text(&body)).unwrap();
        }
        // A frame the WebSocket library framed itself keeps its place.
        wire.write_raw(&[0x8a, 0x02, b'h', b'i']);
        wire.try_send(Outbound::Close { code: 1000, reason: "bye" }).unwrap();
        assert!(matches!(wire.try_send(text("late")), Err(TrySend::Closed(_))), "nothing after a close");
        tokio::time::timeout(Duration::from_secs(10), drain).await.expect("drained after the close").unwrap();
        let frames = reader.join().unwrap();
        for (i, n) in sizes.iter().enumerate() {
            assert_eq!(frames[i].0, TEXT);
            assert_eq!(frames[i].1.len(), *n);
            assert!(frames[i].1.iter().all(|&b| b == b'a' + i as u8), "frame {i} is whole");
        }
        assert_eq!(frames[sizes.len()], (0xa, b"hi".to_vec()), "the library's pong");
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        assert_eq!(frames[sizes.len() + 1], (CLOSE, close));
    }

    /// A client that does not read: what the socket does not take waits, up to the
    /// capacity, then sending is refused; once it reads, it gets all of it in order.
    #[tokio::test]
    async fn a_client_that_does_not_read_fills_the_wire_then_gets_everything_in_order() {
        let (wire, mut client) = pair(4).await;
        let big: String = "x".repeat(1 << 20);
        let mut sent = 0;
        let refused = loop {
            match wire.try_send(text(&format!("{sent}:{big}"))) {
                Ok(()) => sent += 1,
                Err(refused) => break refused,
            }
            assert!(sent < 1000, "the kernel took everything");
        };
        assert!(matches!(refused, TrySend::Full(_)), "refused as full");
        assert_eq!(wire.lock().waiting.len(), 4, "the capacity's worth waits");
        let reader = std::thread::spawn(move || {
            (0..sent).map(|_| read_frame(&mut client)).map(|(_, p)| p).collect::<Vec<_>>()
        });
        let drain = tokio::spawn({
            let wire = wire.clone();
            async move { wire.drain().await }
        });
        let frames = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
        for (i, frame) in frames.iter().enumerate() {
            let prefix = format!("{i}:");
            assert!(frame.starts_with(prefix.as_bytes()) && frame.len() == prefix.len() + big.len());
        }
        wire.release();
        tokio::time::timeout(Duration::from_secs(10), drain).await.expect("released").unwrap();
        assert!(matches!(wire.try_send(text("after")), Err(TrySend::Closed(_))));
    }

    /// A frame sent while another waits is not written ahead of it, even when the
    /// socket would take it: here the client has read everything the socket took,
    /// so a frame written at once would land in the middle of the waiting one.
    #[tokio::test]
    async fn a_frame_sent_while_another_waits_waits_behind_it() {
        let (wire, mut client) = pair(64).await;
        let big: String = "x".repeat(1 << 20);
        let mut whole = 0;
        while wire.try_send(text(&format!("{whole}:{big}"))).is_ok() && wire.lock().waiting.is_empty() {
            whole += 1;
            assert!(whole < 1000, "the kernel took everything");
        }
        // Frames 0..whole went out whole; frame `whole` waits, in part.
        let (drained_tx, drained_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut frames = Vec::new();
            for _ in 0..whole {
                frames.push(read_frame(&mut client).1);
            }
            drained_tx.send(()).unwrap();
            for _ in 0..11 {
                frames.push(read_frame(&mut client).1);
            }
            frames
        });
        tokio::task::spawn_blocking(move || drained_rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .await
            .unwrap();
        for i in 1..=10 {
            wire.try_send(text(&format!("small-{i}"))).unwrap();
        }
        let drain = tokio::spawn({
            let wire = wire.clone();
            async move { wire.drain().await }
        });
        let frames = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
        for (i, frame) in frames.iter().enumerate().take(whole + 1) {
            assert!(frame.starts_with(format!("{i}:").as_bytes()) && frame.len() > big.len(), "frame {i}");
        }
        for i in 1..=10 {
            assert_eq!(frames[whole + i], format!("small-{i}").into_bytes());
        }
        wire.release();
        tokio::time::timeout(Duration::from_secs(10), drain).await.expect("released").unwrap();
    }

    /// Writing to a socket its client reset must not raise SIGPIPE: a C host keeps
    /// its default action, which ends the process. The signal goes to the thread that
    /// wrote, so this test looks for it on its own thread only.
    #[tokio::test(flavor = "current_thread")]
    async fn a_reset_socket_ends_the_wire_without_sigpipe() {
        static HIT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        extern "C" fn on_sigpipe(_: libc::c_int) {
            // SAFETY: gettid has no preconditions; an atomic store is signal-safe.
            HIT.store(unsafe { libc::gettid() } as i64, std::sync::atomic::Ordering::SeqCst);
        }
        let (wire, server, client) = pair_reading(4).await;
        // Closed with a zero linger: the client's end answers with a reset. The
        // socket's reader sees it first, as a server's does: the next write then
        // fails with EPIPE, which is what raises the signal.
        socket2_linger_zero(&client);
        drop(client);
        let mut buf = [0u8; 16];
        let read = loop {
            server.readable().await.unwrap();
            match server.try_read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other,
            }
        };
        assert!(read.is_err(), "the reader sees the reset: {read:?}");
        // SAFETY: installs a handler that only does signal-safe work; restored below.
        let old = unsafe { libc::signal(libc::SIGPIPE, on_sigpipe as *const () as libc::sighandler_t) };
        let mut refused = false;
        for _ in 0..100 {
            if wire.try_send(text("patch")).is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // SAFETY: puts back what was there.
        unsafe { libc::signal(libc::SIGPIPE, old) };
        // SAFETY: as in the handler.
        let me = unsafe { libc::gettid() } as i64;
        assert_ne!(HIT.load(std::sync::atomic::Ordering::SeqCst), me, "a write raised SIGPIPE");
        assert!(refused, "the reset socket is seen as gone");
    }

    fn socket2_linger_zero(stream: &std::net::TcpStream) {
        use std::os::fd::AsRawFd;
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: a valid socket and a `linger` of the size given.
        let set = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0);
    }
}
