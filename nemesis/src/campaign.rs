//! A campaign: start the ensemble, run the workloads under the fault schedule, heal, read
//! every replica back, check, report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::checker::{self, CheckResult};
use crate::ensemble::{Ensemble, EnsembleConfig};
use crate::error::Result;
use crate::history::{History, Recorder};
use crate::nemesis::{self, Fault, Nemesis};
use crate::report;
use crate::workload::{self, Ctx, WorkloadConfig};

/// A passing run writes its timeline only up to this many ops.
pub const TIMELINE_MAX_OPS: usize = 30_000;

/// Everything a campaign needs.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    pub ensemble: EnsembleConfig,
    pub workload: WorkloadConfig,
    pub faults: Vec<Fault>,
    pub time_limit: Duration,
    /// Quiet time between faults.
    pub interval: Duration,
    /// How long a fault lasts (±50 %).
    pub fault_duration: Duration,
    /// Let a process fault and a network fault overlap now and then.
    pub combine: bool,
    /// Where the reports go (none: not written).
    pub out_dir: Option<PathBuf>,
    /// End the schedule early on Ctrl-C / SIGTERM (the command line; tests leave it off).
    pub handle_signals: bool,
}

impl CampaignConfig {
    pub fn new(ensemble: EnsembleConfig, faults: Vec<Fault>, time_limit: Duration) -> Self {
        let workload = WorkloadConfig::for_nodes(ensemble.nodes);
        CampaignConfig {
            ensemble,
            workload,
            faults,
            time_limit,
            interval: Duration::from_secs(4),
            fault_duration: Duration::from_secs(6),
            combine: true,
            out_dir: None,
            handle_signals: false,
        }
    }
}

/// What a campaign found.
pub struct CampaignReport {
    pub history: History,
    pub results: Vec<CheckResult>,
    /// How many times each fault was started.
    pub faults: BTreeMap<&'static str, usize>,
    /// Faults asked for but unavailable here (e.g. partitions on loopback).
    pub skipped: Vec<Fault>,
    pub namespaces: bool,
    pub out_dir: Option<PathBuf>,
}

impl CampaignReport {
    pub fn passed(&self) -> bool {
        checker::passed(&self.results)
    }

    /// The summary: one line for the run, one per check.
    pub fn summary(&self) -> String {
        let h = &self.history;
        let ok = h
            .ops
            .iter()
            .filter(|o| o.outcome == crate::history::Outcome::Ok)
            .count();
        let mut s = format!(
            "{} ensemble of {} ({}): {} ops, {} ok; faults: {}\n",
            h.target,
            h.nodes,
            if self.namespaces {
                "network namespaces"
            } else {
                "loopback"
            },
            h.ops.len(),
            ok,
            if self.faults.is_empty() {
                "none".to_string()
            } else {
                self.faults
                    .iter()
                    .map(|(f, n)| format!("{f} x{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!(
                "skipped (unavailable here): {}\n",
                self.skipped
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for r in &self.results {
            s.push_str(&r.summary());
            s.push('\n');
        }
        for r in &self.results {
            for a in r.anomalies.iter().take(10) {
                s.push_str(&format!(
                    "  ANOMALY {}: {} (ops {:?})\n",
                    a.check, a.message, a.ops
                ));
            }
        }
        s.push_str(if self.passed() {
            "result: 0 anomalies\n"
        } else {
            "result: ANOMALIES FOUND\n"
        });
        s
    }
}

/// Runs a campaign. Ctrl-C (or SIGTERM) ends the fault schedule early; everything is still
/// healed, checked and cleaned up.
pub async fn run(cfg: CampaignConfig) -> Result<CampaignReport> {
    let mut ens_cfg = cfg.ensemble.clone();
    ens_cfg.faketime |= cfg.faults.contains(&Fault::Clock);
    tracing::info!(
        "starting a {} ensemble of {}",
        ens_cfg.target.name(),
        ens_cfg.nodes
    );
    let ens = Ensemble::start(ens_cfg, Duration::from_secs(120)).await?;
    let namespaces = ens.uses_namespaces();
    let (faults, skipped): (Vec<Fault>, Vec<Fault>) = cfg
        .faults
        .iter()
        .copied()
        .partition(|f| !f.is_network() || ens.can_partition());
    if !skipped.is_empty() {
        eprintln!(
            "zoolog-nemesis: no network namespaces: skipping {}",
            skipped
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let n = ens.len();
    let connect: Vec<String> = (0..n).map(|i| ens.connect_string_from(i)).collect();
    let singles: Vec<String> = (0..n).map(|i| ens.client_addr(i).to_string()).collect();
    let target = ens.target().name().to_string();
    let ens = Arc::new(Mutex::new(ens));

    workload::setup(&connect[0], &cfg.workload).await?;
    let rec = Recorder::new();
    let stop_workers = Arc::new(AtomicBool::new(false));
    let ctx = Ctx {
        rec: rec.clone(),
        cfg: cfg.workload.clone(),
        connect: connect.clone(),
        stop: stop_workers.clone(),
    };
    let workers = workload::spawn_all(&ctx);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle_signals = cfg.handle_signals;
    let signals = tokio::spawn(async move {
        if !handle_signals {
            let _keep = stop_tx;
            return std::future::pending().await;
        }
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        eprintln!("zoolog-nemesis: interrupted; healing, checking and cleaning up");
        let _ = stop_tx.send(true);
    });
    let progress = {
        let rec = rec.clone();
        let limit = cfg.time_limit;
        tokio::spawn(async move {
            let t0 = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let (all, ok) = rec.counts();
                let msg = format!(
                    "[{:>4}s/{}s] {all} ops, {ok} ok",
                    t0.elapsed().as_secs(),
                    limit.as_secs()
                );
                tracing::info!("{msg}");
                eprintln!("zoolog-nemesis: {msg}");
            }
        })
    };

    let deadline = tokio::time::Instant::now() + cfg.time_limit;
    let mut nem = Nemesis::new(ens.clone(), rec.clone());
    let sched = nemesis::run_schedule(
        &mut nem,
        &faults,
        cfg.interval,
        cfg.fault_duration,
        cfg.combine,
        deadline,
        &stop_rx,
    )
    .await;
    if nem.is_active() {
        nem.heal().await?;
    }
    sched?;
    tracing::info!("faults over; waiting for the ensemble to settle");
    let settle = {
        let mut e = ens.lock().await;
        e.wait_quorum(Duration::from_secs(90)).await
    };
    if let Err(e) = &settle {
        tracing::warn!("no quorum after healing: {e}");
    }
    // Let the clients see the healed ensemble for a moment, then stop them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_workers.store(true, Ordering::Relaxed);
    let grace = cfg.workload.op_timeout * 3 + cfg.workload.session_timeout;
    for w in workers {
        let abort = w.abort_handle();
        if tokio::time::timeout(grace, w).await.is_err() {
            abort.abort();
        }
    }
    progress.abort();
    signals.abort();
    // Closed sessions' ephemerals go; expiring ones need their timeout.
    wait_ephemerals_gone(&connect[0], &cfg.workload).await;
    let final_base = 10_000;
    let finals = workload::final_reads(&rec, &cfg.workload, &singles, final_base).await;
    let digests = final_digests(&ens, n).await;
    let mut history = rec.history(&target, n);
    history.digests = digests;
    let mut results = checker::check_all(&history);
    if let Err(e) = finals
        && let Some(r) = results.iter_mut().find(|r| r.check == "final-state")
    {
        r.anomalies.push(checker::Anomaly {
            check: "final-state".into(),
            ops: vec![],
            message: format!("replicas could not be read at the end: {e}"),
        });
    }
    if let Err(e) = settle
        && let Some(r) = results.iter_mut().find(|r| r.check == "final-state")
    {
        r.anomalies.push(checker::Anomaly {
            check: "final-state".into(),
            ops: vec![],
            message: format!("the ensemble did not recover after the faults healed: {e}"),
        });
    }
    let report = CampaignReport {
        history,
        results,
        faults: nem.counts.clone(),
        skipped,
        namespaces,
        out_dir: cfg.out_dir.clone(),
    };
    if let Some(dir) = &cfg.out_dir {
        // The timeline of a long clean run would be tens of MB; a failing run always gets one.
        let timeline = !report.passed() || report.history.ops.len() <= TIMELINE_MAX_OPS;
        report::write_all(
            dir,
            &report.history,
            &report.results,
            &report.summary(),
            timeline,
        )?;
    }
    let mut e = ens.lock().await;
    if !report.passed() {
        e.keep_dir();
    }
    e.stop();
    Ok(report)
}

/// Waits (up to three session timeouts and 10 s) until no ephemeral of the workload is left.
async fn wait_ephemerals_gone(connect: &str, cfg: &WorkloadConfig) {
    let deadline = tokio::time::Instant::now() + cfg.session_timeout * 3 + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if let Ok(c) = workload::connect_to(connect, cfg.session_timeout, cfg.op_timeout).await {
            let eph =
                tokio::time::timeout(cfg.op_timeout, c.list_children(workload::EPHEMERALS)).await;
            let locks = tokio::time::timeout(cfg.op_timeout, c.list_children(workload::LOCK)).await;
            if let (Ok(Ok(a)), Ok(Ok(b))) = (eph, locks)
                && a.is_empty()
                && b.is_empty()
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// zoolog's `ctl digest` of every node, retried for a few seconds until all nodes report the
/// same applied position (the last entries, e.g. session closes, may still be applying).
async fn final_digests(ens: &Arc<Mutex<Ensemble>>, n: usize) -> Vec<String> {
    let mut digests = Vec::new();
    for _ in 0..20 {
        digests.clear();
        let e = ens.lock().await;
        for i in 0..n {
            match e.digest(i) {
                Ok(Some(d)) => digests.push(d),
                Ok(None) => {}
                Err(err) => tracing::warn!("digest of node {i}: {err}"),
            }
        }
        drop(e);
        let positions: std::collections::BTreeSet<&str> = digests
            .iter()
            .filter_map(|d| d.split_whitespace().nth(1))
            .collect();
        if positions.len() <= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    digests
}
