//! The apply transaction's absent-key filter never hides a key: keys stored before a reopen (found
//! by the background scan), keys committed after it, keys committed while the scan runs, and
//! keys committed while a full filter is being replaced by a bigger one are all read back; keys
//! never written read as absent. The read cache is off so that every lookup goes through the
//! filter to RocksDB.

use std::time::{Duration, Instant};

use tempfile::tempdir;
use zoolog::store::{LocalStore, Partition, StoreOptions, StoreRead};

fn open(dir: &std::path::Path, min_keys: u64) -> LocalStore {
    let opts = StoreOptions {
        apply_cache_bytes: 0,
        key_filter_min_keys: min_keys,
        ..StoreOptions::default()
    };
    LocalStore::open(dir, &opts).unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("n/dir/node-{i:08}").into_bytes()
}

/// Commits keys `range` in batches of 500; returns the next cursor.
fn write(
    store: &mut LocalStore,
    p: &Partition,
    range: std::ops::Range<u32>,
    mut cursor: u64,
) -> u64 {
    let keys: Vec<u32> = range.collect();
    for chunk in keys.chunks(500) {
        let mut txn = store.begin();
        for &i in chunk {
            txn.put(p, key(i), i.to_be_bytes().to_vec());
        }
        cursor += 1;
        txn.commit(cursor).unwrap();
    }
    cursor
}

/// Every key in `present` reads back with its value; every key in `absent` reads as absent.
fn check(
    store: &mut LocalStore,
    p: &Partition,
    present: std::ops::Range<u32>,
    absent: std::ops::Range<u32>,
) {
    let txn = store.begin();
    for i in present {
        assert_eq!(
            txn.get(p, &key(i)).unwrap(),
            Some(i.to_be_bytes().to_vec()),
            "key {i} was hidden"
        );
    }
    for i in absent {
        assert_eq!(txn.get(p, &key(i)).unwrap(), None, "key {i} appeared");
    }
}

fn wait_ready(store: &LocalStore, min_capacity: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(c) = store.key_filter_capacity()
            && c >= min_capacity
        {
            return c;
        }
        assert!(Instant::now() < deadline, "the key filter never got ready");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn keys_stored_before_a_reopen_and_after_it_are_never_hidden() {
    let dir = tempdir().unwrap();
    let cursor = {
        let mut store = open(dir.path(), 1024);
        let p = store.partition("p").unwrap();
        // More than the scan reads through one iterator (it re-seeks every 65,536 keys).
        let c = write(&mut store, &p, 0..150_000, 0);
        store.close().unwrap();
        c
    };
    let mut store = open(dir.path(), 1024);
    let p = store.partition("p").unwrap();
    // Committed while the scan may still be running.
    let cursor = write(&mut store, &p, 150_000..151_000, cursor);
    wait_ready(&store, 1);
    let cursor = write(&mut store, &p, 151_000..152_000, cursor);
    check(&mut store, &p, 0..152_000, 152_000..162_000);
    // A deleted key reads as absent (the filter may still say "maybe"; RocksDB answers).
    let mut txn = store.begin();
    txn.delete(&p, key(7));
    txn.commit(cursor + 1).unwrap();
    let txn = store.begin();
    assert_eq!(txn.get(&p, &key(7)).unwrap(), None);
    assert_eq!(
        txn.get(&p, &key(8)).unwrap(),
        Some(8u32.to_be_bytes().to_vec())
    );
}

#[test]
fn a_full_filter_is_replaced_without_hiding_a_key() {
    let dir = tempdir().unwrap();
    let mut store = open(dir.path(), 1024);
    let p = store.partition("p").unwrap();
    let first = wait_ready(&store, 1);
    assert_eq!(first, 1024);
    // Past its capacity: the next transactions start a bigger filter and keep committing while
    // its scan runs; the keys they commit must reach the new filter too.
    let mut cursor = 0;
    let mut written = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.key_filter_capacity().is_none_or(|c| c == first) {
        assert!(
            Instant::now() < deadline,
            "the full filter was never replaced"
        );
        cursor = write(&mut store, &p, written..written + 500, cursor);
        written += 500;
    }
    assert!(written > 1024);
    // Every key it held is still live: the store grows, so the new one has four times the room.
    let grown = store.key_filter_capacity().unwrap_or(0);
    assert!(
        grown >= 4 * first,
        "a full filter of live keys was replaced by one of {grown} keys"
    );
    write(&mut store, &p, written..written + 500, cursor);
    written += 500;
    check(&mut store, &p, 0..written, written..written + 10_000);
    // Reopened, the filter is planned for twice what is stored and finds every key.
    store.close().unwrap();
    let mut store = open(dir.path(), 1024);
    wait_ready(&store, 1);
    let p = store.partition("p").unwrap();
    check(&mut store, &p, 0..written, written..written + 10_000);
}
