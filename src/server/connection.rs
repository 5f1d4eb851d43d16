//! One client connection: four-letter words, the handshake, then pipelined requests. Frames are
//! read as they come and handed to the session's [`Processor`], which answers them strictly in
//! order. Replies and notifications queued for the client (by the processor and by the hub on
//! the apply thread) are gathered and written by this same task between reads. Bad input — a malformed,
//! over-size or undecodable frame — closes this connection only (after ZooKeeper's reply where
//! it sends one), and is logged.
//!
//! Layer: `server`; owns the socket, drives `zk::processor`.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Decoder;
use tracing::{debug, info, warn};
use zoolog_jute::{ConnectRequest, Cx, FrameCodec, Jute};

use crate::zk::ZkService;
use crate::zk::hub::Outbound;
use crate::zk::processor::{self, Close, Handshake};

use super::fourlw;
use super::listener::ConnCounts;
use super::writer::Outgoing;

/// Serves one accepted connection until it closes.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    svc: Arc<ZkService>,
    counts: Arc<ConnCounts>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(8 * 1024);

    // The first four bytes may be a four-letter word instead of a frame length.
    while buf.len() < 4 {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    let first = [buf[0], buf[1], buf[2], buf[3]];
    if let Some(word) = fourlw::parse(first) {
        debug!(%peer, word, "four-letter word");
        // `stmk` carries the new trace mask as an 8-byte long.
        let mut arg = None;
        if word == "stmk" {
            while buf.len() < 12 {
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
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
            Ok(None) => match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
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

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut out = Outgoing::default();
    let mut p = match processor::handshake(&svc, req, peer, tx.clone()).await {
        Handshake::Accepted(p, resp) => {
            let _ = tx.send(Outbound::Frame(resp.to_bytes()));
            p
        }
        Handshake::Rejected(resp) => {
            if let Some(resp) = resp {
                out.push(Outbound::Frame(resp.to_bytes()));
            }
            out.finish(&mut wr).await;
            return;
        }
    };
    debug!(%peer, session = format_args!("0x{:x}", p.session()), "session established");

    let mut reading = true;
    loop {
        // Frames already buffered (pipelined behind the ConnectRequest, or read together).
        while reading {
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
        // Answer what can be answered, and gather what is queued for the client: replies of
        // writes the hub sent let the queue move on, which may queue more.
        loop {
            p.drain().await;
            let mut answered = 0;
            while let Ok(msg) = rx.try_recv() {
                answered += out.push(msg);
            }
            if answered == 0 {
                break;
            }
            p.writes_completed(answered);
        }
        if let Err(e) = out.write_now(&wr) {
            debug!(%peer, error = %e, "write failed; connection gone");
            break;
        }
        if p.is_closing() {
            reading = false;
        }
        if out.is_closed() || (!reading && !p.has_pending()) {
            break;
        }
        tokio::select! {
            r = rd.read_buf(&mut buf), if reading => {
                match r {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        debug!(%peer, error = %e, "read failed");
                        break;
                    }
                }
            }
            Some(msg) = rx.recv() => {
                let answered = out.push(msg);
                p.writes_completed(answered);
            }
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
    // What was queued before the end still goes out (the reply to closeSession, a last error).
    while let Ok(msg) = rx.try_recv() {
        out.push(msg);
    }
    out.finish(&mut wr).await;
}
