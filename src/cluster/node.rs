//! This node in a cluster of nodes sharing one Redis: its id, its liveness key, the
//! channels it listens on, and the handovers other nodes ask of it.
//!
//! Keys (all under `mizulive:`, in the URL's database):
//! - `node:<id>`: this node is alive; set every second, expires after [`NODE_TTL`].
//! - `s:<session>`: a hash, `owner` (a node id, or empty when released) and `snap`
//!   (the session's snapshot); expires a grace period after its last write.
//!
//! Channels (under `mizulive:`, or `mizulive:<db>:` for a database other than 0:
//! Redis pub/sub ignores databases, so apps on different databases stay apart):
//! - `t:<topic>`: publishes, as `<node id>\n<json>`.
//! - `n:<id>`: requests to this node to hand a session over.

use bytes::Bytes;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use super::link::{OnMessage, RedisLink};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::pubsub::LocalBus;
use crate::session::{Core, SessionMsg};

/// A node whose liveness key is this old is dead: its sessions may be claimed.
pub(crate) const NODE_TTL: Duration = Duration::from_secs(3);
/// How often the liveness key is set.
const HEARTBEAT: Duration = Duration::from_secs(1);

pub(crate) const PREFIX: &str = "mizulive:";

pub(crate) fn node_key(node: &str) -> String {
    format!("{PREFIX}node:{node}")
}

pub(crate) fn session_key(id: &str) -> String {
    format!("{PREFIX}s:{id}")
}

/// The prefix of this app's channels: pub/sub is shared by every database of a
/// Redis, so the database is part of it.
fn channel_prefix(db: i64) -> String {
    if db == 0 {
        PREFIX.to_string()
    } else {
        format!("{PREFIX}{db}:")
    }
}

/// This node's place in the cluster. Built before the rest of the node (the link
/// must exist before pub/sub and the session store), so what it delivers to is
/// attached afterwards.
pub(crate) struct Node {
    pub id: String,
    pub link: RedisLink,
    targets: Arc<Targets>,
}

/// Where incoming messages go, filled in once the node is built.
#[derive(Default)]
struct Targets {
    node: String,
    channels: String,
    bus: OnceLock<Arc<LocalBus>>,
    core: OnceLock<Weak<Core>>,
}

impl Node {
    /// Links to the Redis at `url` and starts announcing this node. Redis being down
    /// is not an error (see [`RedisLink::start`]).
    pub fn start(url: &str, rt: &tokio::runtime::Handle, metrics: Arc<Metrics>) -> Result<Arc<Node>> {
        let id = crate::token::random_id();
        // The URL is checked again (and any error reported) by the link below.
        let db = redis::Client::open(url).map_or(0, |c| c.get_connection_info().redis_settings().db());
        let targets =
            Arc::new(Targets { node: id.clone(), channels: channel_prefix(db), ..Targets::default() });
        let incoming = targets.clone();
        let on_message: OnMessage =
            Arc::new(move |channel: &str, payload: Bytes| incoming.dispatch(channel, payload));
        let link = RedisLink::start(url, rt, metrics, on_message)?;
        let node = Arc::new(Node { id, link, targets });
        node.link.subscribe(&node.node_channel(&node.id));
        rt.spawn(heartbeat(Arc::downgrade(&node)));
        Ok(node)
    }

    /// Where publishes from other nodes are delivered.
    pub fn attach_bus(&self, bus: Arc<LocalBus>) {
        let _ = self.targets.bus.set(bus);
    }

    /// The sessions other nodes ask this one to hand over.
    pub fn attach_core(&self, core: &Arc<Core>) {
        let _ = self.targets.core.set(Arc::downgrade(core));
    }

    /// Asks node `owner` to hand session `id` over; `joining`: for a browser that
    /// joins it here (the owner's socket, if any, is then the stale one).
    pub fn ask_handover(&self, owner: &str, id: &str, joining: bool) {
        let request = if joining { format!("{id} join") } else { id.to_string() };
        self.link.publish(&self.node_channel(owner), Bytes::from(request));
    }

    /// The channel publishes on `topic` travel on.
    pub fn topic_channel(&self, topic: &str) -> String {
        format!("{}t:{topic}", self.targets.channels)
    }

    fn node_channel(&self, node: &str) -> String {
        format!("{}n:{node}", self.targets.channels)
    }

    /// Stops announcing the node and closes the link (after its sessions were
    /// released: their keys say so, so other nodes need not wait for this one's
    /// liveness key to expire).
    pub async fn stop(&self) {
        let _ = self.link.query::<()>(redis::cmd("DEL").arg(node_key(&self.id))).await;
        self.link.shutdown();
    }
}

impl Targets {
    /// Runs on the link's subscriber task: hands each message on without waiting.
    fn dispatch(&self, channel: &str, payload: Bytes) {
        let Some(name) = channel.strip_prefix(self.channels.as_str()) else { return };
        if let Some(topic) = name.strip_prefix("t:") {
            let Some(bus) = self.bus.get() else { return };
            let Some((from, json)) = split_publish(&payload) else {
                tracing::warn!(topic, "ignoring a malformed publish from Redis");
                return;
            };
            // This node's own publishes reached its subscribers when they were made.
            if from != self.node {
                bus.deliver(topic, Arc::from(json));
            }
        } else if name.strip_prefix("n:") == Some(self.node.as_str()) {
            let Some(core) = self.core.get().and_then(Weak::upgrade) else { return };
            let Ok(request) = std::str::from_utf8(&payload) else { return };
            let (id, joining) = match request.split_once(' ') {
                Some((id, "join")) => (id, true),
                _ => (request, false),
            };
            hand_over(core, id.to_string(), joining);
        }
    }
}

/// The sender's node id and the JSON of a publish (`<node id>\n<json>`), when the
/// JSON is valid: a message from Redis is checked as any input is.
fn split_publish(payload: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (from, json) = text.split_once('\n')?;
    serde_json::from_str::<serde::de::IgnoredAny>(json).ok()?;
    Some((from, json))
}

/// The message a publish travels as.
pub(crate) fn publish_payload(node: &str, json: &str) -> Bytes {
    let mut out = Vec::with_capacity(node.len() + 1 + json.len());
    out.extend_from_slice(node.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(json.as_bytes());
    Bytes::from(out)
}

/// Another node wants session `id`: the session saves, releases and ends here. A
/// session this node no longer runs but still owns in Redis (it ended while the key
/// remained) is released at once; one it is restoring right now is not (it is
/// about to run here, and hears the next request).
fn hand_over(core: Arc<Core>, id: String, replaced: bool) {
    let rt = core.rt.clone();
    rt.spawn(async move {
        match core.sessions.get(&id) {
            Some(handle) => {
                let _ = handle.tx.send(SessionMsg::Handoff { replaced }).await;
            }
            None if core.is_restoring(&id) => {}
            None => {
                if let Some(store) = &core.store {
                    if let Err(e) = store.release(&id).await {
                        tracing::warn!(session = id, "releasing a session for another node failed: {e}");
                    }
                }
            }
        }
    });
}

/// Sets the liveness key every [`HEARTBEAT`] while the node lives, and keeps the
/// keys of its sessions from expiring while they run.
async fn heartbeat(node: Weak<Node>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut beats: u64 = 0;
    let refreshing = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        tick.tick().await;
        let Some(node) = node.upgrade() else { return };
        let key = node_key(&node.id);
        // GET: the value it replaces. None after a beat of ours means Redis lost its
        // data (a restart): the sessions' keys are gone too and are written again now.
        let alive =
            redis::cmd("SET").arg(&key).arg(1).arg("PX").arg(NODE_TTL.as_millis() as u64).arg("GET").clone();
        let previous = match node.link.query::<Option<String>>(&alive).await {
            Ok(previous) => previous,
            Err(e) => {
                tracing::debug!("node heartbeat failed: {e}");
                continue;
            }
        };
        beats += 1;
        let Some(core) = node.targets.core.get().and_then(Weak::upgrade) else { continue };
        // A session's key lives a grace period past its last write; refreshed about
        // three times per grace period, so an idle session's key stays.
        let every = (core.opts.grace().as_millis() as u64 / 3 / HEARTBEAT.as_millis() as u64).clamp(1, 20);
        let lost = previous.is_none() && beats > 1;
        if lost || beats.is_multiple_of(every) {
            // On a task of its own: a long refresh must not delay the next beat. One
            // at a time: a refresh still running makes the next one stand down.
            let (node, core, refreshing) = (node.clone(), core.clone(), refreshing.clone());
            core.rt.clone().spawn(async move {
                let Ok(_one) = refreshing.try_lock() else { return };
                refresh_sessions(&node, &core).await;
            });
        }
    }
}

/// Extends the expiry of every session key this node runs; a session whose key is
/// gone (Redis lost it) is told to write its snapshot again.
async fn refresh_sessions(node: &Node, core: &Core) {
    let ttl = session_ttl(core);
    for ids in core.sessions.ids().chunks(1024) {
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("PEXPIRE").arg(session_key(id)).arg(ttl);
        }
        let kept: Vec<i64> = match node.link.query_pipeline(&pipe).await {
            Ok(kept) => kept,
            Err(e) => {
                tracing::debug!("refreshing session keys failed: {e}");
                return;
            }
        };
        for (id, kept) in ids.iter().zip(kept) {
            if kept == 0 {
                if let Some(handle) = core.sessions.get(id) {
                    let _ = handle.tx.try_send(SessionMsg::Persist);
                }
            }
        }
    }
}

/// How long a session's key outlives its last write: the grace period (a browser
/// may come back that late), plus the time it takes to declare its node dead.
pub(crate) fn session_ttl(core: &Core) -> u64 {
    (core.opts.grace() + NODE_TTL).as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_carry_their_node_and_valid_json() {
        let p = publish_payload("n1", r#"{"a":1}"#);
        assert_eq!(split_publish(&p), Some(("n1", r#"{"a":1}"#)));
        assert_eq!(split_publish(b"n1\n{bad"), None);
        assert_eq!(split_publish(b"no newline"), None);
        assert_eq!(split_publish(b"n1\n\xff"), None);
    }
}
