//! Tests of the ZooKeeper state machine against a real RocksDB LocalStore in a temporary
//! directory. Where a test says "observed", the sequence was replayed against the Debian
//! ZooKeeper 3.8.0 server with a raw-socket client and the expected values are what it answered.

use bytes::Bytes;
use zoolog_jute::{
    Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteContainerRequest,
    DeleteRequest, ErrorCode, GetChildrenRequest, GetDataRequest, Id, MultiOp, MultiRequest,
    MultiResult, ReconfigRequest, Request, Response, SetAclRequest, SetDataRequest, Stat,
};

use crate::engine::{Applicator, Entry};
use crate::store::{KeyRange, LocalStore, StoreOptions, StoreRead};

use super::*;

const T0: i64 = 1_700_000_000_000;
const BOB: &str = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=";
const SUPER: &str = "super:0bX78nEegDzJM3ju0iLBEJdWzjg=";

struct H {
    store: LocalStore,
    sm: ZkStateMachine,
    cursor: u64,
    time: i64,
    auth: Vec<Id>,
    /// Last, so it is dropped after the store has closed (fields drop in declaration order);
    /// removing it first left RocksDB's closing flush behind in /tmp.
    _dir: tempfile::TempDir,
}

impl H {
    fn new() -> H {
        Self::with(ZkConfig {
            extended_types_enabled: true,
            ..ZkConfig::default()
        })
    }

    fn with(cfg: ZkConfig) -> H {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path(), &StoreOptions::default()).unwrap();
        let partition = store.partition(ZkStateMachine::PARTITION).unwrap();
        H {
            _dir: dir,
            store,
            sm: ZkStateMachine::new(partition, cfg),
            cursor: 0,
            time: T0,
            auth: vec![Id::new("ip", "127.0.0.1")],
        }
    }

    fn apply_all(&mut self, cmds: &[ZkCommand]) -> Vec<ZkOutcome> {
        let mut txn = self.store.begin();
        let out = cmds
            .iter()
            .map(|c| self.sm.apply(&mut txn, c).unwrap())
            .collect();
        self.cursor += 1;
        txn.commit(self.cursor).unwrap();
        out
    }

    fn apply(&mut self, cmd: ZkCommand) -> ZkOutcome {
        self.apply_all(&[cmd]).pop().unwrap()
    }

    fn cmd(&self, session: i64, req: Request) -> ZkCommand {
        ZkCommand::request(session, 1, self.time, self.auth.clone(), req)
    }

    fn run(&mut self, session: i64, req: Request) -> ZkOutcome {
        let c = self.cmd(session, req);
        self.apply(c)
    }

    fn run_as(&mut self, session: i64, auth: &[Id], req: Request) -> ZkOutcome {
        let c = ZkCommand::request(session, 1, self.time, auth.to_vec(), req);
        self.apply(c)
    }

    fn internal(&mut self, op: ZkOp) -> ZkOutcome {
        let c = ZkCommand::internal(0, self.time, op);
        self.apply(c)
    }

    fn session(&mut self, id: i64) -> ZkOutcome {
        let o = self.internal(ZkOp::CreateSession {
            session_id: id,
            timeout_ms: 30_000,
        });
        assert_eq!(o.err, ErrorCode::Ok);
        o
    }

    fn with_reader<T>(&self, f: impl FnOnce(&ZkReader<'_>) -> T) -> T {
        let snap = self.store.snapshot();
        f(&self.sm.reader(&snap))
    }

    fn stat(&self, path: &str) -> Stat {
        self.with_reader(|r| r.stat(path).unwrap())
            .unwrap_or_else(|| panic!("no node {path}"))
    }

    fn exists(&self, path: &str) -> bool {
        self.with_reader(|r| r.stat(path).unwrap()).is_some()
    }

    fn read(&self, req: Request, auth: &[Id]) -> ReadReply {
        self.with_reader(|r| r.read(&req, S1, auth).unwrap())
    }

    /// Every entry of the zk partition.
    fn zk_entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.store
            .snapshot()
            .scan(self.sm.partition(), &KeyRange::all())
            .unwrap()
    }
}

const S1: i64 = 0x0100_0011_f9e4_0000;
const S2: i64 = 0x0100_0011_f9e4_0001;
const S3: i64 = 0x0100_0011_f9e4_0002;

fn create_acl(path: &str, acl: Option<Vec<Acl>>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::new()),
        acl,
        flags,
    }
}

fn cr(path: &str, flags: i32) -> CreateRequest {
    create_acl(path, Some(Acl::open_unsafe()), flags)
}

fn create(path: &str) -> Request {
    Request::Create(cr(path, 0))
}

fn create_flags(path: &str, flags: i32) -> Request {
    Request::Create(cr(path, flags))
}

fn ttl_req(path: &str, flags: i32, ttl: i64) -> CreateTtlRequest {
    CreateTtlRequest {
        path: path.into(),
        data: Some(Bytes::new()),
        acl: Some(Acl::open_unsafe()),
        flags,
        ttl,
    }
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn del_op(path: &str, version: i32) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set_data_req(path: &str, data: &'static [u8], version: i32) -> SetDataRequest {
    SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        version,
    }
}

fn set_data(path: &str, data: &'static [u8], version: i32) -> Request {
    Request::SetData(set_data_req(path, data, version))
}

fn set_acl(path: &str, acl: Option<Vec<Acl>>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}

fn check_op(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

fn multi(ops: Vec<MultiOp>) -> Request {
    Request::Multi(MultiRequest { ops })
}

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}

fn get_data(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

fn results(o: &ZkOutcome) -> Vec<MultiResult> {
    match &o.response {
        Response::Multi(m) => m.results.clone(),
        other => panic!("not a multi response: {other:?}"),
    }
}

fn created_path(o: &ZkOutcome) -> String {
    match &o.response {
        Response::Create(c) => c.path.to_string(),
        Response::Create2(c) => c.path.to_string(),
        other => panic!("not a create response: {other:?} ({})", o.err),
    }
}

fn errs(o: &[ZkOutcome]) -> Vec<i32> {
    o.iter().map(|o| o.err.as_i32()).collect()
}

/// A trigger on a node (and parent) with the open ACL, as the tests create them.
fn trig(path: &str, kind: TriggerKind) -> WatchTrigger {
    WatchTrigger::new(path, kind).with_acl(&zoolog_jute::Acl::open_unsafe())
}

#[test]
fn fresh_tree_matches_zookeeper() {
    let mut h = H::new();
    assert_eq!(h.with_reader(|r| r.last_zxid().unwrap()), 0);
    // Observed on 3.8.0: the first session consumes zxid 1.
    assert_eq!(h.session(S1).zxid, 1);
    let root = h.stat("/");
    assert_eq!(
        root,
        Stat {
            cversion: -1,
            num_children: 1,
            ..Stat::default()
        }
    );
    assert_eq!(h.stat(""), root);
    assert_eq!(h.stat("/zookeeper").cversion, -2);
    assert_eq!(h.stat("/zookeeper").num_children, 2);
    assert_eq!(h.stat("/zookeeper/quota"), Stat::default());
    assert_eq!(
        h.stat("/zookeeper/config"),
        Stat {
            aversion: -1,
            ..Stat::default()
        }
    );
    let r = h.read(get_data("/zookeeper/config"), &[]);
    match r.response {
        Response::GetData(d) => assert_eq!(d.data, Some(Bytes::new())),
        other => panic!("{other:?}"),
    }
    let r = h.read(
        Request::GetAcl(zoolog_jute::GetAclRequest {
            path: "/zookeeper/config".into(),
        }),
        &[],
    );
    match r.response {
        Response::GetAcl(a) => assert_eq!(a.acl, Acl::read_unsafe()),
        other => panic!("{other:?}"),
    }
    // getAllChildrenNumber: "/" → 3, "" → 4, "/zookeeper" → 2 (observed).
    for (p, n) in [("/", 3), ("", 4), ("/zookeeper", 2)] {
        let r = h.read(
            Request::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberRequest {
                path: p.into(),
            }),
            &[],
        );
        assert_eq!(
            r.response,
            Response::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberResponse {
                total_number: n
            }),
            "{p:?}"
        );
    }
    let r = h.read(
        Request::GetChildren(GetChildrenRequest {
            path: "".into(),
            watch: false,
        }),
        &[],
    );
    assert_eq!(r.err, ErrorCode::Ok);
}

#[test]
fn failed_writes_consume_zxids() {
    // Observed: create /t → 2, create /t again → 3 NODEEXISTS, create /t2 → 4.
    let mut h = H::new();
    h.session(S1);
    let a = h.run(S1, create("/t"));
    let b = h.run(S1, create("/t"));
    let c = h.run(S1, create("/t2"));
    assert_eq!((a.zxid, a.err), (2, ErrorCode::Ok));
    assert_eq!(
        (b.zxid, b.err, &b.response),
        (3, ErrorCode::NodeExists, &Response::Empty)
    );
    assert_eq!((c.zxid, c.err), (4, ErrorCode::Ok));
    assert_eq!(created_path(&a), "/t");
    assert!(b.triggers.is_empty());
    assert_eq!(h.with_reader(|r| r.last_zxid().unwrap()), 4);
    // Every kind of command consumes one.
    let d = h.run(S1, multi(vec![]));
    assert_eq!((d.zxid, d.err), (5, ErrorCode::Ok));
    assert_eq!(results(&d), vec![]);
    let e = h.internal(ZkOp::ExpireSession { session_id: 999 });
    assert_eq!((e.zxid, e.err), (6, ErrorCode::Ok));
}

#[test]
fn stat_arithmetic_and_sequential_suffix() {
    let mut h = H::new();
    h.session(S1);
    let s = h.run(S1, create("/s"));
    for i in 0..4 {
        h.run(S1, create(&format!("/s/c{i}")));
    }
    let d = h.run(S1, delete("/s/c1", -1));
    // Observed: after 4 creates + 1 delete, cversion 5, numChildren 3, pzxid = the delete.
    let st = h.stat("/s");
    assert_eq!(st.cversion, 5);
    assert_eq!(st.num_children, 3);
    assert_eq!(st.pzxid, d.zxid);
    assert_eq!(st.czxid, s.zxid);
    assert_eq!(st.mzxid, s.zxid);
    assert_eq!(st.ctime, T0);
    // The next sequential child is numbered by creations: 4 (observed /s/q0000000004).
    let q = h.run(S1, create_flags("/s/q", 2));
    assert_eq!(created_path(&q), "/s/q0000000004");
    assert_eq!(h.stat("/s").cversion, 6);
    assert_eq!(h.stat("/s").pzxid, q.zxid);

    // Observed multi: [seq /s/m, seq /s/m, /s/x, delete /s/x, setData /s, check /s v1, create2 /s/y].
    h.time = T0 + 50;
    let m = h.run(
        S1,
        multi(vec![
            MultiOp::Create(cr("/s/m", 2)),
            MultiOp::Create(cr("/s/m", 2)),
            MultiOp::Create(cr("/s/x", 0)),
            del_op("/s/x", -1),
            MultiOp::SetData(set_data_req("/s", b"hi", -1)),
            check_op("/s", 1),
            MultiOp::Create2(cr("/s/y", 0)),
        ]),
    );
    assert_eq!(m.err, ErrorCode::Ok);
    let r = results(&m);
    assert_eq!(
        r[0],
        MultiResult::Create(zoolog_jute::CreateResponse {
            path: "/s/m0000000005".into()
        })
    );
    assert_eq!(
        r[1],
        MultiResult::Create(zoolog_jute::CreateResponse {
            path: "/s/m0000000006".into()
        })
    );
    assert_eq!(
        r[2],
        MultiResult::Create(zoolog_jute::CreateResponse {
            path: "/s/x".into()
        })
    );
    assert_eq!(r[3], MultiResult::Delete);
    let MultiResult::SetData(sd) = &r[4] else {
        panic!("{:?}", r[4])
    };
    assert_eq!(
        sd.stat,
        Stat {
            czxid: s.zxid,
            mzxid: m.zxid,
            ctime: T0,
            mtime: T0 + 50,
            version: 1,
            cversion: 10,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 2,
            num_children: 6,
            pzxid: m.zxid,
        }
    );
    assert_eq!(r[5], MultiResult::Check);
    // 3.8.0 answers a create2 op in a multi with a path-only create result.
    assert_eq!(
        r[6],
        MultiResult::Create(zoolog_jute::CreateResponse {
            path: "/s/y".into()
        })
    );
    let st = h.stat("/s");
    assert_eq!((st.cversion, st.num_children, st.version), (11, 7, 1));
    // Triggers in op order.
    assert_eq!(
        m.triggers,
        vec![
            trig("/s/m0000000005", TriggerKind::NodeCreated),
            trig("/s", TriggerKind::NodeChildrenChanged),
            trig("/s/m0000000006", TriggerKind::NodeCreated),
            trig("/s", TriggerKind::NodeChildrenChanged),
            trig("/s/x", TriggerKind::NodeCreated),
            trig("/s", TriggerKind::NodeChildrenChanged),
            trig("/s/x", TriggerKind::NodeDeleted),
            trig("/s", TriggerKind::NodeChildrenChanged),
            trig("/s", TriggerKind::NodeDataChanged),
            trig("/s/y", TriggerKind::NodeCreated),
            trig("/s", TriggerKind::NodeChildrenChanged),
        ]
    );

    // Observed: a failing multi changes nothing and still takes a zxid.
    let before = h.zk_entries();
    let dup = h.run(
        S1,
        multi(vec![
            MultiOp::Create(cr("/s/z", 0)),
            MultiOp::Create(cr("/s/z", 0)),
        ]),
    );
    assert_eq!(
        results(&dup),
        vec![MultiResult::Error(0), MultiResult::Error(-110)]
    );
    let ds = h.run(
        S1,
        multi(vec![
            del_op("/s/c0", -1),
            MultiOp::SetData(set_data_req("/s/c0", b"x", -1)),
        ]),
    );
    assert_eq!(
        results(&ds),
        vec![MultiResult::Error(0), MultiResult::Error(-101)]
    );
    assert!(dup.triggers.is_empty() && ds.triggers.is_empty());
    assert_eq!(ds.zxid, dup.zxid + 1);
    let after = h.zk_entries();
    let no_zxid = |v: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<_> {
        v.into_iter().filter(|(k, _)| k != b"mzxid").collect()
    };
    assert_eq!(no_zxid(before), no_zxid(after));
}

#[test]
fn top_level_stat_results() {
    let mut h = H::new();
    h.session(S1);
    h.time = T0 + 7;
    let o = h.run(S1, Request::Create2(cr("/a", 0)));
    let Response::Create2(c) = &o.response else {
        panic!()
    };
    assert_eq!(
        c.stat,
        Stat {
            czxid: 2,
            mzxid: 2,
            ctime: T0 + 7,
            mtime: T0 + 7,
            pzxid: 2,
            ..Stat::default()
        }
    );
    // persisted 1, two children: −1 → 0 on the wire.
    assert_eq!(h.stat("/").cversion, 0);
    assert_eq!(h.stat("/").pzxid, 2);
    h.time = T0 + 9;
    let o = h.run(S1, set_data("/a", b"abc", 0));
    let Response::SetData(sd) = &o.response else {
        panic!()
    };
    assert_eq!(
        (
            sd.stat.version,
            sd.stat.mzxid,
            sd.stat.mtime,
            sd.stat.data_length
        ),
        (1, 3, T0 + 9, 3)
    );
    assert_eq!(o.triggers, vec![trig("/a", TriggerKind::NodeDataChanged)]);
    let o = h.run(S1, set_data("/a", b"abc", 0));
    assert_eq!(o.err, ErrorCode::BadVersion);
    // Null data is kept as null.
    h.run(
        S1,
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: None,
            version: -1,
        }),
    );
    match h.read(get_data("/a"), &[]).response {
        Response::GetData(d) => {
            assert_eq!(d.data, None);
            assert_eq!(d.stat.data_length, 0);
            assert_eq!(d.stat.version, 2);
        }
        other => panic!("{other:?}"),
    }
    let o = h.run(S1, set_acl("/a", Some(Acl::read_unsafe()), 0));
    let Response::SetAcl(sa) = &o.response else {
        panic!()
    };
    assert_eq!(sa.stat.aversion, 1);
    assert!(o.triggers.is_empty());
    let o = h.run(S1, delete("/a", -1));
    assert_eq!(o.response, Response::Empty);
    assert_eq!(
        o.triggers,
        vec![
            // The deleted node's own ACL (now read-only) filters its NodeDeleted.
            WatchTrigger::new("/a", TriggerKind::NodeDeleted).with_acl(&Acl::read_unsafe()),
            trig("/", TriggerKind::NodeChildrenChanged)
        ]
    );
    // Root: one create and one delete since the fresh −1.
    assert_eq!(h.stat("/").cversion, 1);
    assert_eq!(h.stat("/").pzxid, o.zxid);
}

#[test]
fn multi_failure_at_each_position() {
    let mut h = H::new();
    h.session(S1);
    h.run(S1, create("/t"));
    // Observed: [create /m1, check /t v99, create /m2, delete /nonexist] → 0, -103, -2, -2.
    let o = h.run(
        S1,
        multi(vec![
            MultiOp::Create(cr("/m1", 0)),
            check_op("/t", 99),
            MultiOp::Create(cr("/m2", 0)),
            del_op("/nonexist", -1),
        ]),
    );
    assert_eq!(o.err, ErrorCode::Ok);
    assert_eq!(
        results(&o),
        vec![
            MultiResult::Error(0),
            MultiResult::Error(-103),
            MultiResult::Error(-2),
            MultiResult::Error(-2)
        ]
    );
    assert!(!h.exists("/m1"));
    let ops = || {
        vec![
            MultiOp::Create(cr("/p0", 0)),
            MultiOp::Create(cr("/p1", 0)),
            MultiOp::Create(cr("/p2", 0)),
        ]
    };
    for fail_at in 0..3 {
        let mut v = ops();
        v[fail_at] = del_op("/nope", -1);
        let o = h.run(S1, multi(v));
        let expect: Vec<MultiResult> = (0..3)
            .map(|j| {
                MultiResult::Error(if j < fail_at {
                    0
                } else if j == fail_at {
                    -101
                } else {
                    -2
                })
            })
            .collect();
        assert_eq!(results(&o), expect, "fail at {fail_at}");
        for p in ["/p0", "/p1", "/p2"] {
            assert!(!h.exists(p));
        }
    }
    let o = h.run(S1, multi(ops()));
    assert_eq!(results(&o).len(), 3);
    assert!(h.exists("/p2"));
}

#[test]
fn multi_create_kinds_match_3_8_0() {
    // Observed on 3.8.0: the create op kind comes from the flags; container and TTL ops answer
    // create2 results, plain ones (create2 header included) path-only create results.
    let mut h = H::new();
    h.session(S1);
    let o = h.run(
        S1,
        multi(vec![
            MultiOp::Create2(cr("/m_c2", 0)),
            MultiOp::Create(cr("/m_c1", 0)),
            MultiOp::CreateContainer(cr("/m_cc", 4)),
            MultiOp::CreateTtl(ttl_req("/m_ttl", 5, 10_000)),
            MultiOp::Create(cr("/m_f4", 4)),
            MultiOp::CreateContainer(cr("/m_cc0", 0)),
            MultiOp::CreateTtl(ttl_req("/m_ttl0", 0, -1)),
        ]),
    );
    let r = results(&o);
    let kinds: Vec<(&str, String)> = r
        .iter()
        .map(|x| match x {
            MultiResult::Create(c) => ("create", c.path.to_string()),
            MultiResult::Create2(c) => {
                assert_eq!(c.stat.czxid, o.zxid);
                assert_eq!(c.stat.ephemeral_owner, 0);
                ("create2", c.path.to_string())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("create", "/m_c2".to_string()),
            ("create", "/m_c1".into()),
            ("create2", "/m_cc".into()),
            ("create2", "/m_ttl".into()),
            ("create2", "/m_f4".into()),
            ("create", "/m_cc0".into()),
            ("create", "/m_ttl0".into()),
        ]
    );
    let raw_owner = |h: &H, p: &str| {
        let snap = h.store.snapshot();
        let v = snap
            .get(h.sm.partition(), &super::keys::node(p))
            .unwrap()
            .unwrap();
        super::node::Node::decode(p, v)
            .unwrap()
            .0
            .stat
            .ephemeral_owner
    };
    assert_eq!(raw_owner(&h, "/m_cc"), i64::MIN);
    assert_eq!(raw_owner(&h, "/m_f4"), i64::MIN);
    assert_eq!(raw_owner(&h, "/m_cc0"), 0);
    assert_eq!(raw_owner(&h, "/m_ttl0"), 0);
    assert_eq!(raw_owner(&h, "/m_ttl") as u64, 0xff00_0000_0000_2710);
    // A TTL flag in a non-TTL record: MARSHALLINGERROR for the request, zxid consumed (observed).
    let o2 = h.run(S1, multi(vec![MultiOp::Create(cr("/m_f5", 5))]));
    assert_eq!(
        (o2.err, &o2.response),
        (ErrorCode::MarshallingError, &Response::Empty)
    );
    assert_eq!(o2.zxid, o.zxid + 1);
    // After an earlier failure the op is not reached: ordinary failure results.
    let o3 = h.run(
        S1,
        multi(vec![del_op("/nope", -1), MultiOp::Create(cr("/m_f5", 5))]),
    );
    assert_eq!(
        results(&o3),
        vec![MultiResult::Error(-101), MultiResult::Error(-2)]
    );
    // createTTL header with flag 0 and a TTL: a plain create (observed).
    let o4 = h.run(
        S1,
        multi(vec![MultiOp::CreateTtl(ttl_req("/m_t7", 0, 100))]),
    );
    assert_eq!(
        results(&o4),
        vec![MultiResult::Create(zoolog_jute::CreateResponse {
            path: "/m_t7".into()
        })]
    );
    // The later-3.8.x behaviour, as an option.
    let mut h = H::with(ZkConfig {
        multi_create2_returns_stat: true,
        ..ZkConfig::default()
    });
    h.session(S1);
    let o = h.run(S1, multi(vec![MultiOp::Create2(cr("/x", 0))]));
    assert!(matches!(results(&o)[0], MultiResult::Create2(_)));
}

#[test]
fn top_level_create_modes() {
    // Observed on 3.8.0 (zxids aside).
    let mut h = H::new();
    h.session(S1);
    let o = h.run(S1, Request::CreateContainer(cr("/cc0", 0)));
    assert_eq!(created_path(&o), "/cc0");
    assert!(matches!(o.response, Response::Create2(_)));
    let root_cv = {
        let snap = h.store.snapshot();
        let v = snap
            .get(h.sm.partition(), &keys::node("/"))
            .unwrap()
            .unwrap();
        super::node::Node::decode("/", v).unwrap().0.stat.cversion
    };
    let o = h.run(S1, Request::CreateContainer(cr("/ccs", 2)));
    assert_eq!(created_path(&o), format!("/ccs{root_cv:010}"));
    let o = h.run(S1, Request::CreateContainer(cr("/cce", 1)));
    assert_eq!(o.err, ErrorCode::Ok);
    let cands = |h: &H, t| h.with_reader(|r| r.cleanup_candidates(t).unwrap());
    assert!(
        cands(&h, T0 + 1_000_000).is_empty(),
        "unused containers are not candidates"
    );
    let errs_of = |h: &mut H, reqs: Vec<Request>| {
        reqs.into_iter()
            .map(|r| h.run(S1, r).err.as_i32())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        errs_of(
            &mut h,
            vec![
                Request::CreateTtl(ttl_req("/ttl0b", 0, 5)),
                Request::CreateTtl(ttl_req("/ttl0", 0, -1)),
                Request::CreateTtl(ttl_req("/ttlz", 5, 0)),
                Request::CreateTtl(ttl_req("/ttlbig", 5, MAX_TTL + 1)),
                Request::Create2(cr("/c2ttl", 5)),
                create_flags("/f7", 7),
                create_flags("/fneg", -1),
            ]
        ),
        vec![-8, -8, -8, -8, -8, -8, -8]
    );
    let o = h.run(S1, Request::CreateTtl(ttl_req("/ttlok", 5, 123_456)));
    let Response::Create2(c) = &o.response else {
        panic!("{o:?}")
    };
    assert_eq!((c.path.as_ref(), c.stat.ephemeral_owner), ("/ttlok", 0));
    let o = h.run(S1, Request::CreateTtl(ttl_req("/ttlseq", 6, 1)));
    assert!(created_path(&o).starts_with("/ttlseq00000"));
    // create2 with the container flag makes a plain persistent node (observed owner 0, and it
    // is not a container).
    let o = h.run(S1, Request::Create2(cr("/f4", 4)));
    assert_eq!(o.err, ErrorCode::Ok);
    h.run(S1, create("/f4/x"));
    h.run(S1, delete("/f4/x", -1));
    assert!(cands(&h, T0).iter().all(|c| c.path != "/f4"));
    // Ephemerals carry the session; sequential ephemerals too.
    let o = h.run(S1, Request::Create2(cr("/e", 1)));
    let Response::Create2(c) = &o.response else {
        panic!()
    };
    assert_eq!(c.stat.ephemeral_owner, S1);
    let o = h.run(S1, create_flags("/es", 3));
    assert!(created_path(&o).starts_with("/es"));
    assert_eq!(h.with_reader(|r| r.ephemerals(S1).unwrap()).len(), 2);

    // Extended types off: TTL requests are UNIMPLEMENTED.
    let mut h = H::with(ZkConfig::default());
    h.session(S1);
    assert_eq!(
        h.run(S1, Request::CreateTtl(ttl_req("/t", 5, 100))).err,
        ErrorCode::Unimplemented
    );
    assert_eq!(
        h.run(S1, Request::Create2(cr("/t", 6))).err,
        ErrorCode::Unimplemented
    );
    assert_eq!(
        h.run(S1, Request::CreateTtl(ttl_req("/t", 0, 100))).err,
        ErrorCode::BadArguments
    );
}

#[test]
fn path_and_structure_errors() {
    // The sequence sent to 3.8.0 (zxids differ: fewer earlier writes here).
    let mut h = H::new();
    h.session(S1);
    h.run(S1, create("/t"));
    let o: Vec<ZkOutcome> = [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "",
        "x",
        "/nonexist",
    ]
    .iter()
    .map(|p| h.run(S1, delete(p, -1)))
    .collect();
    assert_eq!(errs(&o), vec![-8, -8, -8, -8, -8, -8, -101]);
    assert_eq!(h.run(S1, create("/zookeeper/foo")).err, ErrorCode::Ok);
    assert_eq!(h.run(S1, delete("/zookeeper/foo", -1)).err, ErrorCode::Ok);
    let o = h.run(S1, create_flags("/t/", 2));
    assert_eq!(created_path(&o), "/t/0000000000");
    let o: Vec<ZkOutcome> = vec![
        h.run(S1, create_flags("/t/", 0)),
        h.run(S1, create("/t//x")),
        h.run(S1, create("t")),
        h.run(S1, create("/nope/x")),
        h.run(S1, create("/a\0b")),
        h.run(S1, create("/t/.")),
        h.run(S1, create("/")),
    ];
    assert_eq!(errs(&o), vec![-8, -101, -8, -101, -8, -8, -110]);
    let o = h.run(
        S1,
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: None,
            new_members: Some("server.1=127.0.0.1:2888:3888".into()),
            cur_config_id: -1,
        }),
    );
    // reconfigEnabled is checked before the log; apply on a standalone tree: UNIMPLEMENTED.
    assert_eq!(o.err, ErrorCode::Unimplemented);
    assert_eq!(
        h.run(S1, set_data("/zookeeper/config", b"x", -1)).err,
        ErrorCode::NoAuth
    );
    let o = vec![
        h.run(S1, create_flags("/e1", 1)),
        h.run(S1, create("/e1/x")),
        h.run(S1, create("/e1")),
        h.run(S1, create_flags("/e1/x", 2)),
    ];
    assert_eq!(errs(&o), vec![0, -108, -110, -108]);
    h.run(S1, create("/v"));
    assert_eq!(h.run(S1, delete("/v", 5)).err, ErrorCode::BadVersion);
    h.run(S1, create("/v/child"));
    // Version is checked before emptiness (observed).
    assert_eq!(h.run(S1, delete("/v", 5)).err, ErrorCode::BadVersion);
    assert_eq!(h.run(S1, delete("/v", -1)).err, ErrorCode::NotEmpty);
    assert_eq!(h.run(S1, delete("/v", 0)).err, ErrorCode::NotEmpty);
    // Top-level check: UNIMPLEMENTED (3.9.3+), still one zxid.
    let o = h.run(
        S1,
        Request::Check(CheckVersionRequest {
            path: "/v".into(),
            version: -1,
        }),
    );
    assert_eq!(o.err, ErrorCode::Unimplemented);
    let o2 = h.run(S1, Request::Ping);
    assert_eq!((o2.err, o2.zxid), (ErrorCode::Unimplemented, o.zxid + 1));
    // setData / setACL / check validate the path.
    assert_eq!(
        h.run(S1, set_data("/v/", b"", -1)).err,
        ErrorCode::BadArguments
    );
    assert_eq!(
        h.run(S1, set_data("", b"", -1)).err,
        ErrorCode::BadArguments
    );
    assert_eq!(
        h.run(S1, set_acl("v", Some(Acl::open_unsafe()), -1)).err,
        ErrorCode::BadArguments
    );
    assert_eq!(
        results(&h.run(S1, multi(vec![check_op("/v/", -1)]))),
        vec![MultiResult::Error(-8)]
    );
    // setData on the root is allowed.
    assert_eq!(h.run(S1, set_data("/", b"r", -1)).err, ErrorCode::Ok);
    // With no membership in /zookeeper/config: UNIMPLEMENTED, as a standalone server answers.
    let mut h = H::with(ZkConfig::default());
    h.session(S1);
    let o = h.run(
        S1,
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
    );
    assert_eq!(o.err, ErrorCode::Unimplemented);
}

#[test]
fn reconfig_in_an_ensemble_rewrites_the_config_node() {
    let three = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
        server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n\
        server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\nversion=0";
    let cfg = |skip_acl| ZkConfig {
        skip_acl,
        ensemble_config: Some(Bytes::from(three)),
        ..ZkConfig::default()
    };
    let leave = |id: &str, cur: i64| {
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some(id.into()),
            new_members: None,
            cur_config_id: cur,
        })
    };
    // WRITE on /zookeeper/config is needed (world has READ only).
    let mut h = H::with(cfg(false));
    h.session(S1);
    assert_eq!(h.run(S1, leave("3", -1)).err, ErrorCode::NoAuth);
    let mut h = H::with(cfg(true));
    h.session(S1);
    assert_eq!(h.run(S1, leave("3", 1)).err, ErrorCode::BadVersion);
    let o = h.run(S1, leave("3", 0));
    assert_eq!(o.err, ErrorCode::Ok);
    let Response::GetData(r) = &o.response else {
        panic!("reconfig answers a GetDataResponse: {:?}", o.response)
    };
    let text = String::from_utf8(r.data.clone().unwrap().to_vec()).unwrap();
    assert!(!text.contains("server.3="), "{text}");
    assert!(text.ends_with(&format!("version={:x}", o.zxid)), "{text}");
    assert_eq!((r.stat.version, r.stat.mzxid), (-1, o.zxid));
    assert_eq!(o.triggers.len(), 1);
    // The config id is now the reconfig's zxid; a voter must stay.
    assert_eq!(h.run(S1, leave("2", 0)).err, ErrorCode::BadVersion);
    assert_eq!(h.run(S1, leave("1,2", o.zxid)).err, ErrorCode::BadArguments);
    let got = h.read(get_data("/zookeeper/config"), &[]);
    let Response::GetData(g) = got.response else {
        panic!("getData answers GetData")
    };
    assert_eq!(g.data, r.data);
}

#[test]
fn acl_cases_match_3_8_0() {
    let mut h = H::new();
    h.session(S1);
    h.session(S2);
    h.session(S3);
    let ip = vec![Id::new("ip", "127.0.0.1")];
    let bob = vec![Id::new("digest", BOB), Id::new("ip", "127.0.0.1")];
    let sup = vec![
        Id::new("digest", SUPER),
        Id::new("super", ""),
        Id::new("ip", "127.0.0.1"),
    ];
    let cases: Vec<(Option<Vec<Acl>>, i32)> = vec![
        (Some(vec![]), -114),
        (None, -114),
        (Some(vec![acl(31, "auth", "")]), -114),
        (Some(vec![acl(31, "digest", "bob")]), -114),
        (Some(vec![acl(31, "digest", "a:b:")]), 0),
        (Some(vec![acl(31, "ip", "1.2.3.4/33")]), -114),
        (Some(vec![acl(31, "foo", "bar")]), -114),
        (
            Some(vec![acl(31, "world", "anyone"), acl(31, "world", "anyone")]),
            0,
        ),
    ];
    for (i, (a, err)) in cases.into_iter().enumerate() {
        let o = h.run_as(
            S1,
            &ip,
            Request::Create(create_acl(&format!("/acl{i}"), a, 0)),
        );
        assert_eq!(o.err.as_i32(), err, "case {i}");
    }
    // INVALIDACL is found before the missing parent (observed).
    let o = h.run_as(
        S1,
        &ip,
        Request::Create(create_acl("/nonexist/x", Some(vec![]), 0)),
    );
    assert_eq!(o.err, ErrorCode::InvalidAcl);
    // auth expands to the digest id only.
    let o = h.run_as(
        S1,
        &bob,
        Request::Create(create_acl(
            "/bob",
            Some(vec![acl(31, "auth", "whatever"), acl(1, "world", "anyone")]),
            0,
        )),
    );
    assert_eq!(o.err, ErrorCode::Ok);
    let get_acl = |h: &H, p: &str, auth: &[Id]| {
        h.read(
            Request::GetAcl(zoolog_jute::GetAclRequest { path: p.into() }),
            auth,
        )
    };
    let Response::GetAcl(full) = get_acl(&h, "/bob", &bob).response else {
        panic!()
    };
    assert_eq!(
        full.acl,
        vec![acl(31, "digest", BOB), acl(1, "world", "anyone")]
    );
    let Response::GetAcl(masked) = get_acl(&h, "/bob", &ip).response else {
        panic!()
    };
    assert_eq!(
        masked.acl,
        vec![acl(31, "digest", "bob:x"), acl(1, "world", "anyone")]
    );
    // Another connection (ip only).
    let o = vec![
        h.run_as(S2, &ip, set_data("/bob", b"x", -1)),
        h.run_as(S2, &ip, create("/bob/x")),
        h.run_as(S2, &ip, delete("/bob/nonexist", -1)),
    ];
    assert_eq!(errs(&o), vec![-102, -102, -102]);
    assert_eq!(h.read(get_data("/bob"), &ip).err, ErrorCode::Ok);
    h.run_as(
        S1,
        &ip,
        Request::Create(create_acl(
            "/noread",
            Some(vec![acl(30, "world", "anyone")]),
            0,
        )),
    );
    // exists checks no ACL on 3.8.0 (observed), the others need READ; getACL needs READ|ADMIN.
    let exists = Request::Exists(zoolog_jute::ExistsRequest {
        path: "/noread".into(),
        watch: false,
    });
    assert_eq!(h.read(exists.clone(), &ip).err, ErrorCode::Ok);
    assert_eq!(h.read(get_data("/noread"), &ip).err, ErrorCode::NoAuth);
    assert_eq!(
        h.read(
            Request::GetChildren(GetChildrenRequest {
                path: "/noread".into(),
                watch: false
            }),
            &ip
        )
        .err,
        ErrorCode::NoAuth
    );
    assert_eq!(
        h.read(
            Request::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberRequest {
                path: "/noread".into()
            }),
            &ip
        )
        .err,
        ErrorCode::NoAuth
    );
    assert_eq!(get_acl(&h, "/noread", &ip).err, ErrorCode::Ok);
    let strict = ZkStateMachine::new(
        h.sm.partition().clone(),
        ZkConfig {
            exists_checks_read: true,
            ..ZkConfig::default()
        },
    );
    let snap = h.store.snapshot();
    assert_eq!(
        strict.reader(&snap).read(&exists, S1, &ip).unwrap().err,
        ErrorCode::NoAuth
    );
    // ip ACLs with CIDR.
    h.run_as(
        S1,
        &ip,
        Request::Create(create_acl(
            "/ipacl",
            Some(vec![acl(1, "ip", "127.0.0.0/8"), acl(2, "ip", "10.0.0.1")]),
            0,
        )),
    );
    assert_eq!(h.read(get_data("/ipacl"), &ip).err, ErrorCode::Ok);
    assert_eq!(
        h.run_as(S2, &ip, set_data("/ipacl", b"x", -1)).err,
        ErrorCode::NoAuth
    );
    let o = vec![
        h.run_as(
            S1,
            &bob,
            set_acl("/ipacl", Some(vec![acl(31, "auth", "")]), -1),
        ),
        h.run_as(
            S1,
            &bob,
            set_acl("/bob", Some(vec![acl(31, "auth", "")]), 5),
        ),
        h.run_as(
            S1,
            &bob,
            set_acl("/bob", Some(vec![acl(31, "auth", "")]), 0),
        ),
        h.run_as(S1, &bob, set_acl("/nonexist", Some(vec![]), 0)),
        h.run_as(S1, &bob, set_acl("/nonexist", Some(Acl::open_unsafe()), 0)),
    ];
    assert_eq!(errs(&o), vec![-102, -103, 0, -114, -101]);
    let Response::SetAcl(sa) = &o[2].response else {
        panic!()
    };
    assert_eq!(sa.stat.aversion, 1);
    // super passes every check; auth expands to its digest id only.
    assert_eq!(h.read(get_data("/noread"), &sup).err, ErrorCode::Ok);
    let o = h.run_as(
        S3,
        &sup,
        Request::Create(create_acl("/superauth", Some(vec![acl(31, "auth", "")]), 0)),
    );
    assert_eq!(o.err, ErrorCode::Ok);
    let Response::GetAcl(a) = get_acl(&h, "/superauth", &sup).response else {
        panic!()
    };
    assert_eq!(a.acl, vec![acl(31, "digest", SUPER)]);
    let o = h.run_as(S3, &sup, set_data("/zookeeper/config", b"x", -1));
    let Response::SetData(sd) = &o.response else {
        panic!("{o:?}")
    };
    assert_eq!(
        (sd.stat.version, sd.stat.aversion, sd.stat.czxid),
        (1, -1, 0)
    );
    // ip is not an authenticated scheme.
    let o = h.run_as(
        S2,
        &ip,
        Request::Create(create_acl("/ipauth2", Some(vec![acl(31, "auth", "")]), 0)),
    );
    assert_eq!(o.err, ErrorCode::InvalidAcl);
    let o = h.run_as(
        S2,
        &ip,
        Request::Create(create_acl(
            "/ipacl2",
            Some(vec![acl(31, "ip", "127.0.0.1")]),
            0,
        )),
    );
    assert_eq!(o.err, ErrorCode::Ok);
    // ACL checks inside multi: check needs READ, create needs CREATE on the parent.
    let o = h.run_as(S2, &ip, multi(vec![check_op("/noread", -1)]));
    assert_eq!(results(&o), vec![MultiResult::Error(-102)]);
    // skipACL
    let mut h2 = H::with(ZkConfig {
        skip_acl: true,
        ..ZkConfig::default()
    });
    h2.session(S1);
    assert_eq!(
        h2.run_as(S1, &ip, set_data("/zookeeper/config", b"x", -1))
            .err,
        ErrorCode::Ok
    );
}

#[test]
fn session_close_deletes_ephemerals() {
    let mut h = H::new();
    h.session(S1);
    h.session(S2);
    h.run(S1, create("/s"));
    h.run(S2, create_flags("/s/e1", 1));
    let seq = created_path(&h.run(S2, create_flags("/s/e2", 3)));
    h.run(S2, create_flags("/top", 1));
    let before = h.stat("/s");
    let eph = |h: &H, prefix: Option<&str>| -> Vec<String> {
        match h
            .with_reader(|r| r.get_ephemerals(S2, prefix).unwrap())
            .response
        {
            Response::GetEphemerals(e) => e.ephemerals.iter().map(|s| s.to_string()).collect(),
            other => panic!("{other:?}"),
        }
    };
    // ZooKeeper keeps a session's ephemerals in a Java HashSet: its order, not path order.
    assert_eq!(
        eph(&h, None),
        vec!["/top".to_string(), seq.clone(), "/s/e1".into()]
    );
    assert_eq!(eph(&h, Some(" / ")), eph(&h, None));
    assert_eq!(eph(&h, Some("")), eph(&h, None));
    assert_eq!(eph(&h, Some("/s")), vec![seq.clone(), "/s/e1".to_string()]);
    assert_eq!(eph(&h, Some("/s/e2")), vec![seq.clone()]);
    let mut c = h.cmd(S2, Request::CloseSession);
    c.cxid = 17;
    let o = h.apply(c);
    assert_eq!((o.err, o.cxid, o.session_id), (ErrorCode::Ok, 17, S2));
    assert_eq!(
        o.closed_sessions,
        vec![ClosedSession {
            session_id: S2,
            expired: false
        }]
    );
    assert_eq!(
        o.triggers,
        vec![
            trig("/top", TriggerKind::NodeDeleted),
            trig("/", TriggerKind::NodeChildrenChanged),
            trig(&seq, TriggerKind::NodeDeleted),
            trig("/s", TriggerKind::NodeChildrenChanged),
            trig("/s/e1", TriggerKind::NodeDeleted),
            trig("/s", TriggerKind::NodeChildrenChanged),
        ]
    );
    // Observed: cversion +2 on the wire, pzxid = the closeSession zxid.
    let after = h.stat("/s");
    assert_eq!(after.cversion, before.cversion + 2);
    assert_eq!(after.num_children, 0);
    assert_eq!(after.pzxid, o.zxid);
    assert!(!h.with_reader(|r| r.session_exists(S2).unwrap()));
    assert!(h.with_reader(|r| r.ephemerals(S2).unwrap()).is_empty());
    // The closed session can no longer write.
    assert_eq!(h.run(S2, create("/late")).err, ErrorCode::SessionExpired);
    assert_eq!(
        h.run(S2, create_flags("/late", 1)).err,
        ErrorCode::SessionExpired
    );
    assert_eq!(h.run(S2, delete("/s", -1)).err, ErrorCode::SessionExpired);
    assert_eq!(
        h.run(S2, set_data("/s", b"", -1)).err,
        ErrorCode::SessionExpired
    );
    assert_eq!(
        h.run(S2, set_acl("/s", None, -1)).err,
        ErrorCode::SessionExpired
    );
    // Inside multi the session check is per op: per-op results, err 0.
    let o = h.run(
        S2,
        multi(vec![MultiOp::Create(cr("/late", 0)), check_op("/s", -1)]),
    );
    assert_eq!(o.err, ErrorCode::Ok);
    assert_eq!(
        results(&o),
        vec![MultiResult::Error(-112), MultiResult::Error(-2)]
    );
    // Flag validation comes before the session check, as in prep.
    assert_eq!(
        h.run(S2, create_flags("/late", 9)).err,
        ErrorCode::BadArguments
    );
    // Closing again is harmless.
    let o = h.run(S2, Request::CloseSession);
    assert_eq!(o.err, ErrorCode::Ok);
    assert!(o.triggers.is_empty());
    // Expiry of S1: ephemerals gone, reported as expired.
    h.run(S1, create_flags("/s/x", 1));
    let o = h.internal(ZkOp::ExpireSession { session_id: S1 });
    assert_eq!(o.session_id, S1);
    assert_eq!(
        o.closed_sessions,
        vec![ClosedSession {
            session_id: S1,
            expired: true
        }]
    );
    assert_eq!(o.triggers.len(), 2);
    assert!(!h.exists("/s/x"));
    let o = h.internal(ZkOp::CloseSession { session_id: S3 });
    assert!(!o.closed_sessions[0].expired);
}

#[test]
fn session_table() {
    let mut h = H::new();
    h.session(S1);
    let o = h.internal(ZkOp::CreateSession {
        session_id: S1,
        timeout_ms: 5,
    });
    assert_eq!((o.err, o.zxid), (ErrorCode::NodeExists, 2));
    for bad in [0, i64::MIN] {
        let o = h.internal(ZkOp::CreateSession {
            session_id: bad,
            timeout_ms: 5,
        });
        assert_eq!(o.err, ErrorCode::BadArguments);
    }
    h.internal(ZkOp::CreateSession {
        session_id: -7,
        timeout_ms: 4000,
    });
    let mut s: Vec<(i64, i32)> = h
        .with_reader(|r| r.sessions().unwrap())
        .into_iter()
        .map(|(id, t, _)| (id, t))
        .collect();
    s.sort();
    assert_eq!(s, vec![(-7, 4000), (S1, 30_000)]);
    assert_eq!(
        h.with_reader(|r| r.session_timeout(S1).unwrap()),
        Some(30_000)
    );
    assert_eq!(h.with_reader(|r| r.session_timeout(S2).unwrap()), None);
    // A session that never existed cannot write.
    assert_eq!(h.run(S2, create("/x")).err, ErrorCode::SessionExpired);
}

#[test]
fn container_cleanup_rechecks_at_apply() {
    let mut h = H::new();
    h.session(S1);
    h.run(S1, Request::CreateContainer(cr("/c", 4)));
    let cands = |h: &H, t: i64| h.with_reader(|r| r.cleanup_candidates(t).unwrap());
    assert!(cands(&h, T0 + 10_000_000).is_empty());
    // Never used: not deletable (BADVERSION), nothing changes.
    let o = h.internal(ZkOp::DeleteContainer { path: "/c".into() });
    assert_eq!(o.err, ErrorCode::BadVersion);
    assert!(h.exists("/c"));
    h.run(S1, create("/c/child"));
    assert!(cands(&h, T0).is_empty());
    let o = h.internal(ZkOp::DeleteContainer { path: "/c".into() });
    assert_eq!(o.err, ErrorCode::NotEmpty);
    h.run(S1, delete("/c/child", -1));
    assert_eq!(
        cands(&h, T0),
        vec![CleanupCandidate {
            path: "/c".into(),
            kind: CleanupKind::Container
        }]
    );
    let o = h.internal(ZkOp::DeleteContainer { path: "/c".into() });
    assert_eq!(o.err, ErrorCode::Ok);
    assert_eq!(
        o.triggers,
        vec![
            trig("/c", TriggerKind::NodeDeleted),
            trig("/", TriggerKind::NodeChildrenChanged)
        ]
    );
    assert!(!h.exists("/c"));
    assert!(cands(&h, T0).is_empty());
    let o = h.internal(ZkOp::DeleteContainer { path: "/c".into() });
    assert_eq!(o.err, ErrorCode::NoNode);
    // A persistent node is never cleaned up as a container.
    h.run(S1, create("/p"));
    h.run(S1, create("/p/x"));
    h.run(S1, delete("/p/x", -1));
    assert_eq!(
        h.internal(ZkOp::DeleteContainer { path: "/p".into() }).err,
        ErrorCode::BadVersion
    );
    // maxNeverUsedIntervalMs
    let mut h = H::with(ZkConfig {
        container_max_never_used_ms: 1000,
        ..ZkConfig::default()
    });
    h.session(S1);
    h.run(S1, Request::CreateContainer(cr("/u", 4)));
    assert!(cands(&h, T0 + 1000).is_empty());
    assert_eq!(cands(&h, T0 + 1001).len(), 1);
    assert_eq!(
        h.internal(ZkOp::DeleteContainer { path: "/u".into() }).err,
        ErrorCode::BadVersion
    );
    h.time = T0 + 1001;
    assert_eq!(
        h.internal(ZkOp::DeleteContainer { path: "/u".into() }).err,
        ErrorCode::Ok
    );
}

#[test]
fn ttl_cleanup_rechecks_at_apply() {
    let mut h = H::new();
    h.session(S1);
    h.run(S1, Request::CreateTtl(ttl_req("/t", 5, 1000)));
    let cands = |h: &H, t: i64| h.with_reader(|r| r.cleanup_candidates(t).unwrap());
    assert!(cands(&h, T0 + 1000).is_empty());
    assert_eq!(
        cands(&h, T0 + 1001),
        vec![CleanupCandidate {
            path: "/t".into(),
            kind: CleanupKind::Ttl
        }]
    );
    h.time = T0 + 1000;
    assert_eq!(
        h.internal(ZkOp::ExpireTtl { path: "/t".into() }).err,
        ErrorCode::BadVersion
    );
    // setData postpones expiry.
    h.time = T0 + 500;
    h.run(S1, set_data("/t", b"x", -1));
    assert!(cands(&h, T0 + 1001).is_empty());
    h.time = T0 + 1001;
    assert_eq!(
        h.internal(ZkOp::ExpireTtl { path: "/t".into() }).err,
        ErrorCode::BadVersion
    );
    // Children block expiry.
    h.run(S1, create("/t/c"));
    assert!(cands(&h, T0 + 10_000).is_empty());
    h.time = T0 + 10_000;
    assert_eq!(
        h.internal(ZkOp::ExpireTtl { path: "/t".into() }).err,
        ErrorCode::NotEmpty
    );
    h.run(S1, delete("/t/c", -1));
    let o = h.internal(ZkOp::ExpireTtl { path: "/t".into() });
    assert_eq!(o.err, ErrorCode::Ok);
    assert_eq!(o.triggers[0], trig("/t", TriggerKind::NodeDeleted));
    assert_eq!(
        h.internal(ZkOp::ExpireTtl { path: "/t".into() }).err,
        ErrorCode::NoNode
    );
    // Not a TTL node.
    h.run(S1, create("/plain"));
    assert_eq!(
        h.internal(ZkOp::ExpireTtl {
            path: "/plain".into()
        })
        .err,
        ErrorCode::BadVersion
    );
    assert_eq!(
        h.internal(ZkOp::ExpireTtl { path: "/".into() }).err,
        ErrorCode::BadArguments
    );
}

#[test]
fn client_delete_container_request() {
    // Observed on 3.8.0: a client-sent deleteContainer (opcode 20) is always BADARGUMENTS (the
    // server reads the jute length prefix as part of the path), and consumes a zxid.
    let mut h = H::new();
    h.session(S1);
    h.run_as(
        S1,
        &[],
        Request::Create(create_acl(
            "/locked",
            Some(vec![acl(1, "world", "anyone")]),
            0,
        )),
    );
    h.run(S1, create_flags("/eph", 1));
    let dc = |p: &str| Request::DeleteContainer(DeleteContainerRequest { path: p.into() });
    let o: Vec<ZkOutcome> = ["/eph", "/nope", "/zookeeper", "/", "/locked"]
        .iter()
        .map(|p| h.run(S2, dc(p)))
        .collect();
    assert_eq!(errs(&o), vec![-8; 5]);
    assert_eq!(o[4].zxid, o[0].zxid + 4);
    assert!(h.exists("/locked"));
}

#[test]
fn reads() {
    let mut h = H::new();
    h.session(S1);
    for p in ["/r", "/r/b", "/r/a", "/r/c", "/r/a/x", "/rr"] {
        h.run(S1, create(p));
    }
    let ip = vec![Id::new("ip", "127.0.0.1")];
    let ch = h.read(
        Request::GetChildren2(zoolog_jute::GetChildren2Request {
            path: "/r".into(),
            watch: true,
        }),
        &ip,
    );
    let Response::GetChildren2(c) = ch.response else {
        panic!()
    };
    assert_eq!(
        c.children,
        vec!["a".into(), "b".into(), "c".into()] as Vec<zoolog_jute::ByteString>
    );
    assert_eq!(c.stat.num_children, 3);
    let n = h.read(
        Request::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberRequest {
            path: "/r".into(),
        }),
        &ip,
    );
    assert_eq!(
        n.response,
        Response::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberResponse {
            total_number: 4
        })
    );
    let n = h.read(
        Request::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberRequest {
            path: "/".into(),
        }),
        &ip,
    );
    assert_eq!(
        n.response,
        Response::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberResponse {
            total_number: 9
        })
    );
    // exists: BADARGUMENTS for \0; other reads just miss (observed).
    let ex = |p: &str| {
        Request::Exists(zoolog_jute::ExistsRequest {
            path: p.into(),
            watch: true,
        })
    };
    assert_eq!(h.read(ex("/a\0b"), &ip).err, ErrorCode::BadArguments);
    assert_eq!(h.read(get_data("/a\0b"), &ip).err, ErrorCode::NoNode);
    assert_eq!(h.read(ex("/nope"), &ip).err, ErrorCode::NoNode);
    assert_eq!(h.read(ex("/nope"), &ip).response, Response::Empty);
    h.run_as(
        S1,
        &ip,
        Request::Create(create_acl(
            "/noread",
            Some(vec![acl(30, "world", "anyone")]),
            0,
        )),
    );
    let mr = h.read(
        Request::MultiRead(MultiRequest {
            ops: vec![
                MultiOp::GetData(GetDataRequest {
                    path: "/noread".into(),
                    watch: false,
                }),
                MultiOp::GetChildren(GetChildrenRequest {
                    path: "/r/a".into(),
                    watch: false,
                }),
                MultiOp::GetData(GetDataRequest {
                    path: "/nope".into(),
                    watch: false,
                }),
                MultiOp::GetData(GetDataRequest {
                    path: "/r".into(),
                    watch: false,
                }),
            ],
        }),
        &ip,
    );
    assert_eq!(mr.err, ErrorCode::Ok);
    let Response::Multi(m) = mr.response else {
        panic!()
    };
    assert_eq!(m.results[0], MultiResult::Error(-102));
    assert_eq!(
        m.results[1],
        MultiResult::GetChildren(zoolog_jute::GetChildrenResponse {
            children: vec!["x".into()]
        })
    );
    assert_eq!(m.results[2], MultiResult::Error(-101));
    assert!(matches!(m.results[3], MultiResult::GetData(_)));
    // setWatches catch-up lookups.
    let p = h.with_reader(|r| r.watch_probe("/r").unwrap()).unwrap();
    let st = h.stat("/r");
    assert_eq!((p.mzxid, p.pzxid), (st.mzxid, st.pzxid));
    assert!(h.with_reader(|r| r.watch_probe("/gone").unwrap()).is_none());
    assert_eq!(h.read(Request::Ping, &ip).err, ErrorCode::Unimplemented);
    assert_eq!(h.with_reader(|r| r.node_count().unwrap()), 11);
}

#[test]
fn batches_keep_each_command_atomic() {
    let mut h = H::new();
    h.session(S1);
    let cmds = vec![
        h.cmd(S1, create("/a")),
        h.cmd(
            S1,
            multi(vec![MultiOp::Create(cr("/m", 0)), del_op("/nope", -1)]),
        ),
        h.cmd(S1, create("/a")),
        h.cmd(S1, create("/a/b")),
        h.cmd(S1, delete("/a", -1)),
        h.cmd(
            S1,
            multi(vec![MultiOp::Create(cr("/n", 0)), del_op("/a/b", -1)]),
        ),
    ];
    let o = h.apply_all(&cmds);
    assert_eq!(errs(&o), vec![0, 0, -110, 0, -111, 0]);
    assert_eq!(
        o.iter().map(|o| o.zxid).collect::<Vec<_>>(),
        vec![2, 3, 4, 5, 6, 7]
    );
    assert!(h.exists("/a") && h.exists("/n") && !h.exists("/m") && !h.exists("/a/b"));
    assert_eq!(h.stat("/a").cversion, 2);
    assert_eq!(h.with_reader(|r| r.last_zxid().unwrap()), 7);
}

fn workload(h: &H) -> Vec<ZkCommand> {
    let mut v = vec![
        ZkCommand::internal(
            0,
            T0,
            ZkOp::CreateSession {
                session_id: S1,
                timeout_ms: 4000,
            },
        ),
        ZkCommand::internal(
            0,
            T0,
            ZkOp::CreateSession {
                session_id: S2,
                timeout_ms: 4000,
            },
        ),
    ];
    let mut t = T0;
    for i in 0..40 {
        t += 13;
        let c = |s: i64, r: Request| ZkCommand::request(s, i, t, h.auth.clone(), r);
        v.push(c(S1, create_flags(&format!("/q{}", i % 5), 2)));
        v.push(c(S2, create_flags(&format!("/e{}", i % 7), 1)));
        v.push(c(S1, set_data(&format!("/q{}", i % 5), b"d", -1)));
        v.push(c(
            S1,
            multi(vec![
                MultiOp::Create(cr(&format!("/m{i}"), 0)),
                MultiOp::Create(cr(&format!("/m{i}/c"), 3)),
                del_op(&format!("/m{}", i.saturating_sub(1)), -1),
            ]),
        ));
        v.push(ZkCommand::internal(
            0,
            t,
            ZkOp::DeleteContainer {
                path: format!("/m{i}"),
            },
        ));
    }
    v.push(ZkCommand::internal(
        0,
        t,
        ZkOp::ExpireSession { session_id: S2 },
    ));
    v.push(ZkCommand::request(
        S1,
        99,
        t,
        h.auth.clone(),
        Request::CloseSession,
    ));
    v
}

#[test]
fn determinism_same_commands_same_state() {
    let mut a = H::new();
    let mut b = H::new();
    let cmds = workload(&a);
    let oa: Vec<ZkOutcome> = cmds.chunks(7).flat_map(|c| a.apply_all(c)).collect();
    let ob: Vec<ZkOutcome> = cmds.chunks(7).flat_map(|c| b.apply_all(c)).collect();
    assert_eq!(oa, ob);
    assert_eq!(a.store.digest().unwrap(), b.store.digest().unwrap());
    // Batching does not change the ZooKeeper state either (the cursor differs, so compare the
    // zk partition only).
    let mut c = H::new();
    let oc: Vec<ZkOutcome> = cmds.iter().map(|x| c.apply(x.clone())).collect();
    assert_eq!(oa, oc);
    assert_eq!(a.zk_entries(), c.zk_entries());
    assert!(oa.iter().any(|o| o.err != ErrorCode::Ok));
    // After everything: only persistent nodes are left, no sessions.
    assert!(c.with_reader(|r| r.sessions().unwrap()).is_empty());
}

#[test]
fn applicator_round_trip() {
    use std::sync::{Arc, Mutex};

    struct Rec(Mutex<Vec<(u64, ZkOutcome)>>);
    impl ZkListener for Rec {
        fn applied(&self, pos: u64, outcome: &ZkOutcome) {
            self.0.lock().unwrap().push((pos, outcome.clone()));
        }
    }

    let mut h = H::new();
    let app = ZkApplicator::new(h.sm.clone());
    let rec = Arc::new(Rec(Mutex::new(Vec::new())));
    app.set_listener(rec.clone());
    let entries = [
        Entry::new(
            ZkCommand::internal(
                0,
                T0,
                ZkOp::CreateSession {
                    session_id: S1,
                    timeout_ms: 1,
                },
            )
            .encode(),
        ),
        Entry::new(h.cmd(S1, create("/x")).encode()),
        Entry::new(Bytes::from_static(&[1, 2, 3])),
    ];
    let mut txn = h.store.begin();
    let mut results = Vec::new();
    for (pos, e) in entries.iter().enumerate() {
        results.push(app.apply(&mut txn, e, pos as u64).unwrap());
    }
    let unsupported = app.apply(&mut txn, &Entry::new(Bytes::from_static(&[99])), 3);
    assert!(matches!(
        unsupported,
        Err(crate::engine::ApplyError::Unsupported { .. })
    ));
    txn.commit(3).unwrap();
    h.cursor = 3;
    for (pos, (e, r)) in entries.iter().zip(&results).enumerate() {
        app.post_apply(e, pos as u64, r);
    }
    let got = rec.0.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].1.zxid, 2);
    assert_eq!(created_path(&got[1].1), "/x");
    assert_eq!(got[1].1.triggers[0], trig("/x", TriggerKind::NodeCreated));
    assert_eq!(
        (got[2].1.err, got[2].1.zxid),
        (ErrorCode::MarshallingError, 2)
    );
    assert!(h.exists("/x"));
}

#[test]
fn initialize_is_idempotent() {
    let mut h = H::new();
    let mut txn = h.store.begin();
    assert!(h.sm.initialize(&mut txn).unwrap());
    assert!(!h.sm.initialize(&mut txn).unwrap());
    txn.commit(0).unwrap();
    assert_eq!(h.stat("/").cversion, -1);
    assert_eq!(h.with_reader(|r| r.node_count().unwrap()), 4);
    assert_eq!(h.session(S1).zxid, 1);
}

/// A tree written in another key layout (older builds wrote no layout record) is refused at
/// startup with an error that says so, not read as an empty or broken tree.
#[test]
fn a_tree_in_another_key_layout_is_refused() {
    let mut h = H::new();
    h.session(S1);
    let partition = h.sm.partition().clone();
    for (stored, says) in [(None, "key layout 1"), (Some(vec![9u8]), "key layout 9")] {
        let mut txn = h.store.begin();
        match stored {
            None => txn.delete(&partition, keys::META_LAYOUT.to_vec()),
            Some(v) => txn.put(&partition, keys::META_LAYOUT.to_vec(), v),
        }
        h.cursor += 1;
        txn.commit(h.cursor).unwrap();
        let mut txn = h.store.begin();
        let err = h.sm.initialize(&mut txn).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    let mut txn = h.store.begin();
    txn.put(
        &partition,
        keys::META_LAYOUT.to_vec(),
        vec![keys::LAYOUT_VERSION],
    );
    h.cursor += 1;
    txn.commit(h.cursor).unwrap();
    let mut txn = h.store.begin();
    assert!(!h.sm.initialize(&mut txn).unwrap());
}

/// The overlay's zero-copy read answers exactly what its copying read does: pending nodes,
/// pending deletes, pending raw keys, keys only the store has, and absent keys.
#[test]
fn overlay_raw_bytes_matches_raw() {
    use super::node::Node;
    use super::overlay::Overlay;
    use super::view::{StoreView, TreeRead};

    let mut h = H::new();
    h.session(S1);
    h.run(S1, create("/a"));
    h.run(S1, create("/b"));
    let partition = h.sm.partition().clone();
    let txn = h.store.begin();
    let view = StoreView::new(&txn, &partition);
    let mut ov = Overlay::new(view);
    let mut a: Node = view.node("/a").unwrap().unwrap();
    a.set_data(Some(Bytes::from_static(b"pending")));
    ov.put_node("/a", a);
    let b = view.node("/b").unwrap().unwrap();
    ov.remove_node("/b", &b);
    ov.put_raw(b"xpending".to_vec(), b"v".to_vec());
    ov.delete_raw(keys::META_NODE_COUNT.to_vec());
    let probes: Vec<Vec<u8>> = vec![
        keys::node("/a"),
        keys::node("/b"),
        keys::node("/absent"),
        keys::node("/zookeeper"),
        keys::data("/a"),
        keys::data("/absent"),
        keys::session(S1),
        keys::META_ZXID.to_vec(),
        keys::META_NODE_COUNT.to_vec(),
        b"xpending".to_vec(),
        b"xabsent".to_vec(),
    ];
    for key in probes {
        let copied = ov.raw(&key).unwrap();
        let shared = ov.raw_bytes(&key).unwrap().map(|b| b.to_vec());
        assert_eq!(shared, copied, "key {:?}", String::from_utf8_lossy(&key));
    }
    assert!(ov.raw_bytes(&keys::node("/b")).unwrap().is_none());
    assert_ne!(
        ov.raw_bytes(&keys::node("/a")).unwrap(),
        view.raw_bytes(&keys::node("/a")).unwrap(),
        "the pending node, not the stored one"
    );
    assert!(ov.raw_bytes(&keys::session(S1)).unwrap().is_some());
}

/// Wide listings come from the children cache once listed; every change of the children (a
/// create, a delete, a multi, the node deleted and made again) is seen at once, at old and new
/// snapshots alike, through getChildren, getChildren2 and multiRead.
#[test]
fn cached_listings_follow_every_change() {
    fn list(h: &H, path: &str) -> Vec<String> {
        let r = h.read(
            Request::GetChildren(GetChildrenRequest {
                path: path.into(),
                watch: false,
            }),
            &[],
        );
        let Response::GetChildren(c) = r.response else {
            panic!("getChildren {path}: {:?}", r.err)
        };
        let mut v: Vec<String> = c.children.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }
    fn expected(names: &std::collections::BTreeSet<String>) -> Vec<String> {
        names.iter().cloned().collect()
    }

    let mut h = H::new();
    h.session(S1);
    let mut names = wide_node(&mut h, "/w", "c", 100);
    assert_eq!(list(&h, "/w"), expected(&names));
    // A snapshot taken now keeps seeing these children after later changes.
    let old = h.store.snapshot();
    assert_eq!(list(&h, "/w"), expected(&names), "a cache hit");

    h.run(S1, create("/w/new"));
    names.insert("new".into());
    assert_eq!(list(&h, "/w"), expected(&names));
    h.run(S1, delete("/w/c050", -1));
    names.remove("c050");
    assert_eq!(list(&h, "/w"), expected(&names));
    // Delete one child and create another in one multi: the count stays the same.
    h.run(
        S1,
        multi(vec![del_op("/w/c000", -1), MultiOp::Create(cr("/w/zz", 0))]),
    );
    names.remove("c000");
    names.insert("zz".into());
    assert_eq!(list(&h, "/w"), expected(&names));

    let at_old = h.sm.reader(&old).get_children("/w", &[]).unwrap();
    let Response::GetChildren(c) = at_old.response else {
        panic!()
    };
    assert_eq!(c.children.len(), 100, "the old snapshot's listing");
    assert!(c.children.iter().any(|n| &**n == "c050"));

    // getChildren2 and multiRead share the listing; the stat is the node's own.
    let r2 = h.read(
        Request::GetChildren2(zoolog_jute::GetChildren2Request {
            path: "/w".into(),
            watch: false,
        }),
        &[],
    );
    let Response::GetChildren2(c2) = r2.response else {
        panic!()
    };
    assert_eq!(c2.children.len(), names.len());
    assert_eq!(c2.stat.num_children as usize, names.len());
    let mr = h.read(
        Request::MultiRead(MultiRequest {
            ops: vec![MultiOp::GetChildren(GetChildrenRequest {
                path: "/w".into(),
                watch: false,
            })],
        }),
        &[],
    );
    let Response::Multi(m) = mr.response else {
        panic!()
    };
    let MultiResult::GetChildren(mc) = &m.results[0] else {
        panic!()
    };
    assert_eq!(mc.children.len(), names.len());

    // The node deleted and made again with other children: nothing of the old listing.
    let all: Vec<String> = names.iter().cloned().collect();
    for n in &all {
        h.run(S1, delete(&format!("/w/{n}"), -1));
    }
    h.run(S1, delete("/w", -1));
    let again = wide_node(&mut h, "/w", "d", 70);
    assert_eq!(list(&h, "/w"), expected(&again));
}

/// Creates `parent` with `n` children named `prefix` + a zero-padded number; returns the names.
fn wide_node(
    h: &mut H,
    parent: &str,
    prefix: &str,
    n: usize,
) -> std::collections::BTreeSet<String> {
    h.run(S1, create(parent));
    (0..n)
        .map(|i| {
            let name = format!("{prefix}{i:03}");
            h.run(S1, create(&format!("{parent}/{name}")));
            name
        })
        .collect()
}

/// At cversion i32::MAX a create leaves cversion and pzxid alone (ZooKeeper's
/// `parentCVersion > cversion` test fails after the wrap); the cached listing must still notice
/// the new child.
#[test]
fn cached_listing_sees_a_create_after_cversion_wraps() {
    use super::node::Node;
    use super::view::{StoreView, TreeRead};

    let mut h = H::new();
    h.session(S1);
    wide_node(&mut h, "/w", "c", 70);
    let partition = h.sm.partition().clone();
    let mut txn = h.store.begin();
    let mut w: Node = StoreView::new(&txn, &partition)
        .node("/w")
        .unwrap()
        .unwrap();
    w.stat.cversion = i32::MAX;
    txn.put(&partition, keys::node("/w"), w.encode());
    h.cursor += 1;
    txn.commit(h.cursor).unwrap();

    let children = |h: &H| {
        let r = h.with_reader(|r| r.get_children("/w", &[]).unwrap());
        let Response::GetChildren(c) = r.response else {
            panic!()
        };
        c.children.len()
    };
    assert_eq!(children(&h), 70);
    h.run(S1, create("/w/late"));
    let snap = h.store.snapshot();
    let w: Node = StoreView::new(&snap, &partition)
        .node("/w")
        .unwrap()
        .unwrap();
    assert_eq!(
        (w.stat.cversion, w.num_children),
        (i32::MAX, 71),
        "the persisted cversion is stuck"
    );
    assert_eq!(children(&h), 71);
}

/// Data longer than `INLINE_DATA_MAX` lives under its own key: every write that changes it
/// writes that key, writes that leave it alone (a child's create, setACL) do not, and a node
/// whose data shrinks, or that is deleted, takes the key with it — also inside one multi.
#[test]
fn data_stored_apart_follows_every_write() {
    use super::node::INLINE_DATA_MAX;

    let big = |b: u8| Bytes::from(vec![b; INLINE_DATA_MAX + 100]);
    let set = |path: &str, data: Bytes| {
        Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(data),
            version: -1,
        })
    };
    let create_with = |path: &str, data: Bytes| CreateRequest {
        path: path.into(),
        data: Some(data),
        acl: Some(Acl::open_unsafe()),
        flags: 0,
    };
    let data_key = |h: &H, path: &str| -> Option<Vec<u8>> {
        h.zk_entries()
            .into_iter()
            .find(|(k, _)| *k == keys::data(path))
            .map(|(_, v)| v)
    };
    let read = |h: &H, path: &str| -> Option<Bytes> {
        match h.read(get_data(path), &[]).response {
            Response::GetData(d) => d.data,
            other => panic!("{other:?}"),
        }
    };
    let mut h = H::new();
    h.session(S1);

    let o = h.run(S1, Request::Create(create_with("/big", big(1))));
    assert_eq!(o.err, ErrorCode::Ok);
    assert_eq!(read(&h, "/big"), Some(big(1)));
    assert_eq!(h.stat("/big").data_length, (INLINE_DATA_MAX + 100) as i32);
    assert_eq!(data_key(&h, "/big"), Some(big(1).to_vec()));
    let record = |h: &H| {
        h.zk_entries()
            .into_iter()
            .find(|(k, _)| *k == keys::node("/big"))
            .map(|(_, v)| v.len())
            .unwrap()
    };
    assert!(record(&h) < 100, "the record leaves the data out");

    // A child's create rewrites the parent's record, not its data; so does setACL.
    assert_eq!(h.run(S1, create("/big/c")).err, ErrorCode::Ok);
    assert_eq!(
        h.run(S1, set_acl("/big", Some(Acl::open_unsafe()), -1)).err,
        ErrorCode::Ok
    );
    assert_eq!(read(&h, "/big"), Some(big(1)));
    assert_eq!(h.stat("/big").num_children, 1);

    // Shrinking brings the data inline and deletes the key; growing puts it back.
    assert_eq!(
        h.run(S1, set("/big", Bytes::from_static(b"small"))).err,
        ErrorCode::Ok
    );
    assert_eq!(data_key(&h, "/big"), None);
    assert_eq!(read(&h, "/big"), Some(Bytes::from_static(b"small")));
    assert_eq!(h.run(S1, set("/big", big(2))).err, ErrorCode::Ok);
    assert_eq!(data_key(&h, "/big"), Some(big(2).to_vec()));
    assert_eq!(read(&h, "/big"), Some(big(2)));

    // One multi: grow, read-modify through the pending node, then delete and recreate small.
    let o = h.run(
        S1,
        multi(vec![
            MultiOp::SetData(SetDataRequest {
                path: "/big".into(),
                data: Some(big(3)),
                version: -1,
            }),
            del_op("/big/c", -1),
            del_op("/big", -1),
            MultiOp::Create(create_with("/big", Bytes::from_static(b"again"))),
        ]),
    );
    assert_eq!(o.err, ErrorCode::Ok, "{:?}", o.response);
    assert_eq!(data_key(&h, "/big"), None);
    assert_eq!(read(&h, "/big"), Some(Bytes::from_static(b"again")));

    // Deleted and recreated with other long data in one multi: the new data is stored.
    assert_eq!(h.run(S1, set("/big", big(4))).err, ErrorCode::Ok);
    let o = h.run(
        S1,
        multi(vec![
            del_op("/big", -1),
            MultiOp::Create(create_with("/big", big(5))),
        ]),
    );
    assert_eq!(o.err, ErrorCode::Ok, "{:?}", o.response);
    assert_eq!(read(&h, "/big"), Some(big(5)));
    assert_eq!(data_key(&h, "/big"), Some(big(5).to_vec()));

    // A failed multi leaves everything as it was.
    let o = h.run(
        S1,
        multi(vec![
            MultiOp::SetData(SetDataRequest {
                path: "/big".into(),
                data: Some(Bytes::from_static(b"x")),
                version: -1,
            }),
            check_op("/big", 1000),
        ]),
    );
    assert!(
        results(&o)
            .iter()
            .any(|r| matches!(r, MultiResult::Error(e) if *e != 0)),
        "{o:?}"
    );
    assert_eq!(read(&h, "/big"), Some(big(5)));
    assert_eq!(data_key(&h, "/big"), Some(big(5).to_vec()));

    // A plain delete takes the key with it.
    assert_eq!(h.run(S1, delete("/big", -1)).err, ErrorCode::Ok);
    assert_eq!(data_key(&h, "/big"), None);
    assert!(!h.exists("/big"));
}

/// Children listings and descendant counts find exactly the nodes below, at every depth, with
/// siblings whose names extend each other and with data inline and apart.
#[test]
fn listings_and_counts_by_depth() {
    use super::node::INLINE_DATA_MAX;

    let mut h = H::new();
    h.session(S1);
    for p in [
        "/a", "/ab", "/a/b", "/a/bc", "/a/b/c", "/a/b/c/d", "/ab/x", "/b",
    ] {
        let data = if p.len() % 2 == 0 {
            Bytes::from(vec![b'x'; INLINE_DATA_MAX + 1])
        } else {
            Bytes::new()
        };
        let req = Request::Create(CreateRequest {
            path: p.into(),
            data: Some(data),
            acl: Some(Acl::open_unsafe()),
            flags: 0,
        });
        assert_eq!(h.run(S1, req).err, ErrorCode::Ok, "{p}");
    }
    let children = |h: &H, p: &str| -> Vec<String> {
        match h
            .read(
                Request::GetChildren(GetChildrenRequest {
                    path: p.into(),
                    watch: false,
                }),
                &[],
            )
            .response
        {
            Response::GetChildren(c) => {
                let mut v: Vec<String> = c.children.iter().map(|s| s.to_string()).collect();
                v.sort();
                v
            }
            other => panic!("{other:?}"),
        }
    };
    let count = |h: &H, p: &str| -> i32 {
        match h
            .read(
                Request::GetAllChildrenNumber(zoolog_jute::GetAllChildrenNumberRequest {
                    path: p.into(),
                }),
                &[],
            )
            .response
        {
            Response::GetAllChildrenNumber(c) => c.total_number,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(children(&h, "/"), ["a", "ab", "b", "zookeeper"]);
    assert_eq!(children(&h, "/a"), ["b", "bc"]);
    assert_eq!(children(&h, "/a/b"), ["c"]);
    assert_eq!(children(&h, "/ab"), ["x"]);
    assert_eq!(children(&h, "/a/b/c/d"), Vec::<String>::new());
    assert_eq!(count(&h, "/a"), 4);
    assert_eq!(count(&h, "/a/b"), 2);
    assert_eq!(count(&h, "/ab"), 1);
    assert_eq!(count(&h, "/b"), 0);
    assert_eq!(count(&h, "/"), 8 + 3, "with the three /zookeeper nodes");
    assert_eq!(h.run(S1, delete("/a/b/c/d", -1)).err, ErrorCode::Ok);
    assert_eq!(count(&h, "/a"), 3);
    assert_eq!(children(&h, "/a/b/c"), Vec::<String>::new());
}

#[test]
fn session_owner_moves_and_stale_expiry_is_ignored() {
    let mut h = H::new();
    h.session(S1);
    // Created on server 1 (the id's top byte): that is its owner.
    assert_eq!(h.with_reader(|r| r.session_owner(S1).unwrap()), Some(1));
    h.run(S1, create_flags("/e", 1));
    let o = h.internal(ZkOp::AttachSession {
        session_id: S1,
        owner: 3,
        timeout_ms: 9000,
    });
    assert_eq!(o.err, ErrorCode::Ok);
    assert_eq!(h.with_reader(|r| r.session_owner(S1).unwrap()), Some(3));
    assert_eq!(
        h.with_reader(|r| r.session_timeout(S1).unwrap()),
        Some(9000)
    );
    // The old owner's expiry, applied after the move, changes nothing but the zxid.
    let before = h.with_reader(|r| r.last_zxid().unwrap());
    let o = h.internal(ZkOp::ExpireOwnedSession {
        session_id: S1,
        owner: 1,
    });
    assert_eq!(o.err, ErrorCode::Ok);
    assert!(o.closed_sessions.is_empty());
    assert!(h.exists("/e"));
    assert_eq!(o.zxid, before + 1);
    // The new owner's expiry removes it with its ephemerals.
    let o = h.internal(ZkOp::ExpireOwnedSession {
        session_id: S1,
        owner: 3,
    });
    assert_eq!(o.closed_sessions.len(), 1);
    assert!(!h.exists("/e"));
    // Attaching a session that is gone answers SESSIONEXPIRED.
    let o = h.internal(ZkOp::AttachSession {
        session_id: S1,
        owner: 2,
        timeout_ms: 9000,
    });
    assert_eq!(o.err, ErrorCode::SessionExpired);
}
