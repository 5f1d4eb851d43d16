//! `zoolog-bench ensemble`: a 3-node Apache ZooKeeper ensemble against a 3-node zoolog
//! ensemble on this machine, the same loader spreading its sessions over the three client
//! ports, fsync on for both. Per workload: throughput and latency, the sessions split evenly
//! over the nodes and measured in one window. Then the leader is killed (SIGKILL) under
//! sequential writers, one per node plus one more: the write outage is the longest gap between
//! two acknowledged writes of any writer. Last, with `recovery_znodes` znodes loaded: a follower
//! killed and restarted, timed to serving again, and (zoolog) a fourth node added by `reconfig`,
//! timed from its start to serving with the whole tree copied from a peer's checkpoint.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use zoolog_jute::{ByteString, CreateMode, CreateRequest, ReconfigRequest, Request};

use crate::client::{Conn, four_letter_word};
use crate::load;
use crate::server::{Kind, Launcher, Running, ServerDir, free_port, spawn};
use crate::suite::ms;
use crate::workload::{self, LoadParams, Stats, Window, Workload};

/// What to run.
pub struct EnsembleCfg {
    pub launcher: Launcher,
    pub servers: Vec<Kind>,
    pub data_root: PathBuf,
    pub nodes: u64,
    pub workloads: Vec<Workload>,
    pub params: LoadParams,
    /// Seconds of writes around the leader's kill (0: skip).
    pub kill_seconds: f64,
    /// Znodes loaded before the restart and join measurements (0: skip them).
    pub recovery_znodes: usize,
}

/// Every member's extra settings: `reconfig` allowed, as the join measurement needs (the same
/// for both servers; `skipACL` is what lets the loader's session reconfigure).
const MEMBER_EXTRA: &str = "reconfigEnabled=true\nskipACL=yes\n";

/// One table row.
#[derive(Debug, Serialize)]
pub struct Row {
    pub server: &'static str,
    pub workload: String,
    pub rate: f64,
    pub unit: &'static str,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: u64,
}

/// The leader-kill figures of one server.
#[derive(Debug, Serialize)]
pub struct Outage {
    pub server: &'static str,
    pub writes: usize,
    /// Longest gap between two acknowledged writes of one writer, ms.
    pub outage_ms: f64,
}

/// The loaded-ensemble figures of one server.
#[derive(Debug, Serialize)]
pub struct Recovery {
    pub server: &'static str,
    pub znodes: usize,
    /// Seconds the load took (creates in multis of 100).
    pub load_s: f64,
    /// A follower killed with SIGKILL: seconds from its restart to serving the last znode.
    pub restart_s: f64,
    /// A new node added by `reconfig`: seconds from its start to serving the last znode (not
    /// measured for ZooKeeper, whose joiner needs a dynamic config file of its own).
    pub join_s: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub rows: Vec<Row>,
    pub outages: Vec<Outage>,
    pub recoveries: Vec<Recovery>,
}

struct Member {
    id: u64,
    dir: ServerDir,
    run: Option<Running>,
}

struct Cluster {
    kind: Kind,
    members: Vec<Member>,
    /// The `server.N` lines every member was configured with.
    servers: String,
    root: PathBuf,
}

impl Cluster {
    fn addrs(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|m| m.dir.addr()).collect()
    }
}

fn distinct_ports(n: usize) -> Result<Vec<u16>, String> {
    let mut out: Vec<u16> = Vec::new();
    while out.len() < n {
        let p = free_port().map_err(|e| e.to_string())?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

async fn start(cfg: &EnsembleCfg, kind: Kind) -> Result<Cluster, String> {
    let n = cfg.nodes as usize;
    let ports = distinct_ports(3 * n)?;
    let servers: String = (0..n)
        .map(|i| {
            format!(
                "server.{}=127.0.0.1:{}:{};127.0.0.1:{}\n",
                i + 1,
                ports[3 * i + 1],
                ports[3 * i + 2],
                ports[3 * i]
            )
        })
        .collect();
    let root = cfg.data_root.join(format!("ensemble-{}", kind.name()));
    let _ = std::fs::remove_dir_all(&root);
    let mut members = Vec::new();
    for i in 0..n {
        let id = i as u64 + 1;
        let dir = ServerDir::create_member(
            kind,
            root.join(format!("n{id}")),
            id,
            ports[3 * i],
            &servers,
            MEMBER_EXTRA,
        )
        .map_err(|e| e.to_string())?;
        let run = spawn(&cfg.launcher, &dir).map_err(|e| e.to_string())?;
        members.push(Member {
            id,
            dir,
            run: Some(run),
        });
    }
    for m in &mut members {
        if let Some(r) = m.run.as_mut() {
            r.wait_serving(Duration::from_secs(120), None)
                .await
                .map_err(|e| format!("{} node {}: {e}", kind.label(), m.id))?;
        }
    }
    let c = Cluster {
        kind,
        members,
        servers,
        root,
    };
    leader(&c, Duration::from_secs(60)).await?;
    Ok(c)
}

async fn mode(addr: SocketAddr) -> Option<String> {
    let s = four_letter_word(addr, "srvr").await.ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

/// The member that says it leads, once exactly one does.
async fn leader(c: &Cluster, within: Duration) -> Result<usize, String> {
    let deadline = Instant::now() + within;
    loop {
        let mut leaders = Vec::new();
        for (i, m) in c.members.iter().enumerate() {
            if m.run.is_some() && mode(m.dir.addr()).await.as_deref() == Some("leader") {
                leaders.push(i);
            }
        }
        if leaders.len() == 1 {
            return Ok(leaders[0]);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{}: no single leader ({leaders:?})",
                c.kind.label()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `wl` with its sessions split over every node, in one measured window.
async fn run_spread(c: &Cluster, wl: &Workload, p: &LoadParams) -> Result<Stats, String> {
    let addrs = c.addrs();
    workload::setup(addrs[0], wl, p)
        .await
        .map_err(|e| format!("setup {}: {e}", wl.name))?;
    // Every node has applied the setup before the load starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = Window::from_now(p);
    let n = addrs.len();
    let mut runs = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let share = p.clients / n + usize::from(i < p.clients % n);
        if share == 0 {
            continue;
        }
        let mut pi = p.clone();
        pi.clients = share;
        pi.live = false;
        let (addr, wl) = (*addr, wl.clone());
        runs.push(tokio::spawn(async move {
            workload::run(addr, &wl, &pi, window).await
        }));
    }
    let mut total = Stats::default();
    for r in runs {
        let o = r.await.map_err(|e| e.to_string())?;
        total.merge(o.stats);
    }
    Ok(total)
}

/// Sequential creates from one writer, moving to the next node when its connection fails;
/// returns the instants its writes were acknowledged.
async fn writer(
    addrs: Vec<SocketAddr>,
    first: usize,
    name: String,
    until: Instant,
) -> Vec<Instant> {
    let mut acks = Vec::new();
    let mut at = first;
    let mut i = 0u64;
    while Instant::now() < until {
        let mut conn = match Conn::connect(addrs[at % addrs.len()], 10_000).await {
            Ok(c) => c,
            Err(_) => {
                at += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while Instant::now() < until {
            let req = Request::Create(CreateRequest {
                path: ByteString::from(format!("/zb-outage/{name}-{i:08}")),
                data: Some(bytes::Bytes::from_static(b"x")),
                acl: Some(load::open_acl()),
                flags: CreateMode::Persistent.as_i32(),
            });
            match tokio::time::timeout(Duration::from_secs(5), conn.call(&req)).await {
                // NODEEXISTS: written before a lost connection's reply.
                Ok(Ok(r)) if r.header.err == 0 || r.header.err == -110 => {
                    acks.push(Instant::now());
                    i += 1;
                }
                Ok(Ok(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
                _ => {
                    at += 1;
                    break;
                }
            }
        }
    }
    acks
}

async fn outage(c: &mut Cluster, seconds: f64) -> Result<Outage, String> {
    let addrs = c.addrs();
    {
        let mut conn = Conn::connect(addrs[0], 10_000)
            .await
            .map_err(|e| e.to_string())?;
        let r = conn
            .call(&Request::Create(CreateRequest {
                path: ByteString::from("/zb-outage"),
                data: Some(bytes::Bytes::new()),
                acl: Some(load::open_acl()),
                flags: CreateMode::Persistent.as_i32(),
            }))
            .await
            .map_err(|e| e.to_string())?;
        if r.header.err != 0 && r.header.err != -110 {
            return Err(format!("create /zb-outage: error {}", r.header.err));
        }
    }
    let lead = leader(c, Duration::from_secs(30)).await?;
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let writers: Vec<_> = (0..addrs.len() + 1)
        .map(|w| {
            let addrs = addrs.clone();
            // Nobody starts on the leader, so every writer sees the election, not its own
            // reconnect.
            let first = (lead + 1 + w) % addrs.len();
            let first = if first == lead {
                (first + 1) % addrs.len()
            } else {
                first
            };
            tokio::spawn(writer(addrs, first, format!("w{w}"), until))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds / 3.0)).await;
    let killed_at = Instant::now();
    if let Some(mut r) = c.members[lead].run.take() {
        r.stop(Duration::ZERO);
    }
    eprintln!(
        "  {}: killed the leader (node {})",
        c.kind.label(),
        c.members[lead].id
    );
    // The longest gap between two acknowledged writes of one writer (a writer that got no ack
    // after the kill counts from its last ack to the end).
    let mut worst = Duration::ZERO;
    let mut writes = 0;
    for w in writers {
        let acks = w.await.map_err(|e| e.to_string())?;
        writes += acks.len();
        for pair in acks.windows(2) {
            worst = worst.max(pair[1].duration_since(pair[0]));
        }
        match acks.last() {
            Some(last) if *last < killed_at => worst = worst.max(until.duration_since(*last)),
            None => worst = worst.max(until.duration_since(killed_at)),
            _ => {}
        }
    }
    Ok(Outage {
        server: c.kind.label(),
        writes,
        outage_ms: worst.as_secs_f64() * 1000.0,
    })
}

/// Loads `cfg.recovery_znodes` znodes, restarts a follower, and (zoolog) adds a node.
fn recovery(
    cfg: &EnsembleCfg,
    rt: &tokio::runtime::Runtime,
    c: &mut Cluster,
) -> Result<Recovery, String> {
    // Spawned from the main thread (the children die with the thread that spawned them).
    let mut down = Vec::new();
    for (i, m) in c.members.iter().enumerate() {
        if m.run.is_none() {
            down.push(i);
        }
    }
    for i in down {
        let r = spawn(&cfg.launcher, &c.members[i].dir).map_err(|e| e.to_string())?;
        c.members[i].run = Some(r);
    }
    for m in &mut c.members {
        if let Some(r) = m.run.as_mut() {
            rt.block_on(r.wait_serving(Duration::from_secs(120), None))
                .map_err(|e| format!("{} node {}: {e}", c.kind.label(), m.id))?;
        }
    }
    let label = c.kind.label();
    let addrs = c.addrs();
    let levels = load::tree("/zb-recovery", cfg.recovery_znodes);
    let (znodes, last) = load::tree_summary("/zb-recovery", &levels);
    let value = workload::value_of(100);
    eprintln!("  {label}: loading {znodes} znodes");
    let t0 = Instant::now();
    rt.block_on(load::create_tree(
        addrs[0],
        &levels,
        &value,
        Duration::from_secs(10),
    ))
    .map_err(|e| format!("{label}: load: {e}"))?;
    let load_s = t0.elapsed().as_secs_f64();
    eprintln!("  {label}: loaded in {load_s:.1}s");
    // Every node has the last znode before one is restarted.
    for m in &mut c.members {
        if let Some(r) = m.run.as_mut() {
            rt.block_on(r.wait_serving(Duration::from_secs(120), Some((&last, 100))))
                .map_err(|e| format!("{label} node {}: {e}", m.id))?;
        }
    }
    let lead = rt.block_on(leader(c, Duration::from_secs(30)))?;
    let f = (lead + 1) % c.members.len();
    if let Some(mut r) = c.members[f].run.take() {
        r.stop(Duration::ZERO);
    }
    let mut r = spawn(&cfg.launcher, &c.members[f].dir).map_err(|e| e.to_string())?;
    let restart = rt
        .block_on(r.wait_serving(Duration::from_secs(300), Some((&last, 100))))
        .map_err(|e| format!("{label} restart: {e}"))?;
    c.members[f].run = Some(r);
    eprintln!(
        "  {label}: follower (node {}) restarted, serving in {:.2}s",
        c.members[f].id,
        restart.as_secs_f64()
    );
    let join_s = match c.kind {
        Kind::ZooKeeper => None,
        Kind::Zoolog => Some(join(cfg, rt, c, &last)?),
    };
    Ok(Recovery {
        server: label,
        znodes,
        load_s,
        restart_s: restart.as_secs_f64(),
        join_s,
    })
}

/// Starts one more node and adds it with `reconfig`; seconds from its start to serving `last`.
fn join(
    cfg: &EnsembleCfg,
    rt: &tokio::runtime::Runtime,
    c: &mut Cluster,
    last: &str,
) -> Result<f64, String> {
    let label = c.kind.label();
    let id = c.members.len() as u64 + 1;
    let ports = distinct_ports(3)?;
    let line = format!(
        "server.{id}=127.0.0.1:{}:{};127.0.0.1:{}",
        ports[1], ports[2], ports[0]
    );
    let servers = format!("{}{line}\n", c.servers);
    let dir = ServerDir::create_member(
        c.kind,
        c.root.join(format!("n{id}")),
        id,
        ports[0],
        &servers,
        MEMBER_EXTRA,
    )
    .map_err(|e| e.to_string())?;
    let mut r = spawn(&cfg.launcher, &dir).map_err(|e| e.to_string())?;
    let addr = c.addrs()[0];
    let took = rt.block_on(async {
        let mut conn = Conn::connect(addr, 10_000)
            .await
            .map_err(|e| format!("{label}: connect: {e}"))?;
        let req = Request::Reconfig(ReconfigRequest {
            joining_servers: Some(ByteString::from(line.clone())),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        });
        // The new node has to be reachable for a quorum of the new voters to be: retry while
        // the server says NEWCONFIGNOQUORUM (-13).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rep = conn
                .call(&req)
                .await
                .map_err(|e| format!("{label}: reconfig: {e}"))?;
            match rep.err() {
                0 => break,
                -13 if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                e => return Err(format!("{label}: reconfig: error {e}")),
            }
        }
        r.wait_serving(Duration::from_secs(300), Some((last, 100)))
            .await
            .map_err(|e| format!("{label} join: {e}"))
    })?;
    eprintln!(
        "  {label}: node {id} joined, serving in {:.2}s",
        took.as_secs_f64()
    );
    c.members.push(Member {
        id,
        dir,
        run: Some(r),
    });
    Ok(took.as_secs_f64())
}

/// Runs everything and prints the table.
pub fn run(cfg: &EnsembleCfg, rt: &tokio::runtime::Runtime) -> Result<Results, String> {
    let mut rows = Vec::new();
    let mut outages = Vec::new();
    let mut recoveries = Vec::new();
    for &kind in &cfg.servers {
        eprintln!("{}: starting a {}-node ensemble", kind.label(), cfg.nodes);
        let mut c = rt.block_on(start(cfg, kind))?;
        for wl in &cfg.workloads {
            let stats = rt.block_on(run_spread(&c, wl, &cfg.params))?;
            let rate = stats.ops as f64 / cfg.params.duration.as_secs_f64();
            eprintln!(
                "  {} {}: {:.0} {} p99 {}",
                kind.label(),
                wl.name,
                rate,
                wl.unit(),
                ms(stats.hist.value_at_quantile(0.99))
            );
            rows.push(Row {
                server: kind.label(),
                workload: wl.name.clone(),
                rate,
                unit: wl.unit(),
                p50_us: stats.hist.value_at_quantile(0.5),
                p99_us: stats.hist.value_at_quantile(0.99),
                errors: stats.errors,
            });
        }
        if cfg.kill_seconds > 0.0 {
            let o = rt.block_on(outage(&mut c, cfg.kill_seconds))?;
            eprintln!("  {}: write outage {:.0} ms", kind.label(), o.outage_ms);
            outages.push(o);
        }
        if cfg.recovery_znodes > 0 {
            recoveries.push(recovery(cfg, rt, &mut c)?);
        }
        for m in &mut c.members {
            if let Some(mut r) = m.run.take() {
                r.stop(Duration::from_secs(10));
            }
        }
    }
    print_table(&rows, &outages, &recoveries);
    Ok(Results {
        rows,
        outages,
        recoveries,
    })
}

fn print_table(rows: &[Row], outages: &[Outage], recoveries: &[Recovery]) {
    println!("| workload | ZooKeeper | zoolog | ratio | p99 ZooKeeper | p99 zoolog |");
    println!("|---|---|---|---|---|---|");
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.workload.as_str()) {
            names.push(&r.workload);
        }
    }
    for name in names {
        let zk = rows
            .iter()
            .find(|r| r.workload == name && r.server == "ZooKeeper");
        let zl = rows
            .iter()
            .find(|r| r.workload == name && r.server == "zoolog");
        let cell =
            |r: Option<&Row>| r.map_or("-".to_string(), |r| format!("{:.0} {}", r.rate, r.unit));
        let p99 = |r: Option<&Row>| r.map_or("-".to_string(), |r| ms(r.p99_us));
        let ratio = match (zk, zl) {
            (Some(a), Some(b)) if a.rate > 0.0 => format!("{:.2}×", b.rate / a.rate),
            _ => "-".into(),
        };
        println!(
            "| {name} | {} | {} | {ratio} | {} | {} |",
            cell(zk),
            cell(zl),
            p99(zk),
            p99(zl)
        );
    }
    for o in outages {
        println!(
            "| leader kill -9: write outage | {} | {:.0} ms ({} writes) |",
            o.server, o.outage_ms, o.writes
        );
    }
    for r in recoveries {
        println!(
            "| {} znodes (loaded in {:.0} s) | {} | follower restart to serving {:.2} s | join by checkpoint {} |",
            r.znodes,
            r.load_s,
            r.server,
            r.restart_s,
            r.join_s.map_or("-".to_string(), |s| format!("{s:.2} s"))
        );
    }
}
