//! A connection's outbound queue: what the processor (on the connection's task) and the hub (on
//! the apply thread) give a connection to write, and how many bytes of it the client has not
//! taken yet.
//!
//! The byte count covers everything queued and not yet written to the socket: the messages
//! waiting here and the connection's write buffer (the connection reports each write through
//! [`ConnQueue::written`]). It is what bounds a connection's memory: the connection stops taking
//! requests while the count is past the pause limit, and a connection pushed past the abort limit
//! by output it did not ask for right then (notifications, replies of reads parked behind its
//! writes) is dropped, as ZooKeeper drops a client it cannot write to — its session lives on, and
//! the client's reconnect re-registers its watches (setWatches), so nothing is lost but the
//! connection.
//!
//! An idle connection's queue holds no allocation (an empty `VecDeque`).
//!
//! Layer: `zk` soft state; shared by one connection's task and the hub.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use super::hub::Outbound;

/// One connection's queue. See the module documentation.
#[derive(Default)]
pub struct ConnQueue {
    msgs: Mutex<VecDeque<Outbound>>,
    wake: Notify,
    /// Bytes queued here or in the connection's write buffer, not yet written to the socket.
    unsent: AtomicUsize,
    /// The connection is gone (or was dropped for overflow): nothing more is queued.
    closed: AtomicBool,
    /// The connection was dropped for overflow: what is queued is discarded, not written.
    aborted: AtomicBool,
}

/// Bytes `msg` takes on the wire (each frame with its 4-byte length).
fn wire_len(msg: &Outbound) -> usize {
    match msg {
        Outbound::Frame(f) => f.len() + 4,
        Outbound::Frames { frames, .. } => frames.iter().map(|f| f.len() + 4).sum(),
        Outbound::Close => 0,
    }
}

impl ConnQueue {
    /// Queues `msg` for the connection. Returns false (and drops it) if the connection is gone.
    pub fn send(&self, msg: Outbound) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        self.unsent.fetch_add(wire_len(&msg), Ordering::AcqRel);
        self.msgs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(msg);
        self.wake.notify_one();
        true
    }

    /// Takes every queued message, oldest first, into `out`.
    pub fn take_all(&self, out: &mut VecDeque<Outbound>) {
        let mut q = self.msgs.lock().unwrap_or_else(PoisonError::into_inner);
        if out.is_empty() {
            std::mem::swap(out, &mut q);
        } else {
            out.extend(q.drain(..));
        }
    }

    /// Waits until something is queued (or the queue is aborted). Only the connection's own task
    /// waits here.
    pub async fn ready(&self) {
        loop {
            let notified = self.wake.notified();
            if self.aborted() || !self.is_empty() {
                return;
            }
            notified.await;
        }
    }

    fn is_empty(&self) -> bool {
        self.msgs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Bytes queued or buffered and not yet written to the socket.
    pub fn unsent(&self) -> usize {
        self.unsent.load(Ordering::Acquire)
    }

    /// The connection wrote `n` bytes to its socket.
    pub fn written(&self, n: usize) {
        // Saturating: bytes of messages discarded after an abort are not reported as written.
        let _ = self
            .unsent
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// The connection is gone: later sends are dropped.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Drops the connection for overflow: later sends are dropped, what is queued is discarded,
    /// and the connection ends without writing it.
    pub fn abort(&self) {
        self.closed.store(true, Ordering::Release);
        self.aborted.store(true, Ordering::Release);
        let dropped =
            std::mem::take(&mut *self.msgs.lock().unwrap_or_else(PoisonError::into_inner));
        let bytes: usize = dropped.iter().map(wire_len).sum();
        self.written(bytes);
        self.wake.notify_one();
    }

    /// Whether the connection was dropped for overflow.
    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn counts_bytes_until_written_and_drops_after_close() {
        let q = ConnQueue::default();
        assert!(q.send(Outbound::Frame(Bytes::from_static(b"abc"))));
        let frames = vec![Bytes::from_static(b"d"), Bytes::from_static(b"")];
        assert!(q.send(Outbound::Frames { frames, writes: 1 }));
        assert_eq!(q.unsent(), 7 + 5 + 4);
        let mut out = VecDeque::new();
        q.take_all(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(q.unsent(), 16, "taken is not written");
        q.written(10);
        assert_eq!(q.unsent(), 6);
        q.close();
        assert!(!q.send(Outbound::Frame(Bytes::from_static(b"x"))));
        assert_eq!(q.unsent(), 6);
    }

    #[test]
    fn abort_discards_what_is_queued() {
        let q = ConnQueue::default();
        q.send(Outbound::Frame(Bytes::from(vec![0u8; 100])));
        q.abort();
        assert!(q.aborted());
        assert_eq!(q.unsent(), 0);
        let mut out = VecDeque::new();
        q.take_all(&mut out);
        assert!(out.is_empty());
        assert!(!q.send(Outbound::Close));
    }

    #[tokio::test]
    async fn ready_wakes_on_send_and_on_abort() {
        let q = std::sync::Arc::new(ConnQueue::default());
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.ready().await });
        tokio::task::yield_now().await;
        q.send(Outbound::Close);
        waiter.await.unwrap();
        let q3 = std::sync::Arc::new(ConnQueue::default());
        let q4 = q3.clone();
        let waiter = tokio::spawn(async move { q4.ready().await });
        tokio::task::yield_now().await;
        q3.abort();
        waiter.await.unwrap();
    }
}
