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

use crossbeam_channel::{Receiver, Sender};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::metrics::Metrics;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs on each pool thread as it ends, after its last job (see
/// [`HostPool::set_exit_hook`]).
pub type ExitHook = Arc<dyn Fn() + Send + Sync>;

thread_local! {
    static ON_HOST_THREAD: Cell<bool> = const { Cell::new(false) };
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

/// The two lanes' senders; dropped together at shutdown.
struct Senders {
    live: Sender<Job>,
    new: Sender<Job>,
}

/// What each pool thread takes jobs from.
struct Lanes {
    live: Receiver<Job>,
    new: Receiver<Job>,
    metrics: Arc<Metrics>,
}

impl Lanes {
    /// The next job, a live one whenever one waits; `None` once the pool has shut
    /// down and both lanes are drained.
    fn next(&self) -> Option<Job> {
        let job = self.live.try_recv().ok().or_else(|| {
            let picked = crossbeam_channel::select! {
                recv(self.live) -> job => job,
                recv(self.new) -> job => job,
            };
            // An error means both senders are gone (they go together): drain what is
            // left, live jobs first.
            picked.or_else(|_| self.live.try_recv()).or_else(|_| self.new.try_recv()).ok()
        });
        gauge(&self.metrics, self.live.len(), self.new.len());
        job
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
    tx: Mutex<Option<Senders>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    exit_hook: Arc<Mutex<Option<ExitHook>>>,
    new_limit: usize,
    metrics: Arc<Metrics>,
    /// Threads not yet ended, so shutdown can wait for them with a bound (a
    /// `JoinHandle` can only be joined without one).
    running: Arc<(Mutex<Running>, Condvar)>,
    /// Set when shutdown stops waiting: threads still in a callback then drop the
    /// jobs queued behind it instead of running them.
    abandoned: Arc<AtomicBool>,
}

impl HostPool {
    /// `size` threads; at most `new_limit` new-visitor jobs wait at once. The
    /// queues' lengths are kept in `metrics`.
    pub fn new(size: usize, new_limit: usize, metrics: Arc<Metrics>, name: &str) -> std::io::Result<Self> {
        let (live_tx, live_rx) = crossbeam_channel::unbounded::<Job>();
        let (new_tx, new_rx) = crossbeam_channel::unbounded::<Job>();
        let exit_hook: Arc<Mutex<Option<ExitHook>>> = Arc::default();
        let running = Arc::new((Mutex::new(Running::default()), Condvar::new()));
        let abandoned = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(size);
        for i in 0..size {
            let lanes = Lanes { live: live_rx.clone(), new: new_rx.clone(), metrics: metrics.clone() };
            let exit_hook = exit_hook.clone();
            let counted = running.clone();
            let abandoned = abandoned.clone();
            running.0.lock().unwrap_or_else(|e| e.into_inner()).threads += 1;
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                ON_HOST_THREAD.with(|f| f.set(true));
                while let Some(job) = lanes.next() {
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
        Ok(HostPool {
            tx: Mutex::new(Some(Senders { live: live_tx, new: new_tx })),
            threads: Mutex::new(threads),
            exit_hook,
            new_limit,
            metrics,
            running,
            abandoned,
        })
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
    pub fn submit_to(&self, lane: Lane, job: impl FnOnce() + Send + 'static) -> Result<(), Refused> {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(senders) = guard.as_ref() else { return Err(Refused::Closed) };
        // Submitters take turns on the lock and threads only take jobs out, so the
        // length checked here can only shrink before the send.
        let sent = match lane {
            Lane::Live => senders.live.send(Box::new(job)),
            Lane::New if senders.new.len() >= self.new_limit => return Err(Refused::Full),
            Lane::New => senders.new.send(Box::new(job)),
        };
        gauge(&self.metrics, senders.live.len(), senders.new.len());
        sent.map_err(|_| Refused::Closed)
    }

    /// Runs the jobs already queued and lets every thread end, waiting until
    /// `deadline` (None: without a limit). Threads still running a job then are
    /// detached, not joined: they end on their own once their callback returns,
    /// dropping the jobs queued behind it. Returns how many were left running.
    /// Idempotent (a second call finds no threads).
    pub fn shutdown(&self, deadline: Option<Instant>) -> usize {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
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
