//! Helpers shared by the `store_*` integration tests: opening stores in temp dirs and a small
//! deterministic "log" whose entries are applied one transaction each.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use zoolog::store::{LocalStore, StoreOptions, StoreRead};

/// The partitions the test log writes to.
pub const PARTITIONS: [&str; 2] = ["alpha", "beta"];

pub fn open(dir: &Path) -> LocalStore {
    LocalStore::open(dir, &StoreOptions::default()).unwrap()
}

/// One write of a log entry.
#[derive(Clone, Debug)]
pub enum Op {
    Put(&'static str, Vec<u8>, Vec<u8>),
    Delete(&'static str, Vec<u8>),
}

/// The writes of the log entry at `pos`: overwrites, deletes and fresh keys over two partitions,
/// all a pure function of `pos`.
pub fn log_entry(pos: u64) -> Vec<Op> {
    let mut ops = vec![
        Op::Put(
            "alpha",
            format!("k{}", pos % 7).into_bytes(),
            format!("v{pos}").into_bytes(),
        ),
        Op::Put(
            "beta",
            format!("n{pos:04}").into_bytes(),
            pos.to_be_bytes().to_vec(),
        ),
    ];
    if pos.is_multiple_of(3) {
        ops.push(Op::Delete(
            "alpha",
            format!("k{}", (pos + 3) % 7).into_bytes(),
        ));
    }
    if pos % 5 == 4 {
        ops.push(Op::Delete("beta", format!("n{:04}", pos - 2).into_bytes()));
    }
    ops
}

/// Applies the log entry at `pos` in one transaction and commits with cursor `pos + 1`.
pub fn apply_entry(store: &mut LocalStore, pos: u64) {
    let parts: Vec<_> = PARTITIONS
        .iter()
        .map(|n| store.partition(n).unwrap())
        .collect();
    let mut txn = store.begin();
    for op in log_entry(pos) {
        match op {
            Op::Put(p, k, v) => {
                let part = &parts[PARTITIONS.iter().position(|n| *n == p).unwrap()];
                txn.put(part, k, v);
            }
            Op::Delete(p, k) => {
                let part = &parts[PARTITIONS.iter().position(|n| *n == p).unwrap()];
                txn.delete(part, k);
            }
        }
    }
    txn.commit(pos + 1).unwrap();
}

/// Applies log entries `from..to`.
pub fn apply_range(store: &mut LocalStore, from: u64, to: u64) {
    for pos in from..to {
        apply_entry(store, pos);
    }
}

/// Replays the log from the store's cursor up to `to`, as an engine does after a restart.
pub fn replay_to(store: &mut LocalStore, to: u64) {
    let from = store.applied_cursor();
    apply_range(store, from, to);
}

/// Everything a snapshot holds in `partition`, as (key, value) pairs.
pub fn contents(store: &LocalStore, partition: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let p = store.partition(partition).unwrap();
    store
        .snapshot()
        .scan(&p, &zoolog::store::KeyRange::all())
        .unwrap()
}

/// One operation of the model test.
#[derive(Clone, Debug)]
pub enum ModelOp {
    Put(u8, u8),
    Delete(u8),
}

pub fn key(k: u8) -> Vec<u8> {
    // Two-level keys so prefixes select real sub-ranges.
    vec![b'a' + (k % 4), b'0' + (k / 4) % 10]
}

pub fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        (0u8..40, any::<u8>()).prop_map(|(k, v)| ModelOp::Put(k, v)),
        (0u8..40).prop_map(ModelOp::Delete),
    ]
}

pub fn apply_model(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[ModelOp]) {
    for op in ops {
        match op {
            ModelOp::Put(k, v) => {
                model.insert(key(*k), vec![*v]);
            }
            ModelOp::Delete(k) => {
                model.remove(&key(*k));
            }
        }
    }
}
