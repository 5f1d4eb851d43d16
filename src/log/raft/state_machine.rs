//! openraft's `RaftStateMachine` of the raft loglet: the loglet's tail, seal and trim point.
//!
//! Layer: `log/raft`. Applying an entry only counts positions (the payloads stay in the raft log,
//! where readers find them through the position index), so apply is cheap and a pure function
//! of the entries. Each applied state is published on a watch channel: the loglet's readers and
//! appenders wait on it for the local replica to catch up with a tail.
#![allow(clippy::result_large_err)] // openraft's StorageError is large, and its API returns it

use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StoredMembership,
};
use tokio::sync::watch;

use super::store::{Applied, RaftDb};
use super::types::{LogletCmd, LogletRaft, LogletReply, LogletState};

/// The state machine of one raft loglet on this replica.
pub(crate) struct StateMachine {
    db: Arc<RaftDb>,
    applied: Applied,
    snapshot_seq: u64,
    publish: watch::Sender<LogletState>,
}

impl StateMachine {
    /// Restores the applied state kept in `db`; publishes on `publish`.
    pub(crate) fn open(
        db: Arc<RaftDb>,
        publish: watch::Sender<LogletState>,
    ) -> Result<StateMachine, StorageError<u64>> {
        let applied: Applied = db.read_key(b"s")?.unwrap_or_default();
        publish.send_replace(applied.state);
        Ok(StateMachine {
            db,
            applied,
            snapshot_seq: 0,
            publish,
        })
    }

    fn snapshot(&mut self) -> Snapshot<LogletRaft> {
        self.snapshot_seq += 1;
        let idx = self.applied.last_applied.map_or(0, |l| l.index);
        Snapshot {
            meta: SnapshotMeta {
                last_log_id: self.applied.last_applied,
                last_membership: self.applied.membership.clone(),
                snapshot_id: format!("{idx}-{}", self.snapshot_seq),
            },
            snapshot: Box::new(self.applied.state),
        }
    }
}

/// Builds a snapshot of the state at the time it was asked for.
pub(crate) struct Builder {
    snap: Option<Snapshot<LogletRaft>>,
    db: Arc<RaftDb>,
}

impl RaftSnapshotBuilder<LogletRaft> for Builder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<LogletRaft>, StorageError<u64>> {
        let snap = self.snap.take().ok_or_else(|| {
            openraft::StorageIOError::write_snapshot(
                None,
                &std::io::Error::other("snapshot built twice"),
            )
        })?;
        let kept = (snap.meta.clone(), *snap.snapshot);
        self.db.put_synced(b"n", &kept)?;
        Ok(snap)
    }
}

impl RaftStateMachine<LogletRaft> for StateMachine {
    type SnapshotBuilder = Builder;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<u64>>,
            StoredMembership<u64, openraft::EmptyNode>,
        ),
        StorageError<u64>,
    > {
        Ok((self.applied.last_applied, self.applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<LogletReply>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<LogletRaft>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        let st = &mut self.applied.state;
        for e in entries {
            self.applied.last_applied = Some(e.log_id);
            let mut reply = LogletReply {
                first: st.raw_tail,
                sealed: st.sealed_at.is_some(),
                tail: st.tail(),
            };
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Membership(m) => {
                    self.applied.membership = StoredMembership::new(Some(e.log_id), m);
                }
                EntryPayload::Normal(cmd) => {
                    match cmd {
                        LogletCmd::Append(p) => st.raw_tail += p.len() as u64,
                        LogletCmd::Seal => {
                            st.sealed_at.get_or_insert(st.raw_tail);
                        }
                        LogletCmd::Trim(pos) => st.trim = st.trim.max(pos.min(st.tail())),
                    }
                    reply.sealed = st.sealed_at.is_some();
                    reply.tail = st.tail();
                }
            }
            replies.push(reply);
        }
        self.db.save_applied(&self.applied)?;
        self.publish.send_replace(self.applied.state);
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Builder {
        Builder {
            snap: Some(self.snapshot()),
            db: self.db.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<LogletState>, StorageError<u64>> {
        Ok(Box::default())
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::EmptyNode>,
        snapshot: Box<LogletState>,
    ) -> Result<(), StorageError<u64>> {
        let state = *snapshot;
        if let Some(last) = meta.last_log_id {
            self.db.install_base(last.index, state.raw_tail)?;
        }
        self.applied = Applied {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            state,
        };
        self.db.save_applied(&self.applied)?;
        self.db.put_synced(b"n", &(meta.clone(), state))?;
        self.publish.send_replace(state);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<LogletRaft>>, StorageError<u64>> {
        let kept: Option<(SnapshotMeta<u64, openraft::EmptyNode>, LogletState)> =
            self.db.read_key(b"n")?;
        Ok(kept.map(|(meta, state)| Snapshot {
            meta,
            snapshot: Box::new(state),
        }))
    }
}
