//! This node's link to Redis: one subscriber connection, one publishing connection,
//! one command connection, each reconnecting on its own.
//!
//! The link never blocks its callers and never fails them: a host thread that
//! publishes while Redis is down loses the cross-node copy of its message (counted in
//! `mizulive_redis_publish_dropped_total`), not its time. Reconnects and
//! resubscription are done here rather than inside the client, so that every outage
//! is logged once, counted, and shows in `mizulive_redis_up`.
//!
//! Threading: the tasks run on the runtime given to [`RedisLink::start`]; every
//! method but [`RedisLink::query`] and [`RedisLink::query_pipeline`] may be called
//! from any thread, inside or outside that runtime.

use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::error::{Error, Result};
use crate::metrics::{inc, Metrics};

mod tasks;
use tasks::{run_publisher, run_subscriber};

/// What the link calls for every message that arrives on a subscribed channel: the
/// channel and the payload. It runs on the link's subscriber task, one message at a
/// time in arrival order, so it must return quickly and never block (hand the message
/// to a channel or a mailbox; do not call into a host or wait on a lock held across
/// I/O). A panic in it loses that message only (it is caught and logged).
pub type OnMessage = Arc<dyn Fn(&str, Bytes) + Send + Sync>;

/// Publishes that may wait for the publishing task. Beyond it a publish is dropped
/// and counted: a node that cannot reach Redis must not grow without bound.
const PUBLISH_QUEUE: usize = 65_536;
/// Most publishes sent in one pipelined round trip.
const PUBLISH_BATCH: usize = 4_096;
/// First delay before reconnecting; it doubles on every failed attempt up to
/// [`BACKOFF_MAX`], and starts over once a connection is made.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How long making a connection (TCP, AUTH, SELECT) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a publish pipeline, a (un)subscribe or a PING may wait for its answer
/// before the connection counts as lost.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`RedisLink::query`] may take, reconnecting included: past it the query
/// fails with [`Error::Redis`] instead of hanging while Redis is away.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle publishing connection sends PING this often, so an outage shows in
/// [`RedisLink::is_up`] before the next publish finds it.
const PUBLISHER_PING: Duration = Duration::from_secs(1);
/// The subscriber connection sends PING this often, so a connection that died
/// without a FIN (a lost route) is noticed.
const SUBSCRIBER_PING: Duration = Duration::from_secs(5);
/// Channels per SUBSCRIBE or UNSUBSCRIBE command, so resubscribing many topics after a
/// reconnect does not build one huge command.
const SUBSCRIBE_CHUNK: usize = 1_024;
/// At most one warning per this interval about publishes dropped on a full queue.
const FULL_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// The publishing connection's state, read by [`RedisLink::publish`] without a lock.
const PUB_CONNECTING: u8 = 0;
const PUB_UP: u8 = 1;
const PUB_DOWN: u8 = 2;

/// A node's link to Redis, held for the node's lifetime. Cheap to clone: clones share
/// one set of connections. Dropping the last clone stops the link, as
/// [`RedisLink::shutdown`] does.
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    publish_tx: mpsc::Sender<(String, Bytes)>,
    commands: redis::aio::ConnectionManager,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What the link's tasks and its handle share. The tasks hold this, not [`Inner`], so
/// dropping the last handle stops them.
struct Shared {
    /// The URL with any password masked: the only form that reaches a log or an error.
    url: String,
    metrics: Arc<Metrics>,
    health: Mutex<Health>,
    /// `PUB_*`: whether publishes should be queued or dropped at once.
    publisher: AtomicU8,
    subscriptions: Mutex<Subscriptions>,
    subscriptions_changed: Notify,
    closed: AtomicBool,
}

#[derive(Default)]
struct Health {
    subscriber_up: bool,
    publisher_up: bool,
    /// An outage was logged and counted and has not ended yet.
    in_outage: bool,
    /// The first publish dropped during this outage was logged.
    drop_warned: bool,
    /// When dropping on a full queue was last logged.
    full_warned_at: Option<Instant>,
    /// The link has been up once (its first "connected" was logged).
    was_up: bool,
}

/// The channels this node wants, and what changed since the subscriber last looked.
/// Both are bounded by the number of distinct channels, however often they change.
#[derive(Default)]
struct Subscriptions {
    wanted: HashSet<String>,
    /// Channel -> wanted, the latest call for each channel winning (call order).
    pending: HashMap<String, bool>,
}

#[derive(Clone, Copy)]
enum Conn {
    Subscriber,
    Publisher,
}

// Not C API: without the annotation cbindgen writes these into include/mizulive.h.
/// cbindgen:ignore
impl RedisLink {
    /// Publishes that may wait to be sent; see [`RedisLink::publish`].
    pub const PUBLISH_QUEUE: usize = PUBLISH_QUEUE;
    /// The longest a query may take; see [`RedisLink::query`].
    pub const QUERY_TIMEOUT: Duration = QUERY_TIMEOUT;
}

impl RedisLink {
    /// Starts the link to the Redis at `url` (`redis://[:password@]host[:port][/db]`)
    /// and returns at once: its tasks run on `rt`. Messages on subscribed channels go
    /// to `on_message` (see [`OnMessage`] for what it may do).
    ///
    /// Only an unusable URL is an error ([`Error::Config`], naming the URL without
    /// its password). Redis being unreachable is not: it is an outage, logged and
    /// counted, and the link keeps trying (50 ms, doubling up to 2 s between tries).
    pub fn start(
        url: &str,
        rt: &tokio::runtime::Handle,
        metrics: Arc<Metrics>,
        on_message: OnMessage,
    ) -> Result<RedisLink> {
        let shown = redact(url);
        let client = redis::Client::open(url).map_err(|e| Error::Config(format!("redis: {shown}: {e}")))?;
        // The manager connects on its first command; it locates the runtime it
        // spawns its tasks on from the context.
        let commands = {
            let _in_rt = rt.enter();
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(QUERY_TIMEOUT))
                .set_min_delay(BACKOFF_MIN)
                .set_max_delay(BACKOFF_MAX)
                .set_number_of_retries(2);
            redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config)
                .map_err(|e| Error::Config(format!("redis: {shown}: {e}")))?
        };
        metrics.redis_up.store(0, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            url: shown,
            metrics,
            health: Mutex::default(),
            publisher: AtomicU8::new(PUB_CONNECTING),
            subscriptions: Mutex::default(),
            subscriptions_changed: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let tasks = vec![
            rt.spawn(run_subscriber(shared.clone(), client.clone(), on_message)),
            rt.spawn(run_publisher(shared.clone(), client, publish_rx)),
        ];
        Ok(RedisLink { inner: Arc::new(Inner { shared, publish_tx, commands, tasks: Mutex::new(tasks) }) })
    }

    /// Asks for the messages of `channel`. Never blocks, never fails: the subscriber
    /// task applies (un)subscribe calls in call order, and subscribes again to every
    /// wanted channel after each reconnect. A set, not a count: subscribing twice
    /// then unsubscribing once leaves the channel unsubscribed. Messages published
    /// before Redis has applied the subscription are not delivered.
    pub fn subscribe(&self, channel: &str) {
        self.change_subscription(channel, true);
    }

    /// Stops asking for the messages of `channel` (see [`RedisLink::subscribe`]). A
    /// message already on its way may still reach `on_message` shortly after.
    pub fn unsubscribe(&self, channel: &str) {
        self.change_subscription(channel, false);
    }

    fn change_subscription(&self, channel: &str, wanted: bool) {
        let shared = &self.inner.shared;
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        {
            let mut subs = lock(&shared.subscriptions);
            let changed =
                if wanted { subs.wanted.insert(channel.to_owned()) } else { subs.wanted.remove(channel) };
            if !changed {
                return;
            }
            subs.pending.insert(channel.to_owned(), wanted);
        }
        shared.subscriptions_changed.notify_one();
    }

    /// Publishes `payload` on `channel` to every node. Never blocks, never fails: the
    /// message joins a queue of [`RedisLink::PUBLISH_QUEUE`] (65,536) that one task
    /// sends in pipelined batches, in call order. While Redis is down, or when the queue is full, the
    /// message is dropped and counted (`mizulive_redis_publish_dropped_total`). After
    /// [`RedisLink::shutdown`] it is dropped silently.
    pub fn publish(&self, channel: &str, payload: Bytes) {
        let shared = &self.inner.shared;
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        if shared.publisher.load(Ordering::Acquire) == PUB_DOWN {
            shared.dropped(1, false);
            return;
        }
        match self.inner.publish_tx.try_send((channel.to_owned(), payload)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => shared.dropped(1, true),
            // Only after shutdown: the publishing task is gone.
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Runs one command on the command connection, e.g. `redis::cmd("GET").arg(key)`.
    /// Must be awaited inside a Tokio runtime (the link's own is the natural one). Any
    /// failure, including no answer within [`RedisLink::QUERY_TIMEOUT`] (5 s; a lost
    /// connection is retried inside that time), is an [`Error::Redis`]; after
    /// shutdown an [`Error::State`].
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let mut conn = self.commands()?;
        self.bounded(cmd.query_async(&mut conn)).await
    }

    /// Runs a pipeline (or a `MULTI`/`EXEC` transaction, `redis::pipe().atomic()`) in
    /// one round trip on the command connection. Errors as for [`RedisLink::query`].
    pub async fn query_pipeline<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T> {
        let mut conn = self.commands()?;
        self.bounded(pipe.query_async(&mut conn)).await
    }

    fn commands(&self) -> Result<redis::aio::ConnectionManager> {
        if self.inner.shared.closed.load(Ordering::Acquire) {
            return Err(Error::State("the Redis link is shut down".into()));
        }
        Ok(self.inner.commands.clone())
    }

    async fn bounded<T>(&self, query: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T> {
        let url = &self.inner.shared.url;
        match timeout(QUERY_TIMEOUT, query).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Error::Redis(format!("{url}: {e}"))),
            Err(_) => Err(Error::Redis(format!("{url}: no answer within {} s", QUERY_TIMEOUT.as_secs()))),
        }
    }

    /// Whether both the subscriber and the publishing connection are connected: while
    /// it is false, publishes from other nodes may be missed and publishes from this
    /// one are dropped.
    pub fn is_up(&self) -> bool {
        let health = lock(&self.inner.shared.health);
        health.subscriber_up && health.publisher_up
    }

    /// Stops the link's tasks and closes its connections. Idempotent; afterwards
    /// publishes and (un)subscribes are ignored and queries fail.
    pub fn shutdown(&self) {
        let shared = &self.inner.shared;
        if shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.stop_tasks();
        shared.metrics.redis_up.store(0, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("url", &self.inner.shared.url).field("up", &self.is_up()).finish()
    }
}

impl Inner {
    fn stop_tasks(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl Shared {
    /// A connection was made; `again` when an earlier one of it failed or was lost.
    fn connected(&self, conn: Conn, again: bool) {
        if again {
            inc(&self.metrics.redis_reconnects);
        }
        let mut health = lock(&self.health);
        match conn {
            Conn::Subscriber => health.subscriber_up = true,
            Conn::Publisher => {
                health.publisher_up = true;
                self.publisher.store(PUB_UP, Ordering::Release);
            }
        }
        if health.subscriber_up && health.publisher_up {
            self.metrics.redis_up.store(1, Ordering::Relaxed);
            if !health.was_up && !health.in_outage {
                tracing::info!("redis connected at {}: publishes and subscriptions span the nodes", self.url);
            }
            health.was_up = true;
            if health.in_outage {
                health.in_outage = false;
                tracing::info!("redis reachable again at {}; cross-node delivery resumes", self.url);
            }
        }
    }

    /// A connection could not be made or was lost. The first failure of an outage is
    /// logged and counted; the retries that follow are not.
    fn failed(&self, conn: Conn, err: &dyn Display) {
        let mut health = lock(&self.health);
        match conn {
            Conn::Subscriber => health.subscriber_up = false,
            Conn::Publisher => {
                health.publisher_up = false;
                self.publisher.store(PUB_DOWN, Ordering::Release);
            }
        }
        self.metrics.redis_up.store(0, Ordering::Relaxed);
        if health.in_outage {
            tracing::debug!("redis still unreachable at {}: {err}", self.url);
            return;
        }
        health.in_outage = true;
        health.drop_warned = false;
        inc(&self.metrics.redis_outages);
        tracing::warn!("redis unreachable at {}: {err}; local delivery goes on", self.url);
    }

    /// `n` publishes did not reach Redis: down, or (`queue_full`) the queue was full.
    fn dropped(&self, n: usize, queue_full: bool) {
        self.metrics.redis_publish_dropped.fetch_add(n as u64, Ordering::Relaxed);
        let mut health = lock(&self.health);
        if queue_full && !health.in_outage {
            let now = Instant::now();
            if health.full_warned_at.is_none_or(|at| now.duration_since(at) >= FULL_WARN_INTERVAL) {
                health.full_warned_at = Some(now);
                tracing::warn!(
                    "redis publish queue full ({PUBLISH_QUEUE} messages): dropping publishes to other nodes \
                     (counted in mizulive_redis_publish_dropped_total)"
                );
            }
        } else if !health.drop_warned {
            health.drop_warned = true;
            tracing::warn!(
                "redis down at {}: publishes reach this node only until it is back \
                 (counted in mizulive_redis_publish_dropped_total)",
                self.url
            );
        }
    }

    /// Takes what changed since the last call: channels to subscribe, then to
    /// unsubscribe. With `all`, every wanted channel (a fresh connection has none).
    fn take_changes(&self, all: bool) -> (Vec<String>, Vec<String>) {
        let mut subs = lock(&self.subscriptions);
        let pending = std::mem::take(&mut subs.pending);
        if all {
            return (subs.wanted.iter().cloned().collect(), Vec::new());
        }
        let (add, remove): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(_, wanted)| *wanted);
        (add.into_iter().map(|(c, _)| c).collect(), remove.into_iter().map(|(c, _)| c).collect())
    }
}

/// Delay before the next connection attempt.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(BACKOFF_MIN)
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        delay
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
}

/// The state behind these mutexes stays consistent at every step, so a panic
/// elsewhere while one was held leaves nothing to repair.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `url` with the password of its user info masked, for logs and errors.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(redact("redis://:hunter2@db:6379/0"), "redis://:***@db:6379/0");
        assert_eq!(redact("redis://app:hunter2@db"), "redis://app:***@db");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("redis://a:b@c@db/1?x=1"), "redis://a:***@db/1?x=1");
        assert!(!redact("hunter2").contains("hunter2"));
    }
}
