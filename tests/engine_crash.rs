//! Crash recovery across a real process boundary: a child process runs the stack
//! Batching/SessionOrder/Base over a LocalLoglet and a LocalStore in a temp dir, proposes on
//! many streams concurrently and prints every acknowledged proposal (flushed stdout). The parent
//! kills it with SIGKILL mid-stream — appends, applies and background flushes in flight — then
//! reopens the log and the store (the apply loop replays from the stored cursor) and checks that
//! every acknowledged entry is there exactly once, every stream is in order, and the recovered
//! state equals a fresh replay of the whole log into an empty store.

mod engine_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine_support::*;
use futures::future::join_all;
use tempfile::tempdir;
use zoolog::engine::session::with_stream;
use zoolog::engine::{BaseOptions, BatchingConfig, Entry, SessionOrderConfig, StackBuilder};
use zoolog::log::{LocalLoglet, LocalLogletOptions, Loglet};

/// Set in the child: its working directory.
const CHILD_ENV: &str = "ZOOLOG_ENGINE_CRASH_DIR";
const STREAMS: u64 = 8;
const WINDOW: u64 = 16;
/// The parent kills the child after this many acknowledgements.
const KILL_AFTER: usize = 2_000;

fn stack(log: Arc<dyn Loglet>, store_dir: &Path) -> StackBuilder {
    StackBuilder::new(log, open_store(store_dir))
        .base_options(BaseOptions {
            flush_every: 150,
            flush_interval: Duration::from_millis(10),
            ..BaseOptions::default()
        })
        .batching(BatchingConfig {
            max_entries: 32,
            max_in_flight: 2,
            ..BatchingConfig::default()
        })
        .session_order(SessionOrderConfig::default())
}

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's side: a no-op in a normal test run.
#[test]
fn crash_child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let log = LocalLoglet::open(dir.join("log"), LocalLogletOptions::default())
            .await
            .unwrap();
        let stack = stack(Arc::new(log), &dir.join("store"))
            .build(TestApp::new())
            .unwrap();
        let top = stack.top().clone();
        for s in 0..STREAMS {
            let top = top.clone();
            tokio::spawn(async move {
                let mut i = 0;
                loop {
                    let futs: Vec<_> = (i..i + WINDOW)
                        .map(|k| top.propose(with_stream(Entry::new(payload(s, k)), s)))
                        .collect();
                    for (k, r) in (i..i + WINDOW).zip(join_all(futs).await) {
                        let (_, rs, rk) = decode_result(&r.unwrap());
                        assert_eq!((rs, rk), (s, k));
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {s} {k}").unwrap();
                        out.flush().unwrap();
                    }
                    i += WINDOW;
                }
            });
        }
        futures::future::pending::<()>().await;
    });
}

/// Runs the child on `dir` until `KILL_AFTER` acks, kills it with SIGKILL; returns every ack.
fn run_and_kill_child(dir: &Path) -> BTreeSet<(u64, u64)> {
    let stderr = std::fs::File::create(dir.join("child.stderr")).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = BTreeSet::new();
    let parse = |line: &str| -> Option<(u64, u64)> {
        let mut it = line.strip_prefix("ack ")?.split(' ');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks.len() < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => acks.extend(parse(&line)),
            Err(e) => {
                let log = std::fs::read_to_string(dir.join("child.stderr")).unwrap_or_default();
                panic!(
                    "child gave {} acks, then {e:?}; status {:?}\n{log}",
                    acks.len(),
                    guard.0.try_wait()
                );
            }
        }
    }
    guard.0.kill().unwrap();
    let status = guard.0.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the child must die by SIGKILL");
    // Everything printed before the kill is acknowledged.
    reader.join().unwrap();
    acks.extend(rx.try_iter().filter_map(|l| parse(&l)));
    acks
}

#[test]
fn acknowledged_entries_survive_sigkill_exactly_once() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    init_tracing();
    let dir = tempdir().unwrap();
    let acks = run_and_kill_child(dir.path());
    assert!(acks.len() >= KILL_AFTER);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let log: Arc<dyn Loglet> = Arc::new(
            LocalLoglet::open(dir.path().join("log"), LocalLogletOptions::default())
                .await
                .unwrap(),
        );
        let (tail, _) = log.check_tail().await.unwrap();
        let store = open_store(&dir.path().join("store"));
        let cursor = store.applied_cursor();
        eprintln!(
            "after SIGKILL: {} acks, log tail {tail}, stored cursor {cursor}",
            acks.len()
        );
        assert!(cursor > 0, "the child flushed its store at least once");
        assert!(cursor <= tail);
        drop(store);

        let recovered = stack(log.clone(), &dir.path().join("store"))
            .build(TestApp::new())
            .unwrap();
        let snap = recovered.sync().await.unwrap();
        assert_eq!(snap.cursor().unwrap(), tail);
        let seen = read_seen(&snap);
        assert!(
            seen.values().all(|&n| n == 1),
            "an entry was applied more than once"
        );
        for a in &acks {
            assert_eq!(seen.get(a), Some(&1), "acknowledged entry {a:?} is missing");
        }
        let mut max_acked: BTreeMap<u64, u64> = BTreeMap::new();
        for &(s, k) in &acks {
            let m = max_acked.entry(s).or_default();
            *m = (*m).max(k);
        }
        for s in 0..STREAMS {
            let list = read_list(&snap, s);
            assert_eq!(
                list,
                (0..list.len() as u64).collect::<Vec<_>>(),
                "stream {s} out of order"
            );
            assert!(list.len() as u64 > max_acked.get(&s).copied().unwrap_or(0));
        }

        let fresh_dir = tempdir().unwrap();
        let fresh = stack(log.clone(), fresh_dir.path())
            .build(TestApp::new())
            .unwrap();
        let fresh_snap = fresh.sync().await.unwrap();
        assert_eq!(fresh_snap.cursor().unwrap(), tail);
        assert_eq!(
            snap.digest().unwrap(),
            fresh_snap.digest().unwrap(),
            "recovered state differs from a fresh replay of the log"
        );
        drop((snap, fresh_snap));
        recovered.shutdown().await.unwrap();
        fresh.shutdown().await.unwrap();
    });
}
