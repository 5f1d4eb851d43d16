//! Errors of the engine layer (`engine/`).
//!
//! Two kinds, as in Delos: [`EngineError`] is what a proposer or a reader sees (a failed append,
//! a stopped engine); [`ApplyError`] is a *non-deterministic* failure inside apply (store I/O,
//! an entry this build cannot read) — it stops the apply loop loudly, because skipping the entry
//! would make this replica diverge. Deterministic outcomes of apply (a rejected command, a
//! filtered entry) are never errors: they are results, the same on every replica.
//!
//! `EngineError` is `Clone`: one failed batch append is reported to every proposer in the batch.

use std::sync::Arc;

use crate::log::{LogError, Pos};
use crate::store::StoreError;

use super::entry::EntryError;

/// What a proposer, a syncer or an admin call can get back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The log refused or failed an operation (append, check_tail, trim, reconfiguration).
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// The LocalStore failed outside apply (flush, snapshot, open).
    #[error("store: {0}")]
    Store(Arc<StoreError>),
    /// A proposal could not be encoded or decoded.
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// A header this engine needs is malformed.
    #[error("malformed {header} header: {detail}")]
    BadHeader {
        /// The header key.
        header: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The result the layer below returned is not in the format this engine's apply produces.
    #[error("unexpected result from the layer below: {0}")]
    BadResult(String),
    /// The apply loop stopped on a non-deterministic failure; no more proposals are applied.
    #[error("the apply loop stopped: {0}")]
    ApplyStopped(Arc<str>),
    /// The engine was shut down before the proposal resolved.
    #[error("the engine is shut down")]
    ShutDown,
    /// An upcall is already registered with this engine.
    #[error("an applicator is already registered with this engine")]
    AlreadyRegistered,
    /// The engine was started without an applicator registered above it.
    #[error("no applicator is registered with this engine")]
    NoUpcall,
    /// The engine is already running.
    #[error("the engine is already started")]
    AlreadyStarted,
    /// The stack's log is not a VirtualLog, so it cannot be reconfigured.
    #[error("the log of this stack is not a virtual log; it cannot be reconfigured")]
    NotReconfigurable,
    /// The stack description is not valid.
    #[error("invalid stack: {0}")]
    InvalidStack(String),
    /// A thread or task of the engine could not be started.
    #[error("could not start {what}: {detail}")]
    Spawn {
        /// Which thread or task.
        what: &'static str,
        /// The OS error.
        detail: String,
    },
    /// Replaying the log from the stored cursor is impossible: the log was trimmed above it.
    #[error("the log is trimmed to {trim_point}, above this replica's cursor {cursor}")]
    BehindTrimPoint {
        /// The replica's apply cursor.
        cursor: Pos,
        /// The first position the log still holds.
        trim_point: Pos,
    },
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::Store(Arc::new(e))
    }
}

/// A non-deterministic failure inside apply: the apply loop stops and the replica must not go on.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The LocalStore failed (I/O, corruption).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An entry in a format this build cannot read (e.g. written by a newer build).
    #[error("unsupported entry at {pos}: {reason}")]
    Unsupported {
        /// Its log position.
        pos: Pos,
        /// Why.
        reason: String,
    },
    /// Any other failure an applicator cannot turn into a deterministic result.
    #[error("{0}")]
    Fatal(String),
}
