//! The session-order engine's formats: the `stream` header the layer above may set, the `so`
//! stamp header (origin, stream, sequence number), the store key of a stream's next expected
//! sequence number, and the tag byte that wraps the upper result.
//!
//! Layer: data only; used by the engine's propose path and its apply.

use bytes::{Bytes, BytesMut};

use crate::engine::entry::Entry;
use crate::engine::wire::{Reader, WireError};

/// A stream of proposals whose order is kept (a client session of the application, for instance).
pub type StreamId = u64;

/// The stream of proposals that carry no `stream` header (e.g. the batches of a batching engine
/// above this one).
pub const DEFAULT_STREAM: StreamId = 0;

/// Header the layer above sets to name the stream of a proposal: a `u64` big-endian. The engine
/// consumes it (it is replaced by the `so` stamp).
pub const STREAM_HEADER: &str = "stream";

/// Header of the stamp: `origin u64 BE | stream u64 BE | seq u64 BE`.
pub const SESSION_HEADER: &str = "so";

/// Result tag: the entry was in sequence and applied; the upper result follows.
pub const TAG_APPLIED: u8 = 0;
/// Result tag: the entry came before its predecessor (sequence above the expected one); filtered.
pub const TAG_GAP: u8 = 1;
/// Result tag: a copy of an entry already applied (sequence below the expected one); filtered.
pub const TAG_STALE: u8 = 2;
/// Result tag: the stamp is malformed; filtered.
pub const TAG_REJECTED: u8 = 3;

/// Marks `entry` as belonging to `stream`.
pub fn with_stream(entry: Entry, stream: StreamId) -> Entry {
    entry.with_header(STREAM_HEADER, Bytes::copy_from_slice(&stream.to_be_bytes()))
}

/// The stream named by a `stream` header value.
pub fn decode_stream(value: &Bytes) -> Result<StreamId, WireError> {
    let mut r = Reader::new(value.clone());
    let s = r.u64_be("stream")?;
    r.finish("stream")?;
    Ok(s)
}

/// The `so` stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStamp {
    /// The proposing engine's incarnation.
    pub origin: u64,
    /// The stream.
    pub stream: StreamId,
    /// The position of the proposal in its stream, from 0.
    pub seq: u64,
}

impl SessionStamp {
    /// The header value.
    pub fn encode(self) -> Bytes {
        let mut b = BytesMut::with_capacity(24);
        b.extend_from_slice(&u64::to_be_bytes(self.origin));
        b.extend_from_slice(&u64::to_be_bytes(self.stream));
        b.extend_from_slice(&u64::to_be_bytes(self.seq));
        b.freeze()
    }

    /// Decodes a header value.
    pub fn decode(value: &Bytes) -> Result<SessionStamp, WireError> {
        let mut r = Reader::new(value.clone());
        let origin = r.u64_be("so origin")?;
        let stream = r.u64_be("so stream")?;
        let seq = r.u64_be("so seq")?;
        r.finish("so stamp")?;
        Ok(SessionStamp {
            origin,
            stream,
            seq,
        })
    }

    /// Store key of the stream's next expected sequence number: `origin BE | stream BE`.
    pub fn key(self) -> [u8; 16] {
        stream_key(self.origin, self.stream)
    }
}

/// Store key of `(origin, stream)`.
pub fn stream_key(origin: u64, stream: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&origin.to_be_bytes());
    k[8..].copy_from_slice(&stream.to_be_bytes());
    k
}

/// `tag | upper result`.
pub fn wrap(tag: u8, upper: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(1 + upper.len());
    b.extend_from_slice(&u8::to_be_bytes(tag));
    b.extend_from_slice(upper);
    b.freeze()
}
