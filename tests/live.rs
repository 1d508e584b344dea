//! The live path: join, events, patches, replies, pub/sub, timers, concurrency and
//! resume, as a browser on the other end of the WebSocket sees them.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn join_adopts_the_session_the_get_mounted() {
    let t = TestApp::start(|_| {});
    let (_, boot) = t.page("/counter").await;
    assert_eq!(boot.seq, 0);
    assert!(!boot.dev);
    assert_eq!(t.probe.mounts(), 1);
    assert_eq!(t.app().session_count(), 1);

    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &t.url("/counter"), 0).await;
    assert_eq!(joined["v"], 4, "{joined}");
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["root"], Value::Null, "nothing changed since the GET: {joined}");
    assert_eq!(joined["seq"], 0, "{joined}");
    assert_eq!(t.probe.mounts(), 1, "joining must not mount again");
    assert_eq!(t.app().session_count(), 1);

    // The adopted session is the GET's: its state is live on this socket.
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
}

#[tokio::test]
async fn an_event_is_answered_by_one_patch_of_changed_regions_that_is_its_reply() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;

    let r = ws.event("inc", json!({"by": "1"})).await;
    let patch = ws.expect_patch().await;
    assert_eq!(ws.seq, 1, "{patch}");
    assert_eq!(region_ids(&patch), ["log", "stats"], "{patch}");
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
    assert!(region(&patch, "log").contains("inc 1 = 42"), "{patch}");
    // Only what changed is on the wire: no `root`, `title` or `parts` when none, and
    // no `ok` (a patch answers only an event that succeeded).
    let keys: Vec<&String> = patch.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, ["ref", "regions", "t"], "{patch}");
    // The patch answers the event: one frame, no reply after it.
    assert_eq!(patch["ref"], json!(r), "{patch}");
    ws.expect_no_frame(QUIET).await;
    ws.expect_ok(r).await;

    // `note` marks stats and log but changes only the log.
    let r = ws.event("note", json!({})).await;
    let patch = ws.expect_patch().await;
    assert_eq!(ws.seq, 2, "{patch}");
    assert_eq!(region_ids(&patch), ["log"], "an unchanged region was sent: {patch}");
    assert!(region(&patch, "log").contains("<li>note</li>"), "{patch}");
    ws.expect_ok(r).await;
    ws.expect_no_frame(QUIET).await;
}

#[tokio::test]
async fn an_event_with_commands_gets_its_patch_its_commands_then_its_reply() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;
    let r = ws.event("inc_focus", json!({})).await;
    let patch = ws.recv_json(WAIT).await;
    assert_eq!((&patch["t"], patch.get("ref")), (&json!("patch"), None), "{patch}");
    let command = ws.recv_json(WAIT).await;
    assert_eq!(command["t"], "command", "{command}");
    let reply = ws.recv_json(WAIT).await;
    assert_eq!(reply, json!({"t": "reply", "ref": r, "ok": true}));
}

#[tokio::test]
async fn a_replayed_patch_answers_no_event_on_the_socket_it_is_replayed_to() {
    let t = TestApp::start(|_| {});
    let url = t.url("/counter");
    let (mut ws, _, boot) = t.live("/counter").await;
    let r = ws.event("inc", json!({"by": "1"})).await;
    assert_eq!(ws.expect_patch().await["ref"], r);
    drop(ws);

    // A new socket numbers its events from 1 again; the replayed patch must not
    // answer the first of them.
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 0).await;
    assert_eq!((&joined["resumed"], &joined["root"]), (&json!(true), &Value::Null), "{joined}");
    let replayed = ws.recv_json(WAIT).await;
    assert_eq!(ws.seq, 1, "{replayed}");
    assert!(replayed.get("ref").is_none() && replayed.get("ok").is_none(), "{replayed}");
    let again = ws.event("inc", json!({"by": "1"})).await;
    assert_eq!(again, r, "the same ref on the new socket");
    let patch = ws.expect_patch().await;
    assert_eq!((ws.seq, count_in(region(&patch, "stats"))), (2, Some(START + 2)));
    assert_eq!(patch["ref"], again, "{patch}");
}

/// On an idle server a patch leaves from the host thread that rendered it (the pool
/// has run nothing for a millisecond). It is kept for resume all the same: a client
/// that rejoins behind gets it replayed, without the reply it carried.
#[tokio::test]
async fn patches_sent_on_an_idle_server_are_replayed_after_a_rejoin() {
    let t = TestApp::start(|_| {});
    let url = t.url("/counter");
    let (mut ws, _, boot) = t.live("/counter").await;
    for by in 1..=3 {
        // Not waiting for a result: the server has nothing to do meanwhile, so each
        // event finds the host pool idle for longer than its quiet time.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = ws.event("inc", json!({"by": by.to_string()})).await;
        assert_eq!(ws.expect_patch().await["ref"], r);
    }
    assert_eq!(ws.seq, 3);
    drop(ws);

    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 1).await;
    assert_eq!((&joined["resumed"], &joined["seq"]), (&json!(true), &json!(1)), "{joined}");
    let second = ws.expect_patch().await;
    let third = ws.expect_patch().await;
    assert_eq!(count_in(region(&second, "stats")), Some(START + 3), "{second}");
    assert_eq!(count_in(region(&third, "stats")), Some(START + 6), "{third}");
    assert!(second.get("ref").is_none() && third.get("ref").is_none(), "{second} {third}");
    assert_eq!(ws.seq, 3);
    ws.expect_no_frame(QUIET).await;
}

#[tokio::test]
async fn marking_an_unchanged_region_sends_no_patch() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;

    // Right after the join: the region is as the GET rendered it.
    ws.event_quiet("same", json!({})).await;
    ws.expect_no_frame(QUIET).await;

    // After a patch of the region: unchanged since that patch.
    ws.event_patch("inc", json!({"by": "2"})).await;
    assert_eq!(ws.seq, 1);
    ws.event_quiet("same", json!({})).await;
    ws.expect_no_frame(QUIET).await;

    // The seq was not consumed by the empty callbacks.
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 2, "{patch}");
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 3));
}

async fn host_error_case(dev: bool) {
    let t = TestApp::start(|o| o.dev = dev);
    let (mut ws, _, boot) = t.live("/counter").await;
    assert_eq!(boot.dev, dev);

    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));

    let r = ws.event("boom", json!({})).await;
    let error = ws.expect_error(r).await;
    assert_eq!(error["code"], "host_error", "{error}");
    let message = error["message"].as_str().expect("error message");
    assert!(!message.is_empty());
    if dev {
        assert!(message.contains(BOOM_DETAIL), "dev mode hides the detail: {message}");
    } else {
        assert!(!message.contains("secret"), "the detail leaked: {message}");
    }

    let r = ws.event("panic", json!({})).await;
    let error = ws.expect_error(r).await;
    assert_eq!(error["code"], "host_error", "{error}");
    let message = error["message"].as_str().expect("error message");
    if dev {
        assert!(message.contains(PANIC_DETAIL), "dev mode hides the detail: {message}");
    } else {
        assert!(!message.contains("secret"), "the detail leaked: {message}");
    }

    // The session lives and kept its pre-error state (not 999, not -999).
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 2, "{patch}");
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 2), "{patch}");
    assert_eq!(t.probe.mounts(), 1);
}

#[tokio::test]
async fn host_error_replies_generically_and_keeps_state() {
    host_error_case(false).await;
}

#[tokio::test]
async fn host_error_in_dev_mode_carries_the_detail() {
    host_error_case(true).await;
}

#[tokio::test]
async fn publish_reaches_subscribers_only_in_order() {
    let t = TestApp::start(|_| {});
    let (mut a, _, _) = t.live("/counter").await;
    let (mut b, _, _) = t.live("/counter").await;
    let (mut c, _, _) = t.live("/counter").await;
    a.event_quiet("sub", json!({"topic": "t1"})).await;
    b.event_quiet("sub", json!({"topic": "t1"})).await;
    c.event_quiet("sub", json!({"topic": "t2"})).await;

    let app = t.app().clone();
    tokio::task::spawn_blocking(move || {
        for i in 1..=20 {
            app.publish("t1", &json!({"msg": format!("m{i}")}).to_string()).expect("publish");
        }
    })
    .await
    .expect("publisher thread");

    for ws in [&mut a, &mut b] {
        for i in 1..=20u64 {
            let patch = ws.expect_patch().await;
            assert_eq!(ws.seq, i, "{patch}");
            assert_eq!(region_ids(&patch), ["log"], "{patch}");
            let log = region(&patch, "log");
            let expected: String = (1..=i).map(|k| format!("<li>m{k}</li>")).collect();
            assert_eq!(log, format!("<ol>{expected}</ol>"), "messages out of order");
        }
    }
    c.expect_no_frame(QUIET).await;

    assert!(t.app().publish("t1", "{not json").is_err());
    assert!(t.app().publish("t1", "").is_err());
    // A refused publish reached nobody.
    a.expect_no_frame(QUIET).await;
}

#[tokio::test]
async fn timer_fires_and_a_cancelled_one_does_not() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;

    // Setting a timer changes nothing visible; the timer's info does.
    ws.event_quiet("tick", json!({})).await;
    let patch = ws.expect_patch().await;
    assert_eq!(ws.seq, 1);
    assert!(region(&patch, "log").contains("<li>tick</li>"), "{patch}");

    // Cancelled in the callback that set it.
    ws.event_quiet("tick_cancel", json!({})).await;
    // Cancelled by a later event, before its 500 ms are up.
    ws.event_quiet("arm", json!({})).await;
    ws.event_quiet("disarm", json!({})).await;
    ws.expect_no_frame(Duration::from_millis(800)).await;

    let patch = ws.event_patch("note", json!({})).await;
    assert_eq!(ws.seq, 2, "a cancelled timer produced a patch: {patch}");
    assert!(!region(&patch, "log").contains("cancelled"), "{patch}");
    assert!(!region(&patch, "log").contains("armed"), "{patch}");
}

#[tokio::test]
async fn a_failed_callback_leaves_no_subscription_or_timer_behind() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;
    let r = ws.event("sub_boom", json!({"topic": "undone"})).await;
    assert_eq!(ws.expect_error(r).await["code"], "host_error");
    t.app().publish("undone", r#"{"msg":"after-failure"}"#).expect("publish");
    // Neither the publish nor the 50 ms timer reaches the page.
    ws.expect_no_frame(Duration::from_millis(300)).await;
    assert_eq!(t.probe.infos(), 0);

    // The same subscription from a callback that succeeds does.
    ws.event_quiet("sub", json!({"topic": "undone"})).await;
    t.app().publish("undone", r#"{"msg":"now"}"#).expect("publish");
    let patch = ws.expect_patch().await;
    assert!(region(&patch, "log").contains("<li>now</li>"), "{patch}");
}

#[tokio::test]
async fn a_slow_callback_does_not_hold_up_another_session() {
    let t = TestApp::start(|o| o.host_threads = 4);
    let (mut a, _, _) = t.live("/counter").await;
    let (mut b, _, _) = t.live("/counter").await;

    let slow = a.event("slow", json!({})).await;
    let probe = t.probe.clone();
    wait_for("the slow callback runs", || probe.slow_started.load(std::sync::atomic::Ordering::SeqCst)).await;

    // A's callback is blocked until the gate opens; B's round trip must complete.
    let patch = b.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
    a.expect_no_frame(Duration::ZERO).await;

    t.probe.open_gate();
    let patch = a.expect_patch().await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
    a.expect_ok(slow).await;
}

#[tokio::test]
async fn reconnect_within_grace_resumes_and_replays_missed_patches() {
    let t = TestApp::start(|o| o.resume_buffer = 2);
    let url = t.url("/counter");
    let (mut ws, _, boot) = t.live("/counter").await;
    ws.event_quiet("sub", json!({"topic": "news"})).await;
    ws.event_patch("inc", json!({"by": "1"})).await;
    ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 2);
    drop(ws);

    // A patch made while no socket is attached.
    t.app().publish("news", r#"{"msg":"while-away"}"#).expect("publish");
    let probe = t.probe.clone();
    wait_for("the publish is handled", || probe.infos() == 1).await;

    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 2).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["root"], Value::Null, "{joined}");
    // Patches carry no number: `joined` says where the client's count stands, and
    // the replayed patch is the next.
    assert_eq!(joined["seq"], 2, "{joined}");
    let missed = ws.expect_patch().await;
    assert_eq!(ws.seq, 3, "{missed}");
    assert!(region(&missed, "log").contains("<li>while-away</li>"), "{missed}");
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 4);
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 3), "state was lost");
    drop(ws);

    // Four patches were made, two are kept: a client at seq 0 gets the whole body.
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 0).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["seq"], 4, "{joined}");
    let root = joined["root"].as_str().unwrap_or_else(|| panic!("no root: {joined}"));
    assert!(root.contains("data-lv"), "{root}");
    assert_eq!(count_in(root), Some(START + 3), "{root}");
    assert!(root.contains("<li>while-away</li>"), "{root}");
    ws.expect_no_frame(QUIET).await;
    assert_eq!(t.probe.mounts(), 1);
    assert_eq!(t.app().session_count(), 1);
}

#[tokio::test]
async fn a_join_whose_body_fails_to_render_gets_a_fatal_error_and_is_closed() {
    let t = TestApp::start(|o| o.resume_buffer = 1);
    let url = t.url("/counter");
    let (mut ws, _, boot) = t.live("/counter").await;
    ws.event_patch("break", json!({})).await;
    ws.event_patch("inc", json!({"by": "1"})).await;
    drop(ws);

    // Too far behind for a replay: the server must render the body, and cannot.
    let mut ws = t.connect().await;
    ws.send_join(&boot.token, &url, 0).await;
    let error = ws.recv_type("error").await;
    assert_eq!(error["code"], "render_error", "{error}");
    assert_eq!(error["recoverable"], false, "{error}");
    let message = error["message"].as_str().expect("error message");
    assert!(!message.contains("no_such_function"), "the detail leaked: {message}");
    // Not recoverable: the server closes the socket (docs/protocol.md, "error").
    ws.expect_closed().await;
}

#[tokio::test]
async fn a_gone_session_is_mounted_afresh_from_the_token() {
    let t = TestApp::start(|o| o.grace_ms = 1000);
    let url = t.url("/counter");
    let (mut ws, joined, boot) = t.live("/counter").await;
    assert_eq!(joined["resumed"], true, "{joined}");
    ws.event_patch("inc", json!({"by": "5"})).await;
    ws.send(tokio_tungstenite::tungstenite::Message::Close(None)).await;
    drop(ws);
    t.wait_until("the session ended", |app| app.session_count() == 0).await;

    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 1).await;
    assert_eq!(joined["resumed"], false, "{joined}");
    let root = joined["root"].as_str().unwrap_or_else(|| panic!("no root: {joined}"));
    assert_eq!(count_in(root), Some(START), "a fresh mount starts over: {root}");
    let token = joined["token"].as_str().unwrap_or_else(|| panic!("no new token: {joined}")).to_string();
    assert_ne!(token, boot.token);
    assert_eq!(joined["seq"], 0);
    assert_eq!(t.probe.mounts(), 2);
    assert_eq!(t.app().session_count(), 1);

    // The new token names the new session.
    ws.event_patch("inc", json!({"by": "1"})).await;
    drop(ws);
    let mut ws = t.connect().await;
    let joined = ws.join(&token, &url, 1).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    assert_eq!(joined["root"], Value::Null, "{joined}");
    assert_eq!(t.probe.mounts(), 2);
}

#[tokio::test]
async fn flash_shows_once() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, _) = t.live("/counter").await;
    let patch = ws.event_patch("flash", json!({})).await;
    assert_eq!(region_ids(&patch), ["notice"], "{patch}");
    assert!(region(&patch, "notice").contains("Saved"), "{patch}");

    let patch = ws.event_patch("notice", json!({})).await;
    assert_eq!(region_ids(&patch), ["notice"], "{patch}");
    assert!(!region(&patch, "notice").contains("Saved"), "the flash showed twice: {patch}");
}

#[tokio::test]
async fn dev_hook_drops_sockets_and_the_session_resumes() {
    let t = TestApp::start(|o| o.dev = true);
    let url = t.url("/counter");
    let (mut ws, _, boot) = t.live("/counter").await;
    ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(ws.seq, 1);

    let dropped = http(t.addr, "POST", "/_live/dev/drop-sockets", &[], b"").await;
    assert_eq!(dropped.status, 200, "{}", dropped.text());
    ws.expect_end().await;

    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 1).await;
    assert_eq!(joined["resumed"], true, "{joined}");
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 2), "state was lost");
    assert_eq!(t.probe.mounts(), 1);
}

#[tokio::test]
async fn dev_hook_does_not_exist_outside_dev_mode() {
    let t = TestApp::start(|_| {});
    let resp = http(t.addr, "POST", "/_live/dev/drop-sockets", &[], b"").await;
    assert_eq!(resp.status, 404);
}

#[tokio::test]
async fn dev_hook_ends_sessions_and_the_join_mounts_afresh() {
    let t = TestApp::start(|o| o.dev = true);
    let url = t.url("/counter");
    let (mut ws, _, boot) = t.live("/counter").await;
    ws.event_patch("inc", json!({"by": "1"})).await;

    let ended = http(t.addr, "POST", "/_live/dev/end-sessions", &[], b"").await;
    assert_eq!(ended.status, 200, "{}", ended.text());
    let close = ws.recv_type("close").await;
    assert_eq!(close, json!({"t": "close", "reason": "session_closed", "reconnect": true}));
    ws.expect_closed().await;
    // A join racing the session's end is told to reconnect (a browser does); this one
    // comes after it.
    let app = t.app();
    wait_for("the session is gone", || app.session_count() == 0).await;

    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &url, 1).await;
    assert_eq!(joined["resumed"], false, "{joined}");
    assert_eq!(count_in(joined["root"].as_str().unwrap_or("")), Some(START), "{joined}");
    assert_eq!(t.probe.mounts(), 2);

    let off = TestApp::start(|_| {});
    assert_eq!(http(off.addr, "POST", "/_live/dev/end-sessions", &[], b"").await.status, 404);
}

/// The thread the probe's last event callback ran on.
fn event_thread(t: &TestApp) -> String {
    t.probe.event_thread.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default()
}

#[tokio::test]
async fn callbacks_run_on_host_threads_unless_the_host_asks_for_inline() {
    let pooled = TestApp::start(|_| {});
    let (mut ws, _, _) = pooled.live("/counter").await;
    ws.event_patch("inc", json!({"by": "1"})).await;
    assert!(event_thread(&pooled).starts_with("mizulive-host"), "{}", event_thread(&pooled));

    let inline = TestApp::start(|o| o.inline_callbacks = true);
    let (mut ws, _, _) = inline.live("/counter").await;
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 1));
    assert!(event_thread(&inline).starts_with("mizulive-io"), "{}", event_thread(&inline));
    // A failed callback still rolls back and answers with an error, inline too.
    let r = ws.event("boom", json!({})).await;
    assert_eq!(ws.expect_error(r).await["code"], "host_error");
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(count_in(region(&patch, "stats")), Some(START + 2), "the failed event's change was kept");
}

/// Two regions whose children share ids (the page breaks HTML's rule, but it
/// happens): the client finds a child by its id in the whole page, so a change to one
/// of them sends its region whole rather than name a child the other region has too.
/// An item appended is still sent alone (`append` names its region).
#[tokio::test]
async fn a_child_whose_id_another_region_shares_goes_with_its_region_whole() {
    let t = TestApp::start(|_| {});
    let mut spec = counter_spec(std::sync::Arc::new(Counter { probe: t.probe.clone() }));
    spec.template = "counter/twin".into();
    spec.regions.clear();
    spec.regions.insert("rows".into(), "counter/rows".into());
    spec.regions.insert("mirror".into(), "counter/rows".into());
    t.app().register_page("/twin", spec).expect("register /twin");
    let (mut ws, _, boot) = t.live("/twin").await;
    for text in ["a", "b", "c", "d"] {
        ws.event_patch("row_add", json!({"text": text})).await;
    }
    // `mirror` is rendered with the body: a rejoin asking for it whole.
    drop(ws);
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &t.url("/twin"), (1 << 53) - 1).await;
    let root = joined["root"].as_str().unwrap_or_else(|| panic!("no root: {joined}"));
    assert_eq!(root.matches("id=\"row-2\"").count(), 2, "{root}");
    let patch = ws.event_patch("row_add", json!({"text": "e"})).await;
    assert_eq!(child_changes(&patch), json!({"append": {"rows": "<li id=\"row-4\">e</li>"}}), "{patch}");

    let patch = ws.event_patch("row_set", json!({"id": "2", "text": "C"})).await;
    assert_eq!(child_changes(&patch), json!({}), "a child another region has too was named: {patch}");
    assert!(region(&patch, "rows").contains("<li id=\"row-2\">C</li>"), "{patch}");
    let patch = ws.event_patch("row_del", json!({"id": "1"})).await;
    assert_eq!(child_changes(&patch), json!({}), "{patch}");
    assert!(!region(&patch, "rows").contains("row-1"), "{patch}");
}

#[tokio::test]
async fn a_keyed_region_is_patched_child_by_child() {
    let t = TestApp::start(|_| {});
    let (mut ws, _, boot) = t.live("/counter").await;
    // The first item: the region goes whole (its parts would be no smaller).
    let patch = ws.event_patch("row_add", json!({"text": "a"})).await;
    assert_eq!(region(&patch, "rows"), "<li id=\"row-0\">a</li>\n", "{patch}");
    assert_eq!(child_changes(&patch), json!({}), "{patch}");
    for text in ["b", "c", "d"] {
        ws.event_patch("row_add", json!({"text": text})).await;
    }

    // Appended: only the new item.
    let patch = ws.event_patch("row_add", json!({"text": "e"})).await;
    assert_eq!(child_changes(&patch), json!({"append": {"rows": "<li id=\"row-4\">e</li>"}}), "{patch}");
    assert!(patch["regions"].get("rows").is_none(), "the region went whole too: {patch}");

    // Changed: only that item's text, by id (its one text node, the characters as a
    // browser reads them).
    let patch = ws.event_patch("row_set", json!({"id": "2", "text": "C<&>"})).await;
    assert_eq!(child_changes(&patch), json!({"text": {"row-2": [1, 0, "C<&>"]}}), "{patch}");

    // Removed: only its id.
    let patch = ws.event_patch("row_del", json!({"id": "1"})).await;
    assert_eq!(child_changes(&patch), json!({"remove": ["row-1"]}), "{patch}");

    // Another region on the page is still sent whole.
    let patch = ws.event_patch("inc", json!({"by": "1"})).await;
    assert_eq!(child_changes(&patch), json!({}), "{patch}");
    assert!(region(&patch, "stats").contains(&(START + 1).to_string()), "{patch}");

    // A client that rejoins "ahead" of the session (as the runtime does when a region
    // no longer matches) gets the whole body: the same list the parts built.
    drop(ws);
    let mut ws = t.connect().await;
    let joined = ws.join(&boot.token, &t.url("/counter"), (1 << 53) - 1).await;
    let html = joined["root"].as_str().unwrap_or_else(|| panic!("no root: {joined}"));
    let rows =
        html.split("<ul id=\"rows\">").nth(1).and_then(|r| r.split("</ul>").next()).unwrap_or_default();
    assert_eq!(rows, "<li id=\"row-0\">a</li>\n<li id=\"row-2\">C&lt;&amp;&gt;</li>\n<li id=\"row-3\">d</li>\n<li id=\"row-4\">e</li>\n");
}
