//! The Redis broker: publishes made here go to every other node through Redis, and
//! this node subscribes in Redis to exactly the topics its sessions subscribe to.

use std::sync::Arc;

use super::node::{publish_payload, Node};
use crate::pubsub::Broker;

pub(crate) struct RedisBroker {
    pub node: Arc<Node>,
}

impl Broker for RedisBroker {
    fn publish(&self, topic: &str, payload: &Arc<str>) {
        self.node.link.publish(&self.node.topic_channel(topic), publish_payload(&self.node.id, payload));
    }

    fn topic_added(&self, topic: &str) {
        self.node.link.subscribe(&self.node.topic_channel(topic));
    }

    fn topic_removed(&self, topic: &str) {
        self.node.link.unsubscribe(&self.node.topic_channel(topic));
    }
}
