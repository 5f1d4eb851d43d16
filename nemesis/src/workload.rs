//! The clients: Jepsen-style workloads over real sessions of the `zookeeper-client` crate. Each
//! worker is one process in the history: it runs one operation at a time (the FIFO worker
//! pipelines a batch on purpose), records every invocation and completion, and opens a new
//! session when its session expires.
//!
//! | worker | znodes | operations |
//! | --- | --- | --- |
//! | register | `/nemesis/r/rK` | setData, setData with the last version seen, getData, sync+getData |
//! | counter | `/nemesis/counter` | getData then setData(value+1, version) |
//! | ids | `/nemesis/ids/id-N` | persistent sequential create |
//! | lock | `/nemesis/lock/n-N` | ephemeral sequential create, lowest child holds, delete |
//! | ephemeral | `/nemesis/eph/e-P-N` | a fresh session creates an ephemeral, checks it, closes; another session checks it is gone |
//! | fifo | `/nemesis/fifo/fP` | 5 setData sent back to back on one session |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::task::JoinHandle;
use zookeeper_client as zk;

use crate::error::{Error, Result};
use crate::history::{Call, Outcome, Recorder, Ret};

pub const ROOT: &str = "/nemesis";
pub const REGISTERS: &str = "/nemesis/r";
pub const COUNTER: &str = "/nemesis/counter";
pub const IDS: &str = "/nemesis/ids";
pub const LOCK: &str = "/nemesis/lock";
pub const EPHEMERALS: &str = "/nemesis/eph";
pub const FIFO: &str = "/nemesis/fifo";

/// How many clients of each kind, and their timing.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// Register znodes (keys r0..).
    pub keys: usize,
    pub register_clients: usize,
    pub counter_clients: usize,
    pub id_clients: usize,
    pub lock_clients: usize,
    pub ephemeral_clients: usize,
    pub fifo_clients: usize,
    /// A client gives up on a request after this (the op is then unknown).
    pub op_timeout: Duration,
    /// The session timeout clients ask for.
    pub session_timeout: Duration,
    /// Pause between a worker's ops.
    pub think: Duration,
}

impl WorkloadConfig {
    /// About two register sessions per node and one or two of every other kind.
    pub fn for_nodes(nodes: usize) -> WorkloadConfig {
        WorkloadConfig {
            keys: 4,
            register_clients: 2 * nodes,
            counter_clients: 2,
            id_clients: 2,
            lock_clients: 3,
            ephemeral_clients: 2,
            fifo_clients: 1,
            op_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(4),
            think: Duration::from_millis(30),
        }
    }

    pub fn register_key(k: usize) -> String {
        format!("r{k}")
    }
}

/// The path of a register key (`r0`, `counter`, `f3`, ...).
pub fn key_path(key: &str) -> String {
    if key == "counter" {
        COUNTER.to_string()
    } else if let Some(p) = key.strip_prefix('f') {
        format!("{FIFO}/f{p}")
    } else {
        format!("{REGISTERS}/{key}")
    }
}

/// Whether an error says the request did not happen (as opposed to: maybe it did).
pub fn definite_failure(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::BadVersion
            | zk::Error::NoNode
            | zk::Error::NodeExists
            | zk::Error::NotEmpty
            | zk::Error::NoAuth
            | zk::Error::InvalidAcl
            | zk::Error::NoChildrenForEphemerals
            | zk::Error::BadArguments(_)
    )
}

fn outcome_of(e: &zk::Error) -> Outcome {
    if definite_failure(e) {
        Outcome::Fail
    } else {
        Outcome::Unknown
    }
}

/// Whether the session behind `e` is gone for good.
fn session_over(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
    )
}

/// What a worker needs: where to connect and how to record.
#[derive(Clone)]
pub struct Ctx {
    pub rec: Recorder,
    pub cfg: WorkloadConfig,
    /// Connection strings, one per node, each starting with that node.
    pub connect: Vec<String>,
    pub stop: Arc<AtomicBool>,
}

impl Ctx {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Runs `fut` with the op timeout; a timeout is an unknown outcome.
    async fn timed<T>(
        &self,
        fut: impl std::future::Future<Output = std::result::Result<T, zk::Error>>,
    ) -> std::result::Result<T, (Outcome, String, bool)> {
        match tokio::time::timeout(self.cfg.op_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err((outcome_of(&e), e.to_string(), session_over(&e))),
            Err(_) => Err((Outcome::Unknown, "client timeout".into(), false)),
        }
    }
}

/// A session for worker `process`, connecting first to node `process % n`.
pub async fn connect(ctx: &Ctx, process: usize) -> Option<zk::Client> {
    let cs = &ctx.connect[process % ctx.connect.len()];
    connect_to(cs, ctx.cfg.session_timeout, ctx.cfg.op_timeout)
        .await
        .ok()
}

/// A session on `connect_string` (fails after `session_timeout + grace`).
pub async fn connect_to(
    connect_string: &str,
    session_timeout: Duration,
    grace: Duration,
) -> Result<zk::Client> {
    let fut = zk::Client::connector()
        .with_session_timeout(session_timeout)
        .with_connection_timeout(Duration::from_millis(1500))
        .connect(connect_string);
    match tokio::time::timeout(session_timeout + grace, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Timeout(format!("connect to {connect_string}"))),
    }
}

fn sid(c: &zk::Client) -> Option<String> {
    Some(format!("{:x}", c.session_id().0))
}

/// Creates the workload's znodes (idempotent), retrying until `deadline`.
pub async fn setup(connect_string: &str, cfg: &WorkloadConfig) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match try_setup(connect_string, cfg).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Err(Error::Timeout(format!(
        "creating the workload's znodes: {last}"
    )))
}

async fn try_setup(connect_string: &str, cfg: &WorkloadConfig) -> Result<()> {
    let c = connect_to(connect_string, cfg.session_timeout, cfg.op_timeout).await?;
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let mut paths = vec![
        ROOT.to_string(),
        REGISTERS.to_string(),
        IDS.to_string(),
        LOCK.to_string(),
        EPHEMERALS.to_string(),
        FIFO.to_string(),
        COUNTER.to_string(),
    ];
    for k in 0..cfg.keys {
        paths.push(key_path(&WorkloadConfig::register_key(k)));
    }
    for p in 0..cfg.fifo_clients {
        paths.push(key_path(&format!("f{p}")));
    }
    for p in paths {
        match c.create(&p, b"0", &opts).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn parse_value(data: &[u8]) -> i64 {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        // A value no writer writes: the register check reports it.
        .unwrap_or(i64::MIN)
}

/// Starts every worker; they run until `ctx.stop` is set.
pub fn spawn_all(ctx: &Ctx) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    let mut p = 0;
    let c = &ctx.cfg;
    for _ in 0..c.register_clients {
        handles.push(tokio::spawn(register_worker(ctx.clone(), p)));
        p += 1;
    }
    for _ in 0..c.counter_clients {
        handles.push(tokio::spawn(counter_worker(ctx.clone(), p)));
        p += 1;
    }
    for _ in 0..c.id_clients {
        handles.push(tokio::spawn(ids_worker(ctx.clone(), p)));
        p += 1;
    }
    for _ in 0..c.lock_clients {
        handles.push(tokio::spawn(lock_worker(ctx.clone(), p)));
        p += 1;
    }
    for _ in 0..c.ephemeral_clients {
        handles.push(tokio::spawn(ephemeral_worker(ctx.clone(), p)));
        p += 1;
    }
    for f in 0..c.fifo_clients {
        handles.push(tokio::spawn(fifo_worker(ctx.clone(), p, f)));
        p += 1;
    }
    handles
}

/// Keeps a session: returns the current one or makes a new one (None while it cannot).
async fn ensure(ctx: &Ctx, process: usize, client: &mut Option<zk::Client>) -> bool {
    if client.is_none() {
        *client = connect(ctx, process).await;
        if client.is_none() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    client.is_some()
}

async fn think(ctx: &Ctx) {
    let ms = ctx.cfg.think.as_millis() as u64;
    let jitter = rand::rng().random_range(0..=ms.max(1));
    tokio::time::sleep(Duration::from_millis(ms / 2 + jitter)).await;
}

/// A unique value for a write by `process`.
fn unique(process: usize, n: &mut i64) -> i64 {
    *n += 1;
    ((process as i64 + 1) << 32) | *n
}

async fn register_worker(ctx: Ctx, process: usize) {
    let mut client: Option<zk::Client> = None;
    let mut n = 0i64;
    let mut last_version = vec![0i32; ctx.cfg.keys];
    while !ctx.stopped() {
        if !ensure(&ctx, process, &mut client).await {
            continue;
        }
        let Some(c) = client.clone() else { continue };
        let k = rand::rng().random_range(0..ctx.cfg.keys);
        let key = WorkloadConfig::register_key(k);
        let path = key_path(&key);
        let roll = rand::rng().random_range(0..100);
        let over = if roll < 30 {
            let value = unique(process, &mut n);
            let id = ctx.rec.begin(process, sid(&c), Call::Write { key, value });
            let data = value.to_string();
            match ctx.timed(c.set_data(&path, data.as_bytes(), None)).await {
                Ok(stat) => {
                    last_version[k] = stat.version;
                    ctx.rec.end(
                        id,
                        Outcome::Ok,
                        Ret::Version {
                            version: stat.version,
                        },
                        None,
                    );
                    false
                }
                Err((o, e, gone)) => {
                    let over = gone;
                    ctx.rec.end(id, o, Ret::Nothing, Some(e));
                    over
                }
            }
        } else if roll < 55 {
            let value = unique(process, &mut n);
            let expected = last_version[k];
            let id = ctx.rec.begin(
                process,
                sid(&c),
                Call::Cas {
                    key,
                    value,
                    expected,
                },
            );
            let data = value.to_string();
            match ctx
                .timed(c.set_data(&path, data.as_bytes(), Some(expected)))
                .await
            {
                Ok(stat) => {
                    last_version[k] = stat.version;
                    ctx.rec.end(
                        id,
                        Outcome::Ok,
                        Ret::Version {
                            version: stat.version,
                        },
                        None,
                    );
                    false
                }
                Err((o, e, gone)) => {
                    let over = gone;
                    ctx.rec.end(id, o, Ret::Nothing, Some(e));
                    over
                }
            }
        } else {
            let sync = roll >= 85;
            let call = if sync {
                Call::SyncRead { key }
            } else {
                Call::Read { key }
            };
            let id = ctx.rec.begin(process, sid(&c), call);
            let res = ctx
                .timed(async {
                    if sync {
                        c.sync(&path).await?;
                    }
                    c.get_data(&path).await
                })
                .await;
            match res {
                Ok((data, stat)) => {
                    last_version[k] = stat.version;
                    let ret = Ret::Value {
                        value: parse_value(&data),
                        version: stat.version,
                    };
                    ctx.rec.end(id, Outcome::Ok, ret, None);
                    false
                }
                Err((o, e, gone)) => {
                    let over = gone;
                    ctx.rec.end(id, o, Ret::Nothing, Some(e));
                    over
                }
            }
        };
        if over {
            client = None;
        }
        think(&ctx).await;
    }
}

async fn counter_worker(ctx: Ctx, process: usize) {
    let mut client: Option<zk::Client> = None;
    let key = "counter".to_string();
    while !ctx.stopped() {
        if !ensure(&ctx, process, &mut client).await {
            continue;
        }
        let Some(c) = client.clone() else { continue };
        let id = ctx
            .rec
            .begin(process, sid(&c), Call::Read { key: key.clone() });
        let (value, version) = match ctx.timed(c.get_data(COUNTER)).await {
            Ok((data, stat)) => {
                let v = parse_value(&data);
                ctx.rec.end(
                    id,
                    Outcome::Ok,
                    Ret::Value {
                        value: v,
                        version: stat.version,
                    },
                    None,
                );
                (v, stat.version)
            }
            Err((o, e, gone)) => {
                if gone {
                    client = None;
                }
                ctx.rec.end(id, o, Ret::Nothing, Some(e));
                think(&ctx).await;
                continue;
            }
        };
        let call = Call::Cas {
            key: key.clone(),
            value: value + 1,
            expected: version,
        };
        let id = ctx.rec.begin(process, sid(&c), call);
        let data = (value + 1).to_string();
        match ctx
            .timed(c.set_data(COUNTER, data.as_bytes(), Some(version)))
            .await
        {
            Ok(stat) => ctx.rec.end(
                id,
                Outcome::Ok,
                Ret::Version {
                    version: stat.version,
                },
                None,
            ),
            Err((o, e, gone)) => {
                if gone {
                    client = None;
                }
                ctx.rec.end(id, o, Ret::Nothing, Some(e));
            }
        }
        think(&ctx).await;
    }
}

async fn ids_worker(ctx: Ctx, process: usize) {
    let mut client: Option<zk::Client> = None;
    let opts = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let prefix = format!("{IDS}/id-");
    while !ctx.stopped() {
        if !ensure(&ctx, process, &mut client).await {
            continue;
        }
        let Some(c) = client.clone() else { continue };
        let id = ctx.rec.begin(process, sid(&c), Call::CreateSeq);
        match ctx.timed(c.create(&prefix, b"", &opts)).await {
            Ok((_, seq)) => {
                ctx.rec.end(
                    id,
                    Outcome::Ok,
                    Ret::Seq {
                        seq: seq.into_i64(),
                    },
                    None,
                );
            }
            Err((o, e, gone)) => {
                if gone {
                    client = None;
                }
                ctx.rec.end(id, o, Ret::Nothing, Some(e));
            }
        }
        think(&ctx).await;
        think(&ctx).await;
    }
}

/// Lock recipe without waiting: create an ephemeral sequential child, hold if it is the
/// lowest, else delete it and try again later. Any unknown outcome drops the session, so no
/// orphaned child blocks the lock.
async fn lock_worker(ctx: Ctx, process: usize) {
    let mut client: Option<zk::Client> = None;
    let opts = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let prefix = format!("{LOCK}/n-");
    while !ctx.stopped() {
        if !ensure(&ctx, process, &mut client).await {
            continue;
        }
        let Some(c) = client.clone() else { continue };
        let mut watcher = c.state_watcher();
        let id = ctx.rec.begin(process, sid(&c), Call::Acquire);
        let res = ctx
            .timed(async {
                let (_, seq) = c.create(&prefix, b"", &opts).await?;
                let children = c.list_children(LOCK).await?;
                Ok((seq.into_i64(), children))
            })
            .await;
        let (mine, children) = match res {
            Ok(v) => v,
            Err((o, e, _gone)) => {
                ctx.rec.end(id, o, Ret::Nothing, Some(e));
                client = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let node = format!("n-{mine:010}");
        let lowest = children
            .iter()
            .filter_map(|n| n.strip_prefix("n-").and_then(|s| s.parse::<i64>().ok()))
            .min();
        let acquired = lowest == Some(mine);
        ctx.rec.end(
            id,
            Outcome::Ok,
            Ret::Lock {
                node: node.clone(),
                acquired,
            },
            None,
        );
        if acquired {
            let from = ctx.rec.now();
            let connected = watcher.state() == zk::SessionState::SyncConnected;
            let hold = Duration::from_millis(rand::rng().random_range(50..300));
            if connected {
                tokio::select! {
                    _ = tokio::time::sleep(hold) => {}
                    _ = watcher.changed() => {}
                }
            }
            let to = ctx.rec.now();
            ctx.rec.op_at(
                process,
                sid(&c),
                Call::Hold,
                from,
                to,
                Outcome::Ok,
                Ret::Nothing,
            );
        }
        let id = ctx.rec.begin(process, sid(&c), Call::Release);
        let path = format!("{LOCK}/{node}");
        match ctx.timed(c.delete(&path, None)).await {
            Ok(()) => ctx.rec.end(id, Outcome::Ok, Ret::Nothing, None),
            Err((o, e, _gone)) => {
                ctx.rec.end(id, o, Ret::Nothing, Some(e));
                client = None;
            }
        }
        let ms = rand::rng().random_range(20..150);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Each cycle: a fresh session creates its ephemeral, checks it a few times, closes; an
/// observer session then checks it is gone.
async fn ephemeral_worker(ctx: Ctx, process: usize) {
    let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let mut observer: Option<zk::Client> = None;
    let mut cycle = 0u64;
    while !ctx.stopped() {
        cycle += 1;
        let Some(c) = connect(&ctx, process).await else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let path = format!("{EPHEMERALS}/e-{process}-{cycle}");
        let id = ctx
            .rec
            .begin(process, sid(&c), Call::EphCreate { path: path.clone() });
        let created = match ctx.timed(c.create(&path, b"", &opts)).await {
            Ok(_) => {
                ctx.rec.end(id, Outcome::Ok, Ret::Nothing, None);
                Some(true)
            }
            Err((o, e, _gone)) => {
                ctx.rec.end(id, o, Ret::Nothing, Some(e));
                (o == Outcome::Unknown).then_some(false)
            }
        };
        let mut expired = false;
        if created == Some(true) {
            let checks = rand::rng().random_range(2..8);
            for _ in 0..checks {
                if ctx.stopped() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let id = ctx
                    .rec
                    .begin(process, sid(&c), Call::EphCheck { path: path.clone() });
                match ctx.timed(c.check_stat(&path)).await {
                    Ok(stat) => {
                        let present = stat.is_some();
                        ctx.rec.end(id, Outcome::Ok, Ret::Exists { present }, None);
                    }
                    Err((o, e, gone)) => {
                        expired = gone;
                        ctx.rec.end(id, o, Ret::Nothing, Some(e));
                        if expired {
                            break;
                        }
                    }
                }
            }
        }
        let session = sid(&c);
        let t = ctx.rec.now();
        drop(c);
        if created.is_none() {
            continue;
        }
        ctx.rec.op_at(
            process,
            session,
            Call::EphClose {
                path: path.clone(),
                expired,
            },
            t,
            t,
            Outcome::Ok,
            Ret::Nothing,
        );
        // Watch it go, from another session, for a while (the final check decides).
        for _ in 0..20 {
            if !ensure(&ctx, process + 1000, &mut observer).await {
                continue;
            }
            let Some(o) = observer.clone() else { continue };
            let id = ctx
                .rec
                .begin(process, sid(&o), Call::EphGone { path: path.clone() });
            let res = ctx
                .timed(async {
                    o.sync(&path).await?;
                    o.check_stat(&path).await
                })
                .await;
            match res {
                Ok(stat) => {
                    let present = stat.is_some();
                    ctx.rec.end(id, Outcome::Ok, Ret::Exists { present }, None);
                    if !present {
                        break;
                    }
                }
                Err((oc, e, gone)) => {
                    if gone {
                        observer = None;
                    }
                    ctx.rec.end(id, oc, Ret::Nothing, Some(e));
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Sends 5 setData on its own znode back to back, then awaits them in order.
async fn fifo_worker(ctx: Ctx, process: usize, f: usize) {
    let mut client: Option<zk::Client> = None;
    let key = format!("f{f}");
    let path = key_path(&key);
    let mut n = 0i64;
    while !ctx.stopped() {
        if !ensure(&ctx, process, &mut client).await {
            continue;
        }
        let Some(c) = client.clone() else { continue };
        let batch = ctx.rec.begin(
            process,
            sid(&c),
            Call::FifoBatch {
                key: key.clone(),
                n: 5,
            },
        );
        let mut pending = Vec::new();
        for _ in 0..5 {
            let value = unique(process, &mut n);
            let id = ctx.rec.begin(
                process,
                sid(&c),
                Call::Write {
                    key: key.clone(),
                    value,
                },
            );
            let data = value.to_string();
            // The request is queued on the session when set_data is called; awaiting later
            // keeps all five in flight at once.
            pending.push((id, c.set_data(&path, data.as_bytes(), None)));
        }
        let mut versions = Vec::new();
        let mut over = false;
        for (id, fut) in pending {
            match ctx.timed(fut).await {
                Ok(stat) => {
                    versions.push(Some(stat.version));
                    ctx.rec.end(
                        id,
                        Outcome::Ok,
                        Ret::Version {
                            version: stat.version,
                        },
                        None,
                    );
                }
                Err((o, e, gone)) => {
                    over |= gone;
                    versions.push(None);
                    ctx.rec.end(id, o, Ret::Nothing, Some(e));
                }
            }
        }
        let all_ok = versions.iter().all(Option::is_some);
        let outcome = if all_ok {
            Outcome::Ok
        } else {
            Outcome::Unknown
        };
        ctx.rec
            .end(batch, outcome, Ret::Versions { versions }, None);
        if over {
            client = None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads everything back from each node alone (sync first), faults healed: registers and the
/// counter, the ids, the ephemerals left. Retries each node until `deadline`.
pub async fn final_reads(
    rec: &Recorder,
    cfg: &WorkloadConfig,
    nodes: &[String],
    process_base: usize,
) -> Result<()> {
    let mut keys: Vec<String> = (0..cfg.keys).map(WorkloadConfig::register_key).collect();
    keys.push("counter".into());
    for f in 0..cfg.fifo_clients {
        keys.push(format!("f{f}"));
    }
    for (node, cs) in nodes.iter().enumerate() {
        let process = process_base + node;
        let mut done = false;
        let mut last = String::new();
        for _attempt in 0..10 {
            match final_reads_on(rec, cfg, cs, node, process, &keys).await {
                Ok(()) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        if !done {
            return Err(Error::Timeout(format!(
                "final reads on node {node}: {last}"
            )));
        }
    }
    Ok(())
}

async fn final_reads_on(
    rec: &Recorder,
    cfg: &WorkloadConfig,
    cs: &str,
    node: usize,
    process: usize,
    keys: &[String],
) -> Result<()> {
    let c = connect_to(cs, cfg.session_timeout, cfg.op_timeout).await?;
    let t = cfg.op_timeout;
    let to = |what: &str| Error::Timeout(format!("{what} on node {node}"));
    let mut reads = Vec::new();
    for key in keys {
        let path = key_path(key);
        let invoke = rec.now();
        tokio::time::timeout(t, c.sync(&path))
            .await
            .map_err(|_| to("sync"))??;
        let (data, stat) = tokio::time::timeout(t, c.get_data(&path))
            .await
            .map_err(|_| to("getData"))??;
        reads.push((
            key.clone(),
            invoke,
            rec.now(),
            parse_value(&data),
            stat.version,
        ));
    }
    let invoke = rec.now();
    tokio::time::timeout(t, c.sync(IDS))
        .await
        .map_err(|_| to("sync"))??;
    let ids = tokio::time::timeout(t, c.list_children(IDS))
        .await
        .map_err(|_| to("ids"))??;
    let ids_done = rec.now();
    let eph_invoke = rec.now();
    tokio::time::timeout(t, c.sync(EPHEMERALS))
        .await
        .map_err(|_| to("sync"))??;
    let mut left = tokio::time::timeout(t, c.list_children(EPHEMERALS))
        .await
        .map_err(|_| to("ephemerals"))??;
    let locks = tokio::time::timeout(t, c.list_children(LOCK))
        .await
        .map_err(|_| to("locks"))??;
    left.extend(locks.into_iter().map(|l| format!("lock/{l}")));
    let eph_done = rec.now();
    // Record only once the node answered everything, so a retry does not leave halves.
    let s = sid(&c);
    for (key, invoke, complete, value, version) in reads {
        rec.op_at(
            process,
            s.clone(),
            Call::FinalRead { key, node },
            invoke,
            complete,
            Outcome::Ok,
            Ret::Value { value, version },
        );
    }
    rec.op_at(
        process,
        s.clone(),
        Call::FinalIds { node },
        invoke,
        ids_done,
        Outcome::Ok,
        Ret::Children { names: ids },
    );
    rec.op_at(
        process,
        s,
        Call::FinalEphemerals { node },
        eph_invoke,
        eph_done,
        Outcome::Ok,
        Ret::Children { names: left },
    );
    Ok(())
}
