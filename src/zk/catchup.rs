//! A replica rebuilt from a peer's checkpoint: a node that joined the ensemble by a
//! reconfiguration (it holds none of the log before it joined), or one whose store is below
//! what it can read of the log, takes a RocksDB checkpoint of a peer's store at a cursor at or
//! above what it needs, streamed over the quorum port, and replays the log from there.
//!
//! Layer: `zk/`, assembling the platform for one node (the store's checkpoint, the cluster
//! transport); the files are the store's own, so nothing here knows what is in them.
//!
//! Protocol, three calls on `zk.ckpt.*`: `make {min}` (the peer waits until it has applied
//! `min`, writes a checkpoint and lists its files), `read {id, file, offset}` (at most
//! [`CHUNK`] bytes), `done {id}` (the peer removes it; it also removes any left over after
//! [`KEEP`]). The fetcher writes into `<store>.incoming`, syncs every file, then swaps the
//! directory in: a crash in between leaves the old store as it was.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cluster::Cluster;
use crate::log::Pos;
use crate::store::SharedStore;

/// Bytes per `read` call.
pub const CHUNK: u64 = 4 << 20;
/// How long a checkpoint made for a fetcher is kept if it never says `done`.
pub const KEEP: Duration = Duration::from_secs(600);

const MAKE: &str = "zk.ckpt.make";
const READ: &str = "zk.ckpt.read";
const DONE: &str = "zk.ckpt.done";

/// Why a checkpoint could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum CatchupError {
    #[error("no peer gave a checkpoint at or above position {min}: {last}")]
    NoPeer { min: Pos, last: String },
    #[error("checkpoint file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Made {
    id: u64,
    cursor: Pos,
    files: Vec<(String, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReadReq {
    id: u64,
    file: String,
    offset: u64,
}

fn encode<T: Serialize>(v: &T) -> Result<Bytes, String> {
    bincode::serialize(v)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

fn decode<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, String> {
    bincode::deserialize(b).map_err(|e| format!("undecodable checkpoint call: {e}"))
}

/// Serves checkpoints of `store` (whose applied position `applied` reports) to peers; they
/// are written under `dir`, which is emptied now.
pub fn serve(cluster: &Cluster, store: SharedStore, applied: watch::Receiver<Pos>, dir: PathBuf) {
    let _ = std::fs::remove_dir_all(&dir);
    let next = Arc::new(AtomicU64::new(1));
    let (d, st) = (dir.clone(), store);
    cluster.register(
        MAKE,
        Arc::new(move |from, p| {
            let (dir, store, mut applied, next) =
                (d.clone(), st.clone(), applied.clone(), next.clone());
            Box::pin(async move {
                let min: Pos = decode(&p)?;
                let wait = applied.wait_for(|a| *a >= min);
                match tokio::time::timeout(Duration::from_secs(30), wait).await {
                    Ok(Ok(_)) => {}
                    _ => return Err(format!("this node has not applied up to {min}")),
                }
                let id = next.fetch_add(1, Ordering::Relaxed);
                let out = dir.join(id.to_string());
                let made = tokio::task::spawn_blocking(move || -> Result<Made, String> {
                    sweep(&dir);
                    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                    let cursor = store.checkpoint(&out).map_err(|e| e.to_string())?;
                    let mut files = Vec::new();
                    for e in std::fs::read_dir(&out).map_err(|e| e.to_string())? {
                        let e = e.map_err(|e| e.to_string())?;
                        let meta = e.metadata().map_err(|e| e.to_string())?;
                        if meta.is_file() {
                            files.push((e.file_name().to_string_lossy().into_owned(), meta.len()));
                        }
                    }
                    files.sort();
                    Ok(Made { id, cursor, files })
                })
                .await
                .map_err(|e| e.to_string())??;
                let bytes: u64 = made.files.iter().map(|f| f.1).sum();
                info!(
                    peer = from,
                    cursor = made.cursor,
                    files = made.files.len(),
                    bytes,
                    "checkpoint made for a peer"
                );
                encode(&made)
            })
        }),
    );
    let d = dir.clone();
    cluster.register(
        READ,
        Arc::new(move |_from, p| {
            let dir = d.clone();
            Box::pin(async move {
                let r: ReadReq = decode(&p)?;
                if r.file.contains('/') || r.file.starts_with('.') {
                    return Err(format!("bad checkpoint file name {:?}", r.file));
                }
                let path = dir.join(r.id.to_string()).join(&r.file);
                tokio::task::spawn_blocking(move || -> Result<Bytes, String> {
                    let mut f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
                    f.seek(SeekFrom::Start(r.offset))
                        .map_err(|e| e.to_string())?;
                    let mut buf = Vec::new();
                    f.take(CHUNK)
                        .read_to_end(&mut buf)
                        .map_err(|e| e.to_string())?;
                    Ok(Bytes::from(buf))
                })
                .await
                .map_err(|e| e.to_string())?
            })
        }),
    );
    cluster.register(
        DONE,
        Arc::new(move |_from, p| {
            let dir = dir.clone();
            Box::pin(async move {
                let id: u64 = decode(&p)?;
                let _ = std::fs::remove_dir_all(dir.join(id.to_string()));
                Ok(Bytes::new())
            })
        }),
    );
}

/// Removes checkpoints older than [`KEEP`].
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEEP);
        if old {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CatchupError + '_ {
    move |source| CatchupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Fetches a checkpoint at or above `min` from one of `peers` (tried in turn, round after
/// round, until `within` has passed) and puts it in place of the store at `store_dir`, which
/// must not be open. Returns its cursor. Progress is logged every second.
pub async fn fetch(
    cluster: &Cluster,
    peers: &[u64],
    min: Pos,
    store_dir: &Path,
    within: Duration,
) -> Result<Pos, CatchupError> {
    let deadline = Instant::now() + within;
    let mut last = String::from("no peer to ask");
    loop {
        for &peer in peers {
            match fetch_from(cluster, peer, min, store_dir).await {
                Ok(c) => return Ok(c),
                Err(Fetch::Local(e)) => return Err(e),
                Err(Fetch::Peer(why)) => {
                    warn!(peer, error = %why, "checkpoint fetch failed; trying another peer");
                    last = format!("node {peer}: {why}");
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(CatchupError::NoPeer { min, last });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

enum Fetch {
    Peer(String),
    Local(CatchupError),
}

async fn fetch_from(
    cluster: &Cluster,
    peer: u64,
    min: Pos,
    store_dir: &Path,
) -> Result<Pos, Fetch> {
    let call = |svc: &'static str, p: Bytes, t: u64| async move {
        cluster
            .call(peer, svc, p, Duration::from_secs(t))
            .await
            .map_err(|e| Fetch::Peer(e.to_string()))
    };
    let made: Made =
        decode(&call(MAKE, encode(&min).map_err(Fetch::Peer)?, 120).await?).map_err(Fetch::Peer)?;
    let total: u64 = made.files.iter().map(|f| f.1).sum();
    info!(
        peer,
        cursor = made.cursor,
        files = made.files.len(),
        bytes = total,
        "fetching a checkpoint"
    );
    let incoming = store_dir.with_extension("incoming");
    let _ = std::fs::remove_dir_all(&incoming);
    std::fs::create_dir_all(&incoming)
        .map_err(io(&incoming))
        .map_err(Fetch::Local)?;
    let (started, mut shown, mut got) = (Instant::now(), Instant::now(), 0u64);
    for (name, size) in &made.files {
        if name.contains('/') || name.starts_with('.') {
            return Err(Fetch::Peer(format!("bad checkpoint file name {name:?}")));
        }
        let path = incoming.join(name);
        let mut f = std::fs::File::create(&path)
            .map_err(io(&path))
            .map_err(Fetch::Local)?;
        let mut offset = 0;
        while offset < *size {
            let req = ReadReq {
                id: made.id,
                file: name.clone(),
                offset,
            };
            let chunk = call(READ, encode(&req).map_err(Fetch::Peer)?, 60).await?;
            if chunk.is_empty() {
                return Err(Fetch::Peer(format!(
                    "{name} ended at {offset} of {size} bytes"
                )));
            }
            f.write_all(&chunk)
                .map_err(io(&path))
                .map_err(Fetch::Local)?;
            offset += chunk.len() as u64;
            got += chunk.len() as u64;
            if shown.elapsed() >= Duration::from_secs(1) {
                shown = Instant::now();
                info!(
                    peer,
                    got,
                    total,
                    "checkpoint transfer: {}%",
                    got * 100 / total.max(1)
                );
            }
        }
        f.sync_all().map_err(io(&path)).map_err(Fetch::Local)?;
    }
    let _ = call(DONE, encode(&made.id).map_err(Fetch::Peer)?, 10).await;
    // Swap in: the old store (if any) goes aside, the checkpoint takes its name.
    let old = store_dir.with_extension("replaced");
    let _ = std::fs::remove_dir_all(&old);
    if store_dir.exists() {
        std::fs::rename(store_dir, &old)
            .map_err(io(store_dir))
            .map_err(Fetch::Local)?;
    }
    std::fs::rename(&incoming, store_dir)
        .map_err(io(store_dir))
        .map_err(Fetch::Local)?;
    if let Some(parent) = store_dir.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    let _ = std::fs::remove_dir_all(&old);
    info!(
        peer,
        cursor = made.cursor,
        bytes = total,
        ms = started.elapsed().as_millis() as u64,
        "checkpoint in place"
    );
    Ok(made.cursor)
}
