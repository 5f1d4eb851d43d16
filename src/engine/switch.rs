//! Two-phase enabling of an engine (Delos [SOSP] §3): an engine added to a running deployment is
//! first deployed *disabled* everywhere (phase 1: it passes proposals and entries through
//! unchanged and changes no state), then *enabled* by a command in the log (phase 2), which every
//! replica applies at the same log position.
//!
//! Layer: shared between the base engine, which owns the persisted flags and flips the switches
//! when it applies an enable command, and the engines that consult them. An [`EngineSwitch`] is
//! read in apply, so it must only ever change on the apply thread, between two entries: it is
//! then a deterministic function of the log prefix applied so far.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How an engine of a stack is switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// The engine is part of the stack from the first log entry on (a new deployment).
    #[default]
    Always,
    /// The engine is deployed disabled and acts only after its enable command is applied
    /// (`BaseEngine::enable_engine`). The flag is persisted in the base engine's partition.
    OnCommand,
}

/// Whether an engine acts. Cheap to clone and to read.
#[derive(Debug, Clone)]
pub struct EngineSwitch {
    on: Arc<AtomicBool>,
}

impl EngineSwitch {
    /// A switch that is on and never changes (for [`Activation::Always`]).
    pub fn always_on() -> Self {
        Self::new(true)
    }

    pub(crate) fn new(on: bool) -> Self {
        EngineSwitch {
            on: Arc::new(AtomicBool::new(on)),
        }
    }

    /// True once the engine is enabled.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Flips the switch on. Only the base engine's apply loop calls it.
    pub(crate) fn turn_on(&self) {
        self.on.store(true, Ordering::Release);
    }
}
