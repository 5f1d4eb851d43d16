//! The MetaStore: one versioned register with a conditional write (Delos OSDI 2020 §3).
//!
//! Layer: beside the loglets, below the VirtualLog, which keeps its chain of segments in it.
//! It needs availability, not speed: it is written only on reconfiguration and trimming.
//! Implementations: [`LocalMetaStore`] (a file replaced atomically, single node) and
//! [`MemMetaStore`] (tests) and [`LogMetaStore`] (an ensemble: the register's history in a
//! replicated loglet of its own, a raft group among the participants).

mod local;
mod mem;
mod replicated;

pub use local::LocalMetaStore;
pub use mem::MemMetaStore;
pub use replicated::LogMetaStore;

use async_trait::async_trait;
use bytes::Bytes;

use super::error::Result;

/// Version of the register. `0` means never written (and then the value is `None`).
pub type MetaVersion = u64;

/// A versioned register with conditional write.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// The current version and value.
    async fn read(&self) -> Result<(MetaVersion, Option<Bytes>)>;

    /// Writes `value` if the register is still at `expected`; returns the new version
    /// (`expected + 1`). Fails with [`LogError::VersionConflict`](super::LogError::VersionConflict)
    /// otherwise, writing nothing.
    async fn write(&self, expected: MetaVersion, value: Bytes) -> Result<MetaVersion>;
}
