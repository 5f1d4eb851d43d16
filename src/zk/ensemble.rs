//! The ensemble side of a ZooKeeper node: the cluster transport on this server's quorum port,
//! the replicated MetaStore, and the raft loglets of the data log, built from `server.N` lines.
//!
//! Layer: `zk/`, assembling the platform (`cluster/`, `log/raft`) for one node; it adds no
//! protocol of its own. A standalone node has none of this (a local loglet and a local
//! MetaStore file). In an ensemble, every participant is a member of two raft groups: `meta`
//! (the MetaStore's history: the chain) and the active data segment (first `seg-0`); observers
//! are learners of both.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::cluster::{Cluster, ClusterConfig};
use crate::config::{Config, Ensemble};
use crate::log::raft::factory::{RaftLoglets, register};
use crate::log::raft::{RaftLoglet, RaftLogletOptions, RaftLogletSpec};
use crate::log::{LogError, LogMetaStore, LogletConfig, LogletRegistry, MetaStore, VirtualLog};

/// What a node is in its ensemble, as ZooKeeper's tools name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Leader,
    Follower,
    Observer,
}

impl Mode {
    /// `srvr`'s `Mode:` and `mntr`'s `zk_server_state`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
        }
    }
}

/// This node's part in an ensemble.
pub struct EnsembleNode {
    pub me: u64,
    pub observer: bool,
    pub cluster: Cluster,
    pub meta_log: RaftLoglet,
    pub loglets: Arc<RaftLoglets>,
    pub participants: BTreeSet<u64>,
    pub observers: BTreeSet<u64>,
    /// How long a peer may stay silent before it counts as gone (`syncLimit` ticks).
    pub sync_window: Duration,
}

/// The platform of an ensemble node: its MetaStore, its loglet factory, the first segment.
pub struct Platform {
    pub meta: Arc<dyn MetaStore>,
    pub registry: Arc<LogletRegistry>,
    pub bootstrap: LogletConfig,
    pub node: EnsembleNode,
}

/// Raft timing from `tickTime`: the leader heartbeats several times per tick and a follower
/// stands for election after a quarter to half a tick of silence (at most 0.5–1 s; ZooKeeper's
/// own failure detection waits `syncLimit` ticks; a raft election is cheap, so zoolog reacts
/// sooner). A leader whose connection breaks is replaced at once (`log/raft`).
pub fn raft_options(tick: Duration) -> RaftLogletOptions {
    let heartbeat = (tick / 10).clamp(Duration::from_millis(20), Duration::from_millis(100));
    let min = (tick / 4).clamp(Duration::from_millis(150), Duration::from_secs(1));
    RaftLogletOptions {
        heartbeat,
        election_timeout: (min, min * 2),
        ..RaftLogletOptions::default()
    }
}

async fn resolve(addr: &str) -> Result<SocketAddr, LogError> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| LogError::InvalidConfig(format!("quorum address {addr}: {e}")))?
        .next()
        .ok_or_else(|| {
            LogError::InvalidConfig(format!("quorum address {addr} resolves to nothing"))
        })
}

/// Starts the cluster transport and opens the replicated MetaStore.
pub async fn open(config: &Config, e: &Ensemble) -> Result<Platform, LogError> {
    let tick = Duration::from_millis(u64::from(config.tick_time_ms.max(1)));
    let my_addr = e
        .quorum_addr(e.me)
        .ok_or_else(|| LogError::InvalidConfig(format!("server {} has no quorum address", e.me)))?;
    let listen = resolve(&my_addr).await?;
    let mut cc = ClusterConfig::new(e.me, e.name.clone(), listen);
    cc.peers = e
        .servers
        .iter()
        .filter_map(|s| e.quorum_addr(s.id).map(|a| (s.id, a)))
        .collect::<BTreeMap<_, _>>();
    cc.ping_interval = (tick / 4).clamp(Duration::from_millis(50), Duration::from_millis(500));
    let cluster = Cluster::start(cc)
        .await
        .map_err(|err| LogError::Unavailable(err.to_string()))?;
    let participants: BTreeSet<u64> = e.participants().into_iter().collect();
    let observers: BTreeSet<u64> = e
        .servers
        .iter()
        .map(|s| s.id)
        .filter(|id| !participants.contains(id))
        .collect();
    let opts = raft_options(tick);
    let raft_dir = config.data_log_dir.join("raft");
    let registry = Arc::new(LogletRegistry::new(Default::default()));
    let loglets = register(&registry, cluster.clone(), raft_dir.clone(), opts.clone());
    let meta_log = RaftLoglet::open(
        cluster.clone(),
        raft_dir.join("meta"),
        RaftLogletSpec {
            group: "meta".into(),
            members: participants.clone(),
            observers: observers.clone(),
        },
        opts,
    )
    .await?;
    let meta: Arc<dyn MetaStore> = Arc::new(LogMetaStore::new(Arc::new(meta_log.clone())));
    let bootstrap = RaftLogletSpec {
        group: "seg-0".into(),
        members: participants.clone(),
        observers: observers.clone(),
    }
    .config();
    info!(
        me = e.me,
        quorum = %cluster.local_addr(),
        participants = ?participants,
        observers = ?observers,
        "joining the ensemble"
    );
    Ok(Platform {
        meta,
        registry,
        bootstrap,
        node: EnsembleNode {
            me: e.me,
            observer: e.is_observer(),
            cluster,
            meta_log,
            loglets,
            participants,
            observers,
            sync_window: tick * e.sync_limit.max(1),
        },
    })
}

impl EnsembleNode {
    /// The raft loglet of the virtual log's active segment, if it is one.
    pub fn active(&self, vlog: &VirtualLog) -> Option<RaftLoglet> {
        let (_, chain) = vlog.chain();
        let seg = chain.segments.last()?;
        let spec = RaftLogletSpec::parse(&seg.config).ok()?;
        self.loglets.get(&spec.group)
    }

    /// Leader, follower or observer, by the active segment's raft group.
    pub fn mode(&self, vlog: &VirtualLog) -> Mode {
        if self.observer {
            return Mode::Observer;
        }
        match self.active(vlog).and_then(|l| l.leader()) {
            Some(l) if l == self.me => Mode::Leader,
            _ => Mode::Follower,
        }
    }

    /// Peers heard from within the sync window.
    pub fn live_peers(&self) -> Vec<u64> {
        self.cluster
            .peer_ids()
            .into_iter()
            .filter(|p| self.cluster.liveness().alive(*p, self.sync_window))
            .collect()
    }

    /// Whether this node is in touch with a majority of the participants (itself included if
    /// it is one): a node that is not stops serving clients.
    pub fn has_quorum(&self) -> bool {
        let live = self.live_peers();
        let mut n = live
            .iter()
            .filter(|p| self.participants.contains(p))
            .count();
        if self.participants.contains(&self.me) {
            n += 1;
        }
        n * 2 > self.participants.len()
    }

    /// Stops the transport (after the loglets are closed).
    pub fn close(&self) {
        self.cluster.close();
    }
}
