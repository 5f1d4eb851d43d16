//! LocalStore: the platform's durable, partitioned key/value state, on RocksDB.
//!
//! Layer: platform (Delos "LocalStore"), below `engine/`. It knows nothing of ZooKeeper, of the
//! log or of engines; it touches only RocksDB and the one directory it is opened on.
//!
//! The model (DESIGN.md §3, delos.md §B):
//! - one **partition** per engine or application, each its own RocksDB column family, so a
//!   [`Partition`] handle reads and writes only its own state;
//! - one read-write transaction ([`RwTxn`]) per apply, with read-your-writes, committed together
//!   with the **apply cursor** (the log position applied up to) into an in-memory staging layer
//!   that keeps each key's last value, and written to RocksDB from there as one atomic
//!   `WriteBatch` per frozen layer (`staging.rs`);
//!   [`LocalStore::begin`] takes `&mut self`, so there is at most one writer, by construction;
//! - cheap consistent [`ReadSnapshot`]s for readers on any thread ([`SharedStore`]);
//! - **the log is the write-ahead log**: RocksDB's WAL is off for our writes, so after a crash the
//!   state is whatever was flushed, and the cursor stored with it says where to replay the log
//!   from. [`LocalStore::flush`] flushes every column family atomically and reports the durable
//!   cursor, below which the log may be trimmed.
//!
//! Cursor convention: the cursor is *exclusive*, the position of the first log entry not yet
//! applied. A fresh store has cursor 0; after applying the entry at position `p`, commit with
//! `p + 1`. Replay starts at the cursor; the log may be trimmed below the durable cursor.

mod cache;
mod cursor;
mod digest;
mod error;
mod key_filter;
mod local;
mod options;
mod overlay;
mod partition;
mod range;
mod read;
mod snapshot;
mod staging;
mod txn;

pub use digest::StateDigest;
pub use error::{Result, StoreError};
pub use local::{LocalStore, SharedStore};
pub use options::{StoreOptions, quiet_thread};
pub use overlay::MergedIter;
pub use partition::{MAX_PARTITION_NAME_LEN, Partition};
pub use range::KeyRange;
pub use read::{StoreRead, Visitor};
pub use snapshot::ReadSnapshot;
pub use txn::RwTxn;
