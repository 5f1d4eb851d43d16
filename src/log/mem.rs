//! `MemLoglet`: an in-memory loglet with the exact semantics of a durable one, for tests.
//!
//! Layer: a loglet implementation. Touches nothing but its own memory. It has one test hook,
//! [`MemLoglet::append_zombie`], which appends even when sealed: it stands for an append that was
//! in flight when the loglet was sealed and became durable afterwards (a "zombie" in Delos terms).

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::error::{LogError, Result};
use super::loglet::{Loglet, Pos};

#[derive(Debug, Default)]
struct State {
    /// Entries from `trim_point` up to the tail.
    entries: VecDeque<Bytes>,
    /// First position still held.
    trim_point: Pos,
    sealed: bool,
}

impl State {
    fn tail(&self) -> Pos {
        self.trim_point + self.entries.len() as Pos
    }
}

/// An in-memory loglet.
#[derive(Debug, Default)]
pub struct MemLoglet {
    state: Mutex<State>,
}

impl MemLoglet {
    /// An empty, unsealed loglet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated (every update is
        // a single push or flag store), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Test hook: appends even if the loglet is sealed, as an in-flight append that became
    /// durable after the seal would. Returns its position.
    pub fn append_zombie(&self, payload: Bytes) -> Pos {
        let mut st = self.lock();
        let pos = st.tail();
        st.entries.push_back(payload);
        pos
    }
}

#[async_trait]
impl Loglet for MemLoglet {
    async fn append(&self, payload: Bytes) -> Result<Pos> {
        let mut st = self.lock();
        if st.sealed {
            return Err(LogError::Sealed);
        }
        let pos = st.tail();
        st.entries.push_back(payload);
        Ok(pos)
    }

    async fn check_tail(&self) -> Result<(Pos, bool)> {
        let st = self.lock();
        Ok((st.tail(), st.sealed))
    }

    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        let st = self.lock();
        if from < st.trim_point {
            return Err(LogError::Trimmed {
                pos: from,
                trim_point: st.trim_point,
            });
        }
        let to = to.min(st.tail());
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        for pos in from..to {
            let idx = (pos - st.trim_point) as usize;
            if let Some(e) = st.entries.get(idx) {
                out.push((pos, e.clone()));
            }
        }
        Ok(out)
    }

    async fn seal(&self) -> Result<()> {
        self.lock().sealed = true;
        Ok(())
    }

    async fn prefix_trim(&self, pos: Pos) -> Result<()> {
        let mut st = self.lock();
        let target = pos.min(st.tail());
        while st.trim_point < target {
            st.entries.pop_front();
            st.trim_point += 1;
        }
        Ok(())
    }
}
