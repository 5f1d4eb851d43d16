//! Linearizability checking of one object's history: the Wing & Gong search with Lowe's
//! memoization (the algorithm of Knossos's `wgl` and of Porcupine), on a sequential model.
//!
//! An operation whose outcome is unknown gets an infinite return time: it may take effect at
//! any point after its invocation, and placing it after everything else is the same as it
//! never happening. P-compositionality is the caller's: it checks each znode on its own.

use std::collections::HashSet;
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash;
    type Op;
    fn init(&self) -> Self::State;
    /// The state after `op` if `op` (with its recorded result) is legal in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;
}

/// One operation of the history.
#[derive(Clone, Debug)]
pub struct Entry<O> {
    /// The history's op id (for reports).
    pub id: u64,
    pub op: O,
    pub invoke: u64,
    /// `None`: unknown outcome (returns at infinity).
    pub ret: Option<u64>,
}

/// The checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No order exists. `stuck` is the op (history id) that could not be linearized at the
    /// deepest point of the search, after `depth` ops were.
    NotLinearizable {
        stuck: u64,
        depth: usize,
    },
    /// The search took more than the step budget.
    Unknown {
        steps: u64,
    },
}

const NIL: usize = usize::MAX;

/// Checks `entries` against `model`, giving up after `budget` search steps.
pub fn check<M: Model>(model: &M, entries: &[Entry<M::Op>], budget: u64) -> Verdict {
    let n = entries.len();
    if n == 0 {
        return Verdict::Linearizable;
    }
    // Events: node 0 is the head sentinel; then 2n events sorted by time, calls before
    // returns at the same instant (so touching ops count as concurrent).
    let mut evs: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
    for (i, e) in entries.iter().enumerate() {
        evs.push((e.invoke, 0, i));
        evs.push((e.ret.unwrap_or(u64::MAX), 1, i));
    }
    evs.sort_unstable();
    let len = 2 * n + 1;
    let mut is_call = vec![false; len];
    let mut entry_of = vec![0usize; len];
    let mut ret_node = vec![NIL; n];
    for (k, &(_, kind, i)) in evs.iter().enumerate() {
        let node = k + 1;
        is_call[node] = kind == 0;
        entry_of[node] = i;
        if kind == 1 {
            ret_node[i] = node;
        }
    }
    let mut next: Vec<usize> = (0..len)
        .map(|k| if k + 1 < len { k + 1 } else { NIL })
        .collect();
    let mut prev: Vec<usize> = (0..len).map(|k| if k == 0 { NIL } else { k - 1 }).collect();

    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, q) = (prev[x], next[x]);
        if p != NIL {
            next[p] = q;
        }
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, q) = (prev[x], next[x]);
        if p != NIL {
            next[p] = x;
        }
        if q != NIL {
            prev[q] = x;
        }
    };

    let words = n.div_ceil(64);
    let mut bits = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut cur = next[0];
    let mut steps = 0u64;
    let mut deepest = (0usize, entries[0].id);
    while next[0] != NIL {
        steps += 1;
        if steps > budget {
            return Verdict::Unknown { steps };
        }
        if cur == NIL {
            // Only possible if the list holds calls alone, which cannot be: every call has
            // its return after it.
            break;
        }
        if is_call[cur] {
            let i = entry_of[cur];
            if let Some(s2) = model.step(&state, &entries[i].op) {
                bits[i / 64] |= 1 << (i % 64);
                if cache.insert((bits.clone(), s2.clone())) {
                    stack.push((cur, std::mem::replace(&mut state, s2)));
                    unlink(&mut next, &mut prev, ret_node[i]);
                    unlink(&mut next, &mut prev, cur);
                    cur = next[0];
                    continue;
                }
                bits[i / 64] &= !(1 << (i % 64));
            }
            cur = next[cur];
        } else {
            if stack.len() >= deepest.0 {
                deepest = (stack.len(), entries[entry_of[cur]].id);
            }
            let Some((c, s)) = stack.pop() else {
                return Verdict::NotLinearizable {
                    stuck: deepest.1,
                    depth: deepest.0,
                };
            };
            let i = entry_of[c];
            bits[i / 64] &= !(1 << (i % 64));
            state = s;
            relink(&mut next, &mut prev, c);
            relink(&mut next, &mut prev, ret_node[i]);
            cur = next[c];
        }
    }
    Verdict::Linearizable
}

/// A ZooKeeper znode's data as a register: (value, version); setData bumps the version.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZnodeRegister;

/// An operation on [`ZnodeRegister`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegOp {
    /// setData without a version; `version` is the one it returned (None if unknown).
    Write { value: i64, version: Option<i32> },
    /// setData with `expected`: `ok` Some(true) succeeded (new version `version`), Some(false)
    /// failed with BadVersion, None unknown.
    Cas {
        value: i64,
        expected: i32,
        ok: Option<bool>,
        version: Option<i32>,
    },
    /// A read that returned (value, version).
    Read { value: i64, version: i32 },
}

impl Model for ZnodeRegister {
    type State = (i64, i32);
    type Op = RegOp;

    fn init(&self) -> (i64, i32) {
        (0, 0)
    }

    fn step(&self, s: &(i64, i32), op: &RegOp) -> Option<(i64, i32)> {
        let (_, ver) = *s;
        match *op {
            RegOp::Write { value, version } => {
                let nv = ver.checked_add(1)?;
                (version.is_none() || version == Some(nv)).then_some((value, nv))
            }
            RegOp::Cas {
                value,
                expected,
                ok,
                version,
            } => match ok {
                Some(true) => {
                    let nv = ver.checked_add(1)?;
                    (ver == expected && (version.is_none() || version == Some(nv)))
                        .then_some((value, nv))
                }
                Some(false) => (ver != expected).then_some(*s),
                None if ver == expected => Some((value, ver.checked_add(1)?)),
                None => Some(*s),
            },
            RegOp::Read { value, version } => (*s == (value, version)).then_some(*s),
        }
    }
}

/// A second decision procedure for [`ZnodeRegister`] histories, polynomial, used where the
/// search runs out of budget (many unknown writes whose values nobody read make it try every
/// subset of them). Every applied setData gets the next version, so versions fix the order of
/// the writes and place every read; what is left is real time and the unknown writes:
///
/// 1. An unknown write whose value was read has the version it was read at (values are unique
///    per write; not for `values_repeat`, the counter).
/// 2. Versions are unique; a successful conditional write has `expected + 1`.
/// 3. Real time: an op that completed before another began has a lower version (a write after
///    it), or not higher (a read after it).
/// 4. Every version up to the highest seen that no known write has (a gap) is filled by a
///    distinct unknown write that may have taken it: invoked before any op at or after that
///    version completed, after every op below it completed (a bipartite matching; a
///    conditional one only at `expected + 1`).
/// 5. A failed conditional write had, somewhere in its interval, a version other than its
///    expected one.
///
/// Returns the ops involved and why, for the first violation.
pub fn version_order(
    entries: &[Entry<RegOp>],
    values_repeat: bool,
) -> Result<(), (Vec<u64>, String)> {
    #[derive(Clone, Copy)]
    struct K {
        id: u64,
        ver: i32,
        invoke: u64,
        ret: Option<u64>,
        write: bool,
    }
    let mut read_at: std::collections::HashMap<i64, (i32, u64)> = Default::default();
    for e in entries {
        if let RegOp::Read { value, version } = e.op
            && version > 0
        {
            read_at.entry(value).or_insert((version, e.id));
        }
    }
    let mut known: Vec<K> = Vec::new();
    let mut unknown: Vec<&Entry<RegOp>> = Vec::new();
    let mut failed_cas: Vec<&Entry<RegOp>> = Vec::new();
    for e in entries {
        match e.op {
            RegOp::Write {
                version: Some(v), ..
            }
            | RegOp::Cas {
                ok: Some(true),
                version: Some(v),
                ..
            } => {
                if let RegOp::Cas { expected, .. } = e.op
                    && v != expected + 1
                {
                    return Err((
                        vec![e.id],
                        format!("conditional write on version {expected} got version {v}"),
                    ));
                }
                known.push(K {
                    id: e.id,
                    ver: v,
                    invoke: e.invoke,
                    ret: e.ret,
                    write: true,
                });
            }
            RegOp::Write {
                value,
                version: None,
            }
            | RegOp::Cas {
                value, ok: None, ..
            } => match read_at.get(&value) {
                Some(&(v, _)) if !values_repeat => known.push(K {
                    id: e.id,
                    ver: v,
                    invoke: e.invoke,
                    ret: None,
                    write: true,
                }),
                _ => unknown.push(e),
            },
            RegOp::Cas {
                ok: Some(false), ..
            } => failed_cas.push(e),
            RegOp::Cas {
                ok: Some(true),
                version: None,
                ..
            } => unknown.push(e),
            RegOp::Read { version, .. } => known.push(K {
                id: e.id,
                ver: version,
                invoke: e.invoke,
                ret: e.ret,
                write: false,
            }),
        }
    }
    // 2. unique versions.
    let mut by_ver: std::collections::BTreeMap<i32, u64> = Default::default();
    for k in known.iter().filter(|k| k.write) {
        if k.ver < 1 {
            return Err((vec![k.id], format!("a write got version {}", k.ver)));
        }
        if let Some(other) = by_ver.insert(k.ver, k.id) {
            return Err((
                vec![other, k.id],
                format!("two writes took version {}", k.ver),
            ));
        }
    }
    // 3. real time, one sweep: ops by invocation against the highest version completed before.
    let mut done: Vec<(u64, i32, u64)> = known
        .iter()
        .filter_map(|k| k.ret.map(|r| (r, k.ver, k.id)))
        .collect();
    done.sort_unstable();
    let mut order: Vec<&K> = known.iter().collect();
    order.sort_by_key(|k| k.invoke);
    let (mut j, mut max_done) = (0, (0i32, u64::MAX));
    // Highest version completed strictly before time t, as a function for later steps.
    let mut prefix_max: Vec<(u64, i32)> = Vec::with_capacity(done.len());
    {
        let mut m = 0;
        for &(t, v, _) in &done {
            m = m.max(v);
            prefix_max.push((t, m));
        }
    }
    let max_before = |t: u64| -> i32 {
        let n = prefix_max.partition_point(|&(r, _)| r < t);
        if n == 0 { 0 } else { prefix_max[n - 1].1 }
    };
    for k in order {
        while j < done.len() && done[j].0 < k.invoke {
            if done[j].1 > max_done.0 {
                max_done = (done[j].1, done[j].2);
            }
            j += 1;
        }
        let bad = if k.write {
            k.ver <= max_done.0
        } else {
            k.ver < max_done.0
        };
        if bad && max_done.1 != u64::MAX {
            return Err((
                vec![max_done.1, k.id],
                format!(
                    "op {} (version {}) began after op {} completed at version {}",
                    k.id, k.ver, max_done.1, max_done.0
                ),
            ));
        }
    }
    // A read's version must have been written by an op invoked before the read completed.
    for k in known.iter().filter(|k| !k.write && k.ver > 0) {
        if let (Some(&w), Some(r)) = (by_ver.get(&k.ver), k.ret)
            && let Some(wk) = known.iter().find(|x| x.id == w)
            && wk.invoke > r
        {
            return Err((
                vec![w, k.id],
                format!("read of version {} completed before its write began", k.ver),
            ));
        }
    }
    // 4. gaps filled by unknown writes.
    let vmax = known.iter().map(|k| k.ver).max().unwrap_or(0);
    let gaps: Vec<i32> = (1..=vmax).filter(|v| !by_ver.contains_key(v)).collect();
    // C(g): the earliest completion of an op at version >= g (reads) or > g (writes).
    let c_of = |g: i32| -> u64 {
        known
            .iter()
            .filter(|k| if k.write { k.ver > g } else { k.ver >= g })
            .filter_map(|k| k.ret)
            .min()
            .unwrap_or(u64::MAX)
    };
    let c: Vec<u64> = gaps.iter().map(|&g| c_of(g)).collect();
    let eligible = |u: &Entry<RegOp>, gi: usize| -> bool {
        let g = gaps[gi];
        if let RegOp::Cas { expected, .. } = u.op
            && g != expected + 1
        {
            return false;
        }
        u.invoke < c[gi] && max_before(u.invoke) < g
    };
    let mut owner: Vec<Option<usize>> = vec![None; unknown.len()];
    fn augment(
        gi: usize,
        seen: &mut Vec<bool>,
        owner: &mut Vec<Option<usize>>,
        n_unknown: usize,
        eligible: &dyn Fn(usize, usize) -> bool,
    ) -> bool {
        for ui in 0..n_unknown {
            if seen[ui] || !eligible(ui, gi) {
                continue;
            }
            seen[ui] = true;
            if owner[ui].is_none_or(|g2| augment(g2, seen, owner, n_unknown, eligible)) {
                owner[ui] = Some(gi);
                return true;
            }
        }
        false
    }
    let elig = |ui: usize, gi: usize| eligible(unknown[ui], gi);
    for (gi, &gap) in gaps.iter().enumerate() {
        let mut seen = vec![false; unknown.len()];
        if !augment(gi, &mut seen, &mut owner, unknown.len(), &elig) {
            let after = known.iter().find(|k| k.ver >= gap).map(|k| k.id);
            return Err((
                after.into_iter().collect(),
                format!(
                    "version {gap} was taken, but no write whose outcome is unknown can have taken it"
                ),
            ));
        }
    }
    // 5. failed conditional writes.
    let mut writes_by_invoke: Vec<(u64, i32)> = known
        .iter()
        .filter(|k| k.write)
        .map(|k| (k.invoke, k.ver))
        .chain(
            owner
                .iter()
                .enumerate()
                .filter_map(|(ui, g)| g.map(|gi| (unknown[ui].invoke, gaps[gi]))),
        )
        .collect();
    writes_by_invoke.sort_unstable();
    for e in failed_cas {
        let RegOp::Cas { expected, .. } = e.op else {
            continue;
        };
        let lo = max_before(e.invoke);
        let end = e.ret.unwrap_or(u64::MAX);
        let hi = writes_by_invoke
            .iter()
            .take_while(|&&(t, _)| t < end)
            .map(|&(_, v)| v)
            .max()
            .unwrap_or(0)
            .max(lo);
        if lo == hi && lo == expected {
            return Err((
                vec![e.id],
                format!(
                    "conditional write failed with BadVersion, but the version was {expected} throughout"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: u64, op: RegOp, invoke: u64, ret: Option<u64>) -> Entry<RegOp> {
        Entry {
            id,
            op,
            invoke,
            ret,
        }
    }

    fn w(value: i64, version: i32) -> RegOp {
        RegOp::Write {
            value,
            version: Some(version),
        }
    }

    fn r(value: i64, version: i32) -> RegOp {
        RegOp::Read { value, version }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = [
            e(0, w(5, 1), 0, Some(10)),
            e(1, r(5, 1), 11, Some(20)),
            e(2, w(7, 2), 21, Some(30)),
            e(3, r(7, 2), 31, Some(40)),
        ];
        assert_eq!(check(&ZnodeRegister, &h, 1_000_000), Verdict::Linearizable);
    }

    #[test]
    fn stale_read_after_completed_write_is_not() {
        let h = [
            e(0, w(5, 1), 0, Some(10)),
            e(1, w(7, 2), 11, Some(20)),
            e(2, r(5, 1), 21, Some(30)),
        ];
        assert!(matches!(
            check(&ZnodeRegister, &h, 1_000_000),
            Verdict::NotLinearizable { stuck: 2, .. }
        ));
    }

    #[test]
    fn concurrent_ops_may_go_either_way() {
        // The read overlaps the second write: it may see either.
        let h = [
            e(0, w(5, 1), 0, Some(10)),
            e(1, w(7, 2), 11, Some(30)),
            e(2, r(5, 1), 12, Some(20)),
        ];
        assert_eq!(check(&ZnodeRegister, &h, 1_000_000), Verdict::Linearizable);
    }

    #[test]
    fn unknown_write_may_or_may_not_happen() {
        let unknown = RegOp::Write {
            value: 9,
            version: None,
        };
        // Seen by a later read: it happened.
        let seen = [e(0, unknown.clone(), 0, None), e(1, r(9, 1), 50, Some(60))];
        assert_eq!(
            check(&ZnodeRegister, &seen, 1_000_000),
            Verdict::Linearizable
        );
        // Never seen, and a later write got version 1: it did not happen.
        let lost = [
            e(0, unknown, 0, None),
            e(1, w(3, 1), 50, Some(60)),
            e(2, r(3, 1), 70, Some(80)),
        ];
        assert_eq!(
            check(&ZnodeRegister, &lost, 1_000_000),
            Verdict::Linearizable
        );
    }

    #[test]
    fn versions_must_not_repeat() {
        // Two acknowledged writes both returning version 1: one was lost.
        let h = [e(0, w(5, 1), 0, Some(10)), e(1, w(7, 1), 20, Some(30))];
        assert!(matches!(
            check(&ZnodeRegister, &h, 1_000_000),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn cas_needs_the_expected_version() {
        let ok = RegOp::Cas {
            value: 8,
            expected: 1,
            ok: Some(true),
            version: Some(2),
        };
        let failed = RegOp::Cas {
            value: 9,
            expected: 1,
            ok: Some(false),
            version: None,
        };
        let good = [
            e(0, w(5, 1), 0, Some(10)),
            e(1, ok.clone(), 20, Some(30)),
            e(2, failed.clone(), 40, Some(50)),
        ];
        assert_eq!(
            check(&ZnodeRegister, &good, 1_000_000),
            Verdict::Linearizable
        );
        // A BadVersion while the version was still 1 and nothing else could run.
        let bad = [e(0, w(5, 1), 0, Some(10)), e(1, failed, 20, Some(30))];
        assert!(matches!(
            check(&ZnodeRegister, &bad, 1_000_000),
            Verdict::NotLinearizable { .. }
        ));
    }

    /// The version-order check agrees with the search on the histories above.
    #[test]
    fn version_order_agrees() {
        let cases: Vec<(Vec<Entry<RegOp>>, bool)> = vec![
            (
                vec![
                    e(0, w(5, 1), 0, Some(10)),
                    e(1, r(5, 1), 11, Some(20)),
                    e(2, w(7, 2), 21, Some(30)),
                ],
                true,
            ),
            (
                vec![
                    e(0, w(5, 1), 0, Some(10)),
                    e(1, w(7, 2), 11, Some(20)),
                    e(2, r(5, 1), 21, Some(30)),
                ],
                false,
            ),
            (
                vec![
                    e(0, w(5, 1), 0, Some(10)),
                    e(1, w(7, 2), 11, Some(30)),
                    e(2, r(5, 1), 12, Some(20)),
                ],
                true,
            ),
            (
                vec![e(0, w(5, 1), 0, Some(10)), e(1, w(7, 1), 20, Some(30))],
                false,
            ),
            // An unknown write fills version 1, another may not have happened.
            (
                vec![
                    e(
                        0,
                        RegOp::Write {
                            value: 9,
                            version: None,
                        },
                        0,
                        None,
                    ),
                    e(
                        1,
                        RegOp::Write {
                            value: 8,
                            version: None,
                        },
                        0,
                        None,
                    ),
                    e(2, w(3, 2), 50, Some(60)),
                ],
                true,
            ),
            // Version 1 taken by nobody who could: the unknown write began after version 2 was read.
            (
                vec![
                    e(0, w(3, 2), 0, Some(10)),
                    e(
                        1,
                        RegOp::Write {
                            value: 8,
                            version: None,
                        },
                        20,
                        None,
                    ),
                ],
                false,
            ),
        ];
        for (i, (h, ok)) in cases.iter().enumerate() {
            assert_eq!(version_order(h, false).is_ok(), *ok, "case {i}");
            let wgl = check(&ZnodeRegister, h, 1_000_000) == Verdict::Linearizable;
            assert_eq!(wgl, *ok, "case {i} (search)");
        }
    }

    #[test]
    fn budget_is_reported() {
        let h: Vec<_> = (0..20)
            .map(|i| {
                e(
                    i,
                    RegOp::Write {
                        value: i as i64,
                        version: None,
                    },
                    0,
                    None,
                )
            })
            .chain([e(100, r(-1, 20), 10, Some(20))])
            .collect();
        assert!(matches!(
            check(&ZnodeRegister, &h, 1000),
            Verdict::Unknown { .. }
        ));
    }
}
