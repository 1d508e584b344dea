//! What reaches a session: the messages its actor takes one at a time, the frames it
//! queues for its socket, and the [`Mailbox`] other parts of the node deliver through.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

use crate::error::Result;
use crate::metrics::{self, Metrics};
use crate::page::{Event, Info};
use crate::pubsub::Subscriber;

/// A frame on its way to one socket.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(crate::protocol::Frame),
    Close { code: u16, reason: &'static str },
}

/// A socket attached to a session.
pub(crate) struct Conn {
    pub id: u64,
    pub tx: super::Outlet,
    /// Tells the socket task to drop the connection at once (its queue is full).
    pub kill: Arc<super::Kill>,
}

/// What a session's mailbox carries.
///
/// Kept small (events are boxed): a mailbox holds many while a burst of publishes
/// waits, and every session has one.
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
        /// The client's number for the event, when it sent one (docs/protocol.md).
        eid: Option<u64>,
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
    /// The test client asks what the session holds (never sent on the wire).
    Inspect {
        reply: oneshot::Sender<Inspection>,
    },
    /// Dev mode: drop the socket abruptly (no `close` frame), as a network failure
    /// would, so reconnect and resume can be exercised.
    DropSocket,
    /// Another node asks for the session: it is saved, released and ended here.
    /// `replaced`: a browser joined it there (another tab of the same page, or this
    /// one's socket that came back elsewhere), so a socket still attached here is
    /// told not to reconnect, as when a second socket joins on one node.
    Handoff {
        replaced: bool,
    },
    /// Writes the session's snapshot now (the store lost it: Redis restarted).
    Persist,
    /// Dev mode: the views changed; the page's body is rendered anew, or `error` (an
    /// edit that does not compile) is shown.
    Reload {
        error: Option<Arc<str>>,
    },
    /// Dev mode: end the session now, as if its grace period ran out; its socket is
    /// told to reconnect, and the join then mounts a fresh session.
    End,
}

/// What the test client reads of a session: its state, a flash not yet shown by a
/// render.
#[derive(Debug, Clone)]
pub(crate) struct Inspection {
    pub state: Arc<serde_json::Value>,
    pub flash: serde_json::Map<String, serde_json::Value>,
}

/// The result of a no-JS form POST.
pub(crate) struct PostOutcome {
    pub redirect: Option<String>,
    pub error: Option<String>,
    /// Refused by the event rate limit; the callback did not run.
    pub rate_limited: bool,
    /// Not applied: the session left this node (ended, or moved to another) first.
    /// Looking it up again finds where it is now.
    pub retry: bool,
}

impl PostOutcome {
    pub fn failed(error: &str) -> Self {
        PostOutcome { redirect: None, error: Some(error.to_string()), rate_limited: false, retry: false }
    }

    pub fn retry(error: &str) -> Self {
        PostOutcome { retry: true, ..PostOutcome::failed(error) }
    }
}

/// A handle for delivering to a session from anywhere (pub/sub, timers).
#[derive(Clone)]
pub(crate) struct Mailbox {
    pub(super) key: u64,
    pub(super) tx: super::QueueTx<SessionMsg>,
    /// Infos refused because the mailbox was full, not yet reported to the page.
    pub(super) lagged: Arc<AtomicU64>,
    pub(super) metrics: Arc<Metrics>,
}

impl Mailbox {
    /// Queues an info without waiting; a full mailbox counts it as missed.
    pub(crate) fn offer_info(&self, info: Info) {
        if let Err(super::TrySend::Full(_)) = self.tx.try_send(SessionMsg::Info(info)) {
            metrics::inc(&self.metrics.mailbox_overflows);
            if self.lagged.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(session = self.key, "session mailbox full; publishes are being missed");
            }
        }
    }
}

impl Subscriber for Mailbox {
    fn key(&self) -> u64 {
        self.key
    }

    fn offer(&self, info: Info) {
        self.offer_info(info);
    }
}

#[cfg(test)]
mod tests {
    /// A mailbox holds up to `mailbox` of these while a burst of publishes waits.
    #[test]
    fn mailbox_messages_stay_small() {
        let size = std::mem::size_of::<super::SessionMsg>();
        assert!(size <= 48, "SessionMsg grew to {size} bytes: box the large variant");
    }
}
