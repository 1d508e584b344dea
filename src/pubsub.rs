//! Pub/sub: topics → subscribers.
//!
//! Callers (`App::publish`, `Ctx::subscribe`) talk to [`PubSub`]. A publish reaches
//! this node's subscribers at once, through the [`LocalBus`]; the [`Broker`] carries
//! it to the other nodes, whose brokers feed it into their own `LocalBus`. The
//! single-node broker carries nothing. So a publish reaches each subscriber once,
//! on every node, in the order its publisher made it.
//!
//! A subscriber is anything that takes an [`Info`] without blocking: a session's
//! mailbox, in practice. A mailbox is bounded: a publish that finds it full is not
//! queued; the session counts it and its next `info` callback is a synthetic message
//! on topic [`LAGGED_TOPIC`] saying how many it missed. Nothing is dropped silently.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A server-side message: a publish on a subscribed topic, or a timer.
#[derive(Debug, Clone)]
pub struct Info {
    /// The topic for a publish; `None` for a timer.
    pub topic: Option<Arc<str>>,
    /// The payload, as validated JSON text.
    pub data: Arc<str>,
}

impl Info {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// Topic of the synthetic info a session receives after its mailbox overflowed.
pub const LAGGED_TOPIC: &str = "mizulive:lagged";

/// Something subscribed to topics: takes a message without blocking.
pub trait Subscriber: Send + Sync + 'static {
    /// Unique among this node's subscribers.
    fn key(&self) -> u64;
    /// Takes a message; must not block (it runs under the bus lock).
    fn offer(&self, info: Info);
}

/// Carries publishes between nodes.
///
/// Every method is called on a host or IO thread and must not block on the network:
/// a broker queues and returns.
pub trait Broker: Send + Sync + 'static {
    /// Sends a publish made on this node to the other nodes (not back to this one:
    /// its local subscribers already have it).
    fn publish(&self, topic: &str, payload: &Arc<str>);
    /// This node's first subscriber of `topic` appeared. Called under the bus lock,
    /// so calls for one topic arrive in the order the subscriptions changed.
    fn topic_added(&self, _topic: &str) {}
    /// This node's last subscriber of `topic` went away (under the bus lock too).
    fn topic_removed(&self, _topic: &str) {}
}

/// The single-node broker: there is nobody else to tell.
pub struct InMemoryBroker;

impl Broker for InMemoryBroker {
    fn publish(&self, _topic: &str, _payload: &Arc<str>) {}
}

type Subscribers = HashMap<u64, Arc<dyn Subscriber>>;

/// This node's subscriptions. A broker holds it to deliver what other nodes publish.
#[derive(Default)]
pub struct LocalBus {
    topics: Mutex<HashMap<Arc<str>, Subscribers>>,
}

impl LocalBus {
    /// Offers the message to every local subscriber of `topic`. The lock is held
    /// while offering so that two concurrent publishes reach every subscriber in the
    /// same order.
    pub fn deliver(&self, topic: &str, payload: Arc<str>) {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let Some((topic, subs)) = topics.get_key_value(topic) else { return };
        for sub in subs.values() {
            sub.offer(Info { topic: Some(topic.clone()), data: payload.clone() });
        }
    }

    /// Topics with at least one local subscriber.
    pub fn topics(&self) -> Vec<Arc<str>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics.get(topic).map_or(0, |s| s.len())
    }

    /// Adds a subscriber; `first` runs, under the lock, when it is the topic's first.
    fn add(&self, topic: &str, sub: Arc<dyn Subscriber>, first: impl FnOnce(&str)) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let subs = topics.entry(Arc::from(topic)).or_default();
        if subs.is_empty() {
            first(topic);
        }
        subs.insert(sub.key(), sub);
    }

    /// Removes a subscriber; `last` runs, under the lock, when none is left.
    fn remove(&self, topic: &str, key: u64, last: impl FnOnce(&str)) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = topics.get_mut(topic) else { return };
        if subs.remove(&key).is_some() && subs.is_empty() {
            topics.remove(topic);
            last(topic);
        }
    }
}

/// The app's pub/sub: local subscriptions plus a broker.
pub struct PubSub {
    local: Arc<LocalBus>,
    broker: Box<dyn Broker>,
}

impl PubSub {
    /// Pub/sub over the broker `make` builds; it is handed the local bus, where it
    /// delivers what other nodes publish.
    pub fn new(make: impl FnOnce(Arc<LocalBus>) -> Box<dyn Broker>) -> Self {
        let local = Arc::new(LocalBus::default());
        let broker = make(local.clone());
        PubSub { local, broker }
    }

    pub fn in_memory() -> Self {
        Self::new(|_| Box::new(InMemoryBroker))
    }

    /// Delivers to this node's subscribers now, and hands the publish to the broker
    /// for the other nodes. Never blocks on the network.
    pub fn publish(&self, topic: &str, payload: Arc<str>) {
        self.broker.publish(topic, &payload);
        self.local.deliver(topic, payload);
    }

    pub fn subscribe(&self, topic: &str, sub: Arc<dyn Subscriber>) {
        self.local.add(topic, sub, |t| self.broker.topic_added(t));
    }

    pub fn unsubscribe(&self, topic: &str, key: u64) {
        self.local.remove(topic, key, |t| self.broker.topic_removed(t));
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.local.subscriber_count(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Inbox(u64, Mutex<Vec<String>>);

    impl Subscriber for Inbox {
        fn key(&self) -> u64 {
            self.0
        }
        fn offer(&self, info: Info) {
            self.1.lock().unwrap().push(info.data.to_string());
        }
    }

    #[derive(Default)]
    struct Counting {
        added: AtomicUsize,
        removed: AtomicUsize,
        published: AtomicUsize,
    }

    impl Broker for Arc<Counting> {
        fn publish(&self, _: &str, _: &Arc<str>) {
            self.published.fetch_add(1, Ordering::SeqCst);
        }
        fn topic_added(&self, _: &str) {
            self.added.fetch_add(1, Ordering::SeqCst);
        }
        fn topic_removed(&self, _: &str) {
            self.removed.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_broker_hears_first_and_last_subscriber_and_every_publish() {
        let counts = Arc::new(Counting::default());
        let c = counts.clone();
        let ps = PubSub::new(move |_| Box::new(c));
        let a = Arc::new(Inbox(1, Mutex::default()));
        let b = Arc::new(Inbox(2, Mutex::default()));
        ps.subscribe("t", a.clone());
        ps.subscribe("t", b.clone());
        assert_eq!(counts.added.load(Ordering::SeqCst), 1);
        ps.publish("t", Arc::from("1"));
        assert_eq!(*a.1.lock().unwrap(), ["1"]);
        assert_eq!(*b.1.lock().unwrap(), ["1"]);
        assert_eq!(counts.published.load(Ordering::SeqCst), 1);
        ps.unsubscribe("t", 1);
        assert_eq!(counts.removed.load(Ordering::SeqCst), 0);
        ps.unsubscribe("t", 1);
        ps.unsubscribe("t", 2);
        assert_eq!(counts.removed.load(Ordering::SeqCst), 1);
        assert_eq!(ps.subscriber_count("t"), 0);
    }
}
