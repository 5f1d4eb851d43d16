//! The chain: which loglet holds which range of virtual-log positions, and its binary format.
//!
//! Layer: data only (no I/O); kept in the MetaStore by the VirtualLog. A chain
//! `[0 A -> 100 B -> 150 C]` maps `[0, 100)` to A, `[100, 150)` to B and `[150, ∞)` to C, the
//! active segment. Each segment names its loglet by an opaque [`LogletConfig`] (a kind plus
//! kind-specific parameters, e.g. the directory of a local loglet) that a
//! [`LogletFactory`](super::LogletFactory) turns into a loglet. The chain also carries the
//! virtual log's trim point and, once the whole virtual log is sealed, its final tail.
//!
//! Format (little endian): `"ZLCH" | format u8 (=1) | trim_point u64 | sealed u8 | sealed_at u64 |
//! count u32 | count × (start u64 | kind_len u16 | kind | params_len u32 | params) | crc32 u32`.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::error::{LogError, Result};
use super::loglet::Pos;

const MAGIC: &[u8; 4] = b"ZLCH";
const FORMAT: u8 = 1;

/// Kind name of the local (segment files) loglet.
pub const KIND_LOCAL: &str = "local";
/// Kind name of the in-memory loglet.
pub const KIND_MEM: &str = "mem";

/// How to open one loglet: a kind and opaque kind-specific parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogletConfig {
    /// Which factory opens it (`"local"`, `"mem"`, …).
    pub kind: String,
    /// Kind-specific parameters, opaque to the chain.
    pub params: Bytes,
}

impl LogletConfig {
    /// A config of any kind.
    pub fn new(kind: impl Into<String>, params: impl Into<Bytes>) -> Self {
        LogletConfig {
            kind: kind.into(),
            params: params.into(),
        }
    }

    /// A local loglet in directory `dir`.
    pub fn local(dir: impl AsRef<Path>) -> Self {
        use std::os::unix::ffi::OsStrExt;
        Self::new(
            KIND_LOCAL,
            Bytes::copy_from_slice(dir.as_ref().as_os_str().as_bytes()),
        )
    }

    /// An in-memory loglet named `name` (one instance per name and factory).
    pub fn mem(name: &str) -> Self {
        Self::new(KIND_MEM, Bytes::copy_from_slice(name.as_bytes()))
    }

    /// The directory of a local loglet config.
    pub fn local_dir(&self) -> Option<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        (self.kind == KIND_LOCAL && !self.params.is_empty())
            .then(|| PathBuf::from(std::ffi::OsStr::from_bytes(&self.params)))
    }
}

impl std::fmt::Display for LogletConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, String::from_utf8_lossy(&self.params))
    }
}

/// One segment of the chain: positions from `start` up to the next segment's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSegment {
    /// First global position of the segment; its loglet's local position 0.
    pub start: Pos,
    /// The loglet holding it.
    pub config: LogletConfig,
}

/// The chain of segments of a virtual log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Positions below this were trimmed from the virtual log.
    pub trim_point: Pos,
    /// Once the virtual log itself is sealed: its final tail.
    pub sealed_at: Option<Pos>,
    /// Segments in position order; never empty; the last is the active one.
    pub segments: Vec<ChainSegment>,
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| LogError::corrupt("chain", "truncated"))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let mut b = [0u8; 2];
        b.copy_from_slice(self.take(2)?);
        Ok(u16::from_le_bytes(b))
    }
    fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

impl Chain {
    /// A chain of one segment at position 0.
    pub fn new(initial: LogletConfig) -> Self {
        Chain {
            trim_point: 0,
            sealed_at: None,
            segments: vec![ChainSegment {
                start: 0,
                config: initial,
            }],
        }
    }

    /// First position past segment `i` (`None` for the active segment of an unsealed chain).
    pub fn segment_end(&self, i: usize) -> Option<Pos> {
        match self.segments.get(i + 1) {
            Some(next) => Some(next.start),
            None => self.sealed_at,
        }
    }

    /// Checks the structural rules: at least one segment, starts non-decreasing, the trim point
    /// and the sealed tail not below the active segment's start… where they must not be.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(LogError::corrupt("chain", why));
        let Some(last) = self.segments.last() else {
            return bad("no segments".into());
        };
        if self.segments.windows(2).any(|w| w[1].start < w[0].start) {
            return bad("segment starts decrease".into());
        }
        if let Some(s) = self.sealed_at
            && s < last.start
        {
            return bad(format!(
                "sealed at {s} below the active start {}",
                last.start
            ));
        }
        if self.segments[0].start > self.trim_point {
            return bad(format!(
                "first segment starts at {} above the trim point {}",
                self.segments[0].start, self.trim_point
            ));
        }
        Ok(())
    }

    /// Serializes the chain.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(64 + self.segments.len() * 64);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&self.trim_point.to_le_bytes());
        out.push(u8::from(self.sealed_at.is_some()));
        out.extend_from_slice(&self.sealed_at.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        for s in &self.segments {
            out.extend_from_slice(&s.start.to_le_bytes());
            let kind = s.config.kind.as_bytes();
            out.extend_from_slice(&(kind.len().min(u16::MAX as usize) as u16).to_le_bytes());
            out.extend_from_slice(&kind[..kind.len().min(u16::MAX as usize)]);
            out.extend_from_slice(&(s.config.params.len() as u32).to_le_bytes());
            out.extend_from_slice(&s.config.params);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Bytes::from(out)
    }

    /// Parses and validates a serialized chain.
    pub fn decode(data: &[u8]) -> Result<Self> {
        if data.len() < 4 {
            return Err(LogError::corrupt("chain", "truncated"));
        }
        let (body, crc) = data.split_at(data.len() - 4);
        let mut c = [0u8; 4];
        c.copy_from_slice(crc);
        if crc32fast::hash(body) != u32::from_le_bytes(c) {
            return Err(LogError::corrupt("chain", "crc mismatch"));
        }
        let mut cur = Cursor { data: body, at: 0 };
        if cur.take(4)? != MAGIC {
            return Err(LogError::corrupt("chain", "bad magic"));
        }
        let format = cur.u8()?;
        if format != FORMAT {
            return Err(LogError::corrupt(
                "chain",
                format!("unknown format version {format}"),
            ));
        }
        let trim_point = cur.u64()?;
        let sealed = cur.u8()?;
        let sealed_pos = cur.u64()?;
        let sealed_at = match sealed {
            0 => None,
            1 => Some(sealed_pos),
            _ => return Err(LogError::corrupt("chain", "bad sealed flag")),
        };
        let count = cur.u32()? as usize;
        let mut segments = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let start = cur.u64()?;
            let klen = cur.u16()? as usize;
            let kind = std::str::from_utf8(cur.take(klen)?)
                .map_err(|_| LogError::corrupt("chain", "loglet kind is not utf-8"))?
                .to_string();
            let plen = cur.u32()? as usize;
            let params = Bytes::copy_from_slice(cur.take(plen)?);
            segments.push(ChainSegment {
                start,
                config: LogletConfig { kind, params },
            });
        }
        if cur.at != body.len() {
            return Err(LogError::corrupt("chain", "trailing bytes"));
        }
        let chain = Chain {
            trim_point,
            sealed_at,
            segments,
        };
        chain.validate()?;
        Ok(chain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut c = Chain::new(LogletConfig::mem("a"));
        c.segments.push(ChainSegment {
            start: 100,
            config: LogletConfig::local("/var/lib/zoolog/log-1"),
        });
        c.trim_point = 42;
        let enc = c.encode();
        assert_eq!(Chain::decode(&enc).unwrap(), c);
        assert_eq!(
            c.segments[1].config.local_dir(),
            Some(PathBuf::from("/var/lib/zoolog/log-1"))
        );
        c.sealed_at = Some(120);
        assert_eq!(Chain::decode(&c.encode()).unwrap(), c);
        assert_eq!(c.segment_end(0), Some(100));
        assert_eq!(c.segment_end(1), Some(120));
        let mut bad = enc.to_vec();
        bad[10] ^= 1;
        assert!(Chain::decode(&bad).is_err());
        assert!(Chain::decode(&enc[..enc.len() - 5]).is_err());
        assert!(Chain::decode(b"").is_err());
    }
}
