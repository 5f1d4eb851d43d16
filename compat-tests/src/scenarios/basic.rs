//! Every opcode: success and each error path (zookeeper-protocol.md §3, §5, §7).

use super::sc;
use crate::script::Sc;
use crate::script::ops::*;

pub fn add(v: &mut Vec<Sc>) {
    sc(v, "smoke", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "hello", 0));
        s.send("c1", get_data("/a", true));
        s.connect("c2");
        s.send("c2", set_data("/a", "x", -1));
        s.send("c1", get_children2("/a", false));
        s.send("c1", exists("/nope", true));
    });

    sc(v, "zxid-after-session-create", |s| {
        // createSession is a transaction in ZooKeeper: later reads carry its zxid.
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.connect("c2");
        s.send("c1", exists("/a", false));
        s.send("c2", exists("/a", false));
        s.close("c2");
        s.send("c1", exists("/a", false));
    });

    sc(v, "create-modes", |s| {
        s.connect("c1");
        s.send("c1", create("/m", "", 0));
        for (i, flags) in [0, 1, 2, 3].into_iter().enumerate() {
            s.send("c1", create(&format!("/m/c{i}-"), "d", flags));
            s.send("c1", create2(&format!("/m/d{i}-"), "d", flags));
        }
        s.send("c1", container("/m/container", "x"));
        s.send("c1", ttl("/m/ttl", "x", 5, 60_000));
        s.send("c1", ttl("/m/ttlseq-", "x", 6, 60_000));
        s.send("c1", get_children2("/m", false));
        for p in [
            "/m/c0-",
            "/m/c1-",
            "/m/container",
            "/m/ttl",
            "/m/ttlseq-0000000010",
        ] {
            s.send("c1", exists(p, false));
        }
        s.send("c1", get_ephemerals(None));
    });

    sc(v, "long-data-and-deep-listings", |s| {
        // zoolog keeps data over 1 KiB under a key of its own, and finds children by depth:
        // long data through every write that changes it or leaves it alone, and listings and
        // counts where names extend each other.
        let long = |c: char| c.to_string().repeat(1500);
        s.connect("c1");
        s.send("c1", create("/L", long('a').as_str(), 0));
        s.send("c1", get_data("/L", false));
        s.send("c1", create("/L/c", long('b').as_str(), 0));
        s.send("c1", create("/Lx", "", 0));
        s.send("c1", create("/L/cd", "", 0));
        s.send("c1", create("/L/c/d", "", 0));
        s.send("c1", get_children2("/L", false));
        s.send("c1", get_children2("/", false));
        s.send("c1", all_children("/L"));
        s.send("c1", all_children("/"));
        s.send("c1", get_data("/L", false));
        s.send("c1", set_data("/L", "short", -1));
        s.send("c1", get_data("/L", false));
        s.send("c1", set_data("/L", long('c').as_str(), -1));
        s.send("c1", get_data("/L", false));
        s.send(
            "c1",
            multi(vec![
                m_set("/L", long('d').as_str(), -1),
                m_delete("/L/c/d", -1),
                m_delete("/L/c", -1),
                m_delete("/L/cd", -1),
                m_delete("/L", -1),
                m_create("/L", "again", 0),
            ]),
        );
        s.send("c1", get_data("/L", false));
        s.send(
            "c1",
            multi(vec![
                m_delete("/L", -1),
                m_create("/L", long('e').as_str(), 0),
            ]),
        );
        s.send("c1", get_data("/L", false));
        s.send(
            "c1",
            multi(vec![m_set("/L", "x", -1), m_set("/nope", "x", -1)]),
        );
        s.send("c1", get_data("/L", false));
        s.send("c1", delete("/L", -1));
        s.send("c1", exists("/L", false));
        s.send("c1", all_children("/"));
    });

    sc(v, "wide-listing-follows-changes", |s| {
        // zoolog caches listings of 64+ children: each change below must show in the next one.
        let list = |s: &mut Sc| {
            s.send("c1", get_children("/w", false));
            s.send("c1", get_children2("/w", false));
            s.send("c1", multi_read(vec![m_get_children("/w")]));
        };
        s.connect("c1");
        s.connect("c2");
        s.send("c1", create("/w", "", 0));
        for i in 0..80 {
            s.send("c1", create(&format!("/w/c{i:02}"), "", 0));
        }
        s.send("c2", create("/w/e", "", 1));
        list(s);
        list(s);
        s.send("c1", create("/w/x", "", 0));
        list(s);
        s.send("c1", delete("/w/c10", -1));
        list(s);
        s.send(
            "c1",
            multi(vec![m_delete("/w/c11", -1), m_create("/w/y", "", 0)]),
        );
        list(s);
        s.send("c1", create("/w/s-", "", 2));
        list(s);
        s.close("c2");
        list(s);
    });

    sc(v, "create-mode-errors", |s| {
        s.connect("c1");
        s.send("c1", create("/m", "", 0));
        for flags in [7, -1, 100] {
            s.send("c1", create("/m/bad", "", flags));
            s.send("c1", create2("/m/bad", "", flags));
        }
        // TTL flags through create/create2.
        s.send("c1", create("/m/t5", "", 5));
        s.send("c1", create2("/m/t6", "", 6));
        // createContainer with non-container flags.
        for flags in [0, 1, 2, 5] {
            s.send("c1", container_flags("/m/cf", "", flags));
        }
        // createTTL with non-TTL flags, and bad TTLs.
        for flags in [0, 1, 2, 3, 4] {
            s.send("c1", ttl("/m/tf", "", flags, 1000));
        }
        for t in [0, -1, 1i64 << 40, (1i64 << 40) - 1, 1] {
            s.send("c1", ttl(&format!("/m/tt{t}"), "", 5, t));
        }
        s.send("c1", get_children("/m", false));
    });

    sc(v, "create-errors", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.send("c1", create("/a", "", 0));
        s.send("c1", create("/nope/child", "", 0));
        s.send("c1", create("/eph", "", 1));
        s.send("c1", create("/eph/child", "", 0));
        s.send("c1", create("/eph/seq-", "", 2));
        s.send("c1", create("/zookeeper", "", 0));
        s.send("c1", create("/", "", 0));
        s.send("c1", create_acl("/nullacl", "", None, 0));
        s.send("c1", create_acl("/emptyacl", "", Some(vec![]), 0));
        s.send("c1", create("/nulldata", NULL, 0));
        s.send("c1", get_data("/nulldata", false));
        s.send("c1", create("/emptydata", "", 0));
        s.send("c1", get_data("/emptydata", false));
    });

    sc(v, "path-validation", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        let bad = [
            "",
            "a",
            "/a/",
            "/a//b",
            "//a",
            "/a/.",
            "/a/..",
            "/a/./b",
            "/a/../b",
            "/.",
            "/..",
            "/a\u{1}",
            "/a\u{7f}",
            "/a\u{0}b",
            "/a\u{9f}",
            "/a\u{fff0}",
            "/a\u{e000}",
        ];
        for p in bad {
            s.send("c1", create(p, "", 0));
        }
        // Sequential create of a trailing-slash path is legal.
        s.send("c1", create("/a/", "", 2));
        s.send("c1", create("/a/..x", "", 0));
        s.send("c1", create("/a/.x", "", 0));
        s.send("c1", create("/a/ünï", "", 0));
        for p in ["", "a", "/a/", "/a//b", "/a\u{0}b"] {
            s.send("c1", exists(p, false));
            s.send("c1", get_data(p, false));
            s.send("c1", delete(p, -1));
            s.send("c1", set_data(p, "", -1));
            s.send("c1", get_children(p, false));
        }
        s.send("c1", get_children2("/a", false));
    });

    sc(v, "delete", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.send("c1", create("/a/b", "", 0));
        s.send("c1", delete("/a", -1));
        s.send("c1", delete("/nope", -1));
        s.send("c1", delete("/a/b", 3));
        s.send("c1", set_data("/a/b", "x", -1));
        s.send("c1", delete("/a/b", 0));
        s.send("c1", delete("/a/b", 1));
        s.send("c1", delete("/a/b", -1));
        s.send("c1", delete("/a", 0));
        s.send("c1", exists("/a", false));
        s.send("c1", delete("/", -1));
        s.send("c1", delete("/zookeeper", -1));
        s.send("c1", delete("/zookeeper/quota", -1));
        s.send("c1", delete("/a", -2));
    });

    sc(v, "set-data", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "v0", 0));
        s.send("c1", set_data("/a", "v1", 0));
        s.send("c1", set_data("/a", "v2", 0));
        s.send("c1", set_data("/a", "v2", 1));
        s.send("c1", set_data("/a", "v3", -1));
        s.send("c1", set_data("/a", NULL, -1));
        s.send("c1", get_data("/a", false));
        s.send("c1", set_data("/a", "", 4));
        s.send("c1", get_data("/a", false));
        s.send("c1", set_data("/nope", "", -1));
        s.send("c1", set_data("/a", "x", -2));
        s.send("c1", set_data("/a", "x", 1000));
        let big = "x".repeat(500_000);
        s.send("c1", set_data("/a", big.as_str(), -1));
        s.send("c1", exists("/a", false));
        s.send("c1", set_data("/zookeeper/config", "x", -1));
        s.send("c1", set_data("/zookeeper", "x", -1));
        s.send("c1", get_data("/zookeeper", false));
    });

    sc(v, "set-data-too-large", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        // Over jute.maxbuffer (0xfffff): the server drops the connection.
        let big = "y".repeat(0x100000);
        s.send("c1", set_data("/a", big.as_str(), -1));
        s.connect("c2");
        s.send("c2", get_data("/a", false));
    });

    sc(v, "reads", |s| {
        s.connect("c1");
        s.send("c1", create("/r", "data", 0));
        s.send("c1", create("/r/x", "", 0));
        s.send("c1", create("/r/y", "", 0));
        for p in ["/r", "/r/x", "/nope"] {
            s.send("c1", exists(p, false));
            s.send("c1", get_data(p, false));
            s.send("c1", get_children(p, false));
            s.send("c1", get_children2(p, false));
            s.send("c1", get_acl(p));
        }
        s.send("c1", get_children("/zookeeper", false));
        s.send("c1", get_children2("/zookeeper", false));
        s.send("c1", get_data("/zookeeper", false));
        s.send("c1", get_data("/zookeeper/quota", false));
        s.send("c1", get_acl("/zookeeper/config"));
        s.send("c1", exists("/zookeeper/config", false));
        s.send("c1", get_acl("/zookeeper"));
        s.send("c1", get_acl("/"));
    });

    sc(v, "acl-ops", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.send("c1", set_acl("/a", Some(world(31)), 0));
        s.send("c1", set_acl("/a", Some(world(31)), 0));
        s.send("c1", set_acl("/a", Some(world(31)), 1));
        s.send("c1", set_acl("/a", Some(world(31)), -1));
        s.send("c1", get_acl("/a"));
        s.send("c1", set_acl("/nope", Some(world(31)), -1));
        s.send("c1", set_acl("/a", None, -1));
        s.send("c1", set_acl("/a", Some(vec![]), -1));
        s.send(
            "c1",
            set_acl(
                "/a",
                Some(vec![acl(1, "world", "anyone"), acl(1, "world", "anyone")]),
                -1,
            ),
        );
        s.send("c1", get_acl("/a"));
        s.send(
            "c1",
            set_acl(
                "/a",
                Some(vec![acl(1, "world", "anyone"), acl(2, "world", "anyone")]),
                -1,
            ),
        );
        s.send("c1", get_acl("/a"));
        s.send("c1", set_acl("/a", Some(world(31)), -1));
        s.send("c1", set_data("/a", "x", -1));
        s.send("c1", exists("/a", false));
    });

    sc(v, "sync", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.send("c1", sync("/"));
        s.send("c1", sync("/a"));
        s.send("c1", sync("/nope"));
        s.send("c1", sync(""));
        s.send("c1", sync("bad"));
    });

    sc(v, "all-children-number", |s| {
        s.connect("c1");
        s.send("c1", all_children("/"));
        s.send("c1", create("/a", "", 0));
        s.send("c1", create("/a/b", "", 0));
        s.send("c1", create("/a/b/c", "", 0));
        s.send("c1", create("/a/d", "", 0));
        s.send("c1", all_children("/"));
        s.send("c1", all_children("/a"));
        s.send("c1", all_children("/a/b/c"));
        s.send("c1", all_children("/nope"));
        s.send("c1", all_children("/zookeeper"));
        s.send("c1", all_children("bad"));
    });

    sc(v, "get-ephemerals", |s| {
        s.connect("c1");
        s.connect("c2");
        s.send("c1", create("/e", "", 0));
        s.send("c1", create("/e/one", "", 1));
        s.send("c1", create("/e/two-", "", 3));
        s.send("c2", create("/e/other", "", 1));
        s.send("c1", create("/eagle", "", 1));
        for p in [
            None,
            Some(""),
            Some("/"),
            Some("/e"),
            Some("/e/"),
            Some("/e/t"),
            Some("/x"),
        ] {
            s.send("c1", get_ephemerals(p));
        }
        s.send("c2", get_ephemerals(None));
    });

    sc(v, "who-am-i", |s| {
        s.connect("c1");
        s.send("c1", who_am_i());
        s.send("c1", auth("digest", "bob:secret"));
        s.send("c1", who_am_i());
        s.send("c1", auth("digest", "alice:pw"));
        s.send("c1", auth("digest", "bob:secret"));
        s.send("c1", who_am_i());
        s.send("c1", auth("ip", "whatever"));
        s.send("c1", who_am_i());
    });

    sc(v, "reconfig", |s| {
        s.connect("c1");
        s.send(
            "c1",
            reconfig(None, None, Some("server.1=127.0.0.1:2888:3888;2181"), -1),
        );
        s.send(
            "c1",
            reconfig(Some("server.2=127.0.0.1:2889:3889"), None, None, -1),
        );
        s.send("c1", auth("digest", "super:secret"));
        s.send("c1", reconfig(None, Some("2"), None, -1));
    });

    sc(v, "delete-container-opcode", |s| {
        // No container here ever loses its last child: the reaper must not race the steps.
        s.connect("c1");
        s.send("c1", container("/c", ""));
        s.send("c1", create("/c/x", "", 0));
        s.send("c1", delete_container("/c"));
        s.send("c1", container("/empty", ""));
        s.send("c1", delete_container("/empty"));
        s.send("c1", create("/plain", "", 0));
        s.send("c1", create("/eph", "", 1));
        s.send("c1", delete_container("/plain"));
        s.send("c1", delete_container("/eph"));
        s.send("c1", delete_container("/nope"));
        s.send("c1", delete_container("bad"));
        s.send("c1", exists("/c", false));
        s.send("c1", exists("/empty", false));
        s.send("c1", exists("/plain", false));
        s.send("c1", exists("/eph", false));
    });

    sc(v, "sasl-opcode", |s| {
        s.connect("c1");
        s.send("c1", sasl(&[1, 2]));
        s.send("c1", exists("/", false));
    });

    sc(v, "close-session", |s| {
        s.connect("c1");
        s.connect("c2");
        s.send("c1", create("/e", "", 1));
        s.send("c2", exists("/e", true));
        s.close("c1");
        s.send("c2", exists("/e", false));
        s.connect("c3");
        // A request pipelined behind closeSession gets SESSIONEXPIRED from ZooKeeper or
        // nothing, depending on whether it was read before the socket closed: not compared.
        s.pipeline(
            "c3",
            vec![create("/p", "", 1), zoolog_jute::Request::CloseSession],
        );
        s.send("c2", exists("/p", false));
    });

    sc(v, "ping", |s| {
        s.connect("c1");
        s.send("c1", create("/a", "", 0));
        s.op("c1", crate::script::Op::Xid(-2, zoolog_jute::Request::Ping));
        s.op("c1", crate::script::Op::Xid(77, zoolog_jute::Request::Ping));
        s.op("c1", crate::script::Op::Xid(-77, exists("/a", false)));
        s.op("c1", crate::script::Op::Xid(0, exists("/a", false)));
        s.op("c1", crate::script::Op::Xid(i32::MAX, exists("/a", false)));
        s.op("c1", crate::script::Op::Xid(5, exists("/a", false)));
        s.op("c1", crate::script::Op::Xid(5, exists("/a", false)));
    });
}
