//! `UpcallSlot`: where an engine keeps the applicator registered above it.
//!
//! Layer: a small helper of every engine; touches nothing else. Registration happens once, while
//! the stack is built; [`UpcallSlot::clear`] drops the reference when the stack shuts down, which
//! breaks the reference cycle between an engine (holding the layer below to propose) and the
//! layer below (holding the engine as its upcall).

use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;

use crate::log::Pos;
use crate::store::RwTxn;

use super::entry::Entry;
use super::error::{ApplyError, EngineError};
use super::traits::Applicator;

/// The applicator registered above an engine, if any.
#[derive(Default)]
pub struct UpcallSlot {
    slot: RwLock<Option<Arc<dyn Applicator>>>,
}

impl std::fmt::Debug for UpcallSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpcallSlot")
            .field("registered", &self.get().is_some())
            .finish()
    }
}

impl UpcallSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `upcall`; fails if one is registered.
    pub fn register(&self, upcall: Arc<dyn Applicator>) -> Result<(), EngineError> {
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            return Err(EngineError::AlreadyRegistered);
        }
        *slot = Some(upcall);
        Ok(())
    }

    /// The registered applicator.
    pub fn get(&self) -> Option<Arc<dyn Applicator>> {
        self.slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops the registered applicator (at shutdown).
    pub fn clear(&self) {
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Calls the registered applicator's `apply`. With none registered (a stack being torn
    /// down) the apply loop must stop rather than skip the entry.
    pub fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(up) => up.apply(txn, entry, pos),
            None => Err(ApplyError::Fatal(format!(
                "no applicator registered to apply the entry at {pos}"
            ))),
        }
    }

    /// Calls the registered applicator's `post_apply`, if any.
    pub fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes) {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(up) = slot.as_ref() {
            up.post_apply(entry, pos, result);
        }
    }

    /// Calls the registered applicator's `post_apply_done`, if any.
    pub fn post_apply_done(&self) {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(up) = slot.as_ref() {
            up.post_apply_done();
        }
    }
}
