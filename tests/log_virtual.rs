//! `VirtualLog`: reconfiguration under concurrent appends, zombie invisibility, racing
//! reconfigurations, trimming, sealing, and reopening from a durable MetaStore.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use zoolog::log::{
    FaultConfig, FaultyLoglet, LocalLogletOptions, LocalMetaStore, LogError, Loglet, LogletConfig,
    LogletRegistry, MemLoglet, MemMetaStore, MetaStore, MetaVersion, Pos, VirtualLog,
    VirtualLogOptions,
};

fn registry() -> Arc<LogletRegistry> {
    Arc::new(LogletRegistry::new(LocalLogletOptions {
        segment_bytes: 64 << 10,
        ..LocalLogletOptions::default()
    }))
}

async fn vlog(
    meta: Arc<dyn MetaStore>,
    reg: Arc<LogletRegistry>,
    boot: LogletConfig,
) -> VirtualLog {
    VirtualLog::open(meta, reg, boot, VirtualLogOptions::default())
        .await
        .unwrap()
}

/// Keeps appenders from running far ahead of the reconfigurations (on a loaded machine the
/// reconfiguring task may be scheduled late): at most `per_step × (done + 1)` acknowledged
/// appends until `steps` reconfigurations are done.
struct Gate {
    done: AtomicU64,
    steps: u64,
    per_step: u64,
}

impl Gate {
    async fn pass(&self, acked: &AtomicU64) {
        loop {
            let done = self.done.load(Ordering::Acquire);
            if done >= self.steps || acked.load(Ordering::Relaxed) < self.per_step * (done + 1) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Appends from `tasks` tasks × `per_task`; returns every `(task, seq, pos)`.
async fn appenders(
    log: Arc<VirtualLog>,
    tasks: u64,
    per_task: u64,
    acked: Arc<AtomicU64>,
) -> Vec<(u64, u64, Pos)> {
    gated_appenders(log, tasks, per_task, acked, None).await
}

async fn gated_appenders(
    log: Arc<VirtualLog>,
    tasks: u64,
    per_task: u64,
    acked: Arc<AtomicU64>,
    gate: Option<Arc<Gate>>,
) -> Vec<(u64, u64, Pos)> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let log = log.clone();
        let acked = acked.clone();
        let gate = gate.clone();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..per_task {
                if let Some(g) = &gate {
                    g.pass(&acked).await;
                }
                let pos = log.append(payload(t, i)).await.unwrap();
                acked.fetch_add(1, Ordering::Relaxed);
                out.push((t, i, pos));
                // A MemLoglet append never suspends: let the reconfiguring task run.
                tokio::task::yield_now().await;
            }
            out
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

fn payload(t: u64, i: u64) -> Bytes {
    Bytes::from(format!("task{t}-seq{i}"))
}

/// Every acknowledged entry exactly once at its position; positions unique, dense and
/// increasing per task; reads across every segment boundary agree.
async fn verify(log: &VirtualLog, acked: &[(u64, u64, Pos)]) {
    let n = acked.len() as u64;
    let positions: HashSet<Pos> = acked.iter().map(|a| a.2).collect();
    assert_eq!(
        positions.len() as u64,
        n,
        "a position was acknowledged twice"
    );
    let (tail, sealed) = log.check_tail().await.unwrap();
    assert!(!sealed);
    assert_eq!(tail, n, "the log holds exactly the acknowledged entries");
    let all = log.read(0, tail).await.unwrap();
    assert_eq!(all.len() as u64, n);
    for (k, (pos, _)) in all.iter().enumerate() {
        assert_eq!(*pos, k as u64);
    }
    for &(t, i, pos) in acked {
        assert_eq!(all[pos as usize].1, payload(t, i), "entry at {pos}");
    }
    let mut by_task: Vec<Vec<(u64, Pos)>> = Vec::new();
    for &(t, i, pos) in acked {
        if by_task.len() <= t as usize {
            by_task.resize(t as usize + 1, Vec::new());
        }
        by_task[t as usize].push((i, pos));
    }
    for mut v in by_task {
        v.sort_unstable();
        assert!(
            v.windows(2).all(|w| w[0].1 < w[1].1),
            "a task's positions went backwards"
        );
    }
    let payloads: HashSet<&Bytes> = all.iter().map(|e| &e.1).collect();
    assert_eq!(payloads.len() as u64, n, "a payload appears twice");
    // Small reads straddling each segment boundary.
    let (_, chain) = log.chain();
    for s in chain.segments.iter().skip(1) {
        let from = s.start.saturating_sub(3);
        let to = (s.start + 3).min(tail);
        let got = log.read(from, to).await.unwrap();
        assert_eq!(got, all[from as usize..to as usize].to_vec());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconfiguration_under_concurrent_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> = Arc::new(LocalMetaStore::open(tmp.path().join("meta")).unwrap());
    let reg = registry();
    let log = Arc::new(vlog(meta, reg, LogletConfig::mem("m0")).await);
    let acked = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Gate {
        done: AtomicU64::new(0),
        steps: 4,
        per_step: 1600,
    });
    let work = tokio::spawn(gated_appenders(
        log.clone(),
        16,
        500,
        acked.clone(),
        Some(gate.clone()),
    ));

    let targets = [
        LogletConfig::local(tmp.path().join("l1")),
        LogletConfig::local(tmp.path().join("l2")),
        LogletConfig::mem("m1"),
        LogletConfig::local(tmp.path().join("l3")),
    ];
    let mut starts = Vec::new();
    let mut last = 0;
    for (k, cfg) in targets.iter().enumerate() {
        // Midway through the run, and at least 300 acknowledged appends after the previous one.
        let threshold = (1200 * (k as u64 + 1)).max(last + 300);
        while acked.load(Ordering::Relaxed) < threshold {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        starts.push(log.reconfig_extend(cfg.clone()).await.unwrap());
        last = acked.load(Ordering::Relaxed);
        gate.done.fetch_add(1, Ordering::Release);
    }
    let all = work.await.unwrap();
    assert_eq!(all.len(), 8000);
    assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        starts[0] > 0 && *starts.last().unwrap() < 8000,
        "{starts:?}"
    );
    let (_, chain) = log.chain();
    assert_eq!(chain.segments.len(), 5);
    assert_eq!(
        chain
            .segments
            .iter()
            .skip(1)
            .map(|s| s.start)
            .collect::<Vec<_>>(),
        starts
    );
    // Each segment really holds entries (appends moved on after every reconfiguration).
    for (start, _, loglet) in log.segment_loglets() {
        let (t, _) = loglet.check_tail().await.unwrap();
        assert!(t > 0, "segment at {start} is empty: starts {starts:?}");
    }
    verify(&log, &all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zombie_appends_are_invisible() {
    let meta: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    let reg = registry();
    let a = Arc::new(MemLoglet::new());
    reg.install(LogletConfig::mem("a"), a.clone());
    let log = vlog(meta.clone(), reg.clone(), LogletConfig::mem("a")).await;
    // A second client of the same log, whose chain will be stale.
    let stale = vlog(meta.clone(), reg.clone(), LogletConfig::mem("a")).await;
    for i in 0..10 {
        assert_eq!(log.append(payload(0, i)).await.unwrap(), i);
    }
    assert_eq!(
        log.reconfig_extend(LogletConfig::mem("b")).await.unwrap(),
        10
    );
    // An append that was in flight during the seal becomes durable in `a` afterwards.
    assert_eq!(a.append_zombie(Bytes::from_static(b"zombie")), 10);
    assert_eq!(a.append_zombie(Bytes::from_static(b"zombie")), 11);
    for i in 10..15 {
        assert_eq!(log.append(payload(0, i)).await.unwrap(), i);
    }
    let check = |entries: Vec<(Pos, Bytes)>| {
        assert_eq!(entries.len(), 15);
        for (k, (pos, b)) in entries.into_iter().enumerate() {
            assert_eq!(pos, k as u64);
            assert_eq!(b, payload(0, k as u64));
        }
    };
    check(log.read(0, 100).await.unwrap());
    assert_eq!(log.read(10, 11).await.unwrap()[0].1, payload(0, 10));
    // The stale client learns the new chain as soon as it touches the sealed segment.
    check(stale.read(0, 100).await.unwrap());
    assert_eq!(stale.check_tail().await.unwrap(), (15, false));
    assert_eq!(stale.append(payload(0, 15)).await.unwrap(), 15);
    assert_eq!(log.read(15, 16).await.unwrap()[0].1, payload(0, 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delayed_appends_landing_after_the_seal_move_to_the_new_segment() {
    let meta: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    let reg = registry();
    let inner = Arc::new(MemLoglet::new());
    let faulty = Arc::new(FaultyLoglet::new(
        inner.clone(),
        FaultConfig {
            delay: Some((Duration::from_millis(1), Duration::from_millis(30))),
            reorder_window: 4,
            reorder_wait: Duration::from_millis(5),
            ..FaultConfig::default()
        },
        2024,
    ));
    reg.install(LogletConfig::new("faulty", "f0"), faulty.clone());
    let log = Arc::new(vlog(meta, reg, LogletConfig::new("faulty", "f0")).await);
    let acked = Arc::new(AtomicU64::new(0));
    let work = tokio::spawn(appenders(log.clone(), 16, 40, acked.clone()));
    while acked.load(Ordering::Relaxed) < 100 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Many appends are sleeping inside the faulty loglet now; they reach `inner` after its seal.
    let start = log
        .reconfig_extend(LogletConfig::mem("next"))
        .await
        .unwrap();
    let all = work.await.unwrap();
    assert_eq!(all.len(), 640);
    let (inner_tail, sealed) = inner.check_tail().await.unwrap();
    assert!(sealed);
    assert_eq!(
        inner_tail, start,
        "nothing landed in the sealed loglet past its end"
    );
    assert!(faulty.stats().delayed > 0);
    assert!(
        all.iter().filter(|a| a.2 >= start).count() > 0,
        "appends moved to the new segment"
    );
    verify(&log, &all).await;
}

/// A MetaStore whose writes are slow, so that reconfigurations really race.
struct SlowWrites(MemMetaStore);

#[async_trait]
impl MetaStore for SlowWrites {
    async fn read(&self) -> zoolog::log::Result<(MetaVersion, Option<Bytes>)> {
        self.0.read().await
    }
    async fn write(&self, expected: MetaVersion, value: Bytes) -> zoolog::log::Result<MetaVersion> {
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.0.write(expected, value).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reconfigurations_have_one_winner() {
    let meta: Arc<dyn MetaStore> = Arc::new(SlowWrites(MemMetaStore::new()));
    let reg = registry();
    let logs: Vec<Arc<VirtualLog>> = vec![
        Arc::new(vlog(meta.clone(), reg.clone(), LogletConfig::mem("base")).await),
        Arc::new(vlog(meta.clone(), reg.clone(), LogletConfig::mem("base")).await),
        Arc::new(vlog(meta.clone(), reg.clone(), LogletConfig::mem("base")).await),
    ];
    for i in 0..5 {
        logs[0].append(payload(100, i)).await.unwrap();
    }
    let acked = Arc::new(AtomicU64::new(0));
    let work = tokio::spawn(appenders(logs[1].clone(), 4, 50, acked.clone()));
    let mut racers = Vec::new();
    for (k, log) in logs.iter().enumerate() {
        let log = log.clone();
        racers.push(tokio::spawn(async move {
            log.reconfig_extend(LogletConfig::mem(&format!("racer{k}")))
                .await
        }));
    }
    let mut wins = 0;
    let mut conflicts = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => wins += 1,
            Err(LogError::ReconfigConflict { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 2));
    // Losers reloaded: everyone sees the same chain with exactly one new segment.
    let (v0, c0) = logs[0].chain();
    assert_eq!(c0.segments.len(), 2);
    for log in &logs[1..] {
        assert_eq!(log.chain(), (v0, c0.clone()));
    }
    let mut all = work.await.unwrap();
    all.extend((0..5).map(|i| (100, i, i)));
    verify(&logs[2], &all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconfiguration_needs_a_fresh_loglet() {
    let meta: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    let reg = registry();
    let log = vlog(meta, reg.clone(), LogletConfig::mem("a")).await;
    log.append(payload(0, 0)).await.unwrap();
    let used = Arc::new(MemLoglet::new());
    used.append(Bytes::from_static(b"x")).await.unwrap();
    reg.install(LogletConfig::mem("used"), used);
    assert!(matches!(
        log.reconfig_extend(LogletConfig::mem("used")).await,
        Err(LogError::InvalidConfig(_))
    ));
    assert!(matches!(
        log.reconfig_extend(LogletConfig::new("nosuchkind", ""))
            .await,
        Err(LogError::InvalidConfig(_))
    ));
    // The old segment was sealed by the failed attempts; a good reconfiguration still works,
    // and the sealed-active log keeps accepting appends once it is extended.
    assert_eq!(
        log.reconfig_extend(LogletConfig::mem("b")).await.unwrap(),
        1
    );
    assert_eq!(log.append(payload(0, 1)).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn append_waits_for_a_successor_then_gives_up() {
    let meta: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    let reg = registry();
    let opts = VirtualLogOptions {
        successor_wait: Duration::from_millis(300),
        ..VirtualLogOptions::default()
    };
    let log = Arc::new(
        VirtualLog::open(meta, reg.clone(), LogletConfig::mem("a"), opts)
            .await
            .unwrap(),
    );
    log.append(payload(0, 0)).await.unwrap();
    // Someone sealed the active loglet and has not extended the chain (yet).
    reg.get(&LogletConfig::mem("a"))
        .unwrap()
        .seal()
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(matches!(
        log.append(payload(0, 1)).await,
        Err(LogError::NoSuccessor { start: 0, .. })
    ));
    assert!(t0.elapsed() >= Duration::from_millis(250));
    // A waiting append goes through once the chain is extended.
    let waiting = {
        let log = log.clone();
        tokio::spawn(async move { log.append(payload(0, 1)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        log.reconfig_extend(LogletConfig::mem("b")).await.unwrap(),
        1
    );
    assert_eq!(waiting.await.unwrap().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prefix_trim_drops_obsolete_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    let reg = registry();
    let log = vlog(meta, reg.clone(), LogletConfig::mem("a")).await;
    let mut expect = Vec::new();
    for (k, cfg) in [
        LogletConfig::local(tmp.path().join("b")),
        LogletConfig::local(tmp.path().join("c")),
    ]
    .into_iter()
    .enumerate()
    {
        for i in 0..100 {
            expect.push(payload(k as u64, i));
            log.append(payload(k as u64, i)).await.unwrap();
        }
        log.reconfig_extend(cfg).await.unwrap();
    }
    for i in 0..50 {
        expect.push(payload(2, i));
        log.append(payload(2, i)).await.unwrap();
    }
    assert_eq!(log.chain().1.segments.len(), 3);

    log.prefix_trim(150).await.unwrap();
    let (_, chain) = log.chain();
    assert_eq!(chain.trim_point, 150);
    assert_eq!(
        chain.segments.iter().map(|s| s.start).collect::<Vec<_>>(),
        vec![100, 200]
    );
    assert!(matches!(
        log.read(149, 160).await,
        Err(LogError::Trimmed {
            pos: 149,
            trim_point: 150
        })
    ));
    let got = log.read(150, 250).await.unwrap();
    assert_eq!(got.len(), 100);
    assert_eq!(got[0], (150, expect[150].clone()));
    // The dropped segment's loglet was trimmed entirely, the kept one up to the trim point.
    let a = reg.get(&LogletConfig::mem("a")).unwrap();
    assert!(matches!(
        a.read(99, 100).await,
        Err(LogError::Trimmed { .. })
    ));
    let b = reg.get(&LogletConfig::local(tmp.path().join("b"))).unwrap();
    assert!(matches!(
        b.read(49, 50).await,
        Err(LogError::Trimmed { .. })
    ));
    assert_eq!(b.read(50, 51).await.unwrap().len(), 1);

    log.prefix_trim(220).await.unwrap();
    let (_, chain) = log.chain();
    assert_eq!(chain.segments.len(), 1);
    assert_eq!(chain.segments[0].start, 200);
    assert_eq!(log.read(220, 250).await.unwrap().len(), 30);
    // Trimming past the tail clamps to it; appends continue.
    log.prefix_trim(1_000).await.unwrap();
    assert_eq!(log.chain().1.trim_point, 250);
    assert_eq!(log.append(payload(9, 9)).await.unwrap(), 250);
    assert_eq!(log.read(250, 251).await.unwrap()[0].1, payload(9, 9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sealing_the_virtual_log() {
    let meta: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    let log = vlog(meta, registry(), LogletConfig::mem("a")).await;
    for i in 0..3 {
        log.append(payload(0, i)).await.unwrap();
    }
    log.reconfig_extend(LogletConfig::mem("b")).await.unwrap();
    log.append(payload(0, 3)).await.unwrap();
    log.seal().await.unwrap();
    log.seal().await.unwrap();
    assert_eq!(log.check_tail().await.unwrap(), (4, true));
    assert!(matches!(
        log.append(payload(0, 4)).await,
        Err(LogError::Sealed)
    ));
    assert!(matches!(
        log.reconfig_extend(LogletConfig::mem("c")).await,
        Err(LogError::Sealed)
    ));
    assert_eq!(log.read(0, 100).await.unwrap().len(), 4);
}

async fn local_log(root: &Path, reg: Arc<LogletRegistry>) -> VirtualLog {
    let meta: Arc<dyn MetaStore> = Arc::new(LocalMetaStore::open(root.join("meta")).unwrap());
    VirtualLog::open(
        meta,
        reg,
        LogletConfig::local(root.join("seg0")),
        VirtualLogOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chain_and_its_loglets_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let log = local_log(tmp.path(), registry()).await;
        for i in 0..100 {
            log.append(payload(0, i)).await.unwrap();
        }
        assert_eq!(
            log.reconfig_extend(LogletConfig::local(tmp.path().join("seg1")))
                .await
                .unwrap(),
            100
        );
        for i in 100..150 {
            log.append(payload(0, i)).await.unwrap();
        }
        log.prefix_trim(20).await.unwrap();
    } // the registry, and with it every local loglet, is dropped here
    let meta: Arc<dyn MetaStore> = Arc::new(LocalMetaStore::open(tmp.path().join("meta")).unwrap());
    let log = VirtualLog::open_existing(meta, registry(), VirtualLogOptions::default())
        .await
        .unwrap();
    assert_eq!(log.check_tail().await.unwrap(), (150, false));
    let (_, chain) = log.chain();
    assert_eq!(chain.segments.len(), 2);
    assert_eq!(chain.trim_point, 20);
    let got = log.read(20, 150).await.unwrap();
    assert_eq!(got.len(), 130);
    for (pos, b) in got {
        assert_eq!(b, payload(0, pos));
    }
    assert!(matches!(
        log.read(0, 10).await,
        Err(LogError::Trimmed { .. })
    ));
    assert_eq!(log.append(payload(0, 150)).await.unwrap(), 150);

    let empty: Arc<dyn MetaStore> = Arc::new(MemMetaStore::new());
    assert!(matches!(
        VirtualLog::open_existing(empty, registry(), VirtualLogOptions::default()).await,
        Err(LogError::NoChain)
    ));
}

/// A tail watcher registered on the virtual log hears every durable tail in global positions,
/// also from the segment a reconfiguration adds later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_watchers_hear_durable_tails_across_reconfigurations() {
    let tmp = tempfile::tempdir().unwrap();
    let log = local_log(tmp.path(), registry()).await;
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    log.watch_tail(Arc::new(move |tail| {
        s.fetch_max(tail, Ordering::SeqCst);
    }));
    for i in 0..10 {
        log.append(payload(0, i)).await.unwrap();
    }
    assert_eq!(seen.load(Ordering::SeqCst), 10);
    log.reconfig_extend(LogletConfig::local(tmp.path().join("seg1")))
        .await
        .unwrap();
    for i in 10..15 {
        assert_eq!(log.append(payload(0, i)).await.unwrap(), i);
    }
    assert_eq!(seen.load(Ordering::SeqCst), 15);
}
