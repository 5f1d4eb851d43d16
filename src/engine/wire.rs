//! Small binary building blocks shared by the engines' formats: LEB128 varints, fixed-width
//! big-endian integers, and length-prefixed lists of byte strings.
//!
//! Layer: data only (no I/O, no state); used by `entry`, `batching` and `session`. Decoding
//! never panics: every read is bounds-checked and fails with a [`WireError`].

use bytes::{Bytes, BytesMut};

/// A malformed encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a value.
    #[error("truncated {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A varint longer than 10 bytes or above `u64::MAX`.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A length or count that cannot fit the remaining input.
    #[error("{what} of {value} exceeds the {remaining} remaining bytes")]
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The value read.
        value: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// Bytes left over after a complete value.
    #[error("{count} trailing bytes after {what}")]
    Trailing {
        /// What was decoded.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
}

/// Bytes a varint of `v` takes.
pub fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.extend_from_slice(&u8::to_be_bytes((v as u8) | 0x80));
        v >>= 7;
    }
    buf.extend_from_slice(&u8::to_be_bytes(v as u8));
}

/// A bounds-checked reader over a [`Bytes`]; slices it returns share the input's memory.
#[derive(Debug, Clone)]
pub struct Reader {
    data: Bytes,
    at: usize,
}

impl Reader {
    /// Reads `data` from its start.
    pub fn new(data: Bytes) -> Self {
        Reader { data, at: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.at
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        let b = *self
            .data
            .get(self.at)
            .ok_or(WireError::Truncated { what })?;
        self.at += 1;
        Ok(b)
    }

    /// Reads a big-endian `u64`.
    pub fn u64_be(&mut self, what: &'static str) -> Result<u64, WireError> {
        let s = self.take(8, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(&s);
        Ok(u64::from_be_bytes(b))
    }

    /// Reads an unsigned LEB128 varint.
    pub fn varint(&mut self, what: &'static str) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8(what)?;
            let low = u64::from(b & 0x7f);
            if i == 9 && low > 1 {
                return Err(WireError::VarintOverflow);
            }
            v |= low << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError::VarintOverflow)
    }

    /// Reads a varint length that must fit the remaining input.
    pub fn len(&mut self, what: &'static str) -> Result<usize, WireError> {
        let v = self.varint(what)?;
        let remaining = self.remaining();
        if v > remaining as u64 {
            return Err(WireError::TooLong {
                what,
                value: v,
                remaining,
            });
        }
        Ok(v as usize)
    }

    /// Takes the next `n` bytes (zero-copy).
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes, WireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(WireError::Truncated { what })?;
        let s = self.data.slice(self.at..end);
        self.at = end;
        Ok(s)
    }

    /// Takes a varint length and that many bytes.
    pub fn len_prefixed(&mut self, what: &'static str) -> Result<Bytes, WireError> {
        let n = self.len(what)?;
        self.take(n, what)
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> Bytes {
        let s = self.data.slice(self.at..);
        self.at = self.data.len();
        s
    }

    /// Fails if anything is left.
    pub fn finish(&self, what: &'static str) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(WireError::Trailing { what, count }),
        }
    }
}

/// Encodes `items` as `count varint | count × (len varint | bytes)`.
pub fn encode_list<B: AsRef<[u8]>>(items: &[B]) -> Bytes {
    let size: usize = varint_len(items.len() as u64)
        + items
            .iter()
            .map(|i| varint_len(i.as_ref().len() as u64) + i.as_ref().len())
            .sum::<usize>();
    let mut buf = BytesMut::with_capacity(size);
    put_varint(&mut buf, items.len() as u64);
    for i in items {
        put_varint(&mut buf, i.as_ref().len() as u64);
        buf.extend_from_slice(i.as_ref());
    }
    buf.freeze()
}

/// Decodes a list made by [`encode_list`]; the items share `data`'s memory.
pub fn decode_list(data: Bytes, what: &'static str) -> Result<Vec<Bytes>, WireError> {
    let mut r = Reader::new(data);
    // Every item takes at least one byte (its length), which bounds the count.
    let count = r.len(what)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(r.len_prefixed(what)?);
    }
    r.finish(what)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut b = BytesMut::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "len of {v}");
            let mut r = Reader::new(b.freeze());
            assert_eq!(r.varint("v").unwrap(), v);
            r.finish("v").unwrap();
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let mut r = Reader::new(Bytes::from_static(&[0xff; 11]));
        assert_eq!(r.varint("v"), Err(WireError::VarintOverflow));
        let mut r = Reader::new(Bytes::from_static(&[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ]));
        assert_eq!(r.varint("v"), Err(WireError::VarintOverflow));
    }

    #[test]
    fn lists_round_trip_and_reject_garbage() {
        let items = [
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::from(vec![7u8; 300]),
        ];
        let enc = encode_list(&items);
        assert_eq!(decode_list(enc.clone(), "l").unwrap(), items.to_vec());
        for cut in 0..enc.len() {
            assert!(decode_list(enc.slice(..cut), "l").is_err(), "cut at {cut}");
        }
        let mut extra = BytesMut::from(&enc[..]);
        extra.extend_from_slice(&u8::to_be_bytes(0));
        assert!(decode_list(extra.freeze(), "l").is_err());
        assert!(decode_list(Bytes::from_static(&[0xff, 0xff, 0xff, 0x7f]), "l").is_err());
    }
}
