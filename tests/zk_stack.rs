//! The ZooKeeper state machine on a real engine stack (batching over the base engine, an
//! in-memory log, RocksDB stores in temp dirs): proposals resolve to their own outcomes with
//! consecutive zxids, the listener sees every outcome with its watch triggers, and a replica that
//! replays the same log from scratch reaches the same ZooKeeper state.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::join_all;
use tempfile::tempdir;
use zoolog::engine::{BatchingConfig, Entry, Pos, StackBuilder};
use zoolog::log::{Loglet, MemLoglet};
use zoolog::store::{KeyRange, LocalStore, StoreOptions, StoreRead};
use zoolog::zk::{
    TriggerKind, ZkApplicator, ZkCommand, ZkConfig, ZkListener, ZkOp, ZkOutcome, ZkStateMachine,
};
use zoolog_jute::{Acl, CreateRequest, ErrorCode, Id, Request, Response};

const SESSION: i64 = 0x0100_0007_05a0_0000;

struct Recorder(Mutex<Vec<(Pos, ZkOutcome)>>);

impl ZkListener for Recorder {
    fn applied(&self, pos: Pos, outcome: &ZkOutcome) {
        self.0.lock().unwrap().push((pos, outcome.clone()));
    }
}

fn open(dir: &std::path::Path) -> (LocalStore, ZkStateMachine) {
    let store = LocalStore::open(dir, &StoreOptions::default()).unwrap();
    let partition = store.partition(ZkStateMachine::PARTITION).unwrap();
    (store, ZkStateMachine::new(partition, ZkConfig::default()))
}

fn create(i: i32, path: &str, flags: i32) -> Entry {
    let req = Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl: Some(Acl::open_unsafe()),
        flags,
    });
    let cmd = ZkCommand::request(
        SESSION,
        i,
        1_700_000_000_000 + i64::from(i),
        vec![Id::new("ip", "127.0.0.1")],
        req,
    );
    Entry::new(cmd.encode())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_on_the_engine_stack() {
    let log = Arc::new(MemLoglet::new());
    let dir = tempdir().unwrap();
    let (store, sm) = open(dir.path());
    let app = Arc::new(ZkApplicator::new(sm.clone()));
    let rec = Arc::new(Recorder(Mutex::new(Vec::new())));
    app.set_listener(rec.clone());
    let stack = StackBuilder::new(log.clone(), store)
        .batching(BatchingConfig::default())
        .build(app.clone())
        .unwrap();

    let session = ZkCommand::internal(
        0,
        1_700_000_000_000,
        ZkOp::CreateSession {
            session_id: SESSION,
            timeout_ms: 30_000,
        },
    );
    let out =
        ZkOutcome::decode(&stack.propose(Entry::new(session.encode())).await.unwrap()).unwrap();
    assert_eq!((out.err, out.zxid), (ErrorCode::Ok, 1));
    let parent = ZkOutcome::decode(&stack.propose(create(1, "/q", 0)).await.unwrap()).unwrap();
    assert_eq!(parent.zxid, 2);

    // Concurrent sequential creates: every proposer gets its own outcome, zxids are consecutive,
    // names follow the parent's creation counter.
    let futs: Vec<_> = (0..40)
        .map(|i| stack.propose(create(10 + i, "/q/n-", 2)))
        .collect();
    let mut outs: Vec<ZkOutcome> = join_all(futs)
        .await
        .into_iter()
        .map(|r| ZkOutcome::decode(&r.unwrap()).unwrap())
        .collect();
    for (i, o) in outs.iter().enumerate() {
        assert_eq!(o.cxid, 10 + i as i32, "a proposer got another's outcome");
        assert_eq!(o.err, ErrorCode::Ok);
    }
    outs.sort_by_key(|o| o.zxid);
    for (k, o) in outs.iter().enumerate() {
        assert_eq!(o.zxid, 3 + k as i64);
        let Response::Create(c) = &o.response else {
            panic!("{o:?}")
        };
        assert_eq!(c.path.as_ref() as &str, format!("/q/n-{k:010}"));
    }
    // A failed write still takes a zxid.
    let dup = ZkOutcome::decode(&stack.propose(create(99, "/q", 0)).await.unwrap()).unwrap();
    assert_eq!((dup.err, dup.zxid), (ErrorCode::NodeExists, 43));

    let snap = stack.sync().await.unwrap();
    let reader = sm.reader(&snap);
    assert_eq!(reader.last_zxid().unwrap(), 43);
    assert_eq!(reader.stat("/q").unwrap().unwrap().num_children, 40);
    let before = snap.scan(sm.partition(), &KeyRange::all()).unwrap();
    drop(snap);
    stack.shutdown().await.unwrap();

    let seen = rec.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 43);
    let created = seen
        .iter()
        .filter(|(_, o)| {
            o.triggers
                .first()
                .is_some_and(|t| t.kind == TriggerKind::NodeCreated)
        })
        .count();
    assert_eq!(created, 41);

    // Another replica replays the whole log from scratch and reaches the same state.
    let dir2 = tempdir().unwrap();
    let (store2, sm2) = open(dir2.path());
    let app2 = Arc::new(ZkApplicator::new(sm2.clone()));
    let stack2 = StackBuilder::new(log.clone() as Arc<dyn Loglet>, store2)
        .batching(BatchingConfig::default())
        .build(app2)
        .unwrap();
    let snap2 = stack2.sync().await.unwrap();
    let after = snap2.scan(sm2.partition(), &KeyRange::all()).unwrap();
    assert_eq!(before, after);
    drop(snap2);
    stack2.shutdown().await.unwrap();
}
