//! The raft loglet's durable storage on one replica: openraft's log, vote and committed id, the
//! loglet state, and an index from loglet positions to raft entries, in one RocksDB.
//!
//! Layer: `log/raft`. Keys (big endian numbers, so keys sort by number):
//! `e|index` → `start u64 | bincode(entry)`; `p|start` → `index` for entries holding payloads;
//! `v` vote; `c` committed log id; `u` last purged log id; `b` the position the entry after the
//! purged prefix starts at; `s` the applied state; `n` the current snapshot; `f` the first
//! position this replica holds (a replica rebuilt from a snapshot holds none below it).
//!
//! Every write that openraft needs durable (entries, vote, truncation, purge) is synced before
//! it is acknowledged; the applied state is not (after a crash openraft re-applies from the
//! older state it finds, and apply is a pure function of the entries).
#![allow(clippy::result_large_err)] // openraft's StorageError is large, and its API returns it

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::{Entry, LogId, StorageError, StorageIOError};
use rocksdb::{DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

use super::types::{LogletCmd, LogletRaft, LogletState};
use crate::log::Pos;

pub(crate) type SErr = StorageError<u64>;

fn key(prefix: u8, n: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    k[1..].copy_from_slice(&n.to_be_bytes());
    k
}

fn be(b: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(b).ok().map(u64::from_be_bytes)
}

/// How many loglet positions an entry takes.
pub(crate) fn count_of(e: &Entry<LogletRaft>) -> u64 {
    match &e.payload {
        openraft::EntryPayload::Normal(cmd) => cmd.count(),
        _ => 0,
    }
}

/// The applied state as persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Applied {
    pub last_applied: Option<LogId<u64>>,
    pub membership: openraft::StoredMembership<u64, openraft::EmptyNode>,
    pub state: LogletState,
}

/// The last entry held: where the next one starts.
#[derive(Debug, Clone, Copy)]
struct Last {
    index: u64,
    log_id: LogId<u64>,
    next: Pos,
}

#[derive(Debug, Default)]
struct Meta {
    last: Option<Last>,
    purged: Option<LogId<u64>>,
    /// `(index, next)`: the entry after `index` (purged or snapshotted) starts at `next`.
    base: Option<(u64, Pos)>,
}

/// The RocksDB of one raft loglet on this replica, shared by the log store and the state machine.
pub(crate) struct RaftDb {
    db: DB,
    meta: Mutex<Meta>,
    sync: WriteOptions,
    nosync: WriteOptions,
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl RaftDb {
    pub(crate) fn open(dir: &Path) -> Result<Arc<RaftDb>, String> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_keep_log_file_num(2);
        opts.set_max_total_wal_size(64 << 20);
        let db = DB::open(&opts, dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let raft = RaftDb {
            db,
            meta: Mutex::new(Meta::default()),
            sync,
            nosync: WriteOptions::default(),
        };
        raft.load_meta().map_err(|e| e.to_string())?;
        Ok(Arc::new(raft))
    }

    fn meta(&self) -> MutexGuard<'_, Meta> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, k: &[u8]) -> Result<Option<T>, std::io::Error> {
        match self.db.get_pinned(k).map_err(io)? {
            None => Ok(None),
            Some(v) => bincode::deserialize(&v).map(Some).map_err(io),
        }
    }

    fn load_meta(&self) -> Result<(), std::io::Error> {
        let purged: Option<LogId<u64>> = self.get(b"u")?;
        let base: Option<(u64, Pos)> = self.get(b"b")?;
        let mut it = self
            .db
            .iterator(IteratorMode::From(&key(b'e', u64::MAX), Direction::Reverse));
        let mut last = None;
        if let Some(kv) = it.next() {
            let (k, v) = kv.map_err(io)?;
            if k.first() == Some(&b'e') {
                let (start, e) = decode_entry(&v)?;
                last = Some(Last {
                    index: e.log_id.index,
                    log_id: e.log_id,
                    next: start + count_of(&e),
                });
            }
        }
        *self.meta() = Meta { last, purged, base };
        Ok(())
    }

    // ---- the log ----

    pub(crate) fn log_state(&self) -> (Option<LogId<u64>>, Option<LogId<u64>>) {
        let m = self.meta();
        let last = m.last.map(|l| l.log_id).or(m.purged);
        (m.purged, last)
    }

    pub(crate) fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry<LogletRaft>>, SErr> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let it = self
            .db
            .iterator(IteratorMode::From(&key(b'e', from), Direction::Forward));
        for kv in it {
            let (k, v) = kv.map_err(|e| StorageIOError::read_logs(&io(e)))?;
            if k.first() != Some(&b'e') {
                break;
            }
            let idx = be(&k[1..]).unwrap_or(u64::MAX);
            if idx >= to {
                break;
            }
            let (_, e) = decode_entry(&v).map_err(|e| StorageIOError::read_logs(&e))?;
            out.push(e);
        }
        Ok(out)
    }

    /// Appends entries (each after the last held one), synced.
    pub(crate) fn append(&self, entries: Vec<Entry<LogletRaft>>) -> Result<(), SErr> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut m = self.meta();
        let mut batch = WriteBatch::default();
        let mut last = m.last;
        for e in entries {
            let idx = e.log_id.index;
            let start = match last {
                Some(l) if l.index + 1 == idx => l.next,
                _ => match m.base {
                    Some((b, next)) if b + 1 == idx => next,
                    None if idx == 0 => 0,
                    _ => {
                        return Err(StorageIOError::write_logs(&io(format!(
                            "raft entry {idx} does not follow the log (last {:?}, base {:?})",
                            last.map(|l| l.index),
                            m.base
                        )))
                        .into());
                    }
                },
            };
            let n = count_of(&e);
            let mut v = start.to_be_bytes().to_vec();
            bincode::serialize_into(&mut v, &e).map_err(|e| StorageIOError::write_logs(&io(e)))?;
            batch.put(key(b'e', idx), v);
            if n > 0 {
                batch.put(key(b'p', start), idx.to_be_bytes());
            }
            last = Some(Last {
                index: idx,
                log_id: e.log_id,
                next: start + n,
            });
        }
        self.db
            .write_opt(batch, &self.sync)
            .map_err(|e| StorageIOError::write_logs(&io(e)))?;
        m.last = last;
        Ok(())
    }

    /// Deletes the entries at and after `index`.
    pub(crate) fn truncate(&self, index: u64) -> Result<(), SErr> {
        let mut m = self.meta();
        let mut batch = WriteBatch::default();
        let it = self
            .db
            .iterator(IteratorMode::From(&key(b'e', index), Direction::Forward));
        for kv in it {
            let (k, v) = kv.map_err(|e| StorageIOError::write_logs(&io(e)))?;
            if k.first() != Some(&b'e') {
                break;
            }
            let (start, e) = decode_entry(&v).map_err(|e| StorageIOError::write_logs(&e))?;
            if count_of(&e) > 0 {
                batch.delete(key(b'p', start));
            }
            batch.delete(&k);
        }
        self.db
            .write_opt(batch, &self.sync)
            .map_err(|e| StorageIOError::write_logs(&io(e)))?;
        m.last = None;
        if index > 0
            && let Some(v) = self
                .db
                .get_pinned(key(b'e', index - 1))
                .map_err(|e| StorageIOError::read_logs(&io(e)))?
        {
            let (start, e) = decode_entry(&v).map_err(|e| StorageIOError::read_logs(&e))?;
            m.last = Some(Last {
                index: index - 1,
                log_id: e.log_id,
                next: start + count_of(&e),
            });
        }
        Ok(())
    }

    /// Deletes the entries up to and including `log_id`.
    pub(crate) fn purge(&self, log_id: LogId<u64>) -> Result<(), SErr> {
        let mut m = self.meta();
        let mut batch = WriteBatch::default();
        let mut base = m.base;
        let it = self
            .db
            .iterator(IteratorMode::From(&key(b'e', 0), Direction::Forward));
        for kv in it {
            let (k, v) = kv.map_err(|e| StorageIOError::write_logs(&io(e)))?;
            if k.first() != Some(&b'e') || be(&k[1..]).is_none_or(|i| i > log_id.index) {
                break;
            }
            let (start, e) = decode_entry(&v).map_err(|e| StorageIOError::write_logs(&e))?;
            let n = count_of(&e);
            if n > 0 {
                batch.delete(key(b'p', start));
            }
            // A base installed from a snapshot may be past these entries: keep the later one.
            if base.is_none_or(|(b, _)| e.log_id.index > b) {
                base = Some((e.log_id.index, start + n));
            }
            batch.delete(&k);
        }
        if let Some(b) = base {
            batch.put(
                b"b",
                bincode::serialize(&b).map_err(|e| StorageIOError::write_logs(&io(e)))?,
            );
        }
        batch.put(
            b"u",
            bincode::serialize(&log_id).map_err(|e| StorageIOError::write_logs(&io(e)))?,
        );
        self.db
            .write_opt(batch, &self.sync)
            .map_err(|e| StorageIOError::write_logs(&io(e)))?;
        m.base = base;
        m.purged = Some(log_id);
        if m.last.is_some_and(|l| l.index <= log_id.index) {
            m.last = None;
        }
        Ok(())
    }

    pub(crate) fn put_synced<T: Serialize>(&self, k: &[u8], v: &T) -> Result<(), SErr> {
        let b = bincode::serialize(v).map_err(|e| StorageIOError::write(&io(e)))?;
        self.db
            .put_opt(k, b, &self.sync)
            .map_err(|e| StorageIOError::write(&io(e)).into())
    }

    pub(crate) fn read_key<T: for<'de> Deserialize<'de>>(
        &self,
        k: &[u8],
    ) -> Result<Option<T>, SErr> {
        self.get(k).map_err(|e| StorageIOError::read(&e).into())
    }

    // ---- the state machine ----

    /// Persists the applied state (not synced: see the module doc).
    pub(crate) fn save_applied(&self, a: &Applied) -> Result<(), SErr> {
        let b = bincode::serialize(a).map_err(|e| StorageIOError::write_state_machine(&io(e)))?;
        self.db
            .put_opt(b"s", b, &self.nosync)
            .map_err(|e| StorageIOError::write_state_machine(&io(e)).into())
    }

    /// After a snapshot is installed at `index` with `raw_tail`: the next entry starts there, and
    /// this replica holds nothing below it.
    pub(crate) fn install_base(&self, index: u64, raw_tail: Pos) -> Result<(), SErr> {
        let mut m = self.meta();
        let mut batch = WriteBatch::default();
        let b = (index, raw_tail);
        batch.put(
            b"b",
            bincode::serialize(&b).map_err(|e| StorageIOError::write(&io(e)))?,
        );
        batch.put(b"f", raw_tail.to_be_bytes());
        self.db
            .write_opt(batch, &self.sync)
            .map_err(|e| StorageIOError::write(&io(e)))?;
        m.base = Some(b);
        Ok(())
    }

    /// The first loglet position this replica holds.
    pub(crate) fn local_first(&self) -> Pos {
        self.db
            .get_pinned(b"f")
            .ok()
            .flatten()
            .and_then(|v| be(&v))
            .unwrap_or(0)
    }

    /// The raft index of the entry holding position `pos`, if held.
    pub(crate) fn index_of(&self, pos: Pos) -> Option<u64> {
        let mut it = self
            .db
            .iterator(IteratorMode::From(&key(b'p', pos), Direction::Reverse));
        let (k, v) = it.next()?.ok()?;
        if k.first() != Some(&b'p') {
            return None;
        }
        be(&v)
    }

    /// The payloads at positions `[from, to)` held here, in order (fewer if some are not held).
    pub(crate) fn payloads(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, bytes::Bytes)>, String> {
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        let Some(first) = self.index_of(from) else {
            return Ok(out);
        };
        let it = self
            .db
            .iterator(IteratorMode::From(&key(b'e', first), Direction::Forward));
        for kv in it {
            let (k, v) = kv.map_err(|e| e.to_string())?;
            if k.first() != Some(&b'e') {
                break;
            }
            let (start, e) = decode_entry(&v).map_err(|e| e.to_string())?;
            if start >= to {
                break;
            }
            if let openraft::EntryPayload::Normal(LogletCmd::Append(ps)) = e.payload {
                for (i, p) in ps.into_iter().enumerate() {
                    let pos = start + i as u64;
                    if pos >= from && pos < to {
                        out.push((pos, p));
                    }
                }
            }
        }
        Ok(out)
    }
}

fn decode_entry(v: &[u8]) -> Result<(Pos, Entry<LogletRaft>), std::io::Error> {
    if v.len() < 8 {
        return Err(io("raft entry record is truncated"));
    }
    let start = be(&v[..8]).unwrap_or(0);
    let e = bincode::deserialize(&v[8..]).map_err(io)?;
    Ok((start, e))
}
