//! `LogMetaStore`: the MetaStore of an ensemble, kept in a replicated loglet of its own.
//!
//! Layer: a MetaStore implementation over any [`Loglet`] (in an ensemble, a raft loglet among the
//! participants, separate from the data log's). Each write appends `expected u64 | value`; the
//! register is the fold of that log, where a record takes effect only if `expected` is the
//! version reached so far, exactly as a conditional write. Every replica folds the same log, so
//! all agree on the register, and a write's success is known once its own record is folded.
//! A read is linearizable: it folds up to a tail `check_tail` returned.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};

use super::{MetaStore, MetaVersion};
use crate::log::error::{LogError, Result};
use crate::log::{Loglet, Pos};

#[derive(Debug, Default)]
struct Folded {
    /// Records below this position are folded in.
    upto: Pos,
    version: MetaVersion,
    value: Option<Bytes>,
    /// Where the current version's record is.
    at: Option<Pos>,
}

/// A versioned register over a loglet.
pub struct LogMetaStore {
    log: Arc<dyn Loglet>,
    folded: tokio::sync::Mutex<Folded>,
}

impl std::fmt::Debug for LogMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMetaStore").finish_non_exhaustive()
    }
}

fn record(expected: MetaVersion, value: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + value.len());
    b.put_u64(expected);
    b.put_slice(value);
    b.freeze()
}

impl LogMetaStore {
    /// The register kept in `log`.
    pub fn new(log: Arc<dyn Loglet>) -> Self {
        LogMetaStore {
            log,
            folded: tokio::sync::Mutex::new(Folded::default()),
        }
    }

    /// The loglet holding the register's history.
    pub fn log(&self) -> &Arc<dyn Loglet> {
        &self.log
    }

    /// Folds the records below `to` into the register.
    async fn fold_to(&self, to: Pos) -> Result<tokio::sync::MutexGuard<'_, Folded>> {
        let mut f = self.folded.lock().await;
        while f.upto < to {
            let batch = self.log.read(f.upto, to.min(f.upto + 256)).await?;
            if batch.is_empty() {
                return Err(LogError::Unavailable(format!(
                    "metastore log has no record at {} below its tail {to}",
                    f.upto
                )));
            }
            for (pos, rec) in batch {
                if rec.len() < 8 {
                    return Err(LogError::corrupt(
                        "metastore log",
                        format!("record at {pos} is {} bytes", rec.len()),
                    ));
                }
                let mut e = [0u8; 8];
                e.copy_from_slice(&rec[..8]);
                if u64::from_be_bytes(e) == f.version {
                    f.version += 1;
                    f.value = Some(rec.slice(8..));
                    f.at = Some(pos);
                }
                f.upto = pos + 1;
            }
        }
        Ok(f)
    }
}

#[async_trait]
impl MetaStore for LogMetaStore {
    async fn read(&self) -> Result<(MetaVersion, Option<Bytes>)> {
        let (tail, _) = self.log.check_tail().await?;
        let f = self.fold_to(tail).await?;
        Ok((f.version, f.value.clone()))
    }

    async fn write(&self, expected: MetaVersion, value: Bytes) -> Result<MetaVersion> {
        {
            // Fail fast on a version already passed, without appending.
            let f = self.folded.lock().await;
            if f.version > expected {
                return Err(LogError::VersionConflict {
                    expected,
                    actual: f.version,
                });
            }
        }
        let pos = self.log.append(record(expected, &value)).await?;
        let f = self.fold_to(pos + 1).await?;
        if f.at == Some(pos) {
            Ok(f.version)
        } else {
            Err(LogError::VersionConflict {
                expected,
                actual: f.version,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::MemLoglet;

    #[tokio::test]
    async fn conditional_writes_fold_alike_on_two_readers() {
        let log: Arc<dyn Loglet> = Arc::new(MemLoglet::new());
        let a = LogMetaStore::new(log.clone());
        let b = LogMetaStore::new(log.clone());
        assert_eq!(a.read().await.unwrap(), (0, None));
        assert_eq!(a.write(0, Bytes::from_static(b"x")).await.unwrap(), 1);
        // b has not read yet: its write based on version 0 is appended and loses.
        assert!(matches!(
            b.write(0, Bytes::from_static(b"y")).await,
            Err(LogError::VersionConflict {
                expected: 0,
                actual: 1
            })
        ));
        assert_eq!(b.write(1, Bytes::from_static(b"z")).await.unwrap(), 2);
        assert_eq!(a.read().await.unwrap(), (2, Some(Bytes::from_static(b"z"))));
        assert!(matches!(
            a.write(1, Bytes::from_static(b"w")).await,
            Err(LogError::VersionConflict { .. })
        ));
        let c = LogMetaStore::new(log);
        assert_eq!(c.read().await.unwrap(), (2, Some(Bytes::from_static(b"z"))));
    }
}
