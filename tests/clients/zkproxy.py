"""A small TCP proxy for the client suites (imported by kazoo_suite.py and c_suite.py).

It sits between a client and the server so a suite can cut the client's connection without the
client noticing beforehand (no closeSession is sent):

    proxy = Proxy(("127.0.0.1", 2181)); proxy.start()
    client connects to proxy.address
    proxy.drop()      # close every proxied connection now; the client reconnects at once
    proxy.block()     # drop, and close every new connection right after accepting it
    proxy.unblock()   # proxy normally again
    proxy.close()

Used to test session resumption on a new connection, SetWatches after a reconnect (changes made
while the client is cut off produce catch-up events), and session expiry (block for longer than
the session timeout).
"""

import socket
import threading


class Proxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.conns = []  # (client socket, server socket)
        self.blocked = False
        self.closed = False
        self.accepted = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.address = self.listener.getsockname()
        self.thread = threading.Thread(target=self._accept_loop, name="zkproxy-accept", daemon=True)

    @property
    def hosts(self):
        return "%s:%d" % self.address

    def start(self):
        self.thread.start()
        return self

    def _accept_loop(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.closed:
                    c.close()
                    return
                if self.blocked:
                    _close(c)
                    continue
                try:
                    s = socket.create_connection(self.upstream, timeout=5)
                    s.settimeout(None)
                except OSError:
                    _close(c)
                    continue
                self.accepted += 1
                pair = (c, s)
                self.conns.append(pair)
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop_pair(pair)

    def _drop_pair(self, pair):
        with self.lock:
            if pair in self.conns:
                self.conns.remove(pair)
        for x in pair:
            _close(x)

    def connections(self):
        with self.lock:
            return len(self.conns)

    def drop(self):
        """Close every proxied connection (both sides)."""
        with self.lock:
            pairs = list(self.conns)
            self.conns.clear()
        for pair in pairs:
            for x in pair:
                _close(x)
        return len(pairs)

    def block(self):
        with self.lock:
            self.blocked = True
        return self.drop()

    def unblock(self):
        with self.lock:
            self.blocked = False

    def close(self):
        with self.lock:
            self.closed = True
        _close(self.listener)
        self.drop()


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
