//! The ensemble under partitions (each node in its own network namespace): an isolated
//! participant acknowledges no write, its clients move to the other nodes and keep their
//! sessions, and after the heal it catches up; an isolated leader is replaced by the majority,
//! which keeps acknowledging writes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use zookeeper_client as zk;
use zoolog_nemesis::ensemble::{Ensemble, EnsembleConfig, Target};
use zoolog_nemesis::workload::connect_to;

const SESSION: Duration = Duration::from_secs(4);
const OP: Duration = Duration::from_secs(3);

/// Node `i` hears nobody, the others hear each other.
fn isolate(n: usize, i: usize) -> Vec<BTreeSet<usize>> {
    let rest: BTreeSet<usize> = (0..n).filter(|&j| j != i).collect();
    (0..n)
        .map(|j| {
            if j == i {
                BTreeSet::new()
            } else {
                rest.clone()
            }
        })
        .collect()
}

async fn client(cs: &str) -> zk::Client {
    // A node that just rejoined may refuse sessions for a moment: retry for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match connect_to(cs, SESSION, OP).await {
            Ok(c) => return c,
            Err(e) if Instant::now() > deadline => panic!("connect to {cs}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

async fn set(c: &zk::Client, path: &str, v: &str) -> Result<i32, String> {
    match tokio::time::timeout(OP, c.set_data(path, v.as_bytes(), None)).await {
        Ok(Ok(stat)) => Ok(stat.version),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

/// Writes through `c` for `d`; returns (acknowledged, tried).
async fn write_for(c: &zk::Client, path: &str, d: Duration, tag: &str) -> (usize, usize) {
    let end = Instant::now() + d;
    let (mut ok, mut tried) = (0, 0);
    while Instant::now() < end {
        tried += 1;
        if set(c, path, &format!("{tag}-{tried}")).await.is_ok() {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (ok, tried)
}

/// Every node's digest at one applied position, within `timeout`.
async fn digests_agree(e: &Ensemble, timeout: Duration) -> Result<String, String> {
    let end = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < end {
        let ds: Vec<String> = (0..e.len())
            .filter_map(|i| e.digest(i).ok().flatten())
            .collect();
        if ds.len() == e.len() && ds.iter().all(|d| d == &ds[0]) {
            return Ok(ds[0].clone());
        }
        last = ds.join(" | ");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(last)
}

async fn read_on(e: &Ensemble, i: usize, path: &str) -> (Vec<u8>, i32) {
    let c = client(&e.client_addr(i).to_string()).await;
    tokio::time::timeout(OP, c.sync(path))
        .await
        .expect("sync in time")
        .expect("sync");
    let (data, stat) = tokio::time::timeout(OP, c.get_data(path))
        .await
        .expect("read in time")
        .expect("read");
    (data, stat.version)
}

/// Node `i` reads (sync first) what every other node reads, at `last` or later.
async fn assert_caught_up(e: &Ensemble, i: usize, path: &str, last: i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mine = read_on(e, i, path).await;
        let mut others = Vec::new();
        for j in (0..e.len()).filter(|&j| j != i) {
            others.push(read_on(e, j, path).await);
        }
        let agree = others.iter().all(|o| *o == mine) && mine.1 >= last;
        eprintln!(
            "partition test: node {i} reads v{} ({}), others {:?}, last acknowledged v{last}",
            mine.1,
            String::from_utf8_lossy(&mine.0),
            others.iter().map(|o| o.1).collect::<Vec<_>>()
        );
        if agree {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "node {i} did not catch up after the heal: it reads {:?} v{}, the others {:?} \
                 (last acknowledged write: version {last})",
                String::from_utf8_lossy(&mine.0),
                mine.1,
                others
                    .iter()
                    .map(|(d, v)| format!("{} v{v}", String::from_utf8_lossy(d)))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_participant_and_isolated_leader() {
    let binary = zoolog_nemesis::default_zoolog_binary();
    if !binary.is_file() {
        println!(
            "skipping: no zoolog binary at {} (cargo build --bin zoolog)",
            binary.display()
        );
        return;
    }
    let cfg = EnsembleConfig::new(Target::Zoolog { binary }, 3);
    let mut e = Ensemble::start(cfg, Duration::from_secs(120))
        .await
        .expect("ensemble starts");
    if !e.can_partition() {
        println!("skipping: network namespaces are not available here (needs root and ip netns)");
        return;
    }
    let n = e.len();
    let path = "/partition";
    let setup = client(&e.connect_string()).await;
    match setup
        .create(
            path,
            b"0",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
    {
        Ok(_) | Err(zk::Error::NodeExists) => {}
        Err(err) => panic!("create {path}: {err}"),
    }

    // 1. Isolate a follower.
    let leader = e
        .wait_quorum(Duration::from_secs(60))
        .await
        .expect("quorum");
    let f = (0..n).find(|&i| i != leader).expect("a follower");
    eprintln!("partition test: leader {leader}; isolating follower {f}");
    let alone = client(&e.client_addr(f).to_string()).await;
    let mover = client(&e.connect_string_from(f)).await;
    let majority_cs = (0..n)
        .filter(|&i| i != f)
        .map(|i| e.client_addr(i).to_string())
        .collect::<Vec<_>>()
        .join(",");
    let majority = client(&majority_cs).await;
    set(&mover, path, "before")
        .await
        .expect("a write before the partition");
    let mover_session = mover.session_id();
    e.partition(&isolate(n, f)).expect("partition");
    let (alone_ok, alone_tried) = write_for(&alone, path, Duration::from_secs(6), "alone").await;
    assert_eq!(
        alone_ok, 0,
        "node {f}, cut off from the majority, acknowledged {alone_ok} of {alone_tried} writes"
    );
    let (maj_ok, _) = write_for(&majority, path, Duration::from_secs(2), "majority").await;
    assert!(
        maj_ok > 0,
        "the majority acknowledged no write while node {f} was cut off"
    );
    // The client that was on node f moves to another node with its session.
    let deadline = Instant::now() + Duration::from_secs(25);
    let moved = loop {
        if set(&mover, path, "moved").await.is_ok() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        moved,
        "the client of isolated node {f} did not get a write through another node"
    );
    assert_eq!(
        mover.session_id(),
        mover_session,
        "the moved client lost its session"
    );
    eprintln!("partition test: healing node {f}");
    e.heal_network().expect("heal");
    e.wait_quorum(Duration::from_secs(60))
        .await
        .expect("quorum after heal");
    // Writes the cut-off node took but could not acknowledge may still be applied after the
    // heal (their outcome was unknown to the client): compare the replicas with each other.
    drop(alone);
    let last = set(&majority, path, "after-heal-1")
        .await
        .expect("write after heal");
    assert_caught_up(&e, f, path, last).await;
    if let Err(d) = digests_agree(&e, Duration::from_secs(20)).await {
        panic!("replicas disagree after the heal: {d}");
    }

    // 2. Isolate the leader.
    let old = e
        .wait_quorum(Duration::from_secs(60))
        .await
        .expect("quorum");
    let on_old = client(&e.client_addr(old).to_string()).await;
    let rest: Vec<usize> = (0..n).filter(|&i| i != old).collect();
    let rest_cs = rest
        .iter()
        .map(|&i| e.client_addr(i).to_string())
        .collect::<Vec<_>>()
        .join(",");
    let on_rest = client(&rest_cs).await;
    eprintln!("partition test: isolating leader {old}");
    e.partition(&isolate(n, old)).expect("partition the leader");
    let isolated_writes = tokio::spawn({
        let c = on_old.clone();
        async move { write_for(&c, path, Duration::from_secs(8), "old-leader").await }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let new_leader = loop {
        let mut leaders = Vec::new();
        for &i in &rest {
            if e.mode(i).await.as_deref() == Some("leader") {
                leaders.push(i);
            }
        }
        if leaders.len() == 1 {
            break Some(leaders[0]);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let new_leader = new_leader.unwrap_or_else(|| {
        panic!(
            "the majority {rest:?} elected no leader within 30 s of cutting off leader {old}\n{}",
            e.log_tails(20)
        )
    });
    assert_ne!(new_leader, old);
    let (rest_ok, rest_tried) =
        write_for(&on_rest, path, Duration::from_secs(4), "new-leader").await;
    assert!(
        rest_ok > 0,
        "the majority with new leader {new_leader} acknowledged none of {rest_tried} writes"
    );
    let (old_ok, old_tried) = isolated_writes.await.expect("writer task");
    assert_eq!(
        old_ok, 0,
        "the cut-off old leader {old} acknowledged {old_ok} of {old_tried} writes"
    );
    e.heal_network().expect("heal");
    e.wait_quorum(Duration::from_secs(60))
        .await
        .expect("quorum after heal");
    drop(on_old);
    let last = set(&on_rest, path, "after-heal-2")
        .await
        .expect("write after heal");
    assert_caught_up(&e, old, path, last).await;
    if let Err(d) = digests_agree(&e, Duration::from_secs(20)).await {
        panic!("replicas disagree after the heal: {d}");
    }
}
