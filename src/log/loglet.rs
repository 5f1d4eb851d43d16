//! The `Loglet` trait: the shared-log abstraction of Delos (OSDI 2020 §3, Fig. 2).
//!
//! Layer: bottom of the platform. A loglet is a totally ordered, durable sequence of opaque
//! entries addressed by positions `0, 1, 2, …` local to that loglet. Every loglet implementation
//! (local, mem, and later raft, native, striped) and the `VirtualLog` itself implement it, so the
//! engines above depend on this trait only. It knows nothing of what the entries mean.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::error::Result;

/// A log position. Positions are dense and start at 0 for a fresh loglet.
pub type Pos = u64;

/// Told a new tail (first unwritten position) whenever entries become durable. Called on the
/// loglet's own threads: must be quick and must not block.
pub type TailWatcher = Arc<dyn Fn(Pos) + Send + Sync>;

/// A shared log (Delos `Loglet`). Object-safe: a chain holds `Arc<dyn Loglet>`.
///
/// Semantics:
/// - `append` returns the position of the entry once it is durable (for a durable loglet).
///   After a `seal` has returned, every `append` fails with [`LogError::Sealed`](super::LogError::Sealed).
/// - `check_tail` returns the first unwritten position and the seal bit. The two need not be read
///   atomically; a tail only grows.
/// - `read(from, to)` returns the entries in `[from, to)` in position order. It is defined only
///   below a tail that an earlier `check_tail` returned; entries at or beyond the current tail are
///   simply not returned. Reading below the trim point fails with
///   [`LogError::Trimmed`](super::LogError::Trimmed). Callers bound the range: the result is
///   materialised in memory.
/// - `seal` is idempotent; racing sealers are fine.
/// - `prefix_trim(pos)` allows the loglet to drop every entry below `pos` (it may keep some).
///   The trim point only moves forward and never beyond the tail.
#[async_trait]
pub trait Loglet: Send + Sync + 'static {
    /// Appends one entry and returns its position once acknowledged (durable).
    async fn append(&self, payload: Bytes) -> Result<Pos>;

    /// Returns `(first unwritten position, sealed)`.
    async fn check_tail(&self) -> Result<(Pos, bool)>;

    /// Returns the entries in `[from, to)`, clipped to the tail.
    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>>;

    /// Seals the loglet: no append succeeds after this returns. Idempotent.
    async fn seal(&self) -> Result<()>;

    /// Trims every entry below `pos` (clamped to the tail).
    async fn prefix_trim(&self, pos: Pos) -> Result<()>;

    /// Closes this handle at shutdown: appends acknowledged before are durable, appends after
    /// fail with [`LogError::Unavailable`](super::LogError::Unavailable), and the loglet lets go
    /// of its threads and files. Idempotent. Loglets with nothing to let go of need not act.
    async fn close(&self) -> Result<()> {
        Ok(())
    }

    /// Whether this loglet is sealed, as far as this replica can tell without a round trip:
    /// `Some` from a loglet whose local copy learns of its seal in log order (a replicated
    /// loglet: the seal is an entry, so a reader that has read everything below the sealed tail
    /// also knows of the seal). `None` (the default): ask [`check_tail`](Loglet::check_tail).
    fn local_seal(&self) -> Option<bool> {
        None
    }

    /// The tail of this replica's local copy, without a round trip (`Some` from a replicated
    /// loglet): a lower bound of the loglet's tail. Lets a reconfiguration check that a new
    /// loglet is fresh before its group has a leader (its members learn of it from the chain
    /// being written). `None` (the default): ask [`check_tail`](Loglet::check_tail).
    fn local_tail(&self) -> Option<Pos> {
        None
    }

    /// Registers `watcher`, told the new tail as entries become durable: lets a reader waiting
    /// at the tail wake without polling or a hop through the appender. A hint only; loglets
    /// that cannot tell ignore it (readers then poll `check_tail`).
    fn watch_tail(&self, _watcher: TailWatcher) {}
}
