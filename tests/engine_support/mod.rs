//! Helpers shared by the `engine_*` integration tests: stores in temp dirs, an order-sensitive
//! test applicator, and checks over its state.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use zoolog::engine::{Applicator, ApplyError, Entry, Pos};
use zoolog::log::Loglet;
use zoolog::store::{
    KeyRange, LocalStore, Partition, ReadSnapshot, RwTxn, StoreOptions, StoreRead,
};

/// The test applicator's partition.
pub const APP_PARTITION: &str = "app";

pub fn open_store(dir: &Path) -> LocalStore {
    LocalStore::open(dir, &StoreOptions::default()).unwrap()
}

/// The payload of test proposal `index` of `stream`.
pub fn payload(stream: u64, index: u64) -> Bytes {
    let mut b = BytesMut::with_capacity(16);
    b.put_u64(stream);
    b.put_u64(index);
    b.freeze()
}

/// What the test applicator returns for an entry: `(global counter, stream, index)`.
pub fn decode_result(r: &Bytes) -> (u64, u64, u64) {
    assert_eq!(r.len(), 24, "result {r:?}");
    let u = |i: usize| u64::from_be_bytes(r[i * 8..i * 8 + 8].try_into().unwrap());
    (u(0), u(1), u(2))
}

fn list_key(stream: u64) -> Vec<u8> {
    let mut k = b"list/".to_vec();
    k.extend_from_slice(&stream.to_be_bytes());
    k
}

fn seen_key(stream: u64, index: u64) -> Vec<u8> {
    let mut k = b"seen/".to_vec();
    k.extend_from_slice(&stream.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn get_u64(read: &dyn StoreRead, p: &Partition, key: &[u8]) -> Result<u64, ApplyError> {
    Ok(read
        .get(p, key)?
        .map(|v| u64::from_be_bytes(v.as_slice().try_into().unwrap_or([0; 8])))
        .unwrap_or(0))
}

/// A trivial but order-sensitive applicator. For a payload `(stream, index)` it
/// - appends `index` to the list of `stream` (`list/<stream>`),
/// - increments a global counter and returns `(counter, stream, index)`,
/// - counts how often `(stream, index)` was applied (`seen/<stream><index>`),
/// - records the log position and whether the entry carried a session stamp (`log/<counter>`).
///
/// Other payloads (e.g. empty) only bump the counter.
#[derive(Default)]
pub struct TestApp {
    partition: OnceLock<Partition>,
    pub post_applies: AtomicU64,
}

impl TestApp {
    pub fn new() -> Arc<TestApp> {
        Arc::new(TestApp::default())
    }
}

impl Applicator for TestApp {
    fn apply(&self, txn: &mut RwTxn<'_>, entry: &Entry, pos: Pos) -> Result<Bytes, ApplyError> {
        let p = match self.partition.get() {
            Some(p) => p.clone(),
            None => {
                let p = txn.partition(APP_PARTITION)?;
                self.partition.get_or_init(|| p).clone()
            }
        };
        let counter = get_u64(txn, &p, b"counter")? + 1;
        txn.put(&p, b"counter".to_vec(), counter.to_be_bytes());
        let mut log_value = pos.to_be_bytes().to_vec();
        log_value.push(u8::from(entry.has_header("so")));
        let mut log_key = b"log/".to_vec();
        log_key.extend_from_slice(&counter.to_be_bytes());
        txn.put(&p, log_key, log_value);
        let pl = entry.payload();
        let (stream, index) = if pl.len() == 16 {
            let stream = u64::from_be_bytes(pl[..8].try_into().unwrap());
            let index = u64::from_be_bytes(pl[8..].try_into().unwrap());
            let mut list = txn.get(&p, &list_key(stream))?.unwrap_or_default();
            list.extend_from_slice(&index.to_be_bytes());
            txn.put(&p, list_key(stream), list);
            let seen = get_u64(txn, &p, &seen_key(stream, index))? + 1;
            txn.put(&p, seen_key(stream, index), seen.to_be_bytes());
            (stream, index)
        } else {
            (u64::MAX, u64::MAX)
        };
        let mut r = BytesMut::with_capacity(24);
        r.put_u64(counter);
        r.put_u64(stream);
        r.put_u64(index);
        Ok(r.freeze())
    }

    fn post_apply(&self, _entry: &Entry, _pos: Pos, _result: &Bytes) {
        self.post_applies.fetch_add(1, Ordering::Relaxed);
    }
}

fn app_partition(snap: &ReadSnapshot) -> Option<Partition> {
    snap.partitions()
        .into_iter()
        .find(|p| p.name() == APP_PARTITION)
}

/// The list of `stream` in a snapshot.
pub fn read_list(snap: &ReadSnapshot, stream: u64) -> Vec<u64> {
    let Some(p) = app_partition(snap) else {
        return Vec::new();
    };
    snap.get(&p, &list_key(stream))
        .unwrap()
        .unwrap_or_default()
        .chunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

/// Every `(stream, index) → times applied` in a snapshot.
pub fn read_seen(snap: &ReadSnapshot) -> BTreeMap<(u64, u64), u64> {
    let Some(p) = app_partition(snap) else {
        return BTreeMap::new();
    };
    snap.scan(&p, &KeyRange::prefix(b"seen/"))
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let s = u64::from_be_bytes(k[5..13].try_into().unwrap());
            let i = u64::from_be_bytes(k[13..21].try_into().unwrap());
            ((s, i), u64::from_be_bytes(v.as_slice().try_into().unwrap()))
        })
        .collect()
}

/// `counter → (position, stamped)` for every applied entry, in counter order.
pub fn read_log(snap: &ReadSnapshot) -> Vec<(u64, Pos, bool)> {
    let Some(p) = app_partition(snap) else {
        return Vec::new();
    };
    snap.scan(&p, &KeyRange::prefix(b"log/"))
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let c = u64::from_be_bytes(k[4..12].try_into().unwrap());
            let pos = u64::from_be_bytes(v[..8].try_into().unwrap());
            (c, pos, v[8] == 1)
        })
        .collect()
}

/// The global counter in a snapshot.
pub fn read_counter(snap: &ReadSnapshot) -> u64 {
    let Some(p) = app_partition(snap) else {
        return 0;
    };
    snap.get(&p, b"counter")
        .unwrap()
        .map(|v| u64::from_be_bytes(v.as_slice().try_into().unwrap()))
        .unwrap_or(0)
}

/// Waits until the log's tail stops moving (appends still in flight in a fault-injecting
/// loglet have landed); returns it.
pub async fn settled_tail(log: &dyn Loglet) -> Pos {
    let mut last = log.check_tail().await.unwrap().0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = log.check_tail().await.unwrap().0;
        if t == last {
            return t;
        }
        last = t;
    }
}

/// Checks that each stream's list is exactly `0..n` in order.
pub fn assert_lists_in_order(snap: &ReadSnapshot, streams: u64, n: u64) {
    for s in 0..streams {
        let list = read_list(snap, s);
        assert_eq!(
            list,
            (0..n).collect::<Vec<_>>(),
            "stream {s} applied out of order or not exactly once"
        );
    }
}

/// Initializes tracing once (RUST_LOG to see engine logs).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Proposes `per_stream` entries on each of `streams` streams, one task per stream, each keeping
/// up to `window` proposals in flight (speculatively: the calls are made in order, then awaited
/// together). Checks that every proposer got its own result; returns the global counters.
pub async fn drive_streams(
    top: Arc<dyn zoolog::engine::Engine>,
    streams: u64,
    per_stream: u64,
    window: u64,
) -> Vec<u64> {
    drive_range(top, streams, 0, per_stream, window).await
}

/// As [`drive_streams`], for indexes `from..to` of each stream.
pub async fn drive_range(
    top: Arc<dyn zoolog::engine::Engine>,
    streams: u64,
    from: u64,
    to: u64,
    window: u64,
) -> Vec<u64> {
    let mut tasks = Vec::new();
    for s in 0..streams {
        let top = top.clone();
        tasks.push(tokio::spawn(async move {
            let mut counters = Vec::new();
            let mut i = from;
            while i < to {
                let end = (i + window).min(to);
                let futs: Vec<_> = (i..end)
                    .map(|k| {
                        top.propose(zoolog::engine::session::with_stream(
                            Entry::new(payload(s, k)),
                            s,
                        ))
                    })
                    .collect();
                for (k, r) in (i..end).zip(futures::future::join_all(futs).await) {
                    let r = r.unwrap_or_else(|e| panic!("stream {s} entry {k} failed: {e}"));
                    let (c, rs, rk) = decode_result(&r);
                    assert_eq!((rs, rk), (s, k), "a proposer got another proposal's result");
                    counters.push(c);
                }
                i = end;
            }
            counters
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    all
}
