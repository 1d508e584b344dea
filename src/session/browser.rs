//! Where browser session maps live (see `crate::browser`): this node's memory, or
//! Redis (`cluster::browsers`) when several nodes share the browsers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::snapshot::StoreFuture;
use crate::browser::{apply, BrowserMap, Write};
use crate::error::Result;

/// Where browser maps live: in this node's memory, or in Redis for several nodes.
pub(crate) trait BrowserStore: Send + Sync + 'static {
    /// The map of `browser` (empty when it has none, or it expired). Using it keeps
    /// it alive for another `browser_session_ttl_s`.
    fn load(&self, browser: &str) -> StoreFuture<'_, Arc<BrowserMap>>;
    /// What [`BrowserStore::load`] gives, when the store can tell without waiting
    /// (this node's memory): no boxed future and no timer before every callback.
    /// `None` sends the caller to `load`.
    fn load_ready(&self, _browser: &str) -> Option<Arc<BrowserMap>> {
        None
    }
    /// Applies a successful callback's writes to the map of `browser`.
    fn apply(&self, browser: &str, writes: Vec<Write>) -> StoreFuture<'_, ()>;
}

/// Browser maps in this node's memory: at most `max` browsers (the least recently
/// used gives way), each kept `ttl` after its last use.
pub(crate) struct MemoryBrowsers {
    entries: Mutex<HashMap<String, Entry>>,
    max: usize,
    ttl: Duration,
    limit: usize,
    /// Whether a map was ever stored: until then every browser's map is empty, and
    /// loads answer without the lock and the lookup (most apps never write one).
    stored: AtomicBool,
    /// The empty map, shared by every browser that has none.
    empty: Arc<BrowserMap>,
}

struct Entry {
    map: Arc<BrowserMap>,
    used: Instant,
}

impl MemoryBrowsers {
    pub fn new(max: usize, ttl: Duration, limit: usize) -> Self {
        MemoryBrowsers {
            entries: Mutex::new(HashMap::new()),
            max,
            ttl,
            limit,
            stored: AtomicBool::new(false),
            empty: Arc::default(),
        }
    }

    fn load_now(&self, browser: &str) -> Arc<BrowserMap> {
        if !self.stored.load(Ordering::SeqCst) {
            return self.empty.clone();
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match entries.get_mut(browser) {
            Some(e) if now.duration_since(e.used) <= self.ttl => {
                e.used = now;
                e.map.clone()
            }
            Some(_) => {
                entries.remove(browser);
                self.empty.clone()
            }
            None => self.empty.clone(),
        }
    }

    fn apply_now(&self, browser: &str, writes: &[Write]) -> Result<()> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut map = match entries.get(browser) {
            Some(e) if now.duration_since(e.used) <= self.ttl => (*e.map).clone(),
            _ => BrowserMap::new(),
        };
        apply(&mut map, writes, self.limit)?;
        if map.is_empty() {
            entries.remove(browser);
            return Ok(());
        }
        if !entries.contains_key(browser) && entries.len() >= self.max {
            let ttl = self.ttl;
            entries.retain(|_, e| now.duration_since(e.used) <= ttl);
            if entries.len() >= self.max {
                let oldest = entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(browser.to_string(), Entry { map: Arc::new(map), used: now });
        // Under the lock, after the insert: a load that sees it finds the map.
        self.stored.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl BrowserStore for MemoryBrowsers {
    fn load(&self, browser: &str) -> StoreFuture<'_, Arc<BrowserMap>> {
        let map = self.load_now(browser);
        Box::pin(async move { Ok(map) })
    }

    fn load_ready(&self, browser: &str) -> Option<Arc<BrowserMap>> {
        Some(self.load_now(browser))
    }

    fn apply(&self, browser: &str, writes: Vec<Write>) -> StoreFuture<'_, ()> {
        let done = self.apply_now(browser, &writes);
        Box::pin(async move { done })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_keeps_at_most_max_browsers() {
        let m = MemoryBrowsers::new(2, Duration::from_secs(60), 100);
        assert!(m.load_now("a").is_empty(), "nothing stored yet");
        for b in ["a", "b", "c"] {
            m.apply_now(b, &[("k".into(), Some(json!(b)))]).unwrap();
        }
        assert!(m.load_now("a").is_empty(), "the least recently used gave way");
        assert_eq!(m.load_now("c").get("k"), Some(&json!("c")));
        // Over the limit: refused, the map unchanged.
        assert!(m.apply_now("c", &[("k".into(), Some(json!("y".repeat(200))))]).is_err());
        assert_eq!(m.load_now("c").get("k"), Some(&json!("c")));
        // Emptied: gone.
        m.apply_now("c", &[("k".into(), None)]).unwrap();
        assert_eq!(m.entries.lock().unwrap().len(), 1);
    }
}
