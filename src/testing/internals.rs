//! Internals the integration tests drive directly (the Redis link against a real
//! redis-server). Not a stable API: it moves with the code it exposes.

pub use crate::cluster::link::{OnMessage, RedisLink};
pub use crate::logging::{set_sink, Record};
pub use crate::metrics::Metrics;

/// The value of a browser cookie (`lv_bid`) for the browser id `id` (32 hex digits),
/// as an app whose `secret` is `secret` signs it: what a browser keeps after its
/// first page GET.
pub fn browser_cookie_value(secret: &str, id: &str) -> String {
    crate::token::Signer::new(secret.as_bytes()).browser_cookie(id)
}
