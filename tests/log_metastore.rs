//! MetaStore: conditional writes, conflicts, racing writers, atomic replace across reopen.

use std::sync::Arc;

use bytes::Bytes;
use zoolog::log::{LocalMetaStore, LogError, MemMetaStore, MetaStore};

async fn conditional_semantics(m: &dyn MetaStore) {
    assert_eq!(m.read().await.unwrap(), (0, None));
    assert_eq!(m.write(0, Bytes::from_static(b"one")).await.unwrap(), 1);
    assert_eq!(
        m.read().await.unwrap(),
        (1, Some(Bytes::from_static(b"one")))
    );
    match m.write(0, Bytes::from_static(b"stale")).await {
        Err(LogError::VersionConflict {
            expected: 0,
            actual: 1,
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        m.write(5, Bytes::from_static(b"future")).await,
        Err(LogError::VersionConflict { .. })
    ));
    assert_eq!(
        m.read().await.unwrap(),
        (1, Some(Bytes::from_static(b"one")))
    );
    assert_eq!(m.write(1, Bytes::from_static(b"two")).await.unwrap(), 2);
    assert_eq!(m.write(2, Bytes::new()).await.unwrap(), 3);
    assert_eq!(m.read().await.unwrap(), (3, Some(Bytes::new())));
}

#[tokio::test]
async fn mem_metastore_conditional_writes() {
    conditional_semantics(&MemMetaStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_metastore_conditional_writes_and_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sub/dir/meta");
    conditional_semantics(&LocalMetaStore::open(&path).unwrap()).await;
    // A new handle (a restarted process) sees the last write.
    let again = LocalMetaStore::open(&path).unwrap();
    assert_eq!(again.read().await.unwrap(), (3, Some(Bytes::new())));
    assert_eq!(
        again.write(3, Bytes::from_static(b"four")).await.unwrap(),
        4
    );
    drop(again);
    let third = LocalMetaStore::open(&path).unwrap();
    assert_eq!(
        third.read().await.unwrap(),
        (4, Some(Bytes::from_static(b"four")))
    );
    // No temp file is left behind.
    assert!(!tmp.path().join("sub/dir/meta.tmp").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_metastore_ignores_a_torn_replacement() {
    // A crash while writing the temp file leaves the register as it was.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("meta");
    let m = LocalMetaStore::open(&path).unwrap();
    m.write(0, Bytes::from_static(b"committed")).await.unwrap();
    std::fs::write(tmp.path().join("meta.tmp"), b"ZLMS\x01garbage").unwrap();
    let m = LocalMetaStore::open(&path).unwrap();
    assert_eq!(
        m.read().await.unwrap(),
        (1, Some(Bytes::from_static(b"committed")))
    );
    assert_eq!(m.write(1, Bytes::from_static(b"next")).await.unwrap(), 2);
    assert_eq!(
        m.read().await.unwrap(),
        (2, Some(Bytes::from_static(b"next")))
    );
    // A damaged register is an error, not an empty register.
    let mut data = std::fs::read(&path).unwrap();
    data[7] ^= 0xff;
    std::fs::write(&path, data).unwrap();
    assert!(matches!(m.read().await, Err(LogError::Corrupt { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_one_winner_per_version() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("meta");
    for m in [
        Arc::new(MemMetaStore::new()) as Arc<dyn MetaStore>,
        Arc::new(LocalMetaStore::open(&path).unwrap()) as Arc<dyn MetaStore>,
    ] {
        // Several handles racing for each version, as separate clients would.
        let mut wins_per_round = Vec::new();
        for round in 0..5u64 {
            let (v, _) = m.read().await.unwrap();
            let mut racers = Vec::new();
            for k in 0..6u64 {
                let m = m.clone();
                racers.push(tokio::spawn(async move {
                    m.write(v, Bytes::from(format!("round{round}-writer{k}")))
                        .await
                }));
            }
            let mut wins = 0;
            for r in racers {
                match r.await.unwrap() {
                    Ok(new) => {
                        assert_eq!(new, v + 1);
                        wins += 1;
                    }
                    Err(LogError::VersionConflict { expected, .. }) => assert_eq!(expected, v),
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            wins_per_round.push(wins);
            let (nv, val) = m.read().await.unwrap();
            assert_eq!(nv, v + 1);
            assert!(
                val.unwrap()
                    .starts_with(format!("round{round}-").as_bytes())
            );
        }
        assert_eq!(wins_per_round, vec![1; 5]);
    }
    // Separate LocalMetaStore handles on one file (each takes the file lock) race too.
    let a = LocalMetaStore::open(&path).unwrap();
    let b = LocalMetaStore::open(&path).unwrap();
    let (v, _) = a.read().await.unwrap();
    let (ra, rb) = tokio::join!(
        a.write(v, Bytes::from_static(b"a")),
        b.write(v, Bytes::from_static(b"b"))
    );
    assert_eq!(u32::from(ra.is_ok()) + u32::from(rb.is_ok()), 1);
}
