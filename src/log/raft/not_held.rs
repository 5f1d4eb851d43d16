//! A raft segment of the chain that this node holds no copy of.
//!
//! Layer: `log/raft`. A node that joined the ensemble by a reconfiguration is in no raft group
//! of the segments before it joined (it starts from a peer's checkpoint above them); a node
//! removed by one is in none of the segments after. The virtual log still opens every segment
//! of the chain, so these open as [`NotHeld`]: nothing can be read from them (reads fail as
//! trimmed, which sends a replica that needs them to a checkpoint), nothing appended, and the
//! tail is never past the segment's start, so a removed node's apply loop waits there.

use async_trait::async_trait;
use bytes::Bytes;

use crate::log::error::{LogError, Result};
use crate::log::loglet::{Loglet, Pos};

/// A loglet this node is neither a member nor an observer of.
#[derive(Debug)]
pub struct NotHeld {
    pub group: String,
}

impl NotHeld {
    fn refuse(&self) -> LogError {
        LogError::Unavailable(format!(
            "this node holds no copy of raft loglet {}",
            self.group
        ))
    }
}

#[async_trait]
impl Loglet for NotHeld {
    async fn append(&self, _payload: Bytes) -> Result<Pos> {
        Err(self.refuse())
    }

    async fn check_tail(&self) -> Result<(Pos, bool)> {
        Ok((0, false))
    }

    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        if from >= to {
            return Ok(Vec::new());
        }
        Err(LogError::Trimmed {
            pos: from,
            trim_point: Pos::MAX / 2,
        })
    }

    async fn seal(&self) -> Result<()> {
        Err(self.refuse())
    }

    async fn prefix_trim(&self, _pos: Pos) -> Result<()> {
        Ok(())
    }

    fn local_seal(&self) -> Option<bool> {
        Some(false)
    }
}
