//! The origin's soft state of one stream, and the pessimistic resend that repairs it (Zelos,
//! "Session as ordering primitive": speculative execution).
//!
//! Layer: soft state of the session-order engine, on the proposing replica only; never read in
//! apply. A stream is *speculative* while nothing went wrong: every proposal is sent down at
//! once, trusting the log to keep their order. When an entry of the stream is filtered at apply
//! (it arrived before its predecessor) or its append fails, the stream is *broken*: new proposals
//! are held back, and a resend task re-proposes the unapplied entries one at a time, lowest
//! sequence number first, each only after its predecessor applied (pessimistic). When every entry
//! that was in flight at the break is applied, the held-back proposals go down speculatively and
//! the stream is speculative again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::engine::entry::Entry;
use crate::engine::error::EngineError;
use crate::engine::traits::ProposeFuture;

use super::header::StreamId;
use super::{Inner, lock_stream};

/// Where a proposal's result goes.
pub type Reply = oneshot::Sender<Result<Bytes, EngineError>>;

/// A proposal of the stream not applied yet.
pub struct Slot {
    /// The stamped entry, kept for a resend.
    pub entry: Entry,
    /// The proposer, until resolved.
    pub reply: Option<Reply>,
}

/// One stream's soft state.
#[derive(Default)]
pub struct StreamState {
    /// Sequence number of the next proposal.
    pub next_seq: u64,
    /// Proposals not applied yet, by sequence number.
    pub pending: BTreeMap<u64, Slot>,
    /// While broken: entries below this sequence number are resent one at a time; entries at or
    /// above it are held back until then.
    pub resending: Option<u64>,
    /// Set when the stream's soft state was dropped from the engine (`forget_stream`).
    pub forgotten: bool,
}

impl StreamState {
    /// A stream whose next sequence number is `next_seq`.
    pub fn starting_at(next_seq: u64) -> Self {
        StreamState {
            next_seq,
            ..Default::default()
        }
    }

    /// True if nothing is pending and the stream is not being repaired.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.resending.is_none()
    }
}

/// Marks `stream` broken (if it was speculative) and starts its resend task.
pub fn break_stream(inner: &Arc<Inner>, st: &mut StreamState, stream: StreamId) {
    if st.resending.is_some() {
        return;
    }
    st.resending = Some(st.next_seq);
    inner.stats.breaks.fetch_add(1, Ordering::Relaxed);
    debug!(
        stream,
        upto = st.next_seq,
        "stream broken; resending pessimistically"
    );
    inner.resend_tasks.fetch_add(1, Ordering::AcqRel);
    let task_inner = inner.clone();
    inner.handle.spawn(async move {
        resend(task_inner.clone(), stream).await;
        task_inner.resend_tasks.fetch_sub(1, Ordering::AcqRel);
        task_inner.resend_ended.notify_waiters();
    });
}

enum Step {
    Resend(u64, ProposeFuture),
    Speculative(Vec<(u64, ProposeFuture)>),
    Stop,
}

/// The resend task of one broken stream.
async fn resend(inner: Arc<Inner>, stream: StreamId) {
    let mut backoff = inner.cfg.resend_backoff_min;
    loop {
        if inner.cancel.is_cancelled() {
            return;
        }
        let step = {
            let Some(st) = inner.stream(stream) else {
                return;
            };
            let mut st = lock_stream(&st);
            match st.resending {
                None => Step::Stop,
                Some(upto) => match st.pending.range(..upto).next() {
                    Some((&seq, slot)) => {
                        inner.stats.resends.fetch_add(1, Ordering::Relaxed);
                        Step::Resend(seq, inner.lower.propose(slot.entry.clone()))
                    }
                    None => {
                        st.resending = None;
                        Step::Speculative(
                            st.pending
                                .iter()
                                .map(|(&seq, slot)| (seq, inner.lower.propose(slot.entry.clone())))
                                .collect(),
                        )
                    }
                },
            }
        };
        match step {
            Step::Stop => return,
            Step::Resend(seq, fut) => {
                let res = tokio::select! {
                    r = fut => r,
                    _ = inner.cancel.cancelled() => return,
                };
                let retry = match res {
                    Err(e) => {
                        warn!(stream, seq, error = %e, "resend failed; retrying");
                        true
                    }
                    // Applied (or filtered as a copy of an entry applied meanwhile): resolved.
                    Ok(_) => inner.is_pending(stream, seq),
                };
                if retry {
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = inner.cancel.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(inner.cfg.resend_backoff_max);
                } else {
                    backoff = inner.cfg.resend_backoff_min;
                }
            }
            Step::Speculative(futs) => {
                debug!(
                    stream,
                    held = futs.len(),
                    "stream repaired; speculative again"
                );
                let mut sent: FuturesUnordered<_> = futs
                    .into_iter()
                    .map(|(seq, f)| async move { (seq, f.await) })
                    .collect();
                loop {
                    let next = tokio::select! {
                        n = sent.next() => n,
                        _ = inner.cancel.cancelled() => return,
                    };
                    match next {
                        Some((seq, Err(e))) => inner.on_send_failure(stream, seq, &e),
                        Some((_, Ok(_))) => {}
                        None => return,
                    }
                }
            }
        }
    }
}
