//! Counters for `/_live/metrics` (Prometheus text format), enabled by the `metrics`
//! option. Relaxed atomics: each is an independent count, read for monitoring only.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The kinds of host callback timed by [`Metrics::callback_seconds`], as labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackKind {
    Mount = 0,
    Event = 1,
    Info = 2,
    Close = 3,
}

impl CallbackKind {
    const ALL: [CallbackKind; 4] =
        [CallbackKind::Mount, CallbackKind::Event, CallbackKind::Info, CallbackKind::Close];

    fn label(self) -> &'static str {
        match self {
            CallbackKind::Mount => "mount",
            CallbackKind::Event => "event",
            CallbackKind::Info => "info",
            CallbackKind::Close => "close",
        }
    }
}

/// Upper bounds of the callback-latency buckets, in seconds: from half a millisecond
/// (an inline C callback) to ten seconds (a host stuck on I/O).
const BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A Prometheus histogram: a count per bucket (not cumulative; summed when
/// rendered), the count and the sum in microseconds.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&le| secs <= le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(took.as_micros().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (le, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

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
    /// Open TCP connections, WebSockets included.
    pub connections: AtomicI64,
    pub connections_refused: AtomicU64,
    /// Sessions mounted by a page request and not joined yet.
    pub unjoined: AtomicI64,
    pub unjoined_evicted: AtomicU64,
    pub host_queue_rejections: AtomicU64,
    /// Jobs waiting for a host thread: callbacks of mounted sessions, and new
    /// visitors' work (auth hook, mounts).
    pub host_waiting_live: AtomicI64,
    pub host_waiting_new: AtomicI64,
    pub control_frames_limited: AtomicU64,
    pub join_timeouts: AtomicU64,
    /// Session snapshots written to the store, failed writes (retried), and
    /// sessions restored from a snapshot on this node.
    pub snapshots: AtomicU64,
    pub snapshot_failures: AtomicU64,
    pub restores: AtomicU64,
    /// 1 while the Redis link is connected (subscriber and publisher), else 0.
    pub redis_up: AtomicI64,
    pub redis_outages: AtomicU64,
    pub redis_publish_dropped: AtomicU64,
    pub redis_reconnects: AtomicU64,
    /// Events re-sent by a client (by `eid`) and answered without running again.
    pub duplicate_events: AtomicU64,
    /// How long host callbacks took, by [`CallbackKind`].
    pub callback_seconds: [Histogram; 4],
}

pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Records how long a host callback of `kind` took.
    pub fn callback_took(&self, kind: CallbackKind, took: Duration) {
        self.callback_seconds[kind as usize].observe(took);
    }

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
        let gauge = |g: &AtomicI64| g.load(Ordering::Relaxed).to_string();
        line(
            "mizulive_connections",
            "gauge",
            "Open TCP connections, WebSockets included.",
            gauge(&self.connections),
        );
        line(
            "mizulive_connections_refused_total",
            "counter",
            "Connections closed at once because max_connections were open.",
            get(&self.connections_refused),
        );
        line(
            "mizulive_unjoined_sessions",
            "gauge",
            "Sessions mounted by a page request whose browser has not joined yet.",
            gauge(&self.unjoined),
        );
        line(
            "mizulive_unjoined_evicted_total",
            "counter",
            "Never-joined sessions ended to make room under max_unjoined_sessions.",
            get(&self.unjoined_evicted),
        );
        line(
            "mizulive_host_queue_rejections_total",
            "counter",
            "New-visitor jobs (auth, mounts) refused because host_queue jobs were waiting.",
            get(&self.host_queue_rejections),
        );
        line(
            "mizulive_host_waiting_live",
            "gauge",
            "Callbacks of mounted sessions waiting for a host thread.",
            gauge(&self.host_waiting_live),
        );
        line(
            "mizulive_host_waiting_new",
            "gauge",
            "New visitors' jobs (auth, mounts) waiting for a host thread; at most host_queue.",
            gauge(&self.host_waiting_new),
        );
        line(
            "mizulive_control_frames_limited_total",
            "counter",
            "Sockets closed for sending too many heartbeats, pings or refused frames.",
            get(&self.control_frames_limited),
        );
        line(
            "mizulive_join_timeouts_total",
            "counter",
            "Sockets closed for not joining within join_timeout_ms.",
            get(&self.join_timeouts),
        );
        line(
            "mizulive_snapshots_total",
            "counter",
            "Session snapshots written to Redis.",
            get(&self.snapshots),
        );
        line(
            "mizulive_snapshot_failures_total",
            "counter",
            "Session snapshots that failed to write (each is retried).",
            get(&self.snapshot_failures),
        );
        line(
            "mizulive_restores_total",
            "counter",
            "Sessions carried on here from another node's snapshot.",
            get(&self.restores),
        );
        line(
            "mizulive_redis_up",
            "gauge",
            "1 while the link to Redis is connected; 0 when it is down or no redis is configured.",
            gauge(&self.redis_up),
        );
        line(
            "mizulive_redis_outages_total",
            "counter",
            "Times Redis became unreachable (cross-node delivery stopped; local delivery went on).",
            get(&self.redis_outages),
        );
        line(
            "mizulive_redis_publish_dropped_total",
            "counter",
            "Publishes not sent to Redis: Redis down, or the publish queue full.",
            get(&self.redis_publish_dropped),
        );
        line(
            "mizulive_redis_reconnects_total",
            "counter",
            "Connections to Redis made again after one was lost or failed.",
            get(&self.redis_reconnects),
        );
        line(
            "mizulive_duplicate_events_total",
            "counter",
            "Events a client sent again (same eid) and got the first reply for, without a second run.",
            get(&self.duplicate_events),
        );
        let name = "mizulive_callback_duration_seconds";
        let _ = write!(
            out,
            "# HELP {name} How long host callbacks took (mount, event, info, close), rendering excluded.\n\
             # TYPE {name} histogram\n"
        );
        for kind in CallbackKind::ALL {
            self.callback_seconds[kind as usize].render(
                &mut out,
                name,
                &format!("kind=\"{}\"", kind.label()),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets() {
        let m = Metrics::default();
        m.callback_took(CallbackKind::Event, Duration::from_micros(300));
        m.callback_took(CallbackKind::Event, Duration::from_millis(20));
        m.callback_took(CallbackKind::Event, Duration::from_secs(60));
        let text = m.render(0);
        let name = "mizulive_callback_duration_seconds";
        for line in [
            format!("{name}_bucket{{kind=\"event\",le=\"0.0005\"}} 1"),
            format!("{name}_bucket{{kind=\"event\",le=\"0.01\"}} 1"),
            format!("{name}_bucket{{kind=\"event\",le=\"0.025\"}} 2"),
            format!("{name}_bucket{{kind=\"event\",le=\"10\"}} 2"),
            format!("{name}_bucket{{kind=\"event\",le=\"+Inf\"}} 3"),
            format!("{name}_sum{{kind=\"event\"}} 60.0203"),
            format!("{name}_count{{kind=\"event\"}} 3"),
            format!("{name}_count{{kind=\"mount\"}} 0"),
            format!("# TYPE {name} histogram"),
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
        }
    }
}
