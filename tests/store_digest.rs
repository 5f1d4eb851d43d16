//! LocalStore state dump and digest: deterministic, equal for equal histories, different when
//! one write differs.

mod store_common;

use store_common::{apply_range, open};
use tempfile::tempdir;
use zoolog::store::LocalStore;

fn apply_writes(store: &mut LocalStore, writes: &[(&str, &str, &str)], cursor: u64) {
    let mut txn = store.begin();
    for (part, k, v) in writes {
        let p = txn.partition(part).unwrap();
        if v.is_empty() {
            txn.delete(&p, k.as_bytes());
        } else {
            txn.put(&p, k.as_bytes(), v.as_bytes());
        }
    }
    txn.commit(cursor).unwrap();
}

#[test]
fn two_stores_fed_the_same_log_are_byte_identical() {
    let (d1, d2) = (tempdir().unwrap(), tempdir().unwrap());
    let mut one = open(d1.path());
    let mut two = open(d2.path());
    apply_range(&mut one, 0, 50);
    // The second store flushes along the way and is reopened halfway: same state all the same.
    apply_range(&mut two, 0, 20);
    two.flush().unwrap();
    two.close().unwrap();
    let mut two = open(d2.path());
    apply_range(&mut two, 20, 50);

    let (dump1, dump2) = (
        one.snapshot().dump().unwrap(),
        two.snapshot().dump().unwrap(),
    );
    assert!(!dump1.is_empty());
    assert_eq!(dump1, dump2);
    assert_eq!(one.digest().unwrap(), two.digest().unwrap());
    assert_eq!(
        one.digest().unwrap().to_string(),
        two.digest().unwrap().to_string()
    );
}

#[test]
fn one_different_write_changes_the_digest() {
    let base = [
        ("zk", "/a", "1"),
        ("zk", "/b", "2"),
        ("sessions", "s1", "x"),
    ];
    let (d1, d2, d3, d4) = (
        tempdir().unwrap(),
        tempdir().unwrap(),
        tempdir().unwrap(),
        tempdir().unwrap(),
    );
    let mut one = open(d1.path());
    apply_writes(&mut one, &base, 1);

    let mut value_differs = open(d2.path());
    apply_writes(
        &mut value_differs,
        &[
            ("zk", "/a", "1"),
            ("zk", "/b", "3"),
            ("sessions", "s1", "x"),
        ],
        1,
    );
    let mut partition_differs = open(d3.path());
    apply_writes(
        &mut partition_differs,
        &[("zk", "/a", "1"), ("zk", "/b", "2"), ("other", "s1", "x")],
        1,
    );
    let mut cursor_differs = open(d4.path());
    apply_writes(&mut cursor_differs, &base, 2);

    let reference = one.digest().unwrap();
    assert_ne!(value_differs.digest().unwrap(), reference);
    assert_ne!(partition_differs.digest().unwrap(), reference);
    assert_ne!(cursor_differs.digest().unwrap(), reference);
    assert_ne!(
        value_differs.snapshot().dump().unwrap(),
        one.snapshot().dump().unwrap()
    );
}

#[test]
fn the_dump_depends_on_the_final_state_only() {
    let (d1, d2) = (tempdir().unwrap(), tempdir().unwrap());
    let mut one = open(d1.path());
    let mut two = open(d2.path());
    // Same final state reached through different intermediate writes; an extra empty partition.
    apply_writes(&mut one, &[("p", "k1", "a"), ("p", "k2", "b")], 1);
    apply_writes(&mut one, &[("p", "k1", "c")], 2);
    apply_writes(&mut two, &[("p", "k2", "b"), ("p", "k3", "z")], 1);
    apply_writes(&mut two, &[("p", "k1", "c"), ("p", "k3", "")], 2);
    two.partition("empty").unwrap();
    assert_eq!(
        one.snapshot().dump().unwrap(),
        two.snapshot().dump().unwrap()
    );
    assert_eq!(one.digest().unwrap(), two.digest().unwrap());
}
