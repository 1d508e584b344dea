//! Carrying on a session another node made: claim it in the store (waiting, bounded,
//! while a live owner hands it over), then run it here from its snapshot, with its
//! timers re-armed and its topics subscribed. Its page's `mount` does not run again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::snapshot::{Claimed, SessionStore, Snapshot};
use super::{actor, new_env, Core, SessionData, SessionHandle};
use crate::error::{Error, Result};
use crate::metrics;
use crate::page::{PageData, Route, Services, Timer};

/// How long a restore waits for a live node to hand a session over (or for a node
/// that died to be declared dead) before giving up with "busy".
const HANDOVER_WAIT: Duration = Duration::from_secs(8);

/// The session `id` from the store, running on this node, when it is there: a join,
/// POST or GET for a session another node made (or held until it died or shut down).
/// `Ok(None)` when there is no store or no snapshot (the caller mounts afresh).
/// `route` is the page the request's token names; a snapshot of another page is
/// not restored. `joining`: a browser joins the session (see `SessionMsg::Handoff`).
pub(crate) async fn restore(
    core: &Arc<Core>,
    id: &str,
    route: &Arc<Route>,
    joining: bool,
) -> Result<Option<SessionHandle>> {
    let Some(store) = core.store.clone() else { return Ok(None) };
    // Before the claim: a node that is shutting down takes nothing over.
    if *core.closing.borrow() {
        return Err(Error::Busy("the server is shutting down".into()));
    }
    let entry = Restoring::enter(core, id);
    let _one_at_a_time = entry.lock.lock().await;
    if let Some(handle) = core.sessions.get(id) {
        return Ok(Some(handle));
    }
    let snapshot = claim(store.as_ref(), id, joining).await?;
    match snapshot {
        Some(snap) if snap.id == id && snap.route == route.pattern => {
            start_restored(core, *snap, route).await.map(Some)
        }
        Some(snap) => {
            tracing::warn!(
                session = id,
                "the stored snapshot is of another page ({}); mounting afresh",
                snap.route
            );
            Ok(None)
        }
        None => Ok(None),
    }
}

/// This request's place among those restoring session `id` on this node; the last
/// to leave (however it leaves: done, failed, or its request dropped) removes it.
struct Restoring<'a> {
    core: &'a Core,
    id: &'a str,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> Restoring<'a> {
    fn enter(core: &'a Core, id: &'a str) -> Self {
        let mut restoring = core.restoring.lock().unwrap_or_else(|e| e.into_inner());
        let lock = restoring.entry(id.to_string()).or_default().clone();
        Restoring { core, id, lock }
    }
}

impl Drop for Restoring<'_> {
    fn drop(&mut self) {
        let mut restoring = self.core.restoring.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference and this one: nobody else is waiting.
        if Arc::strong_count(&self.lock) <= 2 {
            restoring.remove(self.id);
        }
    }
}

impl Core {
    /// Whether a request on this node is restoring session `id` right now.
    pub(crate) fn is_restoring(&self, id: &str) -> bool {
        self.restoring.lock().unwrap_or_else(|e| e.into_inner()).contains_key(id)
    }
}

/// Claims the session from the store, waiting (bounded) while a live node hands it
/// over.
async fn claim(store: &dyn SessionStore, id: &str, joining: bool) -> Result<Option<Box<Snapshot>>> {
    let deadline = tokio::time::Instant::now() + HANDOVER_WAIT;
    let mut pause = Duration::from_millis(10);
    loop {
        match store.claim(id, joining).await? {
            Claimed::Snapshot(snap) => return Ok(Some(snap)),
            Claimed::Missing => return Ok(None),
            Claimed::Owned if tokio::time::Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Claimed::Owned => {
                return Err(Error::Busy(format!(
                    "session {id} is held by another node that did not hand it over in time"
                )))
            }
        }
    }
}

/// Starts an actor for a claimed snapshot: registered, its topics subscribed and its
/// timers re-armed (one already due fires at once).
async fn start_restored(core: &Arc<Core>, snap: Snapshot, route: &Arc<Route>) -> Result<SessionHandle> {
    let closing = core.closing.subscribe();
    if *closing.borrow() {
        return Err(Error::Busy("the server is shutting down".into()));
    }
    if !core.sessions.try_start(core.opts.max_sessions) {
        metrics::inc(&core.metrics.sessions_refused);
        return Err(Error::Busy(format!("{} sessions are alive (max_sessions)", core.opts.max_sessions)));
    }
    let (env, tx, rx) = new_env(core);
    let now = crate::token::now_millis();
    let mut timers = HashMap::new();
    for t in snap.timers {
        let data: Arc<str> = Arc::from(t.data);
        let delay = Duration::from_millis(t.due_ms.saturating_sub(now));
        let handle = env.start_timer(t.id, delay, data.clone());
        timers.insert(t.id, Timer { handle, due_ms: t.due_ms, data });
    }
    let topics: HashSet<String> = snap.topics.into_iter().collect();
    for topic in &topics {
        env.subscribe(topic);
    }
    let state_bytes = serde_json::to_string(&*snap.state).map_or(0, |s| s.len());
    let browser = match snap.browser {
        b if !b.is_empty() => b,
        _ => core.signer.verify(&snap.token).map(|c| c.br).unwrap_or_default(),
    };
    let token: Arc<str> = snap.token.into();
    let data = Box::new(SessionData {
        page: PageData {
            id: snap.id.as_str().into(),
            route: route.clone(),
            path: snap.path.into(),
            params: snap.params,
            user_id: snap.user_id,
            state: snap.state,
            state_bytes,
            flash: snap.flash,
            title: snap.title,
            timers,
            next_timer: snap.next_timer,
            topics,
            browser,
            browser_session: Default::default(),
            state_cache: Default::default(),
        },
        token: Arc::clone(&token),
        csrf: snap.csrf.into(),
        rendered: Vec::new(),
        rendered_root: None,
    });
    let handle = SessionHandle { tx, token };
    core.sessions.insert(&snap.id, handle.clone());
    metrics::inc(&core.metrics.restores);
    tracing::debug!(session = snap.id, "session restored from its snapshot");
    let actor = actor::Actor::restored(env, data, closing, snap.seq, snap.applied);
    core.rt.spawn(actor.resume(rx));
    Ok(handle)
}
