//! `zoolog` command line: `zoolog serve [--config zoo.cfg]` runs a node; `zoolog ctl …` talks to
//! a running node's control socket.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::EnvFilter;
use zoolog::config::Config;
use zoolog::server::{Server, ctl};
use zoolog::zk::ZkService;

/// The server allocates and frees many small buffers across threads (frames, entries, store
/// values); glibc's allocator spent a quarter of the apply thread's time on them, mimalloc a
/// fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A wire-compatible drop-in replacement for Apache ZooKeeper, built on a virtual shared log.
#[derive(Parser, Debug)]
#[command(name = "zoolog", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a ZooKeeper node (standalone). Without --config, the embedded defaults: client port
    /// 2181 on all addresses, data in /tmp/zoolog, tickTime 2000.
    Serve {
        /// A ZooKeeper zoo.cfg.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Admin calls to a running node, through the control socket in its data directory.
    Ctl {
        /// The node's zoo.cfg (to find its data directory).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The node's data directory (instead of --config).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        call: CtlCall,
    },
}

#[derive(Subcommand, Debug)]
enum CtlCall {
    /// Engine stack, log positions, the virtual log's chain, last zxid; in an ensemble the
    /// node's mode, the leader and the peers it hears from.
    Status,
    /// The applied log position and the digest of the store's state there.
    Digest,
    /// Switch the node's virtual log to a fresh loglet while it serves: a local one for a
    /// standalone node, a new raft group of the same members in an ensemble (from any node).
    Reconfigure {
        /// Directory of the new loglet (default: a new one beside the current segments).
        dir: Option<PathBuf>,
    },
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::from_file(p).map_err(|e| e.to_string()),
        None => Ok(Config::default()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // openraft reports every failed RPC to a down peer as an error, twice a second; the
            // cluster layer says once that a peer is unreachable. RUST_LOG=openraft=warn shows
            // them.
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,openraft=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Some(command) = cli.command else {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let _ = cmd.print_help();
        println!();
        return ExitCode::SUCCESS;
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    // Every thread the runtime starts runs at the process's priority, whichever thread spawned
    // it (server/priority.rs); workers are lowered later, at their first park.
    let base_nice = zoolog::server::priority::current_thread_nice();
    builder.on_thread_start(move || {
        zoolog::store::quiet_thread();
        zoolog::server::priority::restore_started_thread(base_nice);
    });
    let command = match command {
        Command::Serve { config } => {
            // The config is read before the runtime starts: it sizes the runtime.
            let config = match load_config(config.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("zoolog: {e}");
                    return ExitCode::FAILURE;
                }
            };
            builder.worker_threads(config.worker_threads());
            // Connection threads yield to the apply and log threads (server/priority.rs). The
            // hooks run on worker threads only; the first call on each thread lowers it.
            let nice = config.server_worker_nice;
            builder.on_thread_park(move || zoolog::server::priority::lower_worker_once(nice));
            builder.on_thread_unpark(move || zoolog::server::priority::lower_worker_once(nice));
            Run::Serve(Box::new(config))
        }
        Command::Ctl {
            config,
            data_dir,
            call,
        } => Run::Ctl {
            config,
            data_dir,
            call,
        },
    };
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zoolog: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        Run::Serve(config) => runtime.block_on(serve(*config)),
        Run::Ctl {
            config,
            data_dir,
            call,
        } => runtime.block_on(ctl_call(config, data_dir, call)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zoolog: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A command, its config read where the runtime depends on it.
enum Run {
    Serve(Box<Config>),
    Ctl {
        config: Option<PathBuf>,
        data_dir: Option<PathBuf>,
        call: CtlCall,
    },
}

async fn serve(config: Config) -> Result<(), String> {
    tracing::info!(
        worker_threads = config.worker_threads(),
        "connection threads"
    );
    for notice in &config.notices {
        tracing::info!("{notice}");
    }
    let svc = ZkService::open(config).await.map_err(|e| e.to_string())?;
    let server = Server::bind(svc.clone()).await.map_err(|e| e.to_string())?;
    if let Some(addr) = server.local_addr() {
        // Harnesses that start zoolog on port 0 read the real address from this line.
        println!("zoolog: serving on {addr}");
        if zoolog::planted::stale_sync() {
            println!("zoolog: PLANTED FAULT stale-sync (debug build, ZOOLOG_PLANTED_FAULT)");
        }
    }
    let stopper = server.stopper();
    let ctl_svc = svc.clone();
    let ctl = tokio::spawn(async move {
        if let Err(e) = ctl::serve(ctl_svc).await {
            tracing::warn!(error = %e, "control socket unavailable");
        }
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = server.run() => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
        _ = term.recv() => tracing::info!("terminated; shutting down"),
    }
    // In order: no more accepts (the listener closed with `run`), no more admin calls, every
    // client connection closed, then the node itself (drain, stop applying, flush, close the log).
    ctl.abort();
    let _ = ctl.await;
    if !stopper.close_connections(SHUTDOWN_GRACE).await {
        tracing::warn!("some client connections did not close in time");
    }
    if svc.shutdown(SHUTDOWN_GRACE).await {
        Ok(())
    } else {
        Err(
            "the shutdown was not clean (see the log); the next start replays what is missing"
                .into(),
        )
    }
}

/// How long each step of the shutdown may take before the next one goes ahead anyway.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn ctl_call(
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    call: CtlCall,
) -> Result<(), String> {
    let dir = match data_dir {
        Some(d) => d,
        None => load_config(config.as_ref())?.data_dir,
    };
    let path = ctl::socket_path(&dir);
    let mut stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|e| format!("cannot reach the node at {}: {e}", path.display()))?;
    let line = match call {
        CtlCall::Status => "status\n".to_string(),
        CtlCall::Digest => "digest\n".to_string(),
        CtlCall::Reconfigure { dir: Some(d) } => format!("reconfigure {}\n", d.display()),
        CtlCall::Reconfigure { dir: None } => "reconfigure\n".to_string(),
    };
    stream
        .write_all(line.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    print!("{answer}");
    if answer.starts_with("error:") {
        return Err("the node refused the call".into());
    }
    Ok(())
}
