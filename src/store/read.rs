//! `StoreRead`: the read interface shared by read-write transactions and read-only snapshots
//! (`store/`), so code that only reads can run in apply or on a reader thread alike.

use std::ops::ControlFlow;

use bytes::Bytes;

use super::error::Result;
use super::partition::Partition;
use super::range::KeyRange;

/// The callback of [`StoreRead::for_each`]: called with each `(key, value)`; returning
/// `ControlFlow::Break` stops the scan.
pub type Visitor<'v> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'v;

/// Point reads and ordered range scans over partitions, at one consistent point.
pub trait StoreRead {
    /// The value of `key` in `partition`, if any.
    fn get(&self, partition: &Partition, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// [`get`](Self::get) as `Bytes`: readers that keep values in memory hand them out without
    /// a copy.
    fn get_bytes(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get(partition, key)?.map(Bytes::from))
    }

    /// [`get_bytes`](Self::get_bytes) for a key that every reader asks for (a counter, a
    /// cursor): a snapshot answers it once for all snapshots of the same committed state.
    fn get_bytes_shared(&self, partition: &Partition, key: &[u8]) -> Result<Option<Bytes>> {
        self.get_bytes(partition, key)
    }

    /// Calls `visit` on every entry of `partition` within `range`, in ascending key order, until
    /// it returns `ControlFlow::Break`.
    fn for_each(
        &self,
        partition: &Partition,
        range: &KeyRange,
        visit: &mut Visitor<'_>,
    ) -> Result<()>;

    /// True if `key` exists in `partition`.
    fn contains(&self, partition: &Partition, key: &[u8]) -> Result<bool> {
        Ok(self.get(partition, key)?.is_some())
    }

    /// Every entry of `partition` within `range`, in ascending key order.
    fn scan(&self, partition: &Partition, range: &KeyRange) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.scan_limit(partition, range, usize::MAX)
    }

    /// At most `limit` entries of `partition` within `range`, in ascending key order.
    fn scan_limit(
        &self,
        partition: &Partition,
        range: &KeyRange,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.for_each(partition, range, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(out)
    }

    /// The keys of `partition` within `range`, in ascending order.
    fn keys(&self, partition: &Partition, range: &KeyRange) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.for_each(partition, range, &mut |k, _| {
            out.push(k.to_vec());
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }
}
