//! The host-thread pool: a fixed set of library-owned threads that run host
//! callbacks (and the renders that follow them), never the IO threads.
//!
//! Fixed threads matter to hosts: CPython keeps one thread state per OS thread and
//! Go caches its per-thread setup, so threads that come and go cost every call.

use crossbeam_channel::{Receiver, Sender};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

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

pub struct HostPool {
    tx: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    exit_hook: Arc<Mutex<Option<ExitHook>>>,
}

impl HostPool {
    pub fn new(size: usize, name: &str) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let exit_hook: Arc<Mutex<Option<ExitHook>>> = Arc::default();
        let mut threads = Vec::with_capacity(size);
        for i in 0..size {
            let rx: Receiver<Job> = rx.clone();
            let exit_hook = exit_hook.clone();
            threads.push(std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                ON_HOST_THREAD.with(|f| f.set(true));
                while let Ok(job) = rx.recv() {
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
            })?);
        }
        Ok(HostPool { tx: Mutex::new(Some(tx)), threads: Mutex::new(threads), exit_hook })
    }

    /// Sets what each pool thread runs as it ends (at shutdown, after its last job):
    /// a host releases what it keeps per thread. Replaces an earlier hook.
    pub fn set_exit_hook(&self, hook: Option<ExitHook>) {
        *self.exit_hook.lock().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    /// Queues a job; false once the pool has shut down (the job is dropped unrun).
    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> bool {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(tx) => tx.send(Box::new(job)).is_ok(),
            None => false,
        }
    }

    /// Runs the jobs already queued, then joins every thread. Idempotent.
    pub fn shutdown(&self) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for HostPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}
