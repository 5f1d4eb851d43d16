//! Log-structured protocol engines and the stack that composes them (DESIGN.md §4; Delos
//! [SOSP] §3, `reference/delos.md` §B).
//!
//! Layer: the platform between the application (above) and the virtual log + LocalStore (below).
//! Engines know nothing of the application that runs on them: they move opaque [`Entry`]s down to
//! the log and back up to an [`Applicator`]. Contents, one concept per file:
//!
//! - [`entry`]: [`Entry`], engine headers plus a payload, and its versioned binary format;
//! - [`wire`]: varints and length-prefixed lists shared by the formats of the engines;
//! - [`traits`]: the [`Engine`] and [`Applicator`] traits;
//! - [`upcall`]: [`UpcallSlot`], where an engine keeps the applicator registered above it;
//! - [`switch`]: [`EngineSwitch`] and [`Activation`], the two-phase enabling of an engine;
//! - [`origin`]: per-incarnation origin ids;
//! - [`error`]: [`EngineError`] (proposals, syncs) and [`ApplyError`] (non-deterministic apply
//!   failures);
//! - [`base`]: [`BaseEngine`], the bottom: apply loop, cursor, sync, flushing and trimming,
//!   engine-enable commands;
//! - [`batching`]: [`BatchingEngine`], group commit;
//! - [`session`]: [`SessionOrderEngine`], per-stream order over a log that may reorder
//!   (speculative execution with pessimistic resend);
//! - [`observer`]: [`ObserverEngine`], latency histograms between two engines;
//! - [`stack`]: [`StackBuilder`] and [`Stack`], the application's stack named in one place, and
//!   the admin path to reconfigure the virtual log.
//!
//! Results are layered: an engine's `propose` returns exactly what the applicator registered
//! above it returned from `apply`; an engine that wraps that result in its own `apply` (a tag
//! byte, a list of sub-results) unwraps it in `propose` and in `post_apply`.

pub mod base;
pub mod batching;
pub mod entry;
pub mod error;
pub mod observer;
pub mod origin;
pub mod session;
pub mod stack;
pub mod switch;
pub mod traits;
pub mod upcall;
pub mod wire;

pub use base::{BaseEngine, BaseOptions};
pub use batching::{BatchingConfig, BatchingEngine};
pub use entry::{Entry, EntryError, HeaderKey};
pub use error::{ApplyError, EngineError};
pub use observer::{LatencySummary, ObserverEngine, ObserverMetrics};
pub use session::{DEFAULT_STREAM, SessionOrderConfig, SessionOrderEngine, StreamId};
pub use stack::{Stack, StackBuilder};
pub use switch::{Activation, EngineSwitch};
pub use traits::{Applicator, Engine, ProposeFuture};
pub use upcall::UpcallSlot;

/// A log position (re-exported from the log layer).
pub use crate::log::Pos;
