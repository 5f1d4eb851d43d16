//! The raft loglet (DESIGN.md §5): a loglet replicated by openraft among the participants.
//!
//! Layer: `log/`, on `cluster/` (its raft messages and forwarded appends travel on the quorum
//! port). Contents, one concept per file:
//!
//! - [`types`] — the openraft type config and the replicated [`LogletCmd`]s;
//! - [`store`] — the replica's RocksDB: raft log, vote, applied state, position index;
//! - [`log_store`] / [`state_machine`] — openraft's storage traits over it;
//! - [`network`] — openraft's network over the cluster transport;
//! - [`factory`] — the `raft` kind of a loglet registry;
//! - [`not_held`] — a segment this node has no copy of (before it joined, after it left);
//! - this file — [`RaftLoglet`], the `Loglet` the engines see.
//!
//! `append` works on every member: payloads queue on the replica in call order and are sent
//! as one batch per raft entry, by the leader itself or forwarded to it (a follower's batches
//! reach the leader's queue in the order they were sent, and the leader groups them with its
//! own). An append is acknowledged once its raft entry is committed (on disk on a majority) and
//! applied by this replica, so the caller can read it locally at once. `check_tail` asks the
//! leader for a linearizable tail (openraft's `ensure_linearizable`) and waits until this
//! replica has applied up to it. `read` serves the local copy. `seal` and `prefix_trim` are raft
//! commands; payloads committed after the seal take positions past the sealed tail and stay
//! invisible. The group's membership never changes: growing or shrinking the ensemble is a
//! new loglet in the VirtualLog's chain.

pub mod factory;
mod log_store;
mod network;
mod not_held;
mod state_machine;
mod store;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::chain::LogletConfig;
use super::error::{LogError, Result};
use super::loglet::{Loglet, Pos, TailWatcher};
use crate::cluster::{Cluster, ClusterError};
use log_store::LogStore;
use network::{Network, service};
use state_machine::StateMachine;
use store::RaftDb;
pub use types::{LogletCmd, LogletRaft, LogletReply, LogletState};

/// Kind name of the raft loglet in a chain.
pub const KIND_RAFT: &str = "raft";

/// What a chain segment of kind `raft` says: the group's name and its members (fixed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftLogletSpec {
    /// Unique name of the raft group (its services and its directory are named after it).
    pub group: String,
    /// Ids of the participants that vote and hold the log.
    pub members: BTreeSet<u64>,
    /// Ids of observers: they receive the log (raft learners) and vote in nothing.
    pub observers: BTreeSet<u64>,
    /// Quorum addresses of members and observers that a replica may not know from its own
    /// configuration (servers added by a reconfiguration); a replica opening the loglet dials
    /// them.
    pub addrs: BTreeMap<u64, String>,
}

impl RaftLogletSpec {
    /// The chain entry of this loglet.
    pub fn config(&self) -> LogletConfig {
        let list = |s: &BTreeSet<u64>| {
            s.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut text = format!("group={};members={}", self.group, list(&self.members));
        if !self.observers.is_empty() {
            text.push_str(&format!(";observers={}", list(&self.observers)));
        }
        if !self.addrs.is_empty() {
            let addrs: Vec<String> = self
                .addrs
                .iter()
                .map(|(id, a)| format!("{id}@{a}"))
                .collect();
            text.push_str(&format!(";addrs={}", addrs.join(",")));
        }
        LogletConfig::new(KIND_RAFT, text)
    }

    /// Parses a chain entry of kind `raft`.
    pub fn parse(config: &LogletConfig) -> Result<RaftLogletSpec> {
        let bad = || LogError::InvalidConfig(format!("bad raft loglet config: {config}"));
        if config.kind != KIND_RAFT {
            return Err(bad());
        }
        let text = std::str::from_utf8(&config.params).map_err(|_| bad())?;
        let mut group = None;
        let (mut members, mut observers) = (BTreeSet::new(), BTreeSet::new());
        let mut addrs = BTreeMap::new();
        for part in text.split(';') {
            let (key, ids) = match part.split_once('=') {
                Some(("group", g)) if !g.is_empty() => {
                    group = Some(g.to_string());
                    continue;
                }
                Some(("addrs", list)) => {
                    for a in list.split(',').filter(|s| !s.is_empty()) {
                        let (id, addr) = a.split_once('@').ok_or_else(bad)?;
                        addrs.insert(id.parse::<u64>().map_err(|_| bad())?, addr.to_string());
                    }
                    continue;
                }
                Some(("members", m)) => (&mut members, m),
                Some(("observers", o)) => (&mut observers, o),
                _ => return Err(bad()),
            };
            for id in ids.split(',').filter(|s| !s.is_empty()) {
                key.insert(id.parse::<u64>().map_err(|_| bad())?);
            }
        }
        let group = group.ok_or_else(bad)?;
        if members.is_empty() || !members.is_disjoint(&observers) {
            return Err(bad());
        }
        Ok(RaftLogletSpec {
            group,
            members,
            observers,
            addrs,
        })
    }

    /// Whether node `id` holds a copy of the loglet (a member or an observer).
    pub fn holds(&self, id: u64) -> bool {
        self.members.contains(&id) || self.observers.contains(&id)
    }
}

/// Timing and batching of a raft loglet.
#[derive(Debug, Clone)]
pub struct RaftLogletOptions {
    /// Heartbeat interval of the leader.
    pub heartbeat: Duration,
    /// Election timeout range (a follower that hears no leader this long stands for election).
    pub election_timeout: (Duration, Duration),
    /// Most payloads in one raft entry.
    pub max_batch_entries: usize,
    /// Most bytes in one raft entry (a single larger payload still goes alone).
    pub max_batch_bytes: usize,
    /// Raft entries proposed by this replica and not yet committed, at most.
    pub max_in_flight: usize,
    /// How long an operation waits for a leader, a forward, or the local replica to catch up.
    pub op_timeout: Duration,
}

impl Default for RaftLogletOptions {
    fn default() -> Self {
        RaftLogletOptions {
            heartbeat: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(500), Duration::from_millis(1000)),
            max_batch_entries: 4096,
            max_batch_bytes: 4 << 20,
            max_in_flight: 16,
            op_timeout: Duration::from_secs(10),
        }
    }
}

/// Appends waiting for their raft entry.
struct Pending {
    payloads: Vec<Bytes>,
    bytes: usize,
    /// The first payload's position, or why not.
    reply: oneshot::Sender<Result<Pos>>,
}

struct Inner {
    me: u64,
    spec: RaftLogletSpec,
    raft: Raft<LogletRaft>,
    db: Arc<RaftDb>,
    state: watch::Receiver<LogletState>,
    cluster: Cluster,
    queue: mpsc::UnboundedSender<Pending>,
    opts: RaftLogletOptions,
    stop: CancellationToken,
}

/// A loglet replicated by raft among fixed members. Cheap to clone.
#[derive(Clone)]
pub struct RaftLoglet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RaftLoglet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftLoglet")
            .field("group", &self.inner.spec.group)
            .field("me", &self.inner.me)
            .finish_non_exhaustive()
    }
}

fn unavailable(why: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(why.to_string())
}

/// Wire form of the forwarded operations.
#[derive(Debug, Serialize, Deserialize)]
enum Forward {
    Append(Vec<Bytes>),
    Tail,
    Seal,
    Trim(Pos),
    /// Make node `.0` (dialed at `.1`) a learner and wait until it has the log.
    AddLearner(u64, String),
    /// Make the voters exactly `.0` and the learners exactly `.1`.
    SetMembers(BTreeSet<u64>, BTreeSet<u64>),
}

type ForwardAnswer = std::result::Result<(Pos, bool), String>;

impl RaftLoglet {
    /// Opens (or creates) this replica's copy of the loglet `spec` in `dir` and joins its raft
    /// group through `cluster`. A fresh group is initialised with its members.
    pub async fn open(
        cluster: Cluster,
        dir: PathBuf,
        spec: RaftLogletSpec,
        opts: RaftLogletOptions,
    ) -> Result<RaftLoglet> {
        let me = cluster.node();
        if !spec.members.contains(&me) && !spec.observers.contains(&me) {
            return Err(LogError::InvalidConfig(format!(
                "node {me} is neither a member nor an observer of raft loglet {}",
                spec.group
            )));
        }
        std::fs::create_dir_all(&dir).map_err(|source| LogError::Io {
            op: "create",
            path: dir.clone(),
            source: Arc::new(source),
        })?;
        let d = dir.clone();
        let db = tokio::task::spawn_blocking(move || RaftDb::open(&d))
            .await
            .map_err(unavailable)?
            .map_err(|e| LogError::corrupt("raft loglet", e))?;
        let (publish, state) = watch::channel(LogletState::default());
        let sm = StateMachine::open(db.clone(), publish).map_err(unavailable)?;
        let config = openraft::Config {
            cluster_name: spec.group.clone(),
            heartbeat_interval: opts.heartbeat.as_millis() as u64,
            election_timeout_min: opts.election_timeout.0.as_millis() as u64,
            election_timeout_max: opts.election_timeout.1.as_millis() as u64,
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: u64::MAX / 2,
            max_payload_entries: 256,
            ..openraft::Config::default()
        }
        .validate()
        .map_err(|e| LogError::InvalidConfig(e.to_string()))?;
        let raft = Raft::new(
            me,
            Arc::new(config),
            Network {
                cluster: cluster.clone(),
                group: spec.group.clone(),
            },
            LogStore { db: db.clone() },
            sm,
        )
        .await
        .map_err(unavailable)?;
        network::serve(&cluster, &spec.group, raft.clone());
        if spec.members.contains(&me) && !raft.is_initialized().await.map_err(unavailable)? {
            match raft.initialize(spec.members.clone()).await {
                Ok(()) => {
                    info!(group = %spec.group, members = ?spec.members, "initialised raft loglet")
                }
                Err(e) => {
                    debug!(group = %spec.group, error = %e, "raft loglet already initialised")
                }
            }
        }
        let (queue, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            me,
            spec,
            raft,
            db,
            state,
            cluster,
            queue,
            opts,
            stop: CancellationToken::new(),
        });
        let l = RaftLoglet { inner };
        l.serve_forwards();
        tokio::spawn(batcher(l.inner.clone(), rx));
        tokio::spawn(purger(l.inner.clone()));
        if !l.inner.spec.observers.is_empty() {
            tokio::spawn(add_observers(l.inner.clone()));
        }
        if l.inner.spec.members.contains(&me) {
            tokio::spawn(elect_on_leader_loss(l.inner.clone()));
        }
        Ok(l)
    }

    /// Makes `id` (dialed at `addr`) a learner of the group through its leader, and waits
    /// until it has the log.
    pub async fn add_learner(&self, id: u64, addr: String) -> Result<()> {
        self.via_leader(|| Forward::AddLearner(id, addr.clone()))
            .await
            .map(|_| ())
    }

    /// Changes the group's membership through its leader: exactly `voters` vote, exactly
    /// `learners` receive the log besides them.
    pub async fn set_members(&self, voters: BTreeSet<u64>, learners: BTreeSet<u64>) -> Result<()> {
        self.via_leader(|| Forward::SetMembers(voters.clone(), learners.clone()))
            .await
            .map(|_| ())
    }

    /// The voters and learners of the group as this replica knows them.
    pub fn members(&self) -> (BTreeSet<u64>, BTreeSet<u64>) {
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        (
            m.membership().voter_ids().collect(),
            m.membership().learner_ids().collect(),
        )
    }

    /// Whether this replica's raft group has a membership (it was initialised here or has
    /// received the log from a leader).
    pub async fn initialized(&self) -> bool {
        self.inner.raft.is_initialized().await.unwrap_or(false)
    }

    /// The member leading the group now, if known.
    pub fn leader(&self) -> Option<u64> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// This replica's applied loglet state.
    pub fn state(&self) -> LogletState {
        *self.inner.state.borrow()
    }

    /// The raft group's members.
    pub fn spec(&self) -> &RaftLogletSpec {
        &self.inner.spec
    }

    fn serve_forwards(&self) {
        let weak = Arc::downgrade(&self.inner);
        self.inner.cluster.register(
            &service(&self.inner.spec.group, "fwd"),
            Arc::new(move |_from, p| {
                let inner = weak.upgrade();
                // Decode and queue now (frame order), answer later.
                let msg: std::result::Result<Forward, String> =
                    bincode::deserialize(&p).map_err(|e| format!("undecodable forward: {e}"));
                let queued = match (&inner, msg) {
                    (None, _) => Err("raft loglet closed".to_string()),
                    (_, Err(e)) => Err(e),
                    (Some(inner), Ok(Forward::Append(payloads))) => {
                        Ok(Either::Queued(enqueue(inner, payloads)))
                    }
                    (Some(_), Ok(other)) => Ok(Either::Other(other)),
                };
                Box::pin(async move {
                    let ans: ForwardAnswer = match queued {
                        Err(e) => Err(e),
                        Ok(Either::Queued(rx)) => match rx.await {
                            Ok(Ok(first)) => Ok((first, false)),
                            Ok(Err(LogError::Sealed)) => Ok((0, true)),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("raft loglet closed".into()),
                        },
                        Ok(Either::Other(op)) => match inner {
                            None => Err("raft loglet closed".into()),
                            Some(inner) => leader_op(&inner, op).await,
                        },
                    };
                    bincode::serialize(&ans)
                        .map(Bytes::from)
                        .map_err(|e| e.to_string())
                })
            }),
        );
    }

    /// Waits until this replica has applied up to `tail` (or the loglet sealed below it).
    async fn caught_up(&self, tail: Pos) -> Result<LogletState> {
        let mut rx = self.inner.state.clone();
        let wait = rx.wait_for(|s| s.tail() >= tail || s.sealed_at.is_some());
        match tokio::time::timeout(self.inner.opts.op_timeout, wait).await {
            Ok(Ok(s)) => Ok(*s),
            Ok(Err(_)) => Err(unavailable("raft loglet closed")),
            Err(_) => Err(unavailable(format!(
                "replica {} did not apply up to {tail} within {:?}",
                self.inner.me, self.inner.opts.op_timeout
            ))),
        }
    }

    /// Runs a seal/trim/tail on the leader, forwarding if need be; retries while there is none.
    async fn via_leader(&self, op: impl Fn() -> Forward) -> Result<(Pos, bool)> {
        let deadline = Instant::now() + self.inner.opts.op_timeout;
        loop {
            let leader = self.leader();
            let res = match leader {
                Some(l) if l == self.inner.me => {
                    leader_op(&self.inner, op()).await.map_err(unavailable)
                }
                Some(l) => forward(&self.inner, l, &op(), self.inner.opts.op_timeout).await,
                None => Err(unavailable("no raft leader")),
            };
            match res {
                Ok(v) => return Ok(v),
                Err(e) if Instant::now() < deadline => {
                    debug!(group = %self.inner.spec.group, error = %e, "retrying through the leader");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

enum Either {
    Queued(oneshot::Receiver<Result<Pos>>),
    Other(Forward),
}

fn enqueue(inner: &Inner, payloads: Vec<Bytes>) -> oneshot::Receiver<Result<Pos>> {
    let (reply, rx) = oneshot::channel();
    let bytes = payloads.iter().map(|p| p.len()).sum();
    if let Err(mpsc::error::SendError(p)) = inner.queue.send(Pending {
        payloads,
        bytes,
        reply,
    }) {
        let _ = p.reply.send(Err(unavailable("raft loglet closed")));
    }
    rx
}

/// A tail, seal or trim run on this replica as the leader.
async fn leader_op(inner: &Inner, op: Forward) -> ForwardAnswer {
    let write = |cmd| async {
        inner
            .raft
            .client_write(cmd)
            .await
            .map(|r| (r.data.tail, r.data.sealed))
            .map_err(|e| e.to_string())
    };
    match op {
        Forward::Tail => {
            let s = *inner.state.borrow();
            if s.sealed_at.is_some() {
                return Ok((s.tail(), true));
            }
            inner
                .raft
                .ensure_linearizable()
                .await
                .map_err(|e| e.to_string())?;
            let s = *inner.state.borrow();
            Ok((s.tail(), s.sealed_at.is_some()))
        }
        Forward::Seal => write(LogletCmd::Seal).await,
        Forward::Trim(p) => write(LogletCmd::Trim(p)).await,
        Forward::AddLearner(id, addr) => {
            inner.cluster.add_peers(&BTreeMap::from([(id, addr)]));
            inner
                .raft
                .add_learner(id, openraft::EmptyNode {}, true)
                .await
                .map_err(|e| e.to_string())?;
            Ok((0, false))
        }
        Forward::SetMembers(voters, learners) => {
            let m = inner.raft.metrics().borrow().membership_config.clone();
            let now_voters: BTreeSet<u64> = m.membership().voter_ids().collect();
            if now_voters != voters {
                inner
                    .raft
                    .change_membership(
                        openraft::ChangeMembers::ReplaceAllVoters(voters.clone()),
                        false,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let m = inner.raft.metrics().borrow().membership_config.clone();
            let gone: BTreeSet<u64> = m
                .membership()
                .learner_ids()
                .filter(|l| !learners.contains(l) && !voters.contains(l))
                .collect();
            if !gone.is_empty() {
                inner
                    .raft
                    .change_membership(openraft::ChangeMembers::RemoveNodes(gone), false)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok((0, false))
        }
        Forward::Append(_) => Err("appends are queued, not run directly".into()),
    }
}

async fn forward(
    inner: &Inner,
    leader: u64,
    op: &Forward,
    timeout: Duration,
) -> Result<(Pos, bool)> {
    let payload = bincode::serialize(op).map_err(unavailable)?;
    let ans = inner
        .cluster
        .call(
            leader,
            &service(&inner.spec.group, "fwd"),
            Bytes::from(payload),
            timeout,
        )
        .await
        .map_err(unavailable)?;
    let ans: ForwardAnswer = bincode::deserialize(&ans).map_err(unavailable)?;
    ans.map_err(unavailable)
}

/// Takes queued appends in order, one raft entry per batch, and sends each batch to the leader
/// (itself, or forwarded), with up to `max_in_flight` batches awaiting commit.
async fn batcher(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let slots = Arc::new(Semaphore::new(inner.opts.max_in_flight.max(1)));
    let mut carry: Option<Pending> = None;
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carry.take() {
            Some(p) => p,
            None => tokio::select! {
                _ = inner.stop.cancelled() => return,
                p = rx.recv() => match p { Some(p) => p, None => return },
            },
        };
        let mut batch = vec![first];
        let (mut n, mut bytes) = (batch[0].payloads.len(), batch[0].bytes);
        while n < inner.opts.max_batch_entries && bytes < inner.opts.max_batch_bytes {
            match rx.try_recv() {
                Ok(p)
                    if n + p.payloads.len() <= inner.opts.max_batch_entries
                        && bytes + p.bytes <= inner.opts.max_batch_bytes =>
                {
                    n += p.payloads.len();
                    bytes += p.bytes;
                    batch.push(p);
                }
                Ok(p) => {
                    carry = Some(p);
                    break;
                }
                Err(_) => break,
            }
        }
        let counts: Vec<u64> = batch.iter().map(|p| p.payloads.len() as u64).collect();
        let mut replies = Vec::with_capacity(batch.len());
        let mut payloads = Vec::with_capacity(n);
        for p in batch {
            payloads.extend(p.payloads);
            replies.push(p.reply);
        }
        let deadline = Instant::now() + inner.opts.op_timeout;
        // Submit in order: the raft core (or the leader's queue) takes it before the next batch.
        let waiting = loop {
            match submit(&inner, payloads.clone()).await {
                Ok(w) => break Ok(w),
                Err(e) if Instant::now() < deadline && !inner.stop.is_cancelled() => {
                    debug!(group = %inner.spec.group, error = %e, "no leader to append to; retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => break Err(e),
            }
        };
        let timeout = inner.opts.op_timeout;
        tokio::spawn(async move {
            let res = match waiting {
                Ok(w) => match tokio::time::timeout(timeout, w).await {
                    Ok(r) => r,
                    Err(_) => Err(unavailable(
                        "append not committed in time (outcome unknown)",
                    )),
                },
                Err(e) => Err(e),
            };
            let mut at = res.as_ref().map(|p| *p).unwrap_or(0);
            for (reply, c) in replies.into_iter().zip(counts) {
                let _ = reply.send(match &res {
                    Ok(_) => Ok(at),
                    Err(e) => Err(e.clone()),
                });
                at += c;
            }
            drop(permit);
        });
    }
}

type Waiting = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Pos>> + Send>>;

/// Hands one batch to the leader now; the future yields its first position once committed.
/// Fails (with nothing sent) when there is no leader or it cannot be reached.
async fn submit(inner: &Arc<Inner>, payloads: Vec<Bytes>) -> Result<Waiting> {
    let leader = inner.raft.metrics().borrow().current_leader;
    match leader {
        Some(l) if l == inner.me => {
            let rx = inner
                .raft
                .client_write_ff(LogletCmd::Append(payloads))
                .await
                .map_err(unavailable)?;
            Ok(Box::pin(async move {
                match rx.await {
                    Ok(Ok(r)) if r.data.sealed => Err(LogError::Sealed),
                    Ok(Ok(r)) => Ok(r.data.first),
                    Ok(Err(ClientWriteError::ForwardToLeader(_))) => Err(unavailable(
                        "leadership lost during the append (outcome unknown)",
                    )),
                    Ok(Err(e)) => Err(unavailable(e)),
                    Err(_) => Err(unavailable(
                        "raft stopped during the append (outcome unknown)",
                    )),
                }
            }))
        }
        Some(l) => {
            let msg = bincode::serialize(&Forward::Append(payloads)).map_err(unavailable)?;
            let rx = inner
                .cluster
                .start_call(l, &service(&inner.spec.group, "fwd"), Bytes::from(msg))
                .map_err(|e: ClusterError| unavailable(e))?;
            Ok(Box::pin(async move {
                let ans = rx
                    .await
                    .map_err(|_| unavailable("forward lost (outcome unknown)"))?
                    .map_err(unavailable)?;
                let ans: ForwardAnswer = bincode::deserialize(&ans).map_err(unavailable)?;
                match ans {
                    Ok((_, true)) => Err(LogError::Sealed),
                    Ok((first, false)) => Ok(first),
                    Err(e) => Err(unavailable(e)),
                }
            }))
        }
        None => Err(unavailable("no raft leader")),
    }
}

/// While this replica leads, makes every observer a raft learner (it then receives the log).
/// Checks when the raft metrics change and at least every 200 ms, never in a tight loop (a
/// membership change still in progress makes `add_learner` fail at once).
async fn add_observers(inner: Arc<Inner>) {
    let mut metrics = inner.raft.metrics();
    loop {
        let missing: Vec<u64> = {
            let m = metrics.borrow();
            let learners: BTreeSet<u64> = m.membership_config.membership().learner_ids().collect();
            if m.current_leader == Some(inner.me) {
                inner
                    .spec
                    .observers
                    .difference(&learners)
                    .copied()
                    .collect()
            } else {
                Vec::new()
            }
        };
        for o in missing {
            match inner
                .raft
                .add_learner(o, openraft::EmptyNode {}, false)
                .await
            {
                Ok(_) => {
                    info!(group = %inner.spec.group, observer = o, "observer added as a learner")
                }
                Err(e) => {
                    debug!(group = %inner.spec.group, observer = o, error = %e, "adding an observer failed; retrying")
                }
            }
        }
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            r = metrics.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// When the connection to the leader breaks (a killed process resets its sockets at once), a
/// member stands for election now instead of after the election timeout, as a ZooKeeper
/// follower starts its election when it loses its leader's connection. Members wait a little,
/// longer the higher their id, so that usually one stands and wins. A partition, where nothing
/// breaks, still waits for the timeout.
///
/// One round is not enough: a member that still holds the dead leader's lease (openraft keeps
/// it for the longest election timeout after the last heartbeat) refuses every vote, and two
/// members that both stood in the same term refuse each other. A member stops holding the lease
/// once it stands itself, so each member stands again, in a higher term, every
/// [`REELECT_STEP`] until some leader is known: the second round of the first member finds the
/// others free to vote for it. Bounded by the election timeout, after which openraft's own
/// timer takes over.
async fn elect_on_leader_loss(inner: Arc<Inner>) {
    let mut lost = inner.cluster.liveness().subscribe_lost();
    loop {
        let peer = tokio::select! {
            _ = inner.stop.cancelled() => return,
            p = lost.recv() => match p {
                Ok(p) => p,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            },
        };
        if inner.raft.metrics().borrow().current_leader != Some(peer) {
            continue;
        }
        let rank = inner
            .spec
            .members
            .iter()
            .position(|m| *m == inner.me)
            .unwrap_or(0) as u64;
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(10 + 40 * rank);
        loop {
            tokio::select! {
                _ = inner.stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = REELECT_STEP;
            let leader = inner.raft.metrics().borrow().current_leader;
            let leaderless = leader.is_none() || leader == Some(peer);
            if !leaderless
                || inner.cluster.connected(peer)
                || started.elapsed() > inner.opts.election_timeout.0
            {
                break;
            }
            info!(group = %inner.spec.group, leader = peer, "lost the leader's connection; standing for election");
            if inner.raft.trigger().elect().await.is_err() {
                return;
            }
        }
    }
}

/// How often a member that lost its leader's connection stands again while no leader is known.
const REELECT_STEP: Duration = Duration::from_millis(60);

/// Drops raft entries below the trim point on this replica once the trim moved: snapshot, then
/// purge (openraft purges only what a snapshot covers).
async fn purger(inner: Arc<Inner>) {
    let mut rx = inner.state.clone();
    let mut purged_to: Pos = 0;
    loop {
        tokio::select! {
            _ = inner.stop.cancelled() => return,
            r = rx.changed() => if r.is_err() { return },
        }
        let trim = rx.borrow().trim;
        if trim <= purged_to {
            continue;
        }
        let db = inner.db.clone();
        let idx = tokio::task::spawn_blocking(move || db.index_of(trim))
            .await
            .ok()
            .flatten();
        if let Some(i) = idx.filter(|i| *i > 0) {
            let t = inner.raft.trigger();
            if t.snapshot().await.is_err() || t.purge_log(i - 1).await.is_err() {
                return;
            }
            purged_to = trim;
        }
    }
}

fn is_forward_to_leader<E: std::fmt::Debug>(e: &RaftError<u64, E>) -> bool {
    format!("{e:?}").contains("ForwardToLeader")
}

#[async_trait]
impl Loglet for RaftLoglet {
    async fn append(&self, payload: Bytes) -> Result<Pos> {
        // Queued on the first poll, so appends reach the log in the order they were made.
        let rx = enqueue(&self.inner, vec![payload]);
        let pos = rx.await.map_err(|_| unavailable("raft loglet closed"))??;
        let s = self.caught_up(pos + 1).await?;
        if s.tail() <= pos {
            return Err(LogError::Sealed);
        }
        Ok(pos)
    }

    async fn check_tail(&self) -> Result<(Pos, bool)> {
        let s = self.state();
        if s.sealed_at.is_some() {
            return Ok((s.tail(), true));
        }
        let (tail, _) = self.via_leader(|| Forward::Tail).await?;
        let s = self.caught_up(tail).await?;
        Ok((s.tail().max(tail), s.sealed_at.is_some()))
    }

    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        let s = self.state();
        if from < s.trim {
            return Err(LogError::Trimmed {
                pos: from,
                trim_point: s.trim,
            });
        }
        let to = to.min(s.tail());
        if from >= to {
            return Ok(Vec::new());
        }
        let db = self.inner.db.clone();
        let (first, got) =
            tokio::task::spawn_blocking(move || (db.local_first(), db.payloads(from, to)))
                .await
                .map_err(unavailable)?;
        if from < first {
            return Err(LogError::Trimmed {
                pos: from,
                trim_point: first,
            });
        }
        let got = got.map_err(|e| LogError::corrupt("raft loglet", e))?;
        if got.first().is_some_and(|(p, _)| *p != from) {
            return Err(LogError::corrupt(
                "raft loglet",
                format!("read from {from} found a gap"),
            ));
        }
        Ok(got)
    }

    async fn seal(&self) -> Result<()> {
        if self.state().sealed_at.is_some() {
            return Ok(());
        }
        let (tail, _) = self.via_leader(|| Forward::Seal).await?;
        self.caught_up(tail).await?;
        let mut rx = self.inner.state.clone();
        tokio::time::timeout(
            self.inner.opts.op_timeout,
            rx.wait_for(|s| s.sealed_at.is_some()),
        )
        .await
        .map_err(|_| unavailable("seal not applied locally in time"))?
        .map_err(|_| unavailable("raft loglet closed"))?;
        Ok(())
    }

    async fn prefix_trim(&self, pos: Pos) -> Result<()> {
        if pos <= self.state().trim {
            return Ok(());
        }
        let (p, inner) = (pos, self.inner.clone());
        let deadline = Instant::now() + inner.opts.op_timeout;
        loop {
            let res = match self.leader() {
                Some(l) if l == inner.me => leader_op(&inner, Forward::Trim(p))
                    .await
                    .map_err(unavailable),
                Some(l) => forward(&inner, l, &Forward::Trim(p), inner.opts.op_timeout).await,
                None => Err(unavailable("no raft leader")),
            };
            match res {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    debug!(error = %e, "trim: retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn close(&self) -> Result<()> {
        if self.inner.stop.is_cancelled() {
            return Ok(());
        }
        self.inner.stop.cancel();
        for what in ["ae", "vote", "snap", "fwd"] {
            self.inner
                .cluster
                .unregister(&service(&self.inner.spec.group, what));
        }
        if let Err(e) = self.inner.raft.shutdown().await {
            warn!(group = %self.inner.spec.group, error = %e, "raft shutdown failed");
        }
        Ok(())
    }

    fn local_seal(&self) -> Option<bool> {
        Some(self.state().sealed_at.is_some())
    }

    fn local_tail(&self) -> Option<Pos> {
        Some(self.state().tail())
    }

    fn watch_tail(&self, watcher: TailWatcher) {
        let mut rx = self.inner.state.clone();
        let stop = self.inner.stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = rx.changed() => if r.is_err() { return },
                }
                let t = rx.borrow().tail();
                watcher(t);
            }
        });
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn s<T: Send + Sync>() {}
    s::<RaftLoglet>();
    let _ = is_forward_to_leader::<openraft::error::Infallible>;
}
