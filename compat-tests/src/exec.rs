//! Runs a scenario against one server and records what came back: every reply, notification,
//! handshake answer and connection close, per connection, in a deterministic order.
//!
//! Order: steps run one after another; after each step every open connection is pinged and read
//! up to the ping's reply ("barrier"), so notifications a step caused on other connections are
//! recorded right after that step. ZooKeeper queues a notification for a connection before it
//! sends the reply to the write that fired it, so the barrier catches every event the step fired.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zoolog_jute::{
    ConnectRequest, ConnectResponse, Cx, DEFAULT_MAX_BUFFER, ErrorCode, Jute, OpCode, ReplyHeader,
    Request, Response, SetWatches, SetWatches2, WatcherEvent,
};

use crate::client::{Conn, ReadError, connect_payload, raw_payload, request_payload, split_reply};
use crate::script::{ConnectSpec, Op, Passwd, SessionSpec, Step, WatchSet, ZxidSpec};
use crate::server::{Kind, Settings};
use crate::value::{self, V};

/// How long a reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often connections are pinged while a step waits.
const PING_EVERY: Duration = Duration::from_millis(250);

/// One recorded observation.
#[derive(Debug, Clone)]
pub struct Entry {
    pub step: usize,
    pub conn: String,
    pub v: V,
}

/// Everything one server answered to one scenario.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub entries: Vec<Entry>,
    /// session id -> session name (the connection that created it).
    pub sessions: BTreeMap<i64, String>,
}

impl Transcript {
    /// The normaliser for this transcript (zxid ranks, session names).
    pub fn norm(&self) -> value::Norm {
        let mut z = BTreeSet::new();
        for e in &self.entries {
            e.v.zxids(&mut z);
        }
        value::Norm::new(&z, self.sessions.clone())
    }

    /// The entries in comparison order, each with the step it is compared under: by step, and
    /// within a step by connection (the order of one connection's entries is kept; how entries
    /// of different connections interleave within one step depends on timing).
    ///
    /// When a server closes a connection is seen only when the next read or write on it fails,
    /// which depends on timing; so a `closed` entry is compared under the step of the
    /// connection's last other entry, and `no-connection` entries (steps on a connection that is
    /// already gone) are not compared: what differs is whether replies came, and those are
    /// entries of their own.
    pub fn ordered(&self) -> Vec<(usize, &Entry)> {
        let mut last: BTreeMap<&str, usize> = BTreeMap::new();
        let mut v: Vec<(usize, &Entry)> = Vec::new();
        for e in &self.entries {
            match &e.v {
                V::Rec("no-connection", _) => continue,
                V::Rec("closed", _) => {
                    let s = last.get(e.conn.as_str()).copied().unwrap_or(e.step);
                    v.push((s, e));
                }
                _ => {
                    last.insert(e.conn.as_str(), e.step);
                    v.push((e.step, e));
                }
            }
        }
        v.sort_by(|a, b| (a.0, &a.1.conn).cmp(&(b.0, &b.1.conn)));
        v
    }

    /// One normalised line per entry, in [`Transcript::ordered`] order.
    pub fn lines(&self, norm: &value::Norm) -> Vec<String> {
        self.ordered()
            .into_iter()
            .map(|(step, e)| format!("#{step} {}: {}", e.conn, norm.render(&e.v)))
            .collect()
    }
}

/// ZooKeeper's session password rule (`generatePasswd`): 16 bytes of `java.util.Random(id ^
/// 0xB3415C00)`.
pub fn zk_passwd(session_id: i64) -> Vec<u8> {
    java_random_bytes(session_id ^ 0xB341_5C00, 16)
}

fn java_random_bytes(seed: i64, n: usize) -> Vec<u8> {
    let mask: u64 = (1 << 48) - 1;
    let mut s = (seed as u64 ^ 0x5_DEEC_E66D) & mask;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        s = (s.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & mask;
        let mut rnd = (s >> 16) as u32;
        for _ in 0..(n - out.len()).min(4) {
            out.push(rnd as u8);
            rnd >>= 8;
        }
    }
    out
}

/// A side connection with the super user's rights: wipes the tree between scenarios, polls.
struct Admin {
    conn: Conn,
    xid: i32,
}

/// Runs scenarios against one server.
pub struct Driver {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub settings: Settings,
    admin: Option<Admin>,
}

impl Driver {
    pub fn new(kind: Kind, addr: SocketAddr, settings: Settings) -> Driver {
        Driver {
            kind,
            addr,
            settings,
            admin: None,
        }
    }

    fn admin(&mut self) -> Result<&mut Admin, String> {
        if self.admin.as_ref().is_none_or(|a| a.conn.is_closed()) {
            let mut conn = Conn::open(self.addr).map_err(|e| format!("admin connect: {e}"))?;
            let req = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                time_out: self.settings.max_session_timeout_ms as i32,
                session_id: 0,
                passwd: Bytes::from(vec![0u8; 16]),
                read_only: Some(false),
            };
            conn.send_payload(&connect_payload(&req))
                .map_err(|e| format!("admin connect: {e:?}"))?;
            conn.read_frame(Instant::now() + REPLY_TIMEOUT)
                .map_err(|e| format!("admin handshake: {e:?}"))?;
            let mut admin = Admin { conn, xid: 0 };
            let (u, p) = self.settings.super_user.clone();
            let (h, _) = admin_call(
                &mut admin,
                &crate::script::ops::auth("digest", &format!("{u}:{p}")),
            )?;
            if h.err != 0 {
                return Err(format!("admin super auth failed: {}", h.err));
            }
            self.admin = Some(admin);
        }
        Ok(self.admin.as_mut().expect("admin"))
    }

    /// The server's lastProcessedZxid (a ping's reply zxid).
    pub fn last_zxid(&mut self) -> Result<i64, String> {
        let a = self.admin()?;
        let (h, _) = admin_call(a, &Request::Ping)?;
        Ok(h.zxid)
    }

    fn admin_ping(&mut self) {
        if let Ok(a) = self.admin() {
            let _ = admin_call(a, &Request::Ping);
        }
    }

    /// Whether `path` exists (super user's view).
    pub fn exists(&mut self, path: &str) -> Result<bool, String> {
        let a = self.admin()?;
        let (h, _) = admin_call(a, &crate::script::ops::exists(path, false))?;
        Ok(h.err == 0)
    }

    /// Deletes everything but `/zookeeper`.
    pub fn wipe(&mut self) -> Result<(), String> {
        for _round in 0..5 {
            let a = self.admin()?;
            let mut all = Vec::new();
            let mut stack = vec!["/".to_string()];
            while let Some(p) = stack.pop() {
                let (h, r) = admin_call(a, &crate::script::ops::get_children(&p, false))?;
                if h.err != 0 {
                    continue;
                }
                if let Some(Response::GetChildren(c)) = r {
                    for ch in c.children.iter() {
                        let child = if p == "/" {
                            format!("/{}", &**ch)
                        } else {
                            format!("{p}/{}", &**ch)
                        };
                        if child == "/zookeeper" {
                            continue;
                        }
                        all.push(child.clone());
                        stack.push(child);
                    }
                }
            }
            if all.is_empty() {
                return Ok(());
            }
            // Deepest first.
            all.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
            for p in &all {
                let _ = admin_call(a, &crate::script::ops::delete(p, -1))?;
            }
        }
        Err("could not wipe the tree".into())
    }

    /// Runs `steps` and records the answers; afterwards closes the scenario's sessions and wipes
    /// the tree.
    pub fn run(&mut self, steps: &[Step]) -> Transcript {
        let mut ex = Exec {
            d: self,
            conns: BTreeMap::new(),
            sessions: BTreeMap::new(),
            conn_session: BTreeMap::new(),
            t: Transcript::default(),
            step: 0,
        };
        for (i, st) in steps.iter().enumerate() {
            ex.step = i;
            ex.exec(st);
            ex.barrier();
        }
        ex.teardown();
        let t = std::mem::take(&mut ex.t);
        drop(ex);
        if let Err(e) = self.wipe() {
            eprintln!("compat: {}: wipe failed: {e}", self.kind.name());
        }
        t
    }
}

fn admin_call(a: &mut Admin, req: &Request) -> Result<(ReplyHeader, Option<Response>), String> {
    let xid = match req {
        Request::Ping => -2,
        _ => {
            a.xid += 1;
            a.xid
        }
    };
    a.conn
        .send_payload(&request_payload(xid, req))
        .map_err(|e| format!("admin send: {e:?}"))?;
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let f = a
            .conn
            .read_frame(deadline)
            .map_err(|e| format!("admin read: {e:?}"))?;
        let Some((h, body)) = split_reply(&f) else {
            continue;
        };
        if h.xid != xid {
            continue;
        }
        let resp = if h.err == 0 {
            let cx = Cx::new(&body, DEFAULT_MAX_BUFFER);
            Response::decode_body(req.op_code(), &cx, &body)
                .ok()
                .map(|(_, r)| r)
        } else {
            None
        };
        return Ok((h, resp));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SState {
    Alive,
    Closed,
    Invalid,
}

struct SInfo {
    id: i64,
    passwd: Bytes,
    last_zxid: i64,
    state: SState,
}

struct CState {
    conn: Conn,
    session: Option<String>,
    next_xid: i32,
    silent: bool,
}

struct Exec<'d> {
    d: &'d mut Driver,
    conns: BTreeMap<String, CState>,
    sessions: BTreeMap<String, SInfo>,
    /// connection name -> the session it last held.
    conn_session: BTreeMap<String, String>,
    t: Transcript,
    step: usize,
}

/// What a sent request expects back.
struct Pending {
    xid: i32,
    /// Opcode to decode a successful reply body with.
    op: Option<OpCode>,
    label: String,
}

impl Exec<'_> {
    /// A session by the name of a connection that held it last, or by session name.
    fn session_name(&self, name: &str) -> String {
        self.conn_session
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn record(&mut self, conn: &str, v: V) {
        self.t.entries.push(Entry {
            step: self.step,
            conn: conn.to_string(),
            v,
        });
    }

    fn exec(&mut self, st: &Step) {
        match st {
            Step::Connect { c, spec } => self.connect(c, spec),
            Step::Send { c, op } => self.send(c, std::slice::from_ref(op)),
            Step::Pipeline { c, ops } => self.send(c, ops),
            Step::Disconnect { c } => {
                if let Some(mut cs) = self.conns.remove(c) {
                    cs.conn.shutdown();
                } else {
                    self.record(c, V::rec("no-connection", vec![]));
                }
            }
            Step::Sleep { ms } => {
                let end = Instant::now() + Duration::from_millis(*ms);
                while Instant::now() < end {
                    std::thread::sleep(
                        PING_EVERY.min(end.saturating_duration_since(Instant::now())),
                    );
                    self.barrier();
                    self.d.admin_ping();
                }
            }
            Step::AwaitClose { c, max_ms } => self.await_close(c, *max_ms),
            Step::WaitGone { path, max_ms } => {
                let end = Instant::now() + Duration::from_millis(*max_ms);
                let mut last_ping = Instant::now();
                let gone = loop {
                    match self.d.exists(path) {
                        Ok(false) => break true,
                        Ok(true) => {}
                        Err(e) => {
                            self.record("admin", V::rec("admin-error", vec![("error", V::str(e))]));
                            break false;
                        }
                    }
                    if Instant::now() >= end {
                        break false;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    if last_ping.elapsed() >= PING_EVERY {
                        self.barrier();
                        last_ping = Instant::now();
                    }
                };
                self.record(
                    "admin",
                    V::rec(
                        "wait-gone",
                        vec![("path", V::str(path)), ("gone", V::Bool(gone))],
                    ),
                );
            }
            Step::FourLw { word } => {
                let bytes: Vec<u8> = if word == "stmk" {
                    let mut b = b"stmk".to_vec();
                    b.extend_from_slice(&306i64.to_be_bytes());
                    b
                } else {
                    word.as_bytes().to_vec()
                };
                let v = match crate::server::raw_exchange(self.d.addr, &bytes) {
                    Ok(out) => crate::fourlw::shape(word, &String::from_utf8_lossy(&out)),
                    Err(e) => V::rec("4lw-error", vec![("error", V::str(e.to_string()))]),
                };
                self.record("4lw", v);
            }
        }
    }

    fn connect(&mut self, c: &str, spec: &ConnectSpec) {
        if let Some(mut old) = self.conns.remove(c) {
            old.conn.shutdown();
        }
        let conn = match Conn::open(self.d.addr) {
            Ok(conn) => conn,
            Err(e) => {
                self.record(
                    c,
                    V::rec("connect-failed", vec![("error", V::str(e.to_string()))]),
                );
                return;
            }
        };
        let (session_id, passwd, name) = match &spec.session {
            SessionSpec::New => (0i64, Bytes::from(vec![0u8; 16]), None),
            SessionSpec::Resume { of, passwd } => match self.sessions.get(&self.session_name(of)) {
                Some(s) => {
                    let mut pw = s.passwd.to_vec();
                    match passwd {
                        Passwd::Right => {}
                        Passwd::Wrong => {
                            if let Some(b) = pw.first_mut() {
                                *b ^= 1;
                            }
                        }
                        Passwd::Zeros => pw = vec![0u8; 16],
                    }
                    (s.id, Bytes::from(pw), Some(self.session_name(of)))
                }
                None => {
                    self.record(c, V::rec("no-such-session", vec![("of", V::str(of))]));
                    return;
                }
            },
            SessionSpec::NeverIssued => {
                let id = 0x01ff_ffff_ff00_0000i64;
                (id, Bytes::from(zk_passwd(id)), None)
            }
        };
        let last_zxid_seen = match &spec.last_zxid {
            ZxidSpec::Zero => 0,
            ZxidSpec::LastSeen(of) => self
                .sessions
                .get(&self.session_name(of))
                .map_or(0, |s| s.last_zxid),
            ZxidSpec::Ahead => self.d.last_zxid().unwrap_or(0) + 0x10000,
        };
        let req = ConnectRequest {
            protocol_version: spec.protocol_version,
            last_zxid_seen,
            time_out: spec.timeout,
            session_id,
            passwd,
            read_only: spec.read_only,
        };
        let mut bytes = bytes::BytesMut::new();
        zoolog_jute::write_frame(&mut bytes, |o| o.extend_from_slice(&connect_payload(&req)));
        let mut cs = CState {
            conn,
            session: name.clone(),
            next_xid: 1,
            silent: false,
        };
        let mut pending = Vec::new();
        for op in &spec.pipelined {
            let (payload, p) = self.encode_op(&mut cs, op);
            zoolog_jute::write_frame(&mut bytes, |o| o.extend_from_slice(&payload));
            pending.push(p);
        }
        if cs.conn.write_raw(&bytes).is_err() {
            self.record(c, V::rec("closed", vec![]));
            return;
        }
        match cs.conn.read_frame(Instant::now() + REPLY_TIMEOUT) {
            Ok(f) => {
                let cx = Cx::new(&f, DEFAULT_MAX_BUFFER);
                match ConnectResponse::decode(&cx, &f) {
                    Ok((rest, r)) => {
                        let sess_name = match (&spec.session, &name) {
                            (SessionSpec::Resume { .. }, Some(n)) => n.clone(),
                            _ => {
                                // A new session is named after its connection (c, c#2, ...).
                                let mut n = c.to_string();
                                let mut k = 2;
                                while self.sessions.contains_key(&n) {
                                    n = format!("{c}#{k}");
                                    k += 1;
                                }
                                n
                            }
                        };
                        if r.session_id != 0 && r.time_out > 0 {
                            self.t.sessions.insert(r.session_id, sess_name.clone());
                            let entry = self.sessions.entry(sess_name.clone()).or_insert(SInfo {
                                id: r.session_id,
                                passwd: r.passwd.clone(),
                                last_zxid: 0,
                                state: SState::Alive,
                            });
                            entry.state = SState::Alive;
                            self.conn_session.insert(c.to_string(), sess_name.clone());
                            cs.session = Some(sess_name);
                        } else if let SessionSpec::Resume { of, .. } = &spec.session
                            && let Some(s) = self.sessions.get_mut(of)
                            && matches!(
                                spec.session,
                                SessionSpec::Resume {
                                    passwd: Passwd::Right,
                                    ..
                                }
                            )
                        {
                            // The right password was refused: the session is gone.
                            s.state = SState::Invalid;
                        }
                        let rule =
                            r.session_id != 0 && r.passwd.as_ref() == zk_passwd(r.session_id);
                        let v = V::rec(
                            "connected",
                            vec![
                                ("frameLen", V::Int(f.len() as i64)),
                                ("protocolVersion", V::Int(r.protocol_version.into())),
                                ("timeOut", V::Int(r.time_out.into())),
                                ("session", V::Session(r.session_id)),
                                ("passwdLen", V::Int(r.passwd.len() as i64)),
                                ("passwdZkRule", V::Bool(rule)),
                                ("passwdZero", V::Bool(r.passwd.iter().all(|b| *b == 0))),
                                ("readOnly", r.read_only.map_or(V::str("absent"), V::Bool)),
                                ("trailing", V::Int(rest.len() as i64)),
                            ],
                        );
                        self.record(c, v);
                    }
                    Err(e) => {
                        self.record(
                            c,
                            V::rec(
                                "bad-connect-response",
                                vec![
                                    ("error", V::str(format!("{e:?}"))),
                                    ("bytes", V::Bytes(f.to_vec())),
                                ],
                            ),
                        );
                    }
                }
            }
            Err(ReadError::Timeout) => {
                self.record(c, V::rec("no-connect-response", vec![]));
            }
            Err(_) => {
                self.record(c, V::rec("closed", vec![]));
                return;
            }
        }
        self.conns.insert(c.to_string(), cs);
        if !pending.is_empty() {
            self.read_replies(c, pending);
        }
    }

    /// Encodes `op` for connection `cs` (assigning its xid).
    fn encode_op(&mut self, cs: &mut CState, op: &Op) -> (Bytes, Pending) {
        let mut next = || {
            let x = cs.next_xid;
            cs.next_xid += 1;
            x
        };
        match op {
            Op::Req(r) | Op::Xid(_, r) => {
                let xid = match (op, r) {
                    (Op::Xid(x, _), _) => *x,
                    (_, Request::Ping) => -2,
                    _ => next(),
                };
                let reply_xid = if matches!(r, Request::Ping) { -2 } else { xid };
                (
                    request_payload(xid, r),
                    Pending {
                        xid: reply_xid,
                        op: Some(r.op_code()),
                        label: r.op_code().name().to_string(),
                    },
                )
            }
            Op::Raw { op, body } => {
                let xid = next();
                (
                    raw_payload(xid, *op, body),
                    Pending {
                        xid,
                        // Decode a successful reply as the opcode's record, if it names one.
                        op: OpCode::from_i32(*op).filter(|o| {
                            !matches!(
                                o,
                                OpCode::Notification | OpCode::CreateSession | OpCode::Error
                            )
                        }),
                        label: value::op_name(*op),
                    },
                )
            }
            Op::SetWatches(w) => {
                let xid = w.xid.unwrap_or_else(next);
                let rel = w
                    .rel
                    .as_ref()
                    .and_then(|s| self.sessions.get(&self.session_name(s)))
                    .map_or(0, |s| s.last_zxid);
                let req = watch_request(w, rel);
                (
                    request_payload(xid, &req),
                    Pending {
                        xid,
                        op: Some(req.op_code()),
                        label: req.op_code().name().to_string(),
                    },
                )
            }
        }
    }

    fn send(&mut self, c: &str, ops: &[Op]) {
        let Some(mut cs) = self.conns.remove(c) else {
            self.record(c, V::rec("no-connection", vec![]));
            return;
        };
        let mut bytes = bytes::BytesMut::new();
        let mut pending = Vec::new();
        for op in ops {
            let (payload, p) = self.encode_op(&mut cs, op);
            zoolog_jute::write_frame(&mut bytes, |o| o.extend_from_slice(&payload));
            pending.push(p);
        }
        let ok = cs.conn.write_raw(&bytes).is_ok();
        self.conns.insert(c.to_string(), cs);
        if !ok {
            self.conn_closed(c);
            return;
        }
        self.read_replies(c, pending);
    }

    fn conn_closed(&mut self, c: &str) {
        self.conns.remove(c);
        self.record(c, V::rec("closed", vec![]));
    }

    /// Reads until every pending reply came, recording notifications and strays on the way.
    fn read_replies(&mut self, c: &str, pending: Vec<Pending>) {
        let mut left = pending;
        let mut deadline = Instant::now() + REPLY_TIMEOUT;
        while !left.is_empty() {
            let r = match self.conns.get_mut(c) {
                Some(cs) => cs.conn.read_frame(deadline),
                None => return,
            };
            match r {
                Ok(f) => {
                    if let Some(i) = self.on_frame(c, &f, &left) {
                        left.remove(i);
                        deadline = Instant::now() + REPLY_TIMEOUT;
                    }
                }
                Err(ReadError::Timeout) => {
                    for q in &left {
                        self.record(
                            c,
                            V::rec(
                                "no-reply",
                                vec![("op", V::str(&q.label)), ("xid", V::Int(q.xid.into()))],
                            ),
                        );
                    }
                    return;
                }
                Err(_) => {
                    self.conn_closed(c);
                    return;
                }
            }
        }
    }

    /// Records one frame read on `c`; the index of the request in `pending` it answers, if any
    /// (replies are due in order: a reply to any but the first is marked out of order).
    fn on_frame(&mut self, c: &str, f: &Bytes, pending: &[Pending]) -> Option<usize> {
        let Some((h, body)) = split_reply(f) else {
            self.record(
                c,
                V::rec("short-frame", vec![("bytes", V::Bytes(f.to_vec()))]),
            );
            return None;
        };
        if h.xid == -1 {
            let cx = Cx::new(&body, DEFAULT_MAX_BUFFER);
            let v = match WatcherEvent::decode(&cx, &body) {
                Ok((rest, e)) => {
                    let mut v = value::event(h.zxid, &e);
                    if (h.err != 0 || !rest.is_empty())
                        && let V::Rec(_, fields) = &mut v
                    {
                        fields.push(("err", V::Err(h.err)));
                        fields.push(("trailing", V::Int(rest.len() as i64)));
                    }
                    v
                }
                Err(e) => V::rec(
                    "bad-event",
                    vec![
                        ("error", V::str(format!("{e:?}"))),
                        ("bytes", V::Bytes(body.to_vec())),
                    ],
                ),
            };
            self.record(c, v);
            return None;
        }
        if h.zxid > 0
            && let Some(s) = self
                .conns
                .get(c)
                .and_then(|cs| cs.session.clone())
                .and_then(|n| self.sessions.get_mut(&n))
        {
            s.last_zxid = s.last_zxid.max(h.zxid);
        }
        match pending.iter().position(|p| p.xid == h.xid) {
            Some(i) => {
                let p = &pending[i];
                let label = if i == 0 {
                    p.label.clone()
                } else {
                    format!("{} (out of order)", p.label)
                };
                let v = reply_value(&label, p.op, &h, &body);
                if p.op == Some(OpCode::CloseSession)
                    && h.err == 0
                    && let Some(s) = self
                        .conns
                        .get(c)
                        .and_then(|cs| cs.session.clone())
                        .and_then(|n| self.sessions.get_mut(&n))
                {
                    s.state = SState::Closed;
                }
                self.record(c, v);
                Some(i)
            }
            None => {
                let v = reply_value("unexpected", None, &h, &body);
                self.record(c, v);
                None
            }
        }
    }

    /// Pings every open connection and reads up to the ping's reply.
    fn barrier(&mut self) {
        let names: Vec<String> = self
            .conns
            .iter()
            .filter(|(_, cs)| !cs.silent)
            .map(|(n, _)| n.clone())
            .collect();
        for c in names {
            let ping = Pending {
                xid: -2,
                op: Some(OpCode::Ping),
                label: "ping".into(),
            };
            let ok = match self.conns.get_mut(&c) {
                Some(cs) => cs
                    .conn
                    .send_payload(&request_payload(-2, &Request::Ping))
                    .is_ok(),
                None => continue,
            };
            if !ok {
                self.conn_closed(&c);
                continue;
            }
            let deadline = Instant::now() + REPLY_TIMEOUT;
            while let Some(cs) = self.conns.get_mut(&c) {
                match cs.conn.read_frame(deadline) {
                    Ok(f) => {
                        if let Some((h, _)) = split_reply(&f)
                            && h.xid == -2
                        {
                            if h.err != 0 {
                                self.record(&c, V::rec("ping-error", vec![("err", V::Err(h.err))]));
                            }
                            break;
                        }
                        self.on_frame(&c, &f, std::slice::from_ref(&ping));
                    }
                    Err(ReadError::Timeout) => {
                        self.record(&c, V::rec("no-ping-reply", vec![]));
                        break;
                    }
                    Err(_) => {
                        self.conn_closed(&c);
                        break;
                    }
                }
            }
        }
    }

    fn await_close(&mut self, c: &str, max_ms: u64) {
        match self.conns.get_mut(c) {
            Some(cs) => cs.silent = true,
            None => {
                self.record(c, V::rec("no-connection", vec![]));
                return;
            }
        }
        let end = Instant::now() + Duration::from_millis(max_ms);
        let mut last_ping = Instant::now();
        loop {
            let now = Instant::now();
            if now >= end {
                if let Some(cs) = self.conns.get_mut(c) {
                    cs.silent = false;
                }
                self.record(c, V::rec("still-open", vec![]));
                return;
            }
            let r = match self.conns.get_mut(c) {
                Some(cs) => cs
                    .conn
                    .read_frame((now + Duration::from_millis(100)).min(end)),
                None => return,
            };
            match r {
                Ok(f) => {
                    self.on_frame(c, &f, &[]);
                }
                Err(ReadError::Timeout) => {}
                Err(_) => {
                    self.conn_closed(c);
                    return;
                }
            }
            if last_ping.elapsed() >= PING_EVERY {
                self.barrier();
                self.d.admin_ping();
                last_ping = Instant::now();
            }
        }
    }

    /// Closes every session the scenario left open (not recorded).
    fn teardown(&mut self) {
        let names: Vec<String> = self.conns.keys().cloned().collect();
        for c in names {
            let Some(mut cs) = self.conns.remove(&c) else {
                continue;
            };
            let xid = cs.next_xid;
            if cs
                .conn
                .send_payload(&request_payload(xid, &Request::CloseSession))
                .is_ok()
            {
                let deadline = Instant::now() + Duration::from_secs(2);
                while let Ok(f) = cs.conn.read_frame(deadline) {
                    if let Some((h, _)) = split_reply(&f)
                        && h.xid == xid
                    {
                        if h.err == 0
                            && let Some(s) =
                                cs.session.as_ref().and_then(|n| self.sessions.get_mut(n))
                        {
                            s.state = SState::Closed;
                        }
                        break;
                    }
                }
            }
            cs.conn.shutdown();
        }
        let left: Vec<(i64, Bytes)> = self
            .sessions
            .values()
            .filter(|s| s.state == SState::Alive)
            .map(|s| (s.id, s.passwd.clone()))
            .collect();
        for (id, passwd) in left {
            let Ok(mut conn) = Conn::open(self.d.addr) else {
                continue;
            };
            let req = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                time_out: 20000,
                session_id: id,
                passwd,
                read_only: Some(false),
            };
            if conn.send_payload(&connect_payload(&req)).is_err() {
                continue;
            }
            let Ok(f) = conn.read_frame(Instant::now() + REPLY_TIMEOUT) else {
                continue;
            };
            let cx = Cx::new(&f, DEFAULT_MAX_BUFFER);
            if let Ok((_, r)) = ConnectResponse::decode(&cx, &f)
                && r.time_out > 0
                && conn
                    .send_payload(&request_payload(1, &Request::CloseSession))
                    .is_ok()
            {
                let _ = conn.read_frame(Instant::now() + Duration::from_secs(2));
            }
            conn.shutdown();
        }
    }
}

fn watch_request(w: &WatchSet, rel: i64) -> Request {
    let v = |l: &Vec<String>| {
        l.iter()
            .map(|s| zoolog_jute::ByteString::from(s.as_str()))
            .collect()
    };
    if w.v2 {
        Request::SetWatches2(SetWatches2 {
            relative_zxid: rel,
            data_watches: v(&w.data),
            exist_watches: v(&w.exist),
            child_watches: v(&w.child),
            persistent_watches: v(&w.persistent),
            persistent_recursive_watches: v(&w.recursive),
        })
    } else {
        Request::SetWatches(SetWatches {
            relative_zxid: rel,
            data_watches: v(&w.data),
            exist_watches: v(&w.exist),
            child_watches: v(&w.child),
        })
    }
}

/// A reply as a value: header fields and the decoded body.
pub fn reply_value(label: &str, op: Option<OpCode>, h: &ReplyHeader, body: &Bytes) -> V {
    let body_v = if h.err == 0 {
        match op {
            Some(op) => {
                let cx = Cx::new(body, DEFAULT_MAX_BUFFER);
                match Response::decode_body(op, &cx, body) {
                    Ok((rest, r)) => {
                        let v = value::response(&r);
                        if rest.is_empty() {
                            v
                        } else {
                            V::rec(
                                "with-trailing",
                                vec![("body", v), ("trailing", V::Int(rest.len() as i64))],
                            )
                        }
                    }
                    Err(e) => V::rec(
                        "undecodable",
                        vec![
                            ("error", V::str(format!("{e:?}"))),
                            ("bytes", V::Bytes(body.to_vec())),
                        ],
                    ),
                }
            }
            None if body.is_empty() => V::Null,
            None => V::Bytes(body.to_vec()),
        }
    } else if body.is_empty() {
        V::Null
    } else {
        // ZooKeeper sometimes writes a record behind an error; clients ignore it.
        V::rec("body-after-error", vec![("len", V::Int(body.len() as i64))])
    };
    let _ = ErrorCode::Ok;
    V::rec(
        "reply",
        vec![
            ("op", V::str(label)),
            ("xid", V::Int(h.xid.into())),
            ("zxid", V::Zxid(h.zxid)),
            ("err", V::Err(h.err)),
            ("body", body_v),
        ],
    )
}
