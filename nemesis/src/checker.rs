//! What ZooKeeper promises, checked on a history (see README.md, "What is checked").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::history::{Call, History, Op, Outcome, Ret};
use crate::wgl::{self, Entry, RegOp, Verdict, ZnodeRegister};

/// Search steps the linearizability check may take per znode.
pub const WGL_BUDGET: u64 = 3_000_000;

/// Something the history shows ZooKeeper's guarantees do not hold for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Anomaly {
    pub check: String,
    /// The ops involved (history ids).
    pub ops: Vec<u64>,
    pub message: String,
}

/// The result of one check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: String,
    pub ops: usize,
    pub unknown: usize,
    pub anomalies: Vec<Anomaly>,
    /// Anything the check could not decide (e.g. the search budget), not an anomaly.
    pub notes: Vec<String>,
}

impl CheckResult {
    fn new(check: &str) -> CheckResult {
        CheckResult {
            check: check.to_string(),
            ops: 0,
            unknown: 0,
            anomalies: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn count(&mut self, op: &Op) {
        self.ops += 1;
        if op.outcome == Outcome::Unknown {
            self.unknown += 1;
        }
    }

    fn anomaly(&mut self, ops: Vec<u64>, message: String) {
        self.anomalies.push(Anomaly {
            check: self.check.clone(),
            ops,
            message,
        });
    }

    /// `name: N ops, K unknown, A anomalies`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{:<22} {} ops, {} unknown, {} anomalies",
            format!("{}:", self.check),
            self.ops,
            self.unknown,
            self.anomalies.len()
        );
        for n in &self.notes {
            s.push_str(&format!(" ({n})"));
        }
        s
    }
}

/// Runs every check.
pub fn check_all(h: &History) -> Vec<CheckResult> {
    vec![
        linearizable(h),
        session_reads(h),
        sync_reads(h),
        session_fifo(h),
        final_state(h),
        unique_ids(h),
        counter(h),
        lock(h),
        ephemerals(h),
    ]
}

/// Whether every check passed.
pub fn passed(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.anomalies.is_empty())
}

fn version_of(op: &Op) -> Option<i32> {
    match op.ret {
        Ret::Version { version } | Ret::Value { version, .. } => Some(version),
        _ => None,
    }
}

/// The register op an op is, if the linearizability check takes it (writes of any outcome,
/// sync-reads and final reads that returned).
fn reg_op(op: &Op) -> Option<RegOp> {
    let version = if op.outcome == Outcome::Ok {
        version_of(op)
    } else {
        None
    };
    match (&op.call, op.outcome) {
        (_, Outcome::Fail) if !matches!(op.call, Call::Cas { .. }) => None,
        (Call::Write { value, .. }, _) => Some(RegOp::Write {
            value: *value,
            version,
        }),
        (
            Call::Cas {
                value, expected, ..
            },
            o,
        ) => Some(RegOp::Cas {
            value: *value,
            expected: *expected,
            ok: match o {
                Outcome::Ok => Some(true),
                Outcome::Fail => Some(false),
                Outcome::Unknown => None,
            },
            version,
        }),
        (Call::SyncRead { .. } | Call::FinalRead { .. }, Outcome::Ok) => match op.ret {
            Ret::Value { value, version } => Some(RegOp::Read { value, version }),
            _ => None,
        },
        _ => None,
    }
}

/// Writes, conditional writes and sync-reads linearizable per znode.
pub fn linearizable(h: &History) -> CheckResult {
    let mut r = CheckResult::new("linearizable");
    let mut by_key: BTreeMap<&str, Vec<Entry<RegOp>>> = BTreeMap::new();
    for op in &h.ops {
        let Some(key) = op.call.key() else { continue };
        let Some(rop) = reg_op(op) else { continue };
        r.count(op);
        by_key.entry(key).or_default().push(Entry {
            id: op.id,
            op: rop,
            invoke: op.invoke,
            ret: (op.outcome != Outcome::Unknown).then_some(op.complete),
        });
    }
    for (key, entries) in by_key.iter_mut() {
        let dropped = prune_unapplied(h, key, entries);
        if dropped > 0 {
            tracing::debug!("znode {key}: {dropped} unknown writes cannot have happened");
        }
        match wgl::check(&ZnodeRegister, entries, WGL_BUDGET) {
            Verdict::Linearizable => {}
            Verdict::NotLinearizable { stuck, depth } => {
                let concurrent = concurrent_with(h, stuck, key);
                r.anomaly(
                    concurrent,
                    format!(
                        "znode {key}: no linearization of its {} ops; the search got no \
                         further than {depth} ops, stuck at op {stuck}",
                        entries.len()
                    ),
                );
            }
            Verdict::Unknown { steps } => match wgl::version_order(entries, *key == "counter") {
                Ok(()) => r.notes.push(format!(
                    "znode {key}: search undecided after {steps} steps; linearizable by version order"
                )),
                Err((ops, why)) => r.anomaly(
                    ops,
                    format!("znode {key}: not linearizable (version order): {why}"),
                ),
            },
        }
    }
    r
}

/// Drops the unknown writes of `key` that the final version shows did not happen, so the
/// search need not try every subset of them: each applied setData bumps the version by one, so
/// the final version counts the applied writes. Acknowledged writes are applied; an unknown
/// write whose value was read is applied (register values are unique). If these already
/// account for the final version, no unknown write whose value nobody read was applied. (For
/// the counter, whose values repeat, only when no unknown increment's value was read.)
fn prune_unapplied(h: &History, key: &str, entries: &mut Vec<Entry<RegOp>>) -> usize {
    let mut observed: BTreeSet<i64> = BTreeSet::new();
    let mut final_version: Option<i32> = None;
    for op in h.ops.iter().filter(|o| o.call.key() == Some(key)) {
        if let (Outcome::Ok, Ret::Value { value, version }) = (op.outcome, &op.ret) {
            observed.insert(*value);
            if matches!(op.call, Call::FinalRead { .. }) {
                final_version = Some(final_version.map_or(*version, |v| v.max(*version)));
            }
        }
    }
    let Some(final_version) = final_version else {
        return 0;
    };
    let unknown_value = |e: &Entry<RegOp>| match e.op {
        RegOp::Write {
            value,
            version: None,
        } if e.ret.is_none() => Some(value),
        RegOp::Cas {
            value, ok: None, ..
        } => Some(value),
        _ => None,
    };
    let acked = entries
        .iter()
        .filter(|e| {
            matches!(
                e.op,
                RegOp::Write {
                    version: Some(_),
                    ..
                } | RegOp::Cas { ok: Some(true), .. }
            )
        })
        .count();
    let seen_unknown = entries
        .iter()
        .filter(|e| unknown_value(e).is_some_and(|v| observed.contains(&v)))
        .count();
    if key == "counter" && seen_unknown > 0 {
        return 0;
    }
    if i64::from(final_version) != (acked + seen_unknown) as i64 {
        return 0;
    }
    let before = entries.len();
    entries.retain(|e| unknown_value(e).is_none_or(|v| observed.contains(&v)));
    before - entries.len()
}

/// The op `id` and the ops on `key` overlapping it (for the report).
fn concurrent_with(h: &History, id: u64, key: &str) -> Vec<u64> {
    let Some(op) = h.ops.iter().find(|o| o.id == id) else {
        return vec![id];
    };
    let mut v = vec![id];
    v.extend(
        h.ops
            .iter()
            .filter(|o| o.id != id && o.call.key() == Some(key))
            .filter(|o| o.invoke <= op.complete && o.complete >= op.invoke)
            .map(|o| o.id)
            .take(20),
    );
    v
}

/// Reads sequentially consistent per session: a session never reads a version older than one
/// it read or wrote before, and what is read at a version is what was written at it.
pub fn session_reads(h: &History) -> CheckResult {
    let mut r = CheckResult::new("session-reads");
    // (key, version) -> (value, op) of acknowledged writes; values ever written per key.
    let mut written: HashMap<(&str, i32), (i64, u64)> = HashMap::new();
    let mut values: HashMap<&str, BTreeSet<i64>> = HashMap::new();
    for op in &h.ops {
        let (key, value) = match &op.call {
            Call::Write { key, value } | Call::Cas { key, value, .. } => (key.as_str(), *value),
            _ => continue,
        };
        values.entry(key).or_default().insert(value);
        if op.outcome == Outcome::Ok
            && let Ret::Version { version } = op.ret
            && let Some((other, oid)) = written.insert((key, version), (value, op.id))
            && other != value
        {
            r.anomaly(
                vec![oid, op.id],
                format!("znode {key}: two acknowledged writes got version {version}"),
            );
        }
    }
    // Per session, ops by completion; a read must not see a version below what the session
    // saw in ops that completed before the read was invoked.
    let mut sessions: HashMap<&str, Vec<&Op>> = HashMap::new();
    for op in &h.ops {
        if let Some(s) = &op.session {
            sessions.entry(s).or_default().push(op);
        }
    }
    for ops in sessions.values() {
        let mut by_complete: Vec<&Op> = ops
            .iter()
            .copied()
            .filter(|o| o.outcome == Outcome::Ok && o.call.key().is_some())
            .collect();
        by_complete.sort_by_key(|o| o.complete);
        let mut seen: HashMap<&str, (i32, u64, u64)> = HashMap::new(); // key -> (version, op, complete)
        let mut reads: Vec<&Op> = by_complete
            .iter()
            .copied()
            .filter(|o| matches!(o.call, Call::Read { .. } | Call::SyncRead { .. }))
            .collect();
        reads.sort_by_key(|o| o.invoke);
        let mut idx = 0;
        for read in reads {
            // Everything of this session that completed before the read began.
            while idx < by_complete.len() && by_complete[idx].complete < read.invoke {
                let o = by_complete[idx];
                if let (Some(k), Some(v)) = (o.call.key(), version_of(o)) {
                    let e = seen.entry(k).or_insert((v, o.id, o.complete));
                    if v > e.0 {
                        *e = (v, o.id, o.complete);
                    }
                }
                idx += 1;
            }
            let (Some(key), Some(v)) = (read.call.key(), version_of(read)) else {
                continue;
            };
            r.count(read);
            if let Some(&(max, oid, _)) = seen.get(key)
                && v < max
            {
                r.anomaly(
                    vec![oid, read.id],
                    format!(
                        "znode {key}: session {} read version {v} after it had seen version {max}",
                        read.session.as_deref().unwrap_or("?")
                    ),
                );
            }
        }
    }
    // Every read returns what some write wrote at that version.
    for op in &h.ops {
        let (Some(key), Outcome::Ok, Ret::Value { value, version }) =
            (op.call.key(), op.outcome, &op.ret)
        else {
            continue;
        };
        if matches!(op.call, Call::FinalRead { .. }) {
            r.count(op);
        }
        if *version == 0 && *value == 0 {
            continue;
        }
        if let Some(&(w, wid)) = written.get(&(key, *version))
            && w != *value
        {
            r.anomaly(
                vec![wid, op.id],
                format!(
                    "znode {key}: read {value} at version {version}, which op {wid} wrote as {w}"
                ),
            );
        } else if !values.get(key).is_some_and(|s| s.contains(value)) {
            r.anomaly(
                vec![op.id],
                format!("znode {key}: read {value} (version {version}), which nobody wrote"),
            );
        }
    }
    r
}

/// sync then read sees every write acknowledged before the sync began.
pub fn sync_reads(h: &History) -> CheckResult {
    let mut r = CheckResult::new("sync-reads");
    let mut acked: HashMap<&str, Vec<(u64, i32, u64)>> = HashMap::new(); // key -> (complete, version, op)
    for op in &h.ops {
        if matches!(op.call, Call::Write { .. } | Call::Cas { .. })
            && op.outcome == Outcome::Ok
            && let (Some(k), Some(v)) = (op.call.key(), version_of(op))
        {
            acked.entry(k).or_default().push((op.complete, v, op.id));
        }
    }
    for v in acked.values_mut() {
        v.sort_unstable();
    }
    for op in &h.ops {
        if !matches!(op.call, Call::SyncRead { .. } | Call::FinalRead { .. }) {
            continue;
        }
        r.count(op);
        let (Some(key), Outcome::Ok, Some(v)) = (op.call.key(), op.outcome, version_of(op)) else {
            continue;
        };
        let Some(writes) = acked.get(key) else {
            continue;
        };
        let before = writes.partition_point(|w| w.0 < op.invoke);
        if let Some(&(_, max, wid)) = writes[..before].iter().max_by_key(|w| w.1)
            && v < max
        {
            r.anomaly(
                vec![wid, op.id],
                format!(
                    "znode {key}: sync+read returned version {v}, but version {max} was \
                     acknowledged (op {wid}) before the sync began"
                ),
            );
        }
    }
    r
}

/// Requests of one session take effect in the order sent.
pub fn session_fifo(h: &History) -> CheckResult {
    let mut r = CheckResult::new("session-fifo");
    for op in &h.ops {
        let Call::FifoBatch { key, .. } = &op.call else {
            continue;
        };
        r.count(op);
        let Ret::Versions { versions } = &op.ret else {
            continue;
        };
        let mut last: Option<i32> = None;
        let mut gap = false;
        for v in versions {
            match v {
                None => gap = true,
                Some(v) => {
                    if gap {
                        r.anomaly(
                            vec![op.id],
                            format!(
                                "znode {key}: a pipelined write succeeded after an earlier one of \
                                 the same session failed: {versions:?}"
                            ),
                        );
                        break;
                    }
                    if last.is_some_and(|l| *v <= l) {
                        r.anomaly(
                            vec![op.id],
                            format!(
                                "znode {key}: pipelined writes applied out of order: {versions:?}"
                            ),
                        );
                        break;
                    }
                    last = Some(*v);
                }
            }
        }
    }
    r
}

/// At the end every replica has every acknowledged write, and they agree.
pub fn final_state(h: &History) -> CheckResult {
    let mut r = CheckResult::new("final-state");
    let mut per_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    let mut ids_per_node: Vec<(usize, BTreeSet<&str>, u64)> = Vec::new();
    for op in &h.ops {
        match (&op.call, &op.ret) {
            (Call::FinalRead { key, .. }, _) => {
                r.count(op);
                per_key.entry(key).or_default().push(op);
            }
            (Call::FinalIds { node }, Ret::Children { names }) => {
                r.count(op);
                ids_per_node.push((*node, names.iter().map(String::as_str).collect(), op.id));
            }
            _ => {}
        }
    }
    let nodes_read: BTreeSet<usize> = h
        .ops
        .iter()
        .filter_map(|o| match o.call {
            Call::FinalIds { node } => Some(node),
            _ => None,
        })
        .collect();
    if nodes_read.len() < h.nodes {
        r.anomaly(
            vec![],
            format!(
                "only {} of {} nodes answered the final reads",
                nodes_read.len(),
                h.nodes
            ),
        );
    }
    for (key, reads) in &per_key {
        let first = reads[0];
        for o in &reads[1..] {
            if o.ret != first.ret {
                r.anomaly(
                    vec![first.id, o.id],
                    format!(
                        "znode {key}: replicas disagree at the end: {:?} vs {:?}",
                        first.ret, o.ret
                    ),
                );
            }
        }
        let max_acked = h
            .ops
            .iter()
            .filter(|o| {
                o.call.key() == Some(*key)
                    && matches!(o.call, Call::Write { .. } | Call::Cas { .. })
                    && o.outcome == Outcome::Ok
            })
            .filter_map(|o| version_of(o).map(|v| (v, o.id)))
            .max();
        for o in reads {
            if let (Some((max, wid)), Some(v)) = (max_acked, version_of(o))
                && v < max
            {
                r.anomaly(
                    vec![wid, o.id],
                    format!(
                        "znode {key}: a replica ends at version {v}, the acknowledged op {wid} \
                         wrote version {max}: an acknowledged write is lost"
                    ),
                );
            }
        }
    }
    let created: Vec<(&Op, String)> = h
        .ops
        .iter()
        .filter(|o| o.call == Call::CreateSeq && o.outcome == Outcome::Ok)
        .filter_map(|o| match o.ret {
            Ret::Seq { seq } => Some((o, format!("id-{seq:010}"))),
            _ => None,
        })
        .collect();
    for (node, names, fid) in &ids_per_node {
        let missing: Vec<&(&Op, String)> = created
            .iter()
            .filter(|(_, n)| !names.contains(n.as_str()))
            .collect();
        if let Some((o, name)) = missing.first() {
            r.anomaly(
                vec![o.id, *fid],
                format!(
                    "node {node} lacks {} acknowledged sequential creates at the end (first: {name})",
                    missing.len()
                ),
            );
        }
    }
    if let Some((n0, first, _)) = ids_per_node.first() {
        for (n, names, fid) in &ids_per_node[1..] {
            if names != first {
                r.anomaly(
                    vec![*fid],
                    format!("nodes {n0} and {n} end with different ids children"),
                );
            }
        }
    }
    // zoolog's digests: nodes at one applied position must agree.
    let mut by_pos: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in &h.digests {
        let mut pos = String::new();
        let mut dig = String::new();
        for part in d.split_whitespace().collect::<Vec<_>>().chunks(2) {
            match part {
                ["applied:", p] => pos = p.to_string(),
                ["digest:", g] => dig = g.to_string(),
                _ => {}
            }
        }
        by_pos.entry(pos).or_default().insert(dig);
    }
    for (pos, digs) in &by_pos {
        if digs.len() > 1 {
            r.anomaly(
                vec![],
                format!("replicas at applied position {pos} have different digests: {digs:?}"),
            );
        }
    }
    if by_pos.len() > 1 {
        r.notes
            .push(format!("digests taken at {} positions", by_pos.len()));
    }
    r
}

/// Sequential creates never hand out one number twice.
pub fn unique_ids(h: &History) -> CheckResult {
    let mut r = CheckResult::new("unique-ids");
    let mut seen: HashMap<i64, u64> = HashMap::new();
    let mut unknown = 0usize;
    for op in h.ops.iter().filter(|o| o.call == Call::CreateSeq) {
        r.count(op);
        if op.outcome == Outcome::Unknown {
            unknown += 1;
        }
        if let (Outcome::Ok, Ret::Seq { seq }) = (op.outcome, &op.ret)
            && let Some(other) = seen.insert(*seq, op.id)
        {
            r.anomaly(
                vec![other, op.id],
                format!("sequence number {seq} handed out twice"),
            );
        }
    }
    // No more ids exist at the end than creates that may have happened.
    for op in &h.ops {
        if let (Call::FinalIds { node }, Ret::Children { names }) = (&op.call, &op.ret)
            && names.len() > seen.len() + unknown
        {
            r.anomaly(
                vec![op.id],
                format!(
                    "node {node} has {} ids children, but only {} creates were acknowledged \
                     and {unknown} are unknown",
                    names.len(),
                    seen.len()
                ),
            );
        }
    }
    r
}

/// The counter (conditional increments) ends between the acknowledged increments and those
/// plus the unknown ones.
pub fn counter(h: &History) -> CheckResult {
    let mut r = CheckResult::new("counter");
    let (mut ok, mut unknown) = (0i64, 0i64);
    for op in &h.ops {
        if let Call::Cas { key, .. } = &op.call
            && key == "counter"
        {
            r.count(op);
            match op.outcome {
                Outcome::Ok => ok += 1,
                Outcome::Unknown => unknown += 1,
                Outcome::Fail => {}
            }
        }
    }
    for op in &h.ops {
        if let (Call::FinalRead { key, node }, Ret::Value { value, .. }) = (&op.call, &op.ret)
            && key == "counter"
            && (*value < ok || *value > ok + unknown)
        {
            r.anomaly(
                vec![op.id],
                format!(
                    "node {node}: the counter ends at {value}, but {ok} increments were \
                     acknowledged and {unknown} are unknown"
                ),
            );
        }
    }
    r
}

/// At most one live session holds the lock at a time.
pub fn lock(h: &History) -> CheckResult {
    let mut r = CheckResult::new("lock");
    let mut holds: Vec<&Op> = h.ops.iter().filter(|o| o.call == Call::Hold).collect();
    for op in h.ops.iter().filter(|o| o.call == Call::Acquire) {
        r.count(op);
    }
    holds.sort_by_key(|o| o.invoke);
    for (i, a) in holds.iter().enumerate() {
        for b in &holds[i + 1..] {
            if b.invoke >= a.complete {
                break;
            }
            if a.session != b.session {
                r.anomaly(
                    vec![a.id, b.id],
                    format!(
                        "sessions {} and {} held the lock at once, both connected",
                        a.session.as_deref().unwrap_or("?"),
                        b.session.as_deref().unwrap_or("?")
                    ),
                );
            }
        }
    }
    r
}

/// An ephemeral exists exactly while its session does.
pub fn ephemerals(h: &History) -> CheckResult {
    let mut r = CheckResult::new("ephemerals");
    let mut created: HashMap<&str, &Op> = HashMap::new();
    let mut gone_at: HashMap<&str, &Op> = HashMap::new();
    for op in &h.ops {
        match &op.call {
            Call::EphCreate { path } => {
                r.count(op);
                if op.outcome == Outcome::Ok {
                    created.insert(path, op);
                }
            }
            Call::EphCheck { .. } | Call::EphGone { .. } => r.count(op),
            _ => {}
        }
    }
    let mut by_complete: Vec<&Op> = h.ops.iter().collect();
    by_complete.sort_by_key(|o| o.complete);
    for op in by_complete {
        match (&op.call, op.outcome, &op.ret) {
            (Call::EphCheck { path }, Outcome::Ok, Ret::Exists { present: false })
                if created.contains_key(path.as_str()) =>
            {
                let c = created[path.as_str()];
                r.anomaly(
                    vec![c.id, op.id],
                    format!(
                        "{path} vanished while its session {} was alive (it just answered)",
                        op.session.as_deref().unwrap_or("?")
                    ),
                );
            }
            (Call::EphGone { path }, Outcome::Ok, Ret::Exists { present }) => {
                if *present {
                    if let Some(g) = gone_at.get(path.as_str())
                        && g.complete < op.invoke
                    {
                        r.anomaly(
                            vec![g.id, op.id],
                            format!("{path} came back after it was seen gone"),
                        );
                    }
                } else {
                    gone_at.entry(path).or_insert(op);
                }
            }
            _ => {}
        }
    }
    for op in &h.ops {
        if let (Call::FinalEphemerals { node }, Ret::Children { names }) = (&op.call, &op.ret)
            && !names.is_empty()
        {
            r.anomaly(
                vec![op.id],
                format!(
                    "node {node}: {} ephemerals outlived their closed sessions: {}",
                    names.len(),
                    names.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    r
}
