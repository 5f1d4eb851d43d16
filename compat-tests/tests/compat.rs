//! The differential suite: every scenario, then the seeded random sequences, against Apache
//! ZooKeeper and zoolog. Prints one line per scenario, the divergence reports, and
//! `compat: N scenarios, N agree, N diverge`. Fails if a scenario diverges that is not listed in
//! `known-divergences.txt`.
//!
//! Arguments (after `--`): substrings selecting scenarios by name (`random` selects the random
//! sequences). Environment: `COMPAT_SEEDS` (number of random sequences, default 20),
//! `COMPAT_SEED_START` (first seed, default 1), `COMPAT_SEQ_LEN` (steps per sequence, default
//! 40), `COMPAT_SHRINK_BUDGET` (runs for shrinking one divergence, default 120; 0 = off),
//! `COMPAT_VERBOSE=1` (print whole transcripts), `COMPAT_ZOOKEEPER` / `COMPAT_ZOOLOG` (use running
//! servers, see README.md).

use std::time::Instant;

use zoolog_compat::random;
use zoolog_compat::scenarios;
use zoolog_compat::server::Servers;
use zoolog_compat::suite::{self, Pair, Summary, known_divergences, say};

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() {
    let start = Instant::now();
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let servers = match Servers::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("compat: cannot start the servers: {e}");
            std::process::exit(1);
        }
    };
    say(&format!(
        "compat: Apache ZooKeeper at {}{}, zoolog at {}{}",
        servers.zookeeper.addr,
        if servers.zookeeper.is_external() {
            " (external)"
        } else {
            ""
        },
        servers.zoolog.addr,
        if servers.zoolog.is_external() {
            " (external)"
        } else {
            ""
        },
    ));
    let mut pair = Pair::new(&servers);
    if let Err(e) = pair.wipe() {
        eprintln!("compat: cannot prepare the servers: {e}");
        std::process::exit(1);
    }
    let mut summary = Summary::default();

    let all = scenarios::all();
    let mut n_scenarios = 0;
    for sc in &all {
        if selected(&sc.name) {
            suite::run_one(&mut pair, sc, &mut summary);
            n_scenarios += 1;
        }
    }

    let seeds = env_num("COMPAT_SEEDS", 20);
    let first = env_num("COMPAT_SEED_START", 1);
    let len = env_num("COMPAT_SEQ_LEN", 40) as usize;
    let budget = env_num("COMPAT_SHRINK_BUDGET", 120) as usize;
    let known = known_divergences();
    let mut n_random = 0;
    let mut random_diverge = 0;
    let mut repros = Vec::new();
    for seed in first..first + seeds {
        let sc = random::sequence(seed, len);
        if !selected(&sc.name) {
            continue;
        }
        n_random += 1;
        suite::run_one(&mut pair, &sc, &mut summary);
        let diverged = summary.outcomes.last().is_some_and(|o| o.report.is_some());
        if diverged {
            random_diverge += 1;
            if budget > 0 && !known.contains_key(&sc.name) {
                let t = Instant::now();
                let small = random::shrink(&mut pair, &sc, budget);
                let report = pair.check(&small);
                repros.push(format!(
                    "shrunk `{}` from {} to {} steps in {} ms{}:\n{}{}",
                    sc.name,
                    sc.steps.len(),
                    small.steps.len(),
                    t.elapsed().as_millis(),
                    if report.is_some() {
                        ""
                    } else {
                        " (the shrunk sequence no longer diverges: flaky?)"
                    },
                    small.code(),
                    report.unwrap_or_default()
                ));
            }
        }
    }

    for sc in &scenarios::last() {
        if selected(&sc.name) {
            suite::run_one(&mut pair, sc, &mut summary);
            n_scenarios += 1;
        }
    }

    // Reports.
    let mut unexpected = Vec::new();
    for o in summary.diverging() {
        let tag = if known.contains_key(&o.name) {
            "known"
        } else {
            "NEW"
        };
        say(&format!("--- [{tag}] {}", o.name));
        say(o.report.as_deref().unwrap_or(""));
        if !known.contains_key(&o.name) {
            unexpected.push(o.name.clone());
        }
    }
    for r in &repros {
        say("--- reproduction (paste into compat-tests/src/scenarios/ as a new scenario):");
        say(r);
    }
    for name in known.keys() {
        if let Some(o) = summary.outcomes.iter().find(|o| &o.name == name)
            && o.report.is_none()
        {
            say(&format!(
                "compat: `{name}` is listed in known-divergences.txt but now agrees: remove it"
            ));
        }
    }
    say(&format!(
        "compat: {n_scenarios} catalogue scenarios and {n_random} random sequences (seeds {first}..{}, {len} steps each; {random_diverge} diverge) in {:.1} s",
        first + seeds.saturating_sub(1),
        start.elapsed().as_secs_f64()
    ));
    say(&summary.line());
    if !unexpected.is_empty() {
        say(&format!(
            "compat: FAILED: {} divergence(s) not in known-divergences.txt: {}",
            unexpected.len(),
            unexpected.join(", ")
        ));
        std::process::exit(1);
    }
}
