//! What an operator sees: the metrics endpoint's callback-latency histogram (by
//! callback kind) and live-sessions gauge, scraped after real events over a socket;
//! the log records of a panicking callback and auth hook.

mod common;

use common::*;
use mizulive::{Auth, AuthDecision, RequestInfo};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The value of the metric line that is exactly `series` (name and labels).
fn value(text: &str, series: &str) -> f64 {
    let line = text.lines().find(|l| l.rsplit_once(' ').is_some_and(|(s, _)| s == series));
    let line = line.unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    line.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()).unwrap_or_else(|| panic!("bad line {line}"))
}

#[tokio::test]
async fn metrics_time_every_callback_by_kind_and_count_live_sessions() {
    let t = TestApp::start(|o| o.metrics = true);
    let (mut ws, _, _) = t.live("/counter").await;
    for _ in 0..3 {
        ws.event_patch("inc", json!({"by": "1"})).await;
    }
    let r = ws.event("boom", json!({})).await;
    ws.expect_error(r).await;
    // One slow event: held for 150 ms by the test, it lands above the 0.1 s bucket.
    ws.event("slow", json!({})).await;
    t.wait_until("the slow event started", |_| t.probe.slow_started.load(Ordering::SeqCst)).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    t.probe.open_gate();
    ws.expect_patch().await;
    t.page("/other").await;

    let text = t.get("/_live/metrics").await.text();
    let name = "mizulive_callback_duration_seconds";
    assert!(text.contains(&format!("# TYPE {name} histogram\n")), "{text}");
    assert_eq!(value(&text, &format!("{name}_count{{kind=\"event\"}}")), 5.0, "3 inc, boom, slow");
    assert_eq!(value(&text, &format!("{name}_count{{kind=\"mount\"}}")), 2.0);
    assert_eq!(value(&text, &format!("{name}_count{{kind=\"info\"}}")), 0.0);
    let bucket = |le: &str| value(&text, &format!("{name}_bucket{{kind=\"event\",le=\"{le}\"}}"));
    assert_eq!(bucket("+Inf"), 5.0);
    assert_eq!(bucket("0.1"), 4.0, "the slow event took over 0.1 s");
    let les = [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
        "10",
    ];
    for pair in les.windows(2) {
        assert!(bucket(pair[0]) <= bucket(pair[1]), "buckets are cumulative: {pair:?}");
    }
    let sum = value(&text, &format!("{name}_sum{{kind=\"event\"}}"));
    assert!((0.15..5.0).contains(&sum), "sum {sum}");
    assert_eq!(value(&text, "mizulive_sessions"), 2.0, "the live page and /other");
    t.shutdown().await;
}

/// Panics on a request whose query says so; allows the others.
struct PanickyAuth;

impl Auth for PanickyAuth {
    fn authenticate(&self, request: &RequestInfo) -> AuthDecision {
        if request.query.contains("panic=1") {
            panic!("boom in auth");
        }
        AuthDecision::Allow(None)
    }
}

/// A panicking event callback and a panicking auth hook are logged at warn with the
/// panic's message (dev mode off: the browser sees neither), the event's line with
/// its session and route.
#[tokio::test]
async fn panics_in_callbacks_and_the_auth_hook_are_logged_with_their_message() {
    let (tx, rx) = crossbeam_channel::bounded(4096);
    mizulive::testing::set_sink(Some(tx));
    let t = TestApp::start(|o| o.dev = false);
    t.app().set_auth(Some(Arc::new(PanickyAuth)));
    let (mut ws, _, _) = t.live("/counter").await;
    let r = ws.event("panic", json!({})).await;
    let error = ws.expect_error(r).await;
    assert!(!error.to_string().contains(PANIC_DETAIL), "dev mode is off: {error}");
    assert_eq!(t.get("/counter?panic=1").await.status, 403);

    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let wanted = |lines: &[(u8, String)]| {
        let has = |needle: &str| lines.iter().any(|(level, m)| *level == 2 && m.contains(needle));
        has(&format!("event \"panic\" failed: callback panicked: {PANIC_DETAIL}"))
            && has("the auth hook panicked: boom in auth")
    };
    while !wanted(&lines) && Instant::now() < deadline {
        if let Ok(record) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push((record.level, record.message));
        }
    }
    mizulive::testing::set_sink(None);
    assert!(wanted(&lines), "missing warn lines in {lines:#?}");
    let event = lines.iter().find(|(_, m)| m.contains("event \"panic\" failed")).map(|(_, m)| m.as_str());
    assert!(event.is_some_and(|m| m.contains("route=/counter") && m.contains("session=")), "{event:?}");
    t.shutdown().await;
}
