//! `zoolog-nemesis`: run a fault-injection campaign against a zoolog or Apache ZooKeeper
//! ensemble and check its history (README.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use zoolog_nemesis::campaign::{self, CampaignConfig};
use zoolog_nemesis::ensemble::{EnsembleConfig, Target};
use zoolog_nemesis::{checker, nemesis, net, report};

#[derive(Parser, Debug)]
#[command(
    name = "zoolog-nemesis",
    about = "Fault injection and history checking for ZooKeeper ensembles"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum TargetArg {
    Zoolog,
    Zookeeper,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start an ensemble, run the workloads under faults, check, report.
    Run {
        #[arg(long, value_enum, default_value = "zoolog")]
        target: TargetArg,
        /// Ensemble sizes, one campaign each (e.g. 3 or 3,5).
        #[arg(long, value_delimiter = ',', default_value = "3")]
        nodes: Vec<usize>,
        /// Seconds of faults per campaign.
        #[arg(long, default_value_t = 60)]
        time_limit: u64,
        /// Faults: kill, kill-leader, pause, pause-leader, partition (-one, -leader, -half,
        /// -bridge), clock, all, none.
        #[arg(long, default_value = "all")]
        nemesis: String,
        /// The zoolog binary (default: the workspace's target/debug/zoolog).
        #[arg(long)]
        zoolog: Option<PathBuf>,
        /// Where reports go (default: target/nemesis/<target>-<n>n-<unix time>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run every node on 127.0.0.1 (no partitions).
        #[arg(long)]
        loopback: bool,
        /// Quiet seconds between faults.
        #[arg(long, default_value_t = 4)]
        interval: u64,
        /// Seconds a fault lasts (±50 %).
        #[arg(long, default_value_t = 6)]
        fault_duration: u64,
        /// Never overlap a process fault with a network fault.
        #[arg(long)]
        no_combine: bool,
        /// ZooKeeper tickTime (ms).
        #[arg(long, default_value_t = 300)]
        tick_ms: u32,
    },
    /// Check a history.json written by an earlier run.
    Check { history: PathBuf },
    /// Remove network namespaces and bridges a killed run left behind.
    Cleanup,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,zookeeper_client=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zoolog-nemesis: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(real_main(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("zoolog-nemesis: {e}");
            ExitCode::from(2)
        }
    }
}

async fn real_main(cli: Cli) -> zoolog_nemesis::Result<bool> {
    match cli.command {
        Cmd::Cleanup => {
            let removed = net::cleanup_stale()?;
            println!(
                "removed {} stale namespaces/bridges: {}",
                removed.len(),
                removed.join(" ")
            );
            Ok(true)
        }
        Cmd::Check { history } => {
            let h = report::read_history(&history)?;
            let results = checker::check_all(&h);
            for r in &results {
                println!("{}", r.summary());
                for a in &r.anomalies {
                    println!("  ANOMALY {}: {} (ops {:?})", a.check, a.message, a.ops);
                }
            }
            Ok(checker::passed(&results))
        }
        Cmd::Run {
            target,
            nodes,
            time_limit,
            nemesis: faults,
            zoolog,
            out,
            loopback,
            interval,
            fault_duration,
            no_combine,
            tick_ms,
        } => {
            let faults = nemesis::parse_faults(&faults)?;
            let target = match target {
                TargetArg::Zoolog => Target::Zoolog {
                    binary: zoolog.unwrap_or_else(zoolog_nemesis::default_zoolog_binary),
                },
                TargetArg::Zookeeper => Target::ZooKeeper,
            };
            let mut all_passed = true;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            for n in nodes {
                let mut ens = EnsembleConfig::new(target.clone(), n);
                ens.namespaces = !loopback;
                ens.tick_ms = tick_ms;
                let mut cfg =
                    CampaignConfig::new(ens, faults.clone(), Duration::from_secs(time_limit));
                cfg.interval = Duration::from_secs(interval);
                cfg.fault_duration = Duration::from_secs(fault_duration);
                cfg.combine = !no_combine;
                cfg.handle_signals = true;
                let dir = match &out {
                    Some(o) => o.join(format!("{}-{n}n", target.name())),
                    None => PathBuf::from("target/nemesis")
                        .join(format!("{}-{n}n-{stamp}", target.name())),
                };
                cfg.out_dir = Some(dir.clone());
                let report = campaign::run(cfg).await?;
                print!("{}", report.summary());
                println!("reports: {}", dir.display());
                if !report.passed() {
                    println!(
                        "timeline: {}  history: {}",
                        dir.join("timeline.html").display(),
                        dir.join("history.json").display()
                    );
                }
                all_passed &= report.passed();
            }
            Ok(all_passed)
        }
    }
}
