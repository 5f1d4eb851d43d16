//! `Overlay`: the write buffer of one ZooKeeper command. Apply executes a command against it,
//! reading through it (its own writes first, then the store), and writes it into the shared
//! apply transaction only if the command succeeds — so each command is atomic even when a batch
//! of commands shares one `RwTxn`. ZooKeeper's counterpart is the list of pending change records
//! that a failed multi rolls back.
//!
//! Layer: `zk/`; reads the store through [`StoreView`], writes into an `RwTxn` only in
//! [`Writes::write_to`]. Deterministic: ordered maps only.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use bytes::Bytes;

use crate::store::{Partition, RwTxn, StoreError, Visitor};

use super::keys;
use super::node::{DataKey, Node};
use super::path;
use super::view::{StoreView, TreeRead};

/// Pending writes of one command over a base view. A node's data stored apart (its `d` key) is
/// written, kept or deleted with the node.
pub(crate) struct Overlay<'a> {
    base: StoreView<'a>,
    /// Decoded node records by canonical path; `None` = deleted.
    nodes: BTreeMap<String, Option<Node>>,
    /// Other keys (indexes, sessions); `None` = deleted.
    raw: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Paths of nodes removed with their data stored apart: their `d` key goes, unless a node
    /// created there again stores its own.
    data_gone: BTreeSet<String>,
    /// Nodes created minus nodes deleted.
    node_count_delta: i64,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(base: StoreView<'a>) -> Self {
        Overlay {
            base,
            nodes: BTreeMap::new(),
            raw: BTreeMap::new(),
            data_gone: BTreeSet::new(),
            node_count_delta: 0,
        }
    }

    /// Sets the node at `path` (an update; see [`add_node`](Self::add_node) for a new node).
    pub(crate) fn put_node(&mut self, path: &str, node: Node) {
        self.nodes
            .insert(path::normalize(path).to_owned(), Some(node));
    }

    /// Stores a new node and counts it.
    pub(crate) fn add_node(&mut self, path: &str, node: Node) {
        self.put_node(path, node);
        self.node_count_delta += 1;
    }

    /// Removes `node`, the node at `path`, and uncounts it.
    pub(crate) fn remove_node(&mut self, path: &str, node: &Node) {
        let path = path::normalize(path);
        if node.had_data_apart() || node.data_apart() {
            self.data_gone.insert(path.to_owned());
        }
        self.nodes.insert(path.to_owned(), None);
        self.node_count_delta -= 1;
    }

    pub(crate) fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.raw.insert(key, Some(value));
    }

    pub(crate) fn delete_raw(&mut self, key: Vec<u8>) {
        self.raw.insert(key, None);
    }

    /// This command's write of `key`, if it made one: `Some(None)` for a delete.
    fn pending(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        if let Some(path) = keys::node_path(key)
            && let Some(pending) = self.nodes.get(path)
        {
            return Some(pending.as_ref().map(Node::encode));
        }
        if key.first() == Some(&keys::DATA)
            && let Ok(path) = std::str::from_utf8(&key[1..])
            && let Some(pending) = self.nodes.get(path)
        {
            let apart = pending.as_ref().filter(|n| n.data_apart());
            return Some(apart.and_then(|n| n.data()).map(|d| d.to_vec()));
        }
        self.raw.get(key).cloned()
    }

    /// The writes to make, with the node count brought up to date: each key once (node records,
    /// their data keys and other keys never share a key), so their order does not matter. The
    /// base's node memo (if any) learns the encodings of the nodes written.
    pub(crate) fn into_writes(self) -> Result<Writes, StoreError> {
        let memo = self.base.memo();
        let mut writes: Vec<(Vec<u8>, Option<Bytes>)> =
            Vec::with_capacity(self.raw.len() + self.nodes.len() + 1);
        writes.extend(self.raw.into_iter().map(|(k, v)| (k, v.map(Bytes::from))));
        for (path, node) in self.nodes {
            let data_key = match &node {
                Some(node) => match node.data_key() {
                    DataKey::Keep if self.data_gone.contains(&path) && !node.data_apart() => {
                        DataKey::Delete
                    }
                    k => k,
                },
                None if self.data_gone.contains(&path) => DataKey::Delete,
                None => DataKey::Keep,
            };
            match data_key {
                DataKey::Keep => {}
                DataKey::Put(d) => writes.push((keys::data(&path), Some(d))),
                DataKey::Delete => writes.push((keys::data(&path), None)),
            }
            let value = match node {
                Some(node) => {
                    let raw = Bytes::from(node.encode());
                    if let Some(memo) = memo {
                        memo.wrote(&path, &raw, node.written());
                    }
                    Some(raw)
                }
                None => {
                    if let Some(memo) = memo {
                        memo.forget(&path);
                    }
                    None
                }
            };
            writes.push((keys::node(&path), value));
        }
        if self.node_count_delta != 0 {
            let count = node_count(&self.base)?;
            let new = count.saturating_add_signed(self.node_count_delta);
            writes.push((
                keys::META_NODE_COUNT.to_vec(),
                Some(Bytes::copy_from_slice(&new.to_be_bytes())),
            ));
        }
        Ok(Writes(writes))
    }
}

/// The stored number of znodes (0 before initialisation).
pub(crate) fn node_count(r: &dyn TreeRead) -> Result<u64, StoreError> {
    match r.raw_bytes(keys::META_NODE_COUNT)? {
        None => Ok(0),
        Some(v) => {
            let raw: [u8; 8] = v[..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("zk node count is not 8 bytes".into()))?;
            Ok(u64::from_be_bytes(raw))
        }
    }
}

impl TreeRead for Overlay<'_> {
    fn raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending(key) {
            Some(pending) => Ok(pending),
            None => self.base.raw(key),
        }
    }

    /// Keys this command has not written come from the base without a copy.
    fn raw_bytes(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        match self.pending(key) {
            Some(pending) => Ok(pending.map(Bytes::from)),
            None => self.base.raw_bytes(key),
        }
    }

    /// Merges the store's entries with this overlay's (pending nodes included).
    fn scan_prefix(&self, prefix: &[u8], visit: &mut Visitor<'_>) -> Result<(), StoreError> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        self.base.scan_prefix(prefix, &mut |k, v| {
            merged.insert(k.to_vec(), v.to_vec());
            ControlFlow::Continue(())
        })?;
        let pending_nodes = self
            .nodes
            .iter()
            .map(|(p, n)| (keys::node(p), n.as_ref().map(Node::encode)));
        let pending_raw = self.raw.iter().map(|(k, v)| (k.clone(), v.clone()));
        for (k, v) in pending_nodes.chain(pending_raw) {
            if !k.starts_with(prefix) {
                continue;
            }
            match v {
                Some(v) => merged.insert(k, v),
                None => merged.remove(&k),
            };
        }
        for (k, v) in &merged {
            if visit(k, v).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn node(&self, path: &str) -> Result<Option<Node>, StoreError> {
        let path = path::normalize(path);
        match self.nodes.get(path) {
            Some(pending) => Ok(pending.clone()),
            None => self.base.node(path),
        }
    }
}

/// The writes of a successful command, ready to go into the apply transaction.
pub(crate) struct Writes(Vec<(Vec<u8>, Option<Bytes>)>);

impl Writes {
    /// Values go in as they are: a node read back later in the batch is the buffer the memo
    /// knows.
    pub(crate) fn write_to(self, txn: &mut RwTxn<'_>, partition: &Partition) {
        for (k, v) in self.0 {
            match v {
                Some(v) => txn.put_bytes(partition, k, v),
                None => txn.delete(partition, k),
            }
        }
    }
}
