//! The node's session registry: id → handle, the sessions mounted but not joined
//! (so a flood of page requests displaces only its own kind), and a count of live
//! actors so shutdown can wait for all of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::SessionHandle;
use crate::metrics::{self, Metrics};

/// The session registry (see the module doc).
#[derive(Default)]
pub(crate) struct Registry {
    map: std::sync::Mutex<HashMap<String, SessionHandle>>,
    /// Mounted, never-joined sessions in the order they were listed, each with the
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

    pub(super) fn insert(&self, id: &str, handle: SessionHandle) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), handle);
    }

    /// Removes the entry of the actor whose mailbox is `tx`, and only that one: an
    /// ending actor must not remove the session's next actor (restored meanwhile).
    pub(super) fn remove(&self, id: &str, tx: &super::QueueTx<super::SessionMsg>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(id).is_some_and(|h| h.tx.same_queue(tx)) {
            map.remove(id);
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The ids of the sessions running here.
    pub fn ids(&self) -> Vec<String> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<SessionHandle> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Lists a session as mounted but not joined. When more than `max` are listed,
    /// the oldest are unlisted and told to end. Returns the new session's place and
    /// what tells it to end.
    pub(super) fn list_unjoined(&self, max: usize, metrics: &Metrics) -> (u64, oneshot::Receiver<()>) {
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

    pub(super) fn unlist(&self, place: u64, metrics: &Metrics) {
        let mut list = self.unjoined.lock().unwrap_or_else(|e| e.into_inner());
        list.remove(&place);
        metrics.unjoined.store(list.len() as i64, Ordering::Relaxed);
    }

    /// Counts a new session in, unless `max` are already alive.
    pub(super) fn try_start(&self, max: usize) -> bool {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max as u64).then_some(n + 1))
            .is_ok()
    }

    pub(super) fn finished(&self) {
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
