//! The wire: unknown opcodes, undecodable bodies, pipelining, four-letter words, handshakes.

use super::sc;
use crate::script::ops::*;
use crate::script::{ConnectSpec, Op, Passwd, Sc, SessionSpec, ZxidSpec};
use zoolog_jute::Request;

pub fn add(v: &mut Vec<Sc>) {
    for op in [99, 0, 10, 23, 108, 200, -5, -10, -1, 1000] {
        sc(v, &format!("unknown-opcode-{op}"), |s| {
            s.connect("c1");
            s.send("c1", create("/a", "", 0));
            s.raw("c1", op, &[]);
            s.send("c1", exists("/a", false));
        });
    }

    sc(v, "undecodable-bodies", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        // getData with a truncated path.
        s.raw("c1", 4, &[0, 0, 0, 9, b'/', b'a']);
        s.connect("c2");
        // create with no body at all.
        s.raw("c2", 1, &[]);
        s.connect("c3");
        // exists with a string length of -2.
        s.raw("c3", 3, &[0xff, 0xff, 0xff, 0xfe, 0]);
        s.connect("c4");
        // trailing bytes after a valid body are ignored.
        s.raw("c4", 3, &[0, 0, 0, 2, b'/', b'a', 0, 9, 9, 9]);
        s.connect("c5");
        // null path
        s.raw("c5", 3, &[0xff, 0xff, 0xff, 0xff, 0]);
        s.connect("c6");
        // multi with an unknown op type inside.
        s.raw(
            "c6",
            14,
            &[0, 0, 0, 77, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        );
        s.connect("c7");
        s.send("c7", exists("/a", false));
    });

    sc(v, "pipelined-requests", |s| {
        s.connect("c1");
        s.connect("c2");
        s.send("c2", get_data("/p", false));
        s.send("c2", exists("/p", true));
        s.pipeline(
            "c1",
            vec![
                create("/p", "0", 0),
                create("/p/a", "", 0),
                get_children("/p", true),
                get_data("/p", true),
                set_data("/p", "1", 0),
                set_data("/p", "2", 0),
                create("/p/a", "", 0),
                create("/p/s-", "", 2),
                create("/p/s-", "", 2),
                delete("/p/a", -1),
                get_children2("/p", false),
                sync("/p"),
                Request::Ping,
                get_data("/p", false),
                multi(vec![m_create("/p/m", "", 0), m_set("/p", "3", -1)]),
                multi_read(vec![m_get_data("/p"), m_get_children("/p")]),
                exists("/p/nope", false),
                get_acl("/p"),
            ],
        );
        s.send("c2", get_children("/p", false));
    });

    // Plain reads pipelined between writes of the same session: each must see exactly the
    // writes sent before it (zoolog answers these inside apply, right after the write before
    // them, while the later writes are already in the log). Runs of reads, reads after a
    // deferred write (behind a watched read) and every kind of plain read are covered.
    sc(v, "pipelined-reads-between-writes", |s| {
        s.connect("c1");
        s.connect("c2");
        s.send("c2", exists("/w", true));
        let mut ops = vec![get_data("/w", false), create("/w", "0", 0)];
        for i in 1..6 {
            ops.push(get_data("/w", false));
            ops.push(exists("/w", false));
            ops.push(set_data("/w", format!("{i}").as_str(), -1));
        }
        // A sync's reply comes from the connection, not from apply: writes behind it wait.
        for i in 0..4 {
            ops.push(sync("/w"));
            ops.push(set_data("/w", format!("s{i}").as_str(), -1));
        }
        ops.extend([
            get_children2("/w", false),
            create("/w/e", "", 1),
            get_children("/w", false),
            all_children("/w"),
            get_ephemerals(Some("/w")),
            create("/w/p", "", 0),
            get_data("/w", true),
            set_data("/w", "x", -1),
            get_data("/w", false),
            get_acl("/w"),
            multi_read(vec![m_get_data("/w"), m_get_children("/w")]),
            delete("/w/p", -1),
            multi(vec![m_set("/w/e", "y", -1), m_delete("/w/e", -1)]),
            get_children2("/w", false),
            exists("/w/e", false),
            Request::Ping,
            exists("/w", false),
            // Last: ZooKeeper checks a write pipelined right behind a setACL against the old
            // ACL (its outstanding change record keeps it), a race not worth copying.
            set_acl("/w", Some(vec![digest(31, "bob", "pw")]), -1),
            get_acl("/w"),
            multi_read(vec![m_get_data("/w"), m_get_children("/w")]),
        ]);
        s.pipeline("c1", ops);
        s.send("c2", get_data("/w", false));
    });

    // Shrunk from random/27 (200 seeds x 60 steps): a pipelined sync's reply zxid.
    sc(v, "pipelined-sync-zxid", |s| {
        s.connect("c1");
        s.connect("c2");
        s.connect("c3");
        s.pipeline(
            "c3",
            vec![
                create("/r/a/x", "bfc", 1),
                sync("/r/b/x/z"),
                create("/r/b/x/z", "", 0),
                get_children2("/s", false),
            ],
        );
    });

    // Shrunk from random/77: a notification and the replies to earlier pipelined requests.
    sc(v, "pipelined-event-after-earlier-replies", |s| {
        s.connect("c1");
        s.connect("c2");
        s.connect("c3");
        s.send("c2", exists("/r", true));
        s.pipeline(
            "c2",
            vec![
                create("/r/a/x", "ad", 1),
                create("/r", "aec", 1),
                exists("/r/b/x/z", true),
                create2("/s/q/w", "a", 0),
            ],
        );
    });

    sc(v, "pipelined-with-unknown-opcode", |s| {
        s.connect("c1");
        s.steps.push(crate::script::Step::Pipeline {
            c: "c1".into(),
            ops: vec![
                Op::Req(create("/q", "", 0)),
                Op::Req(exists("/q", false)),
                Op::Raw {
                    op: 99,
                    body: vec![],
                },
                Op::Req(exists("/q", false)),
                Op::Req(delete("/q", -1)),
            ],
        });
        s.connect("c2");
        s.send("c2", exists("/q", false));
    });

    sc(v, "handshake-old-format", |s| {
        // A pre-3.4 ConnectRequest (no readOnly byte) gets a 36-byte answer.
        s.connect_with(
            "c1",
            ConnectSpec {
                read_only: None,
                ..Default::default()
            },
        );
        s.send("c1", create("/a", "", 1));
        s.send("c1", get_ephemerals(None));
        s.disconnect("c1");
        s.connect_with(
            "c2",
            ConnectSpec {
                read_only: None,
                session: SessionSpec::Resume {
                    of: "c1".into(),
                    passwd: Passwd::Right,
                },
                last_zxid: ZxidSpec::LastSeen("c1".into()),
                ..Default::default()
            },
        );
        s.send("c2", exists("/a", false));
        s.connect_with(
            "c3",
            ConnectSpec {
                read_only: None,
                session: SessionSpec::Resume {
                    of: "c1".into(),
                    passwd: Passwd::Wrong,
                },
                ..Default::default()
            },
        );
    });

    sc(v, "handshake-read-only-byte", |s| {
        s.connect_with(
            "c1",
            ConnectSpec {
                read_only: Some(true),
                ..Default::default()
            },
        );
        s.send("c1", create("/a", "", 0));
        s.send("c1", get_data("/a", false));
    });

    sc(v, "handshake-protocol-version", |s| {
        s.connect_with(
            "c1",
            ConnectSpec {
                protocol_version: 1,
                ..Default::default()
            },
        );
        s.send("c1", exists("/", false));
        s.connect_with(
            "c2",
            ConnectSpec {
                protocol_version: -1,
                ..Default::default()
            },
        );
        s.send("c2", exists("/", false));
    });

    sc(v, "handshake-client-ahead", |s| {
        s.connect("c0");
        s.send("c0", create("/a", "", 0));
        s.connect_with(
            "c1",
            ConnectSpec {
                last_zxid: ZxidSpec::Ahead,
                ..Default::default()
            },
        );
        s.connect_with(
            "c2",
            ConnectSpec {
                last_zxid: ZxidSpec::LastSeen("c0".into()),
                ..Default::default()
            },
        );
        s.send("c2", exists("/a", false));
    });

    sc(v, "handshake-timeouts", |s| {
        for (i, t) in [
            1, 999, 1000, 1001, 5000, 19999, 20000, 20001, 10_000_000, 0, -5,
        ]
        .into_iter()
        .enumerate()
        {
            s.connect_with(
                &format!("c{i}"),
                ConnectSpec {
                    timeout: t,
                    ..Default::default()
                },
            );
        }
    });

    sc(v, "handshake-pipelined-behind-connect", |s| {
        s.connect_with(
            "c1",
            ConnectSpec {
                pipelined: vec![
                    Op::Xid(-4, auth("digest", "bob:pw")),
                    Op::Req(create_acl(
                        "/a",
                        "x",
                        Some(vec![digest(31, "bob", "pw")]),
                        0,
                    )),
                    Op::Req(get_data("/a", true)),
                    Op::Req(get_acl("/a")),
                    Op::Req(who_am_i()),
                ],
                ..Default::default()
            },
        );
        s.send("c1", set_data("/a", "y", -1));
    });

    for word in [
        "ruok", "srvr", "stat", "mntr", "conf", "envi", "cons", "wchs", "wchc", "wchp", "dump",
        "dirs", "gtmk", "stmk", "isro", "crst", "srst", "hash", "xyzw",
    ] {
        sc(v, &format!("4lw-{word}"), |s| {
            s.connect("c1");
            s.send("c1", create("/w", "", 0));
            s.send("c1", create("/w/e", "", 1));
            s.send("c1", get_data("/w", true));
            s.send("c1", exists("/w/x", true));
            s.send("c1", get_children("/w", true));
            s.four(word);
        });
    }
}

/// Scenarios that disturb the reference server; the suite runs them after everything else.
pub fn add_last(v: &mut Vec<Sc>) {
    sc(v, "check-top-level", |s| {
        // ZooKeeper <= 3.9.2 accepts a top-level check (13): no reply, and a txn its log cannot
        // replay (ZOOKEEPER-2623); >= 3.9.3 answers UNIMPLEMENTED and closes.
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.send("c1", check("/a", 0));
        s.send("c1", exists("/a", false));
        s.connect("c2");
        s.send("c2", set_data("/a", "x", -1));
    });
}
