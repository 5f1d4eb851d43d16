//! The batching engine's driver task: cuts the FIFO queue into batches while fewer than
//! `max_in_flight` are in flight, proposes each to the layer below (in queue order), and hands
//! every proposer its sub-result when the batch's result comes back.
//!
//! Layer: part of the batching engine; touches only the engine's queue and the layer below.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use crate::engine::error::EngineError;

use super::format;
use super::{Inner, Queued, lock};

/// Runs until the engine is cancelled; then fails whatever is still queued.
pub async fn run(inner: Arc<Inner>) {
    let mut inflight: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    let max_in_flight = inner.cfg.max_in_flight.max(1);
    loop {
        while inflight.len() < max_in_flight {
            let Some(batch) = cut(&inner) else {
                break;
            };
            inflight.push(submit(&inner, batch));
        }
        tokio::select! {
            biased;
            _ = inner.cancel.cancelled() => break,
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            _ = inner.wake.notified() => {}
        }
    }
    let queued: Vec<Queued> = lock(&inner.queue).drain(..).collect();
    inner.queued_bytes.store(0, Ordering::Release);
    for reply in queued.into_iter().filter_map(|q| q.reply) {
        let _ = reply.send(Err(EngineError::ShutDown));
    }
}

/// Takes the next batch off the queue, bounded by count and bytes.
fn cut(inner: &Inner) -> Option<Vec<Queued>> {
    let mut q = lock(&inner.queue);
    let mut batch = Vec::new();
    let mut bytes = 0usize;
    while let Some(front) = q.front() {
        if !batch.is_empty()
            && (batch.len() >= inner.cfg.max_entries.max(1)
                || bytes.saturating_add(front.size) > inner.cfg.max_bytes)
        {
            break;
        }
        bytes = bytes.saturating_add(front.size);
        batch.extend(q.pop_front());
    }
    inner.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    (!batch.is_empty()).then_some(batch)
}

/// Proposes `batch` to the layer below now; the future distributes the results. A lone proposal
/// goes down as a batch of one too: sent as it is, it would keep its own `stream` header, and a
/// `SessionOrderEngine` below would order it apart from the batches (the default stream) that
/// hold the earlier proposals of its stream.
fn submit(inner: &Inner, batch: Vec<Queued>) -> BoxFuture<'static, ()> {
    inner.batches.fetch_add(1, Ordering::Relaxed);
    inner
        .batched_entries
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut entries = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for q in batch {
        entries.push(q.entry);
        replies.push(q.reply);
    }
    let fut = inner.lower.propose(format::encode_batch(&entries));
    drop(entries);
    Box::pin(async move {
        if replies.iter().all(Option::is_none) {
            // Only detached proposals: the batch counts as in flight until applied, but nobody
            // needs its sub-results.
            let _ = fut.await;
            return;
        }
        let results: Result<Vec<Bytes>, EngineError> = fut.await.and_then(|r| {
            format::decode_results(&r)
                .map_err(|e| EngineError::BadResult(format!("batch result: {e}")))
        });
        match results {
            Ok(rs) if rs.len() == replies.len() => {
                for (reply, r) in replies.into_iter().zip(rs) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(r));
                    }
                }
            }
            Ok(rs) => {
                let e = EngineError::BadResult(format!(
                    "batch of {} proposals got {} results",
                    replies.len(),
                    rs.len()
                ));
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(e.clone()));
                }
            }
            Err(e) => {
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    })
}
