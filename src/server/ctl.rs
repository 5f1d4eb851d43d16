//! The admin control socket behind `zoolog ctl`: a Unix socket in the data directory
//! (`<dataDir>/zoolog.ctl`, reachable only by who can reach the data directory). One text command
//! per connection, one text answer:
//!
//! - `status` — the engine stack, log positions, the virtual log's chain, the last zxid, the
//!   threads serving connections;
//! - `reconfigure [<dir>]` — switches the running node's virtual log to a fresh loglet while
//!   clients keep writing: a standalone node's to a local loglet (in `<dir>`, or a new directory
//!   next to the current ones), an ensemble's (from any of its nodes) to a new raft group of the
//!   same members;
//! - `digest` — the applied position and the state digest of the store there (replicas at the
//!   same position must agree).
//!
//! Layer: `server`; calls the service's admin paths.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

use crate::log::LogletConfig;
use crate::zk::ZkService;

/// The control socket of a node whose data directory is `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("zoolog.ctl")
}

/// Listens on the control socket until the process ends.
pub async fn serve(svc: Arc<ZkService>) -> std::io::Result<()> {
    let path = socket_path(&svc.config().data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    info!(path = %path.display(), "control socket ready");
    loop {
        let (stream, _) = listener.accept().await?;
        let svc = svc.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, &svc).await {
                warn!(error = %e, "control connection failed");
            }
        });
    }
}

async fn handle(stream: UnixStream, svc: &ZkService) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    BufReader::new(rd).read_line(&mut line).await?;
    let answer = execute(line.trim(), svc).await;
    wr.write_all(answer.as_bytes()).await?;
    wr.shutdown().await
}

/// Runs one control command, returning its answer ("error: …" lines on failure).
pub async fn execute(cmd: &str, svc: &ZkService) -> String {
    let mut words = cmd.split_whitespace();
    match words.next() {
        Some("status") => status(svc),
        Some("digest") => {
            // Position and digest of the same snapshot: commits go on while the digest runs.
            let snap = svc.snapshot();
            match (snap.cursor(), snap.digest()) {
                (Ok(at), Ok(d)) => format!("applied: {at}\ndigest: {d}\n"),
                (Err(e), _) | (_, Err(e)) => format!("error: {e}\n"),
            }
        }
        Some("reconfigure") if svc.ensemble().is_some() => {
            let Some(vlog) = svc.stack().virtual_log() else {
                return "error: no virtual log\n".to_string();
            };
            let (_, chain) = vlog.chain();
            let Some(e) = svc.ensemble() else {
                return "error: not in an ensemble\n".to_string();
            };
            let spec = crate::log::raft::RaftLogletSpec {
                group: format!("seg-{}", chain.segments.len()),
                members: e.roles().participants,
                observers: e.roles().observers,
                addrs: Default::default(),
            };
            match svc.stack().reconfigure(spec.config()).await {
                Ok(start) => format!(
                    "reconfigured: new raft loglet {} from position {start}\n",
                    spec.group
                ),
                Err(e) => format!("error: {e}\n"),
            }
        }
        Some("reconfigure") => {
            let dir = match words.next() {
                Some(d) => PathBuf::from(d),
                None => fresh_segment_dir(svc),
            };
            match svc.stack().reconfigure(LogletConfig::local(&dir)).await {
                Ok(start) => format!(
                    "reconfigured: new local loglet {} from position {start}\n",
                    dir.display()
                ),
                Err(e) => format!("error: {e}\n"),
            }
        }
        Some(other) => {
            format!("error: unknown command `{other}` (status, digest, reconfigure [dir])\n")
        }
        None => "error: empty command (status, digest, reconfigure [dir])\n".to_string(),
    }
}

fn fresh_segment_dir(svc: &ZkService) -> PathBuf {
    let base = svc.config().data_log_dir.join("log");
    let mut n = 1;
    loop {
        let dir = base.join(format!("segment-{n}"));
        if !dir.exists() {
            return dir;
        }
        n += 1;
    }
}

fn status(svc: &ZkService) -> String {
    let mut out = String::new();
    let stack = svc.stack();
    let base = stack.base();
    let _ = writeln!(out, "stack: {}", stack.describe());
    let _ = writeln!(out, "applied: {}", base.applied_cursor());
    let _ = writeln!(out, "durable: {}", *base.durable().borrow());
    let _ = writeln!(out, "replayed_at_start: {}", svc.replayed_at_start());
    let _ = writeln!(
        out,
        "outstanding_requests: {}",
        svc.stats()
            .outstanding
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    let _ = writeln!(out, "last_zxid: 0x{:x}", svc.last_zxid());
    let _ = writeln!(out, "mode: {}", svc.mode().name());
    if let Some(e) = svc.ensemble() {
        let _ = writeln!(out, "server_id: {}", e.me);
        let _ = writeln!(out, "quorum_address: {}", e.cluster.local_addr());
        let leader = stack
            .virtual_log()
            .and_then(|v| e.active(v))
            .and_then(|l| l.leader());
        let _ = writeln!(
            out,
            "leader: {}",
            leader.map_or("none".to_string(), |l| l.to_string())
        );
        let _ = writeln!(out, "live_peers: {:?}", e.live_peers());
        let _ = writeln!(out, "serving: {}", svc.is_serving());
    }
    let _ = writeln!(out, "sessions: {}", svc.sessions().len());
    let _ = writeln!(
        out,
        "overflow_drops: {}",
        svc.stats()
            .overflow_drops
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let _ = writeln!(out, "worker_threads: {}", rt.metrics().num_workers());
    }
    if let Some(vlog) = stack.virtual_log() {
        let (version, chain) = vlog.chain();
        let _ = writeln!(out, "chain_version: {version:?}");
        for seg in &chain.segments {
            let _ = writeln!(out, "segment: start={} loglet={}", seg.start, seg.config);
        }
    }
    out
}
