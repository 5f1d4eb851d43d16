//! Tuning of the [`BatchingEngine`](super::BatchingEngine). Data only.

use crate::engine::switch::Activation;

/// How a [`BatchingEngine`](super::BatchingEngine) groups proposals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchingConfig {
    /// Most proposals in one batch entry.
    pub max_entries: usize,
    /// Most encoded bytes of proposals in one batch entry (a single larger proposal still goes,
    /// alone).
    pub max_bytes: usize,
    /// Batches proposed to the layer below and not yet applied; proposals arriving while this
    /// many are in flight wait and go together into the next batch (group commit).
    pub max_in_flight: usize,
    /// Encoded bytes of proposals waiting for a batch past which the engine reports itself
    /// congested ([`BatchingEngine::congested`](super::BatchingEngine::congested)): proposers
    /// that can hold back (connections reading requests) do, so the queue stays bounded.
    pub max_queued_bytes: usize,
    /// Whether the engine acts from the start or after its enable command.
    pub activation: Activation,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        BatchingConfig {
            max_entries: 256,
            max_bytes: 1 << 20,
            max_in_flight: 2,
            max_queued_bytes: 64 << 20,
            activation: Activation::Always,
        }
    }
}
