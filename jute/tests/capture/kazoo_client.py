#!/usr/bin/env python3
"""Drive kazoo (pure-Python ZooKeeper client) through the recording proxy.

Usage: kazoo_client.py <proxy host:port> <proxy control port>

Covers a representative set of kazoo's API: create (plain, ephemeral,
sequential, makepath, include_data -> create2), ensure_path, get / set /
exists / get_children (+include_data -> getChildren2) with watches, delete
(plain and recursive), transactions (ok and failing), get_acls / set_acls,
add_auth, sync, reconfig (rejected by a standalone server), error replies,
four-letter words through the proxy (not recorded), a ping, a reconnect of
the same session after the proxy drops the connection, and stop (close).
Exits nonzero on any unexpected result.
"""

import queue
import socket
import sys
import time

from kazoo import exceptions as kazoo_exceptions
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    KazooException,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    NoChildrenForEphemeralsError,
    InvalidACLError,
)
from kazoo.protocol.states import KazooState
from kazoo.security import OPEN_ACL_UNSAFE, make_acl, make_digest_acl

WAIT = 8.0


# kazoo 2.10 has no exception class for RECONFIGDISABLED (-123), which is what a
# standalone server answers to reconfig; without this its connection thread dies
# with "Invalid error code".  This only affects kazoo's error mapping, not the wire.
if -123 not in kazoo_exceptions.EXCEPTIONS:

    class ReconfigDisabledError(kazoo_exceptions.ZookeeperError):
        code = -123

    kazoo_exceptions.EXCEPTIONS[-123] = ReconfigDisabledError


def log(msg):
    print("[kazoo] " + msg, flush=True)


def fail(msg):
    raise SystemExit("[kazoo] FAILED: " + msg)


def ctl(port, cmd):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((cmd + "\n").encode())
        line = s.makefile().readline().strip()
    if not line.startswith("ok"):
        fail("proxy control %r -> %r" % (cmd, line))
    return line


def expect_err(exc, what, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc as e:
        log("%s -> %s (expected)" % (what, type(e).__name__))
        return
    except KazooException as e:
        fail("%s: expected %s, got %r" % (what, exc.__name__, e))
    fail("%s: expected %s, succeeded" % (what, exc.__name__))


def any_err(what, fn, *a, **kw):
    try:
        r = fn(*a, **kw)
        log("%s -> OK %r" % (what, r))
    except KazooException as e:
        log("%s -> %s" % (what, type(e).__name__))


class Events:
    def __init__(self):
        self.q = queue.Queue()

    def __call__(self, event):
        log("  event: %s %s %s" % (event.type, event.state, event.path))
        self.q.put((event.type, event.path))

    def expect(self, etype, path):
        end = time.time() + WAIT
        while True:
            left = end - time.time()
            if left <= 0:
                fail("timed out waiting for %s %s" % (etype, path))
            try:
                got = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if got == (etype, path):
                return
            log("  (skipped %r while waiting for %s %s)" % (got, etype, path))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    hosts = sys.argv[1]
    cport = int(sys.argv[2])

    ctl(cport, "label kazoo")
    ctl(
        cport,
        "desc kazoo main session, part 1: kazoo handshake, create/create2 (ephemeral, sequential, makepath), "
        "ensure_path, exists/get/get_children(+include_data) with watches and their events, set, delete, "
        "transactions ok+failing, get_acls/set_acls (digest, auth:'' sent as null id), add_auth, sync, "
        "reconfig with null strings, error replies incl. BADARGUMENTS, ping; cut by the proxy (continues in kazoo-02)",
    )
    states = []
    zk = KazooClient(hosts=hosts, timeout=4.0)
    zk.add_listener(lambda s: states.append(s))
    zk.start(timeout=15)
    ev = Events()

    # four-letter words through the proxy (plain text, must not be recorded)
    log("ruok via proxy -> %r" % zk.command(b"ruok"))
    log("srvr via proxy -> %r" % zk.command(b"srvr").splitlines()[0])

    zk.ensure_path("/k/a/b")  # exists + create chain
    zk.create("/k/p", b"p")  # create (1)
    zk.create("/k/e", b"e", ephemeral=True)
    log("sequence -> " + zk.create("/k/s-", b"s", sequence=True))
    log("ephemeral sequence -> " + zk.create("/k/es-", b"es", ephemeral=True, sequence=True))
    log("makepath -> " + zk.create("/k/deep/er/node", b"d", makepath=True))
    path, stat = zk.create("/k/p2", b"p2", include_data=True)  # create2 (15)
    log("create2 -> %s version=%d" % (path, stat.version))
    zk.create("/k/empty")  # value b"" -> zero-length buffer

    # exists / get / get_children with watches
    log("exists /k/p -> %r" % (zk.exists("/k/p", watch=ev) is not None))
    log("exists /k/new -> %r" % zk.exists("/k/new", watch=ev))
    data, stat = zk.get("/k/p", watch=ev)
    log("get /k/p -> %r" % data)
    log("get_children /k -> %r" % sorted(zk.get_children("/k", watch=ev)))
    children, stat = zk.get_children("/k", include_data=True)  # getChildren2 (12)
    log("get_children include_data -> %d children, cversion %d" % (len(children), stat.cversion))

    zk.set("/k/p", b"p1")
    ev.expect("CHANGED", "/k/p")
    zk.create("/k/new", b"n")
    ev.expect("CREATED", "/k/new")
    ev.expect("CHILD", "/k")
    zk.get("/k/new", watch=ev)
    zk.delete("/k/new")
    ev.expect("DELETED", "/k/new")

    # errors
    expect_err(NoNodeError, "get /k/nope", zk.get, "/k/nope")
    expect_err(NodeExistsError, "create /k/p", zk.create, "/k/p", b"x")
    expect_err(BadVersionError, "set /k/p version 99", zk.set, "/k/p", b"x", version=99)
    expect_err(NotEmptyError, "delete /k", zk.delete, "/k")
    expect_err(NoChildrenForEphemeralsError, "create /k/e/kid", zk.create, "/k/e/kid", b"x")
    expect_err(BadArgumentsError, "create /k/bad\\x01 (invalid char)", zk.create, "/k/bad\x01", b"x")
    expect_err(BadArgumentsError, "exists /k/nul\\x00l", zk.exists, "/k/nul\x00l")
    expect_err(
        InvalidACLError,
        "create /k/badacl digest:nocolon",
        zk.create,
        "/k/badacl",
        b"x",
        acl=[make_acl("digest", "nocolon", all=True)],
    )

    # transactions (multi 14)
    t = zk.transaction()
    t.create("/k/t1", b"t1")
    t.create("/k/t2", b"t2", ephemeral=True)
    t.set_data("/k/t1", b"t1b")
    t.check("/k/t1", 1)
    t.delete("/k/t2")
    log("transaction ok -> %r" % (t.commit(),))
    t = zk.transaction()
    t.create("/k/t3", b"t3")
    t.check("/k/t1", 99)
    t.delete("/k/nope")
    log("transaction failing -> %r" % (t.commit(),))

    # ACLs and auth
    zk.create("/k/secret", b"s", acl=[make_digest_acl("bob", "secret", all=True)])
    expect_err(NoAuthError, "get /k/secret", zk.get, "/k/secret")
    log("get_acls /k/p -> %r" % (zk.get_acls("/k/p")[0],))
    zk.add_auth("digest", "bob:secret")  # auth (100), xid -4
    log("get /k/secret after auth -> %r" % (zk.get("/k/secret")[0],))
    acls, stat = zk.get_acls("/k/secret")
    log("get_acls /k/secret -> %r" % (acls,))
    zk.set_acls(
        "/k/secret",
        [make_digest_acl("bob", "secret", all=True), make_acl("world", "anyone", read=True)],
        version=0,
    )
    # kazoo writes an empty string as length -1, so auth:'' goes out as a null id
    zk.set_acls("/k/p2", [make_acl("auth", "", all=True)])
    log("get_acls /k/p2 after set_acls auth:'' -> %r" % (zk.get_acls("/k/p2")[0],))
    zk.set_acls("/k/p2", OPEN_ACL_UNSAFE)
    expect_err(BadVersionError, "set_acls version 99", zk.set_acls, "/k/p2", OPEN_ACL_UNSAFE, version=99)

    log("sync -> %r" % zk.sync("/k"))
    # reconfig (16): kazoo sends None strings as length -1; standalone rejects it
    any_err("reconfig", zk.reconfig, joining=None, leaving=None, new_members="server.1=127.0.0.1:2888:3888;2181")
    any_err("get /zookeeper/config", zk.get, "/zookeeper/config")

    # ping
    log("idle 2.5 s for a ping")
    time.sleep(2.5)

    # reconnect of the same session through a proxy drop (kazoo sends no SetWatches)
    zk.get("/k/p", watch=ev)
    ctl(
        cport,
        "desc kazoo main session, part 2 (same session, new TCP connection after a proxy drop): "
        "ConnectRequest with sessionId/passwd/lastZxidSeen set, auth replay, then more ops and close (-11)",
    )
    n_states = len(states)
    ctl(cport, "drop")
    end = time.time() + WAIT
    while time.time() < end:
        if KazooState.SUSPENDED in states[n_states:] and zk.state == KazooState.CONNECTED:
            break
        time.sleep(0.05)
    else:
        fail("no reconnect after drop (states %r)" % states[n_states:])
    log("reconnected, states after drop: %r" % states[n_states:])
    log("get /k/secret after reconnect (auth replayed) -> %r" % (zk.get("/k/secret")[0],))
    zk.set("/k/p", b"p2")
    zk.delete("/k/deep", recursive=True)  # get_children + deletes
    log("get_children /k -> %r" % sorted(zk.get_children("/k")))
    time.sleep(0.2)
    zk.stop()  # closeSession (-11)
    zk.close()
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
