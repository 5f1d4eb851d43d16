//! `ReadSnapshot`: a consistent read-only view of every partition (`store/`), for readers on any
//! thread while the apply loop keeps committing. Reads the staged layers of one commit over a
//! RocksDB snapshot taken after it (see `staging.rs`); writes nothing.
//!
//! A RocksDB snapshot borrows the database it came from. To hand out snapshots that own their
//! database reference (`'static`, `Send`, `Sync`), the snapshot and the `Arc` keeping the database
//! alive live together in a `self_cell`, which guarantees the snapshot is released before the
//! `Arc` is dropped, without any `unsafe` here.

use std::sync::Arc;

use bytes::Bytes;
use rocksdb::{DBRawIteratorWithThreadMode, SnapshotWithThreadMode};

use super::cursor::{CURSOR_KEY, decode_cursor};
use super::error::{Result, StoreError};
use super::local::{Db, Inner};
use super::partition::Partition;
use super::partition::SYSTEM_PARTITION;
use super::range::KeyRange;
use super::read::{StoreRead, Visitor};
use super::staging::{Shadowed, View};

type DbSnapshot<'db> = SnapshotWithThreadMode<'db, Db>;

self_cell::self_cell!(
    /// The shared store state and a RocksDB snapshot borrowing its database.
    struct SnapshotCell {
        owner: Arc<Inner>,

        #[covariant]
        dependent: DbSnapshot,
    }
);

/// A consistent, read-only view of every partition at the moment it was taken.
///
/// Cheap to take (a RocksDB snapshot, no copy), `Send` and `Sync`; later commits are invisible to
/// it. It keeps the database open (and old versions of keys alive) while it exists: readers
/// should not hold one for long.
pub struct ReadSnapshot {
    cell: SnapshotCell,
    /// The staged writes of the commit the snapshot shows, over the RocksDB snapshot.
    view: Arc<View>,
}

impl ReadSnapshot {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        loop {
            let view = inner.view();
            let cell = SnapshotCell::new(inner.clone(), |inner| inner.db.snapshot());
            // Taken after the view: if no spill started meanwhile, RocksDB holds nothing newer
            // than the view's layers. Otherwise (rare: one spill per many thousand keys) again.
            if view.consistent_with(cell.borrow_owner().spills_started()) {
                return ReadSnapshot { cell, view };
            }
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        self.cell.borrow_owner()
    }

    /// The apply cursor this snapshot reflects: every log entry below it is applied in it.
    pub fn cursor(&self) -> Result<u64> {
        let stored = self.shared(SYSTEM_PARTITION, CURSOR_KEY, || {
            let system = self.inner().system_cf()?;
            let value = self
                .cell
                .borrow_dependent()
                .get_pinned_cf(&system, CURSOR_KEY)?;
            Ok(value.map(|v| Bytes::copy_from_slice(&v)))
        })?;
        decode_cursor(stored.as_deref())
    }

    /// The value of `key` in the column family `cf`: staged, else the answer a snapshot of the
    /// same view already read, else `read` (its answer kept with the view for the next
    /// snapshots).
    fn shared(
        &self,
        cf: &str,
        key: &[u8],
        read: impl FnOnce() -> Result<Option<Bytes>>,
    ) -> Result<Option<Bytes>> {
        if let Some(staged) = self.view.get(cf, key) {
            return Ok(staged.cloned());
        }
        if let Some(shared) = self.view.shared_read(cf, key) {
            return Ok(shared);
        }
        let value = read()?;
        self.view.remember_read(cf, key, value.clone());
        Ok(value)
    }

    /// The user partitions that exist now, in name order.
    pub fn partitions(&self) -> Vec<Partition> {
        self.inner().partitions()
    }

    /// Visits the entries of one column family within `range`, in key order.
    pub(crate) fn for_each_cf(
        &self,
        cf_name: &str,
        range: &KeyRange,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let inner = self.inner();
        let cf = inner
            .db
            .cf_handle(cf_name)
            .ok_or_else(|| StoreError::UnknownPartition(cf_name.to_owned()))?;
        let snapshot = self.cell.borrow_dependent();
        let mut it = snapshot.raw_iterator_cf_opt(&cf, range.read_options());
        it.seek_to_first();
        visit_merged(&mut it, self.view.range(cf_name, range), visit)
    }
}

/// Visits the database iterator's entries merged with the staged writes (which win on equal
/// keys; a staged delete hides the stored entry), in key order.
fn visit_merged<D: rocksdb::DBAccess>(
    it: &mut DBRawIteratorWithThreadMode<'_, D>,
    staged: Shadowed<'_>,
    visit: &mut Visitor<'_>,
) -> Result<()> {
    let mut staged = staged.peekable();
    loop {
        let next_staged = staged.peek().map(|(k, _)| *k);
        match (it.item(), next_staged) {
            (None, None) => break,
            (Some((key, value)), next) if next.is_none_or(|s| key < s) => {
                if visit(key, value).is_break() {
                    return Ok(());
                }
                it.next();
            }
            (stored, _) => {
                let Some((key, value)) = staged.next() else {
                    break;
                };
                if stored.is_some_and(|(k, _)| k == key) {
                    it.next();
                }
                if let Some(value) = value
                    && visit(key, value).is_break()
                {
                    return Ok(());
                }
            }
        }
    }
    it.status()?;
    Ok(())
}

impl StoreRead for ReadSnapshot {
    fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(staged) = self.view.get(partition.name(), key) {
            return Ok(staged.map(|v| v.to_vec()));
        }
        let cf = self.inner().cf(partition)?;
        let value = self.cell.borrow_dependent().get_pinned_cf(&cf, key)?;
        Ok(value.map(|v| v.to_vec()))
    }

    /// Staged values come out without a copy.
    fn get_bytes(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        if let Some(staged) = self.view.get(partition.name(), key) {
            return Ok(staged.cloned());
        }
        let cf = self.inner().cf(partition)?;
        let value = self.cell.borrow_dependent().get_pinned_cf(&cf, key)?;
        Ok(value.map(|v| Bytes::copy_from_slice(&v)))
    }

    /// Answered once per committed state: every snapshot that shares this one's view shares the
    /// answer.
    fn get_bytes_shared(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.shared(partition.name(), key, || self.get_bytes(partition, key))
    }

    fn for_each(
        &self,
        partition: &Partition,
        range: &KeyRange,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.for_each_cf(partition.name(), range, visit)
    }
}
