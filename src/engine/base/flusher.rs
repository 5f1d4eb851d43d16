//! The base engine's background flush policy and prefix trimming: flushes the LocalStore
//! periodically and whenever the apply loop has applied enough entries since the last flush,
//! publishes the durable cursor, and trims the log only below `min(requested trim point,
//! durable cursor)` — entries the store has not durably applied are never trimmed, so a restart
//! can always replay from its cursor.
//!
//! Layer: part of the base engine; touches the LocalStore (flush, through a shared handle, on the
//! blocking pool) and the log (prefix_trim).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::{debug, warn};

use crate::engine::error::EngineError;
use crate::log::Pos;

use super::Shared;

/// Runs until the engine is cancelled, then flushes once more.
pub async fn run(shared: Arc<Shared>) {
    let mut trimmed: Pos = 0;
    loop {
        let stop = tokio::select! {
            _ = tokio::time::sleep(shared.opts.flush_interval) => false,
            _ = shared.wake_flusher.notified() => false,
            _ = shared.cancel.cancelled() => true,
        };
        if let Err(e) = flush_and_trim(&shared, &mut trimmed).await {
            warn!(error = %e, "background flush or trim failed");
        }
        if stop {
            return;
        }
    }
}

/// Flushes if anything was applied since the last flush, then trims what may be trimmed.
pub async fn flush_and_trim(shared: &Arc<Shared>, trimmed: &mut Pos) -> Result<Pos, EngineError> {
    let durable = flush(shared).await?;
    let target = shared.trim_requested.load(Ordering::Acquire).min(durable);
    if target > *trimmed {
        shared.log.prefix_trim(target).await?;
        *trimmed = target;
        shared
            .counters
            .trimmed_to
            .fetch_max(target, Ordering::AcqRel);
        debug!(trim_point = target, "log trimmed below the durable cursor");
    }
    Ok(durable)
}

/// Flushes the store if needed; returns the durable cursor.
pub async fn flush(shared: &Arc<Shared>) -> Result<Pos, EngineError> {
    let store = shared.store.clone();
    let durable = if store.applied_cursor() > store.durable_cursor() {
        let d = tokio::task::spawn_blocking(move || store.flush())
            .await
            .map_err(|e| EngineError::Spawn {
                what: "store flush",
                detail: e.to_string(),
            })??;
        shared.counters.flushes.fetch_add(1, Ordering::Relaxed);
        d
    } else {
        store.durable_cursor()
    };
    shared.durable.send_if_modified(|d| {
        let changed = durable > *d;
        *d = (*d).max(durable);
        changed
    });
    Ok(durable)
}
