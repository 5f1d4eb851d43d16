//! The checker finds what it is meant to: each check against a history with the anomaly
//! planted, and the same history without it.

use zoolog_nemesis::checker::{self, CheckResult};
use zoolog_nemesis::history::{Call, History, Op, Outcome, Ret};

struct H {
    ops: Vec<Op>,
}

impl H {
    fn new() -> H {
        H { ops: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn op(&mut self, p: usize, s: &str, call: Call, t0: u64, t1: u64, o: Outcome, ret: Ret) -> u64 {
        let id = self.ops.len() as u64;
        self.ops.push(Op {
            id,
            process: p,
            session: Some(s.to_string()),
            call,
            ret,
            outcome: o,
            error: None,
            invoke: t0,
            complete: t1,
        });
        id
    }

    fn history(&self) -> History {
        History {
            target: "test".into(),
            nodes: 1,
            ops: self.ops.clone(),
            nemesis: vec![],
            digests: vec![],
        }
    }
}

fn result(h: &History, name: &str) -> CheckResult {
    checker::check_all(h)
        .into_iter()
        .find(|r| r.check == name)
        .expect("check exists")
}

fn write(key: &str, value: i64) -> Call {
    Call::Write {
        key: key.into(),
        value,
    }
}

fn final_read(key: &str) -> Call {
    Call::FinalRead {
        key: key.into(),
        node: 0,
    }
}

/// A write acknowledged at version 2, a final replica at version 1: lost.
#[test]
fn lost_acknowledged_write_is_found() {
    for lost in [false, true] {
        let mut h = H::new();
        h.op(
            0,
            "a",
            write("r0", 11),
            0,
            10,
            Outcome::Ok,
            Ret::Version { version: 1 },
        );
        h.op(
            0,
            "a",
            write("r0", 12),
            20,
            30,
            Outcome::Ok,
            Ret::Version { version: 2 },
        );
        let (v, ver) = if lost { (11, 1) } else { (12, 2) };
        h.op(
            9,
            "f",
            final_read("r0"),
            100,
            110,
            Outcome::Ok,
            Ret::Value {
                value: v,
                version: ver,
            },
        );
        h.op(
            9,
            "f",
            Call::FinalIds { node: 0 },
            100,
            110,
            Outcome::Ok,
            Ret::Children { names: vec![] },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "final-state").anomalies.is_empty(), lost);
        assert_eq!(!result(&hist, "linearizable").anomalies.is_empty(), lost);
    }
}

/// A session reads version 1 after it wrote version 2.
#[test]
fn stale_session_read_is_found() {
    for stale in [false, true] {
        let mut h = H::new();
        h.op(
            0,
            "a",
            write("r0", 11),
            0,
            10,
            Outcome::Ok,
            Ret::Version { version: 1 },
        );
        h.op(
            1,
            "b",
            write("r0", 12),
            20,
            30,
            Outcome::Ok,
            Ret::Version { version: 2 },
        );
        let (v, ver) = if stale { (11, 1) } else { (12, 2) };
        h.op(
            1,
            "b",
            Call::Read { key: "r0".into() },
            40,
            50,
            Outcome::Ok,
            Ret::Value {
                value: v,
                version: ver,
            },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "session-reads").anomalies.is_empty(), stale);
    }
}

/// sync then read misses a write acknowledged before the sync.
#[test]
fn stale_sync_read_is_found() {
    for stale in [false, true] {
        let mut h = H::new();
        h.op(
            0,
            "a",
            write("r0", 11),
            0,
            10,
            Outcome::Ok,
            Ret::Version { version: 1 },
        );
        h.op(
            0,
            "a",
            write("r0", 12),
            20,
            30,
            Outcome::Ok,
            Ret::Version { version: 2 },
        );
        let (v, ver) = if stale { (11, 1) } else { (12, 2) };
        h.op(
            1,
            "b",
            Call::SyncRead { key: "r0".into() },
            40,
            50,
            Outcome::Ok,
            Ret::Value {
                value: v,
                version: ver,
            },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "sync-reads").anomalies.is_empty(), stale);
        assert_eq!(!result(&hist, "linearizable").anomalies.is_empty(), stale);
    }
}

#[test]
fn duplicate_sequence_number_is_found() {
    for dup in [false, true] {
        let mut h = H::new();
        h.op(
            0,
            "a",
            Call::CreateSeq,
            0,
            10,
            Outcome::Ok,
            Ret::Seq { seq: 1 },
        );
        h.op(
            1,
            "b",
            Call::CreateSeq,
            0,
            10,
            Outcome::Ok,
            Ret::Seq {
                seq: if dup { 1 } else { 2 },
            },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "unique-ids").anomalies.is_empty(), dup);
    }
}

#[test]
fn two_lock_holders_are_found() {
    for overlap in [false, true] {
        let mut h = H::new();
        h.op(0, "a", Call::Hold, 0, 100, Outcome::Ok, Ret::Nothing);
        let start = if overlap { 50 } else { 150 };
        h.op(
            1,
            "b",
            Call::Hold,
            start,
            start + 100,
            Outcome::Ok,
            Ret::Nothing,
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "lock").anomalies.is_empty(), overlap);
    }
}

#[test]
fn ephemeral_outliving_its_session_is_found() {
    for left in [false, true] {
        let mut h = H::new();
        let names = if left {
            vec!["e-1-1".to_string()]
        } else {
            vec![]
        };
        h.op(
            9,
            "f",
            Call::FinalEphemerals { node: 0 },
            0,
            10,
            Outcome::Ok,
            Ret::Children { names },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "ephemerals").anomalies.is_empty(), left);
    }
}

#[test]
fn ephemeral_vanishing_under_a_live_session_is_found() {
    for vanished in [false, true] {
        let mut h = H::new();
        let path = "/nemesis/eph/e-1-1".to_string();
        h.op(
            0,
            "a",
            Call::EphCreate { path: path.clone() },
            0,
            10,
            Outcome::Ok,
            Ret::Nothing,
        );
        h.op(
            0,
            "a",
            Call::EphCheck { path },
            20,
            30,
            Outcome::Ok,
            Ret::Exists { present: !vanished },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "ephemerals").anomalies.is_empty(), vanished);
    }
}

#[test]
fn out_of_order_pipeline_is_found() {
    for bad in [false, true] {
        let mut h = H::new();
        let versions = if bad {
            vec![Some(3), Some(2)]
        } else {
            vec![Some(2), Some(3)]
        };
        h.op(
            0,
            "a",
            Call::FifoBatch {
                key: "f0".into(),
                n: 2,
            },
            0,
            10,
            Outcome::Ok,
            Ret::Versions { versions },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "session-fifo").anomalies.is_empty(), bad);
    }
}

#[test]
fn counter_beyond_its_increments_is_found() {
    for bad in [false, true] {
        let mut h = H::new();
        let cas = Call::Cas {
            key: "counter".into(),
            value: 1,
            expected: 0,
        };
        h.op(0, "a", cas, 0, 10, Outcome::Ok, Ret::Version { version: 1 });
        let v = if bad { 2 } else { 1 };
        h.op(
            9,
            "f",
            final_read("counter"),
            20,
            30,
            Outcome::Ok,
            Ret::Value {
                value: v,
                version: v as i32,
            },
        );
        let hist = h.history();
        assert_eq!(!result(&hist, "counter").anomalies.is_empty(), bad);
    }
}
