//! [`Cluster`]: this node's end of the node-to-node network on the quorum port.
//!
//! Layer: `cluster/`, the bottom of the platform next to `log/`. It listens on the quorum
//! address, dials every peer (one connection per direction and peer: calls go out on the dialed
//! one, calls come in on the accepted one), and routes each call to the service registered
//! under its name. It knows nothing of what the payloads mean: a loglet, the MetaStore or an
//! engine registers its own service and encodes its own messages.
//!
//! Bad input from the network (garbage, an oversized frame, another ensemble's node) closes that
//! one connection with a warning; the node carries on. Handlers of one inbound connection run
//! concurrently up to [`ClusterConfig::max_concurrent_calls`]; past that the connection stops
//! reading, so a flooding peer is slowed down rather than buffered.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::error::ClusterError;
use super::frame::{Frame, FrameCodec, Kind};
use super::handshake::{self, Hello};
use super::liveness::Liveness;
use super::peer::Peer;

/// The service every node answers to keep liveness fresh.
const PING: &str = "cluster/ping";

/// A service's handler: `(calling node, payload) -> answer`. An `Err` reaches the caller as
/// [`ClusterError::Remote`].
pub type Handler =
    Arc<dyn Fn(u64, Bytes) -> BoxFuture<'static, Result<Bytes, String>> + Send + Sync>;

/// How this node takes part in the cluster network.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's id (its `myid`).
    pub node: u64,
    /// The ensemble's name: a node of another ensemble is refused at the handshake.
    pub ensemble: String,
    /// Where to listen (the quorum address; port 0 picks one).
    pub listen: SocketAddr,
    /// The other nodes: id → `host:port` of their quorum address.
    pub peers: BTreeMap<u64, String>,
    /// Bytes queued for one peer past which calls to it fail with `Backpressure`.
    pub peer_queue_bytes: usize,
    /// Handlers running at once per inbound connection.
    pub max_concurrent_calls: usize,
    /// How often every peer is pinged.
    pub ping_interval: Duration,
}

impl ClusterConfig {
    /// A config with the default limits.
    pub fn new(node: u64, ensemble: impl Into<String>, listen: SocketAddr) -> Self {
        ClusterConfig {
            node,
            ensemble: ensemble.into(),
            listen,
            peers: BTreeMap::new(),
            peer_queue_bytes: 64 << 20,
            max_concurrent_calls: 256,
            ping_interval: Duration::from_millis(500),
        }
    }
}

struct Inner {
    me: Hello,
    config: ClusterConfig,
    local_addr: SocketAddr,
    services: RwLock<HashMap<String, Handler>>,
    peers: Mutex<BTreeMap<u64, Arc<Peer>>>,
    /// The address each peer in `peers` is dialed at.
    addrs: Mutex<BTreeMap<u64, String>>,
    liveness: Arc<Liveness>,
    stop: CancellationToken,
}

/// This node's cluster transport. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.inner.me.node)
            .field("addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Binds the quorum address, starts dialing the peers and pinging them.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let listener = TcpListener::bind(config.listen).await.map_err(|e| {
            ClusterError::Io(format!(
                "cannot listen on quorum address {}: {e}",
                config.listen
            ))
        })?;
        let local_addr = listener.local_addr()?;
        let me = Hello {
            node: config.node,
            ensemble: config.ensemble.clone(),
        };
        let inner = Arc::new(Inner {
            me,
            local_addr,
            services: RwLock::new(HashMap::new()),
            peers: Mutex::new(BTreeMap::new()),
            addrs: Mutex::new(BTreeMap::new()),
            liveness: Arc::new(Liveness::default()),
            stop: CancellationToken::new(),
            config,
        });
        let cluster = Cluster { inner };
        cluster.register(
            PING,
            Arc::new(|_from, _p| Box::pin(async { Ok(Bytes::new()) })),
        );
        let peers = cluster.inner.config.peers.clone();
        cluster.set_peers(&peers);
        tokio::spawn(accept_loop(cluster.inner.clone(), listener));
        tokio::spawn(ping_loop(cluster.inner.clone()));
        info!(node = cluster.inner.me.node, addr = %local_addr, "cluster transport listening");
        Ok(cluster)
    }

    /// This node's id.
    pub fn node(&self) -> u64 {
        self.inner.me.node
    }

    /// The bound quorum address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Registers (or replaces) the handler of `service`.
    pub fn register(&self, service: &str, handler: Handler) {
        self.inner
            .services
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(service.to_string(), handler);
    }

    /// Removes the handler of `service`; calls to it then fail remotely.
    pub fn unregister(&self, service: &str) {
        self.inner
            .services
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(service);
    }

    /// Replaces the peer list: dials new peers, stops dialing removed ones (and ones whose
    /// address changed, which are dialed afresh).
    pub fn set_peers(&self, peers: &BTreeMap<u64, String>) {
        let mut cur = self.inner.peers.lock().unwrap_or_else(|e| e.into_inner());
        let mut addrs = self.inner.addrs.lock().unwrap_or_else(|e| e.into_inner());
        cur.retain(|id, p| {
            let keep = peers.get(id).is_some_and(|a| addrs.get(id) == Some(a));
            if !keep {
                p.stop();
                addrs.remove(id);
            }
            keep
        });
        for (id, addr) in peers {
            if *id == self.inner.me.node || cur.contains_key(id) {
                continue;
            }
            let p = Peer::start(
                *id,
                addr.clone(),
                self.inner.me.clone(),
                self.inner.config.peer_queue_bytes,
                self.inner.liveness.clone(),
                &self.inner.stop,
            );
            cur.insert(*id, p);
            addrs.insert(*id, addr.clone());
        }
    }

    /// Adds peers (or moves known ones to a new address), keeping the others.
    pub fn add_peers(&self, more: &BTreeMap<u64, String>) {
        let mut all = self.peer_addrs();
        let before = all.clone();
        all.extend(more.iter().map(|(id, a)| (*id, a.clone())));
        all.remove(&self.inner.me.node);
        if all != before {
            self.set_peers(&all);
        }
    }

    /// The address each peer is dialed at.
    pub fn peer_addrs(&self) -> BTreeMap<u64, String> {
        self.inner
            .addrs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The ids of the peers this node dials.
    pub fn peer_ids(&self) -> Vec<u64> {
        self.inner
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    fn peer(&self, id: u64) -> Option<Arc<Peer>> {
        self.inner
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Calls `service` on `peer`.
    pub async fn call(
        &self,
        peer: u64,
        service: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, ClusterError> {
        let p = self.peer(peer).ok_or(ClusterError::UnknownPeer(peer))?;
        p.call(service, payload, timeout).await
    }

    /// Queues a call to `peer` now, in the order of the calls to this method; fails at once if
    /// the peer is not connected. The receiver yields the answer (the caller bounds the wait).
    pub fn start_call(
        &self,
        peer: u64,
        service: &str,
        payload: Bytes,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Bytes, ClusterError>>, ClusterError> {
        let p = self.peer(peer).ok_or(ClusterError::UnknownPeer(peer))?;
        p.start_call(service, payload)
    }

    /// Whether a connection to `peer` is up now.
    pub fn connected(&self, peer: u64) -> bool {
        self.peer(peer).is_some_and(|p| p.is_connected())
    }

    /// Bytes queued for `peer`, not yet written.
    pub fn queued(&self, peer: u64) -> usize {
        self.peer(peer).map_or(0, |p| p.queued())
    }

    /// When each peer was last heard from.
    pub fn liveness(&self) -> &Liveness {
        &self.inner.liveness
    }

    /// Stops listening and dialing; calls in flight fail.
    pub fn close(&self) {
        self.inner.stop.cancel();
        let mut peers = self.inner.peers.lock().unwrap_or_else(|e| e.into_inner());
        for p in peers.values() {
            p.stop();
        }
        peers.clear();
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = inner.stop.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, from)) => {
                backoff = Duration::from_millis(10);
                let inner = inner.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_inbound(inner, stream).await {
                        warn!(%from, error = %e, "closed a quorum-port connection");
                    }
                });
            }
            Err(e) => {
                warn!(error = %e, "quorum port: accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn serve_inbound(inner: Arc<Inner>, mut stream: TcpStream) -> Result<(), ClusterError> {
    stream.set_nodelay(true)?;
    let from = handshake::accept(&mut stream, &inner.me).await?;
    debug!(peer = from, "accepted a peer connection");
    inner.liveness.heard(from);
    let (mut sink, mut frames) = Framed::new(stream, FrameCodec).split();
    let (tx, mut rx) = mpsc::channel::<Frame>(inner.config.max_concurrent_calls.max(1));
    let writer = tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            let mut res = sink.feed(f).await;
            while res.is_ok() {
                let Ok(f) = rx.try_recv() else { break };
                res = sink.feed(f).await;
            }
            if res.is_ok() {
                res = sink.flush().await;
            }
            if res.is_err() {
                return;
            }
        }
    });
    let slots = Arc::new(Semaphore::new(inner.config.max_concurrent_calls.max(1)));
    let result = loop {
        let next = tokio::select! {
            _ = inner.stop.cancelled() => break Ok(()),
            f = frames.next() => f,
        };
        let f = match next {
            None => break Ok(()),
            Some(Err(e)) => break Err(e),
            Some(Ok(f)) => f,
        };
        inner.liveness.heard(from);
        if f.kind != Kind::Request {
            break Err(ClusterError::Protocol(format!(
                "node {from} sent a {:?} frame on its dialed connection",
                f.kind
            )));
        }
        let handler = inner
            .services
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&f.service)
            .cloned();
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break Ok(());
        };
        let tx = tx.clone();
        // The handler is called here, in frame order (it may queue work in that order); its
        // future runs concurrently with the others.
        let work = handler.map(|h| h(from, f.payload));
        tokio::spawn(async move {
            let answer = match work {
                Some(w) => w.await,
                None => Err(format!("no service `{}` on this node", f.service)),
            };
            let frame = match answer {
                Ok(payload) => Frame {
                    kind: Kind::Reply,
                    call: f.call,
                    service: String::new(),
                    payload,
                },
                Err(why) => Frame {
                    kind: Kind::Failure,
                    call: f.call,
                    service: String::new(),
                    payload: Bytes::from(why),
                },
            };
            let _ = tx.send(frame).await;
            drop(permit);
        });
    };
    drop(tx);
    let _ = writer.await;
    result
}

async fn ping_loop(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(inner.config.ping_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let peers: Vec<Arc<Peer>> = inner
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let timeout = inner.config.ping_interval * 2;
        for p in peers {
            if p.is_connected() {
                tokio::spawn(async move {
                    let _ = p.call(PING, Bytes::new(), timeout).await;
                });
            }
        }
    }
}
