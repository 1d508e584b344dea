//! The bounded queues every session and socket has: a session's mailbox (many
//! senders, its actor receives) and a socket's outbound frames (the session and the
//! socket's reader send, its writer receives).
//!
//! A tokio mpsc channel allocates a block of 32 slots when it is made. Every session
//! has one queue of each kind and an idle one holds nothing, so these allocate only
//! when items arrive, and give most of it back once a burst has drained.
//!
//! The one receiver waits on an [`AtomicWaker`], not a `Notify`: every event passes
//! through two of these queues, and a `Notify` takes a lock to register, check and
//! drop its waiter each time the receiving task is polled.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::sync::Notify;

/// Why an item was not queued; it comes back with the refusal.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TrySend<T> {
    /// `capacity` items are waiting.
    Full(T),
    /// The receiver is gone (or closed).
    Closed(T),
}

struct Shared<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    senders: AtomicUsize,
    closed: AtomicBool,
    /// Wakes the receiver: an item arrived, or the last sender left.
    ready: AtomicWaker,
    /// Wakes a sender waiting for room: an item was taken, or the receiver closed.
    room: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue for at most `capacity` items.
pub(crate) fn queue<T>(capacity: usize) -> (QueueTx<T>, QueueRx<T>) {
    let shared = Arc::new(Shared {
        items: Mutex::new(VecDeque::new()),
        capacity: capacity.max(1),
        senders: AtomicUsize::new(1),
        closed: AtomicBool::new(false),
        ready: AtomicWaker::new(),
        room: Notify::new(),
    });
    (QueueTx(shared.clone()), QueueRx(shared))
}

/// The sending side; clones share the queue.
pub(crate) struct QueueTx<T>(Arc<Shared<T>>);

impl<T> QueueTx<T> {
    /// Queues `item` without waiting.
    pub fn try_send(&self, item: T) -> Result<(), TrySend<T>> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(TrySend::Closed(item));
        }
        {
            let mut items = self.0.lock();
            if items.len() >= self.0.capacity {
                return Err(TrySend::Full(item));
            }
            items.push_back(item);
        }
        // The receiver registers before it looks: it either sees the item or is woken.
        self.0.ready.wake();
        Ok(())
    }

    /// Queues `item`, waiting while the queue is full; gives it back when the
    /// receiver is gone. It tries at once, when called, not when first polled: the
    /// future then holds the item only when it must wait, and boxed (a full queue is
    /// rare, and the wait inline would take room in every task that sends: each
    /// session's, each socket's, for their whole lives).
    pub fn send(&self, item: T) -> impl std::future::Future<Output = Result<(), T>> + '_ {
        let waiting = match self.try_send(item) {
            Ok(()) => Ok(None),
            Err(TrySend::Closed(back)) => Err(back),
            Err(TrySend::Full(back)) => Ok(Some(Box::pin(self.send_when_room(back)))),
        };
        async move {
            match waiting {
                Ok(None) => Ok(()),
                Err(back) => Err(back),
                Ok(Some(wait)) => wait.await,
            }
        }
    }

    async fn send_when_room(&self, mut item: T) -> Result<(), T> {
        loop {
            let room = self.0.room.notified();
            tokio::pin!(room);
            // Registered before trying, so room made in between is not missed.
            room.as_mut().enable();
            match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySend::Closed(back)) => return Err(back),
                Err(TrySend::Full(back)) => item = back,
            }
            room.await;
        }
    }

    /// Whether `other` sends to the same queue.
    pub fn same_queue(&self, other: &QueueTx<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Clone for QueueTx<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        QueueTx(self.0.clone())
    }
}

impl<T> Drop for QueueTx<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ready.wake();
        }
    }
}

/// The receiving side.
pub(crate) struct QueueRx<T>(Arc<Shared<T>>);

impl<T> QueueRx<T> {
    /// The next item; `None` once every sender is gone and the queue is empty.
    /// Cancel-safe: dropped before it resolves, it takes nothing.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // Registered before looking, so an item sent in between wakes this task.
        self.0.ready.register(cx.waker());
        if let Some(item) = self.try_recv() {
            return Poll::Ready(Some(item));
        }
        if self.0.senders.load(Ordering::Acquire) == 0 {
            // An item sent just before the last sender left is still delivered.
            return Poll::Ready(self.try_recv());
        }
        Poll::Pending
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        let item = {
            let mut items = self.0.lock();
            let item = items.pop_front();
            // A burst may have grown the queue; an idle one keeps only a little.
            if items.is_empty() && items.capacity() > 16 {
                items.shrink_to(4);
            }
            item
        };
        if item.is_some() {
            self.0.room.notify_one();
        }
        item
    }

    /// Refuses new items from now on; those already queued can still be taken.
    pub fn close(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.room.notify_waiters();
    }
}

impl<T> Drop for QueueRx<T> {
    fn drop(&mut self) {
        self.close();
        let dropped = std::mem::take(&mut *self.0.lock());
        drop(dropped);
    }
}

/// A socket's order to drop its connection at once: given once by its session (the
/// client is not reading), waited on by the socket's task, which looks at it every
/// time it is polled, so it costs an atomic load and no lock.
#[derive(Default)]
pub(crate) struct Kill {
    given: AtomicBool,
    waker: AtomicWaker,
}

impl Kill {
    /// Gives the order; the waiting task, or the next one to wait, sees it.
    pub fn give(&self) {
        self.given.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Resolves once the order is given (at once if it was). One task waits at a time.
    pub async fn given(&self) {
        std::future::poll_fn(|cx| {
            self.waker.register(cx.waker());
            if self.given.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_kill_wakes_its_waiter_and_stays_given() {
        let kill = Arc::new(Kill::default());
        let waiter = tokio::spawn({
            let kill = kill.clone();
            async move { kill.given().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "not given yet");
        kill.give();
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("the waiter wakes").unwrap();
        // Given once, it stays given: a later wait ends at once.
        tokio::time::timeout(Duration::from_secs(5), kill.given()).await.expect("still given");
    }

    #[tokio::test]
    async fn delivers_in_order_and_refuses_beyond_its_capacity() {
        let (tx, mut rx) = queue(2);
        let other = tx.clone();
        tx.try_send("a").unwrap();
        other.try_send("b").unwrap();
        assert_eq!(tx.try_send("c"), Err(TrySend::Full("c")));
        assert_eq!(rx.recv().await, Some("a"));
        assert_eq!(rx.try_recv(), Some("b"));
        assert_eq!(rx.try_recv(), None);
        assert!(tx.same_queue(&other) && !tx.same_queue(&queue(1).0));
        drop(rx);
        assert_eq!(tx.try_send("d"), Err(TrySend::Closed("d")));
        assert_eq!(tx.send("e").await, Err("e"));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_an_item_and_ends_with_the_last_sender() {
        let (tx, mut rx) = queue(8);
        let receiver = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(item) = rx.recv().await {
                got.push(item);
            }
            got
        });
        let other = tx.clone();
        tokio::task::yield_now().await;
        tx.try_send(1).unwrap();
        drop(tx);
        other.send(2).await.unwrap();
        drop(other);
        let got =
            tokio::time::timeout(Duration::from_secs(5), receiver).await.expect("the receiver ends").unwrap();
        assert_eq!(got, [1, 2]);
    }

    #[tokio::test]
    async fn a_sender_waits_for_room_and_a_close_lets_it_go() {
        let (tx, mut rx) = queue(1);
        tx.try_send(1).unwrap();
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(2).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the queue is full");
        assert_eq!(rx.recv().await, Some(1));
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("room was made").unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));

        tx.try_send(3).unwrap();
        let refused = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(4).await }
        });
        tokio::task::yield_now().await;
        rx.close();
        let back =
            tokio::time::timeout(Duration::from_secs(5), refused).await.expect("the close ends the wait");
        assert_eq!(back.unwrap(), Err(4));
        assert_eq!(rx.try_recv(), Some(3), "what was queued before the close is still taken");
    }
}
