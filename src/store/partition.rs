//! Partition handles and partition naming (`store/`): a partition is one RocksDB column family,
//! owned by one engine or application. Touches no RocksDB state itself.

use std::fmt;
use std::sync::Arc;

use super::error::{Result, StoreError};

/// The reserved column family holding the store's own state (apply cursor, format version).
/// Not reachable through a [`Partition`] handle.
pub(crate) const SYSTEM_PARTITION: &str = "__system";

/// RocksDB's always-present default column family; unused by the store.
pub(crate) const DEFAULT_CF: &str = "default";

/// Longest partition name accepted.
pub const MAX_PARTITION_NAME_LEN: usize = 64;

/// A handle on one partition of a [`LocalStore`](super::LocalStore).
///
/// Cheap to clone. Reads and writes through it (in an [`RwTxn`](super::RwTxn) or a
/// [`ReadSnapshot`](super::ReadSnapshot)) touch only this partition's column family: the same key
/// in two partitions is two independent entries, and iteration never crosses partitions.
/// Handles are obtained from the store ([`LocalStore::partition`](super::LocalStore::partition)),
/// which checks the name and creates the column family if needed.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    name: Arc<str>,
}

impl Partition {
    /// Only the store makes handles, after validating the name and creating the column family.
    pub(crate) fn new(name: &str) -> Self {
        Partition { name: name.into() }
    }

    /// The partition's name (its column family name).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Partition({:?})", &*self.name)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Checks a user partition name: 1 to 64 characters out of `[A-Za-z0-9._-]`, not starting with
/// `__` (reserved for the store) and not `default` (RocksDB's own column family).
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(StoreError::InvalidPartitionName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name.len() > MAX_PARTITION_NAME_LEN {
        return invalid("longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return invalid("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    if name.starts_with("__") {
        return invalid("names starting with \"__\" are reserved for the store");
    }
    if name == DEFAULT_CF {
        return invalid("\"default\" is RocksDB's own column family");
    }
    Ok(())
}
