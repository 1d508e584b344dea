//! The peer benchmark's three pages (`bench/peers/PAGES.md`) in dioxus-liveview with
//! axum. Each page is its own component with its own websocket endpoint, wired the way
//! the crate's `axum_stress` example does it: the page's HTML carries the interpreter
//! glue pointing at `<page>/ws`, and that route hands the upgraded socket to a
//! `LiveViewPool`, which runs one `VirtualDom` per socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use axum::extract::ws::WebSocketUpgrade;
use axum::response::Html;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use dioxus::prelude::*;
use dioxus_liveview::LiveViewPool;
use tokio::sync::broadcast;

/// The server-wide broadcast value, and the channel every counter session listens on
/// (dioxus has no pub/sub of its own; a tokio broadcast channel is the usual stand-in).
static BROADCAST: LazyLock<Broadcast> = LazyLock::new(Broadcast::new);

struct Broadcast {
    value: AtomicU64,
    tx: broadcast::Sender<u64>,
}

impl Broadcast {
    fn new() -> Self {
        // A subscriber that falls this far behind skips to the newest value (`Lagged`).
        let (tx, _) = broadcast::channel(64);
        Broadcast { value: AtomicU64::new(0), tx }
    }

    fn current(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }

    /// Bumps the value and tells every subscribed session. No receivers is fine.
    fn bump(&self) {
        let n = self.value.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send(n);
    }
}

fn counter() -> Element {
    let mut count = use_signal(|| 0u64);
    let mut bcast = use_signal(|| BROADCAST.current());
    // Lives as long as the session's component: follows the server-wide value.
    use_future(move || async move {
        let mut rx = BROADCAST.tx.subscribe();
        // A bump between mount and this subscription would otherwise be missed.
        bcast.set(BROADCAST.current());
        loop {
            match rx.recv().await {
                Ok(n) => bcast.set(n),
                Err(broadcast::error::RecvError::Lagged(_)) => bcast.set(BROADCAST.current()),
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    rsx! {
        main {
            h1 { "Counter" }
            p { "Count: " span { id: "count", "{count}" } }
            p { "Broadcast: " span { id: "bcast", "bc-{bcast}" } }
            button { onclick: move |_| count += 1, "+1" }
            button { onclick: move |_| BROADCAST.bump(), "Broadcast" }
        }
    }
}

const ROWS: usize = 100;

fn table() -> Element {
    let values = use_signal(|| vec![0u64; ROWS]);

    rsx! {
        main {
            h1 { "Table" }
            table {
                tbody {
                    for (row, value) in values.read().iter().enumerate() {
                        Row { key: "{row}", row, value: *value, values }
                    }
                }
            }
        }
    }
}

/// One table row. Its props are compared on every render of the table, so a bump
/// re-renders only the row whose value changed.
#[component]
fn Row(row: usize, value: u64, values: Signal<Vec<u64>>) -> Element {
    rsx! {
        tr {
            td { "row-{row}" }
            td { "name-{row}" }
            td { "{value}" }
            td { button { onclick: move |_| values.write()[row] += 1, "bump" } }
        }
    }
}

fn list() -> Element {
    let mut items = use_signal(Vec::<String>::new);

    rsx! {
        main {
            h1 { "List" }
            button {
                onclick: move |_| {
                    let n = items.read().len() + 1;
                    items.write().push(format!("item-{n}"));
                },
                "Add"
            }
            ul {
                for item in items.read().iter() {
                    li { key: "{item}", "{item}" }
                }
            }
        }
    }
}

/// Serves `app` at `path`: the page at `path`, its websocket at `path/ws`.
fn page(router: Router, pool: &LiveViewPool, path: &str, title: &str, app: fn() -> Element) -> Router {
    let ws_path = format!("{path}/ws");
    let html = Html(format!(
        r#"<!DOCTYPE html>
<html>
  <head><title>{title}</title></head>
  <body><div id="main"></div></body>
  {glue}
</html>
"#,
        glue = dioxus_liveview::interpreter_glue(&ws_path),
    ));
    let pool = pool.clone();
    router.route(path, get(move || async move { html })).route(
        &ws_path,
        get(move |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(move |socket| async move {
                // Ends when the socket closes; a send error only ends this session.
                _ = pool.launch(dioxus_liveview::axum_socket(socket), app).await;
            })
        }),
    )
}

#[tokio::main]
async fn main() {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("PORT must be a port number, got {p:?}");
            std::process::exit(2)
        }),
        Err(_) => 0,
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let pool = LiveViewPool::new();
    let mut app = Router::new();
    app = page(app, &pool, "/counter", "Counter", counter);
    app = page(app, &pool, "/table", "Table", table);
    app = page(app, &pool, "/list", "List", list);

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("binding {addr}: {e}");
            std::process::exit(1)
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    // Go, Node and Python's asyncio turn Nagle off on their sockets by default; axum
    // leaves it on, which would hold a second small frame (say, a push right after an
    // event's batch) until the client's delayed ACK, up to 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("TCP_NODELAY: {e}");
        }
    });
    println!("peer listening on http://{local}");

    tokio::select! {
        served = axum::serve(listener, app.into_make_service()) => {
            if let Err(e) = served {
                eprintln!("server: {e}");
                std::process::exit(1)
            }
        }
        // Open websockets would keep a graceful shutdown waiting; the bench only
        // needs the process gone, so leaving main ends every session with it.
        _ = shutdown_signal() => {}
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        // Without handlers the default action (exit) still applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
