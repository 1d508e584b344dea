//! The actor's side of the session store: after each committed callback it writes
//! its snapshot, and only then sends what the callback produced.

use std::sync::Arc;

use super::{Actor, SAVE_TIMEOUT};
use crate::error::Error;
use crate::metrics;
use crate::session::snapshot::{Snapshot, TimerSnapshot, SNAPSHOT_FORMAT};
use crate::session::SessionStore;

/// How many times a stopping node tries to write a session's last snapshot.
const FINAL_SAVE_TRIES: u32 = 3;

impl Actor {
    /// Writes the last snapshot before the session leaves this node; true when it
    /// is written (or another node has the session already: `moved`).
    pub(super) async fn save_for_handover(&mut self) -> bool {
        if self.env.core.store.is_none() {
            return true;
        }
        for attempt in 0..FINAL_SAVE_TRIES {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            self.persist().await;
            if self.moved || !self.unsaved {
                return true;
            }
        }
        false
    }

    /// Writes the session's snapshot to the store (when there is one). False when
    /// another node owns the session now: the caller sends nothing, and the session
    /// ends here. A save that fails is counted and tried again shortly; the session
    /// goes on meanwhile.
    pub(super) async fn persist(&mut self) -> bool {
        let Some(store) = self.env.core.store.clone() else { return true };
        // Boxed: inline, the store's write would enlarge every session's task, with a
        // store or without one.
        Box::pin(self.save(store)).await
    }

    async fn save(&mut self, store: Arc<dyn SessionStore>) -> bool {
        let Some(snapshot) = self.snapshot() else { return true };
        let metrics = self.env.core.metrics.clone();
        let result = if store.is_up() {
            tokio::time::timeout(SAVE_TIMEOUT, store.save(&self.id, snapshot.to_bytes()))
                .await
                .unwrap_or_else(|_| Err(Error::Timeout("the snapshot store did not answer in time".into())))
        } else {
            Err(Error::State("the snapshot store is unreachable".into()))
        };
        match result {
            Ok(true) => {
                metrics::inc(&metrics.snapshots);
                self.unsaved = false;
                true
            }
            Ok(false) => {
                tracing::info!(session = self.id(), "another node took the session over; ending it here");
                self.moved = true;
                false
            }
            Err(e) => {
                metrics::inc(&metrics.snapshot_failures);
                if !self.unsaved {
                    tracing::warn!(
                        session = self.id(),
                        "saving the session's snapshot failed: {e}; retrying"
                    );
                }
                self.unsaved = true;
                true
            }
        }
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let data = self.data.as_ref()?;
        let page = &data.page;
        Some(Snapshot {
            format: SNAPSHOT_FORMAT,
            id: page.id.to_string(),
            route: page.route.pattern.clone(),
            path: page.path.to_string(),
            params: page.params.clone(),
            user_id: page.user_id.clone(),
            token: data.token.to_string(),
            csrf: data.csrf.to_string(),
            state: page.state.clone(),
            flash: page.flash.clone(),
            title: page.title.clone(),
            seq: self.seq,
            timers: page
                .timers
                .iter()
                .map(|(id, t)| TimerSnapshot { id: *id, due_ms: t.due_ms, data: t.data.to_string() })
                .collect(),
            next_timer: page.next_timer,
            topics: page.topics.iter().cloned().collect(),
            applied: self.applied.clone(),
            browser: page.browser.clone(),
        })
    }
}
