//! The local session manager (DESIGN.md §6, zookeeper-protocol.md §10.3): which sessions this
//! node serves, their negotiated timeouts and when each expires unless a frame touches it.
//! Expiry itself is decided by a command in the log (`ExpireSession`), proposed by the service's
//! expiry loop for the sessions this tracker reports as expired; the tracker only measures time.
//!
//! Layer: `zk` soft state; wall-clock time lives here and never reaches apply.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

struct Tracked {
    timeout: Duration,
    deadline: Instant,
    /// An expiry has been proposed; the session takes no more requests.
    closing: bool,
}

/// Session timers of this node.
#[derive(Default)]
pub struct SessionTracker {
    sessions: Mutex<BTreeMap<i64, Tracked>>,
}

impl SessionTracker {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<i64, Tracked>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts (or restarts) tracking `session` with `timeout_ms`, its timer starting now.
    pub fn add(&self, session: i64, timeout_ms: u32) {
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        self.lock().insert(
            session,
            Tracked {
                timeout,
                deadline: Instant::now() + timeout,
                closing: false,
            },
        );
    }

    /// A frame arrived for `session`: push its deadline out. False if the session is unknown
    /// or closing (ZooKeeper then drops the request silently).
    pub fn touch(&self, session: i64) -> bool {
        let mut map = self.lock();
        match map.get_mut(&session) {
            Some(t) if !t.closing => {
                t.deadline = Instant::now() + t.timeout;
                true
            }
            _ => false,
        }
    }

    /// Sets a new timeout (a reconnect negotiated one) and touches.
    pub fn retime(&self, session: i64, timeout_ms: u32) -> bool {
        let mut map = self.lock();
        match map.get_mut(&session) {
            Some(t) if !t.closing => {
                t.timeout = Duration::from_millis(u64::from(timeout_ms));
                t.deadline = Instant::now() + t.timeout;
                true
            }
            _ => false,
        }
    }

    /// Whether the session is known and not closing.
    pub fn is_live(&self, session: i64) -> bool {
        self.lock().get(&session).is_some_and(|t| !t.closing)
    }

    /// Marks `session` closing (its close or expiry is in the log).
    pub fn mark_closing(&self, session: i64) {
        if let Some(t) = self.lock().get_mut(&session) {
            t.closing = true;
        }
    }

    /// Forgets `session` (its close was applied).
    pub fn remove(&self, session: i64) {
        self.lock().remove(&session);
    }

    /// Sessions whose deadline has passed, now marked closing. Each is reported once.
    pub fn take_expired(&self, now: Instant) -> Vec<i64> {
        let mut out = Vec::new();
        for (id, t) in self.lock().iter_mut() {
            if !t.closing && t.deadline <= now {
                t.closing = true;
                out.push(*id);
            }
        }
        out
    }

    /// `(session, ms from now until it expires)` of every live session, for `dump`.
    pub fn deadlines(&self) -> Vec<(i64, u64)> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, t)| !t.closing)
            .map(|(id, t)| {
                (
                    *id,
                    t.deadline.saturating_duration_since(now).as_millis() as u64,
                )
            })
            .collect()
    }

    /// `(session, timeout_ms)` of every tracked session, for `dump` and `cons`.
    pub fn list(&self) -> Vec<(i64, u64)> {
        self.lock()
            .iter()
            .map(|(id, t)| (*id, t.timeout.as_millis() as u64))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_reported_once_and_touch_defers_it() {
        let t = SessionTracker::default();
        t.add(1, 50);
        t.add(2, 10_000);
        assert!(t.take_expired(Instant::now()).is_empty());
        let later = Instant::now() + Duration::from_millis(100);
        assert_eq!(t.take_expired(later), vec![1]);
        assert!(t.take_expired(later).is_empty());
        assert!(!t.touch(1), "a closing session takes no requests");
        assert!(t.touch(2));
        t.remove(1);
        assert_eq!(t.len(), 1);
        assert!(t.retime(2, 20));
        assert_eq!(
            t.take_expired(Instant::now() + Duration::from_millis(30)),
            vec![2]
        );
    }
}
