//! multi and multiRead (§9): results for every failure position, partial reads, Stat arithmetic
//! through long sequences, sequential naming after deletes.

use super::sc;
use crate::script::Sc;
use crate::script::ops::*;

pub fn add(v: &mut Vec<Sc>) {
    sc(v, "multi-success", |s| {
        s.connect("c");
        s.send("c", create("/m", "", 0));
        s.send(
            "c",
            multi(vec![
                m_create("/m/a", "1", 0),
                m_create2("/m/b", "2", 0),
                m_create("/m/s-", "", 2),
                m_create2("/m/e-", "", 3),
                m_container("/m/c", ""),
                m_ttl("/m/t", "", 5, 60_000),
                m_set("/m/a", "1b", 0),
                m_check("/m/a", 1),
                m_check("/m/b", -1),
                m_delete("/m/b", 0),
            ]),
        );
        s.send("c", get_children2("/m", false));
        s.send("c", get_data("/m/a", false));
        s.send("c", multi(vec![m_check("/m", -1)]));
        s.send("c", multi(vec![]));
        s.send("c", exists("/m", false));
    });

    // One multi of four ops, failing at each position in turn, with each kind of failure.
    type BadOp = fn(&str) -> zoolog_jute::MultiOp;
    let failures: [(&str, BadOp); 6] = [
        ("exists", |p| m_create(&format!("{p}/a"), "", 0)),
        ("nonode", |p| m_set(&format!("{p}/nope"), "", -1)),
        ("badversion", |p| m_check(&format!("{p}/a"), 42)),
        ("notempty", |p| m_delete(p, -1)),
        ("badargs", |_| m_create("bad//path", "", 0)),
        ("ephemeral-parent", |p| {
            m_create(&format!("{p}/eph/x"), "", 0)
        }),
    ];
    for (kind, bad) in failures {
        sc(v, &format!("multi-fail-{kind}"), |s| {
            s.connect("w");
            s.connect("c");
            s.send("c", create("/f", "", 0));
            s.send("c", create("/f/a", "", 0));
            s.send("c", create("/f/eph", "", 1));
            s.send("w", get_children("/f", true));
            s.send("w", get_data("/f/a", true));
            for pos in 0..4 {
                let mut ops = vec![
                    m_create(&format!("/f/n{pos}"), "", 0),
                    m_set("/f/a", "x", -1),
                    m_create("/f/s-", "", 2),
                    m_delete("/f/a", -1),
                ];
                ops.insert(pos, bad("/f"));
                ops.truncate(4);
                s.send("c", multi(ops));
            }
            s.send("c", get_children2("/f", false));
            s.send("c", get_data("/f/a", false));
            // Sequence numbers were not consumed by the failed multis.
            s.send("c", create("/f/s-", "", 2));
        });
    }

    sc(v, "multi-fail-auth-and-acl", |s| {
        s.connect("c");
        s.send("c", create_acl("/ro", "", Some(world(1)), 0));
        s.send("c", create("/ok", "", 0));
        s.send(
            "c",
            multi(vec![m_create("/ok/a", "", 0), m_set("/ro", "x", -1)]),
        );
        s.send(
            "c",
            multi(vec![m_create("/ok/a", "", 0), m_create("/ro/x", "", 0)]),
        );
        s.send(
            "c",
            multi(vec![
                m_create("/ok/a", "", 0),
                m_create_acl("/ok/b", "", Some(vec![]), 0),
            ]),
        );
        s.send(
            "c",
            multi(vec![
                m_create("/ok/a", "", 0),
                m_create_acl("/ok/b", "", Some(vec![acl(31, "foo", "bar")]), 0),
            ]),
        );
        s.send("c", multi(vec![m_check("/ro", -1), m_delete("/ro", -1)]));
        s.send("c", get_children("/ok", false));
    });

    sc(v, "multi-same-node-twice", |s| {
        s.connect("c");
        s.send(
            "c",
            multi(vec![
                m_create("/x", "", 0),
                m_set("/x", "1", 0),
                m_set("/x", "2", 1),
                m_check("/x", 2),
                m_delete("/x", 2),
                m_create("/x", "again", 0),
            ]),
        );
        s.send("c", get_data("/x", false));
        s.send(
            "c",
            multi(vec![m_create("/y", "", 0), m_create("/y", "", 0)]),
        );
        s.send("c", multi(vec![m_delete("/x", -1), m_delete("/x", -1)]));
        s.send("c", exists("/x", false));
        s.send(
            "c",
            multi(vec![m_create("/z", "", 1), m_create("/z/c", "", 0)]),
        );
    });

    sc(v, "multi-mixed-kinds", |s| {
        s.connect("c");
        s.send("c", create("/a", "", 0));
        s.send("c", multi(vec![m_get_data("/a")]));
        s.connect("c2");
        s.send("c2", multi(vec![m_create("/b", "", 0), m_get_data("/a")]));
        s.connect("c3");
        s.send("c3", multi_read(vec![m_create("/b", "", 0)]));
        s.connect("c4");
        s.send("c4", multi_read(vec![m_get_data("/a"), m_check("/a", -1)]));
        s.connect("c5");
        s.send("c5", exists("/b", false));
    });

    sc(v, "multi-read-partial", |s| {
        s.connect("c");
        s.send("c", create("/r", "rd", 0));
        s.send("c", create("/r/k", "", 0));
        s.send("c", create_acl("/secret", "s", Some(world(2)), 0));
        s.send(
            "c",
            multi_read(vec![
                m_get_data("/r"),
                m_get_children("/r"),
                m_get_data("/nope"),
                m_get_children("/nope"),
                m_get_data("/secret"),
                m_get_children("/secret"),
                m_get_data("/r/k"),
                m_get_data("bad"),
                m_get_children("/"),
            ]),
        );
        s.send("c", multi_read(vec![]));
        s.send("c", multi_read(vec![m_get_data("/r")]));
    });

    sc(v, "multi-read-no-watch", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send(
            "w",
            multi_read(vec![
                zoolog_jute::MultiOp::GetData(zoolog_jute::GetDataRequest {
                    path: p("/a"),
                    watch: true,
                }),
                zoolog_jute::MultiOp::GetChildren(zoolog_jute::GetChildrenRequest {
                    path: p("/a"),
                    watch: true,
                }),
            ]),
        );
        s.send("m", set_data("/a", "x", -1));
        s.send("m", create("/a/b", "", 0));
    });

    sc(v, "stat-arithmetic-long", |s| {
        s.connect("c");
        s.connect("o");
        s.send("c", create("/s", "", 0));
        for i in 0..6 {
            s.send("c", create(&format!("/s/n{i}"), "", 0));
            s.send("c", exists("/s", false));
        }
        for i in [1, 3] {
            s.send("c", delete(&format!("/s/n{i}"), -1));
            s.send("c", exists("/s", false));
        }
        s.send("o", create("/s/e", "", 1));
        s.send("c", get_children2("/s", false));
        s.close("o");
        s.send("c", exists("/s", false));
        for i in 0..5 {
            s.send("c", set_data("/s", &*format!("v{i}"), i));
            s.send("c", set_acl("/s", Some(world(31)), i));
        }
        s.send("c", get_data("/s", false));
        s.send("c", get_acl("/s"));
        s.send("c", set_data("/s/n0", "x", -1));
        s.send("c", exists("/s", false));
        s.send("c", create("/s/n0/deep", "", 0));
        s.send("c", exists("/s", false));
        s.send("c", exists("/s/n0", false));
        s.send("c", create("/s/x", "", 0)); // fails below? no: new child
        s.send("c", create("/s/x", "", 0)); // NODEEXISTS: no change
        s.send("c", delete("/s/zz", -1)); // NONODE: no change
        s.send("c", exists("/s", false));
        s.send(
            "c",
            multi(vec![
                m_create("/s/m1", "", 0),
                m_delete("/s/m1", -1),
                m_create("/s/m2", "", 0),
            ]),
        );
        s.send("c", exists("/s", false));
        s.send(
            "c",
            multi(vec![m_create("/s/m3", "", 0), m_check("/s", 99)]),
        );
        s.send("c", exists("/s", false));
        s.send("c", get_children2("/s", false));
    });

    sc(v, "sequential-naming", |s| {
        s.connect("c");
        s.send("c", create("/q", "", 0));
        s.send("c", create("/q/s-", "", 2));
        s.send("c", create("/q/s-", "", 2));
        s.send("c", create("/q/plain", "", 0));
        s.send("c", delete("/q/s-0000000000", -1));
        s.send("c", create("/q/s-", "", 2));
        s.send("c", create("/q/e-", "", 3));
        s.send("c", delete("/q/plain", -1));
        s.send("c", delete("/q/s-0000000001", -1));
        s.send("c", create("/q/", "", 2));
        s.send("c", create("/q/", "", 2));
        s.send("c", create2("/q/x", "", 2));
        s.send("c", create("/q/s-", "", 2));
        s.send("c", create("/q/s-0000000010", "", 0));
        s.send("c", create("/q/s-", "", 2));
        s.send("c", get_children2("/q", false));
        s.send("c", create("/q2", "", 0));
        for _ in 0..12 {
            s.send("c", create("/q2/n", "", 2));
        }
        s.send("c", get_children("/q2", false));
    });
}
