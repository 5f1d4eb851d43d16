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
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::membership::Membership;
use crate::cluster::{Cluster, ClusterConfig};
use crate::config::{Config, Ensemble};
use crate::engine::stack::Stack;
use crate::log::raft::factory::{RaftLoglets, register};
use crate::log::raft::{RaftLoglet, RaftLogletOptions, RaftLogletSpec};
use crate::log::{
    LogError, LogMetaStore, Loglet, LogletConfig, LogletRegistry, MetaStore, Pos, VirtualLog,
};

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

/// Who votes and who observes, as the active log segment has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub participants: BTreeSet<u64>,
    pub observers: BTreeSet<u64>,
}

/// This node's part in an ensemble.
pub struct EnsembleNode {
    pub me: u64,
    pub cluster: Cluster,
    pub meta_log: RaftLoglet,
    pub loglets: Arc<RaftLoglets>,
    /// The roles of the active segment (from `server.N` lines until the chain is read).
    roles: RwLock<Roles>,
    /// This node started with no state and found an ensemble that it is not a member of yet:
    /// it waits to be added by a reconfiguration, then starts from a peer's checkpoint.
    pub joining: bool,
    /// How long a peer may stay silent before it counts as gone (`syncLimit` ticks).
    pub sync_window: Duration,
}

/// What a node answers a starting peer that asks whether an ensemble exists.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Info {
    initialized: bool,
    voters: BTreeSet<u64>,
    learners: BTreeSet<u64>,
}

const INFO: &str = "zk.ensemble.info";

/// Answers [`INFO`] from the meta loglet once it is open.
fn serve_info(cluster: &Cluster, meta: Arc<OnceLock<RaftLoglet>>) {
    cluster.register(
        INFO,
        Arc::new(move |_from, _p| {
            let meta = meta.clone();
            Box::pin(async move {
                let info = match meta.get() {
                    Some(m) if m.initialized().await => {
                        let (voters, learners) = m.members();
                        Info {
                            initialized: true,
                            voters,
                            learners,
                        }
                    }
                    _ => Info::default(),
                };
                bincode::serialize(&info)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            })
        }),
    );
}

/// For a node starting with no raft state: asks the peers whether the ensemble exists. `Some`
/// (voters, learners) if one has it and this node is in neither (it is joining); `None` once a
/// majority of the configured participants (this node included) has no ensemble yet, or one
/// has it with this node in it. Waits, asking again, while neither is known.
async fn find_ensemble(
    cluster: &Cluster,
    participants: &BTreeSet<u64>,
) -> Option<(BTreeSet<u64>, BTreeSet<u64>)> {
    let me = cluster.node();
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        let mut empty = usize::from(participants.contains(&me));
        for peer in cluster.peer_ids() {
            let Ok(b) = cluster
                .call(peer, INFO, Bytes::new(), Duration::from_millis(500))
                .await
            else {
                continue;
            };
            let Ok(info) = bincode::deserialize::<Info>(&b) else {
                continue;
            };
            if !info.initialized {
                empty += usize::from(participants.contains(&peer));
            } else if info.voters.contains(&me) || info.learners.contains(&me) {
                return None;
            } else {
                info!(peer, voters = ?info.voters, "an ensemble exists without this node: joining it");
                return Some((info.voters, info.learners));
            }
        }
        if empty * 2 > participants.len() {
            return None;
        }
        if !said && started.elapsed() > Duration::from_secs(2) {
            said = true;
            info!("waiting for peers to tell whether the ensemble exists");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    let meta_cell = Arc::new(OnceLock::new());
    serve_info(&cluster, meta_cell.clone());
    let mut meta_spec = RaftLogletSpec {
        group: "meta".into(),
        members: participants.clone(),
        observers: observers.clone(),
        addrs: Default::default(),
    };
    let mut joining = false;
    if !raft_dir.join("meta").exists()
        && let Some((voters, learners)) = find_ensemble(&cluster, &participants).await
    {
        // Not a member yet: open the meta log as a learner-to-be (never initialising it).
        joining = true;
        meta_spec.members = voters;
        meta_spec.observers = learners;
        meta_spec.observers.insert(e.me);
    }
    let meta_log =
        RaftLoglet::open(cluster.clone(), raft_dir.join("meta"), meta_spec, opts).await?;
    let _ = meta_cell.set(meta_log.clone());
    let meta: Arc<dyn MetaStore> = Arc::new(LogMetaStore::new(Arc::new(meta_log.clone())));
    let bootstrap = RaftLogletSpec {
        group: "seg-0".into(),
        members: participants.clone(),
        observers: observers.clone(),
        addrs: Default::default(),
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
            cluster,
            meta_log,
            loglets,
            roles: RwLock::new(Roles {
                participants,
                observers,
            }),
            joining,
            sync_window: tick * e.sync_limit.max(1),
        },
    })
}

/// Whether some segment of `vlog`'s chain has node `me` as a member or an observer.
pub fn holds_any(vlog: &VirtualLog, me: u64) -> bool {
    let (_, chain) = vlog.chain();
    chain
        .segments
        .iter()
        .any(|s| RaftLogletSpec::parse(&s.config).is_ok_and(|spec| spec.holds(me)))
}

/// For a store at `cursor`: if the log from `cursor` on cannot be read on node `me` (the
/// segment holding it has no copy here, as on a node that joined later, or it was trimmed while
/// the node was down), the position a checkpoint must be at or above and the peers to ask.
/// `None`: the log can be replayed from `cursor` (or no later segment is held: a removed node
/// waits).
pub async fn checkpoint_needed(vlog: &VirtualLog, cursor: Pos, me: u64) -> Option<(Pos, Vec<u64>)> {
    let (_, chain) = vlog.chain();
    let specs: Vec<(Pos, RaftLogletSpec)> = chain
        .segments
        .iter()
        .filter_map(|s| RaftLogletSpec::parse(&s.config).ok().map(|p| (s.start, p)))
        .collect();
    let others = |spec: &RaftLogletSpec| -> Vec<u64> {
        spec.members
            .iter()
            .chain(&spec.observers)
            .copied()
            .filter(|p| *p != me)
            .collect()
    };
    let at = specs
        .iter()
        .rposition(|(start, _)| *start <= cursor)
        .unwrap_or(0);
    let (_, here) = specs.get(at)?;
    if !here.holds(me) {
        let (start, spec) = specs[at + 1..].iter().find(|(_, s)| s.holds(me))?;
        return Some((*start, others(spec)));
    }
    match vlog.read(cursor, cursor + 1).await {
        Err(LogError::Trimmed { trim_point, .. }) => {
            let (_, active) = specs.last()?;
            Some((trim_point, others(active)))
        }
        _ => None,
    }
}

impl EnsembleNode {
    /// The raft loglet of the virtual log's active segment, if it is one.
    pub fn active(&self, vlog: &VirtualLog) -> Option<RaftLoglet> {
        let (_, chain) = vlog.chain();
        let seg = chain.segments.last()?;
        let spec = RaftLogletSpec::parse(&seg.config).ok()?;
        self.loglets.get(&spec.group)
    }

    /// The roles of the active segment.
    pub fn roles(&self) -> Roles {
        self.roles.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Takes the roles of `vlog`'s active segment; returns them.
    pub fn refresh_roles(&self, vlog: &VirtualLog) -> Roles {
        let (_, chain) = vlog.chain();
        if let Some(spec) = chain
            .segments
            .last()
            .and_then(|s| RaftLogletSpec::parse(&s.config).ok())
        {
            let now = Roles {
                participants: spec.members,
                observers: spec.observers,
            };
            let mut r = self.roles.write().unwrap_or_else(|e| e.into_inner());
            if *r != now {
                info!(participants = ?now.participants, observers = ?now.observers, "the ensemble's roles changed");
                *r = now;
            }
        }
        self.roles()
    }

    /// Whether this node observes (votes in nothing).
    pub fn is_observer(&self) -> bool {
        self.roles().observers.contains(&self.me)
    }

    /// Whether this node has a role in the active segment (a node removed by a reconfiguration
    /// has none, and serves nobody).
    pub fn is_member(&self) -> bool {
        let r = self.roles();
        r.participants.contains(&self.me) || r.observers.contains(&self.me)
    }

    /// Leader, follower or observer, by the active segment's raft group.
    pub fn mode(&self, vlog: &VirtualLog) -> Mode {
        if self.is_observer() {
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
        let participants = self.roles().participants;
        let live = self.live_peers();
        let mut n = live.iter().filter(|p| participants.contains(p)).count();
        if participants.contains(&self.me) {
            n += 1;
        }
        n * 2 > participants.len()
    }

    /// Brings the log's shape to `desired` (the applied `/zookeeper/config`) if this node leads
    /// the active segment: servers added become learners of the meta group (so they see the
    /// chain), a new raft segment with the new roles is chained (the old one sealed: a
    /// VirtualLog reconfiguration), then the meta group takes the new voters. Every node dials
    /// the servers `desired` names. Returns whether this call changed the log.
    pub async fn reconcile(&self, stack: &Stack, desired: &Membership) -> Result<bool, String> {
        let mut addrs = desired.quorum_addrs();
        addrs.remove(&self.me);
        self.cluster.add_peers(&addrs);
        let Some(vlog) = stack.virtual_log() else {
            return Ok(false);
        };
        let (_, chain) = vlog.chain();
        let Some(active) = chain
            .segments
            .last()
            .and_then(|s| RaftLogletSpec::parse(&s.config).ok())
        else {
            return Ok(false);
        };
        if self.mode(vlog) != Mode::Leader {
            return Ok(false);
        }
        let (want_p, want_o) = (desired.participants(), desired.observers());
        let (voters, learners) = self.meta_log.members();
        if active.members == want_p && active.observers == want_o {
            // The log has its shape; finish a change of the meta group cut short.
            if voters != want_p || !want_o.is_subset(&learners) {
                self.meta_log
                    .set_members(want_p, want_o)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            return Ok(false);
        }
        let all = desired.quorum_addrs();
        for id in want_p.iter().chain(&want_o) {
            if voters.contains(id) || learners.contains(id) {
                continue;
            }
            let addr = all
                .get(id)
                .cloned()
                .ok_or_else(|| format!("server {id} has no quorum address"))?;
            info!(server = id, %addr, "adding a server to the meta group as a learner");
            self.meta_log
                .add_learner(*id, addr)
                .await
                .map_err(|e| e.to_string())?;
        }
        let spec = RaftLogletSpec {
            group: format!("seg-{}-{:x}", chain.segments.len(), desired.version),
            members: want_p.clone(),
            observers: want_o.clone(),
            addrs: all,
        };
        let start = stack
            .reconfigure(spec.config())
            .await
            .map_err(|e| e.to_string())?;
        info!(start, group = %spec.group, participants = ?want_p, observers = ?want_o, "the log moved to the new membership");
        self.meta_log
            .set_members(want_p, want_o)
            .await
            .map_err(|e| e.to_string())?;
        self.refresh_roles(vlog);
        Ok(true)
    }

    /// Stops the transport (after the loglets are closed).
    pub fn close(&self) {
        self.cluster.close();
    }
}
