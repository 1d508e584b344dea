//! Internals the integration tests drive directly (the Redis link against a real
//! redis-server). Not a stable API: it moves with the code it exposes.

pub use crate::cluster::link::{OnMessage, RedisLink};
pub use crate::metrics::Metrics;
