//! `ZkApplicator`: the ZooKeeper state machine as the [`Applicator`] on top of the engine stack.
//! `apply` decodes the entry's payload as a [`ZkCommand`], applies it and returns the encoded
//! [`ZkOutcome`] (what the proposer's future resolves to); `post_apply` hands the outcome to the
//! registered [`ZkListener`] on every replica, which fires watches and completes replies.
//!
//! Layer: `zk/`, the top of the platform; touches the apply transaction it is given and the
//! listener, nothing else.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bytes::Bytes;
use zoolog_jute::{ErrorCode, Response};

use crate::engine::{Applicator, ApplyError, Entry, Pos};
use crate::store::RwTxn;

use super::apply::ZkStateMachine;
use super::command::ZkCommand;
use super::outcome::ZkOutcome;
use super::read::ZkReader;

/// Told about every applied command. Must not block.
pub trait ZkListener: Send + Sync + 'static {
    /// Inside apply, right after `outcome` was produced and before the next command runs:
    /// `reader` sees exactly the state this command left (not yet committed). For answering
    /// reads queued behind the command; must not change anything replicated.
    fn applying(&self, _outcome: &ZkOutcome, _reader: &ZkReader<'_>) {}

    /// After the command's transaction committed.
    fn applied(&self, pos: Pos, outcome: &ZkOutcome);

    /// After the `applied` calls of one log entry: release what they buffered.
    fn flush(&self) {}
}

/// The ZooKeeper applicator.
pub struct ZkApplicator {
    sm: ZkStateMachine,
    listener: RwLock<Option<Arc<dyn ZkListener>>>,
    /// The outcomes `apply` produced since the last `post_apply`, in order, with their
    /// encodings: `post_apply` takes the one whose bytes it is given instead of decoding them
    /// again. Only a shortcut: bytes that match no stashed outcome are decoded.
    stash: Mutex<VecDeque<(Bytes, ZkOutcome)>>,
}

impl ZkApplicator {
    pub fn new(sm: ZkStateMachine) -> Self {
        ZkApplicator {
            sm,
            listener: RwLock::new(None),
            stash: Mutex::new(VecDeque::new()),
        }
    }

    pub fn state_machine(&self) -> &ZkStateMachine {
        &self.sm
    }

    fn listener(&self) -> Option<Arc<dyn ZkListener>> {
        self.listener
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sets (or replaces) the listener called from `post_apply`.
    pub fn set_listener(&self, listener: Arc<dyn ZkListener>) {
        *self
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }
}

impl Applicator for ZkApplicator {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        match ZkCommand::decode(entry.payload()) {
            Ok(cmd) => {
                let outcome = self.sm.apply(txn, &cmd)?;
                let Some(listener) = self.listener() else {
                    return Ok(outcome.encode());
                };
                listener.applying(&outcome, &self.sm.reader(&*txn));
                let encoded = outcome.encode();
                self.stash
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_back((encoded.clone(), outcome));
                Ok(encoded)
            }
            Err(e) if e.is_unsupported() => Err(ApplyError::Unsupported {
                pos,
                reason: e.to_string(),
            }),
            Err(e) => {
                // Damaged the same way on every replica: a deterministic rejection that
                // consumes no zxid.
                tracing::warn!(pos, error = %e, "undecodable ZooKeeper command");
                let zxid = self.sm.reader(&*txn).last_zxid()?;
                Ok(ZkOutcome {
                    zxid,
                    err: ErrorCode::MarshallingError,
                    session_id: 0,
                    cxid: 0,
                    response: Response::Empty,
                    triggers: Vec::new(),
                    closed_sessions: Vec::new(),
                }
                .encode())
            }
        }
    }

    fn post_apply_done(&self) {
        // Whatever was applied but not post-applied (an aborted transaction) is stale now.
        self.stash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        if let Some(listener) = self.listener() {
            listener.flush();
        }
    }

    fn post_apply(&self, _entry: &Entry, pos: Pos, result: &Bytes) {
        let Some(listener) = self.listener() else {
            return;
        };
        let stashed = {
            let mut stash = self.stash.lock().unwrap_or_else(PoisonError::into_inner);
            match stash.pop_front() {
                Some((bytes, outcome)) if bytes == *result => Some(outcome),
                Some(_) => {
                    stash.clear();
                    None
                }
                None => None,
            }
        };
        if let Some(outcome) = stashed {
            listener.applied(pos, &outcome);
            return;
        }
        match ZkOutcome::decode(result) {
            Ok(outcome) => listener.applied(pos, &outcome),
            Err(e) => tracing::error!(pos, error = %e, "undecodable ZooKeeper outcome"),
        }
    }
}
