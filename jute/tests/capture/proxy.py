#!/usr/bin/env python3
"""Recording TCP proxy for the ZooKeeper client protocol (Python stdlib only).

Listens on 127.0.0.1 (port 0 unless --port is given), forwards every accepted
connection byte-for-byte to an upstream ZooKeeper, and records each direction
split into frames (4-byte big-endian length prefix + payload).  Each recorded
connection is written to one fixture file ``<label>-<NN>.frames``:

    # comment lines (client, description, ...)
    C <lowercase hex of payload>    client -> server frame, without the prefix
    S <lowercase hex of payload>    server -> client frame, without the prefix

Lines appear in the order the proxy received the frames (single asyncio
loop, a frame is recorded before it is forwarded, so a reply can never be
recorded before the request that caused it).

A connection whose first 4 client bytes are a four-letter word (``ruok``,
``srvr``, ``mntr``, ... : four ASCII lowercase letters) is plain text: it is
forwarded but not recorded and gets no number.

Control
-------
SIGUSR1 drops all current connections (client and upstream sockets are
closed, so real clients reconnect and resume their session).  A line-based
control port (127.0.0.1, port 0) accepts one command per line and answers
one line starting with ``ok`` or ``err``:

    label NAME     name used for connections classified from now on
    desc TEXT      queue a one-line description for the next recorded connection
    hold           accept new connections but do not forward them yet
    release        forward held (and future) connections
    drop           drop every current connection        -> "ok dropped=N"
    active         number of open connections           -> "ok N"
    files          JSON list of fixture files written so far
    quit           finish open connections' files and exit

The chosen ports are printed on stdout as ``PROXY_PORT=<p> CONTROL_PORT=<c>``
and, with --state-file, written as JSON {"port", "control_port", "pid"}.
"""

import argparse
import asyncio
import json
import os
import signal
import sys

MAX_FRAME = 64 * 1024 * 1024  # sanity bound; anything bigger is not ZooKeeper
HALF_CLOSE_GRACE = 10.0  # seconds to wait for the other direction after EOF


def is_four_letter_word(b):
    return len(b) == 4 and all(0x61 <= c <= 0x7A for c in b)


class Connection:
    def __init__(self, proxy, seq, creader, cwriter):
        self.proxy = proxy
        self.seq = seq  # proxy-wide accept counter, for logs only
        self.creader = creader
        self.cwriter = cwriter
        self.ureader = None
        self.uwriter = None
        self.recording = False
        self.name = None
        self.label = None
        self.description = None
        self.lines = []  # ('C'|'S'|'#', text)
        self.bufs = {"C": bytearray(), "S": bytearray()}
        self.broken = {"C": False, "S": False}
        self.frames = {"C": 0, "S": 0}
        self.dropped = False
        self.end_reason = []
        self.finished = False

    # -- recording -------------------------------------------------------
    def comment(self, text):
        if self.recording:
            self.lines.append(("#", text))

    def feed(self, direction, data):
        """Split data into frames and record complete ones."""
        if not self.recording or self.broken[direction]:
            return
        buf = self.bufs[direction]
        buf += data
        while len(buf) >= 4:
            n = int.from_bytes(buf[:4], "big", signed=True)
            if n < 0 or n > MAX_FRAME:
                self.comment(
                    "%s direction: invalid frame length %d, stopped framing this direction"
                    % (direction, n)
                )
                self.broken[direction] = True
                buf.clear()
                return
            if len(buf) < 4 + n:
                return
            self.lines.append((direction, bytes(buf[4 : 4 + n]).hex()))
            self.frames[direction] += 1
            del buf[: 4 + n]

    def note_partials(self):
        for d in ("C", "S"):
            buf = self.bufs[d]
            if buf and not self.broken[d]:
                if len(buf) >= 4:
                    want = int.from_bytes(buf[:4], "big", signed=True)
                    self.comment(
                        "%s direction: connection ended mid-frame (have %d of %d payload bytes); partial frame dropped"
                        % (d, len(buf) - 4, want)
                    )
                else:
                    self.comment(
                        "%s direction: connection ended inside a length prefix (%d bytes); partial frame dropped"
                        % (d, len(buf))
                    )
                buf.clear()

    def write_file(self):
        if not self.recording or self.finished:
            return
        self.finished = True
        self.note_partials()
        reason = "; ".join(self.end_reason) if self.end_reason else "unknown"
        self.comment("end of connection: %s" % reason)
        path = os.path.join(self.proxy.out_dir, self.name + ".frames")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("# client: %s\n" % self.label)
            f.write("# description: %s\n" % (self.description or "(none given)"))
            f.write("# server: %s\n" % self.proxy.server_version)
            f.write(
                "# recorded by jute/tests/capture/proxy.py; C = client->server, "
                "S = server->client, hex = frame payload without the 4-byte length prefix\n"
            )
            f.write("# frames: %d client, %d server\n" % (self.frames["C"], self.frames["S"]))
            for kind, text in self.lines:
                if kind == "#":
                    f.write("# %s\n" % text)
                else:
                    f.write("%s %s\n" % (kind, text))
        os.replace(tmp, path)
        self.proxy.files.append(self.name + ".frames")
        self.proxy.log("wrote %s (%d C, %d S)" % (path, self.frames["C"], self.frames["S"]))

    # -- plumbing --------------------------------------------------------
    def close_all(self):
        for w in (self.cwriter, self.uwriter):
            if w is not None:
                try:
                    w.transport.abort()
                except Exception:
                    pass

    def drop(self):
        if not self.dropped:
            self.dropped = True
            self.comment("connection dropped by the proxy (control 'drop' / SIGUSR1)")
            self.end_reason.append("dropped by proxy")
            self.close_all()

    async def pump(self, direction, reader, writer, initial=b""):
        other = "S" if direction == "C" else "C"
        try:
            if initial:
                self.feed(direction, initial)
                writer.write(initial)
                await writer.drain()
            while True:
                data = await reader.read(65536)
                if not data:
                    if not self.dropped:
                        self.end_reason.append(
                            "%s closed its side" % ("client" if direction == "C" else "server")
                        )
                    break
                self.feed(direction, data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError) as e:
            if not self.dropped:
                self.end_reason.append(
                    "%s side error: %s" % ("client" if direction == "C" else "server", e.__class__.__name__)
                )
        finally:
            try:
                if writer.can_write_eof() and not writer.transport.is_closing():
                    writer.write_eof()
            except Exception:
                pass
        _ = other

    async def run(self):
        p = self.proxy
        try:
            await p.released.wait()
            # Read until we have the first 4 client bytes (or EOF).
            first = b""
            while len(first) < 4:
                chunk = await asyncio.wait_for(self.creader.read(65536), timeout=60)
                if not chunk:
                    break
                first += chunk
            if not first:
                return
            try:
                self.ureader, self.uwriter = await asyncio.wait_for(
                    asyncio.open_connection(p.up_host, p.up_port), timeout=10
                )
            except Exception as e:
                p.log("conn %d: upstream connect failed: %s" % (self.seq, e))
                return
            if is_four_letter_word(first[:4]):
                p.log("conn %d: four-letter word %r, not recorded" % (self.seq, first[:4]))
            else:
                self.recording = True
                self.label = p.label
                p.counters[self.label] = p.counters.get(self.label, 0) + 1
                self.name = "%s-%02d" % (self.label, p.counters[self.label])
                self.description = p.descs.pop(0) if p.descs else None
                p.log("conn %d: recording as %s (%s)" % (self.seq, self.name, self.description))
            if self.dropped:
                return
            t_c = asyncio.ensure_future(self.pump("C", self.creader, self.uwriter, first))
            t_s = asyncio.ensure_future(self.pump("S", self.ureader, self.cwriter))
            done, pending = await asyncio.wait({t_c, t_s}, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                done2, pending2 = await asyncio.wait(pending, timeout=HALF_CLOSE_GRACE)
                if pending2:
                    self.end_reason.append("half-closed for %.0fs, aborted by proxy" % HALF_CLOSE_GRACE)
                    self.close_all()
                    await asyncio.wait(pending2, timeout=2)
        except asyncio.TimeoutError:
            self.end_reason.append("client sent nothing, closed by proxy")
        except asyncio.CancelledError:
            self.end_reason.append("proxy shutting down")
        except Exception as e:  # never let one connection kill the proxy
            p.log("conn %d: error %r" % (self.seq, e))
            self.end_reason.append("proxy error %r" % e)
        finally:
            self.close_all()
            self.write_file()
            p.active.discard(self)


class Proxy:
    def __init__(self, args):
        self.up_host, port = args.upstream.rsplit(":", 1)
        self.up_port = int(port)
        self.out_dir = args.out_dir
        self.server_version = args.server_version
        self.label = args.label
        self.verbose = args.verbose
        self.counters = {}
        self.descs = []
        self.active = set()
        self.files = []
        self.seq = 0
        self.released = asyncio.Event()
        self.released.set()
        self.stop = asyncio.Event()

    def log(self, msg):
        if self.verbose:
            print("proxy: " + msg, file=sys.stderr, flush=True)

    async def on_client(self, reader, writer):
        self.seq += 1
        conn = Connection(self, self.seq, reader, writer)
        self.active.add(conn)
        await conn.run()

    def drop_all(self):
        conns = list(self.active)
        for c in conns:
            c.drop()
        self.log("dropped %d connection(s)" % len(conns))
        return len(conns)

    async def on_control(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd, _, arg = line.decode("utf-8", "replace").strip().partition(" ")
                if cmd == "label" and arg:
                    self.label = arg.strip()
                    self.descs.clear()
                    resp = "ok"
                elif cmd == "desc" and arg:
                    self.descs.append(" ".join(arg.split()))
                    resp = "ok"
                elif cmd == "hold":
                    self.released.clear()
                    resp = "ok"
                elif cmd == "release":
                    self.released.set()
                    resp = "ok"
                elif cmd == "drop":
                    resp = "ok dropped=%d" % self.drop_all()
                elif cmd == "active":
                    resp = "ok %d" % len(self.active)
                elif cmd == "files":
                    resp = "ok " + json.dumps(self.files)
                elif cmd == "quit":
                    writer.write(b"ok\n")
                    await writer.drain()
                    self.stop.set()
                    break
                else:
                    resp = "err unknown command %r" % cmd
                writer.write((resp + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def main(self, args):
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(self.on_client, "127.0.0.1", args.port)
        control = await asyncio.start_server(self.on_control, "127.0.0.1", args.control_port)
        port = server.sockets[0].getsockname()[1]
        cport = control.sockets[0].getsockname()[1]
        loop.add_signal_handler(signal.SIGUSR1, self.drop_all)
        loop.add_signal_handler(signal.SIGTERM, self.stop.set)
        loop.add_signal_handler(signal.SIGINT, self.stop.set)
        if args.state_file:
            tmp = args.state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"port": port, "control_port": cport, "pid": os.getpid()}, f)
            os.replace(tmp, args.state_file)
        print("PROXY_PORT=%d CONTROL_PORT=%d" % (port, cport), flush=True)
        await self.stop.wait()
        server.close()
        control.close()
        self.released.set()
        # Give open connections a moment to finish by themselves, then cut them.
        for _ in range(20):
            if not self.active:
                break
            await asyncio.sleep(0.1)
        for c in list(self.active):
            c.end_reason.append("proxy shut down while connection was open")
            c.close_all()
        for _ in range(50):
            if not self.active:
                break
            await asyncio.sleep(0.05)
        for c in list(self.active):
            c.write_file()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="host:port of the ZooKeeper server")
    ap.add_argument("--out-dir", required=True, help="directory for <label>-<NN>.frames files")
    ap.add_argument("--port", type=int, default=0, help="listen port (default 0 = pick a free one)")
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--state-file", help="write {port, control_port, pid} JSON here once listening")
    ap.add_argument("--label", default="conn", help="initial connection label")
    ap.add_argument("--server-version", default="unknown ZooKeeper")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    async def run():
        await Proxy(args).main(args)

    asyncio.run(run())


if __name__ == "__main__":
    main()
