//! `MemMetaStore`: an in-memory MetaStore for tests.
//!
//! Layer: a MetaStore implementation; touches only its own memory.

use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::{MetaStore, MetaVersion};
use crate::log::error::{LogError, Result};

/// An in-memory versioned register.
#[derive(Debug, Default)]
pub struct MemMetaStore {
    state: Mutex<(MetaVersion, Option<Bytes>)>,
}

impl MemMetaStore {
    /// An empty register (version 0).
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl MetaStore for MemMetaStore {
    async fn read(&self) -> Result<(MetaVersion, Option<Bytes>)> {
        Ok(self.state.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    async fn write(&self, expected: MetaVersion, value: Bytes) -> Result<MetaVersion> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 != expected {
            return Err(LogError::VersionConflict {
                expected,
                actual: st.0,
            });
        }
        *st = (expected + 1, Some(value));
        Ok(expected + 1)
    }
}
