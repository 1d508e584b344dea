//! Several nodes sharing one real redis-server: each node is this test binary run
//! again as a separate process (`node_process`), so a node can be killed with
//! SIGKILL in the middle of a session.
//!
//! What is checked is what a browser would see over its socket: the frames, the
//! count a region shows, the replies to its events.

mod common;

use common::redis::RedisServer;
use common::{base_options, count_in, counter_spec, WAIT};
use mizulive::{App, Ctx, Event, HostError, Info, Options, Page};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The environment variable that makes `node_process` run a node on this Redis.
const NODE_ENV: &str = "MIZULIVE_TEST_NODE";

/// The longest a session takes to move: its dead node's liveness key expires (3 s),
/// then the join that waits for it goes through.
const FAILOVER: Duration = Duration::from_secs(12);

// ---------------------------------------------------------------------------------
// The page every node serves at /board
// ---------------------------------------------------------------------------------

/// - `inc`: count + 1; `nap`: sleeps 400 ms, then count + 1 (an event in flight)
/// - `sub` (`topic`): subscribe; each publish `{"msg": m}` appends `m` to the log
/// - `say` (`topic`, `msg`): publish `{"msg": msg}` on `topic`
/// - `tick`: a timer every 100 ms; each appends `tick` to the log
struct Board {
    app: OnceLock<Weak<App>>,
}

fn count(ctx: &Ctx<'_>) -> i64 {
    ctx.get("/count").and_then(Value::as_i64).unwrap_or(0)
}

fn log(ctx: &mut Ctx<'_>, entry: &str) -> Result<(), HostError> {
    ctx.set("/log/-", json!(entry))?;
    let len = ctx.get("/log").and_then(Value::as_array).map_or(0, Vec::len);
    if len > 40 {
        ctx.remove("/log/0");
    }
    ctx.mark("log")?;
    Ok(())
}

impl Page for Board {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        ctx.set_state(json!({"count": 0, "log": []}));
        Ok(())
    }

    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError> {
        match event.name.as_str() {
            "inc" | "nap" => {
                if event.name == "nap" {
                    std::thread::sleep(Duration::from_millis(400));
                }
                let n = count(ctx) + 1;
                ctx.set("/count", json!(n))?;
                ctx.mark("stats")?;
            }
            "sub" => ctx.subscribe(&event.get("topic").unwrap_or_default()),
            "say" => {
                let app = self.app.get().and_then(Weak::upgrade).ok_or("the app is gone")?;
                let msg = json!({"msg": event.get("msg").unwrap_or_default()});
                app.publish(&event.get("topic").unwrap_or_default(), &msg.to_string())?;
            }
            "tick" => {
                ctx.send_after(Duration::from_millis(100), "{}")?;
            }
            other => return Err(HostError(format!("unknown event {other}"))),
        }
        Ok(())
    }

    fn info(&self, ctx: &mut Ctx<'_>, info: &Info) -> Result<(), HostError> {
        match &info.topic {
            Some(_) => {
                let msg = info.json()["msg"].as_str().unwrap_or_default().to_string();
                log(ctx, &msg)
            }
            None => {
                ctx.send_after(Duration::from_millis(100), "{}")?;
                log(ctx, "tick")
            }
        }
    }
}

/// Not a test: the node process the tests start (`NODE_ENV` names its Redis). It
/// prints its address, serves until its stdin says `stop` (a graceful shutdown) or
/// closes, and is killed by the tests for a crash.
#[test]
#[ignore = "a node process started by the other tests"]
fn node_process() {
    let Ok(redis) = std::env::var(NODE_ENV) else { return };
    let opts = Options { redis: Some(redis), grace_ms: 30_000, metrics: true, ..base_options() };
    let app = Arc::new(App::new(opts).expect("App::new"));
    let board = Arc::new(Board { app: OnceLock::new() });
    let _ = board.app.set(Arc::downgrade(&app));
    app.register_page("/board", counter_spec(board)).expect("register /board");
    let addr = app.start("127.0.0.1:0").expect("start");
    println!("node listening on {addr}");
    let _ = std::io::stdout().flush();
    for line in std::io::stdin().lock().lines() {
        if line.is_ok_and(|l| l.trim() == "stop") {
            app.shutdown().expect("shutdown");
            println!("node stopped");
            let _ = std::io::stdout().flush();
            break;
        }
    }
    std::process::exit(0);
}

// ---------------------------------------------------------------------------------
// Nodes, clients
// ---------------------------------------------------------------------------------

struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    addr: SocketAddr,
}

impl Node {
    fn start(redis: &RedisServer) -> Node {
        Node::start_on(redis.url())
    }

    /// A node on the Redis at `url` (a database of its own, say).
    fn start_on(url: String) -> Node {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["node_process", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(NODE_ENV, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a node process");
        let stdout = child.stdout.take().expect("node stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut node = Node { child, stdin, lines, addr: "127.0.0.1:1".parse().expect("addr") };
        let line = node.wait_line("node listening on ");
        node.addr = line.trim_start_matches("node listening on ").parse().expect("node address");
        node
    }

    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                // libtest may have written "test node_process ... " before it.
                Ok(line) if line.contains(prefix) => {
                    return line[line.find(prefix).unwrap_or(0)..].to_string()
                }
                Ok(_) => {}
                Err(_) => panic!("the node printed no line with {prefix:?} within {WAIT:?}"),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: the node dies in the middle of whatever it does.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A graceful shutdown, waited for.
    fn stop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "stop");
        }
        self.wait_line("node stopped");
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A browser tab on one page: its socket, its token, the last patch it saw, and
/// the numbers of its events.
struct Tab {
    ws: common::WsClient,
    token: String,
    /// The CSRF token its forms post with.
    csrf: String,
    path: String,
    seq: u64,
    eid: u64,
    next_ref: u64,
}

impl Tab {
    /// Loads `path` from `node` and joins its session.
    async fn open(node: &Node, path: &str) -> Tab {
        let resp = common::http(node.addr, "GET", path, &[], b"").await;
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.text());
        let boot = common::boot(&resp.text());
        let mut tab = Tab {
            ws: Tab::socket(node).await,
            token: boot.token,
            csrf: boot.csrf,
            path: path.to_string(),
            seq: 0,
            eid: 0,
            next_ref: 0,
        };
        tab.join(node).await;
        tab
    }

    async fn socket(node: &Node) -> common::WsClient {
        common::connect_ws(node.addr, Some(&node.origin())).await.expect("WebSocket connect")
    }

    /// Joins (again) on `node` with the last seq seen; returns the `joined` frame.
    async fn join(&mut self, node: &Node) -> Value {
        let url = node.url(&self.path);
        self.ws.send_join(&self.token, &url, self.seq).await;
        // A session whose node died moves once that node is declared dead.
        let joined = self.until_within("joined", FAILOVER, |f| f["t"] == "joined" || f["t"] == "error").await;
        assert_eq!(joined["t"], "joined", "join refused: {joined}");
        self.seq = joined["seq"].as_u64().unwrap_or(self.seq);
        joined
    }

    /// Moves to `node` on a new socket, as a browser whose socket dropped does.
    async fn rejoin(&mut self, node: &Node) -> Value {
        self.ws = Tab::socket(node).await;
        self.join(node).await
    }

    /// Sends event `name` with the next event number; returns (ref, eid).
    async fn send(&mut self, name: &str, values: Value) -> (u64, u64) {
        self.eid += 1;
        let eid = self.eid;
        (self.resend(name, values, eid).await, eid)
    }

    /// Sends event `name` numbered `eid` (again); returns its ref.
    async fn resend(&mut self, name: &str, values: Value, eid: u64) -> u64 {
        self.next_ref += 1;
        let r = self.next_ref;
        self.ws
            .send_json(&json!({
                "t": "event", "ref": r, "eid": eid, "type": "click", "name": name,
                "values": values, "form": {},
            }))
            .await;
        r
    }

    /// Reads frames until one satisfies `pred` (within `WAIT`), keeping `seq` up
    /// to date. Returns that frame.
    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.until_within(what, WAIT, pred).await
    }

    async fn until_within(&mut self, what: &str, wait: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} within {wait:?}");
            let frame = self.ws.recv_json(left).await;
            if frame["t"] == "patch" {
                self.seq += 1; // patches carry no number: each one is the next
            }
            if pred(&frame) {
                return frame;
            }
        }
    }

    /// Waits for the reply to `r`; returns it.
    async fn reply(&mut self, r: u64) -> Value {
        if let Some(reply) = self.ws.folded_reply(r) {
            return reply;
        }
        let f = self.until("the reply", |f| f["ref"] == r && (f["t"] == "reply" || f["t"] == "patch")).await;
        match self.ws.folded_reply(r) {
            Some(folded) => folded,
            None => f,
        }
    }

    /// Sends `inc`-like event `name` and returns the count the patch after it shows.
    async fn count_after(&mut self, name: &str) -> i64 {
        let (r, _) = self.send(name, json!({})).await;
        let patch =
            self.until("a stats patch", |f| f["t"] == "patch" && f["regions"]["stats"].is_string()).await;
        let reply = self.reply(r).await;
        assert_eq!(reply["ok"], true, "{reply}");
        count_in(patch["regions"]["stats"].as_str().unwrap_or_default()).expect("a count in the patch")
    }
}

/// The entries of the log region in `html`.
fn log_entries(html: &str) -> Vec<String> {
    html.split("<li>").skip(1).map(|s| s.split("</li>").next().unwrap_or_default().to_string()).collect()
}

/// Redis, asked directly.
fn redis_query(redis: &RedisServer, cmd: &redis::Cmd) -> redis::Value {
    let client = redis::Client::open(redis.url()).expect("redis client");
    let mut conn = client.get_connection_with_timeout(WAIT).expect("redis connection");
    cmd.query(&mut conn).expect("redis query")
}

/// Waits until `nodes` nodes listen on `topic` in Redis (a SUBSCRIBE is applied a
/// moment after the callback that asked for it returned).
async fn wait_subscribed(redis: &RedisServer, topic: &str, nodes: i64) {
    wait_on_channel(redis, &format!("mizulive:t:{topic}"), nodes).await;
}

async fn wait_on_channel(redis: &RedisServer, channel: &str, nodes: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = redis_query(redis, redis::cmd("PUBSUB").arg("NUMSUB").arg(channel));
        let n = match reply {
            redis::Value::Array(items) => match items.get(1) {
                Some(redis::Value::Int(n)) => *n,
                _ => 0,
            },
            _ => 0,
        };
        if n >= nodes {
            return;
        }
        assert!(Instant::now() < deadline, "{nodes} nodes did not subscribe to {channel} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_publish_on_one_node_reaches_every_node_in_order_once() {
    let redis = RedisServer::start();
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let mut on_a = Tab::open(&a, "/board").await;
    let mut on_b = Tab::open(&b, "/board").await;
    for tab in [&mut on_a, &mut on_b] {
        let (r, _) = tab.send("sub", json!({"topic": "news"})).await;
        assert_eq!(tab.reply(r).await["ok"], true);
    }
    wait_subscribed(&redis, "news", 2).await;

    let sent: Vec<String> = (1..=20).map(|i| format!("m{i}")).collect();
    for msg in &sent {
        let (r, _) = on_a.send("say", json!({"topic": "news", "msg": msg})).await;
        on_a.reply(r).await;
    }
    for tab in [&mut on_a, &mut on_b] {
        let last = tab
            .until("the last message", |f| {
                f["t"] == "patch" && f["regions"]["log"].as_str().is_some_and(|h| h.contains("<li>m20</li>"))
            })
            .await;
        // Every message, in the order it was published, each once.
        assert_eq!(log_entries(last["regions"]["log"].as_str().unwrap_or_default()), sent);
        tab.ws.expect_no_frame(common::QUIET).await;
    }

    // And the other way.
    let (r, _) = on_b.send("say", json!({"topic": "news", "msg": "from b"})).await;
    on_b.reply(r).await;
    on_a.until("b's message", |f| f["regions"]["log"].as_str().is_some_and(|h| h.contains("from b"))).await;
}

#[tokio::test]
async fn a_killed_node_s_session_goes_on_elsewhere_with_nothing_lost_or_applied_twice() {
    let redis = RedisServer::start();
    let (mut a, b, c) = (Node::start(&redis), Node::start(&redis), Node::start(&redis));
    let mut tab = Tab::open(&a, "/board").await;
    for expected in 1..=3 {
        assert_eq!(tab.count_after("inc").await, expected);
    }
    let (r, _) = tab.send("sub", json!({"topic": "room"})).await;
    tab.reply(r).await;
    let (r, _) = tab.send("tick", json!({})).await;
    tab.reply(r).await;
    tab.until("a tick", |f| f["regions"]["log"].as_str().is_some_and(|h| h.contains("tick"))).await;
    wait_subscribed(&redis, "room", 1).await;

    // An event in flight when the node dies: its callback sleeps, the node is killed.
    let (_, nap) = tab.send("nap", json!({})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.kill();

    // The browser reconnects to another node: the session is there, as it stood after
    // the last event it was answered for (the nap died with its node).
    let joined = tab.rejoin(&b).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(3), "{joined}");

    // The unanswered event is sent again: applied once, here.
    let r = tab.resend("nap", json!({}), nap).await;
    let patch = tab.until("the nap's patch", |f| f["regions"]["stats"].is_string()).await;
    assert_eq!(count_in(patch["regions"]["stats"].as_str().unwrap_or_default()), Some(4));
    assert_eq!(tab.reply(r).await["ok"], true);
    // Sent once more (its reply lost again): answered, not applied.
    let r = tab.resend("nap", json!({}), nap).await;
    let reply = tab
        .until("the reply", |f| f["t"] == "reply" && f["ref"] == r || f["regions"]["stats"].is_string())
        .await;
    assert_eq!(reply["t"], "reply", "a re-sent event ran again: {reply}");
    assert_eq!(reply["ok"], true);
    assert_eq!(tab.count_after("inc").await, 5);

    // Its timer ticks on here, and it still hears its topic, published on a third node.
    tab.until("a tick on the new node", |f| f["regions"]["log"].as_str().is_some_and(|h| h.contains("tick")))
        .await;
    wait_subscribed(&redis, "room", 1).await;
    let mut other = Tab::open(&c, "/board").await;
    let (r, _) = other.send("say", json!({"topic": "room", "msg": "hello from c"})).await;
    other.reply(r).await;
    tab.until("c's message", |f| f["regions"]["log"].as_str().is_some_and(|h| h.contains("hello from c")))
        .await;
}

#[tokio::test]
async fn a_stopping_node_hands_its_sessions_over_at_once() {
    let redis = RedisServer::start();
    let (mut a, b) = (Node::start(&redis), Node::start(&redis));
    let mut tab = Tab::open(&a, "/board").await;
    assert_eq!(tab.count_after("inc").await, 1);
    a.stop();
    // Released on shutdown: no waiting for the stopped node to be declared dead.
    let started = Instant::now();
    let joined = tab.rejoin(&b).await;
    assert!(started.elapsed() < Duration::from_secs(2), "the join waited {:?}", started.elapsed());
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(1), "{joined}");
    assert_eq!(tab.count_after("inc").await, 2);
}

#[tokio::test]
async fn two_nodes_never_run_one_session_at_once() {
    let redis = RedisServer::start();
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let mut first = Tab::open(&a, "/board").await;
    assert_eq!(first.count_after("inc").await, 1);

    // The same session joined on another node while its node lives (the tab's
    // socket moved): handed over.
    let mut second = Tab {
        ws: Tab::socket(&b).await,
        token: first.token.clone(),
        csrf: first.csrf.clone(),
        path: first.path.clone(),
        seq: first.seq,
        eid: first.eid,
        next_ref: 0,
    };
    let joined = second.join(&b).await;
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(1), "{joined}");
    // The browser is on the other node now: the old socket is the stale one, told not
    // to come back (as a second socket on one node would be).
    let moved = first.until("the move", |f| f["t"] == "close").await;
    assert_eq!((&moved["reason"], &moved["reconnect"]), (&json!("replaced"), &json!(false)), "{moved}");
    assert_eq!(second.count_after("inc").await, 2);
    first.eid = second.eid;

    let key = format!("mizulive:s:{}", session_id(&redis));
    let owner = redis_query(&redis, redis::cmd("HGET").arg(&key).arg("owner"));
    let owner = match owner {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).to_string(),
        other => panic!("no owner: {other:?}"),
    };
    assert!(!owner.is_empty(), "the session has one owner");

    // And back: the first node takes it again, the second lets go.
    let joined = first.rejoin(&a).await;
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(2), "{joined}");
    let moved = second.until("the move back", |f| f["t"] == "close").await;
    assert_eq!(moved["reason"], "replaced");
    assert_eq!(first.count_after("inc").await, 3);
    let owner_now = redis_query(&redis, redis::cmd("HGET").arg(&key).arg("owner"));
    assert_ne!(owner_now, redis::Value::BulkString(owner.into_bytes()), "the owner changed back");

    // A form post on the other node takes it there too; the live socket is told to
    // come after it (a request, not a browser joining elsewhere).
    post_inc(&b, &first.token, &first.csrf).await;
    let moved = first.until("the move to the posting node", |f| f["t"] == "close").await;
    assert_eq!((&moved["reason"], &moved["reconnect"]), (&json!("session_moved"), &json!(true)), "{moved}");
    let joined = first.rejoin(&b).await;
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(4), "{joined}");
}

/// Waits (bounded) until `redis` holds a session snapshot; fails with `what` if not.
async fn wait_for_a_snapshot(redis: &RedisServer, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let keys = redis_query(redis, redis::cmd("KEYS").arg("mizulive:s:*"));
        if matches!(&keys, redis::Value::Array(k) if !k.is_empty()) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The one session stored in `redis`.
fn session_id(redis: &RedisServer) -> String {
    match redis_query(redis, redis::cmd("KEYS").arg("mizulive:s:*")) {
        redis::Value::Array(keys) if keys.len() == 1 => match &keys[0] {
            redis::Value::BulkString(k) => {
                String::from_utf8_lossy(k).trim_start_matches("mizulive:s:").to_string()
            }
            other => panic!("unexpected key {other:?}"),
        },
        other => panic!("expected one session key, found {other:?}"),
    }
}

#[tokio::test]
async fn redis_restarted_mid_run_loses_no_session_and_pub_sub_comes_back() {
    let mut redis = RedisServer::start();
    let (mut a, b) = (Node::start(&redis), Node::start(&redis));
    let mut on_a = Tab::open(&a, "/board").await;
    let mut on_b = Tab::open(&b, "/board").await;
    let (r, _) = on_b.send("sub", json!({"topic": "news"})).await;
    on_b.reply(r).await;
    assert_eq!(on_a.count_after("inc").await, 1);

    redis.restart();
    // Sessions go on on their node meanwhile.
    assert_eq!(on_a.count_after("inc").await, 2);
    // B subscribes again when Redis is back; publishes from A reach it again.
    wait_subscribed(&redis, "news", 1).await;
    let deadline = Instant::now() + WAIT;
    let mut n = 0;
    loop {
        n += 1;
        let msg = format!("after restart {n}");
        let (r, _) = on_a.send("say", json!({"topic": "news", "msg": msg})).await;
        on_a.reply(r).await;
        let got = tokio::time::timeout(Duration::from_millis(300), on_b.ws.recv_json(WAIT)).await;
        if let Ok(frame) = got {
            if frame["regions"]["log"].as_str().is_some_and(|h| h.contains(&msg)) {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no publish crossed nodes after Redis came back");
    }

    // The snapshot is written again (the restarted Redis was empty): a node that now
    // dies still hands the session on, with its latest state.
    assert_eq!(on_a.count_after("inc").await, 3);
    a.kill();
    let joined = on_a.rejoin(&b).await;
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(3), "{joined}");
}

/// The first value of metric `name` on `node`.
async fn metric(node: &Node, name: &str) -> f64 {
    let resp = common::http(node.addr, "GET", "/_live/metrics", &[], b"").await;
    let text = resp.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in the metrics:\n{text}"))
}

async fn post_inc(node: &Node, token: &str, csrf: &str) -> String {
    let body = common::form_encode(&[("_lv_token", token), ("_csrf", csrf), ("_lv_click", "inc")]);
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let resp = common::http(node.addr, "POST", "/board", &[form], body.as_bytes()).await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    let cookie = resp.header("set-cookie").expect("a resume cookie");
    cookie.split(';').next().expect("the cookie pair").to_string()
}

async fn get_count(node: &Node, cookie: &str) -> Option<i64> {
    let resp = common::http(node.addr, "GET", "/board", &[("Cookie", cookie)], b"").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    count_in(&resp.text())
}

#[tokio::test]
async fn no_js_posts_and_their_redirects_may_land_on_any_node() {
    let redis = RedisServer::start();
    let (a, b) = (Node::start(&redis), Node::start(&redis));
    let resp = common::http(a.addr, "GET", "/board", &[], b"").await;
    let boot = common::boot(&resp.text());
    // Posted to B, the page's session (made on A) counts; the GET the 303 leads to
    // lands on A again and shows it.
    let cookie = post_inc(&b, &boot.token, &boot.csrf).await;
    assert_eq!(get_count(&a, &cookie).await, Some(1));
    let cookie = post_inc(&b, &boot.token, &boot.csrf).await;
    assert_eq!(get_count(&b, &cookie).await, Some(2));
    let cookie = post_inc(&a, &boot.token, &boot.csrf).await;
    assert_eq!(get_count(&b, &cookie).await, Some(3));
}

#[tokio::test]
async fn a_snapshot_that_failed_to_write_is_written_when_redis_returns() {
    let mut redis = RedisServer::start();
    let (mut a, b) = (Node::start(&redis), Node::start(&redis));
    let mut tab = Tab::open(&a, "/board").await;
    assert_eq!(tab.count_after("inc").await, 1);

    redis.stop();
    // The session goes on while Redis is away; its snapshot fails and is counted.
    assert_eq!(tab.count_after("inc").await, 2);
    assert!(metric(&a, "mizulive_snapshot_failures_total").await >= 1.0);

    // Back (empty): the session writes its snapshot again without any new event.
    redis.restart();
    wait_for_a_snapshot(&redis, "the snapshot was not written again after Redis came back").await;
    a.kill();
    let joined = tab.rejoin(&b).await;
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(2), "{joined}");
}

#[tokio::test]
async fn apps_on_different_redis_databases_do_not_hear_each_other() {
    let redis = RedisServer::start();
    let a = Node::start(&redis);
    let (b, c) = (Node::start_on(format!("{}/1", redis.url())), Node::start_on(format!("{}/1", redis.url())));
    let mut on_a = Tab::open(&a, "/board").await;
    let mut on_b = Tab::open(&b, "/board").await;
    for tab in [&mut on_a, &mut on_b] {
        let (r, _) = tab.send("sub", json!({"topic": "news"})).await;
        tab.reply(r).await;
    }
    wait_subscribed(&redis, "news", 1).await;
    wait_on_channel(&redis, "mizulive:1:t:news", 1).await;

    let (r, _) = on_a.send("say", json!({"topic": "news", "msg": "db 0 only"})).await;
    on_a.reply(r).await;
    on_a.until("its own message", |f| f["regions"]["log"].as_str().is_some_and(|h| h.contains("db 0 only")))
        .await;
    on_b.ws.expect_no_frame(common::QUIET).await;

    // Its own database's nodes it hears.
    let mut on_c = Tab::open(&c, "/board").await;
    let (r, _) = on_c.send("say", json!({"topic": "news", "msg": "db 1"})).await;
    on_c.reply(r).await;
    on_b.until("db 1's message", |f| f["regions"]["log"].as_str().is_some_and(|h| h.contains("db 1"))).await;
}

#[tokio::test]
async fn an_idle_session_is_written_again_when_redis_lost_its_data() {
    let mut redis = RedisServer::start();
    let (mut a, b) = (Node::start(&redis), Node::start(&redis));
    let mut tab = Tab::open(&a, "/board").await;
    assert_eq!(tab.count_after("inc").await, 1);
    // Redis comes back empty while the session sits idle: nothing it does would write
    // its snapshot again, so its node must notice.
    redis.restart();
    wait_for_a_snapshot(&redis, "the idle session's snapshot was not written again").await;
    a.kill();
    let joined = tab.rejoin(&b).await;
    assert_eq!(count_in(joined["root"].as_str().unwrap_or_default()), Some(1), "{joined}");
}
