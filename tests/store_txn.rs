//! LocalStore read-write transactions: read-your-writes, overlay iteration, atomic commit with
//! the apply cursor, abort.

mod store_common;

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use proptest::prelude::*;
use store_common::{ModelOp, apply_model, key, model_op, open};
use tempfile::tempdir;
use zoolog::store::{KeyRange, StoreError, StoreRead};

fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.as_bytes().to_vec())
}

#[test]
fn reads_see_the_transactions_own_writes() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();
    let shared = store.shared();

    let mut txn = store.begin();
    txn.put(&p, b"a", b"1");
    txn.commit(1).unwrap();

    let mut txn = store.begin();
    assert_eq!(txn.get(&p, b"a").unwrap().as_deref(), Some(&b"1"[..]));
    txn.put(&p, b"a", b"2");
    assert_eq!(txn.get(&p, b"a").unwrap().as_deref(), Some(&b"2"[..]));
    txn.put(&p, b"b", b"3");
    assert!(txn.contains(&p, b"b").unwrap());
    txn.delete(&p, b"a");
    assert_eq!(txn.get(&p, b"a").unwrap(), None);
    txn.put(&p, b"a", b"4");
    assert_eq!(txn.get(&p, b"a").unwrap().as_deref(), Some(&b"4"[..]));
    assert_eq!(txn.pending_writes(), 2);

    // Not visible outside the transaction before commit.
    let before = shared.snapshot();
    assert_eq!(before.get(&p, b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(before.get(&p, b"b").unwrap(), None);

    txn.commit(2).unwrap();
    let after = store.snapshot();
    assert_eq!(after.get(&p, b"a").unwrap().as_deref(), Some(&b"4"[..]));
    assert_eq!(after.get(&p, b"b").unwrap().as_deref(), Some(&b"3"[..]));
    // The old snapshot still sees the old state.
    assert_eq!(before.get(&p, b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn iteration_merges_pending_puts_and_deletes_in_key_order() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();

    let mut txn = store.begin();
    for k in ["a1", "a3", "a5", "a7", "b1", "a"] {
        txn.put(&p, k.as_bytes(), format!("old-{k}").into_bytes());
    }
    txn.commit(1).unwrap();

    let mut txn = store.begin();
    txn.put(&p, b"a2", b"new-a2"); // only pending
    txn.put(&p, b"a3", b"new-a3"); // shadows a stored key
    txn.delete(&p, b"a5"); // hides a stored key
    txn.put(&p, b"a0", b"new-a0"); // before every stored key of the prefix
    txn.delete(&p, b"a9"); // deletes nothing
    txn.put(&p, b"a8", b"tmp");
    txn.delete(&p, b"a8"); // put then delete: gone
    txn.put(&p, b"b0", b"new-b0"); // outside the prefix
    txn.delete(&p, b"a7"); // the last stored key of the prefix

    let expected = vec![
        kv("a0", "new-a0"),
        kv("a1", "old-a1"),
        kv("a2", "new-a2"),
        kv("a3", "new-a3"),
    ];
    let got: Vec<_> = txn
        .iter(&p, &KeyRange::prefix(b"a"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // "a" itself has the prefix "a".
    let mut with_a = vec![kv("a", "old-a")];
    with_a.extend(expected.clone());
    assert_eq!(got, with_a);
    assert_eq!(
        txn.scan(&p, &KeyRange::between(b"a0".to_vec(), b"a4".to_vec()))
            .unwrap(),
        expected
    );
    assert_eq!(
        txn.keys(&p, &KeyRange::starting_at(b"a3".to_vec()))
            .unwrap(),
        vec![b"a3".to_vec(), b"b0".to_vec(), b"b1".to_vec()]
    );
    assert_eq!(
        txn.scan_limit(&p, &KeyRange::all(), 2).unwrap(),
        vec![kv("a", "old-a"), kv("a0", "new-a0")]
    );
    assert!(
        txn.scan(&p, &KeyRange::between(b"b".to_vec(), b"a".to_vec()))
            .unwrap()
            .is_empty()
    );
    let mut visited = 0;
    txn.for_each(&p, &KeyRange::all(), &mut |_, _| {
        visited += 1;
        if visited == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(visited, 3);

    txn.commit(2).unwrap();
    let committed = store.snapshot().scan(&p, &KeyRange::all()).unwrap();
    assert_eq!(
        committed,
        vec![
            kv("a", "old-a"),
            kv("a0", "new-a0"),
            kv("a1", "old-a1"),
            kv("a2", "new-a2"),
            kv("a3", "new-a3"),
            kv("b0", "new-b0"),
            kv("b1", "old-b1"),
        ]
    );
}

#[test]
fn a_dropped_or_aborted_transaction_leaves_nothing() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();
    let before = store.digest().unwrap();

    let mut txn = store.begin();
    txn.put(&p, b"a", b"1");
    drop(txn);
    let mut txn = store.begin();
    txn.put(&p, b"b", b"2");
    txn.delete(&p, b"c");
    txn.abort();

    assert_eq!(store.applied_cursor(), 0);
    assert_eq!(store.snapshot().cursor().unwrap(), 0);
    assert!(
        store
            .snapshot()
            .scan(&p, &KeyRange::all())
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.digest().unwrap(), before);
}

#[test]
fn the_cursor_is_committed_with_the_batch() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();
    let shared = store.shared();
    assert_eq!(store.applied_cursor(), 0);

    let mut txn = store.begin();
    assert_eq!(txn.applied_cursor(), 0);
    txn.put(&p, b"k", b"v5");
    let mid = shared.snapshot(); // taken while the txn is open, through the shared handle
    txn.commit(5).unwrap();
    assert_eq!(store.applied_cursor(), 5);
    assert_eq!(mid.cursor().unwrap(), 0);
    let snap = store.snapshot();
    assert_eq!(snap.cursor().unwrap(), 5);
    assert_eq!(snap.get(&p, b"k").unwrap().as_deref(), Some(&b"v5"[..]));

    // A commit with no writes still moves the cursor; an equal cursor is allowed.
    store.begin().commit(7).unwrap();
    store.begin().commit(7).unwrap();
    assert_eq!(store.snapshot().cursor().unwrap(), 7);

    // Going backwards is refused and writes nothing.
    let mut txn = store.begin();
    txn.put(&p, b"k", b"stale");
    match txn.commit(6) {
        Err(StoreError::CursorRegression {
            stored: 7,
            requested: 6,
        }) => {}
        other => panic!("expected a cursor regression, got {other:?}"),
    }
    assert_eq!(store.applied_cursor(), 7);
    assert_eq!(
        store.snapshot().get(&p, b"k").unwrap().as_deref(),
        Some(&b"v5"[..])
    );
}

#[test]
fn a_failing_commit_writes_nothing() {
    let dir = tempdir().unwrap();
    let other_dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let other = open(other_dir.path());
    let p = store.partition("p").unwrap();
    let foreign = other.partition("zz-foreign").unwrap();

    let mut txn = store.begin();
    txn.put(&p, b"a", b"1");
    txn.put(&foreign, b"b", b"2");
    assert!(matches!(
        txn.commit(1),
        Err(StoreError::UnknownPartition(_))
    ));
    assert_eq!(store.applied_cursor(), 0);
    assert_eq!(store.snapshot().cursor().unwrap(), 0);
    assert_eq!(store.snapshot().get(&p, b"a").unwrap(), None);
}

#[test]
fn a_partition_created_inside_a_transaction_is_usable_at_once() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let mut txn = store.begin();
    let fresh = txn.partition("fresh").unwrap();
    txn.put(&fresh, b"k", b"v");
    assert_eq!(txn.get(&fresh, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    txn.commit(1).unwrap();
    assert_eq!(
        store.snapshot().get(&fresh, b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

fn model_range(model: &BTreeMap<Vec<u8>, Vec<u8>>, range: &KeyRange) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(k, _)| range.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Committed state plus a pending overlay reads exactly like a map with both applied, for
    /// gets and for every kind of range; after commit the store holds the same map.
    #[test]
    fn overlay_reads_match_a_model(
        committed in proptest::collection::vec(model_op(), 0..40),
        pending in proptest::collection::vec(model_op(), 0..40),
        prefix_key in 0u8..40,
        bounds in (0u8..40, 0u8..40),
    ) {
        let dir = tempdir().unwrap();
        let mut store = open(dir.path());
        let p = store.partition("p").unwrap();
        let mut model = BTreeMap::new();

        let mut txn = store.begin();
        for op in &committed {
            match op {
                ModelOp::Put(k, v) => txn.put(&p, key(*k), vec![*v]),
                ModelOp::Delete(k) => txn.delete(&p, key(*k)),
            }
        }
        txn.commit(1).unwrap();
        apply_model(&mut model, &committed);

        let mut txn = store.begin();
        for op in &pending {
            match op {
                ModelOp::Put(k, v) => txn.put(&p, key(*k), vec![*v]),
                ModelOp::Delete(k) => txn.delete(&p, key(*k)),
            }
        }
        apply_model(&mut model, &pending);

        let ranges = [
            KeyRange::all(),
            KeyRange::prefix(&key(prefix_key)[..1]),
            KeyRange::prefix(key(prefix_key)),
            KeyRange::between(key(bounds.0), key(bounds.1)),
            KeyRange::starting_at(key(bounds.0)),
        ];
        for range in &ranges {
            prop_assert_eq!(txn.scan(&p, range).unwrap(), model_range(&model, range));
        }
        for k in 0..40 {
            prop_assert_eq!(txn.get(&p, &key(k)).unwrap(), model.get(&key(k)).cloned());
        }
        txn.commit(2).unwrap();
        let snap = store.snapshot();
        for range in &ranges {
            prop_assert_eq!(snap.scan(&p, range).unwrap(), model_range(&model, range));
        }
    }
}
