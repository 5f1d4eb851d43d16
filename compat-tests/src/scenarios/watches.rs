//! Watches (§6): one-shot, persistent, recursive; which events fire for create / delete /
//! setData / multi / session close; removeWatches and checkWatches; setWatches catch-up.

use super::sc;
use crate::script::ops::*;
use crate::script::{Passwd, Sc, WatchSet};

/// WatcherType values.
const CHILDREN: i32 = 1;
const DATA: i32 = 2;
const ANY: i32 = 3;
const PERSISTENT: i32 = 4;
const RECURSIVE: i32 = 5;

pub fn add(v: &mut Vec<Sc>) {
    sc(v, "watch-one-shot-data", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/a", "0", 0));
        s.send("w", get_data("/a", true));
        s.send("m", set_data("/a", "1", -1));
        s.send("m", set_data("/a", "2", -1));
        s.send("w", get_data("/a", true));
        s.send("w", get_data("/a", true));
        s.send("m", delete("/a", -1));
        s.send("m", create("/a", "", 0));
    });

    sc(v, "watch-exists", |s| {
        s.connect("w");
        s.connect("m");
        s.send("w", exists("/a", true));
        s.send("m", create("/a", "", 0));
        s.send("m", delete("/a", -1));
        s.send("w", exists("/a", true));
        s.send("m", create("/a", "", 0));
        s.send("w", exists("/a", true));
        s.send("m", set_data("/a", "x", -1));
        s.send("w", exists("/a", true));
        s.send("m", delete("/a", -1));
        s.send("w", get_data("/a", true));
        s.send("m", create("/a", "", 0));
    });

    sc(v, "watch-children", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("w", get_children("/p", true));
        s.send("m", create("/p/a", "", 0));
        s.send("m", create("/p/b", "", 0));
        s.send("w", get_children2("/p", true));
        s.send("m", delete("/p/a", -1));
        s.send("w", get_children("/p", true));
        s.send("m", set_data("/p", "x", -1));
        s.send("m", create("/p/b/c", "", 0));
        s.send("w", get_children("/nope", true));
        s.send("m", create("/nope", "", 0));
        s.send("m", create("/nope/x", "", 0));
    });

    sc(v, "watch-delete-with-all-watches", |s| {
        s.connect("w");
        s.connect("w2");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("m", create("/p/c", "", 0));
        s.send("w", get_data("/p/c", true));
        s.send("w", exists("/p/c", true));
        s.send("w", get_children("/p/c", true));
        s.send("w", get_children("/p", true));
        s.send("w2", get_children("/p/c", true));
        s.send("w2", get_data("/p", true));
        s.send("m", delete("/p/c", -1));
        s.send("m", delete("/p", -1));
    });

    sc(v, "watch-own-write", |s| {
        // The event is queued before the reply to the write that fires it.
        s.connect("c");
        s.send("c", create("/a", "", 0));
        s.send("c", get_data("/a", true));
        s.send("c", get_children("/a", true));
        s.send("c", set_data("/a", "x", -1));
        s.send("c", create("/a/b", "", 0));
        s.send("c", exists("/a/b", true));
        s.send("c", delete("/a/b", -1));
        s.send("c", get_data("/a", true));
        s.send(
            "c",
            multi(vec![m_set("/a", "y", -1), m_create("/a/c", "", 0)]),
        );
    });

    sc(v, "watch-same-path-many-registrations", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send("w", get_data("/a", true));
        s.send("w", get_data("/a", true));
        s.send("w", exists("/a", true));
        s.send("m", set_data("/a", "1", -1));
        s.send("m", set_data("/a", "2", -1));
    });

    sc(v, "watch-failed-reads-set-no-watch", |s| {
        s.connect("w");
        s.connect("m");
        s.send("w", get_data("/a", true));
        s.send("w", get_children("/a", true));
        s.send("w", get_children2("/a", true));
        s.send("m", create("/a", "", 0));
        s.send("m", create("/a/b", "", 0));
        s.send("m", set_data("/a", "x", -1));
    });

    sc(v, "watch-multi-fires", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("m", create("/p/x", "", 0));
        s.send("w", get_children("/p", true));
        s.send("w", get_data("/p/x", true));
        s.send("w", exists("/p/y", true));
        s.send("w", get_data("/p", true));
        s.send(
            "m",
            multi(vec![
                m_set("/p/x", "1", -1),
                m_create("/p/y", "", 0),
                m_delete("/p/x", -1),
                m_set("/p", "z", -1),
            ]),
        );
    });

    sc(v, "watch-failed-multi-fires-nothing", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("w", get_children("/p", true));
        s.send("w", exists("/p/y", true));
        s.send("w", get_data("/p", true));
        s.send(
            "m",
            multi(vec![
                m_create("/p/y", "", 0),
                m_set("/p", "z", -1),
                m_check("/p", 7),
            ]),
        );
        s.send("m", set_data("/p", "after", -1));
    });

    sc(v, "watch-ephemeral-close", |s| {
        s.connect("e");
        s.connect("w");
        s.send("e", create("/p", "", 0));
        s.send("e", create("/p/eph", "", 1));
        s.send("e", create("/p/seq-", "", 3));
        s.send("w", get_data("/p/eph", true));
        s.send("w", get_children("/p", true));
        s.send("w", exists("/p/seq-0000000001", true));
        s.close("e");
        s.send("w", get_children2("/p", false));
    });

    sc(v, "watch-persistent", |s| {
        s.connect("w");
        s.connect("m");
        s.send("w", add_watch("/p", 0));
        s.send("m", create("/p", "", 0));
        s.send("m", set_data("/p", "1", -1));
        s.send("m", create("/p/a", "", 0));
        s.send("m", set_data("/p/a", "1", -1));
        s.send("m", create("/p/a/b", "", 0));
        s.send("m", delete("/p/a/b", -1));
        s.send("m", delete("/p/a", -1));
        s.send("m", delete("/p", -1));
        s.send("m", create("/p", "again", 0));
        s.send("w", check_watches("/p", PERSISTENT));
    });

    sc(v, "watch-persistent-recursive", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/r", "", 0));
        s.send("w", add_watch("/r", 1));
        s.send("m", create("/r/a", "", 0));
        s.send("m", create("/r/a/b", "", 0));
        s.send("m", set_data("/r/a/b", "x", -1));
        s.send("m", set_data("/r", "x", -1));
        s.send("m", delete("/r/a/b", -1));
        s.send("m", create("/r/e-", "", 3));
        s.send("m", create("/rr", "", 0));
        s.send(
            "m",
            multi(vec![m_create("/r/m", "", 0), m_delete("/r/m", -1)]),
        );
        s.send("m", delete("/r/a", -1));
        s.close("m");
        s.send("w", check_watches("/r", RECURSIVE));
        s.send("w", check_watches("/r/a", RECURSIVE));
    });

    sc(v, "watch-recursive-on-root", |s| {
        s.connect("w");
        s.connect("m");
        s.send("w", add_watch("/", 1));
        s.send("m", create("/x", "", 0));
        s.send("m", create("/x/y", "", 0));
        s.send("m", set_data("/x/y", "d", -1));
        s.send("m", delete("/x/y", -1));
        s.send("m", delete("/x", -1));
    });

    sc(v, "watch-modes-coexist", |s| {
        // 3.8: a persistent watch on a path where the connection already has standard watches.
        s.connect("w");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("w", get_children("/p", true));
        s.send("w", get_data("/p", true));
        s.send("w", add_watch("/p", 0));
        s.send("m", create("/p/a", "", 0));
        s.send("m", set_data("/p", "1", -1));
        s.send("m", set_data("/p", "2", -1));
        s.send("w", add_watch("/p", 1));
        s.send("m", create("/p/b", "", 0));
        s.send("m", create("/p/b/c", "", 0));
        s.send("w", get_children("/p", true));
        s.send("m", delete("/p/b/c", -1));
        s.send("m", delete("/p/b", -1));
        s.send("w", remove_watches("/p", RECURSIVE));
        s.send("m", create("/p/d", "", 0));
        s.send("w", remove_watches("/p", PERSISTENT));
        s.send("m", create("/p/e", "", 0));
    });

    sc(v, "watch-recursive-and-standard-child", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("w", add_watch("/p", 1));
        s.send("w", get_children("/p", true));
        s.send("m", create("/p/a", "", 0));
        s.send("m", create("/p/b", "", 0));
        s.send("w", exists("/p/a", true));
        s.send("m", set_data("/p/a", "x", -1));
    });

    sc(v, "add-watch-errors", |s| {
        s.connect("w");
        s.send("w", add_watch("/nope", 0));
        s.send("w", add_watch("/nope2", 1));
        s.send("w", add_watch("/x", 2));
        s.send("w", add_watch("/x", -1));
        s.send("w", add_watch("bad", 0));
        s.send("w", add_watch("", 1));
        s.send("w", exists("/", false));
    });

    sc(v, "remove-watches-each-type", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        // Nothing registered yet.
        for t in [CHILDREN, DATA, ANY, PERSISTENT, RECURSIVE] {
            s.send("w", remove_watches("/a", t));
            s.send("w", check_watches("/a", t));
        }
        // Data watch.
        s.send("w", get_data("/a", true));
        s.send("w", check_watches("/a", CHILDREN));
        s.send("w", check_watches("/a", DATA));
        s.send("w", check_watches("/a", ANY));
        s.send("w", check_watches("/a", PERSISTENT));
        s.send("w", remove_watches("/a", CHILDREN));
        s.send("w", remove_watches("/a", DATA));
        s.send("w", remove_watches("/a", DATA));
        s.send("m", set_data("/a", "x", -1));
        // Child watch.
        s.send("w", get_children("/a", true));
        s.send("w", check_watches("/a", DATA));
        s.send("w", check_watches("/a", CHILDREN));
        s.send("w", remove_watches("/a", ANY));
        s.send("w", check_watches("/a", ANY));
        s.send("m", create("/a/x", "", 0));
        // Exists watch on a missing node.
        s.send("w", exists("/a/y", true));
        s.send("w", check_watches("/a/y", DATA));
        s.send("w", remove_watches("/a/y", DATA));
        s.send("m", create("/a/y", "", 0));
        // Persistent.
        s.send("w", add_watch("/a", 0));
        s.send("w", check_watches("/a", DATA));
        s.send("w", check_watches("/a", CHILDREN));
        s.send("w", check_watches("/a", RECURSIVE));
        s.send("w", check_watches("/a", PERSISTENT));
        s.send("w", remove_watches("/a", RECURSIVE));
        s.send("w", remove_watches("/a", DATA));
        s.send("w", remove_watches("/a", PERSISTENT));
        s.send("m", set_data("/a", "y", -1));
        // Recursive.
        s.send("w", add_watch("/a", 1));
        s.send("w", check_watches("/a", PERSISTENT));
        s.send("w", check_watches("/a", DATA));
        s.send("w", check_watches("/a", CHILDREN));
        s.send("w", check_watches("/a", RECURSIVE));
        s.send("w", check_watches("/a/x", RECURSIVE));
        s.send("w", remove_watches("/a", ANY));
        s.send("m", set_data("/a/x", "z", -1));
        // Bad types and paths.
        s.send("w", remove_watches("/a", 0));
        s.send("w", remove_watches("/a", 6));
        s.send("w", check_watches("/a", 9));
        s.send("w", remove_watches("/nope", ANY));
        s.send("w", remove_watches("bad", ANY));
    });

    sc(v, "check-watches-does-not-remove", |s| {
        s.connect("w");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send("w", get_data("/a", true));
        s.send("w", check_watches("/a", DATA));
        s.send("w", check_watches("/a", DATA));
        s.send("m", set_data("/a", "x", -1));
        s.send("w", check_watches("/a", DATA));
    });

    sc(v, "remove-watches-other-connection", |s| {
        s.connect("w");
        s.connect("o");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send("w", get_data("/a", true));
        s.send("o", remove_watches("/a", DATA));
        s.send("o", check_watches("/a", ANY));
        s.send("m", set_data("/a", "x", -1));
    });

    sc(v, "set-watches-catch-up", |s| {
        s.connect("c");
        s.connect("m");
        s.send("m", create("/d", "", 0));
        s.send("m", create("/gone", "", 0));
        s.send("m", create("/kids", "", 0));
        s.send("m", create("/same", "", 0));
        s.send("c", get_data("/d", true));
        s.send("c", get_data("/gone", true));
        s.send("c", exists("/later", true));
        s.send("c", get_children("/kids", true));
        s.send("c", get_data("/same", true));
        s.disconnect("c");
        s.send("m", set_data("/d", "changed", -1));
        s.send("m", delete("/gone", -1));
        s.send("m", create("/later", "", 0));
        s.send("m", create("/kids/k", "", 0));
        s.resume("c2", "c", Passwd::Right);
        s.set_watches(
            "c2",
            WatchSet {
                rel: Some("c".into()),
                data: vec!["/d".into(), "/gone".into(), "/same".into(), "/never".into()],
                exist: vec!["/later".into(), "/notyet".into()],
                child: vec!["/kids".into(), "/nokids".into()],
                ..Default::default()
            },
        );
        s.send("m", set_data("/same", "now", -1));
        s.send("m", create("/notyet", "", 0));
        s.send("m", set_data("/d", "again", -1));
        s.send("m", create("/never", "", 0));
    });

    sc(v, "set-watches-relative-zero", |s| {
        s.connect("c");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send("m", create("/a/b", "", 0));
        s.set_watches(
            "c",
            WatchSet {
                rel: None,
                data: vec!["/a".into(), "/nope".into()],
                exist: vec!["/a".into(), "/nope".into()],
                child: vec!["/a".into(), "/nope".into()],
                ..Default::default()
            },
        );
        s.send("m", set_data("/a", "x", -1));
    });

    sc(v, "set-watches-xid-minus-8", |s| {
        s.connect("c");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send("c", exists("/a", false));
        s.set_watches(
            "c",
            WatchSet {
                rel: Some("c".into()),
                data: vec!["/a".into()],
                xid: Some(-8),
                ..Default::default()
            },
        );
        s.send("m", set_data("/a", "x", -1));
    });

    sc(v, "set-watches2-persistent", |s| {
        s.connect("c");
        s.connect("m");
        s.send("m", create("/p", "", 0));
        s.send("m", create("/r", "", 0));
        s.send("c", add_watch("/p", 0));
        s.send("c", add_watch("/r", 1));
        s.disconnect("c");
        s.send("m", set_data("/p", "missed", -1));
        s.send("m", create("/r/missed", "", 0));
        s.resume("c2", "c", Passwd::Right);
        s.set_watches(
            "c2",
            WatchSet {
                v2: true,
                rel: Some("c".into()),
                data: vec!["/p".into()],
                persistent: vec!["/p".into(), "/nope".into()],
                recursive: vec!["/r".into()],
                ..Default::default()
            },
        );
        s.send("m", set_data("/p", "seen", -1));
        s.send("m", create("/r/x", "", 0));
        s.send("m", create("/r/x/y", "", 0));
        s.send("m", create("/nope", "", 0));
        s.send("c2", check_watches("/p", PERSISTENT));
        s.send("c2", check_watches("/r", RECURSIVE));
    });

    sc(v, "watches-lost-on-reconnect", |s| {
        s.connect("c");
        s.connect("m");
        s.send("m", create("/a", "", 0));
        s.send("c", get_data("/a", true));
        s.send("c", add_watch("/a", 0));
        s.disconnect("c");
        s.resume("c2", "c", Passwd::Right);
        s.send("m", set_data("/a", "x", -1));
        s.send("c2", check_watches("/a", ANY));
    });
}
