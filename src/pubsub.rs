//! Pub/sub: topics → subscribed sessions.
//!
//! Callers (`App::publish`, `Ctx::subscribe`) talk to [`PubSub`]; where messages travel
//! is the [`Broker`]'s business. The in-memory broker hands a publish straight to the
//! local subscribers; a Redis broker would publish to Redis and feed what it receives
//! into [`LocalBus::deliver`], with no change to any caller.
//!
//! A session's mailbox is bounded. A publish that finds it full is not queued; the
//! session counts it and its next `info` callback is a synthetic message on topic
//! `mizulive:lagged` saying how many it missed. Nothing is dropped silently.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::page::Info;
use crate::session::Mailbox;

/// Carries published messages to every node's local subscribers.
pub trait Broker: Send + Sync + 'static {
    /// Delivers `payload` (valid JSON) to every subscriber of `topic`.
    fn publish(&self, topic: &str, payload: Arc<str>, local: &LocalBus) -> Result<()>;
    /// The first local subscriber of `topic` appeared.
    fn topic_added(&self, _topic: &str) {}
    /// The last local subscriber of `topic` went away.
    fn topic_removed(&self, _topic: &str) {}
}

/// The single-node broker.
pub struct InMemoryBroker;

impl Broker for InMemoryBroker {
    fn publish(&self, topic: &str, payload: Arc<str>, local: &LocalBus) -> Result<()> {
        local.deliver(topic, payload);
        Ok(())
    }
}

/// This node's subscriptions.
#[derive(Default)]
pub struct LocalBus {
    topics: Mutex<HashMap<Arc<str>, HashMap<u64, Mailbox>>>,
}

impl LocalBus {
    /// Offers the message to every local subscriber of `topic`, in subscription order
    /// per session. The lock is held while offering so that two concurrent publishes
    /// reach every subscriber in the same order.
    pub fn deliver(&self, topic: &str, payload: Arc<str>) {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let Some((topic, subs)) = topics.get_key_value(topic) else { return };
        for mailbox in subs.values() {
            mailbox.offer_info(Info { topic: Some(topic.clone()), data: payload.clone() });
        }
    }

    /// Returns true when this is the topic's first subscriber.
    fn add(&self, topic: &str, mailbox: Mailbox) -> bool {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let subs = topics.entry(Arc::from(topic)).or_default();
        let first = subs.is_empty();
        subs.insert(mailbox.key(), mailbox);
        first
    }

    /// Returns true when the topic has no subscriber left.
    fn remove(&self, topic: &str, key: u64) -> bool {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let Some(subs) = topics.get_mut(topic) else { return false };
        if subs.remove(&key).is_none() {
            return false;
        }
        if subs.is_empty() {
            topics.remove(topic);
            return true;
        }
        false
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics.get(topic).map_or(0, |s| s.len())
    }
}

/// The app's pub/sub: local subscriptions plus a broker.
pub struct PubSub {
    local: LocalBus,
    broker: Box<dyn Broker>,
}

impl PubSub {
    pub fn new(broker: Box<dyn Broker>) -> Self {
        PubSub { local: LocalBus::default(), broker }
    }

    pub fn in_memory() -> Self {
        Self::new(Box::new(InMemoryBroker))
    }

    pub fn publish(&self, topic: &str, payload: Arc<str>) -> Result<()> {
        self.broker.publish(topic, payload, &self.local)
    }

    pub fn subscribe(&self, topic: &str, mailbox: Mailbox) {
        if self.local.add(topic, mailbox) {
            self.broker.topic_added(topic);
        }
    }

    pub fn unsubscribe(&self, topic: &str, key: u64) {
        if self.local.remove(topic, key) {
            self.broker.topic_removed(topic);
        }
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.local.subscriber_count(topic)
    }
}
