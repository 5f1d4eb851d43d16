//! LocalStore crash semantics, across a real process boundary: a child process commits, flushes
//! part of its work and is killed with SIGKILL (no destructor, no clean close). RocksDB's WAL is
//! off, so the reopened store holds exactly the flushed state and the cursor stored with it;
//! replaying the log from that cursor reproduces the state of a store that never crashed.

mod store_common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use store_common::{apply_range, contents, open, replay_to};
use tempfile::tempdir;
use zoolog::store::StoreRead;

/// Set in the child: the store directory.
const CHILD_DIR_ENV: &str = "ZOOLOG_STORE_CRASH_DIR";
/// Set in the child: how many log entries to apply and flush before the unflushed ones.
const CHILD_FLUSHED_ENV: &str = "ZOOLOG_STORE_CRASH_FLUSHED";
/// Set in the child: how many log entries to apply in all.
const CHILD_TOTAL_ENV: &str = "ZOOLOG_STORE_CRASH_TOTAL";

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's side: a no-op in a normal test run; in the child, applies the log, flushes after
/// `flushed` entries, applies the rest, says READY and waits to be killed.
#[test]
fn crash_child_process() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let flushed: u64 = std::env::var(CHILD_FLUSHED_ENV).unwrap().parse().unwrap();
    let total: u64 = std::env::var(CHILD_TOTAL_ENV).unwrap().parse().unwrap();
    let mut store = open(Path::new(&dir));
    apply_range(&mut store, 0, flushed);
    if flushed > 0 {
        assert_eq!(store.flush().unwrap(), flushed);
    }
    apply_range(&mut store, flushed, total);
    assert_eq!(store.applied_cursor(), total);
    assert_eq!(store.durable_cursor(), flushed);
    println!("READY applied={total} durable={flushed}");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Runs the child on `dir`, waits for READY, kills it with SIGKILL.
fn run_and_kill_child(dir: &Path, flushed: u64, total: u64) {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([
            "crash_child_process",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_FLUSHED_ENV, flushed.to_string())
        .env(CHILD_TOTAL_ENV, total.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may have printed "test crash_child_process ... " on the same line.
            if let Some(at) = line.find("READY") {
                let _ = tx.send(line[at..].to_owned());
                break;
            }
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("child never became ready");
    assert_eq!(ready, format!("READY applied={total} durable={flushed}"));

    guard.0.kill().unwrap(); // SIGKILL
    let status = guard.0.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "child was not killed: {status:?}");
}

#[test]
fn after_sigkill_the_flushed_state_survives_and_replay_reconstructs_the_rest() {
    const FLUSHED: u64 = 12;
    const TOTAL: u64 = 30;
    let dir = tempdir().unwrap();
    run_and_kill_child(dir.path(), FLUSHED, TOTAL);

    // The state a store reaches by applying entries 0..12 and never crashing.
    let flushed_ref_dir = tempdir().unwrap();
    let mut flushed_ref = open(flushed_ref_dir.path());
    apply_range(&mut flushed_ref, 0, FLUSHED);

    let mut store = open(dir.path());
    assert_eq!(store.applied_cursor(), FLUSHED);
    assert_eq!(store.durable_cursor(), FLUSHED);
    assert_eq!(store.snapshot().cursor().unwrap(), FLUSHED);
    // Exactly the flushed state: nothing of the unflushed entries (beta keys n0012..n0029 were
    // only ever written by them), nothing missing.
    assert_eq!(
        store.snapshot().dump().unwrap(),
        flushed_ref.snapshot().dump().unwrap()
    );
    let beta = store.partition("beta").unwrap();
    for pos in FLUSHED..TOTAL {
        assert_eq!(
            store
                .snapshot()
                .get(&beta, format!("n{pos:04}").as_bytes())
                .unwrap(),
            None,
            "entry {pos} was never flushed but survived"
        );
    }

    // Replay from the cursor, as the engine does; compare with a store that never crashed.
    replay_to(&mut store, TOTAL);
    let full_ref_dir = tempdir().unwrap();
    let mut full_ref = open(full_ref_dir.path());
    apply_range(&mut full_ref, 0, TOTAL);
    assert_eq!(store.applied_cursor(), TOTAL);
    assert_eq!(
        store.snapshot().dump().unwrap(),
        full_ref.snapshot().dump().unwrap()
    );
    assert_eq!(contents(&store, "alpha"), contents(&full_ref, "alpha"));
    assert_eq!(store.digest().unwrap(), full_ref.digest().unwrap());
}

#[test]
fn after_sigkill_before_any_flush_the_store_restarts_from_zero() {
    let dir = tempdir().unwrap();
    run_and_kill_child(dir.path(), 0, 15);

    let empty_dir = tempdir().unwrap();
    let empty = open(empty_dir.path());
    let mut store = open(dir.path());
    assert_eq!(store.applied_cursor(), 0);
    assert_eq!(store.durable_cursor(), 0);
    // The partitions were created (that is metadata, not state) but hold nothing.
    assert_eq!(store.partitions().len(), 2);
    assert_eq!(
        store.snapshot().dump().unwrap(),
        empty.snapshot().dump().unwrap()
    );

    replay_to(&mut store, 15);
    let ref_dir = tempdir().unwrap();
    let mut reference = open(ref_dir.path());
    apply_range(&mut reference, 0, 15);
    assert_eq!(store.digest().unwrap(), reference.digest().unwrap());
}

#[test]
fn a_clean_close_makes_everything_durable() {
    let dir = tempdir().unwrap();
    let expected = {
        let mut store = open(dir.path());
        apply_range(&mut store, 0, 9);
        assert_eq!(store.durable_cursor(), 0);
        let digest = store.digest().unwrap();
        assert_eq!(store.close().unwrap(), 9);
        digest
    };
    let store = open(dir.path());
    assert_eq!(store.applied_cursor(), 9);
    assert_eq!(store.durable_cursor(), 9);
    assert_eq!(store.digest().unwrap(), expected);

    // Dropping without close() flushes as well (RocksDB flushes unpersisted memtables on close).
    let mut store = store;
    apply_range(&mut store, 9, 14);
    let digest = store.digest().unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.applied_cursor(), 14);
    assert_eq!(store.digest().unwrap(), digest);
}

#[test]
fn flush_reports_the_durable_cursor() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.flush().unwrap(), 0);
    apply_range(&mut store, 0, 4);
    assert_eq!(store.durable_cursor(), 0);
    let shared = store.shared();
    let flusher = std::thread::spawn(move || shared.flush().unwrap());
    assert_eq!(flusher.join().unwrap(), 4);
    assert_eq!(store.durable_cursor(), 4);
    apply_range(&mut store, 4, 6);
    assert_eq!(store.durable_cursor(), 4);
    assert_eq!(store.applied_cursor(), 6);
    assert_eq!(store.flush().unwrap(), 6);
    let snap = store.snapshot();
    let alpha = store.partition("alpha").unwrap();
    assert!(snap.get(&alpha, b"k0").unwrap().is_some());
}
