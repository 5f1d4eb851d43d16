//! Running scenarios against the pair of servers, the known-divergences list, the summary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::compare;
use crate::exec::{Driver, Transcript};
use crate::script::{Sc, Step};
use crate::server::{Kind, Servers};

/// The two drivers: Apache ZooKeeper and zoolog.
pub struct Pair {
    pub zk: Driver,
    pub zl: Driver,
}

impl Pair {
    pub fn new(servers: &Servers) -> Pair {
        Pair {
            zk: Driver::new(
                Kind::ZooKeeper,
                servers.zookeeper.addr,
                servers.settings.clone(),
            ),
            zl: Driver::new(Kind::Zoolog, servers.zoolog.addr, servers.settings.clone()),
        }
    }

    /// Wipes both trees (everything but /zookeeper).
    pub fn wipe(&mut self) -> Result<(), String> {
        self.zk.wipe().map_err(|e| format!("zookeeper: {e}"))?;
        self.zl.wipe().map_err(|e| format!("zoolog: {e}"))
    }

    /// Runs `steps` on both servers at once.
    pub fn run(&mut self, steps: &[Step]) -> (Transcript, Transcript) {
        let (zk, zl) = (&mut self.zk, &mut self.zl);
        std::thread::scope(|s| {
            let a = s.spawn(|| zk.run(steps));
            let b = s.spawn(|| zl.run(steps));
            (
                a.join().expect("zookeeper driver panicked"),
                b.join().expect("zoolog driver panicked"),
            )
        })
    }

    /// Runs `sc`: `None` if both agree, else the divergence report.
    pub fn check(&mut self, sc: &Sc) -> Option<String> {
        let (zk, zl) = self.run(&sc.steps);
        let verbose = std::env::var("COMPAT_VERBOSE").is_ok_and(|v| v != "0");
        match compare::first_difference(&zk, &zl) {
            None => {
                if verbose {
                    eprintln!("{}", compare::full(&zk, &zl));
                }
                None
            }
            Some(at) => {
                let mut r = compare::report(sc, &zk, &zl, at);
                if verbose {
                    r.push_str(&compare::full(&zk, &zl));
                }
                Some(r)
            }
        }
    }
}

/// Scenarios (and random seeds, as `random/<seed>`) known to diverge: `name  # reason` per line.
pub fn known_divergences() -> BTreeMap<String, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("known-divergences.txt");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let (name, why) = match l.split_once('#') {
                Some((n, w)) => (n.trim(), w.trim()),
                None => (l, ""),
            };
            Some((name.to_string(), why.to_string()))
        })
        .collect()
}

/// What one scenario did.
pub struct ScOutcome {
    pub name: String,
    pub report: Option<String>,
    pub elapsed: Duration,
}

/// Totals, printed as `compat: N scenarios, N agree, N diverge`.
#[derive(Default)]
pub struct Summary {
    pub outcomes: Vec<ScOutcome>,
}

impl Summary {
    pub fn push(&mut self, name: &str, report: Option<String>, elapsed: Duration) {
        self.outcomes.push(ScOutcome {
            name: name.to_string(),
            report,
            elapsed,
        });
    }

    pub fn diverging(&self) -> impl Iterator<Item = &ScOutcome> {
        self.outcomes.iter().filter(|o| o.report.is_some())
    }

    pub fn line(&self) -> String {
        let n = self.outcomes.len();
        let d = self.diverging().count();
        format!("compat: {n} scenarios, {} agree, {d} diverge", n - d)
    }
}

/// Runs one scenario and prints its result line.
pub fn run_one(pair: &mut Pair, sc: &Sc, summary: &mut Summary) {
    let start = Instant::now();
    let report = pair.check(sc);
    let elapsed = start.elapsed();
    let status = if report.is_some() { "DIVERGE" } else { "ok" };
    say(&format!(
        "compat: {:<48} {status:>7}  {:>6} ms",
        sc.name,
        elapsed.as_millis()
    ));
    summary.push(&sc.name, report, elapsed);
}

/// Prints a line straight to stdout (visible under `cargo test` without --nocapture).
pub fn say(s: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}
