//! Sessions (§1.4, §10): resume with right and wrong passwords, expiry, ephemerals; containers
//! and TTL nodes with short reaping intervals (§7.3, §7.4).

use super::sc;
use crate::script::ops::*;
use crate::script::{ConnectSpec, Passwd, Sc, SessionSpec, ZxidSpec};

fn short(timeout: i32) -> ConnectSpec {
    ConnectSpec {
        timeout,
        ..Default::default()
    }
}

pub fn add(v: &mut Vec<Sc>) {
    sc(v, "session-resume-right-password", |s| {
        s.connect("c");
        s.send("c", create("/e", "", 1));
        s.send("c", create("/p", "", 0));
        s.disconnect("c");
        s.resume("c2", "c", Passwd::Right);
        s.send("c2", exists("/e", false));
        s.send("c2", get_ephemerals(None));
        s.send("c2", create("/e2", "", 1));
        s.close("c2");
        s.connect("o");
        s.send("o", get_children("/", false));
    });

    sc(v, "session-resume-kicks-old-connection", |s| {
        s.connect("c");
        s.send("c", create("/e", "", 1));
        s.resume("c2", "c", Passwd::Right);
        s.send("c", exists("/e", false));
        s.send("c2", exists("/e", false));
    });

    sc(v, "session-resume-wrong-password", |s| {
        s.connect("c");
        s.send("c", create("/e", "", 1));
        s.resume("bad", "c", Passwd::Wrong);
        s.send("bad", exists("/e", false));
        s.resume("zero", "c", Passwd::Zeros);
        s.send("c", exists("/e", false));
        s.send("c", get_ephemerals(None));
    });

    sc(v, "session-never-issued", |s| {
        s.connect_with(
            "c",
            ConnectSpec {
                session: SessionSpec::NeverIssued,
                ..Default::default()
            },
        );
        s.send("c", exists("/", false));
    });

    sc(v, "session-resume-after-close", |s| {
        s.connect("c");
        s.send("c", create("/e", "", 1));
        s.close("c");
        s.resume("c2", "c", Passwd::Right);
        s.send("c2", exists("/e", false));
        s.connect("o");
        s.send("o", exists("/e", false));
    });

    sc(v, "session-expiry", |s| {
        s.connect_with("x", short(1000));
        s.connect("w");
        s.send("x", create("/p", "", 0));
        s.send("x", create("/p/e", "", 1));
        s.send("x", create("/p/s-", "", 3));
        s.send("x", get_data("/p", true));
        s.send("w", get_data("/p/e", true));
        s.send("w", exists("/p/s-0000000001", true));
        s.send("w", get_children("/p", true));
        s.send("w", add_watch("/p", 1));
        s.await_close("x", 10_000);
        s.send("w", get_children2("/p", false));
        s.resume("x2", "x", Passwd::Right);
        s.send("x2", exists("/p", false));
        s.send("w", exists("/p", false));
    });

    sc(v, "session-expiry-while-disconnected", |s| {
        s.connect_with("x", short(1000));
        s.connect("w");
        s.send("x", create("/e", "", 1));
        s.send("w", exists("/e", true));
        s.disconnect("x");
        s.sleep(3000);
        s.send("w", exists("/e", false));
        s.resume("x2", "x", Passwd::Right);
    });

    sc(v, "session-kept-alive-by-pings", |s| {
        s.connect_with("x", short(1000));
        s.send("x", create("/e", "", 1));
        s.sleep(2500);
        s.send("x", exists("/e", false));
    });

    sc(v, "session-timeout-negotiated-on-resume", |s| {
        s.connect_with("c", short(5000));
        s.disconnect("c");
        s.connect_with(
            "c2",
            ConnectSpec {
                timeout: 100_000,
                session: SessionSpec::Resume {
                    of: "c".into(),
                    passwd: Passwd::Right,
                },
                last_zxid: ZxidSpec::LastSeen("c".into()),
                ..Default::default()
            },
        );
    });

    sc(v, "container-reaped", |s| {
        s.connect("c");
        s.connect("w");
        s.send("c", container("/c", "x"));
        s.send("c", create("/c/kid", "", 0));
        s.send("w", exists("/c", true));
        s.send("w", get_children("/c", true));
        s.send("c", delete("/c/kid", -1));
        s.wait_gone("/c", 10_000);
        s.send("c", exists("/c", false));
    });

    sc(v, "container-never-used-kept", |s| {
        s.connect("c");
        s.send("c", container("/c", ""));
        s.sleep(1500);
        s.send("c", exists("/c", false));
    });

    sc(v, "container-with-children-kept", |s| {
        s.connect("c");
        s.send("c", container("/c", ""));
        s.send("c", create("/c/a", "", 0));
        s.send("c", create("/c/b", "", 0));
        s.send("c", delete("/c/a", -1));
        s.sleep(1500);
        s.send("c", get_children2("/c", false));
        s.send("c", delete("/c/b", -1));
        s.wait_gone("/c", 10_000);
    });

    sc(v, "container-emptied-by-session-close", |s| {
        s.connect("e");
        s.connect("w");
        s.send("e", container("/c", ""));
        s.send("e", create("/c/lock-", "", 3));
        s.send("w", add_watch("/c", 1));
        s.close("e");
        s.wait_gone("/c", 10_000);
    });

    sc(v, "ttl-reaped", |s| {
        s.connect("c");
        s.connect("w");
        s.send("c", ttl("/t", "x", 5, 500));
        s.send("c", exists("/t", false));
        s.send("w", get_data("/t", true));
        s.wait_gone("/t", 10_000);
        s.send("c", exists("/t", false));
    });

    sc(v, "ttl-with-children-kept", |s| {
        s.connect("c");
        s.send("c", ttl("/t", "", 5, 300));
        s.send("c", create("/t/kid", "", 0));
        s.sleep(1500);
        s.send("c", exists("/t", false));
        s.send("c", delete("/t/kid", -1));
        s.wait_gone("/t", 10_000);
    });

    sc(v, "ttl-sequential", |s| {
        s.connect("c");
        s.send("c", create("/q", "", 0));
        s.send("c", ttl("/q/t-", "", 6, 400));
        s.send("c", ttl("/q/t-", "", 6, 3_600_000));
        s.send("c", get_children2("/q", false));
        s.wait_gone("/q/t-0000000000", 10_000);
        s.send("c", get_children("/q", false));
    });

    sc(v, "ephemerals-owner-and-listing", |s| {
        s.connect("a");
        s.connect("b");
        s.send("a", create("/ea", "", 1));
        s.send("b", create("/eb", "", 1));
        s.send("a", exists("/eb", false));
        s.send("b", exists("/ea", false));
        s.send("a", get_ephemerals(None));
        s.send("b", get_ephemerals(None));
        s.send("a", delete("/eb", -1));
        s.send("b", get_ephemerals(None));
        s.send("b", set_data("/ea", "b-wrote", -1));
        s.send("a", get_data("/ea", false));
    });
}
