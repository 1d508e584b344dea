//! The app: options, pages, the auth hook, and the running server's lifecycle.
//!
//! `App` is what every host drives (through the C ABI or directly from Rust). All of
//! its methods take `&self` and are safe to call from any thread; `shutdown` must not
//! be called from a host callback (it waits for the callback threads).

use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use crate::browser::BrowserSession;
use crate::cluster::broker::RedisBroker;
use crate::cluster::browsers::RedisBrowsers;
use crate::cluster::node::Node;
use crate::cluster::store::RedisStore;
use crate::error::{Error, Result};
use crate::host::{on_host_thread, HostPool};
use crate::options::Options;
use crate::page::{PageSpec, Route};
use crate::pubsub::PubSub;
use crate::server::asset::RuntimeAsset;
use crate::session::browser::{BrowserStore, MemoryBrowsers};
use crate::session::snapshot::SessionStore;
use crate::session::{Core, Registry};
use crate::token::Signer;
use crate::views::Views;

/// How often the browser runtime sends a heartbeat (`HEARTBEAT_MS` in
/// src/client/runtime.js).
const HEARTBEAT_MS: u64 = 30_000;

/// What the auth hook sees of a request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Map<String, Value>,
    pub cookies: Map<String, Value>,
    /// The browser session as the request found it (`{}` when the browser has none).
    pub browser: Map<String, Value>,
    /// The hook's own view of the browser session, with its writes.
    #[serde(skip)]
    pub(crate) browser_session: Arc<Mutex<BrowserSession>>,
}

impl RequestInfo {
    /// The browser session with the hook's writes so far.
    pub fn browser_session(&self) -> Map<String, Value> {
        self.session().map().clone()
    }

    /// Sets `key` in the browser session, e.g. the user a login hook recognised.
    /// Applied unless the hook denies the request, before the page mounts or the
    /// event runs. Refused (nothing changes) over `max_browser_session_bytes`.
    pub fn browser_set(&self, key: &str, value: Value) -> Result<()> {
        self.session().set(key, value)
    }

    /// Removes `key` from the browser session (e.g. at logout); its value, if any.
    pub fn browser_remove(&self, key: &str) -> Option<Value> {
        self.session().remove(key)
    }

    fn session(&self) -> std::sync::MutexGuard<'_, BrowserSession> {
        self.browser_session.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The auth hook's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthDecision {
    /// Serve the page, with this user id (or none).
    Allow(Option<String>),
    /// Answer 403.
    Deny,
    /// Answer 303 to this location (a login page).
    Redirect(String),
}

/// Decides who may load or use a page. Runs on a host thread for every page GET,
/// form POST and WebSocket join (asked as a GET of the page with the upgrade
/// request's headers). The user it allows must be the one the session was mounted
/// for: a POST or join whose token names another user is refused.
pub trait Auth: Send + Sync + 'static {
    fn authenticate(&self, request: &RequestInfo) -> AuthDecision;
}

/// How long a shutdown waits, at most, for open sockets to send the goodbye their
/// sessions queued (a socket whose client stopped reading is dropped after it).
const SOCKET_FLUSH: Duration = Duration::from_secs(2);

/// What the server shares: the sessions' [`Core`] (reached through `Deref`), and
/// what only the server uses (routes, the auth hook, assets).
pub(crate) struct Shared {
    pub core: Arc<Core>,
    /// This node's place among several sharing one Redis (the `redis` option).
    pub node: Option<Arc<Node>>,
    pub router: RwLock<matchit::Router<Arc<Route>>>,
    pub auth: RwLock<Option<Arc<dyn Auth>>>,
    pub runtime_js: RuntimeAsset,
    /// The Content-Security-Policy header of pages, built once from the options.
    pub csp: Option<hyper::header::HeaderValue>,
    pub next_conn: AtomicU64,
    /// Connections (and host-carried sockets) alive, bounded by `max_connections`.
    pub slots: Arc<tokio::sync::Semaphore>,
    /// Frames for the WebSockets whose frames the host carries (`server::embed`).
    pub host_frames: (
        tokio::sync::mpsc::Sender<crate::server::embed::HostFrame>,
        tokio::sync::Mutex<tokio::sync::mpsc::Receiver<crate::server::embed::HostFrame>>,
    ),
}

impl std::ops::Deref for Shared {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Shared {
    /// The route serving `path` and its params.
    pub fn route(&self, path: &str) -> Option<(Arc<Route>, Map<String, Value>)> {
        let router = self.router.read().unwrap_or_else(|e| e.into_inner());
        let matched = router.at(path).ok()?;
        // A param arrives as the browser sent it, percent-encoded: `/boards/%61` and
        // `/boards/a` are one board, `/boards/%C3%A9t%C3%A9` is `été`.
        let params = matched
            .params
            .iter()
            .map(|(k, v)| {
                let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                (k.to_string(), Value::String(decoded.into_owned()))
            })
            .collect();
        Some((matched.value.clone(), params))
    }
}

/// Refuses a route written in another framework's syntax (`/q/:id`, `/p/<pid>`,
/// `/files/*rest`), naming the spelling this one uses, and a route that names one
/// parameter twice: either would register and then never match as meant.
fn check_route_syntax(route: &str) -> Result<()> {
    let mut spelled = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut foreign = false;
    for segment in route.split('/') {
        let fixed = if let Some(name) = segment.strip_prefix(':').filter(|n| !n.is_empty()) {
            format!("{{{name}}}")
        } else if let Some(name) = segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            // Flask's `<int:id>` names the parameter after the converter.
            format!("{{{}}}", name.rsplit(':').next().unwrap_or(name))
        } else if let Some(name) = segment.strip_prefix('*').filter(|n| !n.is_empty()) {
            format!("{{*{name}}}")
        } else {
            segment.to_string()
        };
        foreign |= fixed != segment;
        if let Some(name) = fixed.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let name = name.trim_start_matches('*');
            if !names.insert(name.to_string()) {
                return Err(Error::Page(format!("route {route:?} names the parameter {{{name}}} twice")));
            }
        }
        spelled.push(fixed);
    }
    if foreign {
        return Err(Error::Page(format!(
            "route {route:?} uses another framework's parameter syntax; write {:?}",
            spelled.join("/")
        )));
    }
    Ok(())
}

/// The token signer: `secret` signs; `previous_secrets` verify for a while after start.
fn signer(secret: &[u8], opts: &Options) -> Signer {
    let previous: Vec<&[u8]> = opts.previous_secrets.iter().map(|s| s.as_bytes()).collect();
    let ttl = opts.previous_secrets_ttl_s.unwrap_or(opts.token_ttl_s);
    Signer::with_previous(secret, &previous, crate::token::now_secs().saturating_add(ttl))
}

/// A mizulive application.
pub struct App {
    shared: Arc<Shared>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    addr: Mutex<Option<SocketAddr>>,
    stopped: (Mutex<bool>, Condvar),
    started: AtomicBool,
    shut_down: AtomicBool,
}

impl App {
    pub fn new(opts: Options) -> Result<Self> {
        let opts = opts.with_env()?;
        opts.validate()?;
        crate::logging::set_json(opts.json_logs());
        let secret = match &opts.secret {
            Some(s) => s.as_bytes().to_vec(),
            None if opts.redis.is_some() => {
                return Err(Error::Config(
                    "\"redis\" is set, so sessions move between nodes and every node must sign \
                     tokens with the same key: set \"secret\" (or MIZULIVE_SECRET)"
                        .into(),
                ))
            }
            None => {
                tracing::warn!(
                    "no \"secret\" in the options and no MIZULIVE_SECRET: using a random one for this process; \
                     session tokens will not survive a restart or work across nodes"
                );
                let mut key = vec![0u8; 32];
                crate::token::fill_random(&mut key);
                key
            }
        };
        if opts.socket_idle_timeout_ms < 2 * HEARTBEAT_MS {
            tracing::warn!(
                "socket_idle_timeout_ms is {} ms, below twice the runtime's heartbeat interval ({} s): \
                 browsers whose pages are quiet will be disconnected and reconnect",
                opts.socket_idle_timeout_ms,
                HEARTBEAT_MS / 1000
            );
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.io_threads)
            .thread_name("mizulive-io")
            .enable_all()
            .build()?;
        if let Some(dir) = opts.static_dir.as_ref().filter(|d| !d.is_dir()) {
            return Err(Error::Config(format!("static_dir {} is not a folder", dir.display())));
        }
        let views = Views::new(&opts.views, opts.dev, &opts.layout, &opts.root_id)?;
        let metrics = Arc::<crate::metrics::Metrics>::default();
        let node = match &opts.redis {
            Some(url) => Some(Node::start(url, runtime.handle(), metrics.clone())?),
            None => None,
        };
        let pubsub = match &node {
            Some(node) => {
                let node = node.clone();
                PubSub::new(move |bus| {
                    node.attach_bus(bus);
                    Box::new(RedisBroker { node })
                })
            }
            None => PubSub::in_memory(),
        };
        let store = node.as_ref().map(|node| {
            let ttl = (opts.grace() + crate::cluster::node::NODE_TTL).as_millis() as u64;
            Arc::new(RedisStore::new(node.clone(), ttl, runtime.handle())) as Arc<dyn SessionStore>
        });
        let browsers: Arc<dyn BrowserStore> = match &node {
            Some(node) => Arc::new(RedisBrowsers {
                node: node.clone(),
                ttl_s: opts.browser_session_ttl_s,
                limit: opts.max_browser_session_bytes,
            }),
            None => Arc::new(MemoryBrowsers::new(
                opts.max_sessions,
                Duration::from_secs(opts.browser_session_ttl_s),
                opts.max_browser_session_bytes,
            )),
        };
        let host = HostPool::new(opts.host_threads, opts.host_queue, metrics.clone(), "mizulive-host")?;
        // Checked by `Options::validate` to be printable ASCII, so this cannot fail.
        let csp = opts.content_security_policy().and_then(|p| hyper::header::HeaderValue::from_str(&p).ok());
        let core = Arc::new(Core {
            views,
            signer: signer(&secret, &opts),
            pubsub,
            host,
            sessions: Registry::default(),
            rt: runtime.handle().clone(),
            metrics,
            closing: watch::channel(false).0,
            next_key: AtomicU64::new(1),
            store,
            browsers,
            restoring: Default::default(),
            opts,
        });
        if let Some(node) = &node {
            node.attach_core(&core);
        }
        crate::session::watch_views(&core);
        let max_connections = core.opts.max_connections;
        let (frames_tx, frames_rx) = tokio::sync::mpsc::channel(crate::server::embed::HOST_FRAMES);
        let shared = Arc::new(Shared {
            core,
            node,
            router: RwLock::new(matchit::Router::new()),
            auth: RwLock::new(None),
            runtime_js: RuntimeAsset::new(),
            csp,
            next_conn: AtomicU64::new(1),
            slots: Arc::new(tokio::sync::Semaphore::new(max_connections)),
            host_frames: (frames_tx, tokio::sync::Mutex::new(frames_rx)),
        });
        Ok(App {
            shared,
            runtime: Mutex::new(Some(runtime)),
            addr: Mutex::new(None),
            stopped: (Mutex::new(false), Condvar::new()),
            started: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
        })
    }

    /// What the server shares, for the test client (`crate::testing`).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn options(&self) -> &Options {
        &self.shared.opts
    }

    /// Adds (or replaces) a template held in memory, named as its file in a views
    /// folder (`pages/counter/index.html`); it wins over a file of that name in the
    /// views folder. Add a page's templates before registering it: registration
    /// checks that they exist.
    pub fn add_view(&self, name: &str, source: &str) -> Result<()> {
        self.shared.views.add(name, source)
    }

    /// Registers a page at a route such as `/counter` or `/rooms/{room}`. The page
    /// template and region partials must exist.
    pub fn register_page(&self, route: &str, spec: PageSpec) -> Result<()> {
        if !route.starts_with('/') {
            return Err(Error::Page(format!("route {route:?} must start with '/'")));
        }
        if route.starts_with("/_live/") {
            return Err(Error::Page(format!("route {route:?} is reserved for mizulive")));
        }
        check_route_syntax(route)?;
        if self.shared.opts.static_dir.is_some() && route.starts_with(&self.shared.opts.static_prefix) {
            return Err(Error::Page(format!(
                "route {route:?} is under static_prefix {:?}, where static files are served",
                self.shared.opts.static_prefix
            )));
        }
        for id in spec.regions.keys() {
            if id.is_empty() || id == &self.shared.opts.root_id {
                return Err(Error::Page(format!("region id {id:?} is not allowed")));
            }
        }
        self.shared.views.check(&spec)?;
        let entry = Arc::new(Route::new(route.to_string(), spec));
        self.shared
            .router
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(route, entry)
            .map_err(|e| Error::Page(format!("route {route:?}: {e}")))
    }

    pub fn set_auth(&self, auth: Option<Arc<dyn Auth>>) {
        *self.shared.auth.write().unwrap_or_else(|e| e.into_inner()) = auth;
    }

    /// Sets what each host thread runs as it ends (see `HostPool::set_exit_hook`).
    pub fn set_thread_exit(&self, hook: Option<crate::host::ExitHook>) {
        self.shared.host.set_exit_hook(hook);
    }

    /// Binds `addr` (port 0 picks a free port) and serves in the background.
    pub fn start(&self, addr: &str) -> Result<SocketAddr> {
        if self.shut_down.load(Ordering::SeqCst) {
            return Err(Error::State("the app was shut down".into()));
        }
        if self.started.swap(true, Ordering::SeqCst) {
            return Err(Error::State("the app is already running".into()));
        }
        let result = (|| {
            let std_listener = std::net::TcpListener::bind(addr)
                .map_err(|e| Error::Io(std::io::Error::new(e.kind(), format!("bind {addr}: {e}"))))?;
            std_listener.set_nonblocking(true)?;
            let local = std_listener.local_addr()?;
            let _guard = self.shared.rt.enter();
            let listener = tokio::net::TcpListener::from_std(std_listener)?;
            self.shared.rt.spawn(crate::server::serve(
                listener,
                self.shared.clone(),
                self.shared.closing.subscribe(),
            ));
            Ok(local)
        })();
        match result {
            Ok(local) => {
                *self.addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(local);
                tracing::info!("mizulive listening on http://{local}");
                Ok(local)
            }
            Err(e) => {
                self.started.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self.addr.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the app has shut down; false when `timeout` passed first.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let (lock, cvar) = &self.stopped;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        match timeout {
            None => *cvar.wait_while(guard, |s| !*s).unwrap_or_else(|e| e.into_inner()),
            Some(t) => *cvar.wait_timeout_while(guard, t, |s| !*s).unwrap_or_else(|e| e.into_inner()).0,
        }
    }

    /// Publishes `json` on `topic`; every subscribed session gets it through `info`.
    pub fn publish(&self, topic: &str, json: &str) -> Result<()> {
        serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(Error::json)?;
        self.shared.pubsub.publish(topic, Arc::from(json));
        Ok(())
    }

    /// Renders a template of the views (`pages/x.html`, ...) with a JSON
    /// context: a helper for tests and tools.
    pub fn render(&self, template: &str, context_json: &str) -> Result<String> {
        let ctx: Value = serde_json::from_str(context_json).map_err(Error::json)?;
        self.shared.views.render_file(template, &minijinja::Value::from_serialize(&ctx))
    }

    /// Answers a request the host's own web server received (anything but a
    /// WebSocket upgrade: see [`App::adopt_websocket`] and [`App::open_websocket`]),
    /// exactly as the library's listener would; build it with
    /// [`crate::server::embed::request`]. Blocks until the answer is ready (a page GET
    /// mounts its session first). Needs no `start`. Not from a host callback or from
    /// inside an async runtime: it would wait for what it holds up.
    pub fn handle_request(&self, req: hyper::Request<bytes::Bytes>) -> Result<hyper::Response<bytes::Bytes>> {
        self.can_block("answering a request")?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        self.shared.rt.spawn(async move {
            let _ = tx.send(crate::server::embed::respond(shared, req).await);
        });
        rx.blocking_recv().map_err(|_| Error::State("the app was shut down".into()))
    }

    /// Takes over a TCP socket on which the host's server read a WebSocket upgrade
    /// request (`req`, its body ignored); `pending` holds any bytes read past the
    /// request head. The library answers the upgrade on the socket (`101`, or the
    /// refusal: 403 for a foreign Origin, ...) and runs the WebSocket there; the socket
    /// is the library's from this call on, closed by it on every path.
    pub fn adopt_websocket(
        &self,
        req: hyper::Request<()>,
        socket: std::net::TcpStream,
        pending: Vec<u8>,
    ) -> Result<()> {
        if let Err(e) = socket.peer_addr() {
            return Err(Error::Request(format!("the handed-over socket is not a connected TCP socket: {e}")));
        }
        self.check_open()?;
        let _guard = self.shared.rt.enter();
        let adopted = crate::server::embed::adopt(self.shared.clone(), req, socket, pending);
        crate::server::ws::spawn_socket(&self.shared, adopted);
        Ok(())
    }

    /// Opens a WebSocket whose frames the host's server carries, for the upgrade
    /// request `req`: `Ok(Err(response))` is a refusal to answer instead of accepting.
    /// The host hands in the client's frames with [`HostSocket::receive`], sends the
    /// frames [`App::next_frame`] returns for `tag`, and drops the socket when its
    /// connection closes.
    ///
    /// [`HostSocket::receive`]: crate::server::embed::HostSocket::receive
    pub fn open_websocket(
        &self,
        req: &hyper::Request<()>,
        tag: u64,
    ) -> Result<std::result::Result<crate::server::embed::HostSocket, Box<hyper::Response<bytes::Bytes>>>>
    {
        self.check_open()?;
        Ok(crate::server::embed::open(&self.shared, req, tag))
    }

    /// The next frame for any socket opened with [`App::open_websocket`], waiting at
    /// most `timeout`; `None` when none came. One thread should take them, so that
    /// each socket's frames go out in order.
    ///
    /// Frames queued as the app shuts down (each socket's close) still come out;
    /// after the last of them it is an error.
    pub fn next_frame(&self, timeout: Duration) -> Result<Option<crate::server::embed::HostFrame>> {
        use crate::server::embed;
        if on_host_thread() || tokio::runtime::Handle::try_current().is_ok() {
            self.can_block("waiting for WebSocket frames")?;
        }
        if let Some(frame) = embed::try_next_frame(&self.shared) {
            return Ok(Some(frame));
        }
        let shared = self.shared.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shared.rt.spawn(async move {
            let _ = tx.send(embed::next_frame(&shared, timeout).await);
        });
        match rx.blocking_recv() {
            Ok(frame) => Ok(frame),
            // The runtime is gone: what it queued before it went is still handed out.
            Err(_) => embed::try_next_frame(&self.shared)
                .map(Some)
                .ok_or_else(|| Error::State("the app was shut down".into())),
        }
    }

    fn check_open(&self) -> Result<()> {
        if *self.shared.closing.borrow() {
            return Err(Error::State("the app was shut down".into()));
        }
        Ok(())
    }

    /// A blocking call must not run where it would hold up what it waits for.
    fn can_block(&self, what: &str) -> Result<()> {
        if on_host_thread() {
            return Err(Error::State(format!("{what} cannot be done from a host callback")));
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::State(format!("{what} blocks: not from inside an async runtime")));
        }
        self.check_open()
    }

    /// Number of live sessions (with or without a socket).
    pub fn session_count(&self) -> usize {
        self.shared.sessions.len()
    }

    /// Host threads still running: non-zero after a shutdown that timed out, until
    /// their late callbacks return.
    pub fn host_threads_running(&self) -> usize {
        self.shared.host.running()
    }

    /// Keeps `value` alive until the host threads left running by a timed-out
    /// shutdown have ended (drops it now if none is left).
    pub fn keep_until_host_threads_end(&self, value: Box<dyn Send>) {
        self.shared.host.keep_until_ended(value)
    }

    /// Stops the server: no new connections, every client told to reconnect, every
    /// in-flight callback finished, every page's resources released. Idempotent. No
    /// callback starts after it returns.
    ///
    /// Waits at most `shutdown_timeout_ms` for sessions and callbacks. Callbacks
    /// still running then are left to finish on their detached threads (what was
    /// queued behind them is dropped) and it returns [`Error::Timeout`] naming how
    /// many.
    pub fn shutdown(&self) -> Result<()> {
        if on_host_thread() {
            return Err(Error::State("shutdown cannot be called from a host callback".into()));
        }
        if self.shut_down.swap(true, Ordering::SeqCst) {
            self.wait(None);
            return Ok(());
        }
        // Every session sees it, registered or still mounting, and none starts after.
        self.shared.closing.send_replace(true);
        let timeout = self.shared.opts.shutdown_timeout();
        let deadline = Instant::now() + timeout;
        let runtime = self.runtime.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut stuck = 0;
        if let Some(runtime) = runtime {
            let shared = self.shared.clone();
            // On a thread of its own: blocking on (and dropping) a runtime is refused
            // from inside an async context, and the caller may be in one.
            let stopper = std::thread::spawn(move || {
                runtime.block_on(async {
                    if !shared.sessions.wait_idle(timeout).await {
                        tracing::warn!(
                            "sessions still running {} ms into shutdown; stopping anyway",
                            timeout.as_millis()
                        );
                    }
                    // Each session queued its goodbye (a `close` frame, then the close
                    // that tells the browser to reconnect) before it ended; stopping the
                    // runtime drops socket tasks that have not written theirs yet, and
                    // their clients would see a reset instead. So wait, briefly, for the
                    // sockets to end.
                    let flush = SOCKET_FLUSH.min(deadline.saturating_duration_since(Instant::now()));
                    let flushed_by = tokio::time::Instant::now() + flush;
                    while shared.metrics.sockets.load(Ordering::Relaxed) > 0
                        && tokio::time::Instant::now() < flushed_by
                    {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    // After the sessions: each saved and released itself through it.
                    if let Some(node) = &shared.node {
                        node.stop().await;
                    }
                });
                let stuck = shared.host.shutdown(Some(deadline));
                runtime.shutdown_timeout(Duration::from_secs(2));
                stuck
            });
            stuck = stopper.join().unwrap_or(0);
        }
        stuck += self.shared.host.shutdown(Some(deadline));
        // Pages and the auth hook are released here, so their drop functions run
        // before shutdown returns (a page whose callback is still running is released
        // by that callback's thread, when it ends).
        *self.shared.router.write().unwrap_or_else(|e| e.into_inner()) = matchit::Router::new();
        self.set_auth(None);
        let (lock, cvar) = &self.stopped;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        if stuck > 0 {
            let msg = format!(
                "{stuck} host thread(s) still running callbacks {} ms into shutdown \
                 (shutdown_timeout_ms); they were left to finish on their own",
                timeout.as_millis()
            );
            tracing::warn!("{msg}");
            return Err(Error::Timeout(msg));
        }
        Ok(())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if !on_host_thread() {
            let _ = self.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_route_syntax;

    #[test]
    fn the_heartbeat_interval_is_the_runtimes() {
        let line = format!("const HEARTBEAT_MS = {};", super::HEARTBEAT_MS);
        assert!(crate::server::asset::RUNTIME_JS.contains(&line), "runtime.js has no `{line}`");
    }

    #[test]
    fn routes_in_another_frameworks_syntax_are_refused_with_ours() {
        for (route, ours) in [
            ("/q/:id", "/q/{id}"),
            ("/p/<pid>", "/p/{pid}"),
            ("/p/<int:pid>/edit", "/p/{pid}/edit"),
            ("/files/*rest", "/files/{*rest}"),
            ("/a/:x/b/:y", "/a/{x}/b/{y}"),
        ] {
            let err = check_route_syntax(route).expect_err(route).to_string();
            assert!(err.contains(&format!("write {ours:?}")), "{route}: {err}");
        }
        let twice = check_route_syntax("/x/{a}/{a}").expect_err("a parameter named twice").to_string();
        assert!(twice.contains("names the parameter {a} twice"), "{twice}");
        for fine in ["/", "/counter", "/rooms/{room}", "/files/{*rest}", "/a:b", "/x/{a}/y/{b}"] {
            check_route_syntax(fine).unwrap_or_else(|e| panic!("{fine}: {e}"));
        }
    }
}
