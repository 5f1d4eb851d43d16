//! The differential suite: every scenario, then the random sequences, against Apache ZooKeeper
//! and zoolog; prints `compat: N scenarios, N agree, N diverge`.

use zoolog_compat::scenarios;
use zoolog_compat::server::Servers;
use zoolog_compat::suite::{self, Pair, Summary, say};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let servers = match Servers::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("compat: cannot start the servers: {e}");
            std::process::exit(1);
        }
    };
    let mut pair = Pair::new(&servers);
    pair.wipe().expect("wipe");
    let mut summary = Summary::default();
    for sc in scenarios::all() {
        if !args.is_empty() && !args.iter().any(|a| sc.name.contains(a.as_str())) {
            continue;
        }
        suite::run_one(&mut pair, &sc, &mut summary);
    }
    for o in summary.diverging() {
        say(o.report.as_deref().unwrap_or(""));
    }
    say(&summary.line());
}
