//! `RwTxn`: the read-write transaction of one apply (`store/`). Buffers writes in an overlay
//! (read-your-writes), commits them with the apply cursor into the staging layer, from which they
//! reach RocksDB (without RocksDB's WAL) in atomic batches. Reads the partitions' column families
//! under the staged layers.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tracing::trace;

use super::cache::ValueCache;
use super::cursor::{CURSOR_KEY, encode_u64};
use super::error::{Result, StoreError};
use super::key_filter::KeyFilters;
use super::local::Inner;
use super::overlay::{MergedIter, Overlay};
use super::partition::{Partition, SYSTEM_PARTITION};
use super::range::KeyRange;
use super::read::{StoreRead, Visitor};
use super::staging::{Shadowed, Source, View};

/// The read-write transaction of one apply.
///
/// Reads see the committed state plus this transaction's own pending writes. Nothing is committed
/// until [`commit`](Self::commit), which stages every pending write and the new apply cursor at
/// once. Dropping the transaction (or [`abort`](Self::abort)) discards it.
///
/// Made by [`LocalStore::begin`](super::LocalStore::begin), which borrows the store mutably: at
/// most one transaction exists at a time, so the staged layers of the last commit over the live
/// database are the state the transaction started from.
pub struct RwTxn<'s> {
    inner: &'s Inner,
    cache: &'s ValueCache,
    filters: &'s KeyFilters,
    /// The staged layers for range scans, taken by the first scan (point reads look into the
    /// staging under its lock instead: a view shares the active layer, which the commit would
    /// then copy).
    view: OnceLock<Arc<View>>,
    overlay: Overlay,
}

impl<'s> RwTxn<'s> {
    pub(crate) fn new(inner: &'s Inner, cache: &'s ValueCache, filters: &'s KeyFilters) -> Self {
        RwTxn {
            inner,
            cache,
            filters,
            view: OnceLock::new(),
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

    /// Ordered iteration over `partition` within `range`, pending and staged writes included.
    pub fn iter<'t>(&'t self, partition: &Partition, range: &KeyRange) -> Result<MergedIter<'t>> {
        let pending: Source<'t> = Box::new(self.overlay.range(partition, range));
        let view = self.view.get_or_init(|| self.inner.view());
        let staged: Source<'t> = Box::new(view.range(partition.name(), range));
        let writes = Shadowed::new(vec![pending, staged]);
        let cf = self.inner.cf(partition)?;
        let db = if range.is_empty() {
            None
        } else {
            Some(self.inner.db.raw_iterator_cf_opt(&cf, range.read_options()))
        };
        Ok(MergedIter::new(db, writes))
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
        let all = self.overlay.into_writes();
        // Only partitions of this store: a foreign one fails the commit before anything is
        // staged (it would fail the spill, much later, for every commit after).
        for partition in all.keys() {
            self.inner.cf(partition)?;
        }
        let (cache, filters) = (self.cache, self.filters);
        self.inner.stage(|st| {
            for (partition, pending) in all {
                for (key, value) in pending {
                    if value.is_some() {
                        // Into the absent-key filter before the database: an extra key costs a
                        // lookup, a missing one would hide the key.
                        filters.add(partition.name(), &key);
                    }
                    cache.written(&partition, &key, value.clone());
                    st.active.put(partition.name(), Bytes::from(key), value);
                }
            }
            st.active.put(
                SYSTEM_PARTITION,
                Bytes::from_static(CURSOR_KEY),
                Some(Bytes::copy_from_slice(&encode_u64(cursor))),
            );
        })?;
        self.inner.set_applied(cursor);
        trace!(cursor, writes, "committed apply transaction");
        Ok(())
    }

    /// Discards the transaction (same as dropping it).
    pub fn abort(self) {}
}

impl RwTxn<'_> {
    /// The committed value of `key` (pending writes not consulted): from the apply cache without
    /// a copy, else absent if the key filter says so, else from the staged layers or the
    /// database, then cached. The filter comes before the staged layers: every staged put is in
    /// it (commits add their keys first), and a create's probe of its new key stops there.
    fn committed(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        if let Some(cached) = self.cache.get(partition, key) {
            return Ok(cached);
        }
        // A partition of another store fails here, whatever the filter says.
        let cf = self.inner.cf(partition)?;
        if !self.filters.may_contain(partition.name(), key) {
            return Ok(None);
        }
        if let Some(value) = self.inner.staged(partition.name(), key) {
            self.cache.put(partition, key, value.clone());
            return Ok(value);
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
