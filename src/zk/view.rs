//! `TreeRead`: read access to the ZooKeeper partition, whatever holds it — a read snapshot, the
//! apply transaction, or the per-command [`Overlay`](super::overlay::Overlay) — and
//! [`StoreView`], its implementation over any [`StoreRead`].
//!
//! Layer: `zk/`; reads the LocalStore through `StoreRead`, writes nothing.

use bytes::Bytes;

use crate::store::{KeyRange, Partition, StoreError, StoreRead, Visitor};

use super::keys;
use super::node::Node;
use super::node_memo::NodeMemo;
use super::path;

/// Point reads and prefix scans of the ZooKeeper partition, plus decoded node lookups.
pub(crate) trait TreeRead {
    /// The raw value of `key`.
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// [`raw`](Self::raw) as `Bytes` (no copy where the reader holds the value in memory).
    fn raw_bytes(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        Ok(self.raw(key)?.map(Bytes::from))
    }

    /// [`raw_bytes`](Self::raw_bytes) of a key every reader asks for (the last zxid): a read
    /// snapshot answers it once per committed state.
    fn raw_bytes_shared(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        self.raw_bytes(key)
    }

    /// Visits every entry whose key starts with `prefix`, in key order, until `Break`.
    fn scan_prefix(&self, prefix: &[u8], visit: &mut Visitor<'_>) -> Result<(), StoreError>;

    /// The node at `path` (`""` is the root, as in ZooKeeper).
    fn node(&self, path: &str) -> Result<Option<Node>, StoreError> {
        read_node(self, path, None)
    }
}

/// The node at `path` read through `r`, decoded through `memo` when there is one.
fn read_node(
    r: &(impl TreeRead + ?Sized),
    path: &str,
    memo: Option<&NodeMemo>,
) -> Result<Option<Node>, StoreError> {
    let path = path::normalize(path);
    let Some(record) = r.raw_bytes(&keys::node(path))? else {
        return Ok(None);
    };
    let (mut node, apart) = match memo {
        Some(memo) => memo.node(path, record)?,
        None => Node::decode(path, record)?,
    };
    if let Some(len) = apart {
        node.attach_data(path, len, r.raw_bytes(&keys::data(path))?)?;
    }
    Ok(Some(node))
}

/// [`TreeRead`] over one partition of a [`StoreRead`] (a snapshot or a transaction).
#[derive(Clone, Copy)]
pub(crate) struct StoreView<'a> {
    store: &'a dyn StoreRead,
    partition: &'a Partition,
    /// Apply's decoded nodes (readers on other threads go without).
    memo: Option<&'a NodeMemo>,
}

impl<'a> StoreView<'a> {
    pub(crate) fn new(store: &'a dyn StoreRead, partition: &'a Partition) -> Self {
        StoreView {
            store,
            partition,
            memo: None,
        }
    }

    /// A view whose node lookups go through `memo`.
    pub(crate) fn with_memo(
        store: &'a dyn StoreRead,
        partition: &'a Partition,
        memo: &'a NodeMemo,
    ) -> Self {
        StoreView {
            store,
            partition,
            memo: Some(memo),
        }
    }

    pub(crate) fn memo(&self) -> Option<&'a NodeMemo> {
        self.memo
    }
}

impl TreeRead for StoreView<'_> {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(self.partition, key)
    }

    fn raw_bytes(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        self.store.get_bytes(self.partition, key)
    }

    fn raw_bytes_shared(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        self.store.get_bytes_shared(self.partition, key)
    }

    fn scan_prefix(&self, prefix: &[u8], visit: &mut Visitor<'_>) -> Result<(), StoreError> {
        self.store
            .for_each(self.partition, &KeyRange::prefix(prefix), visit)
    }

    fn node(&self, path: &str) -> Result<Option<Node>, StoreError> {
        read_node(self, path, self.memo)
    }
}
