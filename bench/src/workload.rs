//! Workloads: what each session sends, how every reply is checked, and the drivers that run them
//! against one endpoint for a warm-up plus a fixed measured window.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Notify;
use zoolog_jute::{
    ByteString, CreateMode, CreateRequest, EventType, ExistsRequest, GetChildrenRequest,
    GetDataRequest, MultiOp, MultiRequest, MultiResult, Request, Response, SetDataRequest,
};

use crate::client::{Conn, Event, Reply};
use crate::load;

/// A request unanswered this long counts as lost (and ends its session's run).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a workload run is parameterised by (besides the workload itself).
#[derive(Debug, Clone, Serialize)]
pub struct LoadParams {
    /// Sessions (TCP connections) sending load.
    pub clients: usize,
    /// Requests in flight per session (pipelined on its connection).
    pub inflight: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Znodes the read/update workloads pick from.
    pub keys: usize,
    /// Session timeout asked for in the handshake.
    pub session_timeout_ms: i32,
    /// Print a live throughput line every second.
    pub live: bool,
}

/// The kinds of load.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// Persistent creates of new znodes (one directory per session).
    Create,
    /// setData (version -1) on random existing keys.
    SetData,
    /// getData on random keys.
    GetData,
    /// exists on random keys.
    Exists,
    /// getChildren of one directory with this many children.
    GetChildren { children: usize },
    /// getData / setData on random keys, `read_pct` percent reads.
    Mixed { read_pct: u32 },
    /// multi of `ops` setData on distinct random keys.
    Multi { ops: usize },
    /// `watchers` sessions watch one znode; one setData; time until every notification arrived.
    WatchFanout { watchers: usize },
    /// Per cycle: connect, create an ephemeral znode, closeSession. `workers` cycles in parallel.
    SessionChurn { workers: usize },
}

/// A named workload.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub name: String,
    #[serde(flatten)]
    pub kind: Kind,
    pub value_size: usize,
}

impl Workload {
    fn new(name: &str, kind: Kind, value_size: usize) -> Workload {
        Workload {
            name: name.to_string(),
            kind,
            value_size,
        }
    }

    /// The unit its throughput is counted in.
    pub fn unit(&self) -> &'static str {
        match self.kind {
            Kind::Create => "creates/s",
            Kind::SetData => "sets/s",
            Kind::GetData => "gets/s",
            Kind::Exists => "exists/s",
            Kind::GetChildren { .. } => "lists/s",
            Kind::Mixed { .. } => "ops/s",
            Kind::Multi { .. } => "multis/s",
            Kind::WatchFanout { .. } => "fan-outs/s",
            Kind::SessionChurn { .. } => "sessions/s",
        }
    }

    /// The directory all its znodes live under (distinct per workload, so several workloads
    /// can share one server).
    pub fn prefix(&self) -> String {
        format!("/zb-{}", self.name)
    }
}

/// Sizes of the fan-out and churn workloads.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub children_small: usize,
    pub children_large: usize,
    pub watchers: usize,
    pub churn_workers: usize,
    pub multi_ops: usize,
}

/// The standard workload list, in the order they run.
pub fn standard(scale: Scale) -> Vec<Workload> {
    let mut v = vec![
        Workload::new("create", Kind::Create, 100),
        Workload::new("setData", Kind::SetData, 100),
        Workload::new("getData", Kind::GetData, 100),
        Workload::new("exists", Kind::Exists, 100),
        Workload::new(
            &format!("getChildren-{}", count_name(scale.children_small)),
            Kind::GetChildren {
                children: scale.children_small,
            },
            0,
        ),
        Workload::new(
            &format!("getChildren-{}", count_name(scale.children_large)),
            Kind::GetChildren {
                children: scale.children_large,
            },
            0,
        ),
        Workload::new("mixed-90r10w", Kind::Mixed { read_pct: 90 }, 100),
        Workload::new("mixed-50r50w", Kind::Mixed { read_pct: 50 }, 100),
        Workload::new(
            &format!("multi-{}", scale.multi_ops),
            Kind::Multi {
                ops: scale.multi_ops,
            },
            100,
        ),
        Workload::new(
            &format!("watch-fanout-{}", scale.watchers),
            Kind::WatchFanout {
                watchers: scale.watchers,
            },
            100,
        ),
        Workload::new(
            "session-churn",
            Kind::SessionChurn {
                workers: scale.churn_workers,
            },
            100,
        ),
    ];
    for size in [1024usize, 10 * 1024, 100 * 1024] {
        v.push(Workload::new(
            &format!("setData-{}", size_name(size)),
            Kind::SetData,
            size,
        ));
        v.push(Workload::new(
            &format!("getData-{}", size_name(size)),
            Kind::GetData,
            size,
        ));
    }
    v
}

fn count_name(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

pub fn size_name(n: usize) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}KB", n / 1024)
    } else {
        format!("{n}B")
    }
}

/// Counters and the latency histogram of one session (merged into a run's total).
pub struct Stats {
    /// Latency in microseconds of replies whose request was sent and answered in the window.
    pub hist: Histogram<u64>,
    /// Replies received inside the measured window.
    pub ops: u64,
    /// Replies received at all (warm-up and drain included).
    pub total: u64,
    /// Replies that were wrong (error code, content), or requests that got no reply.
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Extra latency distribution (fan-out: each single notification).
    pub hist2: Option<Histogram<u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: new_hist(),
            ops: 0,
            total: 0,
            errors: 0,
            first_errors: Vec::new(),
            hist2: None,
        }
    }
}

pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

impl Stats {
    pub fn error(&mut self, msg: impl Into<String>) {
        self.errors += 1;
        if self.first_errors.len() < 5 {
            self.first_errors.push(msg.into());
        }
    }

    pub fn merge(&mut self, o: Stats) {
        let _ = self.hist.add(&o.hist);
        self.ops += o.ops;
        self.total += o.total;
        self.errors += o.errors;
        for e in o.first_errors {
            if self.first_errors.len() < 5 {
                self.first_errors.push(e);
            }
        }
        if let Some(h2) = o.hist2 {
            match &mut self.hist2 {
                Some(h) => {
                    let _ = h.add(&h2);
                }
                None => self.hist2 = Some(h2),
            }
        }
    }

    fn record(&mut self, win: &Window, sent: Instant, received: Instant) {
        self.total += 1;
        if received >= win.start && received <= win.end {
            self.ops += 1;
            if sent >= win.start {
                let us = received.duration_since(sent).as_micros().max(1) as u64;
                let _ = self.hist.record(us.min(120_000_000));
            }
        }
    }
}

/// The measured window: load starts at once, measuring at `start`, the load stops at `end`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// What one workload run produced (before the server-side figures are added).
pub struct Outcome {
    pub stats: Stats,
    /// Extra figures (e.g. notifications/s of a fan-out).
    pub extra: Vec<(String, f64)>,
}

/// A small fast PRNG (xorshift64*), enough to pick keys.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

/// A value of `size` bytes (printable, so logs stay readable).
pub fn value_of(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b"zoolog-bench-"[i % 13])
            .collect::<Vec<u8>>(),
    )
}

/// What a reply must look like.
enum Expect {
    Created(ByteString),
    Set(usize),
    Got(usize),
    Exists(usize),
    Children(usize),
    Multi(usize, usize),
}

fn check(expect: &Expect, reply: &Reply) -> Result<(), String> {
    reply.ok()?;
    let resp = reply.decode()?;
    match (expect, resp) {
        (Expect::Created(p), Response::Create(r)) if r.path == *p => Ok(()),
        (Expect::Set(n), Response::SetData(r)) if r.stat.data_length as usize == *n => Ok(()),
        (Expect::Got(n), Response::GetData(r))
            if r.data.as_ref().map_or(0, |d| d.len()) == *n
                && r.stat.data_length as usize == *n =>
        {
            Ok(())
        }
        (Expect::Exists(n), Response::Exists(r)) if r.stat.data_length as usize == *n => Ok(()),
        (Expect::Children(n), Response::GetChildren(r)) if r.children.len() == *n => Ok(()),
        (Expect::Multi(ops, n), Response::Multi(r))
            if r.results.len() == *ops
                && r.results.iter().all(
                    |x| matches!(x, MultiResult::SetData(s) if s.stat.data_length as usize == *n),
                ) =>
        {
            Ok(())
        }
        (_, resp) => Err(format!(
            "unexpected {} reply: {}",
            reply.pending.op.name(),
            short_debug(&resp)
        )),
    }
}

fn short_debug(r: &Response) -> String {
    let s = format!("{r:?}");
    if s.len() > 200 {
        format!("{}…", &s[..200])
    } else {
        s
    }
}

/// Request generator of one session.
struct Gen {
    kind: Kind,
    rng: Rng,
    keys: Arc<Vec<ByteString>>,
    value: Bytes,
    value_size: usize,
    dir: ByteString,
    counter: u64,
}

impl Gen {
    fn next(&mut self) -> (Request, Expect) {
        match self.kind {
            Kind::Create => {
                self.counter += 1;
                let path = ByteString::from(format!("{}/n{:010}", &*self.dir, self.counter));
                (
                    Request::Create(CreateRequest {
                        path: path.clone(),
                        data: Some(self.value.clone()),
                        acl: Some(load::open_acl()),
                        flags: CreateMode::Persistent.as_i32(),
                    }),
                    Expect::Created(path),
                )
            }
            Kind::SetData => self.set(),
            Kind::GetData => self.get(),
            Kind::Exists => {
                let path = self.key();
                (
                    Request::Exists(ExistsRequest { path, watch: false }),
                    Expect::Exists(self.value_size),
                )
            }
            Kind::GetChildren { children } => (
                Request::GetChildren(GetChildrenRequest {
                    path: self.dir.clone(),
                    watch: false,
                }),
                Expect::Children(children),
            ),
            Kind::Mixed { read_pct } => {
                if (self.rng.below(100) as u32) < read_pct {
                    self.get()
                } else {
                    self.set()
                }
            }
            Kind::Multi { ops } => {
                let n = self.keys.len();
                let first = self.rng.below(n);
                let step = 1 + self.rng.below((n / ops.max(1)).max(1));
                let ops_v = (0..ops)
                    .map(|i| {
                        MultiOp::SetData(SetDataRequest {
                            path: self.keys[(first + i * step) % n].clone(),
                            data: Some(self.value.clone()),
                            version: -1,
                        })
                    })
                    .collect();
                (
                    Request::Multi(MultiRequest { ops: ops_v }),
                    Expect::Multi(ops, self.value_size),
                )
            }
            Kind::WatchFanout { .. } | Kind::SessionChurn { .. } => {
                unreachable!("not a request-stream workload")
            }
        }
    }

    fn key(&mut self) -> ByteString {
        self.keys[self.rng.below(self.keys.len())].clone()
    }

    fn set(&mut self) -> (Request, Expect) {
        let path = self.key();
        (
            Request::SetData(SetDataRequest {
                path,
                data: Some(self.value.clone()),
                version: -1,
            }),
            Expect::Set(self.value_size),
        )
    }

    fn get(&mut self) -> (Request, Expect) {
        let path = self.key();
        (
            Request::GetData(GetDataRequest { path, watch: false }),
            Expect::Got(self.value_size),
        )
    }
}

/// Paths of the keys of a read/update workload.
fn key_paths(prefix: &str, keys: usize) -> Vec<ByteString> {
    (0..keys)
        .map(|i| ByteString::from(format!("{prefix}/k{i:07}")))
        .collect()
}

/// Creates what the workload needs before the load starts.
pub async fn setup(addr: SocketAddr, wl: &Workload, p: &LoadParams) -> std::io::Result<()> {
    let prefix = wl.prefix();
    let dirs = vec![ByteString::from(prefix.clone())];
    load::create_level(addr, &dirs, &Bytes::new(), 1, 1, 1, true, None).await?;
    let value = value_of(wl.value_size);
    match wl.kind {
        Kind::Create => {
            let d: Vec<ByteString> = (0..p.clients)
                .map(|i| ByteString::from(format!("{prefix}/s{i}")))
                .collect();
            load::create_level(addr, &d, &Bytes::new(), 1, 64, 1, true, None).await
        }
        Kind::SetData | Kind::GetData | Kind::Exists | Kind::Mixed { .. } | Kind::Multi { .. } => {
            let keys = key_paths(&prefix, p.keys);
            load::create_level(addr, &keys, &value, 4, 16, 100, true, None).await
        }
        Kind::GetChildren { children } => {
            let c: Vec<ByteString> = (0..children)
                .map(|i| ByteString::from(format!("{prefix}/c{i:06}")))
                .collect();
            load::create_level(addr, &c, &Bytes::new(), 4, 16, 100, true, None).await
        }
        Kind::WatchFanout { .. } => {
            let n = vec![ByteString::from(format!("{prefix}/node"))];
            load::create_level(addr, &n, &value, 1, 1, 1, true, None).await
        }
        Kind::SessionChurn { .. } => Ok(()),
    }
}

impl Window {
    /// Warm-up from now, then the measured duration.
    pub fn from_now(p: &LoadParams) -> Window {
        let now = Instant::now();
        Window {
            start: now + p.warmup,
            end: now + p.warmup + p.duration,
        }
    }
}

/// Runs the workload (after [`setup`]): load from now on, measured inside `window`.
pub async fn run(addr: SocketAddr, wl: &Workload, p: &LoadParams, window: Window) -> Outcome {
    let done = Arc::new(AtomicU64::new(0));
    let ticker = p.live.then(|| {
        let done = done.clone();
        tokio::spawn(live_ticker(done, window, wl.unit()))
    });
    let (stats, extra) = match wl.kind {
        Kind::WatchFanout { watchers } => fanout(addr, wl, p, window, watchers, &done).await,
        Kind::SessionChurn { workers } => {
            (churn(addr, wl, p, window, workers, &done).await, vec![])
        }
        _ => (stream(addr, wl, p, window, &done).await, vec![]),
    };
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[K");
    }
    let mut extra = extra;
    if let Kind::Multi { ops } = wl.kind {
        let secs = p.duration.as_secs_f64();
        extra.push((
            "znode_ops_per_s".into(),
            stats.ops as f64 * ops as f64 / secs,
        ));
    }
    Outcome { stats, extra }
}

async fn live_ticker(done: Arc<AtomicU64>, win: Window, unit: &'static str) {
    let begin = Instant::now();
    let mut last = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let d = done.load(Ordering::Relaxed);
        let phase = if Instant::now() < win.start {
            "warm-up"
        } else {
            "measure"
        };
        eprint!(
            "\r\x1b[K    {phase} {:>5.1}s  {:>10} {unit}",
            begin.elapsed().as_secs_f64(),
            d - last
        );
        last = d;
    }
}

/// Request-stream workloads: `clients` sessions, each keeping `inflight` requests on the wire.
async fn stream(
    addr: SocketAddr,
    wl: &Workload,
    p: &LoadParams,
    win: Window,
    done: &Arc<AtomicU64>,
) -> Stats {
    let prefix = wl.prefix();
    let keys = Arc::new(key_paths(&prefix, p.keys));
    let value = value_of(wl.value_size);
    let mut tasks = Vec::new();
    for s in 0..p.clients {
        let dir = match wl.kind {
            Kind::Create => format!("{prefix}/s{s}"),
            _ => prefix.clone(),
        };
        let generator = Gen {
            kind: wl.kind.clone(),
            rng: Rng::new(0x5eed + s as u64),
            keys: keys.clone(),
            value: value.clone(),
            value_size: wl.value_size,
            dir: ByteString::from(dir),
            counter: 0,
        };
        let done = done.clone();
        let inflight = p.inflight;
        let timeout = p.session_timeout_ms;
        tasks.push(tokio::spawn(async move {
            drive(addr, generator, inflight, timeout, win, done).await
        }));
    }
    let mut total = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(s),
            Err(e) => total.error(format!("session task failed: {e}")),
        }
    }
    total
}

async fn drive(
    addr: SocketAddr,
    mut generator: Gen,
    inflight: usize,
    timeout_ms: i32,
    win: Window,
    done: Arc<AtomicU64>,
) -> Stats {
    let mut st = Stats::default();
    let mut conn = match Conn::connect(addr, timeout_ms).await {
        Ok(c) => c,
        Err(e) => {
            st.error(format!("connect: {e}"));
            return st;
        }
    };
    let mut expects = std::collections::VecDeque::with_capacity(inflight);
    loop {
        if Instant::now() < win.end {
            while conn.in_flight() < inflight {
                let (req, exp) = generator.next();
                conn.queue(&req);
                expects.push_back(exp);
            }
        }
        if conn.in_flight() == 0 {
            break;
        }
        let ev = match tokio::time::timeout(REPLY_TIMEOUT, conn.next_event()).await {
            Ok(ev) => ev,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no reply within {REPLY_TIMEOUT:?}"),
            )),
        };
        match ev {
            Ok(Event::Reply(r)) => {
                let exp = expects.pop_front().expect("one expectation per request");
                match check(&exp, &r) {
                    Ok(()) => {
                        st.record(&win, r.pending.sent, r.received);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => st.error(e),
                }
            }
            Ok(Event::Watch(w)) => st.error(format!("unexpected notification {w:?}")),
            Err(e) => {
                st.errors += expects.len() as u64;
                st.error(format!("connection: {e}"));
                return st;
            }
        }
    }
    if let Err(e) = conn.close().await {
        st.error(format!("closeSession: {e}"));
    }
    st
}

/// Session churn: `workers` loops of connect, create an ephemeral znode, closeSession.
async fn churn(
    addr: SocketAddr,
    wl: &Workload,
    p: &LoadParams,
    win: Window,
    workers: usize,
    done: &Arc<AtomicU64>,
) -> Stats {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let prefix = wl.prefix();
        let value = value_of(wl.value_size);
        let done = done.clone();
        let timeout = p.session_timeout_ms;
        tasks.push(tokio::spawn(async move {
            let mut st = Stats::default();
            let mut n = 0u64;
            while Instant::now() < win.end {
                n += 1;
                let path = ByteString::from(format!("{prefix}/w{w}-{n}"));
                let t0 = Instant::now();
                let cycle = async {
                    let mut c = Conn::connect(addr, timeout)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    let r = c
                        .call(&Request::Create(CreateRequest {
                            path: path.clone(),
                            data: Some(value.clone()),
                            acl: Some(load::open_acl()),
                            flags: CreateMode::Ephemeral.as_i32(),
                        }))
                        .await
                        .map_err(|e| format!("create: {e}"))?;
                    check(&Expect::Created(path.clone()), &r)?;
                    c.close().await.map_err(|e| format!("closeSession: {e}"))
                };
                let cycle = async {
                    tokio::time::timeout(REPLY_TIMEOUT, cycle)
                        .await
                        .unwrap_or_else(|_| Err(format!("cycle took over {REPLY_TIMEOUT:?}")))
                };
                match cycle.await {
                    Ok(()) => {
                        st.record(&win, t0, Instant::now());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        st.error(e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            st
        }));
    }
    let mut total = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(s),
            Err(e) => total.error(format!("churn task failed: {e}")),
        }
    }
    total
}

/// State shared by the fan-out writer and its watchers.
struct FanoutShared {
    watchers: usize,
    armed: AtomicUsize,
    arrived: AtomicUsize,
    /// Nanoseconds since `base` at which the current setData was sent.
    sent_at: AtomicU64,
    base: Instant,
    all_armed: Notify,
    all_arrived: Notify,
    stop: std::sync::atomic::AtomicBool,
    /// Per-notification latencies (µs) of the measured rounds.
    single: std::sync::Mutex<Histogram<u64>>,
    measuring: std::sync::atomic::AtomicBool,
}

/// Watch fan-out: `watchers` sessions hold a data watch on one znode; a writer sets it and
/// waits until every watcher got NodeDataChanged; the watchers re-arm; repeat.
async fn fanout(
    addr: SocketAddr,
    wl: &Workload,
    p: &LoadParams,
    win: Window,
    watchers: usize,
    done: &Arc<AtomicU64>,
) -> (Stats, Vec<(String, f64)>) {
    let path = ByteString::from(format!("{}/node", wl.prefix()));
    let shared = Arc::new(FanoutShared {
        watchers,
        armed: AtomicUsize::new(0),
        arrived: AtomicUsize::new(0),
        sent_at: AtomicU64::new(0),
        base: Instant::now(),
        all_armed: Notify::new(),
        all_arrived: Notify::new(),
        stop: false.into(),
        single: std::sync::Mutex::new(new_hist()),
        measuring: false.into(),
    });
    let mut st = Stats::default();
    // Connect the watchers 32 at a time (a burst of 1000 handshakes is not what we measure), and
    // wait until all are connected before the first round.
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let connected = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let shared = shared.clone();
        let path = path.clone();
        let gate = gate.clone();
        let connected = connected.clone();
        let timeout = p.session_timeout_ms;
        tasks.push(tokio::spawn(async move {
            let c = {
                let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                Conn::connect(addr, timeout)
                    .await
                    .map_err(|e| format!("watcher connect: {e}"))?
            };
            connected.fetch_add(1, Ordering::AcqRel);
            watcher(c, path, shared).await
        }));
    }
    let mut writer = match Conn::connect(addr, p.session_timeout_ms).await {
        Ok(c) => c,
        Err(e) => {
            st.error(format!("writer connect: {e}"));
            return (st, vec![]);
        }
    };
    let value = value_of(wl.value_size);
    let limit = Duration::from_secs(30);
    'rounds: while Instant::now() < win.end {
        // Wait until every watcher holds its watch.
        let deadline = Instant::now() + limit;
        while shared.armed.load(Ordering::Acquire) < watchers {
            let n = shared.all_armed.notified();
            if shared.armed.load(Ordering::Acquire) >= watchers {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), n).await.is_err() {
                st.error(format!(
                    "only {} of {watchers} watchers armed after {limit:?} ({} connected)",
                    shared.armed.load(Ordering::Acquire),
                    connected.load(Ordering::Acquire)
                ));
                break 'rounds;
            }
        }
        shared.armed.store(0, Ordering::Release);
        shared.arrived.store(0, Ordering::Release);
        let t0 = Instant::now();
        shared.measuring.store(t0 >= win.start, Ordering::Release);
        shared.sent_at.store(
            t0.duration_since(shared.base).as_nanos() as u64,
            Ordering::Release,
        );
        let r = writer
            .call(&Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(value.clone()),
                version: -1,
            }))
            .await;
        match r {
            Ok(r) => {
                if let Err(e) = check(&Expect::Set(wl.value_size), &r) {
                    st.error(e);
                    break;
                }
            }
            Err(e) => {
                st.error(format!("writer: {e}"));
                break;
            }
        }
        let deadline = Instant::now() + limit;
        while shared.arrived.load(Ordering::Acquire) < watchers {
            let n = shared.all_arrived.notified();
            if shared.arrived.load(Ordering::Acquire) >= watchers {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), n).await.is_err() {
                st.error(format!(
                    "only {} of {watchers} notifications after {limit:?}",
                    shared.arrived.load(Ordering::Acquire)
                ));
                break 'rounds;
            }
        }
        st.record(&win, t0, Instant::now());
        done.fetch_add(1, Ordering::Relaxed);
    }
    shared.stop.store(true, Ordering::Release);
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => st.error(e),
            Err(e) => st.error(format!("watcher task: {e}")),
        }
    }
    let _ = writer.close().await;
    let single = std::mem::replace(&mut *shared.single.lock().unwrap(), new_hist());
    let secs = win.end.duration_since(win.start).as_secs_f64();
    let extra = vec![
        (
            "notifications_per_s".to_string(),
            st.ops as f64 * watchers as f64 / secs,
        ),
        (
            "single_notification_p50_us".to_string(),
            single.value_at_quantile(0.5) as f64,
        ),
        (
            "single_notification_p99_us".to_string(),
            single.value_at_quantile(0.99) as f64,
        ),
    ];
    st.hist2 = Some(single);
    (st, extra)
}

async fn watcher(mut c: Conn, path: ByteString, shared: Arc<FanoutShared>) -> Result<(), String> {
    loop {
        if shared.stop.load(Ordering::Acquire) {
            return c.close().await.map_err(|e| format!("watcher close: {e}"));
        }
        let r = c
            .call(&Request::GetData(GetDataRequest {
                path: path.clone(),
                watch: true,
            }))
            .await
            .map_err(|e| format!("watcher getData: {e}"))?;
        r.ok()?;
        if shared.armed.fetch_add(1, Ordering::AcqRel) + 1 == shared.watchers {
            shared.all_armed.notify_one();
        }
        // Wait for the notification (or the end of the run).
        let ev = loop {
            if let Some(ev) = c.buffered_watches.pop_front() {
                break ev;
            }
            let next = tokio::time::timeout(Duration::from_millis(200), c.next_event()).await;
            match next {
                Ok(Ok(Event::Watch(ev))) => break ev,
                Ok(Ok(Event::Reply(r))) => {
                    return Err(format!("watcher: unexpected reply xid {}", r.header.xid));
                }
                Ok(Err(e)) => return Err(format!("watcher: {e}")),
                Err(_) => {
                    if shared.stop.load(Ordering::Acquire) {
                        return c.close().await.map_err(|e| format!("watcher close: {e}"));
                    }
                }
            }
        };
        let now = Instant::now();
        if ev.event_type != EventType::NodeDataChanged.as_i32() || ev.path != path {
            return Err(format!("watcher: unexpected event {ev:?}"));
        }
        if shared.measuring.load(Ordering::Acquire) {
            let sent = shared.sent_at.load(Ordering::Acquire);
            let at = now.duration_since(shared.base).as_nanos() as u64;
            let us = (at.saturating_sub(sent) / 1000).max(1);
            let _ = shared.single.lock().unwrap().record(us.min(120_000_000));
        }
        if shared.arrived.fetch_add(1, Ordering::AcqRel) + 1 == shared.watchers {
            shared.all_arrived.notify_one();
        }
    }
}
