//! The raft loglet among three replicas in one process, on real sockets and real files: appends
//! from every replica land once, in one order, readable on every replica; the tail is
//! linearizable; seal and trim are replicated; a majority carries on without its leader, and a
//! restarted replica catches up from its own files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use zoolog::cluster::{Cluster, ClusterConfig};
use zoolog::log::raft::{RaftLoglet, RaftLogletOptions, RaftLogletSpec};
use zoolog::log::{LogError, Loglet};

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn spec() -> RaftLogletSpec {
    RaftLogletSpec {
        group: "seg-1".into(),
        members: [1, 2, 3].into_iter().collect(),
        observers: Default::default(),
        addrs: Default::default(),
    }
}

async fn node(id: u64, addrs: &BTreeMap<u64, SocketAddr>, dir: &Path) -> (Cluster, RaftLoglet) {
    let mut cfg = ClusterConfig::new(id, "test", addrs[&id]);
    cfg.peers = addrs.iter().map(|(i, a)| (*i, a.to_string())).collect();
    let cluster = Cluster::start(cfg).await.unwrap();
    let opts = RaftLogletOptions {
        op_timeout: Duration::from_secs(10),
        ..RaftLogletOptions::default()
    };
    let l = RaftLoglet::open(cluster.clone(), dir.join(format!("n{id}")), spec(), opts)
        .await
        .unwrap();
    (cluster, l)
}

async fn wait_leader(ls: &[&RaftLoglet]) -> u64 {
    for _ in 0..200 {
        if let Some(l) = ls.iter().find_map(|l| l.leader()) {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no leader elected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_agree_and_survive_the_leader() {
    let tmp = tempfile::tempdir().unwrap();
    let addrs: BTreeMap<u64, SocketAddr> = (1..=3).map(|i| (i, free_addr())).collect();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(node(id, &addrs, tmp.path()).await);
    }
    let leader = wait_leader(&[&nodes[0].1, &nodes[1].1, &nodes[2].1]).await;

    // 300 appends from every replica at once. An append may fail with its outcome unknown
    // (a leader change under load); it is retried, so the log may hold a payload twice, but
    // every acknowledged position holds its payload on every replica.
    let mut tasks = Vec::new();
    for (i, (_, l)) in nodes.iter().enumerate() {
        for k in 0..300u32 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                let p = Bytes::from(format!("{i}-{k}"));
                let mut tries = 0;
                loop {
                    match l.append(p.clone()).await {
                        Ok(pos) => return (pos, p),
                        Err(LogError::Unavailable(why)) if tries < 5 => {
                            eprintln!("append {i}-{k} failed ({why}); retrying");
                            tries += 1;
                        }
                        Err(e) => panic!("append {i}-{k}: {e}"),
                    }
                }
            }));
        }
    }
    let mut acked = BTreeMap::new();
    for t in tasks {
        let (pos, p) = t.await.unwrap();
        assert!(acked.insert(pos, p).is_none(), "position {pos} given twice");
    }
    assert_eq!(acked.len(), 900);
    let total = {
        let (tail, _) = nodes[0].1.check_tail().await.unwrap();
        tail
    };
    assert!(
        total >= 900,
        "tail {total} covers every acknowledged append"
    );

    // Every replica: the tail covers every acknowledged append, and reads give the same log.
    let reference = nodes[0].1.read(0, total).await.unwrap();
    assert_eq!(reference.len() as u64, total, "positions are dense from 0");
    for (_, l) in &nodes {
        let (tail, sealed) = l.check_tail().await.unwrap();
        assert!(tail >= total && !sealed);
        let got = l.read(0, total).await.unwrap();
        assert_eq!(got, reference, "replicas hold the same log");
        for (pos, p) in &acked {
            assert_eq!(&got[*pos as usize].1, p, "acknowledged position {pos}");
        }
    }

    // The leader goes away; the other two elect another and carry on.
    let li = (leader - 1) as usize;
    let (c, l) = nodes.remove(li);
    l.close().await.unwrap();
    c.close();
    drop(l);
    let rest: Vec<&RaftLoglet> = nodes.iter().map(|(_, l)| l).collect();
    let mut new_leader = leader;
    for _ in 0..200 {
        if let Some(n) = rest
            .iter()
            .find_map(|l| l.leader())
            .filter(|n| *n != leader)
        {
            new_leader = n;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(new_leader, leader, "the majority elected a new leader");
    let pos = rest[0].append(Bytes::from_static(b"after")).await.unwrap();
    assert_eq!(pos, 900);
    let pos = rest[1]
        .append(Bytes::from_static(b"after-2"))
        .await
        .unwrap();
    assert_eq!(pos, 901);

    // The old leader restarts from its files and catches up.
    let (c3, l3) = node(leader, &addrs, tmp.path()).await;
    let (tail, _) = l3.check_tail().await.unwrap();
    assert!(tail >= total + 2);
    let got = l3.read(total - 2, total + 2).await.unwrap();
    let texts: Vec<&[u8]> = got.iter().map(|(_, p)| p.as_ref()).collect();
    assert_eq!(&texts[2..], &[b"after".as_ref(), b"after-2".as_ref()]);

    // Trim is replicated; seal too, and nothing appended after it is visible.
    rest[0].prefix_trim(500).await.unwrap();
    rest[0].seal().await.unwrap();
    assert!(matches!(
        l3.append(Bytes::from_static(b"late")).await,
        Err(LogError::Sealed)
    ));
    for l in [rest[0], rest[1], &l3] {
        let (tail, sealed) = l.check_tail().await.unwrap();
        assert_eq!((tail, sealed), (total + 2, true));
        assert!(matches!(l.read(0, 10).await, Err(LogError::Trimmed { .. })));
        assert_eq!(
            l.read(500, total + 2).await.unwrap().len() as u64,
            total + 2 - 500
        );
    }
    l3.close().await.unwrap();
    c3.close();
    for (c, l) in nodes {
        l.close().await.unwrap();
        c.close();
    }
}
