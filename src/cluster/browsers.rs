//! Browser session maps in Redis, so every node sees the same map for a browser.
//!
//! A browser's map is a hash, `mizulive:b:<browser hash>`: one field per key, the
//! field the key as a JSON string and the value its compact JSON, so a script can
//! tell the size of the map as JSON without parsing it. Writes are applied inside
//! one script, key by key, and refused as a whole when the map would outgrow its
//! limit. The hash expires `browser_session_ttl_s` after its last use.

use serde_json::Value;
use std::sync::Arc;

use super::node::{Node, PREFIX};
use crate::browser::{BrowserMap, Write};
use crate::error::Error;
use crate::session::browser::BrowserStore;
use crate::session::snapshot::StoreFuture;

/// The map's fields and values, its expiry pushed back. KEYS: map. ARGV: ttl s.
const LOAD: &str = r"
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return fields
";

/// Applies writes (field, value; an empty value removes the field) unless the map
/// would then be more than the limit as JSON (`{` `}`, per entry key `:` value, and
/// commas between). 1 applied, 0 refused. KEYS: map. ARGV: ttl s, limit, writes...
const APPLY: &str = r"
local cur = redis.call('HGETALL', KEYS[1])
local map = {}
for i = 1, #cur, 2 do map[cur[i]] = cur[i + 1] end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then map[ARGV[i]] = nil else map[ARGV[i]] = ARGV[i + 1] end
end
local size, n = 2, 0
for k, v in pairs(map) do
  size = size + #k + 1 + #v
  n = n + 1
end
if n > 1 then size = size + n - 1 end
if size > tonumber(ARGV[2]) then return 0 end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if n > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
";

fn browser_key(browser: &str) -> String {
    format!("{PREFIX}b:{browser}")
}

pub(crate) struct RedisBrowsers {
    pub node: Arc<Node>,
    pub ttl_s: u64,
    pub limit: usize,
}

impl BrowserStore for RedisBrowsers {
    fn load(&self, browser: &str) -> StoreFuture<'_, Arc<BrowserMap>> {
        let cmd = redis::cmd("EVAL").arg(LOAD).arg(1).arg(browser_key(browser)).arg(self.ttl_s).clone();
        Box::pin(async move {
            let fields: Vec<Vec<u8>> = self.node.link.query(&cmd).await?;
            let mut map = BrowserMap::new();
            for pair in fields.chunks_exact(2) {
                // What this module wrote: a field that does not read back is skipped.
                let key = serde_json::from_slice::<String>(&pair[0]);
                let value = serde_json::from_slice::<Value>(&pair[1]);
                if let (Ok(key), Ok(value)) = (key, value) {
                    map.insert(key, value);
                }
            }
            Ok(Arc::new(map))
        })
    }

    fn apply(&self, browser: &str, writes: Vec<Write>) -> StoreFuture<'_, ()> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(APPLY).arg(1).arg(browser_key(browser)).arg(self.ttl_s).arg(self.limit);
        for (key, value) in &writes {
            // A JSON string and a JSON value always serialize, and never to "".
            cmd.arg(serde_json::to_string(key).unwrap_or_default());
            cmd.arg(value.as_ref().map(|v| v.to_string()).unwrap_or_default());
        }
        let limit = self.limit;
        Box::pin(async move {
            let applied: i64 = self.node.link.query(&cmd).await?;
            if applied == 1 {
                Ok(())
            } else {
                Err(Error::State(format!(
                    "the browser session would be over the limit of {limit} bytes (max_browser_session_bytes)"
                )))
            }
        })
    }
}
