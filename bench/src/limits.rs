//! `zoolog-bench limits`: what a hostile or careless client costs each server, side by side.
//!
//! - **A client that never reads**: it pipelines getData of one large znode and never reads its
//!   socket. How far does the server's memory grow, does the server keep serving another client
//!   meanwhile, and does it close the connection?
//! - **Idle connections**: how much memory each established, idle session costs.
//! - **A slow watcher**: a session with a persistent recursive watch that never reads its socket
//!   while another client changes the watched tree. How far does memory grow, and is the watcher's
//!   connection closed?
//!
//! Each scenario starts a fresh server, measures its resident set from /proc, and prints one table
//! row per server.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zoolog_jute::{
    AddWatchRequest, ByteString, ConnectRequest, CreateMode, CreateRequest, GetDataRequest, Jute,
    Request, SetDataRequest, write_frame,
};

use crate::client::{Conn, invalid};
use crate::load::open_acl;
use crate::procfs::rss_kb;
use crate::server::{Kind, Launcher, Running, ServerDir, spawn};

/// What to measure.
#[derive(Debug, Clone)]
pub struct LimitsCfg {
    pub launcher: Launcher,
    pub servers: Vec<Kind>,
    pub data_root: std::path::PathBuf,
    /// getData requests the never-reading client pipelines.
    pub requests: usize,
    /// Size of the znode it reads.
    pub value_bytes: usize,
    /// Idle sessions opened.
    pub idle: usize,
    /// Changes made under the slow watcher's watch.
    pub changes: usize,
}

/// One server's figures.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsResult {
    pub server: Kind,
    /// Requests the never-reading client got onto the socket before the server stopped reading
    /// (or all of them).
    pub sent: usize,
    /// Peak RSS growth while it sent, MiB.
    pub nonreader_growth_mb: f64,
    /// Whether the server closed the never-reading connection.
    pub nonreader_closed: bool,
    /// getData calls another client completed meanwhile, and the slowest of them, ms.
    pub other_ok: usize,
    pub other_max_ms: f64,
    /// RSS growth per idle session, KiB.
    pub idle_kb_per_conn: f64,
    /// Peak RSS growth under the slow watcher, MiB.
    pub watcher_growth_mb: f64,
    /// Whether the server closed the slow watcher's connection.
    pub watcher_closed: bool,
    /// Changes the writer completed.
    pub watcher_changes: usize,
}

/// Runs every scenario on every server; prints the table as it goes.
pub fn run(cfg: &LimitsCfg) -> Result<Vec<LimitsResult>, String> {
    let mut out = Vec::new();
    for &kind in &cfg.servers {
        eprintln!("limits: {} ...", kind.label());
        let r = measure(cfg, kind).map_err(|e| format!("{}: {e}", kind.label()))?;
        eprintln!(
            "limits: {}: non-reader +{:.1} MB ({} sent, closed {}), other client {} ok max {:.0} ms; idle {:.1} KB/conn; slow watcher +{:.1} MB (closed {})",
            kind.label(),
            r.nonreader_growth_mb,
            r.sent,
            r.nonreader_closed,
            r.other_ok,
            r.other_max_ms,
            r.idle_kb_per_conn,
            r.watcher_growth_mb,
            r.watcher_closed
        );
        out.push(r);
    }
    println!("{}", table(&out));
    Ok(out)
}

/// The results as a markdown table.
pub fn table(rows: &[LimitsResult]) -> String {
    let mut s = String::from(
        "| server | never-reading client: RSS growth | requests sent | closed | other client ok / max ms | idle session | slow watcher: RSS growth | closed |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | +{:.1} MB | {} | {} | {} / {:.0} | {:.1} KB | +{:.1} MB ({} changes) | {} |\n",
            r.server.label(),
            r.nonreader_growth_mb,
            r.sent,
            if r.nonreader_closed { "yes" } else { "no" },
            r.other_ok,
            r.other_max_ms,
            r.idle_kb_per_conn,
            r.watcher_growth_mb,
            r.watcher_changes,
            if r.watcher_closed { "yes" } else { "no" },
        ));
    }
    s
}

fn measure(cfg: &LimitsCfg, kind: Kind) -> io::Result<LimitsResult> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut row = LimitsResult {
        server: kind,
        sent: 0,
        nonreader_growth_mb: 0.0,
        nonreader_closed: false,
        other_ok: 0,
        other_max_ms: 0.0,
        idle_kb_per_conn: 0.0,
        watcher_growth_mb: 0.0,
        watcher_closed: false,
        watcher_changes: 0,
    };
    let tmp = tempfile::Builder::new()
        .prefix("zoolog-limits-")
        .tempdir_in(&cfg.data_root)?;
    // Each scenario on a fresh server: one's leftovers must not blur the next one's figures.
    for scenario in 0..3 {
        let dir = ServerDir::create(kind, tmp.path().join(format!("{}-{scenario}", kind.name())))?;
        let mut server = spawn(&cfg.launcher, &dir)?;
        let r = rt.block_on(async {
            server.wait_serving(Duration::from_secs(120), None).await?;
            match scenario {
                0 => non_reader(cfg, &server, &mut row).await,
                1 => idle(cfg, &server, &mut row).await,
                _ => slow_watcher(cfg, &server, &mut row).await,
            }
        });
        server.stop(Duration::from_secs(10));
        r?;
    }
    Ok(row)
}

/// A connection whose receive buffer is small, with its session established.
async fn raw_session(addr: SocketAddr) -> io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.set_recv_buffer_size(4096)?;
    let mut s = sock.connect(addr).await?;
    let mut out = BytesMut::new();
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 30_000,
        session_id: 0,
        passwd: Bytes::from_static(&[0u8; 16]),
        read_only: Some(false),
    };
    write_frame(&mut out, |o| req.encode(o));
    s.write_all(&out).await?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await?;
    Ok(s)
}

/// Reads one reply frame of a raw session.
async fn read_reply(s: &mut TcpStream) -> io::Result<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.map(|_| ())
}

/// Whether the server has closed `s`: reading drains what it sent and ends in EOF or an error
/// within `wait`; a connection still open blocks instead.
async fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.max(Duration::from_millis(1)), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) if Instant::now() < deadline => {}
            _ => return false,
        }
    }
}

fn mb(kb_from: u64, kb_to: u64) -> f64 {
    kb_to.saturating_sub(kb_from) as f64 / 1024.0
}

async fn settled_rss(pid: u32) -> u64 {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rss_kb(pid).unwrap_or(0)
}

async fn non_reader(cfg: &LimitsCfg, server: &Running, row: &mut LimitsResult) -> io::Result<()> {
    let mut other = Conn::connect(server.addr, 30_000).await?;
    let value = Bytes::from(vec![b'x'; cfg.value_bytes]);
    for (path, data) in [("/big", value), ("/small", Bytes::from_static(b"s"))] {
        other
            .call(&Request::Create(CreateRequest {
                path: ByteString::from(path),
                data: Some(data),
                acl: Some(open_acl()),
                flags: CreateMode::Persistent.as_i32(),
            }))
            .await?
            .ok()
            .map_err(invalid)?;
    }
    let pid = server.pid();
    let base = settled_rss(pid).await;
    let mut s = raw_session(server.addr).await?;
    let mut frames = BytesMut::new();
    let mut xid = 1;
    let mut sent = 0;
    let mut peak = base;
    let mut other_ok = 0;
    let mut other_max = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stuck_since: Option<Instant> = None;
    while sent < cfg.requests && Instant::now() < deadline {
        frames.clear();
        for _ in 0..50.min(cfg.requests - sent) {
            let req = Request::GetData(GetDataRequest {
                path: ByteString::from_static("/big"),
                watch: false,
            });
            write_frame(&mut frames, |o| req.encode_frame(xid, o));
            xid += 1;
        }
        match tokio::time::timeout(Duration::from_millis(200), s.write_all(&frames)).await {
            Ok(Ok(())) => {
                sent += 50.min(cfg.requests - sent);
                stuck_since = None;
            }
            Ok(Err(_)) => {
                row.nonreader_closed = true;
                break;
            }
            // The server stopped reading (its socket buffers are full): the rest waits.
            Err(_) => {
                let since = *stuck_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(3) {
                    break;
                }
            }
        }
        peak = peak.max(rss_kb(pid).unwrap_or(0));
        let t0 = Instant::now();
        if let Ok(Ok(r)) = tokio::time::timeout(
            Duration::from_secs(5),
            other.call(&Request::GetData(GetDataRequest {
                path: ByteString::from_static("/small"),
                watch: false,
            })),
        )
        .await
            && r.ok().is_ok()
        {
            other_ok += 1;
            other_max = other_max.max(t0.elapsed());
        }
    }
    // Let whatever the server still does with the queued requests show in its memory.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kb(pid).unwrap_or(0));
    }
    row.sent = sent;
    row.nonreader_growth_mb = mb(base, peak);
    row.other_ok = other_ok;
    row.other_max_ms = other_max.as_secs_f64() * 1000.0;
    if !row.nonreader_closed {
        row.nonreader_closed = closed_by_server(&mut s, Duration::from_millis(500)).await;
    }
    Ok(())
}

async fn idle(cfg: &LimitsCfg, server: &Running, row: &mut LimitsResult) -> io::Result<()> {
    // One session first, so that what the first connection starts (threads, pools) is in the
    // baseline.
    let _first = raw_session(server.addr).await?;
    let pid = server.pid();
    let base = settled_rss(pid).await;
    let mut conns = Vec::with_capacity(cfg.idle);
    let started = Instant::now();
    for i in 0..cfg.idle {
        conns.push(raw_session(server.addr).await?);
        if (i + 1) % 1000 == 0 {
            eprintln!(
                "limits: {} idle sessions open ({:.1} s)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let after = settled_rss(pid).await;
    row.idle_kb_per_conn = after.saturating_sub(base) as f64 / cfg.idle.max(1) as f64;
    Ok(())
}

async fn slow_watcher(cfg: &LimitsCfg, server: &Running, row: &mut LimitsResult) -> io::Result<()> {
    let mut writer = Conn::connect(server.addr, 30_000).await?;
    // A long path makes each notification about 1 KB on the wire.
    let path = format!("/w/{}", "n".repeat(1000));
    for p in ["/w", path.as_str()] {
        writer
            .call(&Request::Create(CreateRequest {
                path: ByteString::from(p),
                data: Some(Bytes::new()),
                acl: Some(open_acl()),
                flags: CreateMode::Persistent.as_i32(),
            }))
            .await?
            .ok()
            .map_err(invalid)?;
    }
    let mut watcher = raw_session(server.addr).await?;
    let mut frame = BytesMut::new();
    let add = Request::AddWatch(AddWatchRequest {
        path: ByteString::from_static("/w"),
        // PERSISTENT_RECURSIVE
        mode: 1,
    });
    write_frame(&mut frame, |o| add.encode_frame(1, o));
    watcher.write_all(&frame).await?;
    read_reply(&mut watcher).await?;
    let pid = server.pid();
    let base = settled_rss(pid).await;
    let mut peak = base;
    let path = ByteString::from(path);
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while done < cfg.changes && Instant::now() < deadline {
        let n = 64.min(cfg.changes - done);
        for _ in 0..n {
            writer.queue(&Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(Bytes::from_static(b"v")),
                version: -1,
            }));
        }
        while writer.in_flight() > 0 {
            writer.next_event().await?;
        }
        done += n;
        if done % 6400 == 0 {
            peak = peak.max(rss_kb(pid).unwrap_or(0));
        }
    }
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kb(pid).unwrap_or(0));
    }
    row.watcher_changes = done;
    row.watcher_growth_mb = mb(base, peak);
    row.watcher_closed = closed_by_server(&mut watcher, Duration::from_secs(2)).await;
    Ok(())
}
