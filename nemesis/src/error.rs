//! The library's errors.

use std::path::PathBuf;

/// What can go wrong while setting up, running or checking a campaign.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("the ensemble has no quorum: {0}")]
    Quorum(String),
    #[error("node {node} exited: {log_tail}")]
    NodeExited { node: usize, log_tail: String },
    #[error("zookeeper client: {0}")]
    Client(#[from] zookeeper_client::Error),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("bad arguments: {0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("not available here: {0}")]
    Unavailable(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
