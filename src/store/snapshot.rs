//! `ReadSnapshot`: a consistent read-only view of every partition (`store/`), for readers on any
//! thread while the apply loop keeps committing. Reads RocksDB through a RocksDB snapshot; writes
//! nothing.
//!
//! A RocksDB snapshot borrows the database it came from. To hand out snapshots that own their
//! database reference (`'static`, `Send`, `Sync`), the snapshot and the `Arc` keeping the database
//! alive live together in a `self_cell`, which guarantees the snapshot is released before the
//! `Arc` is dropped, without any `unsafe` here.

use std::sync::Arc;

use rocksdb::SnapshotWithThreadMode;

use super::cursor::{CURSOR_KEY, decode_cursor};
use super::error::{Result, StoreError};
use super::local::{Db, Inner};
use super::partition::Partition;
use super::range::KeyRange;
use super::read::{StoreRead, Visitor};

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
}

impl ReadSnapshot {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        ReadSnapshot {
            cell: SnapshotCell::new(inner, |inner| inner.db.snapshot()),
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        self.cell.borrow_owner()
    }

    /// The apply cursor this snapshot reflects: every log entry below it is applied in it.
    pub fn cursor(&self) -> Result<u64> {
        let inner = self.inner();
        let system = inner.system_cf()?;
        let stored = self
            .cell
            .borrow_dependent()
            .get_pinned_cf(&system, CURSOR_KEY)?;
        decode_cursor(stored.as_deref())
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
        while let Some((key, value)) = it.item() {
            if visit(key, value).is_break() {
                return Ok(());
            }
            it.next();
        }
        it.status()?;
        Ok(())
    }
}

impl StoreRead for ReadSnapshot {
    fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let cf = self.inner().cf(partition)?;
        let value = self.cell.borrow_dependent().get_pinned_cf(&cf, key)?;
        Ok(value.map(|v| v.to_vec()))
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
