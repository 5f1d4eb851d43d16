//! Peer liveness: when this node last heard from each peer.
//!
//! Layer: `cluster/`. Any frame from a peer (a call it made, a reply to ours, a ping's answer)
//! counts. The transport pings every peer each interval, so a peer that is silent for a few
//! intervals is down or cut off; callers decide how long "a few" is (e.g. `syncLimit` ticks).
//! A connection that breaks (a peer killed: its socket is reset at once) is also announced to
//! subscribers, so that, say, a raft group can elect a new leader without waiting out its
//! election timeout.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Last-heard times of peers, and the news of broken connections.
#[derive(Debug)]
pub struct Liveness {
    heard: Mutex<HashMap<u64, Instant>>,
    lost: tokio::sync::broadcast::Sender<u64>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            heard: Mutex::new(HashMap::new()),
            lost: tokio::sync::broadcast::channel(64).0,
        }
    }
}

impl Liveness {
    /// The connection to `peer` broke.
    pub fn lost(&self, peer: u64) {
        let _ = self.lost.send(peer);
    }

    /// Told the id of every peer whose connection breaks from now on.
    pub fn subscribe_lost(&self) -> tokio::sync::broadcast::Receiver<u64> {
        self.lost.subscribe()
    }

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
