//! The outbound side of one peer: a connection this node dials, re-dials with backoff, and sends
//! its calls on; the peer's replies come back on the same connection.
//!
//! Layer: `cluster/`. Calls queued for a peer are bounded in bytes (a slow or stalled peer makes
//! calls fail with `Backpressure`, never grows memory), and while the peer is unreachable a call
//! waits for the connection at most its own timeout. A broken connection fails the calls in
//! flight with `ConnectionLost` (they may have run).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::error::ClusterError;
use super::frame::{Frame, FrameCodec, Kind};
use super::handshake::{self, Hello};
use super::liveness::Liveness;

type Reply = oneshot::Sender<Result<Bytes, ClusterError>>;

/// First and longest wait between two dials of an unreachable peer.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);

struct Outgoing {
    frame: Frame,
    reply: Reply,
}

/// A dialed peer.
pub(crate) struct Peer {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    next_call: AtomicU64,
    connected: watch::Receiver<bool>,
    stop: CancellationToken,
}

impl Peer {
    /// Starts dialing `addr` (resolved at every dial) as node `id`.
    pub(crate) fn start(
        id: u64,
        addr: String,
        me: Hello,
        limit: usize,
        liveness: Arc<Liveness>,
        parent: &CancellationToken,
    ) -> Arc<Peer> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (conn_tx, conn_rx) = watch::channel(false);
        let stop = parent.child_token();
        let queued = Arc::new(AtomicUsize::new(0));
        let task = PeerTask {
            id,
            addr,
            me,
            rx,
            queued: queued.clone(),
            connected: conn_tx,
            liveness,
            stop: stop.clone(),
            pending: Arc::new(Mutex::new(HashMap::new())),
            warned: AtomicBool::new(false),
        };
        tokio::spawn(task.run());
        Arc::new(Peer {
            id,
            tx,
            queued,
            limit,
            next_call: AtomicU64::new(1),
            connected: conn_rx,
            stop,
        })
    }

    /// Whether a connection to the peer is up.
    pub(crate) fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Bytes queued for the peer and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Calls `service` on the peer with `payload`; the answer or why there is none.
    pub(crate) async fn call(
        &self,
        service: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, ClusterError> {
        let frame = Frame {
            kind: Kind::Request,
            call: self.next_call.fetch_add(1, Ordering::Relaxed),
            service: service.to_string(),
            payload,
        };
        let run = async {
            if !self.is_connected() {
                let mut c = self.connected.clone();
                c.wait_for(|up| *up)
                    .await
                    .map_err(|_| ClusterError::Closed)?;
            }
            self.enqueue(frame)?
                .await
                .map_err(|_| ClusterError::ConnectionLost(self.id))?
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) if !self.is_connected() => Err(ClusterError::Unreachable(self.id)),
            Err(_) => Err(ClusterError::Timeout {
                peer: self.id,
                service: service.to_string(),
                ms: timeout.as_millis() as u64,
            }),
        }
    }

    /// Queues a call now, in the order of the calls to this method, if the peer is connected;
    /// the receiver yields the answer.
    pub(crate) fn start_call(
        &self,
        service: &str,
        payload: Bytes,
    ) -> Result<oneshot::Receiver<Result<Bytes, ClusterError>>, ClusterError> {
        if !self.is_connected() {
            return Err(ClusterError::Unreachable(self.id));
        }
        self.enqueue(Frame {
            kind: Kind::Request,
            call: self.next_call.fetch_add(1, Ordering::Relaxed),
            service: service.to_string(),
            payload,
        })
    }

    fn enqueue(
        &self,
        frame: Frame,
    ) -> Result<oneshot::Receiver<Result<Bytes, ClusterError>>, ClusterError> {
        let len = frame.wire_len();
        if len > super::frame::MAX_FRAME {
            return Err(ClusterError::TooLarge {
                len,
                max: super::frame::MAX_FRAME,
            });
        }
        let before = self.queued.fetch_add(len, Ordering::Relaxed);
        if before > 0 && before + len > self.limit {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return Err(ClusterError::Backpressure {
                peer: self.id,
                queued: before,
                limit: self.limit,
            });
        }
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Outgoing { frame, reply }).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return Err(ClusterError::Closed);
        }
        Ok(rx)
    }

    /// Stops dialing; calls in flight fail.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct PeerTask {
    id: u64,
    addr: String,
    me: Hello,
    rx: mpsc::UnboundedReceiver<Outgoing>,
    queued: Arc<AtomicUsize>,
    connected: watch::Sender<bool>,
    liveness: Arc<Liveness>,
    stop: CancellationToken,
    pending: Arc<Mutex<HashMap<u64, Reply>>>,
    warned: AtomicBool,
}

impl PeerTask {
    async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let conn = tokio::select! {
                _ = self.stop.cancelled() => break,
                c = self.dial() => c,
            };
            match conn {
                Ok(framed) => {
                    if self.warned.swap(false, Ordering::Relaxed) {
                        info!(peer = self.id, addr = %self.addr, "connected to peer");
                    } else {
                        debug!(peer = self.id, addr = %self.addr, "connected to peer");
                    }
                    backoff = BACKOFF_MIN;
                    self.liveness.heard(self.id);
                    let _ = self.connected.send(true);
                    let why = self.serve(framed).await;
                    let _ = self.connected.send(false);
                    if why.is_err() {
                        self.liveness.lost(self.id);
                    }
                    self.fail_pending();
                    match why {
                        Ok(()) => break,
                        Err(e) => debug!(peer = self.id, error = %e, "peer connection closed"),
                    }
                }
                Err(e) => {
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        warn!(peer = self.id, addr = %self.addr, error = %e, "cannot reach peer; retrying with backoff");
                    } else {
                        debug!(peer = self.id, error = %e, "peer still unreachable");
                    }
                }
            }
            // Calls queued meanwhile fail at once rather than wait for the next connection.
            while let Ok(o) = self.rx.try_recv() {
                self.queued.fetch_sub(o.frame.wire_len(), Ordering::Relaxed);
                let _ = o.reply.send(Err(ClusterError::Unreachable(self.id)));
            }
            tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        let _ = self.connected.send(false);
        self.fail_pending();
    }

    async fn dial(&self) -> Result<Framed<TcpStream, FrameCodec>, ClusterError> {
        let mut s = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| ClusterError::Unreachable(self.id))??;
        s.set_nodelay(true)?;
        handshake::dial(&mut s, &self.me, self.id).await?;
        Ok(Framed::new(s, FrameCodec))
    }

    fn fail_pending(&self) {
        let drained: Vec<Reply> = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.drain().map(|(_, r)| r).collect()
        };
        for r in drained {
            let _ = r.send(Err(ClusterError::ConnectionLost(self.id)));
        }
    }

    /// Sends queued calls and routes replies until the connection breaks (`Err`) or the peer is
    /// stopped (`Ok`).
    async fn serve(&mut self, framed: Framed<TcpStream, FrameCodec>) -> Result<(), ClusterError> {
        let (mut sink, mut stream) = framed.split();
        let pending = self.pending.clone();
        let liveness = self.liveness.clone();
        let id = self.id;
        let reader = async move {
            while let Some(f) = stream.next().await {
                let f = f?;
                liveness.heard(id);
                let reply = pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&f.call);
                let Some(reply) = reply else { continue };
                let _ = reply.send(match f.kind {
                    Kind::Reply => Ok(f.payload),
                    Kind::Failure => Err(ClusterError::Remote {
                        peer: id,
                        reason: String::from_utf8_lossy(&f.payload).into(),
                    }),
                    Kind::Request => Err(ClusterError::Protocol(
                        "peer sent a request on a dialed connection".into(),
                    )),
                });
            }
            Err::<(), _>(ClusterError::ConnectionLost(id))
        };
        tokio::pin!(reader);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return Ok(()),
                r = &mut reader => return r,
                o = self.rx.recv() => {
                    let Some(o) = o else { return Ok(()) };
                    let len = o.frame.wire_len();
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(o.frame.call, o.reply);
                    // Feed what else is queued, then flush once.
                    let mut res = sink.feed(o.frame).await;
                    self.queued.fetch_sub(len, Ordering::Relaxed);
                    while res.is_ok() {
                        let Ok(o) = self.rx.try_recv() else { break };
                        let len = o.frame.wire_len();
                        self.pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(o.frame.call, o.reply);
                        res = sink.feed(o.frame).await;
                        self.queued.fetch_sub(len, Ordering::Relaxed);
                    }
                    if res.is_ok() {
                        res = sink.flush().await;
                    }
                    res?;
                }
            }
        }
    }
}
