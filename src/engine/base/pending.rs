//! The base engine's proposals waiting to be applied on this replica, keyed by their proposal
//! counter (the `base` stamp), so that the apply loop can complete a proposal whatever position
//! its entry lands at — possibly before the append itself has returned.
//!
//! Layer: soft state of the base engine, shared by its propose path, its appender task and its
//! apply loop. Only looked up by key, never iterated in apply.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::engine::error::EngineError;

/// Where a proposal's result goes.
pub type Reply = oneshot::Sender<Result<Bytes, EngineError>>;

/// Waiting proposals plus the reason the engine stopped, if it did.
#[derive(Default)]
pub struct Pending {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: HashMap<u64, Reply>,
    stopped: Option<EngineError>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Each critical section is a single map operation: a poisoned lock is consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers proposal `counter`; fails (returning the reply) once the engine stopped.
    pub fn insert(&self, counter: u64, reply: Reply) -> Result<(), (Reply, EngineError)> {
        let mut st = self.lock();
        if let Some(e) = &st.stopped {
            return Err((reply, e.clone()));
        }
        st.waiting.insert(counter, reply);
        Ok(())
    }

    /// Completes proposal `counter` if it is still waiting.
    pub fn resolve(&self, counter: u64, result: Result<Bytes, EngineError>) -> bool {
        let reply = self.lock().waiting.remove(&counter);
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
        self.lock().stopped.clone()
    }

    /// Marks the engine stopped (the first reason wins) and fails every waiting proposal.
    pub fn stop(&self, reason: EngineError) {
        let waiting = {
            let mut st = self.lock();
            if st.stopped.is_none() {
                st.stopped = Some(reason);
            }
            std::mem::take(&mut st.waiting)
        };
        let reason = self.stopped().unwrap_or(EngineError::ShutDown);
        for (_, r) in waiting {
            let _ = r.send(Err(reason.clone()));
        }
    }

    /// Number of proposals waiting.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.lock().waiting.len()
    }
}
