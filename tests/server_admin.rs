//! The operator's side of a node, through the real binary: `zoolog ctl reconfigure` switches the
//! running node's virtual log to a fresh loglet while clients write (nothing acknowledged is lost,
//! before or after a kill -9), `zoolog ctl status` shows the chain, `maxClientCnxns` limits
//! connections per client IP, a bad zoo.cfg line is an error that names the line,
//! `zoolog.store.writeBufferMB` sizes the store's memtable and `zoolog.server.workerThreads` the
//! threads serving connections.

mod zoolog_proc;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zookeeper_client as zk;
use zoolog_proc::{ctl, free_port, start, write_cfg, write_cfg_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctl_reconfigure_with_writes_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = write_cfg(dir.path(), port);
    let data = dir.path().join("data");
    let mut node = start(&cfg);

    let client = Arc::new(
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&node.addr.to_string())
            .await
            .expect("connect"),
    );
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.create("/w", b"", &open).await.expect("create /w");

    // Four writers keep creating sequential nodes; each remembers what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let seq = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
            let mut acked = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (_, sequence) = client
                    .create(&format!("/w/n{w}-"), b"x", &seq)
                    .await
                    .expect("no write may fail during a reconfiguration");
                acked.push(format!("n{w}-{sequence}"));
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, out) = ctl(&data, &["reconfigure"]);
    assert!(ok, "ctl reconfigure failed: {out}");
    assert!(out.starts_with("reconfigured:"), "{out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ok, out) = ctl(&data, &["reconfigure"]);
    assert!(ok, "second reconfigure failed: {out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    assert!(acked.len() > 20, "writers made progress ({})", acked.len());

    let (ok, status) = ctl(&data, &["status"]);
    assert!(ok, "{status}");
    assert_eq!(
        status.lines().filter(|l| l.starts_with("segment:")).count(),
        3,
        "three segments in the chain:\n{status}"
    );
    assert!(status.contains("stack: Observer(zk)/Batching/Observer(batching)/SessionOrder/Base"));

    let check = |children: Vec<String>| {
        let mut children = children;
        children.sort();
        let mut want = acked.clone();
        want.sort();
        assert_eq!(
            children, want,
            "exactly the acknowledged creates, once each"
        );
    };
    check(client.list_children("/w").await.expect("children"));

    // And after a crash, replay across the three segments finds the same.
    node.child.kill().expect("kill -9");
    node.child.wait().expect("reap");
    node = start(&cfg);
    let c2 = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&node.addr.to_string())
        .await
        .expect("reconnect");
    check(
        c2.list_children("/w")
            .await
            .expect("children after restart"),
    );
    let (ok, out) = ctl(&data, &["bogus"]);
    assert!(!ok && out.contains("unrecognized subcommand"), "{out}");
}

fn handshake(addr: std::net::SocketAddr) -> std::io::Result<usize> {
    let mut s = TcpStream::connect(addr)?;
    let mut p = Vec::new();
    p.extend_from_slice(&45i32.to_be_bytes());
    p.extend_from_slice(&0i32.to_be_bytes());
    p.extend_from_slice(&0i64.to_be_bytes());
    p.extend_from_slice(&10_000i32.to_be_bytes());
    p.extend_from_slice(&0i64.to_be_bytes());
    p.extend_from_slice(&16i32.to_be_bytes());
    p.extend_from_slice(&[0u8; 16]);
    p.push(0);
    s.write_all(&p)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 41 {
        match s.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    // Keep the connection open until the test ends.
    std::mem::forget(s);
    Ok(n)
}

#[test]
fn max_client_cnxns_limits_connections_per_ip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_cfg_with(dir.path(), free_port(), "maxClientCnxns=2\n");
    let node = start(&cfg);
    assert_eq!(handshake(node.addr).expect("first"), 41);
    assert_eq!(handshake(node.addr).expect("second"), 41);
    let third = handshake(node.addr).unwrap_or(0);
    assert_eq!(
        third, 0,
        "the third connection from one IP is closed unanswered"
    );
}

#[test]
fn bad_config_line_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(&cfg, "tickTime=2000\ndataDir=/tmp/x\nbogusKey=1\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_zoolog"))
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3: unknown configuration key `bogusKey`",
            cfg.display()
        )),
        "{err}"
    );
}

/// The memtable size in RocksDB's OPTIONS file of the store that `extra` configured.
fn store_write_buffer(extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_cfg_with(dir.path(), free_port(), extra);
    let node = start(&cfg);
    assert_eq!(handshake(node.addr).expect("serves"), 41);
    let store = dir.path().join("data").join("store");
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(&store).expect("store dir") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("OPTIONS-"))
        {
            let text = std::fs::read_to_string(&path).expect("options file");
            sizes.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("write_buffer_size="))
                    .map(str::to_owned),
            );
        }
    }
    sizes
}

#[test]
fn write_buffer_key_sizes_the_store_memtable() {
    let set = store_write_buffer("zoolog.store.writeBufferMB=3\n");
    assert!(!set.is_empty(), "no OPTIONS file written");
    assert!(
        set.iter().all(|l| l == "write_buffer_size=3145728"),
        "{set:?}"
    );
    let default = store_write_buffer("");
    assert!(
        default.iter().all(|l| l == "write_buffer_size=33554432"),
        "{default:?}"
    );
}

/// The threads serving connections, as `zoolog ctl status` reports them.
fn worker_threads(extra: &str) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_cfg_with(dir.path(), free_port(), extra);
    let node = start(&cfg);
    assert_eq!(handshake(node.addr).expect("serves"), 41);
    let (ok, status) = ctl(&dir.path().join("data"), &["status"]);
    assert!(ok, "{status}");
    drop(node);
    status
        .lines()
        .find_map(|l| l.strip_prefix("worker_threads: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no worker_threads line in {status}"))
}

#[test]
fn worker_threads_key_sizes_the_runtime() {
    assert_eq!(worker_threads("zoolog.server.workerThreads=3\n"), 3);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(worker_threads(""), cores);
}

/// Name and nice value of every thread of process `pid`.
fn thread_nices(pid: u32) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let tid: u32 = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .parse()
            .expect("tid");
        let name = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
            .map(|n| n.trim().to_string());
        if let (Ok(name), Some(nice)) = (name, zoolog::server::priority::thread_nice(pid, tid)) {
            out.push((name, nice));
        }
    }
    out
}

#[test]
fn worker_nice_lowers_exactly_the_connection_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_cfg_with(
        dir.path(),
        free_port(),
        "zoolog.server.workerThreads=2\nzoolog.server.workerNice=7\n",
    );
    let node = start(&cfg);
    let pid = node.child.id();
    let base = zoolog::server::priority::thread_nice(pid, pid).expect("main thread nice");
    // Traffic wakes both workers, and a reconfiguration starts a new log writer thread while
    // the node serves: it must not inherit the workers' priority.
    for _ in 0..20 {
        assert_eq!(handshake(node.addr).expect("serves"), 41);
    }
    let data = dir.path().join("data");
    let (ok, out) = ctl(&data, &["reconfigure"]);
    assert!(ok, "{out}");
    assert_eq!(handshake(node.addr).expect("serves"), 41);
    let threads = thread_nices(pid);
    let lowered: Vec<_> = threads.iter().filter(|(_, n)| *n != base).collect();
    assert_eq!(
        lowered.len(),
        2,
        "exactly the 2 workers run lowered: {threads:?}"
    );
    assert!(
        lowered
            .iter()
            .all(|(name, n)| name == "tokio-rt-worker" && *n == (base + 7).min(19)),
        "{threads:?}"
    );
    for critical in ["apply-loop", "loglet-writer", "rocksdb:high", "rocksdb:low"] {
        assert!(
            threads.iter().any(|(name, _)| name == critical),
            "no {critical} thread: {threads:?}"
        );
    }
    assert!(
        threads
            .iter()
            .filter(|(name, _)| name != "tokio-rt-worker")
            .all(|(_, n)| *n == base),
        "apply, log and store threads keep the process's priority: {threads:?}"
    );
}

#[test]
fn worker_nice_zero_leaves_every_thread_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_cfg_with(dir.path(), free_port(), "zoolog.server.workerNice=0\n");
    let node = start(&cfg);
    let pid = node.child.id();
    let base = zoolog::server::priority::thread_nice(pid, pid).expect("main thread nice");
    for _ in 0..5 {
        assert_eq!(handshake(node.addr).expect("serves"), 41);
    }
    let threads = thread_nices(pid);
    assert!(threads.iter().all(|(_, n)| *n == base), "{threads:?}");
}

#[test]
fn max_cnxns_caps_connections_from_every_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_cfg_with(dir.path(), free_port(), "maxClientCnxns=0\nmaxCnxns=2\n");
    let node = start(&cfg);
    assert_eq!(handshake(node.addr).expect("first"), 41);
    assert_eq!(handshake(node.addr).expect("second"), 41);
    assert_eq!(
        handshake(node.addr).unwrap_or(0),
        0,
        "a connection past maxCnxns is closed unanswered"
    );
}

/// Runs `zoolog serve` on `cfg_text` (with `myid` in its dataDir if given) and returns its
/// stderr if it refused to start.
fn refused(cfg_text: &str, myid: Option<&str>) -> Option<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    if let Some(id) = myid {
        std::fs::write(data.join("myid"), id).expect("myid");
    }
    let cfg = dir.path().join("zoo.cfg");
    let port = free_port();
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n{cfg_text}",
            data.display()
        ),
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zoolog"))
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    );
    if line.contains("serving on") {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_bad_ensemble_configuration_is_refused_by_file_and_line() {
    let three = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888\n";
    // No myid: the node cannot tell which of the servers it is.
    let err = refused(three, None).expect("an ensemble member without myid must not start");
    assert!(err.contains("myid") && err.contains("missing"), "{err}");
    let err = refused(three, Some("7")).expect("a myid naming no listed server");
    assert!(err.contains("server 7") && err.contains("1, 2, 3"), "{err}");
    let err = refused(
        "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2888:3999\n",
        Some("1"),
    )
    .expect("two servers on one quorum address");
    assert!(
        err.contains("zoo.cfg:6:") && err.contains("127.0.0.1:2888"),
        "{err}"
    );
    let err = refused("dynamicConfigFile=/nonexistent/zoo.cfg.dynamic\n", None)
        .expect("a dynamic config that cannot be read");
    assert!(
        err.contains("zoo.cfg:5:") && err.contains("dynamicConfigFile"),
        "{err}"
    );
    let err = refused("server.2=127.0.0.1:2888:3888\n", Some("1"))
        .expect("a server list without this node");
    assert!(err.contains("myid") && err.contains("server 1"), "{err}");
    let err = refused("server.1=127.0.0.1:2888\n", None).expect("a bad server line");
    assert!(
        err.contains("zoo.cfg:5:") && err.contains("server.1"),
        "{err}"
    );
    // The one accepted form: a single server.N line for this node, standalone as in ZooKeeper.
    assert_eq!(refused("server.1=127.0.0.1:2888:3888\n", Some("1")), None);
    assert_eq!(refused("server.1=127.0.0.1:2888:3888\n", None), None);
}
