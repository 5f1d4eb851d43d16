#!/usr/bin/env python3
"""A kazoo workload for the zk-xchk cross-check proxy: kazoo's API and recipes, several clients
at once, watches, transactions, ACLs, async (pipelined) calls, a reconnect with SetWatches.

Usage: xchk_kazoo.py HOST:PORT
The proxy answers with Apache ZooKeeper's replies, so every assertion here is about ZooKeeper;
what zoolog would have answered is the proxy's business (its divergence log).
Exit status 0 when the workload ran through.
"""

import socket
import sys
import threading
import time

sys.dont_write_bytecode = True

from kazoo.client import KazooClient  # noqa: E402
from kazoo import exceptions as kx  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

HOSTS = sys.argv[1]
ROOT = "/xchk"


def client(**kw):
    c = KazooClient(hosts=HOSTS, timeout=10.0, **kw)
    c.start(timeout=15)
    return c


def wait_for(cond, what, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def main():
    a = client()
    b = client()
    a.ensure_path(ROOT)

    # CRUD and versions.
    a.create(ROOT + "/n", b"v0")
    data, stat = a.get(ROOT + "/n")
    assert data == b"v0" and stat.version == 0
    a.set(ROOT + "/n", b"v1", version=0)
    try:
        a.set(ROOT + "/n", b"v2", version=0)
        raise AssertionError("expected BadVersion")
    except kx.BadVersionError:
        pass
    assert b.exists(ROOT + "/nope") is None
    try:
        b.create(ROOT + "/n", b"")
        raise AssertionError("expected NodeExists")
    except kx.NodeExistsError:
        pass

    # Sequential and ephemeral nodes.
    seqs = [a.create(ROOT + "/q/item-", b"", sequence=True, makepath=True) for _ in range(5)]
    assert len(set(seqs)) == 5
    a.delete(seqs[1])
    b.create(ROOT + "/eph", b"", ephemeral=True)
    assert sorted(a.get_children(ROOT + "/q")) == sorted(s.rsplit("/", 1)[1] for s in seqs if s != seqs[1])

    # Watches: data and children, through kazoo's watchers.
    events = []
    got = threading.Event()

    def on_data(ev):
        events.append(("data", ev.type, ev.path))
        got.set()

    a.get(ROOT + "/n", watch=on_data)
    b.set(ROOT + "/n", b"from-b")
    wait_for(got.is_set, "data watch")
    kids = []

    @a.ChildrenWatch(ROOT + "/q")
    def _kids(children):
        kids.append(sorted(children))

    b.create(ROOT + "/q/item-", b"", sequence=True)
    wait_for(lambda: len(kids) >= 2, "children watch")

    values = []

    @b.DataWatch(ROOT + "/n")
    def _dw(data, stat):
        values.append(data)

    a.set(ROOT + "/n", b"dw1")
    a.set(ROOT + "/n", b"dw2")
    wait_for(lambda: values and values[-1] == b"dw2", "DataWatch")

    # Transactions.
    t = a.transaction()
    t.create(ROOT + "/t1", b"x")
    t.set_data(ROOT + "/n", b"tx")
    t.check(ROOT + "/n", 99)
    res = t.commit()
    assert any(isinstance(r, kx.BadVersionError) for r in res), res
    t = a.transaction()
    t.create(ROOT + "/t1", b"x")
    t.create(ROOT + "/t1/c", b"y")
    t.delete(ROOT + "/eph")
    assert t.commit() == [ROOT + "/t1", ROOT + "/t1/c", True]

    # Async calls: kazoo pipelines them on its connection.
    results = [a.exists_async(ROOT + "/q/item-%010d" % i) for i in range(8)]
    results += [a.get_async(ROOT + "/n") for _ in range(4)]
    results += [a.create_async(ROOT + "/async-%d" % i, b"") for i in range(4)]
    for r in results:
        r.get(timeout=10)

    # ACLs and digest auth.
    c = client(auth_data=[("digest", "bob:secret")])
    c.create(ROOT + "/acl", b"s", acl=[make_digest_acl("bob", "secret", all=True)])
    try:
        a.get(ROOT + "/acl")
        raise AssertionError("expected NoAuth")
    except kx.NoAuthError:
        pass
    assert c.get(ROOT + "/acl")[0] == b"s"
    acl, _ = c.get_acls(ROOT + "/acl")
    assert acl[0].id.scheme == "digest"

    # Recipes: lock, election, counter, queue, barrier, party.
    lock = a.Lock(ROOT + "/lock", "a")
    lock2 = b.Lock(ROOT + "/lock", "b")
    with lock:
        assert not lock2.acquire(blocking=False)
    assert lock2.acquire(timeout=10)
    lock2.release()
    counter = a.Counter(ROOT + "/counter")
    counter += 5
    counter -= 2
    assert counter.value == 3
    q = b.Queue(ROOT + "/queue")
    for i in range(3):
        q.put(b"job%d" % i)
    assert [q.get() for _ in range(3)] == [b"job0", b"job1", b"job2"]
    barrier = a.Barrier(ROOT + "/barrier")
    barrier.create()
    waited = []
    th = threading.Thread(target=lambda: waited.append(b.Barrier(ROOT + "/barrier").wait(10)))
    th.start()
    time.sleep(0.3)
    barrier.remove()
    th.join()
    assert waited == [True]
    party = a.Party(ROOT + "/party", "a")
    party.join()
    assert len(b.Party(ROOT + "/party")) == 1
    party.leave()
    elected = []
    election = b.Election(ROOT + "/election", "b")
    th = threading.Thread(target=lambda: election.run(lambda: elected.append(True)))
    th.start()
    th.join(10)
    assert elected == [True]

    # Reconnect: kazoo resumes the session and re-sends its watches (SetWatches).
    fired = threading.Event()
    a.exists(ROOT + "/later", watch=lambda ev: fired.set())
    states = []
    a.add_listener(lambda st: states.append(st))
    a._connection._socket.shutdown(socket.SHUT_RDWR)  # cut the connection under kazoo
    wait_for(lambda: "SUSPENDED" in states and a.connected, "reconnect")
    b.create(ROOT + "/later", b"")
    wait_for(fired.is_set, "watch after reconnect")

    # Clean up.
    c.delete(ROOT + "/acl")
    c.stop()
    b.stop()
    a.delete(ROOT, recursive=True)
    a.stop()
    print("xchk_kazoo: workload done")


if __name__ == "__main__":
    main()
