#!/usr/bin/env python3
"""Capture golden-bytes fixtures from a real Apache ZooKeeper 3.8 server.

One command, re-runnable:

    python3 jute/tests/capture/capture.py

It
  1. starts Apache ZooKeeper standalone from the Debian jars
     (org.apache.zookeeper.server.ZooKeeperServerMain) on a free 127.0.0.1
     port with its own temporary dataDir, 4lw.commands.whitelist=*,
     -Dzookeeper.extendedTypesEnabled=true (TTL nodes) and the AdminServer
     disabled, and waits for `ruok` -> `imok`;
  2. starts proxy.py (recording proxy) in front of it;
  3. runs the Java client (JavaClient.java, compiled with javac against
     /usr/share/java/zookeeper.jar), the kazoo client (kazoo_client.py) and
     the C client shell (cli_mt, driven through stdin) through the proxy;
  4. stops everything (also on failure / Ctrl-C);
  5. checks the recorded frames (framing, handshake, opcode decoding, size)
     and only then replaces jute/tests/fixtures/*.frames with the new set.

Exit status is nonzero on any failure; the fixtures are then left untouched
and the temporary work directory (logs) is kept and printed.
Options: --keep (keep the work dir), --out DIR (fixture dir).
"""

import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures"))
JARS = "/usr/share/java"
CLI_MT_CANDIDATES = ["/usr/lib/zookeeper/bin/cli_mt", "/usr/bin/cli_mt"]
# zookeeper.jar's manifest Class-Path pulls in zookeeper-jute, slf4j-api,
# netty, jackson, metrics, snappy, jetty, commons-*.  slf4j-simple gives the
# server a log binding (stderr -> zk.log).
CLASSPATH = ":".join(
    os.path.join(JARS, j) for j in ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-simple.jar")
)
MAX_FIXTURE_BYTES = 1_000_000

procs = []  # (name, Popen) started by us, killed in cleanup()
workdir = None
keep_workdir = False
failed = True


def log(msg):
    print("[capture] " + msg, flush=True)


class CaptureError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name, argv, **kw):
    logf = open(os.path.join(workdir, name + ".log"), "wb")
    p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, **kw)
    procs.append((name, p))
    return p


def stop(name, p, grace=5.0):
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)  # p.pid leads its own session/group
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log("%s did not stop, killing" % name)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=5)


def cleanup():
    for name, p in reversed(procs):
        try:
            stop(name, p)
        except Exception as e:  # keep cleaning
            log("cleanup of %s: %r" % (name, e))
    procs.clear()
    if workdir and os.path.isdir(workdir):
        if failed or keep_workdir:
            log("work directory kept: %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def on_signal(signum, frame):
    raise SystemExit("interrupted by signal %d" % signum)


def four_letter(port, word, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


def wait_for(what, pred, timeout, interval=0.2, proc=None):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise CaptureError("%s: process exited with %s" % (what, proc.returncode))
        try:
            r = pred()
            if r:
                return r
        except (OSError, ValueError) as e:
            last = e
        time.sleep(interval)
    raise CaptureError("timed out after %ss waiting for %s (%r)" % (timeout, what, last))


def tail(name, n=40):
    path = os.path.join(workdir, name + ".log")
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no log)"


def run_checked(name, argv, timeout, **kw):
    logf = os.path.join(workdir, name + ".log")
    with open(logf, "wb") as f:
        try:
            r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, **kw)
        except subprocess.TimeoutExpired:
            raise CaptureError("%s timed out after %ss; log:\n%s" % (name, timeout, tail(name)))
    if r.returncode != 0:
        raise CaptureError("%s failed (exit %d); log:\n%s" % (name, r.returncode, tail(name)))
    log("%s ok" % name)


class Control:
    def __init__(self, port):
        self.port = port

    def __call__(self, cmd, timeout=10):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall((cmd + "\n").encode())
            line = s.makefile().readline().strip()
        if not line.startswith("ok"):
            raise CaptureError("proxy control %r -> %r" % (cmd, line))
        return line

    def wait_idle(self, timeout=20):
        wait_for("proxy connections to finish", lambda: self("active") == "ok 0", timeout)


def start_zookeeper():
    port = free_port()
    data = os.path.join(workdir, "data")
    os.makedirs(data)
    cfg = os.path.join(workdir, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write(
            "\n".join(
                [
                    "tickTime=500",
                    "minSessionTimeout=1000",
                    "maxSessionTimeout=6000",  # cli_mt asks for 30 s; clamp so it pings within the run
                    "dataDir=" + data,
                    "clientPort=%d" % port,
                    "clientPortAddress=127.0.0.1",
                    "maxClientCnxns=0",
                    "4lw.commands.whitelist=*",
                    "admin.enableServer=false",
                    "",
                ]
            )
        )
    argv = [
        "java",
        "-Xmx256m",
        "-Dzookeeper.extendedTypesEnabled=true",
        "-Dzookeeper.admin.enableServer=false",
        "-Dzookeeper.4lw.commands.whitelist=*",
        "-Dzookeeper.jmx.log4j.disable=true",
        "-Djava.net.preferIPv4Stack=true",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-cp",
        CLASSPATH,
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        cfg,
    ]
    p = start("zookeeper", argv)
    try:
        wait_for("ZooKeeper ruok", lambda: four_letter(port, b"ruok") == "imok", 60, 0.3, proc=p)
        # ruok answers imok before the server is serving; srvr tells the difference
        srvr = wait_for(
            "ZooKeeper serving",
            lambda: (lambda t: t if t.startswith("Zookeeper version:") else None)(four_letter(port, b"srvr")),
            30, 0.3, proc=p,
        )
    except CaptureError as e:
        raise CaptureError("%s\nzookeeper log:\n%s" % (e, tail("zookeeper")))
    version = srvr.splitlines()[0].split(":", 1)[1].strip()
    try:
        deb = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "zookeeper"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        deb = ""
    desc = "Apache ZooKeeper %s standalone%s (srvr: %s)" % (
        version.split("-")[0], ", Debian package zookeeper %s" % deb if deb else "", version)
    log("ZooKeeper serving on 127.0.0.1:%d: %s" % (port, desc))
    return port, desc


def start_proxy(zk_port, server_version):
    out = os.path.join(workdir, "frames")
    state = os.path.join(workdir, "proxy.json")
    argv = [
        sys.executable,
        os.path.join(HERE, "proxy.py"),
        "--upstream",
        "127.0.0.1:%d" % zk_port,
        "--out-dir",
        out,
        "--state-file",
        state,
        "--server-version",
        server_version,
        "-v",
    ]
    p = start("proxy", argv)

    def ready():
        with open(state) as f:
            return json.load(f)

    st = wait_for("proxy state file", ready, 15, 0.1, proc=p)
    log("proxy on 127.0.0.1:%d (control %d)" % (st["port"], st["control_port"]))
    return p, st["port"], Control(st["control_port"]), out


def run_java(proxy_port, zk_port, ctl):
    classes = os.path.join(workdir, "classes")
    os.makedirs(classes)
    run_checked(
        "javac", ["javac", "-cp", CLASSPATH, "-d", classes, os.path.join(HERE, "JavaClient.java")], timeout=180
    )
    ctl("label java")
    run_checked(
        "java-client",
        [
            "java",
            "-Xmx256m",
            "-Djava.net.preferIPv4Stack=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            CLASSPATH + ":" + classes,
            "JavaClient",
            "127.0.0.1:%d" % proxy_port,
            "127.0.0.1:%d" % zk_port,
            str(ctl.port),
        ],
        timeout=240,
    )
    ctl.wait_idle()


def run_kazoo(proxy_port, ctl):
    ctl("label kazoo")
    run_checked(
        "kazoo-client",
        [sys.executable, os.path.join(HERE, "kazoo_client.py"), "127.0.0.1:%d" % proxy_port, str(ctl.port)],
        timeout=120,
    )
    ctl.wait_idle()


def find_cli_mt():
    for c in CLI_MT_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    found = shutil.which("cli_mt")
    if found:
        return found
    raise CaptureError("cli_mt not found (Debian package zookeeper-bin)")


def run_c(proxy_port, zk_port, ctl):
    """Drive the C client shell through stdin.  Each step: (command, seconds to wait after)."""
    cli = find_cli_mt()
    ctl("label c")
    ctl(
        "desc cli_mt (C client, threaded) session, part 1: C handshake, create/create2 (+e +s +es +c +t=ttl), "
        "get/ls/ls2/exists/wexists with watches and their events, set, delete, sync, config (getData "
        "/zookeeper/config), reconfig error, addauth digest, async variants, error replies, ping; cut by the "
        "proxy with watches outstanding (continues in c-02)"
    )
    logf = open(os.path.join(workdir, "c-client.log"), "wb")
    p = subprocess.Popen(
        [cli, "-h", "127.0.0.1:%d" % proxy_port],
        stdin=subprocess.PIPE,
        stdout=logf,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    procs.append(("cli_mt", p))

    def send(line, wait=0.3):
        if p.poll() is not None:
            raise CaptureError("cli_mt exited early (%s); log:\n%s" % (p.returncode, tail("c-client")))
        p.stdin.write((line + "\n").encode())
        p.stdin.flush()
        time.sleep(wait)

    time.sleep(1.0)  # connect
    for line in [
        "create /c",
        "create +e /c/e",
        "create +s /c/s-",
        "create +es /c/es-",
        "create +c /c/cont",
        "create +t=600000 /c/ttl",
        "create2 /c/c2",
        "create2 +e /c/e2",
        "create /c/cont/kid",
        "get /c",  # data watch on /c
        "set /c hello",  # -> NodeDataChanged /c
        "ls /c",  # child watch on /c
        "ls2 /c",
        "exists /c/new",  # NONODE + exist watch
        "wexists /c/c2",
        "create /c/new",  # -> NodeCreated /c/new, NodeChildrenChanged /c
        "get /c/new",
        "delete /c/new",  # -> NodeDeleted /c/new
        "sync /c",
        "get /c/nope",  # NONODE
        "create /c",  # NODEEXISTS
        "delete /c",  # NOTEMPTY
        "create /c/e/kid",  # NOCHILDRENFOREPHEMERALS
        "ls /c/nope",  # NONODE
        "aget /c",  # async variants
        "als /c",
        "aexists /c/c2",
        "config",  # getData /zookeeper/config, watch
        "reconfig -add server.2=127.0.0.1:2889:3889;2182",  # reconfig (16) error in standalone
        "reconfig -members server.1=127.0.0.1:2888:3888;2181 -version 100000000",
        "addauth digest bob:secret",  # auth (100)
        "myid",
    ]:
        send(line)
    send("get /c", 3.0)  # idle > timeout/3 (negotiated 6 s) -> ping
    send("ls /c/cont", 0.5)
    send("exists /c/later", 0.5)

    # Cut the connection with watches outstanding: while held, change watched nodes
    # through a direct (unrecorded) kazoo session, so the SetWatches reply is preceded
    # by catch-up notifications.
    ctl(
        "desc cli_mt session, part 2 (same session, new TCP connection after a proxy drop): C reconnect "
        "ConnectRequest, auth replay (xid -4), SetWatches (101, xid -8) with catch-up notifications (zxid -1), "
        "ping, more ops, closeSession (-11) with the own-ephemeral NodeChildrenChanged before its reply"
    )
    from kazoo.client import KazooClient

    helper = KazooClient(hosts="127.0.0.1:%d" % zk_port, timeout=4.0)
    helper.start(timeout=15)
    try:
        ctl("hold")
        ctl("drop")
        time.sleep(0.3)
        helper.set("/c", b"changed-while-away")
        helper.create("/c/later", b"l")
        helper.create("/c/cont/kid2", b"k")
        ctl("release")
    finally:
        try:
            ctl("release")
        except Exception:
            pass
        helper.stop()
        helper.close()
    time.sleep(2.0)  # C client reconnects
    for line in ["get /c", "set /c again", "delete /c/later", "ls /c"]:
        send(line, 0.4)
    send("quit", 1.0)
    try:
        p.stdin.close()
    except OSError:
        pass
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        raise CaptureError("cli_mt did not exit; log:\n%s" % tail("c-client"))
    log("cli_mt exited %s" % p.returncode)
    ctl.wait_idle()


def check_fixtures(frames_dir):
    sys.path.insert(0, HERE)
    import summarize

    files = sorted(f for f in os.listdir(frames_dir) if f.endswith(".frames"))
    if not files:
        raise CaptureError("no fixtures were recorded")
    total = sum(os.path.getsize(os.path.join(frames_dir, f)) for f in files)
    if total > MAX_FIXTURE_BYTES:
        raise CaptureError("fixtures total %d bytes > %d" % (total, MAX_FIXTURE_BYTES))
    for prefix in ("java-", "kazoo-", "c-"):
        if not any(f.startswith(prefix) for f in files):
            raise CaptureError("no %s* fixture recorded" % prefix)
    for f in files:
        summarize.validate(os.path.join(frames_dir, f))  # raises ValueError on a problem
    log("%d fixtures, %d bytes, all decode" % (len(files), total))
    return files


def main():
    global workdir, keep_workdir, failed
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="fixture directory (default: %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    args = ap.parse_args()
    keep_workdir = args.keep

    for tool in ("java", "javac"):
        if not shutil.which(tool):
            raise SystemExit("capture: %s not found" % tool)
    for j in CLASSPATH.split(":"):
        if not os.path.exists(j):
            raise SystemExit("capture: missing %s (Debian packages zookeeper / libslf4j-java)" % j)
    try:
        import kazoo  # noqa: F401
    except ImportError:
        raise SystemExit("capture: python module kazoo not installed")

    workdir = tempfile.mkdtemp(prefix="zoolog-capture-")
    atexit.register(cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    log("work directory %s" % workdir)

    try:
        zk_port, version = start_zookeeper()
        proxy, proxy_port, ctl, frames_dir = start_proxy(zk_port, version)
        log("4lw through the proxy: ruok -> %r" % four_letter(proxy_port, b"ruok"))
        run_java(proxy_port, zk_port, ctl)
        run_kazoo(proxy_port, ctl)
        run_c(proxy_port, zk_port, ctl)
        ctl("quit")
        proxy.wait(timeout=15)
        files = check_fixtures(frames_dir)
    except CaptureError as e:
        log("FAILED: %s" % e)
        return 1

    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".frames"):
            os.remove(os.path.join(args.out, f))
    for f in files:
        shutil.copy(os.path.join(frames_dir, f), os.path.join(args.out, f))
    log("wrote %d fixtures to %s" % (len(files), args.out))
    import summarize

    print(summarize.report([os.path.join(args.out, f) for f in files]))
    failed = False
    return 0


if __name__ == "__main__":
    sys.exit(main())
