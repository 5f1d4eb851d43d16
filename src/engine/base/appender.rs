//! The base engine's appender task: takes encoded proposals from a FIFO queue, in proposal order,
//! and appends them to the log with many appends in flight. Each append future is first polled
//! in queue order, which is when a loglet assigns (or requests) its position, so proposals reach
//! the log in the order they were made unless the log reorders them.
//!
//! Layer: part of the base engine; touches the log (append) and the engine's soft state (failed
//! proposals, the known tail, the apply loop's wake-up).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tracing::debug;

use crate::log::{LogError, Pos};

use super::Shared;

/// One proposal to append.
pub struct AppendRequest {
    /// Its proposal counter (to fail it if the append fails).
    pub counter: u64,
    /// The encoded entry.
    pub payload: Bytes,
}

/// Runs until the engine is cancelled.
pub async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<AppendRequest>) {
    let mut inflight = FuturesUnordered::new();
    let push = |inflight: &mut FuturesUnordered<_>, req: AppendRequest| {
        let log = shared.log.clone();
        inflight.push(async move { (req.counter, log.append(req.payload).await) });
    };
    loop {
        tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => break,
            Some((counter, res)) = inflight.next(), if !inflight.is_empty() => {
                on_appended(&shared, counter, res);
            }
            req = rx.recv() => match req {
                Some(req) => {
                    push(&mut inflight, req);
                    while let Ok(req) = rx.try_recv() {
                        push(&mut inflight, req);
                    }
                }
                None => break,
            },
        }
    }
}

fn on_appended(shared: &Shared, counter: u64, res: Result<Pos, LogError>) {
    match res {
        Ok(pos) => {
            shared.tail_hint.fetch_max(pos + 1, Ordering::AcqRel);
            shared.wake_apply.notify_one();
        }
        Err(e) => {
            debug!(counter, error = %e, "append failed");
            shared.pending.resolve(counter, Err(e.into()));
        }
    }
}
