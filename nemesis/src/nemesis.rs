//! The faults and their schedule. Each fault is started, left for a while, then healed; both
//! go into the history. With `combine`, a process fault and a network fault may overlap.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::seq::IndexedRandom;
use tokio::sync::Mutex;

use crate::ensemble::{Ensemble, NodeState};
use crate::error::{Error, Result};
use crate::history::Recorder;

/// One kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// SIGKILL a random node; restart it at heal.
    Kill,
    /// SIGKILL the leader; restart it at heal.
    KillLeader,
    /// SIGSTOP a random node; SIGCONT at heal.
    Pause,
    /// SIGSTOP the leader.
    PauseLeader,
    /// Cut one random node off from the others.
    PartitionOne,
    /// Cut the leader off.
    PartitionLeader,
    /// Random majority and minority halves.
    PartitionHalf,
    /// Two halves that cannot hear each other and one node that hears both.
    PartitionBridge,
    /// Move one node's wall clock by up to a minute either way (libfaketime).
    Clock,
}

pub const ALL: [Fault; 9] = [
    Fault::Kill,
    Fault::KillLeader,
    Fault::Pause,
    Fault::PauseLeader,
    Fault::PartitionOne,
    Fault::PartitionLeader,
    Fault::PartitionHalf,
    Fault::PartitionBridge,
    Fault::Clock,
];

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::KillLeader => "kill-leader",
            Fault::Pause => "pause",
            Fault::PauseLeader => "pause-leader",
            Fault::PartitionOne => "partition-one",
            Fault::PartitionLeader => "partition-leader",
            Fault::PartitionHalf => "partition-half",
            Fault::PartitionBridge => "partition-bridge",
            Fault::Clock => "clock",
        }
    }

    pub fn is_network(self) -> bool {
        matches!(
            self,
            Fault::PartitionOne
                | Fault::PartitionLeader
                | Fault::PartitionHalf
                | Fault::PartitionBridge
        )
    }

    pub fn is_process(self) -> bool {
        matches!(
            self,
            Fault::Kill | Fault::KillLeader | Fault::Pause | Fault::PauseLeader
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a comma-separated list: fault names, or the groups `kill` (kill, kill-leader),
/// `pause`, `partition` (all four), `clock`, `all`, `none`.
pub fn parse_faults(s: &str) -> Result<Vec<Fault>> {
    let mut v: BTreeSet<Fault> = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "none" => {}
            "all" => v.extend(ALL),
            "kill" => v.extend([Fault::Kill, Fault::KillLeader]),
            "pause" => v.extend([Fault::Pause, Fault::PauseLeader]),
            "partition" => v.extend(ALL.iter().copied().filter(|f| f.is_network())),
            other => {
                v.insert(Fault::from_str(other)?);
            }
        }
    }
    Ok(v.into_iter().collect())
}

impl FromStr for Fault {
    type Err = Error;
    fn from_str(s: &str) -> Result<Fault> {
        ALL.iter().copied().find(|f| f.name() == s).ok_or_else(|| {
            Error::Usage(format!(
                "unknown nemesis {s:?} (kill, kill-leader, pause, pause-leader, \
                     partition, partition-one, partition-leader, partition-half, \
                     partition-bridge, clock, all, none)"
            ))
        })
    }
}

/// What is broken right now, to heal.
#[derive(Default, Debug)]
struct Active {
    faults: Vec<(Fault, String)>,
    killed: Vec<usize>,
    paused: Vec<usize>,
    partitioned: bool,
    skewed: Vec<usize>,
}

/// Drives faults into an ensemble and records them.
pub struct Nemesis {
    ens: Arc<Mutex<Ensemble>>,
    rec: Recorder,
    active: Active,
    /// How many times each fault was started.
    pub counts: std::collections::BTreeMap<&'static str, usize>,
}

impl Nemesis {
    pub fn new(ens: Arc<Mutex<Ensemble>>, rec: Recorder) -> Nemesis {
        Nemesis {
            ens,
            rec,
            active: Active::default(),
            counts: Default::default(),
        }
    }

    /// Starts `fault` (on top of whatever is active).
    pub async fn start(&mut self, fault: Fault) -> Result<()> {
        let mut e = self.ens.lock().await;
        let n = e.len();
        let live: Vec<usize> = (0..n)
            .filter(|&i| e.state(i) == NodeState::Running && !self.active.killed.contains(&i))
            .collect();
        let pick = |v: &[usize]| v.choose(&mut rand::rng()).copied();
        let leader = if matches!(
            fault,
            Fault::KillLeader | Fault::PauseLeader | Fault::PartitionLeader
        ) {
            e.leader().await
        } else {
            None
        };
        let detail = match fault {
            Fault::Kill | Fault::KillLeader => {
                let Some(i) = (if fault == Fault::KillLeader {
                    leader
                } else {
                    pick(&live)
                }) else {
                    return Ok(());
                };
                e.kill(i);
                self.active.killed.push(i);
                format!("SIGKILL node {i}")
            }
            Fault::Pause | Fault::PauseLeader => {
                let Some(i) = (if fault == Fault::PauseLeader {
                    leader
                } else {
                    pick(&live)
                }) else {
                    return Ok(());
                };
                e.pause(i)?;
                self.active.paused.push(i);
                format!("SIGSTOP node {i}")
            }
            Fault::PartitionOne | Fault::PartitionLeader => {
                let Some(i) = (if fault == Fault::PartitionLeader {
                    leader
                } else {
                    pick(&(0..n).collect::<Vec<_>>())
                }) else {
                    return Ok(());
                };
                let rest: BTreeSet<usize> = (0..n).filter(|&j| j != i).collect();
                let hears: Vec<BTreeSet<usize>> = (0..n)
                    .map(|j| {
                        if j == i {
                            BTreeSet::new()
                        } else {
                            rest.clone()
                        }
                    })
                    .collect();
                e.partition(&hears)?;
                self.active.partitioned = true;
                format!("isolate node {i} from {rest:?}")
            }
            Fault::PartitionHalf => {
                let mut order: Vec<usize> = (0..n).collect();
                rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rand::rng());
                let minority: BTreeSet<usize> = order[..n / 2].iter().copied().collect();
                let majority: BTreeSet<usize> = order[n / 2..].iter().copied().collect();
                let hears: Vec<BTreeSet<usize>> = (0..n)
                    .map(|j| {
                        if minority.contains(&j) {
                            minority.clone()
                        } else {
                            majority.clone()
                        }
                    })
                    .collect();
                e.partition(&hears)?;
                self.active.partitioned = true;
                format!("halves {majority:?} | {minority:?}")
            }
            Fault::PartitionBridge => {
                let mut order: Vec<usize> = (0..n).collect();
                rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rand::rng());
                let bridge = order[0];
                let half = (n - 1) / 2;
                let a: BTreeSet<usize> = order[1..1 + half].iter().copied().collect();
                let b: BTreeSet<usize> = order[1 + half..].iter().copied().collect();
                let hears: Vec<BTreeSet<usize>> = (0..n)
                    .map(|j| {
                        if j == bridge {
                            (0..n).collect()
                        } else if a.contains(&j) {
                            a.iter().copied().chain([bridge]).collect()
                        } else {
                            b.iter().copied().chain([bridge]).collect()
                        }
                    })
                    .collect();
                e.partition(&hears)?;
                self.active.partitioned = true;
                format!("{a:?} | {b:?} with node {bridge} hearing both")
            }
            Fault::Clock => {
                let Some(i) = pick(&(0..n).collect::<Vec<_>>()) else {
                    return Ok(());
                };
                let secs = rand::rng().random_range(5..60)
                    * if rand::rng().random_bool(0.5) { 1 } else { -1 };
                e.set_clock(i, secs)?;
                self.active.skewed.push(i);
                format!("node {i} clock {secs:+} s")
            }
        };
        drop(e);
        *self.counts.entry(fault.name()).or_default() += 1;
        self.rec.nemesis("start", fault.name(), &detail);
        self.active.faults.push((fault, detail));
        Ok(())
    }

    /// Whether any fault is active.
    pub fn is_active(&self) -> bool {
        !self.active.faults.is_empty()
    }

    /// Heals everything: restarts killed nodes, resumes paused ones, removes partitions,
    /// resets clocks.
    pub async fn heal(&mut self) -> Result<()> {
        let active = std::mem::take(&mut self.active);
        let mut e = self.ens.lock().await;
        let mut first_err = None;
        for &i in &active.paused {
            if let Err(err) = e.resume(i) {
                first_err.get_or_insert(err);
            }
        }
        if active.partitioned
            && let Err(err) = e.heal_network()
        {
            first_err.get_or_insert(err);
        }
        for &i in &active.skewed {
            if let Err(err) = e.set_clock(i, 0) {
                first_err.get_or_insert(err);
            }
        }
        for &i in &active.killed {
            if let Err(err) = e.restart(i) {
                first_err.get_or_insert(err);
            }
        }
        drop(e);
        for (f, detail) in &active.faults {
            self.rec
                .nemesis("heal", f.name(), format!("heal: {detail}"));
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The schedule: quiet for `interval`, then one fault (or two with `combine`) for `duration`,
/// healed, and again, until `deadline` or `stop`.
pub async fn run_schedule(
    nemesis: &mut Nemesis,
    faults: &[Fault],
    interval: Duration,
    duration: Duration,
    combine: bool,
    deadline: tokio::time::Instant,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    if faults.is_empty() {
        wait_until(deadline, stop).await;
        return Ok(());
    }
    loop {
        if wait_until((tokio::time::Instant::now() + interval).min(deadline), stop).await
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(());
        }
        let Some(&f) = faults.choose(&mut rand::rng()) else {
            return Ok(());
        };
        if let Err(e) = nemesis.start(f).await {
            tracing::warn!("nemesis {f}: {e}");
        }
        if combine && rand::rng().random_bool(0.3) {
            let others: Vec<Fault> = faults
                .iter()
                .copied()
                .filter(|g| {
                    (g.is_network() && f.is_process()) || (g.is_process() && f.is_network())
                })
                .collect();
            if let Some(&g) = others.choose(&mut rand::rng())
                && let Err(e) = nemesis.start(g).await
            {
                tracing::warn!("nemesis {g}: {e}");
            }
        }
        let jitter = rand::rng().random_range(0..=duration.as_millis() as u64 / 2);
        let d = duration / 2 + Duration::from_millis(jitter) + duration / 4;
        let interrupted = wait_until((tokio::time::Instant::now() + d).min(deadline), stop).await;
        nemesis.heal().await?;
        if interrupted {
            return Ok(());
        }
    }
}

/// Sleeps until `t`; true if `stop` turned true first.
async fn wait_until(t: tokio::time::Instant, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
    let mut stop = stop.clone();
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(t) => false,
        r = stop.wait_for(|s| *s) => r.is_ok(),
    }
}
