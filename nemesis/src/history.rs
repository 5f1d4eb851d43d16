//! The history of a campaign: every client operation with its invocation and completion on one
//! monotonic clock (nanoseconds since the campaign started), and every fault and heal.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Call {
    /// Unconditional setData of register `key` to `value`.
    Write { key: String, value: i64 },
    /// setData of `key` to `value` with `expected` version (also the counter's increment).
    Cas {
        key: String,
        value: i64,
        expected: i32,
    },
    /// getData of `key`.
    Read { key: String },
    /// sync then getData of `key`; the op's invocation is the sync's.
    SyncRead { key: String },
    /// sync + getData of `key` on one node, after the run, faults healed.
    FinalRead { key: String, node: usize },
    /// Several setData on `key` sent back to back on one session before any reply.
    FifoBatch { key: String, n: usize },
    /// A persistent sequential create under the ids parent.
    CreateSeq,
    /// The children of the ids parent on one node, after the run.
    FinalIds { node: usize },
    /// One try for the lock (ephemeral sequential child, lowest wins).
    Acquire,
    /// The time a client held the lock with its session connected throughout: the op's
    /// invocation is when it got the lock, its completion when it let go (or saw a disconnect).
    Hold,
    /// Delete of the client's lock node.
    Release,
    /// Create of an ephemeral node `path` by a fresh session.
    EphCreate { path: String },
    /// exists of the session's own ephemeral `path`, on that session.
    EphCheck { path: String },
    /// The session that owned `path` is closed by the client (or seen expired).
    EphClose { path: String, expired: bool },
    /// exists of `path` from another session (sync first), after its owner closed.
    EphGone { path: String },
    /// The ephemeral children of the ephemerals parent on one node, after the run.
    FinalEphemerals { node: usize },
}

impl Call {
    /// The register key this call is on (writes, reads, CAS, counter).
    pub fn key(&self) -> Option<&str> {
        match self {
            Call::Write { key, .. }
            | Call::Cas { key, .. }
            | Call::Read { key }
            | Call::SyncRead { key }
            | Call::FinalRead { key, .. }
            | Call::FifoBatch { key, .. } => Some(key),
            _ => None,
        }
    }

    /// A short name for tables and the timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Write { .. } => "write",
            Call::Cas { .. } => "cas",
            Call::Read { .. } => "read",
            Call::SyncRead { .. } => "sync-read",
            Call::FinalRead { .. } => "final-read",
            Call::FifoBatch { .. } => "fifo-batch",
            Call::CreateSeq => "create-seq",
            Call::FinalIds { .. } => "final-ids",
            Call::Acquire => "acquire",
            Call::Hold => "hold",
            Call::Release => "release",
            Call::EphCreate { .. } => "eph-create",
            Call::EphCheck { .. } => "eph-check",
            Call::EphClose { .. } => "eph-close",
            Call::EphGone { .. } => "eph-gone",
            Call::FinalEphemerals { .. } => "final-ephemerals",
        }
    }
}

/// What came back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "kebab-case")]
pub enum Ret {
    #[default]
    Nothing,
    /// The znode's version after a write.
    Version { version: i32 },
    /// A read: the register's value and version.
    Value { value: i64, version: i32 },
    /// The versions of a FIFO batch, in the order the writes were sent (`None`: that write
    /// failed or its outcome is unknown).
    Versions { versions: Vec<Option<i32>> },
    /// A sequential create's sequence number.
    Seq { seq: i64 },
    /// Names of children.
    Children { names: Vec<String> },
    /// Whether a znode exists.
    Exists { present: bool },
    /// The lock try: the node created and whether it was the lowest.
    Lock { node: String, acquired: bool },
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It happened, with the result in `ret`.
    Ok,
    /// It did not happen (a definite error such as BadVersion).
    Fail,
    /// It may or may not have happened (ConnectionLoss, timeout, session expired in flight).
    Unknown,
}

/// One client operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Op {
    pub id: u64,
    /// The client worker (a sequence of sessions, one operation at a time).
    pub process: usize,
    /// The session id (hex) the op ran on, if it had one.
    pub session: Option<String>,
    pub call: Call,
    pub ret: Ret,
    pub outcome: Outcome,
    /// The error of a failed or unknown op.
    pub error: Option<String>,
    /// Nanoseconds since the campaign started.
    pub invoke: u64,
    /// When the client saw the result (for an unknown op: when it gave up).
    pub complete: u64,
}

/// A fault started or healed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NemesisEvent {
    pub time: u64,
    /// `start` or `heal`.
    pub phase: String,
    /// The fault's name (kill, pause-leader, partition-half, clock, ...).
    pub fault: String,
    /// Which nodes, what was done.
    pub detail: String,
}

/// Everything a campaign recorded.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    pub target: String,
    pub nodes: usize,
    pub ops: Vec<Op>,
    pub nemesis: Vec<NemesisEvent>,
    /// The state digests the zoolog nodes reported at the end (`node: text`), if any.
    pub digests: Vec<String>,
}

/// Records ops and faults from many tasks; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    ops: Vec<Op>,
    nemesis: Vec<NemesisEvent>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    /// Nanoseconds since the recorder was made (the history's clock).
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the invocation of `call` now; returns the op's id for [`Recorder::end`]. An op
    /// never ended is in the history as unknown (e.g. its task was cancelled).
    pub fn begin(&self, process: usize, session: Option<String>, call: Call) -> u64 {
        let invoke = self.now();
        let mut g = self.lock();
        let id = g.ops.len() as u64;
        g.ops.push(Op {
            id,
            process,
            session,
            call,
            ret: Ret::Nothing,
            outcome: Outcome::Unknown,
            error: Some("never completed".into()),
            invoke,
            complete: u64::MAX,
        });
        id
    }

    /// Records the completion of op `id` now.
    pub fn end(&self, id: u64, outcome: Outcome, ret: Ret, error: Option<String>) {
        let complete = self.now();
        let mut g = self.lock();
        if let Some(op) = g.ops.get_mut(id as usize) {
            op.outcome = outcome;
            op.ret = ret;
            op.error = error;
            op.complete = complete.max(op.invoke);
        }
    }

    /// The invocation time of op `id`.
    pub fn invoke_time(&self, id: u64) -> u64 {
        self.lock().ops.get(id as usize).map_or(0, |o| o.invoke)
    }

    /// Records a whole op with both times given (e.g. a lock hold).
    #[allow(clippy::too_many_arguments)]
    pub fn op_at(
        &self,
        process: usize,
        session: Option<String>,
        call: Call,
        invoke: u64,
        complete: u64,
        outcome: Outcome,
        ret: Ret,
    ) -> u64 {
        let mut g = self.lock();
        let id = g.ops.len() as u64;
        g.ops.push(Op {
            id,
            process,
            session,
            call,
            ret,
            outcome,
            error: None,
            invoke,
            complete: complete.max(invoke),
        });
        id
    }

    /// Records a fault or heal now.
    pub fn nemesis(&self, phase: &str, fault: &str, detail: impl Into<String>) {
        let time = self.now();
        let detail = detail.into();
        tracing::info!("nemesis {phase} {fault}: {detail}");
        self.lock().nemesis.push(NemesisEvent {
            time,
            phase: phase.to_string(),
            fault: fault.to_string(),
            detail,
        });
    }

    /// How many ops are recorded, and how many of them ok.
    pub fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        let ok = g.ops.iter().filter(|o| o.outcome == Outcome::Ok).count();
        (g.ops.len(), ok)
    }

    /// The history so far, ops sorted by invocation.
    pub fn history(&self, target: &str, nodes: usize) -> History {
        let now = self.now();
        let g = self.lock();
        let mut ops = g.ops.clone();
        for o in &mut ops {
            if o.complete == u64::MAX {
                o.complete = now.max(o.invoke);
            }
        }
        ops.sort_by_key(|o| (o.invoke, o.id));
        History {
            target: target.to_string(),
            nodes,
            ops,
            nemesis: g.nemesis.clone(),
            digests: Vec::new(),
        }
    }
}
