//! Loglet factories: turning a segment's [`LogletConfig`] into a live loglet.
//!
//! Layer: between the chain (data) and the loglet implementations. The VirtualLog asks a
//! [`LogletFactory`] for the loglet of each segment of the chain. [`LogletRegistry`] is the
//! default factory: one opener per kind (`local` and `mem` built in; others such as `raft` are
//! registered by the layers that provide them) and a cache, so that one config maps to one
//! loglet instance per process (a local loglet directory must have a single owner).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::chain::{KIND_LOCAL, KIND_MEM, LogletConfig};
use super::error::{LogError, Result};
use super::local::{LocalLoglet, LocalLogletOptions};
use super::loglet::Loglet;
use super::mem::MemLoglet;

/// Opens the loglet a config describes.
#[async_trait]
pub trait LogletFactory: Send + Sync + 'static {
    /// The loglet for `config`; the same instance for the same config.
    async fn open(&self, config: &LogletConfig) -> Result<Arc<dyn Loglet>>;
}

/// Opens loglets of one kind from a config.
pub type OpenFn =
    Arc<dyn Fn(LogletConfig) -> BoxFuture<'static, Result<Arc<dyn Loglet>>> + Send + Sync>;

/// The default [`LogletFactory`]: per-kind openers plus an instance cache.
pub struct LogletRegistry {
    kinds: Mutex<HashMap<String, OpenFn>>,
    cache: Mutex<HashMap<LogletConfig, Arc<dyn Loglet>>>,
    /// Serializes opens, so that a config is never opened twice concurrently.
    opening: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for LogletRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<String> = lock(&self.kinds).keys().cloned().collect();
        kinds.sort();
        f.debug_struct("LogletRegistry")
            .field("kinds", &kinds)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LogletRegistry {
    /// A registry with the `local` (opened with `local_options`) and `mem` kinds.
    pub fn new(local_options: LocalLogletOptions) -> Self {
        let reg = LogletRegistry {
            kinds: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
        };
        reg.register_kind(
            KIND_LOCAL,
            Arc::new(move |cfg: LogletConfig| {
                let opts = local_options.clone();
                Box::pin(async move {
                    let dir = cfg.local_dir().ok_or_else(|| {
                        LogError::InvalidConfig(format!("local loglet without a directory: {cfg}"))
                    })?;
                    let l: Arc<dyn Loglet> = Arc::new(LocalLoglet::open(dir, opts).await?);
                    Ok(l)
                })
            }),
        );
        reg.register_kind(
            KIND_MEM,
            Arc::new(|_cfg: LogletConfig| {
                Box::pin(async move {
                    let l: Arc<dyn Loglet> = Arc::new(MemLoglet::new());
                    Ok(l)
                })
            }),
        );
        reg
    }

    /// Adds (or replaces) the opener of a kind.
    pub fn register_kind(&self, kind: &str, open: OpenFn) {
        lock(&self.kinds).insert(kind.to_string(), open);
    }

    /// Makes `config` resolve to `loglet` (e.g. a test loglet built by hand).
    pub fn install(&self, config: LogletConfig, loglet: Arc<dyn Loglet>) {
        lock(&self.cache).insert(config, loglet);
    }

    /// The cached instance for `config`, if it was opened or installed.
    pub fn get(&self, config: &LogletConfig) -> Option<Arc<dyn Loglet>> {
        lock(&self.cache).get(config).cloned()
    }

    /// Drops the cached instance for `config` (a local loglet closes once no one holds it).
    pub fn forget(&self, config: &LogletConfig) -> Option<Arc<dyn Loglet>> {
        lock(&self.cache).remove(config)
    }
}

impl Default for LogletRegistry {
    fn default() -> Self {
        Self::new(LocalLogletOptions::default())
    }
}

#[async_trait]
impl LogletFactory for LogletRegistry {
    async fn open(&self, config: &LogletConfig) -> Result<Arc<dyn Loglet>> {
        if let Some(l) = self.get(config) {
            return Ok(l);
        }
        let _serial = self.opening.lock().await;
        if let Some(l) = self.get(config) {
            return Ok(l);
        }
        let opener = lock(&self.kinds)
            .get(&config.kind)
            .cloned()
            .ok_or_else(|| {
                LogError::InvalidConfig(format!("unknown loglet kind {:?}", config.kind))
            })?;
        let loglet = opener(config.clone()).await?;
        lock(&self.cache).insert(config.clone(), loglet.clone());
        Ok(loglet)
    }
}
