//! Hostile connections and floods (issue 9, items 1 and 2): slow request heads and
//! bodies, idle keep-alive connections, sockets that never join, heartbeat and
//! bad-frame spam, too many connections, a flood of page requests, a full host queue.
//! Every test uses small limits so it ends quickly; every wait is bounded.

mod common;

use common::*;
use futures_util::StreamExt;
use mizulive::{App, Ctx, Event, HostError, Page};
use serde_json::json;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// A keep-alive HTTP/1.1 connection that sends requests one after another.
struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    async fn connect(addr: SocketAddr) -> KeepAlive {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        KeepAlive { stream, buf: Vec::new() }
    }

    /// GET `path`; the status and body of the response.
    async fn get(&mut self, path: &str) -> io::Result<(u16, Vec<u8>)> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: mizulive.test\r\n\r\n");
        self.stream.write_all(req.as_bytes()).await?;
        tokio::time::timeout(WAIT, self.response())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response"))?
    }

    /// Reads one response with a Content-Length body.
    async fn response(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status"))?;
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| bad("content-length"))?;
        while self.buf.len() < head_end + len {
            self.fill().await?;
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        Ok((status, body))
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// Waits until the server closes `stream` (end of stream or reset); returns how long
/// that took. Fails the test if it stays open for [`WAIT`] or sends anything.
async fn closed_within_wait(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut byte = [0u8; 1];
    match tokio::time::timeout(WAIT, stream.read(&mut byte)).await {
        Err(_) => panic!("the connection was still open after {WAIT:?}"),
        Ok(Ok(0)) | Ok(Err(_)) => started.elapsed(),
        Ok(Ok(_)) => panic!("expected the connection to close, got data"),
    }
}

/// A page GET on its own connection, tolerant of a connection the server refuses
/// or resets: the status, if a response came.
async fn try_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut conn = KeepAlive::connect(addr).await;
    conn.get(path).await.ok().map(|(status, body)| (status, String::from_utf8_lossy(&body).into_owned()))
}

/// The value of one metric in `/_live/metrics`.
async fn metric(t: &TestApp, name: &str) -> i64 {
    value_in(&t.get("/_live/metrics").await.text(), name)
}

fn value_in(metrics: &str, name: &str) -> i64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{metrics}"))
}

// ---------------------------------------------------------------------------------
// Item 1: connections
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    let t = TestApp::start(|o| o.header_timeout_ms = 300);
    let mut stream = TcpStream::connect(t.addr).await.expect("connect");
    stream.write_all(b"GET /counter HTTP/1.1\r\nHost: mizulive.test\r\nX-Slow: ").await.expect("write");
    let took = closed_within_wait(&mut stream).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}, before the timeout");

    // A client that sends its head in time is served as usual.
    assert_eq!(t.get("/counter").await.status, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_own_timeout() {
    // The idle limit is longer than the header one: an idle connection is not a
    // slow header, and it lives for its own limit.
    let t = TestApp::start(|o| {
        o.header_timeout_ms = 200;
        o.keep_alive_timeout_ms = 1200;
    });
    let mut conn = KeepAlive::connect(t.addr).await;
    let (status, _) = conn.get("/_live/runtime.js").await.expect("first request");
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = conn.get("/_live/runtime.js").await.expect("a second request after 500 ms idle");
    assert_eq!(status, 200);
    let took = closed_within_wait(&mut conn.stream).await;
    assert!(took >= Duration::from_millis(1000), "closed after {took:?} idle, before keep_alive_timeout_ms");
}

#[tokio::test]
async fn a_form_body_that_trickles_gets_408() {
    let t = TestApp::start(|o| o.body_timeout_ms = 300);
    let mut stream = TcpStream::connect(t.addr).await.expect("connect");
    let head = "POST /counter HTTP/1.1\r\nHost: mizulive.test\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n_lv_token=";
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 1024];
    // The response, then the end of the connection (or a reset after it).
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(WAIT, stream.read(&mut chunk)).await {
            Err(_) => panic!("no response within {WAIT:?} to a body that never completes"),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => raw.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "expected 408, got {text:?}");
    assert!(started.elapsed() >= Duration::from_millis(250), "answered before the body timeout");
}

#[tokio::test]
async fn a_socket_that_never_joins_is_closed_after_the_join_timeout() {
    let t = TestApp::start(|o| o.join_timeout_ms = 300);
    let started = Instant::now();
    let mut silent = t.connect().await;
    let error = silent.recv_type("error").await;
    assert_eq!(error["code"], "join_timeout", "{error}");
    let frame = silent.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
    assert!(started.elapsed() >= Duration::from_millis(250), "closed before the join timeout");

    // A socket that joins in time outlives the join deadline.
    let (mut ws, _, _) = t.live("/counter").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
}

/// A joined socket is closed with 1001 once it has sent nothing for
/// `socket_idle_timeout_ms`, counted from its last frame: heartbeats keep it open
/// for as long as they come. Its session waits, and a new socket resumes it.
#[tokio::test]
async fn a_joined_socket_that_goes_silent_is_closed_after_the_idle_timeout() {
    let t = TestApp::start(|o| o.socket_idle_timeout_ms = 400);
    let (mut ws, _, boot) = t.live("/counter").await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        ws.send_text(r#"{"t":"heartbeat"}"#).await;
        ws.recv_type("heartbeat").await;
        // Paced, well inside the timeout: the socket must stay open throughout.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let silent_from = Instant::now();
    let frame = ws.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Away, "{frame:?}");
    assert!(silent_from.elapsed() >= Duration::from_millis(250), "closed before the idle timeout");

    let mut again = t.connect().await;
    let joined = again.join(&boot.token, &t.url("/counter"), ws.seq).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    let patch = again.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
}

#[tokio::test]
async fn heartbeat_ping_and_bad_frame_spam_closes_the_socket_with_1008() {
    let t = TestApp::start(|o| {
        o.control_frames_per_second = 1;
        o.control_frame_burst = 5;
        o.metrics = true;
    });
    let spam: [(&str, Message); 3] = [
        ("heartbeats", Message::text(r#"{"t":"heartbeat"}"#)),
        ("malformed frames", Message::text("{not json")),
        ("pings", Message::Ping(vec![1u8, 2, 3].into())),
    ];
    for (what, frame) in spam {
        let (mut ws, _, _) = t.live("/counter").await;
        for _ in 0..50 {
            // The server may close before all are sent; later sends then fail.
            if futures_util::SinkExt::send(&mut ws.ws, frame.clone()).await.is_err() {
                break;
            }
        }
        // What was answered before the limit, then the error and the policy close.
        let deadline = Instant::now() + WAIT;
        let close = loop {
            assert!(Instant::now() < deadline, "{what}: the socket was not closed");
            match tokio::time::timeout(WAIT, ws.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => break frame,
                Ok(Some(Ok(_))) => continue,
                other => panic!("{what}: expected a close frame, got {other:?}"),
            }
        };
        let close = close.expect("a close frame with a code");
        assert_eq!(close.code, CloseCode::Policy, "{what}: {close:?}");
    }
    assert_eq!(metric(&t, "mizulive_control_frames_limited_total").await, 3);

    // Heartbeats at a browser's pace are fine.
    let (mut ws, _, _) = t.live("/counter").await;
    for _ in 0..3 {
        ws.send_text(r#"{"t":"heartbeat"}"#).await;
        ws.recv_type("heartbeat").await;
    }
    ws.event_patch("inc", json!({"by": "1"})).await;
}

#[tokio::test]
async fn connections_beyond_max_connections_are_refused_until_one_closes() {
    let t = TestApp::start(|o| {
        o.max_connections = 3;
        o.metrics = true;
    });
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(t.addr).await.expect("connect"));
    }
    // The fourth gets a 503 (or, if its request was not read, a reset) at once.
    let mut extra = TcpStream::connect(t.addr).await.expect("connect");
    let _ = extra.write_all(b"GET /counter HTTP/1.1\r\nHost: mizulive.test\r\n\r\n").await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(WAIT, extra.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "a connection beyond the cap was kept open");
    let text = String::from_utf8_lossy(&raw);
    assert!(raw.is_empty() || text.starts_with("HTTP/1.1 503"), "{text:?}");

    // A closed connection gives its slot back (the server notices the close soon).
    drop(held.pop());
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        if let Some((200, body)) = try_get(t.addr, "/_live/metrics").await {
            break body;
        }
        assert!(Instant::now() < deadline, "no slot came free after a connection closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The fourth, and any try above that came before the slot was free.
    assert!(value_in(&metrics, "mizulive_connections_refused_total") >= 1, "{metrics}");
    assert_eq!(value_in(&metrics, "mizulive_connections"), 3, "{metrics}");
}

// ---------------------------------------------------------------------------------
// Item 2: floods
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_get_flood_displaces_only_unjoined_sessions() {
    const MAX_UNJOINED: i64 = 40;
    let t = TestApp::start(|o| {
        o.max_unjoined_sessions = MAX_UNJOINED as usize;
        o.metrics = true;
    });
    // Joined before the flood; the first flood page's browser joins only after it.
    let (mut before, _, _) = t.live("/counter").await;
    let (_, late) = t.page("/counter").await;

    // Four keep-alive connections GET the page as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for _ in 0..4 {
        let (addr, stop) = (t.addr, stop.clone());
        flooders.push(tokio::spawn(async move {
            let mut conn = KeepAlive::connect(addr).await;
            let (mut ok, started) = (0u32, Instant::now());
            while !stop.load(Ordering::Relaxed) && ok < 3000 && started.elapsed() < Duration::from_secs(5) {
                match conn.get("/counter").await {
                    Ok((200, _)) => ok += 1,
                    Ok((status, _)) => panic!("flood GET answered {status}"),
                    Err(e) => panic!("flood GET failed: {e}"),
                }
            }
            ok
        }));
    }
    // Meanwhile the unjoined gauge is watched.
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        peak = peak.max(metric(&t, "mizulive_unjoined_sessions").await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut pages = 0;
    for f in flooders {
        pages += f.await.expect("flooder");
    }
    assert!(pages as i64 > 4 * MAX_UNJOINED, "the flood was too small to test anything: {pages} pages");
    assert!(peak <= MAX_UNJOINED, "unjoined sessions peaked at {peak}");

    // What is left: the joined session and at most the bound of unjoined ones.
    t.wait_until("evicted sessions ended", |app| app.session_count() as i64 <= 1 + MAX_UNJOINED).await;
    assert!(metric(&t, "mizulive_unjoined_evicted_total").await >= pages as i64 - MAX_UNJOINED);

    // The session joined before the flood still works.
    let patch = before.event_patch("inc", json!({"by": "2"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 2));
    // A new visitor is served and goes live.
    let (mut visitor, _, _) = t.live("/counter").await;
    visitor.event_patch("inc", json!({"by": "1"})).await;
    // A browser whose session was pushed out mounts afresh from its token.
    let mut ws = t.connect().await;
    let joined = ws.join(&late.token, &t.url("/counter"), 0).await;
    assert_eq!(joined["resumed"], false, "{joined}");
    let patch = ws.event_patch("inc", json!({"by": "5"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 5));
}

#[tokio::test]
async fn a_full_host_queue_refuses_new_visitors_but_not_live_sessions() {
    let t = TestApp::start(|o| {
        o.host_threads = 1;
        o.host_queue = 2;
        o.metrics = true;
    });
    let (mut busy, _, _) = t.live("/counter").await;
    let (mut other, _, _) = t.live("/counter").await;
    let (_, foreign_boot) = {
        let elsewhere = TestApp::start(|_| {});
        elsewhere.page("/counter").await
    };
    // The only host thread is held by a slow callback.
    let slow = busy.event("slow", json!({})).await;
    wait_for("the slow callback started", || t.probe.slow_started.load(Ordering::SeqCst)).await;

    // Six visitors: two mounts wait in the queue, the rest are told to come back.
    let mut visitors = Vec::new();
    for _ in 0..6 {
        let addr = t.addr;
        visitors.push(tokio::spawn(async move { http(addr, "GET", "/counter", &[], b"").await }));
    }
    let mut refused = 0;
    let deadline = Instant::now() + WAIT;
    while refused < 4 {
        assert!(Instant::now() < deadline, "only {refused} visitors were refused");
        refused = 0;
        for v in &visitors {
            refused += usize::from(v.is_finished());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A join that needs a fresh mount is refused as overloaded, to retry later.
    let mut ws = t.connect().await;
    ws.send_join(&foreign_boot.token, &t.url("/counter"), 0).await;
    let error = ws.recv_type("error").await;
    assert_eq!(error["code"], "overloaded", "{error}");
    assert_eq!(error["recoverable"], true, "{error}");
    let frame = ws.expect_closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Again, "{frame:?}");
    // A live session's event is queued despite the full queue.
    let live = other.event("inc", json!({"by": "3"})).await;

    t.probe.open_gate();
    busy.expect_patch().await;
    busy.expect_ok(slow).await;
    let patch = other.expect_patch().await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 3));
    other.expect_ok(live).await;
    let mut statuses = Vec::new();
    for v in visitors {
        let resp = v.await.expect("visitor");
        if resp.status == 503 {
            assert_eq!(resp.header("retry-after"), Some("5"), "{:?}", resp.headers);
        }
        statuses.push(resp.status);
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 503, 503, 503, 503]);
    assert_eq!(metric(&t, "mizulive_host_queue_rejections_total").await, 5);
    // With the queue drained, visitors are served again.
    assert_eq!(t.get("/counter").await.status, 200);
}

/// The counter page, logging the callbacks it runs in order.
struct Logged {
    counter: Counter,
    log: Arc<Mutex<Vec<String>>>,
}

impl Page for Logged {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        self.log.lock().unwrap().push("mount".into());
        self.counter.mount(ctx)
    }

    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError> {
        self.log.lock().unwrap().push(event.name.clone());
        self.counter.event(ctx, event)
    }
}

#[tokio::test]
async fn live_callbacks_run_before_waiting_mounts() {
    let mut opts = base_options();
    opts.host_threads = 1;
    opts.metrics = true;
    let app = Arc::new(App::new(opts).expect("App::new"));
    let probe = Arc::new(Probe::default());
    let log = Arc::new(Mutex::new(Vec::new()));
    let page = Logged { counter: Counter { probe: probe.clone() }, log: log.clone() };
    app.register_page("/counter", counter_spec(Arc::new(page))).expect("register");
    let addr = app.start("127.0.0.1:0").expect("start");
    let live = |addr| async move {
        let resp = http(addr, "GET", "/counter", &[], b"").await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let token = boot(&resp.text()).token;
        let mut ws = connect_ws(addr, Some(&format!("http://{addr}"))).await.expect("connect");
        ws.join(&token, &format!("http://{addr}/counter"), 0).await;
        ws
    };
    let mut busy = live(addr).await;
    let mut other = live(addr).await;
    let metrics = || async move { http(addr, "GET", "/_live/metrics", &[], b"").await.text() };

    // The only host thread is held; two mounts wait, then a live session's event.
    let slow = busy.event("slow", json!({})).await;
    wait_for("the slow callback started", || probe.slow_started.load(Ordering::SeqCst)).await;
    let visitors: Vec<_> =
        (0..2).map(|_| tokio::spawn(async move { http(addr, "GET", "/counter", &[], b"").await })).collect();
    let deadline = Instant::now() + WAIT;
    while value_in(&metrics().await, "mizulive_host_waiting_new") < 2 {
        assert!(Instant::now() < deadline, "the mounts were not queued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let inc = other.event("inc", json!({"by": "1"})).await;
    loop {
        let m = metrics().await;
        if value_in(&m, "mizulive_host_waiting_live") + value_in(&m, "mizulive_host_waiting_new") == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the event was not queued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.lock().unwrap().clear();

    probe.open_gate();
    busy.expect_patch().await;
    busy.expect_ok(slow).await;
    other.expect_patch().await;
    other.expect_ok(inc).await;
    for v in visitors {
        assert_eq!(v.await.expect("visitor").status, 200);
    }
    // The slow event had already started; the queued event went before the mounts.
    assert_eq!(*log.lock().unwrap(), ["inc", "mount", "mount"]);
    drop((busy, other));
    let _ = std::thread::spawn(move || app.shutdown()).join();
}

#[tokio::test]
async fn form_posts_that_mount_sessions_are_bounded_like_page_gets() {
    const MAX_UNJOINED: usize = 20;
    let t = TestApp::start(|o| o.max_unjoined_sessions = MAX_UNJOINED);
    // A form whose session lives elsewhere (another process): every post mounts one.
    let (html, _) = TestApp::start(|_| {}).page("/counter").await;
    let token = hidden_input(&html, "_lv_token").expect("_lv_token input");
    let csrf = hidden_input(&html, "_csrf").expect("_csrf input");
    let body = form_encode(&[("_lv_token", &token), ("_csrf", &csrf), ("_lv_click", "inc?by=1")]);
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let mut mounted = 0;
    for _ in 0..5 * MAX_UNJOINED {
        let resp = http(t.addr, "POST", "/counter", &headers, body.as_bytes()).await;
        mounted += usize::from(resp.status == 303);
    }
    t.wait_until("the oldest posted sessions ended", |app| app.session_count() <= MAX_UNJOINED).await;
    assert!(t.probe.mounts() >= mounted, "{mounted} posts answered 303");
}

#[tokio::test]
async fn websockets_hold_their_connection_slot() {
    let t = TestApp::start(|o| o.max_connections = 2);
    let first = t.connect().await;
    let _second = t.connect().await;
    // Both slots are held by upgraded sockets: a third connection is turned away.
    let mut extra = TcpStream::connect(t.addr).await.expect("connect");
    let mut raw = Vec::new();
    let read = tokio::time::timeout(WAIT, extra.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "a connection beyond the cap was kept open");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 503"), "{text:?}");

    // Closing a socket frees its slot.
    drop(first);
    let deadline = Instant::now() + WAIT;
    while try_get(t.addr, "/counter").await.map(|(status, _)| status) != Some(200) {
        assert!(Instant::now() < deadline, "no slot came free after a WebSocket closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
