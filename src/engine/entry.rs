//! `Entry`: what travels through the engine stack and is stored in the log — a map of engine
//! headers plus an opaque payload — and its versioned binary format.
//!
//! Layer: data only (no I/O); every engine reads and writes it. Delos learned that a "stack of
//! buffers" format breaks when the stack changes; a header map lets engines be added, removed or
//! reordered without changing how other engines' headers are found ([SOSP] §3).
//!
//! Format version 1:
//! `version u8 (=1) | header_count varint | header_count × (key_len varint | key utf-8 |
//! value_len varint | value) | payload (the rest)`. Headers are written in key order, and a
//! decoder rejects keys out of order or repeated, so every entry has exactly one encoding.
//! Decoding returns a typed [`EntryError`] and never panics; the payload and header values of a
//! decoded entry share the input's memory.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use super::wire::{Reader, WireError, put_varint, varint_len};

/// The format version this build writes and reads.
pub const ENTRY_FORMAT_V1: u8 = 1;

/// A header key: usually a `&'static str` constant of an engine (no allocation), owned when
/// decoded.
pub type HeaderKey = Cow<'static, str>;

/// The engines' own header keys: decoded without allocating.
const WELL_KNOWN_KEYS: &[&str] = &[
    crate::engine::base::BASE_HEADER,
    crate::engine::base::CONTROL_HEADER,
    crate::engine::batching::BATCH_HEADER,
    crate::engine::session::SESSION_HEADER,
    crate::engine::session::STREAM_HEADER,
];

fn intern(key: &str) -> HeaderKey {
    match WELL_KNOWN_KEYS.iter().find(|k| **k == key) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(key.to_owned()),
    }
}

/// A malformed or unsupported encoded entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Zero bytes.
    #[error("empty entry")]
    Empty,
    /// A version byte this build does not know (written by a newer build?).
    #[error("unknown entry format version {0}")]
    UnknownVersion(u8),
    /// A length, count or varint is broken.
    #[error("malformed entry: {0}")]
    Wire(#[from] WireError),
    /// A header key that is not UTF-8.
    #[error("header key is not UTF-8")]
    KeyNotUtf8,
    /// A header key that is empty.
    #[error("empty header key")]
    EmptyKey,
    /// Header keys out of order or repeated (not the canonical encoding).
    #[error("header {key:?} out of order or repeated")]
    HeaderOrder {
        /// The offending key.
        key: String,
    },
}

impl EntryError {
    /// True if the entry was written in a format this build cannot read at all (as opposed to
    /// damaged bytes): an apply loop must stop rather than skip it.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, EntryError::UnknownVersion(_))
    }
}

/// Engine headers plus a payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    headers: BTreeMap<HeaderKey, Bytes>,
    payload: Bytes,
}

impl Entry {
    /// An entry with no headers.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Entry {
            headers: BTreeMap::new(),
            payload: payload.into(),
        }
    }

    /// Adds (or replaces) a header, builder style.
    pub fn with_header(mut self, key: impl Into<HeaderKey>, value: impl Into<Bytes>) -> Self {
        self.set_header(key, value);
        self
    }

    /// Adds (or replaces) a header.
    pub fn set_header(&mut self, key: impl Into<HeaderKey>, value: impl Into<Bytes>) {
        self.headers.insert(key.into(), value.into());
    }

    /// The value of header `key`.
    pub fn header(&self, key: &str) -> Option<&Bytes> {
        self.headers.get(key)
    }

    /// True if header `key` is present.
    pub fn has_header(&self, key: &str) -> bool {
        self.headers.contains_key(key)
    }

    /// Removes header `key`, returning its value.
    pub fn remove_header(&mut self, key: &str) -> Option<Bytes> {
        self.headers.remove(key)
    }

    /// The headers in key order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.headers.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Replaces the payload.
    pub fn set_payload(&mut self, payload: impl Into<Bytes>) {
        self.payload = payload.into();
    }

    /// The payload, consuming the entry.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// Size of the encoding.
    pub fn encoded_len(&self) -> usize {
        1 + varint_len(self.headers.len() as u64)
            + self
                .headers
                .iter()
                .map(|(k, v)| {
                    varint_len(k.len() as u64) + k.len() + varint_len(v.len() as u64) + v.len()
                })
                .sum::<usize>()
            + self.payload.len()
    }

    /// Appends the encoding to `buf`.
    pub fn encode_into(&self, buf: &mut BytesMut) {
        buf.reserve(self.encoded_len());
        buf.extend_from_slice(&u8::to_be_bytes(ENTRY_FORMAT_V1));
        put_varint(buf, self.headers.len() as u64);
        for (k, v) in &self.headers {
            put_varint(buf, k.len() as u64);
            buf.extend_from_slice(k.as_bytes());
            put_varint(buf, v.len() as u64);
            buf.extend_from_slice(v);
        }
        buf.extend_from_slice(&self.payload);
    }

    /// The encoding.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut buf);
        buf.freeze()
    }

    /// Decodes an entry; values and payload share `data`'s memory.
    pub fn decode(data: Bytes) -> Result<Entry, EntryError> {
        let mut r = Reader::new(data);
        let version = r.u8("version").map_err(|_| EntryError::Empty)?;
        if version != ENTRY_FORMAT_V1 {
            return Err(EntryError::UnknownVersion(version));
        }
        // Each header takes at least two bytes (two lengths), which bounds the count.
        let count = r.varint("header count")?;
        if count > (r.remaining() / 2) as u64 {
            return Err(WireError::TooLong {
                what: "header count",
                value: count,
                remaining: r.remaining(),
            }
            .into());
        }
        let mut headers = BTreeMap::new();
        let mut last: Option<Bytes> = None;
        for _ in 0..count {
            let raw = r.len_prefixed("header key")?;
            if raw.is_empty() {
                return Err(EntryError::EmptyKey);
            }
            let key = std::str::from_utf8(&raw).map_err(|_| EntryError::KeyNotUtf8)?;
            // Byte order is `str` order: keys must strictly increase.
            if last.as_ref().is_some_and(|l| l.as_ref() >= raw.as_ref()) {
                return Err(EntryError::HeaderOrder {
                    key: key.to_owned(),
                });
            }
            let key = intern(key);
            let value = r.len_prefixed("header value")?;
            last = Some(raw);
            headers.insert(key, value);
        }
        let payload = r.rest();
        Ok(Entry { headers, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = Entry::new(Bytes::from_static(b"payload"))
            .with_header("zeta", Bytes::from_static(b"1"))
            .with_header("alpha", Bytes::new())
            .with_header(String::from("mid"), vec![0u8; 200]);
        let enc = e.encode();
        assert_eq!(enc.len(), e.encoded_len());
        let d = Entry::decode(enc.clone()).unwrap();
        assert_eq!(d, e);
        assert_eq!(d.encode(), enc);
        assert_eq!(
            d.headers().map(|(k, _)| k).collect::<Vec<_>>(),
            ["alpha", "mid", "zeta"]
        );
        assert_eq!(
            Entry::decode(Entry::default().encode()).unwrap(),
            Entry::default()
        );
    }

    #[test]
    fn every_truncation_is_a_typed_error_or_a_shorter_payload() {
        let e = Entry::new(Bytes::new())
            .with_header("a", Bytes::from_static(b"xyz"))
            .with_header("b", Bytes::from_static(b"w"));
        let enc = e.encode();
        for cut in 0..enc.len() {
            assert!(Entry::decode(enc.slice(..cut)).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(Entry::decode(Bytes::new()), Err(EntryError::Empty));
        assert_eq!(
            Entry::decode(Bytes::from_static(&[9, 0])),
            Err(EntryError::UnknownVersion(9))
        );
        assert!(Entry::decode(Bytes::from_static(&[1, 1, 1, b'b', 0, 0])).is_ok());
        // Out of order and repeated keys.
        assert!(matches!(
            Entry::decode(Bytes::from_static(&[1, 2, 1, b'b', 0, 1, b'a', 0])),
            Err(EntryError::HeaderOrder { .. })
        ));
        assert!(matches!(
            Entry::decode(Bytes::from_static(&[1, 2, 1, b'a', 0, 1, b'a', 0])),
            Err(EntryError::HeaderOrder { .. })
        ));
        assert_eq!(
            Entry::decode(Bytes::from_static(&[1, 1, 1, 0xff, 0])),
            Err(EntryError::KeyNotUtf8)
        );
        assert_eq!(
            Entry::decode(Bytes::from_static(&[1, 1, 0, 0])),
            Err(EntryError::EmptyKey)
        );
        assert!(Entry::decode(Bytes::from_static(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f])).is_err());
    }
}
