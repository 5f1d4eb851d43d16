//! Loglet semantics, the same for every loglet: `MemLoglet`, `LocalLoglet`, and `FaultyLoglet`
//! (failures, delays, reordering).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use zoolog::log::{
    FaultConfig, FaultyLoglet, LocalLoglet, LocalLogletOptions, LogError, Loglet, MemLoglet,
};

fn entry(i: u64) -> Bytes {
    Bytes::from(format!("entry-{i}"))
}

/// The common contract, run against any fresh loglet.
async fn semantics(l: Arc<dyn Loglet>) {
    assert_eq!(l.check_tail().await.unwrap(), (0, false));
    assert!(l.read(0, 10).await.unwrap().is_empty());

    for i in 0..100 {
        assert_eq!(l.append(entry(i)).await.unwrap(), i);
    }
    assert_eq!(l.check_tail().await.unwrap(), (100, false));

    let all = l.read(0, 100).await.unwrap();
    assert_eq!(all.len(), 100);
    for (i, (pos, b)) in all.iter().enumerate() {
        assert_eq!(*pos, i as u64);
        assert_eq!(*b, entry(i as u64));
    }
    // Sub-ranges, ranges past the tail, empty ranges.
    let mid = l.read(37, 42).await.unwrap();
    assert_eq!(
        mid.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![37, 38, 39, 40, 41]
    );
    assert_eq!(mid[0].1, entry(37));
    let past = l.read(95, 1000).await.unwrap();
    assert_eq!(past.len(), 5);
    assert!(l.read(100, 200).await.unwrap().is_empty());
    assert!(l.read(50, 50).await.unwrap().is_empty());
    assert!(l.read(60, 50).await.unwrap().is_empty());

    // Concurrent appends get unique, dense positions.
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..50u64 {
                let p = l.append(Bytes::from(format!("c-{t}-{i}"))).await.unwrap();
                got.push((p, format!("c-{t}-{i}")));
            }
            got
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let positions: HashSet<u64> = acked.iter().map(|a| a.0).collect();
    assert_eq!(positions.len(), 400);
    assert_eq!(*positions.iter().min().unwrap(), 100);
    assert_eq!(*positions.iter().max().unwrap(), 499);
    let read = l.read(100, 500).await.unwrap();
    for (pos, payload) in &acked {
        assert_eq!(read[(*pos - 100) as usize].1, Bytes::from(payload.clone()));
    }

    // Prefix trim: below the trim point is Trimmed; above still readable; never past the tail.
    l.prefix_trim(30).await.unwrap();
    match l.read(10, 40).await {
        Err(LogError::Trimmed {
            pos: 10,
            trim_point,
        }) => assert_eq!(trim_point, 30),
        other => panic!("expected Trimmed, got {other:?}"),
    }
    let after = l.read(30, 32).await.unwrap();
    assert_eq!(after[0], (30, entry(30)));
    l.prefix_trim(10).await.unwrap(); // going back is a no-op
    assert!(matches!(
        l.read(29, 31).await,
        Err(LogError::Trimmed { .. })
    ));
    assert_eq!(l.read(30, 31).await.unwrap().len(), 1);

    // Seal: idempotent, reported by check_tail, later appends fail, reads still work.
    l.seal().await.unwrap();
    l.seal().await.unwrap();
    assert_eq!(l.check_tail().await.unwrap(), (500, true));
    assert!(matches!(l.append(entry(0)).await, Err(LogError::Sealed)));
    assert!(matches!(l.append(entry(1)).await, Err(LogError::Sealed)));
    assert_eq!(l.check_tail().await.unwrap(), (500, true));
    assert_eq!(l.read(498, 600).await.unwrap().len(), 2);

    // Trim clamps at the tail.
    l.prefix_trim(10_000).await.unwrap();
    assert!(matches!(
        l.read(499, 500).await,
        Err(LogError::Trimmed { .. })
    ));
    assert!(l.read(500, 501).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mem_loglet_semantics() {
    semantics(Arc::new(MemLoglet::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_loglet_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let l = LocalLoglet::open(dir.path().join("l"), LocalLogletOptions::default())
        .await
        .unwrap();
    semantics(Arc::new(l)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_loglet_semantics_tiny_segments() {
    // Every few records a new segment file: the same contract across segment boundaries.
    let dir = tempfile::tempdir().unwrap();
    let opts = LocalLogletOptions {
        segment_bytes: 200,
        ..LocalLogletOptions::default()
    };
    let l = LocalLoglet::open(dir.path().join("l"), opts).await.unwrap();
    semantics(Arc::new(l)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seal_races_with_appends() {
    // Appends racing a seal either succeed below the sealed tail or fail with Sealed.
    for kind in ["mem", "local"] {
        let dir = tempfile::tempdir().unwrap();
        let l: Arc<dyn Loglet> = if kind == "mem" {
            Arc::new(MemLoglet::new())
        } else {
            Arc::new(
                LocalLoglet::open(dir.path().join("l"), LocalLogletOptions::default())
                    .await
                    .unwrap(),
            )
        };
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                for i in 0..200u64 {
                    match l.append(Bytes::from(format!("{t}-{i}"))).await {
                        Ok(p) => ok.push(p),
                        Err(LogError::Sealed) => break,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                ok
            }));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        l.seal().await.unwrap();
        let (tail, sealed) = l.check_tail().await.unwrap();
        assert!(sealed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        assert!(
            all.iter().all(|&p| p < tail),
            "{kind}: acked append past the sealed tail"
        );
        assert_eq!(
            all.len() as u64,
            tail,
            "{kind}: every position below the tail was acked"
        );
        assert_eq!(l.check_tail().await.unwrap(), (tail, true));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faulty_loglet_injects_failures_without_appending() {
    let inner: Arc<dyn Loglet> = Arc::new(MemLoglet::new());
    let cfg = FaultConfig {
        fail_probability: 0.3,
        ..FaultConfig::default()
    };
    let f = FaultyLoglet::new(inner.clone(), cfg.clone(), 42);
    let mut outcomes = Vec::new();
    for i in 0..200 {
        outcomes.push(f.append(entry(i)).await.ok());
    }
    let failures = outcomes.iter().filter(|o| o.is_none()).count() as u64;
    assert_eq!(f.stats().injected_failures, failures);
    assert!(failures > 20 && failures < 120, "{failures} failures");
    // Failed appends appended nothing: the successes are dense.
    let (tail, _) = inner.check_tail().await.unwrap();
    assert_eq!(tail, 200 - failures);
    let ok: Vec<u64> = outcomes.iter().flatten().copied().collect();
    assert_eq!(ok, (0..tail).collect::<Vec<_>>());

    // Same seed, same decisions.
    let g = FaultyLoglet::new(Arc::new(MemLoglet::new()), cfg, 42);
    let mut again = Vec::new();
    for i in 0..200 {
        again.push(g.append(entry(i)).await.ok());
    }
    assert_eq!(
        outcomes.iter().map(Option::is_some).collect::<Vec<_>>(),
        again.iter().map(Option::is_some).collect::<Vec<_>>()
    );

    f.set_config(FaultConfig::default());
    f.fail_next(2);
    assert!(matches!(f.append(entry(0)).await, Err(LogError::Injected)));
    assert!(matches!(f.append(entry(0)).await, Err(LogError::Injected)));
    assert_eq!(f.append(entry(0)).await.unwrap(), tail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faulty_loglet_reorders_concurrent_appends() {
    let inner: Arc<dyn Loglet> = Arc::new(MemLoglet::new());
    let f = Arc::new(FaultyLoglet::new(
        inner.clone(),
        FaultConfig {
            reorder_window: 8,
            reorder_wait: Duration::from_millis(200),
            ..FaultConfig::default()
        },
        7,
    ));
    // Eight appenders called in a known order (each waits until the previous one is held).
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let f = f.clone();
        tasks.push(tokio::spawn(
            async move { f.append(entry(i)).await.unwrap() },
        ));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut positions = Vec::new();
    for t in tasks {
        positions.push(t.await.unwrap());
    }
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..8).collect::<Vec<_>>(),
        "positions unique and dense"
    );
    assert_ne!(
        positions, sorted,
        "positions follow call order: nothing was reordered"
    );
    assert!(f.stats().reordered_groups >= 1);
    // The log holds each caller's entry at the position it was told.
    let read = inner.read(0, 8).await.unwrap();
    for (i, &p) in positions.iter().enumerate() {
        assert_eq!(read[p as usize].1, entry(i as u64));
    }

    // A partial window is released after reorder_wait.
    let t0 = std::time::Instant::now();
    assert_eq!(f.append(entry(99)).await.unwrap(), 8);
    assert!(t0.elapsed() >= Duration::from_millis(150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faulty_loglet_delays() {
    let f = FaultyLoglet::new(
        Arc::new(MemLoglet::new()),
        FaultConfig {
            delay: Some((Duration::from_millis(5), Duration::from_millis(10))),
            ..FaultConfig::default()
        },
        1,
    );
    let t0 = std::time::Instant::now();
    for i in 0..5 {
        assert_eq!(f.append(entry(i)).await.unwrap(), i);
    }
    assert!(t0.elapsed() >= Duration::from_millis(25));
    assert_eq!(f.stats().delayed, 5);
}

#[tokio::test]
async fn mem_loglet_zombie_hook_appends_after_seal() {
    let m = MemLoglet::new();
    m.append(entry(0)).await.unwrap();
    m.seal().await.unwrap();
    assert!(matches!(m.append(entry(1)).await, Err(LogError::Sealed)));
    assert_eq!(m.append_zombie(entry(1)), 1);
    // The tail of a sealed loglet may grow (Delos): a zombie.
    assert_eq!(m.check_tail().await.unwrap(), (2, true));
}
