//! The side-by-side suite: every workload against each server in turn (A B A B …), then the
//! memory and restart benchmark; results as structured records for the report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Runtime;

use crate::load;
use crate::procfs;
use crate::server::{self, Kind, Launcher, Running, ServerDir};
use crate::workload::{self, LoadParams, Window, Workload};

/// What to run.
pub struct SuiteCfg {
    pub launcher: Launcher,
    pub servers: Vec<Kind>,
    pub workloads: Vec<Workload>,
    pub params: LoadParams,
    pub rounds: usize,
    /// A fresh server (empty data dir) for every workload run; otherwise one server per kind
    /// for the whole suite.
    pub fresh_server: bool,
    /// Znodes of the memory/restart benchmark (0 skips it).
    pub memory_znodes: usize,
    pub memory_value_size: usize,
    pub data_root: PathBuf,
    /// Rest between loading and reading the RSS of the memory benchmark.
    pub memory_settle: Duration,
    /// Timeout for a server to start serving (the restart of a loaded server included).
    pub start_timeout: Duration,
}

/// One workload against one server in one round.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub workload: String,
    pub server: Kind,
    pub round: usize,
    pub unit: String,
    /// Replies inside the measured window.
    pub ops: u64,
    pub seconds: f64,
    pub throughput: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// Wrong or missing replies (must be 0).
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Server CPU seconds (user + system) during the measured window.
    pub server_cpu_s: f64,
    pub server_cpu_us_per_op: f64,
    /// Server peak RSS (VmHWM) at the end of the run, KiB.
    pub server_peak_rss_kb: u64,
    /// Server RSS at the end of the run, KiB.
    pub server_rss_kb: u64,
    /// The load generator's own CPU seconds during the window (to see when it is the limit).
    pub client_cpu_s: f64,
    /// 1-minute load average of the machine when the run started (other work on the box).
    pub load_avg: f64,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The memory and restart benchmark of one server.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    pub server: Kind,
    pub znodes: usize,
    pub value_size: usize,
    pub load_s: f64,
    pub load_znodes_per_s: f64,
    /// RSS after loading (and a short rest), KiB.
    pub rss_kb: u64,
    pub peak_rss_kb: u64,
    pub disk_bytes: u64,
    /// SIGTERM to exit.
    pub shutdown_s: f64,
    /// Process start to the first getData answered.
    pub restart_s: f64,
    pub rss_after_restart_kb: u64,
    pub error: Option<String>,
}

/// Everything a suite produced.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResults {
    pub runs: Vec<RunResult>,
    pub memory: Vec<MemoryResult>,
    pub versions: serde_json::Map<String, serde_json::Value>,
}

/// Progress lines on stderr.
fn say(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

pub fn run_suite(cfg: &SuiteCfg, rt: &Runtime) -> Result<SuiteResults, String> {
    let root = tempfile::Builder::new()
        .prefix("zoolog-bench-")
        .tempdir_in(&cfg.data_root)
        .map_err(|e| format!("temp dir in {}: {e}", cfg.data_root.display()))?;
    let mut results = SuiteResults {
        runs: Vec::new(),
        memory: Vec::new(),
        versions: serde_json::Map::new(),
    };
    let total = cfg.rounds * cfg.workloads.len() * cfg.servers.len();
    let mut n = 0;
    let mut seq = 0;
    // Long-lived servers when not fresh per run.
    let mut shared: Vec<(Kind, ServerDir, Running)> = Vec::new();
    if !cfg.fresh_server {
        for &k in &cfg.servers {
            seq += 1;
            let dir = ServerDir::create(k, root.path().join(format!("{}-{seq}", k.name())))
                .map_err(|e| e.to_string())?;
            let mut r = server::spawn(&cfg.launcher, &dir).map_err(|e| e.to_string())?;
            rt.block_on(r.wait_serving(cfg.start_timeout, None))
                .map_err(|e| e.to_string())?;
            results
                .versions
                .insert(k.name().into(), rt.block_on(r.version()).into());
            shared.push((k, dir, r));
        }
    }
    for round in 1..=cfg.rounds {
        for wl in &cfg.workloads {
            for &kind in &cfg.servers {
                n += 1;
                say(format!(
                    "[{n:>3}/{total}] round {round}/{} {:<18} {:<10}",
                    cfg.rounds,
                    wl.name,
                    kind.label()
                ));
                let r = if cfg.fresh_server {
                    seq += 1;
                    let dir =
                        ServerDir::create(kind, root.path().join(format!("{}-{seq}", kind.name())))
                            .map_err(|e| e.to_string())?;
                    let mut srv = server::spawn(&cfg.launcher, &dir).map_err(|e| e.to_string())?;
                    rt.block_on(srv.wait_serving(cfg.start_timeout, None))
                        .map_err(|e| e.to_string())?;
                    if !results.versions.contains_key(kind.name()) {
                        results
                            .versions
                            .insert(kind.name().into(), rt.block_on(srv.version()).into());
                    }
                    let r = one_run(rt, &srv, wl, &cfg.params, round);
                    drop(srv);
                    let _ = std::fs::remove_dir_all(&dir.dir);
                    r
                } else {
                    let (_, _, srv) = shared
                        .iter()
                        .find(|(k, _, _)| *k == kind)
                        .expect("server started");
                    one_run(rt, srv, wl, &cfg.params, round)
                };
                say(format!(
                    "      {:>12.0} {:<11} p50 {:>8} p99 {:>8} p999 {:>8}  cpu {:>5.1}s ({:.0} µs/op)  rss {:>6.1} MB{}",
                    r.throughput,
                    r.unit,
                    ms(r.p50_us),
                    ms(r.p99_us),
                    ms(r.p999_us),
                    r.server_cpu_s,
                    r.server_cpu_us_per_op,
                    r.server_peak_rss_kb as f64 / 1024.0,
                    if r.errors > 0 {
                        format!("  ERRORS {}: {:?}", r.errors, r.first_errors)
                    } else {
                        String::new()
                    }
                ));
                results.runs.push(r);
            }
        }
    }
    drop(shared);
    if cfg.memory_znodes > 0 {
        for &kind in &cfg.servers {
            seq += 1;
            let dir = root.path().join(format!("{}-mem-{seq}", kind.name()));
            let m = memory_run(cfg, rt, kind, dir.clone());
            let _ = std::fs::remove_dir_all(&dir);
            say(format!(
                "      {} {} znodes: load {:.1}s ({:.0}/s), RSS {:.1} MB (peak {:.1}), disk {:.1} MB, restart to serving {:.2}s{}",
                kind.label(),
                m.znodes,
                m.load_s,
                m.load_znodes_per_s,
                m.rss_kb as f64 / 1024.0,
                m.peak_rss_kb as f64 / 1024.0,
                m.disk_bytes as f64 / 1e6,
                m.restart_s,
                m.error
                    .as_ref()
                    .map(|e| format!("  ERROR: {e}"))
                    .unwrap_or_default()
            ));
            results.memory.push(m);
        }
    }
    Ok(results)
}

pub fn ms(us: u64) -> String {
    format!("{:.2}ms", us as f64 / 1000.0)
}

/// Setup, then the measured run, with the server's CPU sampled at the window's edges.
fn one_run(rt: &Runtime, srv: &Running, wl: &Workload, p: &LoadParams, round: usize) -> RunResult {
    let pid = srv.pid();
    let addr = srv.addr;
    let mut setup_err = None;
    if let Err(e) = rt.block_on(workload::setup(addr, wl, p)) {
        setup_err = Some(format!("setup: {e}"));
    }
    let load_avg = procfs::load_avg();
    let window = Window::from_now(p);
    let me = std::process::id();
    let (out, cpu) = rt.block_on(async {
        let sampler = async {
            tokio::time::sleep_until(window.start.into()).await;
            let s0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
            let c0 = procfs::cpu_seconds(me).unwrap_or(0.0);
            tokio::time::sleep_until(window.end.into()).await;
            let s1 = procfs::cpu_seconds(pid).unwrap_or(0.0);
            let c1 = procfs::cpu_seconds(me).unwrap_or(0.0);
            (s1 - s0, c1 - c0)
        };
        if setup_err.is_some() {
            return (None, (0.0, 0.0));
        }
        let (o, c) = tokio::join!(workload::run(addr, wl, p, window), sampler);
        (Some(o), c)
    });
    let secs = p.duration.as_secs_f64();
    let mut r = RunResult {
        workload: wl.name.clone(),
        server: srv.kind,
        round,
        unit: wl.unit().to_string(),
        ops: 0,
        seconds: secs,
        throughput: 0.0,
        p50_us: 0,
        p99_us: 0,
        p999_us: 0,
        max_us: 0,
        mean_us: 0.0,
        errors: 0,
        first_errors: Vec::new(),
        server_cpu_s: cpu.0,
        server_cpu_us_per_op: 0.0,
        server_peak_rss_kb: procfs::peak_rss_kb(pid).unwrap_or(0),
        server_rss_kb: procfs::rss_kb(pid).unwrap_or(0),
        client_cpu_s: cpu.1,
        load_avg,
        extra: serde_json::Map::new(),
    };
    match out {
        None => {
            r.errors = 1;
            r.first_errors = setup_err.into_iter().collect();
        }
        Some(o) => {
            let h = &o.stats.hist;
            r.ops = o.stats.ops;
            r.throughput = o.stats.ops as f64 / secs;
            if !h.is_empty() {
                r.p50_us = h.value_at_quantile(0.5);
                r.p99_us = h.value_at_quantile(0.99);
                r.p999_us = h.value_at_quantile(0.999);
                r.max_us = h.max();
                r.mean_us = h.mean();
            }
            r.errors = o.stats.errors;
            r.first_errors = o.stats.first_errors;
            if o.stats.ops > 0 {
                r.server_cpu_us_per_op = cpu.0 * 1e6 / o.stats.ops as f64;
            }
            for (k, v) in o.extra {
                r.extra.insert(k, v.into());
            }
        }
    }
    r
}

/// Loads `memory_znodes` znodes, measures RSS, restarts the server and times it to serving.
fn memory_run(cfg: &SuiteCfg, rt: &Runtime, kind: Kind, dir: PathBuf) -> MemoryResult {
    let mut m = MemoryResult {
        server: kind,
        znodes: 0,
        value_size: cfg.memory_value_size,
        load_s: 0.0,
        load_znodes_per_s: 0.0,
        rss_kb: 0,
        peak_rss_kb: 0,
        disk_bytes: 0,
        shutdown_s: 0.0,
        restart_s: 0.0,
        rss_after_restart_kb: 0,
        error: None,
    };
    if let Err(e) = memory_steps(cfg, rt, kind, dir, &mut m) {
        m.error = Some(e);
    }
    m
}

fn memory_steps(
    cfg: &SuiteCfg,
    rt: &Runtime,
    kind: Kind,
    dir: PathBuf,
    m: &mut MemoryResult,
) -> Result<(), String> {
    say(format!(
        "[mem] {}: loading {} znodes ({} B values, depth 3)",
        kind.label(),
        cfg.memory_znodes,
        cfg.memory_value_size
    ));
    let sd = ServerDir::create(kind, dir).map_err(|e| e.to_string())?;
    let mut srv = server::spawn(&cfg.launcher, &sd).map_err(|e| e.to_string())?;
    rt.block_on(srv.wait_serving(cfg.start_timeout, None))
        .map_err(|e| e.to_string())?;
    let levels = load::tree("/mem", cfg.memory_znodes);
    let (count, last) = load::tree_summary("/mem", &levels);
    let value = workload::value_of(cfg.memory_value_size);
    let t0 = Instant::now();
    rt.block_on(load::create_tree(
        srv.addr,
        &levels,
        &value,
        Duration::from_secs(5),
    ))
    .map_err(|e| format!("load: {e}"))?;
    m.znodes = count;
    m.load_s = t0.elapsed().as_secs_f64();
    m.load_znodes_per_s = count as f64 / m.load_s;
    std::thread::sleep(cfg.memory_settle);
    m.rss_kb = procfs::rss_kb(srv.pid()).unwrap_or(0);
    m.peak_rss_kb = procfs::peak_rss_kb(srv.pid()).unwrap_or(0);
    m.disk_bytes = procfs::dir_bytes(&sd.data_dir());
    say(format!(
        "[mem] {}: loaded in {:.1}s; RSS {:.1} MB; restarting",
        kind.label(),
        m.load_s,
        m.rss_kb as f64 / 1024.0
    ));
    m.shutdown_s = srv.stop(Duration::from_secs(120)).as_secs_f64();
    drop(srv);
    let mut srv = server::spawn(&cfg.launcher, &sd).map_err(|e| e.to_string())?;
    let t = rt
        .block_on(srv.wait_serving(
            cfg.start_timeout,
            Some((last.as_str(), cfg.memory_value_size)),
        ))
        .map_err(|e| format!("restart: {e}"))?;
    m.restart_s = t.as_secs_f64();
    m.rss_after_restart_kb = procfs::rss_kb(srv.pid()).unwrap_or(0);
    srv.stop(Duration::from_secs(30));
    Ok(())
}
