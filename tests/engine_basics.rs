//! Engine stack basics on real RocksDB stores in temp dirs: proposals and results, restart and
//! replay from the stored cursor, sync (one outstanding check_tail for many callers), trimming
//! only below the durable cursor, batching fan-out, observers, pass-through of entries without
//! engine headers, and the loud stop on a non-deterministic apply failure.

mod engine_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use engine_support::*;
use futures::future::join_all;
use tempfile::tempdir;
use zoolog::engine::session::with_stream;
use zoolog::engine::{
    Applicator, ApplyError, BaseOptions, BatchingConfig, Engine, EngineError, Entry, Pos,
    SessionOrderConfig, StackBuilder,
};
use zoolog::log::{LogError, Loglet, MemLoglet};
use zoolog::store::RwTxn;

fn mem_log() -> Arc<MemLoglet> {
    Arc::new(MemLoglet::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_results_and_replay_from_cursor_after_restart() {
    init_tracing();
    let dir = tempdir().unwrap();
    let log = mem_log();
    let app = TestApp::new();
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .build(app.clone())
        .unwrap();
    assert_eq!(stack.describe(), "Base");
    let futs: Vec<_> = (0..50)
        .map(|i| stack.propose(Entry::new(payload(1, i))))
        .collect();
    let mut counters: Vec<u64> = join_all(futs)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let (c, s, idx) = decode_result(&r.unwrap());
            assert_eq!((s, idx), (1, i as u64), "a proposer got another's result");
            c
        })
        .collect();
    counters.sort_unstable();
    assert_eq!(counters, (1..=50).collect::<Vec<_>>());
    assert_eq!(app.post_applies.load(Ordering::Relaxed), 50);
    assert_eq!(stack.base().applied_cursor(), 50);
    stack.shutdown().await.unwrap();

    // While the node is down, others append to the shared log.
    for i in 50..60 {
        log.append(Entry::new(payload(1, i)).encode())
            .await
            .unwrap();
    }
    let store = open_store(dir.path());
    assert_eq!(
        store.applied_cursor(),
        50,
        "the cursor was stored with the state"
    );
    let app = TestApp::new();
    let stack = StackBuilder::new(log.clone(), store)
        .build(app.clone())
        .unwrap();
    let snap = stack.sync().await.unwrap();
    assert_eq!(snap.cursor().unwrap(), 60);
    // Replay started at the cursor: only the 10 new entries were applied again.
    assert_eq!(app.post_applies.load(Ordering::Relaxed), 10);
    assert_eq!(read_list(&snap, 1), (0..60).collect::<Vec<_>>());
    assert_eq!(read_counter(&snap), 60);
    stack.shutdown().await.unwrap();
}

/// A loglet whose `check_tail` takes a while (as a replicated loglet's round trip would).
struct SlowTail(Arc<MemLoglet>);

#[async_trait::async_trait]
impl Loglet for SlowTail {
    async fn append(&self, payload: Bytes) -> Result<Pos, LogError> {
        self.0.append(payload).await
    }
    async fn check_tail(&self) -> Result<(Pos, bool), LogError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.0.check_tail().await
    }
    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>, LogError> {
        self.0.read(from, to).await
    }
    async fn seal(&self) -> Result<(), LogError> {
        self.0.seal().await
    }
    async fn prefix_trim(&self, pos: Pos) -> Result<(), LogError> {
        self.0.prefix_trim(pos).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_is_linearizable_and_shares_one_check_tail() {
    init_tracing();
    let dir = tempdir().unwrap();
    let log = mem_log();
    let slow = Arc::new(SlowTail(log.clone()));
    let stack = StackBuilder::new(slow, open_store(dir.path()))
        .base_options(BaseOptions {
            // Make the idle poll slow, so that only sync can find foreign entries quickly.
            tail_poll_interval: Duration::from_secs(30),
            ..BaseOptions::default()
        })
        .build(TestApp::new())
        .unwrap();
    for round in 0..5u64 {
        // Appended by "another replica", straight to the log.
        log.append(Entry::new(payload(9, round)).encode())
            .await
            .unwrap();
        let (tail, _) = log.check_tail().await.unwrap();
        let syncs: Vec<_> = (0..100).map(|_| stack.sync()).collect();
        for snap in join_all(syncs).await {
            let snap = snap.unwrap();
            assert!(snap.cursor().unwrap() >= tail);
            assert_eq!(read_list(&snap, 9).len() as u64, round + 1);
        }
    }
    let stats = stack.base().stats();
    assert_eq!(stats.sync_calls, 500);
    assert!(
        stats.sync_tail_checks <= 5 * 3,
        "500 syncs in 5 rounds should share a few check_tails, made {}",
        stats.sync_tail_checks
    );
    stack.shutdown().await.unwrap();
}

/// Blocks apply of entries whose payload is "gate" until opened.
struct GatedApp {
    inner: Arc<TestApp>,
    open: AtomicBool,
}

impl Applicator for GatedApp {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        if entry.payload().as_ref() == b"gate" {
            while !self.open.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.inner.apply(txn, entry, pos)
    }

    fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes) {
        self.inner.post_apply(entry, pos, result);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trim_only_below_the_durable_cursor() {
    init_tracing();
    let dir = tempdir().unwrap();
    let log = mem_log();
    let app = Arc::new(GatedApp {
        inner: TestApp::new(),
        open: AtomicBool::new(false),
    });
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .base_options(BaseOptions {
            flush_interval: Duration::from_secs(3600),
            flush_every: u64::MAX,
            ..BaseOptions::default()
        })
        .build(app.clone())
        .unwrap();
    let first: Vec<_> = (0..20)
        .map(|i| stack.propose(Entry::new(payload(0, i))))
        .collect();
    for r in join_all(first).await {
        r.unwrap();
    }
    // Entry 20 blocks in apply; 21..30 queue behind it.
    let gate = stack.propose(Entry::new(Bytes::from_static(b"gate")));
    let rest: Vec<_> = (21..30)
        .map(|i| stack.propose(Entry::new(payload(0, i))))
        .collect();
    while log.check_tail().await.unwrap().0 < 30 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stack.top().set_trim_prefix(1_000);
    let mut durable = stack.base().durable();
    tokio::time::timeout(Duration::from_secs(10), durable.wait_for(|&d| d >= 20))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        stack.base().stats().trimmed_to,
        20,
        "trimmed to the durable cursor only"
    );
    match log.read(19, 20).await {
        Err(LogError::Trimmed { trim_point, .. }) => assert_eq!(trim_point, 20),
        other => panic!("expected a trim below 20, got {other:?}"),
    }
    assert_eq!(
        log.read(20, 30).await.unwrap().len(),
        10,
        "unapplied entries stay"
    );
    app.open.store(true, Ordering::Release);
    gate.await.unwrap();
    for r in join_all(rest).await {
        r.unwrap();
    }
    // The request (1000) still stands: once everything is applied and flushed, the log is
    // trimmed up to the durable cursor, and no further.
    stack.base().flush().await.unwrap();
    stack.top().set_trim_prefix(25);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stack.base().stats().trimmed_to, 30);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_groups_proposals_and_fans_out_results() {
    init_tracing();
    let dir = tempdir().unwrap();
    let app = TestApp::new();
    let stack = StackBuilder::new(mem_log(), open_store(dir.path()))
        .batching(BatchingConfig {
            max_entries: 64,
            max_in_flight: 1,
            ..BatchingConfig::default()
        })
        .build(app.clone())
        .unwrap();
    let futs: Vec<_> = (0..500)
        .map(|i| stack.propose(Entry::new(payload(3, i))))
        .collect();
    for (i, r) in join_all(futs).await.into_iter().enumerate() {
        let (_, s, idx) = decode_result(&r.unwrap());
        assert_eq!((s, idx), (3, i as u64));
    }
    let b = stack.batching().unwrap().stats();
    assert_eq!(b.batched_entries, 500);
    assert!(b.batches >= 500 / 64, "{b:?}");
    let log_entries = stack.base().stats().applied;
    assert_eq!(log_entries, b.batches);
    assert!(
        log_entries < 100,
        "500 proposals took {log_entries} log entries"
    );
    assert_eq!(app.post_applies.load(Ordering::Relaxed), 500);
    let snap = stack.sync().await.unwrap();
    assert_eq!(read_list(&snap, 3), (0..500).collect::<Vec<_>>());
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_measure_and_unheadered_entries_pass_through() {
    init_tracing();
    let dir = tempdir().unwrap();
    let stack = StackBuilder::new(mem_log(), open_store(dir.path()))
        .observer("top")
        .batching(BatchingConfig::default())
        .observer("batching/session")
        .session_order(SessionOrderConfig::default())
        .build(TestApp::new())
        .unwrap();
    assert_eq!(
        stack.describe(),
        "Observer(top)/Batching/Observer(batching/session)/SessionOrder/Base"
    );
    let futs: Vec<_> = (0..100)
        .map(|i| stack.propose(with_stream(Entry::new(payload(i % 4, i / 4)), i % 4)))
        .collect();
    for r in join_all(futs).await {
        r.unwrap();
    }
    let m = stack.metrics();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].name, "top");
    assert_eq!(m[0].propose.count, 100);
    assert!(m[0].propose.p50_ns > 0 && m[0].propose.p99_ns >= m[0].propose.p50_ns);
    assert_eq!(
        m[0].apply.count, 100,
        "the top observer times the app's apply per proposal"
    );
    assert!(m[1].propose.count >= 1 && m[1].apply.count >= 1);

    // An entry without any engine header, proposed straight at the base (as a replica that
    // lacks the upper engines would): every engine passes it through, the result is unwrapped.
    let r = stack
        .base()
        .propose(Entry::new(payload(7, 0)))
        .await
        .unwrap();
    assert_eq!(decode_result(&r).1, 7);
    let snap = stack.sync().await.unwrap();
    for s in 0..4 {
        assert_eq!(read_list(&snap, s), (0..25).collect::<Vec<_>>());
    }
    assert_eq!(read_list(&snap, 7), vec![0]);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgotten_streams_resume_from_the_stored_sequence() {
    init_tracing();
    let dir = tempdir().unwrap();
    let stack = StackBuilder::new(mem_log(), open_store(dir.path()))
        .session_order(SessionOrderConfig::default())
        .build(TestApp::new())
        .unwrap();
    let session = stack.session_order().unwrap().clone();
    for i in 0..5 {
        stack
            .propose(with_stream(Entry::new(payload(7, i)), 7))
            .await
            .unwrap();
    }
    assert_eq!(session.stats().streams, 1);
    assert!(session.forget_stream(7));
    assert_eq!(session.stats().streams, 0);
    let futs: Vec<_> = (5..10)
        .map(|i| stack.propose(with_stream(Entry::new(payload(7, i)), 7)))
        .collect();
    for r in join_all(futs).await {
        r.unwrap();
    }
    let snap = stack.sync().await.unwrap();
    assert_eq!(read_list(&snap, 7), (0..10).collect::<Vec<_>>());
    assert_eq!(session.stats().filtered_gap, 0);
    // A malformed stream header is refused at propose time.
    let bad = Entry::new(payload(7, 99)).with_header("stream", Bytes::from_static(b"x"));
    assert!(matches!(
        stack.propose(bad).await,
        Err(EngineError::BadHeader { .. })
    ));
    stack.shutdown().await.unwrap();
}

/// Fails (non-deterministically, as a store I/O error would) on the payload "boom".
struct FailingApp(Arc<TestApp>);

impl Applicator for FailingApp {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        if entry.payload().as_ref() == b"boom" {
            return Err(ApplyError::Fatal("disk on fire".into()));
        }
        self.0.apply(txn, entry, pos)
    }

    fn post_apply(&self, entry: &Entry, pos: Pos, result: &Bytes) {
        self.0.post_apply(entry, pos, result);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_deterministic_apply_failure_stops_the_loop_loudly() {
    init_tracing();
    let dir = tempdir().unwrap();
    let log = mem_log();
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .build(Arc::new(FailingApp(TestApp::new())))
        .unwrap();
    stack.propose(Entry::new(payload(0, 0))).await.unwrap();
    // Damaged bytes (known format version, truncated header) are skipped on every replica.
    log.append(Bytes::from_static(&[1, 5, 1])).await.unwrap();
    stack.propose(Entry::new(payload(0, 1))).await.unwrap();
    assert_eq!(stack.base().applied_cursor(), 3);
    let r = stack.propose(Entry::new(Bytes::from_static(b"boom"))).await;
    assert!(matches!(r, Err(EngineError::ApplyStopped(_))), "{r:?}");
    stack.base().stopped().await;
    assert!(stack.base().stop_reason().is_some());
    assert!(stack.propose(Entry::new(payload(0, 2))).await.is_err());
    assert!(stack.sync().await.is_err());
    assert_eq!(
        stack.base().store().applied_cursor(),
        3,
        "the failed entry was not committed"
    );
    assert!(matches!(
        stack.shutdown().await,
        Err(EngineError::ApplyStopped(_))
    ));

    // An entry in a format this build cannot read stops the loop too (it must not be skipped).
    let dir = tempdir().unwrap();
    let log = mem_log();
    log.append(Bytes::from_static(&[42, 0, 0])).await.unwrap();
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .build(TestApp::new())
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), stack.base().stopped())
        .await
        .unwrap();
    assert_eq!(stack.base().store().applied_cursor(), 0);
    let _ = stack.shutdown().await;
}

/// Batching above session order: whatever the batching engine sends down, a lone proposal
/// included, joins the origin's default stream, the one its batches form. A lone proposal sent
/// down with its own `stream` header went on that stream, ordered apart from the batches holding
/// the earlier proposals of the same stream: after a failed append of such a batch, the lone
/// proposal could be applied before them (seen once in 300 runs of engine_determinism).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_over_session_order_sends_everything_on_the_default_stream() {
    use zoolog::engine::session::{DEFAULT_STREAM, SESSION_HEADER, SessionStamp};
    init_tracing();
    let dir = tempdir().unwrap();
    let log = mem_log();
    let stack = StackBuilder::new(log.clone(), open_store(dir.path()))
        .batching(BatchingConfig::default())
        .session_order(SessionOrderConfig::default())
        .build(TestApp::new())
        .unwrap();
    // One proposal at a time: each goes down alone.
    for k in 0..3 {
        let r = stack
            .propose(with_stream(Entry::new(payload(7, k)), 7))
            .await
            .unwrap();
        assert_eq!(decode_result(&r).1, 7);
    }
    let (tail, _) = log.check_tail().await.unwrap();
    let entries = log.read(0, tail).await.unwrap();
    assert_eq!(entries.len(), 3);
    for (pos, bytes) in entries {
        let entry = Entry::decode(bytes).unwrap();
        let stamp = entry
            .header(SESSION_HEADER)
            .map(|v| SessionStamp::decode(v).unwrap())
            .unwrap_or_else(|| panic!("entry {pos} has no session stamp"));
        assert_eq!(
            stamp.stream, DEFAULT_STREAM,
            "entry {pos} went on its own stream"
        );
    }
    stack.shutdown().await.unwrap();
}
