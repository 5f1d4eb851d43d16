#!/usr/bin/env python3
"""C client suite: ZooKeeper 3.8 behaviour as seen through the C client shell `cli_mt`
(Debian package zookeeper-bin), driven through its stdin, checked on what it prints.

Usage:
    c_suite.py --server HOST:PORT [--tick-time MS] [--min-session-timeout MS]
               [--max-session-timeout MS] [--super USER:PASSWORD] [--container-check-ms MS]
               [--no-ttl] [--cli PATH] [--only NAME[,NAME...]] [--list] [-v]

cli_mt offers: create / create2 with +e +s +es +c +t=TTL +st=TTL (create 1, create2 15,
createContainer 19, createTTL 21), delete, set, get (with a watch), ls (getChildren, watch), ls2
(getChildren2, watch), exists (watch), wexists (watch with its own watcher), sync, addauth,
config (getConfig), reconfig, quit (closeSession). It prints every watch event it receives
("Watcher <TYPE> state = <STATE> for path <P>"), session events, and each reply's rc and Stat.

Commands run one at a time: after each, the driver sends `sync /<marker>` and waits for that
reply, so everything printed in between belongs to the command (and the events that arrived
before its reply). A kazoo session on the server directly is the helper that makes changes the C
client should hear about and checks what the C client did. The C client reconnects through an
in-process TCP proxy (zkproxy.py) to test SetWatches after a reconnect and session expiry.
Exit status 0 iff every scenario passed.
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zkproxy  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

WAIT = 10.0
CLI_CANDIDATES = ["/usr/lib/zookeeper/bin/cli_mt", "/usr/bin/cli_mt"]


class Mismatch(Exception):
    pass


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


EVENT_RE = re.compile(r"^Watcher (\w+) state = (\w+)(?: for path (.*))?$")
STAT_RE = {
    "czxid": re.compile(r"^\tczxid=([0-9a-f]+)$"),
    "mzxid": re.compile(r"^\tmzxid=([0-9a-f]+)$"),
    "version": re.compile(r"^\tversion=([0-9a-f]+)\taversion=([0-9a-f]+)$"),
    "ephemeralOwner": re.compile(r"^\tephemeralOwner = ([0-9a-f]+)$"),
}


def s32(hexstr):
    v = int(hexstr, 16)
    return v - (1 << 32) if v >= 1 << 31 else v


def parse_stat(lines):
    st = {}
    for line in lines:
        for k, rx in STAT_RE.items():
            m = rx.match(line)
            if m:
                if k == "version":
                    st["version"] = s32(m.group(1))
                    st["aversion"] = s32(m.group(2))
                else:
                    st[k] = int(m.group(1), 16)
    return st or None


class Cli:
    """One cli_mt process. Output lines are collected by a reader thread."""

    def __init__(self, suite, name, hosts):
        self.suite = suite
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.pos = 0
        self.marker = 0
        self.proc = subprocess.Popen([suite.cli, hosts], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        suite.clis.append(self)
        threading.Thread(target=self._read, daemon=True).start()
        idx = self.wait_line(lambda l: l.startswith("Got a new session id: 0x"), 0, WAIT, "session established")
        self.sid = int(self.lines[idx].split("0x", 1)[1], 16)
        self.pos = idx + 1

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.suite.args.verbose:
                print("      [%s] %s" % (self.name, line), flush=True)
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append("<EOF>")
            self.cond.notify_all()

    def wait_line(self, pred, start, timeout, what):
        end = time.time() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    if pred(self.lines[i]):
                        return i
                left = end - time.time()
                if left <= 0 or (self.lines and self.lines[-1] == "<EOF>"):
                    raise Mismatch("%s: no output for %s within %.1fs; output since:\n%s"
                                   % (self.name, what, timeout, indent("\n".join(self.lines[start:]) or "(none)")))
                self.cond.wait(left)

    def send(self, line):
        if self.proc.poll() is not None:
            raise Mismatch("%s: cli_mt exited (%s) before %r" % (self.name, self.proc.returncode, line))
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def cmd(self, line):
        """Runs one command; returns (output lines except events, events) up to a sync barrier.

        A sync goes first: the command then sees every write acknowledged before it, whichever
        server wrote it (in an ensemble the client's server may not have applied yet a write
        another server acknowledged; ZooKeeper promises it only after a sync)."""
        self.marker += 1
        pre = "/fresh-%d" % self.marker
        self.send("sync " + pre)
        self.send(line)
        out, events = self.barrier("after %r" % line)
        mine = ("[%s]: rc = 0" % pre, "\tname = " + pre)
        self.last_seg = [l for l in self.last_seg if l not in mine]
        return [l for l in out if l not in mine], events

    def barrier(self, what="barrier"):
        self.marker += 1
        mark = "/barrier-%d" % self.marker
        self.send("sync " + mark)
        head = "[%s]: rc = " % mark
        idx = self.wait_line(lambda l: l.startswith(head), self.pos, WAIT, "sync barrier " + what)
        rc = int(self.lines[idx][len(head):])
        if rc != 0:
            raise Mismatch("%s: sync of a missing path answered rc = %d (expected 0)" % (self.name, rc))
        self.wait_line(lambda l: l == "\tname = " + mark, idx, WAIT, "sync barrier name")
        seg = self.lines[self.pos:idx]
        self.last_seg = seg
        self.pos = idx + 2
        out, events = [], []
        for l in seg:
            m = EVENT_RE.match(l)
            if m:
                events.append((m.group(1), m.group(3)) if m.group(1) != "SESSION_EVENT" else ("SESSION_EVENT", m.group(2)))
            elif l.startswith("time = ") or not l.strip():
                continue
            else:
                out.append(l)
        return out, events

    def raw_since(self, start):
        with self.cond:
            return list(self.lines[start:])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (OSError, Mismatch):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- parsers for one command's output


def rc_line(out, path, fmt):
    head = fmt % path
    for i, l in enumerate(out):
        if l.startswith(head):
            return i, int(l[len(head):].split()[0])
    raise Mismatch("no reply line %r in:\n%s" % (head, indent("\n".join(out))))


def r_create(out, path):
    i, rc = rc_line(out, path, "[%s]: rc = ")
    name = out[i + 1][len("\tname = "):] if rc == 0 else None
    return rc, name, parse_stat(out[i + 2:]) if rc == 0 else None


def r_get(out, path):
    i, rc = rc_line(out, path, "%s: rc = ")
    if rc != 0:
        return rc, None, None
    value = None
    if out[i + 1].startswith(" value_len = "):
        n = int(out[i + 1].split("=")[1])
        value = out[i + 2][:n] if n else ""
    return rc, value, parse_stat(out[i + 1:])


def r_set(out, path):
    i, rc = rc_line(out, path, "%s: rc = ")
    return rc, parse_stat(out[i + 1:]) if rc == 0 else None


def r_ls(out, path):
    i, rc = rc_line(out, path, "%s: rc = ")
    kids = []
    for l in out[i + 1:]:
        if l.startswith("\t") and "=" not in l:
            kids.append(l[1:])
        else:
            break
    return rc, sorted(kids), parse_stat(out[i + 1:])


def r_void(out, path):
    return rc_line(out, path, "%s: rc = ")[1]


# ---- the suite


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


class Helper:
    """A kazoo session straight to the server, with recorded one-shot watch events."""

    def __init__(self, hosts):
        self.zk = KazooClient(hosts=hosts, timeout=4.0)
        self.zk.start(timeout=WAIT)
        # Every read of the helper syncs first: it checks what the C client wrote, maybe
        # through another server of the ensemble.
        for name in ("get", "get_children", "exists", "get_acls"):
            read = getattr(self.zk, name)
            setattr(self.zk, name, lambda *a, _read=read, **kw: (self.zk.sync("/"), _read(*a, **kw))[1])
        self.events = []
        self.lock = threading.Lock()

    def watch(self, event):
        with self.lock:
            self.events.append((event.type, event.path))

    def take(self, n=0, timeout=WAIT):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.events) >= n:
                    break
            time.sleep(0.02)
        self.zk.exists("/")
        time.sleep(0.05)  # kazoo dispatches watch callbacks on its own thread
        with self.lock:
            ev = self.events[:]
            del self.events[:]
        return ev


class Suite:
    def __init__(self, args):
        self.args = args
        self.checks = 0
        self.clis = []
        self.proxies = []
        self.cli = args.cli or next((c for c in CLI_CANDIDATES if os.access(c, os.X_OK)), None) or shutil.which("cli_mt")
        if not self.cli:
            raise SystemExit("c suite: cli_mt not found (Debian package zookeeper-bin)")
        self.root = "/c-suite-%08x" % random.getrandbits(32)
        self.h = Helper(args.server)
        # cli_mt asks for a 30 s session; the server clamps it
        self.cli_timeout = max(args.min_session_timeout, min(30000, args.max_session_timeout))

    def eq(self, what, got, want):
        self.checks += 1
        if got != want:
            raise Mismatch("%s\n  expected: %r\n  got:      %r" % (what, want, got))
        if self.args.verbose:
            print("    ok: %s" % what)

    def true(self, what, cond):
        self.checks += 1
        if not cond:
            raise Mismatch(what)

    def stat(self, what, st, **want):
        if st is None:
            raise Mismatch("%s: no Stat printed" % what)
        self.eq(what + " (stat %s)" % ",".join(sorted(want)), {k: st.get(k) for k in want}, want)

    def node(self, name):
        path = "%s/%s" % (self.root, name)
        self.h.zk.create(path, b"")
        return path

    def client(self, name, hosts=None):
        return Cli(self, name, hosts or self.args.server)

    def proxy(self):
        # through the first server of the connection string
        host, port = self.args.server.split(",")[0].rsplit(":", 1)
        p = zkproxy.Proxy((host, int(port))).start()
        self.proxies.append(p)
        return p

    def run(self):
        self.h.zk.create(self.root, b"")
        only = set(self.args.only.split(",")) if self.args.only else None
        failures = []
        ran = 0
        for fn in SCENARIOS:
            if only and fn.__name__ not in only:
                continue
            ran += 1
            before = self.checks
            t0 = time.time()
            self.h.take(0, 0)
            try:
                fn(self)
                print("ok   %-40s %4d checks %6.2fs" % (fn.__name__, self.checks - before, time.time() - t0), flush=True)
            except Mismatch as e:
                failures.append((fn.__name__, str(e)))
                print("FAIL %-40s after %d checks %6.2fs\n%s" % (fn.__name__, self.checks - before, time.time() - t0, indent(str(e))), flush=True)
            except Exception:
                failures.append((fn.__name__, traceback.format_exc()))
                print("FAIL %-40s unexpected exception:\n%s" % (fn.__name__, indent(traceback.format_exc())), flush=True)
            finally:
                for c in self.clis:
                    c.close()
                del self.clis[:]
                for p in self.proxies:
                    p.close()
                del self.proxies[:]
        try:
            self.h.zk.add_auth("digest", "bob:secret")
            self.h.zk.delete(self.root, recursive=True)
        except Exception as e:
            print("(cleanup of %s failed: %r)" % (self.root, e))
        self.h.zk.stop()
        print("c suite: %d scenarios, %d checks: %d passed, %d failed" % (ran, self.checks, ran - len(failures), len(failures)))
        if failures:
            print("\nFAILED scenarios:")
            for name, msg in failures:
                print("--- %s\n%s" % (name, indent(msg)))
        return 1 if failures else 0


# =============================================================================================


@scenario
def create_modes(t):
    r = t.node("create")
    c = t.client("C")
    t.true("session id is nonzero", c.sid != 0)
    out, ev = c.cmd("create %s/p" % r)
    t.eq("create PERSISTENT", r_create(out, r + "/p")[:2], (0, r + "/p"))
    t.true("create prints its mode", "Creating [%s/p] node (mode: 0)" % r in out)
    out, _ = c.cmd("create +e %s/e" % r)
    t.eq("create EPHEMERAL", r_create(out, r + "/e")[:2], (0, r + "/e"))
    out, _ = c.cmd("create +s %s/s-" % r)
    t.eq("create PERSISTENT_SEQUENTIAL", r_create(out, r + "/s-")[:2], (0, r + "/s-0000000002"))
    out, _ = c.cmd("create +es %s/es-" % r)
    t.eq("create EPHEMERAL_SEQUENTIAL", r_create(out, r + "/es-")[:2], (0, r + "/es-0000000003"))
    out, _ = c.cmd("create +c %s/cont" % r)
    t.eq("create CONTAINER", r_create(out, r + "/cont")[:2], (0, r + "/cont"))
    n = 5
    if not t.args.no_ttl:
        out, _ = c.cmd("create +t=600000 %s/ttl" % r)
        t.eq("create PERSISTENT_WITH_TTL", r_create(out, r + "/ttl")[:2], (0, r + "/ttl"))
        out, _ = c.cmd("create +st=600000 %s/ttls-" % r)
        t.eq("create PERSISTENT_SEQUENTIAL_WITH_TTL", r_create(out, r + "/ttls-")[:2], (0, r + "/ttls-0000000006"))
        out, _ = c.cmd("create2 +t=600000 %s/ttl2" % r)
        rc, name, st = r_create(out, r + "/ttl2")
        t.eq("create2 TTL", (rc, name), (0, r + "/ttl2"))
        t.stat("create2 TTL", st, version=0, aversion=0, ephemeralOwner=0)
        n = 8
    out, _ = c.cmd("create2 %s/p2" % r)
    rc, name, st = r_create(out, r + "/p2")
    t.eq("create2 PERSISTENT", (rc, name), (0, r + "/p2"))
    t.stat("create2 PERSISTENT", st, version=0, aversion=0, ephemeralOwner=0)
    t.eq("create2: mzxid == czxid", st["mzxid"], st["czxid"])
    out, _ = c.cmd("create2 +e %s/e2" % r)
    rc, name, st = r_create(out, r + "/e2")
    t.eq("create2 EPHEMERAL", (rc, name), (0, r + "/e2"))
    t.stat("create2 EPHEMERAL: owner is the session", st, version=0, ephemeralOwner=c.sid)
    out, _ = c.cmd("create2 +c %s/c2" % r)
    rc, name, st = r_create(out, r + "/c2")
    t.stat("create2 CONTAINER", st, version=0, ephemeralOwner=0)
    n += 3
    # what the helper sees
    kids = sorted(t.h.zk.get_children(r))
    want = ["cont", "c2", "e", "e2", "es-0000000003", "p", "p2", "s-0000000002"]
    if not t.args.no_ttl:
        want += ["ttl", "ttl2", "ttls-0000000006"]
    t.eq("children", kids, sorted(want))
    t.eq("data of a cli_mt create is 'new'", t.h.zk.get(r + "/p")[0], b"new")
    t.eq("ephemeral owner", t.h.zk.exists(r + "/e").ephemeralOwner, c.sid)
    t.eq("parent cversion", t.h.zk.exists(r).cversion, n)


@scenario
def errors(t):
    r = t.node("errors")
    t.h.zk.create(r + "/p/kid", b"", makepath=True)
    c = t.client("C")
    c.cmd("create +e %s/eph" % r)
    out, _ = c.cmd("create %s/p" % r)
    t.eq("create existing", r_create(out, r + "/p")[0], -110)
    out, _ = c.cmd("create2 %s/p" % r)
    t.eq("create2 existing", r_create(out, r + "/p")[0], -110)
    out, _ = c.cmd("create %s/missing/x" % r)
    t.eq("create under a missing parent", r_create(out, r + "/missing/x")[0], -101)
    out, _ = c.cmd("create %s/eph/x" % r)
    t.eq("create under an ephemeral", r_create(out, r + "/eph/x")[0], -108)
    out, _ = c.cmd("create +c %s/eph/x" % r)
    t.eq("create container under an ephemeral", r_create(out, r + "/eph/x")[0], -108)
    if not t.args.no_ttl:
        out, _ = c.cmd("create +t=1000 %s/missing/x" % r)
        t.eq("create TTL under a missing parent", r_create(out, r + "/missing/x")[0], -101)
    out, _ = c.cmd("delete %s/p" % r)
    t.eq("delete a node with children", r_void(out, r + "/p"), -111)
    out, _ = c.cmd("delete %s/nope" % r)
    t.eq("delete a missing node", r_void(out, r + "/nope"), -101)
    out, _ = c.cmd("delete /zookeeper")
    t.eq("delete /zookeeper", r_void(out, "/zookeeper"), -8)
    out, _ = c.cmd("get %s/nope" % r)
    t.eq("get a missing node", r_get(out, r + "/nope")[0], -101)
    out, _ = c.cmd("set %s/nope x" % r)
    t.eq("set a missing node", r_set(out, r + "/nope")[0], -101)
    out, _ = c.cmd("ls %s/nope" % r)
    t.eq("ls a missing node", r_ls(out, r + "/nope")[0], -101)
    out, _ = c.cmd("ls2 %s/nope" % r)
    t.eq("ls2 a missing node", r_ls(out, r + "/nope")[0], -101)
    out, _ = c.cmd("exists %s/nope" % r)
    t.eq("exists of a missing node", out, ["Error -101 for %s/nope" % r])
    out, _ = c.cmd("exists %s/p" % r)
    t.eq("exists of an existing node prints nothing", out, [])
    t.eq("nothing was created", sorted(t.h.zk.get_children(r)), ["eph", "p"])


@scenario
def get_set_ls(t):
    r = t.node("data")
    c = t.client("C")
    c.cmd("create %s/n" % r)
    out, _ = c.cmd("get %s/n" % r)
    rc, value, st = r_get(out, r + "/n")
    t.eq("get", (rc, value), (0, "new"))
    t.stat("get", st, version=0, aversion=0, ephemeralOwner=0)
    czxid = st["czxid"]
    out, _ = c.cmd("set %s/n hello" % r)
    rc, st = r_set(out, r + "/n")
    t.eq("set", rc, 0)
    t.stat("set", st, version=1, czxid=czxid)
    t.true("set: mzxid advanced", st["mzxid"] > czxid)
    out, _ = c.cmd("set %s/n again" % r)
    t.stat("set again", r_set(out, r + "/n")[1], version=2)
    out, _ = c.cmd("get %s/n" % r)
    rc, value, st = r_get(out, r + "/n")
    t.eq("get after set", (rc, value), (0, "again"))
    t.eq("helper sees the data", t.h.zk.get(r + "/n")[0], b"again")
    for k in ("a", "b", "c"):
        c.cmd("create %s/n/%s" % (r, k))
    out, _ = c.cmd("ls %s/n" % r)
    t.eq("ls (sorted)", r_ls(out, r + "/n")[:2], (0, ["a", "b", "c"]))
    out, _ = c.cmd("ls2 %s/n" % r)
    rc, kids, st = r_ls(out, r + "/n")
    t.eq("ls2 (sorted)", (rc, kids), (0, ["a", "b", "c"]))
    t.stat("ls2 Stat", st, version=2, czxid=czxid)
    out, _ = c.cmd("ls %s/n/a" % r)
    t.eq("ls of a leaf", r_ls(out, r + "/n/a")[:2], (0, []))
    out, _ = c.cmd("delete %s/n/a" % r)
    t.eq("delete", r_void(out, r + "/n/a"), 0)
    t.eq("helper: deleted", t.h.zk.exists(r + "/n/a"), None)
    out, _ = c.cmd("sync %s/n" % r)
    t.eq("sync", r_create(out, r + "/n")[:2], (0, r + "/n"))
    out, _ = c.cmd("config")
    rc, value, st = r_get(out, "/zookeeper/config")
    t.eq("config (getConfig) rc", rc, 0)
    t.stat("config Stat", st, aversion=-1)
    out, _ = c.cmd("reconfig -add server.2=127.0.0.1:2889:3889;2182")
    t.eq("reconfig on a standalone server", r_void(out, "-add server.2=127.0.0.1:2889:3889;2182"), -123)


@scenario
def watches(t):
    r = t.node("watch")
    h = t.h.zk
    h.create(r + "/d", b"d")
    h.create(r + "/c", b"")
    c = t.client("C")
    c.cmd("get %s/d" % r)        # data watch
    c.cmd("ls %s/c" % r)         # child watch
    out, _ = c.cmd("exists %s/new" % r)  # exists watch on a missing node
    t.eq("exists of a missing node", out, ["Error -101 for %s/new" % r])
    out, _ = c.cmd("wexists %s/w2" % r)  # the wexists watcher (same callback as the default one)
    t.eq("wexists of a missing node", out, ["Error -101 for %s/w2" % r])
    h.set(r + "/d", b"1")
    h.create(r + "/c/kid", b"")
    h.create(r + "/new", b"")
    h.set(r + "/d", b"2")
    h.create(r + "/c/kid2", b"")
    h.create(r + "/w2", b"")
    _, ev = c.barrier()
    t.eq("events in order (one per watch; one-shot)", ev, [
        ("CHANGED_EVENT", r + "/d"), ("CHILD_EVENT", r + "/c"), ("CREATED_EVENT", r + "/new"), ("CREATED_EVENT", r + "/w2")])
    c.cmd("get %s/new" % r)
    c.cmd("ls %s/new" % r)
    h.delete(r + "/new")
    _, ev = c.barrier()
    t.eq("delete with a data and a child watch: one NodeDeleted per watcher object", ev, [("DELETED_EVENT", r + "/new")])
    c.cmd("ls2 %s/c" % r)
    h.delete(r + "/c/kid")
    _, ev = c.barrier()
    t.eq("ls2 watch", ev, [("CHILD_EVENT", r + "/c")])
    # the client's own write: events come before the reply
    c.cmd("exists %s/own" % r)
    c.cmd("ls %s" % r)
    c.cmd("create %s/own" % r)
    t.eq("own create: the events come before the reply", c.last_seg[:5], [
        "Creating [%s/own] node (mode: 0)" % r,
        "Watcher CREATED_EVENT state = CONNECTED_STATE for path %s/own" % r,
        "Watcher CHILD_EVENT state = CONNECTED_STATE for path %s" % r,
        "[%s/own]: rc = 0" % r,
        "\tname = %s/own" % r])
    # failed writes and setACL fire nothing
    c.cmd("get %s/d" % r)
    h.set_acls(r + "/d", h.get_acls(r + "/d")[0])
    try:
        h.set(r + "/d", b"x", version=99)
    except Exception:
        pass
    _, ev = c.barrier()
    t.eq("setACL and a failed set fire nothing", ev, [])
    h.set(r + "/d", b"3")
    _, ev = c.barrier()
    t.eq("the watch survived", ev, [("CHANGED_EVENT", r + "/d")])


@scenario
def auth(t):
    r = t.node("auth")
    t.h.zk.create(r + "/s", b"secret", acl=[make_digest_acl("bob", "secret", all=True)])
    c = t.client("C")
    out, _ = c.cmd("get %s/s" % r)
    t.eq("get without auth", r_get(out, r + "/s")[0], -102)
    out, _ = c.cmd("set %s/s x" % r)
    t.eq("set without auth", r_set(out, r + "/s")[0], -102)
    out, _ = c.cmd("create %s/s/kid" % r)
    t.eq("create child without auth", r_create(out, r + "/s/kid")[0], -102)
    c.cmd("addauth digest bob:secret")
    out, _ = c.cmd("get %s/s" % r)
    t.eq("get with auth", r_get(out, r + "/s")[:2], (0, "secret"))
    out, _ = c.cmd("create %s/s/kid" % r)
    t.eq("create child with auth", r_create(out, r + "/s/kid")[:2], (0, r + "/s/kid"))
    if t.args.super:
        s = t.client("S")
        s.cmd("addauth digest " + t.args.super)
        out, _ = s.cmd("set %s/s by-super" % r)
        t.eq("super may write", r_set(out, r + "/s")[0], 0)
    f = t.client("F")
    f.send("addauth nosuchscheme whatever")
    f.wait_line(lambda l: l == "Watcher SESSION_EVENT state = AUTH_FAILED_STATE", f.pos, WAIT, "AUTH_FAILED_STATE")


@scenario
def close_deletes_ephemerals(t):
    r = t.node("close")
    c = t.client("C")
    c.cmd("create +e %s/e1" % r)
    c.cmd("create +es %s/e-" % r)
    t.h.zk.get_children(r, watch=t.h.watch)
    t.h.zk.exists(r + "/e1", watch=t.h.watch)
    c.send("quit")
    c.proc.stdin.close()
    c.proc.wait(timeout=WAIT)
    ev = t.h.take(2)
    t.eq("closeSession: events of the helper's watches", sorted(ev), sorted([("CHILD", r), ("DELETED", r + "/e1")]))
    t.eq("ephemerals gone", t.h.zk.get_children(r), [])


@scenario
def reconnect_set_watches(t):
    r = t.node("reconnect")
    h = t.h.zk
    for n in ("d", "c", "same"):
        h.create("%s/%s" % (r, n), b"")
    px = t.proxy()
    c = t.client("C", px.hosts)
    c.cmd("create +e %s/eph" % r)
    c.cmd("get %s/d" % r)
    c.cmd("ls %s/c" % r)
    c.cmd("exists %s/new" % r)
    c.cmd("get %s/same" % r)
    start = len(c.lines)
    px.block()
    c.wait_line(lambda l: l == "Watcher SESSION_EVENT state = CONNECTING_STATE", start, WAIT, "CONNECTING_STATE")
    h.set(r + "/d", b"changed while away")
    h.create(r + "/c/kid", b"")
    h.create(r + "/new", b"")
    px.unblock()
    c.wait_line(lambda l: l == "Watcher SESSION_EVENT state = CONNECTED_STATE", start, WAIT, "CONNECTED_STATE")
    out, ev = c.barrier()
    t.eq("SetWatches catch-up events after the reconnect", sorted(e for e in ev if e[0] != "SESSION_EVENT"),
         sorted([("CHANGED_EVENT", r + "/d"), ("CHILD_EVENT", r + "/c"), ("CREATED_EVENT", r + "/new")]))
    t.true("no new session", not any(l.startswith("Got a new session id") for l in c.lines[start:]))
    h.set(r + "/same", b"x")
    _, ev = c.barrier()
    t.eq("the unchanged watch was re-registered", ev, [("CHANGED_EVENT", r + "/same")])
    t.eq("the ephemeral survived", h.exists(r + "/eph").ephemeralOwner, c.sid)


@scenario
def session_expiry(t):
    if t.cli_timeout > 10000:
        print("     (skipped: cli_mt's session timeout would be %d ms)" % t.cli_timeout)
        return
    r = t.node("expiry")
    px = t.proxy()
    c = t.client("C", px.hosts)
    c.cmd("create +e %s/e" % r)
    t.h.zk.exists(r + "/e", watch=t.h.watch)
    start = len(c.lines)
    t0 = time.time()
    px.block()
    ev = t.h.take(1, t.cli_timeout / 1000.0 * 2 + 5)
    elapsed = time.time() - t0
    t.eq("expiry deletes the ephemeral", ev, [("DELETED", r + "/e")])
    t.true("not expired too early (%.2fs, timeout %dms)" % (elapsed, t.cli_timeout), elapsed >= t.cli_timeout / 1000.0 / 2)
    px.unblock()
    c.wait_line(lambda l: l == "Watcher SESSION_EVENT state = EXPIRED_SESSION_STATE", start, WAIT + t.cli_timeout / 1000.0, "EXPIRED_SESSION_STATE")


@scenario
def containers_and_ttl(t):
    if not t.args.container_check_ms:
        print("     (skipped: no --container-check-ms)")
        return
    r = t.node("reap")
    c = t.client("C")
    bound = 4 * t.args.container_check_ms / 1000.0 + 3
    c.cmd("create +c %s/cont" % r)
    c.cmd("create %s/cont/kid" % r)
    c.cmd("get %s/cont" % r)
    c.cmd("delete %s/cont/kid" % r)
    end = time.time() + bound
    ev = []
    while time.time() < end and ("DELETED_EVENT", r + "/cont") not in ev:
        time.sleep(0.1)
        ev += c.barrier()[1]
    t.eq("the emptied container is deleted (event of the get watch)", ev, [("DELETED_EVENT", r + "/cont")])
    if t.args.no_ttl:
        return
    c.cmd("create +t=300 %s/ttl" % r)
    c.cmd("get %s/ttl" % r)
    end = time.time() + bound + 0.3
    ev = []
    while time.time() < end and ("DELETED_EVENT", r + "/ttl") not in ev:
        time.sleep(0.1)
        ev += c.barrier()[1]
    t.eq("the TTL node is deleted", ev, [("DELETED_EVENT", r + "/ttl")])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", help="host:port (required unless --list)")
    ap.add_argument("--tick-time", type=int, default=2000)
    ap.add_argument("--min-session-timeout", type=int, default=None)
    ap.add_argument("--max-session-timeout", type=int, default=None)
    ap.add_argument("--super", default=None)
    ap.add_argument("--container-check-ms", type=int, default=None)
    ap.add_argument("--no-ttl", action="store_true")
    ap.add_argument("--cli", default=None, help="path of cli_mt")
    ap.add_argument("--only", default=None)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.list:
        for fn in SCENARIOS:
            print(fn.__name__)
        return 0
    if not args.server:
        ap.error("--server is required")
    if args.min_session_timeout is None:
        args.min_session_timeout = 2 * args.tick_time
    if args.max_session_timeout is None:
        args.max_session_timeout = 20 * args.tick_time
    import logging
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    watchdog = threading.Timer(600, lambda: (print("c suite: global timeout (600s)", flush=True), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    t0 = time.time()
    suite = Suite(args)
    print("c suite against %s with %s (root %s)" % (args.server, suite.cli, suite.root), flush=True)
    try:
        rc = suite.run()
    finally:
        for c in suite.clis:
            c.close()
    print("c suite: %.1fs" % (time.time() - t0), flush=True)
    sys.stdout.flush()
    os._exit(rc)


if __name__ == "__main__":
    main()
