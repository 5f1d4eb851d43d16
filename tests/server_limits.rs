//! What one client can cost the server, through real processes: a client that pipelines getData of
//! a 1 MB znode and never reads its socket (the server's memory stays bounded and other clients
//! are served — proven first against Apache ZooKeeper), a watcher that never reads while its
//! watch fires (its connection is dropped, its session lives on), idle sessions (a few KB each),
//! and accepting when file descriptors run out (the listener backs off instead of spinning).

mod support;
mod zoolog_proc;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use support::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zookeeper_client as zk;
use zoolog_jute::{
    AddWatchRequest, ByteString, ConnectRequest, ConnectResponse, Cx, GetDataRequest, Jute,
    Request, write_frame,
};

fn zoolog(extra: &str) -> Server {
    let config = ServerConfig {
        extra: extra.to_string(),
        ..ServerConfig::default()
    };
    Server::launch("zoolog", config, |l| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zoolog"));
        c.arg("serve").arg("--config").arg(&l.cfg_path);
        c
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Resident set of `pid`, KiB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn client(server: &Server) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&server.connect_string())
        .await
        .expect("connect")
}

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// A raw session on a connection with a small receive buffer: `(stream, session id, password)`.
/// With `resume`, the handshake asks for that session back.
async fn raw_session(addr: SocketAddr, resume: Option<(i64, Bytes)>) -> (TcpStream, i64, Bytes) {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut s = sock.connect(addr).await.expect("connect");
    let (session_id, passwd) = resume.unwrap_or((0, Bytes::from_static(&[0u8; 16])));
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 10_000,
        session_id,
        passwd,
        read_only: Some(false),
    };
    let mut out = BytesMut::new();
    write_frame(&mut out, |o| req.encode(o));
    s.write_all(&out).await.expect("send ConnectRequest");
    let frame = read_frame(&mut s).await.expect("ConnectResponse");
    let cx = Cx::new(&frame, 1 << 20);
    let (_, resp) = ConnectResponse::decode(&cx, &frame).expect("decode ConnectResponse");
    (s, resp.session_id, resp.passwd)
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await?;
    Ok(Bytes::from(body))
}

/// Whether the server closed `s` within `wait`: reading what it sent ends in EOF or an error.
async fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            _ => {}
        }
    }
    false
}

/// Pipelines 3,000 getData of a 1 MB znode on a connection that never reads, while another
/// client keeps reading a small znode. Returns the server's peak RSS growth (MiB) and how many of
/// the other client's reads succeeded.
async fn never_reading_client(server: &Server) -> (f64, usize) {
    let pid = server.pid().expect("server pid");
    let other = client(server).await;
    other
        .create("/big", &vec![b'x'; 1_000_000], &open())
        .await
        .expect("create /big");
    other
        .create("/small", b"s", &open())
        .await
        .expect("create /small");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let base = rss_kb(pid);
    let (mut s, _, _) = raw_session(server.addr(), None).await;
    let flood = tokio::spawn(async move {
        let mut frames = BytesMut::new();
        for xid in 1..=3000 {
            let req = Request::GetData(GetDataRequest {
                path: ByteString::from_static("/big"),
                watch: false,
            });
            write_frame(&mut frames, |o| req.encode_frame(xid, o));
        }
        // Blocks once the server stops reading; the task is aborted at the end.
        let _ = s.write_all(&frames).await;
        std::future::pending::<()>().await;
    });
    let mut peak = base;
    let mut ok = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(8) {
        peak = peak.max(rss_kb(pid));
        let read = tokio::time::timeout(Duration::from_secs(5), other.get_data("/small")).await;
        if let Ok(Ok((data, _))) = read {
            assert_eq!(data, b"s");
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak = peak.max(rss_kb(pid));
    flood.abort();
    (peak.saturating_sub(base) as f64 / 1024.0, ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_costs_bounded_memory_and_others_are_served() {
    // The reference first: Apache ZooKeeper stays within the bound.
    let zk = Server::apache(ServerConfig::default());
    let (zk_growth, zk_ok) = never_reading_client(&zk).await;
    drop(zk);
    let zl = zoolog("");
    let (growth, ok) = never_reading_client(&zl).await;
    eprintln!(
        "RSS growth under a never-reading client: ZooKeeper +{zk_growth:.1} MB ({zk_ok} reads by another client), zoolog +{growth:.1} MB ({ok} reads)"
    );
    assert!(zk_growth < 100.0, "the reference grew {zk_growth:.1} MB");
    assert!(zk_ok >= 20, "the reference served {zk_ok} reads");
    assert!(growth < 100.0, "zoolog grew {growth:.1} MB");
    assert!(ok >= 20, "zoolog served the other client {ok} reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_never_reads_is_dropped_and_keeps_its_session() {
    let server = zoolog("zoolog.server.pauseUnsentKB=64\nzoolog.server.maxUnsentKB=512\n");
    let pid = server.pid().expect("pid");
    let writer = client(&server).await;
    writer.create("/w", b"", &open()).await.expect("create /w");
    // A long path makes every notification about 1 KB.
    let path = format!("/w/{}", "n".repeat(1000));
    writer.create(&path, b"", &open()).await.expect("create");
    let (mut watcher, session, passwd) = raw_session(server.addr(), None).await;
    let mut frame = BytesMut::new();
    let add = Request::AddWatch(AddWatchRequest {
        path: ByteString::from_static("/w"),
        mode: 1, // PERSISTENT_RECURSIVE
    });
    write_frame(&mut frame, |o| add.encode_frame(1, o));
    watcher.write_all(&frame).await.expect("addWatch");
    read_frame(&mut watcher).await.expect("addWatch reply");
    let base = rss_kb(pid);
    // 5,000 changes: about 5 MB of notifications, ten times what the watcher may leave untaken.
    for i in 0..5000u32 {
        writer
            .set_data(&path, &i.to_be_bytes(), None)
            .await
            .expect("setData");
    }
    let growth = rss_kb(pid).saturating_sub(base) as f64 / 1024.0;
    assert!(
        closed_by_server(&mut watcher, Duration::from_secs(10)).await,
        "the server kept the connection of a watcher that takes nothing"
    );
    assert!(growth < 64.0, "zoolog grew {growth:.1} MB");
    // The session outlives its connection: the client may come back for it.
    let (_again, resumed, _) = raw_session(server.addr(), Some((session, passwd))).await;
    assert_eq!(resumed, session, "the session was lost with its connection");
    let data = server.dir().expect("dir").join("data");
    let (_, status) = zoolog_proc::ctl(&data, &["status"]);
    assert!(status.contains("overflow_drops: 1\n"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_cost_a_few_kilobytes() {
    let server = zoolog("");
    let pid = server.pid().expect("pid");
    // One session first, so what the first connection starts is in the baseline.
    let _first = raw_session(server.addr(), None).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let base = rss_kb(pid);
    let mut conns = Vec::new();
    for _ in 0..2000 {
        conns.push(raw_session(server.addr(), None).await);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let per_conn = rss_kb(pid).saturating_sub(base) as f64 / 2000.0;
    eprintln!("idle session: {per_conn:.1} KB");
    assert!(per_conn <= 8.0, "an idle session costs {per_conn:.1} KB");
}

/// Open file descriptors of `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn accepting_backs_off_when_file_descriptors_run_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n",
            dir.path().join("data").display()
        ),
    )
    .expect("cfg");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zoolog"));
    cmd.arg("serve")
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert!(line.contains("serving on"), "{line}");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let pid = child.id();
    // Connections until the server has no descriptor left; the rest wait in the backlog.
    let spare = 256usize.saturating_sub(open_fds(pid));
    let mut conns = Vec::new();
    for _ in 0..spare + 20 {
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            conns.push(s);
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let warnings = text.matches("accepting a client connection failed").count();
    let alive = child.try_wait().expect("try_wait").is_none();
    // Room again: the server accepts and serves once descriptors are free.
    drop(conns);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut served = false;
    while Instant::now() < deadline && !served {
        served = support::four_letter_word(addr, "ruok").is_ok_and(|a| a == "imok");
        if !served {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "the server died when it ran out of descriptors");
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} accept warnings in 3 s (one, then a summary every 10 s):\n{text}"
    );
    assert!(
        served,
        "the server did not serve again once descriptors were free"
    );
}
