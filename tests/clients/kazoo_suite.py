#!/usr/bin/env python3
"""kazoo client suite: ZooKeeper 3.8 behaviour as seen through kazoo (Python), checked exactly.

Usage:
    kazoo_suite.py --server HOST:PORT [--tick-time MS] [--min-session-timeout MS]
                   [--max-session-timeout MS] [--super USER:PASSWORD] [--container-check-ms MS]
                   [--no-ttl] [--only NAME[,NAME...]] [--list] [-v]

The broadest of the client suites. Everything goes through kazoo's connection (its handshake,
xids, pings, auth replay, reconnects); where kazoo 2.10 has no API for an opcode (createContainer,
createTTL, multiRead, checkWatches, removeWatches, addWatch, getEphemerals, getAllChildrenNumber,
whoAmI, setWatches, setWatches2, create2 inside multi) the suite sends its own Jute record through
kazoo's request queue. Every notification is recorded as it comes off the wire (type, path,
state), so watch checks are exact: the events a session received between two points, in order.

Checks are relative, never absolute: error codes, Stat fields relative to each other (version,
cversion, aversion, numChildren, dataLength, ephemeralOwner == session id, czxid/mzxid/pzxid
relations, one zxid per write incl. failed ones), event type/path/order.

Each scenario works in its own subtree of a fresh root (/kazoo-suite-<random>), so the suite can run
against a server that other suites use too (pass --shared if they run at the same time: the checks
that count zxids assume no other writer). Exit status 0 when every scenario passed; otherwise 1,
with the mismatches (expected vs got) printed.
"""

import argparse
import difflib
import logging
import os
import pprint
import random
import struct
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zkproxy  # noqa: E402

from kazoo import exceptions as kx  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402
from kazoo.protocol import connection as kconn  # noqa: E402
from kazoo.protocol.serialization import Connect, Watch  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402
from kazoo.security import make_acl, make_digest_acl, make_digest_acl_credential  # noqa: E402

WAIT = 10.0  # longest wait for anything expected to happen

CODES = {
    0: "OK", -1: "SYSTEMERROR", -2: "RUNTIMEINCONSISTENCY", -3: "DATAINCONSISTENCY",
    -4: "CONNECTIONLOSS", -5: "MARSHALLINGERROR", -6: "UNIMPLEMENTED", -7: "OPERATIONTIMEOUT",
    -8: "BADARGUMENTS", -12: "UNKNOWNSESSION", -13: "NEWCONFIGNOQUORUM", -14: "RECONFIGINPROGRESS",
    -100: "APIERROR", -101: "NONODE", -102: "NOAUTH", -103: "BADVERSION",
    -108: "NOCHILDRENFOREPHEMERALS", -110: "NODEEXISTS", -111: "NOTEMPTY", -112: "SESSIONEXPIRED",
    -113: "INVALIDCALLBACK", -114: "INVALIDACL", -115: "AUTHFAILED", -118: "SESSIONMOVED",
    -119: "NOTREADONLY", -120: "EPHEMERALONLOCALSESSION", -121: "NOWATCHER", -122: "REQUESTTIMEOUT",
    -123: "RECONFIGDISABLED", -124: "SESSIONCLOSEDREQUIRESASLAUTH", -125: "QUOTAEXCEEDED",
    -127: "THROTTLEDOP",
}
for _n, _v in list(CODES.items()):
    globals()[_v] = _n

EVENTS = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}
CREATED, DELETED, CHANGED, CHILD = "NodeCreated", "NodeDeleted", "NodeDataChanged", "NodeChildrenChanged"

# kazoo 2.10 knows no exception class for some codes; without one its connection thread dies
# ("Invalid error code") when the server answers with them. Only kazoo's error mapping changes.
for _code, _name in CODES.items():
    if _code not in kx.EXCEPTIONS and _code < 0:
        kx.EXCEPTIONS[_code] = type("Code%dError" % -_code, (kx.ZookeeperError,), {"code": _code})

# Record the negotiated session timeout of every ConnectResponse (kazoo does not keep it).
NEGOTIATED = {}


class _RecordingConnect(Connect):
    @classmethod
    def deserialize(cls, data, offset):
        obj, offset = Connect.deserialize(data, offset)
        NEGOTIATED[obj.session_id] = obj.time_out
        return obj, offset


kconn.Connect = _RecordingConnect


def cname(code):
    return "%s(%d)" % (CODES.get(code, "?"), code) if isinstance(code, int) else repr(code)


# ---------------------------------------------------------------------------------------------
# Jute encoding for the records kazoo has no API for. Empty strings stay empty (kazoo's own
# writer turns "" into null).


def w_int(v):
    return struct.pack("!i", v)


def w_long(v):
    return struct.pack("!q", v)


def w_bool(v):
    return b"\x01" if v else b"\x00"


def w_str(s):
    if s is None:
        return w_int(-1)
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return w_int(len(b)) + b


w_buf = w_str


def w_strs(items):
    return w_int(len(items)) + b"".join(w_str(i) for i in items)


def w_acls(acls):
    out = w_int(len(acls))
    for perms, scheme, ident in acls:
        out += w_int(perms) + w_str(scheme) + w_str(ident)
    return out


STAT_FIELDS = "czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength numChildren pzxid".split()


class Rd:
    def __init__(self, b, o):
        self.b, self.o = b, o

    def int(self):
        v = struct.unpack_from("!i", self.b, self.o)[0]
        self.o += 4
        return v

    def long(self):
        v = struct.unpack_from("!q", self.b, self.o)[0]
        self.o += 8
        return v

    def bool(self):
        v = self.b[self.o] != 0
        self.o += 1
        return v

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        v = bytes(self.b[self.o:self.o + n])
        self.o += n
        return v

    def str(self):
        v = self.buf()
        return None if v is None else v.decode("utf-8")

    def stat(self):
        return dict(zip(STAT_FIELDS, [self.long(), self.long(), self.long(), self.long(), self.int(),
                                      self.int(), self.int(), self.long(), self.int(), self.int(),
                                      self.long()]))

    def strs(self):
        n = self.int()
        return None if n < 0 else [self.str() for _ in range(n)]

    def acls(self):
        n = self.int()
        return [(self.int(), self.str(), self.str()) for _ in range(n)]


class Req:
    """A request kazoo can queue: opcode, serialized record, response parser."""

    def __init__(self, opcode, body=b"", parse=None, name=None):
        self.type = opcode
        self.body = body
        self.parse = parse
        self.name = name or "op%d" % opcode

    def serialize(self):
        return self.body

    def deserialize(self, data, offset):
        return self.parse(Rd(data, offset)) if self.parse else None

    def __repr__(self):
        return "Req(%s)" % self.name


OPEN = [(31, "world", "anyone")]


def r_create(opcode, path, data=b"", acls=OPEN, flags=0, ttl=None):
    body = w_str(path) + w_buf(data) + w_acls(acls) + w_int(flags)
    if opcode == 21:
        body += w_long(ttl if ttl is not None else 0)
    if opcode == 1:
        return Req(1, body, lambda r: r.str(), "create")
    return Req(opcode, body, lambda r: (r.str(), r.stat()), {15: "create2", 19: "createContainer", 21: "createTTL"}[opcode])


def r_get_data(path, watch=False):
    return Req(4, w_str(path) + w_bool(watch), lambda r: (r.buf(), r.stat()), "getData")


def r_set_data(path, data, version=-1):
    return Req(5, w_str(path) + w_buf(data) + w_int(version), lambda r: r.stat(), "setData")


def r_delete(path, version=-1):
    return Req(2, w_str(path) + w_int(version), None, "delete")


def r_exists(path, watch=False):
    # opcode 3 with kazoo's exists special case (NONODE -> None) is avoided: parse it ourselves
    return Req(3, w_str(path) + w_bool(watch), lambda r: r.stat(), "exists")


def r_sync(path):
    return Req(9, w_str(path), lambda r: r.str(), "sync")


def r_check_watches(path, wtype):
    return Req(17, w_str(path) + w_int(wtype), None, "checkWatches")


def r_remove_watches(path, wtype):
    return Req(18, w_str(path) + w_int(wtype), None, "removeWatches")


def r_add_watch(path, mode):
    return Req(106, w_str(path) + w_int(mode), lambda r: r.int(), "addWatch")


def r_get_ephemerals(prefix):
    return Req(103, w_str(prefix), lambda r: sorted(r.strs()), "getEphemerals")


def r_all_children_number(path):
    return Req(104, w_str(path), lambda r: r.int(), "getAllChildrenNumber")


def r_who_am_i():
    return Req(107, b"", lambda r: sorted((r.str(), r.str()) for _ in range(r.int())), "whoAmI")


def r_set_watches(rel_zxid, data=(), exist=(), child=()):
    return Req(101, w_long(rel_zxid) + w_strs(data) + w_strs(exist) + w_strs(child), None, "setWatches")


def r_set_watches2(rel_zxid, data=(), exist=(), child=(), persistent=(), recursive=()):
    body = w_long(rel_zxid) + w_strs(data) + w_strs(exist) + w_strs(child) + w_strs(persistent) + w_strs(recursive)
    return Req(105, body, None, "setWatches2")


def r_reconfig(joining, leaving, members, config_id=-1):
    return Req(16, w_str(joining) + w_str(leaving) + w_str(members) + w_long(config_id),
               lambda r: (r.buf(), r.stat()), "reconfig")


def r_get_acl(path):
    return Req(6, w_str(path), lambda r: (r.acls(), r.stat()), "getACL")


def r_set_acl(path, acls, version=-1):
    return Req(7, w_str(path) + w_acls(acls) + w_int(version), lambda r: r.stat(), "setACL")


# multi / multiRead ops: (opcode, record)
def op_create(path, data=b"", acls=OPEN, flags=0, opcode=1, ttl=None):
    body = w_str(path) + w_buf(data) + w_acls(acls) + w_int(flags)
    if opcode == 21:
        body += w_long(ttl)
    return (opcode, body)


def op_delete(path, version=-1):
    return (2, w_str(path) + w_int(version))


def op_set(path, data, version=-1):
    return (5, w_str(path) + w_buf(data) + w_int(version))


def op_check(path, version):
    return (13, w_str(path) + w_int(version))


def op_get_data(path, watch=False):
    return (4, w_str(path) + w_bool(watch))


def op_get_children(path, watch=False):
    return (8, w_str(path) + w_bool(watch))


def _parse_multi(r):
    """MultiResponse -> list of ("create", path) | ("create2", path, stat) | ("delete",) |
    ("check",) | ("setData", stat) | ("getData", data, stat) | ("getChildren", sorted names) |
    ("error", code). The MultiHeader err of an error result must equal its ErrorResponse."""
    out = []
    while True:
        t, done, err = r.int(), r.bool(), r.int()
        if done:
            return out
        if t == 1:
            out.append(("create", r.str()))
        elif t == 15:
            out.append(("create2", r.str(), r.stat()))
        elif t == 2:
            out.append(("delete",))
        elif t == 13:
            out.append(("check",))
        elif t == 5:
            out.append(("setData", r.stat()))
        elif t == 4:
            out.append(("getData", r.buf(), r.stat()))
        elif t == 8:
            out.append(("getChildren", sorted(r.strs())))
        elif t == -1:
            code = r.int()
            if code != err:
                out.append(("error-header-mismatch", err, code))
            else:
                out.append(("error", code))
        else:
            raise ValueError("unexpected multi result type %d" % t)


def r_multi(ops, opcode=14):
    body = b"".join(w_int(t) + w_bool(False) + w_int(-1) + rec for t, rec in ops)
    body += w_int(-1) + w_bool(True) + w_int(-1)
    return Req(opcode, body, _parse_multi, "multi" if opcode == 14 else "multiRead")


# ---------------------------------------------------------------------------------------------


class Mismatch(Exception):
    pass


def _fmt(v):
    return pprint.pformat(v, width=100)


def diff_text(want, got):
    a, b = _fmt(want).splitlines(), _fmt(got).splitlines()
    if len(a) + len(b) <= 4:
        return "  expected: %s\n  got:      %s" % (_fmt(want), _fmt(got))
    return "\n".join("  " + line for line in difflib.unified_diff(a, b, "expected", "got", lineterm=""))


class Session:
    """A kazoo client whose notifications are recorded off the wire, in order."""

    def __init__(self, suite, name, hosts=None, timeout_ms=None, client_id=None, start=True, auth=None):
        self.suite = suite
        self.name = name
        self.hosts = hosts or suite.args.server
        self.timeout_ms = timeout_ms or suite.main_timeout
        self.zk = KazooClient(
            hosts=self.hosts,
            timeout=self.timeout_ms / 1000.0,
            client_id=client_id,
            auth_data=auth,
            connection_retry=dict(max_tries=-1, delay=0.05, backoff=1.3, max_delay=0.5),
            # The servers in the order given: every session of a scenario starts on the same
            # one. Scenarios read one session's write from another without a sync, which an
            # ensemble only promises on the same server; the others are there to fail over to.
            randomize_hosts=False,
        )
        self.lock = threading.Lock()
        self.events = []  # (type name, path, state)
        self.states = []
        self.zk.add_listener(self._on_state)
        conn = self.zk._connection
        orig = conn._read_watch_event

        def record(data, offset):
            w, _ = Watch.deserialize(data, offset)
            with self.lock:
                self.events.append((EVENTS.get(w.type, "type%d" % w.type), w.path, w.state))
            return orig(data, offset)

        conn._read_watch_event = record
        self._stick_to_first_host(conn)
        suite.sessions.append(self)
        if start:
            self.start()

    def _stick_to_first_host(self, conn):
        """Every connection attempt starts from the first server of the list.

        kazoo goes on to the next server when a connection drops (a scenario that closes one
        on purpose, say), so a session would end up on another server than the scenario's other
        sessions, whose writes that server may not have applied yet (ZooKeeper promises a
        session other sessions' writes only after a sync, or on the same server). The rest of
        the list is still there to fail over to."""
        connects = [0]
        orig_connect = conn._connect

        def counted(*args):
            out = orig_connect(*args)
            connects[0] += 1
            return out

        def loop(retry):
            for host, hostip, port in conn._expand_client_hosts():
                if self.zk._stopped.is_set():
                    return kconn.STOP_CONNECTING
                before = connects[0]
                if conn._connect_attempt(host, hostip, port, retry) is kconn.STOP_CONNECTING:
                    return kconn.STOP_CONNECTING
                if connects[0] != before:
                    break  # it was connected, and the connection dropped: start over
            raise kconn.ForceRetryError("Reconnecting")

        conn._connect = counted
        conn._connect_loop = loop

    def _on_state(self, state):
        with self.lock:
            self.states.append(state)

    def start(self):
        self.zk.start(timeout=WAIT)

    @property
    def sid(self):
        return self.zk.client_id[0]

    @property
    def passwd(self):
        return self.zk.client_id[1]

    @property
    def negotiated(self):
        return NEGOTIATED.get(self.sid)

    def call(self, req):
        ar = self.zk.handler.async_result()
        self.zk._call(req, ar)
        return ar.get(timeout=WAIT)

    def barrier(self):
        """A round trip: every notification caused by writes acknowledged before now has arrived.

        sync first: in an ensemble, this session's server may not have applied yet a write
        another session's server acknowledged."""
        self.zk.sync("/")
        self.zk.exists("/")

    def take_events(self):
        with self.lock:
            ev = self.events[:]
            del self.events[:]
        bad = [e for e in ev if e[2] != 3]
        if bad:
            raise Mismatch("%s: notifications with state != 3 (SyncConnected): %r" % (self.name, bad))
        return [(t, p) for t, p, _ in ev]

    def event_count(self):
        with self.lock:
            return len(self.events)

    def wait_state(self, state, since=0, timeout=WAIT):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if state in self.states[since:]:
                    return
            time.sleep(0.02)
        raise Mismatch("%s: no %s state within %.1fs (states since: %r)" % (self.name, state, timeout, self.states[since:]))

    def wait_connected(self, timeout=WAIT):
        end = time.time() + timeout
        while time.time() < end:
            if self.zk.state == KazooState.CONNECTED:
                return
            time.sleep(0.02)
        raise Mismatch("%s: not connected within %.1fs (state %s)" % (self.name, timeout, self.zk.state))

    def close_session(self):
        """closeSession (-11), waiting for the reply: then the server has deleted the session's
        ephemerals and queued their notifications. (kazoo's stop() may close the socket without
        sending closeSession at all when its connection loop sees the stop flag first.)"""
        self.call(Req(-11, b"", None, "closeSession"))

    def close(self):
        if self.zk.connected:
            try:
                self.close_session()
            except Exception:
                pass
        try:
            self.zk.stop()
        except Exception:
            pass
        try:
            self.zk.close()
        except Exception:
            pass


def noop_watch(_event):
    pass


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


class Suite:
    def __init__(self, args):
        self.args = args
        self.checks = 0
        self.sessions = []
        self.root = "/kazoo-suite-%08x" % random.getrandbits(32)
        self.min_to = args.min_session_timeout
        self.max_to = args.max_session_timeout
        self.main_timeout = min(max(4000, self.min_to), self.max_to)
        self.proxies = []

    # ---- checks
    def eq(self, what, got, want):
        self.checks += 1
        if got != want:
            raise Mismatch("%s\n%s" % (what, diff_text(want, got)))
        if self.args.verbose:
            print("    ok: %s" % what)

    def true(self, what, cond, detail=""):
        self.checks += 1
        if not cond:
            raise Mismatch("%s%s" % (what, ("\n  " + detail) if detail else ""))

    def code(self, what, want, fn, *a, **kw):
        """fn must fail with ZooKeeper error `want`."""
        self.checks += 1
        try:
            r = fn(*a, **kw)
        except kx.ZookeeperError as e:
            got = getattr(e, "code", None)
            if got != want:
                raise Mismatch("%s\n  expected error %s\n  got error      %s" % (what, cname(want), cname(got)))
            return e
        raise Mismatch("%s\n  expected error %s\n  got success: %s" % (what, cname(want), _fmt(r)))

    def ok(self, what, fn, *a, **kw):
        self.checks += 1
        try:
            return fn(*a, **kw)
        except kx.ZookeeperError as e:
            raise Mismatch("%s\n  expected success\n  got error %s" % (what, cname(getattr(e, "code", None))))

    def stat(self, what, st, **want):
        st = stat_dict(st)
        got = {k: st[k] for k in want}
        self.eq(what + " (stat %s)" % ",".join(sorted(want)), got, want)

    def events(self, sess, want, what, unordered=False, barrier=True):
        if barrier:
            sess.barrier()
        got = sess.take_events()
        if unordered:
            self.eq(what + " [events of %s, any order]" % sess.name, sorted(got), sorted(want))
        else:
            self.eq(what + " [events of %s, in order]" % sess.name, got, want)

    def wait_events(self, sess, n, timeout, what):
        end = time.time() + timeout
        while time.time() < end and sess.event_count() < n:
            time.sleep(0.02)
        if sess.event_count() < n:
            raise Mismatch("%s: expected %d notification(s) within %.1fs, got %r" % (what, n, timeout, sess.events))

    # ---- helpers
    def node(self, name):
        """A fresh subtree for one scenario."""
        path = "%s/%s" % (self.root, name)
        self.a.zk.create(path, b"")
        return path

    def session(self, name, **kw):
        return Session(self, name, **kw)

    def proxy(self):
        # through the first server of the connection string
        host, port = self.args.server.split(",")[0].rsplit(":", 1)
        p = zkproxy.Proxy((host, int(port))).start()
        self.proxies.append(p)
        return p

    def run(self):
        self.a = self.session("A")
        self.b = self.session("B")
        self.a.zk.create(self.root, b"suite root")
        only = set(self.args.only.split(",")) if self.args.only else None
        failures = []
        ran = 0
        for fn in SCENARIOS:
            name = fn.__name__
            if only and name not in only:
                continue
            ran += 1
            before = self.checks
            t0 = time.time()
            try:
                self.a.take_events()
                self.b.take_events()
                fn(self)
                print("ok   %-40s %4d checks %6.2fs" % (name, self.checks - before, time.time() - t0), flush=True)
            except Mismatch as e:
                failures.append((name, str(e)))
                print("FAIL %-40s after %d checks %6.2fs\n%s" % (name, self.checks - before, time.time() - t0, indent(str(e))), flush=True)
            except Exception:
                failures.append((name, traceback.format_exc()))
                print("FAIL %-40s unexpected exception:\n%s" % (name, indent(traceback.format_exc())), flush=True)
            finally:
                for s in self.sessions[2:]:
                    s.close()
                del self.sessions[2:]
                for p in self.proxies:
                    p.close()
                del self.proxies[:]
        try:
            self.a.zk.add_auth("digest", "bob:secret")
            if self.args.super:
                self.a.zk.add_auth("digest", self.args.super)
            remove_tree(self.a, self.root)
        except Exception as e:
            print("(cleanup of %s failed: %r)" % (self.root, e))
        for s in self.sessions:
            s.close()
        print("kazoo suite: %d scenarios, %d checks: %d passed, %d failed" % (ran, self.checks, ran - len(failures), len(failures)))
        if failures:
            print("\nFAILED scenarios:")
            for name, msg in failures:
                print("--- %s\n%s" % (name, indent(msg)))
        return 1 if failures else 0


def remove_tree(sess, path):
    """Deletes path and everything below; lists children only where a delete says NOTEMPTY."""
    try:
        sess.zk.delete(path)
    except kx.NoNodeError:
        pass
    except kx.NotEmptyError:
        for c in sess.zk.get_children(path):
            remove_tree(sess, path + "/" + c)
        sess.zk.delete(path)


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


def stat_dict(st):
    if st is None:
        return None
    if isinstance(st, dict):
        return st
    return dict(st._asdict())


def count_descendants(sess, path):
    n = 0
    for c in sess.zk.get_children(path):
        n += 1 + count_descendants(sess, path.rstrip("/") + "/" + c)
    return n


def fresh_stat_ok(t, what, st, data_len, owner=0):
    """A just-created node's Stat, relative checks only."""
    st = stat_dict(st)
    t.stat(what, st, version=0, cversion=0, aversion=0, numChildren=0, dataLength=data_len, ephemeralOwner=owner)
    t.eq(what + ": mzxid == czxid, pzxid == czxid, mtime == ctime",
         (st["mzxid"], st["pzxid"], st["mtime"]), (st["czxid"], st["czxid"], st["ctime"]))


# =============================================================================================
# Scenarios


@scenario
def handshake_and_server_info(t):
    a = t.a
    t.true("session id is nonzero", a.sid != 0)
    t.eq("password is 16 bytes", len(a.passwd), 16)
    t.eq("negotiated timeout of the main session", a.negotiated, t.main_timeout)
    lo = t.session("lo", timeout_ms=t.min_to - 1)
    t.eq("requested minSessionTimeout - 1 -> minSessionTimeout", lo.negotiated, t.min_to)
    hi = t.session("hi", timeout_ms=10_000_000)
    t.eq("requested 10^7 ms -> maxSessionTimeout", hi.negotiated, t.max_to)
    t.true("distinct sessions get distinct ids", len({a.sid, t.b.sid, lo.sid, hi.sid}) == 4)
    t.eq("ruok", a.zk.command(b"ruok"), "imok")
    srvr = a.zk.command(b"srvr")
    t.true("srvr reports a 3.8 server", srvr.startswith("Zookeeper version: 3.8"), repr(srvr[:80]))
    t.eq("kazoo server_version() (from envi)", a.zk.server_version()[:2], (3, 8))
    t.eq("isro", a.zk.command(b"isro"), "rw")


@scenario
def create_modes_and_stats(t):
    a = t.a
    r = t.node("create")
    sid = a.sid
    # create (1) through kazoo's plain API, create2 (15) through include_data
    t.eq("create PERSISTENT returns the path", a.zk.create(r + "/p", b"abc"), r + "/p")
    data, st = a.zk.get(r + "/p")
    t.eq("data round trip", data, b"abc")
    fresh_stat_ok(t, "PERSISTENT", st, 3)
    path, st2 = a.zk.create(r + "/p2", b"hello", include_data=True)
    t.eq("create2 path", path, r + "/p2")
    fresh_stat_ok(t, "create2 PERSISTENT", st2, 5)
    t.eq("create2 Stat == exists Stat", stat_dict(st2), stat_dict(a.zk.exists(r + "/p2")))
    t.true("czxid increases with every create", st2.czxid > st.czxid)
    path, st = a.zk.create(r + "/e", b"e", ephemeral=True, include_data=True)
    fresh_stat_ok(t, "create2 EPHEMERAL", st, 1, owner=sid)
    path = a.zk.create(r + "/e1", b"", ephemeral=True)
    fresh_stat_ok(t, "create EPHEMERAL", a.zk.exists(path), 0, owner=sid)
    # containers (19) and TTL nodes (21): ephemeralOwner reads 0
    path, st = a.call(r_create(19, r + "/c", b"cc", flags=4))
    t.eq("createContainer path", path, r + "/c")
    fresh_stat_ok(t, "CONTAINER", st, 2)
    t.eq("createContainer Stat == exists Stat", st, stat_dict(a.zk.exists(r + "/c")))
    if not t.args.no_ttl:
        path, st = a.call(r_create(21, r + "/ttl", b"t", flags=5, ttl=600000))
        t.eq("createTTL path", path, r + "/ttl")
        fresh_stat_ok(t, "PERSISTENT_WITH_TTL", st, 1)
    # null data (length -1) vs empty data (length 0)
    a.call(r_create(1, r + "/null", None))
    data, st = a.zk.get(r + "/null")
    t.eq("null data reads back as null", data, None)
    t.eq("null data: dataLength 0", st.dataLength, 0)
    a.zk.create(r + "/empty", b"")
    t.eq("empty data reads back as empty", a.zk.get(r + "/empty")[0], b"")
    big = bytes(random.getrandbits(8) for _ in range(1000)) * 1000
    a.zk.create(r + "/big", big)
    data, st = a.zk.get(r + "/big")
    t.eq("1,000,000-byte value round trip", (data == big, st.dataLength), (True, 1000000))
    # the parent: numChildren, cversion (= creates + deletes), pzxid = czxid of the last child
    last = a.zk.create(r + "/last", b"", include_data=True)[1]
    pst = a.zk.exists(r)
    n = 10 if not t.args.no_ttl else 9
    t.stat("parent after %d child creates" % n, pst, numChildren=n, cversion=n, version=0)
    t.eq("parent pzxid == czxid of the last child created", pst.pzxid, last.czxid)
    t.true("parent mzxid unchanged by child creates", pst.mzxid == pst.czxid)
    t.eq("children", sorted(a.zk.get_children(r)), sorted(["p", "p2", "e", "e1", "c", "null", "empty", "big", "last"] + ([] if t.args.no_ttl else ["ttl"])))


@scenario
def sequential_names(t):
    a = t.a
    r = t.node("seq")
    t.eq("first PERSISTENT_SEQUENTIAL", a.zk.create(r + "/a-", b"", sequence=True), r + "/a-0000000000")
    t.eq("second PERSISTENT_SEQUENTIAL", a.zk.create(r + "/a-", b"", sequence=True), r + "/a-0000000001")
    a.zk.create(r + "/plain", b"")
    t.eq("a plain child also counts", a.zk.create(r + "/b-", b"", sequence=True), r + "/b-0000000003")
    a.zk.delete(r + "/a-0000000000")
    a.zk.delete(r + "/b-0000000003")
    t.eq("deletes do not count (EPHEMERAL_SEQUENTIAL)", a.zk.create(r + "/e-", b"", sequence=True, ephemeral=True), r + "/e-0000000004")
    path, st = a.zk.create(r + "/f-", b"", sequence=True, include_data=True)
    t.eq("create2 sequential", path, r + "/f-0000000005")
    t.eq("sequential create of '<parent>/' names the node by the counter alone", a.call(r_create(1, r + "/", flags=2)), r + "/0000000006")
    if not t.args.no_ttl:
        path, _ = a.call(r_create(21, r + "/t-", flags=6, ttl=600000))
        t.eq("PERSISTENT_SEQUENTIAL_WITH_TTL", path, r + "/t-0000000007")
    n_creates = 8 if not t.args.no_ttl else 7
    pst = a.zk.exists(r)
    t.stat("parent cversion = creates + deletes", pst, cversion=n_creates + 2, numChildren=n_creates - 2)
    r2 = t.node("seq2")
    t.eq("counter is per parent", a.zk.create(r2 + "/x", b"", sequence=True), r2 + "/x0000000000")
    # a failed create does not advance the counter
    t.code("create under missing parent", NONODE, a.zk.create, r2 + "/nope/x", b"", sequence=True)
    a.zk.create(r2 + "/dup", b"")
    t.code("NODEEXISTS does not advance the counter", NODEEXISTS, a.zk.create, r2 + "/dup", b"")
    t.eq("next sequential after a failure", a.zk.create(r2 + "/x", b"", sequence=True), r2 + "/x0000000002")


@scenario
def create_errors(t):
    a = t.a
    r = t.node("cerr")
    a.zk.create(r + "/p", b"")
    a.zk.create(r + "/eph", b"", ephemeral=True)
    if not t.args.no_ttl:
        path, _ = a.call(r_create(21, r + "/tmax", flags=5, ttl=(1 << 40) - 1))
        t.eq("createTTL ttl=2^40-1 is accepted", path, r + "/tmax")
        a.zk.delete(r + "/tmax")
    before = stat_dict(a.zk.exists(r))
    t.code("create existing", NODEEXISTS, a.zk.create, r + "/p", b"")
    t.code("create2 existing", NODEEXISTS, a.zk.create, r + "/p", b"", include_data=True)
    t.code("createContainer existing", NODEEXISTS, a.call, r_create(19, r + "/p", flags=4))
    t.code("create '/'", NODEEXISTS, a.call, r_create(1, "/"))
    t.code("create under missing parent", NONODE, a.zk.create, r + "/missing/x", b"")
    t.code("create2 under missing parent", NONODE, a.zk.create, r + "/missing/x", b"", include_data=True)
    t.code("createContainer under missing parent", NONODE, a.call, r_create(19, r + "/missing/x", flags=4))
    t.code("create under an ephemeral", NOCHILDRENFOREPHEMERALS, a.zk.create, r + "/eph/x", b"")
    t.code("sequential create under an ephemeral", NOCHILDRENFOREPHEMERALS, a.zk.create, r + "/eph/x", b"", sequence=True)
    t.code("createContainer under an ephemeral", NOCHILDRENFOREPHEMERALS, a.call, r_create(19, r + "/eph/x", flags=4))
    t.code("create with flags 7", BADARGUMENTS, a.call, r_create(1, r + "/f7", flags=7))
    t.code("create (1) with a TTL flag", BADARGUMENTS, a.call, r_create(1, r + "/f5", flags=5))
    t.code("create2 (15) with a TTL flag", BADARGUMENTS, a.call, r_create(15, r + "/f5", flags=5))
    if not t.args.no_ttl:
        t.code("createTTL ttl=0", BADARGUMENTS, a.call, r_create(21, r + "/t", flags=5, ttl=0))
        t.code("createTTL ttl=-1", BADARGUMENTS, a.call, r_create(21, r + "/t", flags=5, ttl=-1))
        t.code("createTTL ttl=2^40", BADARGUMENTS, a.call, r_create(21, r + "/t", flags=5, ttl=1 << 40))
        for flags in (0, 1, 2, 3, 4):
            t.code("createTTL with non-TTL flags %d" % flags, BADARGUMENTS, a.call, r_create(21, r + "/t", flags=flags, ttl=1000))
        t.code("createTTL under missing parent", NONODE, a.call, r_create(21, r + "/missing/t", flags=5, ttl=1000))
    for bad in (r + "/.", r + "/..", r + "/x\x01", r + "/x\x7f", "noslash", ""):
        t.code("create with invalid path %r" % bad, BADARGUMENTS, a.call, r_create(1, bad))
    t.code("non-sequential create of '<existing>/'", BADARGUMENTS, a.call, r_create(1, r + "/p/"))
    t.code("create '<root>//x': the parent '<root>/' does not exist", NONODE, a.call, r_create(1, r + "//x"))
    t.code("kazoo create with a control character", BADARGUMENTS, a.zk.create, r + "/bad\x01", b"")
    after = stat_dict(a.zk.exists(r))
    t.eq("failed creates leave the parent untouched", after, dict(before))
    t.eq("nothing was created", sorted(a.zk.get_children(r)), ["eph", "p"])
    # a frame larger than jute.maxbuffer (1 MiB) makes the server drop the connection;
    # the session survives and kazoo reconnects
    sid = a.sid
    n_states = len(a.states)
    t.code("create with 1 MiB + 10 bytes of data", CONNECTIONLOSS, a.zk.create, r + "/huge", b"x" * (1024 * 1024 + 10))
    a.wait_connected()
    t.eq("same session after the server dropped the connection", a.sid, sid)
    t.true("kazoo saw the connection drop", KazooState.SUSPENDED in a.states[n_states:], repr(a.states[n_states:]))
    t.eq("the oversized node was not created", a.zk.exists(r + "/huge"), None)


@scenario
def reads(t):
    a, b = t.a, t.b
    r = t.node("reads")
    a.zk.create(r + "/x", b"xdata")
    a.zk.create(r + "/x/1", b"")
    a.zk.create(r + "/x/2", b"")
    a.zk.create(r + "/x/2/deep", b"")
    data, st = b.zk.get(r + "/x")
    t.eq("getData", data, b"xdata")
    t.stat("getData stat", st, numChildren=2, dataLength=5, version=0, cversion=2)
    t.eq("exists Stat == getData Stat", stat_dict(b.zk.exists(r + "/x")), stat_dict(st))
    t.eq("exists on a missing node", b.zk.exists(r + "/nope"), None)
    t.eq("getChildren (order unspecified; sorted here)", sorted(b.zk.get_children(r + "/x")), ["1", "2"])
    children, pst = b.zk.get_children(r + "/x", include_data=True)
    t.eq("getChildren2 children", sorted(children), ["1", "2"])
    t.eq("getChildren2 Stat == exists Stat", stat_dict(pst), stat_dict(st))
    t.eq("getChildren of a leaf", b.zk.get_children(r + "/x/1"), [])
    t.code("getData missing", NONODE, b.zk.get, r + "/nope")
    t.code("getChildren missing", NONODE, b.zk.get_children, r + "/nope")
    t.code("getChildren2 missing", NONODE, b.zk.get_children, r + "/nope", include_data=True)
    t.code("getData with an empty path segment (not validated: NONODE)", NONODE, b.call, r_get_data(r + "//x"))
    t.code("exists with a NUL in the path", BADARGUMENTS, b.zk.exists, r + "/nul\x00l")
    t.eq("getAllChildrenNumber counts all descendants", b.call(r_all_children_number(r + "/x")), 3)
    t.eq("getAllChildrenNumber of a leaf", b.call(r_all_children_number(r + "/x/1")), 0)
    t.eq("getAllChildrenNumber of the scenario root", b.call(r_all_children_number(r)), 4)
    t.code("getAllChildrenNumber missing", NONODE, b.call, r_all_children_number(r + "/nope"))
    t.eq("getAllChildrenNumber /zookeeper == descendants found by getChildren",
         b.call(r_all_children_number("/zookeeper")), count_descendants(b, "/zookeeper"))
    t.eq("sync returns the path", b.call(r_sync(r)), r)
    t.eq("kazoo sync", b.zk.sync(r), r)
    t.eq("sync of a missing path succeeds", b.call(r_sync(r + "/nope")), r + "/nope")
    # the special nodes
    t.true("/zookeeper has config and quota", {"config", "quota"} <= set(b.zk.get_children("/zookeeper")))
    acls, cst = b.call(r_get_acl("/zookeeper/config"))
    t.eq("/zookeeper/config ACL is world READ", acls, [(1, "world", "anyone")])
    t.eq("/zookeeper/config aversion", cst["aversion"], -1)
    t.code("setData /zookeeper/config without auth", NOAUTH, b.zk.set, "/zookeeper/config", b"x")
    t.code("delete /", BADARGUMENTS, b.call, r_delete("/"))
    t.code("delete /zookeeper", BADARGUMENTS, b.call, r_delete("/zookeeper"))
    t.code("delete /zookeeper/quota", BADARGUMENTS, b.call, r_delete("/zookeeper/quota"))


@scenario
def set_data_versions(t):
    a = t.a
    r = t.node("set")
    _, st0 = a.zk.create(r + "/n", b"v0", include_data=True)
    st1 = a.zk.set(r + "/n", b"v1")
    t.stat("after 1st setData", st1, version=1, dataLength=2, cversion=0, aversion=0, czxid=st0.czxid, ctime=st0.ctime, pzxid=st0.pzxid)
    t.true("mzxid advanced", st1.mzxid > st0.mzxid)
    t.true("mtime >= ctime", st1.mtime >= st1.ctime)
    t.eq("setData Stat == exists Stat", stat_dict(st1), stat_dict(a.zk.exists(r + "/n")))
    st2 = a.zk.set(r + "/n", b"version two", version=1)
    t.stat("setData with the matching version", st2, version=2, dataLength=11)
    t.code("setData with a stale version", BADVERSION, a.zk.set, r + "/n", b"x", version=1)
    t.code("setData with a future version", BADVERSION, a.zk.set, r + "/n", b"x", version=5)
    t.code("setData on a missing node", NONODE, a.zk.set, r + "/nope", b"x")
    t.code("setData on a missing node with a version", NONODE, a.zk.set, r + "/nope", b"x", version=3)
    t.code("setData with an invalid path", BADARGUMENTS, a.call, r_set_data(r + "//n", b"x"))
    t.eq("failed setData changed nothing", stat_dict(a.zk.exists(r + "/n")), stat_dict(st2))
    st3 = a.call(r_set_data(r + "/n", None))
    t.stat("setData null", st3, version=3, dataLength=0)
    t.eq("null data reads back as null", a.zk.get(r + "/n")[0], None)
    st4 = a.zk.set(r + "/n", b"")
    t.stat("setData empty", st4, version=4, dataLength=0)
    t.eq("empty data reads back as empty", a.zk.get(r + "/n")[0], b"")
    for i in range(5, 9):
        st = a.zk.set(r + "/n", b"x" * i, version=i - 1)
    t.stat("versions count every setData", st, version=8, dataLength=8)
    t.eq("the parent is untouched by setData", stat_dict(a.zk.exists(r))["cversion"], 1)


@scenario
def delete_semantics(t):
    a, b = t.a, t.b
    r = t.node("del")
    a.zk.create(r + "/n", b"")
    a.zk.create(r + "/full", b"")
    a.zk.create(r + "/full/kid", b"")
    a.zk.set(r + "/n", b"1")
    before = a.zk.exists(r)
    t.code("delete with a wrong version", BADVERSION, a.zk.delete, r + "/n", version=0)
    t.code("delete a node with children", NOTEMPTY, a.zk.delete, r + "/full")
    t.code("delete a missing node", NONODE, a.zk.delete, r + "/nope")
    t.code("delete a missing node with a version", NONODE, a.zk.delete, r + "/nope", version=7)
    t.code("delete of a path without '/'", BADARGUMENTS, a.call, r_delete("noslash"))
    t.code("delete of a path with NUL", BADARGUMENTS, a.call, r_delete(r + "/n\x00"))
    t.code("delete with a trailing '/' (not validated: NONODE)", NONODE, a.call, r_delete(r + "/n/"))
    t.eq("failed deletes changed nothing", stat_dict(a.zk.exists(r)), stat_dict(before))
    a.zk.delete(r + "/n", version=1)
    zx = a.zk.last_zxid
    after = a.zk.exists(r)
    t.stat("parent after a delete", after, numChildren=1, cversion=before.cversion + 1, mzxid=before.mzxid, version=0)
    t.eq("parent pzxid == zxid of the delete", after.pzxid, zx)
    a.zk.delete(r + "/full/kid")
    a.zk.delete(r + "/full", version=-1)
    t.eq("children after deletes", a.zk.get_children(r), [])
    # another session may delete my ephemeral (ACL permitting)
    a.zk.create(r + "/mine", b"", ephemeral=True)
    t.eq("getEphemerals before", a.call(r_get_ephemerals(r)), [r + "/mine"])
    b.zk.delete(r + "/mine")
    t.eq("getEphemerals after another session deleted it", a.call(r_get_ephemerals(r)), [])
    t.eq("recreate after delete", a.zk.create(r + "/n", b""), r + "/n")
    t.stat("a recreated node starts over", a.zk.exists(r + "/n"), version=0, cversion=0)


@scenario
def zxid_accounting(t):
    """One zxid per write, failed writes (error txns) and multis included; reads take none."""
    if t.args.shared:
        print("     (skipped: --shared)")
        return
    a = t.a
    r = t.node("zxid")
    z0 = a.zk.create(r + "/a", b"", include_data=True)[1].czxid
    t.eq("reply zxid of a create == its czxid", a.zk.last_zxid, z0)
    a.zk.exists(r)
    a.zk.get(r + "/a")
    a.zk.get_children(r)
    a.zk.sync(r)
    t.eq("reads and sync take no zxid", a.zk.last_zxid, z0)
    t.code("failing create", NODEEXISTS, a.zk.create, r + "/a", b"")
    t.eq("a failed create takes a zxid", a.zk.last_zxid, z0 + 1)
    t.code("failing setData", BADVERSION, a.zk.set, r + "/a", b"", version=9)
    t.code("failing delete", NONODE, a.zk.delete, r + "/nope")
    t.eq("failed setData and delete take a zxid each", a.zk.last_zxid, z0 + 3)
    st = a.zk.set(r + "/a", b"x")
    t.eq("setData mzxid", st.mzxid, z0 + 4)
    res = a.call(r_multi([op_create(r + "/m1"), op_create(r + "/m2"), op_set(r + "/m1", b"y")]))
    t.eq("multi result", [x[0] for x in res], ["create", "create", "setData"])
    t.eq("a multi takes one zxid", a.zk.last_zxid, z0 + 5)
    st1, st2 = a.zk.exists(r + "/m1"), a.zk.exists(r + "/m2")
    t.eq("all nodes of a multi share the multi's zxid", (st1.czxid, st1.mzxid, st2.czxid), (z0 + 5, z0 + 5, z0 + 5))
    a.call(r_multi([op_create(r + "/m3"), op_check(r + "/a", 99)]))
    t.eq("a failed multi takes one zxid", a.zk.last_zxid, z0 + 6)
    a.call(r_set_acl(r + "/a", OPEN))
    t.eq("setACL takes a zxid", a.zk.last_zxid, z0 + 7)
    a.zk.delete(r + "/m2")
    t.eq("parent pzxid after the delete", a.zk.exists(r).pzxid, z0 + 8)


@scenario
def acl_world_permissions(t):
    a, b = t.a, t.b
    r = t.node("aclw")
    # a node that only allows READ (bob, whom nobody here is, may do all: the suite cleans up as
    # bob): children are created first with an open ACL, then restricted
    bob_all = make_digest_acl("bob", "secret", all=True)
    a.zk.create(r + "/ro", b"ro")
    a.zk.create(r + "/ro/kid", b"")
    st = a.call(r_set_acl(r + "/ro", [(1, "world", "anyone"), (31, "digest", bob_all.id.id)]))
    t.stat("setACL returns the new aversion", st, aversion=1, version=0)
    t.eq("getData with READ", b.zk.get(r + "/ro")[0], b"ro")
    t.eq("getChildren with READ", b.zk.get_children(r + "/ro"), ["kid"])
    t.code("setData without WRITE", NOAUTH, b.zk.set, r + "/ro", b"x")
    t.code("create child without CREATE", NOAUTH, b.zk.create, r + "/ro/new", b"")
    t.code("delete child without DELETE on the parent", NOAUTH, b.zk.delete, r + "/ro/kid")
    t.code("setACL without ADMIN", NOAUTH, b.call, r_set_acl(r + "/ro", OPEN))
    t.eq("getACL with READ (digest masked)", b.call(r_get_acl(r + "/ro"))[0], [(1, "world", "anyone"), (31, "digest", "bob:x")])
    t.eq("setData on the child (open ACL) still works", b.zk.set(r + "/ro/kid", b"k").version, 1)
    # a node nobody may read
    a.zk.create(r + "/wo", b"secret", acl=[make_acl("world", "anyone", write=True)])
    t.true("exists does not check READ (3.8)", b.zk.exists(r + "/wo") is not None)
    t.code("getData without READ", NOAUTH, b.zk.get, r + "/wo")
    t.code("getChildren without READ", NOAUTH, b.zk.get_children, r + "/wo")
    t.code("getChildren2 without READ", NOAUTH, b.zk.get_children, r + "/wo", include_data=True)
    t.code("getACL without READ or ADMIN", NOAUTH, b.call, r_get_acl(r + "/wo"))
    t.code("getAllChildrenNumber without READ", NOAUTH, b.call, r_all_children_number(r + "/wo"))
    t.eq("setData with WRITE", b.zk.set(r + "/wo", b"new").version, 1)
    # CREATE without DELETE and the other way round
    a.zk.create(r + "/c", b"", acl=[make_acl("world", "anyone", create=True, read=True), bob_all])
    t.eq("create with CREATE", b.zk.create(r + "/c/x", b""), r + "/c/x")
    t.code("delete without DELETE", NOAUTH, b.zk.delete, r + "/c/x")
    a.zk.create(r + "/d", b"")
    a.zk.create(r + "/d/x", b"")
    a.call(r_set_acl(r + "/d", [(8, "world", "anyone")]))
    t.code("create without CREATE", NOAUTH, b.zk.create, r + "/d/y", b"")
    b.zk.delete(r + "/d/x")
    t.eq("delete with DELETE on the parent only", a.zk.exists(r + "/d/x"), None)
    # ADMIN only: getACL and setACL work, reads do not
    a.zk.create(r + "/adm", b"", acl=[make_acl("world", "anyone", admin=True)])
    t.eq("getACL with ADMIN only", b.call(r_get_acl(r + "/adm"))[0], [(16, "world", "anyone")])
    t.code("getData with ADMIN only", NOAUTH, b.zk.get, r + "/adm")
    st = b.call(r_set_acl(r + "/adm", OPEN, version=0))
    t.stat("setACL with ADMIN", st, aversion=1)
    # setACL versions
    t.code("setACL with a stale aversion", BADVERSION, b.call, r_set_acl(r + "/adm", OPEN, version=0))
    t.code("setACL on a missing node", NONODE, b.call, r_set_acl(r + "/nope", OPEN))
    st = b.call(r_set_acl(r + "/adm", OPEN, version=1))
    t.stat("setACL with the current aversion", st, aversion=2, version=0, cversion=0)
    acls, st2 = b.call(r_get_acl(r + "/adm"))
    t.eq("getACL Stat == setACL Stat", st2, st)
    # perms are stored as given; duplicates are removed
    a.call(r_create(1, r + "/p0", acls=[(0, "world", "anyone")]))
    t.code("perms 0 are stored: nobody may read", NOAUTH, a.zk.get, r + "/p0")
    a.call(r_create(1, r + "/p99", acls=[(99, "world", "anyone")]))
    t.eq("perms 99 are stored as given", a.call(r_get_acl(r + "/p99"))[0], [(99, "world", "anyone")])
    a.call(r_create(1, r + "/dup", acls=[(31, "world", "anyone"), (31, "world", "anyone")]))
    t.eq("duplicate ACL entries removed", a.call(r_get_acl(r + "/dup"))[0], [(31, "world", "anyone")])
    # invalid ACLs, on create and on setACL
    for what, acls in [
        ("empty ACL", []),
        ("unknown scheme", [(31, "foo", "bar")]),
        ("digest id without a colon", [(31, "digest", "nocolon")]),
        ("digest id with three parts", [(31, "digest", "a:b:c")]),
        ("ip id that is no address", [(31, "ip", "nope")]),
        ("ip id 999.1.1.1", [(31, "ip", "999.1.1.1")]),
        ("ip prefix /33", [(31, "ip", "127.0.0.1/33")]),
        ("world id other than anyone", [(31, "world", "someone")]),
        ("auth scheme without an authenticated id", [(31, "auth", "")]),
        ("super scheme", [(31, "super", "x")]),
    ]:
        t.code("create with %s" % what, INVALIDACL, a.call, r_create(1, r + "/bad", acls=acls))
        t.code("setACL with %s" % what, INVALIDACL, a.call, r_set_acl(r + "/dup", acls))
    t.eq("no invalid node was created", a.zk.exists(r + "/bad"), None)
    t.stat("failed setACLs left the aversion", a.zk.exists(r + "/dup"), aversion=0)


@scenario
def acl_digest_and_auth(t):
    a = t.a
    r = t.node("digest")
    bob = t.session("bob")
    other = t.session("other")
    bob_all = make_digest_acl("bob", "secret", all=True)
    bob_id = make_digest_acl_credential("bob", "secret")
    t.eq("digest id format", bob_id, "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=")
    t.eq("whoAmI before auth", bob.call(r_who_am_i()), [("ip", "127.0.0.1")])
    bob.zk.add_auth("digest", "bob:secret")
    t.eq("whoAmI after digest auth (sorted)", bob.call(r_who_am_i()), [("digest", "bob"), ("ip", "127.0.0.1")])
    bob.zk.add_auth("digest", "bob:secret")
    t.eq("adding the same auth again changes nothing", bob.call(r_who_am_i()), [("digest", "bob"), ("ip", "127.0.0.1")])
    a.zk.create(r + "/s", b"secret", acl=[bob_all])
    t.code("getData without auth", NOAUTH, other.zk.get, r + "/s")
    t.code("setData without auth", NOAUTH, other.zk.set, r + "/s", b"x")
    t.code("create child without auth", NOAUTH, other.zk.create, r + "/s/kid", b"")
    t.code("getACL without auth", NOAUTH, other.call, r_get_acl(r + "/s"))
    t.code("setACL without auth", NOAUTH, other.call, r_set_acl(r + "/s", OPEN))
    t.code("getData as the creator (no auth)", NOAUTH, a.zk.get, r + "/s")
    t.eq("getData with auth", bob.zk.get(r + "/s")[0], b"secret")
    t.eq("create child with auth", bob.zk.create(r + "/s/kid", b""), r + "/s/kid")
    t.eq("getACL with ADMIN shows the digest", bob.call(r_get_acl(r + "/s"))[0], [(31, "digest", bob_id)])
    # masking: without ADMIN every digest id is shown as user:x
    a.zk.create(r + "/m", b"", acl=[bob_all, make_acl("world", "anyone", read=True)])
    t.eq("getACL without ADMIN masks digests", other.call(r_get_acl(r + "/m"))[0],
         [(31, "digest", "bob:x"), (1, "world", "anyone")])
    t.eq("getACL with ADMIN does not mask", bob.call(r_get_acl(r + "/m"))[0],
         [(31, "digest", bob_id), (1, "world", "anyone")])
    a.zk.create(r + "/m2", b"", acl=[make_digest_acl("bob", "secret", read=True),
                                     make_digest_acl("alice", "pw", admin=True),
                                     make_acl("world", "anyone", read=True)])
    t.eq("bob without ADMIN sees every digest masked", bob.call(r_get_acl(r + "/m2"))[0],
         [(1, "digest", "bob:x"), (16, "digest", "alice:x"), (1, "world", "anyone")])
    # the auth scheme expands to the connection's authenticated ids
    p = bob.call(r_create(1, r + "/au", acls=[(31, "auth", "")]))
    t.eq("create with auth:", p, r + "/au")
    t.eq("auth: became bob's digest", bob.call(r_get_acl(r + "/au"))[0], [(31, "digest", bob_id)])
    bob.call(r_create(1, r + "/au2", acls=[(1, "auth", "ignored"), (31, "world", "anyone")]))
    t.eq("auth: id string is ignored, perms kept", bob.call(r_get_acl(r + "/au2"))[0],
         [(1, "digest", bob_id), (31, "world", "anyone")])
    bob.zk.add_auth("digest", "carol:pw2")
    bob.call(r_create(1, r + "/au3", acls=[(31, "auth", "")]))
    t.eq("auth: with two digest ids gives both (sorted)", sorted(bob.call(r_get_acl(r + "/au3"))[0]),
         sorted([(31, "digest", bob_id), (31, "digest", make_digest_acl_credential("carol", "pw2"))]))
    bob.call(r_set_acl(r + "/m", [(31, "auth", "")]))
    t.eq("setACL with auth:", sorted(bob.call(r_get_acl(r + "/m"))[0]),
         sorted([(31, "digest", bob_id), (31, "digest", make_digest_acl_credential("carol", "pw2"))]))
    t.code("wrong password gets nothing", NOAUTH, other.zk.get, r + "/s")
    other.zk.add_auth("digest", "bob:wrong")
    t.code("digest auth with a wrong password: still no access", NOAUTH, other.zk.get, r + "/s")
    t.eq("whoAmI with a wrong-password digest", other.call(r_who_am_i()), [("digest", "bob"), ("ip", "127.0.0.1")])
    # an unknown scheme: AUTHFAILED, then the server closes the connection
    bad = t.session("badauth")
    n = len(bad.states)
    t.code("auth with an unknown scheme", AUTHFAILED, bad.zk.add_auth, "nosuchscheme", "x")
    bad.wait_state(KazooState.LOST, n)


@scenario
def acl_ip(t):
    a, b = t.a, t.b
    r = t.node("ip")
    a.call(r_create(1, r + "/lo", acls=[(31, "ip", "127.0.0.1")]))
    a.call(r_create(1, r + "/lo8", acls=[(31, "ip", "127.0.0.0/8")]))
    a.call(r_create(1, r + "/ten", acls=[(31, "ip", "10.0.0.0/8")]))
    a.call(r_create(1, r + "/one", acls=[(31, "ip", "10.1.2.3")]))
    t.eq("ip:127.0.0.1 matches a loopback client", b.zk.get(r + "/lo")[0], b"")
    t.eq("ip:127.0.0.0/8 matches", b.zk.get(r + "/lo8")[0], b"")
    t.code("ip:10.0.0.0/8 does not match", NOAUTH, b.zk.get, r + "/ten")
    t.code("ip:10.1.2.3 does not match", NOAUTH, b.zk.get, r + "/one")
    t.eq("ip ACL ids are stored as given", a.call(r_get_acl(r + "/lo8"))[0], [(31, "ip", "127.0.0.0/8")])
    t.eq("create under an ip-ACL node", b.zk.create(r + "/lo/kid", b""), r + "/lo/kid")


@scenario
def acl_super(t):
    if not t.args.super:
        print("     (skipped: no --super)")
        return
    a = t.a
    r = t.node("super")
    user = t.args.super.split(":", 1)[0]
    a.zk.create(r + "/locked", b"locked", acl=[make_acl("world", "anyone", create=True)])
    a.zk.create(r + "/bobs", b"bobs", acl=[make_digest_acl("bob", "secret", all=True)])
    su = t.session("super")
    t.code("without super auth", NOAUTH, su.zk.get, r + "/locked")
    su.zk.add_auth("digest", t.args.super)
    t.eq("whoAmI as super (sorted)", su.call(r_who_am_i()), sorted([("digest", user), ("ip", "127.0.0.1"), ("super", "")]))
    t.eq("super reads an unreadable node", su.zk.get(r + "/locked")[0], b"locked")
    t.eq("super reads another user's node", su.zk.get(r + "/bobs")[0], b"bobs")
    t.eq("super getACL is not masked", su.call(r_get_acl(r + "/bobs"))[0], [(31, "digest", make_digest_acl_credential("bob", "secret"))])
    t.eq("super setData", su.zk.set(r + "/bobs", b"x").version, 1)
    t.eq("super create child", su.zk.create(r + "/bobs/kid", b""), r + "/bobs/kid")
    su.zk.delete(r + "/bobs/kid")
    su.call(r_set_acl(r + "/locked", OPEN))
    t.eq("after super's setACL anyone reads", a.zk.get(r + "/locked")[0], b"locked")
    wrong = t.session("notsuper")
    wrong.zk.add_auth("digest", user + ":wrong-password")
    t.code("wrong super password", NOAUTH, wrong.zk.get, r + "/bobs")


@scenario
def watches_one_shot(t):
    a, b = t.a, t.b
    r = t.node("w1")
    # exists on a missing node: NodeCreated, then gone
    t.eq("exists-watch on a missing node", b.zk.exists(r + "/n", watch=noop_watch), None)
    a.zk.create(r + "/n", b"")
    a.zk.set(r + "/n", b"1")
    t.events(b, [(CREATED, r + "/n")], "create after exists-watch (then setData: nothing)")
    # exists on an existing node: NodeDataChanged / NodeDeleted
    b.zk.exists(r + "/n", watch=noop_watch)
    a.zk.set(r + "/n", b"2")
    a.zk.set(r + "/n", b"3")
    t.events(b, [(CHANGED, r + "/n")], "exists-watch, two setData")
    b.zk.exists(r + "/n", watch=noop_watch)
    a.zk.delete(r + "/n")
    t.events(b, [(DELETED, r + "/n")], "exists-watch, delete")
    # getData
    a.zk.create(r + "/d", b"")
    b.zk.get(r + "/d", watch=noop_watch)
    a.zk.set(r + "/d", b"1")
    a.zk.set(r + "/d", b"2")
    t.events(b, [(CHANGED, r + "/d")], "getData-watch, two setData")
    b.zk.get(r + "/d", watch=noop_watch)
    b.zk.get(r + "/d", watch=noop_watch)
    a.zk.set(r + "/d", b"3")
    t.events(b, [(CHANGED, r + "/d")], "the same watch set twice fires once")
    b.zk.get(r + "/d", watch=noop_watch)
    a.zk.delete(r + "/d")
    t.events(b, [(DELETED, r + "/d")], "getData-watch, delete")
    t.code("getData-watch on a missing node", NONODE, b.zk.get, r + "/d", watch=noop_watch)
    a.zk.create(r + "/d", b"")
    t.events(b, [], "getData on a missing node leaves no watch")
    # getChildren
    a.zk.create(r + "/c", b"")
    b.zk.get_children(r + "/c", watch=noop_watch)
    a.zk.set(r + "/c", b"data")
    a.zk.create(r + "/c/1", b"")
    a.zk.create(r + "/c/2", b"")
    t.events(b, [(CHILD, r + "/c")], "child-watch: setData on the node does not fire it; two creates fire once")
    b.zk.get_children(r + "/c", watch=noop_watch)
    a.zk.set(r + "/c/1", b"x")
    a.zk.create(r + "/c/1/grandchild", b"")
    t.events(b, [], "child-watch: grandchildren and child data do not fire it")
    a.zk.delete(r + "/c/1/grandchild")
    a.zk.delete(r + "/c/2")
    t.events(b, [(CHILD, r + "/c")], "child-watch: delete of a child")
    b.zk.get_children(r + "/c", watch=noop_watch, include_data=True)
    a.zk.create(r + "/c/3", b"")
    t.events(b, [(CHILD, r + "/c")], "getChildren2 watch")
    b.zk.get_children(r + "/c/3", watch=noop_watch)
    a.zk.delete(r + "/c/3")
    t.events(b, [(DELETED, r + "/c/3")], "child-watch on a node that is deleted: NodeDeleted")
    t.code("getChildren-watch on a missing node", NONODE, b.zk.get_children, r + "/c/3", watch=noop_watch)
    a.zk.create(r + "/c/3", b"")
    a.zk.create(r + "/c/3/x", b"")
    t.events(b, [], "getChildren on a missing node leaves no watch")
    # one delete, all kinds of watches of one connection: one NodeDeleted, then the parent's event
    a.zk.create(r + "/all", b"")
    b.zk.get(r + "/all", watch=noop_watch)
    b.zk.exists(r + "/all", watch=noop_watch)
    b.zk.get_children(r + "/all", watch=noop_watch)
    b.zk.get_children(r, watch=noop_watch)
    a.zk.delete(r + "/all")
    t.events(b, [(DELETED, r + "/all"), (CHILD, r)], "delete with data+exists+child watches and a parent child-watch")
    # create: the node's event first, then the parent's
    b.zk.exists(r + "/new", watch=noop_watch)
    b.zk.get_children(r, watch=noop_watch)
    a.zk.create(r + "/new", b"")
    t.events(b, [(CREATED, r + "/new"), (CHILD, r)], "create with an exists-watch and a parent child-watch")
    # setACL, failed writes, reads and sync fire nothing; the watches survive them
    b.zk.get(r + "/new", watch=noop_watch)
    b.zk.get_children(r + "/new", watch=noop_watch)
    b.zk.exists(r + "/absent", watch=noop_watch)
    a.call(r_set_acl(r + "/new", OPEN))
    t.code("failing setData", BADVERSION, a.zk.set, r + "/new", b"", version=42)
    t.code("failing create", NODEEXISTS, a.zk.create, r + "/new", b"")
    t.code("failing delete", NOTEMPTY, a.zk.delete, r)
    t.code("failing create of the watched missing node", NONODE, a.zk.create, r + "/absent/x", b"")
    a.zk.get(r + "/new")
    a.zk.sync(r + "/new")
    t.events(b, [], "setACL, failed writes, reads, sync")
    a.zk.set(r + "/new", b"x")
    a.zk.create(r + "/new/k", b"")
    a.zk.create(r + "/absent", b"")
    t.events(b, [(CHANGED, r + "/new"), (CHILD, r + "/new"), (CREATED, r + "/absent")], "the watches survived")
    # two sessions watching the same node both hear
    a.zk.get(r + "/new", watch=noop_watch)
    b.zk.get(r + "/new", watch=noop_watch)
    other = t.session("writer")
    other.zk.set(r + "/new", b"y")
    t.events(b, [(CHANGED, r + "/new")], "second watcher")
    t.events(a, [(CHANGED, r + "/new")], "first watcher")
    # a session's own write: the notification arrives before the write's reply
    a.zk.get(r + "/new", watch=noop_watch)
    a.zk.set(r + "/new", b"z")
    t.events(a, [(CHANGED, r + "/new")], "own write: event before the reply (no barrier)", barrier=False)
    a.zk.get_children(r + "/new", watch=noop_watch)
    a.zk.delete(r + "/new/k")
    t.events(a, [(CHILD, r + "/new")], "own delete: event before the reply (no barrier)", barrier=False)


@scenario
def watches_and_multi(t):
    a, b = t.a, t.b
    r = t.node("wm")
    b.zk.get_children(r, watch=noop_watch)
    b.zk.exists(r + "/a", watch=noop_watch)
    b.zk.exists(r + "/b", watch=noop_watch)
    res = a.call(r_multi([op_create(r + "/a"), op_create(r + "/b"), op_set(r + "/a", b"1"), op_delete(r + "/b")]))
    t.eq("multi results", [x[0] for x in res], ["create", "create", "setData", "delete"])
    t.events(b, [(CREATED, r + "/a"), (CHILD, r), (CREATED, r + "/b")], "multi fires each op's events in order")
    b.zk.get(r + "/a", watch=noop_watch)
    b.zk.get_children(r, watch=noop_watch)
    res = a.call(r_multi([op_set(r + "/a", b"2"), op_create(r + "/c"), op_check(r + "/a", 99)]))
    t.eq("failed multi results", res, [("error", OK), ("error", OK), ("error", BADVERSION)])
    t.events(b, [], "a failed multi fires nothing")
    res = a.call(r_multi([op_create(r + "/c"), op_set(r + "/a", b"3"), op_delete(r + "/c")]))
    t.events(b, [(CHILD, r), (CHANGED, r + "/a")], "the watches survived the failed multi")
    b.zk.exists(r + "/d", watch=noop_watch)
    a.call(r_multi([op_create(r + "/d"), op_delete(r + "/d")]))
    t.events(b, [(CREATED, r + "/d")], "create+delete in one multi: the exists-watch fired on the create")


@scenario
def persistent_watches(t):
    a, b = t.a, t.b
    r = t.node("pw")
    t.eq("addWatch PERSISTENT on a missing node", b.call(r_add_watch(r + "/p", 0)), 0)
    a.zk.create(r + "/p", b"")
    a.zk.set(r + "/p", b"1")
    a.zk.set(r + "/p", b"2")
    a.zk.create(r + "/p/a", b"")
    a.zk.create(r + "/p/a/deep", b"")
    a.zk.set(r + "/p/a", b"x")
    a.zk.delete(r + "/p/a/deep")
    a.zk.delete(r + "/p/a")
    a.call(r_set_acl(r + "/p", OPEN))
    a.zk.delete(r + "/p")
    a.zk.create(r + "/p", b"")
    t.events(b, [(CREATED, r + "/p"), (CHANGED, r + "/p"), (CHANGED, r + "/p"), (CHILD, r + "/p"),
                 (CHILD, r + "/p"), (DELETED, r + "/p"), (CREATED, r + "/p")],
             "PERSISTENT: node events and child events of this node only, repeatedly")
    t.eq("addWatch PERSISTENT_RECURSIVE", b.call(r_add_watch(r + "/rec", 1)), 0)
    a.zk.create(r + "/rec", b"")
    a.zk.create(r + "/rec/a", b"")
    a.zk.create(r + "/rec/a/b", b"")
    a.zk.set(r + "/rec/a/b", b"1")
    a.zk.set(r + "/rec", b"1")
    a.zk.delete(r + "/rec/a/b")
    a.zk.create(r + "/rec/e", b"", ephemeral=True)
    a.zk.delete(r + "/rec/e")
    t.events(b, [(CREATED, r + "/rec"), (CREATED, r + "/rec/a"), (CREATED, r + "/rec/a/b"),
                 (CHANGED, r + "/rec/a/b"), (CHANGED, r + "/rec"), (DELETED, r + "/rec/a/b"),
                 (CREATED, r + "/rec/e"), (DELETED, r + "/rec/e")],
             "PERSISTENT_RECURSIVE: events of the subtree with the changed node's path, no NodeChildrenChanged")
    a.zk.create(r + "/sibling", b"")
    a.zk.create(r + "/recx", b"")
    t.events(b, [], "nodes outside the watched subtree (also '/recx' next to '/rec')")
    # one notification per connection, even when several of its watches match
    b.zk.exists(r + "/rec/z", watch=noop_watch)
    a.zk.create(r + "/rec/z", b"")
    t.events(b, [(CREATED, r + "/rec/z")], "recursive + exists-watch on the same node: one event")
    # multi fires recursive watches per op
    a.call(r_multi([op_create(r + "/rec/m"), op_set(r + "/rec/m", b"v"), op_delete(r + "/rec/m")]))
    t.events(b, [(CREATED, r + "/rec/m"), (CHANGED, r + "/rec/m"), (DELETED, r + "/rec/m")], "multi under a recursive watch")
    # removal: Any (3) removes them; afterwards NOWATCHER
    t.eq("removeWatches Any on the persistent watch", b.call(r_remove_watches(r + "/p", 3)), None)
    t.code("removeWatches Any again", NOWATCHER, b.call, r_remove_watches(r + "/p", 3))
    a.zk.set(r + "/p", b"after")
    a.zk.create(r + "/p/after", b"")
    t.events(b, [], "no events after removing the persistent watch")
    t.eq("checkWatches Data on the recursive watch", b.call(r_check_watches(r + "/rec", 2)), None)
    t.eq("removeWatches Any on the recursive watch", b.call(r_remove_watches(r + "/rec", 3)), None)
    a.zk.create(r + "/rec/after", b"")
    t.events(b, [], "no events after removing the recursive watch")
    t.code("addWatch with an invalid mode", MARSHALLINGERROR, b.call, r_add_watch(r + "/p", 7))
    t.eq("the connection survives the invalid mode", b.zk.exists(r + "/p") is not None, True)


@scenario
def check_and_remove_watches(t):
    a, b = t.a, t.b
    r = t.node("rw")
    a.zk.create(r + "/n", b"")
    t.code("checkWatches Data, none set", NOWATCHER, b.call, r_check_watches(r + "/n", 2))
    t.code("checkWatches Children, none set", NOWATCHER, b.call, r_check_watches(r + "/n", 1))
    t.code("checkWatches Any, none set", NOWATCHER, b.call, r_check_watches(r + "/n", 3))
    t.code("removeWatches Any on a missing node", NOWATCHER, b.call, r_remove_watches(r + "/nope", 3))
    b.zk.get(r + "/n", watch=noop_watch)
    b.zk.get_children(r + "/n", watch=noop_watch)
    t.eq("checkWatches Data", b.call(r_check_watches(r + "/n", 2)), None)
    t.eq("checkWatches Children", b.call(r_check_watches(r + "/n", 1)), None)
    t.eq("checkWatches Any", b.call(r_check_watches(r + "/n", 3)), None)
    t.code("removeWatches of another connection's watch", NOWATCHER, a.call, r_remove_watches(r + "/n", 2))
    a.zk.set(r + "/n", b"1")
    t.events(b, [(CHANGED, r + "/n")], "checkWatches does not remove the watch")
    b.zk.get(r + "/n", watch=noop_watch)
    t.eq("removeWatches Data", b.call(r_remove_watches(r + "/n", 2)), None)
    t.code("removeWatches Data again", NOWATCHER, b.call, r_remove_watches(r + "/n", 2))
    t.eq("the child watch is still there", b.call(r_check_watches(r + "/n", 1)), None)
    a.zk.set(r + "/n", b"2")
    a.zk.create(r + "/n/k", b"")
    t.events(b, [(CHILD, r + "/n")], "after removing the data watch only the child watch fires")
    b.zk.get(r + "/n", watch=noop_watch)
    b.zk.get_children(r + "/n", watch=noop_watch)
    t.eq("removeWatches Children", b.call(r_remove_watches(r + "/n", 1)), None)
    t.eq("the data watch is still there", b.call(r_check_watches(r + "/n", 2)), None)
    t.eq("removeWatches Any", b.call(r_remove_watches(r + "/n", 3)), None)
    t.code("removeWatches Any again", NOWATCHER, b.call, r_remove_watches(r + "/n", 3))
    a.zk.set(r + "/n", b"3")
    a.zk.create(r + "/n/k2", b"")
    t.events(b, [], "no events after removing all watches")
    b.zk.exists(r + "/absent", watch=noop_watch)
    t.eq("an exists-watch is a Data watch", b.call(r_check_watches(r + "/absent", 2)), None)
    t.code("an exists-watch is no Children watch", NOWATCHER, b.call, r_check_watches(r + "/absent", 1))
    t.eq("remove the exists-watch", b.call(r_remove_watches(r + "/absent", 2)), None)
    a.zk.create(r + "/absent", b"")
    t.events(b, [], "the removed exists-watch does not fire")


@scenario
def set_watches(t):
    """SetWatches (101) / SetWatches2 (105) as a reconnecting client sends them (here on a live
    connection, with an ordinary xid as the Java 3.8 client does)."""
    a, b = t.a, t.b
    r = t.node("sw")
    for n in ("changed", "gone", "same", "existing", "parent", "gonechild", "samechild"):
        a.zk.create("%s/%s" % (r, n), b"")
    z0 = a.zk.last_zxid
    a.zk.set(r + "/changed", b"1")
    a.zk.delete(r + "/gone")
    a.zk.create(r + "/created", b"")
    a.zk.create(r + "/parent/k", b"")
    a.zk.delete(r + "/gonechild")
    t.true("zxids advanced past the client's last zxid", a.zk.last_zxid > z0)
    req = r_set_watches(z0,
                        data=[r + "/changed", r + "/gone", r + "/same"],
                        exist=[r + "/created", r + "/missing", r + "/existing"],
                        child=[r + "/parent", r + "/samechild", r + "/gonechild"])
    t.eq("setWatches reply", b.call(req), None)
    t.events(b, [(CHANGED, r + "/changed"), (DELETED, r + "/gone"), (CREATED, r + "/created"),
                 (CREATED, r + "/existing"), (CHILD, r + "/parent"), (DELETED, r + "/gonechild")],
             "catch-up events: data list, then exist list, then child list, each in request order",
             barrier=False)
    a.zk.set(r + "/same", b"1")
    a.zk.create(r + "/missing", b"")
    a.zk.create(r + "/samechild/k", b"")
    a.zk.set(r + "/changed", b"2")
    a.zk.set(r + "/created", b"2")
    a.zk.create(r + "/parent/k2", b"")
    t.events(b, [(CHANGED, r + "/same"), (CREATED, r + "/missing"), (CHILD, r + "/samechild")],
             "watches without catch-up were registered; the fired ones were not")
    st = a.zk.exists(r + "/same")
    b.call(r_set_watches(st.mzxid, data=[r + "/same"]))
    t.events(b, [], "relativeZxid == mzxid: no catch-up", barrier=False)
    a.zk.set(r + "/same", b"2")
    t.events(b, [(CHANGED, r + "/same")], "... and the data watch was registered")
    st = a.zk.exists(r + "/same")
    b.call(r_set_watches(st.mzxid - 1, data=[r + "/same"]))
    t.events(b, [(CHANGED, r + "/same")], "relativeZxid == mzxid - 1: catch-up NodeDataChanged", barrier=False)
    st = a.zk.exists(r + "/samechild")
    b.call(r_set_watches(st.pzxid, child=[r + "/samechild"]))
    t.events(b, [], "relativeZxid == pzxid: no child catch-up", barrier=False)
    b.call(r_set_watches(0, data=[r + "/same"], exist=[r + "/same"], child=[r + "/same"]))
    t.events(b, [(CHANGED, r + "/same"), (CREATED, r + "/same"), (CHILD, r + "/same")],
             "relativeZxid 0: one catch-up event per list", barrier=False)
    # SetWatches2: persistent and recursive watches are re-added without catch-up events
    t.eq("setWatches2 reply", b.call(r_set_watches2(0, persistent=[r + "/pers"], recursive=[r + "/rec"])), None)
    t.events(b, [], "setWatches2 gives no catch-up events for persistent watches", barrier=False)
    a.zk.create(r + "/pers", b"")
    a.zk.create(r + "/pers/a", b"")
    a.zk.create(r + "/rec", b"")
    a.zk.create(r + "/rec/a", b"")
    a.zk.set(r + "/rec/a", b"1")
    a.zk.set(r + "/pers", b"1")
    t.events(b, [(CREATED, r + "/pers"), (CHILD, r + "/pers"), (CREATED, r + "/rec"), (CREATED, r + "/rec/a"),
                 (CHANGED, r + "/rec/a"), (CHANGED, r + "/pers")], "events of the re-added persistent watches")
    b.call(r_remove_watches(r + "/pers", 3))
    b.call(r_remove_watches(r + "/rec", 3))


@scenario
def multi_transactions(t):
    a = t.a
    r = t.node("multi")
    sid = a.sid
    # kazoo's transaction API (create, check, set, delete)
    a.zk.create(r + "/base", b"")
    tx = a.zk.transaction()
    tx.create(r + "/t1", b"one")
    tx.create(r + "/t2", b"two", ephemeral=True)
    tx.set_data(r + "/t1", b"uno")
    tx.check(r + "/t1", 1)
    tx.delete(r + "/base")
    res = tx.commit()
    t.eq("kazoo transaction result kinds", [type(x).__name__ for x in res], ["str", "str", "ZnodeStat", "bool", "bool"])
    t.eq("kazoo transaction created paths", res[:2], [r + "/t1", r + "/t2"])
    t.stat("setData result in a transaction", res[2], version=1, dataLength=3)
    t.eq("ephemeral created in a multi", a.zk.exists(r + "/t2").ephemeralOwner, sid)
    tx = a.zk.transaction()
    tx.create(r + "/t3", b"")
    tx.check(r + "/t1", 99)
    tx.delete(r + "/nope")
    res = tx.commit()
    t.eq("kazoo failed transaction", [type(x).__name__ for x in res], ["RolledBackError", "BadVersionError", "RuntimeInconsistency"])
    # every op kind, raw: what each result looks like (3.8.0: create2 in multi answers "create")
    ops = [op_create(r + "/c1", b"a"),
           op_create(r + "/c2", b"bb", opcode=15),
           op_create(r + "/c3", b"ccc", flags=4, opcode=19),
           op_set(r + "/c1", b"a2"),
           op_check(r + "/c1", 1),
           op_create(r + "/s-", b"", flags=2),
           op_create(r + "/e", b"", flags=1),
           op_delete(r + "/c2", 0)]
    if not t.args.no_ttl:
        ops.insert(3, op_create(r + "/c4", b"dddd", flags=5, opcode=21, ttl=600000))
    res = a.call(r_multi(ops))
    kinds = [x[0] for x in res]
    want_kinds = ["create", "create", "create2"] + (["create2"] if not t.args.no_ttl else []) + ["setData", "check", "create", "create", "delete"]
    t.eq("multi result kinds (create2 op -> create result; container/TTL -> create2)", kinds, want_kinds)
    t.eq("paths", [x[1] for x in res if x[0] in ("create", "create2")],
         [r + "/c1", r + "/c2", r + "/c3"] + ([r + "/c4"] if not t.args.no_ttl else []) + [r + "/s-0000000007" if not t.args.no_ttl else r + "/s-0000000006", r + "/e"])
    zx = res[2][2]["czxid"]
    for x in res:
        if x[0] == "create2":
            fresh_stat_ok(t, "create2 result of %s" % x[1], x[2], {"c3": 3, "c4": 4}[x[1].rsplit("/", 1)[1]])
            t.eq("create2 result czxid is the multi's zxid", x[2]["czxid"], zx)
    setres = [x for x in res if x[0] == "setData"][0][1]
    t.stat("setData result", setres, version=1, dataLength=2, czxid=zx, mzxid=zx)
    t.eq("the multi's ephemeral belongs to the session", a.zk.exists(r + "/e").ephemeralOwner, sid)
    t.eq("the multi's zxid is the reply zxid", a.zk.last_zxid, zx)
    # failure shapes: first, middle, last; every error kind
    a.zk.create(r + "/full", b"")
    a.zk.create(r + "/full/kid", b"")
    a.zk.create(r + "/eph", b"", ephemeral=True)
    a.zk.create(r + "/nocreate", b"", acl=[make_acl("world", "anyone", read=True)])
    state_before = sorted(a.zk.get_children(r))
    v_before = a.zk.exists(r + "/c1").version
    cases = [
        ("first op fails (NODEEXISTS)", [op_create(r + "/c1"), op_create(r + "/x1"), op_set(r + "/c1", b"z")], 0, NODEEXISTS),
        ("middle op fails (NONODE on setData)", [op_create(r + "/x1"), op_set(r + "/nope", b"z"), op_create(r + "/x2")], 1, NONODE),
        ("last op fails (BADVERSION on check)", [op_create(r + "/x1"), op_set(r + "/c1", b"z"), op_check(r + "/c1", 99)], 2, BADVERSION),
        ("NOTEMPTY on delete", [op_set(r + "/c1", b"z"), op_delete(r + "/full"), op_create(r + "/x1")], 1, NOTEMPTY),
        ("NONODE on check", [op_check(r + "/nope", -1), op_create(r + "/x1")], 0, NONODE),
        ("BADVERSION on delete", [op_create(r + "/x1"), op_delete(r + "/c1", 0)], 1, BADVERSION),
        ("NOCHILDRENFOREPHEMERALS", [op_create(r + "/x1"), op_create(r + "/eph/kid")], 1, NOCHILDRENFOREPHEMERALS),
        ("INVALIDACL", [op_create(r + "/x1"), op_create(r + "/x2", acls=[(31, "digest", "nocolon")]), op_create(r + "/x3")], 1, INVALIDACL),
        ("NOAUTH", [op_create(r + "/x1"), op_create(r + "/nocreate/kid")], 1, NOAUTH),
        ("BADARGUMENTS (invalid path)", [op_create(r + "/x1"), op_create(r + "/x\x01"), op_create(r + "/x3")], 1, BADARGUMENTS),
        ("NODEEXISTS created earlier in the same multi", [op_create(r + "/x1"), op_create(r + "/x1")], 1, NODEEXISTS),
        ("delete then check of the same node", [op_delete(r + "/c1"), op_check(r + "/c1", -1)], 1, NONODE),
    ]
    for what, ops, pos, code in cases:
        z_before = a.zk.last_zxid
        res = a.call(r_multi(ops))
        want = [("error", OK)] * pos + [("error", code)] + [("error", RUNTIMEINCONSISTENCY)] * (len(ops) - pos - 1)
        t.eq("multi, %s: results" % what, res, want)
        t.eq("multi, %s: one zxid" % what, a.zk.last_zxid, z_before + 1)
    t.eq("failed multis applied nothing", sorted(a.zk.get_children(r)), state_before)
    t.eq("failed multis changed no version", a.zk.exists(r + "/c1").version, v_before)
    # ops that depend on earlier ops of the same multi
    res = a.call(r_multi([op_create(r + "/dep"), op_create(r + "/dep/kid"), op_set(r + "/dep/kid", b"k"),
                          op_check(r + "/dep/kid", 1), op_delete(r + "/dep/kid"), op_create(r + "/dep/kid", b"again")]))
    t.eq("dependent ops succeed", [x[0] for x in res], ["create", "create", "setData", "check", "delete", "create"])
    t.stat("the recreated node", a.zk.exists(r + "/dep/kid"), version=0, dataLength=5)
    t.stat("its parent counted both creates and the delete", a.zk.exists(r + "/dep"), cversion=3, numChildren=1)
    t.eq("check with version -1", a.call(r_multi([op_check(r + "/dep", -1)])), [("check",)])
    t.eq("empty multi", a.call(r_multi([])), [])
    t.code("mixing read and write ops", MARSHALLINGERROR, a.call, r_multi([op_get_data(r + "/dep"), op_create(r + "/mix")]))
    t.eq("nothing of the mixed multi was applied; the connection survives", a.zk.exists(r + "/mix"), None)


@scenario
def multi_read(t):
    a, b = t.a, t.b
    r = t.node("mread")
    a.zk.create(r + "/x", b"xd")
    a.zk.create(r + "/x/1", b"")
    a.zk.create(r + "/x/2", b"")
    a.zk.create(r + "/secret", b"s", acl=[make_acl("world", "anyone", write=True)])
    res = b.call(r_multi([op_get_data(r + "/x"), op_get_children(r + "/x"), op_get_data(r + "/nope"),
                          op_get_children(r + "/secret"), op_get_data(r + "/x/1"), op_get_children(r + "/nope")], 22))
    st = stat_dict(b.zk.exists(r + "/x"))
    st1 = stat_dict(b.zk.exists(r + "/x/1"))
    t.eq("multiRead results with partial errors", res,
         [("getData", b"xd", st), ("getChildren", ["1", "2"]), ("error", NONODE), ("error", NOAUTH),
          ("getData", b"", st1), ("error", NONODE)])
    t.eq("empty multiRead", b.call(r_multi([], 22)), [])
    # the watch flag inside multiRead has no effect
    b.call(r_multi([op_get_data(r + "/x", watch=True), op_get_children(r + "/x", watch=True)], 22))
    a.zk.set(r + "/x", b"new")
    a.zk.create(r + "/x/3", b"")
    t.events(b, [], "multiRead sets no watches")
    t.code("write op in multiRead", MARSHALLINGERROR, b.call, r_multi([op_get_data(r + "/x"), op_create(r + "/y")], 22))
    t.eq("the connection survives", b.zk.exists(r + "/y"), None)


@scenario
def ephemerals_and_misc(t):
    a, b = t.a, t.b
    r = t.node("misc")
    a.zk.create(r + "/eph", b"", ephemeral=True)
    a.zk.create(r + "/ephemeral2", b"", ephemeral=True)
    a.zk.create(r + "/other", b"", ephemeral=True)
    a.zk.create(r + "/persistent", b"")
    b.zk.create(r + "/b-eph", b"", ephemeral=True)
    t.eq("getEphemerals: string prefix", a.call(r_get_ephemerals(r + "/eph")), [r + "/eph", r + "/ephemeral2"])
    t.eq("getEphemerals: own only", a.call(r_get_ephemerals(r)), [r + "/eph", r + "/ephemeral2", r + "/other"])
    t.eq("getEphemerals of the other session", b.call(r_get_ephemerals(r)), [r + "/b-eph"])
    mine = [p for p in a.call(r_get_ephemerals("/")) if p.startswith(r)]
    t.eq("getEphemerals '/' returns all", mine, [r + "/eph", r + "/ephemeral2", r + "/other"])
    t.eq("getEphemerals '' equals '/'", a.call(r_get_ephemerals("")), a.call(r_get_ephemerals("/")))
    t.eq("getEphemerals null equals '/'", a.call(r_get_ephemerals(None)), a.call(r_get_ephemerals("/")))
    t.eq("getEphemerals of an unknown prefix", a.call(r_get_ephemerals(r + "/zzz")), [])
    t.stat("ephemeralOwner", a.zk.exists(r + "/eph"), ephemeralOwner=a.sid)
    t.stat("ephemeralOwner of the other session", a.zk.exists(r + "/b-eph"), ephemeralOwner=b.sid)
    t.eq("whoAmI", a.call(r_who_am_i()), [("ip", "127.0.0.1")])
    t.code("reconfig on a standalone server", RECONFIGDISABLED, a.call,
           r_reconfig(None, None, "server.1=127.0.0.1:2888:3888;2181"))
    t.code("kazoo reconfig", RECONFIGDISABLED, a.zk.reconfig, joining="server.9=127.0.0.1:2888:3888;2181", leaving=None, new_members=None)
    for e in ("/eph", "/ephemeral2", "/other"):
        a.zk.delete(r + e)
    b.zk.delete(r + "/b-eph")


@scenario
def session_close_removes_ephemerals(t):
    b = t.b
    r = t.node("close")
    c = t.session("C")
    for i in (1, 2, 3):
        c.zk.create("%s/e%d" % (r, i), b"", ephemeral=True)
    c.zk.create(r + "/p", b"")
    c.zk.create(r + "/p/e", b"", ephemeral=True, sequence=True)
    t.eq("getEphemerals of C", c.call(r_get_ephemerals(r)), [r + "/e1", r + "/e2", r + "/e3", r + "/p/e0000000000"])
    before = b.zk.exists(r)
    b.zk.get_children(r, watch=noop_watch)
    b.zk.get(r + "/e1", watch=noop_watch)
    b.zk.exists(r + "/e2", watch=noop_watch)
    b.call(r_add_watch(r + "/p", 1))
    c.close_session()
    t.events(b, [(DELETED, r + "/e1"), (DELETED, r + "/e2"), (CHILD, r), (DELETED, r + "/p/e0000000000")],
             "closeSession deletes the ephemerals (order of deletion unspecified)", unordered=True)
    after = b.zk.exists(r)
    t.eq("children after close", sorted(b.zk.get_children(r)), ["p"])
    t.stat("parent after close", after, numChildren=1, cversion=before.cversion + 3)
    if not t.args.shared:
        t.eq("parent pzxid == zxid of the closeSession", after.pzxid, b.zk.last_zxid)
    b.call(r_remove_watches(r + "/p", 3))


@scenario
def session_resume_and_reconnect(t):
    b = t.b
    r = t.node("resume")
    a = t.a
    a.zk.create(r + "/bobs", b"b", acl=[make_digest_acl("bob", "secret", all=True)])
    px = t.proxy()
    c = t.session("C", hosts=px.hosts)
    sid, pw = c.sid, c.passwd
    c.zk.add_auth("digest", "bob:secret")
    c.zk.create(r + "/e", b"", ephemeral=True)
    c.zk.create(r + "/w", b"")
    z_seen = c.zk.last_zxid
    # the connection drops; kazoo reconnects at once with the same session id and password
    n = len(c.states)
    t.eq("proxy dropped one connection", px.drop(), 1)
    c.wait_state(KazooState.SUSPENDED, n)
    c.wait_connected()
    t.eq("same session after reconnect", c.sid, sid)
    t.stat("the ephemeral survived", c.zk.exists(r + "/e"), ephemeralOwner=sid)
    t.eq("auth was replayed on the new connection", c.zk.get(r + "/bobs")[0], b"b")
    t.eq("getEphemerals after reconnect", c.call(r_get_ephemerals(r)), [r + "/e"])
    # watches are per connection: kazoo does not send SetWatches, so re-register by hand with
    # the client's last zxid, for a change made while it was cut off
    c.zk.get(r + "/w", watch=noop_watch)
    c.zk.get_children(r + "/w", watch=noop_watch)
    z_seen = c.zk.last_zxid
    c.take_events()
    n = len(c.states)
    px.block()
    c.wait_state(KazooState.SUSPENDED, n)
    b.zk.set(r + "/w", b"changed while away")
    b.zk.create(r + "/w/kid", b"")
    b.zk.create(r + "/new", b"")
    px.unblock()
    c.wait_connected()
    t.eq("same session after a longer outage", c.sid, sid)
    t.events(c, [], "the old connection's watches are gone (kazoo sends no SetWatches)")
    c.call(r_set_watches(z_seen, data=[r + "/w"], exist=[r + "/new", r + "/later"], child=[r + "/w"]))
    t.events(c, [(CHANGED, r + "/w"), (CREATED, r + "/new"), (CHILD, r + "/w")], "SetWatches catch-up after reconnect", barrier=False)
    b.zk.create(r + "/later", b"")
    t.events(c, [(CREATED, r + "/later")], "the exists-watch re-registered by SetWatches")
    # a second client object resumes the session (same id + password) while the first is cut off
    n = len(c.states)
    px.block()
    c.wait_state(KazooState.SUSPENDED, n)
    d = t.session("D", client_id=(sid, pw))
    t.eq("resumed session id", d.sid, sid)
    t.eq("resumed session timeout", d.negotiated, t.main_timeout)
    t.stat("the resumed session sees its ephemeral", d.zk.exists(r + "/e"), ephemeralOwner=sid)
    t.eq("getEphemerals of the resumed session", d.call(r_get_ephemerals(r)), [r + "/e"])
    t.code("auth is per connection: the new connection has none", NOAUTH, d.zk.get, r + "/bobs")
    d.zk.create(r + "/e2", b"", ephemeral=True)
    t.stat("an ephemeral created on the resumed session", d.zk.exists(r + "/e2"), ephemeralOwner=sid)
    # a wrong password: expired, kazoo starts a new session
    e = t.session("E", start=False, client_id=(sid, bytes(x ^ 0x55 for x in pw)))
    e.start()
    t.true("wrong password: the session is refused, kazoo makes a new one", e.sid != sid)
    t.true("the real session is unaffected", d.zk.exists(r + "/e") is not None)
    # closing the resumed session deletes the ephemerals of the session
    b.zk.get_children(r, watch=noop_watch)
    d.close_session()
    t.events(b, [(CHILD, r)], "closing the resumed session")
    t.eq("ephemerals gone", sorted(b.zk.get_children(r)), ["bobs", "later", "new", "w"])
    # the first client object now finds its session closed
    n = len(c.states)
    px.unblock()
    c.wait_state(KazooState.LOST, n)


@scenario
def session_expiry(t):
    b = t.b
    r = t.node("expiry")
    px = t.proxy()
    want = max(t.min_to, min(2 * t.min_to, t.max_to))
    c = t.session("C", hosts=px.hosts, timeout_ms=want)
    t.eq("negotiated timeout", c.negotiated, want)
    sid, pw = c.sid, c.passwd
    c.zk.create(r + "/e", b"", ephemeral=True)
    c.zk.create(r + "/p", b"")
    c.zk.create(r + "/p/e", b"", ephemeral=True)
    b.zk.exists(r + "/e", watch=noop_watch)
    b.zk.get_children(r + "/p", watch=noop_watch)
    n = len(c.states)
    t0 = time.time()
    px.block()
    t.wait_events(b, 2, want / 1000.0 * 2 + 5, "expiry of C's session")
    elapsed = time.time() - t0
    t.events(b, [(DELETED, r + "/e"), (CHILD, r + "/p")], "session expiry deletes the ephemerals", unordered=True)
    t.true("the session did not expire too early (%.2fs after the cut, timeout %dms)" % (elapsed, want), elapsed >= want / 1000.0 / 2)
    t.eq("ephemerals of the expired session are gone", sorted(b.zk.get_children(r)), ["p"])
    px.unblock()
    c.wait_state(KazooState.LOST, n)
    c.wait_connected()
    t.true("kazoo went on with a new session", c.sid != sid)
    e = t.session("E", start=False, client_id=(sid, pw))
    e.start()
    t.true("resuming an expired session: refused, kazoo makes a new one", e.sid != sid)


@scenario
def containers_and_ttl(t):
    if not t.args.container_check_ms:
        print("     (skipped: no --container-check-ms)")
        return
    a, b = t.a, t.b
    r = t.node("reap")
    interval = t.args.container_check_ms / 1000.0
    bound = 4 * interval + 3.0
    # a container that had a child is deleted once it is empty
    a.call(r_create(19, r + "/c", flags=4))
    a.call(r_create(19, r + "/never", flags=4))
    a.zk.create(r + "/c/kid", b"")
    a.call(r_create(19, r + "/keep", flags=4))
    a.zk.create(r + "/keep/kid", b"")
    a.zk.create(r + "/keep/kid2", b"")
    a.zk.delete(r + "/keep/kid")
    b.zk.exists(r + "/c", watch=noop_watch)
    b.zk.get_children(r, watch=noop_watch)
    a.zk.delete(r + "/c/kid")
    t.wait_events(b, 2, bound, "container reaped")
    t.events(b, [(DELETED, r + "/c"), (CHILD, r)], "the emptied container is deleted")
    time.sleep(3 * interval + 0.3)
    t.true("a container that never had a child stays", a.zk.exists(r + "/never") is not None)
    t.true("a container that still has a child stays", a.zk.exists(r + "/keep") is not None)
    # a container emptied by a session close
    c = t.session("C")
    c.call(r_create(19, r + "/c2", flags=4))
    c.zk.create(r + "/c2/e", b"", ephemeral=True)
    b.zk.exists(r + "/c2", watch=noop_watch)
    c.close_session()
    t.wait_events(b, 1, bound, "container emptied by a session close")
    t.events(b, [(DELETED, r + "/c2")], "the container emptied by closeSession is deleted")
    if t.args.no_ttl:
        return
    ttl = 500
    t0 = time.time()
    a.call(r_create(21, r + "/t", flags=5, ttl=ttl))
    a.call(r_create(21, r + "/tk", flags=5, ttl=ttl))
    a.zk.create(r + "/tk/kid", b"")
    b.zk.exists(r + "/t", watch=noop_watch)
    t.wait_events(b, 1, ttl / 1000.0 + bound, "TTL node expiry")
    elapsed = time.time() - t0
    t.events(b, [(DELETED, r + "/t")], "a TTL node without children is deleted after its TTL")
    t.true("not before its TTL (%.2fs)" % elapsed, elapsed >= ttl / 1000.0 - 0.05)
    time.sleep(3 * interval + 0.3)
    t.true("a TTL node with a child stays", a.zk.exists(r + "/tk") is not None)
    b.zk.exists(r + "/tk", watch=noop_watch)
    a.zk.delete(r + "/tk/kid")
    t.wait_events(b, 1, bound, "TTL node emptied")
    t.events(b, [(DELETED, r + "/tk")], "the TTL node is deleted once it has no children")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", help="host:port (required unless --list)")
    ap.add_argument("--tick-time", type=int, default=2000)
    ap.add_argument("--min-session-timeout", type=int, default=None)
    ap.add_argument("--max-session-timeout", type=int, default=None)
    ap.add_argument("--super", default=None, help="user:password of the super user (superDigest)")
    ap.add_argument("--container-check-ms", type=int, default=None)
    ap.add_argument("--no-ttl", action="store_true", help="the server has TTL nodes disabled")
    ap.add_argument("--shared", action="store_true",
                    help="other clients write to the server meanwhile: skip the checks that count zxids")
    ap.add_argument("--only", default=None, help="comma-separated scenario names")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.list:
        for fn in SCENARIOS:
            print(fn.__name__)
        return 0
    if not args.server:
        ap.error("--server is required")
    logging.getLogger("kazoo").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    if args.min_session_timeout is None:
        args.min_session_timeout = 2 * args.tick_time
    if args.max_session_timeout is None:
        args.max_session_timeout = 20 * args.tick_time
    # the whole suite must end: a hung kazoo call cannot keep it alive
    watchdog = threading.Timer(600, lambda: (print("kazoo suite: global timeout (600s)", flush=True), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    t0 = time.time()
    suite = Suite(args)
    print("kazoo suite against %s (root %s)" % (args.server, suite.root), flush=True)
    rc = suite.run()
    print("kazoo suite: %.1fs" % (time.time() - t0), flush=True)
    sys.stdout.flush()
    os._exit(rc)


if __name__ == "__main__":
    main()
