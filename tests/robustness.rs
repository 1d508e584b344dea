//! Races and misbehaving clients: a render error half-way through a patch, a join
//! that arrives as its session expires, a client that stops reading, a request that
//! hangs up during its mount.

mod common;

use common::*;
use futures_util::SinkExt;
use mizulive::{App, Ctx, Event, HostError, Info, Options, Page, PageSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A gate a callback can be held at until the test opens it.
#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    cv: Condvar,
    waiting: AtomicBool,
}

impl Gate {
    fn close(&self) {
        *self.closed.lock().unwrap() = true;
    }

    fn open(&self) {
        *self.closed.lock().unwrap() = false;
        self.cv.notify_all();
    }

    fn pass(&self) {
        let closed = self.closed.lock().unwrap();
        self.waiting.store(*closed, Ordering::SeqCst);
        let _open = self.cv.wait_timeout_while(closed, WAIT, |c| *c).unwrap();
        self.waiting.store(false, Ordering::SeqCst);
    }

    fn waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// `/fragile/{n}`: regions `a` (`A=<n>`) and `b`, which fails to render while `bad`.
/// Mount waits at `mount_gate` and subscribes to `t<n>`; an info waits at `info_gate`.
#[derive(Default)]
struct Fragile {
    mount_gate: Gate,
    info_gate: Gate,
    closes: AtomicUsize,
}

impl Page for Fragile {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        self.mount_gate.pass();
        ctx.set_state(json!({"n": 0, "bad": false}));
        let n = ctx.params().get("n").and_then(Value::as_str).unwrap_or_default().to_string();
        ctx.subscribe(&format!("t{n}"));
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, e: &Event) -> Result<(), HostError> {
        ctx.set("/n", json!(e.int("n", 0)))?;
        ctx.set("/bad", json!(e.get("bad").as_deref() == Some("1")))?;
        ctx.mark_all();
        Ok(())
    }

    fn info(&self, _ctx: &mut Ctx<'_>, _info: &Info) -> Result<(), HostError> {
        self.info_gate.pass();
        Ok(())
    }

    fn close(&self, _ctx: &mut Ctx<'_>, _reason: &str) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

struct Fixture {
    app: Option<Arc<App>>,
    addr: SocketAddr,
    page: Arc<Fragile>,
}

impl Fixture {
    fn start(configure: impl FnOnce(&mut Options)) -> Fixture {
        let mut opts = base_options();
        configure(&mut opts);
        let app = App::new(opts).expect("App::new");
        let page = Arc::new(Fragile::default());
        let regions: BTreeMap<String, String> =
            [("a", "fragile/a"), ("b", "fragile/b")].map(|(k, v)| (k.to_string(), v.to_string())).into();
        let spec =
            PageSpec { template: "fragile/index".into(), regions, layout: None, handler: page.clone() };
        app.register_page("/fragile/{n}", spec).expect("register");
        let addr = app.start("127.0.0.1:0").expect("start");
        Fixture { app: Some(Arc::new(app)), addr, page }
    }

    fn app(&self) -> &Arc<App> {
        self.app.as_ref().expect("running")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn token(&self, path: &str) -> String {
        let r = http(self.addr, "GET", path, &[], b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
        boot(&r.text()).token
    }

    async fn connect(&self) -> WsClient {
        connect_ws(self.addr, Some(&format!("http://{}", self.addr))).await.expect("connect")
    }

    async fn metric(&self, name: &str) -> f64 {
        let r = http(self.addr, "GET", "/_live/metrics", &[], b"").await;
        let line = r.text().lines().find(|l| l.starts_with(&format!("{name} "))).map(str::to_string);
        line.and_then(|l| l.split_whitespace().last()?.parse().ok()).expect("metric present")
    }

    /// `App::shutdown` on a blocking thread; how long it took.
    async fn shutdown(&self) -> Duration {
        let app = self.app().clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || app.shutdown()).await.expect("thread").expect("shutdown");
        started.elapsed()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.page.mount_gate.open();
        self.page.info_gate.open();
        if let Some(app) = self.app.take() {
            let _ = std::thread::spawn(move || drop(app)).join();
        }
    }
}

fn set(n: &str, bad: &str) -> Value {
    json!({"n": n, "bad": bad})
}

#[tokio::test]
async fn regions_of_a_failed_render_are_sent_by_the_next_one() {
    let f = Fixture::start(|_| {});
    let token = f.token("/fragile/1").await;
    let mut ws = f.connect().await;
    ws.join(&token, &f.url("/fragile/1"), 0).await;

    // `a` renders (A=5), then `b` fails: no patch at all.
    let r = ws.event("set", set("5", "1")).await;
    let err = ws.expect_error(r).await;
    assert_eq!(err["code"], "render_error", "{err}");
    // Same state, `b` renders again: `a`'s A=5 was never sent, so it is now.
    let r = ws.event("set", set("5", "0")).await;
    let patch = ws.expect_patch().await;
    assert_eq!(patch["regions"]["a"], "A=5", "{patch}");
    ws.expect_ok(r).await;
}

#[tokio::test]
async fn a_join_that_arrives_as_the_grace_period_ends_is_answered() {
    let f = Fixture::start(|o| o.grace_ms = 300);
    for k in 0..5 {
        let path = format!("/fragile/{k}");
        let token = f.token(&path).await;
        // The session (never joined) is busy in on_info while its grace period ends,
        // and a join queues up behind the callback.
        f.page.info_gate.close();
        f.app().publish(&format!("t{k}"), "{}").expect("publish");
        wait_for("on_info to be held", || f.page.info_gate.waiting()).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let mut ws = f.connect().await;
        ws.send_join(&token, &f.url(&path), 0).await;
        // The socket reads its frames in order: once the heartbeat is answered, the
        // join is in the session's mailbox.
        ws.send_json(&json!({"t": "heartbeat"})).await;
        ws.recv_type("heartbeat").await;
        f.page.info_gate.open();
        let joined = ws.recv_type("joined").await;
        assert_eq!(joined["resumed"], true, "trial {k}: {joined}");
        drop(ws);
        wait_for("the session to expire", || f.app().session_count() == 0).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let f = Fixture::start(|o| {
        o.outbound_queue = 8;
        o.metrics = true;
    });
    let token = f.token("/fragile/7").await;
    // A socket that reads nothing: a small receive buffer, and this test never reads.
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(2048).expect("SO_RCVBUF");
    let tcp = sock.connect(f.addr).await.expect("connect");
    let mut req = format!("ws://{}/_live/websocket", f.addr).into_client_request().expect("request");
    req.headers_mut().insert("Origin", format!("http://{}", f.addr).parse().expect("origin"));
    req.headers_mut().insert("Cookie", browser_cookie().parse().expect("cookie"));
    let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.expect("handshake");
    let join = json!({"t": "join", "v": mizulive::protocol::PROTOCOL_VERSION, "token": token, "url": f.url("/fragile/7"), "seq": 0});
    ws.send(Message::text(join.to_string())).await.expect("join");
    wait_for("the socket to join", || f.app().session_count() == 1).await;
    assert_eq!(f.metric("mizulive_sockets").await, 1.0);

    // Heartbeats, whose answers pile up unread, until the server stops taking them.
    let started = Instant::now();
    let mut sent = 0u32;
    while sent < 2_000_000 && started.elapsed() < Duration::from_secs(20) {
        let hb = Message::text(r#"{"t":"heartbeat"}"#);
        match tokio::time::timeout(Duration::from_millis(300), ws.send(hb)).await {
            Ok(Ok(())) => sent += 1,
            _ => break,
        }
    }
    // The server ended the socket; the session waits for a reconnect.
    let deadline = Instant::now() + WAIT;
    while f.metric("mizulive_sockets").await != 0.0 {
        assert!(Instant::now() < deadline, "the non-reading socket is still open after {sent} heartbeats");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.app().session_count(), 1);
}

#[tokio::test]
async fn a_mount_whose_request_went_away_ends_and_says_goodbye() {
    use tokio::io::AsyncWriteExt;
    let f = Fixture::start(|_| {});
    f.page.mount_gate.close();
    let mut tcp = tokio::net::TcpStream::connect(f.addr).await.expect("connect");
    let get = format!("GET /fragile/9 HTTP/1.1\r\nHost: {}\r\n\r\n", f.addr);
    tcp.write_all(get.as_bytes()).await.expect("request");
    wait_for("the mount to be held", || f.page.mount_gate.waiting()).await;
    drop(tcp); // the browser gives up
    tokio::time::sleep(Duration::from_millis(100)).await; // hyper notices the hang-up
    f.page.mount_gate.open();
    wait_for("the abandoned session to close", || f.page.closes.load(Ordering::SeqCst) == 1).await;
    wait_for("the registry to forget it", || f.app().session_count() == 0).await;
    let took = f.shutdown().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[tokio::test]
async fn shutdown_ends_a_session_still_mounting() {
    let f = Fixture::start(|_| {});
    f.page.mount_gate.close();
    let addr = f.addr;
    let get = tokio::spawn(async move { http(addr, "GET", "/fragile/3", &[], b"").await });
    wait_for("the mount to be held", || f.page.mount_gate.waiting()).await;
    let app = f.app().clone();
    let stopper = tokio::task::spawn_blocking(move || app.shutdown());
    // Shutdown waits for the callback in flight, then ends the session.
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.page.mount_gate.open();
    stopper.await.expect("thread").expect("shutdown");
    assert_eq!(f.page.closes.load(Ordering::SeqCst), 1, "on_close ran");
    assert_eq!(f.app().session_count(), 0);
    let _ = get.await;
}
