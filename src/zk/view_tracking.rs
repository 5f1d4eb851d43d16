//! View tracking: in an ensemble the shared log is trimmed only below every replica's durably
//! applied position, with a retention bound for a replica that does not answer.
//!
//! Layer: `zk/`, assembling the platform for one node: each node answers its store's durable
//! cursor on the quorum port (`zk.view.durable`); the leader of the active segment asks every
//! replica of it and sets the stack's trim prefix to the lowest answer, or, for a replica that
//! did not answer and was last seen lower (or never), to at most `retain` entries below its own
//! durable cursor. A replica that was down while the log moved on by more than that finds its
//! position trimmed when it comes back and starts from a peer's checkpoint
//! ([`super::catchup`]). Trimming is not state (no replica applies it), so it is decided here
//! rather than by an engine in the log; the base engine trims no further than its own durable
//! cursor either way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::log::Pos;

const DURABLE: &str = "zk.view.durable";

/// Answers this node's durable cursor to peers.
pub fn serve(cluster: &Cluster, durable: watch::Receiver<Pos>) {
    cluster.register(
        DURABLE,
        Arc::new(move |_from, _p| {
            let d = *durable.borrow();
            Box::pin(async move { Ok(Bytes::copy_from_slice(&d.to_le_bytes())) })
        }),
    );
}

/// The leader's view of the replicas' durable cursors.
#[derive(Debug, Default)]
pub struct ViewTracker {
    last_seen: BTreeMap<u64, Pos>,
}

impl ViewTracker {
    /// Asks every replica in `replicas` (other than `me`, whose cursor is `mine`) for its
    /// durable cursor; returns the position below which the log may be trimmed.
    pub async fn trim_point(
        &mut self,
        cluster: &Cluster,
        me: u64,
        mine: Pos,
        replicas: &BTreeSet<u64>,
        retain: u64,
    ) -> Pos {
        let mut live_min = mine;
        let mut silent_min: Option<Pos> = None;
        for &r in replicas.iter().filter(|r| **r != me) {
            let answer = cluster
                .call(r, DURABLE, Bytes::new(), Duration::from_secs(1))
                .await
                .ok()
                .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
                .map(u64::from_le_bytes);
            match answer {
                Some(d) => {
                    self.last_seen.insert(r, d);
                    live_min = live_min.min(d);
                }
                None => {
                    let seen = self.last_seen.get(&r).copied().unwrap_or(0);
                    silent_min = Some(silent_min.map_or(seen, |m: Pos| m.min(seen)));
                }
            }
        }
        self.last_seen.retain(|r, _| replicas.contains(r));
        bound(live_min, silent_min, mine, retain)
    }
}

/// The trim point from the lowest cursor of the replicas that answered (`live_min`, this node's
/// included) and of those that did not (`silent_min`, as last seen): live replicas bound it; a
/// silent one holds the log back by at most `retain` entries below this node's cursor.
fn bound(live_min: Pos, silent_min: Option<Pos>, mine: Pos, retain: u64) -> Pos {
    match silent_min {
        None => live_min,
        Some(s) => s.max(mine.saturating_sub(retain)).min(live_min),
    }
}

#[cfg(test)]
mod tests {
    use super::bound;

    #[test]
    fn live_replicas_bound_the_trim_silent_ones_only_within_retention() {
        assert_eq!(bound(50, None, 100, 10), 50);
        assert_eq!(bound(100, Some(20), 100, 10), 90);
        assert_eq!(bound(100, Some(95), 100, 10), 95);
        assert_eq!(bound(40, Some(0), 100, 10), 40);
        assert_eq!(bound(100, Some(0), 5, 10), 0);
    }
}
