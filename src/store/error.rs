//! Typed errors of the LocalStore layer (`store/`). Touches nothing; other store files use it.

use std::path::PathBuf;

/// The result type of every fallible LocalStore operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the LocalStore.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error (I/O, corruption, lock held by another process, ...).
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),

    /// The store directory could not be created.
    #[error("store directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A partition name that is not allowed (empty, too long, bad characters, reserved).
    #[error("invalid partition name {name:?}: {reason}")]
    InvalidPartitionName { name: String, reason: &'static str },

    /// A partition handle that does not belong to this store.
    #[error("unknown partition {0:?}")]
    UnknownPartition(String),

    /// A commit tried to move the apply cursor backwards.
    #[error("apply cursor would go backwards: stored {stored}, commit asked for {requested}")]
    CursorRegression { stored: u64, requested: u64 },

    /// Staged writes could not be written to RocksDB; no commit is accepted after that.
    #[error("staged writes could not reach the database: {0}")]
    Spill(String),

    /// The on-disk system state is not what this version writes.
    #[error("corrupt or incompatible store: {0}")]
    Corrupt(String),
}
