//! Session order over a log that reorders, delays and fails appends: each stream's entries are
//! applied in sequence order exactly once (the per-stream list in the store is `0..n`), and every
//! proposer gets its own result — through speculative sends, filtering at apply and pessimistic
//! resends.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::*;
use futures::future::join_all;
use tempfile::tempdir;
use zoolog::engine::session::with_stream;
use zoolog::engine::{Entry, SessionOrderConfig, StackBuilder};
use zoolog::log::{FaultConfig, FaultyLoglet, MemLoglet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_apply_in_order_exactly_once_despite_reorders_and_failures() {
    init_tracing();
    const STREAMS: u64 = 24;
    const PER_STREAM: u64 = 50;
    let log = Arc::new(FaultyLoglet::new(
        Arc::new(MemLoglet::new()),
        FaultConfig {
            fail_probability: 0.1,
            delay: Some((Duration::ZERO, Duration::from_millis(3))),
            reorder_window: 4,
            reorder_wait: Duration::from_millis(5),
        },
        42,
    ));
    let dir = tempdir().unwrap();
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .observer("top")
        .session_order(SessionOrderConfig::default())
        .build(TestApp::new())
        .unwrap();
    let counters = drive_streams(stack.top().clone(), STREAMS, PER_STREAM, 10).await;
    assert_eq!(counters, (1..=STREAMS * PER_STREAM).collect::<Vec<_>>());

    settled_tail(&*log).await;
    let snap = stack.sync().await.unwrap();
    assert_lists_in_order(&snap, STREAMS, PER_STREAM);
    assert!(read_seen(&snap).values().all(|&n| n == 1));
    let so = stack.session_order().unwrap().stats();
    let faults = log.stats();
    assert!(
        faults.injected_failures > 0 && faults.reordered_groups > 0,
        "{faults:?}"
    );
    assert!(
        so.filtered_gap > 0,
        "reorders must have filtered entries: {so:?}"
    );
    assert!(so.breaks > 0 && so.resends > 0, "{so:?}");
    drop(snap);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failed_appends_is_resent_in_order() {
    init_tracing();
    let log = Arc::new(FaultyLoglet::new(
        Arc::new(MemLoglet::new()),
        FaultConfig::default(),
        7,
    ));
    let dir = tempdir().unwrap();
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .session_order(SessionOrderConfig::default())
        .build(TestApp::new())
        .unwrap();
    // The first 5 appends fail; the 20 proposals of the stream are all in flight at once.
    log.fail_next(5);
    let futs: Vec<_> = (0..20)
        .map(|i| stack.propose(with_stream(Entry::new(payload(1, i)), 1)))
        .collect();
    for (i, r) in join_all(futs).await.into_iter().enumerate() {
        assert_eq!(decode_result(&r.unwrap()).2, i as u64);
    }
    let snap = stack.sync().await.unwrap();
    assert_eq!(read_list(&snap, 1), (0..20).collect::<Vec<_>>());
    let so = stack.session_order().unwrap().stats();
    assert!(so.breaks >= 1 && so.resends >= 5, "{so:?}");
    drop(snap);
    stack.shutdown().await.unwrap();
}
