//! `NodeMemo`: decoded znodes remembered by the stored bytes they were decoded from, so the apply
//! thread does not decode the same node record again and again (a setData reads the node it
//! rewrites; a create reads its parent three times, and the parent was just rewritten by the
//! create before it in the batch).
//!
//! Layer: `zk/`, apply-side soft state; touches nothing but itself. An entry is used only when
//! the bytes read now are the very buffer it was decoded from (same address and length): the
//! entry holds that buffer, so no other value can occupy the address while it exists, and
//! decoding is a pure function of the bytes. So the memo needs no invalidation to be correct — a
//! stale entry simply never matches — and it never changes what apply computes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ahash::RandomState;
use bytes::Bytes;

use crate::store::StoreError;

use super::node::Node;

/// Values above this size are decoded every time (and not held here).
const MAX_VALUE_BYTES: usize = 16 << 10;
/// Bytes charged per entry besides its path and value.
const ENTRY_OVERHEAD: usize = 160;
/// Memory for the memo: when more is held, it starts over empty.
const MEMO_BYTES: usize = 8 << 20;

#[derive(Default)]
struct State {
    /// Normalized path -> the value last decoded or written there, and its decoding.
    entries: HashMap<Box<str>, (Bytes, Node), RandomState>,
    bytes: usize,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct NodeMemo {
    state: Mutex<State>,
}

impl std::fmt::Debug for NodeMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMemo").finish_non_exhaustive()
    }
}

fn same_buffer(a: &Bytes, b: &Bytes) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

fn charge(path: &str, value: &Bytes) -> usize {
    path.len() + value.len() + ENTRY_OVERHEAD
}

impl NodeMemo {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The record stored at `path` (normalized) as `raw`, decoded as [`Node::decode`] does: the
    /// remembered decoding if `raw` is the buffer it came from, else a fresh one (remembered for
    /// next time unless the node's data is stored apart).
    pub(crate) fn node(&self, path: &str, raw: Bytes) -> Result<(Node, Option<usize>), StoreError> {
        if raw.len() > MAX_VALUE_BYTES {
            return Node::decode(path, raw);
        }
        if let Some((held, node)) = self.state().entries.get(path)
            && same_buffer(held, &raw)
        {
            return Ok((node.clone(), None));
        }
        let (node, apart) = Node::decode(path, raw.clone())?;
        if apart.is_none() {
            self.remember(path, raw, node.clone());
        }
        Ok((node, apart))
    }

    /// Apply wrote `node`, encoded as `raw`, at `path` (normalized). Remembered only where the
    /// memo already follows the path (a node apply read before): new nodes that nobody reads
    /// again — most creates — stay out, and so do nodes whose data is stored apart.
    pub(crate) fn wrote(&self, path: &str, raw: &Bytes, node: Node) {
        if raw.len() > MAX_VALUE_BYTES || node.data_apart() {
            self.forget(path);
            return;
        }
        let mut s = self.state();
        let Some(slot) = s.entries.get_mut(path) else {
            return;
        };
        let (old, new) = (charge(path, &slot.0), charge(path, raw));
        *slot = (raw.clone(), node);
        s.bytes = (s.bytes + new).saturating_sub(old);
    }

    /// Apply deleted the node at `path` (normalized).
    pub(crate) fn forget(&self, path: &str) {
        let mut s = self.state();
        if let Some((raw, _)) = s.entries.remove(path) {
            s.bytes = s.bytes.saturating_sub(charge(path, &raw));
        }
    }

    fn remember(&self, path: &str, raw: Bytes, node: Node) {
        let mut s = self.state();
        let add = charge(path, &raw);
        if s.bytes + add > MEMO_BYTES {
            // Dropping many small allocations at once is slow: not on the apply thread.
            let full = std::mem::take(&mut *s);
            let _ = std::thread::Builder::new()
                .name("memo-free".into())
                .spawn(move || drop(full));
        }
        let old = s
            .entries
            .insert(path.into(), (raw, node))
            .map_or(0, |(raw, _)| charge(path, &raw));
        s.bytes = (s.bytes + add).saturating_sub(old);
    }

    /// Number of remembered nodes.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(data: &'static [u8]) -> Bytes {
        Bytes::from(Node::created(1, 2, 0, Some(Bytes::from_static(data)), Vec::new()).encode())
    }

    #[test]
    fn a_buffer_decodes_once_and_equal_bytes_elsewhere_decode_again() {
        let memo = NodeMemo::default();
        let raw = encoded(b"one");
        let n1 = memo.node("/a", raw.clone()).unwrap();
        assert_eq!(memo.len(), 1);
        assert_eq!(memo.node("/a", raw.clone()).unwrap(), n1);
        // The same content in another buffer is decoded again, and gives the same node.
        let copy = Bytes::copy_from_slice(&raw);
        assert_eq!(memo.node("/a", copy).unwrap(), n1);
        // A different value at the same path is never answered from the old entry.
        let other = encoded(b"two");
        let (n2, _) = memo.node("/a", other).unwrap();
        assert_eq!(n2.data().map(|d| &d[..]), Some(&b"two"[..]));
    }

    #[test]
    fn writes_follow_only_remembered_paths() {
        let memo = NodeMemo::default();
        let raw = encoded(b"v1");
        memo.node("/a", raw).unwrap();
        let written = encoded(b"v2");
        let (node, _) = Node::decode("/a", written.clone()).unwrap();
        memo.wrote("/a", &written, node.clone());
        assert_eq!(memo.node("/a", written).unwrap(), (node.clone(), None));
        memo.wrote("/new", &encoded(b"x"), node);
        assert_eq!(memo.len(), 1, "a path never read is not remembered");
        memo.forget("/a");
        assert_eq!(memo.len(), 0);
    }

    #[test]
    fn nodes_with_data_apart_are_not_remembered() {
        let memo = NodeMemo::default();
        let long = Bytes::from(vec![1u8; crate::zk::node::INLINE_DATA_MAX + 1]);
        let node = Node::created(1, 2, 0, Some(long), Vec::new());
        let raw = Bytes::from(node.encode());
        let (_, apart) = memo.node("/big", raw.clone()).unwrap();
        assert!(apart.is_some());
        assert_eq!(memo.len(), 0);
        memo.node("/a", encoded(b"v1")).unwrap();
        memo.wrote("/a", &raw, node);
        assert_eq!(
            memo.len(),
            0,
            "a node written with its data apart is forgotten"
        );
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_an_entry() {
        let memo = NodeMemo::default();
        assert!(memo.node("/a", Bytes::from_static(&[9, 9])).is_err());
        assert_eq!(memo.len(), 0);
    }
}
