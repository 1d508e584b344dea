//! Logs: `tracing` events go to stderr, or, once a host installs a log sink (the
//! Python binding forwards them to `logging`), to that sink instead.
//!
//! The sink is fed through a bounded queue and called on a library thread of its
//! own, so an IO thread never waits on host code (a Python callback needs the GIL).

use crossbeam_channel::{Sender, TrySendError};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// One log line for a host sink.
pub struct Record {
    /// 1 error, 2 warn, 3 info, 4 debug, 5 trace.
    pub level: u8,
    pub target: String,
    pub message: String,
}

static SINK: RwLock<Option<Sender<Record>>> = RwLock::new(None);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// stderr gets JSON lines instead of text (the `log_format` option).
static JSON: AtomicBool = AtomicBool::new(false);

/// Writes stderr logs as JSON lines (`true`) or as text. Process-wide.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Routes records to `sink` (or back to stderr with `None`). Returns the previous
/// sink's sender, which the caller drops to let its thread drain and finish.
pub fn set_sink(sink: Option<Sender<Record>>) -> Option<Sender<Record>> {
    init();
    std::mem::replace(&mut *SINK.write().unwrap_or_else(|e| e.into_inner()), sink)
}

fn sink_installed() -> bool {
    SINK.read().map(|s| s.is_some()).unwrap_or(false)
}

/// Installs the subscriber once (filter from `MIZULIVE_LOG`, default `info`) unless
/// the process already has one.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::IsTerminal;
        let filter = || EnvFilter::try_from_env("MIZULIVE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
        let stderr = tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .with_filter(tracing_subscriber::filter::filter_fn(|_| !sink_installed() && !json()));
        let level = filter().max_level_hint();
        let registry = tracing_subscriber::registry().with(filter()).with(stderr).with(JsonLayer);
        if registry.with(SinkLayer).try_init().is_ok() {
            // `try_init` forwards the `log` records of dependencies (tungstenite traces
            // every frame it reads) at any level; each one costs a dispatcher lookup and
            // a filter check before being dropped. Cap them where the filter does.
            log::set_max_level(log_level(level));
        }
    });
}

/// The `log` crate's counterpart of a `tracing` level filter (`None`: no cap).
fn log_level(filter: Option<tracing::level_filters::LevelFilter>) -> log::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match filter {
        None => log::LevelFilter::Trace,
        Some(LevelFilter::OFF) => log::LevelFilter::Off,
        Some(LevelFilter::ERROR) => log::LevelFilter::Error,
        Some(LevelFilter::WARN) => log::LevelFilter::Warn,
        Some(LevelFilter::INFO) => log::LevelFilter::Info,
        Some(LevelFilter::DEBUG) => log::LevelFilter::Debug,
        Some(_) => log::LevelFilter::Trace,
    }
}

struct SinkLayer;

impl<S: tracing::Subscriber> Layer<S> for SinkLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let guard = SINK.read().unwrap_or_else(|e| e.into_inner());
        let Some(sink) = guard.as_ref() else { return };
        let meta = event.metadata();
        let mut visitor = Message(String::new());
        event.record(&mut visitor);
        let level = match *meta.level() {
            tracing::Level::ERROR => 1,
            tracing::Level::WARN => 2,
            tracing::Level::INFO => 3,
            tracing::Level::DEBUG => 4,
            tracing::Level::TRACE => 5,
        };
        let record = Record { level, target: meta.target().to_string(), message: visitor.0 };
        if let Err(TrySendError::Full(_)) = sink.try_send(record) {
            // The host is not keeping up; count rather than block a server thread.
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// stderr as JSON lines, one object per record: `time` (RFC 3339, UTC, milliseconds),
/// `level`, `target`, `message`, then the record's fields (`session`, `route`, ...).
struct JsonLayer;

impl<S: tracing::Subscriber> Layer<S> for JsonLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if !json() || sink_installed() {
            return;
        }
        let line = json_line(event, std::time::SystemTime::now());
        use std::io::Write as _;
        // One write of a whole line, so lines of different threads never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

fn json_line(event: &tracing::Event<'_>, now: std::time::SystemTime) -> String {
    let meta = event.metadata();
    let mut fields = JsonFields(serde_json::Map::new());
    event.record(&mut fields);
    let mut line = serde_json::Map::new();
    line.insert("time".into(), rfc3339(now).into());
    line.insert("level".into(), meta.level().as_str().into());
    line.insert("target".into(), meta.target().into());
    line.insert("message".into(), fields.0.remove("message").unwrap_or_else(|| "".into()));
    line.append(&mut fields.0);
    let mut text = serde_json::Value::Object(line).to_string();
    text.push('\n');
    text
}

/// A record's fields as JSON values.
struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// `2026-12-04T16:10:50.647Z`: UTC, to the millisecond.
fn rfc3339(t: std::time::SystemTime) -> String {
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Log records the sink queue refused since the last call (reported in-band by the
/// sink thread).
pub fn take_dropped() -> u64 {
    DROPPED.swap(0, Ordering::Relaxed)
}

/// `message` first, then the other fields as ` key=value`.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value}{rest}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_log_records_stop_at_the_filters_level() {
        init();
        // What `init` installed, when this test process is the one that installed it.
        if std::env::var_os("MIZULIVE_LOG").is_none() && tracing::dispatcher::has_been_set() {
            assert_eq!(log::max_level(), log::LevelFilter::Info);
            assert!(!log::log_enabled!(target: "tungstenite::protocol", log::Level::Trace));
        }
    }

    #[test]
    fn rfc3339_times() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_796_402_450)), "2026-12-04T16:40:50.000Z");
    }

    #[test]
    fn log_levels_match_tracing_levels() {
        use tracing::level_filters::LevelFilter;
        assert_eq!(log_level(Some(LevelFilter::OFF)), log::LevelFilter::Off);
        assert_eq!(log_level(Some(LevelFilter::WARN)), log::LevelFilter::Warn);
        assert_eq!(log_level(Some(LevelFilter::TRACE)), log::LevelFilter::Trace);
        assert_eq!(log_level(None), log::LevelFilter::Trace);
    }
}
