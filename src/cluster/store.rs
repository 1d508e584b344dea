//! Session snapshots in Redis, with one owner per session.
//!
//! Each session is a hash: `owner` (the node that runs it; empty once released) and
//! `snap`. Every change of owner happens inside a Lua script, so two nodes never own
//! one session at once: a node claims a session only from a node that is gone (its
//! liveness key expired) or that released it, and a node whose session was claimed
//! away learns it at its next save and ends its copy.
//!
//! Saves are coalesced and pipelined: one task writes whatever sessions queued since
//! its last round trip, the latest snapshot of each, in one pipeline.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::node::{node_key, session_key, Node};
use crate::error::{Error, Result};
use crate::session::snapshot::{Claimed, SessionStore, Snapshot, StoreFuture};

/// Writes `snap` if this node owns the session, or it has no key yet (a new session,
/// or Redis lost it). 1 written, 0 owned by another node or released (a save still
/// queued when its session was handed over must not take it back).
/// KEYS: session. ARGV: node, snapshot, ttl ms.
const SAVE: &str = r"
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'snap', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Takes the session when it is this node's, released, or its owner is dead.
/// {0} missing, {1, snap} claimed, {2, owner} owned by a live node.
/// KEYS: session. ARGV: node, node key prefix, ttl ms.
const CLAIM: &str = r"
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {0} end
if owner == ARGV[1] or owner == '' or redis.call('EXISTS', ARGV[2] .. owner) == 0 then
  redis.call('HSET', KEYS[1], 'owner', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, redis.call('HGET', KEYS[1], 'snap')}
end
return {2, owner}
";

/// Gives the session up, keeping its snapshot. KEYS: session. ARGV: node, ttl ms.
const RELEASE: &str = r"
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'owner', '')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

/// Removes the session when this node owns it. KEYS: session. ARGV: node.
const DELETE: &str = r"
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// Most saves taken from the queue at once, and most snapshot bytes per pipeline.
const BATCH: usize = 4096;
const PIPELINE_BYTES: usize = 4 << 20;

/// Saves waiting for the writer, across all sessions. A session waits for its save
/// (up to the actor's timeout) before it queues another, so this is reached only when
/// Redis stalls; a save beyond it fails at once and is retried by its session.
const QUEUE: usize = 65_536;

type Answer = std::result::Result<bool, String>;

struct SaveRequest {
    key: String,
    snapshot: Vec<u8>,
    done: oneshot::Sender<Answer>,
}

pub(crate) struct RedisStore {
    node: Arc<Node>,
    ttl_ms: u64,
    saves: mpsc::Sender<SaveRequest>,
}

impl RedisStore {
    /// A store whose session keys live `ttl_ms` past their last write; its writer
    /// runs on `rt`.
    pub fn new(node: Arc<Node>, ttl_ms: u64, rt: &tokio::runtime::Handle) -> Self {
        let (saves, queue) = mpsc::channel(QUEUE);
        rt.spawn(write_saves(node.clone(), ttl_ms, queue));
        RedisStore { node, ttl_ms, saves }
    }

    fn script(&self, src: &str, id: &str) -> redis::Cmd {
        redis::cmd("EVAL").arg(src).arg(1).arg(session_key(id)).arg(&self.node.id).clone()
    }
}

impl SessionStore for RedisStore {
    fn save(&self, id: &str, snapshot: Vec<u8>) -> StoreFuture<'_, bool> {
        let (done, answer) = oneshot::channel();
        let sent = self.saves.try_send(SaveRequest { key: session_key(id), snapshot, done });
        Box::pin(async move {
            sent.map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    Error::Busy("too many snapshots waiting for Redis".into())
                }
                mpsc::error::TrySendError::Closed(_) => {
                    Error::State("the snapshot writer has stopped".into())
                }
            })?;
            match answer.await {
                Ok(answer) => answer.map_err(Error::Redis),
                Err(_) => Err(Error::State("the snapshot writer has stopped".into())),
            }
        })
    }

    fn claim(&self, id: &str, joining: bool) -> StoreFuture<'_, Claimed> {
        let cmd = self.script(CLAIM, id).arg(node_key("")).arg(self.ttl_ms).clone();
        let id = id.to_string();
        Box::pin(async move {
            let reply: Vec<redis::Value> = self.node.link.query(&cmd).await?;
            match parse_claim(&reply)? {
                (1, Some(bytes)) => match Snapshot::from_bytes(&bytes) {
                    Ok(snap) => Ok(Claimed::Snapshot(Box::new(snap))),
                    Err(e) => {
                        tracing::warn!(session = id, "{e}; mounting afresh");
                        Ok(Claimed::Missing)
                    }
                },
                (2, Some(owner)) => {
                    self.node.ask_handover(&String::from_utf8_lossy(&owner), &id, joining);
                    Ok(Claimed::Owned)
                }
                _ => Ok(Claimed::Missing),
            }
        })
    }

    fn release(&self, id: &str) -> StoreFuture<'_, ()> {
        let cmd = self.script(RELEASE, id).arg(self.ttl_ms).clone();
        Box::pin(async move { self.node.link.query::<()>(&cmd).await })
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, ()> {
        let cmd = self.script(DELETE, id);
        Box::pin(async move { self.node.link.query::<()>(&cmd).await })
    }

    fn is_up(&self) -> bool {
        self.node.link.is_up()
    }
}

/// The claim script's answer: its code and the snapshot or owner that follows it.
fn parse_claim(reply: &[redis::Value]) -> Result<(u8, Option<Vec<u8>>)> {
    let bad = || Error::Redis("unexpected answer to a session claim".into());
    let code = match reply.first() {
        Some(redis::Value::Int(n)) => u8::try_from(*n).map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    let value = match reply.get(1) {
        Some(redis::Value::BulkString(bytes)) => Some(bytes.clone()),
        Some(redis::Value::SimpleString(s)) => Some(s.clone().into_bytes()),
        _ => None,
    };
    Ok((code, value))
}

/// Writes queued saves, coalesced per session, one pipeline per round trip.
async fn write_saves(node: Arc<Node>, ttl_ms: u64, mut queue: mpsc::Receiver<SaveRequest>) {
    let sha = redis::Script::new(SAVE).get_hash().to_string();
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        // The latest snapshot per session; everyone who asked hears the one answer.
        let mut latest: HashMap<String, (Vec<u8>, Vec<oneshot::Sender<Answer>>)> = HashMap::new();
        let mut order = Vec::new();
        for req in batch.drain(..) {
            let entry = latest.entry(req.key.clone()).or_insert_with(|| {
                order.push(req.key.clone());
                (Vec::new(), Vec::new())
            });
            entry.0 = req.snapshot;
            entry.1.push(req.done);
        }
        // In pipelines of at most PIPELINE_BYTES: one huge round trip would hold the
        // connection (and the node's heartbeat on it) for too long.
        let mut rest = &order[..];
        while !rest.is_empty() {
            let mut bytes = 0;
            let n = rest
                .iter()
                .take_while(|key| {
                    bytes += latest[*key].0.len();
                    bytes <= PIPELINE_BYTES
                })
                .count()
                .max(1);
            let (chunk, after) = rest.split_at(n);
            rest = after;
            let written = write_chunk(&node, &sha, ttl_ms, chunk, &latest).await;
            for (i, key) in chunk.iter().enumerate() {
                let Some((_, waiting)) = latest.remove(key) else { continue };
                let answer = match &written {
                    Ok(codes) => Ok(codes.get(i).copied() == Some(1)),
                    Err(e) => Err(e.to_string()),
                };
                for done in waiting {
                    let _ = done.send(answer.clone());
                }
            }
        }
    }
}

/// Writes the latest snapshots of `keys` in one pipeline; one code per key.
async fn write_chunk(
    node: &Node,
    sha: &str,
    ttl_ms: u64,
    keys: &[String],
    latest: &HashMap<String, (Vec<u8>, Vec<oneshot::Sender<Answer>>)>,
) -> Result<Vec<i64>> {
    // By its hash: the script's text is sent once per Redis (again after a restart
    // emptied its script cache), not with every save.
    let mut pipe = redis::pipe();
    for key in keys {
        let snapshot = &latest[key].0;
        pipe.cmd("EVALSHA").arg(sha).arg(1).arg(key).arg(&node.id).arg(snapshot.as_slice()).arg(ttl_ms);
    }
    match node.link.query_pipeline(&pipe).await {
        Err(Error::Redis(e)) if e.to_ascii_uppercase().contains("NOSCRIPT") => {
            // A new or restarted Redis: load the script and try once more.
            let load = redis::cmd("SCRIPT").arg("LOAD").arg(SAVE).clone();
            node.link.query::<String>(&load).await?;
            node.link.query_pipeline(&pipe).await
        }
        written => written,
    }
}
