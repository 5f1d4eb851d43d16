//! The harness fails when zoolog is wrong: with the planted fault of a debug build
//! (`ZOOLOG_PLANTED_FAULT=stale-sync`: `sync` answers at once instead of waiting for the log's
//! tail, so sync+read on a lagging node can miss acknowledged writes), a short campaign must
//! report anomalies in the sync-read and linearizability checks.

use std::time::Duration;

use zoolog_nemesis::campaign::{self, CampaignConfig};
use zoolog_nemesis::ensemble::{Ensemble, EnsembleConfig, Target};
use zoolog_nemesis::nemesis::parse_faults;

const MARKER: &str = "PLANTED FAULT stale-sync";

fn planted(binary: std::path::PathBuf) -> EnsembleConfig {
    let mut cfg = EnsembleConfig::new(Target::Zoolog { binary }, 3);
    cfg.env
        .push(("ZOOLOG_PLANTED_FAULT".into(), "stale-sync".into()));
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_stale_sync_is_caught() {
    let binary = zoolog_nemesis::default_zoolog_binary();
    if !binary.is_file() {
        println!(
            "skipping: no zoolog binary at {} (cargo build --bin zoolog)",
            binary.display()
        );
        return;
    }
    // Does this build have the switch? (Debug builds with src/planted.rs print the marker.)
    {
        let e = Ensemble::start(planted(binary.clone()), Duration::from_secs(120))
            .await
            .expect("ensemble starts");
        if !(0..e.len()).any(|i| e.log(i).contains(MARKER)) {
            println!(
                "skipping: this zoolog build has no planted-fault switch (the log has no {MARKER:?}; \
                 see nemesis/README.md, Planted fault)"
            );
            return;
        }
    }
    // Pauses and partitions make a node lag, so a sync that does not wait reads stale data.
    // Whether a sync+read lands on a lagging node is chance: up to three campaigns are run,
    // and the fault must be caught in one of them.
    let mut summaries = Vec::new();
    for attempt in 1..=3 {
        let mut cfg = CampaignConfig::new(
            planted(binary.clone()),
            parse_faults("pause,partition-one").expect("faults"),
            Duration::from_secs(40),
        );
        cfg.interval = Duration::from_secs(2);
        cfg.fault_duration = Duration::from_secs(4);
        let report = campaign::run(cfg).await.expect("the campaign ran");
        let s = report.summary();
        println!("attempt {attempt}:\n{s}");
        let caught = report
            .results
            .iter()
            .filter(|r| r.check == "sync-reads" || r.check == "linearizable")
            .any(|r| !r.anomalies.is_empty());
        if caught {
            return;
        }
        summaries.push(s);
    }
    panic!(
        "the planted stale sync went unnoticed in 3 campaigns:\n{}",
        summaries.join("\n")
    );
}
