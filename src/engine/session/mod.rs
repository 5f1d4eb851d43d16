//! `SessionOrderEngine`: per-stream order over a log that may reorder or fail appends (Zelos,
//! "Session as ordering primitive"; Delos [SOSP] "SessionOrder").
//!
//! Layer: an engine between two others. Touches its own LocalStore partition in apply (the next
//! expected sequence number per `(origin, stream)`), and its soft state on the proposing replica.
//!
//! - **propose**: stamps each proposal with `(origin, stream, seq)` in the `so` header. The stream
//!   comes from the `stream` header set by the layer above ([`with_stream`]); without one, the
//!   proposal belongs to [`DEFAULT_STREAM`] — so when a batching engine sits above this one, its
//!   batches form the origin's default stream. Proposals of a stream go down in call order,
//!   speculatively (many in flight).
//! - **apply** (deterministic): `seq == expected` → applied upward, expected + 1; otherwise the
//!   entry is *filtered*: not applied, and the result says so (gap: it came before its
//!   predecessor; stale: a copy of an entry already applied). The result is the upper result
//!   behind a tag byte.
//! - **post_apply** on the origin: an applied entry completes its proposer with the upper result;
//!   a gap breaks the stream, which is then repaired by pessimistic resend (`stream.rs`). A
//!   failed append breaks it too. Each proposer's future resolves once, with its entry's real
//!   result, after every earlier entry of its stream was applied.
//!
//! Origin ids are fresh per incarnation, so a restarted process starts new streams; the expected
//! sequence numbers of dead origins stay in the partition (a later engine can collect them).
//! [`SessionOrderEngine::forget_stream`] drops an idle stream's soft state; using the stream
//! again later resumes from the sequence number in the store.

pub mod config;
pub mod header;
mod stream;

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use ahash::RandomState;
use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::log::Pos;
use crate::store::{Partition, ReadSnapshot, RwTxn, SharedStore, StoreRead};

use super::entry::Entry;
use super::error::{ApplyError, EngineError};
use super::origin::fresh_origin_id;
use super::switch::EngineSwitch;
use super::traits::{Applicator, Engine, ProposeFuture};
use super::upcall::UpcallSlot;

pub use config::SessionOrderConfig;
pub use header::{
    DEFAULT_STREAM, SESSION_HEADER, STREAM_HEADER, SessionStamp, StreamId, with_stream,
};

use header::{TAG_APPLIED, TAG_GAP, TAG_REJECTED, TAG_STALE, decode_stream, wrap};
use stream::{Slot, StreamState, break_stream};

/// Counters of a session-order engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionOrderStats {
    /// Proposals stamped by this engine.
    pub proposals: u64,
    /// This origin's entries filtered because they arrived before their predecessor.
    pub filtered_gap: u64,
    /// This origin's entries filtered as copies of entries already applied.
    pub filtered_stale: u64,
    /// Streams broken (each followed by a pessimistic resend).
    pub breaks: u64,
    /// Entries resent pessimistically.
    pub resends: u64,
    /// Streams with soft state.
    pub streams: usize,
}

#[derive(Default)]
pub(crate) struct Counters {
    proposals: AtomicU64,
    filtered_gap: AtomicU64,
    filtered_stale: AtomicU64,
    breaks: AtomicU64,
    resends: AtomicU64,
}

pub(crate) struct Inner {
    origin: u64,
    lower: Arc<dyn Engine>,
    upcall: UpcallSlot,
    switch: EngineSwitch,
    cfg: SessionOrderConfig,
    store: SharedStore,
    partition: OnceLock<Partition>,
    /// Per-stream soft state, each behind its own lock: a proposer holds its stream's lock
    /// while handing the proposal down (to keep the stream's order), without blocking others.
    streams: Mutex<HashMap<StreamId, StreamRef, RandomState>>,
    handle: tokio::runtime::Handle,
    cancel: CancellationToken,
    /// Resend tasks running, and a wake-up when one ends (for `close`).
    resend_tasks: AtomicUsize,
    resend_ended: Notify,
    stats: Counters,
}

/// One stream's soft state, shared.
pub(crate) type StreamRef = Arc<Mutex<StreamState>>;

/// Locks a stream. Critical sections leave it consistent; a poisoned lock is usable.
pub(crate) fn lock_stream(st: &StreamRef) -> MutexGuard<'_, StreamState> {
    st.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn lock_streams(&self) -> MutexGuard<'_, HashMap<StreamId, StreamRef, RandomState>> {
        // Critical sections leave the map consistent; a poisoned lock is usable.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The soft state of `stream`, if it has one.
    fn stream(&self, stream: StreamId) -> Option<StreamRef> {
        self.lock_streams().get(&stream).cloned()
    }

    /// The partition, created on first use in apply.
    fn partition(&self, txn: &RwTxn<'_>) -> Result<&Partition, ApplyError> {
        if let Some(p) = self.partition.get() {
            return Ok(p);
        }
        let p = txn.partition(&self.cfg.partition)?;
        Ok(self.partition.get_or_init(|| p))
    }

    /// The next expected sequence number of one of this origin's streams, as stored now (0 for
    /// a stream never applied).
    fn stored_next_seq(&self, stream: StreamId) -> u64 {
        let Some(p) = self.store.existing_partition(&self.cfg.partition) else {
            return 0;
        };
        match self
            .store
            .snapshot()
            .get(&p, &header::stream_key(self.origin, stream))
        {
            Ok(Some(v)) => <[u8; 8]>::try_from(v.as_slice()).map_or(0, u64::from_be_bytes),
            Ok(None) => 0,
            Err(e) => {
                warn!(stream, error = %e, "reading a stream's sequence number failed; starting at 0");
                0
            }
        }
    }

    fn is_pending(&self, stream: StreamId, seq: u64) -> bool {
        self.stream(stream)
            .is_some_and(|st| lock_stream(&st).pending.contains_key(&seq))
    }

    /// The append of `seq` failed: if it is still unapplied, the stream is broken.
    fn on_send_failure(self: &Arc<Self>, stream: StreamId, seq: u64, e: &EngineError) {
        let Some(st) = self.stream(stream) else {
            return;
        };
        let mut st = lock_stream(&st);
        if st.pending.contains_key(&seq) {
            warn!(stream, seq, error = %e, "proposal failed to reach the log; stream broken");
            break_stream(self, &mut st, stream);
        }
    }

    /// `seq` of `stream` was filtered as out of order.
    fn on_gap(self: &Arc<Self>, stream: StreamId, seq: u64) {
        let Some(st) = self.stream(stream) else {
            return;
        };
        let mut st = lock_stream(&st);
        if st.pending.contains_key(&seq) {
            break_stream(self, &mut st, stream);
        }
    }

    /// `seq` of `stream` was applied with `result`.
    fn on_applied(&self, stream: StreamId, seq: u64, result: Bytes) {
        let reply = self
            .stream(stream)
            .and_then(|st| lock_stream(&st).pending.remove(&seq))
            .and_then(|slot| slot.reply);
        if let Some(r) = reply {
            let _ = r.send(Ok(result));
        }
    }

    /// `seq` of `stream` was filtered as a copy of an applied entry.
    fn on_stale(&self, stream: StreamId, seq: u64) {
        let slot = self
            .stream(stream)
            .and_then(|st| lock_stream(&st).pending.remove(&seq));
        if let Some(slot) = slot {
            // Cannot happen: the first copy's post_apply resolved it. Never leave it hanging.
            warn!(
                stream,
                seq, "a pending entry was filtered as already applied"
            );
            if let Some(r) = slot.reply {
                let _ = r.send(Err(EngineError::BadResult(format!(
                    "stream {stream} entry {seq} was applied earlier but its result was lost"
                ))));
            }
        }
    }
}

/// The session-order engine. See the module documentation.
pub struct SessionOrderEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionOrderEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOrderEngine")
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl SessionOrderEngine {
    /// Name of the engine (its enable command and switch).
    pub const NAME: &'static str = "session_order";

    /// A session-order engine proposing to `lower`, reading its partition through `store` (the
    /// stack's LocalStore), acting while `switch` is on. Needs a tokio runtime (resend tasks).
    /// Register it with `lower` as its upcall.
    pub fn new(
        lower: Arc<dyn Engine>,
        store: SharedStore,
        cfg: SessionOrderConfig,
        switch: EngineSwitch,
    ) -> Result<Arc<SessionOrderEngine>, EngineError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| EngineError::Spawn {
            what: "session-order engine",
            detail: e.to_string(),
        })?;
        Ok(Arc::new(SessionOrderEngine {
            inner: Arc::new(Inner {
                origin: fresh_origin_id(),
                lower,
                upcall: UpcallSlot::new(),
                switch,
                cfg,
                store,
                partition: OnceLock::new(),
                streams: Mutex::new(HashMap::default()),
                handle,
                cancel: CancellationToken::new(),
                resend_tasks: AtomicUsize::new(0),
                resend_ended: Notify::new(),
                stats: Counters::default(),
            }),
        }))
    }

    /// This incarnation's origin id.
    pub fn origin(&self) -> u64 {
        self.inner.origin
    }

    /// Drops the soft state of `stream` if nothing of it is in flight; returns whether it is
    /// gone. A later proposal on the stream resumes from the sequence number in the store.
    pub fn forget_stream(&self, stream: StreamId) -> bool {
        let mut streams = self.inner.lock_streams();
        let Some(st) = streams.get(&stream).cloned() else {
            return true;
        };
        let mut st = lock_stream(&st);
        if !st.is_idle() {
            return false;
        }
        // A proposer that looked the stream up before this sees the mark and looks again.
        st.forgotten = true;
        streams.remove(&stream);
        true
    }

    /// Counters.
    pub fn stats(&self) -> SessionOrderStats {
        let c = &self.inner.stats;
        SessionOrderStats {
            proposals: c.proposals.load(Ordering::Relaxed),
            filtered_gap: c.filtered_gap.load(Ordering::Relaxed),
            filtered_stale: c.filtered_stale.load(Ordering::Relaxed),
            breaks: c.breaks.load(Ordering::Relaxed),
            resends: c.resends.load(Ordering::Relaxed),
            streams: self.inner.lock_streams().len(),
        }
    }

    /// Stops resend tasks, fails every pending proposal and drops the upcall.
    pub(crate) fn detach(&self) {
        self.inner.cancel.cancel();
        self.inner.lock_streams().clear();
        self.inner.upcall.clear();
    }

    /// [`detach`](Self::detach), then waits until every resend task has let go of the layer
    /// below.
    pub(crate) async fn close(&self) {
        self.detach();
        loop {
            let ended = self.inner.resend_ended.notified();
            if self.inner.resend_tasks.load(Ordering::Acquire) == 0 {
                return;
            }
            ended.await;
        }
    }
}

impl Drop for SessionOrderEngine {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

#[async_trait]
impl Engine for SessionOrderEngine {
    fn propose(&self, mut entry: Entry) -> ProposeFuture {
        let inner = &self.inner;
        if !inner.switch.is_on() {
            return inner.lower.propose(entry);
        }
        let stream = match entry.remove_header(STREAM_HEADER) {
            None => DEFAULT_STREAM,
            Some(v) => match decode_stream(&v) {
                Ok(s) => s,
                Err(e) => {
                    let err = EngineError::BadHeader {
                        header: STREAM_HEADER,
                        detail: e.to_string(),
                    };
                    return futures::future::ready(Err(err)).boxed();
                }
            },
        };
        inner.stats.proposals.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let sent = loop {
            let st = match inner.lock_streams().entry(stream) {
                MapEntry::Occupied(o) => o.get().clone(),
                MapEntry::Vacant(v) => v
                    .insert(Arc::new(Mutex::new(StreamState::starting_at(
                        inner.stored_next_seq(stream),
                    ))))
                    .clone(),
            };
            let mut st = lock_stream(&st);
            if st.forgotten {
                continue;
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            entry.set_header(
                SESSION_HEADER,
                SessionStamp {
                    origin: inner.origin,
                    stream,
                    seq,
                }
                .encode(),
            );
            // Submitted under the lock: the stream's proposals go down in sequence order.
            let sent = st
                .resending
                .is_none()
                .then(|| (seq, inner.lower.propose(entry.clone())));
            st.pending.insert(
                seq,
                Slot {
                    entry,
                    reply: Some(tx),
                },
            );
            break sent;
        };
        let inner = inner.clone();
        async move {
            if let Some((seq, fut)) = sent
                && let Err(e) = fut.await
            {
                inner.on_send_failure(stream, seq, &e);
            }
            rx.await.unwrap_or(Err(EngineError::ShutDown))
        }
        .boxed()
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

impl Applicator for SessionOrderEngine {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        let inner = &self.inner;
        let stamp = match entry.header(SESSION_HEADER) {
            Some(v) if inner.switch.is_on() => v,
            _ => return inner.upcall.apply(txn, entry, pos),
        };
        let Ok(stamp) = SessionStamp::decode(stamp) else {
            warn!(pos, "filtering an entry with a malformed session stamp");
            return Ok(Bytes::from_static(&[TAG_REJECTED]));
        };
        let partition = inner.partition(txn)?;
        let key = stamp.key();
        let expected = match txn.get_bytes(partition, &key)? {
            None => 0,
            Some(v) => <[u8; 8]>::try_from(&v[..])
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    ApplyError::Fatal(format!(
                        "corrupt sequence number of stream {} of origin {}",
                        stamp.stream, stamp.origin
                    ))
                })?,
        };
        if stamp.seq == expected {
            txn.put(partition, key, (expected + 1).to_be_bytes());
            let upper = inner.upcall.apply(txn, entry, pos)?;
            Ok(wrap(TAG_APPLIED, &upper))
        } else if stamp.seq < expected {
            Ok(Bytes::from_static(&[TAG_STALE]))
        } else {
            Ok(Bytes::from_static(&[TAG_GAP]))
        }
    }

    fn post_apply_done(&self) {
        self.inner.upcall.post_apply_done();
    }

    fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes) {
        let inner = &self.inner;
        let stamp = match entry.header(SESSION_HEADER) {
            Some(v) if inner.switch.is_on() => v,
            _ => return inner.upcall.post_apply(entry, pos, result),
        };
        let Ok(stamp) = SessionStamp::decode(stamp) else {
            return;
        };
        let mine = stamp.origin == inner.origin;
        match result.first().copied() {
            Some(TAG_APPLIED) => {
                let upper = result.slice(1..);
                inner.upcall.post_apply(entry, pos, &upper);
                if mine {
                    inner.on_applied(stamp.stream, stamp.seq, upper);
                }
            }
            Some(TAG_GAP) if mine => {
                inner.stats.filtered_gap.fetch_add(1, Ordering::Relaxed);
                inner.on_gap(stamp.stream, stamp.seq);
            }
            Some(TAG_STALE) if mine => {
                inner.stats.filtered_stale.fetch_add(1, Ordering::Relaxed);
                inner.on_stale(stamp.stream, stamp.seq);
            }
            _ => {}
        }
    }
}
