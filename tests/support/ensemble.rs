//! An ensemble of ZooKeeper-protocol servers run as child processes on 127.0.0.1: N nodes, each
//! with its own temp dir (`zoo.cfg`, `data/` with `myid`, `server.log`) and three free ports
//! (client, quorum, election), every node's zoo.cfg listing all of them as
//! `server.<myid>=127.0.0.1:<quorum>:<election>;127.0.0.1:<client>`.
//!
//! The same API starts either [`Kind`]:
//!
//! * [`Kind::Apache`]: Apache ZooKeeper 3.8 (`QuorumPeerMain`) from the Debian jars.
//! * [`Kind::Zoolog`]: `<binary> serve --config zoo.cfg` (in an integration test the binary is
//!   `env!("CARGO_BIN_EXE_zoolog")`, see [`Kind::zoolog`]), on the same zoo.cfg.
//!
//! Nodes are addressed by index `0..len()`; node `i` has `myid` `i + 1`. [`Ensemble::start`]
//! returns once every node answers `srvr` with `Mode: leader` or `Mode: follower` and exactly one
//! says leader (a zoolog node first has to print `zoolog: serving on ADDR`). Every process runs
//! under the watchdog of [`zoolog_compat::server::spawn_with_watchdog`]: [`Ensemble::kill9`],
//! [`Ensemble::stop`] and `Drop` SIGKILL it, and so does the kernel closing the watchdog's pipe
//! when the test process dies, so no server outlives its test. A panicking test prints the log
//! tail of every node; `ZOOLOG_KEEP_SERVER_DIR=1` keeps the temp dir.
//!
//! ```ignore
//! let mut e = Ensemble::start(Kind::Apache, 3, suites::reference_config());
//! let hosts = e.connect_string(); // "127.0.0.1:c1,127.0.0.1:c2,127.0.0.1:c3"
//! let l = e.leader();
//! e.kill9(l);
//! let new_leader = e.leader(); // one of the other two
//! e.restart(l);
//! ```

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zoolog_compat::server::spawn_with_watchdog;

use super::{Server, ServerConfig, apache_command, four_letter_word, kill_process_group};

/// How long [`Ensemble::start`] waits for the first quorum (three JVMs on two cores take a few
/// seconds).
pub const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long [`Ensemble::restart`] and [`Ensemble::leader`] wait.
pub const QUORUM_TIMEOUT: Duration = Duration::from_secs(60);

/// What kind of server the nodes are.
#[derive(Clone, Debug)]
pub enum Kind {
    /// Apache ZooKeeper 3.8 `QuorumPeerMain` from the Debian jars.
    Apache,
    /// `binary serve --config zoo.cfg`.
    Zoolog { binary: PathBuf },
}

impl Kind {
    /// zoolog from `binary` (`Kind::zoolog(env!("CARGO_BIN_EXE_zoolog"))`).
    pub fn zoolog(binary: impl Into<PathBuf>) -> Kind {
        Kind::Zoolog {
            binary: binary.into(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Kind::Apache => "Apache ZooKeeper",
            Kind::Zoolog { .. } => "zoolog",
        }
    }

    /// The command that runs one node on `cfg_path`.
    pub fn command(&self, config: &ServerConfig, cfg_path: &Path) -> Command {
        match self {
            Kind::Apache => apache_command(
                config,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                cfg_path,
            ),
            Kind::Zoolog { binary } => {
                let mut c = Command::new(binary);
                c.arg("serve").arg("--config").arg(cfg_path);
                if std::env::var_os("RUST_LOG").is_none() {
                    c.env("RUST_LOG", "info,openraft=warn");
                }
                c
            }
        }
    }
}

/// The ports of one node (all on 127.0.0.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub client: u16,
    pub quorum: u16,
    pub election: u16,
}

/// One node: its ports, its dir, and its process while it runs.
struct Node {
    myid: usize,
    ports: Ports,
    dir: PathBuf,
    process: Option<NodeProcess>,
    /// How many times the node was started (names the log file of each start).
    starts: u32,
}

struct NodeProcess {
    /// The watchdog shell (its own process group).
    child: Child,
    /// Closing this makes the watchdog SIGKILL the server.
    watchdog: Option<ChildStdin>,
}

impl Node {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn cfg_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }

    /// The log of the latest start: `server.log`, then `server.restart1.log`, ...
    fn log_path(&self) -> PathBuf {
        match self.starts {
            0 | 1 => self.dir.join("server.log"),
            n => self.dir.join(format!("server.restart{}.log", n - 1)),
        }
    }

    fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.client))
    }

    /// SIGKILL (through the watchdog) and reap; no-op if not running.
    fn kill(&mut self) {
        let Some(mut p) = self.process.take() else {
            return;
        };
        drop(p.watchdog.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match p.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => break,
            }
        }
        // Whatever is left in the watchdog's group (its reader subshell; the server, had the
        // watchdog failed) goes too.
        kill_process_group(p.child.id());
        let _ = p.child.wait();
    }
}

/// A running ensemble; dropping it kills every node.
pub struct Ensemble {
    kind: Kind,
    config: ServerConfig,
    nodes: Vec<Node>,
    dir: Option<tempfile::TempDir>,
}

impl Ensemble {
    /// Starts `n` nodes of `kind` with `config` and waits for a quorum with one leader; panics
    /// with every node's log tail if it does not come up.
    pub fn start(kind: Kind, n: usize, config: ServerConfig) -> Ensemble {
        Ensemble::try_start(kind, n, config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Ensemble::start`], with the failure as an error. Retries with other ports when one was
    /// taken between choosing it and the server binding it.
    pub fn try_start(kind: Kind, n: usize, config: ServerConfig) -> Result<Ensemble, String> {
        assert!(n >= 1, "an ensemble needs a node");
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let mut e = Ensemble::prepare(kind.clone(), n, config.clone())?;
            for i in 0..n {
                e.spawn(i)?;
            }
            match e.wait_quorum(START_TIMEOUT) {
                Ok(_) => return Ok(e),
                Err(err) => {
                    let port_taken = (0..n).any(|i| {
                        let log = e.log_tail(i, 400);
                        log.contains("Address already in use") || log.contains("AddrInUse")
                    });
                    last_err = format!(
                        "{} ensemble of {n} did not start: {err}\n{}",
                        kind.name(),
                        e.log_tails(60)
                    );
                    e.stop();
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        Err(last_err)
    }

    /// Chooses ports, makes the dirs and writes every node's zoo.cfg and myid; starts nothing.
    fn prepare(kind: Kind, n: usize, config: ServerConfig) -> Result<Ensemble, String> {
        let dir = tempfile::Builder::new()
            .prefix("zoolog-ensemble-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let mut nodes = Vec::new();
        for i in 0..n {
            let node_dir = dir.path().join(format!("node{}", i + 1));
            fs::create_dir_all(node_dir.join("data")).map_err(|e| format!("{e}"))?;
            nodes.push(Node {
                myid: i + 1,
                ports: Ports {
                    client: fresh_port(),
                    quorum: fresh_port(),
                    election: fresh_port(),
                },
                dir: node_dir,
                process: None,
                starts: 0,
            });
        }
        let all: Vec<(usize, Ports)> = nodes.iter().map(|n| (n.myid, n.ports)).collect();
        for node in &nodes {
            fs::write(
                node.cfg_path(),
                zoo_cfg(&config, &node.data_dir(), node.ports.client, &all),
            )
            .map_err(|e| format!("write zoo.cfg: {e}"))?;
            fs::write(node.data_dir().join("myid"), format!("{}\n", node.myid))
                .map_err(|e| format!("write myid: {e}"))?;
        }
        Ok(Ensemble {
            kind,
            config,
            nodes,
            dir: Some(dir),
        })
    }

    /// Starts node `i`'s process (it must not be running); does not wait.
    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let cmd = self.kind.command(&self.config, &self.nodes[i].cfg_path());
        let node = &mut self.nodes[i];
        assert!(node.process.is_none(), "node {i} is running");
        node.starts += 1;
        let log_path = node.log_path();
        let (child, watchdog) = spawn_with_watchdog(&cmd, &log_path)
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        node.process = Some(NodeProcess {
            child,
            watchdog: Some(watchdog),
        });
        Ok(())
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `127.0.0.1:<client port>` of every node, comma-separated, in node order.
    pub fn connect_string(&self) -> String {
        (0..self.len())
            .map(|i| self.node_connect_string(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `127.0.0.1:<client port>` of node `i` alone.
    pub fn node_connect_string(&self, i: usize) -> String {
        self.client_addr(i).to_string()
    }

    pub fn client_port(&self, i: usize) -> u16 {
        self.nodes[i].ports.client
    }

    pub fn client_addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].client_addr()
    }

    pub fn ports(&self, i: usize) -> Ports {
        self.nodes[i].ports
    }

    /// Node `i`'s `myid` (`i + 1`).
    pub fn myid(&self, i: usize) -> usize {
        self.nodes[i].myid
    }

    /// Node `i`'s own dir (`zoo.cfg`, `data/`, logs).
    pub fn node_dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].data_dir()
    }

    /// Whether node `i`'s process is running (started here and neither killed nor exited).
    pub fn is_running(&mut self, i: usize) -> bool {
        match self.nodes[i].process.as_mut() {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The nodes started and not killed (by index).
    pub fn started(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.nodes[i].process.is_some())
            .collect()
    }

    /// A [`Server`] for the suite runners (`support::suites`): every node's address as the
    /// connection string, this ensemble's config; it starts and stops nothing.
    pub fn target(&self) -> Server {
        Server::external_hosts(
            &format!("{} ensemble of {}", self.kind.name(), self.len()),
            &self.connect_string(),
            self.config.clone(),
        )
    }

    /// Sends a four-letter word to node `i`.
    pub fn four_letter_word(&self, i: usize, word: &str) -> std::io::Result<String> {
        four_letter_word(self.client_addr(i), word)
    }

    /// `Mode:` of node `i`'s `srvr` (`leader`, `follower`, ...); `None` if it does not answer
    /// or is not serving.
    pub fn mode(&self, i: usize) -> Option<String> {
        let s = self.four_letter_word(i, "srvr").ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix("Mode:"))
            .map(|m| m.trim().to_string())
    }

    /// The index of the leader, once every started node serves as leader or follower and
    /// exactly one is the leader; panics after [`QUORUM_TIMEOUT`].
    pub fn leader(&mut self) -> usize {
        self.wait_quorum(QUORUM_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log_tails(60)))
    }

    /// Waits until every started node serves as leader or follower, exactly one of them the
    /// leader; returns its index.
    pub fn wait_quorum(&mut self, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            for i in self.started() {
                if !self.is_running(i) {
                    return Err(format!(
                        "node {i} (myid {}) exited\n{}",
                        self.myid(i),
                        self.log_tail(i, 60)
                    ));
                }
            }
            let modes: Vec<(usize, Option<String>)> = self
                .started()
                .into_iter()
                .map(|i| (i, self.node_mode_when_ready(i)))
                .collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            let all_serving = modes
                .iter()
                .all(|(_, m)| matches!(m.as_deref(), Some("leader" | "follower")));
            if all_serving && leaders.len() == 1 {
                return Ok(leaders[0]);
            }
            last = modes
                .iter()
                .map(|(i, m)| format!("node {i}: {}", m.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join(", ");
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} ensemble: no quorum with one leader after {timeout:?} ({last})",
                    self.kind.name()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `mode(i)`, except that a zoolog node must first have printed `zoolog: serving on`.
    fn node_mode_when_ready(&self, i: usize) -> Option<String> {
        if let Kind::Zoolog { .. } = self.kind {
            let log = fs::read(self.nodes[i].log_path()).unwrap_or_default();
            if !String::from_utf8_lossy(&log).contains("zoolog: serving on ") {
                return None;
            }
        }
        self.mode(i)
    }

    /// SIGKILL of node `i` (waits until it is gone). Its dir and ports stay for
    /// [`Ensemble::restart`].
    pub fn kill9(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Starts node `i` again on its dir and ports (after [`Ensemble::kill9`]) and waits until
    /// the ensemble has a quorum with one leader again, node `i` in it; panics otherwise.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].process.is_some() {
            self.nodes[i].kill();
        }
        self.spawn(i)
            .unwrap_or_else(|e| panic!("restart node {i}: {e}"));
        if let Err(e) = self.wait_quorum(QUORUM_TIMEOUT) {
            panic!("restart node {i}: {e}\n{}", self.log_tails(60));
        }
    }

    /// The last `lines` lines of node `i`'s log (of its latest start).
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = fs::read(self.nodes[i].log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Every node's log tail, headed by its index, myid, ports and log file.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                s,
                "--- {} node {i} (myid {}, client {}, quorum {}, election {}): tail of {} ---\n{}",
                self.kind.name(),
                n.myid,
                n.ports.client,
                n.ports.quorum,
                n.ports.election,
                n.log_path().display(),
                self.log_tail(i, lines)
            );
        }
        s.push_str("--- end of ensemble logs ---");
        s
    }

    /// Kills every node (SIGKILL, all at once, then waits for each).
    pub fn stop(&mut self) {
        for n in &mut self.nodes {
            if let Some(p) = n.process.as_mut() {
                drop(p.watchdog.take());
            }
        }
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails(150));
        }
        if std::env::var_os("ZOOLOG_KEEP_SERVER_DIR").is_some()
            && let Some(d) = self.dir.take()
        {
            eprintln!("{} ensemble: kept {}", self.kind.name(), d.keep().display());
        }
    }
}

/// Every node's zoo.cfg: `config`'s keys (as for one server, [`ServerConfig::zoo_cfg`]) with
/// this node's `clientPort`, then `initLimit`/`syncLimit` and one `server.<myid>` line per node.
pub fn zoo_cfg(
    config: &ServerConfig,
    data_dir: &Path,
    client_port: u16,
    servers: &[(usize, Ports)],
) -> String {
    let mut s = config.zoo_cfg(data_dir, client_port);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    if !s.contains("initLimit=") {
        s.push_str("initLimit=10\n");
    }
    if !s.contains("syncLimit=") {
        s.push_str("syncLimit=5\n");
    }
    for (myid, p) in servers {
        let _ = writeln!(
            s,
            "server.{myid}=127.0.0.1:{}:{};127.0.0.1:{}",
            p.quorum, p.election, p.client
        );
    }
    s
}

/// A free port on 127.0.0.1 (bound to port 0 and released) not handed out before by this test
/// process (the kernel may hand a released port out again at once).
pub fn fresh_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}
