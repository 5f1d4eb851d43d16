//! Engine-stack throughput (criterion): entries/s through stacks over a `MemLoglet` (to isolate
//! the engines from log I/O) and a real RocksDB LocalStore in a temp dir, with a trivial
//! applicator, `WINDOW` proposals kept in flight on 64 streams.
//!
//! Run: `cargo bench --bench engine`. Compare "Base" with the other stacks: the difference per
//! entry is what the added engines cost (batching also *saves* store transactions).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use zoolog::engine::session::with_stream;
use zoolog::engine::{
    Applicator, ApplyError, BatchingConfig, Entry, Pos, SessionOrderConfig, Stack, StackBuilder,
};
use zoolog::log::MemLoglet;
use zoolog::store::{LocalStore, RwTxn, StoreOptions};

/// Proposals per measured round.
const ROUND: u64 = 2_000;
/// Proposals in flight.
const WINDOW: usize = 256;
const STREAMS: u64 = 64;

/// Does nothing: the cost measured is the engines', the log's and the store commit's.
struct Trivial;

impl Applicator for Trivial {
    fn apply(&self, _txn: &mut RwTxn<'_>, _entry: &Entry, _pos: Pos) -> Result<Bytes, ApplyError> {
        Ok(Bytes::new())
    }

    fn post_apply(&self, _entry: &Entry, _pos: Pos, _result: &Bytes) {}
}

type Layers = fn(StackBuilder) -> StackBuilder;

fn stacks() -> Vec<(&'static str, Layers)> {
    vec![
        ("Base", |b| b),
        ("Observer/Base", |b| b.observer("o")),
        ("SessionOrder/Base", |b| {
            b.session_order(SessionOrderConfig::default())
        }),
        ("Batching/Base", |b| b.batching(BatchingConfig::default())),
        ("Observer/Batching/SessionOrder/Base", |b| {
            b.observer("top")
                .batching(BatchingConfig::default())
                .session_order(SessionOrderConfig::default())
        }),
        ("Observer/SessionOrder/Batching/Base", |b| {
            b.observer("top")
                .session_order(SessionOrderConfig::default())
                .batching(BatchingConfig::default())
        }),
    ]
}

async fn round(stack: &Stack, next: &mut u64) -> Duration {
    let start = Instant::now();
    let mut inflight = FuturesUnordered::new();
    let end = *next + ROUND;
    while *next < end || !inflight.is_empty() {
        while *next < end && inflight.len() < WINDOW {
            let i = *next;
            *next += 1;
            let e = with_stream(Entry::new(Bytes::from_static(&[0u8; 16])), i % STREAMS);
            inflight.push(stack.propose(e));
        }
        if let Some(r) = inflight.next().await {
            r.expect("proposal failed");
        }
    }
    let elapsed = start.elapsed();
    // Keep the in-memory log small.
    stack.top().set_trim_prefix(stack.base().applied_cursor());
    elapsed
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("engine_stack");
    group.throughput(Throughput::Elements(ROUND));
    group.sample_size(15);
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    for (name, layers) in stacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stack = rt.block_on(async {
            let store = LocalStore::open(dir.path(), &StoreOptions::default()).expect("store");
            layers(StackBuilder::new(Arc::new(MemLoglet::new()), store))
                .build(Arc::new(Trivial))
                .expect("stack")
        });
        let mut next = 0u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += round(&stack, &mut next).await;
                    }
                    total
                })
            })
        });
        let applied = stack.base().stats().applied;
        for m in stack.metrics() {
            eprintln!(
                "{name}: observer {}: propose p50 {} ns p99 {} ns; apply p50 {} ns p99 {} ns ({} samples)",
                m.name,
                m.propose.p50_ns,
                m.propose.p99_ns,
                m.apply.p50_ns,
                m.apply.p99_ns,
                m.propose.count
            );
        }
        eprintln!("{name}: {next} proposals in {applied} log entries");
        rt.block_on(stack.shutdown()).expect("shutdown");
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
