//! A branch of a task that is polled only when something it waits on woke it.
//!
//! A socket's task waits on two things at once: the client's next frame and the
//! frames its session queues for it. Polled as one future, every frame the session
//! queues (a patch, each of a broadcast's ten thousand) would also poll the reading
//! side, which walks the WebSocket's read path and the socket's readiness only to
//! find nothing to read. [`Woken`] gives the reading side a waker of its own: its
//! wakes are noted, then passed on to the task, and a poll of the task polls the
//! branch only when one was noted since (as `FuturesUnordered` does for its futures).

use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// `fut`, polled only after its own waker was woken (and on its first poll).
pub(crate) struct Woken<F> {
    fut: F,
    flag: Arc<Flag>,
    waker: Waker,
}

/// Whether the branch was woken since its last poll, and the task to pass wakes on to.
struct Flag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Noted before the task is woken: the poll that follows sees it.
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<F: Future + Unpin> Woken<F> {
    pub(crate) fn new(fut: F) -> Self {
        let flag = Arc::new(Flag { woken: AtomicBool::new(true), task: AtomicWaker::new() });
        let waker = Waker::from(flag.clone());
        Woken { fut, flag, waker }
    }

    /// Polls the branch if it was woken since its last poll; `Pending` otherwise.
    pub(crate) fn poll_woken(&mut self, cx: &mut Context<'_>) -> Poll<F::Output> {
        // The task's waker first, so a wake that comes after the flag is read reaches it.
        self.flag.task.register(cx.waker());
        if !self.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        Pin::new(&mut self.fut).poll(&mut Context::from_waker(&self.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its polls; ready once `ready` is set, and wakes through the waker it
    /// was last polled with when `wake` is called.
    #[derive(Default)]
    struct Probe {
        polls: AtomicUsize,
        ready: AtomicBool,
        waker: std::sync::Mutex<Option<Waker>>,
    }

    impl Probe {
        fn wake(&self) {
            if let Some(w) = self.waker.lock().unwrap().take() {
                w.wake();
            }
        }
    }

    struct Polled(Arc<Probe>);

    impl Future for Polled {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.0.polls.fetch_add(1, Ordering::SeqCst);
            *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.0.ready.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    /// The task around the branch: counts the wakes that reach it.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_branch_is_polled_first_and_then_only_after_its_own_wake() {
        let probe = Arc::new(Probe::default());
        let task = Arc::new(Task::default());
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let mut branch = Woken::new(Polled(probe.clone()));

        assert!(branch.poll_woken(&mut cx).is_pending());
        assert_eq!(probe.polls.load(Ordering::SeqCst), 1, "the first poll reaches the branch");

        // The task is polled for something else (a frame to write): the branch is not.
        for _ in 0..3 {
            assert!(branch.poll_woken(&mut cx).is_pending());
        }
        assert_eq!(probe.polls.load(Ordering::SeqCst), 1, "no poll without a wake of its own");

        // Its own wake reaches the task, and buys the branch one poll.
        probe.wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1, "the wake is passed on to the task");
        assert!(branch.poll_woken(&mut cx).is_pending());
        assert_eq!(probe.polls.load(Ordering::SeqCst), 2);
        assert!(branch.poll_woken(&mut cx).is_pending());
        assert_eq!(probe.polls.load(Ordering::SeqCst), 2, "the wake was used up by one poll");

        probe.ready.store(true, Ordering::SeqCst);
        probe.wake();
        assert!(branch.poll_woken(&mut cx).is_ready());
        assert_eq!(probe.polls.load(Ordering::SeqCst), 3);
    }
}
