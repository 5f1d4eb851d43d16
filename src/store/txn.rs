//! `RwTxn`: the read-write transaction of one apply (`store/`). Buffers writes in an overlay
//! (read-your-writes), commits them with the apply cursor as one atomic RocksDB `WriteBatch`
//! without RocksDB's WAL. Touches the partitions' column families and the system partition.

use bytes::Bytes;
use rocksdb::WriteBatch;
use tracing::trace;

use super::cache::ValueCache;
use super::cursor::{CURSOR_KEY, encode_u64};
use super::error::{Result, StoreError};
use super::key_filter::KeyFilters;
use super::local::Inner;
use super::overlay::{MergedIter, Overlay};
use super::partition::Partition;
use super::range::KeyRange;
use super::read::{StoreRead, Visitor};

/// The read-write transaction of one apply.
///
/// Reads see the committed state plus this transaction's own pending writes. Nothing reaches the
/// database until [`commit`](Self::commit), which writes every pending write and the new apply
/// cursor in one atomic batch. Dropping the transaction (or [`abort`](Self::abort)) discards it.
///
/// Made by [`LocalStore::begin`](super::LocalStore::begin), which borrows the store mutably: at
/// most one transaction exists at a time, so reading the live database is reading the state the
/// transaction started from.
pub struct RwTxn<'s> {
    inner: &'s Inner,
    cache: &'s ValueCache,
    filters: &'s KeyFilters,
    overlay: Overlay,
}

impl<'s> RwTxn<'s> {
    pub(crate) fn new(inner: &'s Inner, cache: &'s ValueCache, filters: &'s KeyFilters) -> Self {
        RwTxn {
            inner,
            cache,
            filters,
            overlay: Overlay::default(),
        }
    }

    /// Sets `key` to `value` in `partition`.
    pub fn put(
        &mut self,
        partition: &Partition,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) {
        self.put_bytes(partition, key, Bytes::from(value.into()));
    }

    /// [`put`](Self::put) of a value already in a `Bytes`: reads of `key` within this
    /// transaction, and of the committed value from the apply cache, hand out this very buffer.
    pub fn put_bytes(&mut self, partition: &Partition, key: impl Into<Vec<u8>>, value: Bytes) {
        self.overlay.put(partition, key.into(), value);
    }

    /// Removes `key` from `partition` (a no-op if it does not exist).
    pub fn delete(&mut self, partition: &Partition, key: impl Into<Vec<u8>>) {
        self.overlay.delete(partition, key.into());
    }

    /// Ordered iteration over `partition` within `range`, pending writes included.
    pub fn iter<'t>(&'t self, partition: &Partition, range: &KeyRange) -> Result<MergedIter<'t>> {
        let overlay = self.overlay.range(partition, range);
        let cf = self.inner.cf(partition)?;
        let db = if range.is_empty() {
            None
        } else {
            Some(self.inner.db.raw_iterator_cf_opt(&cf, range.read_options()))
        };
        Ok(MergedIter::new(db, overlay))
    }

    /// Returns the partition `name`, creating it (empty) if needed. Creating a partition is not
    /// part of the transaction: it stays even if the transaction is dropped.
    pub fn partition(&self, name: &str) -> Result<Partition> {
        self.inner.partition(name)
    }

    /// The apply cursor this transaction started from.
    pub fn applied_cursor(&self) -> u64 {
        self.inner.applied()
    }

    /// Number of pending writes (puts and deletes, one per key).
    pub fn pending_writes(&self) -> usize {
        self.overlay.len()
    }

    /// Atomically writes every pending write together with the apply cursor `cursor` (the first
    /// log position not yet applied once this commits). The cursor may not go backwards.
    /// On error nothing is written.
    pub fn commit(self, cursor: u64) -> Result<()> {
        let stored = self.inner.applied();
        if cursor < stored {
            return Err(StoreError::CursorRegression {
                stored,
                requested: cursor,
            });
        }
        let writes = self.overlay.len();
        let mut batch = WriteBatch::default();
        let all = self.overlay.into_writes();
        for (partition, pending) in &all {
            let cf = self.inner.cf(partition)?;
            for (key, value) in pending {
                match value {
                    Some(value) => {
                        // Into the absent-key filter before the database: an extra key costs a
                        // lookup, a missing one would hide the key.
                        self.filters.add(partition.name(), key);
                        batch.put_cf(&cf, key, value);
                    }
                    None => batch.delete_cf(&cf, key),
                }
            }
        }
        let system = self.inner.system_cf()?;
        batch.put_cf(&system, CURSOR_KEY, encode_u64(cursor));
        if let Err(e) = self.inner.db.write_opt(batch, self.inner.write_options()) {
            self.cache.clear();
            return Err(e.into());
        }
        self.inner.set_applied(cursor);
        for (partition, pending) in all {
            for (key, value) in pending {
                self.cache.written(&partition, &key, value);
            }
        }
        trace!(cursor, writes, "committed apply transaction");
        Ok(())
    }

    /// Discards the transaction (same as dropping it).
    pub fn abort(self) {}
}

impl RwTxn<'_> {
    /// The committed value of `key` (pending writes not consulted): from the apply cache without
    /// a copy, else absent if the key filter says so, else from the database, then cached.
    fn committed(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        if let Some(cached) = self.cache.get(partition, key) {
            return Ok(cached);
        }
        let cf = self.inner.cf(partition)?;
        if !self.filters.may_contain(partition.name(), key) {
            return Ok(None);
        }
        let value = self
            .inner
            .db
            .get_pinned_cf(&cf, key)?
            .map(|v| Bytes::copy_from_slice(&v));
        // Only values that exist: a create probes a key that is absent once and never again.
        if let Some(v) = &value {
            self.cache.put(partition, key, Some(v.clone()));
        }
        Ok(value)
    }
}

impl StoreRead for RwTxn<'_> {
    fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(pending) = self.overlay.get(partition, key) {
            return Ok(pending.map(|v| v.to_vec()));
        }
        Ok(self.committed(partition, key)?.map(|v| v.to_vec()))
    }

    /// Values from the apply cache come out without a copy.
    fn get_bytes(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        if let Some(pending) = self.overlay.get(partition, key) {
            return Ok(pending.cloned());
        }
        self.committed(partition, key)
    }

    fn for_each(
        &self,
        partition: &Partition,
        range: &KeyRange,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        for entry in self.iter(partition, range)? {
            let (key, value) = entry?;
            if visit(&key, &value).is_break() {
                break;
            }
        }
        Ok(())
    }
}
