//! Tuning of the [`SessionOrderEngine`](super::SessionOrderEngine). Data only.

use std::time::Duration;

use crate::engine::switch::Activation;

/// How a [`SessionOrderEngine`](super::SessionOrderEngine) runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOrderConfig {
    /// The engine's LocalStore partition (the next expected sequence number per stream).
    pub partition: String,
    /// Whether the engine acts from the start or after its enable command.
    pub activation: Activation,
    /// First wait before retrying a resend that failed to reach the log.
    pub resend_backoff_min: Duration,
    /// Longest wait between resend retries.
    pub resend_backoff_max: Duration,
}

impl Default for SessionOrderConfig {
    fn default() -> Self {
        SessionOrderConfig {
            partition: "session_order".to_owned(),
            activation: Activation::Always,
            resend_backoff_min: Duration::from_millis(1),
            resend_backoff_max: Duration::from_millis(100),
        }
    }
}
