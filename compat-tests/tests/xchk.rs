//! The cross-check proxy with a real client: starts both servers and `zk-xchk` between them, runs
//! a kazoo workload (`xchk_kazoo.py`: API calls, recipes, watches, async pipelining, a reconnect)
//! through it, and reports the proxy's divergences. Fails if the workload fails (it sees
//! ZooKeeper's answers), or if the proxy logged a divergence whose signature is not listed in
//! known-divergences.txt (`xchk:<what>` lines, matched against each divergence's first line).
//! Skipped (with a note) when kazoo is not installed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zoolog_compat::server::Servers;
use zoolog_compat::suite::{known_divergences, say};

fn main() {
    let kazoo = Command::new("python3")
        .args(["-c", "import kazoo"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !kazoo {
        say("xchk: kazoo is not installed (pip install kazoo); skipped");
        return;
    }
    let servers = Servers::from_env().unwrap_or_else(|e| panic!("cannot start the servers: {e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("xchk.log");
    let zk = servers.zookeeper.addr.to_string();
    let zl = servers.zoolog.addr.to_string();
    let (mut proxy, mut out, addr) = start_proxy(&zk, &zl, &log);
    say(&format!(
        "xchk: zk-xchk on {addr} (zookeeper {}, zoolog {})",
        servers.zookeeper.addr, servers.zoolog.addr
    ));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/xchk_kazoo.py");
    let start = Instant::now();
    let run = Command::new("python3")
        .arg(script)
        .arg(addr.to_string())
        .output()
        .expect("run python3");
    let elapsed = start.elapsed();
    // Let the proxy finish comparing, then stop it (it prints its summary).
    std::thread::sleep(Duration::from_millis(2500));
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(proxy.id().to_string())
        .status();
    let mut summary = String::new();
    let _ = out.read_line(&mut summary);
    let _ = proxy.wait();

    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let known = known_divergences();
    let patterns: Vec<&str> = known
        .keys()
        .filter_map(|k| k.strip_prefix("xchk:"))
        .collect();
    let mut unknown = Vec::new();
    let mut count = 0;
    for block in text.split("DIVERGENCE ").filter(|b| !b.trim().is_empty()) {
        count += 1;
        let first = block.lines().next().unwrap_or("");
        let tag = if patterns.iter().any(|p| first.contains(p)) {
            "known"
        } else {
            unknown.push(first.to_string());
            "NEW"
        };
        say(&format!("xchk: [{tag}] DIVERGENCE {}", block.trim_end()));
    }
    say(&format!(
        "xchk: kazoo workload {} in {:.1} s; {}",
        if run.status.success() {
            "passed"
        } else {
            "FAILED"
        },
        elapsed.as_secs_f64(),
        summary.trim()
    ));
    if !run.status.success() {
        say(&String::from_utf8_lossy(&run.stdout));
        say(&String::from_utf8_lossy(&run.stderr));
        std::process::exit(1);
    }
    say(&format!(
        "xchk: {count} divergences, {} not in known-divergences.txt",
        unknown.len()
    ));
    self_check(&servers);
    if !unknown.is_empty() {
        std::process::exit(1);
    }
}

/// The proxy must notice a divergence: with ZooKeeper on both sides, every write runs twice, and
/// the second run (the "zoolog" side) answers NODEEXISTS where the first created the node.
/// Starts `zk-xchk` between `zookeeper` and `zoolog`, logging to `log`: the process, its
/// stdout (it prints a summary when stopped) and the address it listens on.
fn start_proxy(
    zookeeper: &str,
    zoolog: &str,
    log: &std::path::Path,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    std::net::SocketAddr,
) {
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_zk-xchk"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--zookeeper",
            zookeeper,
            "--zoolog",
            zoolog,
            "--log",
        ])
        .arg(log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start zk-xchk");
    let mut out = BufReader::new(proxy.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("zk-xchk output");
    let addr = line
        .strip_prefix("zk-xchk: listening on ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected zk-xchk output {line:?}"));
    (proxy, out, addr)
}

fn self_check(servers: &Servers) {
    use zoolog_compat::client::{Conn, connect_payload, request_payload};
    use zoolog_compat::script::ops::{create, exists};

    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("self.log");
    let zk = servers.zookeeper.addr.to_string();
    let (mut proxy, _out, addr) = start_proxy(&zk, &zk, &log);
    let mut c = Conn::open(addr).expect("connect to zk-xchk");
    let req = zoolog_jute::ConnectRequest {
        time_out: 10000,
        passwd: zoolog_jute::Bytes::from(vec![0u8; 16]),
        read_only: Some(false),
        ..Default::default()
    };
    let deadline = || Instant::now() + Duration::from_secs(5);
    c.send_payload(&connect_payload(&req)).expect("send");
    c.read_frame(deadline()).expect("handshake");
    for (xid, r) in [
        (1, create("/xchk-self-check", "", 1)),
        (2, exists("/xchk-self-check", false)),
    ] {
        c.send_payload(&request_payload(xid, &r)).expect("send");
        c.read_frame(deadline()).expect("reply");
    }
    c.send_payload(&request_payload(3, &zoolog_jute::Request::CloseSession))
        .expect("send");
    let _ = c.read_frame(deadline());
    c.shutdown();
    std::thread::sleep(Duration::from_millis(2500));
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(proxy.id().to_string())
        .status();
    let _ = proxy.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let caught = text.contains("DIVERGENCE") && text.contains("NODEEXISTS");
    say(&format!(
        "xchk: self-check (ZooKeeper on both sides, writes run twice): divergence {}",
        if caught { "detected" } else { "NOT detected" }
    ));
    if let Some(block) = text.split("DIVERGENCE ").nth(1) {
        say(&format!(
            "xchk: self-check logged: DIVERGENCE {}",
            block.trim_end()
        ));
    }
    if !caught {
        say(&text);
        std::process::exit(1);
    }
}
