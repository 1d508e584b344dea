//! The C examples, compiled with the project's Makefiles (-Wall -Wextra -Wpedantic
//! -Werror) and driven as a browser would: HTTP GET, WebSocket join and events, the
//! no-JS form POST, and a clean stop on SIGINT.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Generous enough for an example running under valgrind.
const WAIT: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running example; killed if the test fails before stopping it.
struct Example {
    child: Child,
    addr: String,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the examples run: plainly, or (`MIZULIVE_C_SANITIZE`, set by `make
/// test-c-sanitize`) built with AddressSanitizer + UBSan, or under valgrind. Either
/// tool's report makes the example exit non-zero, which fails the test.
#[derive(Clone, Copy, PartialEq)]
enum Sanitize {
    None,
    Asan,
    Valgrind,
}

fn sanitize() -> Sanitize {
    match std::env::var("MIZULIVE_C_SANITIZE").as_deref() {
        Ok("asan") => Sanitize::Asan,
        Ok("valgrind") => Sanitize::Valgrind,
        Ok("") | Err(_) => Sanitize::None,
        Ok(other) => panic!("MIZULIVE_C_SANITIZE={other:?}: expected asan or valgrind"),
    }
}

fn build_and_start(name: &str) -> Example {
    let dir = root().join("examples-c").join(name);
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let mode = sanitize();
    // The plain and the instrumented build share the binary's name: build afresh.
    let _ = std::fs::remove_file(dir.join(name));
    let mut make = Command::new("make");
    make.args(["-s", &format!("PROFILE={profile}")]).current_dir(&dir);
    if mode == Sanitize::Asan {
        make.env(
            "CFLAGS",
            "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer",
        );
    }
    let out = make.output().expect("make runs");
    assert!(out.status.success(), "building {name} failed:\n{}", String::from_utf8_lossy(&out.stderr));

    let mut command = match mode {
        Sanitize::Valgrind => {
            let mut c = Command::new("valgrind");
            c.args([
                "-q",
                "--error-exitcode=1",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible",
            ])
            .arg(format!("--suppressions={}", root().join("tests/c/valgrind.supp").display()))
            .arg(dir.join(name));
            c
        }
        _ => Command::new(dir.join(name)),
    };
    if mode == Sanitize::Asan {
        command.env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1").env("UBSAN_OPTIONS", "halt_on_error=1");
    }
    let mut child = command
        .current_dir(&dir)
        .env("MIZULIVE_ADDR", "127.0.0.1:0")
        .env("MIZULIVE_SECRET", SECRET)
        .stdout(Stdio::piped())
        // A sanitizer's report goes to stderr: show it with the test's output.
        .stderr(if mode == Sanitize::None { Stdio::null() } else { Stdio::inherit() })
        .spawn()
        .expect("example starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(WAIT).expect("example prints its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Example { child, addr }
}

struct HttpResponse {
    status: u16,
    head: String,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// The secret the examples run with (`MIZULIVE_SECRET`), so the browser cookie below
/// is one they signed.
const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// The browser cookie every request carries, as a browser keeps the one its first
/// page GET set: an id signed with [`SECRET`] (src/token.rs pins the value).
const BROWSER: &str = "lv_bid=0123456789abcdef0123456789abcdef.-A697zMVFYhagKzWPEmZPw";

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let mut cookie = BROWSER.to_string();
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("cookie") {
            cookie = format!("{v}; {BROWSER}");
        } else {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str(&format!("Cookie: {cookie}\r\n"));
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes()).expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("response has a head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    HttpResponse { status, head: head.to_string(), body: body.to_string() }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} not in page")) + start.len();
    let to = text[from..].find(end).expect("end marker") + from;
    &text[from..to]
}

fn boot(page: &str) -> Value {
    let raw = between(page, "<script id=\"lv-boot\" type=\"application/json\">", "</script>");
    serde_json::from_str(raw).expect("boot data is JSON")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(addr: &str, path: &str, token: &str) -> Ws {
    let mut req = format!("ws://{addr}/_live/websocket").into_client_request().expect("request");
    req.headers_mut().insert("Origin", format!("http://{addr}").parse().expect("origin"));
    req.headers_mut().insert("Cookie", BROWSER.parse().expect("cookie"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("websocket connects");
    let join = json!({"t": "join", "v": mizulive::protocol::PROTOCOL_VERSION, "token": token, "url": format!("http://{addr}{path}"), "seq": 0});
    ws.send(Message::text(join.to_string())).await.expect("send join");
    let joined = recv(&mut ws).await;
    assert_eq!(joined["t"], "joined", "{joined}");
    assert_eq!(joined["resumed"], true, "the join adopts the GET's session: {joined}");
    ws
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time");
        match msg.expect("socket open").expect("frame") {
            Message::Text(t) => {
                let mut frame: Value = serde_json::from_str(t.as_str()).expect("frame is JSON");
                // A patch carries no tag on the wire.
                if frame.get("t").is_none() {
                    frame["t"] = "patch".into();
                }
                return frame;
            }
            Message::Close(frame) => return json!({"t": "__close", "frame": format!("{frame:?}")}),
            _ => continue,
        }
    }
}

async fn click(ws: &mut Ws, r#ref: u64, name: &str) -> (Option<Value>, Value) {
    let event = json!({"t": "event", "ref": r#ref, "type": "click", "name": name, "values": {"by": "1"}});
    ws.send(Message::text(event.to_string())).await.expect("send event");
    let mut patch = None;
    loop {
        let frame = recv(ws).await;
        match frame["t"].as_str() {
            // A patch that answers the event is its reply too (a success): one frame
            // per event.
            Some("patch") if frame["ref"] == r#ref => {
                let reply = json!({"t": "reply", "ref": r#ref, "ok": true});
                return (Some(frame), reply);
            }
            Some("patch") => patch = Some(frame),
            Some("reply") => {
                assert_eq!(frame["ref"], r#ref);
                return (patch, frame);
            }
            other => panic!("unexpected frame {other:?}: {frame}"),
        }
    }
}

fn interrupt_and_wait(example: &mut Example) {
    let status =
        Command::new("kill").arg("-INT").arg(example.child.id().to_string()).status().expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(code) = example.child.try_wait().expect("wait") {
            assert!(code.success(), "example exits cleanly on SIGINT: {code}");
            return;
        }
        assert!(Instant::now() < deadline, "example did not stop within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_live_and_without_javascript() {
    let mut ex = build_and_start("counter");
    let addr = ex.addr.clone();

    let page = http(&addr, "GET", "/counter", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<div id="lv-root" data-lv>"#));
    assert!(page.body.contains(r#"<strong id="count">0</strong>"#));
    assert!(page.body.contains(r#"data-lv-click="inc" data-lv-value-by="1""#));
    assert!(page.body.contains(r#"data-lv-click="dec" data-lv-value-by="1""#));
    let token = boot(&page.body)["token"].as_str().expect("token").to_string();

    let mut ws = join(&addr, "/counter", &token).await;
    let (patch, reply) = click(&mut ws, 1, "inc").await;
    assert_eq!(reply["ok"], true);
    let patch = patch.expect("inc sends a patch");
    assert!(patch.get("seq").is_none(), "a patch carries no number: {patch}");
    assert!(patch["regions"]["stats"].as_str().unwrap_or("").contains(r#"<strong id="count">1</strong>"#));
    assert!(patch["regions"]["log"].as_str().unwrap_or("").contains("inc 1 → 1"));

    let (_, reply) = click(&mut ws, 2, "nope").await;
    assert_eq!(reply["ok"], false, "an unknown event fails: {reply}");
    assert_eq!(reply["error"]["code"], "host_error");

    let (patch, _) = click(&mut ws, 3, "inc").await;
    let stats = patch.expect("patch")["regions"]["stats"].as_str().unwrap_or("").to_string();
    assert!(stats.contains(">2<"), "the failed event left the count alone: {stats}");

    // Without JavaScript: the same session through a form POST, then the 303's GET.
    let csrf = between(&page.body, r#"name="_csrf" value=""#, "\"").to_string();
    let form = format!("_lv_token={token}&_csrf={csrf}&_lv_click=dec%3Fby%3D1");
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    let post = http(&addr, "POST", "/counter", &[form_type], &form);
    assert_eq!(post.status, 303);
    assert_eq!(post.header("location").as_deref(), Some("/counter"));
    let cookie = post.header("set-cookie").expect("resume cookie");
    let cookie = cookie.split(';').next().expect("cookie pair").to_string();
    let after = http(&addr, "GET", "/counter", &[("Cookie", cookie.as_str())], "");
    assert!(after.body.contains(r#"<strong id="count">1</strong>"#), "POST ran against the same session");
    // The live page saw it too.
    let pushed = recv(&mut ws).await;
    assert_eq!(pushed["t"], "patch");
    assert!(pushed["regions"]["stats"].as_str().unwrap_or("").contains(">1<"));

    let bad = http(&addr, "POST", "/counter", &[form_type], &format!("_lv_token={token}&_lv_click=inc"));
    assert_eq!(bad.status, 403, "a POST without the CSRF token is refused");

    interrupt_and_wait(&mut ex);
    let close = recv(&mut ws).await;
    assert_eq!(close["t"], "close", "{close}");
    assert_eq!(close["reason"], "shutdown");
    assert_eq!(close["reconnect"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_pushes_published_items_and_clock_ticks() {
    let mut ex = build_and_start("feed");
    let addr = ex.addr.clone();
    let page = http(&addr, "GET", "/feed", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<ul id="items">"#));
    let token = boot(&page.body)["token"].as_str().expect("token").to_string();
    let mut ws = join(&addr, "/feed", &token).await;

    let (mut saw_item, mut saw_clock) = (false, false);
    let deadline = Instant::now() + WAIT;
    while !(saw_item && saw_clock) {
        assert!(Instant::now() < deadline, "item: {saw_item}, clock: {saw_clock}");
        let frame = recv(&mut ws).await;
        assert_eq!(frame["t"], "patch", "{frame}");
        if let Some(items) = frame["regions"]["items"].as_str() {
            assert!(items.contains("<li>#"), "{items}");
            saw_item = true;
        }
        if let Some(clock) = frame["regions"]["clock"].as_str() {
            assert!(clock.contains("UTC</time>"), "{clock}");
            saw_clock = true;
        }
    }
    interrupt_and_wait(&mut ex);
}

/// How many TCP sockets the process `pid` has listening (Linux: its socket inodes
/// in /proc/net/tcp with state 0A).
fn listening_sockets(pid: u32) -> usize {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the example's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect();
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(3) == Some(&"0A") && cols.get(9).is_some_and(|i| inodes.iter().any(|x| x == i)) {
                count += 1;
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_serves_the_counter_from_its_own_socket() {
    let mut ex = build_and_start("embed");
    let addr = ex.addr.clone();
    // The program's own listener is the only one: the library opened none.
    if sanitize() != Sanitize::Valgrind {
        assert_eq!(listening_sockets(ex.child.id()), 1, "the process listens on one port");
    }

    let page = http(&addr, "GET", "/counter", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<strong id="count">0</strong>"#), "{}", page.body);
    assert!(page.head.to_ascii_lowercase().contains("content-security-policy"), "{}", page.head);
    let runtime = http(&addr, "GET", "/_live/runtime.js", &[], "");
    assert_eq!(runtime.status, 200);
    assert_eq!(http(&addr, "GET", "/nope", &[], "").status, 404);
    let token = boot(&page.body)["token"].as_str().expect("token").to_string();

    // The WebSocket goes to the library on the program's socket.
    let mut ws = join(&addr, "/counter", &token).await;
    let (patch, reply) = click(&mut ws, 1, "inc").await;
    assert_eq!(reply["ok"], true);
    assert!(patch.expect("a patch")["regions"]["stats"].as_str().unwrap_or("").contains(">1<"));

    // A socket opened from another site is refused by the library, on that socket.
    let mut req = format!("ws://{addr}/_live/websocket").into_client_request().expect("request");
    req.headers_mut().insert("Origin", "http://evil.example".parse().expect("origin"));
    req.headers_mut().insert("Cookie", BROWSER.parse().expect("cookie"));
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("a cross-origin socket was not refused: {other:?}"),
    }

    // Without JavaScript: the form POST runs against the same session; no CSRF, 403.
    let csrf = between(&page.body, r#"name="_csrf" value=""#, "\"").to_string();
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    let form = format!("_lv_token={token}&_csrf={csrf}&_lv_click=inc%3Fby%3D1");
    let post = http(&addr, "POST", "/counter", &[form_type], &form);
    assert_eq!(post.status, 303, "{}", post.head);
    let pushed = recv(&mut ws).await;
    assert!(pushed["regions"]["stats"].as_str().unwrap_or("").contains(">2<"), "{pushed}");
    let bad = http(&addr, "POST", "/counter", &[form_type], &format!("_lv_token={token}&_lv_click=inc"));
    assert_eq!(bad.status, 403);

    interrupt_and_wait(&mut ex);
    let close = recv(&mut ws).await;
    assert_eq!(close["t"], "close", "{close}");
    assert_eq!(close["reason"], "shutdown");
}
