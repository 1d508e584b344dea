//! How a session ends: it leaves the registry and pub/sub, answers what is still
//! queued, lets its page say goodbye, and releases what it holds. With a session
//! store, a session that stops only on this node is saved and released instead.

use crate::session::QueueRx;

use super::Actor;
use crate::error::Error;
use crate::page::Services;
use crate::protocol;
use crate::session::render::Call;
use crate::session::{Outbound, PostOutcome, SessionMsg};

impl Actor {
    /// Answers what is still queued once the session has ended: a socket that asked
    /// to join is told to join again (it then mounts afresh), a request gets an error.
    pub(super) fn refuse_queued(&mut self, rx: &mut QueueRx<SessionMsg>) {
        rx.close();
        while let Some(msg) = rx.try_recv() {
            match msg {
                SessionMsg::Attach { conn, .. } => {
                    let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_closed", true).into()));
                    let _ = conn.tx.try_send(Outbound::Close { code: 1000, reason: "session closed" });
                }
                SessionMsg::Post { reply, .. } => {
                    let _ = reply.send(PostOutcome::retry("the session ended"));
                }
                SessionMsg::RenderDocument { reply } => {
                    let _ = reply.send(Err(Error::State("the session ended".into())));
                }
                _ => {}
            }
        }
    }

    /// Leaves the registry (a join now mounts afresh, or restores from the store),
    /// stops deliveries, then lets the page say goodbye.
    ///
    /// With a session store, a session that stops only on this node (the node shuts
    /// down, or another node asked for it) is not ending: its last snapshot is
    /// written and released for another node to claim, and its close callback does
    /// not run. One that another node took over (`moved`) leaves the store alone.
    ///
    /// The store is dealt with before the session leaves the registry: until then a
    /// request for it on this node reaches this actor (and is told to come again),
    /// never a second copy restored from the store.
    pub(super) async fn close(&mut self, reason: &'static str) {
        let store = self.env.core.store.clone();
        let lives_on = store.is_some() && matches!(reason, "shutdown" | "handoff");
        if let Some(conn) = &self.conn {
            if matches!(reason, "handoff" | "moved") {
                // The browser reconnects, and its join finds the session where it is
                // now; unless it joined there already (then this socket is the stale
                // one, as with `replaced` on one node).
                let (why, again) = if self.replaced { ("replaced", false) } else { ("session_moved", true) };
                let _ = conn.tx.try_send(Outbound::Text(protocol::close(why, again).into()));
                let _ = conn.tx.try_send(Outbound::Close { code: 1012, reason: "session moved" });
                self.conn = None;
            }
        }
        if let (Some(store), true) = (&store, lives_on) {
            // A shutdown saves here; a handover saved before it was accepted.
            let saved = reason == "handoff" || self.save_for_handover().await;
            if !saved && !self.moved {
                // The store has an older snapshot, still owned by this node: another
                // node can claim it once this one is gone. Releasing it would let one
                // claim it at once, older than what the browser saw.
                tracing::warn!(
                    session = self.id(),
                    "the last snapshot could not be written; the session stays with this node in the store"
                );
            } else if !self.moved {
                if let Err(e) = store.release(&self.id).await {
                    tracing::warn!(session = self.id(), "releasing the session in the store failed: {e}");
                }
            }
        }
        // No deliveries from here on; then the page says goodbye, if the session ends.
        if let Some(data) = self.data.as_mut() {
            for topic in data.page.topics.drain() {
                self.env.unsubscribe(&topic);
            }
        }
        if !lives_on && reason != "moved" {
            self.call(Call::Close(reason)).await;
            if let Some(store) = &store {
                if let Err(e) = store.delete(&self.id).await {
                    tracing::warn!(session = self.id(), "deleting the session's snapshot failed: {e}");
                }
            }
        }
        self.env.core.sessions.remove(&self.id, &self.env.mailbox.tx);
        self.unlist();
    }

    fn unlist(&mut self) {
        if let Some(place) = self.listed.take() {
            self.env.core.sessions.unlist(place, &self.env.core.metrics);
        }
    }

    /// Releases everything the session holds: subscriptions, timers, its registry
    /// entry and its socket.
    pub(super) fn finish(&mut self) {
        if let Some(data) = self.data.take() {
            for topic in &data.page.topics {
                self.env.unsubscribe(topic);
            }
            for timer in data.page.timers.values() {
                timer.handle.abort();
            }
        }
        self.env.core.sessions.remove(&self.id, &self.env.mailbox.tx);
        self.unlist();
        if let Some(conn) = self.conn.take() {
            let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_closed", false).into()));
            let _ = conn.tx.try_send(Outbound::Close { code: 1000, reason: "session closed" });
        }
        self.env.core.sessions.finished();
    }
}
