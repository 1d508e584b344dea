//! A session's snapshot: what another node needs to carry it on exactly where it
//! stood, and the store that keeps it (Redis, when the `redis` option is set).
//!
//! Taken after each committed callback; template caches are not in it (a restored
//! session renders afresh), nor is anything of its socket.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::applied::Applied;
use crate::error::Result;

/// The format of [`Snapshot`]; a node refuses (and mounts afresh instead of) a
/// snapshot of another format.
pub(crate) const SNAPSHOT_FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Snapshot {
    pub format: u32,
    pub id: String,
    /// The route pattern; a node without it registered cannot restore the session.
    pub route: String,
    pub path: String,
    pub params: Map<String, Value>,
    pub user_id: Option<String>,
    pub token: String,
    pub csrf: String,
    pub state: Arc<Value>,
    pub flash: Map<String, Value>,
    pub title: Option<String>,
    /// The number of the last patch sent.
    pub seq: u64,
    pub timers: Vec<TimerSnapshot>,
    pub next_timer: u64,
    pub topics: Vec<String>,
    /// The last client events applied, so a re-sent one is answered, not re-run.
    pub applied: Option<Applied>,
    /// The browser the session belongs to (`token::browser_hash`); absent from
    /// snapshots of older nodes, which the token's claims then supply.
    #[serde(default)]
    pub browser: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct TimerSnapshot {
    pub id: u64,
    /// When it fires, in milliseconds since the Unix epoch.
    pub due_ms: u64,
    pub data: String,
}

pub(crate) type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// What a claim on a session found.
#[derive(Debug)]
pub(crate) enum Claimed {
    /// The session is this node's now; here is where it stood.
    Snapshot(Box<Snapshot>),
    /// No snapshot (never stored, ended, or expired): mount afresh.
    Missing,
    /// A live node owns it; it has been asked to hand it over.
    Owned,
}

/// Where sessions' snapshots live, with one owner per session at a time.
///
/// A node saves only sessions it owns: a save after another node took the session
/// over reports `Ok(false)`, and the session ends on this node (it lives on there).
pub(crate) trait SessionStore: Send + Sync + 'static {
    /// Writes the snapshot of a session this node owns (taking it when nobody
    /// does). `Ok(false)`: another node owns it now.
    fn save(&self, id: &str, snapshot: Vec<u8>) -> StoreFuture<'_, bool>;
    /// Takes a session over: from a node that is gone or released it, at once; from a
    /// live node, by asking it to hand over (`Claimed::Owned`; try again shortly).
    /// `joining`: a browser joins it here.
    fn claim(&self, id: &str, joining: bool) -> StoreFuture<'_, Claimed>;
    /// Gives the session up with its last snapshot kept, for another node to claim.
    fn release(&self, id: &str) -> StoreFuture<'_, ()>;
    /// The session ended: its snapshot goes.
    fn delete(&self, id: &str) -> StoreFuture<'_, ()>;
    /// Whether the store can be reached now (a save is not even tried when not).
    fn is_up(&self) -> bool;
}

impl Snapshot {
    pub fn to_bytes(&self) -> Vec<u8> {
        // A `Value` and plain strings always serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Snapshot, String> {
        let snap: Snapshot =
            serde_json::from_slice(bytes).map_err(|e| format!("unreadable snapshot: {e}"))?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(format!("snapshot format {} (this node reads {SNAPSHOT_FORMAT})", snap.format));
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_formats() {
        let snap = Snapshot {
            format: SNAPSHOT_FORMAT,
            id: "s1".into(),
            route: "/rooms/{room}".into(),
            path: "/rooms/a".into(),
            params: serde_json::json!({"room": "a"}).as_object().cloned().unwrap_or_default(),
            user_id: Some("ann".into()),
            token: "t".into(),
            csrf: "c".into(),
            state: Arc::new(serde_json::json!({"count": 3, "log": ["x"]})),
            flash: Map::new(),
            title: Some("Room".into()),
            seq: 7,
            timers: vec![TimerSnapshot { id: 2, due_ms: 1_700_000_000_000, data: "{\"tick\":1}".into() }],
            next_timer: 2,
            topics: vec!["room:a".into()],
            applied: Some(Applied {
                eid: 9,
                error: Some(("host_error".into(), "boom".into())),
                ..Applied::default()
            }),
            browser: "b".into(),
        };
        let back = Snapshot::from_bytes(&snap.to_bytes()).unwrap();
        assert_eq!(back, snap);
        let mut other = snap;
        other.format = SNAPSHOT_FORMAT + 1;
        assert!(Snapshot::from_bytes(&other.to_bytes()).unwrap_err().contains("format"));
        assert!(Snapshot::from_bytes(b"{").is_err());
    }
}
