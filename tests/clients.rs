//! The real-client suites (kazoo, Java, C, Rust), each run against the reference — Apache
//! ZooKeeper 3.8 standalone from the Debian jars, which proves the suite itself right — and
//! against zoolog (the `zoolog serve` binary of this build), which proves zoolog a drop-in
//! replacement for what those clients do.
//!
//! Each test starts its own server (`support::Server::apache`) with `suites::reference_config()`
//! (tickTime 200 ms, sessions 400..4000 ms, container checks every 200 ms, a super user, TTL nodes
//! on), runs one suite and fails with the suite's report and the server's log tail. Run one by
//! hand with `cargo test --test clients_reference kazoo -- --nocapture`.

mod support;

#[path = "clients/rust_suite.rs"]
mod rust_suite;

use std::sync::Mutex;
use std::time::Duration;

use support::suites;
use support::{Server, ServerConfig};

/// At most two suites at a time: each is a JVM server plus a client, on a 2-core machine.
static SLOTS: Mutex<u8> = Mutex::new(0);

struct Slot;

impl Slot {
    fn take() -> Slot {
        loop {
            {
                let mut n = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
                if *n < 2 {
                    *n += 1;
                    return Slot;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *SLOTS.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
    }
}

fn reference() -> Server {
    Server::apache(suites::reference_config())
}

fn zoolog() -> Server {
    Server::launch("zoolog", suites::reference_config(), |l| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_zoolog"));
        c.arg("serve").arg("--config").arg(&l.cfg_path);
        c
    })
    .unwrap_or_else(|e| panic!("zoolog did not start: {e}"))
}

// Each suite runner takes the connection string (one server's `host:port`, or an ensemble's
// `host:port,host:port,...`), a name for reports and the servers' settings; the single-server
// tests keep their `Server` alive around the call (dropping it stops the server).

fn kazoo(name: &str, hosts: &str, config: &ServerConfig) {
    let _slot = Slot::take();
    let target = Server::external_hosts(name, hosts, config.clone());
    let run = suites::run_kazoo(&target);
    suites::check_run("kazoo", &target, &run);
}

fn java(name: &str, hosts: &str, config: &ServerConfig) {
    let _slot = Slot::take();
    let target = Server::external_hosts(name, hosts, config.clone());
    let run = suites::run_java(&target);
    suites::check_run("java", &target, &run);
}

fn c_client(name: &str, hosts: &str, config: &ServerConfig) {
    let _slot = Slot::take();
    let target = Server::external_hosts(name, hosts, config.clone());
    let run = suites::run_c(&target);
    suites::check_run("c", &target, &run);
}

#[test]
fn kazoo_suite_against_apache_zookeeper() {
    let s = reference();
    kazoo(s.name(), &s.connect_string(), s.config());
}

#[test]
fn kazoo_suite_against_zoolog() {
    let s = zoolog();
    kazoo(s.name(), &s.connect_string(), s.config());
}

#[test]
fn java_suite_against_apache_zookeeper() {
    let s = reference();
    java(s.name(), &s.connect_string(), s.config());
}

#[test]
fn java_suite_against_zoolog() {
    let s = zoolog();
    java(s.name(), &s.connect_string(), s.config());
}

#[test]
fn c_suite_against_apache_zookeeper() {
    let s = reference();
    c_client(s.name(), &s.connect_string(), s.config());
}

#[test]
fn c_suite_against_zoolog() {
    let s = zoolog();
    c_client(s.name(), &s.connect_string(), s.config());
}

/// The suite configuration for the in-process Rust suite, from a server.
pub fn rust_suite_config(server: &Server) -> rust_suite::SuiteConfig {
    let c: &ServerConfig = server.config();
    rust_suite::SuiteConfig {
        server: server.connect_string(),
        tick_time_ms: c.tick_time_ms,
        min_session_timeout_ms: c.min_session_timeout(),
        max_session_timeout_ms: c.max_session_timeout(),
        super_auth: c.super_user.as_ref().map(|(u, p)| format!("{u}:{p}")),
        container_check_ms: c.container_check_interval_ms,
        ttl: c.extended_types,
    }
}

#[test]
fn rust_suite_against_apache_zookeeper() {
    let s = reference();
    rust(s.name(), &s.connect_string(), s.config());
}

#[test]
fn rust_suite_against_zoolog() {
    let s = zoolog();
    rust(s.name(), &s.connect_string(), s.config());
}

fn rust(name: &str, hosts: &str, config: &ServerConfig) {
    let _slot = Slot::take();
    let cfg = rust_suite_config(&Server::external_hosts(name, hosts, config.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        tokio::time::timeout(suites::SUITE_TIMEOUT, rust_suite::run(cfg)).await
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(Ok(report)) => println!("{report}"),
        Ok(Err(report)) => panic!(
            "rust suite against {name} at {hosts} failed\n{report}\n(the server's log tail follows when it stops)",
        ),
        Err(_) => panic!("rust suite timed out after {:?}", suites::SUITE_TIMEOUT),
    }
}
