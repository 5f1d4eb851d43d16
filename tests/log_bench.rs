//! Throughput of `LocalLoglet` durable appends (ignored by default; run in release):
//!
//! ```text
//! cargo test --release --test log_bench -- --ignored --nocapture
//! ```
//!
//! 64 concurrent appenders, 100-byte entries, each append awaited until durable; group commit
//! on (default options), group commit without segment preallocation, and one fdatasync per
//! append (`max_batch = 1`). Set `ZOOLOG_BENCH_DIR` to measure on another file system than the
//! temp directory's, `ZOOLOG_BENCH_SECS` to change the duration of each run (default 5).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use zoolog::log::{LocalLoglet, LocalLogletOptions, Loglet};

const APPENDERS: usize = 64;
const ENTRY: usize = 100;

struct Outcome {
    appends: u64,
    secs: f64,
    fsyncs: u64,
    p50_us: u64,
    p99_us: u64,
}

async fn run(opts: LocalLogletOptions, duration: Duration) -> Outcome {
    let base = std::env::var_os("ZOOLOG_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::tempdir_in(base).unwrap();
    let l = Arc::new(
        LocalLoglet::open(tmp.path().join("log"), opts)
            .await
            .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..APPENDERS {
        let l = l.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let payload = Bytes::from(vec![t as u8; ENTRY]);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                l.append(payload.clone()).await.unwrap();
                lat.push(t0.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Outcome {
        appends: lat.len() as u64,
        secs,
        fsyncs: l.fsync_count(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

/// Mean latency of `write(116 bytes) + fdatasync` on this file system, appending to a growing
/// file and overwriting preallocated zeros: the bound a closed loop of appenders runs into.
fn raw_fdatasync_us(dir: &std::path::Path, preallocated: bool) -> f64 {
    use std::os::unix::fs::FileExt;
    let path = dir.join(if preallocated {
        "probe-pre"
    } else {
        "probe-grow"
    });
    let f = std::fs::File::create(&path).unwrap();
    const N: u64 = 300;
    if preallocated {
        f.write_all_at(&vec![0u8; (N * 116) as usize], 0).unwrap();
        f.sync_all().unwrap();
    }
    let rec = [7u8; 116];
    let t0 = Instant::now();
    for i in 0..N {
        f.write_all_at(&rec, i * 116).unwrap();
        f.sync_data().unwrap();
    }
    t0.elapsed().as_micros() as f64 / N as f64
}

fn report(name: &str, o: &Outcome) {
    println!(
        "{name:<18} {:>9.0} appends/s  {:>8} appends  {:>7} fsyncs  {:>6.1} appends/fsync  p50 {:>6} us  p99 {:>6} us",
        o.appends as f64 / o.secs,
        o.appends,
        o.fsyncs,
        o.appends as f64 / o.fsyncs.max(1) as f64,
        o.p50_us,
        o.p99_us
    );
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn local_loglet_append_throughput() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "LocalLoglet, {APPENDERS} concurrent appenders, {ENTRY}-byte entries, acked when durable"
        );
        let secs = std::env::var("ZOOLOG_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5);
        let d = Duration::from_secs(secs);
        let probe = tempfile::tempdir_in(
            std::env::var_os("ZOOLOG_BENCH_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
        )
        .unwrap();
        println!(
            "raw write+fdatasync: {:.0} us growing the file, {:.0} us into preallocated zeros",
            raw_fdatasync_us(probe.path(), false),
            raw_fdatasync_us(probe.path(), true)
        );
        let default = LocalLogletOptions::default();
        let runs = [
            ("group commit", default.clone()),
            (
                "group, no prealloc",
                LocalLogletOptions {
                    preallocate_bytes: 0,
                    ..default.clone()
                },
            ),
            (
                "fsync per append",
                LocalLogletOptions {
                    max_batch: 1,
                    ..default.clone()
                },
            ),
        ];
        for (name, opts) in runs {
            report(name, &run(opts, d).await);
        }
    });
}
