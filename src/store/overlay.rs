//! The write overlay of a read-write transaction and the iterator that merges it over the
//! database (`store/`). Reads RocksDB through a raw iterator; writes nothing.
//!
//! The overlay holds, per partition, the last pending write of each key: `Some(value)` for a put,
//! `None` for a delete. It is a hash map: apply puts and reads it several times per command, and
//! only a range scan (rare in apply) needs its keys in order, which it sorts then. Iteration walks
//! the database and the overlay side by side in key order; on equal keys the overlay wins, and a
//! pending delete hides the stored entry.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::iter::Peekable;

use bytes::Bytes;
use rocksdb::DBRawIteratorWithThreadMode;

use super::error::{Result, StoreError};
use super::local::Db;
use super::partition::Partition;
use super::range::KeyRange;
use super::staging::Shadowed;

/// Pending writes of one partition: key -> `Some(value)` (put) or `None` (delete). Values are
/// `Bytes` so that reading a pending value back hands out the same buffer instead of a copy.
/// Fixed hash seeds: nothing depends on the map's order, but a run is repeatable.
pub(crate) type PartitionWrites = HashMap<Vec<u8>, Option<Bytes>, ahash::RandomState>;

/// A pending write in a range: `(key, Some(value))` put, `(key, None)` deleted.
pub(crate) type PendingEntry<'a> = (&'a [u8], Option<&'a Bytes>);

/// Pending writes of a transaction, per partition.
#[derive(Default)]
pub(crate) struct Overlay {
    writes: BTreeMap<Partition, PartitionWrites>,
}

impl Overlay {
    pub(crate) fn put(&mut self, partition: &Partition, key: Vec<u8>, value: Bytes) {
        self.partition_mut(partition).insert(key, Some(value));
    }

    pub(crate) fn delete(&mut self, partition: &Partition, key: Vec<u8>) {
        self.partition_mut(partition).insert(key, None);
    }

    fn partition_mut(&mut self, partition: &Partition) -> &mut PartitionWrites {
        self.writes
            .entry(partition.clone())
            .or_insert_with(|| HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)))
    }

    /// The pending write of `key`: `Some(Some(v))` put, `Some(None)` deleted, `None` untouched.
    pub(crate) fn get(&self, partition: &Partition, key: &[u8]) -> Option<Option<&Bytes>> {
        self.writes
            .get(partition)
            .and_then(|w| w.get(key))
            .map(Option::as_ref)
    }

    /// Pending writes of `partition` within `range`, in key order.
    pub(crate) fn range<'a>(
        &'a self,
        partition: &Partition,
        range: &KeyRange,
    ) -> std::vec::IntoIter<PendingEntry<'a>> {
        let mut entries: Vec<PendingEntry<'a>> = match self.writes.get(partition) {
            Some(writes) if !range.is_empty() => writes
                .iter()
                .filter(|(k, _)| range.contains(k))
                .map(|(k, v)| (k.as_slice(), v.as_ref()))
                .collect(),
            _ => Vec::new(),
        };
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries.into_iter()
    }

    /// Every pending write, by partition, for the commit.
    pub(crate) fn into_writes(self) -> BTreeMap<Partition, PartitionWrites> {
        self.writes
    }

    /// Number of pending writes.
    pub(crate) fn len(&self) -> usize {
        self.writes.values().map(HashMap::len).sum()
    }
}

/// Ordered iteration over one partition of a read-write transaction: the database merged with
/// the staged writes and the transaction's own pending ones. Yields `(key, value)` pairs in key
/// order; an error from RocksDB is yielded once, then the iterator ends.
pub struct MergedIter<'t> {
    db: Option<DBRawIteratorWithThreadMode<'t, Db>>,
    overlay: Peekable<Shadowed<'t>>,
    done: bool,
}

impl<'t> MergedIter<'t> {
    pub(crate) fn new(
        mut db: Option<DBRawIteratorWithThreadMode<'t, Db>>,
        overlay: Shadowed<'t>,
    ) -> Self {
        if let Some(it) = db.as_mut() {
            it.seek_to_first();
        }
        MergedIter {
            db,
            overlay: overlay.peekable(),
            done: false,
        }
    }

    fn advance_db(&mut self) {
        if let Some(it) = self.db.as_mut() {
            it.next();
        }
    }
}

impl Iterator for MergedIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let db_key = match &self.db {
                Some(it) if it.valid() => it.key(),
                Some(it) => {
                    if let Err(e) = it.status() {
                        self.done = true;
                        return Some(Err(StoreError::from(e)));
                    }
                    None
                }
                None => None,
            };
            let order = match (db_key, self.overlay.peek()) {
                (None, None) => {
                    self.done = true;
                    return None;
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(db_key), Some((overlay_key, _))) => db_key.cmp(overlay_key),
            };
            match order {
                Ordering::Less => {
                    let entry = self
                        .db
                        .as_ref()
                        .and_then(|it| it.item())
                        .map(|(k, v)| (k.to_vec(), v.to_vec()));
                    self.advance_db();
                    if let Some(entry) = entry {
                        return Some(Ok(entry));
                    }
                    continue;
                }
                // The pending write shadows the stored entry.
                Ordering::Equal => self.advance_db(),
                Ordering::Greater => {}
            }
            if let Some((key, Some(value))) = self.overlay.next() {
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
            // A pending delete: nothing to yield for this key.
        }
    }
}
