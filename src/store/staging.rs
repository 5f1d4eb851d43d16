//! Staging: committed writes held in memory on their way to RocksDB (`store/`).
//!
//! Apply rewrites the same keys over and over (every setData of a hot znode, the apply cursor of
//! every commit). Writing each version into RocksDB's memtable was the largest single cost of
//! apply: a skiplist insert per write, into a memtable full of versions nobody reads. A commit
//! instead puts its writes into the *active layer*, which keeps only the last value of each key.
//! When the layer is big enough it is frozen (the *spilling layer*) and written to RocksDB as one
//! atomic batch, each key once, by the spill thread, while apply goes on with a fresh active
//! layer. [`flush`](super::SharedStore::flush) spills whatever is staged first.
//!
//! Layers are persistent ordered maps: a [`View`] shares them, and a later commit copies only
//! the nodes it changes. Views are made for readers on demand (the first reader after a commit),
//! so that commits nobody reads in between change the active layer in place. Every reader sees
//! the staged layers over RocksDB:
//! - the apply transaction looks a key up in the layers under the staging lock, then in the live
//!   database (a spill writes a layer to RocksDB before it drops the layer, so a key is always
//!   in one of them); its range scans take a view;
//! - a snapshot on another thread pairs a view with a RocksDB snapshot taken after it, and checks
//!   that no spill started in between ([`View::consistent_with`]): only the view's own spilling
//!   layer, which the view shadows, may have reached RocksDB.
//!
//! Every spill writes a whole frozen layer, which holds the apply cursor it reached, in one
//! RocksDB batch: RocksDB alone always holds a state apply went through. After a crash the store
//! restarts at the cursor in RocksDB and the log replays the rest, as it did when commits went to
//! an unlogged memtable.
//!
//! Layer: part of the store; touches RocksDB only to spill.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use imbl::OrdMap;

use super::range::KeyRange;

/// One column family's staged writes: `Some(value)` put, `None` deleted.
type Staged = OrdMap<Bytes, Option<Bytes>>;

/// A layer of staged writes, by column family name.
#[derive(Clone, Default)]
pub(crate) struct Layer {
    cfs: BTreeMap<String, Staged>,
    /// Distinct keys.
    keys: usize,
    /// Bytes of keys and values put into the layer (overwritten ones included).
    bytes: usize,
}

impl Layer {
    /// Stages `value` (`None`: a delete) for `key`, replacing what the layer held for it.
    pub(crate) fn put(&mut self, cf: &str, key: Bytes, value: Option<Bytes>) {
        self.bytes += key.len() + value.as_ref().map_or(0, Bytes::len);
        let staged = match self.cfs.get_mut(cf) {
            Some(s) => s,
            None => self.cfs.entry(cf.to_owned()).or_default(),
        };
        if staged.insert(key, value).is_none() {
            self.keys += 1;
        }
    }

    /// What the layer holds for `key`: `Some(Some(v))` put, `Some(None)` deleted, `None` nothing.
    pub(crate) fn get(&self, cf: &str, key: &[u8]) -> Option<Option<&Bytes>> {
        self.cfs.get(cf)?.get(key).map(Option::as_ref)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys == 0
    }

    pub(crate) fn keys(&self) -> usize {
        self.keys
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// An upper bound of the size of a RocksDB write batch holding every staged write: a
    /// 12-byte header, then per record its key and value and at most 16 bytes of tag, column
    /// family id and lengths.
    pub(crate) fn batch_bytes(&self) -> usize {
        let records = self.cfs.values().flat_map(|staged| staged.iter());
        12 + records
            .map(|(k, v)| 16 + k.len() + v.as_ref().map_or(0, Bytes::len))
            .sum::<usize>()
    }

    /// Every staged write, by column family, in key order.
    pub(crate) fn column_families(&self) -> impl Iterator<Item = (&str, &Staged)> {
        self.cfs.iter().map(|(name, s)| (name.as_str(), s))
    }

    /// The layer's writes of `cf` within `range`, in key order.
    fn range<'a>(
        &'a self,
        cf: &str,
        range: &KeyRange,
    ) -> Option<
        imbl::ordmap::RangedIter<'a, Bytes, Option<Bytes>, imbl::shared_ptr::DefaultSharedPtr>,
    > {
        if range.is_empty() {
            return None;
        }
        let staged = self.cfs.get(cf)?;
        let end = match range.end() {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        Some(staged.range::<_, [u8]>((Bound::Included(range.start()), end)))
    }
}

/// Most point reads a view keeps for every snapshot that shares it.
const SHARED_READS_MAX: usize = 8;

/// One point read kept by a view: partition, key, value.
type SharedRead = (String, Vec<u8>, Option<Bytes>);

/// The staged state as of one commit: layers, newest first, and how many spills had started.
#[derive(Default)]
pub(crate) struct View {
    layers: Vec<Layer>,
    /// Spills started when the view was published (its spilling layer's included).
    started: u64,
    /// Answers to point reads every reader makes (a cursor, a counter), by partition and key.
    /// Every snapshot sharing this view shows the same committed state (a commit, freeze or
    /// spill publishes a new view), so an answer holds for all of them.
    shared_reads: Mutex<Vec<SharedRead>>,
}

impl View {
    pub(crate) fn new(active: &Layer, spilling: Option<&Layer>, started: u64) -> Self {
        let mut layers = Vec::with_capacity(2);
        if !active.is_empty() {
            layers.push(active.clone());
        }
        if let Some(s) = spilling {
            layers.push(s.clone());
        }
        View {
            layers,
            started,
            shared_reads: Mutex::new(Vec::new()),
        }
    }

    /// The answer a snapshot of this view already read for `key` in `cf`, if one did.
    pub(crate) fn shared_read(&self, cf: &str, key: &[u8]) -> Option<Option<Bytes>> {
        let reads = self
            .shared_reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reads
            .iter()
            .find(|(c, k, _)| c == cf && k == key)
            .map(|(_, _, v)| v.clone())
    }

    /// Keeps what a snapshot of this view read for `key` in `cf` (for a few keys only).
    pub(crate) fn remember_read(&self, cf: &str, key: &[u8], value: Option<Bytes>) {
        let mut reads = self
            .shared_reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if reads.len() < SHARED_READS_MAX && !reads.iter().any(|(c, k, _)| c == cf && k == key) {
            reads.push((cf.to_owned(), key.to_vec(), value));
        }
    }

    /// The newest staged write of `key`, if any layer holds one.
    pub(crate) fn get(&self, cf: &str, key: &[u8]) -> Option<Option<&Bytes>> {
        self.layers.iter().find_map(|l| l.get(cf, key))
    }

    /// Whether a RocksDB snapshot taken after this view holds nothing newer than the view, given
    /// the spills started by the time the snapshot was taken (read after taking it): a spill
    /// counts as started before it writes, so none but the view's own spilling layer can be in
    /// the snapshot when the count has not moved.
    pub(crate) fn consistent_with(&self, started_now: u64) -> bool {
        started_now == self.started
    }

    /// The staged writes of `cf` within `range`, newest value of each key, in key order.
    pub(crate) fn range<'a>(&'a self, cf: &str, range: &KeyRange) -> Shadowed<'a> {
        Shadowed::new(
            self.layers
                .iter()
                .filter_map(|l| l.range(cf, range))
                .map(|it| Box::new(it.map(|(k, v)| (k.as_ref(), v.as_ref()))) as Source<'a>)
                .collect(),
        )
    }
}

/// A sorted source of staged writes: `(key, Some(value))` put, `(key, None)` deleted.
pub(crate) type Source<'a> = Box<dyn Iterator<Item = (&'a [u8], Option<&'a Bytes>)> + 'a>;

/// Sorted sources merged in key order, the first source (the newest) winning on equal keys.
pub(crate) struct Shadowed<'a> {
    sources: Vec<Peekable<Source<'a>>>,
}

impl<'a> Shadowed<'a> {
    /// Merges `sources`, newest first.
    pub(crate) fn new(sources: Vec<Source<'a>>) -> Self {
        Shadowed {
            sources: sources.into_iter().map(Iterator::peekable).collect(),
        }
    }
}

impl<'a> Iterator for Shadowed<'a> {
    type Item = (&'a [u8], Option<&'a Bytes>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut first: Option<(usize, &'a [u8])> = None;
        for (i, s) in self.sources.iter_mut().enumerate() {
            if let Some((k, _)) = s.peek()
                && first.is_none_or(|(_, f)| *k < f)
            {
                first = Some((i, k));
            }
        }
        let (winner, key) = first?;
        let item = self.sources[winner].next();
        // Older sources' writes of the same key are shadowed.
        for s in self.sources.iter_mut().skip(winner + 1) {
            if s.peek().is_some_and(|(k, _)| *k == key) {
                s.next();
            }
        }
        item
    }
}

/// The staging state shared by the apply transaction, the spill thread and flushes.
#[derive(Default)]
pub(crate) struct Staging {
    /// Commits add here.
    pub(crate) active: Layer,
    /// Frozen, being written to RocksDB.
    pub(crate) spilling: Option<Layer>,
}

impl Staging {
    /// The current layers, for readers; `started`: the spills started so far.
    pub(crate) fn view(&self, started: u64) -> Arc<View> {
        Arc::new(View::new(&self.active, self.spilling.as_ref(), started))
    }

    /// Freezes the active layer for spilling, unless it is empty or a spill is under way.
    /// Returns whether it did.
    pub(crate) fn freeze(&mut self) -> bool {
        if self.spilling.is_some() || self.active.is_empty() {
            return false;
        }
        self.spilling = Some(std::mem::take(&mut self.active));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn collect(view: &View, cf: &str, range: &KeyRange) -> Vec<(String, Option<String>)> {
        view.range(cf, range)
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    v.map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn newer_layers_shadow_older_ones_in_gets_and_ranges() {
        let mut old = Layer::default();
        old.put("p", b("a"), Some(b("1")));
        old.put("p", b("b"), Some(b("1")));
        old.put("p", b("d"), Some(b("1")));
        old.put("q", b("a"), Some(b("other cf")));
        let mut new = Layer::default();
        new.put("p", b("b"), None);
        new.put("p", b("c"), Some(b("2")));
        new.put("p", b("d"), Some(b("2")));
        new.put("p", b("d"), Some(b("3")));
        assert_eq!(new.keys(), 3, "a key put twice counts once");
        let view = View::new(&new, Some(&old), 0);

        assert_eq!(view.get("p", b"a"), Some(Some(&b("1"))));
        assert_eq!(view.get("p", b"b"), Some(None), "the newer delete wins");
        assert_eq!(view.get("p", b"d"), Some(Some(&b("3"))));
        assert_eq!(view.get("p", b"e"), None);
        assert_eq!(view.get("r", b"a"), None);

        let all = collect(&view, "p", &KeyRange::all());
        let want = [
            ("a", Some("1")),
            ("b", None),
            ("c", Some("2")),
            ("d", Some("3")),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect();
        assert_eq!(all, want);
        let some = collect(&view, "p", &KeyRange::between("b", "d"));
        assert_eq!(some, want[1..3].to_vec());
        assert!(collect(&view, "p", &KeyRange::between("d", "b")).is_empty());
    }

    #[test]
    fn a_published_view_does_not_change_with_later_commits() {
        let mut st = Staging::default();
        st.active.put("p", b("k"), Some(b("1")));
        let before = st.view(0);
        st.active.put("p", b("k"), Some(b("2")));
        st.active.put("p", b("j"), Some(b("2")));
        let after = st.view(0);
        assert_eq!(before.get("p", b"k"), Some(Some(&b("1"))));
        assert_eq!(before.get("p", b"j"), None);
        assert_eq!(after.get("p", b"k"), Some(Some(&b("2"))));
        assert!(st.freeze());
        assert!(!st.freeze(), "one spill at a time");
        st.active.put("p", b("k"), Some(b("3")));
        let both = st.view(1);
        assert_eq!(both.get("p", b"k"), Some(Some(&b("3"))));
        assert_eq!(
            both.get("p", b"j"),
            Some(Some(&b("2"))),
            "from the spilling layer"
        );
        assert!(both.consistent_with(1));
        assert!(
            !both.consistent_with(2),
            "a newer layer may have reached RocksDB"
        );
    }
}
