//! `ObserverEngine`: inserted between two engines, it measures them (Delos [SOSP] "Observer").
//!
//! Layer: an engine between two others; it changes nothing that passes through it. It records
//! - **propose latency**: from the call to `propose` until the layer below returned the result
//!   (everything below it: the lower engines, the log, the apply loop). Detached proposals
//!   ([`Engine::propose_detached`]) have no result to wait for and are not measured;
//! - **apply latency**: time spent in the layer above's `apply`.
//!
//! into HDR histograms (nanoseconds, 3 significant digits) behind mutexes, readable with
//! [`ObserverEngine::metrics`]. The clock reads in apply only feed these metrics: they never
//! reach the transaction or the result, so apply stays deterministic.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use hdrhistogram::Histogram;

use crate::log::Pos;
use crate::store::{ReadSnapshot, RwTxn};

use super::entry::Entry;
use super::error::{ApplyError, EngineError};
use super::traits::{Applicator, Engine, ProposeFuture};
use super::upcall::UpcallSlot;

/// Summary of one latency histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Largest sample.
    pub max_ns: u64,
}

/// What one observer measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverMetrics {
    /// The observer's name (where it sits in the stack).
    pub name: String,
    /// Propose-to-result latency of the layers below.
    pub propose: LatencySummary,
    /// Apply time of the layer above.
    pub apply: LatencySummary,
}

/// A latency histogram (1 ns to 1 hour, 3 significant digits).
struct Recorder {
    /// `None` only if the histogram could not be built (it always can, with these bounds).
    hist: Mutex<Option<Histogram<u64>>>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            hist: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000_000, 3).ok()),
        }
    }

    fn record(&self, since: Instant) {
        let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut h = self.hist.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = h.as_mut() {
            h.saturating_record(ns.max(1));
        }
    }

    fn summary(&self) -> LatencySummary {
        let h = self.hist.lock().unwrap_or_else(PoisonError::into_inner);
        h.as_ref()
            .map_or_else(LatencySummary::default, |h| LatencySummary {
                count: h.len(),
                p50_ns: h.value_at_quantile(0.5),
                p99_ns: h.value_at_quantile(0.99),
                max_ns: h.max(),
            })
    }

    fn reset(&self) {
        if let Some(h) = self
            .hist
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            h.reset();
        }
    }
}

struct Inner {
    name: String,
    lower: Arc<dyn Engine>,
    upcall: UpcallSlot,
    propose: Recorder,
    apply: Recorder,
}

/// The observer engine. See the module documentation.
pub struct ObserverEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ObserverEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserverEngine")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl ObserverEngine {
    /// An observer named `name` over `lower`. Register it with `lower` as its upcall.
    pub fn new(name: impl Into<String>, lower: Arc<dyn Engine>) -> Arc<ObserverEngine> {
        Arc::new(ObserverEngine {
            inner: Arc::new(Inner {
                name: name.into(),
                lower,
                upcall: UpcallSlot::new(),
                propose: Recorder::new(),
                apply: Recorder::new(),
            }),
        })
    }

    /// The observer's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// What it measured so far.
    pub fn metrics(&self) -> ObserverMetrics {
        ObserverMetrics {
            name: self.inner.name.clone(),
            propose: self.inner.propose.summary(),
            apply: self.inner.apply.summary(),
        }
    }

    /// Clears the histograms.
    pub fn reset(&self) {
        self.inner.propose.reset();
        self.inner.apply.reset();
    }

    /// Drops the upcall.
    pub(crate) fn detach(&self) {
        self.inner.upcall.clear();
    }
}

#[async_trait]
impl Engine for ObserverEngine {
    fn propose(&self, entry: Entry) -> ProposeFuture {
        let start = Instant::now();
        let fut = self.inner.lower.propose(entry);
        let inner = self.inner.clone();
        async move {
            let r = fut.await;
            inner.propose.record(start);
            r
        }
        .boxed()
    }

    fn propose_detached(&self, entry: Entry) {
        self.inner.lower.propose_detached(entry);
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

impl Applicator for ObserverEngine {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        let start = Instant::now();
        let r = self.inner.upcall.apply(txn, entry, pos);
        self.inner.apply.record(start);
        r
    }

    fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes) {
        self.inner.upcall.post_apply(entry, pos, result);
    }

    fn post_apply_done(&self) {
        self.inner.upcall.post_apply_done();
    }
}
