//! `LocalLoglet` under a real crash: a child process (this test binary, re-executed with an
//! environment variable) appends from concurrent tasks and prints every acknowledged
//! `(position, payload)`; the parent kills it with SIGKILL mid-stream, reopens the loglet and
//! checks that every acknowledged entry is there exactly once, at its position.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zoolog::log::{LocalLoglet, LocalLogletOptions, Loglet};

const CHILD_DIR: &str = "ZOOLOG_LOG_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "ZOOLOG_LOG_CRASH_CHILD_ROUND";
const APPENDERS: usize = 8;

fn options() -> LocalLogletOptions {
    // Small segments, so that the kill also lands around segment rolls.
    LocalLogletOptions {
        segment_bytes: 32 << 10,
        ..LocalLogletOptions::default()
    }
}

/// The child: runs only when re-executed by `sigkill_loses_no_acknowledged_append`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = Arc::new(LocalLoglet::open(dir, options()).await.unwrap());
        let mut tasks = Vec::new();
        for t in 0..APPENDERS {
            let l = l.clone();
            let round = round.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    let payload = format!("r{round}-t{t}-{i}-{}", "p".repeat((i % 50) as usize));
                    let pos = l.append(Bytes::from(payload.clone())).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {pos} {payload}").unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Kills the child on every exit path of the parent.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn take(line: String, acks: &mut Vec<(u64, String)>) {
    if let Some(rest) = line.strip_prefix("ACK ") {
        let (pos, payload) = rest.split_once(' ').unwrap();
        acks.push((pos.parse().unwrap(), payload.to_string()));
    }
}

/// Runs one child until it printed `target` acks, SIGKILLs it, returns every ack it printed.
fn run_and_kill(dir: &std::path::Path, round: u32, target: usize) -> Vec<(u64, String)> {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        // Only whole lines count: a line cut by the kill was not fully reported.
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => {
                    line.pop();
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    });
    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.len() < target {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => take(line, &mut acks),
            Err(e) => panic!("child stopped producing acks after {}: {e}", acks.len()),
        }
    }
    // SIGKILL mid-stream (appends are in flight), then collect what it printed before dying.
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success());
    reader.join().unwrap();
    while let Ok(line) = rx.try_recv() {
        take(line, &mut acks);
    }
    acks
}

#[test]
fn sigkill_loses_no_acknowledged_append() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut acked: Vec<(u64, String)> = Vec::new();
    for round in 0..3 {
        let got = run_and_kill(&dir, round, 3000);
        assert!(got.len() >= 3000);
        acked.extend(got);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = LocalLoglet::open(&dir, options()).await.unwrap();
        let (tail, sealed) = l.check_tail().await.unwrap();
        assert!(!sealed);
        let max_acked = acked.iter().map(|a| a.0).max().unwrap();
        assert!(
            tail > max_acked,
            "tail {tail} but position {max_acked} was acknowledged"
        );
        let entries = l.read(0, tail).await.unwrap();
        assert_eq!(entries.len() as u64, tail, "the log is dense");

        // Every acknowledged entry is at its position.
        let mut seen_pos = HashSet::new();
        for (pos, payload) in &acked {
            assert!(seen_pos.insert(*pos), "position {pos} acknowledged twice");
            let (p, b) = &entries[*pos as usize];
            assert_eq!(p, pos);
            assert_eq!(b, payload.as_bytes(), "entry at {pos}");
        }
        // And exactly once: no payload appears twice anywhere in the log.
        let mut count: HashMap<&[u8], u32> = HashMap::new();
        for (_, b) in &entries {
            *count.entry(b.as_ref()).or_default() += 1;
        }
        assert!(count.values().all(|&c| c == 1), "a payload appears twice");

        // Appends continue after the recovered tail.
        assert_eq!(l.append(Bytes::from_static(b"after")).await.unwrap(), tail);
        eprintln!(
            "crash test: {} acknowledged over 3 kills, recovered tail {tail}",
            acked.len()
        );
    });
}
