//! Rust client suite: ZooKeeper 3.8 behaviour as seen through the `zookeeper-client` crate
//! (async, tokio), checked exactly.
//!
//! Included as a module by the integration tests (`#[path = "clients/rust_suite.rs"] mod
//! rust_suite;`), run with [`run`] against any server address. Covers the crate's API: create in
//! every mode (create2 15, createContainer 19, createTTL 21, and create 1 through a client that
//! believes the server is 3.4), delete, exists (check_stat), getData, setData, getACL, setACL,
//! getChildren / getChildren2, getAllChildrenNumber, getEphemerals, sync, whoAmI
//! (list_auth_users), auth (digest, super, unknown scheme), getConfig, reconfig
//! (update_ensemble), multi and multiRead, one-shot watches of every kind, persistent and
//! persistent-recursive watches, session resume (same id + password), expiry of an abandoned
//! session, reconnect through a TCP proxy with the client's SetWatches (xid -8) catch-up events,
//! close, containers and TTL nodes.
//!
//! Event checks are exact: after a "barrier" (a round trip on the watching client), every
//! notification caused by earlier writes has been dispatched to the watcher channels, so a
//! watcher either holds exactly the expected event or none. Each scenario works in its own subtree
//! of `/rust-suite-<random>`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use zk::{Acl, Acls, AddWatchMode, AuthId, CreateMode, EventType, Permission, SessionState, Stat};
use zookeeper_client as zk;

/// Server facts the suite depends on (the same as the other suites' command-line arguments).
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// `host:port`
    pub server: String,
    pub tick_time_ms: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    /// `user:password` of the super user, if the server has a superDigest.
    pub super_auth: Option<String>,
    /// `znode.container.checkIntervalMs`, if set short enough to test reaping.
    pub container_check_ms: Option<u32>,
    /// TTL nodes enabled (`zookeeper.extendedTypesEnabled`).
    pub ttl: bool,
}

const WAIT: Duration = Duration::from_secs(10);

type Check = Result<(), String>;

struct Ctx {
    cfg: SuiteConfig,
    root: String,
    a: zk::Client,
    b: zk::Client,
    checks: AtomicUsize,
    main_timeout: Duration,
}

macro_rules! check_eq {
    ($ctx:expr, $what:expr, $got:expr, $want:expr) => {{
        $ctx.checks.fetch_add(1, Ordering::Relaxed);
        let got = $got;
        let want = $want;
        if got != want {
            return Err(format!(
                "{}\n  expected: {:?}\n  got:      {:?}",
                $what, want, got
            ));
        }
    }};
}

macro_rules! check {
    ($ctx:expr, $what:expr, $cond:expr) => {{
        $ctx.checks.fetch_add(1, Ordering::Relaxed);
        if !$cond {
            return Err(format!("{}", $what));
        }
    }};
}

/// The error name a result carries ("OK" on success), for exact comparisons.
fn code<T>(r: &Result<T, zk::Error>) -> String {
    match r {
        Ok(_) => "OK".to_string(),
        Err(e) => error_name(e),
    }
}

fn error_name(e: &zk::Error) -> String {
    use zk::Error::*;
    match e {
        NoNode => "NONODE".into(),
        NoAuth => "NOAUTH".into(),
        BadVersion => "BADVERSION".into(),
        NoChildrenForEphemerals => "NOCHILDRENFOREPHEMERALS".into(),
        NodeExists => "NODEEXISTS".into(),
        NotEmpty => "NOTEMPTY".into(),
        SessionExpired => "SESSIONEXPIRED".into(),
        InvalidAcl => "INVALIDACL".into(),
        AuthFailed => "AUTHFAILED".into(),
        NoWatcher => "NOWATCHER".into(),
        MarshallingError => "MARSHALLINGERROR".into(),
        Unimplemented => "UNIMPLEMENTED".into(),
        ConnectionLoss => "CONNECTIONLOSS".into(),
        ReconfigDisabled => "RECONFIGDISABLED".into(),
        RuntimeInconsistent => "RUNTIMEINCONSISTENCY".into(),
        BadArguments(_) => "BADARGUMENTS".into(),
        ClientClosed => "CLIENTCLOSED".into(),
        other => format!("{other:?}"),
    }
}

fn open() -> zk::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn mode(m: CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(Acls::anyone_all())
}

/// Relative checks of a just-created node's Stat.
fn fresh(st: &Stat, data_len: i32, owner: i64) -> Vec<(&'static str, i64)> {
    vec![
        ("version", st.version.into()),
        ("cversion", st.cversion.into()),
        ("aversion", st.aversion.into()),
        ("numChildren", st.num_children.into()),
        ("dataLength", (st.data_length - data_len).into()),
        ("ephemeralOwner", st.ephemeral_owner - owner),
        ("mzxid-czxid", st.mzxid - st.czxid),
        ("pzxid-czxid", st.pzxid - st.czxid),
        ("mtime-ctime", st.mtime - st.ctime),
    ]
}

fn zeros() -> Vec<(&'static str, i64)> {
    [
        "version",
        "cversion",
        "aversion",
        "numChildren",
        "dataLength",
        "ephemeralOwner",
        "mzxid-czxid",
        "pzxid-czxid",
        "mtime-ctime",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect()
}

/// (version, cversion, aversion, numChildren, dataLength)
fn counts(st: &Stat) -> (i32, i32, i32, i32, i32) {
    (
        st.version,
        st.cversion,
        st.aversion,
        st.num_children,
        st.data_length,
    )
}

fn ev(t: EventType, path: &str) -> (EventType, String) {
    (t, path.to_string())
}

fn got(e: zk::WatchedEvent) -> (EventType, String) {
    (e.event_type, e.path)
}

impl Ctx {
    async fn node(&self, name: &str) -> Result<String, String> {
        let p = format!("{}/{}", self.root, name);
        self.a
            .create(&p, b"", &open())
            .await
            .map_err(|e| format!("create {p}: {e}"))?;
        Ok(p)
    }

    async fn connect(&self, hosts: &str, timeout: Duration) -> Result<zk::Client, String> {
        zk::Client::connector()
            .with_session_timeout(timeout)
            .connect(hosts)
            .await
            .map_err(|e| format!("connect {hosts}: {e}"))
    }

    fn want_short_timeout(&self) -> u32 {
        let c = &self.cfg;
        c.min_session_timeout_ms
            .max((2 * c.min_session_timeout_ms).min(c.max_session_timeout_ms))
    }
}

/// A round trip: every notification caused by writes acknowledged before now has been dispatched.
/// `sync` first: in an ensemble, `c`'s server may not have applied yet a write another session's
/// server acknowledged.
async fn barrier(c: &zk::Client) -> Check {
    seen(c).await?;
    c.check_stat("/")
        .await
        .map(|_| ())
        .map_err(|e| format!("barrier: {e}"))
}

/// `sync`: what other sessions wrote before now is visible to `c`. Reads of another session's
/// writes come after one: in an ensemble `c`'s server may not have applied yet a write another
/// server acknowledged (ZooKeeper promises it only after a sync, or on the same server, and the
/// crate picks a random server of the connection string for each client).
async fn seen(c: &zk::Client) -> Check {
    c.sync("/").await.map_err(|e| format!("sync: {e}"))
}

/// The one event a one-shot watcher holds after a barrier, or None.
async fn oneshot_now(
    c: &zk::Client,
    w: zk::OneshotWatcher,
) -> Result<Option<(EventType, String)>, String> {
    barrier(c).await?;
    Ok(w.changed().now_or_never().map(got))
}

/// Every event a persistent watcher holds after a barrier.
async fn drain(
    c: &zk::Client,
    w: &mut zk::PersistentWatcher,
) -> Result<Vec<(EventType, String)>, String> {
    barrier(c).await?;
    let mut out = vec![];
    while let Some(e) = w.changed().now_or_never() {
        // the crate also hands session state changes to persistent watchers
        if e.event_type != EventType::Session {
            out.push(got(e));
        }
    }
    Ok(out)
}

async fn wait_event(
    w: zk::OneshotWatcher,
    timeout: Duration,
    what: &str,
) -> Result<(EventType, String), String> {
    tokio::time::timeout(timeout, w.changed())
        .await
        .map(got)
        .map_err(|_| format!("{what}: no event within {timeout:?}"))
}

async fn wait_state(
    w: &mut zk::StateWatcher,
    want: SessionState,
    timeout: Duration,
    what: &str,
) -> Check {
    let end = Instant::now() + timeout;
    let mut seen = vec![];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, w.changed()).await {
            Ok(s) if s == want => return Ok(()),
            Ok(s) => seen.push(s),
            Err(_) => {
                return Err(format!(
                    "{what}: no {want:?} state within {timeout:?} (saw {seen:?})"
                ));
            }
        }
    }
}

// =============================================================================================
// a TCP proxy that can cut the client's connection

struct Proxy {
    addr: String,
    blocked: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &str) -> Result<Proxy, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let blocked = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (b, c, up) = (blocked.clone(), conns.clone(), upstream.to_string());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if b.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(mut server) = TcpStream::connect(&up).await else {
                    continue;
                };
                let task = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                c.lock().await.push(task.abort_handle());
            }
        });
        Ok(Proxy {
            addr,
            blocked,
            conns,
            accept,
        })
    }

    async fn drop_connections(&self) {
        for h in self.conns.lock().await.drain(..) {
            h.abort();
        }
    }

    async fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.drop_connections().await;
    }

    fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut v) = self.conns.try_lock() {
            for h in v.drain(..) {
                h.abort();
            }
        }
    }
}

// =============================================================================================
// scenarios

async fn session_basics(t: &Ctx) -> Check {
    check!(t, "session id is nonzero", t.a.session_id().0 != 0);
    check_eq!(
        t,
        "negotiated timeout of the main session",
        t.a.session_timeout(),
        t.main_timeout
    );
    let min = Duration::from_millis(t.cfg.min_session_timeout_ms.into());
    let max = Duration::from_millis(t.cfg.max_session_timeout_ms.into());
    let lo = t
        .connect(&t.cfg.server, min - Duration::from_millis(1))
        .await?;
    check_eq!(
        t,
        "requested minSessionTimeout - 1ms -> min",
        lo.session_timeout(),
        min
    );
    let hi = t
        .connect(&t.cfg.server, Duration::from_secs(10_000))
        .await?;
    check_eq!(t, "requested 10^7 ms -> max", hi.session_timeout(), max);
    check!(
        t,
        "distinct session ids",
        lo.session_id() != hi.session_id() && lo.session_id() != t.a.session_id()
    );
    let who = t.a.list_auth_users().await.map_err(|e| e.to_string())?;
    check_eq!(t, "whoAmI", who, vec![zk::AuthUser::new("ip", "127.0.0.1")]);
    Ok(())
}

async fn create_modes(t: &Ctx) -> Check {
    let r = t.node("create").await?;
    let sid = t.a.session_id().0;
    let (st, seq) =
        t.a.create(&format!("{r}/p"), b"abc", &open())
            .await
            .map_err(|e| e.to_string())?;
    check_eq!(t, "create2 PERSISTENT stat", fresh(&st, 3, 0), zeros());
    check_eq!(
        t,
        "non-sequential create has no sequence",
        seq.into_i64(),
        -1
    );
    check_eq!(
        t,
        "create2 Stat == exists Stat",
        Some(st),
        t.a.check_stat(&format!("{r}/p"))
            .await
            .map_err(|e| e.to_string())?
    );
    let (st, _) =
        t.a.create(&format!("{r}/e"), b"e", &mode(CreateMode::Ephemeral))
            .await
            .map_err(|e| e.to_string())?;
    check_eq!(t, "EPHEMERAL stat", fresh(&st, 1, sid), zeros());
    let (_, seq) =
        t.a.create(
            &format!("{r}/s-"),
            b"",
            &mode(CreateMode::PersistentSequential),
        )
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "PERSISTENT_SEQUENTIAL sequence",
        seq.to_string(),
        "0000000002"
    );
    let (st, seq) =
        t.a.create(
            &format!("{r}/es-"),
            b"",
            &mode(CreateMode::EphemeralSequential),
        )
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(t, "EPHEMERAL_SEQUENTIAL sequence", seq.into_i64(), 3);
    check_eq!(t, "EPHEMERAL_SEQUENTIAL owner", st.ephemeral_owner, sid);
    let (st, _) =
        t.a.create(&format!("{r}/c"), b"cc", &mode(CreateMode::Container))
            .await
            .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "CONTAINER stat (owner reads 0)",
        fresh(&st, 2, 0),
        zeros()
    );
    let mut n = 5;
    if t.cfg.ttl {
        let ttl = CreateMode::Persistent
            .with_acls(Acls::anyone_all())
            .with_ttl(Duration::from_secs(600));
        let (st, _) =
            t.a.create(&format!("{r}/ttl"), b"t", &ttl)
                .await
                .map_err(|e| e.to_string())?;
        check_eq!(t, "TTL stat (owner reads 0)", fresh(&st, 1, 0), zeros());
        let ttls = CreateMode::PersistentSequential
            .with_acls(Acls::anyone_all())
            .with_ttl(Duration::from_secs(600));
        let (_, seq) =
            t.a.create(&format!("{r}/ttls-"), b"", &ttls)
                .await
                .map_err(|e| e.to_string())?;
        check_eq!(
            t,
            "PERSISTENT_SEQUENTIAL_WITH_TTL sequence",
            seq.into_i64(),
            6
        );
        n = 7;
    }
    // a client that believes the server is 3.4 sends create (1): no Stat in the reply
    let old = zk::Client::connector()
        .with_server_version(3, 4, 0)
        .with_session_timeout(t.main_timeout)
        .connect(&t.cfg.server)
        .await
        .map_err(|e| e.to_string())?;
    let (st, _) = old
        .create(&format!("{r}/old"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    check!(t, "create (1) returns no Stat", st.is_invalid());
    n += 1;
    let (children, pst) = t.a.get_children(&r).await.map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "parent (version, cversion, aversion, numChildren, dataLength)",
        counts(&pst),
        (0, n, 0, n, 0)
    );
    check_eq!(t, "children", children.len(), n as usize);
    let (last, _) =
        t.a.create(&format!("{r}/last"), b"", &open())
            .await
            .map_err(|e| e.to_string())?;
    let pst =
        t.a.check_stat(&r)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("node is missing")?;
    check_eq!(
        t,
        "parent pzxid == czxid of the last child",
        pst.pzxid,
        last.czxid
    );
    let mut eph = t.a.list_ephemerals(&r).await.map_err(|e| e.to_string())?;
    eph.sort();
    check_eq!(
        t,
        "getEphemerals",
        eph,
        vec![format!("{r}/e"), format!("{r}/es-0000000003")]
    );
    Ok(())
}

async fn errors(t: &Ctx) -> Check {
    let r = t.node("errors").await?;
    let a = &t.a;
    a.create(&format!("{r}/p"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    a.create(&format!("{r}/p/kid"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    a.create(&format!("{r}/eph"), b"", &mode(CreateMode::Ephemeral))
        .await
        .map_err(|e| e.to_string())?;
    let p = |s: &str| format!("{r}/{s}");
    check_eq!(
        t,
        "create existing",
        code(&a.create(&p("p"), b"", &open()).await),
        "NODEEXISTS"
    );
    check_eq!(
        t,
        "create container existing",
        code(&a.create(&p("p"), b"", &mode(CreateMode::Container)).await),
        "NODEEXISTS"
    );
    check_eq!(
        t,
        "create under a missing parent",
        code(&a.create(&p("x/y"), b"", &open()).await),
        "NONODE"
    );
    check_eq!(
        t,
        "create under an ephemeral",
        code(&a.create(&p("eph/y"), b"", &open()).await),
        "NOCHILDRENFOREPHEMERALS"
    );
    if t.cfg.ttl {
        let ttl = CreateMode::Persistent
            .with_acls(Acls::anyone_all())
            .with_ttl(Duration::from_secs(1));
        check_eq!(
            t,
            "TTL under a missing parent",
            code(&a.create(&p("x/y"), b"", &ttl).await),
            "NONODE"
        );
    }
    check_eq!(
        t,
        "delete a node with children",
        code(&a.delete(&p("p"), None).await),
        "NOTEMPTY"
    );
    check_eq!(
        t,
        "delete with a wrong version",
        code(&a.delete(&p("p/kid"), Some(5)).await),
        "BADVERSION"
    );
    check_eq!(
        t,
        "delete a missing node",
        code(&a.delete(&p("nope"), None).await),
        "NONODE"
    );
    check_eq!(
        t,
        "delete /zookeeper",
        code(&a.delete("/zookeeper", None).await),
        "BADARGUMENTS"
    );
    check_eq!(
        t,
        "setData with a wrong version",
        code(&a.set_data(&p("p"), b"", Some(3)).await),
        "BADVERSION"
    );
    check_eq!(
        t,
        "setData of a missing node",
        code(&a.set_data(&p("nope"), b"", None).await),
        "NONODE"
    );
    check_eq!(
        t,
        "getData of a missing node",
        code(&a.get_data(&p("nope")).await),
        "NONODE"
    );
    check_eq!(
        t,
        "getChildren of a missing node",
        code(&a.list_children(&p("nope")).await),
        "NONODE"
    );
    check_eq!(
        t,
        "getChildren2 of a missing node",
        code(&a.get_children(&p("nope")).await),
        "NONODE"
    );
    check_eq!(
        t,
        "getACL of a missing node",
        code(&a.get_acl(&p("nope")).await),
        "NONODE"
    );
    check_eq!(
        t,
        "setACL of a missing node",
        code(&a.set_acl(&p("nope"), &Acls::anyone_all(), None).await),
        "NONODE"
    );
    check_eq!(
        t,
        "setACL with a wrong aversion",
        code(&a.set_acl(&p("p"), &Acls::anyone_all(), Some(2)).await),
        "BADVERSION"
    );
    check_eq!(
        t,
        "getAllChildrenNumber of a missing node",
        code(&a.count_descendants_number(&p("nope")).await),
        "NONODE"
    );
    check_eq!(
        t,
        "exists of a missing node",
        a.check_stat(&p("nope")).await.map_err(|e| e.to_string())?,
        None
    );
    let bad = [Acl::new(Permission::ALL, AuthId::new("digest", "nocolon"))];
    check_eq!(
        t,
        "INVALIDACL (digest without colon)",
        code(
            &a.create(
                &p("bad"),
                b"",
                &CreateMode::Persistent.with_acls(Acls::new(&bad))
            )
            .await
        ),
        "INVALIDACL"
    );
    check_eq!(
        t,
        "INVALIDACL (creator ACL without auth)",
        code(
            &a.create(
                &p("bad"),
                b"",
                &CreateMode::Persistent.with_acls(Acls::creator_all())
            )
            .await
        ),
        "INVALIDACL"
    );
    check_eq!(
        t,
        "INVALIDACL on setACL",
        code(&a.set_acl(&p("p"), &Acls::new(&bad), None).await),
        "INVALIDACL"
    );
    let update = zk::EnsembleUpdate::Incremental {
        joinings: vec!["server.9=127.0.0.1:2888:3888;2181"].into_iter(),
        leavings: Vec::new().into_iter(),
    };
    check_eq!(
        t,
        "reconfig on a standalone server",
        code(&a.update_ensemble(update, None).await),
        "RECONFIGDISABLED"
    );
    let mut kids = a.list_children(&r).await.map_err(|e| e.to_string())?;
    kids.sort();
    check_eq!(
        t,
        "nothing was created",
        kids,
        vec!["eph".to_string(), "p".to_string()]
    );
    Ok(())
}

async fn data_and_children(t: &Ctx) -> Check {
    let r = t.node("data").await?;
    let (a, b) = (&t.a, &t.b);
    let n = format!("{r}/n");
    let (s0, _) = a
        .create(&n, b"v0", &open())
        .await
        .map_err(|e| e.to_string())?;
    let s1 = a
        .set_data(&n, b"v11", Some(0))
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(t, "setData counts", counts(&s1), (1, 0, 0, 0, 3));
    check!(
        t,
        "mzxid advanced, czxid kept",
        s1.mzxid > s0.mzxid && s1.czxid == s0.czxid
    );
    seen(b).await?;
    let (data, st) = b.get_data(&n).await.map_err(|e| e.to_string())?;
    check_eq!(t, "getData", (data, st), (b"v11".to_vec(), s1));
    let s2 = a.set_data(&n, b"", None).await.map_err(|e| e.to_string())?;
    check_eq!(t, "setData empty", counts(&s2), (2, 0, 0, 0, 0));
    for k in ["1", "2", "2/x"] {
        a.create(&format!("{n}/{k}"), b"", &open())
            .await
            .map_err(|e| e.to_string())?;
    }
    seen(b).await?;
    let mut kids = b.list_children(&n).await.map_err(|e| e.to_string())?;
    kids.sort();
    check_eq!(
        t,
        "getChildren",
        kids,
        vec!["1".to_string(), "2".to_string()]
    );
    let (mut kids, cst) = b.get_children(&n).await.map_err(|e| e.to_string())?;
    kids.sort();
    check_eq!(
        t,
        "getChildren2",
        kids,
        vec!["1".to_string(), "2".to_string()]
    );
    check_eq!(t, "getChildren2 Stat", counts(&cst), (2, 2, 0, 2, 0));
    check_eq!(
        t,
        "getAllChildrenNumber",
        b.count_descendants_number(&n)
            .await
            .map_err(|e| e.to_string())?,
        3
    );
    a.delete(&format!("{n}/2/x"), None)
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&format!("{n}/2"), Some(0))
        .await
        .map_err(|e| e.to_string())?;
    seen(b).await?;
    let after = b
        .check_stat(&n)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("node is missing")?;
    check_eq!(t, "parent after a delete", counts(&after), (2, 3, 0, 1, 0));
    check!(t, "pzxid advanced by the delete", after.pzxid > cst.pzxid);
    b.sync(&n).await.map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "sync of a missing path",
        code(&b.sync(&format!("{r}/nope")).await),
        "OK"
    );
    let (_, cfg) = b.get_config().await.map_err(|e| e.to_string())?;
    check_eq!(t, "/zookeeper/config aversion", cfg.aversion, -1);
    let (acl, _) = b
        .get_acl("/zookeeper/config")
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "/zookeeper/config ACL",
        acl,
        vec![Acl::new(Permission::READ, AuthId::anyone())]
    );
    // multiRead
    let mut reader = b.new_multi_reader();
    reader.add_get_data(&n).map_err(|e| e.to_string())?;
    reader.add_get_children(&n).map_err(|e| e.to_string())?;
    reader
        .add_get_data(&format!("{r}/nope"))
        .map_err(|e| e.to_string())?;
    let res = reader.commit().await.map_err(|e| e.to_string())?;
    let shapes: Vec<String> = res
        .into_iter()
        .map(|x| match x {
            zk::MultiReadResult::Data { data, stat } => format!(
                "data {:?} v{}",
                String::from_utf8_lossy(&data),
                stat.version
            ),
            zk::MultiReadResult::Children { children } => format!("children {children:?}"),
            zk::MultiReadResult::Error { err } => format!("error {}", error_name(&err)),
            _ => "other".to_string(),
        })
        .collect();
    check_eq!(
        t,
        "multiRead with a partial error",
        shapes,
        vec![
            "data \"\" v2".to_string(),
            "children [\"1\"]".to_string(),
            "error NONODE".to_string()
        ]
    );
    Ok(())
}

async fn multi(t: &Ctx) -> Check {
    let r = t.node("multi").await?;
    let a = &t.a;
    let sid = a.session_id().0;
    a.create(&format!("{r}/base"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    let mut w = a.new_multi_writer();
    w.add_create(&format!("{r}/c1"), b"a", &open())
        .map_err(|e| e.to_string())?;
    w.add_create(&format!("{r}/e"), b"", &mode(CreateMode::Ephemeral))
        .map_err(|e| e.to_string())?;
    w.add_create(
        &format!("{r}/s-"),
        b"",
        &mode(CreateMode::PersistentSequential),
    )
    .map_err(|e| e.to_string())?;
    w.add_create(&format!("{r}/c"), b"", &mode(CreateMode::Container))
        .map_err(|e| e.to_string())?;
    w.add_set_data(&format!("{r}/c1"), b"bb", Some(0))
        .map_err(|e| e.to_string())?;
    w.add_check_version(&format!("{r}/c1"), 1)
        .map_err(|e| e.to_string())?;
    w.add_delete(&format!("{r}/base"), Some(0))
        .map_err(|e| e.to_string())?;
    let res = w.commit().await.map_err(|e| e.to_string())?;
    let mut shapes = vec![];
    for x in res {
        shapes.push(match x {
            zk::MultiWriteResult::Create { path, stat } => {
                format!("create {path} stat:{}", !stat.is_invalid())
            }
            zk::MultiWriteResult::SetData { stat } => format!("setData v{}", stat.version),
            zk::MultiWriteResult::Check => "check".to_string(),
            zk::MultiWriteResult::Delete => "delete".to_string(),
            _ => "other".to_string(),
        });
    }
    check_eq!(
        t,
        "multi results (3.8.0 answers create2 ops with create results: no Stat; containers get one)",
        shapes,
        vec![
            format!("create {r}/c1 stat:false"),
            format!("create {r}/e stat:false"),
            format!("create {r}/s-0000000003 stat:false"),
            format!("create {r}/c stat:true"),
            "setData v1".to_string(),
            "check".to_string(),
            "delete".to_string(),
        ]
    );
    check_eq!(
        t,
        "ephemeral created in a multi",
        a.check_stat(&format!("{r}/e"))
            .await
            .map_err(|e| e.to_string())?
            .map(|s| s.ephemeral_owner),
        Some(sid)
    );
    let mut kids = a.list_children(&r).await.map_err(|e| e.to_string())?;
    kids.sort();
    let before = kids.clone();
    let mut w = a.new_multi_writer();
    w.add_create(&format!("{r}/x1"), b"", &open())
        .map_err(|e| e.to_string())?;
    w.add_check_version(&format!("{r}/c1"), 99)
        .map_err(|e| e.to_string())?;
    w.add_create(&format!("{r}/x2"), b"", &open())
        .map_err(|e| e.to_string())?;
    let res = w.commit().await;
    check_eq!(
        t,
        "failing multi",
        format!("{res:?}"),
        format!(
            "{:?}",
            Err::<(), _>(zk::MultiWriteError::OperationFailed {
                index: 1,
                source: zk::Error::BadVersion
            })
        )
    );
    let mut w = a.new_multi_writer();
    w.add_create(&format!("{r}/c1"), b"", &open())
        .map_err(|e| e.to_string())?;
    w.add_delete(&format!("{r}/c1"), None)
        .map_err(|e| e.to_string())?;
    let res = w.commit().await;
    check_eq!(
        t,
        "first op fails",
        format!("{res:?}"),
        format!(
            "{:?}",
            Err::<(), _>(zk::MultiWriteError::OperationFailed {
                index: 0,
                source: zk::Error::NodeExists
            })
        )
    );
    let mut kids = a.list_children(&r).await.map_err(|e| e.to_string())?;
    kids.sort();
    check_eq!(t, "failed multis applied nothing", kids, before);
    // a check writer: the check first, then the ops
    let mut cw = a
        .new_check_writer(&format!("{r}/c1"), Some(1))
        .map_err(|e| e.to_string())?;
    cw.add_set_data(&format!("{r}/c1"), b"ccc", Some(1))
        .map_err(|e| e.to_string())?;
    let res = cw.commit().await.map_err(|e| e.to_string())?;
    check_eq!(t, "check writer", res.len(), 1);
    let cw = a
        .new_check_writer(&format!("{r}/c1"), Some(1))
        .map_err(|e| e.to_string())?;
    check!(
        t,
        "check writer with a stale version fails",
        matches!(
            cw.commit().await,
            Err(zk::CheckWriteError::CheckFailed {
                source: zk::Error::BadVersion
            })
        )
    );
    Ok(())
}

async fn acls(t: &Ctx) -> Check {
    let r = t.node("acl").await?;
    let a = &t.a;
    let bob_id = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=";
    let bob_all = [Acl::new(Permission::ALL, AuthId::new("digest", bob_id))];
    let bob_world_read = [
        Acl::new(Permission::ALL, AuthId::new("digest", bob_id)),
        Acl::new(Permission::READ, AuthId::anyone()),
    ];
    let s = format!("{r}/s");
    a.create(
        &s,
        b"secret",
        &CreateMode::Persistent.with_acls(Acls::new(&bob_all)),
    )
    .await
    .map_err(|e| e.to_string())?;
    let c = t.connect(&t.cfg.server, t.main_timeout).await?;
    seen(&c).await?;
    check_eq!(
        t,
        "getData without auth",
        code(&c.get_data(&s).await),
        "NOAUTH"
    );
    check_eq!(
        t,
        "setData without auth",
        code(&c.set_data(&s, b"", None).await),
        "NOAUTH"
    );
    check_eq!(
        t,
        "create child without auth",
        code(&c.create(&format!("{s}/k"), b"", &open()).await),
        "NOAUTH"
    );
    check_eq!(
        t,
        "getACL without auth",
        code(&c.get_acl(&s).await),
        "NOAUTH"
    );
    check_eq!(
        t,
        "setACL without auth",
        code(&c.set_acl(&s, &Acls::anyone_all(), None).await),
        "NOAUTH"
    );
    check!(
        t,
        "exists needs no READ (3.8)",
        c.check_stat(&s).await.map_err(|e| e.to_string())?.is_some()
    );
    c.auth("digest", b"bob:secret")
        .await
        .map_err(|e| e.to_string())?;
    let mut who = c.list_auth_users().await.map_err(|e| e.to_string())?;
    who.sort_by(|x, y| (x.scheme(), x.user()).cmp(&(y.scheme(), y.user())));
    check_eq!(
        t,
        "whoAmI after digest auth",
        who,
        vec![
            zk::AuthUser::new("digest", "bob"),
            zk::AuthUser::new("ip", "127.0.0.1")
        ]
    );
    check_eq!(
        t,
        "getData with auth",
        c.get_data(&s).await.map_err(|e| e.to_string())?.0,
        b"secret".to_vec()
    );
    let st = c
        .set_acl(&s, &Acls::new(&bob_world_read), Some(0))
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(t, "setACL aversion", st.aversion, 1);
    check_eq!(
        t,
        "getACL with ADMIN",
        c.get_acl(&s).await.map_err(|e| e.to_string())?.0,
        bob_world_read.to_vec()
    );
    seen(&t.b).await?;
    check_eq!(
        t,
        "getACL without ADMIN masks digests",
        t.b.get_acl(&s).await.map_err(|e| e.to_string())?.0,
        vec![
            Acl::new(Permission::ALL, AuthId::new("digest", "bob:x")),
            Acl::new(Permission::READ, AuthId::anyone())
        ]
    );
    c.create(
        &format!("{r}/mine"),
        b"",
        &CreateMode::Persistent.with_acls(Acls::creator_all()),
    )
    .await
    .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "creator ACL became the digest",
        c.get_acl(&format!("{r}/mine"))
            .await
            .map_err(|e| e.to_string())?
            .0,
        bob_all.to_vec()
    );
    let ip = [Acl::new(Permission::ALL, AuthId::new("ip", "127.0.0.1"))];
    let ip10 = [Acl::new(Permission::ALL, AuthId::new("ip", "10.0.0.0/8"))];
    a.create(
        &format!("{r}/ip"),
        b"i",
        &CreateMode::Persistent.with_acls(Acls::new(&ip)),
    )
    .await
    .map_err(|e| e.to_string())?;
    a.create(
        &format!("{r}/ip10"),
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&ip10)),
    )
    .await
    .map_err(|e| e.to_string())?;
    seen(&t.b).await?;
    check_eq!(
        t,
        "ip:127.0.0.1 matches",
        code(&t.b.get_data(&format!("{r}/ip")).await),
        "OK"
    );
    check_eq!(
        t,
        "ip:10.0.0.0/8 does not match",
        code(&t.b.get_data(&format!("{r}/ip10")).await),
        "NOAUTH"
    );
    if let Some(sup) = &t.cfg.super_auth {
        let su = t.connect(&t.cfg.server, t.main_timeout).await?;
        seen(&su).await?;
        su.auth("digest", sup.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        check_eq!(
            t,
            "super reads anything",
            su.get_data(&format!("{r}/mine"))
                .await
                .map_err(|e| e.to_string())?
                .0,
            Vec::<u8>::new()
        );
        check_eq!(
            t,
            "super getACL is not masked",
            su.get_acl(&s).await.map_err(|e| e.to_string())?.0,
            bob_world_read.to_vec()
        );
        su.set_acl(&format!("{r}/ip10"), &Acls::anyone_all(), None)
            .await
            .map_err(|e| e.to_string())?;
        seen(&t.b).await?;
        check_eq!(
            t,
            "after super's setACL",
            code(&t.b.get_data(&format!("{r}/ip10")).await),
            "OK"
        );
    }
    // an unknown scheme: AUTHFAILED and the session is done
    let f = t.connect(&t.cfg.server, t.main_timeout).await?;
    let mut fs = f.state_watcher();
    check_eq!(
        t,
        "auth with an unknown scheme",
        code(&f.auth("nosuchscheme", b"x").await),
        "AUTHFAILED"
    );
    wait_state(&mut fs, SessionState::AuthFailed, WAIT, "AuthFailed").await?;
    // the suite cleans up as bob
    a.auth("digest", b"bob:secret")
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn watches(t: &Ctx) -> Check {
    let r = t.node("watch").await?;
    let (a, b) = (&t.a, &t.b);
    let p = |s: &str| format!("{r}/{s}");
    let (st, w) = b
        .check_and_watch_stat(&p("n"))
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(t, "exists-watch on a missing node", st, None);
    a.create(&p("n"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    a.set_data(&p("n"), b"1", None)
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "NodeCreated",
        oneshot_now(b, w).await?,
        Some(ev(EventType::NodeCreated, &p("n")))
    );
    let (_, _, w) = b
        .get_and_watch_data(&p("n"))
        .await
        .map_err(|e| e.to_string())?;
    a.set_data(&p("n"), b"2", None)
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "NodeDataChanged",
        oneshot_now(b, w).await?,
        Some(ev(EventType::NodeDataChanged, &p("n")))
    );
    let (_, w) = b
        .list_and_watch_children(&p("n"))
        .await
        .map_err(|e| e.to_string())?;
    a.set_data(&p("n"), b"3", None)
        .await
        .map_err(|e| e.to_string())?;
    a.create(&p("n/k"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "NodeChildrenChanged (setData does not fire a child watch)",
        oneshot_now(b, w).await?,
        Some(ev(EventType::NodeChildrenChanged, &p("n")))
    );
    let (_, _, w) = b
        .get_and_watch_children(&p("n"))
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&p("n/k"), None).await.map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "getChildren2 watch",
        oneshot_now(b, w).await?,
        Some(ev(EventType::NodeChildrenChanged, &p("n")))
    );
    // data watch + child watch on a deleted node, and the parent's child watch
    let (_, _, wd) = b
        .get_and_watch_data(&p("n"))
        .await
        .map_err(|e| e.to_string())?;
    let (_, wc) = b
        .list_and_watch_children(&p("n"))
        .await
        .map_err(|e| e.to_string())?;
    let (_, wp) = b
        .list_and_watch_children(&r)
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&p("n"), None).await.map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "NodeDeleted to the data watcher",
        oneshot_now(b, wd).await?,
        Some(ev(EventType::NodeDeleted, &p("n")))
    );
    check_eq!(
        t,
        "NodeDeleted to the child watcher",
        oneshot_now(b, wc).await?,
        Some(ev(EventType::NodeDeleted, &p("n")))
    );
    check_eq!(
        t,
        "parent's NodeChildrenChanged",
        oneshot_now(b, wp).await?,
        Some(ev(EventType::NodeChildrenChanged, &r))
    );
    // getData on a missing node sets no watch
    check_eq!(
        t,
        "getData-watch on a missing node",
        code(&b.get_and_watch_data(&p("gone")).await),
        "NONODE"
    );
    // setACL and failed writes fire nothing; the watch survives
    a.create(&p("m"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    seen(b).await?;
    let (_, _, w) = b
        .get_and_watch_data(&p("m"))
        .await
        .map_err(|e| e.to_string())?;
    let mut fut = Box::pin(w.changed());
    a.set_acl(&p("m"), &Acls::anyone_all(), None)
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "failing setData",
        code(&a.set_data(&p("m"), b"", Some(42)).await),
        "BADVERSION"
    );
    barrier(b).await?;
    check_eq!(
        t,
        "setACL and a failed setData fire nothing",
        (&mut fut).now_or_never().map(got),
        None
    );
    a.set_data(&p("m"), b"x", None)
        .await
        .map_err(|e| e.to_string())?;
    barrier(b).await?;
    check_eq!(
        t,
        "the watch survived",
        (&mut fut).now_or_never().map(got),
        Some(ev(EventType::NodeDataChanged, &p("m")))
    );
    // multi fires per op
    let (_, wx) = b
        .check_and_watch_stat(&p("x"))
        .await
        .map_err(|e| e.to_string())?;
    let (_, wk) = b
        .list_and_watch_children(&r)
        .await
        .map_err(|e| e.to_string())?;
    let mut mw = a.new_multi_writer();
    mw.add_create(&p("x"), b"", &open())
        .map_err(|e| e.to_string())?;
    mw.add_set_data(&p("x"), b"1", None)
        .map_err(|e| e.to_string())?;
    mw.commit().await.map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "multi: NodeCreated",
        oneshot_now(b, wx).await?,
        Some(ev(EventType::NodeCreated, &p("x")))
    );
    check_eq!(
        t,
        "multi: NodeChildrenChanged",
        oneshot_now(b, wk).await?,
        Some(ev(EventType::NodeChildrenChanged, &r))
    );
    // persistent and recursive
    let mut pw = b
        .watch(&p("pw"), AddWatchMode::Persistent)
        .await
        .map_err(|e| e.to_string())?;
    let mut rw = b
        .watch(&p("tree"), AddWatchMode::PersistentRecursive)
        .await
        .map_err(|e| e.to_string())?;
    for (path, data) in [
        ("pw", None),
        ("pw", Some(b"1")),
        ("pw/a", None),
        ("pw/a/deep", None),
        ("tree", None),
        ("tree/x", None),
        ("tree/x/y", None),
        ("tree/x/y", Some(b"1")),
    ] {
        match data {
            None => a.create(&p(path), b"", &open()).await.map(|_| ()),
            Some(d) => a.set_data(&p(path), d, None).await.map(|_| ()),
        }
        .map_err(|e| e.to_string())?;
    }
    a.delete(&p("pw/a/deep"), None)
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&p("pw/a"), None)
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&p("tree/x/y"), None)
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&p("pw"), None).await.map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "PERSISTENT",
        drain(b, &mut pw).await?,
        vec![
            ev(EventType::NodeCreated, &p("pw")),
            ev(EventType::NodeDataChanged, &p("pw")),
            ev(EventType::NodeChildrenChanged, &p("pw")),
            ev(EventType::NodeChildrenChanged, &p("pw")),
            ev(EventType::NodeDeleted, &p("pw")),
        ]
    );
    check_eq!(
        t,
        "PERSISTENT_RECURSIVE",
        drain(b, &mut rw).await?,
        vec![
            ev(EventType::NodeCreated, &p("tree")),
            ev(EventType::NodeCreated, &p("tree/x")),
            ev(EventType::NodeCreated, &p("tree/x/y")),
            ev(EventType::NodeDataChanged, &p("tree/x/y")),
            ev(EventType::NodeDeleted, &p("tree/x/y")),
        ]
    );
    // own write: the event comes before the reply
    let (_, _, w) = a
        .get_and_watch_data(&p("x"))
        .await
        .map_err(|e| e.to_string())?;
    a.set_data(&p("x"), b"2", None)
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "own write: event before the reply (no barrier)",
        w.changed().now_or_never().map(got),
        Some(ev(EventType::NodeDataChanged, &p("x")))
    );
    Ok(())
}

async fn sessions(t: &Ctx) -> Check {
    let r = t.node("sessions").await?;
    let b = &t.b;
    // resume from a second client object (same id + password); the first one is detached and
    // dropped first, so it neither closes the session nor competes for it
    let c = zk::Client::connector()
        .with_session_timeout(t.main_timeout)
        .with_detached()
        .connect(&t.cfg.server)
        .await
        .map_err(|e| e.to_string())?;
    c.create(&format!("{r}/e"), b"", &mode(CreateMode::Ephemeral))
        .await
        .map_err(|e| e.to_string())?;
    let sid = c.session_id();
    let info = c.session().clone();
    drop(c);
    let d = zk::Client::connector()
        .with_session(info)
        .with_session_timeout(t.main_timeout)
        .connect(&t.cfg.server)
        .await
        .map_err(|e| format!("resume: {e}"))?;
    check_eq!(t, "resumed session id", d.session_id(), sid);
    check_eq!(
        t,
        "resumed session sees its ephemeral",
        d.check_stat(&format!("{r}/e"))
            .await
            .map_err(|e| e.to_string())?
            .map(|s| s.ephemeral_owner),
        Some(sid.0)
    );
    check_eq!(
        t,
        "getEphemerals of the resumed session",
        d.list_ephemerals(&r).await.map_err(|e| e.to_string())?,
        vec![format!("{r}/e")]
    );
    // closing (dropping every clone) deletes the ephemerals
    seen(b).await?;
    let (_, w) = b
        .check_and_watch_stat(&format!("{r}/e"))
        .await
        .map_err(|e| e.to_string())?;
    drop(d);
    check_eq!(
        t,
        "close deletes the ephemeral",
        wait_event(w, WAIT, "close").await?,
        ev(EventType::NodeDeleted, &format!("{r}/e"))
    );
    // expiry: a detached client is dropped without closing its session
    let want = Duration::from_millis(t.want_short_timeout().into());
    let e = zk::Client::connector()
        .with_session_timeout(want)
        .with_detached()
        .connect(&t.cfg.server)
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(t, "negotiated", e.session_timeout(), want);
    e.create(&format!("{r}/e2"), b"", &mode(CreateMode::Ephemeral))
        .await
        .map_err(|e| e.to_string())?;
    let info = e.session().clone();
    seen(b).await?;
    let (_, w) = b
        .check_and_watch_stat(&format!("{r}/e2"))
        .await
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    drop(e);
    check_eq!(
        t,
        "expiry deletes the ephemeral",
        wait_event(w, want * 2 + WAIT, "expiry").await?,
        ev(EventType::NodeDeleted, &format!("{r}/e2"))
    );
    let elapsed = t0.elapsed();
    check!(
        t,
        format!("not expired too early ({elapsed:?}, timeout {want:?})"),
        elapsed >= want / 2
    );
    let res = zk::Client::connector()
        .with_session(info)
        .with_session_timeout(want)
        .connect(&t.cfg.server)
        .await;
    check_eq!(
        t,
        "resuming an expired session",
        code(&res),
        "SESSIONEXPIRED"
    );
    Ok(())
}

async fn reconnect(t: &Ctx) -> Check {
    let r = t.node("reconnect").await?;
    let a = &t.a;
    let p = |s: &str| format!("{r}/{s}");
    for n in ["d", "c", "same"] {
        a.create(&p(n), b"", &open())
            .await
            .map_err(|e| e.to_string())?;
    }
    // through the first server of the connection string
    let px = Proxy::start(t.cfg.server.split(',').next().unwrap_or_default()).await?;
    let c = t.connect(&px.addr, t.main_timeout).await?;
    let sid = c.session_id();
    c.create(&p("eph"), b"", &mode(CreateMode::Ephemeral))
        .await
        .map_err(|e| e.to_string())?;
    let (_, _, wd) = c
        .get_and_watch_data(&p("d"))
        .await
        .map_err(|e| e.to_string())?;
    let (_, wn) = c
        .check_and_watch_stat(&p("new"))
        .await
        .map_err(|e| e.to_string())?;
    let (_, wc) = c
        .list_and_watch_children(&p("c"))
        .await
        .map_err(|e| e.to_string())?;
    let (_, _, ws) = c
        .get_and_watch_data(&p("same"))
        .await
        .map_err(|e| e.to_string())?;
    // (no persistent watch here: zookeeper-client 0.11.2 re-registers watches with SetWatches
    // only, never SetWatches2, so its persistent watches do not survive a reconnect; the Java and
    // kazoo suites cover SetWatches2)
    let mut states = c.state_watcher();
    px.block().await;
    wait_state(&mut states, SessionState::Disconnected, WAIT, "disconnect").await?;
    a.set_data(&p("d"), b"changed while away", None)
        .await
        .map_err(|e| e.to_string())?;
    a.create(&p("new"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    a.create(&p("c/kid"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    px.unblock();
    wait_state(&mut states, SessionState::SyncConnected, WAIT, "reconnect").await?;
    check_eq!(t, "same session after the reconnect", c.session_id(), sid);
    check_eq!(
        t,
        "catch-up NodeDataChanged",
        oneshot_now(&c, wd).await?,
        Some(ev(EventType::NodeDataChanged, &p("d")))
    );
    check_eq!(
        t,
        "catch-up NodeCreated",
        oneshot_now(&c, wn).await?,
        Some(ev(EventType::NodeCreated, &p("new")))
    );
    check_eq!(
        t,
        "catch-up NodeChildrenChanged",
        oneshot_now(&c, wc).await?,
        Some(ev(EventType::NodeChildrenChanged, &p("c")))
    );
    let mut fut = Box::pin(ws.changed());
    barrier(&c).await?;
    check_eq!(
        t,
        "the unchanged watch did not fire",
        (&mut fut).now_or_never().map(got),
        None
    );
    a.set_data(&p("same"), b"x", None)
        .await
        .map_err(|e| e.to_string())?;
    barrier(&c).await?;
    check_eq!(
        t,
        "... and was re-registered",
        (&mut fut).now_or_never().map(got),
        Some(ev(EventType::NodeDataChanged, &p("same")))
    );
    check_eq!(
        t,
        "the ephemeral survived",
        a.check_stat(&p("eph"))
            .await
            .map_err(|e| e.to_string())?
            .map(|s| s.ephemeral_owner),
        Some(sid.0)
    );
    Ok(())
}

async fn containers_and_ttl(t: &Ctx) -> Check {
    let Some(interval) = t.cfg.container_check_ms else {
        return Ok(());
    };
    let r = t.node("reap").await?;
    let (a, b) = (&t.a, &t.b);
    let bound = Duration::from_millis(4 * u64::from(interval)) + Duration::from_secs(3);
    a.create(&format!("{r}/c"), b"", &mode(CreateMode::Container))
        .await
        .map_err(|e| e.to_string())?;
    a.create(&format!("{r}/c/k"), b"", &open())
        .await
        .map_err(|e| e.to_string())?;
    seen(b).await?;
    let (_, w) = b
        .check_and_watch_stat(&format!("{r}/c"))
        .await
        .map_err(|e| e.to_string())?;
    a.delete(&format!("{r}/c/k"), None)
        .await
        .map_err(|e| e.to_string())?;
    check_eq!(
        t,
        "the emptied container is deleted",
        wait_event(w, bound, "container").await?,
        ev(EventType::NodeDeleted, &format!("{r}/c"))
    );
    if t.cfg.ttl {
        let ttl = CreateMode::Persistent
            .with_acls(Acls::anyone_all())
            .with_ttl(Duration::from_millis(300));
        a.create(&format!("{r}/t"), b"", &ttl)
            .await
            .map_err(|e| e.to_string())?;
        seen(b).await?;
        let (_, w) = b
            .check_and_watch_stat(&format!("{r}/t"))
            .await
            .map_err(|e| e.to_string())?;
        check_eq!(
            t,
            "the TTL node is deleted",
            wait_event(w, bound + Duration::from_millis(300), "ttl").await?,
            ev(EventType::NodeDeleted, &format!("{r}/t"))
        );
    }
    Ok(())
}

fn remove_tree<'a>(
    c: &'a zk::Client,
    path: &'a str,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), zk::Error>> + Send + 'a>> {
    Box::pin(async move {
        match c.delete(path, None).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(zk::Error::NotEmpty) => {
                for k in c.list_children(path).await? {
                    remove_tree(c, &format!("{path}/{k}")).await?;
                }
                c.delete(path, None).await
            }
            Err(e) => Err(e),
        }
    })
}

/// Runs the suite. Ok(report) when every scenario passed, Err(report) otherwise; the report lists
/// each scenario with its result and every mismatch (expected vs got).
pub async fn run(cfg: SuiteConfig) -> Result<String, String> {
    let t0 = Instant::now();
    let main_timeout = Duration::from_millis(
        cfg.min_session_timeout_ms
            .max(4000)
            .min(cfg.max_session_timeout_ms)
            .into(),
    );
    let connect = |hosts: String| async move {
        zk::Client::connector()
            .with_session_timeout(main_timeout)
            .connect(&hosts)
            .await
    };
    let a = connect(cfg.server.clone())
        .await
        .map_err(|e| format!("rust suite: cannot connect to {}: {e}", cfg.server))?;
    let b = connect(cfg.server.clone())
        .await
        .map_err(|e| format!("rust suite: cannot connect to {}: {e}", cfg.server))?;
    let root = format!("/rust-suite-{:08x}", rand_u32());
    a.create(&root, b"suite root", &open())
        .await
        .map_err(|e| format!("create {root}: {e}"))?;
    let t = Ctx {
        cfg,
        root,
        a,
        b,
        checks: AtomicUsize::new(0),
        main_timeout,
    };
    let mut report = format!("rust suite against {} (root {})\n", t.cfg.server, t.root);
    let mut failures = vec![];
    let mut ran = 0;
    macro_rules! scenario {
        ($name:ident) => {{
            ran += 1;
            let before = t.checks.load(Ordering::Relaxed);
            let s0 = Instant::now();
            let res = match tokio::time::timeout(Duration::from_secs(120), $name(&t)).await {
                Ok(r) => r,
                Err(_) => Err("scenario timed out after 120s".to_string()),
            };
            let n = t.checks.load(Ordering::Relaxed) - before;
            match res {
                Ok(()) => {
                    report += &format!(
                        "ok   {:<40} {:4} checks {:6.2}s\n",
                        stringify!($name),
                        n,
                        s0.elapsed().as_secs_f64()
                    )
                }
                Err(e) => {
                    let msg = indent(&e);
                    report += &format!(
                        "FAIL {:<40} after {} checks {:6.2}s\n{}\n",
                        stringify!($name),
                        n,
                        s0.elapsed().as_secs_f64(),
                        msg
                    );
                    failures.push(format!("--- {}\n{}", stringify!($name), msg));
                }
            }
        }};
    }
    scenario!(session_basics);
    scenario!(create_modes);
    scenario!(errors);
    scenario!(data_and_children);
    scenario!(multi);
    scenario!(acls);
    scenario!(watches);
    scenario!(sessions);
    scenario!(reconnect);
    scenario!(containers_and_ttl);
    if let Some(sup) = &t.cfg.super_auth {
        let _ = t.a.auth("digest", sup.as_bytes()).await;
    }
    if let Err(e) = remove_tree(&t.a, &t.root).await {
        report += &format!("(cleanup of {} failed: {e})\n", t.root);
    }
    report += &format!(
        "rust suite: {ran} scenarios, {} checks: {} passed, {} failed\n",
        t.checks.load(Ordering::Relaxed),
        ran - failures.len(),
        failures.len()
    );
    if !failures.is_empty() {
        report += "\nFAILED scenarios:\n";
        report += &failures.join("\n");
        report += "\n";
    }
    report += &format!("rust suite: {:.1}s\n", t0.elapsed().as_secs_f64());
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(report)
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}
