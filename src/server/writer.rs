//! The write half of a connection: frames queued by the processor and by the hub (replies,
//! notifications) gather in one buffer, and everything gathered by the time the socket takes it
//! goes out in one write. The connection task writes it between the other things it waits for,
//! so a reply costs no wake-up of a separate writer. The buffer exists only while something is
//! waiting to be written (an idle connection holds none), and what is written is reported to
//! the connection's [`ConnQueue`], which counts what the client has not taken.
//!
//! Layer: `server`; touches only its buffer and the socket half it is given.

use std::io;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

use crate::zk::conn_queue::ConnQueue;
use crate::zk::hub::Outbound;

/// What is waiting to be written to the client.
pub struct Outgoing {
    buf: BytesMut,
    /// A `Close` was queued: nothing after it is written, and the connection ends once the
    /// buffer is out.
    closed: bool,
}

impl Default for Outgoing {
    fn default() -> Self {
        Outgoing {
            buf: BytesMut::new(),
            closed: false,
        }
    }
}

impl Outgoing {
    /// Adds one queued message (length-prefixing its frames). Returns how many of the
    /// connection's writes it answers.
    pub fn push(&mut self, msg: Outbound) -> u32 {
        if self.closed {
            return 0;
        }
        match msg {
            Outbound::Frame(f) => {
                self.buf
                    .extend_from_slice(&i32::to_be_bytes(f.len() as i32));
                self.buf.extend_from_slice(&f);
                0
            }
            Outbound::Frames { frames, writes } => {
                for f in frames {
                    self.buf
                        .extend_from_slice(&i32::to_be_bytes(f.len() as i32));
                    self.buf.extend_from_slice(&f);
                }
                writes
            }
            Outbound::Close => {
                self.closed = true;
                0
            }
        }
    }

    /// Whether nothing is waiting to be written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether a `Close` was queued.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes what the socket takes now, without waiting, and tells `queue` how much went.
    /// `Err`: the connection is gone.
    pub fn write_now(&mut self, sock: &OwnedWriteHalf, queue: &ConnQueue) -> io::Result<()> {
        while !self.buf.is_empty() {
            match sock.try_write(&self.buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.buf.advance(n);
                    queue.written(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            // Everything is out: an idle connection keeps no buffer.
            self.buf = BytesMut::new();
        }
        Ok(())
    }

    /// Writes everything left, waiting as long as it takes (callers bound it), then shuts the
    /// socket down.
    pub async fn finish<W: AsyncWrite + Unpin>(mut self, sock: &mut W, queue: &ConnQueue) {
        if !self.buf.is_empty() {
            let n = self.buf.len();
            let _ = sock.write_all(&self.buf).await;
            queue.written(n);
            self.buf.clear();
        }
        let _ = sock.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn frames_are_length_prefixed_and_writes_counted_until_close() {
        let mut out = Outgoing::default();
        assert_eq!(out.push(Outbound::Frame(Bytes::from_static(b"ab"))), 0);
        let frames = vec![Bytes::from_static(b"c"), Bytes::from_static(b"")];
        assert_eq!(out.push(Outbound::Frames { frames, writes: 2 }), 2);
        assert_eq!(&out.buf[..], b"\0\0\0\x02ab\0\0\0\x01c\0\0\0\0");
        assert!(!out.is_closed());
        assert_eq!(out.push(Outbound::Close), 0);
        assert!(out.is_closed());
        let after = vec![Bytes::from_static(b"x")];
        assert_eq!(
            out.push(Outbound::Frames {
                frames: after,
                writes: 1
            }),
            0,
            "nothing counts after a close"
        );
        assert_eq!(out.buf.len(), 15);
    }
}
