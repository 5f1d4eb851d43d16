//! `zoolog-bench`: a ZooKeeper-protocol load generator and the side-by-side benchmark of zoolog
//! against Apache ZooKeeper 3.8. See bench/README.md.
//!
//! * `zoolog-bench run`   — the full suite (`make bench`): every workload against both servers,
//!   A B A B over several rounds, the memory/restart benchmark; table, JSON and PNG.
//! * `zoolog-bench smoke` — the same machinery with tiny counts; fails if any reply was wrong.
//! * `zoolog-bench load --server HOST:PORT --workload NAME` — one workload against any endpoint.
//! * `zoolog-bench list`  — the workload names.

mod client;
mod ensemble;
mod limits;
mod load;
mod procfs;
mod report;
mod server;
mod suite;
mod workload;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::server::{Kind, Launcher};
use crate::suite::{SuiteCfg, SuiteResults};
use crate::workload::{LoadParams, Scale, Workload};

#[derive(Parser, Debug)]
#[command(
    name = "zoolog-bench",
    about = "ZooKeeper-protocol load generator; zoolog vs Apache ZooKeeper side by side"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// The full side-by-side suite (what `make bench` runs).
    Run(RunArgs),
    /// A few seconds of every workload with tiny counts; exits non-zero on any wrong reply.
    Smoke(SmokeArgs),
    /// One workload against a running server (nothing is started).
    Load(LoadArgs),
    /// What a client that never reads, idle sessions and a slow watcher cost each server.
    Limits(LimitsArgs),
    /// 3-node Apache ZooKeeper ensemble against a 3-node zoolog ensemble: throughput with the
    /// sessions spread over the nodes, and the write outage when the leader is killed.
    Ensemble(EnsembleArgs),
    /// List the workload names.
    List(ScaleArgs),
}

#[derive(Args, Debug)]
struct EnsembleArgs {
    #[command(flatten)]
    load: LoadKnobs,
    #[command(flatten)]
    scale: ScaleArgs,
    #[command(flatten)]
    servers: ServerArgs,
    /// Nodes per ensemble.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Comma-separated workload names (see `list`).
    #[arg(long, default_value = "create,setData,getData,mixed-50r50w")]
    workloads: String,
    /// Seconds of sequential writes around the leader's kill -9 (0 skips it).
    #[arg(long, default_value_t = 9.0)]
    kill_seconds: f64,
    /// Znodes loaded before a follower is restarted and a node joins (0 skips both).
    #[arg(long, default_value_t = 1_000_000)]
    recovery_znodes: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct LimitsArgs {
    #[command(flatten)]
    servers: ServerArgs,
    /// getData requests the never-reading client pipelines.
    #[arg(long, default_value_t = 3000)]
    requests: usize,
    /// Size of the znode it reads, bytes.
    #[arg(long, default_value_t = 1_000_000)]
    value_bytes: usize,
    /// Idle sessions opened.
    #[arg(long, default_value_t = 3000)]
    idle: usize,
    /// Changes made under the slow watcher's watch.
    #[arg(long, default_value_t = 100_000)]
    changes: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct LoadKnobs {
    /// Sessions sending load.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests in flight per session (pipelined).
    #[arg(long, default_value_t = 32)]
    inflight: usize,
    /// Warm-up seconds before measuring.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 8.0)]
    duration: f64,
    /// Znodes the read/update workloads pick from.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
}

#[derive(Args, Debug, Clone)]
struct ScaleArgs {
    /// Children of the smaller wide directory.
    #[arg(long, default_value_t = 1000)]
    children_small: usize,
    /// Children of the larger wide directory.
    #[arg(long, default_value_t = 10_000)]
    children_large: usize,
    /// Sessions watching one znode in the fan-out workload.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Parallel connect/create-ephemeral/close loops in the churn workload.
    #[arg(long, default_value_t = 16)]
    churn_workers: usize,
    /// Operations per multi.
    #[arg(long, default_value_t = 10)]
    multi_ops: usize,
}

impl ScaleArgs {
    fn scale(&self) -> Scale {
        Scale {
            children_small: self.children_small,
            children_large: self.children_large,
            watchers: self.watchers,
            churn_workers: self.churn_workers,
            multi_ops: self.multi_ops,
        }
    }
}

#[derive(Args, Debug, Clone)]
struct ServerArgs {
    /// The zoolog binary.
    #[arg(long, default_value_os_t = default_zoolog())]
    zoolog: PathBuf,
    /// Which servers, in the order they run each round.
    #[arg(long, value_delimiter = ',', default_value = "zookeeper,zoolog")]
    servers: Vec<String>,
    /// -Xmx of the ZooKeeper JVM in MB (ZooKeeper's own default, zkEnv.sh ZK_SERVER_HEAP).
    #[arg(long, default_value_t = 1000)]
    zk_heap_mb: u32,
    /// Classpath for Apache ZooKeeper (default: the Debian jars).
    #[arg(long)]
    zk_classpath: Option<String>,
    /// Where the servers' data directories go (the same disk for both).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    data_root: PathBuf,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    load: LoadKnobs,
    #[command(flatten)]
    scale: ScaleArgs,
    #[command(flatten)]
    servers: ServerArgs,
    /// Rounds (each round runs every workload against every server).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Comma-separated workload names (see `list`); `all` for every one, `none` for none.
    #[arg(long, default_value = "all")]
    workloads: String,
    /// Znodes of the memory/restart benchmark (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    memory_znodes: usize,
    /// Keep one server per kind for the whole suite instead of a fresh one per workload run.
    #[arg(long)]
    reuse_server: bool,
    /// Where results.json, results.md and chart.png go.
    #[arg(long, default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("results"))]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct SmokeArgs {
    #[command(flatten)]
    servers: ServerArgs,
    /// Where to write the smoke results (default: a temp dir, removed afterwards).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct LoadArgs {
    /// host:port of the server.
    #[arg(long)]
    server: String,
    /// Workload name (see `list`).
    #[arg(long)]
    workload: String,
    #[command(flatten)]
    load: LoadKnobs,
    #[command(flatten)]
    scale: ScaleArgs,
    /// Server pid, to report its CPU and RSS.
    #[arg(long)]
    pid: Option<u32>,
}

fn default_zoolog() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/zoolog")
}

fn params(k: &LoadKnobs, live: bool) -> LoadParams {
    LoadParams {
        clients: k.clients,
        inflight: k.inflight,
        warmup: Duration::from_secs_f64(k.warmup),
        duration: Duration::from_secs_f64(k.duration),
        keys: k.keys,
        session_timeout_ms: 30_000,
        live,
    }
}

fn launcher(a: &ServerArgs) -> Result<(Launcher, Vec<Kind>), String> {
    let servers = a
        .servers
        .iter()
        .map(|s| Kind::parse(s).ok_or_else(|| format!("unknown server {s:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    if servers.contains(&Kind::Zoolog) && !a.zoolog.exists() {
        return Err(format!(
            "no zoolog binary at {} (cargo build --release --bin zoolog)",
            a.zoolog.display()
        ));
    }
    Ok((
        Launcher {
            zoolog_bin: a.zoolog.canonicalize().unwrap_or_else(|_| a.zoolog.clone()),
            java: "java".into(),
            zk_classpath: a
                .zk_classpath
                .clone()
                .unwrap_or_else(Launcher::default_classpath),
            zk_heap_mb: a.zk_heap_mb,
        },
        servers,
    ))
}

fn select(all: Vec<Workload>, spec: &str) -> Result<Vec<Workload>, String> {
    match spec {
        "all" => Ok(all),
        "none" | "" => Ok(vec![]),
        _ => spec
            .split(',')
            .map(|n| {
                all.iter()
                    .find(|w| w.name.eq_ignore_ascii_case(n.trim()))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "unknown workload {n:?}; known: {}",
                            all.iter()
                                .map(|w| w.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
            })
            .collect(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn is_tty() -> bool {
    // SAFETY: isatty has no preconditions.
    unsafe { libc::isatty(2) == 1 }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::Run(a) => cmd_run(a),
        Cmd::Smoke(a) => cmd_smoke(a),
        Cmd::Load(a) => cmd_load(a),
        Cmd::Limits(a) => cmd_limits(a),
        Cmd::Ensemble(a) => cmd_ensemble(a),
        Cmd::List(s) => {
            for w in workload::standard(s.scale()) {
                println!(
                    "{:<20} {}",
                    w.name,
                    serde_json::to_string(&w).unwrap_or_default()
                );
            }
            Ok(())
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zoolog-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn meta(cfg: &SuiteCfg, extra: serde_json::Value) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cmd = |c: &str, args: &[&str]| {
        std::process::Command::new(c)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    serde_json::json!({
        "unix_time": now,
        "date": cmd("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "git": cmd("git", &["-C", env!("CARGO_MANIFEST_DIR"), "describe", "--always", "--dirty"]),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cmd("sh", &["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]),
        "mem_total": cmd("sh", &["-c", "grep MemTotal /proc/meminfo | awk '{print $2\" kB\"}'"]),
        "kernel": cmd("uname", &["-r"]),
        "load_before": cmd("cat", &["/proc/loadavg"]),
        "params": cfg.params,
        "rounds": cfg.rounds,
        "fresh_server_per_run": cfg.fresh_server,
        "memory_znodes": cfg.memory_znodes,
        "zk_heap_mb": cfg.launcher.zk_heap_mb,
        "data_root": cfg.data_root,
        "workloads": cfg.workloads,
        "extra": extra,
    })
}

/// Runs the suite and writes results.json, results.md and chart.png into `out`.
fn suite_and_report(
    cfg: &SuiteCfg,
    out: &Path,
    title: &str,
) -> Result<(SuiteResults, Vec<report::Target>), String> {
    let rt = runtime();
    let res = suite::run_suite(cfg, &rt)?;
    let sum = report::summarize(&res);
    let tg = if cfg.servers.len() == 2 {
        report::targets(&sum, &res)
    } else {
        vec![]
    };
    let md = report::markdown(&sum, &res, &tg);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let doc = report::json(meta(cfg, serde_json::Value::Null), &res, &sum, &tg);
    let json_path = out.join("results.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n",
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md_path = out.join("results.md");
    let date = doc["meta"]["date"].as_str().unwrap_or("").to_string();
    let header = format!(
        "Measured {date} at {} on {} CPUs ({}), {} clients × {} in flight, {} s warm-up + {} s per run, median of {} round(s).\n\n",
        doc["meta"]["git"].as_str().unwrap_or("?"),
        doc["meta"]["cpus"],
        doc["meta"]["cpu_model"].as_str().unwrap_or("?"),
        cfg.params.clients,
        cfg.params.inflight,
        cfg.params.warmup.as_secs_f64(),
        cfg.params.duration.as_secs_f64(),
        cfg.rounds
    );
    std::fs::write(&md_path, format!("{header}{md}"))
        .map_err(|e| format!("{}: {e}", md_path.display()))?;
    let png = out.join("chart.png");
    let chart_title = format!("{title} — {date}");
    match report::chart(&png, &sum, &res, &chart_title) {
        Ok(()) => {}
        Err(e) => eprintln!("zoolog-bench: chart not written: {e}"),
    }
    println!("\n{header}{md}");
    println!(
        "wrote {}, {}, {}",
        json_path.display(),
        md_path.display(),
        png.display()
    );
    Ok((res, tg))
}

fn cmd_run(a: RunArgs) -> Result<(), String> {
    let (launcher, servers) = launcher(&a.servers)?;
    let workloads = select(workload::standard(a.scale.scale()), &a.workloads)?;
    let cfg = SuiteCfg {
        launcher,
        servers,
        workloads,
        params: params(&a.load, is_tty()),
        rounds: a.rounds,
        fresh_server: !a.reuse_server,
        memory_znodes: a.memory_znodes,
        memory_value_size: 100,
        memory_settle: Duration::from_secs(2),
        data_root: a.servers.data_root.clone(),
        start_timeout: Duration::from_secs(600),
    };
    let (res, _) = suite_and_report(&cfg, &a.out, "zoolog vs Apache ZooKeeper 3.8")?;
    let errors: u64 = res.runs.iter().map(|r| r.errors).sum();
    if errors > 0 {
        eprintln!("zoolog-bench: {errors} wrong or missing replies (see results.json)");
    }
    Ok(())
}

fn cmd_smoke(a: SmokeArgs) -> Result<(), String> {
    let (launcher, servers) = launcher(&a.servers)?;
    let scale = Scale {
        children_small: 100,
        children_large: 500,
        watchers: 10,
        churn_workers: 2,
        multi_ops: 10,
    };
    // Every kind of workload once; of the value sizes only the largest.
    let workloads: Vec<Workload> = workload::standard(scale)
        .into_iter()
        .filter(|w| !(w.name.contains("-1KB") || w.name.contains("-10KB")))
        .collect();
    let cfg = SuiteCfg {
        launcher,
        servers,
        workloads,
        params: LoadParams {
            clients: 2,
            inflight: 4,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            keys: 50,
            session_timeout_ms: 30_000,
            live: false,
        },
        rounds: 1,
        fresh_server: false,
        memory_znodes: 2000,
        memory_value_size: 100,
        memory_settle: Duration::from_millis(200),
        data_root: a.servers.data_root.clone(),
        start_timeout: Duration::from_secs(120),
    };
    let tmp;
    let out = match &a.out {
        Some(o) => o.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };
    let (res, _) = suite_and_report(&cfg, &out, "zoolog-bench smoke")?;
    let mut failures = Vec::new();
    for r in &res.runs {
        if r.errors > 0 {
            failures.push(format!(
                "{} on {}: {} wrong replies: {:?}",
                r.workload,
                r.server.label(),
                r.errors,
                r.first_errors
            ));
        }
        if r.ops == 0 {
            failures.push(format!(
                "{} on {}: no request completed in the window",
                r.workload,
                r.server.label()
            ));
        }
    }
    for m in &res.memory {
        if let Some(e) = &m.error {
            failures.push(format!("memory/restart on {}: {e}", m.server.label()));
        }
    }
    if !out.join("results.json").exists() {
        failures.push("results.json not written".into());
    }
    let checks = res.runs.len() + res.memory.len() + 1;
    if failures.is_empty() {
        println!("bench smoke: {checks} passed, 0 failed");
        Ok(())
    } else {
        for f in &failures {
            eprintln!("FAIL {f}");
        }
        println!(
            "bench smoke: {} passed, {} failed",
            checks.saturating_sub(failures.len()),
            failures.len()
        );
        Err("smoke run failed".into())
    }
}

fn cmd_ensemble(a: EnsembleArgs) -> Result<(), String> {
    let (launcher, servers) = launcher(&a.servers)?;
    let cfg = ensemble::EnsembleCfg {
        launcher,
        servers,
        data_root: a.servers.data_root.clone(),
        nodes: a.nodes,
        workloads: select(workload::standard(a.scale.scale()), &a.workloads)?,
        params: params(&a.load, false),
        kill_seconds: a.kill_seconds,
        recovery_znodes: a.recovery_znodes,
    };
    let rt = runtime();
    let results = ensemble::run(&cfg, &rt)?;
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn cmd_limits(a: LimitsArgs) -> Result<(), String> {
    let (launcher, servers) = launcher(&a.servers)?;
    let cfg = limits::LimitsCfg {
        launcher,
        servers,
        data_root: a.servers.data_root.clone(),
        requests: a.requests,
        value_bytes: a.value_bytes,
        idle: a.idle,
        changes: a.changes,
    };
    let rows = limits::run(&cfg)?;
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn cmd_load(a: LoadArgs) -> Result<(), String> {
    let addr: SocketAddr = a
        .server
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", a.server))?
        .next()
        .ok_or_else(|| format!("{}: no address", a.server))?;
    let wl = select(workload::standard(a.scale.scale()), &a.workload)?
        .into_iter()
        .next()
        .ok_or("no workload")?;
    let p = params(&a.load, is_tty());
    let rt = runtime();
    rt.block_on(async {
        workload::setup(addr, &wl, &p)
            .await
            .map_err(|e| format!("setup: {e}"))?;
        let win = workload::Window::from_now(&p);
        let cpu0 = a.pid.and_then(procfs::cpu_seconds);
        let o = workload::run(addr, &wl, &p, win).await;
        let cpu1 = a.pid.and_then(procfs::cpu_seconds);
        let h = &o.stats.hist;
        println!(
            "{}: {:.0} {} p50 {} p99 {} p99.9 {} max {} errors {}{}",
            wl.name,
            o.stats.ops as f64 / p.duration.as_secs_f64(),
            wl.unit(),
            suite::ms(h.value_at_quantile(0.5)),
            suite::ms(h.value_at_quantile(0.99)),
            suite::ms(h.value_at_quantile(0.999)),
            suite::ms(h.max()),
            o.stats.errors,
            match (a.pid, cpu0, cpu1) {
                (Some(pid), Some(c0), Some(c1)) => format!(
                    " server cpu {:.2}s (whole run) rss {} MB",
                    c1 - c0,
                    procfs::rss_kb(pid).unwrap_or(0) / 1024
                ),
                _ => String::new(),
            }
        );
        for e in &o.stats.first_errors {
            println!("  error: {e}");
        }
        for (k, v) in &o.extra {
            println!("  {k}: {v:.1}");
        }
        if o.stats.errors > 0 {
            Err("wrong replies".to_string())
        } else {
            Ok(())
        }
    })
}
