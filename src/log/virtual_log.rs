//! `VirtualLog`: one logical log over a chain of loglets, reconfigurable while it runs.
//!
//! Layer: the top of `log/`, used by the engines (BaseEngine appends, reads, checks the tail and
//! trims through it). Touches the MetaStore (the chain) and the loglets the chain names, through
//! a [`LogletFactory`]; knows nothing of what entries mean. It is itself a [`Loglet`].
//!
//! Positions are global: a segment's loglet numbers its entries from 0 and the virtual log maps
//! `global = segment.start + local`. Appends and `check_tail` go to the active (last) segment;
//! reads are routed by position, each segment read only within `[start, next.start)`, so
//! "zombie" entries that land in a sealed loglet after its end was fixed are never visible.
//!
//! Reconfiguration (`reconfig_extend`) follows Delos: seal the active loglet, check its tail
//! (the start of the new segment), conditionally write the extended chain over the version it
//! was read at (at most one racer wins; a loser reloads and gets
//! [`LogError::ReconfigConflict`]), then use the new chain. An append that meets a sealed loglet
//! reloads the chain and retries on the new active segment, waiting with bounded backoff while the
//! chain has no successor yet.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use tracing::{debug, info, warn};

use super::chain::{Chain, ChainSegment, LogletConfig};
use super::error::{LogError, Result};
use super::loglet::{Loglet, Pos, TailWatcher};
use super::metastore::{MetaStore, MetaVersion};
use super::registry::LogletFactory;

/// Tuning of a [`VirtualLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualLogOptions {
    /// How long an append or `check_tail` waits for a successor once the active segment is
    /// sealed, before failing with [`LogError::NoSuccessor`].
    pub successor_wait: Duration,
    /// First backoff between chain reloads while waiting.
    pub backoff_min: Duration,
    /// Largest backoff between chain reloads while waiting.
    pub backoff_max: Duration,
    /// Most rounds of a seal or trim that keeps losing conditional writes to other writers.
    pub max_meta_rounds: usize,
}

impl Default for VirtualLogOptions {
    fn default() -> Self {
        VirtualLogOptions {
            successor_wait: Duration::from_secs(5),
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(50),
            max_meta_rounds: 64,
        }
    }
}

/// A segment of the loaded chain with its opened loglet.
struct Live {
    start: Pos,
    config: LogletConfig,
    loglet: Arc<dyn Loglet>,
}

/// A chain as loaded from one MetaStore version.
struct Loaded {
    version: MetaVersion,
    chain: Chain,
    segments: Vec<Live>,
}

impl Loaded {
    fn active(&self) -> Result<&Live> {
        self.segments
            .last()
            .ok_or_else(|| LogError::corrupt("chain", "no segments"))
    }

    /// End of the segment that starts at `start` with `config`, if it is still in the chain.
    fn end_of(&self, start: Pos, config: &LogletConfig) -> Option<Option<Pos>> {
        self.segments
            .iter()
            .position(|s| s.start == start && &s.config == config)
            .map(|i| self.chain.segment_end(i))
    }
}

/// Exponential backoff bounded by a deadline.
struct Waiter {
    deadline: Instant,
    next: Duration,
    max: Duration,
    started: Instant,
}

impl Waiter {
    fn new(opts: &VirtualLogOptions) -> Self {
        let now = Instant::now();
        Waiter {
            deadline: now + opts.successor_wait,
            next: opts.backoff_min.max(Duration::from_micros(100)),
            max: opts.backoff_max,
            started: now,
        }
    }

    /// Sleeps for the next backoff; `false` once the deadline passed.
    async fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.next.min(self.deadline - now)).await;
        self.next = (self.next * 2).min(self.max);
        true
    }

    fn waited_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// A virtual log over a chain of loglets kept in a MetaStore (see the module doc).
pub struct VirtualLog {
    meta: Arc<dyn MetaStore>,
    factory: Arc<dyn LogletFactory>,
    opts: VirtualLogOptions,
    current: RwLock<Arc<Loaded>>,
    reload_lock: tokio::sync::Mutex<()>,
    /// Tail watchers, registered on the active segment's loglet of every chain installed.
    watchers: std::sync::Mutex<Vec<TailWatcher>>,
}

impl std::fmt::Debug for VirtualLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cur = self.current();
        f.debug_struct("VirtualLog")
            .field("version", &cur.version)
            .field("chain", &cur.chain)
            .finish_non_exhaustive()
    }
}

fn map_trimmed(e: LogError, start: Pos) -> LogError {
    match e {
        LogError::Trimmed { pos, trim_point } => LogError::Trimmed {
            pos: pos.saturating_add(start),
            trim_point: trim_point.saturating_add(start),
        },
        other => other,
    }
}

impl VirtualLog {
    /// Opens the virtual log whose chain is in `meta`; if `meta` is empty, first writes a chain
    /// of one segment at position 0 held by the `bootstrap` loglet.
    pub async fn open(
        meta: Arc<dyn MetaStore>,
        factory: Arc<dyn LogletFactory>,
        bootstrap: LogletConfig,
        opts: VirtualLogOptions,
    ) -> Result<Self> {
        loop {
            let (version, value) = meta.read().await?;
            if let Some(bytes) = value {
                let loaded = Self::load(&*factory, version, &bytes).await?;
                return Ok(Self::from_loaded(meta, factory, opts, loaded));
            }
            let chain = Chain::new(bootstrap.clone());
            match meta.write(version, chain.encode()).await {
                Ok(v) => {
                    info!(bootstrap = %bootstrap, "virtual log created");
                    let loaded = Self::load(&*factory, v, &chain.encode()).await?;
                    return Ok(Self::from_loaded(meta, factory, opts, loaded));
                }
                Err(LogError::VersionConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens the virtual log whose chain is in `meta`; fails with [`LogError::NoChain`] if none.
    pub async fn open_existing(
        meta: Arc<dyn MetaStore>,
        factory: Arc<dyn LogletFactory>,
        opts: VirtualLogOptions,
    ) -> Result<Self> {
        let (version, value) = meta.read().await?;
        let bytes = value.ok_or(LogError::NoChain)?;
        let loaded = Self::load(&*factory, version, &bytes).await?;
        Ok(Self::from_loaded(meta, factory, opts, loaded))
    }

    fn from_loaded(
        meta: Arc<dyn MetaStore>,
        factory: Arc<dyn LogletFactory>,
        opts: VirtualLogOptions,
        loaded: Loaded,
    ) -> Self {
        VirtualLog {
            meta,
            factory,
            opts,
            current: RwLock::new(Arc::new(loaded)),
            reload_lock: tokio::sync::Mutex::new(()),
            watchers: std::sync::Mutex::new(Vec::new()),
        }
    }

    async fn load(
        factory: &dyn LogletFactory,
        version: MetaVersion,
        bytes: &[u8],
    ) -> Result<Loaded> {
        let chain = Chain::decode(bytes)?;
        let mut segments = Vec::with_capacity(chain.segments.len());
        for s in &chain.segments {
            segments.push(Live {
                start: s.start,
                config: s.config.clone(),
                loglet: factory.open(&s.config).await?,
            });
        }
        Ok(Loaded {
            version,
            chain,
            segments,
        })
    }

    fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Installs `loaded` if it is newer than the current chain; returns the current chain.
    fn install(&self, loaded: Loaded) -> Arc<Loaded> {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        if loaded.version > cur.version {
            debug!(
                version = loaded.version,
                segments = loaded.segments.len(),
                "virtual log installs chain"
            );
            *cur = Arc::new(loaded);
            let watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
            for w in watchers.iter() {
                Self::watch_active(&cur, w.clone());
            }
        }
        cur.clone()
    }

    /// Registers `watcher` on the active segment's loglet, in global positions. Only the active
    /// segment grows (a sealed loglet appends nothing more), so older ones need no watcher.
    fn watch_active(loaded: &Loaded, watcher: TailWatcher) {
        if let Ok(active) = loaded.active() {
            let start = active.start;
            active
                .loglet
                .watch_tail(Arc::new(move |tail| watcher(start + tail)));
        }
    }

    /// Reloads the chain from the MetaStore unless a chain newer than `seen` is already here.
    async fn refresh(&self, seen: MetaVersion) -> Result<Arc<Loaded>> {
        let _serial = self.reload_lock.lock().await;
        let cur = self.current();
        if cur.version > seen {
            return Ok(cur);
        }
        let (version, value) = self.meta.read().await?;
        if version <= cur.version {
            return Ok(cur);
        }
        let bytes = value.ok_or(LogError::NoChain)?;
        let loaded = Self::load(&*self.factory, version, &bytes).await?;
        Ok(self.install(loaded))
    }

    /// Reloads the chain from the MetaStore; returns its version.
    pub async fn reload(&self) -> Result<MetaVersion> {
        let seen = self.current().version;
        Ok(self.refresh(seen).await?.version)
    }

    /// The chain as currently loaded, and its MetaStore version.
    pub fn chain(&self) -> (MetaVersion, Chain) {
        let cur = self.current();
        (cur.version, cur.chain.clone())
    }

    /// The loglets of the loaded chain with their global start positions.
    pub fn segment_loglets(&self) -> Vec<(Pos, LogletConfig, Arc<dyn Loglet>)> {
        self.current()
            .segments
            .iter()
            .map(|s| (s.start, s.config.clone(), s.loglet.clone()))
            .collect()
    }

    /// Seals the active segment and extends the chain with a new segment held by the fresh
    /// (empty, unsealed) loglet `config`. Returns the global start position of the new segment.
    pub async fn reconfig_extend(&self, config: LogletConfig) -> Result<Pos> {
        let seen = self.current().version;
        let cur = self.refresh(seen).await?;
        if cur.chain.sealed_at.is_some() {
            return Err(LogError::Sealed);
        }
        let active = cur.active()?;
        active.loglet.seal().await?;
        let (tail, _) = active.loglet.check_tail().await?;
        let start = active.start + tail;
        let loglet = self.factory.open(&config).await?;
        // A replicated loglet's group may elect its first leader only once its members read
        // the chain written below: its local copy tells whether it is fresh.
        let (new_tail, new_sealed) = match (loglet.local_tail(), loglet.local_seal()) {
            (Some(t), Some(s)) => (t, s),
            _ => loglet.check_tail().await?,
        };
        if new_tail != 0 || new_sealed {
            return Err(LogError::InvalidConfig(format!(
                "loglet {config} is not fresh (tail {new_tail}, sealed {new_sealed})"
            )));
        }
        let mut chain = cur.chain.clone();
        chain.segments.push(ChainSegment {
            start,
            config: config.clone(),
        });
        match self.meta.write(cur.version, chain.encode()).await {
            Ok(version) => {
                let mut segments: Vec<Live> = cur
                    .segments
                    .iter()
                    .map(|s| Live {
                        start: s.start,
                        config: s.config.clone(),
                        loglet: s.loglet.clone(),
                    })
                    .collect();
                segments.push(Live {
                    start,
                    config: config.clone(),
                    loglet,
                });
                self.install(Loaded {
                    version,
                    chain,
                    segments,
                });
                info!(version, start, loglet = %config, "virtual log extended");
                Ok(start)
            }
            Err(LogError::VersionConflict { .. }) => {
                self.refresh(cur.version).await?;
                debug!(expected = cur.version, "reconfiguration lost a race");
                Err(LogError::ReconfigConflict {
                    expected: cur.version,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The first unwritten position of the active segment, without waiting for a successor.
    async fn active_tail(&self, cur: &Loaded) -> Result<(Pos, bool)> {
        let active = cur.active()?;
        let (t, sealed) = active.loglet.check_tail().await?;
        Ok((active.start + t, sealed))
    }
}

#[async_trait]
impl Loglet for VirtualLog {
    async fn append(&self, payload: Bytes) -> Result<Pos> {
        let mut waiter: Option<Waiter> = None;
        loop {
            let cur = self.current();
            if cur.chain.sealed_at.is_some() {
                return Err(LogError::Sealed);
            }
            let active = cur.active()?;
            match active.loglet.append(payload.clone()).await {
                Ok(local) => {
                    let pos = active.start + local;
                    // A loglet must not acknowledge an append past the end the chain fixed for
                    // it; if one did (a zombie), the entry is invisible: append it again.
                    match self.current().end_of(active.start, &active.config) {
                        Some(Some(end)) if pos >= end => {
                            warn!(
                                pos,
                                end, "append acknowledged past its segment's end; retrying"
                            );
                            continue;
                        }
                        _ => return Ok(pos),
                    }
                }
                Err(LogError::Sealed) => {
                    let new = self.refresh(cur.version).await?;
                    if new.version > cur.version {
                        continue;
                    }
                    let w = waiter.get_or_insert_with(|| Waiter::new(&self.opts));
                    if !w.wait().await {
                        return Err(LogError::NoSuccessor {
                            start: active.start,
                            waited_ms: w.waited_ms(),
                        });
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn check_tail(&self) -> Result<(Pos, bool)> {
        let mut waiter: Option<Waiter> = None;
        loop {
            let cur = self.current();
            if let Some(end) = cur.chain.sealed_at {
                return Ok((end, true));
            }
            let (tail, sealed) = self.active_tail(&cur).await?;
            if !sealed {
                return Ok((tail, false));
            }
            let new = self.refresh(cur.version).await?;
            if new.version > cur.version {
                continue;
            }
            let w = waiter.get_or_insert_with(|| Waiter::new(&self.opts));
            if !w.wait().await {
                return Err(LogError::NoSuccessor {
                    start: cur.active()?.start,
                    waited_ms: w.waited_ms(),
                });
            }
        }
    }

    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        let mut cur = self.current();
        if from < cur.chain.trim_point {
            return Err(LogError::Trimmed {
                pos: from,
                trim_point: cur.chain.trim_point,
            });
        }
        // If the range reaches into an active segment that is sealed, learn its end first.
        let last = cur.active()?;
        if cur.chain.sealed_at.is_none() && to > last.start {
            let sealed = match last.loglet.local_seal() {
                Some(s) => s,
                None => last.loglet.check_tail().await?.1,
            };
            if sealed {
                cur = self.refresh(cur.version).await?;
            }
        }
        let mut out = Vec::new();
        for (i, seg) in cur.segments.iter().enumerate() {
            let end = cur.chain.segment_end(i).unwrap_or(Pos::MAX);
            let seg_from = from.max(seg.start);
            let seg_to = to.min(end);
            if seg_from >= seg_to {
                continue;
            }
            let entries = seg
                .loglet
                .read(seg_from - seg.start, seg_to - seg.start)
                .await
                .map_err(|e| map_trimmed(e, seg.start))?;
            let want = seg_to - seg_from;
            let got = entries.len() as u64;
            out.extend(
                entries
                    .into_iter()
                    .map(|(p, b)| (seg.start + p, b))
                    .filter(|&(p, _)| p >= seg_from && p < seg_to),
            );
            if got < want {
                // The rest lies at or past this segment's tail: nothing further is readable yet.
                break;
            }
        }
        Ok(out)
    }

    async fn seal(&self) -> Result<()> {
        for _ in 0..self.opts.max_meta_rounds.max(1) {
            let seen = self.current().version;
            let cur = self.refresh(seen).await?;
            if cur.chain.sealed_at.is_some() {
                return Ok(());
            }
            let active = cur.active()?;
            active.loglet.seal().await?;
            let (tail, _) = active.loglet.check_tail().await?;
            let mut chain = cur.chain.clone();
            chain.sealed_at = Some(active.start + tail);
            match self.meta.write(cur.version, chain.encode()).await {
                Ok(_) => {
                    self.refresh(cur.version).await?;
                    info!(tail = active.start + tail, "virtual log sealed");
                    return Ok(());
                }
                Err(LogError::VersionConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(LogError::Unavailable(
            "virtual log seal kept losing metastore races".into(),
        ))
    }

    fn watch_tail(&self, watcher: TailWatcher) {
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(watcher.clone());
        Self::watch_active(&self.current(), watcher);
    }

    /// Closes the loglets of the chain in hand (the active one takes no append after this).
    async fn close(&self) -> Result<()> {
        let cur = self.current();
        for live in &cur.segments {
            live.loglet.close().await?;
        }
        Ok(())
    }

    async fn prefix_trim(&self, pos: Pos) -> Result<()> {
        for _ in 0..self.opts.max_meta_rounds.max(1) {
            let seen = self.current().version;
            let cur = self.refresh(seen).await?;
            let (tail, _) = self.active_tail(&cur).await?;
            let tail = cur.chain.sealed_at.map_or(tail, |s| s.min(tail));
            let target = pos.min(tail);
            if target <= cur.chain.trim_point {
                return Ok(());
            }
            let mut chain = cur.chain.clone();
            chain.trim_point = target;
            let n = chain.segments.len();
            let keep_from = (0..n - 1)
                .take_while(|&i| cur.chain.segment_end(i).is_some_and(|e| e <= target))
                .count();
            chain.segments.drain(..keep_from);
            match self.meta.write(cur.version, chain.encode()).await {
                Ok(_) => {}
                Err(LogError::VersionConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
            self.refresh(cur.version).await?;
            // The chain no longer exposes positions below `target`; let the loglets drop them.
            let mut first_err = None;
            for (i, seg) in cur.segments.iter().enumerate() {
                if seg.start >= target {
                    break;
                }
                let end = cur.chain.segment_end(i).unwrap_or(Pos::MAX);
                let local = target.min(end) - seg.start;
                if let Err(e) = seg.loglet.prefix_trim(local).await {
                    warn!(segment = seg.start, error = %e, "prefix trim of a segment loglet failed");
                    first_err.get_or_insert(e);
                }
            }
            if keep_from > 0 {
                info!(
                    trim_point = target,
                    dropped = keep_from,
                    "virtual log dropped trimmed segments"
                );
            }
            return first_err.map_or(Ok(()), Err);
        }
        Err(LogError::Unavailable(
            "virtual log trim kept losing metastore races".into(),
        ))
    }
}
