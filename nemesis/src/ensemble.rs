//! An ensemble of 3 or 5 nodes, zoolog or Apache ZooKeeper 3.8, each a child process in its own
//! network namespace (or on loopback, see [`crate::net`]), with the controls the faults need:
//! SIGKILL and restart, SIGSTOP and SIGCONT, partitions, a node's clock offset (libfaketime).
//!
//! Every server runs with `PR_SET_PDEATHSIG = SIGKILL`, so none outlives the harness even when
//! it is killed; dropping the [`Ensemble`] kills every node and then removes the namespaces.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::net::Network;

/// Where the Debian package puts ZooKeeper's jars.
pub const JAVA_LIB_DIR: &str = "/usr/share/java";
/// libfaketime from the Debian `faketime` package.
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Which server the nodes run.
#[derive(Clone, Debug)]
pub enum Target {
    /// `binary serve --config zoo.cfg`.
    Zoolog { binary: PathBuf },
    /// Apache ZooKeeper 3.8 `QuorumPeerMain` from the Debian jars.
    ZooKeeper,
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Zoolog { .. } => "zoolog",
            Target::ZooKeeper => "zookeeper",
        }
    }
}

/// How to start an ensemble.
#[derive(Clone, Debug)]
pub struct EnsembleConfig {
    pub target: Target,
    pub nodes: usize,
    /// ZooKeeper's tickTime (ms); sessions may last 2..20 ticks, `syncLimit` is 5 ticks.
    pub tick_ms: u32,
    /// Put each node in its own network namespace when the machine allows it.
    pub namespaces: bool,
    /// Start every node under libfaketime so its clock can be moved (the clock fault).
    pub faketime: bool,
    /// Extra environment for every server process (e.g. `ZOOLOG_PLANTED_FAULT`).
    pub env: Vec<(String, String)>,
}

impl EnsembleConfig {
    pub fn new(target: Target, nodes: usize) -> EnsembleConfig {
        EnsembleConfig {
            target,
            nodes,
            tick_ms: 300,
            namespaces: true,
            faketime: false,
            env: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Ports {
    client: u16,
    quorum: u16,
    election: u16,
}

struct Node {
    dir: PathBuf,
    ports: Ports,
    child: Option<Child>,
    paused: bool,
    starts: u32,
}

impl Node {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn cfg_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
    fn clock_path(&self) -> PathBuf {
        self.dir.join("faketime")
    }
}

/// What a node is doing, as the harness sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Running,
    Paused,
    Down,
}

/// A running ensemble; dropping it kills every node and removes its network.
pub struct Ensemble {
    config: EnsembleConfig,
    nodes: Vec<Node>,
    // Field order matters for Drop: nodes are killed in `drop`, then the network goes, then
    // the directory.
    net: Network,
    dir: Option<tempfile::TempDir>,
    keep_dir: bool,
}

impl Ensemble {
    /// Makes the network and the node dirs and starts every node; returns once there is a
    /// quorum with one leader (or fails after `timeout`).
    pub async fn start(config: EnsembleConfig, timeout: Duration) -> Result<Ensemble> {
        if !(1..=9).contains(&config.nodes) {
            return Err(Error::Usage(format!(
                "--nodes must be 1..9, not {}",
                config.nodes
            )));
        }
        if let Target::Zoolog { binary } = &config.target
            && !binary.is_file()
        {
            return Err(Error::Usage(format!(
                "no zoolog binary at {} (cargo build --bin zoolog)",
                binary.display()
            )));
        }
        if config.faketime && !Path::new(FAKETIME_LIB).is_file() {
            return Err(Error::Unavailable(format!(
                "the clock fault needs libfaketime ({FAKETIME_LIB}; apt-get install faketime)"
            )));
        }
        let net = Network::choose(config.nodes, config.namespaces);
        let dir = tempfile::Builder::new()
            .prefix("zoolog-nemesis-")
            .tempdir()
            .map_err(|e| Error::io("tempdir", e))?;
        let mut nodes = Vec::new();
        for i in 0..config.nodes {
            let ports = if net.is_namespaces() {
                Ports {
                    client: 2181,
                    quorum: 2888,
                    election: 3888,
                }
            } else {
                Ports {
                    client: free_port()?,
                    quorum: free_port()?,
                    election: free_port()?,
                }
            };
            let node_dir = dir.path().join(format!("node{}", i + 1));
            fs::create_dir_all(node_dir.join("data"))
                .map_err(|e| Error::io(format!("mkdir {}", node_dir.display()), e))?;
            nodes.push(Node {
                dir: node_dir,
                ports,
                child: None,
                paused: false,
                starts: 0,
            });
        }
        let mut e = Ensemble {
            config,
            nodes,
            net,
            dir: Some(dir),
            keep_dir: false,
        };
        e.write_configs()?;
        for i in 0..e.len() {
            e.spawn(i)?;
        }
        e.wait_quorum(timeout).await?;
        Ok(e)
    }

    fn write_configs(&self) -> Result<()> {
        let mut servers = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let a = self.net.addr(i);
            let _ = writeln!(
                servers,
                "server.{}={a}:{}:{};{a}:{}",
                i + 1,
                n.ports.quorum,
                n.ports.election,
                n.ports.client
            );
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let mut s = String::new();
            let _ = writeln!(s, "tickTime={}", self.config.tick_ms);
            let _ = writeln!(s, "initLimit=10");
            let _ = writeln!(s, "syncLimit=5");
            let _ = writeln!(s, "dataDir={}", n.data_dir().display());
            let _ = writeln!(s, "clientPort={}", n.ports.client);
            let _ = writeln!(s, "clientPortAddress={}", self.net.addr(i));
            let _ = writeln!(s, "maxClientCnxns=0");
            let _ = writeln!(s, "4lw.commands.whitelist=*");
            let _ = writeln!(s, "admin.enableServer=false");
            s.push_str(&servers);
            write_file(&n.cfg_path(), &s)?;
            write_file(&n.data_dir().join("myid"), &format!("{}\n", i + 1))?;
            write_file(&n.clock_path(), "+0\n")?;
        }
        Ok(())
    }

    fn command(&self, i: usize) -> Command {
        let n = &self.nodes[i];
        let mut c = match &self.config.target {
            Target::Zoolog { binary } => {
                let mut c = Command::new(binary);
                c.arg("serve").arg("--config").arg(n.cfg_path());
                c.env(
                    "RUST_LOG",
                    std::env::var("NEMESIS_ZOOLOG_LOG").unwrap_or("info,openraft=warn".into()),
                );
                c
            }
            Target::ZooKeeper => {
                let mut c = Command::new("java");
                let cp = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-simple.jar"]
                    .iter()
                    .map(|j| format!("{JAVA_LIB_DIR}/{j}"))
                    .collect::<Vec<_>>()
                    .join(":");
                c.args([
                    "-Xmx256m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-Djava.net.preferIPv4Stack=true",
                    "-Dzookeeper.admin.enableServer=false",
                    "-Dzookeeper.4lw.commands.whitelist=*",
                    "-Dzookeeper.jmx.log4j.disable=true",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                    "-Dorg.slf4j.simpleLogger.showDateTime=true",
                    "-cp",
                    &cp,
                    "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                ]);
                c.arg(n.cfg_path());
                c
            }
        };
        if self.config.faketime {
            c.env("LD_PRELOAD", FAKETIME_LIB)
                .env("FAKETIME_TIMESTAMP_FILE", n.clock_path())
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        for (k, v) in &self.config.env {
            c.env(k, v);
        }
        c.current_dir(&n.dir);
        c
    }

    /// Starts node `i` (not running) and returns at once.
    fn spawn(&mut self, i: usize) -> Result<()> {
        if self.nodes[i].child.is_some() {
            return Ok(());
        }
        let mut cmd = self.command(i);
        let node = &mut self.nodes[i];
        node.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log_path())
            .map_err(|e| Error::io("open server.log", e))?;
        let _ = writeln!(log, "=== zoolog-nemesis: start {} ===", node.starts);
        let err = log
            .try_clone()
            .map_err(|e| Error::io("dup server.log", e))?;
        let netns: Option<File> = match self.net.netns_path(i) {
            Some(p) => {
                Some(File::open(&p).map_err(|e| Error::io(format!("open {}", p.display()), e))?)
            }
            None => None,
        };
        let fd = netns.as_ref().map(|f| f.as_raw_fd());
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        // SAFETY: only async-signal-safe syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(fd) = fd
                    && libc::setns(fd, libc::CLONE_NEWNET) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("start {:?}", cmd.get_program()), e))?;
        drop(netns);
        let node = &mut self.nodes[i];
        node.child = Some(child);
        node.paused = false;
        Ok(())
    }

    pub fn target(&self) -> &Target {
        &self.config.target
    }

    pub fn config(&self) -> &EnsembleConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn uses_namespaces(&self) -> bool {
        self.net.is_namespaces()
    }

    /// The ensemble's work dir (node dirs with zoo.cfg, data, server.log).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Keep the work dir (with the servers' logs) after the ensemble is dropped.
    pub fn keep_dir(&mut self) {
        self.keep_dir = true;
    }

    pub fn addr(&self, i: usize) -> Ipv4Addr {
        self.net.addr(i)
    }

    pub fn client_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from((self.net.addr(i), self.nodes[i].ports.client))
    }

    /// Every node's client address, starting with node `first` (clients pick the first that
    /// answers, so rotating it spreads sessions over the nodes).
    pub fn connect_string_from(&self, first: usize) -> String {
        (0..self.len())
            .map(|k| self.client_addr((first + k) % self.len()).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn connect_string(&self) -> String {
        self.connect_string_from(0)
    }

    pub fn state(&mut self, i: usize) -> NodeState {
        let node = &mut self.nodes[i];
        match node.child.as_mut() {
            None => NodeState::Down,
            Some(c) => match c.try_wait() {
                Ok(None) if node.paused => NodeState::Paused,
                Ok(None) => NodeState::Running,
                _ => NodeState::Down,
            },
        }
    }

    /// SIGKILL of node `i`; waits until it is gone. Its data stays for [`Ensemble::restart`].
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(mut c) = node.child.take() {
            let pid = c.id() as libc::pid_t;
            // SAFETY: plain kill(2) on the process group we made for the child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        node.paused = false;
    }

    /// Starts node `i` again if it is down; returns at once.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        if self.state(i) == NodeState::Down {
            self.nodes[i].child = None;
            self.spawn(i)?;
        }
        Ok(())
    }

    fn signal(&mut self, i: usize, sig: libc::c_int) -> Result<()> {
        let Some(c) = self.nodes[i].child.as_ref() else {
            return Err(Error::Unavailable(format!("node {i} is not running")));
        };
        // SAFETY: kill(2) on the child's process group.
        let r = unsafe { libc::kill(-(c.id() as libc::pid_t), sig) };
        if r != 0 {
            return Err(Error::io(
                format!("signal {sig} to node {i}"),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    /// SIGSTOP of node `i`.
    pub fn pause(&mut self, i: usize) -> Result<()> {
        self.signal(i, libc::SIGSTOP)?;
        self.nodes[i].paused = true;
        Ok(())
    }

    /// SIGCONT of node `i`.
    pub fn resume(&mut self, i: usize) -> Result<()> {
        if self.nodes[i].child.is_some() {
            self.signal(i, libc::SIGCONT)?;
        }
        self.nodes[i].paused = false;
        Ok(())
    }

    /// Whether partitions can be made (namespaces).
    pub fn can_partition(&self) -> bool {
        self.net.is_namespaces()
    }

    /// Node `i` hears only the nodes in `hears[i]`.
    pub fn partition(&mut self, hears: &[BTreeSet<usize>]) -> Result<()> {
        self.net.partition(hears)
    }

    /// Removes every partition.
    pub fn heal_network(&mut self) -> Result<()> {
        self.net.heal()
    }

    /// Moves node `i`'s wall clock by `offset_s` seconds (libfaketime re-reads within ~1 s);
    /// monotonic clocks are untouched.
    pub fn set_clock(&mut self, i: usize, offset_s: i64) -> Result<()> {
        if !self.config.faketime {
            return Err(Error::Unavailable(
                "the ensemble was not started under libfaketime".into(),
            ));
        }
        write_file(&self.nodes[i].clock_path(), &format!("{offset_s:+}\n"))
    }

    /// Sends a four-letter word to node `i` (1 s to connect, 2 s to answer).
    pub async fn four_letter_word(&self, i: usize, word: &str) -> Result<String> {
        four_letter_word(self.client_addr(i), word).await
    }

    /// `Mode:` of node `i`'s `srvr`, if it answers (and, for zoolog, serves).
    pub async fn mode(&self, i: usize) -> Option<String> {
        if let Target::Zoolog { .. } = self.config.target {
            let log = fs::read(self.nodes[i].log_path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&log);
            // The latest start must have printed its serving line.
            let last = text
                .rsplit("=== zoolog-nemesis: start")
                .next()
                .unwrap_or("");
            if !last.contains("zoolog: serving on ") {
                return None;
            }
        }
        let s = self.four_letter_word(i, "srvr").await.ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix("Mode:"))
            .map(|m| m.trim().to_string())
    }

    /// The modes of every node (None: down, paused or not answering).
    pub async fn modes(&self) -> Vec<Option<String>> {
        let mut v = Vec::new();
        for i in 0..self.len() {
            if self.nodes[i].paused || self.nodes[i].child.is_none() {
                v.push(None);
            } else {
                v.push(self.mode(i).await);
            }
        }
        v
    }

    /// The node that says `Mode: leader`, if exactly one does.
    pub async fn leader(&self) -> Option<usize> {
        let modes = self.modes().await;
        let leaders: Vec<usize> = (0..modes.len())
            .filter(|&i| modes[i].as_deref() == Some("leader"))
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Waits until every running node serves as leader or follower and exactly one is the
    /// leader; returns the leader.
    pub async fn wait_quorum(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            for i in 0..self.len() {
                if self.nodes[i].child.is_some() && self.state(i) == NodeState::Down {
                    return Err(Error::NodeExited {
                        node: i,
                        log_tail: self.log_tail(i, 40),
                    });
                }
            }
            let modes = self.modes().await;
            let expected: Vec<usize> = (0..self.len())
                .filter(|&i| self.nodes[i].child.is_some() && !self.nodes[i].paused)
                .collect();
            let leaders = expected
                .iter()
                .filter(|&&i| modes[i].as_deref() == Some("leader"))
                .count();
            let serving = expected
                .iter()
                .all(|&i| matches!(modes[i].as_deref(), Some("leader" | "follower")));
            if serving
                && leaders == 1
                && let Some(l) = expected
                    .iter()
                    .copied()
                    .find(|&i| modes[i].as_deref() == Some("leader"))
            {
                return Ok(l);
            }
            if Instant::now() >= deadline {
                let desc = (0..self.len())
                    .map(|i| format!("node {i}: {}", modes[i].as_deref().unwrap_or("-")))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::Quorum(format!(
                    "no quorum with one leader after {timeout:?} ({desc})\n{}",
                    self.log_tails(30)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// zoolog's `ctl digest` of node `i` (`applied: P\ndigest: D`); None for ZooKeeper.
    pub fn digest(&self, i: usize) -> Result<Option<String>> {
        let Target::Zoolog { binary } = &self.config.target else {
            return Ok(None);
        };
        let data = self.nodes[i].data_dir();
        let bin = binary.to_string_lossy().into_owned();
        let d = data.to_string_lossy().into_owned();
        let out = crate::net::run(&bin, &["ctl", "--data-dir", &d, "digest"])?;
        Ok(Some(out.trim().replace('\n', " ")))
    }

    /// Node `i`'s whole log (every start).
    pub fn log(&self, i: usize) -> String {
        fs::read(self.nodes[i].log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of node `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = fs::read(self.nodes[i].log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn log_tails(&self, lines: usize) -> String {
        let mut s = String::new();
        for i in 0..self.len() {
            let _ = writeln!(
                s,
                "--- node {i} ({}): tail of {} ---\n{}",
                self.client_addr(i),
                self.nodes[i].log_path().display(),
                self.log_tail(i, lines)
            );
        }
        s
    }

    /// Kills every node.
    pub fn stop(&mut self) {
        for i in 0..self.len() {
            self.kill(i);
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        self.stop();
        if (self.keep_dir || std::env::var_os("NEMESIS_KEEP_DIR").is_some())
            && let Some(d) = self.dir.take()
        {
            eprintln!(
                "zoolog-nemesis: kept the ensemble's dir {}",
                d.keep().display()
            );
        }
    }
}

/// Sends a four-letter word and reads the answer until the server closes.
pub async fn four_letter_word(addr: SocketAddr, word: &str) -> Result<String> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&out).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(2), io).await {
        Ok(r) => r.map_err(|e| Error::io(format!("{word} to {addr}"), e)),
        Err(_) => Err(Error::Timeout(format!("{word} to {addr}"))),
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// A free port on 127.0.0.1 (bound to 0 and released).
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("bind", e))?;
    Ok(l.local_addr()
        .map_err(|e| Error::io("local_addr", e))?
        .port())
}
