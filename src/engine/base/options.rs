//! Tuning of the [`BaseEngine`](super::BaseEngine): apply-loop polling and read sizes, the
//! background flush policy. Data only.

use std::time::Duration;

/// How a [`BaseEngine`](super::BaseEngine) runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseOptions {
    /// The base engine's own LocalStore partition (engine-enable flags).
    pub partition: String,
    /// When the apply loop has nothing to do, it checks the log's tail this often, to find
    /// entries appended by other replicas.
    pub tail_poll_interval: Duration,
    /// Most entries read from the log at once.
    pub read_batch: u64,
    /// The LocalStore is flushed at least this often when entries were applied.
    pub flush_interval: Duration,
    /// …and also whenever this many entries were applied since the last flush request.
    pub flush_every: u64,
    /// Wait before retrying a failed log read (a non-fatal error, e.g. a loglet being reopened).
    pub read_retry: Duration,
}

impl Default for BaseOptions {
    fn default() -> Self {
        BaseOptions {
            partition: "base".to_owned(),
            tail_poll_interval: Duration::from_millis(2),
            read_batch: 512,
            flush_interval: Duration::from_secs(1),
            flush_every: 50_000,
            read_retry: Duration::from_millis(10),
        }
    }
}
