//! Errors of the virtual-log layer (`log/`).
//!
//! One typed error for every loglet, the MetaStore and the VirtualLog, so that a caller can match
//! on the condition (sealed, trimmed, version conflict) whatever loglet produced it. It is `Clone`
//! because one failure of a group commit is reported to every append of the batch.

use std::path::PathBuf;
use std::sync::Arc;

use super::Pos;

/// Result alias of the `log` layer.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// Everything that can go wrong in the `log` layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// The loglet (or the whole virtual log) is sealed: it takes no more appends.
    #[error("loglet is sealed")]
    Sealed,
    /// The position was removed by a prefix trim.
    #[error("position {pos} is below the trim point {trim_point}")]
    Trimmed {
        /// The position that was asked for.
        pos: Pos,
        /// The first position that is still readable.
        trim_point: Pos,
    },
    /// A conditional write of the MetaStore found another version than the expected one.
    #[error("version conflict: expected version {expected}, found {actual}")]
    VersionConflict {
        /// The version the writer based its update on.
        expected: u64,
        /// The version the register holds.
        actual: u64,
    },
    /// A racing reconfiguration won; this one was not installed (the chain has been reloaded).
    #[error("reconfiguration lost a race: chain version {expected} was replaced")]
    ReconfigConflict {
        /// The chain version this reconfiguration was based on.
        expected: u64,
    },
    /// The active segment is sealed and no successor segment appeared in time.
    #[error(
        "active segment at {start} is sealed and the chain has no successor after {waited_ms} ms"
    )]
    NoSuccessor {
        /// Global start position of the sealed active segment.
        start: Pos,
        /// How long the caller waited for a reconfiguration to finish.
        waited_ms: u64,
    },
    /// The MetaStore holds no chain yet.
    #[error("the metastore holds no chain")]
    NoChain,
    /// A failure injected by a test loglet; nothing was appended.
    #[error("injected failure")]
    Injected,
    /// An entry exceeds the maximum entry size.
    #[error("entry of {len} bytes exceeds the maximum of {max} bytes")]
    EntryTooLarge {
        /// Size of the rejected entry.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// On-disk or serialized data is damaged where it may not be (not a torn tail).
    #[error("corrupt data in {what}: {detail}")]
    Corrupt {
        /// What was being decoded (a file path, "chain", …).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A loglet configuration that no factory can open, or that is not usable here.
    #[error("invalid loglet config: {0}")]
    InvalidConfig(String),
    /// A directory is already opened by another LocalLoglet or process.
    #[error("{path} is locked by another user")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The loglet is shut down, or failed earlier and must be reopened (e.g. after an fsync error).
    #[error("loglet is unavailable: {0}")]
    Unavailable(String),
    /// An I/O error on a file of the log.
    #[error("i/o error during {op} on {path}: {source}")]
    Io {
        /// The operation (open, write, fdatasync, rename, …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

impl LogError {
    /// Wraps an I/O error with its operation and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogError::Io {
            op,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Shorthand for a [`LogError::Corrupt`].
    pub fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        LogError::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
