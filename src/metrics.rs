//! Counters for `/_live/metrics` (Prometheus text format), enabled by the `metrics`
//! option. Relaxed atomics: each is an independent count, read for monitoring only.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub sockets: AtomicI64,
    pub mounts: AtomicU64,
    pub events: AtomicU64,
    pub infos: AtomicU64,
    pub patches: AtomicU64,
    pub callback_errors: AtomicU64,
    pub rate_limited: AtomicU64,
    pub mailbox_overflows: AtomicU64,
    pub slow_clients: AtomicU64,
    pub sessions_refused: AtomicU64,
}

pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn render(&self, sessions: usize) -> String {
        let mut out = String::new();
        let mut line = |name: &str, kind: &str, help: &str, value: String| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        line("mizulive_sessions", "gauge", "Live sessions, with or without a socket.", sessions.to_string());
        line(
            "mizulive_sockets",
            "gauge",
            "Open WebSockets.",
            self.sockets.load(Ordering::Relaxed).to_string(),
        );
        line("mizulive_mounts_total", "counter", "Sessions mounted.", get(&self.mounts));
        line("mizulive_events_total", "counter", "Client events handled.", get(&self.events));
        line("mizulive_infos_total", "counter", "Pub/sub messages and timers handled.", get(&self.infos));
        line("mizulive_patches_total", "counter", "Patch frames produced.", get(&self.patches));
        line(
            "mizulive_callback_errors_total",
            "counter",
            "Host callbacks that failed.",
            get(&self.callback_errors),
        );
        line(
            "mizulive_rate_limited_total",
            "counter",
            "Events refused by the rate limit.",
            get(&self.rate_limited),
        );
        line(
            "mizulive_mailbox_overflows_total",
            "counter",
            "Publishes not queued because a session mailbox was full.",
            get(&self.mailbox_overflows),
        );
        line(
            "mizulive_slow_clients_total",
            "counter",
            "Sockets dropped because their outbound queue filled.",
            get(&self.slow_clients),
        );
        line(
            "mizulive_sessions_refused_total",
            "counter",
            "Sessions not started because max_sessions were alive.",
            get(&self.sessions_refused),
        );
        out
    }
}
