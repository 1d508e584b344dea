//! Sessions: one actor task per session, owning its data and processing its mailbox
//! one message at a time (DESIGN contract 1).
//!
//! The actor never runs host code itself: each callback, and the render that follows
//! it, is a job on the host pool, and the actor awaits the job before it takes the
//! next message. So a session's callbacks are sequential, while a slow callback holds
//! only its own session and one host thread, never an IO thread.

mod render;

use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use crate::app::{Route, Shared};
use crate::error::{Error, Result};
use crate::host::{Lane, Refused};
use crate::metrics::{self, Metrics};
use crate::page::{Event, Info, SessionData, LAGGED_TOPIC};
use crate::protocol;
use crate::token::{now_secs, random_id, Claims};

pub(crate) use render::{Call, CallOutcome};

/// A frame on its way to one socket.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(Arc<str>),
    Close { code: u16, reason: &'static str },
}

/// A socket attached to a session.
pub(crate) struct Conn {
    pub id: u64,
    pub tx: mpsc::Sender<Outbound>,
    /// Tells the socket task to drop the connection at once (its queue is full).
    pub kill: Arc<Notify>,
}

/// What a session's mailbox carries.
///
/// Kept small (events are boxed): a mailbox allocates its slots in blocks, and every
/// session has one, idle or not.
pub(crate) enum SessionMsg {
    Attach {
        conn: Conn,
        last_seq: u64,
        fresh: bool,
    },
    Detach {
        conn_id: u64,
    },
    Event {
        conn_id: u64,
        r#ref: u64,
        event: Box<Event>,
    },
    Post {
        event: Box<Event>,
        reply: oneshot::Sender<PostOutcome>,
    },
    Info(Info),
    Timer {
        id: u64,
        data: Arc<str>,
    },
    RenderDocument {
        reply: oneshot::Sender<Result<String>>,
    },
    /// Dev mode: drop the socket abruptly (no `close` frame), as a network failure
    /// would, so reconnect and resume can be exercised.
    DropSocket,
}

/// The result of a no-JS form POST.
pub(crate) struct PostOutcome {
    pub redirect: Option<String>,
    pub error: Option<String>,
    /// Refused by the event rate limit; the callback did not run.
    pub rate_limited: bool,
}

impl PostOutcome {
    pub fn failed(error: &str) -> Self {
        PostOutcome { redirect: None, error: Some(error.to_string()), rate_limited: false }
    }
}

/// A handle for delivering to a session from anywhere (pub/sub, timers).
#[derive(Clone)]
pub struct Mailbox {
    key: u64,
    tx: mpsc::Sender<SessionMsg>,
    lagged: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
}

impl Mailbox {
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Queues an info without waiting; a full mailbox counts it as missed.
    pub(crate) fn offer_info(&self, info: Info) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(SessionMsg::Info(info)) {
            metrics::inc(&self.metrics.mailbox_overflows);
            if self.lagged.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(session = self.key, "session mailbox full; publishes are being missed");
            }
        }
    }
}

/// What the actor and its callbacks share.
pub struct SessionEnv {
    pub(crate) app: Arc<Shared>,
    pub(crate) mailbox: Mailbox,
}

impl SessionEnv {
    pub(crate) fn root_id(&self) -> &str {
        &self.app.opts.root_id
    }

    pub(crate) fn subscribe(&self, topic: &str) {
        self.app.pubsub.subscribe(topic, self.mailbox.clone());
    }

    pub(crate) fn unsubscribe(&self, topic: &str) {
        self.app.pubsub.unsubscribe(topic, self.mailbox.key);
    }

    pub(crate) fn start_timer(&self, id: u64, delay: Duration, data: Arc<str>) -> tokio::task::AbortHandle {
        let tx = self.mailbox.tx.clone();
        self.app
            .rt
            .spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(SessionMsg::Timer { id, data }).await;
            })
            .abort_handle()
    }
}

/// A registered session: how the server reaches it.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    pub tx: mpsc::Sender<SessionMsg>,
    /// The session's signed token (what a page or a no-JS redirect carries).
    pub token: String,
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

/// Creates a session, registers it and runs its mount. Returns its id and handle.
pub(crate) async fn spawn(app: &Arc<Shared>, origin: Origin) -> Result<(String, SessionHandle)> {
    // Subscribed before the check: a shutdown that starts after it is still seen.
    let closing = app.closing.subscribe();
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
        exp: now_secs().saturating_add(app.opts.token_ttl_s),
    };
    let token = app.signer.sign(&claims);
    let handle_token = token.clone();
    let csrf = app.signer.csrf(&id, &origin.browser);
    let data = Box::new(SessionData {
        id: id.clone(),
        route: origin.route,
        path: origin.path,
        params: origin.params,
        user_id: origin.user_id,
        token,
        csrf,
        state: Arc::new(Value::Object(Map::new())),
        flash: Map::new(),
        title: None,
        timers: HashMap::new(),
        next_timer: 0,
        topics: HashSet::new(),
        rendered: HashMap::new(),
        rendered_root: None,
    });
    let (tx, rx) = mpsc::channel(app.opts.mailbox);
    let key = app.next_key.fetch_add(1, Ordering::Relaxed);
    let env = Arc::new(SessionEnv {
        app: app.clone(),
        mailbox: Mailbox {
            key,
            tx: tx.clone(),
            lagged: Arc::new(AtomicU64::new(0)),
            metrics: app.metrics.clone(),
        },
    });
    let (mounted_tx, mounted_rx) = oneshot::channel();
    if !app.sessions.try_start(app.opts.max_sessions) {
        metrics::inc(&app.metrics.sessions_refused);
        return Err(Error::Busy(format!("{} sessions are alive (max_sessions)", app.opts.max_sessions)));
    }
    // Registered before the mount, so nothing that runs can be missed; the actor
    // removes the entry when it ends, a failed mount included.
    let handle = SessionHandle { tx, token: handle_token };
    app.sessions.insert(&id, handle.clone());
    let actor = Actor::new(env, data, closing);
    metrics::inc(&app.metrics.mounts);
    app.rt.spawn(actor.run(rx, mounted_tx));
    match mounted_rx.await {
        Ok(Ok(())) => Ok((id, handle)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::State("the server is shutting down".into())),
    }
}

struct Actor {
    /// The session's id, kept outside `data` so the registry entry always goes.
    id: String,
    env: Arc<SessionEnv>,
    closing: watch::Receiver<bool>,
    data: Option<Box<SessionData>>,
    conn: Option<Conn>,
    seq: u64,
    /// Recent patches for clients that reconnect behind, and their total length
    /// (bounded by `resume_buffer` and `resume_buffer_bytes`).
    sent: VecDeque<(u64, Arc<str>)>,
    sent_bytes: usize,
    detached_at: Instant,
    tokens: f64,
    refilled: Instant,
    /// A browser has joined this session at least once.
    joined: bool,
    /// Place among the rendered-but-unjoined sessions (see `Registry::list_unjoined`).
    listed: Option<u64>,
    /// Fires when newer unjoined sessions push this one out.
    evict: Option<oneshot::Receiver<()>>,
}

impl Actor {
    fn new(env: Arc<SessionEnv>, data: Box<SessionData>, closing: watch::Receiver<bool>) -> Self {
        let burst = env.app.opts.event_burst as f64;
        Actor {
            id: data.id.clone(),
            env,
            closing,
            data: Some(data),
            conn: None,
            seq: 0,
            sent: VecDeque::new(),
            sent_bytes: 0,
            detached_at: Instant::now(),
            tokens: burst,
            refilled: Instant::now(),
            joined: false,
            listed: None,
            evict: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<SessionMsg>, mounted: oneshot::Sender<Result<()>>) {
        // A mount is a new visitor's work: refused, not queued, when the host is busy.
        let outcome = self.call_in(Lane::New, Call::Mount).await;
        let mount_result = match outcome {
            Ok(CallOutcome { error: None, .. }) => Ok(()),
            Ok(CallOutcome { error: Some((_, msg)), .. }) => Err(Error::Callback(format!("mount: {msg}"))),
            Err(Refused::Full) => {
                metrics::inc(&self.env.app.metrics.host_queue_rejections);
                Err(Error::Busy(format!(
                    "{} mounts are waiting for a host thread (host_queue)",
                    self.env.app.opts.host_queue
                )))
            }
            Err(Refused::Closed) => Err(Error::State("the server is shutting down".into())),
        };
        let ok = mount_result.is_ok();
        // Nobody waiting (the request that mounted it went away): nobody can join it.
        let wanted = mounted.send(mount_result).is_ok();
        if ok {
            let reason = if wanted { self.serve(&mut rx).await } else { "abandoned" };
            self.close(reason).await;
        }
        self.refuse_queued(&mut rx);
        self.finish();
    }

    /// Answers what is still queued once the session has ended: a socket that asked
    /// to join is told to join again (it then mounts afresh), a request gets an error.
    fn refuse_queued(&mut self, rx: &mut mpsc::Receiver<SessionMsg>) {
        rx.close();
        while let Ok(msg) = rx.try_recv() {
            match msg {
                SessionMsg::Attach { conn, .. } => {
                    let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_closed", true).into()));
                    let _ = conn.tx.try_send(Outbound::Close { code: 1000, reason: "session closed" });
                }
                SessionMsg::Post { reply, .. } => {
                    let _ = reply.send(PostOutcome::failed("the session ended"));
                }
                SessionMsg::RenderDocument { reply } => {
                    let _ = reply.send(Err(Error::State("the session ended".into())));
                }
                _ => {}
            }
        }
    }

    /// Handles messages until the session ends; returns why it ended.
    async fn serve(&mut self, rx: &mut mpsc::Receiver<SessionMsg>) -> &'static str {
        let grace = self.env.app.opts.grace();
        loop {
            let attached = self.conn.is_some();
            let deadline = self.detached_at + grace;
            // Biased: shutdown first; then a message (a join) over the grace period.
            let msg = tokio::select! {
                biased;
                _ = self.closing.wait_for(|closing| *closing) => None,
                // Before a message: a join that races its eviction is refused and
                // mounts afresh, as after any ended session.
                // The page hears "expired": as far as it knows, its browser never came
                // (the documented reasons are "expired" and "shutdown").
                () = evicted(&mut self.evict) => {
                    tracing::debug!("newer unjoined sessions pushed this one out; ending session");
                    return "expired";
                }
                msg = rx.recv() => msg,
                _ = tokio::time::sleep_until(deadline), if !attached => {
                    tracing::debug!("grace period over; ending session");
                    return "expired";
                }
            };
            let Some(msg) = msg else {
                if let Some(conn) = &self.conn {
                    let _ = conn.tx.try_send(Outbound::Text(protocol::close("shutdown", true).into()));
                    let _ = conn.tx.try_send(Outbound::Close { code: 1012, reason: "server restart" });
                }
                return "shutdown";
            };
            if self.data.is_none() {
                return "shutdown";
            }
            self.report_lag().await;
            match msg {
                SessionMsg::Attach { conn, last_seq, fresh } => {
                    self.mark_joined();
                    self.attach(conn, last_seq, fresh).await;
                }
                SessionMsg::Detach { conn_id } => {
                    if self.conn.as_ref().is_some_and(|c| c.id == conn_id) {
                        self.detach();
                    }
                }
                SessionMsg::Event { conn_id, r#ref, event } => {
                    if self.conn.as_ref().is_some_and(|c| c.id == conn_id) {
                        self.event(r#ref, *event).await;
                    }
                }
                SessionMsg::Post { event, reply } => {
                    // The same limit as over the socket.
                    metrics::inc(&self.env.app.metrics.events);
                    if !self.take_token() {
                        metrics::inc(&self.env.app.metrics.rate_limited);
                        let _ = reply
                            .send(PostOutcome { rate_limited: true, ..PostOutcome::failed("rate limited") });
                        continue;
                    }
                    let out = self.call(Call::Event(*event)).await;
                    let outcome = match out {
                        Some(mut o) => {
                            let redirect = o.redirect.take().or_else(|| o.navigate.take().map(|n| n.0));
                            let error = o.error.as_ref().map(|e| e.1.clone());
                            self.deliver(o);
                            PostOutcome { redirect, error, rate_limited: false }
                        }
                        None => PostOutcome::failed("server shutting down"),
                    };
                    let _ = reply.send(outcome);
                }
                SessionMsg::Info(info) => self.info(info).await,
                SessionMsg::Timer { id, data } => {
                    // A timer cancelled after it fired but before we got here is gone.
                    let live = self.data.as_mut().is_some_and(|d| d.timers.remove(&id).is_some());
                    if live {
                        self.info(Info { topic: None, data }).await;
                    }
                }
                SessionMsg::RenderDocument { reply } => {
                    let out = self.call(Call::Document(self.seq)).await;
                    let result = match out {
                        Some(o) => match (o.document, o.error) {
                            (Some(html), None) => Ok(html),
                            (_, Some((_, msg))) => Err(Error::Template(msg)),
                            (None, None) => Err(Error::State("no document rendered".into())),
                        },
                        None => Err(Error::State("the server is shutting down".into())),
                    };
                    let rendered = result.is_ok();
                    let _ = reply.send(result);
                    if rendered && !self.joined && self.listed.is_none() {
                        self.list_unjoined();
                    }
                }
                SessionMsg::DropSocket => {
                    if let Some(conn) = self.conn.take() {
                        conn.kill.notify_one();
                        self.detach();
                    }
                }
            }
        }
    }

    fn id(&self) -> &str {
        &self.id
    }

    /// Counts the session among those rendered for a page request but not joined;
    /// the oldest beyond `max_unjoined_sessions` are told to end.
    fn list_unjoined(&mut self) {
        let app = &self.env.app;
        let (place, evict) = app.sessions.list_unjoined(app.opts.max_unjoined_sessions, &app.metrics);
        self.listed = Some(place);
        self.evict = Some(evict);
    }

    /// A browser joined: the session no longer gives way to newer unjoined ones.
    fn mark_joined(&mut self) {
        self.joined = true;
        self.evict = None;
        if let Some(place) = self.listed.take() {
            self.env.app.sessions.unlist(place, &self.env.app.metrics);
        }
    }

    /// Runs one callback (or render) on the host pool and waits for it. `None` when
    /// the pool is gone (shutdown).
    async fn call(&mut self, call: Call) -> Option<CallOutcome> {
        self.call_in(Lane::Live, call).await.ok()
    }

    /// [`Actor::call`] in a given lane of the host pool; an error when the pool
    /// refused the job (its data is then gone: only a mount, which ends the session
    /// on refusal, uses a lane that can refuse).
    async fn call_in(&mut self, lane: Lane, call: Call) -> std::result::Result<CallOutcome, Refused> {
        let data = self.data.take().ok_or(Refused::Closed)?;
        let env = self.env.clone();
        let deliver = self.conn.is_some();
        let (tx, rx) = oneshot::channel();
        self.env.app.host.submit_to(lane, move || {
            let result = render::run(data, &env, call, deliver);
            let _ = tx.send(result);
        })?;
        match rx.await {
            Ok((data, outcome)) => {
                self.data = Some(data);
                Ok(outcome)
            }
            Err(_) => Err(Refused::Closed),
        }
    }

    async fn event(&mut self, r#ref: u64, event: Event) {
        let metrics = self.env.app.metrics.clone();
        metrics::inc(&metrics.events);
        if !self.take_token() {
            metrics::inc(&metrics.rate_limited);
            self.send(protocol::reply_error(r#ref, "rate_limited", "too many events; slow down").into());
            return;
        }
        match self.call(Call::Event(event)).await {
            Some(outcome) => {
                if outcome.error.is_some() {
                    metrics::inc(&metrics.callback_errors);
                }
                let reply = match &outcome.error {
                    None => protocol::reply_ok(r#ref),
                    Some((code, msg)) => protocol::reply_error(r#ref, code, &self.public_message(msg)),
                };
                self.deliver(outcome);
                self.send(reply.into());
            }
            None => self.send(protocol::reply_error(r#ref, "internal", "server shutting down").into()),
        }
    }

    async fn info(&mut self, info: Info) {
        metrics::inc(&self.env.app.metrics.infos);
        if let Some(outcome) = self.call(Call::Info(info)).await {
            if let Some((_, msg)) = &outcome.error {
                metrics::inc(&self.env.app.metrics.callback_errors);
                tracing::warn!(session = self.id(), "on_info failed: {msg}");
            }
            self.deliver(outcome);
        }
    }

    /// A session whose mailbox overflowed hears how many messages it missed.
    async fn report_lag(&mut self) {
        let missed = self.env.mailbox.lagged.swap(0, Ordering::Relaxed);
        if missed > 0 {
            let data = format!("{{\"missed\":{missed}}}");
            self.info(Info { topic: Some(Arc::from(LAGGED_TOPIC)), data: Arc::from(data) }).await;
        }
    }

    /// Sends what one callback produced: one patch, then commands and navigation.
    fn deliver(&mut self, outcome: CallOutcome) {
        if let Some(patch) = outcome.patch {
            metrics::inc(&self.env.app.metrics.patches);
            self.seq += 1;
            let frame: Arc<str> =
                protocol::patch(self.seq, &patch.regions, patch.root.as_deref(), patch.title.as_deref())
                    .into();
            self.sent.push_back((self.seq, frame.clone()));
            self.sent_bytes += frame.len();
            // A patch alone over the byte limit is not kept either: a client that
            // missed it gets the whole body, as one too far behind does.
            let opts = &self.env.app.opts;
            while self.sent.len() > opts.resume_buffer || self.sent_bytes > opts.resume_buffer_bytes {
                match self.sent.pop_front() {
                    Some((_, old)) => self.sent_bytes -= old.len(),
                    None => break,
                }
            }
            self.send(frame);
        }
        if !outcome.commands.is_empty() {
            self.send(protocol::commands(&outcome.commands).into());
        }
        if let Some(to) = outcome.redirect {
            self.send(protocol::redirect(&to).into());
        } else if let Some((to, replace)) = outcome.navigate {
            self.send(protocol::navigate(&to, replace).into());
        }
    }

    async fn attach(&mut self, conn: Conn, last_seq: u64, fresh: bool) {
        if let Some(old) = self.conn.take() {
            let _ = old.tx.try_send(Outbound::Text(protocol::close("replaced", false).into()));
            let _ = old.tx.try_send(Outbound::Close { code: 1000, reason: "replaced" });
        }
        self.conn = Some(conn);
        let oldest = self.sent.front().map_or(self.seq + 1, |(s, _)| *s);
        let replay = !fresh && last_seq <= self.seq && last_seq + 1 >= oldest;
        if replay {
            self.send(protocol::joined(self.seq, true, None, None).into());
            let missed: Vec<Arc<str>> =
                self.sent.iter().filter(|(s, _)| *s > last_seq).map(|(_, f)| f.clone()).collect();
            for frame in missed {
                self.send(frame);
            }
            return;
        }
        // Too far behind (or a fresh mount): the client gets the whole body.
        match self.call(Call::Root).await {
            Some(CallOutcome { root: Some(root), .. }) => {
                let token = if fresh { self.data.as_ref().map(|d| d.token.clone()) } else { None };
                self.send(protocol::joined(self.seq, !fresh, Some(&root), token.as_deref()).into());
            }
            Some(CallOutcome { error: Some((code, msg)), .. }) => {
                let msg = self.public_message(&msg);
                self.send(protocol::error(code, &msg, false).into());
                // Not recoverable: the protocol closes the socket (the client reloads),
                // and a socket whose page has no body must not get patches for it.
                if let Some(conn) = self.conn.take() {
                    let _ = conn.tx.try_send(Outbound::Close { code: 1011, reason: "render error" });
                    self.detach();
                }
            }
            _ => {}
        }
    }

    fn detach(&mut self) {
        self.conn = None;
        self.detached_at = Instant::now();
    }

    /// Queues a frame for the socket. A client whose queue is full is not reading:
    /// it is disconnected rather than buffered without bound.
    fn send(&mut self, frame: Arc<str>) {
        let Some(conn) = &self.conn else { return };
        match conn.tx.try_send(Outbound::Text(frame)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(session = self.id(), "client is not reading; disconnecting it");
                metrics::inc(&self.env.app.metrics.slow_clients);
                conn.kill.notify_one();
                self.detach();
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.detach(),
        }
    }

    fn take_token(&mut self) -> bool {
        let opts = &self.env.app.opts;
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * opts.events_per_second as f64).min(opts.event_burst as f64);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn public_message(&self, detail: &str) -> String {
        if self.env.app.opts.dev {
            detail.to_string()
        } else {
            "something went wrong handling this event".to_string()
        }
    }

    /// Leaves the registry (a join now mounts afresh), stops deliveries, then lets
    /// the page say goodbye.
    async fn close(&mut self, reason: &'static str) {
        self.env.app.sessions.remove(&self.id);
        self.unlist();
        if let Some(data) = self.data.as_mut() {
            for topic in data.topics.drain() {
                self.env.unsubscribe(&topic);
            }
        }
        self.call(Call::Close(reason)).await;
    }

    fn unlist(&mut self) {
        if let Some(place) = self.listed.take() {
            self.env.app.sessions.unlist(place, &self.env.app.metrics);
        }
    }

    /// Releases everything the session holds: subscriptions, timers, its registry
    /// entry and its socket.
    fn finish(&mut self) {
        if let Some(data) = self.data.take() {
            for topic in &data.topics {
                self.env.unsubscribe(topic);
            }
            for timer in data.timers.values() {
                timer.abort();
            }
        }
        self.env.app.sessions.remove(&self.id);
        self.unlist();
        if let Some(conn) = self.conn.take() {
            let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_closed", false).into()));
            let _ = conn.tx.try_send(Outbound::Close { code: 1000, reason: "session closed" });
        }
        self.env.app.sessions.finished();
    }
}

/// Resolves when the session is told to give way; never when it has no place in
/// the unjoined list (or its place was given up, which drops the sender).
async fn evicted(evict: &mut Option<oneshot::Receiver<()>>) {
    if let Some(rx) = evict {
        if rx.await.is_ok() {
            return;
        }
        *evict = None;
    }
    std::future::pending().await
}

/// The session registry: id → handle, the sessions rendered but not joined (so a
/// flood of page requests displaces only its own kind), and a count of live actors
/// so shutdown can wait for all of them.
#[derive(Default)]
pub(crate) struct Registry {
    map: std::sync::Mutex<HashMap<String, SessionHandle>>,
    /// Rendered, never-joined sessions in the order they were listed, each with the
    /// sender that tells it to end.
    unjoined: std::sync::Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
    next_place: AtomicU64,
    live: AtomicU64,
    idle: Notify,
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<SessionHandle> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    fn insert(&self, id: &str, handle: SessionHandle) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), handle);
    }

    fn remove(&self, id: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn all(&self) -> Vec<SessionHandle> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Lists a session as rendered but not joined. When more than `max` are listed,
    /// the oldest are unlisted and told to end. Returns the new session's place and
    /// what tells it to end.
    fn list_unjoined(&self, max: usize, metrics: &Metrics) -> (u64, oneshot::Receiver<()>) {
        let place = self.next_place.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut pushed_out = Vec::new();
        {
            let mut list = self.unjoined.lock().unwrap_or_else(|e| e.into_inner());
            list.insert(place, tx);
            while list.len() > max {
                match list.pop_first() {
                    Some((_, tx)) => pushed_out.push(tx),
                    None => break,
                }
            }
            metrics.unjoined.store(list.len() as i64, Ordering::Relaxed);
        }
        for tx in pushed_out {
            metrics::inc(&metrics.unjoined_evicted);
            let _ = tx.send(());
        }
        (place, rx)
    }

    fn unlist(&self, place: u64, metrics: &Metrics) {
        let mut list = self.unjoined.lock().unwrap_or_else(|e| e.into_inner());
        list.remove(&place);
        metrics.unjoined.store(list.len() as i64, Ordering::Relaxed);
    }

    /// Counts a new session in, unless `max` are already alive.
    fn try_start(&self, max: usize) -> bool {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max as u64).then_some(n + 1))
            .is_ok()
    }

    fn finished(&self) {
        if self.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no session actor is running, or the timeout passes.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            if self.live.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.live.load(Ordering::SeqCst) == 0;
            }
        }
    }
}
#[cfg(test)]
mod tests {
    /// Every session's mailbox holds blocks of 32 of these, used or not.
    #[test]
    fn mailbox_messages_stay_small() {
        let size = std::mem::size_of::<super::SessionMsg>();
        assert!(size <= 48, "SessionMsg grew to {size} bytes: box the large variant");
    }
}
