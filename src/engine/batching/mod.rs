//! `BatchingEngine`: group commit (Delos [SOSP] §3, "Batching").
//!
//! Layer: an engine between two others. Proposals arriving while `max_in_flight` batches are
//! proposed to the layer below and not yet applied are queued and go down together as one
//! batch entry (bounded by count and bytes) — one log append and one LocalStore transaction
//! (the one the base engine gives) for many proposals. Each proposer gets its own sub-result;
//! `post_apply` fans out per sub-entry. A lone proposal goes down as a batch of one (see
//! `driver.rs`). Entries without the `batch` header (lone proposals written by earlier builds,
//! entries from before the engine was enabled) pass through.
//!
//! The queue is FIFO and only the `driver.rs` task cuts and proposes batches, so proposals reach
//! the layer below in the order `propose` was called. Sub-entries of a batch are applied at the
//! batch's log position, one after the other in the same transaction. When this engine sits
//! above a `SessionOrderEngine`, a batch carries no stream header: batches form the origin's
//! default stream, which keeps them, and so every proposal, in order.

pub mod config;
mod driver;
pub mod format;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::log::Pos;
use crate::store::{ReadSnapshot, RwTxn};

use super::entry::Entry;
use super::error::{ApplyError, EngineError};
use super::switch::EngineSwitch;
use super::traits::{Applicator, Engine, ProposeFuture};
use super::upcall::UpcallSlot;

pub use config::BatchingConfig;
pub use format::BATCH_HEADER;

/// A queued proposal.
pub(crate) struct Queued {
    entry: Entry,
    size: usize,
    /// `None` for a detached proposal: nobody waits for its sub-result.
    reply: Option<oneshot::Sender<Result<Bytes, EngineError>>>,
}

/// Counters of a batching engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchingStats {
    /// Batch entries proposed.
    pub batches: u64,
    /// Proposals that went down inside a batch (all of them).
    pub batched_entries: u64,
}

pub(crate) struct Inner {
    lower: Arc<dyn Engine>,
    upcall: UpcallSlot,
    switch: EngineSwitch,
    cfg: BatchingConfig,
    queue: Mutex<VecDeque<Queued>>,
    /// Encoded bytes in `queue`.
    queued_bytes: AtomicUsize,
    wake: Notify,
    /// The sub-entries decoded by the last `apply`, for its `post_apply`.
    stash: Mutex<Option<(Pos, Vec<Entry>)>>,
    cancel: CancellationToken,
    batches: AtomicU64,
    batched_entries: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// Queues a proposal for the driver.
    fn enqueue(&self, entry: Entry, reply: Option<oneshot::Sender<Result<Bytes, EngineError>>>) {
        let size = entry.encoded_len();
        self.queued_bytes.fetch_add(size, Ordering::AcqRel);
        lock(&self.queue).push_back(Queued { entry, size, reply });
        self.wake.notify_one();
    }
}

/// The batching engine. See the module documentation.
pub struct BatchingEngine {
    inner: Arc<Inner>,
    driver: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for BatchingEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingEngine")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl BatchingEngine {
    /// Name of the engine (its enable command and switch).
    pub const NAME: &'static str = "batching";

    /// A batching engine proposing to `lower`, acting while `switch` is on. Starts its driver
    /// task (needs a tokio runtime). Register it with `lower` as its upcall.
    pub fn new(
        lower: Arc<dyn Engine>,
        cfg: BatchingConfig,
        switch: EngineSwitch,
    ) -> Result<Arc<BatchingEngine>, EngineError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| EngineError::Spawn {
            what: "batching driver",
            detail: e.to_string(),
        })?;
        let inner = Arc::new(Inner {
            lower,
            upcall: UpcallSlot::new(),
            switch,
            cfg,
            queue: Mutex::new(VecDeque::new()),
            queued_bytes: AtomicUsize::new(0),
            wake: Notify::new(),
            stash: Mutex::new(None),
            cancel: CancellationToken::new(),
            batches: AtomicU64::new(0),
            batched_entries: AtomicU64::new(0),
        });
        let driver = handle.spawn(driver::run(inner.clone()));
        Ok(Arc::new(BatchingEngine {
            inner,
            driver: Mutex::new(Some(driver)),
        }))
    }

    /// Counters.
    pub fn stats(&self) -> BatchingStats {
        BatchingStats {
            batches: self.inner.batches.load(Ordering::Relaxed),
            batched_entries: self.inner.batched_entries.load(Ordering::Relaxed),
        }
    }

    /// Whether more than `max_queued_bytes` of proposals wait for a batch: the layer below takes
    /// them more slowly than they come, and proposers that can wait should.
    pub fn congested(&self) -> bool {
        self.inner.queued_bytes.load(Ordering::Acquire) > self.inner.cfg.max_queued_bytes
    }

    /// Proposals waiting for a batch.
    pub fn queued(&self) -> usize {
        lock(&self.inner.queue).len()
    }

    /// Stops the driver (queued proposals fail) and drops the upcall.
    pub(crate) fn detach(&self) {
        self.inner.cancel.cancel();
        self.inner.upcall.clear();
    }

    /// [`detach`](Self::detach), then waits until the driver task has let go of the layer below.
    pub(crate) async fn close(&self) {
        self.detach();
        let driver = lock(&self.driver).take();
        if let Some(d) = driver {
            let _ = d.await;
        }
    }
}

impl Drop for BatchingEngine {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

#[async_trait]
impl Engine for BatchingEngine {
    fn propose(&self, entry: Entry) -> ProposeFuture {
        let inner = &self.inner;
        if !inner.switch.is_on() {
            return inner.lower.propose(entry);
        }
        if inner.cancel.is_cancelled() {
            return futures::future::ready(Err(EngineError::ShutDown)).boxed();
        }
        let (reply, rx) = oneshot::channel();
        inner.enqueue(entry, Some(reply));
        async move { rx.await.unwrap_or(Err(EngineError::ShutDown)) }.boxed()
    }

    fn propose_detached(&self, entry: Entry) {
        let inner = &self.inner;
        if !inner.switch.is_on() {
            return inner.lower.propose_detached(entry);
        }
        if inner.cancel.is_cancelled() {
            return;
        }
        inner.enqueue(entry, None);
    }

    async fn sync(&self) -> Result<ReadSnapshot, EngineError> {
        self.inner.lower.sync().await
    }

    fn register_upcall(&self, upcall: Arc<dyn Applicator>) -> Result<(), EngineError> {
        self.inner.upcall.register(upcall)
    }

    fn set_trim_prefix(&self, pos: Pos) {
        self.inner.lower.set_trim_prefix(pos);
    }
}

impl Applicator for BatchingEngine {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        let inner = &self.inner;
        if !inner.switch.is_on() || !entry.has_header(BATCH_HEADER) {
            return inner.upcall.apply(txn, entry, pos);
        }
        let subs = match format::decode_batch(entry) {
            Ok(subs) => subs,
            Err(e) if e.is_unsupported() => {
                return Err(ApplyError::Unsupported {
                    pos,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                // The same damaged bytes on every replica: rejecting them is deterministic.
                warn!(pos, error = %e, "skipping a malformed batch");
                return Ok(format::encode_results(&[]));
            }
        };
        let up = inner.upcall.get().ok_or_else(|| {
            ApplyError::Fatal(format!(
                "no applicator registered to apply the batch at {pos}"
            ))
        })?;
        let mut results = Vec::with_capacity(subs.len());
        for sub in &subs {
            results.push(up.apply(txn, sub, pos)?);
        }
        *lock(&inner.stash) = Some((pos, subs));
        Ok(format::encode_results(&results))
    }

    fn post_apply_done(&self) {
        self.inner.upcall.post_apply_done();
    }

    fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes) {
        let inner = &self.inner;
        if !inner.switch.is_on() || !entry.has_header(BATCH_HEADER) {
            inner.upcall.post_apply(entry, pos, result);
            return;
        }
        let stashed = lock(&inner.stash).take().filter(|(p, _)| *p == pos);
        let subs = match stashed {
            Some((_, subs)) => subs,
            None => match format::decode_batch(entry) {
                Ok(subs) => subs,
                Err(_) => return,
            },
        };
        let Ok(results) = format::decode_results(result) else {
            warn!(
                pos,
                "batch result is malformed; no post_apply for its sub-entries"
            );
            return;
        };
        let Some(up) = inner.upcall.get() else {
            return;
        };
        for (sub, r) in subs.iter().zip(results.iter()) {
            up.post_apply(sub, pos, r);
        }
    }
}
