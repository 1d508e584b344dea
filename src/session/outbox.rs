//! The queue of frames on their way to one socket: many senders (the session, the
//! socket's own reader), one receiver (the socket's writer), bounded.
//!
//! A tokio mpsc channel allocates a block of 32 slots when it is made; every socket has
//! one of these queues, and an idle socket holds nothing in it, so this one allocates
//! only when frames arrive and keeps a few slots' worth between them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

use super::Outbound;

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `capacity` frames are waiting: the client is not reading.
    Full,
    /// The socket's writer is gone.
    Closed,
}

struct Shared {
    queue: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    senders: AtomicUsize,
    receiver_gone: AtomicBool,
    /// Wakes the writer: a frame arrived, or the last sender left.
    ready: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue for at most `capacity` frames.
pub(crate) fn outbox(capacity: usize) -> (OutTx, OutRx) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        capacity: capacity.max(1),
        senders: AtomicUsize::new(1),
        receiver_gone: AtomicBool::new(false),
        ready: Notify::new(),
    });
    (OutTx(shared.clone()), OutRx(shared))
}

/// The sending side; clones share the queue.
pub(crate) struct OutTx(Arc<Shared>);

impl OutTx {
    /// Queues `frame` without waiting.
    pub fn try_send(&self, frame: Outbound) -> Result<(), Refused> {
        if self.0.receiver_gone.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        {
            let mut queue = self.0.lock();
            if queue.len() >= self.0.capacity {
                return Err(Refused::Full);
            }
            queue.push_back(frame);
        }
        // Stores a permit when the writer is not waiting yet: no wake-up is lost.
        self.0.ready.notify_one();
        Ok(())
    }
}

impl Clone for OutTx {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        OutTx(self.0.clone())
    }
}

impl Drop for OutTx {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ready.notify_one();
        }
    }
}

/// The receiving side: the socket's writer.
pub(crate) struct OutRx(Arc<Shared>);

impl OutRx {
    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            if let Some(frame) = self.try_recv() {
                return Some(frame);
            }
            if self.0.senders.load(Ordering::Acquire) == 0 {
                // A frame sent just before the last sender left is still delivered.
                return self.try_recv();
            }
            self.0.ready.notified().await;
        }
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut queue = self.0.lock();
        let frame = queue.pop_front();
        // A burst may have grown the queue; an idle socket keeps only a little.
        if queue.is_empty() && queue.capacity() > 16 {
            queue.shrink_to(4);
        }
        frame
    }
}

impl Drop for OutRx {
    fn drop(&mut self) {
        self.0.receiver_gone.store(true, Ordering::Release);
        self.0.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(s: &str) -> Outbound {
        Outbound::Text(s.to_string().into())
    }

    fn is_text(o: Option<Outbound>, want: &str) -> bool {
        matches!(o, Some(Outbound::Text(t)) if t.as_str() == want)
    }

    #[tokio::test]
    async fn delivers_in_order_and_refuses_beyond_its_capacity() {
        let (tx, mut rx) = outbox(2);
        let other = tx.clone();
        tx.try_send(text("a")).unwrap();
        other.try_send(text("b")).unwrap();
        assert_eq!(tx.try_send(text("c")), Err(Refused::Full));
        assert!(is_text(rx.recv().await, "a"));
        assert!(is_text(rx.try_recv(), "b"));
        assert!(rx.try_recv().is_none());
        drop(rx);
        assert_eq!(tx.try_send(text("d")), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_frame_and_ends_with_the_last_sender() {
        let (tx, mut rx) = outbox(8);
        let writer = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(Outbound::Text(t)) = rx.recv().await {
                got.push(t.to_string());
            }
            got
        });
        let other = tx.clone();
        tokio::task::yield_now().await;
        tx.try_send(text("x")).unwrap();
        drop(tx);
        other.try_send(text("y")).unwrap();
        drop(other);
        let got =
            tokio::time::timeout(Duration::from_secs(5), writer).await.expect("the writer ends").unwrap();
        assert_eq!(got, ["x", "y"]);
    }
}
