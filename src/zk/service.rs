//! `ZkService`: one ZooKeeper node. It opens the platform under the ZooKeeper application — the
//! virtual log (over a local loglet and a local MetaStore for a standalone node; over raft
//! loglets and a replicated MetaStore in an ensemble, see [`super::ensemble`]), the LocalStore,
//! the engine stack Observer/Batching/SessionOrder/Base — restores the timers of the sessions
//! this node serves, and runs the node's background jobs: session expiry, container/TTL cleanup
//! (on the leader only, in an ensemble), log trimming (standalone only until the log is trimmed
//! below every replica's position), and, in an ensemble, the quorum watch.
//!
//! Layer: `zk`, the top of the platform; the server layer drives it through [`ZkService`] and
//! [`super::processor::Processor`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use thiserror::Error;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use zoolog_jute::ErrorCode;

use crate::config::Config;
use crate::engine::{
    BaseEngine, BaseOptions, BatchingConfig, EngineError, Entry, ProposeFuture, SessionOrderConfig,
    Stack, StackBuilder,
};
use crate::log::{
    LocalLogletOptions, LocalMetaStore, LogError, LogletConfig, LogletRegistry, MetaStore,
    VirtualLog, VirtualLogOptions,
};
use crate::store::{LocalStore, ReadSnapshot, SharedStore, StoreError, StoreOptions};

use super::applicator::ZkApplicator;
use super::apply::ZkStateMachine;
use super::catchup;
use super::command::{ZkCommand, ZkOp};
use super::config::ZkConfig;
use super::ensemble::{self, EnsembleNode, Mode};
use super::hub::Hub;
use super::membership::Membership;
use super::outcome::{OutcomeError, ZkOutcome};
use super::read::{CleanupKind, ZkReader};
use super::session_id;
use super::sessions::SessionTracker;
use super::stats::ServerStats;
use super::view_tracking::{self, ViewTracker};
use super::watches::ConnId;

/// The store partition of the ZooKeeper tree.
const ZK_PARTITION: &str = "zk";

/// Why the node could not start or a command could not complete.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    #[error("undecodable outcome: {0}")]
    Outcome(#[from] OutcomeError),
    #[error("startup task failed: {0}")]
    Startup(String),
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Milliseconds since the epoch: the proposer's clock carried in commands (never read in apply).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One running ZooKeeper node.
pub struct ZkService {
    config: Config,
    stack: Stack,
    app: Arc<ZkApplicator>,
    store: SharedStore,
    hub: Arc<Hub>,
    sessions: Arc<SessionTracker>,
    stats: Arc<ServerStats>,
    next_conn: AtomicU64,
    session_base: i64,
    session_counter: AtomicU64,
    /// ZooKeeper's trace mask (`gtmk`/`stmk`): kept for tools, no effect.
    trace_mask: std::sync::atomic::AtomicI64,
    jobs: std::sync::Mutex<Vec<JoinHandle<()>>>,
    /// Log positions replayed at startup (applied from the log above the store's durable
    /// cursor): zero after a clean shutdown.
    replayed: u64,
    /// This node's part in an ensemble (`None`: standalone).
    ensemble: Option<EnsembleNode>,
    /// False while an ensemble node is cut off from a majority: it serves no client.
    serving: std::sync::atomic::AtomicBool,
}

impl ZkService {
    /// Opens (or creates) the node's log and store under the configured directories and starts
    /// the engine stack and the background jobs. Needs a multi-threaded tokio runtime.
    pub async fn open(config: Config) -> Result<Arc<ZkService>, ServiceError> {
        let log_dir = config.data_log_dir.join("log");
        let store_dir = config.data_dir.join("store");
        for dir in [&config.data_dir, &config.data_log_dir, &log_dir] {
            std::fs::create_dir_all(dir).map_err(|source| ServiceError::Dir {
                path: dir.clone(),
                source,
            })?;
        }
        let (meta, registry, bootstrap, ensemble): (Arc<dyn MetaStore>, _, _, _) =
            match &config.ensemble {
                None => (
                    Arc::new(LocalMetaStore::open(
                        config.data_log_dir.join("chain.meta"),
                    )?),
                    Arc::new(LogletRegistry::new(LocalLogletOptions::default())),
                    LogletConfig::local(log_dir.join("segment-0")),
                    None,
                ),
                Some(e) => {
                    let p = ensemble::open(&config, e).await?;
                    (p.meta, p.registry, p.bootstrap, Some(p.node))
                }
            };
        // An ensemble node waits here until a majority of the participants is up; a joining
        // node until a reconfiguration has given it a segment of the log.
        let joining = ensemble.as_ref().is_some_and(|e| e.joining);
        let mut waited = 0u32;
        let vlog = loop {
            let opened = if joining {
                VirtualLog::open_existing(
                    meta.clone(),
                    registry.clone(),
                    VirtualLogOptions::default(),
                )
                .await
            } else {
                VirtualLog::open(
                    meta.clone(),
                    registry.clone(),
                    bootstrap.clone(),
                    VirtualLogOptions::default(),
                )
                .await
            };
            let me = ensemble.as_ref().map_or(0, |e| e.me);
            match opened {
                Ok(v) if !joining || ensemble::holds_any(&v, me) => break Arc::new(v),
                Ok(_) | Err(LogError::NoChain) if joining => {
                    waited += 1;
                    if waited % 25 == 1 {
                        info!("joining: waiting to be added to the ensemble by a reconfig");
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(v) => break Arc::new(v),
                Err(LogError::Unavailable(why)) if ensemble.is_some() => {
                    waited += 1;
                    if waited % 5 == 1 {
                        info!(reason = %why, "waiting for a quorum of the ensemble");
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };

        let zk_config = ZkConfig {
            extended_types_enabled: config.extended_types_enabled,
            skip_acl: config.skip_acl,
            container_max_never_used_ms: config.container_max_never_used_interval_ms as i64,
            ensemble_config: config
                .ensemble
                .as_ref()
                .map(|e| Bytes::from(e.membership_text())),
            ..ZkConfig::default()
        };
        let store_options = StoreOptions {
            write_buffer_bytes: config.store_write_buffer_mb << 20,
            ..StoreOptions::default()
        }
        .with_partition(ZK_PARTITION);
        let open_store = |zk_config: ZkConfig| {
            let (path, options) = (store_dir.clone(), store_options.clone());
            tokio::task::spawn_blocking(move || {
                let mut store = LocalStore::open(&path, &options)?;
                let partition = store.partition(ZK_PARTITION)?;
                let sm = ZkStateMachine::new(partition, zk_config);
                let cursor = store.applied_cursor();
                let mut txn = store.begin();
                if sm.initialize(&mut txn)? {
                    txn.commit(cursor)?;
                    info!("initialised a new ZooKeeper tree");
                }
                Ok::<_, StoreError>((store, Arc::new(ZkApplicator::new(sm))))
            })
        };
        let (mut store, mut app) = open_store(zk_config.clone())
            .await
            .map_err(|e| ServiceError::Startup(e.to_string()))??;
        // A replica whose store is below every segment of the log it holds (it joined by a
        // reconfiguration, or lost its store) starts from a peer's checkpoint.
        if let Some(e) = &ensemble
            && let Some((min, peers)) =
                ensemble::checkpoint_needed(&vlog, store.applied_cursor(), e.me).await
        {
            info!(
                cursor = store.applied_cursor(),
                min, "this replica needs a checkpoint of a peer's store"
            );
            drop(app);
            tokio::task::spawn_blocking(move || store.close())
                .await
                .map_err(|e| ServiceError::Startup(e.to_string()))??;
            let cursor = catchup::fetch(
                &e.cluster,
                &peers,
                min,
                &store_dir,
                Duration::from_secs(600),
            )
            .await
            .map_err(|e| ServiceError::Startup(e.to_string()))?;
            info!(cursor, "replaying the log from the checkpoint");
            (store, app) = open_store(zk_config.clone())
                .await
                .map_err(|e| ServiceError::Startup(e.to_string()))??;
        }
        let shared = store.shared();

        let sessions = Arc::new(SessionTracker::default());
        let stats = Arc::new(ServerStats::default());
        let hub = Arc::new(Hub::new(
            app.state_machine().config().clone(),
            config.max_unsent_bytes,
            sessions.clone(),
            stats.clone(),
        ));
        app.set_listener(hub.clone());

        let stack = StackBuilder::on_virtual_log(vlog, store)
            .base_options(BaseOptions {
                // A raft loglet tells the apply loop of every entry it applies (watch_tail), so
                // polling its tail, a round trip to the leader, is only a safety net.
                tail_poll_interval: if ensemble.is_some() {
                    Duration::from_millis(250)
                } else {
                    Duration::from_millis(20)
                },
                ..BaseOptions::default()
            })
            .observer("zk")
            .batching(BatchingConfig {
                max_entries: config.batch_max_entries,
                max_in_flight: config.batch_max_in_flight,
                max_queued_bytes: config.batch_max_queued_bytes,
                ..BatchingConfig::default()
            })
            .observer("batching")
            .session_order(SessionOrderConfig::default())
            .build(app.clone())?;

        // Replay is done once the stack has applied up to the log's tail.
        let opened_at = stack.base().applied_cursor();
        let snapshot = stack.sync().await?;
        let replayed = stack.base().applied_cursor().saturating_sub(opened_at);
        // A node times the sessions it serves; in an ensemble the others are their servers'.
        let me = ensemble.as_ref().map(|e| e.me);
        let restored: Vec<_> = app
            .state_machine()
            .reader(&snapshot)
            .sessions()?
            .into_iter()
            .filter(|(_, _, owner)| me.is_none_or(|m| m == *owner))
            .collect();
        for (id, timeout, _) in &restored {
            sessions.add(*id, (*timeout).max(0) as u32);
        }
        info!(
            stack = stack.describe(),
            sessions = restored.len(),
            replayed,
            "ZooKeeper node ready"
        );

        let session_base = session_id::initial_session_id(
            i64::from(config.server_id),
            // ZooKeeper uses a monotonic clock here; wall-clock ms keeps ids unique across restarts.
            now_ms(),
        );
        let svc = Arc::new(ZkService {
            config,
            stack,
            app,
            store: shared,
            hub,
            sessions,
            stats,
            next_conn: AtomicU64::new(1),
            session_base,
            session_counter: AtomicU64::new(0),
            trace_mask: std::sync::atomic::AtomicI64::new(306),
            jobs: std::sync::Mutex::new(Vec::new()),
            replayed,
            ensemble,
            serving: std::sync::atomic::AtomicBool::new(true),
        });
        let mut jobs = vec![
            tokio::spawn(expiry_loop(Arc::downgrade(&svc))),
            tokio::spawn(cleanup_loop(Arc::downgrade(&svc))),
            tokio::spawn(close_on_stop(svc.stack.base().clone(), svc.hub.clone())),
        ];
        if let Some(e) = &svc.ensemble {
            catchup::serve(
                &e.cluster,
                svc.store.clone(),
                svc.stack.base().applied(),
                svc.config.data_dir.join("checkpoints"),
            );
            view_tracking::serve(&e.cluster, svc.stack.base().durable());
            jobs.push(tokio::spawn(quorum_loop(Arc::downgrade(&svc))));
            jobs.push(tokio::spawn(membership_loop(Arc::downgrade(&svc))));
            jobs.push(tokio::spawn(ensemble_trim_loop(Arc::downgrade(&svc))));
        } else {
            jobs.push(tokio::spawn(trim_loop(Arc::downgrade(&svc))));
        }
        if let Ok(mut j) = svc.jobs.lock() {
            j.extend(jobs);
        }
        Ok(svc)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This node's part in an ensemble, if it is in one.
    pub fn ensemble(&self) -> Option<&EnsembleNode> {
        self.ensemble.as_ref()
    }

    /// Standalone, or leader/follower/observer of the ensemble's active log segment.
    pub fn mode(&self) -> Mode {
        match (&self.ensemble, self.stack.virtual_log()) {
            (Some(e), Some(v)) => e.mode(v),
            (Some(e), None) if e.is_observer() => Mode::Observer,
            (Some(_), None) => Mode::Follower,
            (None, _) => Mode::Standalone,
        }
    }

    /// What the node taking a reconfig answers before the log, as ZooKeeper's leader decides
    /// before proposing: `RECONFIGDISABLED` unless `reconfigEnabled`; `RECONFIGINPROGRESS`
    /// while the log has not yet taken the last applied membership; `BADVERSION` or
    /// `BADARGUMENTS` as apply would find them now (with `standaloneEnabled`, 2 voters must
    /// stay); `NEWCONFIGNOQUORUM` unless a majority of the new voters is this node or in touch
    /// with it. `None`: the request goes into the log (a standalone node's apply answers
    /// `UNIMPLEMENTED`).
    pub fn reconfig_precheck(&self, req: &zoolog_jute::ReconfigRequest) -> Option<ErrorCode> {
        if !self.config.reconfig_enabled {
            return Some(ErrorCode::ReconfigDisabled);
        }
        let e = self.ensemble.as_ref()?;
        let snap = self.snapshot();
        let data = self.reader(&snap).config_data().ok().flatten()?;
        let cur = Membership::parse(&data)?;
        let roles = e.roles();
        if roles.participants != cur.participants() || roles.observers != cur.observers() {
            return Some(ErrorCode::ReconfigInProgress);
        }
        let next = match cur.reconfigure(req, self.config.standalone_enabled, cur.version) {
            Ok(n) => n,
            Err(code) => return Some(code),
        };
        let mut addrs = next.quorum_addrs();
        addrs.remove(&e.me);
        e.cluster.add_peers(&addrs);
        let voters = next.participants();
        let up = voters
            .iter()
            .filter(|v| {
                **v == e.me
                    || e.cluster.connected(**v)
                    || e.cluster.liveness().alive(**v, e.sync_window)
            })
            .count();
        if up * 2 <= voters.len() {
            return Some(ErrorCode::NewConfigNoQuorum);
        }
        None
    }

    /// This node's server id in the ensemble (`None`: standalone).
    pub fn node_id(&self) -> Option<u64> {
        self.ensemble.as_ref().map(|e| e.me)
    }

    /// Whether the node serves clients now (an ensemble node cut off from a majority does not).
    pub fn is_serving(&self) -> bool {
        self.serving.load(Ordering::Relaxed)
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    pub fn state_machine(&self) -> &ZkStateMachine {
        self.app.state_machine()
    }

    /// A snapshot of everything applied so far on this node.
    pub fn snapshot(&self) -> ReadSnapshot {
        self.store.snapshot()
    }

    /// Reads against `snapshot`.
    pub fn reader<'a>(&'a self, snapshot: &'a ReadSnapshot) -> ZkReader<'a> {
        self.app.state_machine().reader(snapshot)
    }

    /// The zxid of the last applied write (`lastProcessedZxid`).
    pub fn last_zxid(&self) -> i64 {
        let snap = self.snapshot();
        self.reader(&snap).last_zxid().unwrap_or(0)
    }

    /// The log position applied so far (exclusive).
    pub fn applied_cursor(&self) -> u64 {
        self.stack.base().applied_cursor()
    }

    /// Waits until the apply loop has run post_apply for everything below `cursor`.
    pub async fn wait_applied(&self, cursor: u64) {
        let mut rx = self.stack.base().applied();
        let _ = rx.wait_for(|c| *c >= cursor).await;
    }

    pub fn trace_mask(&self) -> i64 {
        self.trace_mask.load(Ordering::Relaxed)
    }

    pub fn set_trace_mask(&self, mask: i64) {
        self.trace_mask.store(mask, Ordering::Relaxed);
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh session id (§10.1).
    pub fn next_session_id(&self) -> i64 {
        let n = self.session_counter.fetch_add(1, Ordering::Relaxed);
        self.session_base.wrapping_add(n as i64)
    }

    /// Proposes a command; the future resolves with its outcome once applied here.
    pub fn propose(&self, cmd: &ZkCommand) -> ProposeFuture {
        self.stack.propose(Entry::new(cmd.encode()))
    }

    /// Proposes a command whose outcome reaches this node's connections through the hub (the
    /// listener queues its reply): nobody waits on a future for it.
    pub fn propose_detached(&self, cmd: &ZkCommand) {
        self.stack.propose_detached(Entry::new(cmd.encode()));
    }

    /// Proposes and waits for the outcome.
    pub async fn execute(&self, cmd: &ZkCommand) -> Result<ZkOutcome, ServiceError> {
        let bytes: Bytes = self.propose(cmd).await?;
        Ok(ZkOutcome::decode(&bytes)?)
    }

    /// Log positions replayed at startup (zero after a clean shutdown).
    pub fn replayed_at_start(&self) -> u64 {
        self.replayed
    }

    /// Shuts the node down in order, each step bounded by `grace`: the background jobs stop
    /// proposing; every proposal made so far is applied (the appender and the apply loop
    /// drain); the apply loop stops and the store is flushed and closed; the log is closed.
    /// Clients must be disconnected first (the server's [`Stopper`](crate::server::listener::Stopper)).
    /// Returns whether every step finished in time.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        if let Ok(mut jobs) = self.jobs.lock() {
            for j in jobs.drain(..) {
                j.abort();
            }
        }
        let mut clean = self.stack.drain(grace).await;
        if !clean {
            warn!(
                "proposals still in flight at shutdown; they are replayed at the next start if they reached the log"
            );
        }
        match tokio::time::timeout(grace, self.stack.stop()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "engine stack did not shut down cleanly");
                clean = false;
            }
            Err(_) => {
                warn!("engine stack did not stop in time");
                clean = false;
            }
        }
        if let Some(vlog) = self.stack.virtual_log() {
            use crate::log::Loglet;
            match tokio::time::timeout(grace, vlog.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    warn!(error = %e, "closing the log failed");
                    clean = false;
                }
                Err(_) => {
                    warn!("the log did not close in time");
                    clean = false;
                }
            }
        }
        if let Some(e) = &self.ensemble {
            use crate::log::Loglet;
            if let Err(err) = e.meta_log.close().await {
                warn!(error = %err, "closing the metastore log failed");
            }
            e.close();
        }
        info!(
            durable = self.store.durable_cursor(),
            clean, "ZooKeeper node shut down"
        );
        clean
    }
}

/// Writes are proposed detached, their replies queued by the hub when applied: if the apply
/// loop stops (a fatal error or shutdown), no reply will come, so every connection is closed,
/// as a failed proposal used to close its own.
async fn close_on_stop(base: Arc<BaseEngine>, hub: Arc<Hub>) {
    base.stopped().await;
    warn!(
        reason = ?base.stop_reason(),
        "the engine stack stopped; closing every client connection"
    );
    hub.close_all();
}

/// Proposes `ExpireSession` for every session whose timer ran out (§10.3): expiry is decided by
/// a command in the log, never by apply reading a clock.
async fn expiry_loop(svc: std::sync::Weak<ZkService>) {
    let tick = match svc.upgrade() {
        Some(s) => Duration::from_millis(u64::from(s.config.tick_time_ms.clamp(10, 2000)) / 2),
        None => return,
    };
    let mut interval = tokio::time::interval(tick.max(Duration::from_millis(5)));
    loop {
        interval.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        for session in svc.sessions.take_expired(Instant::now()) {
            debug!(session = format_args!("0x{session:x}"), "session expired");
            // In an ensemble the expiry names this server: if the session moved to another one
            // meanwhile, apply ignores it.
            let op = match svc.node_id() {
                Some(owner) => ZkOp::ExpireOwnedSession {
                    session_id: session,
                    owner,
                },
                None => ZkOp::ExpireSession {
                    session_id: session,
                },
            };
            let fut = svc.propose(&ZkCommand::internal(session, now_ms(), op));
            let weak = Arc::downgrade(&svc);
            tokio::spawn(async move {
                if let Err(e) = fut.await {
                    warn!(error = %e, "session expiry proposal failed");
                }
                // Expired, or moved elsewhere: this node times it no longer.
                if let Some(svc) = weak.upgrade() {
                    svc.sessions.remove(session);
                }
            });
        }
    }
}

/// ZooKeeper's `ContainerManager`: periodically proposes deleting empty containers and expired
/// TTL nodes; apply re-checks each candidate.
async fn cleanup_loop(svc: std::sync::Weak<ZkService>) {
    let (interval_ms, per_minute) = match svc.upgrade() {
        Some(s) => (
            s.config.container_check_interval_ms.max(1),
            s.config.container_max_per_minute.max(1),
        ),
        None => return,
    };
    let pause = Duration::from_millis((60_000 / u64::from(per_minute)).max(1));
    let mut interval = tokio::time::interval(Duration::from_millis(interval_ms));
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        // One node of an ensemble cleans up (apply re-checks each candidate anyway).
        if !matches!(svc.mode(), Mode::Standalone | Mode::Leader) {
            continue;
        }
        let snap = svc.snapshot();
        let candidates = match svc.reader(&snap).cleanup_candidates(now_ms()) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "container scan failed");
                continue;
            }
        };
        drop(snap);
        for c in candidates {
            let op = match c.kind {
                CleanupKind::Container => ZkOp::DeleteContainer { path: c.path },
                CleanupKind::Ttl => ZkOp::ExpireTtl { path: c.path },
            };
            if let Err(e) = svc.execute(&ZkCommand::internal(0, now_ms(), op)).await {
                warn!(error = %e, "cleanup proposal failed");
            }
            // At most `znode.container.maxPerMinute` deletions a minute.
            tokio::time::sleep(pause).await;
        }
    }
}

/// An ensemble node that has not heard from a majority of the participants within `syncLimit`
/// ticks stops serving, as a ZooKeeper follower that lost its leader does: it closes every client
/// connection (the clients move to another server) and refuses sessions until it is back.
async fn quorum_loop(svc: std::sync::Weak<ZkService>) {
    let every = match svc.upgrade() {
        Some(s) => Duration::from_millis(u64::from(s.config.tick_time_ms.clamp(10, 2000)) / 2),
        None => return,
    };
    let mut interval = tokio::time::interval(every.max(Duration::from_millis(5)));
    loop {
        interval.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        let Some(e) = svc.ensemble.as_ref() else {
            return;
        };
        let member = e.is_member();
        let ok = member && e.has_quorum();
        let was = svc.serving.swap(ok, Ordering::Relaxed);
        if was && !member {
            warn!("removed from the ensemble by a reconfig: closing client connections");
            svc.hub.close_all();
        } else if was && !ok {
            warn!(
                live_peers = ?e.live_peers(),
                "cut off from a majority of the ensemble: closing client connections"
            );
            svc.hub.close_all();
        } else if !was && ok {
            info!("back in touch with a majority of the ensemble: serving clients again");
        }
    }
}

/// Follows the membership in the applied `/zookeeper/config`: every node dials the servers it
/// names and takes the roles of the active log segment; the leader of the active segment
/// moves the log to a membership that a reconfig changed (see [`EnsembleNode::reconcile`]).
async fn membership_loop(svc: std::sync::Weak<ZkService>) {
    let mut interval = tokio::time::interval(Duration::from_millis(200));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = Instant::now() - Duration::from_secs(60);
    loop {
        interval.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        let Some(e) = svc.ensemble.as_ref() else {
            return;
        };
        if let Some(v) = svc.stack.virtual_log() {
            e.refresh_roles(v);
        }
        let snap = svc.snapshot();
        let Some(desired) = svc
            .reader(&snap)
            .config_data()
            .ok()
            .flatten()
            .and_then(|d| Membership::parse(&d))
        else {
            continue;
        };
        drop(snap);
        if let Err(why) = e.reconcile(&svc.stack, &desired).await
            && warned.elapsed() > Duration::from_secs(5)
        {
            warned = Instant::now();
            warn!(error = %why, "moving the log to the new membership failed; retrying");
        }
    }
}

/// In an ensemble, the leader of the active segment trims the shared log below every replica's
/// durable position (within the retention bound; see [`view_tracking`]).
async fn ensemble_trim_loop(svc: std::sync::Weak<ZkService>) {
    let mut tracker = ViewTracker::default();
    let every = match svc.upgrade() {
        Some(s) => Duration::from_millis(s.config.trim_interval_ms),
        None => return,
    };
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        let Some(e) = svc.ensemble.as_ref() else {
            return;
        };
        if svc.mode() != Mode::Leader {
            continue;
        }
        let roles = e.roles();
        let replicas = roles
            .participants
            .union(&roles.observers)
            .copied()
            .collect();
        let mine = *svc.stack.base().durable().borrow();
        let to = tracker
            .trim_point(&e.cluster, e.me, mine, &replicas, svc.config.retain_entries)
            .await;
        svc.stack.top().set_trim_prefix(to);
    }
}

/// Lets the base engine trim the log below what the store has durably flushed.
async fn trim_loop(svc: std::sync::Weak<ZkService>) {
    let every = match svc.upgrade() {
        Some(s) => Duration::from_millis(s.config.trim_interval_ms),
        None => return,
    };
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        let Some(svc) = svc.upgrade() else { return };
        let durable = *svc.stack.base().durable().borrow();
        svc.stack.top().set_trim_prefix(durable);
    }
}
