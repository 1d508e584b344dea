//! Exactly-once events on one node: an event the client numbers (`eid`) and sends
//! again, because its reply was lost with a socket, is answered with the first reply
//! and not run a second time (docs/protocol.md, "Exactly once").

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// Sends a click event with ref `r`, and the client's number `eid` when given.
async fn send_event(ws: &mut WsClient, r: u64, eid: Option<u64>, name: &str) {
    let mut frame = json!({
        "t": "event", "ref": r, "type": "click", "name": name, "target": null,
        "values": {}, "form": {}, "key": null,
        "meta": {"shift": false, "ctrl": false, "alt": false, "meta": false},
    });
    if let Some(eid) = eid {
        frame["eid"] = json!(eid);
    }
    ws.send_json(&frame).await;
}

/// Reads frames up to the reply to `r` (a frame of its own, or folded into the
/// event's patch); returns the patches up to it and the reply.
async fn until_reply(ws: &mut WsClient, r: u64) -> (Vec<Value>, Value) {
    let mut patches = Vec::new();
    // Bounded: an event causes one patch and one reply here, never dozens of frames.
    for _ in 0..16 {
        let frame = ws.recv_json(WAIT).await;
        match frame["t"].as_str() {
            Some("reply") => {
                assert_eq!(frame["ref"], r, "a reply to another event: {frame}");
                return (patches, frame);
            }
            // A patch that answers `r` is its reply too.
            Some("patch") if frame["ref"] == r => {
                patches.push(frame);
                return (patches, ws.folded_reply(r).expect("the patch's reply"));
            }
            Some("patch") => patches.push(frame),
            _ => panic!("unexpected frame before the reply to {r}: {frame}"),
        }
    }
    panic!("no reply to {r} within 16 frames");
}

/// The count the single patch of `patches` shows.
fn patched_count(patches: &[Value]) -> Option<i64> {
    assert_eq!(patches.len(), 1, "expected one patch: {patches:?}");
    count_in(region(&patches[0], "stats"))
}

/// The value of one metric in `/_live/metrics`.
async fn metric(t: &TestApp, name: &str) -> i64 {
    let text = t.get("/_live/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

#[tokio::test]
async fn a_repeated_eid_gets_the_same_reply_and_does_not_run_again() {
    let t = TestApp::start(|o| o.metrics = true);
    let (mut ws, _, _) = t.live("/counter").await;

    send_event(&mut ws, 1, Some(1), "inc").await;
    let (patches, reply) = until_reply(&mut ws, 1).await;
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(patched_count(&patches), Some(START + 1));

    // The same event again, under a new ref: answered ok, with no patch.
    send_event(&mut ws, 2, Some(1), "inc").await;
    let (patches, reply) = until_reply(&mut ws, 2).await;
    assert_eq!(reply, json!({"t": "reply", "ref": 2, "ok": true}));
    assert!(patches.is_empty(), "the duplicate ran: {patches:?}");

    // The next number runs, on the count of one increment.
    send_event(&mut ws, 3, Some(2), "inc").await;
    let (patches, _) = until_reply(&mut ws, 3).await;
    assert_eq!(patched_count(&patches), Some(START + 2), "the duplicate was applied");
    assert_eq!(t.probe.events.load(Ordering::SeqCst), 2);
    assert_eq!(metric(&t, "mizulive_duplicate_events_total").await, 1);
    assert_eq!(metric(&t, "mizulive_events_total").await, 2, "a duplicate counts as a duplicate only");
}

#[tokio::test]
async fn an_event_whose_reply_was_lost_is_answered_after_the_rejoin() {
    let t = TestApp::start(|_| {});
    let url = t.url("/counter");
    let (mut ws, joined, boot) = t.live("/counter").await;
    let seen_seq = joined["seq"].as_u64().expect("joined seq");

    // The callback holds until the gate opens; the socket dies meanwhile.
    send_event(&mut ws, 1, Some(1), "slow").await;
    wait_for("the slow callback runs", || t.probe.slow_started.load(Ordering::SeqCst)).await;
    drop(ws);
    t.probe.open_gate();

    // The client comes back with the last seq it saw and sends the event again.
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, seen_seq).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    send_event(&mut ws, 1, Some(1), "slow").await;
    let (patches, reply) = until_reply(&mut ws, 1).await;
    assert_eq!(reply, json!({"t": "reply", "ref": 1, "ok": true}));
    // The patch it missed is replayed on the rejoin, before the reply: applied once.
    assert_eq!(patched_count(&patches), Some(START + 1), "{patches:?}");

    send_event(&mut ws, 2, Some(2), "inc").await;
    let (patches, _) = until_reply(&mut ws, 2).await;
    assert_eq!(patched_count(&patches), Some(START + 2), "the slow event ran twice");
    assert_eq!(t.probe.events.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_event_sent_again_gets_the_same_error_and_does_not_run_again() {
    for dev in [false, true] {
        let t = TestApp::start(|o| o.dev = dev);
        let (mut ws, _, _) = t.live("/counter").await;

        send_event(&mut ws, 1, Some(1), "boom").await;
        let (_, first) = until_reply(&mut ws, 1).await;
        assert_eq!(first["ok"], false, "{first}");
        assert_eq!(first["error"]["code"], "host_error", "{first}");
        assert_eq!(t.probe.events.load(Ordering::SeqCst), 1);

        send_event(&mut ws, 2, Some(1), "boom").await;
        let (patches, again) = until_reply(&mut ws, 2).await;
        assert!(patches.is_empty(), "{patches:?}");
        assert_eq!(again["error"], first["error"], "dev {dev}: another answer the second time");
        assert_eq!(t.probe.events.load(Ordering::SeqCst), 1, "dev {dev}: the callback ran twice");
    }
}

#[tokio::test]
async fn events_without_eid_always_run() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;
    send_event(&mut ws, 1, Some(5), "inc").await;
    until_reply(&mut ws, 1).await;
    for (r, want) in [(2, START + 2), (3, START + 3)] {
        send_event(&mut ws, r, None, "inc").await;
        let (patches, reply) = until_reply(&mut ws, r).await;
        assert_eq!(reply["ok"], true, "{reply}");
        assert_eq!(patched_count(&patches), Some(want));
    }
    assert_eq!(t.probe.events.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_page_load_of_a_session_numbers_its_events_after_those_applied() {
    let t = TestApp::start(|_| {});
    let (mut ws, joined, boot) = t.live("/counter").await;
    assert_eq!((boot.eid, &joined["eid"]), (0, &json!(0)), "a new session has applied nothing");
    for (r, eid) in [(1, 1), (2, 2), (3, 3)] {
        send_event(&mut ws, r, Some(eid), "inc").await;
        until_reply(&mut ws, r).await;
    }
    // The page falls back to a form post; the GET after it loads the same session,
    // whose page must not number its events from 1 again (they would be answered,
    // not run).
    let form = [("_lv_token", boot.token.as_str()), ("_csrf", boot.csrf.as_str()), ("_lv_click", "inc?by=1")];
    let body = form_encode(&form);
    let resp = http(
        t.addr,
        "POST",
        "/counter",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(resp.status, 303, "{}", resp.text());
    let cookie =
        resp.header("set-cookie").expect("a resume cookie").split(';').next().unwrap_or_default().to_string();
    let page = http(t.addr, "GET", "/counter", &[("Cookie", cookie.as_str())], b"").await;
    let again = common::boot(&page.text());
    assert_eq!(again.token, boot.token, "the same session");
    assert_eq!(again.eid, 3);
    // And a join says so too.
    let mut ws2 = t.connect().await;
    let joined = ws2.join(&boot.token, &t.url("/counter"), again.seq).await;
    assert_eq!(joined["eid"], 3, "{joined}");
}

/// Events that find their session's mailbox full wait in the socket for room (the
/// socket reads no further meanwhile), then run once each, in order.
#[tokio::test]
async fn events_that_find_the_mailbox_full_wait_and_then_run_in_order() {
    let t = TestApp::start(|o| o.mailbox = 1);
    let (mut ws, _, _) = t.live("/counter").await;
    send_event(&mut ws, 1, Some(1), "slow").await;
    wait_for("the slow callback runs", || t.probe.slow_started.load(Ordering::SeqCst)).await;
    // The first fills the mailbox; the second waits for room; the third waits unread.
    for r in 2..=4 {
        send_event(&mut ws, r, Some(r), "inc").await;
    }
    ws.expect_no_frame(std::time::Duration::from_millis(200)).await;
    t.probe.open_gate();
    for (r, want) in [(1, START + 1), (2, START + 2), (3, START + 3), (4, START + 4)] {
        let (patches, reply) = until_reply(&mut ws, r).await;
        assert_eq!(reply["ok"], true, "{reply}");
        assert_eq!(patched_count(&patches), Some(want), "event {r}");
    }
    assert_eq!(t.probe.events.load(Ordering::SeqCst), 4);
}
