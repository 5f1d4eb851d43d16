//! A zoolog ensemble of real processes (3 participants, 1 observer) driven by the Rust
//! ZooKeeper client: every role killed with SIGKILL under a write load loses no acknowledged
//! write and the replicas' states agree; a session moves to another server with its
//! ephemerals; a node cut off from the majority stops serving and comes back.

mod ensemble_proc;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ensemble_proc::{Ensemble, connect};
use zookeeper_client as zk;

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn ephemeral() -> zk::CreateOptions<'static> {
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all())
}

/// Keeps creating `/w/<name>-<i>` until `stop`; returns the paths acknowledged.
async fn writer(
    hosts: String,
    name: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let c = connect(&hosts, Duration::from_secs(10)).await;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let p = format!("/w/{name}-{i:06}");
        match c.create(&p, b"x", &open()).await {
            Ok(_) => {
                acked.lock().unwrap().push(p);
                i += 1;
            }
            // Written before the connection was lost: acknowledged by the server, not seen.
            Err(zk::Error::NodeExists) => i += 1,
            Err(e) => {
                if std::env::var_os("ZOOLOG_TEST_KEEP").is_some() {
                    eprintln!("{:?} writer {name}: {p}: {e}", std::time::SystemTime::now());
                }
                tokio::time::sleep(Duration::from_millis(20)).await
            }
        }
    }
}

/// The paths under `/w` as node `id` alone has them, after a sync.
async fn synced_children(e: &Ensemble, id: u64) -> BTreeSet<String> {
    let c = connect(
        &format!("127.0.0.1:{}", e.member(id).client_port),
        Duration::from_secs(10),
    )
    .await;
    c.sync("/w").await.expect("sync");
    c.list_children("/w")
        .await
        .expect("children")
        .into_iter()
        .map(|n| format!("/w/{n}"))
        .collect()
}

fn count(acked: &Mutex<Vec<String>>) -> usize {
    acked.lock().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_role_killed_under_writes_loses_no_acknowledged_write() {
    let mut e = Ensemble::start(3, 1, "");
    let all = e.connect_string();
    let setup = connect(&all, Duration::from_secs(10)).await;
    setup.create("/w", b"", &open()).await.expect("create /w");
    drop(setup);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for m in &e.members {
        // One writer starts on each node; all of them may move anywhere.
        let first = format!("127.0.0.1:{}", m.client_port);
        let hosts = format!("{first},{all}");
        writers.push(tokio::spawn(writer(
            hosts,
            format!("c{}", m.id),
            stop.clone(),
            acked.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let leader = e.leader(Duration::from_secs(10));
    let follower = (1..=3).find(|i| *i != leader).expect("a follower");
    let observer = 4;
    for (role, id) in [
        ("leader", leader),
        ("follower", follower),
        ("observer", observer),
    ] {
        let before = count(&acked);
        e.kill9(id);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let during = count(&acked);
        assert!(
            during > before,
            "writes go on while the {role} (node {id}) is down: {before} -> {during}"
        );
        e.restart(id);
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );

    // Every acknowledged write is on every replica, read from that replica alone after a sync.
    for m in &e.members {
        let children = synced_children(&e, m.id).await;
        let missing: Vec<&String> = acked.difference(&children).collect();
        assert!(
            missing.is_empty(),
            "node {} lacks {} acknowledged writes, e.g. {:?}",
            m.id,
            missing.len(),
            &missing[..missing.len().min(3)]
        );
    }
    let digests = e.settled_digests(Duration::from_secs(20));
    assert!(
        digests
            .windows(2)
            .all(|w| w[0].1 == w[1].1 && w[0].2 == w[1].2),
        "replicas disagree: {digests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_moves_to_another_server_with_its_ephemerals() {
    let mut e = Ensemble::start(3, 0, "");
    let n1 = format!("127.0.0.1:{}", e.member(1).client_port);
    let n2 = format!("127.0.0.1:{}", e.member(2).client_port);
    let n3 = format!("127.0.0.1:{}", e.member(3).client_port);
    let timeout = Duration::from_secs(4);
    let a = connect(&n1, timeout).await;
    // The membership, as a ZooKeeper 3.8 quorum peer shows it.
    let expected: String = e
        .members
        .iter()
        .map(|m| {
            format!(
                "server.{}=127.0.0.1:{}:{}:participant;127.0.0.1:{}\n",
                m.id, m.quorum_port, m.election_port, m.client_port
            )
        })
        .collect::<String>()
        + "version=0";
    let (config, stat) = a.get_data("/zookeeper/config").await.expect("config");
    assert_eq!(String::from_utf8_lossy(&config), expected);
    assert_eq!(stat.version, -1);
    let conf = ensemble_proc::four_letter_word(e.member(2).client_addr(), "conf").expect("conf");
    assert!(
        conf.contains("serverId=2\n") && conf.contains(&format!("membership: \n{expected}")),
        "{conf}"
    );
    a.create("/eph", b"a", &ephemeral())
        .await
        .expect("ephemeral");
    let session = a.session().clone();
    let id = a.session_id();
    // Its server dies; the client comes back on another one with its session id and password.
    e.kill9(1);
    let b = zk::Client::connector()
        .with_session(session)
        .with_session_timeout(timeout)
        .connect(&n2)
        .await
        .expect("resume the session on node 2");
    assert_eq!(b.session_id(), id, "the same session");
    let (data, stat) = b.get_data("/eph").await.expect("its ephemeral is there");
    assert_eq!(data, b"a");
    assert_eq!(stat.ephemeral_owner, id.0);
    b.create("/eph2", b"b", &ephemeral())
        .await
        .expect("another ephemeral");
    // Node 1 comes back; it no longer times the session, which node 2 now serves: the session
    // outlives several timeouts while its client pings node 2.
    e.restart(1);
    tokio::time::sleep(timeout * 3).await;
    let watcher = connect(&n3, timeout).await;
    watcher.sync("/").await.expect("sync");
    assert!(
        watcher.check_stat("/eph").await.expect("stat").is_some(),
        "session kept"
    );
    // Closed on node 2: its ephemerals are gone everywhere.
    drop(b);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        watcher.sync("/").await.expect("sync");
        let gone = watcher.check_stat("/eph").await.expect("stat").is_none()
            && watcher.check_stat("/eph2").await.expect("stat").is_none();
        if gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ephemerals outlived their session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_cut_off_from_the_majority_stops_serving_until_it_is_back() {
    let e = Ensemble::start(3, 0, "");
    let n1 = e.member(1).client_addr();
    // Garbage on a quorum port is refused; the node carries on.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", e.member(1).quorum_port))
            .expect("quorum port");
        let _ = s.write_all(&[0xab; 8192]);
    }
    let c = connect(&n1.to_string(), Duration::from_secs(10)).await;
    c.create("/before", b"", &open())
        .await
        .expect("write before the cut");
    let (watch_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut state = c.state_watcher();
    tokio::spawn(async move {
        loop {
            let s = state.changed().await;
            let _ = watch_tx.send(s);
            if s.is_terminated() {
                return;
            }
        }
    });
    // Nodes 2 and 3 stop answering: node 1 is alone.
    let cut = Instant::now();
    e.signal(2, "STOP");
    e.signal(3, "STOP");
    let disconnected = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(s) = events.recv().await {
            if s == zk::SessionState::Disconnected {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let took = cut.elapsed();
    assert!(disconnected, "node 1 kept its client while cut off");
    // syncLimit=5 ticks of 200 ms, plus a check interval and a ping round.
    assert!(
        took < Duration::from_secs(4),
        "took {took:?} to stop serving"
    );
    let refused = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(4))
        .with_connection_timeout(Duration::from_millis(1500))
        .connect(&n1.to_string())
        .await;
    assert!(refused.is_err(), "a cut-off node accepted a new session");
    e.signal(2, "CONT");
    e.signal(3, "CONT");
    // Back in touch: it serves again, and the old session (not expired meanwhile) reconnects.
    let c2 = connect(&n1.to_string(), Duration::from_secs(10)).await;
    c2.create("/after", b"", &open())
        .await
        .expect("write after the heal");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match c.create("/after-old", b"", &open()).await {
            Ok(_) => break,
            Err(err) => {
                assert!(
                    Instant::now() < deadline,
                    "old session never came back: {err}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The log is trimmed below every replica's durable position, and for a replica that is down,
/// only within `zoolog.ensemble.retainEntries`: one down while the log moved further comes back
/// from a peer's checkpoint, with every acknowledged write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_down_past_the_retention_comes_back_from_a_checkpoint() {
    let mut e = Ensemble::start(
        3,
        0,
        "zoolog.log.trimIntervalMs=200\nzoolog.ensemble.retainEntries=50\n",
    );
    let all = e.connect_string();
    let c = connect(&all, Duration::from_secs(10)).await;
    c.create("/w", b"", &open()).await.expect("create /w");
    let mut acked = BTreeSet::new();
    let write = async |n: usize, acked: &mut BTreeSet<String>| {
        for _ in 0..n {
            let p = format!("/w/k-{:06}", acked.len());
            c.create(&p, b"x", &open()).await.expect("create");
            acked.insert(p);
        }
    };
    write(50, &mut acked).await;
    let leader = e.leader(Duration::from_secs(10));
    let down = (1..=3).find(|i| *i != leader).expect("a follower");
    e.kill9(down);
    write(400, &mut acked).await;
    // The leader trims within a few rounds (flush every second, trim every 200 ms).
    tokio::time::sleep(Duration::from_secs(3)).await;
    e.restart(down);
    let log = e.log_tail(down, 400);
    assert!(
        log.contains("needs a checkpoint") && log.contains("checkpoint in place"),
        "node {down} should have come back from a checkpoint:\n{log}"
    );
    let children = synced_children(&e, down).await;
    assert_eq!(children, acked, "node {down} has every acknowledged write");
    let digests = e.settled_digests(Duration::from_secs(20));
    assert!(
        digests
            .windows(2)
            .all(|w| w[0].1 == w[1].1 && w[0].2 == w[1].2),
        "replicas disagree: {digests:?}"
    );
}
