#!/usr/bin/env python3
"""Decode and summarise *.frames fixtures (independent Python Jute decoder).

    python3 jute/tests/capture/summarize.py [FILE.frames ...]   (default: jute/tests/fixtures/*.frames)

Every frame is decoded completely against the ZooKeeper 3.8 records
(ConnectRequest/Response, RequestHeader + request record, ReplyHeader +
response record, matched to its request by xid).  A frame that does not
decode, or leaves unexplained trailing bytes, is an error (exit 1).

The report lists per fixture the opcodes sent, reply error codes, watch
events, and every "non-canonical" encoding seen: length -1 (null) strings /
buffers / vectors with the exact field, MultiHeader values, booleans other
than 0/1, handshake variants, bodies sent with a nonzero err.
"""

import collections
import glob
import os
import struct
import sys

OPS = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession", -1: "error",
}
ERRS = {
    0: "OK", -1: "SYSTEMERROR", -2: "RUNTIMEINCONSISTENCY", -3: "DATAINCONSISTENCY",
    -4: "CONNECTIONLOSS", -5: "MARSHALLINGERROR", -6: "UNIMPLEMENTED", -7: "OPERATIONTIMEOUT",
    -8: "BADARGUMENTS", -13: "NEWCONFIGNOQUORUM", -14: "RECONFIGINPROGRESS",
    -15: "UNKNOWNSESSION", -100: "APIERROR", -101: "NONODE", -102: "NOAUTH",
    -103: "BADVERSION", -108: "NOCHILDRENFOREPHEMERALS", -110: "NODEEXISTS", -111: "NOTEMPTY",
    -112: "SESSIONEXPIRED", -113: "INVALIDCALLBACK", -114: "INVALIDACL", -115: "AUTHFAILED",
    -118: "SESSIONMOVED", -119: "NOTREADONLY", -120: "EPHEMERALONLOCALSESSION",
    -121: "NOWATCHER", -122: "REQUESTTIMEOUT", -123: "RECONFIGDISABLED",
    -124: "SESSIONCLOSEDREQUIRESASLAUTH", -125: "QUOTAEXCEEDED", -127: "THROTTLEDOP",
}
EVENTS = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}


def opname(t):
    return OPS.get(t, "?%d" % t)


class Reader:
    def __init__(self, data, where, notes):
        self.b = data
        self.i = 0
        self.where = where  # (file, lineno, dir)
        self.notes = notes

    def need(self, n, what):
        if self.i + n > len(self.b):
            raise ValueError("%s: short read of %s (%d bytes at offset %d of %d)" % (self.loc(), what, n, self.i, len(self.b)))

    def loc(self):
        return "%s:%d %s" % self.where

    def int(self, what="int"):
        self.need(4, what)
        v = struct.unpack_from(">i", self.b, self.i)[0]
        self.i += 4
        return v

    def long(self, what="long"):
        self.need(8, what)
        v = struct.unpack_from(">q", self.b, self.i)[0]
        self.i += 8
        return v

    def bool(self, what):
        self.need(1, what)
        v = self.b[self.i]
        self.i += 1
        if v not in (0, 1):
            self.notes.append(("bool", what, "boolean byte 0x%02x" % v, self.where))
        return v != 0

    def _len(self, what, kind):
        n = self.int(what + ".len")
        if n == -1:
            self.notes.append(("null", what, kind, self.where))
            return None
        if n < 0:
            raise ValueError("%s: %s %s has negative length %d" % (self.loc(), kind, what, n))
        return n

    def buffer(self, what):
        n = self._len(what, "buffer")
        if n is None:
            return None
        self.need(n, what)
        v = self.b[self.i : self.i + n]
        self.i += n
        return v

    def ustring(self, what):
        n = self._len(what, "ustring")
        if n is None:
            return None
        self.need(n, what)
        v = self.b[self.i : self.i + n]
        self.i += n
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            self.notes.append(("utf8", what, "invalid UTF-8 %r" % v, self.where))
            return v.decode("utf-8", "replace")

    def vector(self, what, elem):
        n = self._len(what, "vector")
        if n is None:
            return None
        return [elem(self, "%s[]" % what) for _ in range(n)]

    def left(self):
        return len(self.b) - self.i


# ---- records -----------------------------------------------------------------

def r_id(r, w):
    return (r.ustring(w + ".Id.scheme"), r.ustring(w + ".Id.id"))


def r_acl(r, w):
    return (r.int(w + ".perms"), r_id(r, w))


def r_acls(r, w):
    return r.vector(w, lambda r, w2: r_acl(r, w2.replace("[]", "[].ACL")))


def r_stat(r, w):
    f = {}
    for name, kind in (("czxid", "l"), ("mzxid", "l"), ("ctime", "l"), ("mtime", "l"), ("version", "i"),
                       ("cversion", "i"), ("aversion", "i"), ("ephemeralOwner", "l"), ("dataLength", "i"),
                       ("numChildren", "i"), ("pzxid", "l")):
        f[name] = r.long() if kind == "l" else r.int()
    return f


def r_strings(r, w):
    return r.vector(w, lambda r, w2: r.ustring(w2))


def req_body(r, op, name):
    """Decode a request record for opcode op; name = record path prefix."""
    if op in (1, 15, 19):
        path = r.ustring(name + "CreateRequest.path")
        r.buffer(name + "CreateRequest.data")
        r_acls(r, name + "CreateRequest.acl")
        flags = r.int()
        return "%s flags=%d" % (path, flags)
    if op == 21:
        path = r.ustring(name + "CreateTTLRequest.path")
        r.buffer(name + "CreateTTLRequest.data")
        r_acls(r, name + "CreateTTLRequest.acl")
        flags = r.int()
        ttl = r.long()
        return "%s flags=%d ttl=%d" % (path, flags, ttl)
    if op == 2:
        return "%s v=%d" % (r.ustring(name + "DeleteRequest.path"), r.int())
    if op in (3, 4, 8, 12):
        rec = {3: "ExistsRequest", 4: "GetDataRequest", 8: "GetChildrenRequest", 12: "GetChildren2Request"}[op]
        p = r.ustring(name + rec + ".path")
        return "%s watch=%s" % (p, r.bool(name + rec + ".watch"))
    if op == 5:
        p = r.ustring(name + "SetDataRequest.path")
        r.buffer(name + "SetDataRequest.data")
        return "%s v=%d" % (p, r.int())
    if op in (6, 9, 104):
        rec = {6: "GetACLRequest", 9: "SyncRequest", 104: "GetAllChildrenNumberRequest"}[op]
        return r.ustring(name + rec + ".path")
    if op == 103:
        return r.ustring(name + "GetEphemeralsRequest.prefixPath")
    if op == 7:
        p = r.ustring(name + "SetACLRequest.path")
        r_acls(r, name + "SetACLRequest.acl")
        return "%s v=%d" % (p, r.int())
    if op == 13:
        return "%s v=%d" % (r.ustring(name + "CheckVersionRequest.path"), r.int())
    if op == 16:
        j = r.ustring(name + "ReconfigRequest.joiningServers")
        l = r.ustring(name + "ReconfigRequest.leavingServers")
        m = r.ustring(name + "ReconfigRequest.newMembers")
        return "joining=%r leaving=%r members=%r cfg=%d" % (j, l, m, r.long())
    if op in (17, 18):
        rec = "CheckWatchesRequest" if op == 17 else "RemoveWatchesRequest"
        return "%s type=%d" % (r.ustring(name + rec + ".path"), r.int())
    if op == 100:
        t = r.int()
        s = r.ustring(name + "AuthPacket.scheme")
        r.buffer(name + "AuthPacket.auth")
        return "type=%d scheme=%s" % (t, s)
    if op in (101, 105):
        rec = "SetWatches" if op == 101 else "SetWatches2"
        rz = r.long()
        lists = ["dataWatches", "existWatches", "childWatches"]
        if op == 105:
            lists += ["persistentWatches", "persistentRecursiveWatches"]
        out = []
        for l in lists:
            v = r_strings(r, name + rec + "." + l)
            out.append("%s=%s" % (l, v))
        return "relZxid=%d %s" % (rz, " ".join(out))
    if op == 106:
        return "%s mode=%d" % (r.ustring(name + "AddWatchRequest.path"), r.int())
    if op in (11, 107, -11):
        return ""
    if op in (14, 22):
        subs = []
        while True:
            t = r.int()
            done = r.bool(name + "MultiHeader.done")
            err = r.int()
            r.notes.append(("multihdr-req", "%s(%d)" % (opname(op), op), (t, int(done), err), r.where))
            if done:
                break
            subs.append(opname(t))
            req_body(r, t, name + "multi.op.")
        return "ops=[%s]" % ",".join(subs)
    raise ValueError("%s: no decoder for request opcode %d" % (r.loc(), op))


def resp_body(r, op, name, info):
    if op in (1, 9):
        rec = "CreateResponse" if op == 1 else "SyncResponse"
        return r.ustring(name + rec + ".path")
    if op in (15, 19, 21):
        p = r.ustring(name + "Create2Response.path")
        r_stat(r, name)
        return p
    if op in (2, 11, 13, 17, 18, 100, 101, 105, -11):
        return ""
    if op in (3, 5, 7):
        r_stat(r, name)
        return ""
    if op in (4, 16):
        d = r.buffer(name + "GetDataResponse.data")
        r_stat(r, name)
        return "data=%s" % ("null" if d is None else "%d bytes" % len(d))
    if op == 6:
        a = r_acls(r, name + "GetACLResponse.acl")
        r_stat(r, name)
        return "acl=%s" % (a,)
    if op == 8:
        return "children=%d" % len(r_strings(r, name + "GetChildrenResponse.children") or [])
    if op == 12:
        c = r_strings(r, name + "GetChildren2Response.children")
        r_stat(r, name)
        return "children=%d" % len(c or [])
    if op == 103:
        return "ephemerals=%s" % r_strings(r, name + "GetEphemeralsResponse.ephemerals")
    if op == 104:
        return "total=%d" % r.int()
    if op == 106:
        return "ErrorResponse.err=%d" % r.int()
    if op == 107:
        v = r.vector(name + "WhoAmIResponse.clientInfo",
                     lambda r, w: (r.ustring(w + ".ClientInfo.authScheme"), r.ustring(w + ".ClientInfo.user")))
        return "clientInfo=%s" % v
    if op in (14, 22):
        res = []
        while True:
            t = r.int()
            done = r.bool(name + "MultiHeader.done")
            err = r.int()
            r.notes.append(("multihdr-resp", "%s(%d)" % (opname(op), op), (t, int(done), err), r.where))
            if done:
                break
            if t == -1:
                res.append("err%d" % r.int())
            else:
                res.append(opname(t))
                resp_body(r, t, name + "multi.result.", info)
        return "results=[%s]" % ",".join(res)
    raise ValueError("%s: no decoder for response opcode %d" % (r.loc(), op))


# ---- fixture parsing ---------------------------------------------------------

def read_fixture(path):
    frames = []
    header = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                raise ValueError("%s:%d: empty line" % (path, n))
            if line.startswith("#"):
                if ":" in line and not frames:
                    k, _, v = line[1:].partition(":")
                    header.setdefault(k.strip(), v.strip())
                continue
            d, _, hx = line.partition(" ")
            if d not in ("C", "S") or hx != hx.lower():
                raise ValueError("%s:%d: bad line %r" % (path, n, line[:40]))
            frames.append((n, d, bytes.fromhex(hx)))
    return header, frames


class Summary:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.client = self.name.rsplit("-", 1)[0]
        self.ops = collections.Counter()  # top-level client opcodes
        self.multi_ops = collections.Counter()  # ops inside multi/multiRead
        self.errs = collections.Counter()  # reply err codes (top level)
        self.multi_errs = collections.Counter()
        self.events = collections.Counter()
        self.notes = []
        self.handshake = {}
        self.lines = []  # decoded listing
        self.oddities = []


def decode(path):
    """Decode a whole fixture; returns a Summary; raises ValueError on any problem."""
    header, frames = read_fixture(path)
    s = Summary(path)
    if not frames:
        raise ValueError("%s: no frames" % path)
    if frames[0][1] != "C":
        raise ValueError("%s: first frame is not from the client" % path)
    pending = collections.defaultdict(collections.deque)  # xid -> opcodes
    seen_c = seen_s = False
    for lineno, d, b in frames:
        notes = []
        r = Reader(b, (s.name, lineno, d), notes)
        if d == "C" and not seen_c:
            seen_c = True
            pv = r.int(); lz = r.long(); to = r.int(); sid = r.long()
            pw = r.buffer("ConnectRequest.passwd")
            ro = r.bool("ConnectRequest.readOnly") if r.left() == 1 else None
            s.handshake["request"] = "%d bytes: protocolVersion=%d lastZxidSeen=%#x timeOut=%d sessionId=%#x passwd=%s readOnly=%s" % (
                len(b), pv, lz, to, sid, "null" if pw is None else ("%d zero bytes" % len(pw) if not any(pw) else "%d bytes" % len(pw)),
                "absent" if ro is None else int(ro))
            desc = "ConnectRequest " + s.handshake["request"]
        elif d == "S" and not seen_s:
            seen_s = True
            pv = r.int(); to = r.int(); sid = r.long()
            pw = r.buffer("ConnectResponse.passwd")
            ro = r.bool("ConnectResponse.readOnly") if r.left() == 1 else None
            s.handshake["response"] = "%d bytes: timeOut=%d sessionId=%#x passwd=%s readOnly=%s" % (
                len(b), to, sid, "null" if pw is None else ("%d zero bytes" % len(pw) if not any(pw) else "%d bytes" % len(pw)),
                "absent" if ro is None else int(ro))
            desc = "ConnectResponse " + s.handshake["response"]
        elif d == "C":
            xid = r.int(); op = r.int()
            s.ops[op] += 1
            body = req_body(r, op, "")
            if op in (14, 22):
                for n in notes:
                    if n[0] == "multihdr-req" and n[2][1] == 0:
                        s.multi_ops[(op, n[2][0])] += 1
            pending[xid].append(op)
            desc = "req xid=%d %s(%d) %s" % (xid, opname(op), op, body)
        else:
            xid = r.int(); zxid = r.long(); err = r.int()
            if xid == -1:
                et = r.int(); st = r.int(); p = r.ustring("WatcherEvent.path")
                s.events[EVENTS.get(et, str(et))] += 1
                desc = "notification zxid=%d %s state=%d %s" % (zxid, EVENTS.get(et, et), st, p)
                if err != 0:
                    s.oddities.append("%s:%d notification with err=%d" % (s.name, lineno, err))
            else:
                if not pending[xid]:
                    raise ValueError("%s:%d: reply xid %d matches no request" % (s.name, lineno, xid))
                op = pending[xid].popleft()
                s.errs[(op, err)] += 1
                if err == 0:
                    body = resp_body(r, op, "", None)
                else:
                    body = ""
                    if r.left():
                        s.oddities.append("%s:%d reply to %s(%d) with err=%s carries %d body bytes" % (
                            s.name, lineno, opname(op), op, ERRS.get(err, err), r.left()))
                        r.i = len(b)
                if op in (14, 22):
                    for n in notes:
                        if n[0] == "multihdr-resp" and n[2][1] == 0:
                            s.multi_errs[(op, n[2][0], n[2][2])] += 1
                desc = "reply xid=%d zxid=%#x err=%s to %s(%d) %s" % (xid, zxid, ERRS.get(err, err), opname(op), op, body)
        if r.left():
            raise ValueError("%s:%d: %d undecoded trailing bytes (%s)" % (s.name, lineno, r.left(), desc))
        s.notes.extend(notes)
        s.lines.append("%5d %s %s" % (lineno, d, desc))
    if not seen_s:
        s.oddities.append("%s: no server frame at all" % s.name)
    left = {x: list(v) for x, v in pending.items() if v}
    if left:
        s.oddities.append("%s: requests without reply (xid: ops) %s" % (s.name, {x: [opname(o) for o in v] for x, v in left.items()}))
    return s


def validate(path):
    return decode(path)


def report(paths, listing=False):
    out = []
    sums = [decode(p) for p in paths]
    all_ops = collections.Counter()
    for s in sums:
        all_ops.update(s.ops)
        out.append("== %s" % s.name)
        out.append("  handshake: C %s" % s.handshake.get("request"))
        out.append("             S %s" % s.handshake.get("response"))
        out.append("  client opcodes: " + ", ".join("%d %s x%d" % (o, opname(o), c) for o, c in sorted(s.ops.items())))
        if s.multi_ops:
            out.append("  inside multi: " + ", ".join("%s>%d %s x%d" % (opname(m), o, opname(o), c) for (m, o), c in sorted(s.multi_ops.items())))
        errs = collections.Counter()
        for (op, e), c in s.errs.items():
            if e:
                errs["%s:%s" % (opname(op), ERRS.get(e, e))] += c
        if errs:
            out.append("  error replies: " + ", ".join("%s x%d" % kv for kv in sorted(errs.items())))
        if s.multi_errs:
            out.append("  multi results (type,err): " + ", ".join("%s(%d,%d) x%d" % (opname(m), t, e, c) for (m, t, e), c in sorted(s.multi_errs.items())))
        if s.events:
            out.append("  notifications: " + ", ".join("%s x%d" % kv for kv in sorted(s.events.items())))
        for o in s.oddities:
            out.append("  note: " + o)
        if listing:
            out.extend("  " + l for l in s.lines)
    # non-canonical encodings, aggregated
    out.append("")
    out.append("== length -1 (null) fields, by client and field (count; first line)")
    nulls = collections.OrderedDict()
    for s in sums:
        for kind, what, k2, where in s.notes:
            if kind == "null":
                key = (s.client, where[2], what, k2)
                if key not in nulls:
                    nulls[key] = [0, "%s:%d" % (where[0], where[1])]
                nulls[key][0] += 1
    for (client, d, what, k2), (c, first) in nulls.items():
        out.append("  %-6s %s %-55s %-7s x%-3d e.g. %s" % (client, d, what, k2, c, first))
    out.append("")
    out.append("== MultiHeader values (type, done, err) by client")
    mh = collections.Counter()
    for s in sums:
        for kind, what, v, where in s.notes:
            if kind.startswith("multihdr"):
                mh[(s.client, kind, v)] += 1
    for (client, kind, v), c in sorted(mh.items()):
        out.append("  %-6s %-13s type=%d done=%d err=%d x%d" % (client, kind, v[0], v[1], v[2], c))
    odd = [n for s in sums for n in s.notes if n[0] in ("bool", "utf8")]
    if odd:
        out.append("")
        out.append("== other oddities")
        for kind, what, msg, where in odd:
            out.append("  %s:%d %s %s %s" % (where[0], where[1], where[2], what, msg))
    out.append("")
    out.append("== client opcodes across all fixtures: " + ", ".join("%d %s" % (o, opname(o)) for o in sorted(all_ops)))
    missing = [o for o in sorted(OPS) if o not in all_ops and o not in (0, -1, -10)]
    out.append("== not seen in client frames: " + ", ".join("%d %s" % (o, opname(o)) for o in missing))
    return "\n".join(out)


def main(argv):
    listing = "-l" in argv
    paths = [a for a in argv if a != "-l"]
    if not paths:
        here = os.path.dirname(os.path.abspath(__file__))
        paths = sorted(glob.glob(os.path.join(here, "..", "fixtures", "*.frames")))
    try:
        print(report(paths, listing))
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
