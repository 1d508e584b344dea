//! What the nodes of a cluster share through Redis: the link (connections, outages,
//! resubscription) that the cross-node broker and session snapshots are built on.

pub(crate) mod link;
