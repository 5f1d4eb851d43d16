//! Randomized differential runs: a seeded generator of operation sequences (three sessions,
//! nested paths, every create mode, watches of all kinds, multi, multiRead, ACL changes, session
//! reopen and resume) applied to both servers; a divergence is shrunk by delta debugging on the
//! operation list to a short reproduction, printed as a new scenario.

use crate::script::ops::*;
use crate::script::{Passwd, Sc, Step, WatchSet};
use crate::suite::Pair;

/// SplitMix64: small, fast, and stable across versions (the seeds must reproduce forever).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5EED_0FC0_FFEE)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const CONNS: [&str; 3] = ["c1", "c2", "c3"];
const NODES: [&str; 10] = [
    "/r", "/r/a", "/r/b", "/r/a/x", "/r/a/y", "/r/b/x", "/r/b/x/z", "/s", "/s/q", "/s/q/w",
];
const PARENTS: [&str; 5] = ["/r", "/r/a", "/r/b", "/s", "/s/q"];

fn data(rng: &mut Rng) -> String {
    let n = rng.below(4);
    (0..n)
        .map(|_| (b'a' + rng.below(6) as u8) as char)
        .collect()
}

fn version(rng: &mut Rng) -> i32 {
    if rng.chance(65) {
        -1
    } else {
        rng.below(4) as i32
    }
}

fn write_op(rng: &mut Rng) -> zoolog_jute::MultiOp {
    match rng.below(10) {
        0..=3 => {
            let flags = rng.pick(&[0, 0, 0, 1, 2, 3]);
            let path = if flags & 2 != 0 {
                format!("{}/q-", rng.pick(&PARENTS))
            } else {
                rng.pick(&NODES).to_string()
            };
            if rng.chance(20) {
                m_create2(&path, data(rng).as_str(), flags)
            } else {
                m_create(&path, data(rng).as_str(), flags)
            }
        }
        4..=5 => m_delete(rng.pick(&NODES), version(rng)),
        6..=7 => m_set(rng.pick(&NODES), data(rng).as_str(), version(rng)),
        _ => m_check(rng.pick(&NODES), version(rng)),
    }
}

/// One random request (anything but session changes).
fn request(rng: &mut Rng) -> zoolog_jute::Request {
    let node = rng.pick(&NODES);
    match rng.below(94) {
        0..=21 => {
            let flags = rng.pick(&[0, 0, 0, 0, 1, 1, 2, 3]);
            let path = if flags & 2 != 0 {
                format!("{}/q-", rng.pick(&PARENTS))
            } else {
                node.to_string()
            };
            let d = data(rng);
            match rng.below(10) {
                0 => create2(&path, d.as_str(), flags),
                // No containers: the reaper would delete an emptied one at a time that differs
                // between the servers (the catalogue covers containers with explicit waits).
                1 => create2(&path, d.as_str(), flags),
                2 if flags & 1 == 0 => {
                    ttl(&path, d.as_str(), if flags == 2 { 6 } else { 5 }, 3_600_000)
                }
                _ => create(&path, d.as_str(), flags),
            }
        }
        22..=32 => delete(node, version(rng)),
        33..=43 => {
            let d = data(rng);
            set_data(node, d.as_str(), version(rng))
        }
        44..=63 => {
            let w = rng.chance(50);
            match rng.below(4) {
                0 => exists(node, w),
                1 => get_data(node, w),
                2 => get_children(node, w),
                _ => get_children2(node, w),
            }
        }
        64..=67 => add_watch(node, rng.below(2) as i32),
        68..=71 => {
            let t = 1 + rng.below(5) as i32;
            if rng.chance(50) {
                remove_watches(node, t)
            } else {
                check_watches(node, t)
            }
        }
        72..=81 => {
            let n = 1 + rng.below(4);
            let ops = (0..n).map(|_| write_op(rng)).collect();
            multi(ops)
        }
        82..=85 => {
            let n = 1 + rng.below(3);
            let ops = (0..n)
                .map(|_| {
                    let p = rng.pick(&NODES);
                    if rng.chance(50) {
                        m_get_data(p)
                    } else {
                        m_get_children(p)
                    }
                })
                .collect();
            multi_read(ops)
        }
        86..=88 => {
            if rng.chance(50) {
                get_acl(node)
            } else {
                let perms = rng.pick(&[31, 31, 15, 30, 1]);
                set_acl(node, Some(world(perms)), version(rng))
            }
        }
        89..=90 => sync(node),
        91..=92 => get_ephemerals(Some(rng.pick(&["/", "/r", "/s/q"]))),
        _ => all_children(node),
    }
}

/// One random step.
fn step(rng: &mut Rng, s: &mut Sc) {
    let c = rng.pick(&CONNS);
    match rng.below(100) {
        0..=88 => {
            let r = request(rng);
            s.send(c, r);
        }
        89..=92 => {
            // Pipelined: several requests written at once, replies read afterwards.
            let n = 2 + rng.below(3);
            let reqs: Vec<_> = (0..n).map(|_| request(rng)).collect();
            if std::env::var("COMPAT_RANDOM_NO_PIPELINE").is_ok() {
                for r in reqs {
                    s.send(c, r);
                }
            } else {
                s.pipeline(c, reqs);
            }
        }
        93..=95 => {
            // A new session on this connection: the old one's ephemerals go.
            s.close(c);
            s.connect(c);
        }
        _ => {
            // Lose the connection, resume the session, re-register some watches.
            s.disconnect(c);
            s.resume(c, c, Passwd::Right);
            let k = 1 + rng.below(3);
            let pick = |rng: &mut Rng| (0..k).map(|_| rng.pick(&NODES).to_string()).collect();
            let (data_w, exist_w, child_w) = (pick(rng), pick(rng), pick(rng));
            s.set_watches(
                c,
                WatchSet {
                    rel: Some(c.to_string()),
                    data: data_w,
                    exist: exist_w,
                    child: child_w,
                    ..Default::default()
                },
            );
        }
    }
}

/// Steps every random sequence starts with (never shrunk away).
pub const PRELUDE: usize = 3;

/// The random sequence for `seed`: three sessions, then `len` random steps.
pub fn sequence(seed: u64, len: usize) -> Sc {
    let mut rng = Rng::new(seed);
    let mut s = Sc::new(&format!("random/{seed}"));
    for c in CONNS {
        s.connect(c);
    }
    for _ in 0..len {
        step(&mut rng, &mut s);
    }
    s
}

/// Delta debugging (ddmin) over the steps after the prelude: the smallest sub-list found that
/// still diverges, within `budget` runs.
pub fn shrink(pair: &mut Pair, sc: &Sc, budget: usize) -> Sc {
    let prelude: Vec<Step> = sc.steps[..PRELUDE.min(sc.steps.len())].to_vec();
    let mut items: Vec<Step> = sc.steps[prelude.len()..].to_vec();
    let mut runs = 0;
    let mut diverges = |body: &[Step], runs: &mut usize| -> bool {
        *runs += 1;
        let mut t = Sc::new(&sc.name);
        t.steps = prelude.clone();
        t.steps.extend_from_slice(body);
        pair.check(&t).is_some()
    };
    let mut n = 2usize;
    while items.len() >= 2 && runs < budget {
        let chunk = items.len().div_ceil(n);
        let parts: Vec<Vec<Step>> = items.chunks(chunk).map(|c| c.to_vec()).collect();
        let mut reduced = false;
        for (i, part) in parts.iter().enumerate() {
            if runs >= budget {
                break;
            }
            if diverges(part, &mut runs) {
                items = part.clone();
                n = 2;
                reduced = true;
                break;
            }
            if parts.len() > 2 {
                let complement: Vec<Step> = parts
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, p)| p.clone())
                    .collect();
                if diverges(&complement, &mut runs) {
                    items = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (2 * n).min(items.len());
        }
    }
    let mut out = Sc::new(&format!("repro_{}", sc.name.replace('/', "_")));
    out.steps = prelude;
    out.steps.extend(items);
    out
}
