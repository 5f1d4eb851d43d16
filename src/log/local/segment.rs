//! Segment files of the local loglet: naming, the sparse offset index, recovery scan, reads.
//!
//! Layer: inside `LocalLoglet`; touches only the segment files of one loglet directory.
//! A segment file `seg-<start, 20 digits>.log` holds the records of positions `start, start+1, …`
//! back to back (framing in `record.rs`). A sparse index keeps one `(position, byte offset)`
//! point every [`INDEX_INTERVAL_BYTES`], so a read seeks close to its first position and then
//! reads one contiguous byte range: no read is more than one interval away from its data.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::{Bytes, BytesMut};

use super::super::error::{LogError, Result};
use super::super::loglet::Pos;
use super::record::{self, Decoded, HEADER_LEN, MAX_ENTRY};

/// Distance in bytes between two points of the sparse index.
pub(crate) const INDEX_INTERVAL_BYTES: u64 = 4096;

const PREFIX: &str = "seg-";
const SUFFIX: &str = ".log";

/// File name of the segment whose first position is `start`.
pub(crate) fn file_name(start: Pos) -> String {
    format!("{PREFIX}{start:020}{SUFFIX}")
}

/// The start position encoded in a segment file name, if it is one.
pub(crate) fn parse_file_name(name: &str) -> Option<Pos> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Sparse index of one segment plus its end (first position / byte offset past its records).
#[derive(Debug, Clone)]
pub(crate) struct SegmentIndex {
    start: Pos,
    points: Vec<(Pos, u64)>,
    end_pos: Pos,
    end_offset: u64,
}

impl SegmentIndex {
    /// The index of an empty segment starting at `start`.
    pub(crate) fn new(start: Pos) -> Self {
        SegmentIndex {
            start,
            points: Vec::new(),
            end_pos: start,
            end_offset: 0,
        }
    }

    /// Records that the record of `pos` (`framed` bytes) sits at byte `offset`.
    pub(crate) fn push(&mut self, pos: Pos, offset: u64, framed: u64) {
        let need_point = match self.points.last() {
            None => true,
            Some(&(_, last)) => offset - last >= INDEX_INTERVAL_BYTES,
        };
        if need_point {
            self.points.push((pos, offset));
        }
        self.end_pos = pos + 1;
        self.end_offset = offset + framed;
    }

    /// First position past the indexed records.
    pub(crate) fn end_pos(&self) -> Pos {
        self.end_pos
    }

    /// Byte offset past the indexed records.
    pub(crate) fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// The byte range to read for positions `[from, to)`: the nearest point at or below `from`
    /// (its position and offset) and the offset of the nearest point at or above `to`.
    pub(crate) fn plan(&self, from: Pos, to: Pos) -> (Pos, u64, u64) {
        let lo_idx = self.points.partition_point(|&(p, _)| p <= from);
        let (lo_pos, lo_off) = if lo_idx == 0 {
            (self.start, 0)
        } else {
            self.points[lo_idx - 1]
        };
        let hi_idx = self.points.partition_point(|&(p, _)| p < to);
        let hi_off = self
            .points
            .get(hi_idx)
            .map_or(self.end_offset, |&(_, off)| off);
        (lo_pos, lo_off, hi_off)
    }
}

/// What a scan of a segment file found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Index of every valid record from the start of the file.
    pub(crate) index: SegmentIndex,
    /// Length of the file on disk.
    pub(crate) file_len: u64,
    /// Why the scan stopped before the end of the file (torn or corrupt tail), if it did.
    pub(crate) damage: Option<String>,
    /// The records are followed by zeros only (preallocated space): a clean end.
    pub(crate) zero_tail: bool,
}

/// Whether every byte of `file` from `from` to `len` is zero.
fn all_zero(file: &File, from: u64, len: u64) -> std::io::Result<bool> {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = from;
    while at < len {
        let n = ((len - at) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..n], at)?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// Reads up to `buf.len()` bytes, stopping early only at end of file.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Scans a whole segment file, verifying every record, and stops at the first torn or corrupt one.
pub(crate) fn scan(path: &Path, start: Pos) -> Result<Scan> {
    let file = File::open(path).map_err(|e| LogError::io("open", path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| LogError::io("stat", path, e))?
        .len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut index = SegmentIndex::new(start);
    let mut rec = vec![0u8; HEADER_LEN];
    let mut offset = 0u64;
    let mut pos = start;
    let damage = loop {
        rec.resize(HEADER_LEN, 0);
        let n = read_full(&mut reader, &mut rec[..HEADER_LEN])
            .map_err(|e| LogError::io("read", path, e))?;
        if n == 0 {
            break None;
        }
        if n < HEADER_LEN {
            break Some(format!("torn record header at offset {offset}"));
        }
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(&rec[4..8]);
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > MAX_ENTRY {
            break Some(format!("bad record length {len} at offset {offset}"));
        }
        rec.resize(HEADER_LEN + len, 0);
        let n = read_full(&mut reader, &mut rec[HEADER_LEN..])
            .map_err(|e| LogError::io("read", path, e))?;
        if n < len {
            break Some(format!("torn record payload at offset {offset}"));
        }
        match record::decode(&rec, pos) {
            Decoded::Record { framed, .. } => {
                index.push(pos, offset, framed as u64);
                offset += framed as u64;
                pos += 1;
            }
            Decoded::Incomplete { .. } => {
                break Some(format!("incomplete record at offset {offset}"));
            }
            Decoded::Corrupt(why) => break Some(format!("{why} at offset {offset}")),
        }
    };
    let zero_tail = damage.is_some()
        && all_zero(reader.get_ref(), offset, file_len)
            .map_err(|e| LogError::io("read", path, e))?;
    Ok(Scan {
        index,
        file_len,
        damage: if zero_tail { None } else { damage },
        zero_tail,
    })
}

/// Reads the records of `[from, to)` from `file`, given a plan from [`SegmentIndex::plan`]:
/// the bytes `[lo_off, hi_off)` start with the record of `lo_pos`. Appends them to `out`.
pub(crate) fn read_range(
    file: &File,
    path: &Path,
    (lo_pos, lo_off, hi_off): (Pos, u64, u64),
    from: Pos,
    to: Pos,
    out: &mut Vec<(Pos, Bytes)>,
) -> Result<()> {
    let len = usize::try_from(hi_off.saturating_sub(lo_off))
        .map_err(|_| LogError::corrupt(path.display().to_string(), "read range too large"))?;
    let mut buf = BytesMut::zeroed(len);
    file.read_exact_at(&mut buf, lo_off)
        .map_err(|e| LogError::io("read", path, e))?;
    let buf = buf.freeze();
    let mut at = 0usize;
    let mut pos = lo_pos;
    while pos < to && at < buf.len() {
        match record::decode(&buf[at..], pos) {
            Decoded::Record {
                payload, framed, ..
            } => {
                if pos >= from {
                    out.push((pos, buf.slice(at + payload.start..at + payload.end)));
                }
                at += framed;
                pos += 1;
            }
            Decoded::Incomplete { .. } => {
                return Err(LogError::corrupt(
                    path.display().to_string(),
                    format!(
                        "record of position {pos} is cut short at offset {}",
                        lo_off + at as u64
                    ),
                ));
            }
            Decoded::Corrupt(why) => {
                return Err(LogError::corrupt(
                    path.display().to_string(),
                    format!("{why} at offset {}", lo_off + at as u64),
                ));
            }
        }
    }
    if pos < to {
        return Err(LogError::corrupt(
            path.display().to_string(),
            format!("records end at position {pos}, expected them up to {to}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(42), "seg-00000000000000000042.log");
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_file_name("seg-42.log"), None);
        assert_eq!(parse_file_name("seg-0000000000000000004x.log"), None);
    }

    #[test]
    fn plan_uses_sparse_points() {
        let mut ix = SegmentIndex::new(100);
        // 1000 records of 1000 bytes: a point every 5 records (5000 >= 4096).
        for i in 0..1000u64 {
            ix.push(100 + i, i * 1000, 1000);
        }
        let (lo_pos, lo_off, hi_off) = ix.plan(100, 101);
        assert_eq!((lo_pos, lo_off), (100, 0));
        assert!(hi_off <= 5000);
        let (lo_pos, lo_off, hi_off) = ix.plan(557, 560);
        assert!(lo_pos <= 557 && 557 - lo_pos < 5);
        assert_eq!(lo_off, (lo_pos - 100) * 1000);
        assert!((460_000..=465_000).contains(&hi_off));
        let (_, _, hi_off) = ix.plan(1095, 1100);
        assert_eq!(hi_off, 1_000_000);
        assert_eq!(ix.end_pos(), 1100);
    }
}
