//! Determinism of apply: a full stack over a `FaultyLoglet` that reorders, delays and fails
//! appends, with many concurrent proposers on many streams and an order-sensitive applicator,
//! and a passive replica (its own base engine and store, the same stack, no proposals) reading
//! the same log. Both stores must end byte-identical, and every stream must have been applied in
//! order, exactly once.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::*;
use tempfile::tempdir;
use zoolog::engine::{BatchingConfig, SessionOrderConfig, Stack, StackBuilder};
use zoolog::log::{FaultConfig, FaultyLoglet, MemLoglet};

const STREAMS: u64 = 16;
const PER_STREAM: u64 = 40;

fn faults() -> FaultConfig {
    FaultConfig {
        fail_probability: 0.1,
        delay: Some((Duration::ZERO, Duration::from_millis(2))),
        reorder_window: 3,
        reorder_wait: Duration::from_millis(5),
    }
}

fn batching() -> BatchingConfig {
    BatchingConfig {
        max_entries: 16,
        max_in_flight: 4,
        ..BatchingConfig::default()
    }
}

async fn check_replicas(active: Stack, passive: Stack, log: &FaultyLoglet) {
    let tail = settled_tail(log).await;
    let a = active.sync().await.unwrap();
    let p = passive.sync().await.unwrap();
    assert_eq!(a.cursor().unwrap(), tail);
    assert_eq!(p.cursor().unwrap(), tail);
    for snap in [&a, &p] {
        assert_lists_in_order(snap, STREAMS, PER_STREAM);
        let seen = read_seen(snap);
        assert_eq!(seen.len() as u64, STREAMS * PER_STREAM);
        assert!(seen.values().all(|&n| n == 1), "an entry was applied twice");
    }
    let (da, dp) = (a.dump().unwrap(), p.dump().unwrap());
    assert!(da == dp, "the replicas diverged");
    assert_eq!(a.digest().unwrap(), p.digest().unwrap());
    let stats = log.stats();
    assert!(
        stats.injected_failures > 0 && stats.reordered_groups > 0,
        "{stats:?}"
    );
    let so = active.session_order().unwrap().stats();
    eprintln!("faults {stats:?}; session order {so:?}; log entries {tail}");
    assert!(
        so.breaks > 0 && so.resends > 0,
        "the faults never broke a stream: {so:?}"
    );
    drop((a, p));
    active.shutdown().await.unwrap();
    passive.shutdown().await.unwrap();
}

async fn run(seed: u64, layers: fn(StackBuilder) -> StackBuilder) {
    init_tracing();
    let mem = Arc::new(MemLoglet::new());
    let log = Arc::new(FaultyLoglet::new(mem, faults(), seed));
    let (d1, d2) = (tempdir().unwrap(), tempdir().unwrap());
    let active = layers(StackBuilder::new(log.clone(), open_store(d1.path())))
        .build(TestApp::new())
        .unwrap();
    let passive = layers(StackBuilder::new(log.clone(), open_store(d2.path())))
        .build(TestApp::new())
        .unwrap();
    let counters = drive_streams(active.top().clone(), STREAMS, PER_STREAM, 8).await;
    assert_eq!(
        counters,
        (1..=STREAMS * PER_STREAM).collect::<Vec<_>>(),
        "each proposal applied exactly once, each with its own result"
    );
    check_replicas(active, passive, &log).await;
}

/// The stack of the brief: Observer/Batching/SessionOrder/Base. Batches form the origin's
/// default stream; the per-stream order follows from the batches' order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_over_session_order_replicas_stay_identical() {
    run(0x5eed_0001, |b| {
        b.observer("top")
            .batching(batching())
            .observer("batching/session")
            .session_order(SessionOrderConfig::default())
    })
    .await;
}

/// The other order: each proposal is stamped with its own stream, then batched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_order_over_batching_replicas_stay_identical() {
    run(0x5eed_0002, |b| {
        b.observer("top")
            .session_order(SessionOrderConfig::default())
            .batching(batching())
    })
    .await;
}
