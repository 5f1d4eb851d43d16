//! Notification order against reads (ZooKeeper's guarantee: a client sees a watch event before
//! any reply that shows the change). One connection watches a node and pipelines plain reads
//! while another keeps changing it; in the reader's stream no reply may show a new version before
//! the NodeDataChanged event has arrived. Raw frames, so the order on the wire is what is checked.

mod zoolog_proc;

use std::time::{Duration, Instant};

use bytes::Bytes;
use zoolog_compat::client::{Conn, connect_payload, request_payload};
use zoolog_jute::{Acl, ConnectRequest, CreateRequest, ExistsRequest, Id, Request, SetDataRequest};
use zoolog_proc::{free_port, start, write_cfg};

fn session(addr: std::net::SocketAddr) -> Conn {
    let mut c = Conn::open(addr).expect("connect");
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 10_000,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    c.send_payload(&connect_payload(&req))
        .expect("send connect");
    c.read_frame(Instant::now() + Duration::from_secs(10))
        .expect("connect response");
    c
}

fn xid_of(frame: &Bytes) -> i32 {
    i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]])
}

/// The version in an OK exists reply (ReplyHeader 16 bytes, then Stat: 4 × i64, version).
fn version_of(frame: &Bytes) -> Option<i32> {
    let err = i32::from_be_bytes([frame[12], frame[13], frame[14], frame[15]]);
    (err == 0 && frame.len() >= 16 + 36)
        .then(|| i32::from_be_bytes([frame[48], frame[49], frame[50], frame[51]]))
}

fn read(c: &mut Conn) -> Bytes {
    c.read_frame(Instant::now() + Duration::from_secs(10))
        .expect("a frame")
}

#[test]
fn watch_events_come_before_replies_that_show_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(&write_cfg(dir.path(), free_port()));
    let mut w = session(node.addr);
    let mut r = session(node.addr);
    let create = Request::Create(CreateRequest {
        path: "/x".into(),
        data: Some(Bytes::from_static(b"0")),
        acl: Some(vec![Acl {
            perms: 31,
            id: Id::new("world", "anyone"),
        }]),
        flags: 0,
    });
    w.send_payload(&request_payload(1, &create)).unwrap();
    read(&mut w);
    let exists = |watch| {
        Request::Exists(ExistsRequest {
            path: "/x".into(),
            watch,
        })
    };
    let mut xid = 1;
    for round in 0..60 {
        xid += 1;
        r.send_payload(&request_payload(xid, &exists(true)))
            .unwrap();
        let f = read(&mut r);
        assert_eq!(xid_of(&f), xid);
        let before = version_of(&f).expect("exists /x");
        let set = Request::SetData(SetDataRequest {
            path: "/x".into(),
            data: Some(Bytes::from(format!("{round}"))),
            version: -1,
        });
        w.send_payload(&request_payload(round + 2, &set)).unwrap();
        for _ in 0..40 {
            xid += 1;
            r.send_payload(&request_payload(xid, &exists(false)))
                .unwrap();
        }
        let mut event = false;
        let mut replies = 0;
        while replies < 40 || !event {
            let f = read(&mut r);
            if xid_of(&f) == -1 {
                event = true;
                continue;
            }
            replies += 1;
            let v = version_of(&f).expect("exists /x");
            assert!(
                event || v == before,
                "round {round}: a reply shows version {v} before the watch event (watched at {before})"
            );
        }
        read(&mut w);
    }
}
