//! openraft's `RaftLogStorage` over the replica's [`RaftDb`]: entries, vote, committed id.
//!
//! Layer: `log/raft`. The RocksDB calls block; they run on the runtime's blocking pool.
#![allow(clippy::result_large_err)] // openraft's StorageError is large, and its API returns it

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use super::store::{RaftDb, SErr};
use super::types::LogletRaft;

/// The log of one raft loglet on this replica. Clones share the database.
#[derive(Clone)]
pub(crate) struct LogStore {
    pub(crate) db: Arc<RaftDb>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SErr> + Send + 'static,
) -> Result<T, SErr> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageIOError::write(&std::io::Error::other(e.to_string())))?
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let from = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let to = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (from, to)
}

impl RaftLogReader<LogletRaft> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<LogletRaft>>, StorageError<u64>> {
        let (from, to) = bounds(&range);
        let db = self.db.clone();
        blocking(move || db.entries(from, to)).await
    }
}

impl RaftLogStorage<LogletRaft> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<LogletRaft>, StorageError<u64>> {
        let (last_purged_log_id, last_log_id) = self.db.log_state();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let db = self.db.clone();
        let vote = *vote;
        blocking(move || db.put_synced(b"v", &vote)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.db.read_key(b"v")
    }

    async fn save_committed(&mut self, c: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        let db = self.db.clone();
        blocking(move || db.put_synced(b"c", &c)).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.db.read_key::<Option<LogId<u64>>>(b"c")?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<LogletRaft>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<LogletRaft>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let db = self.db.clone();
        let res = blocking(move || db.append(entries)).await;
        match &res {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        res
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let db = self.db.clone();
        blocking(move || db.truncate(log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let db = self.db.clone();
        blocking(move || db.purge(log_id)).await
    }
}
