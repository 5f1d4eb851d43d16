//! The admin path to reconfigure a running node: the stack Observer/Batching/SessionOrder/Base
//! runs on a VirtualLog over a LocalLoglet; while proposers keep many writes in flight, the log is
//! switched twice to fresh LocalLoglets (`Stack::reconfigure`). Nothing may be lost or
//! duplicated; the state equals a fresh replay of the whole (three-segment) log, also after the
//! virtual log is reopened from its MetaStore.

mod engine_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use engine_support::*;
use tempfile::tempdir;
use zoolog::engine::{BatchingConfig, EngineError, SessionOrderConfig, StackBuilder};
use zoolog::log::{
    LocalMetaStore, LogletConfig, LogletRegistry, MemLoglet, VirtualLog, VirtualLogOptions,
};

const STREAMS: u64 = 8;
const PER_STREAM: u64 = 300;

fn layers(b: StackBuilder) -> StackBuilder {
    b.observer("top")
        .batching(BatchingConfig {
            max_entries: 8,
            max_in_flight: 2,
            ..BatchingConfig::default()
        })
        .session_order(SessionOrderConfig::default())
}

async fn wait_applied(stack: &zoolog::engine::Stack, at_least: u64) {
    let mut applied = stack.base().applied();
    tokio::time::timeout(
        Duration::from_secs(60),
        applied.wait_for(|&c| c >= at_least),
    )
    .await
    .unwrap()
    .unwrap();
}

async fn open_vlog(dir: &Path) -> Arc<VirtualLog> {
    let meta = Arc::new(LocalMetaStore::open(dir.join("meta")).unwrap());
    Arc::new(
        VirtualLog::open(
            meta,
            Arc::new(LogletRegistry::default()),
            LogletConfig::local(dir.join("a")),
            VirtualLogOptions::default(),
        )
        .await
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfigure_a_running_node_with_writes_in_flight() {
    init_tracing();
    let dir = tempdir().unwrap();
    let vlog = open_vlog(dir.path()).await;
    let stack = layers(StackBuilder::on_virtual_log(
        vlog.clone(),
        open_store(&dir.path().join("store")),
    ))
    .build(TestApp::new())
    .unwrap();
    let driver = tokio::spawn(drive_streams(stack.top().clone(), STREAMS, PER_STREAM, 8));

    wait_applied(&stack, 30).await;
    let in_flight = stack.base().stats().pending;
    let start_b = stack
        .reconfigure(LogletConfig::local(dir.path().join("b")))
        .await
        .unwrap();
    assert!(!driver.is_finished(), "the writes must still be running");
    wait_applied(&stack, start_b + 30).await;
    let start_c = stack
        .reconfigure(LogletConfig::local(dir.path().join("c")))
        .await
        .unwrap();
    assert!(!driver.is_finished(), "the writes must still be running");
    eprintln!("reconfigured at {start_b} ({in_flight} proposals in flight) and {start_c}");

    let counters = driver.await.unwrap();
    assert_eq!(
        counters,
        (1..=STREAMS * PER_STREAM).collect::<Vec<_>>(),
        "every write applied exactly once, each proposer with its own result"
    );
    let (_, chain) = vlog.chain();
    let starts: Vec<u64> = chain.segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![0, start_b, start_c]);
    assert!(0 < start_b && start_b < start_c);

    let snap = stack.sync().await.unwrap();
    let tail = snap.cursor().unwrap();
    assert!(tail > start_c, "writes continued on the newest loglet");
    assert_lists_in_order(&snap, STREAMS, PER_STREAM);
    assert!(read_seen(&snap).values().all(|&n| n == 1));
    let digest = snap.digest().unwrap();

    // A fresh replay of the whole log reaches the same state.
    let fresh_dir = tempdir().unwrap();
    let fresh = layers(StackBuilder::new(
        vlog.clone(),
        open_store(fresh_dir.path()),
    ))
    .build(TestApp::new())
    .unwrap();
    let fresh_snap = fresh.sync().await.unwrap();
    assert_eq!(fresh_snap.cursor().unwrap(), tail);
    assert_eq!(fresh_snap.digest().unwrap(), digest);
    drop((snap, fresh_snap));
    fresh.shutdown().await.unwrap();
    stack.shutdown().await.unwrap();
    drop(vlog);

    // Reopened from the MetaStore (new registry: the loglet directories are opened again).
    let meta = Arc::new(LocalMetaStore::open(dir.path().join("meta")).unwrap());
    let vlog = Arc::new(
        VirtualLog::open_existing(
            meta,
            Arc::new(LogletRegistry::default()),
            VirtualLogOptions::default(),
        )
        .await
        .unwrap(),
    );
    let again_dir = tempdir().unwrap();
    let again = layers(StackBuilder::new(vlog, open_store(again_dir.path())))
        .build(TestApp::new())
        .unwrap();
    let again_snap = again.sync().await.unwrap();
    assert_eq!(again_snap.digest().unwrap(), digest);
    drop(again_snap);
    again.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_without_a_virtual_log_cannot_be_reconfigured() {
    let dir = tempdir().unwrap();
    let stack = StackBuilder::new(Arc::new(MemLoglet::new()), open_store(dir.path()))
        .build(TestApp::new())
        .unwrap();
    assert!(matches!(
        stack.reconfigure(LogletConfig::mem("x")).await,
        Err(EngineError::NotReconfigurable)
    ));
    stack.shutdown().await.unwrap();
}
