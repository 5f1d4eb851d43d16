//! The apply transaction's read cache never changes what a transaction reads: over random
//! commits, aborted transactions and a cache small enough to evict, every get equals a model of
//! the committed state, and a store reopened without the cache reads the same.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tempfile::tempdir;
use zoolog::store::{LocalStore, StoreOptions, StoreRead};

#[derive(Clone, Debug)]
enum Step {
    Put(u8, u8),
    Delete(u8),
    Get(u8),
    Commit,
    Abort,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0u8..24, any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
        1 => (0u8..24).prop_map(Step::Delete),
        3 => (0u8..24).prop_map(Step::Get),
        1 => Just(Step::Commit),
        1 => Just(Step::Abort),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("key-{k:02}").into_bytes()
}

fn open(dir: &std::path::Path, cache: usize) -> LocalStore {
    let opts = StoreOptions {
        apply_cache_bytes: cache,
        ..StoreOptions::default()
    };
    LocalStore::open(dir, &opts).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cached_reads_match_the_committed_state(steps in proptest::collection::vec(step(), 1..120)) {
        let dir = tempdir().unwrap();
        let mut store = open(dir.path(), 1_000);
        let p = store.partition("p").unwrap();
        let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut pending: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let mut cursor = 0;
        let mut txn = store.begin();
        for s in steps {
            match s {
                Step::Put(k, v) => {
                    txn.put(&p, key(k), vec![v]);
                    pending.insert(key(k), Some(vec![v]));
                }
                Step::Delete(k) => {
                    txn.delete(&p, key(k));
                    pending.insert(key(k), None);
                }
                Step::Get(k) => {
                    let want = match pending.get(&key(k)) {
                        Some(v) => v.clone(),
                        None => committed.get(&key(k)).cloned(),
                    };
                    prop_assert_eq!(txn.get(&p, &key(k)).unwrap(), want);
                }
                Step::Commit => {
                    cursor += 1;
                    txn.commit(cursor).unwrap();
                    for (k, v) in std::mem::take(&mut pending) {
                        match v {
                            Some(v) => committed.insert(k, v),
                            None => committed.remove(&k),
                        };
                    }
                    txn = store.begin();
                }
                Step::Abort => {
                    txn.abort();
                    pending.clear();
                    txn = store.begin();
                }
            }
        }
        drop(txn);
        drop(store);
        let store = open(dir.path(), 0);
        let p = store.partition("p").unwrap();
        let snap = store.snapshot();
        for k in 0..24 {
            prop_assert_eq!(snap.get(&p, &key(k)).unwrap(), committed.get(&key(k)).cloned());
        }
    }
}
