//! The two servers under comparison: Apache ZooKeeper 3.8 (Debian jars) and a zoolog node, both
//! started here with the same settings, or already running somewhere (addresses from the
//! environment, see [`Servers::from_env`]).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the Debian packages `zookeeper` and `libslf4j-java` put their jars.
pub const JAVA_LIB_DIR: &str = "/usr/share/java";

/// Server settings both servers get (zoo.cfg keys as ZooKeeper's).
#[derive(Clone, Debug)]
pub struct Settings {
    pub tick_time_ms: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    /// `znode.container.checkIntervalMs`: how often containers and TTL nodes are reaped.
    pub container_check_interval_ms: u32,
    /// The super user (`DigestAuthenticationProvider.superDigest`).
    pub super_user: (String, String),
    /// `extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tick_time_ms: 500,
            min_session_timeout_ms: 1000,
            max_session_timeout_ms: 20000,
            container_check_interval_ms: 300,
            super_user: ("super".into(), "secret".into()),
            extended_types: true,
        }
    }
}

impl Settings {
    /// Settings from `COMPAT_TICK_TIME`, `COMPAT_MIN_SESSION_TIMEOUT`, `COMPAT_MAX_SESSION_TIMEOUT`,
    /// `COMPAT_CONTAINER_CHECK_MS`, `COMPAT_SUPER` (`user:password`) over the defaults. Only
    /// needed when the servers run elsewhere with other settings.
    pub fn from_env() -> Settings {
        let mut s = Settings::default();
        let num = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        if let Some(v) = num("COMPAT_TICK_TIME") {
            s.tick_time_ms = v;
        }
        if let Some(v) = num("COMPAT_MIN_SESSION_TIMEOUT") {
            s.min_session_timeout_ms = v;
        }
        if let Some(v) = num("COMPAT_MAX_SESSION_TIMEOUT") {
            s.max_session_timeout_ms = v;
        }
        if let Some(v) = num("COMPAT_CONTAINER_CHECK_MS") {
            s.container_check_interval_ms = v;
        }
        if let Ok(v) = std::env::var("COMPAT_SUPER")
            && let Some((u, p)) = v.split_once(':')
        {
            s.super_user = (u.to_string(), p.to_string());
        }
        s
    }

    /// `user:base64(sha1(user:password))` of the super user.
    pub fn super_digest(&self) -> String {
        digest_id(&self.super_user.0, &self.super_user.1)
    }

    /// The zoo.cfg both servers get.
    pub fn zoo_cfg(&self, data_dir: &Path, port: u16) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "tickTime={}", self.tick_time_ms);
        let _ = writeln!(s, "dataDir={}", data_dir.display());
        let _ = writeln!(s, "clientPort={port}");
        let _ = writeln!(s, "clientPortAddress=127.0.0.1");
        let _ = writeln!(s, "minSessionTimeout={}", self.min_session_timeout_ms);
        let _ = writeln!(s, "maxSessionTimeout={}", self.max_session_timeout_ms);
        let _ = writeln!(s, "maxClientCnxns=0");
        let _ = writeln!(s, "4lw.commands.whitelist=*");
        let _ = writeln!(s, "admin.enableServer=false");
        if self.extended_types {
            let _ = writeln!(s, "extendedTypesEnabled=true");
        }
        let _ = writeln!(
            s,
            "DigestAuthenticationProvider.superDigest={}",
            self.super_digest()
        );
        let _ = writeln!(
            s,
            "znode.container.checkIntervalMs={}",
            self.container_check_interval_ms
        );
        s
    }
}

/// `user:base64(sha1("user:password"))`: a digest ACL id, and the superDigest format.
pub fn digest_id(user: &str, password: &str) -> String {
    use base64::Engine as _;
    use sha1::Digest as _;
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Which implementation a server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

/// A running server: started here (killed on drop) or external.
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    process: Option<Process>,
}

struct Process {
    child: Child,
    watchdog: Option<ChildStdin>,
    _dir: tempfile::TempDir,
    log_path: PathBuf,
}

const START_TIMEOUT: Duration = Duration::from_secs(90);

impl Server {
    /// Apache ZooKeeper 3.8 standalone from the Debian jars, with `settings`.
    pub fn start_zookeeper(settings: &Settings) -> Result<Server, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempdir("compat-zk-")?;
            let data_dir = dir.path().join("data");
            fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
            let port = free_port();
            let cfg = dir.path().join("zoo.cfg");
            fs::write(&cfg, settings.zoo_cfg(&data_dir, port)).map_err(|e| e.to_string())?;
            let mut c = Command::new("java");
            c.arg("-Xmx256m")
                .arg("-XX:+UseSerialGC")
                .arg("-XX:TieredStopAtLevel=1")
                .arg("-Djava.net.preferIPv4Stack=true")
                .arg("-Dzookeeper.admin.enableServer=false")
                .arg("-Dzookeeper.4lw.commands.whitelist=*")
                .arg("-Dzookeeper.jmx.log4j.disable=true")
                .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
                .arg("-Dorg.slf4j.simpleLogger.showDateTime=true")
                .arg(format!(
                    "-Dznode.container.checkIntervalMs={}",
                    settings.container_check_interval_ms
                ))
                .arg(format!(
                    "-Dzookeeper.DigestAuthenticationProvider.superDigest={}",
                    settings.super_digest()
                ));
            if settings.extended_types {
                c.arg("-Dzookeeper.extendedTypesEnabled=true");
            }
            let cp = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-simple.jar"]
                .iter()
                .map(|j| format!("{JAVA_LIB_DIR}/{j}"))
                .collect::<Vec<_>>()
                .join(":");
            c.arg("-cp")
                .arg(cp)
                .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
                .arg(&cfg);
            let log_path = dir.path().join("server.log");
            let (child, watchdog) = spawn_with_watchdog(&c, &log_path)
                .map_err(|e| format!("cannot start java: {e}"))?;
            let mut server = Server {
                kind: Kind::ZooKeeper,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                process: Some(Process {
                    child,
                    watchdog: Some(watchdog),
                    _dir: dir,
                    log_path,
                }),
            };
            // Another process may answer on a port we thought free: wait for our own server's
            // "binding to port" before asking it anything.
            let marker = format!("binding to port /127.0.0.1:{port}");
            let deadline = Instant::now() + START_TIMEOUT;
            while !server.log_tail(400).contains(&marker)
                && server.is_running()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            match server.wait_ready(None) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let log = server.log_tail(40);
                    last = format!("Apache ZooKeeper did not start: {e}\n{log}");
                    if !log.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    /// A zoolog node (`zoolog serve --config zoo.cfg`, clientPort 0) with `settings`.
    pub fn start_zoolog(bin: &Path, settings: &Settings) -> Result<Server, String> {
        let dir = tempdir("compat-zoolog-")?;
        let data_dir = dir.path().join("data");
        fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
        let cfg = dir.path().join("zoo.cfg");
        fs::write(&cfg, settings.zoo_cfg(&data_dir, 0)).map_err(|e| e.to_string())?;
        let mut c = Command::new(bin);
        c.arg("serve").arg("--config").arg(&cfg);
        c.env(
            "RUST_LOG",
            std::env::var("COMPAT_ZOOLOG_LOG").unwrap_or("warn".into()),
        );
        let log_path = dir.path().join("server.log");
        let (child, watchdog) = spawn_with_watchdog(&c, &log_path)
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = Server {
            kind: Kind::Zoolog,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            process: Some(Process {
                child,
                watchdog: Some(watchdog),
                _dir: dir,
                log_path: log_path.clone(),
            }),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.starts_with("zoolog: serving on ")) {
                let a = line.trim_start_matches("zoolog: serving on ").trim();
                server.addr = a
                    .parse()
                    .map_err(|e| format!("zoolog printed a bad address {a:?}: {e}"))?;
                break;
            }
            if let Some(p) = server.process.as_mut()
                && let Ok(Some(st)) = p.child.try_wait()
            {
                return Err(format!(
                    "zoolog exited early ({st})\n{}",
                    server.log_tail(40)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("zoolog did not start\n{}", server.log_tail(40)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server.wait_ready(None)?;
        Ok(server)
    }

    /// A server someone else runs.
    pub fn external(kind: Kind, addr: SocketAddr) -> Server {
        Server {
            kind,
            addr,
            process: None,
        }
    }

    pub fn is_external(&self) -> bool {
        self.process.is_none()
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.process.as_ref().map(|p| p.log_path.as_path())
    }

    /// The last `n` lines of the server's output.
    pub fn log_tail(&self, n: usize) -> String {
        let Some(p) = self.log_path() else {
            return String::new();
        };
        let text = fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Whether the process (if we started it) is still running.
    pub fn is_running(&mut self) -> bool {
        match self.process.as_mut() {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => true,
        }
    }

    fn wait_ready(&mut self, timeout: Option<Duration>) -> Result<(), String> {
        let deadline = Instant::now() + timeout.unwrap_or(START_TIMEOUT);
        let mut last;
        loop {
            if let Some(p) = self.process.as_mut()
                && let Ok(Some(st)) = p.child.try_wait()
            {
                return Err(format!("process exited early ({st})"));
            }
            match four_letter_word(self.addr, "ruok") {
                Ok(a) if a == "imok" => match four_letter_word(self.addr, "srvr") {
                    // ZooKeeper answers ruok before its server is serving; srvr knows.
                    Ok(s) if s.starts_with("Zookeeper version:") => return Ok(()),
                    Ok(s) => last = format!("srvr -> {s:?}"),
                    Err(e) => last = format!("srvr: {e}"),
                },
                Ok(a) => last = format!("ruok -> {a:?}"),
                Err(e) => last = format!("ruok: {e}"),
            }
            if Instant::now() > deadline {
                return Err(format!("not serving ({last})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let Some(p) = self.process.as_mut() else {
            return;
        };
        drop(p.watchdog.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match p.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = Command::new("kill")
                        .arg("-KILL")
                        .arg("--")
                        .arg(format!("-{}", p.child.id()))
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    let _ = p.child.wait();
                    break;
                }
            }
        }
    }
}

/// The pair under comparison.
pub struct Servers {
    pub zookeeper: Server,
    pub zoolog: Server,
    pub settings: Settings,
}

impl Servers {
    /// `COMPAT_ZOOKEEPER=host:port` and `COMPAT_ZOOLOG=host:port` name running servers (both, or
    /// either; the other one is started here). Otherwise both are started with
    /// [`Settings::default`]. The zoolog binary is `ZOOLOG_BIN`, else the workspace's
    /// `target/<profile>/zoolog` (built first with `cargo build --bin zoolog`).
    pub fn from_env() -> Result<Servers, String> {
        let settings = Settings::from_env();
        let zk_addr = env_addr("COMPAT_ZOOKEEPER")?;
        let zl_addr = env_addr("COMPAT_ZOOLOG")?;
        // Start what is needed, both at once (ZooKeeper's JVM takes a few seconds).
        let zl_handle = if zl_addr.is_none() {
            let s = settings.clone();
            Some(std::thread::spawn(move || {
                let bin = zoolog_binary()?;
                Server::start_zoolog(&bin, &s)
            }))
        } else {
            None
        };
        let zookeeper = match zk_addr {
            Some(a) => Server::external(Kind::ZooKeeper, a),
            None => Server::start_zookeeper(&settings)?,
        };
        let zoolog = match (zl_addr, zl_handle) {
            (Some(a), _) => Server::external(Kind::Zoolog, a),
            (None, Some(h)) => h
                .join()
                .map_err(|_| "zoolog launcher panicked".to_string())??,
            (None, None) => unreachable!(),
        };
        Ok(Servers {
            zookeeper,
            zoolog,
            settings,
        })
    }
}

fn env_addr(key: &str) -> Result<Option<SocketAddr>, String> {
    match std::env::var(key) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .to_socket_addrs()
            .map_err(|e| format!("{key}={v}: {e}"))?
            .next()
            .map(Some)
            .ok_or_else(|| format!("{key}={v}: no address")),
        _ => Ok(None),
    }
}

/// The zoolog binary: `ZOOLOG_BIN`, or `target/<profile>/zoolog` of this workspace after
/// `cargo build --bin zoolog` (a no-op when it is up to date).
pub fn zoolog_binary() -> Result<PathBuf, String> {
    if let Ok(b) = std::env::var("ZOOLOG_BIN") {
        return Ok(PathBuf::from(b));
    }
    // The test/bin executable lives in target/<profile>/deps or target/<profile>.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("zoolog");
    let profile_release = dir.ends_with("release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    if std::env::var("COMPAT_NO_BUILD").is_err() {
        let mut c = Command::new(cargo);
        c.arg("build")
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("-p")
            .arg("zoolog")
            .arg("--bin")
            .arg("zoolog");
        if profile_release {
            c.arg("--release");
        }
        match c.status() {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!(
                "compat: `cargo build --bin zoolog` failed ({s}); using {}",
                bin.display()
            ),
            Err(e) => eprintln!("compat: cannot run cargo ({e}); using {}", bin.display()),
        }
    }
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "no zoolog binary at {} (set ZOOLOG_BIN or run `cargo build --bin zoolog`)",
            bin.display()
        ))
    }
}

fn tempdir(prefix: &str) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("tempdir: {e}"))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Sends a four-letter word (or any raw bytes) and reads the answer until the server closes.
pub fn four_letter_word(addr: SocketAddr, word: &str) -> std::io::Result<String> {
    raw_exchange(addr, word.as_bytes()).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Writes `bytes` on a fresh connection and reads until the server closes.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(bytes)?;
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        // A reset after the answer still leaves the answer.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(e),
    }
}

/// Starts `cmd` under a small `sh` watchdog in its own process group: the program is killed when
/// the returned stdin pipe closes (dropped by us, or by the kernel when this process dies).
/// stdout and stderr of the program go to `log_path`. Also used by the root crate's test support.
pub fn spawn_with_watchdog(cmd: &Command, log_path: &Path) -> std::io::Result<(Child, ChildStdin)> {
    const SCRIPT: &str = r#"exec 3<&0 0</dev/null
"$@" &
pid=$!
( read -r _ <&3; kill -KILL "$pid" 2>/dev/null ) &
wait "$pid""#;
    let log = File::create(log_path)?;
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(SCRIPT)
        .arg("compat-watchdog")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        sh.current_dir(d);
    }
    sh.stdin(Stdio::piped())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .process_group(0);
    let mut child = sh.spawn()?;
    let stdin = child.stdin.take().expect("piped stdin");
    Ok((child, stdin))
}
