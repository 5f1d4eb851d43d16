//! `zk-xchk`: a cross-check proxy. Clients connect to it as to a ZooKeeper server; it forwards
//! their traffic to both Apache ZooKeeper and zoolog, answers with ZooKeeper's replies, and logs
//! every divergence. Run any application or client test suite through it.
//!
//! ```text
//! zk-xchk --listen 127.0.0.1:2181 --zookeeper 127.0.0.1:2182 --zoolog 127.0.0.1:2183 --log xchk.log
//! zk-xchk --listen 127.0.0.1:2181 --start     # start both servers here (compat settings)
//! ```
//! Prints `zk-xchk: listening on ADDR` when ready and a summary line on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use zoolog_compat::server::Servers;
use zoolog_compat::xchk::{Config, Shared, serve};

#[derive(Parser, Debug)]
#[command(
    name = "zk-xchk",
    about = "Cross-check proxy: Apache ZooKeeper and zoolog side by side"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:2181")]
    listen: SocketAddr,
    /// Apache ZooKeeper's client address (the reference; clients get its replies).
    #[arg(long)]
    zookeeper: Option<SocketAddr>,
    /// zoolog's client address.
    #[arg(long)]
    zoolog: Option<SocketAddr>,
    /// Start both servers here (same settings as the compat suite) instead of using running ones.
    #[arg(long)]
    start: bool,
    /// Forward requests of all clients concurrently instead of one at a time (faster, but the
    /// two servers may then order concurrent writes differently: expect false divergences).
    #[arg(long)]
    free: bool,
    /// Append divergences to this file (they also go to stderr).
    #[arg(long)]
    log: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let servers = if args.start {
        match Servers::from_env() {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("zk-xchk: cannot start the servers: {e}");
                std::process::exit(1);
            }
        }
    } else {
        None
    };
    let (zookeeper, zoolog) = match (&servers, args.zookeeper, args.zoolog) {
        (Some(s), _, _) => (s.zookeeper.addr, s.zoolog.addr),
        (None, Some(a), Some(b)) => (a, b),
        _ => {
            eprintln!("zk-xchk: give --zookeeper and --zoolog, or --start");
            std::process::exit(2);
        }
    };
    let cfg = Config {
        listen: args.listen,
        zookeeper,
        zoolog,
        lockstep: !args.free,
        log: args.log,
    };
    let shared = match Shared::new(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zk-xchk: cannot open the log: {e}");
            std::process::exit(1);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = rt.block_on(async {
        let s = shared.clone();
        let server = serve(s, move |addr| {
            println!("zk-xchk: listening on {addr} (zookeeper {zookeeper}, zoolog {zoolog})");
        });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            r = server => {
                if let Err(e) = r {
                    eprintln!("zk-xchk: {e}");
                    return 1;
                }
                0
            }
            _ = tokio::signal::ctrl_c() => 0,
            _ = term.recv() => 0,
        }
    });
    println!("{}", shared.stats.line());
    drop(servers);
    std::process::exit(code);
}
