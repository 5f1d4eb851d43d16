//! The local loglet's cache of its most recently written records.
//!
//! Layer: inside `LocalLoglet`; written by the writer thread after each fdatasync (before the
//! new tail is published), read by `read`. The apply loop reads entries right after they became
//! durable, so serving those reads from memory spares a blocking-pool hop, a file read and a CRC
//! check per batch. The cache holds a contiguous run of positions ending at the durable tail and
//! is bounded by bytes and records; a read that starts before the run goes to the files.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use super::super::loglet::Pos;

/// Most bytes of payload kept.
const MAX_BYTES: usize = 8 << 20;
/// Most records kept.
const MAX_RECORDS: usize = 16_384;

#[derive(Default)]
struct Run {
    /// Position of `records[0]`.
    first: Pos,
    records: VecDeque<Bytes>,
    bytes: usize,
}

/// Recently written records, a contiguous run of positions.
#[derive(Default)]
pub(super) struct RecentRecords {
    run: Mutex<Run>,
}

impl RecentRecords {
    /// Adds durable records, `first` being the position of `payloads[0]`. A gap (the cache was
    /// bypassed, e.g. after a failure) restarts the run.
    pub(super) fn extend(&self, first: Pos, payloads: impl IntoIterator<Item = Bytes>) {
        let mut run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        if run.first + run.records.len() as u64 != first {
            run.records.clear();
            run.bytes = 0;
            run.first = first;
        }
        for p in payloads {
            run.bytes += p.len();
            run.records.push_back(p);
        }
        while run.records.len() > MAX_RECORDS || (run.bytes > MAX_BYTES && run.records.len() > 1) {
            if let Some(old) = run.records.pop_front() {
                run.bytes -= old.len();
                run.first += 1;
            }
        }
    }

    /// The records `[from, to)` if the cache holds all of them.
    pub(super) fn get(&self, from: Pos, to: Pos) -> Option<Vec<(Pos, Bytes)>> {
        let run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        let end = run.first + run.records.len() as u64;
        if from < run.first || to > end || from >= to {
            return None;
        }
        let skip = (from - run.first) as usize;
        let n = (to - from) as usize;
        Some(
            run.records
                .iter()
                .skip(skip)
                .take(n)
                .zip(from..)
                .map(|(b, pos)| (pos, b.clone()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(n: u8) -> Bytes {
        Bytes::from(vec![n; 4])
    }

    #[test]
    fn serves_a_contiguous_run_and_forgets_old_records() {
        let r = RecentRecords::default();
        assert!(r.get(0, 1).is_none());
        r.extend(0, [b(0), b(1), b(2)]);
        assert_eq!(r.get(1, 3).unwrap(), vec![(1, b(1)), (2, b(2))]);
        assert!(r.get(2, 4).is_none(), "beyond the run");
        r.extend(3, [b(3)]);
        assert_eq!(r.get(3, 4).unwrap(), vec![(3, b(3))]);
        // A gap restarts the run.
        r.extend(10, [b(10)]);
        assert!(r.get(3, 4).is_none());
        assert_eq!(r.get(10, 11).unwrap(), vec![(10, b(10))]);
        // Bounded by records.
        r.extend(11, (0..MAX_RECORDS).map(|_| b(7)));
        assert!(r.get(10, 11).is_none());
        let end = 11 + MAX_RECORDS as u64;
        assert_eq!(r.get(end - 1, end).unwrap().len(), 1);
    }
}
