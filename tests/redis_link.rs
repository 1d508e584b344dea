//! The Redis link between nodes, against a real redis-server: two links stand for two
//! nodes. Publishes cross over, in order, once; an outage is seen, counted and
//! recovered from, subscriptions included; queries answer or fail in bounded time.

mod common;

use bytes::Bytes;
use common::redis::{free_port, RedisServer};
use mizulive::testing::{Metrics, RedisLink};
use mizulive::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a link may take to (re)connect: its backoff tops out at 2 s.
const UP: Duration = Duration::from_secs(10);
const QUERY_TIMEOUT: Duration = RedisLink::QUERY_TIMEOUT;
/// How long one message may take to cross.
const WAIT: Duration = Duration::from_secs(5);

/// A node: its link, its metrics and what reached its `on_message`.
struct Node {
    link: RedisLink,
    metrics: Arc<Metrics>,
    inbox: mpsc::UnboundedReceiver<(String, Bytes)>,
}

fn node(url: &str) -> Node {
    let metrics = Arc::new(Metrics::default());
    let (tx, inbox) = mpsc::unbounded_channel();
    let on_message = Arc::new(move |channel: &str, payload: Bytes| {
        let _ = tx.send((channel.to_owned(), payload));
    });
    let link = RedisLink::start(url, &tokio::runtime::Handle::current(), metrics.clone(), on_message)
        .expect("a valid URL starts a link");
    Node { link, metrics, inbox }
}

impl Node {
    async fn next(&mut self) -> (String, Bytes) {
        tokio::time::timeout(WAIT, self.inbox.recv())
            .await
            .expect("a message within WAIT")
            .expect("the link is alive")
    }

    /// Nothing arrives for a while.
    async fn quiet(&mut self) {
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), self.inbox.recv()).await {
            panic!("unexpected message {msg:?}");
        }
    }
}

fn count(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Waits until `cond` holds, polling; fails the test after `limit`.
async fn until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until Redis counts `n` subscribers on `channel` (a subscription is applied
/// asynchronously; this is its acknowledgement).
async fn subscribers(via: &RedisLink, channel: &str, n: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply: Result<(String, i64), Error> =
            via.query(redis::cmd("PUBSUB").arg("NUMSUB").arg(channel)).await;
        if matches!(&reply, Ok((_, got)) if *got == n) {
            return;
        }
        assert!(Instant::now() < deadline, "{channel}: {n} subscribers not within {WAIT:?}, last {reply:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Publishes a fresh message from `from` until one reaches `to`: after a reconnect,
/// the first publishes may race the resubscription.
async fn crosses(from: &Node, to: &mut Node, channel: &str) {
    for attempt in 0..100 {
        let payload = format!("probe-{attempt}");
        from.link.publish(channel, Bytes::from(payload.clone()));
        if let Ok(Some((got_channel, got))) =
            tokio::time::timeout(Duration::from_millis(100), to.inbox.recv()).await
        {
            assert_eq!(got_channel, channel);
            assert!(got.starts_with(b"probe-"), "unexpected payload {got:?}");
            return;
        }
    }
    panic!("no publish on {channel} reached the other node in 100 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_reaches_the_other_node() {
    let server = RedisServer::start();
    let a = node(&server.url());
    let mut b = node(&server.url());
    b.link.subscribe("room:1");
    subscribers(&a.link, "room:1", 1).await;
    until("both links up", UP, || a.link.is_up() && b.link.is_up()).await;
    assert!(a.metrics.render(0).contains("mizulive_redis_up 1\n"));

    a.link.publish("room:1", Bytes::from_static(b"hello"));
    assert_eq!(b.next().await, ("room:1".to_owned(), Bytes::from_static(b"hello")));
    // Only subscribed channels arrive.
    a.link.publish("room:2", Bytes::from_static(b"elsewhere"));
    b.quiet().await;

    b.link.unsubscribe("room:1");
    subscribers(&a.link, "room:1", 0).await;
    a.link.publish("room:1", Bytes::from_static(b"gone"));
    b.quiet().await;
    assert_eq!(count(&a.metrics.redis_publish_dropped), 0);
    assert_eq!(count(&a.metrics.redis_outages), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_publishes_arrive_in_order_once() {
    let server = RedisServer::start();
    let a = node(&server.url());
    let mut b = node(&server.url());
    b.link.subscribe("feed");
    subscribers(&a.link, "feed", 1).await;
    for i in 0..1000 {
        a.link.publish("feed", Bytes::from(i.to_string()));
    }
    for i in 0..1000 {
        let (channel, payload) = b.next().await;
        assert_eq!(channel, "feed");
        assert_eq!(payload, Bytes::from(i.to_string()), "message {i} out of order");
    }
    b.quiet().await;
    assert_eq!(count(&a.metrics.redis_publish_dropped), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_counted_and_subscriptions_come_back() {
    let mut server = RedisServer::start();
    let a = node(&server.url());
    let mut b = node(&server.url());
    b.link.subscribe("news");
    subscribers(&a.link, "news", 1).await;
    until("both links up", UP, || a.link.is_up() && b.link.is_up()).await;

    server.stop();
    until("both links see the outage", UP, || !a.link.is_up() && !b.link.is_up()).await;
    for i in 0..10 {
        a.link.publish("news", Bytes::from(format!("lost-{i}")));
    }
    until("publishes during the outage dropped", WAIT, || count(&a.metrics.redis_publish_dropped) >= 10)
        .await;
    assert_eq!(count(&a.metrics.redis_outages), 1, "one outage, counted once");
    assert_eq!(count(&b.metrics.redis_outages), 1);
    assert!(a.metrics.render(0).contains("mizulive_redis_up 0\n"));

    server.restart();
    until("both links back", UP, || a.link.is_up() && b.link.is_up()).await;
    assert!(count(&a.metrics.redis_reconnects) >= 1);
    assert!(count(&b.metrics.redis_reconnects) >= 1);
    // The new server knows no subscriptions: only b's resubscription gets this across.
    crosses(&a, &mut b, "news").await;
    assert_eq!(count(&a.metrics.redis_outages), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_at_start_is_an_outage_not_an_error() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let a = node(&url);
    let mut b = node(&url);
    b.link.subscribe("late");
    until("the outage counted", UP, || count(&a.metrics.redis_outages) == 1).await;
    assert!(!a.link.is_up());
    a.link.publish("late", Bytes::from_static(b"nobody"));
    until("a publish while down dropped", WAIT, || count(&a.metrics.redis_publish_dropped) >= 1).await;

    let _server = RedisServer::start_on(port);
    until("both links up", UP, || a.link.is_up() && b.link.is_up()).await;
    crosses(&a, &mut b, "late").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_answer_and_fail_in_bounded_time() {
    let mut server = RedisServer::start();
    let a = node(&server.url());
    let () = a.link.query(redis::cmd("SET").arg("session:1").arg("{\"n\":1}")).await.expect("SET");
    let got: String = a.link.query(redis::cmd("GET").arg("session:1")).await.expect("GET");
    assert_eq!(got, "{\"n\":1}");
    let counts: (i64, i64) = a
        .link
        .query_pipeline(redis::pipe().atomic().cmd("INCR").arg("seq").cmd("INCR").arg("seq"))
        .await
        .expect("MULTI/EXEC");
    assert_eq!(counts, (1, 2));
    let wrong: Result<i64, Error> = a.link.query(redis::cmd("INCR").arg("session:1")).await;
    assert!(matches!(wrong, Err(Error::Redis(_))), "{wrong:?}");

    // A server that does not answer: the query gives up after QUERY_TIMEOUT.
    server.pause();
    let started = Instant::now();
    let hung: Result<String, Error> =
        tokio::time::timeout(QUERY_TIMEOUT * 2, a.link.query(redis::cmd("GET").arg("session:1")))
            .await
            .expect("a query to a hung server ends");
    assert!(matches!(hung, Err(Error::Redis(_))), "{hung:?}");
    let took = started.elapsed();
    assert!(took >= QUERY_TIMEOUT - Duration::from_millis(100), "gave up early: {took:?}");
    assert!(took < QUERY_TIMEOUT + Duration::from_secs(1), "took {took:?}");
    server.resume();

    // A server that is gone: refused at once.
    server.stop();
    let started = Instant::now();
    let down: Result<String, Error> = a.link.query(redis::cmd("GET").arg("session:1")).await;
    assert!(matches!(down, Err(Error::Redis(_))), "{down:?}");
    assert!(started.elapsed() < QUERY_TIMEOUT + Duration::from_secs(1), "took {:?}", started.elapsed());

    server.restart();
    let deadline = Instant::now() + UP;
    loop {
        let back: Result<Option<String>, Error> = a.link.query(redis::cmd("GET").arg("session:1")).await;
        match back {
            // The restarted server is empty.
            Ok(value) => break assert_eq!(value, None),
            Err(e) => assert!(Instant::now() < deadline, "no query answered after the restart: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    a.link.shutdown();
    a.link.shutdown();
    let after: Result<String, Error> = a.link.query(redis::cmd("GET").arg("x")).await;
    assert!(matches!(after, Err(Error::State(_))), "{after:?}");
    a.link.publish("t", Bytes::from_static(b"after shutdown"));
    assert_eq!(count(&a.metrics.redis_publish_dropped), 0, "publishes after shutdown are not counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_is_a_config_error_without_the_password() {
    let metrics = Arc::new(Metrics::default());
    let on_message = Arc::new(|_: &str, _: Bytes| {});
    let err = RedisLink::start(
        "redis://:hunter2@/x?db=notanumber",
        &tokio::runtime::Handle::current(),
        metrics,
        on_message,
    )
    .expect_err("a URL without a host is refused");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_loses_one_message_not_the_link() {
    let server = RedisServer::start();
    let a = node(&server.url());
    let (tx, mut inbox) = mpsc::unbounded_channel();
    let on_message = Arc::new(move |_: &str, payload: Bytes| {
        assert_ne!(&payload[..], b"boom", "the handler fails on this one");
        let _ = tx.send(payload);
    });
    let b = RedisLink::start(&server.url(), &tokio::runtime::Handle::current(), Arc::default(), on_message)
        .expect("a valid URL starts a link");
    b.subscribe("t");
    subscribers(&a.link, "t", 1).await;
    a.link.publish("t", Bytes::from_static(b"boom"));
    a.link.publish("t", Bytes::from_static(b"after"));
    let got = tokio::time::timeout(WAIT, inbox.recv()).await.expect("a message within WAIT");
    assert_eq!(got.as_deref(), Some(&b"after"[..]));
    assert!(b.is_up());
}
