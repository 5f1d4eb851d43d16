//! LocalStore partitions: one column family each, isolated from one another.

mod store_common;

use store_common::open;
use tempfile::tempdir;
use zoolog::store::{KeyRange, LocalStore, StoreError, StoreOptions, StoreRead};

#[test]
fn same_key_in_two_partitions_is_two_entries() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let a = store.partition("a").unwrap();
    let b = store.partition("b").unwrap();

    let mut txn = store.begin();
    txn.put(&a, b"key", b"in a");
    txn.put(&b, b"key", b"in b");
    assert_eq!(txn.get(&a, b"key").unwrap().as_deref(), Some(&b"in a"[..]));
    assert_eq!(txn.get(&b, b"key").unwrap().as_deref(), Some(&b"in b"[..]));
    txn.commit(1).unwrap();

    let mut txn = store.begin();
    txn.delete(&a, b"key");
    assert_eq!(txn.get(&a, b"key").unwrap(), None);
    assert_eq!(txn.get(&b, b"key").unwrap().as_deref(), Some(&b"in b"[..]));
    txn.commit(2).unwrap();

    let snap = store.snapshot();
    assert_eq!(snap.get(&a, b"key").unwrap(), None);
    assert_eq!(snap.get(&b, b"key").unwrap().as_deref(), Some(&b"in b"[..]));
}

#[test]
fn iteration_never_crosses_partitions() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let a = store.partition("a").unwrap();
    let b = store.partition("b").unwrap();
    let c = store.partition("c").unwrap();

    let mut txn = store.begin();
    for i in 0..20u8 {
        txn.put(&a, [b'x', i], b"a");
        txn.put(&c, [b'x', i], b"c");
    }
    txn.put(&b, b"x\x05", b"b");
    // Uncommitted writes are isolated too.
    let seen: Vec<_> = txn
        .iter(&b, &KeyRange::all())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen, vec![(b"x\x05".to_vec(), b"b".to_vec())]);
    txn.commit(1).unwrap();

    let snap = store.snapshot();
    let in_a = snap.scan(&a, &KeyRange::all()).unwrap();
    assert_eq!(in_a.len(), 20);
    assert!(in_a.iter().all(|(_, v)| v == b"a"));
    let in_b = snap.scan(&b, &KeyRange::all()).unwrap();
    assert_eq!(in_b, vec![(b"x\x05".to_vec(), b"b".to_vec())]);
    let in_c = snap.scan(&c, &KeyRange::prefix(b"x")).unwrap();
    assert_eq!(in_c.len(), 20);
    assert!(in_c.iter().all(|(_, v)| v == b"c"));

    // A fresh partition is empty even though others are not; the apply cursor (kept in the
    // store's own partition) never shows up in a user partition.
    let d = store.partition("d").unwrap();
    assert!(
        store
            .snapshot()
            .scan(&d, &KeyRange::all())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn partition_names_are_checked() {
    let dir = tempdir().unwrap();
    let store = open(dir.path());
    let long = "p".repeat(65);
    for bad in [
        "",
        "__system",
        "__x",
        "default",
        "a/b",
        "a b",
        "é",
        long.as_str(),
    ] {
        match store.partition(bad) {
            Err(StoreError::InvalidPartitionName { .. }) => {}
            other => panic!("{bad:?} accepted: {other:?}"),
        }
    }
    for good in ["zk", "session-table", "engine.base", "A_1", &"p".repeat(64)] {
        assert_eq!(store.partition(good).unwrap().name(), good);
    }
    let bad_declared = StoreOptions::default().with_partition("__nope");
    let dir2 = tempdir().unwrap();
    assert!(matches!(
        LocalStore::open(dir2.path(), &bad_declared),
        Err(StoreError::InvalidPartitionName { .. })
    ));
}

#[test]
fn partitions_declared_at_open_or_created_on_demand_persist() {
    let dir = tempdir().unwrap();
    {
        let opts = StoreOptions::default()
            .with_partition("zk")
            .with_partition("sessions");
        let mut store = LocalStore::open(dir.path(), &opts).unwrap();
        let names: Vec<_> = store
            .partitions()
            .iter()
            .map(|p| p.name().to_owned())
            .collect();
        assert_eq!(names, vec!["sessions", "zk"]);
        assert!(store.existing_partition("later").is_none());
        let later = store.partition("later").unwrap();
        assert_eq!(store.existing_partition("later"), Some(later.clone()));
        let mut txn = store.begin();
        txn.put(&later, b"k", b"v");
        txn.commit(1).unwrap();
        store.close().unwrap();
    }
    let store = open(dir.path());
    let names: Vec<_> = store
        .partitions()
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    assert_eq!(names, vec!["later", "sessions", "zk"]);
    let later = store.existing_partition("later").unwrap();
    assert_eq!(
        store.snapshot().get(&later, b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn a_handle_from_another_store_is_refused() {
    let dir1 = tempdir().unwrap();
    let dir2 = tempdir().unwrap();
    let mut one = open(dir1.path());
    let two = open(dir2.path());
    let foreign = two.partition("only-in-two").unwrap();
    let snap = one.snapshot();
    assert!(matches!(
        snap.get(&foreign, b"k"),
        Err(StoreError::UnknownPartition(_))
    ));
    let txn = one.begin();
    assert!(matches!(
        txn.get(&foreign, b"k"),
        Err(StoreError::UnknownPartition(_))
    ));
}

#[test]
fn a_second_open_of_the_same_directory_fails_while_the_first_is_open() {
    let dir = tempdir().unwrap();
    let first = open(dir.path());
    assert!(matches!(
        LocalStore::open(dir.path(), &StoreOptions::default()),
        Err(StoreError::RocksDb(_))
    ));
    drop(first);
    open(dir.path());
}
