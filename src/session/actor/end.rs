//! How a session ends: it leaves the registry and pub/sub, answers what is still
//! queued, lets its page say goodbye, and releases what it holds. With a session
//! store, a session that stops only on this node is saved and released instead.

use tokio::sync::mpsc;

use super::Actor;
use crate::error::Error;
use crate::page::Services;
use crate::protocol;
use crate::session::render::Call;
use crate::session::{Outbound, PostOutcome, SessionMsg};

impl Actor {
    /// Answers what is still queued once the session has ended: a socket that asked
    /// to join is told to join again (it then mounts afresh), a request gets an error.
    pub(super) fn refuse_queued(&mut self, rx: &mut mpsc::Receiver<SessionMsg>) {
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

    /// Leaves the registry (a join now mounts afresh, or restores from the store),
    /// stops deliveries, then lets the page say goodbye.
    ///
    /// With a session store, a session that stops only on this node (the node shuts
    /// down, or another node asked for it) is not ending: its last snapshot is
    /// written and released for another node to claim, and its close callback does
    /// not run. One that another node took over (`moved`) leaves the store alone.
    pub(super) async fn close(&mut self, reason: &'static str) {
        let store = self.env.core.store.clone();
        let lives_on = store.is_some() && matches!(reason, "shutdown" | "handoff");
        if lives_on {
            self.persist().await;
        }
        self.env.core.sessions.remove(&self.id);
        self.unlist();
        if let Some(data) = self.data.as_mut() {
            for topic in data.page.topics.drain() {
                self.env.unsubscribe(&topic);
            }
        }
        if let Some(conn) = &self.conn {
            if matches!(reason, "handoff" | "moved") {
                // The browser reconnects, and its join finds the session where it is now.
                let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_moved", true).into()));
                let _ = conn.tx.try_send(Outbound::Close { code: 1012, reason: "session moved" });
                self.conn = None;
            }
        }
        match (store, reason) {
            (_, "moved") => {}
            (Some(store), _) if lives_on => {
                if let Err(e) = store.release(&self.id).await {
                    tracing::warn!(session = self.id(), "releasing the session in the store failed: {e}");
                }
            }
            (store, _) => {
                self.call(Call::Close(reason)).await;
                if let Some(store) = store {
                    if let Err(e) = store.delete(&self.id).await {
                        tracing::warn!(session = self.id(), "deleting the session's snapshot failed: {e}");
                    }
                }
            }
        }
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
        self.env.core.sessions.remove(&self.id);
        self.unlist();
        if let Some(conn) = self.conn.take() {
            let _ = conn.tx.try_send(Outbound::Text(protocol::close("session_closed", false).into()));
            let _ = conn.tx.try_send(Outbound::Close { code: 1000, reason: "session closed" });
        }
        self.env.core.sessions.finished();
    }
}
