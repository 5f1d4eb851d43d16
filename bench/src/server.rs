//! Starting, stopping and restarting the two servers under test as child processes.

use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{Conn, four_letter_word};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    ZooKeeper,
    Zoolog,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::ZooKeeper => "zookeeper",
            Kind::Zoolog => "zoolog",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::ZooKeeper => "ZooKeeper",
            Kind::Zoolog => "zoolog",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "zookeeper" | "zk" | "apache" => Some(Kind::ZooKeeper),
            "zoolog" | "zl" => Some(Kind::Zoolog),
            _ => None,
        }
    }
}

/// How to start each server.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub zoolog_bin: PathBuf,
    pub java: String,
    /// Jars (in /usr/share/java unless absolute) for Apache ZooKeeper.
    pub zk_classpath: String,
    /// -Xmx of the ZooKeeper JVM (ZooKeeper's zkEnv.sh default is 1000 MB).
    pub zk_heap_mb: u32,
}

pub const JAVA_LIB_DIR: &str = "/usr/share/java";

impl Launcher {
    pub fn default_classpath() -> String {
        ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-simple.jar"]
            .iter()
            .map(|j| format!("{JAVA_LIB_DIR}/{j}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    fn command(&self, kind: Kind, cfg: &Path, ensemble: bool) -> Command {
        match kind {
            Kind::Zoolog => {
                let mut c = Command::new(&self.zoolog_bin);
                c.arg("serve").arg("--config").arg(cfg);
                c
            }
            Kind::ZooKeeper => {
                let mut c = Command::new(&self.java);
                c.arg(format!("-Xmx{}m", self.zk_heap_mb))
                    .arg("-Djava.net.preferIPv4Stack=true")
                    .arg("-Dzookeeper.admin.enableServer=false")
                    .arg("-Dzookeeper.4lw.commands.whitelist=*")
                    .arg("-Dzookeeper.jmx.log4j.disable=true")
                    .arg("-Dorg.slf4j.simpleLogger.showDateTime=true")
                    .arg("-cp")
                    .arg(&self.zk_classpath)
                    .arg(if ensemble {
                        "org.apache.zookeeper.server.quorum.QuorumPeerMain"
                    } else {
                        "org.apache.zookeeper.server.ZooKeeperServerMain"
                    })
                    .arg(cfg);
                c
            }
        }
    }
}

/// A server's directory: `zoo.cfg`, `data/`, `server.log`; it outlives restarts.
pub struct ServerDir {
    pub kind: Kind,
    pub dir: PathBuf,
    pub port: u16,
    /// A member of an ensemble (its zoo.cfg lists the servers).
    pub ensemble: bool,
}

impl ServerDir {
    /// Makes `dir` with a zoo.cfg for `kind` on a free port (the same keys for both servers:
    /// ZooKeeper's defaults, so its txn log is fsynced before every ack — forceSync=yes).
    pub fn create(kind: Kind, dir: PathBuf) -> io::Result<ServerDir> {
        let data = dir.join("data");
        fs::create_dir_all(&data)?;
        let port = free_port()?;
        let cfg = format!(
            "tickTime=2000\n\
             dataDir={}\n\
             clientPort={port}\n\
             clientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n",
            data.display()
        );
        fs::write(dir.join("zoo.cfg"), cfg)?;
        Ok(ServerDir {
            kind,
            dir,
            port,
            ensemble: false,
        })
    }

    /// Makes `dir` for member `id` of an ensemble on client port `port`: the same keys as a
    /// single server plus `servers` (the `server.N` lines) and `myid`.
    pub fn create_member(
        kind: Kind,
        dir: PathBuf,
        id: u64,
        port: u16,
        servers: &str,
        extra: &str,
    ) -> io::Result<ServerDir> {
        let data = dir.join("data");
        fs::create_dir_all(&data)?;
        fs::write(data.join("myid"), format!("{id}\n"))?;
        let cfg = format!(
            "tickTime=2000\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={}\n\
             maxClientCnxns=0\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n\
             {extra}\
             {servers}",
            data.display()
        );
        fs::write(dir.join("zoo.cfg"), cfg)?;
        Ok(ServerDir {
            kind,
            dir,
            port,
            ensemble: true,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn cfg(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }
}

/// A running server process (killed on drop).
pub struct Running {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    pub started: Instant,
}

/// Spawns the server of `dir` (call from the main thread: the child gets SIGKILL when the
/// spawning thread exits). Does not wait for it to serve.
pub fn spawn(launcher: &Launcher, dir: &ServerDir) -> io::Result<Running> {
    let log_path = dir.log();
    let log = File::options().create(true).append(true).open(&log_path)?;
    let mut cmd = launcher.command(dir.kind, &dir.cfg(), dir.ensemble);
    cmd.current_dir(&dir.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot start {:?}: {e}", cmd.get_program()),
        )
    })?;
    Ok(Running {
        kind: dir.kind,
        addr: dir.addr(),
        child,
        log: log_path,
        started,
    })
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a new session can be established (and, with `probe`, a getData of that
    /// path answers). Returns the time since the process was spawned.
    pub async fn wait_serving(
        &mut self,
        timeout: Duration,
        probe: Option<(&str, usize)>,
    ) -> io::Result<Duration> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(io::Error::other(format!(
                    "{} exited early ({st}); log tail:\n{}",
                    self.kind.label(),
                    self.log_tail(30)
                )));
            }
            match probe_once(self.addr, probe).await {
                Ok(at) => return Ok(at.duration_since(self.started)),
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} not serving after {timeout:?} ({last}); log tail:\n{}",
                        self.kind.label(),
                        self.log_tail(30)
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The version string from `srvr`.
    pub async fn version(&self) -> String {
        match four_letter_word(self.addr, "srvr").await {
            Ok(s) => s
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("Zookeeper version: ")
                .to_string(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// SIGTERM, then SIGKILL after `grace`. Returns how long the process took to exit.
    pub fn stop(&mut self, grace: Duration) -> Duration {
        let t0 = Instant::now();
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            while t0.elapsed() < grace {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return t0.elapsed();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        t0.elapsed()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// One attempt: a new session, then (with `probe`) a getData of that path that must return a
/// value of that size. Returns when the server had answered (before the session is closed).
async fn probe_once(addr: SocketAddr, probe: Option<(&str, usize)>) -> io::Result<Instant> {
    use crate::client::invalid;
    use zoolog_jute::{GetDataRequest, Request, Response};
    let fut = async {
        let mut c = Conn::connect(addr, 30_000).await?;
        if let Some((path, size)) = probe {
            let r = c
                .call(&Request::GetData(GetDataRequest {
                    path: path.to_string().into(),
                    watch: false,
                }))
                .await?;
            r.ok().map_err(invalid)?;
            match r.decode().map_err(invalid)? {
                Response::GetData(g) if g.data.as_ref().map(|d| d.len()) == Some(size) => {}
                other => {
                    return Err(invalid(format!("probe getData: unexpected {other:?}")));
                }
            }
        }
        let answered = Instant::now();
        let _ = c.close().await;
        Ok(answered)
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "probe timed out"))?
}

/// A free TCP port on 127.0.0.1 (bound to port 0 and released).
pub fn free_port() -> io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
