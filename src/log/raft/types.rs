//! The raft loglet's openraft type configuration and its replicated commands.
//!
//! Layer: `log/raft`. A raft entry carries one [`LogletCmd`]: a batch of loglet payloads (many
//! appends, from any replica, in one raft entry and one fsync), a seal, or a trim. Loglet
//! positions are not stored in the entry: a payload's position is the number of payloads in the
//! entries before it, which every replica computes alike from the same committed log.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::log::Pos;

/// A command replicated through the loglet's raft group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum LogletCmd {
    /// Loglet payloads, in order; they take consecutive positions.
    Append(Vec<Bytes>),
    /// Seal: no payload appended after this command is visible.
    Seal,
    /// Allow entries below this position to be dropped.
    Trim(Pos),
}

impl LogletCmd {
    /// How many positions the command takes.
    pub fn count(&self) -> u64 {
        match self {
            LogletCmd::Append(p) => p.len() as u64,
            _ => 0,
        }
    }
}

/// What applying a command answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct LogletReply {
    /// Position of the command's first payload.
    pub first: Pos,
    /// The loglet was sealed when the command applied (an append's payloads are invisible).
    pub sealed: bool,
    /// The visible tail after the command.
    pub tail: Pos,
}

/// The loglet's replicated state, also its raft snapshot (it holds no payloads: a replica
/// rebuilt from a snapshot has no entries below the snapshot's point and reports them trimmed).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct LogletState {
    /// Positions taken by every applied append, sealed or not.
    pub raw_tail: Pos,
    /// The visible tail at which the loglet was sealed.
    pub sealed_at: Option<Pos>,
    /// Replicated trim point.
    pub trim: Pos,
}

impl LogletState {
    /// First position not visible to readers.
    pub fn tail(&self) -> Pos {
        self.sealed_at.unwrap_or(self.raw_tail)
    }
}

openraft::declare_raft_types!(
    /// openraft types of the raft loglet.
    pub LogletRaft:
        D = LogletCmd,
        R = LogletReply,
        NodeId = u64,
        Node = openraft::EmptyNode,
        Entry = openraft::Entry<LogletRaft>,
        SnapshotData = LogletState,
        Responder = openraft::impls::OneshotResponder<LogletRaft>,
        AsyncRuntime = openraft::TokioRuntime,
);
