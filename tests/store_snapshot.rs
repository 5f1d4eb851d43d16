//! LocalStore read-only snapshots: consistent and stable while the apply loop keeps committing,
//! used from other threads.

mod store_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use store_common::open;
use tempfile::tempdir;
use zoolog::store::{KeyRange, StoreRead};

fn counter(bytes: Option<Vec<u8>>) -> u64 {
    let bytes = bytes.expect("counter present");
    u64::from_be_bytes(bytes.try_into().unwrap())
}

#[test]
fn a_snapshot_moved_to_another_thread_does_not_see_later_commits() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();
    let mut txn = store.begin();
    txn.put(&p, b"k", b"old");
    txn.put(&p, b"gone-later", b"x");
    txn.commit(1).unwrap();

    let snap = store.snapshot();
    let (committed_tx, committed_rx) = mpsc::channel::<()>();
    let reader = {
        let p = p.clone();
        thread::spawn(move || {
            committed_rx.recv().unwrap();
            (
                snap.cursor().unwrap(),
                snap.get(&p, b"k").unwrap(),
                snap.scan(&p, &KeyRange::all()).unwrap(),
            )
        })
    };

    let mut txn = store.begin();
    txn.put(&p, b"k", b"new");
    txn.put(&p, b"added", b"y");
    txn.delete(&p, b"gone-later");
    txn.commit(2).unwrap();
    store.flush().unwrap();
    committed_tx.send(()).unwrap();

    let (cursor, value, all) = reader.join().unwrap();
    assert_eq!(cursor, 1);
    assert_eq!(value.as_deref(), Some(&b"old"[..]));
    assert_eq!(
        all,
        vec![
            (b"gone-later".to_vec(), b"x".to_vec()),
            (b"k".to_vec(), b"old".to_vec()),
        ]
    );
    assert_eq!(
        store.snapshot().get(&p, b"k").unwrap().as_deref(),
        Some(&b"new"[..])
    );
}

/// Every commit writes the same counter into two partitions and moves the cursor to
/// counter + 1. Readers on two threads take snapshots while the apply loop runs, and check
/// that each snapshot is a single point (both partitions and the cursor agree) and stays put
/// while more commits happen.
#[test]
fn concurrent_readers_see_consistent_stable_points() {
    const COMMITS: u64 = 400;
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let a = store.partition("a").unwrap();
    let b = store.partition("b").unwrap();
    let mut txn = store.begin();
    txn.put(&a, b"n", 0u64.to_be_bytes());
    txn.put(&b, b"n", 0u64.to_be_bytes());
    txn.commit(1).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let shared = store.shared();
            let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
            thread::spawn(move || {
                let mut checked = 0u64;
                let mut last = 0;
                while !stop.load(Ordering::Acquire) {
                    let snap = shared.snapshot();
                    let cursor = snap.cursor().unwrap();
                    let n_a = counter(snap.get(&a, b"n").unwrap());
                    let n_b = counter(snap.get(&b, b"n").unwrap());
                    assert_eq!(n_a, n_b, "partitions disagree within one snapshot");
                    assert_eq!(cursor, n_a + 1, "cursor disagrees with the state");
                    assert!(cursor >= last, "snapshots went backwards");
                    last = cursor;
                    // Let the writer move on, then read the same snapshot again.
                    thread::yield_now();
                    let again = snap.scan(&a, &KeyRange::all()).unwrap();
                    assert_eq!(again.len(), 1);
                    assert_eq!(counter(Some(again[0].1.clone())), n_a);
                    assert_eq!(snap.cursor().unwrap(), cursor);
                    checked += 1;
                }
                checked
            })
        })
        .collect();

    for n in 1..=COMMITS {
        let mut txn = store.begin();
        txn.put(&a, b"n", n.to_be_bytes());
        txn.put(&b, b"n", n.to_be_bytes());
        txn.commit(n + 1).unwrap();
        if n.is_multiple_of(100) {
            store.flush().unwrap();
        }
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(store.snapshot().cursor().unwrap(), COMMITS + 1);
}

#[test]
fn snapshots_keep_the_database_alive_after_the_writer_is_gone() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();
    let mut txn = store.begin();
    txn.put(&p, b"k", b"v");
    txn.commit(1).unwrap();
    let snap = store.snapshot();
    let shared = store.shared();
    assert_eq!(store.close().unwrap(), 1);
    assert_eq!(snap.get(&p, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(shared.applied_cursor(), 1);
    assert_eq!(shared.durable_cursor(), 1);
}

/// A read shared between snapshots (`get_bytes_shared`, the cursor) answers each snapshot with
/// its own committed state: snapshots of one state share the answer, the first snapshot after a
/// commit, spill or flush reads again — also when every write is already in RocksDB.
#[test]
fn shared_reads_follow_every_commit() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path());
    let p = store.partition("p").unwrap();
    let shared = |store: &zoolog::store::LocalStore| {
        let snap = store.snapshot();
        // Another key of the same partition, shared too, must not answer for this one.
        assert_eq!(
            snap.get_bytes_shared(&p, b"other").unwrap().as_deref(),
            Some(&b"other"[..])
        );
        (
            snap.cursor().unwrap(),
            snap.get_bytes_shared(&p, b"zxid")
                .unwrap()
                .map(|b| b.to_vec()),
        )
    };
    let mut txn = store.begin();
    txn.put(&p, b"other", b"other");
    txn.commit(0).unwrap();
    let mut cursor = 0;
    for round in 1..=6u64 {
        let mut txn = store.begin();
        txn.put(&p, b"zxid", round.to_be_bytes());
        cursor += 1;
        txn.commit(cursor).unwrap();
        if round % 2 == 0 {
            // Everything spilled and flushed: the view has no layers, RocksDB answers.
            store.flush().unwrap();
        }
        let expected = (cursor, Some(round.to_be_bytes().to_vec()));
        assert_eq!(shared(&store), expected, "round {round}");
        // A second snapshot of the same state takes the shared answer, and it is the same.
        assert_eq!(shared(&store), expected, "round {round}, again");
        let held = store.snapshot();
        let mut txn = store.begin();
        txn.delete(&p, b"zxid");
        cursor += 1;
        txn.commit(cursor).unwrap();
        // A snapshot taken before the delete still sees the value; one after does not.
        assert_eq!(
            held.get_bytes_shared(&p, b"zxid")
                .unwrap()
                .map(|b| b.to_vec()),
            expected.1
        );
        assert_eq!(shared(&store), (cursor, None), "round {round}, deleted");
        if round % 3 == 0 {
            store.flush().unwrap();
            assert_eq!(
                shared(&store),
                (cursor, None),
                "round {round}, deleted, flushed"
            );
        }
    }
}
