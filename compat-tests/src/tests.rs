//! Unit tests of the harness's own logic (no servers needed).

use std::collections::{BTreeMap, BTreeSet};

use crate::exec::{Entry, Transcript, zk_passwd};
use crate::value::{Norm, V};
use crate::xchk::ZxidMap;

#[test]
fn password_rule_matches_zookeeper() {
    // The live ConnectResponse in zookeeper-protocol.md §1.2.
    let hex: String = zk_passwd(0x0100_0007_05a0_0000)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, "d205f6a2f75728b2002aea0b982a12c2");
}

#[test]
fn digest_id_matches_zookeeper() {
    assert_eq!(
        crate::server::digest_id("bob", "secret"),
        "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="
    );
}

#[test]
fn zxid_ranks_keep_equality_and_order() {
    let z: BTreeSet<i64> = [0x500, 0x20, 0x21, -1, 0].into_iter().collect();
    let n = Norm::new(&z, BTreeMap::new());
    assert_eq!(n.zxid(0x20), "z1");
    assert_eq!(n.zxid(0x21), "z2");
    assert_eq!(n.zxid(0x500), "z3");
    assert_eq!(n.zxid(-1), "-1");
    assert_eq!(n.zxid(0), "0");
}

#[test]
fn transcripts_compare_per_connection_within_a_step() {
    let e = |step, conn: &str, v: V| Entry {
        step,
        conn: conn.into(),
        v,
    };
    let a = Transcript {
        entries: vec![
            e(0, "a", V::Int(1)),
            e(0, "b", V::Int(2)),
            e(1, "a", V::rec("closed", vec![])),
        ],
        sessions: BTreeMap::new(),
    };
    // Other interleaving of connections, close seen one step later, a step on the dead
    // connection: all the same.
    let b = Transcript {
        entries: vec![
            e(0, "b", V::Int(2)),
            e(0, "a", V::Int(1)),
            e(1, "b", V::rec("no-connection", vec![])),
            e(2, "a", V::rec("closed", vec![])),
        ],
        sessions: BTreeMap::new(),
    };
    let b = Transcript {
        entries: b
            .entries
            .into_iter()
            .filter(|x| x.conn != "b" || x.step == 0)
            .collect(),
        ..b
    };
    assert_eq!(crate::compare::first_difference(&a, &b), None);
    let c = Transcript {
        entries: vec![e(0, "a", V::Int(2)), e(0, "b", V::Int(1))],
        sessions: BTreeMap::new(),
    };
    assert_eq!(crate::compare::first_difference(&a, &c), Some(0));
}

#[test]
fn zxid_map_is_an_order_preserving_bijection() {
    let mut m = ZxidMap::default();
    assert!(m.check(10, 100).is_ok());
    assert!(m.check(20, 105).is_ok());
    assert!(m.check(10, 100).is_ok());
    assert!(m.check(10, 101).is_err(), "one zxid, two images");
    assert!(m.check(11, 105).is_err(), "two zxids, one image");
    assert!(m.check(15, 99).is_err(), "order");
    assert!(m.check(15, 103).is_ok());
    assert!(m.check(-1, -1).is_ok());
    assert!(m.check(0, 7).is_err());
    assert_eq!(m.translate(16), 103);
    assert_eq!(m.translate(5), 0);
}

#[test]
fn four_letter_word_shapes() {
    use crate::fourlw::{blank, shape};
    assert_eq!(blank("Zxid: 0x1a2b"), "Zxid: 0xH");
    assert_eq!(blank("Received: 123"), "Received: N");
    let a = shape(
        "mntr",
        "zk_version\t3.8.0\nzk_avg_a_read_per_namespace\t0\nzk_avg_b_read_per_namespace\t1\n",
    );
    let b = shape(
        "mntr",
        "zk_avg_c_read_per_namespace\t0\nzk_version\t3.8.0-zoolog\n",
    );
    assert_eq!(a, b);
    let a = shape("wchp", "/a\n\t0x1\n\t0x2\n/b\n\t0x1\n");
    let b = shape("wchp", "/b\n\t0x9\n/a\n\t0x3\n\t0x4\n");
    let n = Norm::default();
    assert_eq!(n.render(&a), n.render(&b));
}

#[test]
fn random_sequences_are_reproducible() {
    let a = crate::random::sequence(7, 30);
    let b = crate::random::sequence(7, 30);
    assert_eq!(a.code(), b.code());
    assert_ne!(a.code(), crate::random::sequence(8, 30).code());
}
