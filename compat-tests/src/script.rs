//! Scenarios as data: a list of [`Step`]s on named connections, built with [`Sc`] and the request
//! constructors in [`ops`]. The same list runs against both servers; a step prints itself back
//! as the builder call that made it, which is how shrunk random runs become new scenarios.

use zoolog_jute::{MultiOp, Request};

/// One step of a scenario.
#[derive(Clone, Debug)]
pub enum Step {
    /// Open connection `c` and shake hands.
    Connect { c: String, spec: ConnectSpec },
    /// Send one request on `c` and read its reply (and whatever notifications come first).
    Send { c: String, op: Op },
    /// Send several requests on `c` back to back, then read all the replies.
    Pipeline { c: String, ops: Vec<Op> },
    /// Cut connection `c` (no closeSession); its session lives on.
    Disconnect { c: String },
    /// Wait, pinging every connection.
    Sleep { ms: u64 },
    /// Stop pinging `c` and wait for the server to close it (session expiry).
    AwaitClose { c: String, max_ms: u64 },
    /// Poll (on a side connection) until `path` is gone (container / TTL reaping).
    WaitGone { path: String, max_ms: u64 },
    /// A four-letter word on a fresh connection; its output's shape is compared.
    FourLw { word: String },
}

/// How a connection shakes hands.
#[derive(Clone, Debug)]
pub struct ConnectSpec {
    pub timeout: i32,
    pub session: SessionSpec,
    pub last_zxid: ZxidSpec,
    /// `None`: the old (pre-3.4) ConnectRequest without the readOnly byte.
    pub read_only: Option<bool>,
    pub protocol_version: i32,
    /// Requests written right behind the ConnectRequest, before its answer.
    pub pipelined: Vec<Op>,
}

impl Default for ConnectSpec {
    fn default() -> Self {
        ConnectSpec {
            timeout: 20000,
            session: SessionSpec::New,
            last_zxid: ZxidSpec::Zero,
            read_only: Some(false),
            protocol_version: 0,
            pipelined: Vec::new(),
        }
    }
}

/// Which session a ConnectRequest names.
#[derive(Clone, Debug)]
pub enum SessionSpec {
    New,
    /// The session first created by connection `of`.
    Resume {
        of: String,
        passwd: Passwd,
    },
    /// A session id the server never issued, with the password ZooKeeper's rule gives it.
    NeverIssued,
}

#[derive(Clone, Copy, Debug)]
pub enum Passwd {
    Right,
    /// The right password with one bit flipped.
    Wrong,
    Zeros,
}

/// A zxid the client claims to have seen.
#[derive(Clone, Debug)]
pub enum ZxidSpec {
    Zero,
    /// The highest zxid replies to session `of` carried.
    LastSeen(String),
    /// Far beyond anything the server processed.
    Ahead,
}

/// A request as a step sends it.
#[derive(Clone, Debug)]
pub enum Op {
    /// With the connection's next xid.
    Req(Request),
    /// With an explicit xid.
    Xid(i32, Request),
    /// Any opcode with raw body bytes (next xid).
    Raw { op: i32, body: Vec<u8> },
    /// setWatches (101) or setWatches2 (105), relative to a zxid this client has seen.
    SetWatches(WatchSet),
}

#[derive(Clone, Debug, Default)]
pub struct WatchSet {
    /// setWatches2 when true.
    pub v2: bool,
    pub rel: Option<String>,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub recursive: Vec<String>,
    /// `Some(-8)` as older Java clients; `None`: the next ordinary xid (Java 3.8.0).
    pub xid: Option<i32>,
}

impl WatchSet {
    /// The struct literal that makes this set.
    pub fn code(&self) -> String {
        let list = |v: &Vec<String>| {
            let items: Vec<String> = v.iter().map(|p| format!("{p:?}.into()")).collect();
            format!("vec![{}]", items.join(", "))
        };
        format!(
            "WatchSet {{ v2: {}, rel: {}, data: {}, exist: {}, child: {}, persistent: {}, recursive: {}, xid: {:?} }}",
            self.v2,
            match &self.rel {
                Some(r) => format!("Some({r:?}.into())"),
                None => "None".into(),
            },
            list(&self.data),
            list(&self.exist),
            list(&self.child),
            list(&self.persistent),
            list(&self.recursive),
            self.xid
        )
    }
}

/// A named scenario.
#[derive(Clone, Debug)]
pub struct Sc {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Sc {
    pub fn new(name: &str) -> Sc {
        Sc {
            name: name.to_string(),
            steps: Vec::new(),
        }
    }

    /// A new session on connection `c` (timeout 20 s).
    pub fn connect(&mut self, c: &str) -> &mut Self {
        self.connect_with(c, ConnectSpec::default())
    }

    pub fn connect_with(&mut self, c: &str, spec: ConnectSpec) -> &mut Self {
        self.steps.push(Step::Connect { c: c.into(), spec });
        self
    }

    /// Resume the session of connection `of` on a new connection `c`.
    pub fn resume(&mut self, c: &str, of: &str, passwd: Passwd) -> &mut Self {
        self.connect_with(
            c,
            ConnectSpec {
                session: SessionSpec::Resume {
                    of: of.into(),
                    passwd,
                },
                last_zxid: ZxidSpec::LastSeen(of.into()),
                ..ConnectSpec::default()
            },
        )
    }

    pub fn send(&mut self, c: &str, req: Request) -> &mut Self {
        self.op(c, Op::Req(req))
    }

    pub fn op(&mut self, c: &str, op: Op) -> &mut Self {
        self.steps.push(Step::Send { c: c.into(), op });
        self
    }

    pub fn pipeline(&mut self, c: &str, reqs: Vec<Request>) -> &mut Self {
        self.steps.push(Step::Pipeline {
            c: c.into(),
            ops: reqs.into_iter().map(Op::Req).collect(),
        });
        self
    }

    pub fn raw(&mut self, c: &str, op: i32, body: &[u8]) -> &mut Self {
        self.op(
            c,
            Op::Raw {
                op,
                body: body.to_vec(),
            },
        )
    }

    pub fn set_watches(&mut self, c: &str, w: WatchSet) -> &mut Self {
        self.op(c, Op::SetWatches(w))
    }

    /// closeSession on `c`.
    pub fn close(&mut self, c: &str) -> &mut Self {
        self.send(c, Request::CloseSession)
    }

    pub fn disconnect(&mut self, c: &str) -> &mut Self {
        self.steps.push(Step::Disconnect { c: c.into() });
        self
    }

    pub fn sleep(&mut self, ms: u64) -> &mut Self {
        self.steps.push(Step::Sleep { ms });
        self
    }

    pub fn await_close(&mut self, c: &str, max_ms: u64) -> &mut Self {
        self.steps.push(Step::AwaitClose {
            c: c.into(),
            max_ms,
        });
        self
    }

    pub fn wait_gone(&mut self, path: &str, max_ms: u64) -> &mut Self {
        self.steps.push(Step::WaitGone {
            path: path.into(),
            max_ms,
        });
        self
    }

    pub fn four(&mut self, word: &str) -> &mut Self {
        self.steps.push(Step::FourLw { word: word.into() });
        self
    }

    /// The scenario as Rust code (a function over the builder).
    pub fn code(&self) -> String {
        let mut s = format!(
            "fn {}(s: &mut Sc) {{\n",
            self.name.replace(['-', '/', '.'], "_")
        );
        for st in &self.steps {
            s.push_str("    ");
            s.push_str(&st.code());
            s.push_str(";\n");
        }
        s.push_str("}\n");
        s
    }
}

impl Step {
    /// The builder call that makes this step.
    pub fn code(&self) -> String {
        match self {
            Step::Connect { c, spec } => {
                let d = ConnectSpec::default();
                match &spec.session {
                    SessionSpec::Resume { of, passwd }
                        if spec.timeout == d.timeout
                            && spec.read_only == d.read_only
                            && spec.pipelined.is_empty()
                            && matches!(&spec.last_zxid, ZxidSpec::LastSeen(x) if x == of) =>
                    {
                        format!("s.resume({c:?}, {of:?}, Passwd::{passwd:?})")
                    }
                    SessionSpec::New
                        if spec.timeout == d.timeout
                            && spec.read_only == d.read_only
                            && spec.pipelined.is_empty()
                            && matches!(spec.last_zxid, ZxidSpec::Zero)
                            && spec.protocol_version == 0 =>
                    {
                        format!("s.connect({c:?})")
                    }
                    _ => format!("s.connect_with({c:?}, {spec:?})"),
                }
            }
            Step::Send { c, op } => match op {
                Op::Req(Request::CloseSession) => format!("s.close({c:?})"),
                Op::Req(r) => format!("s.send({c:?}, {})", req_code(r)),
                Op::Raw { op, body } => format!("s.raw({c:?}, {op}, &{body:?})"),
                Op::SetWatches(w) => format!("s.set_watches({c:?}, {})", w.code()),
                Op::Xid(x, r) => format!("s.op({c:?}, Op::Xid({x}, {}))", req_code(r)),
            },
            Step::Pipeline { c, ops } => {
                let reqs: Option<Vec<String>> = ops
                    .iter()
                    .map(|o| match o {
                        Op::Req(r) => Some(req_code(r)),
                        _ => None,
                    })
                    .collect();
                match reqs {
                    Some(r) => format!("s.pipeline({c:?}, vec![{}])", r.join(", ")),
                    None => {
                        format!("s.steps.push(Step::Pipeline {{ c: {c:?}.into(), ops: {ops:?} }})")
                    }
                }
            }
            Step::Disconnect { c } => format!("s.disconnect({c:?})"),
            Step::Sleep { ms } => format!("s.sleep({ms})"),
            Step::AwaitClose { c, max_ms } => format!("s.await_close({c:?}, {max_ms})"),
            Step::WaitGone { path, max_ms } => format!("s.wait_gone({path:?}, {max_ms})"),
            Step::FourLw { word } => format!("s.four({word:?})"),
        }
    }
}

fn data_code(d: &Option<bytes::Bytes>) -> String {
    match d {
        None => "NULL".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("{s:?}"),
            Err(_) => format!("/* bytes {b:?} */ \"\""),
        },
    }
}

fn acls_code(a: &Option<Vec<zoolog_jute::Acl>>) -> String {
    match a {
        None => "None".to_string(),
        Some(v) => {
            let items: Vec<String> = v
                .iter()
                .map(|a| {
                    format!(
                        "acl({}, {:?}, {:?})",
                        a.perms,
                        a.id.scheme.as_deref().unwrap_or(""),
                        a.id.id.as_deref().unwrap_or("")
                    )
                })
                .collect();
            format!("Some(vec![{}])", items.join(", "))
        }
    }
}

fn is_open(a: &Option<Vec<zoolog_jute::Acl>>) -> bool {
    matches!(a, Some(v) if *v == zoolog_jute::Acl::open_unsafe())
}

/// A request as the [`ops`] call that makes it.
pub fn req_code(r: &Request) -> String {
    match r {
        Request::Create(c) if is_open(&c.acl) => {
            format!(
                "create({:?}, {}, {})",
                &*c.path,
                data_code(&c.data),
                c.flags
            )
        }
        Request::Create2(c) if is_open(&c.acl) => {
            format!(
                "create2({:?}, {}, {})",
                &*c.path,
                data_code(&c.data),
                c.flags
            )
        }
        Request::CreateContainer(c) if is_open(&c.acl) && c.flags == 4 => {
            format!("container({:?}, {})", &*c.path, data_code(&c.data))
        }
        Request::CreateTtl(c) if is_open(&c.acl) => format!(
            "ttl({:?}, {}, {}, {})",
            &*c.path,
            data_code(&c.data),
            c.flags,
            c.ttl
        ),
        Request::Create(c) => format!(
            "create_acl({:?}, {}, {}, {})",
            &*c.path,
            data_code(&c.data),
            acls_code(&c.acl),
            c.flags
        ),
        Request::Delete(d) => format!("delete({:?}, {})", &*d.path, d.version),
        Request::Exists(e) => format!("exists({:?}, {})", &*e.path, e.watch),
        Request::GetData(g) => format!("get_data({:?}, {})", &*g.path, g.watch),
        Request::SetData(s) => format!(
            "set_data({:?}, {}, {})",
            &*s.path,
            data_code(&s.data),
            s.version
        ),
        Request::GetAcl(g) => format!("get_acl({:?})", &*g.path),
        Request::SetAcl(s) => format!(
            "set_acl({:?}, {}, {})",
            &*s.path,
            acls_code(&s.acl),
            s.version
        ),
        Request::GetChildren(g) => format!("get_children({:?}, {})", &*g.path, g.watch),
        Request::GetChildren2(g) => format!("get_children2({:?}, {})", &*g.path, g.watch),
        Request::Sync(s) => format!("sync({:?})", &*s.path),
        Request::Multi(m) => format!("multi(vec![{}])", multi_code(&m.ops)),
        Request::MultiRead(m) => format!("multi_read(vec![{}])", multi_code(&m.ops)),
        Request::CheckWatches(c) => format!("check_watches({:?}, {})", &*c.path, c.watcher_type),
        Request::RemoveWatches(c) => {
            format!("remove_watches({:?}, {})", &*c.path, c.watcher_type)
        }
        Request::AddWatch(a) => format!("add_watch({:?}, {})", &*a.path, a.mode),
        Request::GetEphemerals(g) => format!("get_ephemerals({:?})", g.prefix_path.as_deref()),
        Request::GetAllChildrenNumber(g) => format!("all_children({:?})", &*g.path),
        Request::WhoAmI => "who_am_i()".to_string(),
        Request::Check(c) => format!("check({:?}, {})", &*c.path, c.version),
        Request::Sasl(t) => format!("sasl(&{:?})", t.token.as_deref().unwrap_or(&[])),
        Request::DeleteContainer(d) => format!("delete_container({:?})", &*d.path),
        Request::Reconfig(r) => format!(
            "reconfig({:?}, {:?}, {:?}, {})",
            r.joining_servers.as_deref(),
            r.leaving_servers.as_deref(),
            r.new_members.as_deref(),
            r.cur_config_id
        ),
        Request::Ping => "Request::Ping".to_string(),
        Request::CloseSession => "Request::CloseSession".to_string(),
        Request::Auth(a) => format!(
            "auth({:?}, {:?})",
            &*a.scheme,
            String::from_utf8_lossy(&a.auth)
        ),
        other => format!("/* {other:?} */ who_am_i()"),
    }
}

fn multi_code(ops: &[MultiOp]) -> String {
    ops.iter()
        .map(|o| match o {
            MultiOp::Create(c) if is_open(&c.acl) => {
                format!(
                    "m_create({:?}, {}, {})",
                    &*c.path,
                    data_code(&c.data),
                    c.flags
                )
            }
            MultiOp::Create2(c) if is_open(&c.acl) => {
                format!(
                    "m_create2({:?}, {}, {})",
                    &*c.path,
                    data_code(&c.data),
                    c.flags
                )
            }
            MultiOp::CreateContainer(c) if is_open(&c.acl) => {
                format!("m_container({:?}, {})", &*c.path, data_code(&c.data))
            }
            MultiOp::CreateTtl(c) if is_open(&c.acl) => format!(
                "m_ttl({:?}, {}, {}, {})",
                &*c.path,
                data_code(&c.data),
                c.flags,
                c.ttl
            ),
            MultiOp::Delete(d) => format!("m_delete({:?}, {})", &*d.path, d.version),
            MultiOp::SetData(s) => format!(
                "m_set({:?}, {}, {})",
                &*s.path,
                data_code(&s.data),
                s.version
            ),
            MultiOp::Check(c) => format!("m_check({:?}, {})", &*c.path, c.version),
            MultiOp::GetData(g) => format!("m_get_data({:?})", &*g.path),
            MultiOp::GetChildren(g) => format!("m_get_children({:?})", &*g.path),
            other => format!("/* {other:?} */"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Request constructors for scenarios (paths and data as `&str`; `NULL` is null data).
pub mod ops {
    use bytes::Bytes;
    use zoolog_jute::{
        Acl, AddWatchRequest, AuthPacket, ByteString, CheckVersionRequest, CheckWatchesRequest,
        CreateRequest, CreateTtlRequest, DeleteContainerRequest, DeleteRequest, ExistsRequest,
        GetAclRequest, GetAllChildrenNumberRequest, GetChildren2Request, GetChildrenRequest,
        GetDataRequest, GetEphemeralsRequest, Id, MultiOp, MultiRequest, ReconfigRequest,
        RemoveWatchesRequest, Request, SetAclRequest, SetDataRequest, SyncRequest,
    };

    /// Null data (`buffer` length -1).
    pub const NULL: Option<&str> = None;

    /// Data argument: a `&str` or [`NULL`].
    pub trait IntoData {
        fn into_data(self) -> Option<Bytes>;
    }
    impl IntoData for &str {
        fn into_data(self) -> Option<Bytes> {
            Some(Bytes::copy_from_slice(self.as_bytes()))
        }
    }
    impl IntoData for Option<&str> {
        fn into_data(self) -> Option<Bytes> {
            self.map(|s| Bytes::copy_from_slice(s.as_bytes()))
        }
    }
    impl IntoData for &[u8] {
        fn into_data(self) -> Option<Bytes> {
            Some(Bytes::copy_from_slice(self))
        }
    }

    pub fn p(s: &str) -> ByteString {
        ByteString::from(s)
    }

    pub fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    pub fn open() -> Vec<Acl> {
        Acl::open_unsafe()
    }

    /// `perms` for world:anyone.
    pub fn world(perms: i32) -> Vec<Acl> {
        vec![acl(perms, "world", "anyone")]
    }

    /// A digest ACL entry for `user` with `password`.
    pub fn digest(perms: i32, user: &str, password: &str) -> Acl {
        acl(perms, "digest", &crate::server::digest_id(user, password))
    }

    fn create_req(
        path: &str,
        data: impl IntoData,
        acl: Option<Vec<Acl>>,
        flags: i32,
    ) -> CreateRequest {
        CreateRequest {
            path: p(path),
            data: data.into_data(),
            acl,
            flags,
        }
    }

    pub fn create(path: &str, data: impl IntoData, flags: i32) -> Request {
        Request::Create(create_req(path, data, Some(open()), flags))
    }

    pub fn create_acl(
        path: &str,
        data: impl IntoData,
        acl: Option<Vec<Acl>>,
        flags: i32,
    ) -> Request {
        Request::Create(create_req(path, data, acl, flags))
    }

    pub fn create2(path: &str, data: impl IntoData, flags: i32) -> Request {
        Request::Create2(create_req(path, data, Some(open()), flags))
    }

    pub fn create2_acl(
        path: &str,
        data: impl IntoData,
        acl: Option<Vec<Acl>>,
        flags: i32,
    ) -> Request {
        Request::Create2(create_req(path, data, acl, flags))
    }

    pub fn container(path: &str, data: impl IntoData) -> Request {
        Request::CreateContainer(create_req(path, data, Some(open()), 4))
    }

    /// createContainer with any flags.
    pub fn container_flags(path: &str, data: impl IntoData, flags: i32) -> Request {
        Request::CreateContainer(create_req(path, data, Some(open()), flags))
    }

    pub fn ttl(path: &str, data: impl IntoData, flags: i32, ttl: i64) -> Request {
        Request::CreateTtl(CreateTtlRequest {
            path: p(path),
            data: data.into_data(),
            acl: Some(open()),
            flags,
            ttl,
        })
    }

    pub fn delete(path: &str, version: i32) -> Request {
        Request::Delete(DeleteRequest {
            path: p(path),
            version,
        })
    }

    pub fn exists(path: &str, watch: bool) -> Request {
        Request::Exists(ExistsRequest {
            path: p(path),
            watch,
        })
    }

    pub fn get_data(path: &str, watch: bool) -> Request {
        Request::GetData(GetDataRequest {
            path: p(path),
            watch,
        })
    }

    pub fn set_data(path: &str, data: impl IntoData, version: i32) -> Request {
        Request::SetData(SetDataRequest {
            path: p(path),
            data: data.into_data(),
            version,
        })
    }

    pub fn get_acl(path: &str) -> Request {
        Request::GetAcl(GetAclRequest { path: p(path) })
    }

    pub fn set_acl(path: &str, acl: Option<Vec<Acl>>, version: i32) -> Request {
        Request::SetAcl(SetAclRequest {
            path: p(path),
            acl,
            version,
        })
    }

    pub fn get_children(path: &str, watch: bool) -> Request {
        Request::GetChildren(GetChildrenRequest {
            path: p(path),
            watch,
        })
    }

    pub fn get_children2(path: &str, watch: bool) -> Request {
        Request::GetChildren2(GetChildren2Request {
            path: p(path),
            watch,
        })
    }

    pub fn sync(path: &str) -> Request {
        Request::Sync(SyncRequest { path: p(path) })
    }

    pub fn multi(ops: Vec<MultiOp>) -> Request {
        Request::Multi(MultiRequest { ops })
    }

    pub fn multi_read(ops: Vec<MultiOp>) -> Request {
        Request::MultiRead(MultiRequest { ops })
    }

    pub fn check_watches(path: &str, watcher_type: i32) -> Request {
        Request::CheckWatches(CheckWatchesRequest {
            path: p(path),
            watcher_type,
        })
    }

    pub fn remove_watches(path: &str, watcher_type: i32) -> Request {
        Request::RemoveWatches(RemoveWatchesRequest {
            path: p(path),
            watcher_type,
        })
    }

    pub fn add_watch(path: &str, mode: i32) -> Request {
        Request::AddWatch(AddWatchRequest {
            path: p(path),
            mode,
        })
    }

    pub fn delete_container(path: &str) -> Request {
        Request::DeleteContainer(DeleteContainerRequest { path: p(path) })
    }

    pub fn auth(scheme: &str, data: &str) -> Request {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: p(scheme),
            auth: Bytes::copy_from_slice(data.as_bytes()),
        })
    }

    pub fn get_ephemerals(prefix: Option<&str>) -> Request {
        Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: prefix.map(p),
        })
    }

    pub fn all_children(path: &str) -> Request {
        Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: p(path) })
    }

    pub fn who_am_i() -> Request {
        Request::WhoAmI
    }

    /// A top-level check (13); ZooKeeper accepts it only inside multi.
    pub fn check(path: &str, version: i32) -> Request {
        Request::Check(CheckVersionRequest {
            path: p(path),
            version,
        })
    }

    /// sasl (102) with a raw token.
    pub fn sasl(token: &[u8]) -> Request {
        Request::Sasl(zoolog_jute::GetSaslRequest {
            token: Some(Bytes::copy_from_slice(token)),
        })
    }

    pub fn reconfig(
        joining: Option<&str>,
        leaving: Option<&str>,
        members: Option<&str>,
        id: i64,
    ) -> Request {
        Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(p),
            leaving_servers: leaving.map(p),
            new_members: members.map(p),
            cur_config_id: id,
        })
    }

    pub fn m_create(path: &str, data: impl IntoData, flags: i32) -> MultiOp {
        MultiOp::Create(create_req(path, data, Some(open()), flags))
    }

    pub fn m_create_acl(
        path: &str,
        data: impl IntoData,
        acl: Option<Vec<Acl>>,
        flags: i32,
    ) -> MultiOp {
        MultiOp::Create(create_req(path, data, acl, flags))
    }

    pub fn m_create2(path: &str, data: impl IntoData, flags: i32) -> MultiOp {
        MultiOp::Create2(create_req(path, data, Some(open()), flags))
    }

    pub fn m_container(path: &str, data: impl IntoData) -> MultiOp {
        MultiOp::CreateContainer(create_req(path, data, Some(open()), 4))
    }

    pub fn m_ttl(path: &str, data: impl IntoData, flags: i32, ttl: i64) -> MultiOp {
        MultiOp::CreateTtl(CreateTtlRequest {
            path: p(path),
            data: data.into_data(),
            acl: Some(open()),
            flags,
            ttl,
        })
    }

    pub fn m_delete(path: &str, version: i32) -> MultiOp {
        MultiOp::Delete(DeleteRequest {
            path: p(path),
            version,
        })
    }

    pub fn m_set(path: &str, data: impl IntoData, version: i32) -> MultiOp {
        MultiOp::SetData(SetDataRequest {
            path: p(path),
            data: data.into_data(),
            version,
        })
    }

    pub fn m_check(path: &str, version: i32) -> MultiOp {
        MultiOp::Check(CheckVersionRequest {
            path: p(path),
            version,
        })
    }

    pub fn m_get_data(path: &str) -> MultiOp {
        MultiOp::GetData(GetDataRequest {
            path: p(path),
            watch: false,
        })
    }

    pub fn m_get_children(path: &str) -> MultiOp {
        MultiOp::GetChildren(GetChildrenRequest {
            path: p(path),
            watch: false,
        })
    }
}
