//! ZooKeeper's `reconfig` (op 16) on a zoolog ensemble of real processes, through the Rust
//! client's `update_ensemble`: one node grows to three (each new node started with the servers
//! before it and itself, as ZooKeeper's joiners are, and rebuilt from a peer's checkpoint), then
//! shrinks to two, while a client writes; the client sees no error beyond a connection loss,
//! every acknowledged write is on the remaining nodes and their state digests agree. A removed
//! node stops serving. A server that is not running cannot be added (`NEWCONFIGNOQUORUM`).

mod ensemble_proc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ensemble_proc::{Ensemble, four_letter_word};

async fn connect(hosts: &str) -> zk::Client {
    ensemble_proc::connect(hosts, Duration::from_secs(10)).await
}
use zookeeper_client as zk;

const EXTRA: &str = "standaloneEnabled=false\nreconfigEnabled=true\nskipACL=yes\n";

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// What the writer saw.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    /// Errors other than a lost connection (and what follows it).
    failures: Vec<String>,
}

async fn writer(hosts: String, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let c = connect(&hosts).await;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let p = format!("/w/k-{i:06}");
        match c.create(&p, b"x", &open()).await {
            Ok(_) => {
                seen.lock().unwrap().acked.push(p);
                i += 1;
            }
            // Written before the connection was lost: acknowledged, not seen.
            Err(zk::Error::NodeExists) => i += 1,
            Err(zk::Error::ConnectionLoss) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                seen.lock().unwrap().failures.push(format!("{p}: {e}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The servers listed in `/zookeeper/config`.
fn servers_in(config: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(config)
        .lines()
        .filter_map(|l| l.strip_prefix("server."))
        .filter_map(|l| l.split('=').next()?.parse().ok())
        .collect()
}

/// Reconfigures through `c`, retrying while the ensemble is still taking the previous change.
async fn reconfig(c: &zk::Client, join: &[&str], leave: &[&str]) -> (Vec<u8>, zk::Stat) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let update = zk::EnsembleUpdate::Incremental {
            joinings: join.iter().copied(),
            leavings: leave.iter().copied(),
        };
        // (an empty list goes on the wire as an empty string, which zoolog reads as none)
        match c.update_ensemble(update, None).await {
            Ok(r) => return r,
            // RECONFIGINPROGRESS (-14), NEWCONFIGNOQUORUM (-13): the client has no names for them.
            Err(e @ zk::Error::UnexpectedErrorCode(-14 | -13)) if Instant::now() < deadline => {
                eprintln!("reconfig: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("reconfig {join:?} -{leave:?}: {e}"),
        }
    }
}

/// Waits until node `id` serves clients (a joiner does once it is added and caught up).
fn wait_serving(e: &Ensemble, id: u64, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(m) = e.mode(id)
            && m != "standalone"
            && four_letter_word(e.member(id).client_addr(), "ruok").is_ok_and(|r| r == "imok")
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("node {id} did not serve:\n{}", e.log_tail(id, 60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grow_one_to_three_then_shrink_to_two_under_writes() {
    let mut e = Ensemble::prepare(3, 0);
    e.write_config(1, &[1], EXTRA);
    e.launch(1);
    e.wait_serving(1, Duration::from_secs(60));
    let all = e.connect_string();
    let admin = connect(&format!("127.0.0.1:{}", e.member(1).client_port)).await;
    admin.create("/w", b"", &open()).await.expect("create /w");

    // A server that is not running cannot be added: no quorum in the new configuration.
    let two = format!("server.2={}", e.server_value(2));
    let update = zk::EnsembleUpdate::Incremental {
        joinings: vec![two.as_str()].into_iter(),
        leavings: Vec::new().into_iter(),
    };
    assert_eq!(
        admin.update_ensemble(update, None).await.err(),
        Some(zk::Error::UnexpectedErrorCode(-13)),
        "NEWCONFIGNOQUORUM"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let w = tokio::spawn(writer(all.clone(), stop.clone(), seen.clone()));
    let acked = || seen.lock().unwrap().acked.len();
    let wait_more = |n: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked() < n + 20 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    wait_more(0).await;

    // 1 → 2 → 3: each joiner lists the servers before it and itself.
    for id in [2u64, 3] {
        let listed: Vec<u64> = (1..=id).collect();
        e.write_config(id, &listed, EXTRA);
        e.launch(id);
        let spec = format!("server.{id}={}", e.server_value(id));
        let started = Instant::now();
        let (config, stat) = reconfig(&admin, &[spec.as_str()], &[]).await;
        assert_eq!(
            servers_in(&config),
            listed,
            "{}",
            String::from_utf8_lossy(&config)
        );
        assert_eq!(stat.version, -1);
        assert!(
            String::from_utf8_lossy(&config).ends_with(&format!("version={:x}", stat.mzxid)),
            "the config's version is the reconfig's zxid"
        );
        wait_serving(&e, id, Duration::from_secs(60));
        eprintln!(
            "node {id} added and serving in {} ms",
            started.elapsed().as_millis()
        );
        wait_more(acked()).await;
    }
    let (config, _) = admin.get_config().await.expect("get_config");
    assert_eq!(servers_in(&config), vec![1, 2, 3]);
    // `conf` shows the membership as applied, though node 1's file lists only itself.
    let conf = four_letter_word(e.member(1).client_addr(), "conf").expect("conf");
    let shown = conf.split_once("membership: \n").map_or("", |(_, m)| m);
    assert_eq!(servers_in(shown.as_bytes()), vec![1, 2, 3], "{conf}");
    let modes: Vec<String> = (1..=3).filter_map(|id| e.mode(id)).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "one leader among {modes:?}"
    );

    // 3 → 2: the removed node stops serving.
    let (config, _) = reconfig(&admin, &[], &["3"]).await;
    assert_eq!(servers_in(&config), vec![1, 2]);
    let three = format!("127.0.0.1:{}", e.member(3).client_port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(2))
            .connect(&three);
        match tokio::time::timeout(Duration::from_secs(3), attempt).await {
            Ok(Ok(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Ok(Ok(_)) => panic!("the removed node 3 still takes sessions"),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    wait_more(acked()).await;

    stop.store(true, Ordering::Relaxed);
    w.await.expect("writer");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.failures.is_empty(),
        "failures beyond connection loss: {:?}",
        seen.failures
    );
    assert!(
        seen.acked.len() > 60,
        "writes went on: {}",
        seen.acked.len()
    );
    for id in [1u64, 2] {
        let c = connect(&format!("127.0.0.1:{}", e.member(id).client_port)).await;
        c.sync("/w").await.expect("sync");
        let (children, _) = c.get_children("/w").await.expect("children");
        let have: std::collections::BTreeSet<String> =
            children.into_iter().map(|n| format!("/w/{n}")).collect();
        let missing: Vec<&String> = seen.acked.iter().filter(|p| !have.contains(*p)).collect();
        assert!(
            missing.is_empty(),
            "node {id} lacks acknowledged {missing:?}"
        );
    }
    e.kill9(3);
    let digests = e.settled_digests(Duration::from_secs(20));
    assert!(
        digests
            .windows(2)
            .all(|w| w[0].1 == w[1].1 && w[0].2 == w[1].2),
        "digests differ: {digests:?}"
    );
    eprintln!(
        "{} writes acknowledged across 1 → 3 → 2; digests {digests:?}",
        seen.acked.len()
    );
}
