//! `ChildrenCache`: the children of recently listed wide znodes, for getChildren,
//! getChildren2 and multiRead (ZooKeeper keeps a similar cache of getChildren responses,
//! `maxGetChildrenResponseCacheSize`).
//!
//! A listing is a prefix scan of the children's node records (one depth below the parent):
//! ~100 ns per child, most of it RocksDB's iterator. A cached listing is kept with the parent's
//! `(czxid, cversion, pzxid, numChildren)` when it was taken, and is used only for a parent with
//! exactly those values. Every delete sets the parent's pzxid to its own zxid, which no earlier
//! transaction had. Every create bumps cversion, or, when cversion has wrapped (ZooKeeper then
//! leaves cversion and pzxid alone), changes numChildren. czxid tells two incarnations of a path
//! apart. So a hit is exactly what the scan would return, at any snapshot and inside apply alike.
//! Nothing invalidates entries; they only go stale.
//!
//! Layer: `zk` soft state, shared by the readers of one node; never feeds a state change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ahash::RandomState;
use bytestring::ByteString;

/// What identifies one set of children of a node: its `(czxid, cversion, pzxid, numChildren)`.
pub(crate) type ChildrenVersion = (i64, i32, i64, i32);

/// Bytes charged per cached name besides its text (the `ByteString` and its allocation).
const NAME_OVERHEAD: usize = 48;

#[derive(Default)]
struct Entries {
    by_path: HashMap<String, (ChildrenVersion, Arc<[ByteString]>), RandomState>,
    bytes: usize,
}

/// Listings of at least `min_children` names, up to about `budget` bytes in all.
pub(crate) struct ChildrenCache {
    min_children: usize,
    budget: usize,
    entries: Mutex<Entries>,
}

fn charge(path: &str, names: &[ByteString]) -> usize {
    path.len() + names.iter().map(|n| n.len() + NAME_OVERHEAD).sum::<usize>()
}

impl std::fmt::Debug for ChildrenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.lock();
        f.debug_struct("ChildrenCache")
            .field("listings", &e.by_path.len())
            .field("bytes", &e.bytes)
            .finish()
    }
}

impl ChildrenCache {
    /// Listings shorter than `min_children` are not kept (they are cheap to scan); `budget` 0
    /// disables the cache.
    pub(crate) fn new(min_children: usize, budget: usize) -> Self {
        ChildrenCache {
            min_children,
            budget,
            entries: Mutex::new(Entries::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every critical section leaves the map consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The children of `path` listed at `version`, if cached.
    pub(crate) fn get(&self, path: &str, version: ChildrenVersion) -> Option<Arc<[ByteString]>> {
        if self.budget == 0 {
            return None;
        }
        match self.lock().by_path.get(path) {
            Some((v, names)) if *v == version => Some(names.clone()),
            _ => None,
        }
    }

    /// Keeps a listing of `path` taken at `version` (replacing an older one). When the budget
    /// would be exceeded, everything cached so far is dropped first.
    pub(crate) fn put(&self, path: &str, version: ChildrenVersion, names: &[ByteString]) {
        if self.budget == 0 || names.len() < self.min_children {
            return;
        }
        let add = charge(path, names);
        if add > self.budget {
            return;
        }
        let mut e = self.lock();
        if let Some((_, old)) = e.by_path.remove(path) {
            e.bytes = e.bytes.saturating_sub(charge(path, &old));
        }
        if e.bytes + add > self.budget {
            *e = Entries::default();
        }
        e.by_path
            .insert(path.to_owned(), (version, Arc::from(names)));
        e.bytes += add;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Arc<[ByteString]> {
        (0..n).map(|i| ByteString::from(format!("c{i}"))).collect()
    }

    #[test]
    fn a_listing_is_returned_only_for_its_version() {
        let c = ChildrenCache::new(2, 1 << 20);
        let v1 = (5, 3, 9, 0);
        c.put("/p", v1, &names(3));
        assert_eq!(c.get("/p", v1).as_deref(), Some(&names(3)[..]));
        assert!(c.get("/p", (5, 4, 10, 0)).is_none(), "children changed");
        assert!(c.get("/p", (6, 3, 9, 0)).is_none(), "another incarnation");
        assert!(c.get("/q", v1).is_none());
        // A newer listing replaces the older one.
        c.put("/p", (5, 4, 10, 0), &names(4));
        assert!(c.get("/p", v1).is_none());
        assert_eq!(c.get("/p", (5, 4, 10, 0)).map(|n| n.len()), Some(4));
    }

    #[test]
    fn short_listings_and_the_budget() {
        let c = ChildrenCache::new(3, 2 * charge("/a", &names(3)));
        c.put("/short", (1, 1, 1, 0), &names(2));
        assert!(
            c.get("/short", (1, 1, 1, 0)).is_none(),
            "below min_children"
        );
        c.put("/a", (1, 1, 1, 0), &names(3));
        c.put("/b", (1, 1, 1, 0), &names(3));
        assert!(c.get("/a", (1, 1, 1, 0)).is_some() && c.get("/b", (1, 1, 1, 0)).is_some());
        // Over budget: the old entries go, the new one stays.
        c.put("/c", (1, 1, 1, 0), &names(3));
        assert!(c.get("/a", (1, 1, 1, 0)).is_none());
        assert!(c.get("/c", (1, 1, 1, 0)).is_some());
        // Larger than the whole budget: not kept.
        c.put("/huge", (1, 1, 1, 0), &names(100));
        assert!(c.get("/huge", (1, 1, 1, 0)).is_none());
        let off = ChildrenCache::new(0, 0);
        off.put("/a", (1, 1, 1, 0), &names(3));
        assert!(off.get("/a", (1, 1, 1, 0)).is_none());
    }
}
