//! On-disk record framing of the local loglet.
//!
//! Layer: pure byte encoding, no I/O. A record is
//! `crc32 (u32 LE) | len (u32 LE) | pos (u64 LE) | payload[len]`, where the CRC (crc32fast,
//! IEEE) covers `len | pos | payload`. Carrying the position makes a misplaced or zero-filled
//! region detectable, not only a flipped bit.

use super::super::loglet::Pos;

/// Size of the record header.
pub(crate) const HEADER_LEN: usize = 16;

/// Largest payload accepted (and believed when decoding a length).
pub(crate) const MAX_ENTRY: usize = 64 << 20;

/// Appends the framed record to `buf`.
pub(crate) fn encode_into(buf: &mut Vec<u8>, pos: Pos, payload: &[u8]) {
    // Callers reject payloads above MAX_ENTRY, which fits in a u32.
    let len = payload.len() as u32;
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&pos.to_le_bytes());
    h.update(payload);
    let crc = h.finalize();
    buf.extend_from_slice(&crc.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&pos.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Total framed size of a payload of `len` bytes.
pub(crate) fn framed_len(len: usize) -> usize {
    HEADER_LEN + len
}

/// The result of decoding one record at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A valid record: its position, where its payload is in the buffer, and its framed size.
    Record {
        pos: Pos,
        payload: std::ops::Range<usize>,
        framed: usize,
    },
    /// The buffer ends inside the record; `need` is the framed size if known (else the header).
    Incomplete { need: usize },
    /// The bytes are not a valid record.
    Corrupt(String),
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Decodes the record at the start of `buf`, expecting it at position `expected`.
pub(crate) fn decode(buf: &[u8], expected: Pos) -> Decoded {
    if buf.len() < HEADER_LEN {
        return Decoded::Incomplete { need: HEADER_LEN };
    }
    let crc = u32_at(buf, 0);
    let len = u32_at(buf, 4) as usize;
    let pos = u64_at(buf, 8);
    if len > MAX_ENTRY {
        return Decoded::Corrupt(format!("record length {len} exceeds the maximum"));
    }
    let framed = framed_len(len);
    if buf.len() < framed {
        return Decoded::Incomplete { need: framed };
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[4..framed]);
    if h.finalize() != crc {
        return Decoded::Corrupt("crc mismatch".to_string());
    }
    if pos != expected {
        return Decoded::Corrupt(format!("record holds position {pos}, expected {expected}"));
    }
    Decoded::Record {
        pos,
        payload: HEADER_LEN..framed,
        framed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_damage() {
        let mut buf = Vec::new();
        encode_into(&mut buf, 7, b"hello");
        assert_eq!(
            decode(&buf, 7),
            Decoded::Record {
                pos: 7,
                payload: HEADER_LEN..HEADER_LEN + 5,
                framed: HEADER_LEN + 5
            }
        );
        assert!(matches!(decode(&buf, 8), Decoded::Corrupt(_)));
        assert!(matches!(decode(&buf[..10], 7), Decoded::Incomplete { .. }));
        assert!(matches!(
            decode(&buf[..18], 7),
            Decoded::Incomplete { need: 21 }
        ));
        let mut bad = buf.clone();
        bad[HEADER_LEN + 1] ^= 0x40;
        assert!(matches!(decode(&bad, 7), Decoded::Corrupt(_)));
        assert!(matches!(decode(&[0u8; 32], 0), Decoded::Corrupt(_)));
    }
}
