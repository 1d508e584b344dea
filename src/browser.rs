//! The browser session's data: a small JSON map per browser (per browser cookie),
//! which every page session of that browser reads and writes, on this node or
//! another (the stores are in `session::browser`).
//!
//! A callback (or the auth hook) sees the map as it was when the callback started,
//! with its own writes on top. Its writes are applied to the stored map, key by key,
//! only when it succeeds: two tabs writing different keys both keep theirs, and a
//! failing callback changes nothing. The map is keyed by the browser's hash (what
//! tokens carry), never by the cookie's id.

use serde_json::{Map, Value};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A browser's map.
pub type BrowserMap = Map<String, Value>;

/// One write: a key set to a value, or removed (`None`).
pub(crate) type Write = (String, Option<Value>);

/// A browser's map as one callback sees it, and the writes it made.
#[derive(Debug, Clone, Default)]
pub struct BrowserSession {
    map: Arc<BrowserMap>,
    writes: Vec<Write>,
    limit: usize,
}

impl BrowserSession {
    pub(crate) fn new(map: Arc<BrowserMap>, limit: usize) -> Self {
        BrowserSession { map, writes: Vec::new(), limit }
    }

    /// The map, with this callback's writes.
    pub fn map(&self) -> &BrowserMap {
        &self.map
    }

    /// The map, shared (for a render's context).
    pub(crate) fn shared(&self) -> Arc<BrowserMap> {
        self.map.clone()
    }

    /// Sets `key` to `value`. Refused (and nothing changes) when the map would be
    /// bigger than `max_browser_session_bytes` as compact JSON.
    pub fn set(&mut self, key: &str, value: Value) -> Result<()> {
        let mut map = (*self.map).clone();
        map.insert(key.to_string(), value.clone());
        let bytes = serde_json::to_vec(&map).map(|v| v.len()).unwrap_or(usize::MAX);
        if bytes > self.limit {
            return Err(Error::State(format!(
                "setting {key:?} would make the browser session {bytes} bytes of JSON, over the limit \
                 of {} (max_browser_session_bytes); nothing changed",
                self.limit
            )));
        }
        self.map = Arc::new(map);
        self.writes.push((key.to_string(), Some(value)));
        Ok(())
    }

    /// Removes `key`; returns its value, or `None` when there was none.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let old = Arc::make_mut(&mut self.map).remove(key)?;
        self.writes.push((key.to_string(), None));
        Some(old)
    }

    /// The writes made so far (the map keeps them).
    pub(crate) fn take_writes(&mut self) -> Vec<Write> {
        std::mem::take(&mut self.writes)
    }
}

/// Applies `writes` to `map`; refused, leaving `map` as it was, when the result is
/// bigger than `limit` (writes of another tab may have filled it meanwhile).
pub(crate) fn apply(map: &mut BrowserMap, writes: &[Write], limit: usize) -> Result<()> {
    let mut next = map.clone();
    for (key, value) in writes {
        match value {
            Some(v) => next.insert(key.clone(), v.clone()),
            None => next.remove(key),
        };
    }
    let bytes = serde_json::to_vec(&next).map(|v| v.len()).unwrap_or(usize::MAX);
    if bytes > limit {
        return Err(Error::State(format!(
            "the browser session would be {bytes} bytes of JSON, over the limit of {limit} \
             (max_browser_session_bytes)"
        )));
    }
    *map = next;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_are_checked_against_the_limit() {
        let mut s = BrowserSession::new(Arc::default(), 30);
        s.set("user", json!("ann")).unwrap();
        let err = s.set("big", json!("x".repeat(40))).unwrap_err().to_string();
        assert!(err.contains("max_browser_session_bytes"), "{err}");
        assert_eq!(s.map().len(), 1);
        assert_eq!(s.remove("user"), Some(json!("ann")));
        assert_eq!(s.remove("user"), None);
        assert_eq!(
            s.take_writes(),
            vec![("user".to_string(), Some(json!("ann"))), ("user".to_string(), None)]
        );
    }
}
