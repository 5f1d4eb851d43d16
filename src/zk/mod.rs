//! The ZooKeeper application (DESIGN.md §1–§3): the commands that go into the log, the data
//! tree in the LocalStore, and the state machine that applies the commands — validation and
//! execution exactly as Apache ZooKeeper 3.8 does them (zookeeper-protocol.md §3, §5, §7–§10).
//!
//! Layer: above `engine/` and `store/` (it may use both; nothing below imports it). Networking,
//! watch bookkeeping and session timers live in the server layer, which proposes
//! [`ZkCommand`]s, reads through [`ZkReader`], and learns what each command did from its
//! [`ZkOutcome`].
//!
//! One concept per file:
//! - [`command`]: [`ZkCommand`] / [`ZkOp`], the log payload, and its format;
//! - [`outcome`]: [`ZkOutcome`] with its [`WatchTrigger`]s, and its format;
//! - [`config`]: [`ZkConfig`], the state machine's options;
//! - [`apply`]: [`ZkStateMachine`], apply and multi;
//! - `exec`: each write's checks (in ZooKeeper's order) and effects;
//! - `tree`: the data tree — initial nodes, zxid, sessions, indexes, createNode/deleteNode;
//! - `node`: the stored znode and the client Stat;
//! - `keys`, `view`, `overlay`: the key layout, read access, the per-command write buffer;
//! - [`read`]: [`ZkReader`], the reads;
//! - [`acl`], [`path`], [`session_id`]: ACL schemes and checks, path rules, session ids and
//!   passwords;
//! - [`applicator`]: [`ZkApplicator`], the state machine as the engine stack's applicator;
//! - [`service`]: [`ZkService`], one node: the platform under the application, session expiry,
//!   container/TTL cleanup, log trimming;
//! - [`processor`]: the RequestProcessor of one connection (handshake, session order of reads
//!   and writes, watch registration);
//! - [`hub`]: connections and watches of this node, and the listener of applied commands;
//! - [`watches`]: the watch tables; [`sessions`]: the local session timers; [`stats`]: counters.

pub mod acl;
pub mod applicator;
pub mod apply;
pub mod catchup;
mod children_cache;
pub mod command;
pub mod config;
pub mod conn_queue;
pub mod ensemble;
mod exec;
pub mod hub;
mod java_order;
mod keys;
pub mod membership;
mod node;
mod node_memo;
pub mod outcome;
mod overlay;
pub mod path;
pub mod processor;
pub mod read;
pub mod service;
pub mod session_id;
pub mod sessions;
pub mod stats;
mod tree;
mod view;
pub mod view_tracking;
pub mod watches;

#[cfg(test)]
mod tests;

pub use applicator::{ZkApplicator, ZkListener};
pub use apply::ZkStateMachine;
pub use command::{CommandError, ZkCommand, ZkOp};
pub use config::ZkConfig;
pub use node::{CONTAINER_OWNER, MAX_TTL};
pub use outcome::{ClosedSession, OutcomeError, TriggerKind, WatchTrigger, ZkOutcome};
pub use read::{CleanupCandidate, CleanupKind, ReadReply, WatchProbe, ZkReader};
pub use service::{ServiceError, ZkService};
