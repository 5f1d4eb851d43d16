//! The apply loop: the one thread that reads the log in order from the store's cursor and applies
//! each entry up the stack inside one LocalStore transaction, committed together with the new
//! cursor; then runs `post_apply` and completes the local proposer.
//!
//! Layer: the heart of the base engine. Touches the log (read, check_tail), the LocalStore (the
//! only writer: one `RwTxn` per entry), the registered applicator, and the engine's soft state.
//! It runs on a dedicated OS thread (Delos: "one apply thread") so that store I/O in apply never
//! blocks an async worker; its few async waits (log reads, wake-ups) run through the tokio
//! runtime's handle.
//!
//! After a restart the loop simply starts at the stored cursor: the log is the write-ahead log.
//! A non-deterministic failure (store I/O, an entry or command this build cannot read, a log
//! trimmed above the cursor) stops the loop loudly: every waiting and later proposal fails with
//! [`EngineError::ApplyStopped`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use crate::engine::entry::Entry;
use crate::engine::error::{ApplyError, EngineError};
use crate::engine::traits::Applicator;
use crate::log::{LogError, Pos};
use crate::store::{LocalStore, Partition};

use super::Shared;
use super::control;
use super::header::{BASE_HEADER, CONTROL_HEADER, Stamp};

/// Everything the apply thread owns.
pub struct ApplyLoop {
    pub(super) shared: Arc<Shared>,
    pub(super) store: LocalStore,
    pub(super) upcall: Arc<dyn Applicator>,
    pub(super) partition: Partition,
}

/// Marks the engine stopped when the apply thread ends, normally or by a panic.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let reason = if std::thread::panicking() {
            error!("the apply thread panicked; the engine stops");
            EngineError::ApplyStopped("the apply thread panicked".into())
        } else {
            EngineError::ShutDown
        };
        self.0.pending.stop(reason);
        self.0.stopped.cancel();
    }
}

impl ApplyLoop {
    /// Body of the apply thread: runs the loop, closes the store, reports how it ended.
    pub fn run_thread(
        self,
        handle: tokio::runtime::Handle,
        done: oneshot::Sender<Result<(), EngineError>>,
    ) {
        let _guard = StopGuard(self.shared.clone());
        crate::store::quiet_thread();
        let shared = self.shared.clone();
        let mut state = Running {
            cursor: self.store.applied_cursor(),
            eager_check: true,
            since_flush: 0,
            lp: self,
        };
        let res = handle.block_on(state.run());
        if let Err(e) = &res {
            error!(error = %e, cursor = state.cursor, "the apply loop stopped");
            shared.pending.stop(e.clone());
        }
        let ApplyLoop { store, upcall, .. } = state.lp;
        drop(upcall);
        match store.close() {
            Ok(durable) => debug!(durable, "apply loop closed the local store"),
            Err(e) => warn!(error = %e, "closing the local store failed"),
        }
        let _ = done.send(res);
    }
}

/// What the loop does with an entry once its transaction committed.
enum Outcome {
    Applied(Bytes),
    Control(control::ControlEffect),
    Skipped,
}

struct Running {
    lp: ApplyLoop,
    cursor: Pos,
    /// Check the tail at once when idle (the last check found entries).
    eager_check: bool,
    since_flush: u64,
}

impl Running {
    async fn run(&mut self) -> Result<(), EngineError> {
        let shared = self.lp.shared.clone();
        shared.applied.send_replace(self.cursor);
        info!(
            cursor = self.cursor,
            origin = shared.origin,
            "apply loop started"
        );
        loop {
            if shared.cancel.is_cancelled() {
                return Ok(());
            }
            let target = shared.tail_hint.load(Ordering::Acquire);
            if self.cursor >= target {
                self.idle(&shared).await;
                continue;
            }
            let to = target.min(self.cursor.saturating_add(shared.opts.read_batch.max(1)));
            let read = tokio::select! {
                r = shared.log.read(self.cursor, to) => r,
                _ = shared.cancel.cancelled() => return Ok(()),
            };
            let entries = match read {
                Ok(v) => v,
                Err(LogError::Trimmed { trim_point, .. }) => {
                    return Err(EngineError::BehindTrimPoint {
                        cursor: self.cursor,
                        trim_point,
                    });
                }
                Err(e) => {
                    warn!(cursor = self.cursor, error = %e, "log read failed; retrying");
                    self.pause(&shared, shared.opts.read_retry).await;
                    continue;
                }
            };
            if entries.is_empty() {
                // The known tail is not readable yet (e.g. a segment being switched): wait a bit.
                self.pause(&shared, std::time::Duration::from_millis(1))
                    .await;
                continue;
            }
            for (pos, bytes) in entries {
                if pos != self.cursor {
                    return Err(EngineError::ApplyStopped(
                        format!("log gap: expected position {}, read {pos}", self.cursor).into(),
                    ));
                }
                self.apply_one(&shared, pos, bytes)?;
            }
        }
    }

    async fn pause(&self, shared: &Shared, d: std::time::Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = shared.cancel.cancelled() => {}
        }
    }

    /// Nothing known to apply: wait for a local append or a sync, or poll the tail.
    async fn idle(&mut self, shared: &Shared) {
        if !self.eager_check {
            tokio::select! {
                _ = shared.wake_apply.notified() => return,
                _ = tokio::time::sleep(shared.opts.tail_poll_interval) => {}
                _ = shared.cancel.cancelled() => return,
            }
        }
        shared
            .counters
            .poll_tail_checks
            .fetch_add(1, Ordering::Relaxed);
        // A replicated log's tail check is a round trip (or a wait for a leader): a local
        // append or a new tail reported by the log ends the wait.
        let checked = tokio::select! {
            r = shared.log.check_tail() => r,
            _ = shared.wake_apply.notified() => return,
            _ = shared.cancel.cancelled() => return,
        };
        match checked {
            Ok((tail, _sealed)) => {
                shared.tail_hint.fetch_max(tail, Ordering::AcqRel);
                self.eager_check = tail > self.cursor;
            }
            Err(e) => {
                debug!(error = %e, "tail poll failed");
                self.eager_check = false;
            }
        }
    }

    /// Applies the entry at `pos` in one transaction committed with cursor `pos + 1`.
    fn apply_one(&mut self, shared: &Shared, pos: Pos, bytes: Bytes) -> Result<(), EngineError> {
        let stopped = |e: ApplyError| EngineError::ApplyStopped(e.to_string().into());
        let lp = &mut self.lp;
        let (entry, outcome) = match Entry::decode(bytes) {
            Ok(entry) => {
                let mut txn = lp.store.begin();
                let outcome = match entry.header(CONTROL_HEADER) {
                    Some(cmd) => Outcome::Control(
                        control::apply(&mut txn, &lp.partition, cmd, pos).map_err(stopped)?,
                    ),
                    None => {
                        Outcome::Applied(lp.upcall.apply(&mut txn, &entry, pos).map_err(stopped)?)
                    }
                };
                txn.commit(pos + 1)?;
                (Some(entry), outcome)
            }
            Err(e) if e.is_unsupported() => {
                return Err(stopped(ApplyError::Unsupported {
                    pos,
                    reason: e.to_string(),
                }));
            }
            Err(e) => {
                // Damaged bytes are the same on every replica: skipping them is deterministic.
                warn!(pos, error = %e, "skipping a malformed log entry");
                lp.store.begin().commit(pos + 1)?;
                (None, Outcome::Skipped)
            }
        };
        self.cursor = pos + 1;
        let result = match outcome {
            Outcome::Applied(result) => {
                if let Some(entry) = &entry {
                    lp.upcall.post_apply(entry, pos, &result);
                    lp.upcall.post_apply_done();
                }
                result
            }
            Outcome::Control(effect) => {
                if let Some(name) = effect.enabled {
                    shared.switch(&name).turn_on();
                }
                Bytes::new()
            }
            Outcome::Skipped => Bytes::new(),
        };
        shared.counters.applied.fetch_add(1, Ordering::Relaxed);
        shared.applied.send_replace(self.cursor);
        if let Some(stamp) = entry
            .as_ref()
            .and_then(|e| e.header(BASE_HEADER))
            .and_then(|v| Stamp::decode(v).ok())
            && stamp.origin == shared.origin
        {
            shared.pending.resolve(stamp.counter, Ok(result));
        }
        self.since_flush += 1;
        if self.since_flush >= shared.opts.flush_every {
            self.since_flush = 0;
            shared.wake_flusher.notify_one();
        }
        Ok(())
    }
}
