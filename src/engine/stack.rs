//! `StackBuilder` and `Stack`: the application names its engine stack in one place, top to
//! bottom, e.g.
//!
//! ```ignore
//! let stack = StackBuilder::on_virtual_log(vlog, store)
//!     .observer("top")
//!     .batching(BatchingConfig::default())
//!     .observer("batching/session")
//!     .session_order(SessionOrderConfig::default())
//!     .build(app_applicator)?;          // "Observer(top)/Batching/Observer(batching/session)/SessionOrder/Base"
//! let result = stack.top().propose(entry).await?;
//! ```
//!
//! Layer: composition of the engines, plus the admin path to reconfigure the virtual log of a
//! running node ([`Stack::reconfigure`]). Builds bottom-up: each engine proposes to the one below
//! and is registered as its upcall; the application's applicator is registered with the top.

use std::sync::Arc;

use crate::log::{Loglet, LogletConfig, Pos, VirtualLog};
use crate::store::{LocalStore, ReadSnapshot};

use super::base::{BaseEngine, BaseOptions};
use super::batching::{BatchingConfig, BatchingEngine};
use super::entry::Entry;
use super::error::EngineError;
use super::observer::{ObserverEngine, ObserverMetrics};
use super::session::{SessionOrderConfig, SessionOrderEngine};
use super::switch::{Activation, EngineSwitch};
use super::traits::{Applicator, Engine, ProposeFuture};

enum LayerSpec {
    Observer(String),
    Batching(BatchingConfig),
    SessionOrder(SessionOrderConfig),
}

/// Names a stack, top to bottom; [`build`](Self::build) puts it together and starts it.
pub struct StackBuilder {
    log: Arc<dyn Loglet>,
    vlog: Option<Arc<VirtualLog>>,
    store: LocalStore,
    base: BaseOptions,
    /// Top to bottom, as named.
    layers: Vec<LayerSpec>,
}

impl std::fmt::Debug for StackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackBuilder")
            .field("layers", &describe(&self.layers))
            .finish_non_exhaustive()
    }
}

fn describe(layers: &[LayerSpec]) -> String {
    let mut parts: Vec<String> = layers
        .iter()
        .map(|l| match l {
            LayerSpec::Observer(name) => format!("Observer({name})"),
            LayerSpec::Batching(_) => "Batching".to_owned(),
            LayerSpec::SessionOrder(_) => "SessionOrder".to_owned(),
        })
        .collect();
    parts.push("Base".to_owned());
    parts.join("/")
}

fn switch_for(base: &BaseEngine, activation: Activation, name: &str) -> EngineSwitch {
    match activation {
        Activation::Always => EngineSwitch::always_on(),
        Activation::OnCommand => base.switch(name),
    }
}

impl StackBuilder {
    /// A stack over any log (no reconfiguration) and `store`.
    pub fn new(log: Arc<dyn Loglet>, store: LocalStore) -> Self {
        StackBuilder {
            log,
            vlog: None,
            store,
            base: BaseOptions::default(),
            layers: Vec::new(),
        }
    }

    /// A stack over a virtual log, which [`Stack::reconfigure`] can switch to another loglet.
    pub fn on_virtual_log(vlog: Arc<VirtualLog>, store: LocalStore) -> Self {
        let mut b = Self::new(vlog.clone(), store);
        b.vlog = Some(vlog);
        b
    }

    /// Options of the base engine.
    pub fn base_options(mut self, opts: BaseOptions) -> Self {
        self.base = opts;
        self
    }

    /// Adds an observer named `name` below the layers named so far.
    pub fn observer(mut self, name: impl Into<String>) -> Self {
        self.layers.push(LayerSpec::Observer(name.into()));
        self
    }

    /// Adds a batching engine below the layers named so far.
    pub fn batching(mut self, cfg: BatchingConfig) -> Self {
        self.layers.push(LayerSpec::Batching(cfg));
        self
    }

    /// Adds a session-order engine below the layers named so far.
    pub fn session_order(mut self, cfg: SessionOrderConfig) -> Self {
        self.layers.push(LayerSpec::SessionOrder(cfg));
        self
    }

    /// Builds the stack bottom-up, registers `app` with the top engine and starts the apply
    /// loop (replaying the log from the store's cursor). Needs a multi-threaded tokio runtime.
    pub fn build(self, app: Arc<dyn Applicator>) -> Result<Stack, EngineError> {
        let description = describe(&self.layers);
        let count = |f: fn(&LayerSpec) -> bool| self.layers.iter().filter(|l| f(l)).count();
        if count(|l| matches!(l, LayerSpec::Batching(_))) > 1
            || count(|l| matches!(l, LayerSpec::SessionOrder(_))) > 1
        {
            return Err(EngineError::InvalidStack(format!(
                "{description}: at most one batching and one session-order engine"
            )));
        }
        let base = BaseEngine::open(self.log, self.store, self.base)?;
        let mut stack = Stack {
            top: base.clone(),
            base: base.clone(),
            batching: None,
            session: None,
            observers: Vec::new(),
            vlog: self.vlog,
            description,
        };
        for layer in self.layers.into_iter().rev() {
            let lower = stack.top.clone();
            let engine: Arc<dyn Engine> = match layer {
                LayerSpec::Observer(name) => {
                    let e = ObserverEngine::new(name, lower.clone());
                    lower.register_upcall(e.clone())?;
                    stack.observers.insert(0, e.clone());
                    e
                }
                LayerSpec::Batching(cfg) => {
                    let switch = switch_for(&base, cfg.activation, BatchingEngine::NAME);
                    let e = BatchingEngine::new(lower.clone(), cfg, switch)?;
                    lower.register_upcall(e.clone())?;
                    stack.batching = Some(e.clone());
                    e
                }
                LayerSpec::SessionOrder(cfg) => {
                    let switch = switch_for(&base, cfg.activation, SessionOrderEngine::NAME);
                    let e =
                        SessionOrderEngine::new(lower.clone(), base.store().clone(), cfg, switch)?;
                    lower.register_upcall(e.clone())?;
                    stack.session = Some(e.clone());
                    e
                }
            };
            stack.top = engine;
        }
        stack.top.register_upcall(app)?;
        base.start()?;
        Ok(stack)
    }
}

/// A running engine stack.
pub struct Stack {
    top: Arc<dyn Engine>,
    base: Arc<BaseEngine>,
    batching: Option<Arc<BatchingEngine>>,
    session: Option<Arc<SessionOrderEngine>>,
    /// Top to bottom.
    observers: Vec<Arc<ObserverEngine>>,
    vlog: Option<Arc<VirtualLog>>,
    description: String,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("description", &self.description)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// The top engine: the application proposes and syncs here.
    pub fn top(&self) -> &Arc<dyn Engine> {
        &self.top
    }

    /// Proposes through the top engine.
    pub fn propose(&self, entry: Entry) -> ProposeFuture {
        self.top.propose(entry)
    }

    /// Proposes through the top engine without asking for the result.
    pub fn propose_detached(&self, entry: Entry) {
        self.top.propose_detached(entry);
    }

    /// A linearizable read snapshot (through the top engine).
    pub async fn sync(&self) -> Result<ReadSnapshot, EngineError> {
        self.top.sync().await
    }

    /// The base engine (cursor, store, engine enabling).
    pub fn base(&self) -> &Arc<BaseEngine> {
        &self.base
    }

    /// The batching engine, if the stack has one.
    pub fn batching(&self) -> Option<&Arc<BatchingEngine>> {
        self.batching.as_ref()
    }

    /// The session-order engine, if the stack has one.
    pub fn session_order(&self) -> Option<&Arc<SessionOrderEngine>> {
        self.session.as_ref()
    }

    /// The observers, top to bottom.
    pub fn observers(&self) -> &[Arc<ObserverEngine>] {
        &self.observers
    }

    /// Every observer's measurements, top to bottom.
    pub fn metrics(&self) -> Vec<ObserverMetrics> {
        self.observers.iter().map(|o| o.metrics()).collect()
    }

    /// The stack, e.g. `"Observer(top)/Batching/SessionOrder/Base"`.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// The virtual log, if the stack runs on one.
    pub fn virtual_log(&self) -> Option<&Arc<VirtualLog>> {
        self.vlog.as_ref()
    }

    /// Admin path: switches the running node's virtual log to a fresh loglet described by
    /// `config` (seal the active segment, extend the chain). Proposals continue meanwhile:
    /// appends that meet the sealed loglet move to the new one. Returns the position where the
    /// new segment starts.
    pub async fn reconfigure(&self, config: LogletConfig) -> Result<Pos, EngineError> {
        let vlog = self.vlog.as_ref().ok_or(EngineError::NotReconfigurable)?;
        let start = vlog.reconfig_extend(config.clone()).await?;
        tracing::info!(start, loglet = %config, "stack reconfigured its log");
        Ok(start)
    }

    /// Whether the stack takes proposals more slowly than they come: its batching queue holds
    /// more than its bound. Proposers that can hold back (connections reading requests) do.
    pub fn congested(&self) -> bool {
        self.batching.as_ref().is_some_and(|b| b.congested())
    }

    /// Waits, up to `within`, until every proposal made so far is applied (or failed) and the
    /// apply loop has reached the log's tail: the first step of a clean shutdown, once nothing
    /// proposes any more. Returns whether it got there in time.
    pub async fn drain(&self, within: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let queued = self.batching.as_ref().map_or(0, |b| b.queued());
            if queued == 0 && self.base.stats().pending == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        matches!(
            tokio::time::timeout_at(deadline, self.sync()).await,
            Ok(Ok(_))
        )
    }

    /// Stops the stack and drops it (its store handles with it, so the store can be reopened).
    pub async fn shutdown(self) -> Result<(), EngineError> {
        self.stop().await
    }

    /// Stops the stack: the apply loop ends, the store is flushed and closed, pending proposals
    /// fail, and the engines let go of each other. For owners that share the stack; the store's
    /// database stays open until the last handle on it (this stack's included) is dropped.
    pub async fn stop(&self) -> Result<(), EngineError> {
        let res = self.base.shutdown().await;
        for o in &self.observers {
            o.detach();
        }
        if let Some(b) = &self.batching {
            b.close().await;
        }
        if let Some(s) = &self.session {
            s.close().await;
        }
        res
    }

    fn detach_all(&self) {
        for o in &self.observers {
            o.detach();
        }
        if let Some(b) = &self.batching {
            b.detach();
        }
        if let Some(s) = &self.session {
            s.detach();
        }
        self.base.detach();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.detach_all();
    }
}
