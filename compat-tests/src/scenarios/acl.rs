//! ACLs and authentication (§8): every permission bit against every operation; world, auth,
//! digest, ip and super; getACL masking; invalid ACLs; auth failures.

use super::sc;
use crate::script::Sc;
use crate::script::ops::*;

const R: i32 = 1;
const W: i32 = 2;
const C: i32 = 4;
const D: i32 = 8;
const A: i32 = 16;

/// Every operation a connection might try on `/t` (with child `/t/kid`).
fn try_everything(s: &mut Sc, c: &str) {
    s.send(c, exists("/t", false));
    s.send(c, get_data("/t", false));
    s.send(c, get_children("/t", false));
    s.send(c, get_children2("/t", false));
    s.send(c, all_children("/t"));
    s.send(c, get_acl("/t"));
    s.send(c, set_data("/t", "w", -1));
    s.send(c, create("/t/new", "", 0));
    s.send(c, create2("/t/new2-", "", 2));
    s.send(c, multi(vec![m_check("/t", -1)]));
    s.send(c, multi_read(vec![m_get_data("/t"), m_get_children("/t")]));
    s.send(c, add_watch("/t", 0));
    s.send(c, sync("/t"));
    s.send(c, delete("/t/kid", -1));
    s.send(c, set_acl("/t", Some(world(31)), -1));
    s.send(c, get_acl("/t"));
}

pub fn add(v: &mut Vec<Sc>) {
    for (name, perms) in [
        ("none", 0),
        ("read", R),
        ("write", W),
        ("create", C),
        ("delete", D),
        ("admin", A),
        ("read-admin", R | A),
        ("all-but-admin", R | W | C | D),
    ] {
        sc(v, &format!("acl-world-{name}"), |s| {
            s.connect("owner");
            s.connect("c");
            s.send("owner", create("/t", "data", 0));
            s.send("owner", create("/t/kid", "", 0));
            s.send("owner", set_acl("/t", Some(world(perms)), -1));
            try_everything(s, "c");
        });
    }

    sc(v, "acl-digest", |s| {
        s.connect("owner");
        s.send("owner", auth("digest", "bob:secret"));
        s.send(
            "owner",
            create_acl("/t", "data", Some(vec![digest(31, "bob", "secret")]), 0),
        );
        s.send("owner", create("/t/kid", "", 0));
        s.send("owner", get_acl("/t"));
        s.connect("anon");
        try_everything(s, "anon");
        s.connect("wrong");
        s.send("wrong", auth("digest", "bob:wrong"));
        s.send("wrong", get_data("/t", false));
        s.send("wrong", get_acl("/t"));
        s.connect("right");
        s.send("right", auth("digest", "bob:secret"));
        try_everything(s, "right");
    });

    sc(v, "acl-get-acl-masking", |s| {
        s.connect("owner");
        s.send(
            "owner",
            create_acl(
                "/t",
                "",
                Some(vec![
                    digest(R, "alice", "pw"),
                    digest(A, "bob", "pw"),
                    acl(R, "world", "anyone"),
                    acl(R, "ip", "127.0.0.1"),
                ]),
                0,
            ),
        );
        s.send("owner", get_acl("/t"));
        s.send("owner", auth("digest", "alice:pw"));
        s.send("owner", get_acl("/t"));
        s.connect("bob");
        s.send("bob", auth("digest", "bob:pw"));
        s.send("bob", get_acl("/t"));
        s.send(
            "owner",
            create_acl("/adminonly", "", Some(vec![digest(A, "bob", "pw")]), 0),
        );
        s.send("owner", get_acl("/adminonly"));
        s.send("bob", get_acl("/adminonly"));
    });

    sc(v, "acl-auth-scheme", |s| {
        s.connect("c");
        s.send(
            "c",
            create_acl("/noauth", "", Some(vec![acl(31, "auth", "")]), 0),
        );
        s.send("c", auth("digest", "bob:pw"));
        s.send("c", auth("digest", "carol:pw"));
        s.send(
            "c",
            create_acl("/a", "", Some(vec![acl(31, "auth", "")]), 0),
        );
        s.send("c", get_acl("/a"));
        s.send(
            "c",
            create_acl("/b", "", Some(vec![acl(R, "auth", "ignored")]), 0),
        );
        s.send("c", get_acl("/b"));
        s.send(
            "c",
            create_acl(
                "/c",
                "",
                Some(vec![acl(R, "auth", ""), acl(W, "world", "anyone")]),
                0,
            ),
        );
        s.send("c", get_acl("/c"));
        s.send("c", set_acl("/c", Some(vec![acl(A, "auth", "")]), -1));
        s.send("c", get_acl("/c"));
        s.connect("other");
        s.send("other", get_data("/a", false));
        s.send("other", auth("digest", "carol:pw"));
        s.send("other", get_data("/a", false));
    });

    sc(v, "acl-ip", |s| {
        s.connect("owner");
        s.connect("c");
        for (i, id) in [
            "127.0.0.1",
            "127.0.0.0/8",
            "127.0.0.1/32",
            "10.0.0.0/8",
            "10.1.2.3",
            "0.0.0.0/0",
        ]
        .into_iter()
        .enumerate()
        {
            let p = format!("/ip{i}");
            s.send("owner", create_acl(&p, "", Some(vec![acl(R, "ip", id)]), 0));
            s.send("c", get_data(&p, false));
        }
        for (i, id) in ["1.2.3", "127.0.0.1/40", "nonsense", "", "::1/200"]
            .into_iter()
            .enumerate()
        {
            s.send(
                "owner",
                create_acl(&format!("/bad{i}"), "", Some(vec![acl(R, "ip", id)]), 0),
            );
        }
        s.send(
            "owner",
            create_acl("/v6", "", Some(vec![acl(R, "ip", "::1")]), 0),
        );
        s.send("c", get_data("/v6", false));
    });

    sc(v, "acl-super", |s| {
        s.connect("owner");
        s.send("owner", auth("digest", "bob:pw"));
        s.send(
            "owner",
            create_acl("/t", "d", Some(vec![digest(R, "bob", "pw")]), 0),
        );
        s.send("owner", create_acl("/t2", "", Some(world(0)), 0));
        s.connect("su");
        s.send("su", auth("digest", "super:secret"));
        s.send("su", who_am_i());
        s.send("su", get_data("/t", false));
        s.send("su", set_data("/t", "x", -1));
        s.send("su", get_acl("/t"));
        s.send("su", create("/t/kid", "", 0));
        s.send("su", delete("/t/kid", -1));
        s.send("su", get_data("/t2", false));
        s.send("su", set_acl("/t2", Some(world(31)), -1));
        s.connect("fake");
        s.send("fake", auth("digest", "super:wrong"));
        s.send("fake", who_am_i());
        s.send("fake", get_data("/t", false));
        s.send("fake", get_acl("/t"));
        s.connect("fake2");
        s.send("fake2", auth("super", "secret"));
        s.send("fake2", exists("/", false));
    });

    sc(v, "acl-invalid", |s| {
        s.connect("c");
        let bad = [
            vec![acl(31, "foo", "bar")],
            vec![acl(31, "digest", "nocolon")],
            vec![acl(31, "digest", "a:b:c")],
            vec![acl(31, "world", "someone")],
            vec![acl(31, "world", "")],
            vec![acl(31, "", "")],
            vec![acl(31, "super", "")],
            vec![acl(31, "ip", "300.1.1.1")],
            vec![acl(0, "world", "anyone")],
            vec![acl(32, "world", "anyone")],
            vec![acl(-1, "world", "anyone")],
            vec![acl(31, "world", "anyone"), acl(31, "foo", "bar")],
            vec![acl(31, "digest", "user:hash")],
        ];
        for (i, a) in bad.into_iter().enumerate() {
            s.send("c", create_acl(&format!("/n{i}"), "", Some(a), 0));
            s.send("c", get_acl(&format!("/n{i}")));
        }
        s.send("c", create("/x", "", 0));
        s.send("c", set_acl("/x", Some(vec![acl(31, "foo", "bar")]), -1));
        s.send("c", set_acl("/x", Some(vec![acl(31, "auth", "")]), -1));
        s.send("c", get_acl("/x"));
    });

    sc(v, "acl-id-null-strings", |s| {
        // kazoo writes empty strings as null.
        s.connect("c");
        let null_id = zoolog_jute::Acl {
            perms: 31,
            id: zoolog_jute::Id {
                scheme: Some(p("world")),
                id: None,
            },
        };
        s.send("c", create_acl("/n1", "", Some(vec![null_id]), 0));
        let null_scheme = zoolog_jute::Acl {
            perms: 31,
            id: zoolog_jute::Id {
                scheme: None,
                id: Some(p("anyone")),
            },
        };
        s.send("c", create_acl("/n2", "", Some(vec![null_scheme]), 0));
        s.send("c", auth("digest", "bob:pw"));
        let null_auth = zoolog_jute::Acl {
            perms: 31,
            id: zoolog_jute::Id {
                scheme: Some(p("auth")),
                id: None,
            },
        };
        s.send("c", create_acl("/n3", "", Some(vec![null_auth]), 0));
        s.send("c", get_acl("/n3"));
    });

    sc(v, "auth-failures", |s| {
        s.connect("c1");
        s.send("c1", auth("foo", "bar"));
        s.send("c1", exists("/", false));
        s.connect("c2");
        s.send("c2", auth("digest", "nocolon"));
        s.send("c2", who_am_i());
        s.connect("c3");
        s.send("c3", auth("digest", ""));
        s.send("c3", who_am_i());
        s.connect("c4");
        s.send("c4", auth("world", "anyone"));
        s.send("c4", who_am_i());
        s.connect("c5");
        s.op("c5", crate::script::Op::Xid(-4, auth("digest", "a:b")));
        s.op("c5", crate::script::Op::Xid(-4, auth("nope", "a:b")));
        s.send("c5", exists("/", false));
    });

    sc(v, "acl-exists-needs-read-only-if-present", |s| {
        s.connect("o");
        s.connect("c");
        s.send("o", create_acl("/x", "", Some(world(W)), 0));
        s.send("c", exists("/x", false));
        s.send("c", exists("/x", true));
        s.send("c", exists("/x/y", false));
        s.send("o", set_data("/x", "d", -1));
    });

    sc(v, "acl-watch-notifications-unreadable", |s| {
        // 3.8.0 delivers events whatever the node's ACL (filtering came in 3.8.4).
        s.connect("o");
        s.connect("w");
        s.send("o", create("/x", "", 0));
        s.send("w", get_data("/x", true));
        s.send("w", get_children("/x", true));
        s.send("w", add_watch("/x", 1));
        s.send("o", set_acl("/x", Some(world(W | C | D)), -1));
        s.send("o", set_data("/x", "secret", -1));
        s.send("o", create("/x/kid", "", 0));
        s.send("o", delete("/x/kid", -1));
    });
}
