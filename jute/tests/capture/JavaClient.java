// Drives the Apache ZooKeeper 3.8 Java client through the recording proxy so
// that every opcode the Java client can send appears on the wire at least once,
// together with error replies, watch notifications, pings, SetWatches /
// SetWatches2 after a dropped connection, session resumption and close.
//
// Usage: java -cp <zookeeper jars>:<classes> JavaClient <proxy host:port> <direct zk host:port> <proxy control port>
//
// The "direct" address is the real server; it is used only by a helper session
// (not recorded) that changes nodes while the main session is disconnected, so
// that the SetWatches reply is preceded by catch-up notifications.
// Exits nonzero on any unexpected result.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
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

public class JavaClient {
    static final int TIMEOUT_MS = 4000; // session timeout asked for; ping after ~T/3 idle
    static final long WAIT_MS = 8000;   // max wait for any expected event
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;
    static String proxy;
    static String direct;
    static int ctlPort;

    interface Action { void run() throws Exception; }

    static byte[] d(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static void log(String s) { System.out.println("[java] " + s); System.out.flush(); }

    static void fail(String s) { throw new IllegalStateException(s); }

    /** One command to the proxy's control port; returns the answer line. */
    static String ctl(String cmd) throws Exception {
        try (Socket s = new Socket("127.0.0.1", ctlPort)) {
            s.setSoTimeout(10000);
            OutputStream o = s.getOutputStream();
            o.write((cmd + "\n").getBytes(StandardCharsets.UTF_8));
            o.flush();
            String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
            if (line == null || !line.startsWith("ok")) fail("proxy control '" + cmd + "' -> " + line);
            return line;
        }
    }

    /** Watcher that queues every event so the driver can wait for it. */
    static class Rec implements Watcher {
        final String name;
        final LinkedBlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
        Rec(String name) { this.name = name; }
        public void process(WatchedEvent e) {
            log("  event(" + name + "): " + e.getType() + " " + e.getState() + " " + e.getPath());
            q.add(e);
        }
        /** Wait for a node event (type, path); other events are logged and skipped. */
        void expect(EventType t, String path) throws InterruptedException {
            long end = System.currentTimeMillis() + WAIT_MS;
            while (true) {
                long left = end - System.currentTimeMillis();
                WatchedEvent e = left > 0 ? q.poll(left, TimeUnit.MILLISECONDS) : null;
                if (e == null) fail(name + ": timed out waiting for " + t + " " + path);
                if (e.getType() == t && path.equals(e.getPath())) return;
                log("  (" + name + " skipped " + e.getType() + " " + e.getPath() + " while waiting for " + t + " " + path + ")");
            }
        }
        /** Wait for several node events in any order. */
        void expectAll(Object... typeAndPath) throws InterruptedException {
            Set<String> want = new HashSet<>();
            for (int i = 0; i < typeAndPath.length; i += 2) want.add(typeAndPath[i] + " " + typeAndPath[i + 1]);
            long end = System.currentTimeMillis() + WAIT_MS;
            while (!want.isEmpty()) {
                long left = end - System.currentTimeMillis();
                WatchedEvent e = left > 0 ? q.poll(left, TimeUnit.MILLISECONDS) : null;
                if (e == null) fail(name + ": timed out waiting for " + want);
                if (!want.remove(e.getType() + " " + e.getPath()))
                    log("  (" + name + " skipped " + e.getType() + " " + e.getPath() + ")");
            }
        }
        void expectState(KeeperState s) throws InterruptedException {
            long end = System.currentTimeMillis() + WAIT_MS;
            while (true) {
                long left = end - System.currentTimeMillis();
                WatchedEvent e = left > 0 ? q.poll(left, TimeUnit.MILLISECONDS) : null;
                if (e == null) fail(name + ": timed out waiting for state " + s);
                if (e.getType() == EventType.None && e.getState() == s) return;
                log("  (" + name + " skipped " + e.getType() + " " + e.getState() + " " + e.getPath() + " while waiting for " + s + ")");
            }
        }
        void drain() { q.clear(); }
    }

    static void expectErr(Code code, String what, Action a) throws Exception {
        try {
            a.run();
        } catch (KeeperException e) {
            if (e.code() != code) fail(what + ": expected " + code + " got " + e.code());
            log(what + " -> " + e.code() + " (expected)");
            return;
        }
        fail(what + ": expected " + code + " but succeeded");
    }

    static Code anyErr(String what, Action a) throws Exception {
        try {
            a.run();
            log(what + " -> OK");
            return Code.OK;
        } catch (KeeperException e) {
            log(what + " -> " + e.code());
            return e.code();
        }
    }

    static ZooKeeperAdmin connect(String hosts, Rec w, boolean canBeReadOnly) throws Exception {
        ZooKeeperAdmin zk = new ZooKeeperAdmin(hosts, TIMEOUT_MS, w, canBeReadOnly);
        w.expectState(KeeperState.SyncConnected);
        return zk;
    }

    static void idle(String why, long ms) throws InterruptedException {
        log("idle " + ms + " ms (" + why + ")");
        Thread.sleep(ms);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: JavaClient <proxy host:port> <direct zk host:port> <proxy control port>");
            System.exit(2);
        }
        proxy = args[0];
        direct = args[1];
        ctlPort = Integer.parseInt(args[2]);
        try {
            run();
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
        log("done");
        System.exit(0);
    }

    static void run() throws Exception {
        Stat st = new Stat();
        String bobDigest = DigestAuthenticationProvider.generateDigest("bob:secret");
        List<ACL> bobOnly = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", bobDigest)));
        List<ACL> bobAllWorldRead = Arrays.asList(
                new ACL(ZooDefs.Perms.ALL, new Id("digest", bobDigest)),
                new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        List<ACL> badDigest = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("digest", "nocolon")));

        // Helper session straight to the server (not recorded).
        Rec hw = new Rec("helper");
        ZooKeeper helper = new ZooKeeper(direct, TIMEOUT_MS, hw);
        hw.expectState(KeeperState.SyncConnected);

        ctl("label java");
        ctl("desc main ZooKeeperAdmin session, part 1: whoAmI, create in every CreateMode (create 1, create2 15, "
                + "createContainer 19, createTTL 21, null/empty data), exists/getData/getChildren/getChildren2 with "
                + "watches, setData, delete, NodeCreated/NodeDeleted/NodeDataChanged/NodeChildrenChanged events, "
                + "errors NONODE NODEEXISTS BADVERSION NOTEMPTY NOCHILDRENFOREPHEMERALS INVALIDACL NOAUTH, getACL, "
                + "auth (100, xid -4), setACL, sync, multi ok+failing, multiRead, getEphemerals, getAllChildrenNumber, "
                + "getConfig, reconfig error, checkWatches 17, removeWatches 18; cut by the proxy with standard "
                + "watches outstanding (continues in java-02)");
        Rec w = new Rec("main");
        ZooKeeperAdmin zk = connect(proxy, w, false);
        final ZooKeeperAdmin z = zk;

        // ---- whoAmI (107), before any auth: [ip:127.0.0.1]
        List<ClientInfo> who = zk.whoAmI();
        log("whoAmI -> " + who);

        // ---- creates: 4-argument API -> opcode 1 (19 for CONTAINER)
        zk.create("/j", d("j"), OPEN, CreateMode.PERSISTENT);
        zk.create("/j/p", d("p"), OPEN, CreateMode.PERSISTENT);
        zk.create("/j/e", d("e"), OPEN, CreateMode.EPHEMERAL);
        String psPath = zk.create("/j/ps-", d("ps"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        log("create PERSISTENT_SEQUENTIAL -> " + psPath);
        log("create EPHEMERAL_SEQUENTIAL -> " + zk.create("/j/es-", d("es"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL));
        zk.create("/j/c", d("c"), OPEN, CreateMode.CONTAINER);
        // ---- Stat-returning API -> create2 (15), createContainer (19), createTTL (21)
        zk.create("/j/p2", d("p2"), OPEN, CreateMode.PERSISTENT, st);
        zk.create("/j/e2", d("e2"), OPEN, CreateMode.EPHEMERAL, st);
        log("create2 PERSISTENT_SEQUENTIAL -> " + zk.create("/j/ps2-", d("ps2"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL, st));
        log("create2 EPHEMERAL_SEQUENTIAL -> " + zk.create("/j/es2-", d("es2"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL, st));
        zk.create("/j/c2", d("c2"), OPEN, CreateMode.CONTAINER, st);
        zk.create("/j/c2/kid", d("k"), OPEN, CreateMode.PERSISTENT);
        zk.create("/j/ttl", d("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, st, 600000);
        log("createTTL PERSISTENT_SEQUENTIAL_WITH_TTL -> "
                + zk.create("/j/ttls-", d("ts"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, st, 600000));
        // null data (buffer length -1 on the wire) and empty data (length 0)
        zk.create("/j/null", null, OPEN, CreateMode.PERSISTENT);
        byte[] got = zk.getData("/j/null", false, st);
        log("getData /j/null -> " + (got == null ? "null" : got.length + " bytes"));
        zk.create("/j/empty", new byte[0], OPEN, CreateMode.PERSISTENT, st);
        got = zk.getData("/j/empty", false, st);
        log("getData /j/empty -> " + (got == null ? "null" : got.length + " bytes"));

        // ---- exists (3) existing + missing (NONODE, but the watch is set), getData (4) with watch
        zk.exists("/j/p", true);
        if (zk.exists("/j/new", true) != null) fail("/j/new exists");
        zk.getData("/j/p", true, st);
        expectErr(Code.NONODE, "getData /j/nope", () -> z.getData("/j/nope", false, null));
        // ---- getChildren (8) with watch, getChildren2 (12)
        log("getChildren /j -> " + zk.getChildren("/j", true));
        log("getChildren2 /j -> " + zk.getChildren("/j", false, st));
        // ---- setData (5) -> NodeDataChanged
        zk.setData("/j/p", d("p1"), -1);
        w.expect(EventType.NodeDataChanged, "/j/p");
        expectErr(Code.BADVERSION, "setData /j/p version 99", () -> z.setData("/j/p", d("x"), 99));
        expectErr(Code.NONODE, "setData /j/nope", () -> z.setData("/j/nope", d("x"), -1));
        // ---- create -> NodeCreated (exists watch) + NodeChildrenChanged (child watch on /j)
        zk.create("/j/new", d("n"), OPEN, CreateMode.PERSISTENT);
        w.expectAll(EventType.NodeCreated, "/j/new", EventType.NodeChildrenChanged, "/j");
        // ---- delete (2) -> NodeDeleted
        zk.getData("/j/new", true, st);
        zk.delete("/j/new", -1);
        w.expect(EventType.NodeDeleted, "/j/new");

        // ---- error replies
        expectErr(Code.NODEEXISTS, "create /j/p", () -> z.create("/j/p", d("x"), OPEN, CreateMode.PERSISTENT));
        expectErr(Code.NODEEXISTS, "create2 /j/p", () -> z.create("/j/p", d("x"), OPEN, CreateMode.PERSISTENT, new Stat()));
        expectErr(Code.NOTEMPTY, "delete /j", () -> z.delete("/j", -1));
        expectErr(Code.BADVERSION, "delete /j/p version 99", () -> z.delete("/j/p", 99));
        expectErr(Code.NONODE, "delete /j/nope", () -> z.delete("/j/nope", -1));
        expectErr(Code.NONODE, "create /j/nope/kid", () -> z.create("/j/nope/kid", d("x"), OPEN, CreateMode.PERSISTENT));
        expectErr(Code.NOCHILDRENFOREPHEMERALS, "create /j/e/kid",
                () -> z.create("/j/e/kid", d("x"), OPEN, CreateMode.PERSISTENT));
        expectErr(Code.INVALIDACL, "create /j/badacl digest:nocolon",
                () -> z.create("/j/badacl", d("x"), badDigest, CreateMode.PERSISTENT));
        expectErr(Code.INVALIDACL, "create /j/badacl CREATOR_ALL_ACL without auth",
                () -> z.create("/j/badacl", d("x"), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
        expectErr(Code.NONODE, "getACL /j/nope", () -> z.getACL("/j/nope", new Stat()));

        // ---- ACLs: NOAUTH before auth, then auth (100) and success
        zk.create("/j/secret", d("s"), bobOnly, CreateMode.PERSISTENT);
        expectErr(Code.NOAUTH, "getData /j/secret", () -> z.getData("/j/secret", false, null));
        expectErr(Code.NOAUTH, "setData /j/secret", () -> z.setData("/j/secret", d("x"), -1));
        expectErr(Code.NOAUTH, "getACL /j/secret", () -> z.getACL("/j/secret", new Stat()));
        expectErr(Code.NOAUTH, "create /j/secret/kid", () -> z.create("/j/secret/kid", d("x"), OPEN, CreateMode.PERSISTENT));
        log("getACL /j/p -> " + zk.getACL("/j/p", st));
        zk.addAuthInfo("digest", d("bob:secret"));
        log("getData /j/secret after auth -> " + new String(zk.getData("/j/secret", false, st), StandardCharsets.UTF_8));
        log("getACL /j/secret -> " + zk.getACL("/j/secret", st));
        zk.setACL("/j/secret", bobAllWorldRead, 0);
        expectErr(Code.BADVERSION, "setACL /j/secret version 99", () -> z.setACL("/j/secret", bobOnly, 99));
        expectErr(Code.INVALIDACL, "setACL /j/p digest:nocolon", () -> z.setACL("/j/p", badDigest, -1));
        zk.setACL(psPath, ZooDefs.Ids.CREATOR_ALL_ACL, -1); // auth scheme, id "" (expanded by server)
        log("getACL after auth: ACL -> " + zk.getACL(psPath, st));
        zk.setACL(psPath, ZooDefs.Ids.READ_ACL_UNSAFE, -1);
        log("whoAmI after auth -> " + zk.whoAmI());

        // ---- sync (9)
        CountDownLatch synced = new CountDownLatch(1);
        final int[] syncRc = {-999};
        zk.sync("/j", (rc, path, ctx) -> { syncRc[0] = rc; synced.countDown(); }, null);
        if (!synced.await(WAIT_MS, TimeUnit.MILLISECONDS)) fail("sync timed out");
        log("sync /j -> rc " + syncRc[0]);

        // ---- multi (14): success with every write op kind
        List<OpResult> res = zk.multi(Arrays.asList(
                Op.create("/j/m1", d("m1"), OPEN, CreateMode.PERSISTENT),
                Op.create("/j/m2", d("m2"), OPEN, CreateMode.CONTAINER),
                Op.create("/j/m3", d("m3"), OPEN, CreateMode.PERSISTENT_WITH_TTL, 600000),
                Op.create("/j/ms-", d(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL),
                Op.setData("/j/m1", d("m1b"), 0),
                Op.check("/j/m1", 1),
                Op.delete("/j/m2", -1)));
        log("multi ok -> " + res.size() + " results");
        // ---- multi failing in the middle (check with bad version)
        try {
            zk.multi(Arrays.asList(
                    Op.create("/j/m4", d("m4"), OPEN, CreateMode.PERSISTENT),
                    Op.check("/j/m1", 99),
                    Op.setData("/j/m1", d("zz"), -1),
                    Op.delete("/j/nope", -1)));
            fail("failing multi succeeded");
        } catch (KeeperException e) {
            log("multi failing -> " + e.code() + " results " + e.getResults().size());
            if (e.code() != Code.BADVERSION) fail("unexpected multi error " + e.code());
        }
        // ---- multi failing on the first op (NODEEXISTS), via the Transaction API
        try {
            zk.transaction().create("/j/p", d("x"), OPEN, CreateMode.PERSISTENT).delete("/j/m1", -1).commit();
            fail("failing transaction succeeded");
        } catch (KeeperException e) {
            log("transaction failing -> " + e.code());
        }
        // ---- multiRead (22): only getData / getChildren ops; per-op NONODE
        res = zk.multi(Arrays.asList(
                Op.getData("/j/p"),
                Op.getChildren("/j/c2"),
                Op.getData("/j/nope"),
                Op.getChildren("/j/nope")));
        log("multiRead -> " + res.size() + " results");

        // ---- getEphemerals (103), getAllChildrenNumber (104)
        log("getEphemerals() -> " + zk.getEphemerals());
        log("getEphemerals(/j/e) -> " + zk.getEphemerals("/j/e"));
        log("getAllChildrenNumber /j -> " + zk.getAllChildrenNumber("/j"));
        log("getAllChildrenNumber / -> " + zk.getAllChildrenNumber("/"));
        anyErr("getAllChildrenNumber /j/nope", () -> z.getAllChildrenNumber("/j/nope"));

        // ---- getConfig (getData on /zookeeper/config) and reconfig (16), which standalone rejects
        byte[] cfg = zk.getConfig(false, st);
        log("getConfig -> " + (cfg == null ? "null" : new String(cfg, StandardCharsets.UTF_8).replace('\n', '|')));
        anyErr("reconfigure non-incremental (joining/leaving null)",
                () -> z.reconfigure((String) null, (String) null, "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181", -1, new Stat()));
        anyErr("reconfigure incremental", () -> z.reconfigure("server.2=127.0.0.1:2889:3889;2182", "3", null, 5L, new Stat()));

        // ---- checkWatches (17) and removeWatches (18)
        Rec rw = new Rec("rw");
        zk.getData("/j/p2", rw, st);
        zk.removeWatches("/j/p2", rw, Watcher.WatcherType.Data, false);   // one specific watcher -> 17
        rw.expect(EventType.DataWatchRemoved, "/j/p2");
        zk.getChildren("/j/c2", rw);
        zk.exists("/j/c2", rw);
        zk.removeAllWatches("/j/c2", Watcher.WatcherType.Children, false); // all of a type -> 18
        rw.expect(EventType.ChildWatchRemoved, "/j/c2");
        zk.removeAllWatches("/j/c2", Watcher.WatcherType.Any, false);
        rw.expect(EventType.DataWatchRemoved, "/j/c2");
        anyErr("removeAllWatches /j/c2 Any with nothing left", () -> z.removeAllWatches("/j/c2", Watcher.WatcherType.Any, false));
        anyErr("removeWatches /j/p2 unknown watcher", () -> z.removeWatches("/j/p2", new Rec("never"), Watcher.WatcherType.Data, false));
        anyErr("removeAllWatches local-only /j/p2", () -> z.removeAllWatches("/j/p2", Watcher.WatcherType.Any, true));

        // ---- ping: stay idle longer than timeout/3
        idle("ping", 2500);

        // ---- connection cut with only standard watches outstanding -> SetWatches (101) on reconnect.
        // Watches: data on /j/p (getData) and /j/p2 (exists), exist on /j/later (missing), child on /j/p.
        w.drain();
        zk.getData("/j/p", true, st);
        zk.exists("/j/p2", true);
        zk.exists("/j/later", true);
        zk.getChildren("/j/p", true);
        ctl("desc main session, part 2 (same session, new TCP connection after a proxy drop): ConnectRequest "
                + "with nonzero sessionId/lastZxidSeen, auth replay (xid -4) and SetWatches (101; the 3.8.0 Java "
                + "client uses an ordinary xid) sent after the ConnectResponse, catch-up notifications (zxid -1) "
                + "before the SetWatches reply, persistent + recursive addWatch (106) and their events, ping; cut "
                + "again with persistent watches outstanding (continues in java-03)");
        ctl("hold");
        ctl("drop");
        w.expectState(KeeperState.Disconnected);
        // while the main client cannot reach the server, change watched nodes
        helper.setData("/j/p2", d("changed-while-away"), -1);
        helper.create("/j/later", d("l"), OPEN, CreateMode.PERSISTENT);
        helper.create("/j/p/kid", d("k"), OPEN, CreateMode.PERSISTENT);
        ctl("release");
        w.expectState(KeeperState.SyncConnected);
        w.expectAll(EventType.NodeDataChanged, "/j/p2", EventType.NodeCreated, "/j/later",
                EventType.NodeChildrenChanged, "/j/p");
        // the data watch on /j/p was re-registered by SetWatches and still fires
        zk.setData("/j/p", d("p2"), -1);
        w.expect(EventType.NodeDataChanged, "/j/p");

        // ---- addWatch (106): PERSISTENT and PERSISTENT_RECURSIVE, with events
        zk.addWatch("/j/pw", AddWatchMode.PERSISTENT);
        zk.addWatch("/j/tree", AddWatchMode.PERSISTENT_RECURSIVE);
        zk.create("/j/pw", d("pw"), OPEN, CreateMode.PERSISTENT);
        w.expect(EventType.NodeCreated, "/j/pw");
        zk.setData("/j/pw", d("pw1"), -1);
        w.expect(EventType.NodeDataChanged, "/j/pw");
        zk.create("/j/pw/a", d("a"), OPEN, CreateMode.PERSISTENT);
        w.expect(EventType.NodeChildrenChanged, "/j/pw");
        zk.delete("/j/pw/a", -1);
        w.expect(EventType.NodeChildrenChanged, "/j/pw");
        zk.create("/j/tree", d("t"), OPEN, CreateMode.PERSISTENT);
        w.expect(EventType.NodeCreated, "/j/tree");
        zk.create("/j/tree/x", d("x"), OPEN, CreateMode.PERSISTENT);
        w.expect(EventType.NodeCreated, "/j/tree/x");
        zk.setData("/j/tree/x", d("x1"), -1);
        w.expect(EventType.NodeDataChanged, "/j/tree/x");
        zk.delete("/j/tree/x", -1);
        w.expect(EventType.NodeDeleted, "/j/tree/x");
        idle("ping", 2000);

        // ---- cut with persistent watches outstanding -> SetWatches2 (105)
        zk.getData("/j/p", true, st);
        zk.exists("/j/later2", true);
        w.drain();
        ctl("desc main session, part 3 (after a second proxy drop): SetWatches2 (105) re-registering persistent "
                + "and persistent-recursive watches, their events, removeWatches of persistent watches, ephemeral "
                + "cleanup and closeSession (-11)");
        ctl("drop");
        w.expectState(KeeperState.Disconnected);
        w.expectState(KeeperState.SyncConnected);
        zk.setData("/j/pw", d("pw2"), -1);
        w.expect(EventType.NodeDataChanged, "/j/pw");
        zk.create("/j/tree/y", d("y"), OPEN, CreateMode.EPHEMERAL);
        w.expect(EventType.NodeCreated, "/j/tree/y");
        zk.create("/j/later2", d("l2"), OPEN, CreateMode.PERSISTENT);
        w.expect(EventType.NodeCreated, "/j/later2");
        zk.removeAllWatches("/j/pw", Watcher.WatcherType.Any, false);
        zk.removeAllWatches("/j/tree", Watcher.WatcherType.Any, false);
        zk.setData("/j/pw", d("pw3"), -1);  // no event any more
        zk.exists("/j/tree/y", false);
        idle("ping", 2000);
        zk.close();  // closeSession (-11); deletes the ephemerals

        // ---- a session whose TCP connection dies without closeSession, then resumed
        ctl("desc session opened with canBeReadOnly=true (ConnectRequest readOnly=1); creates an ephemeral, then the "
                + "client drops the socket without closeSession (Testable.injectSessionExpiration) so java-05/06 can resume it");
        Rec sw = new Rec("resumable");
        ZooKeeperAdmin zs = connect(proxy, sw, true);
        zs.create("/j/eph-s", d("s"), OPEN, CreateMode.EPHEMERAL);
        zs.getData("/j/eph-s", true, st);
        long sid = zs.getSessionId();
        byte[] pw = zs.getSessionPasswd();
        log(String.format("resumable session 0x%x", sid));
        zs.getTestable().injectSessionExpiration();
        Thread.sleep(300);

        ctl("desc resume attempt with the right session id but a wrong password: server answers ConnectResponse "
                + "{timeOut=0, sessionId=0, passwd=16 zero bytes} and closes");
        byte[] wrong = pw.clone();
        wrong[0] ^= 0x55;
        Rec bw = new Rec("badpw");
        ZooKeeper zb = new ZooKeeper(proxy, TIMEOUT_MS, bw, sid, wrong);
        bw.expectState(KeeperState.Expired);
        zb.close();

        ctl("desc resume of the same session id + password from a new client object: ConnectRequest with "
                + "sessionId and passwd set, then exists/getEphemerals on the resumed session and close");
        Rec rr = new Rec("resumed");
        ZooKeeper zr = new ZooKeeper(proxy, TIMEOUT_MS, rr, sid, pw);
        rr.expectState(KeeperState.SyncConnected);
        if (zr.getSessionId() != sid) fail("resumed a different session");
        if (zr.exists("/j/eph-s", false) == null) fail("ephemeral of resumed session is gone");
        log("resumed getEphemerals -> " + zr.getEphemerals());
        zr.close();

        // ---- auth with an unknown scheme: AUTHFAILED on xid -4, then the server closes the connection
        ctl("desc addAuthInfo with an unknown scheme: auth (100, xid -4) answered with AUTHFAILED (-115), after "
                + "which the server closes the connection");
        Rec af = new Rec("authfail");
        ZooKeeper za = new ZooKeeper(proxy, TIMEOUT_MS, af);
        af.expectState(KeeperState.SyncConnected);
        za.exists("/j", false);
        za.addAuthInfo("nosuchscheme", d("whatever"));
        af.expectState(KeeperState.AuthFailed);
        za.close();

        helper.close();
    }
}
