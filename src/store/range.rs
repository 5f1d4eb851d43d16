//! Key ranges for ordered iteration over one partition (`store/`). Pure data; touches nothing.

use rocksdb::ReadOptions;

/// A half-open range of keys `[start, end)` in byte order; `end == None` means unbounded.
///
/// Build one with [`KeyRange::all`], [`KeyRange::prefix`], [`KeyRange::between`] or
/// [`KeyRange::starting_at`]. An empty or inverted range yields nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

impl KeyRange {
    /// Every key of the partition.
    pub fn all() -> Self {
        KeyRange {
            start: Vec::new(),
            end: None,
        }
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: impl AsRef<[u8]>) -> Self {
        let prefix = prefix.as_ref();
        KeyRange {
            start: prefix.to_vec(),
            end: prefix_successor(prefix),
        }
    }

    /// Keys `k` with `start <= k < end`.
    pub fn between(start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> Self {
        KeyRange {
            start: start.into(),
            end: Some(end.into()),
        }
    }

    /// Keys `k` with `start <= k`.
    pub fn starting_at(start: impl Into<Vec<u8>>) -> Self {
        KeyRange {
            start: start.into(),
            end: None,
        }
    }

    /// The inclusive lower bound.
    pub fn start(&self) -> &[u8] {
        &self.start
    }

    /// The exclusive upper bound, if any.
    pub fn end(&self) -> Option<&[u8]> {
        self.end.as_deref()
    }

    /// True if no key can be in the range.
    pub fn is_empty(&self) -> bool {
        matches!(&self.end, Some(end) if end.as_slice() <= self.start.as_slice())
    }

    /// True if `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// RocksDB read options bounding an iterator to this range.
    pub(crate) fn read_options(&self) -> ReadOptions {
        let mut opts = ReadOptions::default();
        if !self.start.is_empty() {
            opts.set_iterate_lower_bound(self.start.clone());
        }
        if let Some(end) = &self.end {
            opts.set_iterate_upper_bound(end.clone());
        }
        opts
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` if there is none
/// (the prefix is empty or all `0xff`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds() {
        assert_eq!(KeyRange::prefix(b"ab").end(), Some(&b"ac"[..]));
        assert_eq!(KeyRange::prefix([b'a', 0xff]).end(), Some(&b"b"[..]));
        assert_eq!(KeyRange::prefix([0xff, 0xff]).end(), None);
        assert_eq!(KeyRange::prefix(b"").end(), None);
        let r = KeyRange::prefix([b'a', 0xff]);
        assert!(r.contains(&[b'a', 0xff]));
        assert!(r.contains(&[b'a', 0xff, 0]));
        assert!(!r.contains(b"b"));
        assert!(!r.contains(b"a"));
    }

    #[test]
    fn empty_ranges() {
        assert!(KeyRange::between(b"b".to_vec(), b"a".to_vec()).is_empty());
        assert!(KeyRange::between(b"a".to_vec(), b"a".to_vec()).is_empty());
        assert!(!KeyRange::between(b"a".to_vec(), b"b".to_vec()).is_empty());
        assert!(!KeyRange::all().is_empty());
    }
}
