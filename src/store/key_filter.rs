//! `KeyFilter`: an in-memory Bloom filter over every key the store holds, so that the apply
//! transaction learns that a key is absent without asking RocksDB (`store/`).
//!
//! A create probes a key that does not exist yet. RocksDB answers that through the memtables'
//! filters and then the filter of every L0 file and of every level below, a cache miss each; that
//! was a fifth of the apply thread's time under creates. One blocked filter here costs one cache
//! miss.
//!
//! Correctness rests on one invariant: **every key the database holds is in the filter**. So a
//! "no" is exact, whatever the filter's fill, and a "maybe" falls back to RocksDB. The keys come
//! from two places:
//! - the commits of the one writer ([`RwTxn::commit`](super::RwTxn::commit)) add every key they
//!   put, from the moment the store is opened;
//! - a background thread adds every key that was in the database at open, by scanning each
//!   partition. Until it has finished, the filter answers "maybe" to everything.
//!
//! The filter exists before the scan's iterators are made, so a key is either in the view an
//! iterator reads (and the scan adds it) or put by a later commit (which adds it). Commits add
//! their keys before they write them. Deleted keys stay in the filter (a Bloom filter cannot
//! forget) and only cost a RocksDB lookup, until the next rebuild drops them. Nothing else
//! writes the user partitions (see [`ValueCache`](super::cache::ValueCache)).
//!
//! A filter is planned for twice the live keys (about 20 bits per live key). One that holds more
//! distinct keys than planned (new keys, or keys since deleted) is replaced by a new one, filled
//! by a new scan while commits add to both: planned for four times the live keys if most keys it
//! holds are still live (the store grows), else for twice. A scan that fails leaves the current
//! filter in place and is retried a minute later.
//!
//! Soft state: rebuilt at every open, never persisted, never read by anything but the apply
//! transaction's point reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ahash::RandomState;
use rocksdb::ReadOptions;
use tracing::{debug, info, warn};

use super::local::Inner;

/// Bits per key at the filter's planned capacity (about 1% false positives with 6 probes in one
/// 512-bit block).
const BITS_PER_KEY: u64 = 10;
/// A filter is planned for this many times the live keys.
const HEADROOM: u64 = 2;
/// ... or this many times, when it filled up with keys that are still live: the store is
/// growing, and every rebuild scans it whole, so a growing store is scanned less often (each
/// key about a third of a time over the store's growth instead of once).
const GROWTH_HEADROOM: u64 = 4;
/// The background scan logs its progress every this many keys.
const PROGRESS_EVERY: u64 = 1 << 22;
/// The scan re-opens its iterator every this many keys, so that it does not pin memtables and
/// files that compaction has replaced for the whole scan.
const RESEEK_EVERY: u64 = 1 << 16;
/// After a failed scan, the next attempt waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Probes per key, all in one block (one cache line).
const PROBES: u32 = 6;
/// u64 words per block: 512 bits, one 64-byte cache line.
const BLOCK_WORDS: usize = 8;

/// A blocked Bloom filter over (partition, key), safe to add to from several threads.
pub(crate) struct KeyFilter {
    words: Box<[AtomicU64]>,
    blocks: u64,
    /// Randomly seeded: keys cannot be chosen to collide (a collision only costs a lookup).
    hasher: RandomState,
    /// Keys planned for (more only raise the false-positive rate).
    capacity_keys: u64,
    /// Adds that set at least one new bit: about the number of distinct keys added.
    added: AtomicU64,
    /// Keys the scan found (live keys when it ran).
    scanned: AtomicU64,
    /// Every key present at open has been added.
    ready: AtomicBool,
    /// The scan failed or could not start: this filter will never be ready.
    failed: AtomicBool,
    /// Asks the background scan to stop (the store is closing).
    stop: AtomicBool,
}

impl KeyFilter {
    /// A filter planned for `capacity_keys` keys. More keys only raise the false-positive rate.
    pub(crate) fn with_capacity(capacity_keys: u64) -> Self {
        let capacity_keys = capacity_keys.max(1024);
        let bits = capacity_keys.saturating_mul(BITS_PER_KEY);
        let blocks = bits.div_ceil(64 * BLOCK_WORDS as u64).max(1);
        let words = (0..blocks as usize * BLOCK_WORDS)
            .map(|_| AtomicU64::new(0))
            .collect();
        KeyFilter {
            words,
            blocks,
            capacity_keys,
            added: AtomicU64::new(0),
            scanned: AtomicU64::new(0),
            hasher: RandomState::new(),
            ready: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    /// Bytes of filter memory.
    pub(crate) fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    fn hash(&self, partition: &str, key: &[u8]) -> u64 {
        self.hasher.hash_one((partition, key))
    }

    /// The block's first word and the probe bits, from one hash.
    fn probes(&self, h: u64) -> (usize, [(usize, u64); PROBES as usize]) {
        // The high half picks the block (multiply-shift, no modulo); the hash times an odd
        // constant gives 9 bits per probe.
        let block = (((h >> 32) * self.blocks) >> 32) as usize;
        let mut bits = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut out = [(0usize, 0u64); PROBES as usize];
        for slot in &mut out {
            let bit = (bits & 511) as usize;
            *slot = (bit / 64, 1u64 << (bit % 64));
            bits = bits.rotate_right(9);
        }
        (block * BLOCK_WORDS, out)
    }

    /// Adds `key` of `partition`.
    pub(crate) fn add(&self, partition: &str, key: &[u8]) {
        let (base, probes) = self.probes(self.hash(partition, key));
        let mut new = false;
        for (word, mask) in probes {
            let w = &self.words[base + word];
            // Most re-added keys (an overwrite) find their bits set: skip the atomic write.
            if w.load(Ordering::Relaxed) & mask != mask {
                w.fetch_or(mask, Ordering::Relaxed);
                new = true;
            }
        }
        if new {
            self.added.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// About the number of distinct keys added.
    pub(crate) fn distinct_keys(&self) -> u64 {
        self.added.load(Ordering::Relaxed)
    }

    /// Holds more keys than it was planned for: time for a bigger one.
    pub(crate) fn over_capacity(&self) -> bool {
        self.distinct_keys() > self.capacity_keys
    }

    /// `false` only if `key` of `partition` is certainly not in the database.
    pub(crate) fn may_contain(&self, partition: &str, key: &[u8]) -> bool {
        if !self.ready.load(Ordering::Acquire) {
            return true;
        }
        let (base, probes) = self.probes(self.hash(partition, key));
        probes
            .iter()
            .all(|&(word, mask)| self.words[base + word].load(Ordering::Relaxed) & mask == mask)
    }

    /// Every key present at open has been added: negative answers may be trusted from now on.
    fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn mark_failed(&self) {
        self.failed.store(true, Ordering::Release);
    }

    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The filter the apply transaction consults, and the bigger one being filled to replace it
/// once the current one holds more keys than it was planned for. Owned by the one writer.
pub(crate) struct KeyFilters {
    /// The smallest filter, in keys.
    min_keys: u64,
    current: Arc<KeyFilter>,
    /// Being filled by `scan`; commits add to it too.
    next: Option<Arc<KeyFilter>>,
    /// The scan filling `next`, or `current` right after open.
    scan: Option<Scan>,
    /// No new scan before this (the last one failed).
    retry_at: Option<Instant>,
}

/// RocksDB's estimate of the keys in every user partition.
fn estimated_keys(inner: &Inner) -> u64 {
    inner
        .partitions()
        .iter()
        .filter_map(|p| {
            let cf = inner.cf(p).ok()?;
            inner
                .db
                .property_int_value_cf(&cf, "rocksdb.estimate-num-keys")
                .ok()
                .flatten()
        })
        .sum()
}

/// A new filter for `capacity_keys` keys and the scan that fills it. Made before the scan's
/// iterators, so commits from now on must add to it.
///
/// Keys committed but still staged (not in RocksDB yet) are added first: a spill that writes one
/// of them after the scan's iterator was made would otherwise leave it out. A key spilled before
/// is in the database before the scan starts.
fn fresh(inner: &Arc<Inner>, capacity_keys: u64) -> (Arc<KeyFilter>, Scan) {
    let filter = Arc::new(KeyFilter::with_capacity(capacity_keys));
    inner.for_each_staged_put(|cf, key| filter.add(cf, key));
    let scan = Scan::start(inner.clone(), filter.clone());
    (filter, scan)
}

/// The capacity of the filter that replaces a full one planned for `full_capacity` keys, when
/// the store holds about `live` keys.
fn planned_capacity(live: u64, full_capacity: u64, min_keys: u64) -> u64 {
    let headroom = if live.saturating_mul(2) >= full_capacity {
        GROWTH_HEADROOM
    } else {
        HEADROOM
    };
    live.saturating_mul(headroom).max(min_keys)
}

impl KeyFilters {
    /// A filter planned for twice the keys the database holds, filled in the background.
    pub(crate) fn open(inner: &Arc<Inner>, min_keys: u64) -> Self {
        let (current, scan) = fresh(
            inner,
            estimated_keys(inner).saturating_mul(HEADROOM).max(min_keys),
        );
        KeyFilters {
            min_keys,
            current,
            next: None,
            scan: Some(scan),
            retry_at: None,
        }
    }

    /// Between transactions: switches to the next filter once it is complete, and starts one
    /// when the current filter is full.
    pub(crate) fn maintain(&mut self, inner: &Arc<Inner>) {
        if let Some(next) = &self.next {
            if next.is_ready() {
                debug!(bytes = next.bytes(), "absent-key filter replaced");
                self.current = next.clone();
                self.next = None;
                self.scan = None;
            } else if next.has_failed() {
                self.next = None;
                self.scan = None;
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
            }
            return;
        }
        if !self.current.is_ready() {
            if self.current.has_failed() && self.retry_at.is_none_or(|t| Instant::now() >= t) {
                // The scan at open failed: start over with a fresh filter.
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                let (filter, scan) = fresh(inner, self.current.capacity_keys);
                self.current = filter;
                self.scan = Some(scan);
            }
            return;
        }
        // The scan of the open is over: collect its thread.
        self.scan = None;
        if self.current.over_capacity() && self.retry_at.is_none_or(|t| Instant::now() >= t) {
            // Planned for the live keys: a filter full of keys since deleted is replaced by one
            // of the same size. The last scan's count guards against a low estimate.
            let live = estimated_keys(inner).max(self.current.scanned.load(Ordering::Relaxed));
            let capacity = planned_capacity(live, self.current.capacity_keys, self.min_keys);
            let (next, scan) = fresh(inner, capacity);
            info!(
                keys = self.current.distinct_keys(),
                live,
                bytes = next.bytes(),
                "absent-key filter full; building a new one in the background"
            );
            self.next = Some(next);
            self.scan = Some(scan);
        }
    }

    /// A key a commit put.
    pub(crate) fn add(&self, partition: &str, key: &[u8]) {
        self.current.add(partition, key);
        if let Some(next) = &self.next {
            next.add(partition, key);
        }
    }

    /// `false` only if `key` is certainly not in the database.
    pub(crate) fn may_contain(&self, partition: &str, key: &[u8]) -> bool {
        self.current.may_contain(partition, key)
    }

    /// The capacity of the current filter once it has every key the database held at open.
    pub(crate) fn ready_capacity(&self) -> Option<u64> {
        self.current
            .is_ready()
            .then_some(self.current.capacity_keys)
    }
}

/// The thread adding every stored key to a filter; stopped and joined when dropped.
struct Scan {
    filter: Arc<KeyFilter>,
    thread: Option<JoinHandle<()>>,
}

impl Scan {
    fn start(inner: Arc<Inner>, filter: Arc<KeyFilter>) -> Scan {
        let target = filter.clone();
        let thread = std::thread::Builder::new()
            .name("store-key-scan".into())
            .spawn(move || scan(&inner, &target));
        match thread {
            Ok(t) => Scan {
                filter,
                thread: Some(t),
            },
            Err(e) => {
                // Without the scan the filter never becomes ready: lookups ask RocksDB.
                warn!(error = %e, "cannot start the absent-key scan; lookups go to RocksDB");
                filter.mark_failed();
                Scan {
                    filter,
                    thread: None,
                }
            }
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        self.filter.request_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Adds every key of every partition to `filter`, then marks it ready (or failed).
fn scan(inner: &Inner, filter: &KeyFilter) {
    super::quiet_thread();
    let started = Instant::now();
    let mut keys = 0u64;
    let failed = |partition: &str, error: String| {
        warn!(%error, partition, "absent-key scan failed; lookups go to RocksDB");
        filter.mark_failed();
    };
    for partition in inner.partitions() {
        let cf = match inner.cf(&partition) {
            Ok(cf) => cf,
            // A partition not scanned would have its keys hidden: never ready without it.
            Err(e) => return failed(partition.name(), e.to_string()),
        };
        let iterator = || {
            let mut opts = ReadOptions::default();
            opts.fill_cache(false);
            inner.db.raw_iterator_cf_opt(&cf, opts)
        };
        let mut it = iterator();
        it.seek_to_first();
        let mut since_seek = 0u64;
        while let Some(key) = it.key() {
            if filter.stop_requested() {
                return;
            }
            filter.add(partition.name(), key);
            keys += 1;
            since_seek += 1;
            if keys.is_multiple_of(PROGRESS_EVERY) {
                info!(keys, "absent-key filter: scanning the store");
            }
            if since_seek >= RESEEK_EVERY {
                // A fresh view from the last key on: keys committed since were added by their
                // commits.
                let last = key.to_vec();
                it = iterator();
                it.seek(&last);
                since_seek = 0;
                // `last` may be gone by now: then the seek already stands on the key after it.
                if it.key() != Some(&last[..]) {
                    continue;
                }
            }
            it.next();
        }
        if let Err(e) = it.status() {
            return failed(partition.name(), e.to_string());
        }
    }
    filter.scanned.store(keys, Ordering::Relaxed);
    filter.mark_ready();
    info!(
        keys,
        ms = started.elapsed().as_millis() as u64,
        bytes = filter.bytes(),
        "absent-key filter ready"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_store_gets_more_headroom_than_a_churning_one() {
        // Filled with keys that are all still live: four times.
        assert_eq!(planned_capacity(1_000_000, 1_000_000, 1 << 20), 4_000_000);
        // Half of them still live: still growth.
        assert_eq!(planned_capacity(500_000, 1_000_000, 1 << 10), 2_000_000);
        // Filled mostly by keys since deleted: twice the live keys.
        assert_eq!(planned_capacity(300_000, 1_000_000, 1 << 10), 600_000);
        // Never below the minimum.
        assert_eq!(planned_capacity(10, 1_000_000, 1 << 20), 1 << 20);
    }

    #[test]
    fn answers_maybe_until_ready() {
        let f = KeyFilter::with_capacity(1000);
        assert!(f.may_contain("p", b"never-added"));
        f.mark_ready();
        assert!(!f.may_contain("p", b"never-added"));
    }

    #[test]
    fn never_forgets_a_key_and_rarely_invents_one() {
        let n = 200_000u64;
        let f = KeyFilter::with_capacity(n);
        f.mark_ready();
        for i in 0..n {
            f.add("zk", format!("n/bench/node-{i}").as_bytes());
        }
        for i in 0..n {
            assert!(
                f.may_contain("zk", format!("n/bench/node-{i}").as_bytes()),
                "{i}"
            );
        }
        // The same key in another partition is another key.
        let other = (0..n)
            .filter(|i| f.may_contain("base", format!("n/bench/node-{i}").as_bytes()))
            .count();
        let absent = (n..2 * n)
            .filter(|i| f.may_contain("zk", format!("n/bench/node-{i}").as_bytes()))
            .count();
        // About 1% at capacity; 3% leaves room for an unlucky seed, and fails if probes collapse
        // into fewer bits.
        assert!(other < (n as usize) * 3 / 100, "{other} false positives");
        assert!(absent < (n as usize) * 3 / 100, "{absent} false positives");
    }

    #[test]
    fn over_capacity_it_still_never_says_no_to_a_key_it_holds() {
        let f = KeyFilter::with_capacity(1000);
        f.mark_ready();
        for i in 0..50_000u32 {
            f.add("zk", &i.to_be_bytes());
        }
        assert!((0..50_000u32).all(|i| f.may_contain("zk", &i.to_be_bytes())));
        assert!(f.bytes() >= 1000 * BITS_PER_KEY as usize / 8);
    }
}
