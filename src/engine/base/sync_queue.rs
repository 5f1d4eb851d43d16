//! The base engine's sync queue: every `sync` caller waits for a `check_tail` that *started after
//! it called*, and all callers share one outstanding `check_tail` — those arriving while one is in
//! flight wait for the next one (Delos [SOSP] §3: "queues many sync calls behind one outstanding
//! checkTail").
//!
//! Layer: part of the base engine; touches the log (check_tail) only.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::engine::error::EngineError;
use crate::log::Pos;

use super::Shared;

type Waiter = oneshot::Sender<Result<Pos, EngineError>>;

/// Callers waiting for the next tail check.
#[derive(Default)]
pub struct SyncQueue {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: Vec<Waiter>,
    in_flight: bool,
}

impl SyncQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues a caller; the receiver gets the tail of a check that started after this call.
pub fn enqueue(shared: &Arc<Shared>) -> oneshot::Receiver<Result<Pos, EngineError>> {
    let (tx, rx) = oneshot::channel();
    let start = {
        let mut st = shared.sync.lock();
        st.next.push(tx);
        !std::mem::replace(&mut st.in_flight, true)
    };
    if start {
        tokio::spawn(drive(shared.clone()));
    }
    rx
}

/// Runs tail checks while callers wait: each round takes every caller queued so far, checks the
/// tail once, and answers them all.
async fn drive(shared: Arc<Shared>) {
    loop {
        let waiters = {
            let mut st = shared.sync.lock();
            if st.next.is_empty() {
                st.in_flight = false;
                return;
            }
            std::mem::take(&mut st.next)
        };
        shared
            .counters
            .sync_tail_checks
            .fetch_add(1, Ordering::Relaxed);
        let res = shared
            .log
            .check_tail()
            .await
            .map(|(tail, _sealed)| tail)
            .map_err(EngineError::from);
        for w in waiters {
            let _ = w.send(res.clone());
        }
    }
}
