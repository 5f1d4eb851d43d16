//! `BaseEngine`: the bottom of every engine stack (Delos [SOSP] §3).
//!
//! Layer: the only engine that touches the log and the LocalStore directly. It owns
//! - the log (`Arc<dyn Loglet>`, normally the `VirtualLog`): proposals are stamped with a `base`
//!   header (origin id, proposal counter), encoded and appended by the `appender.rs` task;
//! - the LocalStore: the `apply_loop.rs` thread is its only writer; it reads the log from the
//!   stored cursor, applies each entry up the stack in one transaction committed with the new
//!   cursor, runs `post_apply`, and completes the local proposer — matched by the stamp, not by
//!   position, since apply may see an entry before its append returns;
//! - `sync` (`sync_queue.rs`): one outstanding `check_tail` shared by all callers, then a wait
//!   until the applied cursor reaches that tail, then a read snapshot;
//! - the background flush policy and trimming (`flusher.rs`): the log is trimmed only below
//!   `min(requested, durable cursor)`;
//! - two-phase engine enabling ([`control`]): `enable_engine(name)` proposes a control command
//!   that every replica applies at the same position, persisting a flag in the base partition
//!   and flipping the engine's in-memory [`EngineSwitch`] between two entries.

mod appender;
mod apply_loop;
pub mod control;
mod flusher;
pub mod header;
pub mod options;
mod pending;
mod sync_queue;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::log::{Loglet, Pos};
use crate::store::{LocalStore, ReadSnapshot, SharedStore};

use super::entry::Entry;
use super::error::EngineError;
use super::origin::fresh_origin_id;
use super::switch::EngineSwitch;
use super::traits::{Applicator, Engine, ProposeFuture};
use super::upcall::UpcallSlot;

pub use control::BaseCommand;
pub use header::{BASE_HEADER, CONTROL_HEADER, Stamp};
pub use options::BaseOptions;

use appender::AppendRequest;
use pending::Pending;
use sync_queue::SyncQueue;

/// Counters of a base engine.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    proposals: AtomicU64,
    applied: AtomicU64,
    sync_calls: AtomicU64,
    sync_tail_checks: AtomicU64,
    poll_tail_checks: AtomicU64,
    flushes: AtomicU64,
    trimmed_to: AtomicU64,
}

/// A snapshot of a base engine's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BaseStats {
    /// Entries proposed through this engine.
    pub proposals: u64,
    /// Entries applied by this engine's apply loop since it started.
    pub applied: u64,
    /// `sync` calls.
    pub sync_calls: u64,
    /// `check_tail` calls made on behalf of `sync` callers (at most one outstanding).
    pub sync_tail_checks: u64,
    /// `check_tail` calls made by the idle apply loop.
    pub poll_tail_checks: u64,
    /// Background flushes of the LocalStore.
    pub flushes: u64,
    /// The log position trimmed below, by this engine.
    pub trimmed_to: Pos,
    /// Proposals waiting to be applied.
    pub pending: usize,
}

/// State shared by the engine handle, its apply thread and its tasks.
pub(crate) struct Shared {
    origin: u64,
    log: Arc<dyn Loglet>,
    store: SharedStore,
    opts: BaseOptions,
    counter: AtomicU64,
    pending: Pending,
    append_tx: mpsc::UnboundedSender<AppendRequest>,
    /// The highest tail known from appends, syncs and polls: the apply loop reads up to it.
    tail_hint: AtomicU64,
    wake_apply: Notify,
    applied: watch::Sender<Pos>,
    durable: watch::Sender<Pos>,
    sync: SyncQueue,
    trim_requested: AtomicU64,
    wake_flusher: Notify,
    switches: Mutex<Switches>,
    /// Asks the apply thread and the tasks to stop.
    cancel: CancellationToken,
    /// Cancelled once the apply thread has stopped, for whatever reason.
    stopped: CancellationToken,
    counters: Counters,
}

/// The in-memory switches and the flags they started from.
#[derive(Default)]
struct Switches {
    loaded: BTreeMap<String, Pos>,
    live: BTreeMap<String, EngineSwitch>,
}

impl Shared {
    fn switch(&self, name: &str) -> EngineSwitch {
        let mut sw = self.switches.lock().unwrap_or_else(PoisonError::into_inner);
        let on = sw.loaded.contains_key(name);
        sw.live
            .entry(name.to_owned())
            .or_insert_with(|| EngineSwitch::new(on))
            .clone()
    }
}

/// What exists only before `start`.
struct Unstarted {
    store: LocalStore,
    append_rx: mpsc::UnboundedReceiver<AppendRequest>,
}

/// What exists only while running.
struct Running {
    apply_done: oneshot::Receiver<Result<(), EngineError>>,
    apply_thread: std::thread::JoinHandle<()>,
    appender: JoinHandle<()>,
    flusher: JoinHandle<()>,
}

/// The base engine. See the module documentation.
pub struct BaseEngine {
    shared: Arc<Shared>,
    upcall: UpcallSlot,
    unstarted: Mutex<Option<Unstarted>>,
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for BaseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseEngine")
            .field("origin", &self.shared.origin)
            .field("applied", &*self.shared.applied.borrow())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BaseEngine {
    /// Opens the base engine over `log` and `store`: creates its partition, loads the engine
    /// flags. Nothing is applied until [`start`](Self::start); proposals made before are queued.
    pub fn open(
        log: Arc<dyn Loglet>,
        store: LocalStore,
        opts: BaseOptions,
    ) -> Result<Arc<BaseEngine>, EngineError> {
        let partition = store.partition(&opts.partition)?;
        let loaded = control::load_flags(&store.snapshot(), &partition)?;
        let cursor = store.applied_cursor();
        let durable = store.durable_cursor();
        let (append_tx, append_rx) = mpsc::unbounded_channel();
        let origin = fresh_origin_id();
        info!(origin, cursor, enabled = ?loaded.keys().collect::<Vec<_>>(), "base engine opened");
        let shared = Arc::new(Shared {
            origin,
            log,
            store: store.shared(),
            opts,
            counter: AtomicU64::new(0),
            pending: Pending::default(),
            append_tx,
            tail_hint: AtomicU64::new(cursor),
            wake_apply: Notify::new(),
            applied: watch::Sender::new(cursor),
            durable: watch::Sender::new(durable),
            sync: SyncQueue::default(),
            trim_requested: AtomicU64::new(0),
            wake_flusher: Notify::new(),
            switches: Mutex::new(Switches {
                loaded,
                live: BTreeMap::new(),
            }),
            cancel: CancellationToken::new(),
            stopped: CancellationToken::new(),
            counters: Counters::default(),
        });
        Ok(Arc::new(BaseEngine {
            shared,
            upcall: UpcallSlot::new(),
            unstarted: Mutex::new(Some(Unstarted { store, append_rx })),
            running: Mutex::new(None),
        }))
    }

    /// Starts the apply thread, the appender and the flusher. Needs a registered upcall and a
    /// tokio runtime (multi-threaded: the apply thread waits through the runtime's handle).
    pub fn start(&self) -> Result<(), EngineError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|e| EngineError::Spawn {
            what: "base engine",
            detail: e.to_string(),
        })?;
        let upcall = self.upcall.get().ok_or(EngineError::NoUpcall)?;
        let mut running = lock(&self.running);
        let Unstarted { store, append_rx } = lock(&self.unstarted)
            .take()
            .ok_or(EngineError::AlreadyStarted)?;
        let partition = store.partition(&self.shared.opts.partition)?;
        // The log tells the apply loop of new durable entries directly (the appender's
        // acknowledgement would add a task hop to every batch's way up).
        let weak = Arc::downgrade(&self.shared);
        self.shared.log.watch_tail(Arc::new(move |tail| {
            if let Some(shared) = weak.upgrade() {
                shared.tail_hint.fetch_max(tail, Ordering::AcqRel);
                shared.wake_apply.notify_one();
            }
        }));
        let (done_tx, apply_done) = oneshot::channel();
        let lp = apply_loop::ApplyLoop {
            shared: self.shared.clone(),
            store,
            upcall,
            partition,
        };
        let thread_handle = handle.clone();
        let apply_thread = std::thread::Builder::new()
            .name("apply-loop".into())
            .spawn(move || lp.run_thread(thread_handle, done_tx))
            .map_err(|e| EngineError::Spawn {
                what: "apply thread",
                detail: e.to_string(),
            })?;
        let appender = handle.spawn(appender::run(self.shared.clone(), append_rx));
        let flusher = handle.spawn(flusher::run(self.shared.clone()));
        *running = Some(Running {
            apply_done,
            apply_thread,
            appender,
            flusher,
        });
        Ok(())
    }

    /// This incarnation's origin id (stamped in every proposal).
    pub fn origin(&self) -> u64 {
        self.shared.origin
    }

    /// The applied cursor: the first log position not yet applied, updated after each commit.
    pub fn applied(&self) -> watch::Receiver<Pos> {
        self.shared.applied.subscribe()
    }

    /// The current applied cursor.
    pub fn applied_cursor(&self) -> Pos {
        *self.shared.applied.borrow()
    }

    /// The durable (flushed) cursor, updated by the background flusher.
    pub fn durable(&self) -> watch::Receiver<Pos> {
        self.shared.durable.subscribe()
    }

    /// A shared handle on the LocalStore (snapshots, digests).
    pub fn store(&self) -> &SharedStore {
        &self.shared.store
    }

    /// The log this engine appends to and applies from.
    pub fn log(&self) -> &Arc<dyn Loglet> {
        &self.shared.log
    }

    /// The switch of engine `name`: on once its enable command has been applied (now or at an
    /// earlier run, as persisted in the base partition).
    pub fn switch(&self, name: &str) -> EngineSwitch {
        self.shared.switch(name)
    }

    /// The engines enabled by command, with the position of their enable command, as of the
    /// current store state.
    pub fn enabled_engines(&self) -> Result<BTreeMap<String, Pos>, EngineError> {
        let snapshot = self.shared.store.snapshot();
        match self
            .shared
            .store
            .existing_partition(&self.shared.opts.partition)
        {
            Some(p) => Ok(control::load_flags(&snapshot, &p)?),
            None => Ok(BTreeMap::new()),
        }
    }

    /// Phase 2 of adding an engine: proposes the command that enables engine `name` on every
    /// replica at the position it lands at. Resolves once applied here.
    pub fn enable_engine(&self, name: &str) -> ProposeFuture {
        let entry = Entry::default().with_header(
            CONTROL_HEADER,
            BaseCommand::EnableEngine(name.into()).encode(),
        );
        self.propose(entry)
    }

    /// Flushes the LocalStore now; returns the durable cursor.
    pub async fn flush(&self) -> Result<Pos, EngineError> {
        flusher::flush(&self.shared).await
    }

    /// Counters.
    pub fn stats(&self) -> BaseStats {
        let c = &self.shared.counters;
        BaseStats {
            proposals: c.proposals.load(Ordering::Relaxed),
            applied: c.applied.load(Ordering::Relaxed),
            sync_calls: c.sync_calls.load(Ordering::Relaxed),
            sync_tail_checks: c.sync_tail_checks.load(Ordering::Relaxed),
            poll_tail_checks: c.poll_tail_checks.load(Ordering::Relaxed),
            flushes: c.flushes.load(Ordering::Relaxed),
            trimmed_to: c.trimmed_to.load(Ordering::Relaxed),
            pending: self.shared.pending.len(),
        }
    }

    /// Why the engine stopped, if it did.
    pub fn stop_reason(&self) -> Option<EngineError> {
        self.shared.pending.stopped()
    }

    /// Waits until the apply loop stops (shutdown or a fatal error).
    pub async fn stopped(&self) {
        self.shared.stopped.cancelled().await
    }

    /// Stops the apply thread and the tasks, flushes and closes the LocalStore, fails every
    /// waiting proposal, and drops the registered upcall. Returns how the apply loop ended (an
    /// earlier fatal error is returned here too).
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.shared.cancel.cancel();
        let running = lock(&self.running).take();
        let unstarted = lock(&self.unstarted).take();
        let mut res = Ok(());
        if let Some(r) = running {
            res = r.apply_done.await.unwrap_or(Err(EngineError::ApplyStopped(
                "the apply thread ended without a report".into(),
            )));
            let _ = r.appender.await;
            let _ = r.flusher.await;
            let _ = tokio::task::spawn_blocking(move || r.apply_thread.join()).await;
        }
        if let Some(u) = unstarted
            && let Err(e) = u.store.close()
        {
            warn!(error = %e, "closing the unstarted engine's store failed");
        }
        self.shared.pending.stop(EngineError::ShutDown);
        self.shared.stopped.cancel();
        self.upcall.clear();
        match res {
            Err(EngineError::ShutDown) => Ok(()),
            other => other,
        }
    }

    /// Signals the apply thread and tasks to stop without waiting, and drops the upcall.
    pub(crate) fn detach(&self) {
        self.shared.cancel.cancel();
        self.upcall.clear();
    }

    fn stamp_and_submit(&self, mut entry: Entry) -> ProposeFuture {
        let shared = &self.shared;
        let counter = shared.counter.fetch_add(1, Ordering::Relaxed);
        shared.counters.proposals.fetch_add(1, Ordering::Relaxed);
        entry.set_header(
            BASE_HEADER,
            Stamp {
                origin: shared.origin,
                counter,
            }
            .encode(),
        );
        let payload = entry.encode();
        let (tx, rx) = oneshot::channel();
        if let Err((_, e)) = shared.pending.insert(counter, tx) {
            return futures::future::ready(Err(e)).boxed();
        }
        if shared
            .append_tx
            .send(AppendRequest { counter, payload })
            .is_err()
        {
            shared.pending.resolve(counter, Err(EngineError::ShutDown));
        }
        async move { rx.await.unwrap_or(Err(EngineError::ShutDown)) }.boxed()
    }
}

impl Drop for BaseEngine {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

#[async_trait]
impl Engine for BaseEngine {
    fn propose(&self, entry: Entry) -> ProposeFuture {
        self.stamp_and_submit(entry)
    }

    async fn sync(&self) -> Result<ReadSnapshot, EngineError> {
        let shared = &self.shared;
        shared.counters.sync_calls.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = shared.pending.stopped() {
            return Err(e);
        }
        let tail = sync_queue::enqueue(shared)
            .await
            .unwrap_or(Err(EngineError::ShutDown))?;
        shared.tail_hint.fetch_max(tail, Ordering::AcqRel);
        shared.wake_apply.notify_one();
        let mut applied = shared.applied.subscribe();
        tokio::select! {
            r = applied.wait_for(|&c| c >= tail) => {
                r.map_err(|_| EngineError::ShutDown)?;
            }
            _ = shared.stopped.cancelled() => {
                return Err(shared.pending.stopped().unwrap_or(EngineError::ShutDown));
            }
        }
        Ok(shared.store.snapshot())
    }

    fn register_upcall(&self, upcall: Arc<dyn Applicator>) -> Result<(), EngineError> {
        self.upcall.register(upcall)
    }

    fn set_trim_prefix(&self, pos: Pos) {
        self.shared.trim_requested.fetch_max(pos, Ordering::AcqRel);
        self.shared.wake_flusher.notify_one();
    }
}
