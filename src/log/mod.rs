//! The virtual shared log (DESIGN.md §5; Delos OSDI 2020 §3).
//!
//! Layer: the bottom of the platform, under `engine/`. It stores and orders opaque entries and
//! knows nothing of ZooKeeper or of what the entries mean. Contents, one concept per file:
//!
//! - [`loglet`] — the [`Loglet`] trait (append, check_tail, read, seal, prefix_trim);
//! - [`local`] — [`LocalLoglet`], durable segment files with group-commit fsync (the default);
//! - [`mem`] — [`MemLoglet`], in memory, for tests;
//! - [`faulty`] — [`FaultyLoglet`], a test wrapper injecting delays, failures and reordering;
//! - [`metastore`] — the [`MetaStore`] versioned register ([`LocalMetaStore`], [`MemMetaStore`],
//!   [`LogMetaStore`]);
//! - [`raft`] — [`RaftLoglet`](raft::RaftLoglet), a loglet replicated by openraft (ensembles);
//! - [`chain`] — the [`Chain`] of segments and its binary format;
//! - [`registry`] — [`LogletFactory`] and the default [`LogletRegistry`];
//! - [`virtual_log`] — [`VirtualLog`], a reconfigurable loglet over a chain;
//! - [`error`] — [`LogError`].

pub mod chain;
pub mod error;
pub mod faulty;
mod fsutil;
pub mod local;
pub mod loglet;
pub mod mem;
pub mod metastore;
pub mod raft;
pub mod registry;
pub mod virtual_log;

pub use chain::{Chain, ChainSegment, KIND_LOCAL, KIND_MEM, LogletConfig};
pub use error::{LogError, Result};
pub use faulty::{FaultConfig, FaultStats, FaultyLoglet};
pub use local::{LocalLoglet, LocalLogletOptions, LocalLogletStats, MAX_ENTRY_BYTES};
pub use loglet::{Loglet, Pos, TailWatcher};
pub use mem::MemLoglet;
pub use metastore::{LocalMetaStore, LogMetaStore, MemMetaStore, MetaStore, MetaVersion};
pub use registry::{LogletFactory, LogletRegistry, OpenFn};
pub use virtual_log::{VirtualLog, VirtualLogOptions};
