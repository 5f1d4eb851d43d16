//! The store's own keys in the reserved system partition (`store/`): the apply cursor and the
//! on-disk format version, and their encodings. Touches no RocksDB state itself.

use super::error::{Result, StoreError};

/// Key of the apply cursor: the position of the first log entry not yet applied (8 bytes,
/// big-endian). Written in the same batch as the state it produced.
pub(crate) const CURSOR_KEY: &[u8] = b"apply_cursor";

/// Key of the on-disk format version (8 bytes, big-endian).
pub(crate) const FORMAT_KEY: &[u8] = b"format_version";

/// The format this code writes and reads.
pub(crate) const FORMAT_VERSION: u64 = 1;

pub(crate) fn encode_u64(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// Decodes an 8-byte big-endian value stored under `what`.
pub(crate) fn decode_u64(what: &str, bytes: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is {} bytes, expected 8", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// Decodes a stored cursor; a missing one means nothing was ever applied (cursor 0).
pub(crate) fn decode_cursor(stored: Option<&[u8]>) -> Result<u64> {
    stored.map_or(Ok(0), |b| decode_u64("apply cursor", b))
}
