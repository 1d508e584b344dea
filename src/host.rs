//! The host-thread pool: a fixed set of library-owned threads that run host
//! callbacks (and the renders that follow them), never the IO threads.
//!
//! Fixed threads matter to hosts: CPython keeps one thread state per OS thread and
//! Go caches its per-thread setup, so threads that come and go cost every call.
//!
//! Jobs come in two lanes. Callbacks of mounted sessions ([`Lane::Live`]) are always
//! queued: each session waits on at most one, so they are bounded by the sessions
//! alive. Work for new visitors ([`Lane::New`]: the auth hook, mounts) is refused once
//! `host_queue` such jobs wait, so a flood of page requests is answered with "busy"
//! instead of a growing queue. A free thread takes a live job first: new visitors are
//! turned away before live pages slow down.
//!
//! Threads are woken as cores can use them: a job is handed to a sleeping thread only
//! while fewer threads than the process has cores are making progress; otherwise it
//! waits for one of the running threads, which takes it as soon as its callback
//! returns, without sleeping in between. Every thread woken on a core that another
//! one is using costs two context switches and the cache, for no parallelism: four
//! threads on one core took turns on every event. A callback that runs longer than
//! [`STUCK`] (it waits on a database, say) no longer counts as progress, and a
//! sleeping thread takes the queued work: while work waits behind running jobs, one
//! watcher task per pool looks every [`STUCK`] (contract 1: a blocked callback holds
//! up its own session only).
//!
//! On Linux the pool's threads are `SCHED_BATCH`: a thread woken for a job does not
//! take the core from the IO thread that woke it, but waits until that thread has
//! read every frame that is ready and waits itself, then takes the jobs queued by
//! then in one go. Woken at once, it took the core on every event: two context
//! switches per event on one core. The IO threads keep their normal policy, so a
//! frame that arrives while a callback runs is scheduled as before: its IO thread
//! may preempt the callback. Threads a callback starts inherit the policy.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs on each pool thread as it ends, after its last job (see
/// [`HostPool::set_exit_hook`]).
pub type ExitHook = Arc<dyn Fn() + Send + Sync>;

thread_local! {
    static ON_HOST_THREAD: Cell<bool> = const { Cell::new(false) };
    /// The pool was quiet when this thread took its current job (see [`quiet`]).
    static TOOK_QUIET: Cell<bool> = const { Cell::new(true) };
}

/// How long the pool must have run no job for the next one to find it quiet.
pub const QUIET: Duration = Duration::from_millis(1);

/// Whether the job running on this thread found the pool quiet: no other job running or
/// queued, and none run for [`QUIET`] before it. On an idle server, the job's own
/// thread sends its patch rather than waking an IO thread to do it (that wake and its
/// cold caches are about a tenth of an idle server's latency); under load, an IO thread
/// writes what several jobs produced in one go, where writes from the pool would wake
/// it while the jobs run, on the same core, several times per batch. True outside the
/// pool (a callback run inline runs on the IO thread).
pub fn quiet() -> bool {
    TOOK_QUIET.with(|q| q.get())
}

/// True on a host-pool thread, i.e. inside (or right around) a host callback.
/// Calls that would wait for the pool itself (shutdown) refuse to run there.
pub fn on_host_thread() -> bool {
    ON_HOST_THREAD.with(|f| f.get())
}

/// Runs `f` (a host callback, with the `inline_callbacks` option) on the calling
/// thread as if on a host thread: calls that must not be made from a callback
/// (shutdown, waiting for the app) refuse there too.
pub fn run_inline<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ON_HOST_THREAD.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(ON_HOST_THREAD.with(|flag| flag.replace(true)));
    f()
}

/// Which queue a job waits in (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// A callback of a mounted session: never refused, run first.
    Live,
    /// Work for a new visitor (auth hook, mount): refused when `host_queue` wait.
    New,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `host_queue` new-visitor jobs are already waiting.
    Full,
    /// The pool has shut down.
    Closed,
}

/// How long a callback may run before its thread stops counting as making progress,
/// and another thread takes the work queued behind it.
pub const STUCK: Duration = Duration::from_millis(2);

/// One pool thread, as the queue sees it.
#[derive(Default)]
struct Slot {
    /// Set once the thread runs, to wake it.
    thread: Option<Thread>,
    /// When its current job started; `None` between jobs.
    started: Option<Instant>,
    /// Woken to take a job and not yet at the queue: counts as progress.
    called: bool,
}

/// The queue and what every thread is doing, under one lock.
struct State {
    live: VecDeque<Job>,
    new: VecDeque<Job>,
    /// No more jobs come: threads run what is queued, then end.
    closed: bool,
    slots: Vec<Slot>,
    /// Threads asleep until called, the most recent last (its cache is the warmest).
    idle: Vec<usize>,
    /// Threads allowed to make progress at once: the cores the process may use.
    parallel: usize,
    /// When the last job ended (see [`quiet`]).
    last_end: Option<Instant>,
}

impl State {
    fn queued(&self) -> bool {
        !self.live.is_empty() || !self.new.is_empty()
    }

    /// The next job, a live one whenever one waits.
    fn pop(&mut self) -> Option<Job> {
        self.live.pop_front().or_else(|| self.new.pop_front())
    }

    /// Threads running a job that started less than [`STUCK`] ago, or called to take
    /// one.
    fn progressing(&self, now: Instant) -> usize {
        self.slots
            .iter()
            .filter(|s| s.called || s.started.is_some_and(|t| now.saturating_duration_since(t) < STUCK))
            .count()
    }

    /// With a job queued: calls a sleeping thread when a core is free for it. True
    /// when it called one.
    fn dispatch(&mut self, now: Instant) -> bool {
        if self.queued() && self.progressing(now) < self.parallel {
            if let Some(i) = self.idle.pop() {
                self.slots[i].called = true;
                wake(&self.slots[i]);
                return true;
            }
        }
        false
    }

    /// Whether thread `i`, not running a job, takes the next one: when it was called
    /// for it, when it just finished one (it is one of the threads making progress),
    /// when a core is free, or when the pool is draining.
    fn takes_job(&self, i: usize, finished: bool, now: Instant) -> bool {
        self.queued()
            && (self.closed || finished || self.slots[i].called || self.progressing(now) < self.parallel)
    }
}

/// Makes the calling thread `SCHED_BATCH` (see the module docs), unless the process
/// chose another policy than the normal one for it.
fn yield_to_io_threads() {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls take the calling thread (pid 0) and a valid parameter.
    unsafe {
        if libc::sched_getscheduler(0) == libc::SCHED_OTHER {
            let normal = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(0, libc::SCHED_BATCH, &normal) != 0 {
                tracing::debug!(
                    "host thread kept its scheduling policy: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
}

fn wake(slot: &Slot) {
    if let Some(t) = &slot.thread {
        t.unpark();
    }
}

/// What the pool's threads and its submitters share.
struct Queue {
    state: Mutex<State>,
    metrics: Arc<Metrics>,
    /// A watcher task is looking after queued work (see [`Queue::watch`]).
    watching: AtomicBool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn gauge(&self, state: &State) {
        gauge(&self.metrics, state.live.len(), state.new.len());
    }

    /// Thread `i`'s next job; `None` once the pool is closed and drained. Between
    /// jobs the thread sleeps until called.
    fn next(&self, i: usize, mut finished: bool) -> Option<Job> {
        let mut state = self.lock();
        state.slots[i].started = None;
        if finished {
            state.last_end = Some(Instant::now());
        }
        loop {
            let now = Instant::now();
            if state.takes_job(i, finished, now) {
                let job = state.pop();
                let quiet = !state.queued()
                    && state.slots.iter().all(|s| s.started.is_none())
                    && state.last_end.is_none_or(|end| now.saturating_duration_since(end) >= QUIET);
                TOOK_QUIET.with(|q| q.set(quiet));
                let slot = &mut state.slots[i];
                slot.called = false;
                slot.started = Some(now);
                self.gauge(&state);
                return job;
            }
            finished = false;
            state.slots[i].called = false;
            if state.closed && !state.queued() {
                return None;
            }
            state.idle.push(i);
            drop(state);
            std::thread::park();
            state = self.lock();
            // Woken by a call or spuriously: off the idle list either way, and the
            // loop decides again.
            state.idle.retain(|&t| t != i);
        }
    }

    /// Queues a job in `lane`: true when a thread was called for it (see
    /// [`HostPool::run`]). A refused job is dropped unrun.
    fn submit(&self, lane: Lane, job: Job, new_limit: usize) -> Result<bool, Refused> {
        let mut state = self.lock();
        if state.closed {
            return Err(Refused::Closed);
        }
        match lane {
            Lane::Live => state.live.push_back(job),
            Lane::New if state.new.len() >= new_limit => return Err(Refused::Full),
            Lane::New => state.new.push_back(job),
        }
        let called = state.dispatch(Instant::now());
        self.gauge(&state);
        Ok(called)
    }

    /// Looks again for a core free for queued work: a running callback may have
    /// passed [`STUCK`] since the work was queued. True while work still waits.
    fn unstick(&self) -> bool {
        let mut state = self.lock();
        state.dispatch(Instant::now());
        state.queued() && !state.closed
    }

    /// Makes sure one task looks again every [`STUCK`] while work waits (see
    /// [`Queue::unstick`]), and ends when none does: one watcher for all the jobs
    /// queued behind running work, not a timer each (a fan-out queues thousands).
    fn watch(queue: &Arc<Queue>) {
        if queue.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        // Dropped unfinished (its runtime shut down while it slept), the watcher
        // lets the next queued job start another.
        struct Watcher {
            queue: Arc<Queue>,
            holds_flag: Cell<bool>,
        }
        impl Drop for Watcher {
            fn drop(&mut self) {
                if self.holds_flag.get() {
                    self.queue.watching.store(false, Ordering::Release);
                }
            }
        }
        let watcher = Watcher { queue: Arc::clone(queue), holds_flag: Cell::new(true) };
        tokio::spawn(async move {
            let queue = &watcher.queue;
            loop {
                tokio::time::sleep(STUCK).await;
                if queue.unstick() {
                    continue;
                }
                queue.watching.store(false, Ordering::Release);
                // A job queued between the look and the store found the watcher
                // still there and left it to this one.
                let waiting = {
                    let state = queue.lock();
                    state.queued() && !state.closed
                };
                if !waiting || queue.watching.swap(true, Ordering::AcqRel) {
                    // Not this watcher's flag any more: a newer one may hold it.
                    watcher.holds_flag.set(false);
                    return;
                }
            }
        });
    }

    /// No more jobs: every thread wakes to run what is queued and end.
    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.idle.clear();
        for slot in &state.slots {
            wake(slot);
        }
    }
}

fn gauge(metrics: &Metrics, live: usize, new: usize) {
    metrics.host_waiting_live.store(live as i64, Ordering::Relaxed);
    metrics.host_waiting_new.store(new as i64, Ordering::Relaxed);
}

/// The pool's live threads, and what must outlive them.
#[derive(Default)]
struct Running {
    threads: usize,
    kept: Vec<Box<dyn Send>>,
}

pub struct HostPool {
    queue: Arc<Queue>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    exit_hook: Arc<Mutex<Option<ExitHook>>>,
    new_limit: usize,
    /// Threads not yet ended, so shutdown can wait for them with a bound (a
    /// `JoinHandle` can only be joined without one).
    running: Arc<(Mutex<Running>, Condvar)>,
    /// Set when shutdown stops waiting: threads still in a callback then drop the
    /// jobs queued behind it instead of running them.
    abandoned: Arc<AtomicBool>,
}

impl HostPool {
    /// `size` threads; at most `new_limit` new-visitor jobs wait at once. The
    /// queues' lengths are kept in `metrics`. As many threads run at once as the
    /// process has cores (see the module docs).
    pub fn new(size: usize, new_limit: usize, metrics: Arc<Metrics>, name: &str) -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_parallelism(size, cores, new_limit, metrics, name)
    }

    /// [`new`](Self::new) with `parallel` threads making progress at once.
    pub fn with_parallelism(
        size: usize,
        parallel: usize,
        new_limit: usize,
        metrics: Arc<Metrics>,
        name: &str,
    ) -> std::io::Result<Self> {
        let queue = Arc::new(Queue {
            state: Mutex::new(State {
                live: VecDeque::new(),
                new: VecDeque::new(),
                closed: false,
                slots: (0..size).map(|_| Slot::default()).collect(),
                idle: Vec::with_capacity(size),
                parallel: parallel.max(1),
                last_end: None,
            }),
            metrics,
            watching: AtomicBool::new(false),
        });
        let exit_hook: Arc<Mutex<Option<ExitHook>>> = Arc::default();
        let running = Arc::new((Mutex::new(Running::default()), Condvar::new()));
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(size);
        for i in 0..size {
            let queue = queue.clone();
            let exit_hook = exit_hook.clone();
            let counted = running.clone();
            let abandoned = abandoned.clone();
            running.0.lock().unwrap_or_else(|e| e.into_inner()).threads += 1;
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                ON_HOST_THREAD.with(|f| f.set(true));
                yield_to_io_threads();
                queue.lock().slots[i].thread = Some(std::thread::current());
                let mut finished = false;
                while let Some(job) = queue.next(i, finished) {
                    finished = true;
                    if abandoned.load(Ordering::SeqCst) {
                        // Shutdown gave up on this thread: what is queued behind its
                        // late callback is dropped unrun.
                        continue;
                    }
                    // Jobs catch host panics themselves; this keeps the thread alive
                    // (and the pool its size) if anything else in one panics.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a host-pool job panicked");
                    }
                }
                let hook = exit_hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(hook) = hook {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook())).is_err() {
                        tracing::error!("a host thread's exit hook panicked");
                    }
                }
                let (count, ended) = &*counted;
                let kept = {
                    let mut running = count.lock().unwrap_or_else(|e| e.into_inner());
                    running.threads -= 1;
                    if running.threads == 0 {
                        std::mem::take(&mut running.kept)
                    } else {
                        Vec::new()
                    }
                };
                ended.notify_all();
                // The last thread out lets go of what was kept for the late ones.
                drop(kept);
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    running.0.lock().unwrap_or_else(|e| e.into_inner()).threads -= 1;
                    return Err(e);
                }
            }
        }
        Ok(HostPool { queue, threads: Mutex::new(threads), exit_hook, new_limit, running, abandoned })
    }

    /// Sets what each pool thread runs as it ends (at shutdown, after its last job):
    /// a host releases what it keeps per thread. Replaces an earlier hook.
    pub fn set_exit_hook(&self, hook: Option<ExitHook>) {
        *self.exit_hook.lock().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    /// Pool threads not yet ended: after a shutdown that timed out, the ones still
    /// finishing a callback.
    pub fn running(&self) -> usize {
        self.running.0.lock().unwrap_or_else(|e| e.into_inner()).threads
    }

    /// Keeps `value` alive until every pool thread has ended (dropped now if none
    /// runs): after a shutdown that timed out, what the late callbacks may still use.
    pub fn keep_until_ended(&self, value: Box<dyn Send>) {
        let mut running = self.running.0.lock().unwrap_or_else(|e| e.into_inner());
        if running.threads > 0 {
            running.kept.push(value);
            return;
        }
        drop(running);
        drop(value);
    }

    /// Queues a job in `lane`. A refused job is dropped unrun.
    #[cfg(test)]
    pub fn submit_to(&self, lane: Lane, job: impl FnOnce() + Send + 'static) -> Result<(), Refused> {
        self.queue.submit(lane, Box::new(job), self.new_limit).map(drop)
    }

    /// Runs `job` on the pool and waits for what it returns. While a job waits behind
    /// running work, the pool looks again every [`STUCK`] for a thread to take queued
    /// work: it may be queued behind a callback that blocks. `Closed` when the pool
    /// shut down before running it. Called within a tokio runtime (the watcher is a
    /// task).
    pub async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(job());
        });
        if !self.queue.submit(lane, job, self.new_limit)? {
            // Queued behind running work, which may block: the pool's watcher looks
            // after it. (A called thread takes a job at once: this one, or one queued
            // ahead of it, and how long that runs holds up only its own session.)
            Queue::watch(&self.queue);
        }
        rx.await.map_err(|_| Refused::Closed)
    }

    /// Runs the jobs already queued and lets every thread end, waiting until
    /// `deadline` (None: without a limit). Threads still running a job then are
    /// detached, not joined: they end on their own once their callback returns,
    /// dropping the jobs queued behind it. Returns how many were left running.
    /// Idempotent (a second call finds no threads).
    pub fn shutdown(&self, deadline: Option<Instant>) -> usize {
        self.queue.close();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        if threads.is_empty() {
            return 0;
        }
        let (count, ended) = &*self.running;
        let mut left = count.lock().unwrap_or_else(|e| e.into_inner());
        while left.threads > 0 {
            match deadline {
                None => left = ended.wait(left).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    left = ended.wait_timeout(left, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
        let stuck = left.threads;
        drop(left);
        if stuck > 0 {
            self.abandoned.store(true, Ordering::SeqCst);
            // Dropping a JoinHandle detaches its thread.
            drop(threads);
            return stuck;
        }
        for t in threads {
            let _ = t.join();
        }
        0
    }
}

impl Drop for HostPool {
    fn drop(&mut self) {
        // Runs on whichever thread lets go of the pool last. On one of the pool's
        // own threads, waiting would wait for itself: the threads are detached.
        let deadline = on_host_thread().then(Instant::now);
        self.shutdown(deadline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn state(parallel: usize, threads: usize) -> State {
        State {
            live: VecDeque::new(),
            new: VecDeque::new(),
            closed: false,
            slots: (0..threads).map(|_| Slot::default()).collect(),
            idle: Vec::new(),
            parallel,
            last_end: None,
        }
    }

    fn called(state: &State) -> Vec<usize> {
        (0..state.slots.len()).filter(|&i| state.slots[i].called).collect()
    }

    /// The pool wakes a thread for a job only while a core is free for it; a thread
    /// whose callback has run past STUCK does not count.
    #[test]
    fn a_job_wakes_a_thread_only_when_a_core_is_free() {
        let now = Instant::now();
        // One core, one thread running a job that just started: nobody is called.
        let mut s = state(1, 4);
        s.slots[0].started = Some(now);
        s.idle = vec![1, 2, 3];
        s.live.push_back(Box::new(|| {}));
        s.dispatch(now);
        assert_eq!(called(&s), Vec::<usize>::new());
        // Once the running job has taken longer than STUCK, a look calls the most
        // recently idle thread (its cache is the warmest), and only one.
        let later = now + STUCK + Duration::from_millis(1);
        s.dispatch(later);
        assert_eq!(called(&s), [3]);
        s.dispatch(later);
        assert_eq!(called(&s), [3], "a called thread counts as making progress");

        // Two cores: the second job gets the second core at once.
        let mut s = state(2, 4);
        s.slots[0].started = Some(now);
        s.idle = vec![1, 2, 3];
        s.live.push_back(Box::new(|| {}));
        s.dispatch(now);
        assert_eq!(called(&s), [3]);
        s.dispatch(now);
        assert_eq!(called(&s), [3]);
        // Nothing queued: nobody is called.
        let mut s = state(2, 2);
        s.idle = vec![0, 1];
        s.dispatch(now);
        assert_eq!(called(&s), Vec::<usize>::new());
    }

    /// A thread that finishes a job takes the next one without sleeping; an idle one
    /// not called leaves it to the threads making progress.
    #[test]
    fn the_running_thread_takes_what_queued_behind_it() {
        let now = Instant::now();
        let mut s = state(1, 2);
        s.slots[1].started = Some(now);
        s.live.push_back(Box::new(|| {}));
        assert!(s.takes_job(0, true, now), "just finished: takes it");
        assert!(!s.takes_job(0, false, now), "idle, not called, the core is busy");
        s.slots[0].called = true;
        assert!(s.takes_job(0, false, now), "called");
        s.slots[0].called = false;
        s.closed = true;
        assert!(s.takes_job(0, false, now), "draining at shutdown");
    }

    /// A job queued behind a callback that does not return still runs (contract 1):
    /// on one core with two threads, its waiter's look after STUCK calls the other.
    /// The blocked callback is queued with no waiter, or waited for: then a called
    /// thread took it at once, and its own waiter watches nothing.
    #[tokio::test]
    async fn a_blocked_callback_does_not_hold_back_the_queue() {
        for waited in [false, true] {
            let pool = Arc::new(
                HostPool::with_parallelism(2, 1, 8, Arc::new(Metrics::default()), "test-host").unwrap(),
            );
            // Both threads asleep first, so neither finds the second job on its own.
            let deadline = Instant::now() + Duration::from_secs(10);
            while pool.queue.lock().idle.len() < 2 {
                assert!(Instant::now() < deadline, "the pool's threads did not start");
                tokio::task::yield_now().await;
            }
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
            let blocker = move || {
                let _ = started_tx.send(());
                // Blocked until the test lets go (or gives up).
                let _ = release_rx.recv_timeout(Duration::from_secs(30));
            };
            let blocked = if waited {
                let pool = pool.clone();
                Some(tokio::spawn(async move { pool.run(Lane::Live, blocker).await }))
            } else {
                pool.submit_to(Lane::Live, blocker).unwrap();
                None
            };
            tokio::time::timeout(Duration::from_secs(10), started_rx).await.unwrap().unwrap();
            let ran = tokio::time::timeout(Duration::from_secs(10), pool.run(Lane::Live, || 7)).await;
            release_tx.send(()).unwrap();
            assert_eq!(
                ran.expect("the second job ran while the first was blocked"),
                Ok(7),
                "waited: {waited}"
            );
            if let Some(blocked) = blocked {
                assert_eq!(blocked.await.unwrap(), Ok(()));
            }
            assert_eq!(pool.shutdown(Some(Instant::now() + Duration::from_secs(10))), 0);
        }
    }

    /// Jobs queued behind a blocked callback share one watcher, which gets them all
    /// run, ends once nothing waits, and comes back for the next blocked callback.
    #[tokio::test]
    async fn one_watcher_gets_every_waiting_job_run_and_then_ends() {
        let pool =
            Arc::new(HostPool::with_parallelism(2, 1, 8, Arc::new(Metrics::default()), "test-host").unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.queue.lock().idle.len() < 2 {
            assert!(Instant::now() < deadline, "the pool's threads did not start");
            tokio::task::yield_now().await;
        }
        for round in 0..2 {
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
            pool.submit_to(Lane::Live, move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv_timeout(Duration::from_secs(30));
            })
            .unwrap();
            tokio::time::timeout(Duration::from_secs(10), started_rx).await.unwrap().unwrap();
            let waiting: Vec<_> = (0..50)
                .map(|i| {
                    let pool = pool.clone();
                    tokio::spawn(async move { pool.run(Lane::Live, move || i).await })
                })
                .collect();
            for (i, job) in waiting.into_iter().enumerate() {
                let ran = tokio::time::timeout(Duration::from_secs(10), job).await;
                assert_eq!(ran.expect("ran behind the blocked callback").unwrap(), Ok(i), "round {round}");
            }
            release_tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while pool.queue.watching.load(Ordering::Acquire) {
                assert!(
                    Instant::now() < deadline,
                    "the watcher kept watching an empty queue (round {round})"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(pool.shutdown(Some(Instant::now() + Duration::from_secs(10))), 0);
    }

    /// A watcher whose runtime ends while it waits gives up its claim: the next job
    /// queued behind running work gets a watcher of its own.
    #[test]
    fn a_watcher_dropped_with_its_runtime_gives_up_its_claim() {
        let pool =
            Arc::new(HostPool::with_parallelism(2, 2, 8, Arc::new(Metrics::default()), "test-host").unwrap());
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (started_tx, started_rx) = mpsc::channel::<()>();
        // Both threads blocked: a job queued now waits with no thread to call.
        for _ in 0..2 {
            let (started, release) = (started_tx.clone(), release_rx.clone());
            pool.submit_to(Lane::Live, move || {
                let _ = started.send(());
                let _ = release.lock().unwrap().recv_timeout(Duration::from_secs(30));
            })
            .unwrap();
            started_rx.recv_timeout(Duration::from_secs(10)).expect("a blocker started");
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let waiter = pool.clone();
            tokio::spawn(async move { waiter.run(Lane::Live, || ()).await });
            let deadline = Instant::now() + Duration::from_secs(10);
            while !pool.queue.watching.load(Ordering::Acquire) {
                assert!(Instant::now() < deadline, "no watcher for the queued job");
                tokio::task::yield_now().await;
            }
        });
        drop(runtime);
        assert!(!pool.queue.watching.load(Ordering::Acquire), "the dropped watcher kept its claim");
        for _ in 0..2 {
            release_tx.send(()).unwrap();
        }
        assert_eq!(pool.shutdown(Some(Instant::now() + Duration::from_secs(10))), 0);
    }

    /// A pool thread does not take the core from the IO thread that wakes it (see
    /// the module docs).
    #[cfg(target_os = "linux")]
    #[test]
    fn pool_threads_yield_to_the_io_threads() {
        let pool = HostPool::with_parallelism(1, 1, 8, Arc::new(Metrics::default()), "test-host").unwrap();
        let (tx, rx) = mpsc::channel();
        // SAFETY: reads the calling thread's policy.
        pool.submit_to(Lane::Live, move || tx.send(unsafe { libc::sched_getscheduler(0) }).unwrap()).unwrap();
        let policy = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(policy, libc::SCHED_BATCH);
        // SAFETY: as above, on the test's own thread.
        assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER, "only the pool's threads");
        assert_eq!(pool.shutdown(Some(Instant::now() + Duration::from_secs(10))), 0);
    }

    /// Live jobs go first, new ones are refused beyond the limit, and shutdown runs
    /// what was queued before the threads end.
    #[test]
    fn lanes_limits_and_shutdown_keep_their_order() {
        let pool = HostPool::with_parallelism(1, 1, 2, Arc::new(Metrics::default()), "test-host").unwrap();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let (order_tx, order_rx) = mpsc::channel::<&'static str>();
        pool.submit_to(Lane::Live, move || {
            let _ = gate_rx.recv_timeout(Duration::from_secs(30));
        })
        .unwrap();
        for name in ["new-1", "new-2"] {
            let tx = order_tx.clone();
            pool.submit_to(Lane::New, move || tx.send(name).unwrap()).unwrap();
        }
        assert_eq!(pool.submit_to(Lane::New, || {}), Err(Refused::Full));
        let tx = order_tx.clone();
        pool.submit_to(Lane::Live, move || tx.send("live").unwrap()).unwrap();
        gate_tx.send(()).unwrap();
        assert_eq!(pool.shutdown(Some(Instant::now() + Duration::from_secs(10))), 0);
        assert_eq!(order_rx.try_iter().collect::<Vec<_>>(), ["live", "new-1", "new-2"]);
        assert_eq!(pool.submit_to(Lane::Live, || {}), Err(Refused::Closed));
    }

    /// A job on an idle pool finds it quiet (its thread sends its own patch); one
    /// that runs beside another does not.
    #[test]
    fn only_a_job_on_an_idle_pool_finds_it_quiet() {
        let pool = HostPool::with_parallelism(2, 2, 8, Arc::new(Metrics::default()), "test-host").unwrap();
        let (tx, rx) = mpsc::channel();
        let first = tx.clone();
        pool.submit_to(Lane::Live, move || first.send(("alone", quiet())).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), ("alone", true));

        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        pool.submit_to(Lane::Live, move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
        })
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let beside = tx.clone();
        pool.submit_to(Lane::Live, move || beside.send(("beside", quiet())).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), ("beside", false));
        release_tx.send(()).unwrap();
        assert_eq!(pool.shutdown(Some(Instant::now() + Duration::from_secs(10))), 0);
        // Outside the pool (a callback run inline), a job is on its IO thread already.
        assert!(quiet());
    }
}
