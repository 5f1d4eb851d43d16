//! The base engine's proposals waiting to be applied on this replica, keyed by their proposal
//! counter (the `base` stamp), so that the apply loop can complete a proposal whatever position
//! its entry lands at — possibly before the append itself has returned.
//!
//! Layer: soft state of the base engine, shared by its propose path, its appender task and its
//! apply loop. Only looked up by key, never iterated in apply. Sharded by counter, so that
//! proposers and the apply loop rarely wait for each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ahash::RandomState;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::engine::error::EngineError;

/// Where a proposal's result goes.
pub type Reply = oneshot::Sender<Result<Bytes, EngineError>>;

const SHARDS: usize = 16;

/// Waiting proposals plus the reason the engine stopped, if it did.
pub struct Pending {
    shards: [Mutex<HashMap<u64, Reply, RandomState>>; SHARDS],
    is_stopped: AtomicBool,
    reason: Mutex<Option<EngineError>>,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::default())),
            is_stopped: AtomicBool::new(false),
            reason: Mutex::new(None),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a single map operation: a poisoned lock is consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pending {
    fn shard(&self, counter: u64) -> MutexGuard<'_, HashMap<u64, Reply, RandomState>> {
        lock(&self.shards[(counter % SHARDS as u64) as usize])
    }

    /// Registers proposal `counter`; fails (returning the reply) once the engine stopped.
    pub fn insert(&self, counter: u64, reply: Reply) -> Result<(), (Reply, EngineError)> {
        let mut shard = self.shard(counter);
        // Checked under the shard lock: `stop` sets the flag before draining each shard.
        if self.is_stopped.load(Ordering::SeqCst) {
            return Err((reply, self.stopped().unwrap_or(EngineError::ShutDown)));
        }
        shard.insert(counter, reply);
        Ok(())
    }

    /// Completes proposal `counter` if it is still waiting.
    pub fn resolve(&self, counter: u64, result: Result<Bytes, EngineError>) -> bool {
        let reply = self.shard(counter).remove(&counter);
        match reply {
            Some(r) => {
                let _ = r.send(result);
                true
            }
            None => false,
        }
    }

    /// Why the engine stopped, if it did.
    pub fn stopped(&self) -> Option<EngineError> {
        if !self.is_stopped.load(Ordering::SeqCst) {
            return None;
        }
        lock(&self.reason).clone()
    }

    /// Marks the engine stopped (the first reason wins) and fails every waiting proposal.
    pub fn stop(&self, reason: EngineError) {
        let reason = {
            let mut r = lock(&self.reason);
            r.get_or_insert(reason).clone()
        };
        self.is_stopped.store(true, Ordering::SeqCst);
        for shard in &self.shards {
            let waiting = std::mem::take(&mut *lock(shard));
            for (_, r) in waiting {
                let _ = r.send(Err(reason.clone()));
            }
        }
    }

    /// Number of proposals waiting.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}
