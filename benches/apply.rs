//! ZooKeeper apply throughput (criterion): creates and setData applied by the `ZkApplicator` to
//! a real RocksDB LocalStore in a temp dir, in transactions of `BATCH` commands (the size of a
//! batch under the create benchmark's load), with no engines, log or network around them. What
//! it measures is the apply thread's own cost per write, the one stage every write passes through
//! in order.
//!
//! Run: `cargo bench --bench apply`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zoolog::engine::{Applicator, Entry};
use zoolog::store::{LocalStore, StoreOptions};
use zoolog::zk::{ZkApplicator, ZkCommand, ZkConfig, ZkOp, ZkStateMachine};
use zoolog_jute::{Acl, CreateMode, CreateRequest, Id, Request, SetDataRequest};

/// The server's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Commands per apply transaction.
const BATCH: usize = 35;
/// Directories the creates go to (one per load-generator session in the benchmark).
const DIRS: usize = 8;
const SESSION: i64 = 0x100;

struct Applier {
    store: LocalStore,
    app: ZkApplicator,
    pos: u64,
    /// Dropped last: the store closes before its directory goes.
    _dir: tempfile::TempDir,
}

impl Applier {
    fn new() -> Applier {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = LocalStore::open(dir.path(), &StoreOptions::default()).expect("store");
        let partition = store
            .partition(ZkStateMachine::PARTITION)
            .expect("partition");
        let app = ZkApplicator::new(ZkStateMachine::new(partition, ZkConfig::default()));
        let mut a = Applier {
            store,
            app,
            pos: 0,
            _dir: dir,
        };
        a.apply(&[ZkCommand::internal(
            0,
            0,
            ZkOp::CreateSession {
                session_id: SESSION,
                timeout_ms: 30_000,
            },
        )
        .encode()]);
        let mut dirs = vec![create("/bench".into(), Bytes::new())];
        dirs.extend((0..DIRS).map(|d| create(format!("/bench/s{d}"), Bytes::new())));
        a.apply(&dirs);
        a
    }

    /// Applies `cmds` (encoded commands) in one transaction. Never inlined, so that a profiler
    /// can count it (e.g. callgrind's `--toggle-collect=*Applier*apply*`).
    #[inline(never)]
    fn apply(&mut self, cmds: &[Bytes]) {
        let mut txn = self.store.begin();
        for cmd in cmds {
            let out = self.app.apply(&mut txn, &Entry::new(cmd.clone()), self.pos);
            out.expect("apply");
        }
        self.pos += 1;
        txn.commit(self.pos).expect("commit");
    }
}

fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: 31,
        id: Id::new("world", "anyone"),
    }]
}

fn create(path: String, data: Bytes) -> Bytes {
    request(Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data),
        acl: Some(open_acl()),
        flags: CreateMode::Persistent.as_i32(),
    }))
}

fn request(req: Request) -> Bytes {
    ZkCommand::request(SESSION, 1, 0, vec![Id::new("ip", "127.0.0.1")], req).encode()
}

/// Applies `iters` batches of `BATCH` commands made by `command`, and returns the time they
/// took (making the commands is not timed).
fn run(a: &mut Applier, iters: u64, mut command: impl FnMut() -> Bytes) -> Duration {
    let batches: Vec<Vec<Bytes>> = (0..iters)
        .map(|_| (0..BATCH).map(|_| command()).collect())
        .collect();
    let start = Instant::now();
    for b in &batches {
        a.apply(b);
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let value = Bytes::from(vec![b'v'; 100]);
    let mut g = c.benchmark_group("zk-apply");
    g.throughput(Throughput::Elements(BATCH as u64));

    let mut a = Applier::new();
    let mut next = 0u64;
    g.bench_function("create", |b| {
        b.iter_custom(|iters| {
            run(&mut a, iters, || {
                next += 1;
                let d = next % DIRS as u64;
                create(format!("/bench/s{d}/n{next:010}"), value.clone())
            })
        })
    });

    let mut a = Applier::new();
    let keys: Vec<String> = (0..1000).map(|k| format!("/bench/s0/k{k:04}")).collect();
    for chunk in keys.chunks(BATCH) {
        let batch: Vec<Bytes> = chunk
            .iter()
            .map(|k| create(k.clone(), value.clone()))
            .collect();
        a.apply(&batch);
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    g.bench_function("setData", |b| {
        b.iter_custom(|iters| {
            run(&mut a, iters, || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let path = keys[(rng % keys.len() as u64) as usize].clone();
                request(Request::SetData(SetDataRequest {
                    path: path.into(),
                    data: Some(value.clone()),
                    version: -1,
                }))
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
