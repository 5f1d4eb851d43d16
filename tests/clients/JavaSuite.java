// Java client suite: ZooKeeper 3.8 behaviour as seen through the Apache ZooKeeper 3.8 Java client
// (ZooKeeper / ZooKeeperAdmin), checked exactly.
//
// Usage:
//   javac -cp <jars> -d <dir> JavaSuite.java
//   java -cp <jars>:<dir> JavaSuite --server HOST:PORT [--tick-time MS] [--min-session-timeout MS]
//        [--max-session-timeout MS] [--super USER:PASSWORD] [--container-check-ms MS] [--no-ttl]
//        [--only NAME[,NAME...]] [-v]
//   <jars> = /usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar
//
// Covers the Java API: create in every CreateMode (create 1, create2 15, createContainer 19,
// createTTL 21), delete, exists, getData, setData, getACL, setACL, getChildren, getChildren2, sync,
// multi (success and failure shapes, OpResult kinds) and multiRead, addWatch persistent and
// persistent-recursive, removeWatches/removeAllWatches (checkWatches 17 / removeWatches 18 and the
// client-side *WatchRemoved events), getEphemerals, getAllChildrenNumber, whoAmI, addAuthInfo
// (digest, super, unknown scheme), getConfig/reconfig, close; sessions: negotiated timeouts,
// resume by id+password, wrong password, expiry, automatic SetWatches/SetWatches2 after a reconnect
// (through an in-process TCP proxy that can cut the connection).
//
// Watch events are recorded per Watcher object; a "barrier" is an async call whose callback runs
// on the client's event thread after every event queued before its reply, so event checks are
// exact (these events, in this order, and no others). Each scenario works in its own subtree of
// /java-suite-<random>. Exit status 0 iff every scenario passed; mismatches print expected vs got.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Transaction;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class JavaSuite {
    static final long WAIT_MS = 10000;
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    // ---- arguments
    static String server;
    static int tickTime = 2000;
    static int minTo = -1;
    static int maxTo = -1;
    static String superAuth = null;
    static int containerCheckMs = 0;
    static boolean noTtl = false;
    static boolean verbose = false;
    static Set<String> only = null;

    static int mainTimeout;
    static String root;
    static int checks = 0;
    static final List<AutoCloseable> scenarioResources = new ArrayList<>();

    // =========================================================================================
    // checks

    static class Mismatch extends RuntimeException {
        Mismatch(String s) { super(s); }
    }

    static void log(String s) { System.out.println(s); System.out.flush(); }

    static void eq(String what, Object got, Object want) {
        checks++;
        if (!java.util.Objects.equals(got, want)) {
            throw new Mismatch(what + "\n  expected: " + want + "\n  got:      " + got);
        }
        if (verbose) log("    ok: " + what);
    }

    static void isTrue(String what, boolean cond) {
        checks++;
        if (!cond) throw new Mismatch(what);
    }

    interface Action { Object run() throws Exception; }

    static KeeperException code(String what, Code want, Action a) throws Exception {
        checks++;
        Object r;
        try {
            r = a.run();
        } catch (KeeperException e) {
            if (e.code() != want) {
                throw new Mismatch(what + "\n  expected error " + want + "\n  got error      " + e.code());
            }
            return e;
        }
        throw new Mismatch(what + "\n  expected error " + want + "\n  got success: " + r);
    }

    static Object ok(String what, Action a) throws Exception {
        checks++;
        try {
            return a.run();
        } catch (KeeperException e) {
            throw new Mismatch(what + "\n  expected success\n  got error " + e.code());
        }
    }

    static String statStr(Stat s) {
        return s == null ? "null" : String.format("{version=%d, cversion=%d, aversion=%d, ephemeralOwner=0x%x, dataLength=%d, numChildren=%d}",
                s.getVersion(), s.getCversion(), s.getAversion(), s.getEphemeralOwner(), s.getDataLength(), s.getNumChildren());
    }

    static void stat(String what, Stat s, int version, int cversion, int aversion, long owner, int dataLength, int numChildren) {
        String want = String.format("{version=%d, cversion=%d, aversion=%d, ephemeralOwner=0x%x, dataLength=%d, numChildren=%d}",
                version, cversion, aversion, owner, dataLength, numChildren);
        eq(what + " (stat)", statStr(s), want);
    }

    static void freshStat(String what, Stat s, int dataLength, long owner) {
        stat(what, s, 0, 0, 0, owner, dataLength, 0);
        eq(what + ": mzxid == czxid == pzxid, mtime == ctime",
                Arrays.asList(s.getMzxid(), s.getPzxid(), s.getMtime()), Arrays.asList(s.getCzxid(), s.getCzxid(), s.getCtime()));
    }

    static byte[] d(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static List<String> sorted(List<String> l) { List<String> c = new ArrayList<>(l); Collections.sort(c); return c; }

    static List<String> list(String... s) { return Arrays.asList(s); }

    // =========================================================================================
    // event recording

    /** A Watcher that records every event as "Type path" (state events as "State:X"). */
    static class Rec implements Watcher {
        final String name;
        final CopyOnWriteArrayList<String> events = new CopyOnWriteArrayList<>();
        final CopyOnWriteArrayList<KeeperState> states = new CopyOnWriteArrayList<>();
        Rec(String name) { this.name = name; }

        public void process(WatchedEvent e) {
            if (verbose) log("      event(" + name + "): " + e);
            if (e.getType() == EventType.None) {
                states.add(e.getState());
            } else {
                if (e.getState() != KeeperState.SyncConnected) {
                    events.add("BAD-STATE(" + e.getState() + ") " + e.getType() + " " + e.getPath());
                } else {
                    events.add(e.getType() + " " + e.getPath());
                }
            }
        }

        List<String> take() {
            List<String> out = new ArrayList<>(events);
            events.removeAll(out);
            return out;
        }

        void waitState(KeeperState s, int since, long ms) throws InterruptedException {
            long end = System.currentTimeMillis() + ms;
            while (System.currentTimeMillis() < end) {
                if (states.size() > since && states.subList(since, states.size()).contains(s)) return;
                Thread.sleep(10);
            }
            throw new Mismatch(name + ": no " + s + " state within " + ms + "ms (states " + states + ")");
        }

        void waitEvents(int n, long ms, String what) throws InterruptedException {
            long end = System.currentTimeMillis() + ms;
            while (System.currentTimeMillis() < end && events.size() < n) Thread.sleep(10);
            if (events.size() < n) throw new Mismatch(what + ": expected " + n + " event(s) within " + ms + "ms, got " + events);
        }
    }

    static String ev(EventType t, String path) { return t + " " + path; }

    /** Waits until every event queued before now on zk's connection has been delivered. */
    static void barrier(ZooKeeper zk) throws Exception {
        // sync first: in an ensemble, zk's server may not have applied yet a write another
        // session's server acknowledged; the exists answer comes after the sync's
        seen(zk);
        CountDownLatch l = new CountDownLatch(1);
        zk.exists("/", false, (rc, path, ctx, stat) -> l.countDown(), null);
        if (!l.await(WAIT_MS, TimeUnit.MILLISECONDS)) throw new Mismatch("barrier: no reply within " + WAIT_MS + "ms");
    }

    /**
     * sync: what other sessions wrote before now is visible to zk. Reads of another session's
     * writes come after one: the client picks a random server of the connection string, and in an
     * ensemble that server may not have applied yet a write another server acknowledged
     * (ZooKeeper promises it only after a sync, or on the same server).
     */
    static void seen(ZooKeeper zk) throws Exception {
        CountDownLatch l = new CountDownLatch(1);
        int[] rc = {0};
        zk.sync("/", (code, path, ctx) -> { rc[0] = code; l.countDown(); }, null);
        if (!l.await(WAIT_MS, TimeUnit.MILLISECONDS)) throw new Mismatch("sync: no reply within " + WAIT_MS + "ms");
        if (rc[0] != 0) throw KeeperException.create(Code.get(rc[0]), "/");
    }

    static void events(ZooKeeper zk, Rec r, String what, String... want) throws Exception {
        barrier(zk);
        eq(what + " [events of " + r.name + ", in order]", r.take(), Arrays.asList(want));
    }

    static void eventsAnyOrder(ZooKeeper zk, Rec r, String what, String... want) throws Exception {
        barrier(zk);
        List<String> got = r.take();
        Collections.sort(got);
        List<String> w = new ArrayList<>(Arrays.asList(want));
        Collections.sort(w);
        eq(what + " [events of " + r.name + ", any order]", got, w);
    }

    static ZooKeeperAdmin connect(String hosts, int timeout, Rec w) throws Exception {
        ZooKeeperAdmin zk = new ZooKeeperAdmin(hosts, timeout, w);
        scenarioResources.add(zk::close);
        w.waitState(KeeperState.SyncConnected, 0, WAIT_MS);
        return zk;
    }

    // =========================================================================================
    // a TCP proxy that can cut connections

    static class Proxy implements AutoCloseable {
        final ServerSocket listener;
        final InetSocketAddress upstream;
        final List<Socket[]> conns = new ArrayList<>();
        volatile boolean blocked = false;
        volatile boolean closed = false;

        Proxy(InetSocketAddress upstream) throws IOException {
            this.upstream = upstream;
            listener = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
            Thread t = new Thread(this::acceptLoop, "proxy-accept");
            t.setDaemon(true);
            t.start();
        }

        String hosts() { return "127.0.0.1:" + listener.getLocalPort(); }

        void acceptLoop() {
            while (!closed) {
                Socket c;
                try { c = listener.accept(); } catch (IOException e) { return; }
                if (blocked || closed) { quiet(c); continue; }
                Socket s;
                try { s = new Socket(upstream.getAddress(), upstream.getPort()); } catch (IOException e) { quiet(c); continue; }
                Socket[] pair = {c, s};
                synchronized (conns) { conns.add(pair); }
                pump(c, s, pair);
                pump(s, c, pair);
            }
        }

        void pump(Socket from, Socket to, Socket[] pair) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                try {
                    InputStream in = from.getInputStream();
                    OutputStream out = to.getOutputStream();
                    int n;
                    while ((n = in.read(buf)) > 0) { out.write(buf, 0, n); out.flush(); }
                } catch (IOException e) {
                    // connection cut
                } finally {
                    quiet(pair[0]);
                    quiet(pair[1]);
                    synchronized (conns) { conns.remove(pair); }
                }
            }, "proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        int drop() {
            List<Socket[]> all;
            synchronized (conns) { all = new ArrayList<>(conns); conns.clear(); }
            for (Socket[] p : all) { quiet(p[0]); quiet(p[1]); }
            return all.size();
        }

        void block() { blocked = true; drop(); }

        void unblock() { blocked = false; }

        public void close() { closed = true; quiet(listener); drop(); }

        static void quiet(java.io.Closeable c) { try { c.close(); } catch (IOException e) { /* ignore */ } }
    }

    /** The first server of the connection string (the only one, for a single server). */
    static String firstServer() { return server.split(",")[0]; }

    static Proxy proxy() throws IOException {
        String[] hp = firstServer().split(":");
        Proxy p = new Proxy(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])));
        scenarioResources.add(p);
        return p;
    }

    // =========================================================================================
    // scenarios

    static ZooKeeperAdmin a;   // main session
    static ZooKeeperAdmin b;   // observer / second session
    static Rec aw;
    static Rec bw;

    static String node(String name) throws Exception {
        String p = root + "/" + name;
        a.create(p, new byte[0], OPEN, CreateMode.PERSISTENT);
        return p;
    }

    static void sessionBasics() throws Exception {
        isTrue("session id is nonzero", a.getSessionId() != 0);
        eq("password length", a.getSessionPasswd().length, 16);
        eq("negotiated timeout of the main session", a.getSessionTimeout(), mainTimeout);
        Rec lw = new Rec("lo");
        ZooKeeper lo = connect(server, minTo - 1, lw);
        eq("requested minSessionTimeout - 1 -> min", lo.getSessionTimeout(), minTo);
        Rec hw = new Rec("hi");
        ZooKeeper hi = connect(server, 10_000_000, hw);
        eq("requested 10^7 -> max", hi.getSessionTimeout(), maxTo);
        eq("distinct session ids", new TreeSet<>(Arrays.asList(a.getSessionId(), b.getSessionId(), lo.getSessionId(), hi.getSessionId())).size(), 4);
        List<ClientInfo> who = a.whoAmI();
        eq("whoAmI", infos(who), list("ip:127.0.0.1"));
        eq("state", a.getState(), ZooKeeper.States.CONNECTED);
        lo.close();
        eq("state after close", lo.getState(), ZooKeeper.States.CLOSED);
        code("request after close", Code.SESSIONEXPIRED, () -> lo.exists("/", false));
    }

    static List<String> infos(List<ClientInfo> l) {
        List<String> out = new ArrayList<>();
        for (ClientInfo c : l) out.add(c.getAuthScheme() + ":" + c.getUser());
        Collections.sort(out);
        return out;
    }

    static void createModes() throws Exception {
        String r = node("create");
        long sid = a.getSessionId();
        Stat st = new Stat();
        eq("create PERSISTENT", a.create(r + "/p", d("abc"), OPEN, CreateMode.PERSISTENT), r + "/p");
        eq("getData", new String(a.getData(r + "/p", false, st), StandardCharsets.UTF_8), "abc");
        freshStat("PERSISTENT", st, 3, 0);
        Stat s2 = new Stat();
        eq("create2 PERSISTENT", a.create(r + "/p2", d("hello"), OPEN, CreateMode.PERSISTENT, s2), r + "/p2");
        freshStat("create2 PERSISTENT", s2, 5, 0);
        eq("create2 Stat == exists Stat", s2, a.exists(r + "/p2", false));
        Stat se = new Stat();
        a.create(r + "/e", d("e"), OPEN, CreateMode.EPHEMERAL, se);
        freshStat("EPHEMERAL", se, 1, sid);
        eq("EPHEMERAL_SEQUENTIAL", a.create(r + "/es-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL), r + "/es-0000000003");
        eq("PERSISTENT_SEQUENTIAL (create2)", a.create(r + "/ps-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL, new Stat()), r + "/ps-0000000004");
        Stat sc = new Stat();
        eq("CONTAINER (createContainer)", a.create(r + "/c", d("cc"), OPEN, CreateMode.CONTAINER, sc), r + "/c");
        freshStat("CONTAINER", sc, 2, 0);
        eq("CONTAINER without Stat", a.create(r + "/c2", null, OPEN, CreateMode.CONTAINER), r + "/c2");
        int n = 7;
        if (!noTtl) {
            Stat stt = new Stat();
            eq("PERSISTENT_WITH_TTL", a.create(r + "/ttl", d("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, stt, 600000), r + "/ttl");
            freshStat("PERSISTENT_WITH_TTL", stt, 1, 0);
            eq("PERSISTENT_SEQUENTIAL_WITH_TTL", a.create(r + "/ttls-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 600000), r + "/ttls-0000000008");
            n = 9;
        }
        a.create(r + "/null", null, OPEN, CreateMode.PERSISTENT);
        eq("null data reads back as null", a.getData(r + "/null", false, st), null);
        eq("null data: dataLength", st.getDataLength(), 0);
        a.create(r + "/empty", new byte[0], OPEN, CreateMode.PERSISTENT);
        eq("empty data reads back as empty", a.getData(r + "/empty", false, st).length, 0);
        Stat last = new Stat();
        a.create(r + "/last", null, OPEN, CreateMode.PERSISTENT, last);
        n += 3;
        Stat ps = a.exists(r, false);
        stat("parent after creates", ps, 0, n, 0, 0, 0, n);
        eq("parent pzxid == czxid of the last child", ps.getPzxid(), last.getCzxid());
        eq("getEphemerals (sorted)", sorted(a.getEphemerals(r)), list(r + "/e", r + "/es-0000000003"));
    }

    static void errors() throws Exception {
        String r = node("errors");
        a.create(r + "/p", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/p/kid", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/eph", null, OPEN, CreateMode.EPHEMERAL);
        code("create existing", Code.NODEEXISTS, () -> a.create(r + "/p", null, OPEN, CreateMode.PERSISTENT));
        code("create2 existing", Code.NODEEXISTS, () -> a.create(r + "/p", null, OPEN, CreateMode.PERSISTENT, new Stat()));
        code("container existing", Code.NODEEXISTS, () -> a.create(r + "/p", null, OPEN, CreateMode.CONTAINER, new Stat()));
        code("create under a missing parent", Code.NONODE, () -> a.create(r + "/x/y", null, OPEN, CreateMode.PERSISTENT));
        code("create under an ephemeral", Code.NOCHILDRENFOREPHEMERALS, () -> a.create(r + "/eph/y", null, OPEN, CreateMode.PERSISTENT));
        code("create2 under an ephemeral", Code.NOCHILDRENFOREPHEMERALS, () -> a.create(r + "/eph/y", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL, new Stat()));
        if (!noTtl) {
            code("TTL under a missing parent", Code.NONODE, () -> a.create(r + "/x/y", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 1000));
            code("TTL existing", Code.NODEEXISTS, () -> a.create(r + "/p", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 1000));
        }
        code("delete NOTEMPTY", Code.NOTEMPTY, () -> { a.delete(r + "/p", -1); return null; });
        code("delete BADVERSION", Code.BADVERSION, () -> { a.delete(r + "/p/kid", 3); return null; });
        code("delete NONODE", Code.NONODE, () -> { a.delete(r + "/nope", -1); return null; });
        code("delete /", Code.BADARGUMENTS, () -> { a.delete("/", -1); return null; });
        code("delete /zookeeper", Code.BADARGUMENTS, () -> { a.delete("/zookeeper", -1); return null; });
        code("setData BADVERSION", Code.BADVERSION, () -> a.setData(r + "/p", null, 7));
        code("setData NONODE", Code.NONODE, () -> a.setData(r + "/nope", null, -1));
        code("getData NONODE", Code.NONODE, () -> a.getData(r + "/nope", false, null));
        code("getChildren NONODE", Code.NONODE, () -> a.getChildren(r + "/nope", false));
        code("getChildren2 NONODE", Code.NONODE, () -> a.getChildren(r + "/nope", false, new Stat()));
        code("getACL NONODE", Code.NONODE, () -> a.getACL(r + "/nope", new Stat()));
        code("setACL NONODE", Code.NONODE, () -> a.setACL(r + "/nope", OPEN, -1));
        code("setACL BADVERSION", Code.BADVERSION, () -> a.setACL(r + "/p", OPEN, 4));
        code("getAllChildrenNumber NONODE", Code.NONODE, () -> a.getAllChildrenNumber(r + "/nope"));
        eq("exists of a missing node", a.exists(r + "/nope", false), null);
        List<ACL> badDigest = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", "nocolon")));
        code("INVALIDACL digest without colon", Code.INVALIDACL, () -> a.create(r + "/bad", null, badDigest, CreateMode.PERSISTENT));
        code("INVALIDACL empty", Code.INVALIDACL, () -> a.create(r + "/bad", null, new ArrayList<>(), CreateMode.PERSISTENT));
        code("INVALIDACL CREATOR_ALL_ACL without auth", Code.INVALIDACL, () -> a.create(r + "/bad", null, ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
        code("INVALIDACL on setACL", Code.INVALIDACL, () -> a.setACL(r + "/p", badDigest, -1));
        code("reconfig on a standalone server", Code.RECONFIGDISABLED, () -> a.reconfigure("server.9=127.0.0.1:2888:3888;2181", null, null, -1, new Stat()));
        eq("nothing was created", sorted(a.getChildren(r, false)), list("eph", "p"));
    }

    static void dataAndChildren() throws Exception {
        String r = node("data");
        Stat s0 = new Stat();
        a.create(r + "/n", d("v0"), OPEN, CreateMode.PERSISTENT, s0);
        Stat s1 = a.setData(r + "/n", d("v11"), 0);
        stat("setData", s1, 1, 0, 0, 0, 3, 0);
        isTrue("mzxid advanced", s1.getMzxid() > s0.getMzxid());
        eq("czxid kept", s1.getCzxid(), s0.getCzxid());
        eq("setData Stat == exists Stat", s1, a.exists(r + "/n", false));
        Stat s2 = a.setData(r + "/n", null, -1);
        stat("setData null", s2, 2, 0, 0, 0, 0, 0);
        seen(b);
        eq("null reads back", b.getData(r + "/n", false, null), null);
        a.create(r + "/n/1", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/n/2", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/n/2/x", null, OPEN, CreateMode.PERSISTENT);
        seen(b);
        eq("getChildren", sorted(b.getChildren(r + "/n", false)), list("1", "2"));
        Stat cs = new Stat();
        eq("getChildren2", sorted(b.getChildren(r + "/n", false, cs)), list("1", "2"));
        eq("getChildren2 Stat == exists Stat", cs, b.exists(r + "/n", false));
        stat("parent", cs, 2, 2, 0, 0, 0, 2);
        eq("getAllChildrenNumber", b.getAllChildrenNumber(r + "/n"), 3);
        eq("getAllChildrenNumber leaf", b.getAllChildrenNumber(r + "/n/1"), 0);
        a.delete(r + "/n/2/x", -1);
        a.delete(r + "/n/2", 0);
        seen(b);
        Stat after = b.exists(r + "/n", false);
        stat("parent after delete", after, 2, 3, 0, 0, 0, 1);
        isTrue("pzxid advanced by the delete", after.getPzxid() > cs.getPzxid());
        // sync (async only in the Java API)
        CountDownLatch l = new CountDownLatch(1);
        AtomicReference<String> res = new AtomicReference<>();
        b.sync(r + "/n", (rc, path, ctx) -> { res.set(Code.get(rc) + " " + path); l.countDown(); }, null);
        isTrue("sync answered", l.await(WAIT_MS, TimeUnit.MILLISECONDS));
        eq("sync result", res.get(), "OK " + r + "/n");
        // config
        Stat cfg = new Stat();
        b.getConfig(false, cfg);
        eq("/zookeeper/config aversion", cfg.getAversion(), -1);
        eq("/zookeeper/config ACL", b.getACL("/zookeeper/config", new Stat()), ZooDefs.Ids.READ_ACL_UNSAFE);
    }

    static void sequentialAfterDeletes() throws Exception {
        String r = node("seq");
        for (int i = 0; i < 3; i++) a.create(r + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        a.delete(r + "/s-0000000001", -1);
        eq("the suffix counts creations, not deletes", a.create(r + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL), r + "/s-0000000003");
        stat("parent: cversion = creates + deletes", a.exists(r, false), 0, 5, 0, 0, 0, 3);
        eq("children", sorted(a.getChildren(r, false)), list("s-0000000000", "s-0000000002", "s-0000000003"));
    }

    static void acls() throws Exception {
        String r = node("acl");
        String bobDigest = DigestAuthenticationProvider.generateDigest("bob:secret");
        eq("digest id", bobDigest, "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
        List<ACL> bobAll = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", bobDigest)));
        List<ACL> bobAllWorldRead = Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", bobDigest)), new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        a.create(r + "/s", d("secret"), bobAll, CreateMode.PERSISTENT);
        Rec cw = new Rec("bob");
        ZooKeeperAdmin c = connect(server, mainTimeout, cw);
        seen(c);
        code("getData NOAUTH", Code.NOAUTH, () -> c.getData(r + "/s", false, null));
        code("setData NOAUTH", Code.NOAUTH, () -> c.setData(r + "/s", null, -1));
        code("create child NOAUTH", Code.NOAUTH, () -> c.create(r + "/s/k", null, OPEN, CreateMode.PERSISTENT));
        code("getACL NOAUTH", Code.NOAUTH, () -> c.getACL(r + "/s", new Stat()));
        code("setACL NOAUTH", Code.NOAUTH, () -> c.setACL(r + "/s", OPEN, -1));
        isTrue("exists needs no READ", c.exists(r + "/s", false) != null);
        c.addAuthInfo("digest", d("bob:secret"));
        eq("whoAmI after digest auth", infos(c.whoAmI()), list("digest:bob", "ip:127.0.0.1"));
        eq("getData with auth", new String(c.getData(r + "/s", false, null), StandardCharsets.UTF_8), "secret");
        eq("getACL with ADMIN", c.getACL(r + "/s", new Stat()), bobAll);
        Stat st = c.setACL(r + "/s", bobAllWorldRead, 0);
        eq("setACL aversion", st.getAversion(), 1);
        seen(b);
        eq("getACL without ADMIN masks digests", b.getACL(r + "/s", new Stat()),
                Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", "bob:x")), new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE)));
        eq("CREATOR_ALL_ACL with auth", c.create(r + "/mine", null, ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT), r + "/mine");
        eq("CREATOR_ALL_ACL became the digest", c.getACL(r + "/mine", new Stat()), bobAll);
        code("READ_ACL_UNSAFE node: setData NOAUTH", Code.NOAUTH, () -> {
            c.create(r + "/ro", null, ZooDefs.Ids.READ_ACL_UNSAFE, CreateMode.PERSISTENT);
            return c.setData(r + "/ro", null, -1);
        });
        // ip scheme
        a.create(r + "/ip", null, Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1"))), CreateMode.PERSISTENT);
        a.create(r + "/ip10", null, Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "10.0.0.0/8"))), CreateMode.PERSISTENT);
        seen(b);
        eq("ip:127.0.0.1 matches", b.getData(r + "/ip", false, null), null);
        code("ip:10.0.0.0/8 does not match", Code.NOAUTH, () -> b.getData(r + "/ip10", false, null));
        // super
        if (superAuth != null) {
            Rec sw = new Rec("super");
            ZooKeeperAdmin su = connect(server, mainTimeout, sw);
            su.addAuthInfo("digest", d(superAuth));
            String user = superAuth.split(":", 2)[0];
            eq("whoAmI as super", infos(su.whoAmI()), list("digest:" + user, "ip:127.0.0.1", "super:"));
            seen(su);
            eq("super reads anything", new String(su.getData(r + "/mine", false, null) == null ? new byte[0] : su.getData(r + "/mine", false, null), StandardCharsets.UTF_8), "");
            eq("super getACL is not masked", su.getACL(r + "/s", new Stat()), bobAllWorldRead);
            su.setACL(r + "/ip10", OPEN, -1);
            seen(b);
            eq("after super's setACL", b.getData(r + "/ip10", false, null), null);
        }
        // an unknown auth scheme: AUTHFAILED, the client goes to AuthFailed
        Rec fw = new Rec("authfail");
        ZooKeeperAdmin f = connect(server, mainTimeout, fw);
        int n = fw.states.size();
        f.addAuthInfo("nosuchscheme", d("x"));
        fw.waitState(KeeperState.AuthFailed, n, WAIT_MS);
        // cleanup needs bob
        a.addAuthInfo("digest", d("bob:secret"));
    }

    static void watchesOneShot() throws Exception {
        String r = node("w1");
        Rec w = new Rec("w");
        eq("exists-watch on a missing node", b.exists(r + "/n", w), null);
        a.create(r + "/n", null, OPEN, CreateMode.PERSISTENT);
        a.setData(r + "/n", d("1"), -1);
        events(b, w, "create after exists-watch", ev(EventType.NodeCreated, r + "/n"));
        b.getData(r + "/n", w, null);
        a.setData(r + "/n", d("2"), -1);
        a.setData(r + "/n", d("3"), -1);
        events(b, w, "data watch, two setData", ev(EventType.NodeDataChanged, r + "/n"));
        b.getChildren(r + "/n", w);
        a.create(r + "/n/k", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/n/k2", null, OPEN, CreateMode.PERSISTENT);
        events(b, w, "child watch, two creates", ev(EventType.NodeChildrenChanged, r + "/n"));
        b.getChildren(r + "/n", w, new Stat());
        a.delete(r + "/n/k2", -1);
        events(b, w, "getChildren2 watch, delete", ev(EventType.NodeChildrenChanged, r + "/n"));
        // default watcher (watch=true) and separate Watcher objects on the same path
        Rec data = new Rec("data");
        Rec child = new Rec("child");
        b.getData(r + "/n/k", data, null);
        b.getChildren(r + "/n/k", child);
        b.exists(r + "/n/k", true);
        b.getChildren(r + "/n", true);
        a.delete(r + "/n/k", -1);
        barrier(b);
        eq("NodeDeleted to the data watcher", data.take(), list(ev(EventType.NodeDeleted, r + "/n/k")));
        eq("NodeDeleted to the child watcher", child.take(), list(ev(EventType.NodeDeleted, r + "/n/k")));
        eq("default watcher: node deleted, then the parent's child event", bw.take(),
                list(ev(EventType.NodeDeleted, r + "/n/k"), ev(EventType.NodeChildrenChanged, r + "/n")));
        // setACL and failed writes fire nothing; the watch survives
        b.getData(r + "/n", w, null);
        a.setACL(r + "/n", OPEN, -1);
        code("failing setData", Code.BADVERSION, () -> a.setData(r + "/n", null, 99));
        events(b, w, "setACL and a failed setData");
        a.setData(r + "/n", null, -1);
        events(b, w, "the watch survived", ev(EventType.NodeDataChanged, r + "/n"));
        // getData on a missing node sets no watch; exists does
        code("getData-watch on a missing node", Code.NONODE, () -> b.getData(r + "/gone", w, null));
        b.exists(r + "/gone2", w);
        a.create(r + "/gone", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/gone2", null, OPEN, CreateMode.PERSISTENT);
        events(b, w, "only the exists-watch fired", ev(EventType.NodeCreated, r + "/gone2"));
        // multi fires per op, in order
        b.getChildren(r, w);
        b.exists(r + "/m", w);
        a.multi(Arrays.asList(Op.create(r + "/m", null, OPEN, CreateMode.PERSISTENT), Op.setData(r + "/m", d("x"), 0), Op.delete(r + "/gone", -1)));
        events(b, w, "multi", ev(EventType.NodeCreated, r + "/m"), ev(EventType.NodeChildrenChanged, r));
        // own write: the event comes before the reply
        a.getData(r + "/m", true, null);
        a.setData(r + "/m", null, -1);
        events(a, aw, "own write", ev(EventType.NodeDataChanged, r + "/m"));
    }

    static void persistentWatches() throws Exception {
        String r = node("pw");
        Rec p = new Rec("persistent");
        Rec rec = new Rec("recursive");
        b.addWatch(r + "/p", p, AddWatchMode.PERSISTENT);
        b.addWatch(r + "/t", rec, AddWatchMode.PERSISTENT_RECURSIVE);
        a.create(r + "/p", null, OPEN, CreateMode.PERSISTENT);
        a.setData(r + "/p", d("1"), -1);
        a.create(r + "/p/a", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/p/a/deep", null, OPEN, CreateMode.PERSISTENT);
        a.delete(r + "/p/a/deep", -1);
        a.delete(r + "/p/a", -1);
        a.delete(r + "/p", -1);
        a.create(r + "/t", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/t/x", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/t/x/y", null, OPEN, CreateMode.EPHEMERAL);
        a.setData(r + "/t/x/y", d("1"), -1);
        a.delete(r + "/t/x/y", -1);
        a.setData(r + "/t", d("1"), -1);
        events(b, p, "PERSISTENT",
                ev(EventType.NodeCreated, r + "/p"), ev(EventType.NodeDataChanged, r + "/p"),
                ev(EventType.NodeChildrenChanged, r + "/p"), ev(EventType.NodeChildrenChanged, r + "/p"),
                ev(EventType.NodeDeleted, r + "/p"));
        events(b, rec, "PERSISTENT_RECURSIVE",
                ev(EventType.NodeCreated, r + "/t"), ev(EventType.NodeCreated, r + "/t/x"),
                ev(EventType.NodeCreated, r + "/t/x/y"), ev(EventType.NodeDataChanged, r + "/t/x/y"),
                ev(EventType.NodeDeleted, r + "/t/x/y"), ev(EventType.NodeDataChanged, r + "/t"));
        // removal: the client delivers PersistentWatchRemoved locally
        b.removeWatches(r + "/p", p, Watcher.WatcherType.Any, false);
        a.create(r + "/p", null, OPEN, CreateMode.PERSISTENT);
        events(b, p, "after removeWatches of the persistent watch", ev(EventType.PersistentWatchRemoved, r + "/p"));
        b.removeAllWatches(r + "/t", Watcher.WatcherType.Any, false);
        a.create(r + "/t/z", null, OPEN, CreateMode.PERSISTENT);
        events(b, rec, "after removeAllWatches of the recursive watch", ev(EventType.PersistentWatchRemoved, r + "/t"));
    }

    static void removeWatches() throws Exception {
        String r = node("rw");
        a.create(r + "/n", null, OPEN, CreateMode.PERSISTENT);
        Rec dw = new Rec("data");
        seen(b);
        Rec cw = new Rec("child");
        b.getData(r + "/n", dw, null);
        b.getChildren(r + "/n", cw);
        b.removeWatches(r + "/n", dw, Watcher.WatcherType.Data, false);
        events(b, dw, "removeWatches Data delivers DataWatchRemoved", ev(EventType.DataWatchRemoved, r + "/n"));
        code("removing it again", Code.NOWATCHER, () -> { b.removeWatches(r + "/n", dw, Watcher.WatcherType.Data, false); return null; });
        a.setData(r + "/n", null, -1);
        a.create(r + "/n/k", null, OPEN, CreateMode.PERSISTENT);
        events(b, dw, "no event after removal");
        events(b, cw, "the child watch still fires", ev(EventType.NodeChildrenChanged, r + "/n"));
        b.getChildren(r + "/n", cw);
        b.exists(r + "/n", dw);
        b.removeAllWatches(r + "/n", Watcher.WatcherType.Children, false);
        events(b, cw, "removeAllWatches Children", ev(EventType.ChildWatchRemoved, r + "/n"));
        b.removeAllWatches(r + "/n", Watcher.WatcherType.Any, false);
        events(b, dw, "removeAllWatches Any removes the exists-watch", ev(EventType.DataWatchRemoved, r + "/n"));
        code("removeAllWatches with nothing left", Code.NOWATCHER, () -> { b.removeAllWatches(r + "/n", Watcher.WatcherType.Any, false); return null; });
        a.setData(r + "/n", null, -1);
        a.create(r + "/n/k2", null, OPEN, CreateMode.PERSISTENT);
        barrier(b);
        eq("no events at all", Arrays.asList(dw.take(), cw.take()), Arrays.asList(list(), list()));
        // local removal (no server round trip)
        b.getData(r + "/n", dw, null);
        b.removeWatches(r + "/n", dw, Watcher.WatcherType.Data, true);
        events(b, dw, "local removal", ev(EventType.DataWatchRemoved, r + "/n"));
    }

    static void multi() throws Exception {
        String r = node("multi");
        long sid = a.getSessionId();
        a.create(r + "/base", null, OPEN, CreateMode.PERSISTENT);
        List<Op> ops = new ArrayList<>(Arrays.asList(
                Op.create(r + "/c1", d("a"), OPEN, CreateMode.PERSISTENT),
                Op.create(r + "/e", null, OPEN, CreateMode.EPHEMERAL),
                Op.create(r + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                Op.create(r + "/c", null, OPEN, CreateMode.CONTAINER),
                Op.setData(r + "/c1", d("bb"), 0),
                Op.check(r + "/c1", 1),
                Op.delete(r + "/base", 0)));
        if (!noTtl) ops.add(Op.create(r + "/t", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, 600000));
        List<OpResult> res = a.multi(ops);
        List<String> kinds = new ArrayList<>();
        for (OpResult x : res) kinds.add(x.getClass().getSimpleName());
        List<String> want = new ArrayList<>(list("CreateResult", "CreateResult", "CreateResult", "CreateResult", "SetDataResult", "CheckResult", "DeleteResult"));
        if (!noTtl) want.add("CreateResult");
        eq("multi result kinds", kinds, want);
        eq("sequential name in a multi", ((OpResult.CreateResult) res.get(2)).getPath(), r + "/s-0000000003");
        eq("plain create result has no Stat", ((OpResult.CreateResult) res.get(0)).getStat(), null);
        Stat cst = ((OpResult.CreateResult) res.get(3)).getStat();
        isTrue("container create result has a Stat (create2 result)", cst != null);
        freshStat("container in a multi", cst, 0, 0);
        stat("setData result", ((OpResult.SetDataResult) res.get(4)).getStat(), 1, 0, 0, 0, 2, 0);
        eq("ephemeral owner", a.exists(r + "/e", false).getEphemeralOwner(), sid);
        // failure: exception with the first error's code; results ErrorResult(0 ... code ... -2)
        List<String> before = sorted(a.getChildren(r, false));
        KeeperException e = code("failing multi", Code.BADVERSION, () -> a.multi(Arrays.asList(
                Op.create(r + "/x1", null, OPEN, CreateMode.PERSISTENT),
                Op.check(r + "/c1", 99),
                Op.create(r + "/x2", null, OPEN, CreateMode.PERSISTENT))));
        List<Integer> errs = new ArrayList<>();
        for (OpResult x : e.getResults()) errs.add(x instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) x).getErr() : 999);
        eq("failing multi results", errs, Arrays.asList(0, Code.BADVERSION.intValue(), Code.RUNTIMEINCONSISTENCY.intValue()));
        code("first op fails", Code.NODEEXISTS, () -> a.multi(Arrays.asList(Op.create(r + "/c1", null, OPEN, CreateMode.PERSISTENT), Op.delete(r + "/c1", -1))));
        code("last op fails", Code.NOTEMPTY, () -> a.multi(Arrays.asList(Op.create(r + "/x1", null, OPEN, CreateMode.PERSISTENT), Op.create(r + "/x1/y", null, OPEN, CreateMode.PERSISTENT), Op.delete(r + "/x1", -1))));
        eq("failed multis applied nothing", sorted(a.getChildren(r, false)), before);
        // transaction API
        Transaction tx = a.transaction();
        tx.create(r + "/tx", null, OPEN, CreateMode.PERSISTENT);
        tx.setData(r + "/tx", d("v"), 0);
        eq("transaction", tx.commit().size(), 2);
        // multiRead: per-op results, errors per op, no exception
        a.create(r + "/secret", d("s"), Collections.singletonList(new ACL(ZooDefs.Perms.WRITE, ZooDefs.Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
        seen(b);
        List<OpResult> rr = b.multi(Arrays.asList(Op.getData(r + "/c1"), Op.getChildren(r + "/tx"), Op.getData(r + "/nope"), Op.getChildren(r + "/secret")));
        List<String> shapes = new ArrayList<>();
        for (OpResult x : rr) {
            if (x instanceof OpResult.GetDataResult) shapes.add("data:" + new String(((OpResult.GetDataResult) x).getData(), StandardCharsets.UTF_8) + ":v" + ((OpResult.GetDataResult) x).getStat().getVersion());
            else if (x instanceof OpResult.GetChildrenResult) shapes.add("children:" + ((OpResult.GetChildrenResult) x).getChildren());
            else if (x instanceof OpResult.ErrorResult) shapes.add("error:" + Code.get(((OpResult.ErrorResult) x).getErr()));
            else shapes.add(x.getClass().getSimpleName());
        }
        eq("multiRead results", shapes, list("data:bb:v1", "children:[]", "error:NONODE", "error:NOAUTH"));
    }

    static void ephemeralsAndClose() throws Exception {
        String r = node("close");
        Rec cw = new Rec("C");
        ZooKeeperAdmin c = connect(server, mainTimeout, cw);
        c.create(r + "/e1", null, OPEN, CreateMode.EPHEMERAL);
        c.create(r + "/e2", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        c.create(r + "/sub", null, OPEN, CreateMode.PERSISTENT);
        c.create(r + "/sub/e3", null, OPEN, CreateMode.EPHEMERAL);
        eq("getEphemerals()", sorted(filter(c.getEphemerals(), r)), list(r + "/e1", r + "/e20000000001", r + "/sub/e3"));
        eq("getEphemerals(prefix)", c.getEphemerals(r + "/sub"), list(r + "/sub/e3"));
        eq("getEphemerals of another session", b.getEphemerals(r), list());
        Rec w = new Rec("obs");
        seen(b);
        b.getChildren(r, w);
        b.exists(r + "/e1", w);
        b.getData(r + "/sub/e3", w, null);
        Stat before = b.exists(r, false);
        c.close();
        eventsAnyOrder(b, w, "close deletes the ephemerals",
                ev(EventType.NodeChildrenChanged, r), ev(EventType.NodeDeleted, r + "/e1"), ev(EventType.NodeDeleted, r + "/sub/e3"));
        Stat after = b.exists(r, false);
        stat("parent after close", after, 0, before.getCversion() + 2, 0, 0, 0, 1);
    }

    static List<String> filter(List<String> l, String prefix) {
        List<String> out = new ArrayList<>();
        for (String s : l) if (s.startsWith(prefix + "/")) out.add(s);
        return out;
    }

    static void reconnectAndSetWatches() throws Exception {
        String r = node("reconnect");
        a.create(r + "/d", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/c", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/same", null, OPEN, CreateMode.PERSISTENT);
        Proxy px = proxy();
        Rec cw = new Rec("C");
        ZooKeeperAdmin c = connect(px.hosts(), mainTimeout, cw);
        long sid = c.getSessionId();
        c.addAuthInfo("digest", d("bob:secret"));
        a.create(r + "/bob", d("b"), Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("bob:secret")))), CreateMode.PERSISTENT);
        seen(c);
        c.create(r + "/eph", null, OPEN, CreateMode.EPHEMERAL);
        Rec w = new Rec("watches");
        c.getData(r + "/d", w, null);
        c.exists(r + "/new", w);
        c.getChildren(r + "/c", w);
        c.getData(r + "/same", w, null);
        int n = cw.states.size();
        px.block();
        cw.waitState(KeeperState.Disconnected, n, WAIT_MS);
        a.setData(r + "/d", d("changed while away"), -1);
        a.create(r + "/new", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/c/kid", null, OPEN, CreateMode.PERSISTENT);
        px.unblock();
        cw.waitState(KeeperState.SyncConnected, n, WAIT_MS);
        eq("same session after the reconnect", c.getSessionId(), sid);
        eventsAnyOrder(c, w, "SetWatches catch-up events",
                ev(EventType.NodeDataChanged, r + "/d"), ev(EventType.NodeCreated, r + "/new"), ev(EventType.NodeChildrenChanged, r + "/c"));
        a.setData(r + "/same", d("x"), -1);
        events(c, w, "the unchanged watch was re-registered", ev(EventType.NodeDataChanged, r + "/same"));
        eq("the ephemeral survived", c.exists(r + "/eph", false).getEphemeralOwner(), sid);
        eq("auth was replayed", new String(c.getData(r + "/bob", false, null), StandardCharsets.UTF_8), "b");
        // with persistent watches the client re-registers them with SetWatches2
        Rec pw = new Rec("persistent");
        c.addWatch(r + "/c", pw, AddWatchMode.PERSISTENT);
        c.addWatch(r + "/tree", pw, AddWatchMode.PERSISTENT_RECURSIVE);
        c.getData(r + "/d", w, null);
        n = cw.states.size();
        px.block();
        cw.waitState(KeeperState.Disconnected, n, WAIT_MS);
        a.create(r + "/c/kid2", null, OPEN, CreateMode.PERSISTENT);
        a.setData(r + "/d", d("again"), -1);
        px.unblock();
        cw.waitState(KeeperState.SyncConnected, n, WAIT_MS);
        events(c, w, "standard watch catch-up alongside persistent watches", ev(EventType.NodeDataChanged, r + "/d"));
        events(c, pw, "persistent watches get no catch-up events");
        a.create(r + "/c/kid3", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/tree", null, OPEN, CreateMode.PERSISTENT);
        a.create(r + "/tree/leaf", null, OPEN, CreateMode.PERSISTENT);
        events(c, pw, "persistent watches work after the reconnect",
                ev(EventType.NodeChildrenChanged, r + "/c"), ev(EventType.NodeCreated, r + "/tree"), ev(EventType.NodeCreated, r + "/tree/leaf"));
        c.close();
    }

    static void sessionResumeAndExpiry() throws Exception {
        String r = node("sessions");
        Proxy px = proxy();
        Rec cw = new Rec("C");
        ZooKeeperAdmin c = connect(px.hosts(), mainTimeout, cw);
        long sid = c.getSessionId();
        byte[] pw = c.getSessionPasswd();
        c.create(r + "/e", null, OPEN, CreateMode.EPHEMERAL);
        // resume from a second client object while the first is cut off
        int n = cw.states.size();
        px.block();
        cw.waitState(KeeperState.Disconnected, n, WAIT_MS);
        // D and the wrong-password client below use one server: a server closes the live
        // connection of a session only among its own connections (in an ensemble, another
        // server would not touch D's)
        Rec dw = new Rec("D");
        ZooKeeper dz = new ZooKeeper(firstServer(), mainTimeout, dw, sid, pw);
        scenarioResources.add(dz::close);
        dw.waitState(KeeperState.SyncConnected, 0, WAIT_MS);
        eq("resumed session id", dz.getSessionId(), sid);
        eq("resumed session sees its ephemeral", dz.exists(r + "/e", false).getEphemeralOwner(), sid);
        eq("getEphemerals of the resumed session", dz.getEphemerals(r), list(r + "/e"));
        // wrong password -> Expired; the server first closes the session's live connection (D's),
        // and D reconnects with the right password
        byte[] bad = pw.clone();
        bad[3] ^= 0x5a;
        Rec xw = new Rec("wrongpw");
        n = dw.states.size();
        ZooKeeper xz = new ZooKeeper(firstServer(), mainTimeout, xw, sid, bad);
        scenarioResources.add(xz::close);
        xw.waitState(KeeperState.Expired, 0, WAIT_MS);
        dw.waitState(KeeperState.Disconnected, n, WAIT_MS);
        dw.waitState(KeeperState.SyncConnected, n, WAIT_MS);
        eq("the real session is unaffected", dz.exists(r + "/e", false).getEphemeralOwner(), sid);
        // closing the resumed session; the first client object then finds it gone
        Rec ow = new Rec("obs");
        seen(b);
        b.exists(r + "/e", ow);
        dz.close();
        events(b, ow, "close of the resumed session", ev(EventType.NodeDeleted, r + "/e"));
        n = cw.states.size();
        px.unblock();
        cw.waitState(KeeperState.Expired, n, WAIT_MS);
        code("requests on an expired handle", Code.SESSIONEXPIRED, () -> c.exists("/", false));
        // expiry: E stops talking without closeSession (the client drops its socket)
        int want = Math.max(minTo, Math.min(2 * minTo, maxTo));
        Rec ew = new Rec("E");
        ZooKeeperAdmin e = connect(server, want, ew);
        eq("negotiated", e.getSessionTimeout(), want);
        long esid = e.getSessionId();
        byte[] epw = e.getSessionPasswd();
        e.create(r + "/e2", null, OPEN, CreateMode.EPHEMERAL);
        seen(b);
        b.exists(r + "/e2", ow);
        b.getChildren(r, ow);
        long t0 = System.currentTimeMillis();
        e.getTestable().injectSessionExpiration();
        ow.waitEvents(2, want * 2L + 5000, "expiry of the session");
        long elapsed = System.currentTimeMillis() - t0;
        eventsAnyOrder(b, ow, "expiry deletes the ephemeral", ev(EventType.NodeDeleted, r + "/e2"), ev(EventType.NodeChildrenChanged, r));
        isTrue("not expired too early (" + elapsed + "ms, timeout " + want + "ms)", elapsed >= want / 2);
        Rec yw = new Rec("expired-resume");
        ZooKeeper yz = new ZooKeeper(server, want, yw, esid, epw);
        scenarioResources.add(yz::close);
        yw.waitState(KeeperState.Expired, 0, WAIT_MS);
    }

    static void containersAndTtl() throws Exception {
        if (containerCheckMs <= 0) { log("     (skipped: no --container-check-ms)"); return; }
        String r = node("reap");
        long bound = 4L * containerCheckMs + 3000;
        a.create(r + "/c", null, OPEN, CreateMode.CONTAINER);
        a.create(r + "/c/k", null, OPEN, CreateMode.PERSISTENT);
        Rec w = new Rec("reap");
        seen(b);
        b.exists(r + "/c", w);
        a.delete(r + "/c/k", -1);
        w.waitEvents(1, bound, "container reaped");
        events(b, w, "the emptied container is deleted", ev(EventType.NodeDeleted, r + "/c"));
        if (noTtl) return;
        a.create(r + "/t", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 300);
        seen(b);
        b.exists(r + "/t", w);
        w.waitEvents(1, 300 + bound, "TTL node reaped");
        events(b, w, "the TTL node is deleted", ev(EventType.NodeDeleted, r + "/t"));
    }

    // =========================================================================================

    static final String[] SCENARIOS = {
        "sessionBasics", "createModes", "errors", "dataAndChildren", "sequentialAfterDeletes", "acls",
        "watchesOneShot", "persistentWatches", "removeWatches", "multi", "ephemeralsAndClose",
        "reconnectAndSetWatches", "sessionResumeAndExpiry", "containersAndTtl",
    };

    static void removeTree(ZooKeeper zk, String path) throws Exception {
        try {
            zk.delete(path, -1);
        } catch (KeeperException.NoNodeException e) {
            // gone
        } catch (KeeperException.NotEmptyException e) {
            for (String c : zk.getChildren(path, false)) removeTree(zk, path + "/" + c);
            zk.delete(path, -1);
        }
    }

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--server": server = args[++i]; break;
                case "--tick-time": tickTime = Integer.parseInt(args[++i]); break;
                case "--min-session-timeout": minTo = Integer.parseInt(args[++i]); break;
                case "--max-session-timeout": maxTo = Integer.parseInt(args[++i]); break;
                case "--super": superAuth = args[++i]; break;
                case "--container-check-ms": containerCheckMs = Integer.parseInt(args[++i]); break;
                case "--no-ttl": noTtl = true; break;
                case "--only": only = new TreeSet<>(Arrays.asList(args[++i].split(","))); break;
                case "-v": case "--verbose": verbose = true; break;
                case "--list": for (String s : SCENARIOS) System.out.println(s); System.exit(0); break;
                default: System.err.println("unknown argument " + args[i]); System.exit(2);
            }
        }
        if (server == null) { System.err.println("usage: JavaSuite --server HOST:PORT [...]"); System.exit(2); }
        if (minTo < 0) minTo = 2 * tickTime;
        if (maxTo < 0) maxTo = 20 * tickTime;
        mainTimeout = Math.min(Math.max(4000, minTo), maxTo);
        Thread watchdog = new Thread(() -> {
            try { Thread.sleep(600_000); } catch (InterruptedException e) { return; }
            log("java suite: global timeout (600s)");
            Runtime.getRuntime().halt(3);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        long t0 = System.currentTimeMillis();
        root = String.format("/java-suite-%08x", new Random().nextInt());
        log("java suite against " + server + " (root " + root + ")");
        aw = new Rec("A");
        bw = new Rec("B");
        a = new ZooKeeperAdmin(server, mainTimeout, aw);
        aw.waitState(KeeperState.SyncConnected, 0, WAIT_MS);
        b = new ZooKeeperAdmin(server, mainTimeout, bw);
        bw.waitState(KeeperState.SyncConnected, 0, WAIT_MS);
        a.create(root, d("suite root"), OPEN, CreateMode.PERSISTENT);
        List<String> failures = new ArrayList<>();
        int ran = 0;
        for (String name : SCENARIOS) {
            if (only != null && !only.contains(name)) continue;
            ran++;
            int before = checks;
            long s0 = System.currentTimeMillis();
            aw.take();
            bw.take();
            try {
                Method m = JavaSuite.class.getDeclaredMethod(name);
                m.invoke(null);
                log(String.format("ok   %-40s %4d checks %6.2fs", name, checks - before, (System.currentTimeMillis() - s0) / 1000.0));
            } catch (java.lang.reflect.InvocationTargetException ite) {
                Throwable e = ite.getCause();
                String msg;
                if (e instanceof Mismatch) {
                    msg = e.getMessage();
                } else {
                    java.io.StringWriter sw = new java.io.StringWriter();
                    e.printStackTrace(new java.io.PrintWriter(sw));
                    msg = "unexpected exception: " + sw;
                }
                failures.add("--- " + name + "\n" + indent(msg));
                log(String.format("FAIL %-40s after %d checks %6.2fs\n%s", name, checks - before, (System.currentTimeMillis() - s0) / 1000.0, indent(msg)));
            } finally {
                for (AutoCloseable c : scenarioResources) {
                    try { c.close(); } catch (Exception e) { /* ignore */ }
                }
                scenarioResources.clear();
            }
        }
        try {
            a.addAuthInfo("digest", d("bob:secret"));
            if (superAuth != null) a.addAuthInfo("digest", d(superAuth));
            removeTree(a, root);
        } catch (Exception e) {
            log("(cleanup of " + root + " failed: " + e + ")");
        }
        a.close();
        b.close();
        log(String.format("java suite: %d scenarios, %d checks: %d passed, %d failed", ran, checks, ran - failures.size(), failures.size()));
        if (!failures.isEmpty()) {
            log("\nFAILED scenarios:");
            for (String f : failures) log(f);
        }
        log(String.format("java suite: %.1fs", (System.currentTimeMillis() - t0) / 1000.0));
        Runtime.getRuntime().halt(failures.isEmpty() ? 0 : 1);
    }

    static String indent(String s) {
        StringBuilder sb = new StringBuilder();
        for (String line : s.split("\n")) sb.append("    ").append(line).append("\n");
        return sb.toString().replaceAll("\n$", "");
    }
}
