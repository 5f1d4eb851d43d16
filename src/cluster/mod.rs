//! The node-to-node layer (DESIGN.md §10): how the nodes of an ensemble talk on the quorum port.
//!
//! Layer: the bottom of the platform, beside `log/`; it knows nothing of ZooKeeper or of what
//! the messages mean (each message type belongs to the module that sends it: a loglet, the
//! MetaStore, an engine). Contents, one concept per file:
//!
//! - [`frame`] — the length-prefixed frame of a call or its answer, and its codec;
//! - [`handshake`] — the introduction that opens a connection (node id, ensemble name);
//! - [`peer`] — the dialed side of one peer: reconnect with backoff, a byte-bounded queue;
//! - [`liveness`] — when each peer was last heard from;
//! - [`transport`] — [`Cluster`]: the listener, the peers, the service registry;
//! - [`error`] — [`ClusterError`].

pub mod error;
pub mod frame;
pub mod handshake;
pub mod liveness;
mod peer;
pub mod transport;

pub use error::ClusterError;
pub use liveness::Liveness;
pub use transport::{Cluster, ClusterConfig, Handler};
