//! `zk-xchk`, the cross-check proxy: listens on a port, forwards every client's traffic to both
//! Apache ZooKeeper and zoolog, answers the client with ZooKeeper's bytes only, and logs every
//! divergence between the two servers' replies, handshakes and notifications.
//!
//! Normalisation is online: zxids are matched pairwise into an order-preserving bijection
//! (ZooKeeper zxid ↔ zoolog zxid: equal zxids must stay equal, and order must be kept), session
//! ids into a bijection learnt from the handshakes, times must both be plausible wall-clock times,
//! children lists are compared as sets. The client's session ids, passwords and zxids are
//! ZooKeeper's; the proxy translates them for zoolog (ConnectRequest, SetWatches).
//!
//! In lockstep mode (the default) the proxy forwards one request at a time over all clients and
//! waits for both servers' replies before the next one, so both servers see the same order of
//! operations and zxids line up; clients see ZooKeeper's latency plus zoolog's.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use zoolog_jute::{
    ConnectRequest, ConnectResponse, Cx, DEFAULT_MAX_BUFFER, Jute, OpCode, ReplyHeader, Request,
    RequestHeader, WatcherEvent,
};

use crate::exec::reply_value;
use crate::value::{self, Norm, V};

/// How long a request may wait for both replies before the proxy moves on.
const REPLY_WAIT: Duration = Duration::from_secs(5);

/// Proxy settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub zookeeper: SocketAddr,
    pub zoolog: SocketAddr,
    /// One request at a time over all clients (same order on both servers).
    pub lockstep: bool,
    /// Divergences are appended here (and to stderr).
    pub log: Option<PathBuf>,
}

/// Counters, readable while the proxy runs.
#[derive(Default, Debug)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub replies: AtomicUsize,
    pub events: AtomicUsize,
    pub divergences: AtomicUsize,
}

impl Stats {
    pub fn line(&self) -> String {
        format!(
            "zk-xchk: {} connections, {} replies and {} notifications compared, {} divergences",
            self.connections.load(Ordering::Relaxed),
            self.replies.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
            self.divergences.load(Ordering::Relaxed),
        )
    }
}

/// An order-preserving partial bijection between two servers' zxids.
#[derive(Default, Debug)]
pub struct ZxidMap {
    fwd: BTreeMap<i64, i64>,
    rev: BTreeMap<i64, i64>,
}

impl ZxidMap {
    /// Records that ZooKeeper's `a` corresponds to zoolog's `b`, or says why it cannot.
    pub fn check(&mut self, a: i64, b: i64) -> Result<(), String> {
        if a <= 0 || b <= 0 {
            return if a == b {
                Ok(())
            } else {
                Err(format!("zxid {a:#x} vs {b:#x}"))
            };
        }
        match (self.fwd.get(&a), self.rev.get(&b)) {
            (Some(&x), _) if x == b => return Ok(()),
            (Some(&x), _) => {
                return Err(format!(
                    "zxid {a:#x} was {x:#x} on zoolog before, now {b:#x}"
                ));
            }
            (None, Some(&y)) => {
                return Err(format!(
                    "zoolog zxid {b:#x} stood for {y:#x} before, now for {a:#x}"
                ));
            }
            (None, None) => {}
        }
        if let Some((&pa, &pb)) = self.fwd.range(..a).next_back()
            && pb >= b
        {
            return Err(format!(
                "zxid order: {pa:#x} < {a:#x} on ZooKeeper but {pb:#x} >= {b:#x} on zoolog"
            ));
        }
        if let Some((&na, &nb)) = self.fwd.range(a + 1..).next()
            && nb <= b
        {
            return Err(format!(
                "zxid order: {na:#x} > {a:#x} on ZooKeeper but {nb:#x} <= {b:#x} on zoolog"
            ));
        }
        self.fwd.insert(a, b);
        self.rev.insert(b, a);
        Ok(())
    }

    /// zoolog's counterpart of ZooKeeper's `z`: that of the largest known zxid not above it.
    pub fn translate(&self, z: i64) -> i64 {
        if z <= 0 {
            return z;
        }
        self.fwd.range(..=z).next_back().map_or(0, |(_, v)| *v)
    }
}

/// State shared by every connection.
pub struct Shared {
    cfg: Config,
    lock: tokio::sync::Mutex<()>,
    /// ZooKeeper session id -> zoolog (session id, password).
    sessions: Mutex<HashMap<i64, (i64, Bytes)>>,
    /// zoolog session id -> ZooKeeper session id.
    sessions_rev: Mutex<HashMap<i64, i64>>,
    zxids: Mutex<ZxidMap>,
    log: Mutex<Option<std::fs::File>>,
    pub stats: Stats,
    next_conn: AtomicUsize,
}

impl Shared {
    pub fn new(cfg: Config) -> std::io::Result<Arc<Shared>> {
        let log = match &cfg.log {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Arc::new(Shared {
            cfg,
            lock: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
            sessions_rev: Mutex::new(HashMap::new()),
            zxids: Mutex::new(ZxidMap::default()),
            log: Mutex::new(log),
            stats: Stats::default(),
            next_conn: AtomicUsize::new(1),
        }))
    }

    fn log(&self, text: &str) {
        eprintln!("{text}");
        if let Some(f) = self.log.lock().expect("log lock").as_mut() {
            let _ = writeln!(f, "{text}");
            let _ = f.flush();
        }
    }

    fn diverge(&self, conn: usize, what: &str, why: &str, zk: Option<&V>, zl: Option<&V>) {
        let n = self.stats.divergences.fetch_add(1, Ordering::Relaxed) + 1;
        let r = Norm::raw();
        let show = |v: Option<&V>| v.map_or("(nothing)".to_string(), |v| r.render(v));
        self.log(&format!(
            "DIVERGENCE #{n} conn {conn} {what}: {why}\n  zookeeper: {}\n  zoolog:    {}",
            show(zk),
            show(zl)
        ));
    }

    /// Compares two values with the online normalisation.
    fn compare(&self, a: &V, b: &V) -> Result<(), String> {
        match (a, b) {
            (V::Zxid(x), V::Zxid(y)) => self.zxids.lock().expect("zxids").check(*x, *y),
            (V::Session(x), V::Session(y)) => {
                if (*x == 0) != (*y == 0) {
                    return Err(format!("session {x:#x} vs {y:#x}"));
                }
                if *x == 0 {
                    return Ok(());
                }
                let known = self.sessions.lock().expect("sessions").get(x).map(|s| s.0);
                match known {
                    Some(s) if s == *y => Ok(()),
                    Some(s) => Err(format!("session {x:#x} is {s:#x} on zoolog, not {y:#x}")),
                    None => {
                        let rev = self.sessions_rev.lock().expect("sessions").get(y).copied();
                        match rev {
                            Some(z) if z != *x => Err(format!(
                                "zoolog session {y:#x} is {z:#x} on ZooKeeper, not {x:#x}"
                            )),
                            _ => Ok(()),
                        }
                    }
                }
            }
            (V::Time(x), V::Time(y)) => {
                let now = value::now_ms();
                let ok = |t: i64| (t - now).abs() < 86_400_000;
                if ok(*x) == ok(*y) && (ok(*x) || x == y) {
                    Ok(())
                } else {
                    Err(format!("time {x} vs {y}"))
                }
            }
            (V::List(x), V::List(y)) => {
                if x.len() != y.len() {
                    return Err(format!("{} vs {} items", x.len(), y.len()));
                }
                x.iter().zip(y).try_for_each(|(p, q)| self.compare(p, q))
            }
            (V::Set(x), V::Set(y)) => {
                let r = Norm::raw();
                let mut p: Vec<String> = x.iter().map(|v| r.render(v)).collect();
                let mut q: Vec<String> = y.iter().map(|v| r.render(v)).collect();
                p.sort();
                q.sort();
                if p == q {
                    Ok(())
                } else {
                    Err(format!("sets differ: {p:?} vs {q:?}"))
                }
            }
            (V::Rec(n1, f1), V::Rec(n2, f2)) => {
                if n1 != n2 || f1.len() != f2.len() {
                    return Err(format!("{n1} vs {n2}"));
                }
                for ((k1, v1), (k2, v2)) in f1.iter().zip(f2) {
                    if k1 != k2 {
                        return Err(format!("field {k1} vs {k2}"));
                    }
                    self.compare(v1, v2).map_err(|e| format!("{k1}: {e}"))?;
                }
                Ok(())
            }
            _ if a == b => Ok(()),
            _ => {
                let r = Norm::raw();
                let mut x = r.render(a);
                let mut y = r.render(b);
                x.truncate(160);
                y.truncate(160);
                Err(format!("{x} vs {y}"))
            }
        }
    }
}

/// Accepts clients until the listener fails. `ready` gets the bound address.
pub async fn serve(shared: Arc<Shared>, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let listener = TcpListener::bind(shared.cfg.listen).await?;
    ready(listener.local_addr()?);
    loop {
        let (sock, peer) = listener.accept().await?;
        let _ = sock.set_nodelay(true);
        let shared = shared.clone();
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = handle(shared.clone(), sock, id, peer).await {
                shared.log(&format!("zk-xchk: conn {id} ({peer}): {e}"));
            }
        });
    }
}

async fn read_frame(r: &mut OwnedReadHalf) -> std::io::Result<Bytes> {
    let len = r.read_i32().await?;
    if len < 0 || len as usize > DEFAULT_MAX_BUFFER + 1024 {
        return Err(std::io::Error::other(format!("bad frame length {len}")));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}

fn framed(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 4);
    zoolog_jute::write_frame(&mut out, |o| o.extend_from_slice(payload));
    out.freeze()
}

fn is_four_letter_word(b: &[u8; 4]) -> bool {
    b.iter().all(|c| c.is_ascii_lowercase())
}

/// A four-letter word: both servers answer, the client gets ZooKeeper's answer, shapes compared.
async fn four_letter_word(
    shared: &Shared,
    id: usize,
    first: [u8; 4],
    mut cr: OwnedReadHalf,
    mut cw: OwnedWriteHalf,
) -> std::io::Result<()> {
    let word = String::from_utf8_lossy(&first).into_owned();
    let mut bytes = first.to_vec();
    if word == "stmk" {
        let mut mask = [0u8; 8];
        let _ = tokio::time::timeout(Duration::from_secs(1), cr.read_exact(&mut mask)).await;
        bytes.extend_from_slice(&mask);
    }
    let ask = |addr: SocketAddr, bytes: Vec<u8>| async move {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(&bytes).await?;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        Ok::<Vec<u8>, std::io::Error>(out)
    };
    let (zk, zl) = tokio::join!(
        ask(shared.cfg.zookeeper, bytes.clone()),
        ask(shared.cfg.zoolog, bytes)
    );
    let zk = zk?;
    cw.write_all(&zk).await?;
    let _ = cw.shutdown().await;
    let a = crate::fourlw::shape(&word, &String::from_utf8_lossy(&zk));
    let b = match zl {
        Ok(zl) => crate::fourlw::shape(&word, &String::from_utf8_lossy(&zl)),
        Err(e) => V::str(format!("error: {e}")),
    };
    if a != b {
        shared.diverge(
            id,
            &format!("4lw {word}"),
            "output shapes differ",
            Some(&a),
            Some(&b),
        );
    }
    Ok(())
}

/// A request waiting for its replies.
#[derive(Clone, Debug)]
struct Pend {
    xid: i32,
    op: Option<OpCode>,
    label: String,
}

#[derive(Default)]
struct Side {
    pending: VecDeque<Pend>,
    replies: VecDeque<(String, V)>,
    events: VecDeque<V>,
    count: usize,
    closed: bool,
}

#[derive(Default)]
struct ConnState {
    zk: Side,
    zl: Side,
    /// zoolog is no longer compared on this connection (it closed, or never connected).
    zl_dead: bool,
}

struct Conn {
    id: usize,
    st: Mutex<ConnState>,
    notify: Notify,
}

impl Conn {
    fn pair_up(&self, shared: &Shared) {
        let mut st = self.st.lock().expect("conn state");
        while !st.zk.replies.is_empty() && !st.zl.replies.is_empty() {
            let (what, a) = st.zk.replies.pop_front().expect("reply");
            let (_, b) = st.zl.replies.pop_front().expect("reply");
            shared.stats.replies.fetch_add(1, Ordering::Relaxed);
            if let Err(why) = shared.compare(&a, &b) {
                shared.diverge(self.id, &what, &why, Some(&a), Some(&b));
            }
        }
        while !st.zk.events.is_empty() && !st.zl.events.is_empty() {
            let a = st.zk.events.pop_front().expect("event");
            let b = st.zl.events.pop_front().expect("event");
            shared.stats.events.fetch_add(1, Ordering::Relaxed);
            if let Err(why) = shared.compare(&a, &b) {
                shared.diverge(self.id, "notification", &why, Some(&a), Some(&b));
            }
        }
        if st.zl_dead {
            st.zk.replies.clear();
            st.zk.events.clear();
        }
    }

    /// Reports what one side got and the other did not.
    fn leftovers(&self, shared: &Shared) {
        let mut st = self.st.lock().expect("conn state");
        if st.zl_dead {
            return;
        }
        let zk_r: Vec<_> = st.zk.replies.drain(..).collect();
        let zl_r: Vec<_> = st.zl.replies.drain(..).collect();
        let zk_e: Vec<_> = st.zk.events.drain(..).collect();
        let zl_e: Vec<_> = st.zl.events.drain(..).collect();
        drop(st);
        for (what, v) in zk_r {
            shared.diverge(self.id, &what, "no reply from zoolog", Some(&v), None);
        }
        for (what, v) in zl_r {
            shared.diverge(self.id, &what, "reply from zoolog only", None, Some(&v));
        }
        for v in zk_e {
            shared.diverge(
                self.id,
                "notification",
                "not sent by zoolog",
                Some(&v),
                None,
            );
        }
        for v in zl_e {
            shared.diverge(
                self.id,
                "notification",
                "sent by zoolog only",
                None,
                Some(&v),
            );
        }
    }
}

fn decode_connect_response(f: &Bytes) -> Option<ConnectResponse> {
    let cx = Cx::new(f, DEFAULT_MAX_BUFFER);
    ConnectResponse::decode(&cx, f).ok().map(|(_, r)| r)
}

fn connect_value(r: &ConnectResponse) -> V {
    V::rec(
        "connected",
        vec![
            ("timeOut", V::Int(r.time_out.into())),
            ("session", V::Session(r.session_id)),
            ("passwdLen", V::Int(r.passwd.len() as i64)),
            ("readOnly", r.read_only.map_or(V::str("absent"), V::Bool)),
        ],
    )
}

async fn handle(
    shared: Arc<Shared>,
    client: TcpStream,
    id: usize,
    peer: SocketAddr,
) -> std::io::Result<()> {
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    let (mut cr, mut cw) = client.into_split();
    let mut first = [0u8; 4];
    cr.read_exact(&mut first).await?;
    if is_four_letter_word(&first) {
        return four_letter_word(&shared, id, first, cr, cw).await;
    }
    let len = i32::from_be_bytes(first);
    if len < 0 || len as usize > DEFAULT_MAX_BUFFER {
        return Err(std::io::Error::other(format!(
            "bad first frame length {len}"
        )));
    }
    let mut buf = vec![0u8; len as usize];
    cr.read_exact(&mut buf).await?;
    let connect = Bytes::from(buf);
    let req = {
        let cx = Cx::new(&connect, DEFAULT_MAX_BUFFER);
        ConnectRequest::decode(&cx, &connect).map(|(_, r)| r).ok()
    };

    let guard = if shared.cfg.lockstep {
        Some(shared.lock.lock().await)
    } else {
        None
    };
    let zk = TcpStream::connect(shared.cfg.zookeeper).await?;
    let _ = zk.set_nodelay(true);
    let (mut zkr, mut zkw) = zk.into_split();
    zkw.write_all(&framed(&connect)).await?;
    let zl = match TcpStream::connect(shared.cfg.zoolog).await {
        Ok(s) => Some(s),
        Err(e) => {
            shared.diverge(
                id,
                "connect",
                &format!("cannot reach zoolog: {e}"),
                None,
                None,
            );
            None
        }
    };
    let conn = Arc::new(Conn {
        id,
        st: Mutex::new(ConnState::default()),
        notify: Notify::new(),
    });
    let (mut zlr, mut zlw) = match zl {
        Some(s) => {
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            (Some(r), Some(w))
        }
        None => (None, None),
    };
    // The ConnectRequest for zoolog: its own session id, password and zxids.
    if let (Some(w), Some(req)) = (zlw.as_mut(), req.as_ref()) {
        let mut r = req.clone();
        if r.session_id != 0
            && let Some((sid, pw)) = shared.sessions.lock().expect("sessions").get(&r.session_id)
        {
            r.session_id = *sid;
            r.passwd = pw.clone();
        }
        r.last_zxid_seen = shared
            .zxids
            .lock()
            .expect("zxids")
            .translate(r.last_zxid_seen);
        w.write_all(&framed(&r.to_bytes())).await?;
    }
    // Both handshake answers.
    let zk_resp = tokio::time::timeout(REPLY_WAIT, read_frame(&mut zkr)).await;
    let zk_resp = match zk_resp {
        Ok(Ok(f)) => f,
        _ => {
            // ZooKeeper refused the client (e.g. its zxid is ahead): so do we.
            if let Some(r) = zlr.as_mut()
                && let Ok(Ok(f)) = tokio::time::timeout(Duration::from_secs(1), read_frame(r)).await
            {
                let b = decode_connect_response(&f).map(|r| connect_value(&r));
                shared.diverge(
                    id,
                    "connect",
                    "ZooKeeper closed, zoolog answered",
                    None,
                    b.as_ref(),
                );
            }
            return Ok(());
        }
    };
    cw.write_all(&framed(&zk_resp)).await?;
    let a = decode_connect_response(&zk_resp);
    if let Some(r) = zlr.as_mut() {
        match tokio::time::timeout(REPLY_WAIT, read_frame(r)).await {
            Ok(Ok(f)) => {
                let b = decode_connect_response(&f);
                if let (Some(a), Some(b)) = (&a, &b)
                    && a.session_id != 0
                    && b.session_id != 0
                {
                    shared
                        .sessions
                        .lock()
                        .expect("sessions")
                        .insert(a.session_id, (b.session_id, b.passwd.clone()));
                    shared
                        .sessions_rev
                        .lock()
                        .expect("sessions")
                        .insert(b.session_id, a.session_id);
                }
                let va = a.as_ref().map(connect_value);
                let vb = b.as_ref().map(connect_value);
                match (&va, &vb) {
                    (Some(x), Some(y)) => {
                        if let Err(why) = shared.compare(x, y) {
                            shared.diverge(id, "connect", &why, Some(x), Some(y));
                        }
                    }
                    _ => shared.diverge(
                        id,
                        "connect",
                        "undecodable handshake",
                        va.as_ref(),
                        vb.as_ref(),
                    ),
                }
            }
            _ => {
                let va = a.as_ref().map(connect_value);
                shared.diverge(
                    id,
                    "connect",
                    "zoolog did not answer the handshake",
                    va.as_ref(),
                    None,
                );
                conn.st.lock().expect("conn").zl_dead = true;
                zlr = None;
                zlw = None;
            }
        }
    } else {
        conn.st.lock().expect("conn").zl_dead = true;
    }
    drop(guard);

    // ZooKeeper -> client (and compare).
    let zk_task = {
        let conn = conn.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let f = match read_frame(&mut zkr).await {
                    Ok(f) => f,
                    Err(_) => break,
                };
                if cw.write_all(&framed(&f)).await.is_err() {
                    break;
                }
                record(&shared, &conn, true, &f);
            }
            conn.st.lock().expect("conn").zk.closed = true;
            conn.notify.notify_waiters();
            let _ = cw.shutdown().await;
        })
    };
    // zoolog -> compare only.
    let zl_task = zlr.map(|mut r| {
        let conn = conn.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Ok(f) = read_frame(&mut r).await {
                record(&shared, &conn, false, &f);
            }
            conn.st.lock().expect("conn").zl.closed = true;
            conn.notify.notify_waiters();
        })
    });

    // client -> both.
    let mut sent = 0usize;
    let zk_closed_early = AtomicBool::new(false);
    loop {
        let f = match read_frame(&mut cr).await {
            Ok(f) => f,
            Err(_) => break,
        };
        let header = {
            let cx = Cx::new(&f, DEFAULT_MAX_BUFFER);
            RequestHeader::decode(&cx, &f).ok().map(|(_, h)| h)
        };
        let guard = if shared.cfg.lockstep {
            Some(shared.lock.lock().await)
        } else {
            None
        };
        let pend = match header {
            Some(h) => {
                let op = OpCode::from_i32(h.op);
                Pend {
                    xid: if op == Some(OpCode::Ping) { -2 } else { h.xid },
                    op,
                    label: format!("xid {} {}", h.xid, value::op_name(h.op)),
                }
            }
            None => Pend {
                xid: 0,
                op: None,
                label: "short frame".into(),
            },
        };
        let zl_alive = {
            let mut st = conn.st.lock().expect("conn");
            st.zk.pending.push_back(pend.clone());
            let alive = !st.zl_dead && !st.zl.closed;
            if alive {
                st.zl.pending.push_back(pend.clone());
            }
            alive
        };
        if zkw.write_all(&framed(&f)).await.is_err() {
            zk_closed_early.store(true, Ordering::Relaxed);
        }
        if zl_alive && let Some(w) = zlw.as_mut() {
            let out = translate_request(&shared, &f);
            if w.write_all(&framed(&out)).await.is_err() {
                conn.st.lock().expect("conn").zl.closed = true;
            }
        }
        sent += 1;
        // Wait for both replies (lockstep), or at least keep the queues bounded.
        if guard.is_some() {
            let deadline = tokio::time::Instant::now() + REPLY_WAIT;
            loop {
                let notified = conn.notify.notified();
                {
                    let st = conn.st.lock().expect("conn");
                    let zk_done = st.zk.count >= sent || st.zk.closed;
                    let zl_done = st.zl_dead || st.zl.closed || st.zl.count >= sent;
                    if zk_done && zl_done {
                        break;
                    }
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    break;
                }
            }
        }
        drop(guard);
    }
    // The client went away: let the servers finish, then report what is left over.
    let _ = zkw.shutdown().await;
    if let Some(w) = zlw.as_mut() {
        let _ = w.shutdown().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), zk_task).await;
    if let Some(t) = zl_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    conn.pair_up(&shared);
    conn.leftovers(&shared);
    let _ = peer;
    Ok(())
}

/// The request as zoolog gets it: SetWatches' relative zxid translated to zoolog's zxids.
fn translate_request(shared: &Shared, f: &Bytes) -> Bytes {
    let translate = |z: i64| shared.zxids.lock().expect("zxids").translate(z);
    let (xid, req) = match Request::decode_frame(f, DEFAULT_MAX_BUFFER) {
        Ok((h, Request::SetWatches(mut w))) => {
            w.relative_zxid = translate(w.relative_zxid);
            (h.xid, Request::SetWatches(w))
        }
        Ok((h, Request::SetWatches2(mut w))) => {
            w.relative_zxid = translate(w.relative_zxid);
            (h.xid, Request::SetWatches2(w))
        }
        _ => return f.clone(),
    };
    let mut out = BytesMut::new();
    req.encode_frame(xid, &mut out);
    out.freeze()
}

/// Files one frame a server sent on a connection, and compares what can be compared.
fn record(shared: &Shared, conn: &Conn, zk: bool, f: &Bytes) {
    let Some((h, body)) = crate::client::split_reply(f) else {
        return;
    };
    {
        let mut st = conn.st.lock().expect("conn");
        if !zk && st.zl_dead {
            return;
        }
        let side = if zk { &mut st.zk } else { &mut st.zl };
        if h.xid == -1 {
            let cx = Cx::new(&body, DEFAULT_MAX_BUFFER);
            let v = match WatcherEvent::decode(&cx, &body) {
                Ok((_, e)) => value::event(h.zxid, &e),
                Err(e) => V::str(format!("undecodable event: {e:?}")),
            };
            side.events.push_back(v);
        } else {
            let p = side.pending.pop_front().unwrap_or(Pend {
                xid: h.xid,
                op: None,
                label: format!("xid {} unexpected", h.xid),
            });
            let v = reply_value(
                &p.label,
                if p.xid == h.xid { p.op } else { None },
                &h,
                &body,
            );
            side.replies.push_back((p.label, v));
            side.count += 1;
        }
    }
    conn.pair_up(shared);
    conn.notify.notify_waiters();
    let _ = ReplyHeader::default();
}
