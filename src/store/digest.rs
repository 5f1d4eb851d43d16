//! Deterministic state dump and digest (`store/`): every non-empty partition, system partition
//! included, in name order, every entry in key order, in one canonical byte stream. Two replicas
//! that applied the same log have the same dump. Reads through a `ReadSnapshot`; writes nothing.
//!
//! Stream format: for each non-empty partition, `name_len: u64 BE, name`, then per entry
//! `1u8, key_len: u64 BE, key, value_len: u64 BE, value`, then `0u8`. Empty partitions are left
//! out, so a partition that was only created is the same as one that does not exist.
//! The digest is FNV-1a (128-bit) over that stream: stable across builds and platforms, meant to
//! detect divergence, not to resist an adversary.

use std::fmt;
use std::ops::ControlFlow;

use super::error::Result;
use super::partition::SYSTEM_PARTITION;
use super::range::KeyRange;
use super::snapshot::ReadSnapshot;

/// A 128-bit digest of a store's whole state; see [`ReadSnapshot::digest`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateDigest(pub [u8; 16]);

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateDigest({self})")
    }
}

/// Where the canonical stream goes.
trait Sink {
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// FNV-1a, 128-bit.
struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
}

impl Sink for Fnv128 {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

fn write_len_prefixed(sink: &mut dyn Sink, bytes: &[u8]) {
    sink.write(&(bytes.len() as u64).to_be_bytes());
    sink.write(bytes);
}

impl ReadSnapshot {
    /// The canonical dump of the whole state (see the module doc for the format).
    pub fn dump(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.stream(&mut out)?;
        Ok(out)
    }

    /// The digest of [`dump`](Self::dump), computed without materializing it.
    pub fn digest(&self) -> Result<StateDigest> {
        let mut hash = Fnv128(Fnv128::OFFSET);
        self.stream(&mut hash)?;
        Ok(StateDigest(hash.0.to_be_bytes()))
    }

    fn stream(&self, sink: &mut dyn Sink) -> Result<()> {
        let mut names: Vec<String> = self
            .partitions()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        names.push(SYSTEM_PARTITION.to_owned());
        names.sort();
        for name in &names {
            let mut started = false;
            self.for_each_cf(name, &KeyRange::all(), &mut |key, value| {
                if !started {
                    write_len_prefixed(sink, name.as_bytes());
                    started = true;
                }
                sink.write(&[1]);
                write_len_prefixed(sink, key);
                write_len_prefixed(sink, value);
                ControlFlow::Continue(())
            })?;
            if started {
                sink.write(&[0]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv128_known_vectors() {
        // Reference values of FNV-1a 128 for "" and "a".
        let mut h = Fnv128(Fnv128::OFFSET);
        h.write(b"");
        assert_eq!(h.0, 0x6c62272e07bb014262b821756295c58d);
        let mut h = Fnv128(Fnv128::OFFSET);
        h.write(b"a");
        assert_eq!(h.0, 0xd228cb696f1a8caf78912b704e4a8964);
    }
}
