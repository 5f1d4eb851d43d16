//! The cluster transport on real sockets: calls between nodes, garbage and another ensemble's
//! node refused without harm, reconnect after a peer restarts, a stalled peer bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zoolog::cluster::{Cluster, ClusterConfig, ClusterError};

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn start(id: u64, ensemble: &str, addrs: &BTreeMap<u64, SocketAddr>) -> Cluster {
    let mut cfg = ClusterConfig::new(id, ensemble, addrs[&id]);
    cfg.peers = addrs.iter().map(|(i, a)| (*i, a.to_string())).collect();
    cfg.ping_interval = Duration::from_millis(100);
    // Few handlers at once: a stalled service makes the node stop reading (the bound below).
    cfg.max_concurrent_calls = 4;
    let c = Cluster::start(cfg).await.unwrap();
    c.register(
        "echo",
        Arc::new(move |from, p| {
            Box::pin(async move {
                let mut v = format!("{id}<-{from}:").into_bytes();
                v.extend_from_slice(&p);
                Ok(Bytes::from(v))
            })
        }),
    );
    c
}

const T: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_refusals_reconnects_and_bounds() {
    let addrs: BTreeMap<u64, SocketAddr> = (1..=2).map(|i| (i, free_addr())).collect();
    let a = start(1, "ens", &addrs).await;
    let b = start(2, "ens", &addrs).await;
    let got = a
        .call(2, "echo", Bytes::from_static(b"hi"), T)
        .await
        .unwrap();
    assert_eq!(&got[..], b"2<-1:hi");
    let got = b
        .call(1, "echo", Bytes::from_static(b"yo"), T)
        .await
        .unwrap();
    assert_eq!(&got[..], b"1<-2:yo");
    assert!(matches!(
        a.call(2, "nope", Bytes::new(), T).await,
        Err(ClusterError::Remote { .. })
    ));
    assert!(matches!(
        a.call(9, "echo", Bytes::new(), T).await,
        Err(ClusterError::UnknownPeer(9))
    ));

    // Garbage on the quorum port: that connection is closed, the node carries on.
    let mut s = tokio::net::TcpStream::connect(addrs[&2]).await.unwrap();
    s.write_all(&[0xde; 4096]).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the garbage connection is closed");
    // A node of another ensemble is refused.
    let mut stranger_addrs = BTreeMap::new();
    stranger_addrs.insert(3, free_addr());
    stranger_addrs.insert(2, addrs[&2]);
    let stranger = start(3, "other", &stranger_addrs).await;
    assert!(
        stranger
            .call(2, "echo", Bytes::new(), Duration::from_millis(500))
            .await
            .is_err()
    );
    stranger.close();
    assert!(
        a.call(2, "echo", Bytes::from_static(b"ok"), T)
            .await
            .is_ok()
    );

    // Node 2 restarts on the same address: node 1 reconnects by itself.
    b.close();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        a.call(2, "echo", Bytes::new(), Duration::from_millis(300))
            .await
            .is_err()
    );
    let b = start(2, "ens", &addrs).await;
    let got = a
        .call(2, "echo", Bytes::from_static(b"again"), T)
        .await
        .unwrap();
    assert_eq!(&got[..], b"2<-1:again");
    assert!(a.liveness().alive(2, Duration::from_secs(1)));

    // A peer whose handler never answers and whose socket fills: calls fail fast with
    // Backpressure once the queue is full instead of growing memory.
    b.register(
        "stall",
        Arc::new(|_, _| {
            Box::pin(async { futures::future::pending::<Result<Bytes, String>>().await })
        }),
    );
    let big = Bytes::from(vec![7u8; 1 << 20]);
    let mut pressure = false;
    let mut calls = Vec::new();
    for _ in 0..200 {
        let a = a.clone();
        let big = big.clone();
        calls.push(tokio::spawn(async move {
            a.call(2, "stall", big, Duration::from_secs(3)).await
        }));
    }
    for c in calls {
        if let Err(ClusterError::Backpressure { .. }) = c.await.unwrap() {
            pressure = true;
        }
    }
    assert!(
        pressure,
        "200 MiB of calls to one peer hit the 64 MiB queue bound"
    );
    assert!(a.queued(2) <= 64 << 20);
    a.close();
    b.close();
}
