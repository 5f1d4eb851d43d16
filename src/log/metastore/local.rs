//! `LocalMetaStore`: the single-node MetaStore, one file replaced atomically.
//!
//! Layer: a MetaStore implementation; touches only its register file `<path>`, the temp file
//! `<path>.tmp` and the lock file `<path>.lock`. A write takes an exclusive `flock` on the lock
//! file (so racing writers, in this process or another, are serialized), re-reads the current
//! version, and if it matches writes the new contents to the temp file, fsyncs it, renames it
//! over the register and fsyncs the directory. A crash leaves the old or the new register.
//!
//! File format: `"ZLMS" | format u8 (=1) | version u64 LE | present u8 | len u32 LE | value |
//! crc32 u32 LE` (CRC over everything before it).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{MetaStore, MetaVersion};
use crate::log::error::{LogError, Result};
use crate::log::fsutil::{self, FileLock};

const MAGIC: &[u8; 4] = b"ZLMS";
const FORMAT: u8 = 1;

/// A versioned register kept in one file.
#[derive(Debug, Clone)]
pub struct LocalMetaStore {
    path: PathBuf,
    lock_path: PathBuf,
}

fn encode(version: MetaVersion, value: Option<&[u8]>) -> Vec<u8> {
    let v = value.unwrap_or_default();
    let mut out = Vec::with_capacity(22 + v.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(&version.to_le_bytes());
    out.push(u8::from(value.is_some()));
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    out.extend_from_slice(v);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(path: &Path, data: &[u8]) -> Result<(MetaVersion, Option<Bytes>)> {
    let bad = |why: &str| LogError::corrupt(path.display().to_string(), why.to_string());
    if data.len() < 22 {
        return Err(bad("file too short"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    let mut c = [0u8; 4];
    c.copy_from_slice(crc);
    if crc32fast::hash(body) != u32::from_le_bytes(c) {
        return Err(bad("crc mismatch"));
    }
    if &body[..4] != MAGIC {
        return Err(bad("bad magic"));
    }
    if body[4] != FORMAT {
        return Err(bad("unknown format version"));
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&body[5..13]);
    let version = u64::from_le_bytes(v);
    let present = body[13];
    let mut l = [0u8; 4];
    l.copy_from_slice(&body[14..18]);
    let len = u32::from_le_bytes(l) as usize;
    if body.len() != 18 + len {
        return Err(bad("length mismatch"));
    }
    let value = match present {
        0 => None,
        1 => Some(Bytes::copy_from_slice(&body[18..])),
        _ => return Err(bad("bad presence flag")),
    };
    Ok((version, value))
}

impl LocalMetaStore {
    /// A register kept at `path` (its directory is created if needed). Reads nothing yet.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let dir = fsutil::parent_dir(&path);
        std::fs::create_dir_all(&dir).map_err(|e| LogError::io("create dir", &dir, e))?;
        let mut lock = path.as_os_str().to_os_string();
        lock.push(".lock");
        Ok(LocalMetaStore {
            path,
            lock_path: PathBuf::from(lock),
        })
    }

    /// The register file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_blocking(&self) -> Result<(MetaVersion, Option<Bytes>)> {
        match std::fs::read(&self.path) {
            Ok(data) => decode(&self.path, &data),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((0, None)),
            Err(e) => Err(LogError::io("read", &self.path, e)),
        }
    }

    fn write_blocking(&self, expected: MetaVersion, value: &[u8]) -> Result<MetaVersion> {
        let _lock = FileLock::acquire_blocking(&self.lock_path)?;
        let (actual, _) = self.read_blocking()?;
        if actual != expected {
            return Err(LogError::VersionConflict { expected, actual });
        }
        let new = expected + 1;
        fsutil::write_atomic(&self.path, &encode(new, Some(value)))?;
        Ok(new)
    }
}

#[async_trait]
impl MetaStore for LocalMetaStore {
    async fn read(&self) -> Result<(MetaVersion, Option<Bytes>)> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking())
            .await
            .map_err(|e| LogError::Unavailable(format!("metastore read task failed: {e}")))?
    }

    async fn write(&self, expected: MetaVersion, value: Bytes) -> Result<MetaVersion> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.write_blocking(expected, &value))
            .await
            .map_err(|e| LogError::Unavailable(format!("metastore write task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_roundtrip() {
        let p = Path::new("x");
        let enc = encode(7, Some(b"chain"));
        assert_eq!(
            decode(p, &enc).unwrap(),
            (7, Some(Bytes::from_static(b"chain")))
        );
        let enc = encode(3, None);
        assert_eq!(decode(p, &enc).unwrap(), (3, None));
        let mut bad = encode(7, Some(b"chain"));
        bad[20] ^= 1;
        assert!(matches!(decode(p, &bad), Err(LogError::Corrupt { .. })));
        assert!(decode(p, &bad[..10]).is_err());
    }
}
