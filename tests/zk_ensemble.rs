//! The real-client suites of `tests/clients.rs` (kazoo, Java, C, Rust) against a 3-node
//! ensemble, given the full connection string (`support::ensemble`): against Apache ZooKeeper 3.8
//! (`QuorumPeerMain` from the Debian jars), which proves the harness and the suites right for an
//! ensemble, and against a zoolog ensemble. A session reads another session's writes only after
//! a `sync` or on the same server (all that ZooKeeper promises; zoolog's followers apply a
//! write a few ms after its server acknowledged it), so the suites sync first, or (kazoo) keep
//! every session on the first server of the string. Plus: the leader killed
//! with SIGKILL while a Rust client writes in a loop; the client carries on after the connection
//! loss and every acknowledged write is on every node at the end.
//!
//! One ensemble at a time (three JVMs on a 2-core machine); each test starts its own and kills
//! it at the end. Run one by hand with `cargo test --test zk_ensemble kazoo -- --nocapture`.

mod support;

// `tick_time_ms` is for the suite's report only.
#[allow(dead_code)]
#[path = "clients/rust_suite.rs"]
mod rust_suite;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use support::ensemble::{Ensemble, Kind};
use support::{ServerConfig, suites};
use zookeeper_client as zk;

/// The nodes of every ensemble here.
const NODES: usize = 3;

/// One ensemble (and its suite) at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn apache(config: ServerConfig) -> Ensemble {
    Ensemble::start(Kind::Apache, NODES, config)
}

fn zoolog(config: ServerConfig) -> Ensemble {
    Ensemble::start(Kind::zoolog(env!("CARGO_BIN_EXE_zoolog")), NODES, config)
}

fn kazoo(e: &Ensemble) {
    let target = e.target();
    let run = suites::run_kazoo(&target);
    suites::check_run("kazoo", &target, &run);
}

fn java(e: &Ensemble) {
    let target = e.target();
    let run = suites::run_java(&target);
    suites::check_run("java", &target, &run);
}

fn c_client(e: &Ensemble) {
    let target = e.target();
    let run = suites::run_c(&target);
    suites::check_run("c", &target, &run);
}

fn rust(e: &Ensemble) {
    let c = e.config();
    let cfg = rust_suite::SuiteConfig {
        server: e.connect_string(),
        tick_time_ms: c.tick_time_ms,
        min_session_timeout_ms: c.min_session_timeout(),
        max_session_timeout_ms: c.max_session_timeout(),
        super_auth: c.super_user.as_ref().map(|(u, p)| format!("{u}:{p}")),
        container_check_ms: c.container_check_interval_ms,
        ttl: c.extended_types,
    };
    let rt = runtime();
    let result = rt.block_on(async {
        tokio::time::timeout(suites::SUITE_TIMEOUT, rust_suite::run(cfg)).await
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(Ok(report)) => println!("{report}"),
        Ok(Err(report)) => panic!(
            "rust suite against the {} ensemble at {} failed\n{report}\n(the nodes' log tails follow)",
            e.kind().name(),
            e.connect_string(),
        ),
        Err(_) => panic!("rust suite timed out after {:?}", suites::SUITE_TIMEOUT),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn kazoo_suite_against_apache_zookeeper_ensemble() {
    let _one = one_at_a_time();
    kazoo(&apache(suites::reference_config()));
}

#[test]
fn java_suite_against_apache_zookeeper_ensemble() {
    let _one = one_at_a_time();
    java(&apache(suites::reference_config()));
}

#[test]
fn c_suite_against_apache_zookeeper_ensemble() {
    let _one = one_at_a_time();
    c_client(&apache(suites::reference_config()));
}

#[test]
fn rust_suite_against_apache_zookeeper_ensemble() {
    let _one = one_at_a_time();
    rust(&apache(suites::reference_config()));
}

#[test]
fn kazoo_suite_against_zoolog_ensemble() {
    let _one = one_at_a_time();
    kazoo(&zoolog(suites::reference_config()));
}

#[test]
fn java_suite_against_zoolog_ensemble() {
    let _one = one_at_a_time();
    java(&zoolog(suites::reference_config()));
}

#[test]
fn c_suite_against_zoolog_ensemble() {
    let _one = one_at_a_time();
    c_client(&zoolog(suites::reference_config()));
}

#[test]
fn rust_suite_against_zoolog_ensemble() {
    let _one = one_at_a_time();
    rust(&zoolog(suites::reference_config()));
}

#[test]
fn leader_killed_under_writes_apache_zookeeper() {
    let _one = one_at_a_time();
    leader_killed_under_writes(Kind::Apache);
}

#[test]
fn leader_killed_under_writes_zoolog() {
    let _one = one_at_a_time();
    leader_killed_under_writes(Kind::zoolog(env!("CARGO_BIN_EXE_zoolog")));
}

/// What the writer saw.
#[derive(Default)]
struct WriterLog {
    /// Paths whose create was acknowledged, in order.
    acked: Vec<String>,
    /// Creates that failed with ConnectionLoss (retried with the same path).
    connection_losses: usize,
    /// Other failed creates (retried), as `path: error`.
    other_errors: Vec<String>,
    /// Creates answered NodeExists after a retry: written before the connection was lost.
    existed: usize,
    /// Session states the client went through.
    states: Vec<zk::SessionState>,
}

const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Creates `/w/n-000000`, `/w/n-000001`, ... until `stop`, retrying a path after an error.
async fn writer(
    hosts: String,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<WriterLog>>,
) -> Result<(), String> {
    let c = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(&hosts)
        .await
        .map_err(|e| format!("connect {hosts}: {e}"))?;
    let mut states = c.state_watcher();
    let state_log = log.clone();
    let watching = tokio::spawn(async move {
        loop {
            let s = states.changed().await;
            state_log.lock().unwrap().states.push(s);
            if s.is_terminated() {
                break;
            }
        }
    });
    let mut i = 0u64;
    let mut retried = false;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let p = format!("/w/n-{i:06}");
        match c.create(&p, i.to_string().as_bytes(), &open()).await {
            Ok(_) => {
                log.lock().unwrap().acked.push(p);
                i += 1;
                retried = false;
            }
            Err(zk::Error::NodeExists) if retried => {
                log.lock().unwrap().existed += 1;
                i += 1;
                retried = false;
            }
            Err(zk::Error::SessionExpired) => break Err(format!("{p}: session expired")),
            Err(zk::Error::ConnectionLoss) => {
                log.lock().unwrap().connection_losses += 1;
                retried = true;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                log.lock().unwrap().other_errors.push(format!("{p}: {e}"));
                retried = true;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    watching.abort();
    result
}

fn acked(log: &Mutex<WriterLog>) -> usize {
    log.lock().unwrap().acked.len()
}

/// Waits until the writer has `n` acknowledged writes; panics after `within`.
fn wait_acked(log: &Mutex<WriterLog>, n: usize, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while acked(log) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} acknowledged writes after {within:?}, want {n}",
            acked(log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every child of `/w`, read from node `i` alone after a `sync`.
async fn children_on(hosts: &str) -> Result<BTreeSet<String>, String> {
    let c = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(hosts)
        .await
        .map_err(|e| format!("connect {hosts}: {e}"))?;
    c.sync("/w")
        .await
        .map_err(|e| format!("sync on {hosts}: {e}"))?;
    let names = c
        .list_children("/w")
        .await
        .map_err(|e| format!("list /w on {hosts}: {e}"))?;
    Ok(names.into_iter().map(|n| format!("/w/{n}")).collect())
}

fn leader_killed_under_writes(kind: Kind) {
    let mut config = suites::reference_config();
    config.max_session_timeout_ms = Some(20_000);
    let mut e = Ensemble::start(kind, NODES, config);
    let hosts = e.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let c = zk::Client::connector()
            .with_session_timeout(SESSION_TIMEOUT)
            .connect(&hosts)
            .await
            .expect("connect");
        c.create("/w", b"", &open()).await.expect("create /w");
    });

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(WriterLog::default()));
    let writing = rt.spawn(writer(hosts.clone(), stop.clone(), log.clone()));
    wait_acked(&log, 200, Duration::from_secs(30), "before the kill");

    let leader = e.leader();
    let before = acked(&log);
    let killed_at = Instant::now();
    e.kill9(leader);
    let new_leader = e.leader();
    assert_ne!(new_leader, leader, "the killed node is still the leader");
    let elected_in = killed_at.elapsed();
    // The client carries on: 200 more acknowledged writes after the kill.
    wait_acked(
        &log,
        before + 200,
        Duration::from_secs(60),
        "after the kill",
    );
    let resumed_in = killed_at.elapsed();
    stop.store(true, Ordering::Relaxed);
    let outcome = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), writing).await })
        .expect("writer did not stop")
        .expect("writer panicked");
    if let Err(err) = outcome {
        panic!("writer failed: {err}");
    }

    // The killed node comes back and catches up; every node has every acknowledged write.
    e.restart(leader);
    let log = log.lock().unwrap();
    let want: BTreeSet<String> = log.acked.iter().cloned().collect();
    let mut seen = Vec::new();
    for i in 0..e.len() {
        let on = rt
            .block_on(children_on(&e.node_connect_string(i)))
            .unwrap_or_else(|err| panic!("node {i}: {err}"));
        let missing: Vec<&String> = want.difference(&on).collect();
        assert!(
            missing.is_empty(),
            "node {i} lacks {} acknowledged writes, first {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        seen.push(on);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the nodes disagree on /w: {:?}",
        seen.iter().map(|s| s.len()).collect::<Vec<_>>()
    );
    rt.shutdown_timeout(Duration::from_secs(5));
    println!(
        "{} ensemble: leader node {leader} killed after {before} writes; node {new_leader} \
         leads after {elected_in:?}; 200 more writes by {resumed_in:?}; {} acknowledged, {} \
         ConnectionLoss, {} NodeExists on retry, other errors {:?}, states {:?}",
        e.kind().name(),
        log.acked.len(),
        log.connection_losses,
        log.existed,
        log.other_errors,
        log.states,
    );
}
