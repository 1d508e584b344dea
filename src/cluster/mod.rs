//! What the nodes of a cluster share through Redis: pub/sub across nodes, session
//! snapshots with one owner per session, and the link both are built on
//! (connections, outages, resubscription).

pub(crate) mod broker;
pub(crate) mod browsers;
pub(crate) mod link;
pub(crate) mod node;
pub(crate) mod store;
