//! The session actor: takes its mailbox's messages one at a time, runs each callback
//! on the host pool and waits for it, and sends what the callback produced.
//!
//! `persist`: how it writes its snapshot to the session store; `end`: how a session
//! ends, or stops here to go on elsewhere.

use futures_util::future::OptionFuture;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::applied::Applied;
use super::render::{self, Call, CallOutcome, SendAhead, Unsent};
use super::resume::ResumeBuffer;
use super::{Conn, Outbound, PostOutcome, QueueRx, SessionData, SessionEnv, SessionMsg, TrySend};
use crate::browser::BrowserSession;
use crate::error::{Error, Result};
use crate::host::{Lane, Refused};
use crate::metrics;
use crate::page::{Event, Info, LAGGED_TOPIC};
use crate::protocol::{self, Frame};

mod end;
mod persist;
mod reload;

pub(super) struct Actor {
    /// The session's id, kept outside `data` so the registry entry always goes;
    /// shared with the page's data. Not a `String`: with its 8 bytes more, an idle
    /// session's task no longer fits in 1,024 bytes (tokio rounds a task up to 128).
    id: Arc<str>,
    env: Arc<SessionEnv>,
    closing: watch::Receiver<bool>,
    data: Option<Box<SessionData>>,
    conn: Option<Conn>,
    seq: u64,
    /// Recent patches for clients that reconnect behind.
    sent: ResumeBuffer,
    detached_at: Instant,
    tokens: f64,
    refilled: Instant,
    /// A browser has joined this session at least once.
    joined: bool,
    /// Place among the mounted-but-unjoined sessions (see `Registry::list_unjoined`).
    listed: Option<u64>,
    /// Fires when newer unjoined sessions push this one out.
    evict: Option<oneshot::Receiver<()>>,
    /// Carried over from another node: its first client gets the whole body.
    restored: bool,
    /// The last snapshot did not reach the store; it is tried again shortly.
    unsaved: bool,
    /// Another node owns the session now: it ends here, without its close callback.
    moved: bool,
    /// The last event applied by its client's number, for answering re-sent ones.
    applied: Option<Applied>,
    /// Handed over because a browser joined it on another node.
    replaced: bool,
}

/// How long a snapshot save may take before the session goes on without it (and
/// tries again after [`SAVE_RETRY`]).
const SAVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
const SAVE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl Actor {
    pub(super) fn new(env: Arc<SessionEnv>, data: Box<SessionData>, closing: watch::Receiver<bool>) -> Self {
        let burst = env.core.opts.event_burst as f64;
        Actor {
            id: Arc::clone(&data.page.id),
            env,
            closing,
            data: Some(data),
            conn: None,
            seq: 0,
            sent: ResumeBuffer::default(),
            detached_at: Instant::now(),
            tokens: burst,
            refilled: Instant::now(),
            joined: false,
            listed: None,
            evict: None,
            restored: false,
            unsaved: false,
            moved: false,
            applied: None,
            replaced: false,
        }
    }

    /// An actor for a session carried over from another node's snapshot; `data`
    /// holds its restored page data (timers and topics are re-armed by `resume`).
    pub(super) fn restored(
        env: Arc<SessionEnv>,
        data: Box<SessionData>,
        closing: watch::Receiver<bool>,
        seq: u64,
        applied: Option<Applied>,
    ) -> Self {
        let mut actor = Actor::new(env, data, closing);
        actor.seq = seq;
        actor.applied = applied;
        actor.restored = true;
        // It was live elsewhere: it never gives way to newer unjoined sessions.
        actor.joined = true;
        actor
    }

    // Every session's task is as large as the largest state its future can be in,
    // for its whole life, though it spends that life waiting for a message. So what
    // happens once (mount, close) or rarely (a lag report) is boxed where it is
    // awaited, and these two are plain functions returning `async move` blocks:
    // an `async fn` would keep a second copy of the actor beside its argument.

    /// Runs a restored session: no mount (it happened on the node that made it).
    #[allow(clippy::manual_async_fn, reason = "an async fn would hold the actor twice")]
    pub(super) fn resume(mut self, mut rx: QueueRx<SessionMsg>) -> impl Future<Output = ()> + Send {
        async move {
            let reason = self.serve(&mut rx).await;
            Box::pin(self.close(reason)).await;
            self.refuse_queued(&mut rx);
            self.finish();
        }
    }

    #[allow(clippy::manual_async_fn, reason = "an async fn would hold the actor twice")]
    pub(super) fn run(
        mut self,
        mut rx: QueueRx<SessionMsg>,
        mounted: oneshot::Sender<Result<super::Answer>>,
    ) -> impl Future<Output = ()> + Send {
        async move {
            let mount_result = Box::pin(self.mount()).await;
            let ok = mount_result.is_ok();
            // A mount that redirects sends its browser elsewhere: nobody will join it.
            let stays = matches!(&mount_result, Ok(a) if a.redirect.is_none());
            // Nobody waiting (the request that mounted it went away): nobody can join it.
            let wanted = mounted.send(mount_result).is_ok();
            if ok {
                let reason = if wanted && stays { self.serve(&mut rx).await } else { "abandoned" };
                Box::pin(self.close(reason)).await;
            }
            self.refuse_queued(&mut rx);
            self.finish();
        }
    }

    /// Runs the page's mount, then writes the first snapshot.
    async fn mount(&mut self) -> Result<super::Answer> {
        // A mount is a new visitor's work: refused, not queued, when the host is busy.
        let outcome = self.call_in(Lane::New, Call::Mount, None).await;
        let mount_result = match outcome.map(|o| *o) {
            Ok(CallOutcome { error: None, status, redirect, .. }) => Ok(super::Answer { status, redirect }),
            Ok(CallOutcome { error: Some((_, message)), status: Some(status), .. }) => {
                Err(Error::Answered { status, message })
            }
            Ok(CallOutcome { error: Some((_, msg)), .. }) => Err(Error::Callback(format!("mount: {msg}"))),
            Err(Refused::Full) => {
                metrics::inc(&self.env.core.metrics.host_queue_rejections);
                Err(Error::Busy(format!(
                    "{} mounts are waiting for a host thread (host_queue)",
                    self.env.core.opts.host_queue
                )))
            }
            Err(Refused::Closed) => Err(Error::State("the server is shutting down".into())),
        };
        if mount_result.is_ok() {
            // The first snapshot: from now on another node can carry the session on.
            self.persist().await;
        }
        mount_result
    }

    /// Handles messages until the session ends; returns why it ended.
    async fn serve(&mut self, rx: &mut QueueRx<SessionMsg>) -> &'static str {
        let grace = self.env.core.opts.grace();
        // Mounted by a page request (GET, or a POST that found no session), it counts
        // among the unjoined until a browser joins.
        if !self.joined {
            self.list_unjoined();
        }
        loop {
            if self.moved {
                return "moved";
            }
            let attached = self.conn.is_some();
            let unsaved = self.unsaved;
            let deadline = self.detached_at + grace;
            // One timer for both: the retry of a failed save, the end of the grace
            // period (a timer is a tenth of an idle session's task).
            let retry_at = Instant::now() + SAVE_RETRY;
            let wake_at = match (unsaved, attached) {
                (true, true) => retry_at,
                (true, false) => retry_at.min(deadline),
                (false, _) => deadline,
            };
            let mut retry_save = false;
            // Boxed, and only when it may fire: an attached session, what an idle one
            // is, keeps no room for a timer in its task.
            let mut timer = (unsaved || !attached).then(|| Box::pin(tokio::time::sleep_until(wake_at)));
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
                Some(()) = OptionFuture::from(timer.as_mut()), if timer.is_some() => {
                    if !attached && Instant::now() >= deadline {
                        tracing::debug!("grace period over; ending session");
                        return "expired";
                    }
                    retry_save = true;
                    None
                }
            };
            if retry_save {
                self.persist().await;
                continue;
            }
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
            if self.env.mailbox.lagged.load(Ordering::Relaxed) > 0 {
                Box::pin(self.report_lag()).await;
            }
            // Boxed: each message's handling (a callback, a render, a snapshot's
            // write) is a future of its own, alive only while it runs; inline, every
            // idle session's task would keep room for the largest of them.
            if let Some(reason) = Box::pin(self.handle(msg)).await {
                return reason;
            }
        }
    }

    /// Handles one message; `Some(reason)` when the session ends with it.
    async fn handle(&mut self, msg: SessionMsg) -> Option<&'static str> {
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
            SessionMsg::Event { conn_id, r#ref, eid, event } => {
                if self.conn.as_ref().is_some_and(|c| c.id == conn_id) {
                    self.event(r#ref, eid, event).await;
                }
            }
            SessionMsg::Post { event, reply } => {
                // The same limit as over the socket.
                metrics::inc(&self.env.core.metrics.events);
                if !self.take_token() {
                    metrics::inc(&self.env.core.metrics.rate_limited);
                    let _ =
                        reply.send(PostOutcome { rate_limited: true, ..PostOutcome::failed("rate limited") });
                    return None;
                }
                let out = self.call(Call::Event(event)).await;
                if out.is_some() && !self.persist().await {
                    let _ = reply.send(PostOutcome::retry("the session moved to another node"));
                    return None;
                }
                let outcome = match out {
                    Some(mut o) => {
                        let redirect = o.redirect.take().or_else(|| o.navigate.take().map(|n| n.0));
                        let error = o.error.as_ref().map(|e| e.1.clone());
                        self.deliver(o, None);
                        PostOutcome { redirect, error, rate_limited: false, retry: false }
                    }
                    None => PostOutcome::failed("server shutting down"),
                };
                let _ = reply.send(outcome);
            }
            SessionMsg::Info(info) => self.info(info).await,
            SessionMsg::Timer { id, data } => {
                // A timer cancelled after it fired but before we got here is gone.
                let live = self.data.as_mut().is_some_and(|d| d.page.timers.remove(&id).is_some());
                if live {
                    self.info(Info { topic: None, data }).await;
                }
            }
            SessionMsg::RenderDocument { reply } => {
                let eid = self.applied.as_ref().map_or(0, |a| a.eid);
                let out = self.call(Call::Document { seq: self.seq, eid }).await;
                let result = match out {
                    Some(o) => match (o.document, o.error) {
                        (Some(html), None) => Ok(html),
                        // Already a whole message ("template error: ..."): not prefixed twice.
                        (_, Some((_, msg))) => Err(Error::Template(
                            msg.strip_prefix("template error: ").map(str::to_string).unwrap_or(msg),
                        )),
                        (None, None) => Err(Error::State("no document rendered".into())),
                    },
                    None => Err(Error::State("the server is shutting down".into())),
                };
                let _ = reply.send(result);
            }
            SessionMsg::Inspect { reply } => {
                if let Some(data) = &self.data {
                    let page = &data.page;
                    let _ = reply
                        .send(super::Inspection { state: page.state.clone(), flash: page.flash.clone() });
                }
            }
            SessionMsg::DropSocket => {
                if let Some(conn) = self.conn.take() {
                    conn.kill.give();
                    self.detach();
                }
            }
            SessionMsg::Handoff { replaced } => {
                // Handed over only once its last snapshot is written: a failed
                // save keeps the session here (the other node asks again).
                if self.save_for_handover().await {
                    self.replaced = replaced;
                    return Some(if self.moved { "moved" } else { "handoff" });
                }
            }
            SessionMsg::Persist => {
                self.persist().await;
            }
            SessionMsg::Reload { error } => self.reload(error).await,
            SessionMsg::End => {
                // Told to reconnect: its join then finds no session and mounts afresh.
                if let Some(conn) = self.conn.take() {
                    let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_closed", true).into()));
                    let _ = conn.tx.try_send(Outbound::Close { code: 1000, reason: "session closed" });
                    self.detach();
                }
                tracing::debug!("ended on request (dev mode)");
                return Some("expired");
            }
        }
        None
    }

    fn id(&self) -> &str {
        &self.id
    }

    /// Counts the session among those mounted but not joined; the oldest beyond
    /// `max_unjoined_sessions` are told to end.
    fn list_unjoined(&mut self) {
        let core = &self.env.core;
        let (place, evict) = core.sessions.list_unjoined(core.opts.max_unjoined_sessions, &core.metrics);
        self.listed = Some(place);
        self.evict = Some(evict);
    }

    /// A browser joined: the session no longer gives way to newer unjoined ones.
    fn mark_joined(&mut self) {
        self.joined = true;
        self.evict = None;
        if let Some(place) = self.listed.take() {
            self.env.core.sessions.unlist(place, &self.env.core.metrics);
        }
    }

    /// Runs one callback (or render) on the host pool and waits for it. `None` when
    /// the pool is gone (shutdown).
    async fn call(&mut self, call: Call) -> Option<Box<CallOutcome>> {
        self.call_in(Lane::Live, call, None).await.ok()
    }

    /// [`Actor::call`] for a callback whose patch, when it is all the callback
    /// produced, the job sends itself (answering `reply`): see [`SendAhead`]. Only
    /// without a session store: with one, the snapshot is written before anything
    /// of the callback is sent.
    async fn call_sending(&mut self, call: Call, reply: Option<u64>) -> Option<Box<CallOutcome>> {
        let ahead = match &self.conn {
            Some(conn) if self.env.core.store.is_none() => Some(SendAhead { outlet: conn.tx.clone(), reply }),
            _ => None,
        };
        self.call_in(Lane::Live, call, ahead).await.ok()
    }

    /// [`Actor::call`] in a given lane of the host pool; an error when the pool
    /// refused the job (its data is then gone: only a mount, which ends the session
    /// on refusal, uses a lane that can refuse).
    ///
    /// The outcome is boxed: callers hold it across the snapshot's write, and inline
    /// it would make room for itself in every session's task.
    async fn call_in(
        &mut self,
        lane: Lane,
        call: Call,
        ahead: Option<SendAhead>,
    ) -> std::result::Result<Box<CallOutcome>, Refused> {
        if !matches!(call, Call::Close(_)) {
            self.load_browser().await;
        }
        let data = self.data.take().ok_or(Refused::Closed)?;
        let env = self.env.clone();
        let deliver = self.conn.is_some();
        let (data, mut outcome) = if env.core.opts.inline_callbacks {
            // The host promised short, non-blocking callbacks: no hop to a host thread.
            crate::host::run_inline(|| render::run(data, &env, call, deliver, ahead))
        } else {
            let job_env = env.clone();
            env.core.host.run(lane, move || render::run(data, &job_env, call, deliver, ahead)).await?
        };
        let writes = std::mem::take(&mut outcome.browser_writes);
        // Only a callback that wrote to the browser session needs its id: no copy of
        // it for every event and info.
        let browser = if writes.is_empty() { String::new() } else { data.page.browser.clone() };
        self.data = Some(data);
        if !writes.is_empty() {
            // Stored before anything of the callback is sent: a page the browser loads
            // next sees what this one wrote.
            let stored = tokio::time::timeout(SAVE_TIMEOUT, env.core.browsers.apply(&browser, writes)).await;
            let err = match stored {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("the store did not answer in time".into()),
            };
            if let Some(e) = err {
                tracing::warn!(session = self.id(), "storing the browser session failed: {e}");
            }
        }
        Ok(outcome)
    }

    /// Reads the browser session before a callback or render, so it sees what other
    /// page sessions of its browser wrote. When the store cannot be read, the last map
    /// read stays.
    async fn load_browser(&mut self) {
        let env = self.env.clone();
        let Some(data) = self.data.as_mut() else { return };
        let limit = env.core.opts.max_browser_session_bytes;
        let page = &mut data.page;
        let loaded = match env.core.browsers.load_ready(&page.browser) {
            Some(map) => Ok(Ok(map)),
            None => tokio::time::timeout(SAVE_TIMEOUT, env.core.browsers.load(&page.browser)).await,
        };
        let map = match loaded {
            Ok(Ok(map)) => map,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "the store did not answer in time".into(),
                };
                tracing::warn!(session = &*page.id, "reading the browser session failed: {why}");
                page.browser_session.shared()
            }
        };
        page.browser_session = BrowserSession::new(map, limit);
    }

    async fn event(&mut self, r#ref: u64, eid: Option<u64>, event: Box<Event>) {
        let metrics = self.env.core.metrics.clone();
        if let Some(eid) = eid {
            if self.replay(r#ref, eid) {
                metrics::inc(&metrics.duplicate_events);
                return;
            }
        }
        metrics::inc(&metrics.events);
        if !self.take_token() {
            metrics::inc(&metrics.rate_limited);
            self.send(protocol::reply_error(r#ref, "rate_limited", "too many events; slow down").into());
            return;
        }
        match self.call_sending(Call::Event(event), Some(r#ref)).await {
            Some(outcome) => {
                if outcome.error.is_some() {
                    metrics::inc(&metrics.callback_errors);
                }
                let error =
                    outcome.error.as_ref().map(|(code, msg)| (code.to_string(), self.public_message(msg)));
                // Written only when sent: most replies fold into their patch.
                let reply = |error: &Option<(String, String)>| match error {
                    None => protocol::reply_ok(r#ref),
                    Some((code, msg)) => protocol::reply_error(r#ref, code, msg),
                };
                let reply = (!(error.is_none() && outcome.only_patch())).then(|| reply(&error));
                if let Some(eid) = eid {
                    Applied::record(&mut self.applied, eid, error);
                }
                // The snapshot (with this event's number) is written before anything
                // is sent: what the browser sees, a node that takes over has.
                if !self.persist().await {
                    // Unanswered: the client sends it again to the node that has the
                    // session now, which applies it there.
                    return;
                }
                // An event whose only effect is a patch is answered by that patch.
                self.deliver(outcome, reply.is_none().then_some(r#ref));
                if let Some(reply) = reply {
                    self.send(reply.into());
                }
            }
            None => self.send(protocol::reply_error(r#ref, "internal", "server shutting down").into()),
        }
    }

    /// Answers an event the session already applied (its client re-sent it after a
    /// lost reply) with the reply it got then. False when `eid` is new.
    fn replay(&mut self, r#ref: u64, eid: u64) -> bool {
        let reply = match Applied::replay(self.applied.as_ref(), eid) {
            None => return false,
            Some(Ok(())) => protocol::reply_ok(r#ref),
            Some(Err((code, msg))) => protocol::reply_error(r#ref, code, msg),
        };
        self.send(reply.into());
        true
    }

    async fn info(&mut self, info: Info) {
        metrics::inc(&self.env.core.metrics.infos);
        if let Some(outcome) = self.call_sending(Call::Info(info), None).await {
            if !self.persist().await {
                return;
            }
            if outcome.error.is_some() {
                metrics::inc(&self.env.core.metrics.callback_errors);
            }
            self.deliver(outcome, None);
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
    /// With `reply`, the patch also answers that event (see [`protocol::Patch`]);
    /// the resume buffer keeps a copy without the reply, so a replayed patch answers
    /// nothing on the socket it is replayed to.
    fn deliver(&mut self, mut outcome: Box<CallOutcome>, reply: Option<u64>) {
        if let Some((text, sent)) = outcome.sent.take() {
            // Sent by the job: kept for resume as if sent here.
            self.keep(&text);
            match sent {
                Ok(()) => {}
                Err(Unsent::Full) => self.not_reading(),
                Err(Unsent::Closed) => self.detach(),
            }
        }
        if let Some(patch) = outcome.patch {
            let text = patch.frame(reply);
            self.keep(&text);
            self.send(text);
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

    /// Counts a patch sent and keeps it for clients that rejoin behind, without the
    /// reply it carried: a replayed patch answers no event.
    fn keep(&mut self, patch: &str) {
        metrics::inc(&self.env.core.metrics.patches);
        self.seq += 1;
        let opts = &self.env.core.opts;
        let kept = protocol::without_reply(patch);
        self.sent.push_parts(self.seq, &kept, opts.resume_buffer, opts.resume_buffer_bytes);
    }

    async fn attach(&mut self, conn: Conn, last_seq: u64, fresh: bool) {
        if let Some(old) = self.conn.take() {
            let _ = old.tx.try_send(Outbound::Text(protocol::close("replaced", false).into()));
            let _ = old.tx.try_send(Outbound::Close { code: 1000, reason: "replaced" });
        }
        self.conn = Some(conn);
        // A restored session has no patches to replay, and its client may have seen
        // patches the snapshot never had: it gets the whole body.
        let whole = fresh || std::mem::take(&mut self.restored);
        let missed = if whole { None } else { self.sent.missed(last_seq, self.seq) };
        if let Some(missed) = missed {
            // Patches carry no number: the client counts the replayed ones from here.
            self.send(protocol::joined(last_seq, self.last_eid(), true, None, None).into());
            for frame in missed {
                self.send(frame);
            }
            return;
        }
        // Too far behind (or a fresh mount): the client gets the whole body.
        match self.call(Call::Root).await.map(|o| *o) {
            Some(CallOutcome { root: Some(root), .. }) => {
                let token = if fresh { self.data.as_ref().map(|d| d.token.clone()) } else { None };
                self.send(
                    protocol::joined(self.seq, self.last_eid(), !fresh, Some(&root), token.as_deref()).into(),
                );
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
    fn send(&mut self, frame: Frame) {
        let Some(conn) = &self.conn else { return };
        match conn.tx.try_send(Outbound::Text(frame)) {
            Ok(()) => {}
            Err(TrySend::Full(_)) => self.not_reading(),
            Err(TrySend::Closed(_)) => self.detach(),
        }
    }

    /// The socket's queue is full: its client is disconnected rather than buffered
    /// without bound.
    fn not_reading(&mut self) {
        tracing::warn!(session = self.id(), "client is not reading; disconnecting it");
        metrics::inc(&self.env.core.metrics.slow_clients);
        if let Some(conn) = &self.conn {
            conn.kill.give();
        }
        self.detach();
    }

    /// The number of the last client event applied (0: none yet).
    fn last_eid(&self) -> u64 {
        self.applied.as_ref().map_or(0, |a| a.eid)
    }

    fn take_token(&mut self) -> bool {
        let opts = &self.env.core.opts;
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
        if self.env.core.opts.dev {
            detail.to_string()
        } else {
            "something went wrong handling this event".to_string()
        }
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
