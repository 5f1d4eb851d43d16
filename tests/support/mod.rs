//! Test support for the client suites: ZooKeeper-protocol servers run as child processes, and a
//! runner for the out-of-process client suites under `tests/clients/`.
//!
//! A [`Server`] is "something with an address that a suite runs against". Constructors:
//!
//! * [`Server::apache`]: Apache ZooKeeper 3.8 standalone from the Debian jars (the reference).
//! * [`Server::external`]: a server someone else runs (nothing is started or stopped).
//! * [`Server::launch`]: the generic launcher the others build on. It picks a free port on
//!   127.0.0.1, makes a temp dir with `data/`, writes `zoo.cfg` there, starts the command the
//!   caller builds from a [`Launch`], waits for `ruok` -> `imok` and a `srvr` answer, and kills
//!   the process on drop (also when the test panics). A zoolog launcher is one more constructor:
//!   `Server::launch("zoolog", config, |l| { let mut c = Command::new(env!("CARGO_BIN_EXE_zoolog"));
//!   c.arg("serve").arg("--config").arg(&l.cfg_path); c })`.
//!
//! Process output goes to `server.log` in the temp dir; its tail is printed when the server is
//! dropped during a panic (a failing test). Set `ZOOLOG_KEEP_SERVER_DIR=1` to keep the temp dir
//! (zoo.cfg, data/, server.log) after the test.
#![allow(dead_code)]

pub mod ensemble;
pub mod suites;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use zoolog_compat::server::spawn_with_watchdog;

/// The Debian packages `zookeeper` / `libslf4j-java` put their jars here.
pub const JAVA_LIB_DIR: &str = "/usr/share/java";

/// Server settings that a suite may depend on. The same values go into `zoo.cfg` for every kind of
/// server, and are handed to the suites (`--tick-time`, `--min-session-timeout`, ...).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `tickTime` in milliseconds (ZooKeeper's sample config uses 2000).
    pub tick_time_ms: u32,
    /// `minSessionTimeout`; `None` means ZooKeeper's default, 2 ticks.
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout`; `None` means ZooKeeper's default, 20 ticks.
    pub max_session_timeout_ms: Option<u32>,
    /// `znode.container.checkIntervalMs` (how often containers and TTL nodes are reaped);
    /// `None` leaves the server default (60 s).
    pub container_check_interval_ms: Option<u32>,
    /// `(user, password)` of the super user (`zookeeper.DigestAuthenticationProvider.superDigest`).
    pub super_user: Option<(String, String)>,
    /// `zookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
    /// More zoo.cfg lines, as they are (for keys of one server only).
    pub extra: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time_ms: 2000,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            container_check_interval_ms: None,
            super_user: None,
            extended_types: true,
            extra: String::new(),
        }
    }
}

impl ServerConfig {
    /// The effective minimum session timeout (ZooKeeper's rule: default 2 ticks).
    pub fn min_session_timeout(&self) -> u32 {
        self.min_session_timeout_ms.unwrap_or(2 * self.tick_time_ms)
    }

    /// The effective maximum session timeout (ZooKeeper's rule: default 20 ticks).
    pub fn max_session_timeout(&self) -> u32 {
        self.max_session_timeout_ms
            .unwrap_or(20 * self.tick_time_ms)
    }

    /// `superDigest` value, `user:base64(sha1(user:password))`.
    pub fn super_digest(&self) -> Option<String> {
        self.super_user.as_ref().map(|(u, p)| digest_id(u, p))
    }

    /// zoo.cfg text. Keys ZooKeeper does not know as config keys become system properties
    /// `zookeeper.<key>` (so `extendedTypesEnabled`, `DigestAuthenticationProvider.superDigest`
    /// work from here too); `znode.container.checkIntervalMs` is a plain JVM property for
    /// ZooKeeper (passed with -D by [`Server::apache`]) and is written here for other servers.
    pub fn zoo_cfg(&self, data_dir: &Path, port: u16) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "tickTime={}", self.tick_time_ms);
        let _ = writeln!(s, "dataDir={}", data_dir.display());
        let _ = writeln!(s, "clientPort={port}");
        let _ = writeln!(s, "clientPortAddress=127.0.0.1");
        let _ = writeln!(s, "minSessionTimeout={}", self.min_session_timeout());
        let _ = writeln!(s, "maxSessionTimeout={}", self.max_session_timeout());
        let _ = writeln!(s, "maxClientCnxns=0");
        let _ = writeln!(s, "4lw.commands.whitelist=*");
        let _ = writeln!(s, "admin.enableServer=false");
        if self.extended_types {
            let _ = writeln!(s, "extendedTypesEnabled=true");
        }
        if let Some(d) = self.super_digest() {
            let _ = writeln!(s, "DigestAuthenticationProvider.superDigest={d}");
        }
        if let Some(ms) = self.container_check_interval_ms {
            let _ = writeln!(s, "znode.container.checkIntervalMs={ms}");
        }
        s.push_str(&self.extra);
        s
    }
}

/// What a launcher gets to build its command from. `zoo.cfg` is already written.
pub struct Launch<'a> {
    /// The server's own temp dir (holds `zoo.cfg`, `data/`, `server.log`).
    pub dir: &'a Path,
    pub data_dir: PathBuf,
    pub cfg_path: PathBuf,
    pub port: u16,
    pub config: &'a ServerConfig,
}

/// A running (or external) ZooKeeper-protocol server. Dropping it stops the process.
pub struct Server {
    name: String,
    addr: SocketAddr,
    /// The connection string when it names more than `addr` (an ensemble's servers).
    hosts: Option<String>,
    config: ServerConfig,
    process: Option<Process>,
}

struct Process {
    child: Child,
    /// Closing this makes the watchdog shell kill the server (also if the test process dies).
    watchdog: Option<ChildStdin>,
    dir: tempfile::TempDir,
    log_path: PathBuf,
}

const START_TIMEOUT: Duration = Duration::from_secs(90);

impl Server {
    /// Apache ZooKeeper 3.8 standalone (`ZooKeeperServerMain`) from the Debian jars.
    pub fn apache(config: ServerConfig) -> Server {
        Server::launch("Apache ZooKeeper", config, |l| {
            apache_command(
                l.config,
                "org.apache.zookeeper.server.ZooKeeperServerMain",
                &l.cfg_path,
            )
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A server that is already running at `addr` with `config` (nothing is started or stopped).
    pub fn external(name: &str, addr: SocketAddr, config: ServerConfig) -> Server {
        Server {
            name: name.to_string(),
            addr,
            hosts: None,
            config,
            process: None,
        }
    }

    /// Servers that are already running, reached through the connection string `hosts`
    /// (`host:port,host:port,...`, e.g. an ensemble's, see [`ensemble::Ensemble::target`]); the
    /// suites get all of `hosts`, [`Server::addr`] and the four-letter words use the first one.
    /// Nothing is started or stopped.
    pub fn external_hosts(name: &str, hosts: &str, config: ServerConfig) -> Server {
        let first = hosts.split(',').next().unwrap_or(hosts).trim();
        let addr = first
            .parse()
            .unwrap_or_else(|e| panic!("{name}: bad address {first:?} in {hosts:?}: {e}"));
        Server {
            name: name.to_string(),
            addr,
            hosts: Some(hosts.to_string()),
            config,
            process: None,
        }
    }

    /// Starts a server process built by `build` on a free 127.0.0.1 port; see the module docs.
    /// Retries with another port if the first one was taken in the meantime.
    pub fn launch(
        name: &str,
        config: ServerConfig,
        build: impl Fn(&Launch) -> Command,
    ) -> Result<Server, String> {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("zoolog-server-")
                .tempdir()
                .map_err(|e| format!("{name}: tempdir: {e}"))?;
            let data_dir = dir.path().join("data");
            fs::create_dir_all(&data_dir).map_err(|e| format!("{name}: {e}"))?;
            let port = free_port();
            let cfg_path = dir.path().join("zoo.cfg");
            fs::write(&cfg_path, config.zoo_cfg(&data_dir, port))
                .map_err(|e| format!("{name}: write zoo.cfg: {e}"))?;
            let log_path = dir.path().join("server.log");
            let launch = Launch {
                dir: dir.path(),
                data_dir,
                cfg_path,
                port,
                config: &config,
            };
            let cmd = build(&launch);
            let child = spawn_with_watchdog(&cmd, &log_path)
                .map_err(|e| format!("{name}: cannot start {:?}: {e}", cmd.get_program()))?;
            let mut server = Server {
                name: name.to_string(),
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                hosts: None,
                config: config.clone(),
                process: Some(Process {
                    child: child.0,
                    watchdog: Some(child.1),
                    dir,
                    log_path,
                }),
            };
            match server.wait_ready(START_TIMEOUT) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let log = server.log_tail(60);
                    let port_taken = log.contains("Address already in use");
                    last_err =
                        format!("{name} did not start: {e}\n--- server log (tail) ---\n{log}");
                    server.stop();
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        Err(last_err)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` (or every server's, for [`Server::external_hosts`]), as client libraries
    /// take it.
    pub fn connect_string(&self) -> String {
        match &self.hosts {
            Some(h) => h.clone(),
            None => self.addr.to_string(),
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The server's temp dir, if this process started it.
    pub fn dir(&self) -> Option<&Path> {
        self.process.as_ref().map(|p| p.dir.path())
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.process.as_ref().map(|p| p.log_path.as_path())
    }

    /// The server program's pid (not its watchdog shell's), if this process started it.
    pub fn pid(&self) -> Option<u32> {
        let shell = self.process.as_ref()?.child.id();
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Fields after the command name, which is in parentheses: state, ppid, ...
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let comm = stat
                .get(stat.find('(').map_or(0, |i| i + 1)..close)
                .unwrap_or("");
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(shell) && comm != "sh" {
                return Some(pid);
            }
        }
        None
    }

    /// The last `lines` lines of the server's output (empty for an external server).
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(p) = self.log_path() else {
            return String::new();
        };
        let text = fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Arguments every client suite takes to describe this server.
    pub fn suite_args(&self) -> Vec<String> {
        let c = &self.config;
        let mut v = vec![
            "--server".to_string(),
            self.connect_string(),
            "--tick-time".to_string(),
            c.tick_time_ms.to_string(),
            "--min-session-timeout".to_string(),
            c.min_session_timeout().to_string(),
            "--max-session-timeout".to_string(),
            c.max_session_timeout().to_string(),
        ];
        if let Some((u, p)) = &c.super_user {
            v.push("--super".to_string());
            v.push(format!("{u}:{p}"));
        }
        if let Some(ms) = c.container_check_interval_ms {
            v.push("--container-check-ms".to_string());
            v.push(ms.to_string());
        }
        if !c.extended_types {
            v.push("--no-ttl".to_string());
        }
        v
    }

    /// Sends a four-letter word and returns the server's answer.
    pub fn four_letter_word(&self, word: &str) -> std::io::Result<String> {
        four_letter_word(self.addr, word)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            if let Some(p) = self.process.as_mut()
                && let Ok(Some(status)) = p.child.try_wait()
            {
                return Err(format!("process exited early ({status})"));
            }
            match self.four_letter_word("ruok") {
                Ok(a) if a == "imok" => match self.four_letter_word("srvr") {
                    Ok(s) if s.starts_with("Zookeeper version:") => return Ok(()),
                    Ok(s) => last = format!("srvr -> {s:?}"),
                    Err(e) => last = format!("srvr: {e}"),
                },
                Ok(a) => last = format!("ruok -> {a:?}"),
                Err(e) => last = format!("ruok: {e}"),
            }
            if Instant::now() >= deadline {
                return Err(format!("not serving after {timeout:?} ({last})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        let Some(p) = self.process.as_mut() else {
            return;
        };
        drop(p.watchdog.take()); // the watchdog kills the server
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match p.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    kill_process_group(p.child.id());
                    let _ = p.child.wait();
                    break;
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.process.is_none() {
            return;
        }
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "--- {} at {}: server log (tail of {}) ---\n{}\n--- end of server log ---",
                self.name,
                self.addr,
                self.log_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                self.log_tail(150)
            );
        }
        if std::env::var_os("ZOOLOG_KEEP_SERVER_DIR").is_some()
            && let Some(p) = self.process.take()
        {
            let kept = p.dir.keep();
            eprintln!("{}: kept {}", self.name, kept.display());
        }
    }
}

/// The command that runs Apache ZooKeeper's `main_class` (`ZooKeeperServerMain` standalone,
/// `QuorumPeerMain` in an ensemble) from the Debian jars on `cfg_path`, with the JVM properties
/// `config` needs (keys zoo.cfg cannot carry for ZooKeeper).
pub fn apache_command(config: &ServerConfig, main_class: &str, cfg_path: &Path) -> Command {
    let mut c = Command::new("java");
    c.arg("-Xmx256m")
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-Djava.net.preferIPv4Stack=true")
        .arg("-Dzookeeper.admin.enableServer=false")
        .arg("-Dzookeeper.4lw.commands.whitelist=*")
        .arg("-Dzookeeper.jmx.log4j.disable=true")
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
        .arg("-Dorg.slf4j.simpleLogger.showDateTime=true");
    if config.extended_types {
        c.arg("-Dzookeeper.extendedTypesEnabled=true");
    }
    if let Some(ms) = config.container_check_interval_ms {
        c.arg(format!("-Dznode.container.checkIntervalMs={ms}"));
    }
    if let Some(d) = config.super_digest() {
        c.arg(format!(
            "-Dzookeeper.DigestAuthenticationProvider.superDigest={d}"
        ));
    }
    c.arg("-cp")
        .arg(java_classpath(&[
            "zookeeper.jar",
            "zookeeper-jute.jar",
            "slf4j-simple.jar",
        ]))
        .arg(main_class)
        .arg(cfg_path);
    c
}

/// A free TCP port on 127.0.0.1 (bound to port 0 and released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Sends a four-letter word to `addr` and reads the answer until the server closes.
pub fn four_letter_word(addr: SocketAddr, word: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(word.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The classpath of jars in [`JAVA_LIB_DIR`] (zookeeper.jar's manifest pulls in its own
/// dependencies: jute, slf4j-api, netty, ...).
pub fn java_classpath(jars: &[&str]) -> String {
    jars.iter()
        .map(|j| format!("{JAVA_LIB_DIR}/{j}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// SIGKILL to the process group `pgid` (a group this module created with `process_group(0)`).
fn kill_process_group(pgid: u32) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The result of running a client suite (or any program) to completion.
pub struct ProgramRun {
    pub status: Option<ExitStatus>,
    /// stdout and stderr, interleaved as written.
    pub output: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl ProgramRun {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }
}

/// Runs `cmd` in its own process group with stdout+stderr captured together; kills the whole
/// group after `timeout`.
pub fn run_program(cmd: &mut Command, timeout: Duration) -> ProgramRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("output.log");
    let out = File::create(&out_path).expect("create output file");
    let start = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().expect("dup")))
        .stderr(Stdio::from(out))
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return ProgramRun {
                status: None,
                output: format!("cannot start {:?}: {e}", cmd.get_program()),
                elapsed: start.elapsed(),
                timed_out: false,
            };
        }
    };
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(25)),
            Ok(None) => {
                timed_out = true;
                kill_process_group(child.id());
                break child.wait().ok();
            }
            Err(_) => break None,
        }
    };
    // Whatever the program left behind in its group (helpers it spawned) goes too.
    kill_process_group(child.id());
    let output = fs::read(&out_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    ProgramRun {
        status,
        output,
        elapsed: start.elapsed(),
        timed_out,
    }
}

/// `user:base64(sha1("user:password"))`, ZooKeeper's digest ACL id / superDigest format.
pub fn digest_id(user: &str, password: &str) -> String {
    format!(
        "{user}:{}",
        base64(&sha1(format!("{user}:{password}").as_bytes()))
    )
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_matches_zookeeper() {
        // From the protocol reference (§8.3), identical with Java and Python.
        assert_eq!(
            super::digest_id("bob", "secret"),
            "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="
        );
    }
}
