//! Short campaigns: every workload under kills, pauses, partitions and clock skew, checked.
//! The zoolog one runs in `make test` and fails on any anomaly; the Apache ZooKeeper one is the
//! baseline that proves the harness (`cargo test -p zoolog-nemesis -- --ignored`).

use std::path::PathBuf;
use std::time::Duration;

use zoolog_nemesis::campaign::{self, CampaignConfig, CampaignReport};
use zoolog_nemesis::ensemble::{EnsembleConfig, Target};
use zoolog_nemesis::nemesis::parse_faults;

/// Ensembles in this binary run one at a time (two cores).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn zoolog_binary() -> Option<PathBuf> {
    let p = zoolog_nemesis::default_zoolog_binary();
    if p.is_file() {
        Some(p)
    } else {
        println!(
            "skipping: no zoolog binary at {} (cargo build --bin zoolog; `make test` builds it)",
            p.display()
        );
        None
    }
}

fn out_dir(name: &str) -> PathBuf {
    zoolog_nemesis::default_zoolog_binary()
        .parent()
        .and_then(|p| p.parent())
        .map(|t| t.join("nemesis").join(name))
        .unwrap_or_else(|| std::env::temp_dir().join(name))
}

async fn short_campaign(target: Target, seconds: u64, name: &str) -> CampaignReport {
    let _one = ONE_AT_A_TIME.lock().await;
    let faults = parse_faults("all").expect("fault list");
    let mut cfg = CampaignConfig::new(
        EnsembleConfig::new(target, 3),
        faults,
        Duration::from_secs(seconds),
    );
    cfg.interval = Duration::from_secs(3);
    cfg.fault_duration = Duration::from_secs(5);
    cfg.out_dir = Some(out_dir(name));
    let report = campaign::run(cfg).await.expect("the campaign ran");
    println!("{}", report.summary());
    report
}

fn assert_clean(report: &CampaignReport) {
    let s = report.summary();
    assert!(
        report.passed(),
        "anomalies found:\n{s}\nhistory and timeline in {:?}",
        report.out_dir
    );
    let ok = report
        .history
        .ops
        .iter()
        .filter(|o| o.outcome == zoolog_nemesis::history::Outcome::Ok)
        .count();
    assert!(ok > 1000, "the workload hardly ran ({ok} ok ops):\n{s}");
    let faults: usize = report.faults.values().sum();
    assert!(faults >= 4, "only {faults} faults were injected:\n{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_campaign_on_zoolog_finds_no_anomaly() {
    let Some(binary) = zoolog_binary() else {
        return;
    };
    let report = short_campaign(Target::Zoolog { binary }, 60, "test-zoolog-3n").await;
    assert_clean(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the baseline on Apache ZooKeeper (three JVMs): cargo test -p zoolog-nemesis -- --ignored"]
async fn short_campaign_on_apache_zookeeper_finds_no_anomaly() {
    if !std::path::Path::new("/usr/share/java/zookeeper.jar").is_file() {
        println!("skipping: no Apache ZooKeeper jars (apt-get install zookeeper)");
        return;
    }
    let report = short_campaign(Target::ZooKeeper, 60, "test-zookeeper-3n").await;
    assert_clean(&report);
}
