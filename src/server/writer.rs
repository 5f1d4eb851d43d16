//! The write half of a connection: frames queued by the processor and by watch notifications
//! are coalesced — everything queued when the socket is ready goes out in one write.
//!
//! Layer: `server`; touches only its socket half and its queue.

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::debug;

use crate::zk::hub::Outbound;

/// Most bytes gathered into one write.
const MAX_COALESCE: usize = 256 * 1024;

/// Writes queued frames until the queue closes or a `Close` is queued; then shuts the socket.
pub async fn run<W: AsyncWrite + Unpin>(mut sock: W, mut rx: UnboundedReceiver<Outbound>) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    'outer: while let Some(first) = rx.recv().await {
        let mut close = false;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Outbound::Frame(f) => {
                    buf.put_i32(f.len() as i32);
                    buf.put_slice(&f);
                }
                Outbound::Frames(fs) => {
                    for f in fs {
                        buf.put_i32(f.len() as i32);
                        buf.put_slice(&f);
                    }
                }
                Outbound::Close => {
                    close = true;
                    break;
                }
            }
            if buf.len() >= MAX_COALESCE {
                break;
            }
            next = rx.try_recv().ok();
        }
        if !buf.is_empty() {
            if let Err(e) = sock.write_all(&buf).await {
                debug!(error = %e, "write failed; connection gone");
                break 'outer;
            }
            buf.clear();
        }
        if close {
            break;
        }
    }
    let _ = sock.shutdown().await;
}
