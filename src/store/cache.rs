//! `ValueCache`: the apply transaction's cache of point reads (`store/`).
//!
//! Apply reads the same few keys again and again (the node a setData changes, the session a
//! request comes from, a parent a create updates). Without a cache each of those is a RocksDB
//! point lookup through memtables, bloom filters and blocks, which was half of the apply thread's
//! time. The cache belongs to the one writer ([`LocalStore`](super::LocalStore)): it is filled
//! from RocksDB on a miss (absent keys included) and written through by every commit, and nothing
//! else writes the database, so it always equals the committed state. Readers on other threads
//! never see it; range scans read RocksDB directly.
//!
//! Bounded by bytes with two generations: lookups go to the young map, then the old one (moving
//! the entry back into the young map); when the young map is full the old one is dropped and the
//! young one becomes old. Cost is an approximation of LRU without per-entry bookkeeping.

use std::cell::RefCell;
use std::collections::HashMap;

use ahash::RandomState;
use bytes::Bytes;

use super::partition::Partition;

/// Bytes charged per entry besides its key and value (map slot, allocation headers).
const ENTRY_OVERHEAD: usize = 64;

/// Keyed by ahash (randomly seeded, so znode names cannot be chosen to collide): SipHash over
/// the partition name and the key was a visible share of the apply thread.
type Generation = HashMap<Partition, HashMap<Box<[u8]>, Option<Bytes>, RandomState>, RandomState>;

#[derive(Default)]
struct Generations {
    young: Generation,
    young_bytes: usize,
    old: Generation,
}

/// Committed values of recently used keys (`None`: known absent).
pub(crate) struct ValueCache {
    /// Budget of one generation (the cache holds at most about twice this).
    generation_bytes: usize,
    gens: RefCell<Generations>,
}

fn charge(key: &[u8], value: &Option<Bytes>) -> usize {
    key.len() + value.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD
}

impl ValueCache {
    /// A cache of about `bytes` in all (0 disables it).
    pub(crate) fn new(bytes: usize) -> Self {
        ValueCache {
            generation_bytes: bytes / 2,
            gens: RefCell::new(Generations::default()),
        }
    }

    fn enabled(&self) -> bool {
        self.generation_bytes > 0
    }

    /// The cached committed value: `Some(Some(v))` present, `Some(None)` absent, `None` unknown.
    pub(crate) fn get(&self, partition: &Partition, key: &[u8]) -> Option<Option<Bytes>> {
        if !self.enabled() {
            return None;
        }
        let mut g = self.gens.borrow_mut();
        if let Some(v) = g.young.get(partition).and_then(|m| m.get(key)) {
            return Some(v.clone());
        }
        let v = g.old.get_mut(partition)?.remove(key)?;
        Self::insert_young(
            &mut g,
            self.generation_bytes,
            partition,
            key.into(),
            v.clone(),
        );
        Some(v)
    }

    /// A committed write of `key`: updates the entry if the cache holds one (keys apply has not
    /// read — most new keys — are left out, so a load of creates does not
    /// churn the cache).
    pub(crate) fn written(&self, partition: &Partition, key: &[u8], value: Option<Bytes>) {
        if !self.enabled() {
            return;
        }
        let mut g = self.gens.borrow_mut();
        if let Some(slot) = g.young.get_mut(partition).and_then(|m| m.get_mut(key)) {
            let (old, new) = (charge(key, slot), charge(key, &value));
            *slot = value;
            g.young_bytes = (g.young_bytes + new).saturating_sub(old);
            return;
        }
        if let Some(m) = g.old.get_mut(partition)
            && m.remove(key).is_some()
        {
            Self::insert_young(&mut g, self.generation_bytes, partition, key.into(), value);
        }
    }

    /// Records the committed value of `key`, read from the database.
    pub(crate) fn put(&self, partition: &Partition, key: &[u8], value: Option<Bytes>) {
        if !self.enabled() {
            return;
        }
        let mut g = self.gens.borrow_mut();
        if let Some(m) = g.old.get_mut(partition) {
            m.remove(key);
        }
        Self::insert_young(&mut g, self.generation_bytes, partition, key.into(), value);
    }

    fn insert_young(
        g: &mut Generations,
        limit: usize,
        partition: &Partition,
        key: Box<[u8]>,
        value: Option<Bytes>,
    ) {
        let add = charge(&key, &value);
        let map = match g.young.get_mut(partition) {
            Some(m) => m,
            None => g.young.entry(partition.clone()).or_default(),
        };
        if let Some(prev) = map.get_mut(&key) {
            let sub = charge(&key, prev);
            *prev = value;
            g.young_bytes = g.young_bytes.saturating_sub(sub);
        } else {
            map.insert(key, value);
        }
        g.young_bytes += add;
        if g.young_bytes > limit {
            let old = std::mem::replace(&mut g.old, std::mem::take(&mut g.young));
            g.young_bytes = 0;
            // Freeing a generation's many small allocations is slow: not on the apply thread.
            let _ = std::thread::Builder::new()
                .name("cache-free".into())
                .spawn(move || drop(old));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_generations() {
        let p = Partition::new("p");
        let c = ValueCache::new(2 * (ENTRY_OVERHEAD + 2) * 3);
        assert_eq!(c.get(&p, b"a"), None);
        c.put(&p, b"a", Some(Bytes::from_static(b"1")));
        c.put(&p, b"b", None);
        assert_eq!(c.get(&p, b"a"), Some(Some(Bytes::from_static(b"1"))));
        assert_eq!(c.get(&p, b"b"), Some(None));
        // Overwrite.
        c.put(&p, b"a", Some(Bytes::from_static(b"2")));
        assert_eq!(c.get(&p, b"a"), Some(Some(Bytes::from_static(b"2"))));
        // Fill past two generations: the oldest entries go.
        for i in 0..20u8 {
            c.put(&p, &[b'k', i], Some(Bytes::from_static(b"x")));
        }
        assert_eq!(c.get(&p, b"b"), None);
        assert!(c.get(&p, &[b'k', 19]).is_some());
        // Another partition is another key space.
        assert_eq!(c.get(&Partition::new("q"), &[b'k', 19]), None);
    }

    #[test]
    fn writes_update_only_cached_keys() {
        let p = Partition::new("p");
        let c = ValueCache::new(1 << 20);
        c.written(&p, b"new", Some(Bytes::from_static(b"1")));
        assert_eq!(c.get(&p, b"new"), None, "not read before: not cached");
        c.put(&p, b"k", Some(Bytes::from_static(b"1")));
        c.written(&p, b"k", Some(Bytes::from_static(b"2")));
        assert_eq!(c.get(&p, b"k"), Some(Some(Bytes::from_static(b"2"))));
        c.written(&p, b"k", None);
        assert_eq!(c.get(&p, b"k"), Some(None));
    }

    #[test]
    fn disabled_cache_holds_nothing() {
        let p = Partition::new("p");
        let c = ValueCache::new(0);
        c.put(&p, b"a", None);
        assert_eq!(c.get(&p, b"a"), None);
    }
}
