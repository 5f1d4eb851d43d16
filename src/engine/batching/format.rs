//! The batch entry format: the `batch` header (its value is the batch format version) and a
//! payload that is the list of encoded sub-entries; and the batch result, the list of
//! sub-results in the same order.
//!
//! Layer: data only; used by the batching engine's propose path (encode) and apply (decode).
//! Lists use [`wire::encode_list`](crate::engine::wire::encode_list).

use bytes::{Bytes, BytesMut};

use crate::engine::entry::{Entry, EntryError};
use crate::engine::wire::{WireError, decode_list, encode_list, put_varint, varint_len};

/// Header key marking a batch entry.
pub const BATCH_HEADER: &str = "batch";
/// Version of the batch format written by this build.
pub const BATCH_FORMAT_V1: u8 = 1;

/// Why a batch entry cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A batch format this build cannot read.
    #[error("unknown batch format {0:?}")]
    UnknownFormat(Bytes),
    /// The list of sub-entries is damaged.
    #[error("malformed batch: {0}")]
    Wire(#[from] WireError),
    /// A sub-entry is damaged or in an unknown format.
    #[error("sub-entry {index}: {error}")]
    Entry {
        /// Its index in the batch.
        index: usize,
        /// What is wrong.
        error: EntryError,
    },
}

impl BatchError {
    /// True if the batch was written in a format this build cannot read at all.
    pub fn is_unsupported(&self) -> bool {
        match self {
            BatchError::UnknownFormat(_) => true,
            BatchError::Entry { error, .. } => error.is_unsupported(),
            BatchError::Wire(_) => false,
        }
    }
}

/// The batch entry carrying `entries`, in order: the [`encode_list`] of their encodings, written
/// into one buffer without encoding each entry on its own first.
pub fn encode_batch(entries: &[Entry]) -> Entry {
    let size = varint_len(entries.len() as u64)
        + entries
            .iter()
            .map(|e| {
                let len = e.encoded_len();
                varint_len(len as u64) + len
            })
            .sum::<usize>();
    let mut buf = BytesMut::with_capacity(size);
    put_varint(&mut buf, entries.len() as u64);
    for e in entries {
        put_varint(&mut buf, e.encoded_len() as u64);
        e.encode_into(&mut buf);
    }
    Entry::new(buf.freeze()).with_header(BATCH_HEADER, Bytes::from_static(&[BATCH_FORMAT_V1]))
}

/// The sub-entries of a batch entry.
pub fn decode_batch(entry: &Entry) -> Result<Vec<Entry>, BatchError> {
    match entry.header(BATCH_HEADER) {
        Some(v) if v.as_ref() == [BATCH_FORMAT_V1] => {}
        Some(v) => return Err(BatchError::UnknownFormat(v.clone())),
        None => return Err(BatchError::UnknownFormat(Bytes::new())),
    }
    decode_list(entry.payload().clone(), "batch")?
        .into_iter()
        .enumerate()
        .map(|(index, b)| Entry::decode(b).map_err(|error| BatchError::Entry { index, error }))
        .collect()
}

/// The result of a batch: its sub-results in order.
pub fn encode_results(results: &[Bytes]) -> Bytes {
    encode_list(results)
}

/// The sub-results of a batch result.
pub fn decode_results(result: &Bytes) -> Result<Vec<Bytes>, WireError> {
    decode_list(result.clone(), "batch result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trip() {
        let subs = vec![
            Entry::new(Bytes::from_static(b"a")).with_header("stream", Bytes::from_static(b"1")),
            Entry::default(),
        ];
        let b = encode_batch(&subs);
        // The same bytes as listing each sub-entry's own encoding (the format on the log).
        let listed: Vec<Bytes> = subs.iter().map(Entry::encode).collect();
        assert_eq!(b.payload(), &encode_list(&listed));
        let b = Entry::decode(b.encode()).unwrap();
        assert_eq!(decode_batch(&b).unwrap(), subs);
        let r = vec![Bytes::from_static(b"x"), Bytes::new()];
        assert_eq!(decode_results(&encode_results(&r)).unwrap(), r);
    }

    #[test]
    fn unknown_and_malformed_batches() {
        let e = Entry::new(Bytes::new()).with_header(BATCH_HEADER, Bytes::from_static(&[9]));
        assert!(decode_batch(&e).unwrap_err().is_unsupported());
        let e = Entry::new(Bytes::from_static(&[5, 1]))
            .with_header(BATCH_HEADER, Bytes::from_static(&[1]));
        let err = decode_batch(&e).unwrap_err();
        assert!(!err.is_unsupported(), "{err}");
        let bad_sub = encode_list(&[Bytes::from_static(&[7])]);
        let e = Entry::new(bad_sub).with_header(BATCH_HEADER, Bytes::from_static(&[1]));
        assert!(decode_batch(&e).unwrap_err().is_unsupported());
    }
}
