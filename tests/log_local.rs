//! `LocalLoglet` on real files: torn and corrupt tails, segment roll and trim, durable seal and
//! trim point, the directory lock, and group commit (fsync counts).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use zoolog::log::{LocalLoglet, LocalLogletOptions, LogError, Loglet};

fn entry(i: u64) -> Bytes {
    Bytes::from(format!("payload-{i:06}-{}", "x".repeat((i % 17) as usize)))
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".log"))
        })
        .collect();
    v.sort();
    v
}

fn small_segments() -> LocalLogletOptions {
    LocalLogletOptions {
        segment_bytes: 1000,
        ..LocalLogletOptions::default()
    }
}

async fn fill(l: &LocalLoglet, range: std::ops::Range<u64>) {
    for i in range {
        assert_eq!(l.append(entry(i)).await.unwrap(), i);
    }
}

async fn check_all(l: &LocalLoglet, from: u64, to: u64) {
    let got = l.read(from, to).await.unwrap();
    assert_eq!(got.len() as u64, to - from);
    for (k, (pos, b)) in got.into_iter().enumerate() {
        assert_eq!(pos, from + k as u64);
        assert_eq!(b, entry(pos), "payload at {pos}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_tail_is_cut_on_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    for opts in [LocalLogletOptions::default(), small_segments()] {
        let _ = std::fs::remove_dir_all(&dir);
        {
            let l = LocalLoglet::open(&dir, opts.clone()).await.unwrap();
            fill(&l, 0..100).await;
        }
        // Cut the last record in the middle of its payload.
        let last = segment_files(&dir).pop().unwrap();
        let len = std::fs::metadata(&last).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        {
            let l = LocalLoglet::open(&dir, opts.clone()).await.unwrap();
            assert_eq!(l.check_tail().await.unwrap(), (99, false));
            check_all(&l, 0, 99).await;
            assert_eq!(l.append(entry(99)).await.unwrap(), 99);
            fill(&l, 100..110).await;
            check_all(&l, 0, 110).await;
        }
        // Cut inside the header of the last record (a few bytes of it remain).
        let last = segment_files(&dir).pop().unwrap();
        let len = std::fs::metadata(&last).unwrap().len();
        let framed_last = 16 + entry(109).len() as u64;
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(len - framed_last + 7)
            .unwrap();
        {
            let l = LocalLoglet::open(&dir, opts.clone()).await.unwrap();
            assert_eq!(l.check_tail().await.unwrap(), (109, false));
            check_all(&l, 0, 109).await;
            fill(&l, 109..120).await;
        }
        let l = LocalLoglet::open(&dir, opts.clone()).await.unwrap();
        assert_eq!(l.check_tail().await.unwrap(), (120, false));
        check_all(&l, 0, 120).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_last_record_is_cut_on_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    {
        let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
            .await
            .unwrap();
        fill(&l, 0..50).await;
    }
    let last = segment_files(&dir).pop().unwrap();
    let mut data = std::fs::read(&last).unwrap();
    let n = data.len();
    data[n - 3] ^= 0x5a; // a byte in the payload of record 49
    std::fs::write(&last, &data).unwrap();
    {
        let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
            .await
            .unwrap();
        assert_eq!(l.check_tail().await.unwrap(), (49, false));
        check_all(&l, 0, 49).await;
        assert_eq!(l.append(entry(49)).await.unwrap(), 49);
        fill(&l, 50..60).await;
    }
    // The file was truncated at the bad record, so the new records follow the good ones.
    let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
        .await
        .unwrap();
    assert_eq!(l.check_tail().await.unwrap(), (60, false));
    check_all(&l, 0, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_filled_tail_is_cut_on_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    {
        let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
            .await
            .unwrap();
        fill(&l, 0..20).await;
    }
    let last = segment_files(&dir).pop().unwrap();
    let good_len = std::fs::metadata(&last).unwrap().len();
    OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all(&[0u8; 4096])
        .unwrap();
    let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
        .await
        .unwrap();
    assert_eq!(l.check_tail().await.unwrap(), (20, false));
    assert_eq!(std::fs::metadata(&last).unwrap().len(), good_len);
    fill(&l, 20..25).await;
    check_all(&l, 0, 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_in_a_sealed_segment_is_reported_not_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    {
        let l = LocalLoglet::open(&dir, small_segments()).await.unwrap();
        fill(&l, 0..100).await;
    }
    let first = segment_files(&dir).remove(0);
    let mut data = std::fs::read(&first).unwrap();
    data[20] ^= 1;
    std::fs::write(&first, &data).unwrap();
    let l = LocalLoglet::open(&dir, small_segments()).await.unwrap();
    assert_eq!(l.check_tail().await.unwrap(), (100, false));
    assert!(matches!(l.read(0, 5).await, Err(LogError::Corrupt { .. })));
    // Other segments are still readable.
    check_all(&l, 60, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_roll_and_prefix_trim_deletes_whole_files_durably() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let l = LocalLoglet::open(&dir, small_segments()).await.unwrap();
    fill(&l, 0..300).await;
    let files = segment_files(&dir);
    assert!(files.len() >= 10, "{} segment files", files.len());
    assert_eq!(l.stats().segments, files.len());
    check_all(&l, 0, 300).await;
    // One-at-a-time sequential reads across every boundary.
    for i in 0..300 {
        assert_eq!(l.read(i, i + 1).await.unwrap(), vec![(i, entry(i))]);
    }

    l.prefix_trim(150).await.unwrap();
    let after = segment_files(&dir);
    assert!(after.len() < files.len());
    let first_start: u64 = after[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("seg-")
        .trim_end_matches(".log")
        .parse()
        .unwrap();
    assert!(first_start <= 150, "segment holding 150 was deleted");
    assert!(matches!(
        l.read(149, 151).await,
        Err(LogError::Trimmed {
            pos: 149,
            trim_point: 150
        })
    ));
    assert!(matches!(l.read(0, 1).await, Err(LogError::Trimmed { .. })));
    check_all(&l, 150, 300).await;
    drop(l);

    // The trim point survives a reopen; earlier segments are verified when first read.
    let l = LocalLoglet::open(&dir, small_segments()).await.unwrap();
    assert_eq!(l.stats().trim_point, 150);
    assert!(matches!(
        l.read(100, 200).await,
        Err(LogError::Trimmed { .. })
    ));
    check_all(&l, 150, 300).await;
    fill(&l, 300..320).await;
    l.prefix_trim(319).await.unwrap();
    assert_eq!(segment_files(&dir).len(), 1);
    check_all(&l, 319, 320).await;
    // Never past the tail.
    l.prefix_trim(10_000).await.unwrap();
    assert_eq!(l.stats().trim_point, 320);
    assert_eq!(l.append(entry(320)).await.unwrap(), 320);
    check_all(&l, 320, 321).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_is_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    {
        let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
            .await
            .unwrap();
        fill(&l, 0..10).await;
        l.seal().await.unwrap();
        assert!(matches!(l.append(entry(10)).await, Err(LogError::Sealed)));
    }
    let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
        .await
        .unwrap();
    assert_eq!(l.check_tail().await.unwrap(), (10, true));
    assert!(matches!(l.append(entry(10)).await, Err(LogError::Sealed)));
    l.seal().await.unwrap();
    check_all(&l, 0, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_has_one_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
        .await
        .unwrap();
    fill(&l, 0..3).await;
    assert!(matches!(
        LocalLoglet::open(&dir, LocalLogletOptions::default()).await,
        Err(LogError::Locked { .. })
    ));
    drop(l);
    let l = LocalLoglet::open(&dir, LocalLogletOptions::default())
        .await
        .unwrap();
    check_all(&l, 0, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_entries_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let l = LocalLoglet::open(tmp.path().join("log"), LocalLogletOptions::default())
        .await
        .unwrap();
    let big = Bytes::from(vec![0u8; zoolog::log::MAX_ENTRY_BYTES + 1]);
    assert!(matches!(
        l.append(big).await,
        Err(LogError::EntryTooLarge { .. })
    ));
    assert_eq!(l.append(Bytes::new()).await.unwrap(), 0);
    assert_eq!(l.read(0, 1).await.unwrap(), vec![(0, Bytes::new())]);
}

async fn concurrent_appends(l: Arc<LocalLoglet>, tasks: u64, per_task: u64) -> Vec<(u64, Bytes)> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let l = l.clone();
        handles.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..per_task {
                let p = Bytes::from(format!("t{t}-{i}"));
                acked.push((l.append(p.clone()).await.unwrap(), p));
            }
            acked
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_shares_fsyncs() {
    let tmp = tempfile::tempdir().unwrap();
    let l = Arc::new(
        LocalLoglet::open(tmp.path().join("log"), LocalLogletOptions::default())
            .await
            .unwrap(),
    );
    let acked = concurrent_appends(l.clone(), 64, 40).await;
    let appends = acked.len() as u64;
    let fsyncs = l.fsync_count();
    eprintln!("group commit: {appends} appends, {fsyncs} fsyncs");
    assert!(
        fsyncs * 4 <= appends,
        "{fsyncs} fsyncs for {appends} appends"
    );
    let read = l.read(0, appends).await.unwrap();
    assert_eq!(read.len() as u64, appends);
    for (pos, p) in acked {
        assert_eq!(read[pos as usize].1, p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_disabled_is_one_fsync_per_append() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = LocalLogletOptions {
        max_batch: 1,
        ..LocalLogletOptions::default()
    };
    let l = Arc::new(
        LocalLoglet::open(tmp.path().join("log"), opts)
            .await
            .unwrap(),
    );
    let acked = concurrent_appends(l.clone(), 8, 25).await;
    assert_eq!(l.fsync_count(), acked.len() as u64);
}
