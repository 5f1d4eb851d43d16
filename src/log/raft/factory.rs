//! Opening raft loglets from chain segments: the `raft` kind of a [`LogletRegistry`].
//!
//! Layer: `log/raft`. [`register`] teaches a registry to open `raft` segments as this node's
//! replica of the group (in `<dir>/<group>`), through the node's cluster transport, and keeps
//! the opened loglets by group so that the node can ask who leads the active one. A segment
//! naming addresses has its servers dialed; one this node is in no role of opens as
//! [`NotHeld`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::not_held::NotHeld;
use super::{KIND_RAFT, RaftLoglet, RaftLogletOptions, RaftLogletSpec};
use crate::cluster::Cluster;
use crate::log::LogletRegistry;
use crate::log::loglet::Loglet;

/// The raft loglets this node has opened, by group.
#[derive(Debug, Default)]
pub struct RaftLoglets {
    open: Mutex<HashMap<String, RaftLoglet>>,
}

impl RaftLoglets {
    /// The loglet of `group`, if opened here.
    pub fn get(&self, group: &str) -> Option<RaftLoglet> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .cloned()
    }
}

/// Registers the `raft` kind on `registry`: segments open as replicas in `dir/<group>`.
pub fn register(
    registry: &LogletRegistry,
    cluster: Cluster,
    dir: PathBuf,
    opts: RaftLogletOptions,
) -> Arc<RaftLoglets> {
    let opened = Arc::new(RaftLoglets::default());
    let keep = opened.clone();
    registry.register_kind(
        KIND_RAFT,
        Arc::new(move |cfg| {
            let (cluster, dir, opts, keep) =
                (cluster.clone(), dir.clone(), opts.clone(), keep.clone());
            Box::pin(async move {
                let spec = RaftLogletSpec::parse(&cfg)?;
                cluster.add_peers(&spec.addrs);
                let group = spec.group.clone();
                if !spec.holds(cluster.node()) {
                    let l: Arc<dyn Loglet> = Arc::new(NotHeld { group });
                    return Ok(l);
                }
                let l = RaftLoglet::open(cluster, dir.join(&group), spec, opts).await?;
                keep.open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(group, l.clone());
                let l: Arc<dyn Loglet> = Arc::new(l);
                Ok(l)
            })
        }),
    );
    opened
}
