//! The base engine's entry headers: the proposal stamp (`base`: origin id and proposal counter)
//! by which a proposer recognises its entry when it is applied, and the control header
//! (`base.ctl`) marking a command of the base engine itself.
//!
//! Layer: data only; used by the base engine's propose path and apply loop.

use bytes::{Bytes, BytesMut};

use crate::engine::wire::{Reader, WireError};

/// Header key of the proposal stamp: `origin u64 BE | counter u64 BE`.
pub const BASE_HEADER: &str = "base";
/// Header key of a base-engine control command (the value is the command).
pub const CONTROL_HEADER: &str = "base.ctl";

/// Who proposed an entry: `(origin, counter)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The proposing base engine's incarnation.
    pub origin: u64,
    /// Its proposal counter.
    pub counter: u64,
}

impl Stamp {
    /// The header value.
    pub fn encode(self) -> Bytes {
        let mut b = BytesMut::with_capacity(16);
        b.extend_from_slice(&u64::to_be_bytes(self.origin));
        b.extend_from_slice(&u64::to_be_bytes(self.counter));
        b.freeze()
    }

    /// Decodes a header value.
    pub fn decode(value: &Bytes) -> Result<Stamp, WireError> {
        let mut r = Reader::new(value.clone());
        let origin = r.u64_be("base origin")?;
        let counter = r.u64_be("base counter")?;
        r.finish("base stamp")?;
        Ok(Stamp { origin, counter })
    }
}
