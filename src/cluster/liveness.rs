//! Peer liveness: when this node last heard from each peer.
//!
//! Layer: `cluster/`. Any frame from a peer (a call it made, a reply to ours, a ping's answer)
//! counts. The transport pings every peer each interval, so a peer that is silent for a few
//! intervals is down or cut off; callers decide how long "a few" is (e.g. `syncLimit` ticks).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Last-heard times of peers.
#[derive(Debug, Default)]
pub struct Liveness {
    heard: Mutex<HashMap<u64, Instant>>,
}

impl Liveness {
    /// Notes that `peer` was heard from now.
    pub fn heard(&self, peer: u64) {
        self.heard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(peer, Instant::now());
    }

    /// How long ago `peer` was last heard from (`None`: never).
    pub fn silence(&self, peer: u64) -> Option<Duration> {
        self.heard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&peer)
            .map(|t| t.elapsed())
    }

    /// Whether `peer` was heard from within `window`.
    pub fn alive(&self, peer: u64, window: Duration) -> bool {
        self.silence(peer).is_some_and(|s| s <= window)
    }
}
