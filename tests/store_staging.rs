//! The LocalStore's staging layer: commits are held in memory (each key's last value) and
//! spilled to RocksDB in batches. Readers must not be able to tell: every snapshot, every read of
//! the apply transaction and the reopened store read exactly like a map with the commits
//! applied, whatever was spilled when, and a snapshot keeps showing its commit while later
//! commits and spills go on.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

mod store_common;

use proptest::prelude::*;
use store_common::{ModelOp, key, model_op};
use tempfile::tempdir;
use zoolog::store::{KeyRange, LocalStore, StoreOptions, StoreRead};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A store that freezes its staging layer every `stage_keys` keys; without the apply cache, the
/// transaction's reads of committed keys go to the staged layers and the database every time.
fn open(dir: &std::path::Path, stage_keys: usize, apply_cache: bool) -> LocalStore {
    let defaults = StoreOptions::default();
    let opts = StoreOptions {
        stage_keys,
        apply_cache_bytes: if apply_cache {
            defaults.apply_cache_bytes
        } else {
            0
        },
        ..defaults
    };
    LocalStore::open(dir, &opts).unwrap()
}

fn ranges() -> Vec<KeyRange> {
    vec![
        KeyRange::all(),
        KeyRange::prefix(b"b"),
        KeyRange::prefix(b"c3"),
        KeyRange::between(b"a5".to_vec(), b"c2".to_vec()),
        KeyRange::starting_at(b"d".to_vec()),
    ]
}

/// Everything `r` shows of partition `p` equals `model`: point reads of every key, and scans.
fn assert_reads(r: &impl StoreRead, p: &zoolog::store::Partition, model: &Model, what: &str) {
    for k in 0u8..40 {
        let k = key(k);
        assert_eq!(
            r.get(p, &k).unwrap().as_ref(),
            model.get(&k),
            "{what}: get {k:?}"
        );
        assert_eq!(
            r.get_bytes(p, &k).unwrap().map(|b| b.to_vec()).as_ref(),
            model.get(&k),
            "{what}: get_bytes {k:?}"
        );
    }
    for range in ranges() {
        let want: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter(|(k, _)| range.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(r.scan(p, &range).unwrap(), want, "{what}: scan {range:?}");
        // A scan stopped early sees a prefix of the same entries.
        let mut first = Vec::new();
        r.for_each(p, &range, &mut |k, v| {
            first.push((k.to_vec(), v.to_vec()));
            if first.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(
            first,
            want[..want.len().min(2)],
            "{what}: stopped scan {range:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn reads_match_a_model_whatever_was_spilled(
        commits in proptest::collection::vec(
            (proptest::collection::vec(model_op(), 0..12), any::<bool>()),
            1..12,
        ),
        stage_keys in 1usize..8,
        keep_at in 0usize..12,
        apply_cache in any::<bool>(),
    ) {
        let dir = tempdir().unwrap();
        let mut store = open(dir.path(), stage_keys, apply_cache);
        let p = store.partition("p").unwrap();
        let mut model = Model::new();
        let mut kept = None;
        for (i, (ops, flush)) in commits.iter().enumerate() {
            let mut txn = store.begin();
            for op in ops {
                match op {
                    ModelOp::Put(k, v) => {
                        txn.put(&p, key(*k), vec![*v]);
                        model.insert(key(*k), vec![*v]);
                    }
                    ModelOp::Delete(k) => {
                        txn.delete(&p, key(*k));
                        model.remove(&key(*k));
                    }
                }
            }
            // The transaction reads the staged and stored state under its own writes.
            assert_reads(&txn, &p, &model, "transaction");
            let merged: Vec<(Vec<u8>, Vec<u8>)> = txn
                .iter(&p, &KeyRange::all())
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(&merged, &model.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>());
            txn.commit(i as u64 + 1).unwrap();
            if *flush {
                store.flush().unwrap();
            }
            let snap = store.snapshot();
            prop_assert_eq!(snap.cursor().unwrap(), i as u64 + 1);
            assert_reads(&snap, &p, &model, "snapshot");
            if i == keep_at {
                kept = Some((snap, model.clone(), i as u64 + 1));
            }
        }
        // A snapshot still shows its own commit after later commits and spills.
        store.flush().unwrap();
        if let Some((snap, then, cursor)) = kept {
            prop_assert_eq!(snap.cursor().unwrap(), cursor);
            assert_reads(&snap, &p, &then, "kept snapshot");
        }
        let last = commits.len() as u64;
        drop(store);
        // Dropped without close: what was staged reached the database.
        let store = open(dir.path(), stage_keys, apply_cache);
        prop_assert_eq!(store.applied_cursor(), last);
        let p = store.partition("p").unwrap();
        assert_reads(&store.snapshot(), &p, &model, "reopened");
    }
}

#[test]
fn flush_makes_staged_writes_durable_and_reports_their_cursor() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path(), 1 << 20, true);
    let p = store.partition("p").unwrap();
    let mut txn = store.begin();
    txn.put(&p, b"k", b"v");
    txn.commit(5).unwrap();
    assert_eq!(store.durable_cursor(), 0, "staged, not flushed");
    assert_eq!(store.flush().unwrap(), 5);
    assert_eq!(store.durable_cursor(), 5);
    assert_eq!(store.close().unwrap(), 5);
    let store = open(dir.path(), 1 << 20, true);
    assert_eq!(store.applied_cursor(), 5);
    assert_eq!(
        store.snapshot().get(&p, b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}
