//! Bulk creation of znodes: many sessions, pipelined, optionally batched into multi requests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use zoolog_jute::{
    Acl, ByteString, CreateMode, CreateRequest, ErrorCode, Id, MultiOp, MultiRequest, MultiResult,
    Request, Response,
};

use crate::client::{Conn, Event, Reply, invalid};

/// `world:anyone` with all permissions (ZooKeeper's `OPEN_ACL_UNSAFE`).
pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: 31,
        id: Id {
            scheme: Some(ByteString::from_static("world")),
            id: Some(ByteString::from_static("anyone")),
        },
    }]
}

fn create(path: &ByteString, value: &Bytes) -> CreateRequest {
    CreateRequest {
        path: path.clone(),
        data: Some(value.clone()),
        acl: Some(open_acl()),
        flags: CreateMode::Persistent.as_i32(),
    }
}

/// Creates every path of `paths` (their parents must exist) with `value`, over `sessions`
/// connections with `inflight` requests each, `batch` creates per multi (1 = plain creates).
/// With `ignore_exists`, a plain create answered NODEEXISTS counts as done. `progress` counts
/// created znodes.
#[allow(clippy::too_many_arguments)]
pub async fn create_level(
    addr: SocketAddr,
    paths: &[ByteString],
    value: &Bytes,
    sessions: usize,
    inflight: usize,
    batch: usize,
    ignore_exists: bool,
    progress: Option<Arc<AtomicU64>>,
) -> io::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    // Keep a multi well under jute.maxbuffer (1 MB).
    let per_op = value.len() + paths[0].len() + 64;
    let batch = batch.clamp(1, (512 * 1024 / per_op).max(1));
    let chunks: Arc<Vec<Vec<ByteString>>> =
        Arc::new(paths.chunks(batch).map(|c| c.to_vec()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let sessions = sessions.clamp(1, chunks.len());
    let mut tasks = Vec::new();
    for _ in 0..sessions {
        let chunks = chunks.clone();
        let next = next.clone();
        let value = value.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::connect(addr, 30_000).await?;
            let mut sizes = std::collections::VecDeque::new();
            loop {
                while c.in_flight() < inflight {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    let req = if chunk.len() == 1 {
                        Request::Create(create(&chunk[0], &value))
                    } else {
                        Request::Multi(MultiRequest {
                            ops: chunk
                                .iter()
                                .map(|p| MultiOp::Create(create(p, &value)))
                                .collect(),
                        })
                    };
                    c.queue(&req);
                    sizes.push_back(chunk.len());
                }
                if c.in_flight() == 0 {
                    break;
                }
                let ev = tokio::time::timeout(std::time::Duration::from_secs(120), c.next_event())
                    .await
                    .map_err(|_| invalid("no reply within 120 s"))??;
                match ev {
                    Event::Reply(r) => {
                        let n = sizes.pop_front().unwrap_or(0);
                        check_created(&r, n, ignore_exists)?;
                        if let Some(p) = &progress {
                            p.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                    Event::Watch(_) => {}
                }
            }
            c.close().await
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| invalid(format!("loader task: {e}")))??;
    }
    Ok(())
}

fn check_created(r: &Reply, n: usize, ignore_exists: bool) -> io::Result<()> {
    if ignore_exists && n == 1 && r.err() == ErrorCode::NodeExists.as_i32() {
        return Ok(());
    }
    r.ok().map_err(invalid)?;
    match r.decode().map_err(invalid)? {
        Response::Create(_) if n == 1 => Ok(()),
        Response::Multi(m)
            if m.results.len() == n
                && m.results
                    .iter()
                    .all(|x| matches!(x, MultiResult::Create(_))) =>
        {
            Ok(())
        }
        other => Err(invalid(format!("unexpected create reply {other:?}"))),
    }
}

/// The paths of a tree of `total` leaves at depth 3 under `root`: `root/aX/bY/cZ` with the same
/// fan-out at every level. Returns the levels top-down (root first), leaves last.
pub fn tree(root: &str, total: usize) -> Vec<Vec<ByteString>> {
    let fan = (total as f64).cbrt().ceil().max(1.0) as usize;
    let mut levels = vec![vec![ByteString::from(root.to_string())]];
    let l1: Vec<String> = (0..fan).map(|a| format!("{root}/a{a:03}")).collect();
    let mut l2 = Vec::new();
    for a in &l1 {
        for b in 0..fan {
            l2.push(format!("{a}/b{b:03}"));
        }
    }
    let mut l3 = Vec::with_capacity(total);
    'outer: for b in &l2 {
        for c in 0..fan {
            if l3.len() == total {
                break 'outer;
            }
            l3.push(ByteString::from(format!("{b}/c{c:03}")));
        }
    }
    // Only the directories that hold leaves.
    let used_l2 = l3.len().div_ceil(fan);
    let l2: Vec<String> = l2.into_iter().take(used_l2).collect();
    let used_l1 = used_l2.div_ceil(fan);
    levels.push(l1.into_iter().take(used_l1).map(ByteString::from).collect());
    levels.push(l2.into_iter().map(ByteString::from).collect());
    levels.push(l3);
    levels
}

/// How many znodes the levels of [`tree`] hold, and the path of the last one created.
pub fn tree_summary(root: &str, levels: &[Vec<ByteString>]) -> (usize, String) {
    let count = levels.iter().map(|l| l.len()).sum();
    let last = levels
        .last()
        .and_then(|l| l.last())
        .map_or_else(|| root.to_string(), |p| p.to_string());
    (count, last)
}

/// Creates the levels of [`tree`] on `addr` in order (the leaves in multis of 100 creates, 8
/// sessions × 16 in flight), printing progress on stderr every `every`.
pub async fn create_tree(
    addr: SocketAddr,
    levels: &[Vec<ByteString>],
    value: &Bytes,
    every: std::time::Duration,
) -> io::Result<()> {
    let progress = Arc::new(AtomicU64::new(0));
    let t0 = std::time::Instant::now();
    let ticker = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = progress.load(Ordering::Relaxed);
                eprintln!(
                    "      … {n} znodes ({:.0}/s)",
                    n as f64 / t0.elapsed().as_secs_f64()
                );
            }
        })
    };
    let mut res = Ok(());
    for (i, level) in levels.iter().enumerate() {
        let batch = if i + 1 == levels.len() { 100 } else { 1 };
        res = create_level(
            addr,
            level,
            value,
            8,
            16,
            batch,
            false,
            Some(progress.clone()),
        )
        .await;
        if res.is_err() {
            break;
        }
    }
    ticker.abort();
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn tree_shape() {
        let t = super::tree("/m", 1_000_000);
        assert_eq!(t[0].len(), 1);
        assert_eq!(t[1].len(), 100);
        assert_eq!(t[2].len(), 10_000);
        assert_eq!(t[3].len(), 1_000_000);
        assert_eq!(&*t[3][999_999], "/m/a099/b099/c099");
        let t = super::tree("/m", 10);
        assert_eq!(t[3].len(), 10);
        assert_eq!(t[2].len(), 4);
        assert_eq!(t[1].len(), 2);
    }
}
