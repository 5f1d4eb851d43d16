//! The two interfaces of a log-structured protocol engine (Delos [SOSP] Fig. 2):
//! [`Engine`] faces the layer above (proposals go down), [`Applicator`] faces the layer below
//! (entries come up). Every engine in a stack is both: an `Engine` to the layer above and an
//! `Applicator` registered with the layer below.
//!
//! Layer: interface only; touches nothing.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;

use crate::log::Pos;
use crate::store::{ReadSnapshot, RwTxn};

use super::entry::Entry;
use super::error::{ApplyError, EngineError};

/// The future of one proposal: the result `apply` of the applicator registered above the engine
/// returned for it, once it is applied on this replica.
pub type ProposeFuture = BoxFuture<'static, Result<Bytes, EngineError>>;

/// An engine, seen from the layer above.
///
/// `propose` is deliberately a plain function returning a future, not an `async fn`: **the call
/// itself is the ordering point**. An engine hands proposals to the layer below in the order the
/// calls were made (synchronously in the call, or through a FIFO queue), so that proposals of
/// one stream reach the log in proposal order unless the log itself reorders them. Dropping the
/// returned future does not withdraw the proposal.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Proposes `entry`. The future resolves once the entry is applied on this replica, with the
    /// result of the applicator registered above this engine.
    fn propose(&self, entry: Entry) -> ProposeFuture;

    /// Proposes `entry` without asking for its result: the same ordering point as
    /// [`propose`](Engine::propose), for a proposer that learns the outcome another way (from
    /// the applicator above, in `post_apply`). An engine may skip the bookkeeping a result needs;
    /// the default proposes and drops the future, which does not withdraw the proposal.
    fn propose_detached(&self, entry: Entry) {
        drop(self.propose(entry));
    }

    /// A linearizable read snapshot: it reflects every entry in the log when `sync` was called.
    async fn sync(&self) -> Result<ReadSnapshot, EngineError>;

    /// Registers the applicator that entries are passed up to. Once only.
    fn register_upcall(&self, upcall: Arc<dyn Applicator>) -> Result<(), EngineError>;

    /// Allows the log to be trimmed below `pos` (the base engine trims only below what the
    /// LocalStore has durably flushed).
    fn set_trim_prefix(&self, pos: Pos);
}

/// The layer above an engine, seen from the engine: entries come up through it.
///
/// `apply` must be **deterministic**: a pure function of the store state (read through `txn`)
/// and the entry. No clocks, no randomness, no iteration over hash maps, no environment. Every
/// replica calls it on every entry in log order; all state it changes goes through `txn`, which
/// the base engine commits together with the apply cursor.
pub trait Applicator: Send + Sync + 'static {
    /// Applies `entry`, found at log position `pos`. `Ok` is a deterministic result (possibly a
    /// rejection); `Err` is a non-deterministic failure that stops the apply loop.
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError>;

    /// Runs after the transaction of `entry` committed, with the result `apply` returned. Soft
    /// state (watches, waiting proposers) is updated here. Must not block.
    fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes);

    /// Runs once after the `post_apply` calls of one log entry (all of a batch's entries), before
    /// its proposer is told: an applicator that buffers what `post_apply` produces (replies to
    /// send) releases it here, once per entry instead of once per command. Must not block.
    fn post_apply_done(&self) {}
}
