//! One client connection: four-letter words, the handshake, then pipelined requests. Frames are
//! read as they come and handed to the session's [`Processor`], which answers them strictly in
//! order. Replies and notifications queued for the client (by the processor and by the hub on
//! the apply thread, through the connection's [`ConnQueue`]) are gathered and written by this
//! same task between reads. Bad input — a malformed, over-size or undecodable frame — closes
//! this connection only (after ZooKeeper's reply where it sends one), and is logged.
//!
//! Bounded: the connection takes no request (reads nothing more from the socket, decodes nothing
//! more it has read) while its client has more than `zoolog.server.pauseUnsentKB` of replies
//! untaken, or while ZooKeeper's throttle holds it (`globalOutstandingLimit`, see
//! [`Processor::throttled`]). An idle connection holds no buffer: the read buffer is taken when
//! the socket is readable and given back once its frames are decoded, the write buffer once it is
//! written.
//!
//! Layer: `server`; owns the socket, drives `zk::processor`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zoolog_jute::{ConnectRequest, Cx, FrameCodec, Jute};

use crate::zk::ZkService;
use crate::zk::conn_queue::ConnQueue;
use crate::zk::hub::Outbound;
use crate::zk::processor::{self, Close, Handshake};

use super::fourlw;
use super::listener::ConnCounts;
use super::writer::Outgoing;

/// Bytes taken for the read buffer when the socket is readable.
const READ_CHUNK: usize = 8 * 1024;

/// How long a closing connection waits for its client to take what is still queued.
const FINISH_GRACE: Duration = Duration::from_secs(2);

/// Reads what the socket has into `buf`, taking buffer space only now. `None`: the connection
/// ended (EOF, an error, or the server stops).
async fn fill(rd: &OwnedReadHalf, buf: &mut BytesMut, stop: &CancellationToken) -> Option<usize> {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            r = rd.readable() => r.ok()?,
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match rd.try_read_buf(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            // Readiness can be reported with nothing to read (a new connection is): give the
            // buffer back while waiting again.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => release_if_empty(buf),
            Err(e) => {
                debug!(error = %e, "read failed");
                return None;
            }
        }
    }
}

/// Gives the read buffer back once everything in it was decoded.
fn release_if_empty(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > 0 {
        *buf = BytesMut::new();
    }
}

/// Serves one accepted connection until it closes, or until `stop` (server shutdown).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    svc: Arc<ZkService>,
    counts: Arc<ConnCounts>,
    stop: CancellationToken,
) {
    let (rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::new();

    // The first four bytes may be a four-letter word instead of a frame length.
    while buf.len() < 4 {
        if fill(&rd, &mut buf, &stop).await.is_none() {
            return;
        }
    }
    let first = [buf[0], buf[1], buf[2], buf[3]];
    if let Some(word) = fourlw::parse(first) {
        debug!(%peer, word, "four-letter word");
        // `stmk` carries the new trace mask as an 8-byte long.
        let mut arg = None;
        if word == "stmk" {
            while buf.len() < 12 {
                if fill(&rd, &mut buf, &stop).await.is_none() {
                    break;
                }
            }
            if buf.len() >= 12 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[4..12]);
                arg = Some(i64::from_be_bytes(b));
            }
        }
        let text = fourlw::run(word, &svc, &counts, peer, arg);
        let _ = wr.write_all(text.as_bytes()).await;
        let _ = wr.shutdown().await;
        return;
    }

    let mut codec = FrameCodec::new(svc.config().jute_max_buffer);
    let connect = loop {
        match codec.decode(&mut buf) {
            Ok(Some(frame)) => break frame,
            Ok(None) => {
                if fill(&rd, &mut buf, &stop).await.is_none() {
                    return;
                }
            }
            Err(e) => {
                warn!(%peer, error = %e, "bad first frame; closing the connection");
                return;
            }
        }
    };
    let cx = Cx::new(&connect, svc.config().jute_max_buffer);
    let req = match ConnectRequest::decode(&cx, &connect) {
        Ok((_, req)) => req,
        Err(e) => {
            warn!(%peer, error = ?e, "undecodable ConnectRequest; closing the connection");
            return;
        }
    };
    // The frame and the password in it share the read buffer's allocation: none of them is
    // kept for the connection's life.
    let mut req = req;
    req.passwd = bytes::Bytes::copy_from_slice(&req.passwd);
    drop(connect);
    release_if_empty(&mut buf);

    let queue = Arc::new(ConnQueue::default());
    let mut out = Outgoing::default();
    let handshake = tokio::select! {
        _ = stop.cancelled() => return,
        h = processor::handshake(&svc, req, peer, queue.clone()) => h,
    };
    let mut p = match handshake {
        Handshake::Accepted(p, resp) => {
            queue.send(Outbound::Frame(resp.to_bytes()));
            p
        }
        Handshake::Rejected(resp) => {
            if let Some(resp) = resp {
                out.push(Outbound::Frame(resp.to_bytes()));
            }
            let _ = tokio::time::timeout(FINISH_GRACE, out.finish(&mut wr, &queue)).await;
            return;
        }
    };
    debug!(%peer, session = format_args!("0x{:x}", p.session()), "session established");

    let mut reading = true;
    let mut taken: VecDeque<Outbound> = VecDeque::new();
    loop {
        // Frames already buffered (pipelined behind the ConnectRequest, or read together), as
        // long as the connection may take requests.
        while reading && !p.throttled() && !p.output_full() {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Err(close) = p.on_frame(frame) {
                        if let Close::Protocol(why) = close {
                            info!(%peer, why, "closing the connection on bad input");
                        }
                        reading = false;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    info!(%peer, error = %e, "closing the connection on a bad frame");
                    reading = false;
                }
            }
        }
        release_if_empty(&mut buf);
        // Answer what can be answered, and gather what is queued for the client: replies of
        // writes the hub sent let the queue move on, which may queue more.
        loop {
            p.drain().await;
            queue.take_all(&mut taken);
            let mut answered = 0;
            for msg in taken.drain(..) {
                answered += out.push(msg);
            }
            if answered == 0 {
                break;
            }
            p.writes_completed(answered);
        }
        if queue.aborted() {
            break;
        }
        if let Err(e) = out.write_now(&wr, &queue) {
            debug!(%peer, error = %e, "write failed; connection gone");
            break;
        }
        if p.is_closing() {
            reading = false;
        }
        if out.is_closed() || (!reading && !p.has_pending()) {
            break;
        }
        let take = reading && !p.throttled() && !p.output_full();
        tokio::select! {
            _ = stop.cancelled() => break,
            r = fill(&rd, &mut buf, &stop), if take => {
                if r.is_none() {
                    break;
                }
            }
            _ = queue.ready() => {}
            r = wr.writable(), if !out.is_empty() => {
                if let Err(e) = r {
                    debug!(%peer, error = %e, "socket not writable; connection gone");
                    break;
                }
            }
            _ = p.complete_head() => {}
        }
    }
    p.disconnected();
    drop(p);
    queue.close();
    if queue.aborted() {
        // Dropped for overflow: what was queued is discarded with the connection.
        return;
    }
    // What was queued before the end still goes out (the reply to closeSession, a last error),
    // if the client takes it soon.
    queue.take_all(&mut taken);
    for msg in taken.drain(..) {
        out.push(msg);
    }
    let _ = tokio::time::timeout(FINISH_GRACE, out.finish(&mut wr, &queue)).await;
}
