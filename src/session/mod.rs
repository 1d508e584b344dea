//! Sessions: one actor task per session, owning its data and processing its mailbox
//! one message at a time (DESIGN contract 1).
//!
//! The actor never runs host code itself: each callback, and the render that follows
//! it, is a job on the host pool, and the actor awaits the job before it takes the
//! next message. So a session's callbacks are sequential, while a slow callback holds
//! only its own session and one host thread, never an IO thread.
//!
//! - `mailbox`: the messages a session takes, and how the node reaches it
//! - `actor`: the loop that takes them
//! - `render`: one callback and the render after it, on a host thread
//! - `resume`: the patches kept for clients that reconnect behind
//! - `restore`: carrying on a session another node made, from its snapshot
//! - `applied`: the last event applied by its client's number (exactly once)
//! - `registry`: the node's sessions by id
//! - `snapshot`: what another node needs to carry a session on, and the store
//!
//! A session sees the node through [`Core`] only: the server (routes, the auth hook,
//! assets) sits above it.

mod actor;
mod applied;
pub(crate) mod browser;
mod env;
mod mailbox;
mod outlet;
mod parts;
mod queue;
mod registry;
mod reload;
mod render;
mod restore;
mod resume;
pub(crate) mod snapshot;

use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

use crate::error::{Error, Result};
use crate::host::HostPool;
use crate::metrics::{self, Metrics};
use crate::options::Options;
use crate::page::{PageData, Route};
use crate::pubsub::PubSub;
use crate::token::{now_secs, random_id, Claims, Signer};
use crate::views::Views;

pub(crate) use env::SessionEnv;
pub(crate) use mailbox::{Conn, Inspection, Mailbox, Outbound, PostOutcome, SessionMsg};
pub(crate) use outlet::{Outlet, Wire};
pub(crate) use queue::{queue, Kill, QueueRx, QueueTx, TrySend};
pub(crate) use registry::Registry;
pub(crate) use reload::watch_views;
pub(crate) use restore::restore;
use snapshot::SessionStore;

/// What sessions need of the node.
pub(crate) struct Core {
    pub opts: Options,
    pub views: Views,
    pub signer: Signer,
    pub pubsub: PubSub,
    pub host: HostPool,
    pub sessions: Registry,
    pub rt: tokio::runtime::Handle,
    pub metrics: Arc<Metrics>,
    /// Turns true when shutdown starts: the listener stops, every session ends after
    /// its callback in flight, and no new session starts.
    pub closing: watch::Sender<bool>,
    /// Numbers sessions' mailboxes (their key among pub/sub subscribers).
    pub next_key: AtomicU64,
    /// Where sessions' snapshots go, so another node can carry them on; `None` on a
    /// single node.
    pub store: Option<Arc<dyn SessionStore>>,
    /// Where browsers' session maps live (this node's memory, or Redis).
    pub browsers: Arc<dyn browser::BrowserStore>,
    /// Sessions being restored on this node, so two requests for one session
    /// restore it once.
    pub restoring: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A session's data: the page's part, which callbacks see, and what only the
/// session's renders use.
pub(crate) struct SessionData {
    pub page: PageData,
    /// This session's signed token and CSRF token, fixed for its life so renders
    /// that embed them stay byte-identical. Shared, not copied, with its handles and
    /// every render's context.
    pub token: Arc<str>,
    pub csrf: Arc<str>,
    /// What the last HTML sent per region, and of the root, hashed to (see
    /// [`render::html_hash`]), to skip unchanged ones without keeping a copy of every
    /// region in every session; for keyed regions, per child too (see [`parts`]).
    /// One entry per region of the route's spec, in its order (`None`: not recorded),
    /// so that no session keeps its own copy of the regions' ids.
    pub rendered: Vec<Option<parts::Sent>>,
    pub rendered_root: Option<u64>,
}

/// A registered session: how the server reaches it.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    pub tx: QueueTx<SessionMsg>,
    /// The session's signed token (what a page or a no-JS redirect carries).
    pub token: Arc<str>,
}

/// Where a new session comes from.
pub(crate) struct Origin {
    pub route: Arc<Route>,
    pub path: String,
    pub params: Map<String, Value>,
    pub user_id: Option<String>,
    /// The browser the session's token is bound to (`token::browser_hash`).
    pub browser: String,
}

/// How a mount asked the request that made it to be answered, besides with the page:
/// a status (`Ctx::set_status`) and a redirect (`Ctx::redirect`; the session then
/// ends at once, as nobody will join it).
#[derive(Debug, Default, Clone)]
pub(crate) struct Answer {
    pub status: Option<u16>,
    pub redirect: Option<String>,
}

/// Creates a session, registers it and runs its mount. Returns its id and handle, and
/// how the mount asked to be answered. A mount that failed after setting a status is
/// [`Error::Answered`].
pub(crate) async fn spawn(core: &Arc<Core>, origin: Origin) -> Result<(String, SessionHandle, Answer)> {
    // Subscribed before the check: a shutdown that starts after it is still seen.
    let closing = core.closing.subscribe();
    if *closing.borrow() {
        return Err(Error::Busy("the server is shutting down".into()));
    }
    let id = random_id();
    let claims = Claims {
        sid: id.clone(),
        route: origin.route.pattern.clone(),
        path: origin.path.clone(),
        params: origin.params.clone(),
        uid: origin.user_id.clone(),
        br: origin.browser.clone(),
        exp: now_secs().saturating_add(core.opts.token_ttl_s),
    };
    let token: Arc<str> = core.signer.sign(&claims).into();
    let handle_token = Arc::clone(&token);
    let csrf = core.signer.csrf(&id, &origin.browser).into();
    let data = Box::new(SessionData {
        page: PageData {
            id: id.as_str().into(),
            route: origin.route,
            path: origin.path.into(),
            params: origin.params,
            user_id: origin.user_id,
            state: Arc::new(Value::Object(Map::new())),
            state_bytes: 2,
            flash: Map::new(),
            title: None,
            timers: HashMap::new(),
            next_timer: 0,
            topics: HashSet::new(),
            browser: origin.browser,
            browser_session: Default::default(),
            state_cache: Default::default(),
        },
        token,
        csrf,
        rendered: Vec::new(),
        rendered_root: None,
    });
    let (env, tx, rx) = new_env(core);
    let (mounted_tx, mounted_rx) = oneshot::channel();
    if !core.sessions.try_start(core.opts.max_sessions) {
        metrics::inc(&core.metrics.sessions_refused);
        return Err(Error::Busy(format!("{} sessions are alive (max_sessions)", core.opts.max_sessions)));
    }
    // Registered before the mount, so nothing that runs can be missed; the actor
    // removes the entry when it ends, a failed mount included.
    let handle = SessionHandle { tx, token: handle_token };
    core.sessions.insert(&id, handle.clone());
    let actor = actor::Actor::new(env, data, closing);
    metrics::inc(&core.metrics.mounts);
    core.rt.spawn(actor.run(rx, mounted_tx));
    match mounted_rx.await {
        Ok(Ok(answer)) => Ok((id, handle, answer)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::State("the server is shutting down".into())),
    }
}

/// A session's environment and the two ends of its mailbox.
fn new_env(core: &Arc<Core>) -> (Arc<SessionEnv>, QueueTx<SessionMsg>, QueueRx<SessionMsg>) {
    let (tx, rx) = queue(core.opts.mailbox);
    let key = core.next_key.fetch_add(1, Ordering::Relaxed);
    let env = Arc::new(SessionEnv {
        core: core.clone(),
        mailbox: Arc::new(Mailbox {
            key,
            tx: tx.clone(),
            lagged: Arc::new(AtomicU64::new(0)),
            metrics: core.metrics.clone(),
        }),
    });
    (env, tx, rx)
}

/// What the session `id` on this node holds now, read by its actor between two
/// callbacks (so never half-way through one). For the test client only: the state
/// is never sent on the wire.
pub(crate) async fn inspect(core: &Core, id: &str) -> Result<Inspection> {
    let handle =
        core.sessions.get(id).ok_or_else(|| Error::NotFound(format!("no session {id} on this node")))?;
    let (tx, rx) = oneshot::channel();
    if handle.tx.send(SessionMsg::Inspect { reply: tx }).await.is_err() {
        return Err(Error::NotFound(format!("the session {id} has ended")));
    }
    rx.await.map_err(|_| Error::NotFound(format!("the session {id} has ended")))
}
