//! Test support: a zoolog ensemble of real processes on 127.0.0.1, each node with its own data
//! directory, `myid` and zoo.cfg listing every server, killed (SIGKILL) when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Rust client session on `hosts`, retrying the connection for up to 30 s.
pub async fn connect(hosts: &str, timeout: Duration) -> zookeeper_client::Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match zookeeper_client::Client::connector()
            .with_session_timeout(timeout)
            .connect(hosts)
            .await
        {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect {hosts}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("connect {hosts}: {e}"),
        }
    }
}

/// A free port not handed out before in this process (a released port may come back at once).
fn free_port() -> u16 {
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        if !taken.contains(&port) {
            taken.push(port);
            return port;
        }
    }
}

/// One server of the ensemble.
pub struct Member {
    pub id: u64,
    pub observer: bool,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
    pub dir: PathBuf,
    pub child: Option<Child>,
}

impl Member {
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

/// A running ensemble.
pub struct Ensemble {
    pub members: Vec<Member>,
    tmp: Option<tempfile::TempDir>,
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("ZOOLOG_TEST_KEEP").is_some() {
            if let Some(t) = &self.tmp {
                eprintln!("ensemble directories: {}", t.path().display());
            }
            if std::env::var_os("ZOOLOG_TEST_KEEP").is_some()
                && let Some(t) = self.tmp.take()
            {
                let _ = t.keep();
            }
            for m in &self.members {
                eprintln!("---- node {} log ----\n{}", m.id, self.log_tail(m.id, 150));
            }
        }
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Ensemble {
    /// Starts `participants` participants and `observers` observers and waits until every node
    /// serves clients.
    pub fn start(participants: u64, observers: u64, extra: &str) -> Ensemble {
        let mut e = Ensemble::prepare(participants, observers);
        let ids: Vec<u64> = e.members.iter().map(|m| m.id).collect();
        for id in &ids {
            e.write_config(*id, &ids, extra);
        }
        for id in &ids {
            e.spawn(*id);
        }
        for id in &ids {
            e.wait_serving(*id, Duration::from_secs(60));
        }
        e
    }

    /// Directories, `myid` files and ports for the members; nothing written or started yet.
    pub fn prepare(participants: u64, observers: u64) -> Ensemble {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut members = Vec::new();
        for id in 1..=participants + observers {
            let dir = tmp.path().join(format!("n{id}"));
            std::fs::create_dir_all(dir.join("data")).expect("data dir");
            std::fs::write(dir.join("data").join("myid"), format!("{id}\n")).expect("myid");
            members.push(Member {
                id,
                observer: id > participants,
                client_port: free_port(),
                quorum_port: free_port(),
                election_port: free_port(),
                dir,
                child: None,
            });
        }
        Ensemble {
            members,
            tmp: Some(tmp),
        }
    }

    /// The value of member `id`'s `server.N` line.
    pub fn server_value(&self, id: u64) -> String {
        let m = self.member(id);
        format!(
            "127.0.0.1:{}:{}:{};127.0.0.1:{}",
            m.quorum_port,
            m.election_port,
            if m.observer {
                "observer"
            } else {
                "participant"
            },
            m.client_port
        )
    }

    /// Writes member `id`'s zoo.cfg listing the servers `listed`, plus `extra` lines.
    pub fn write_config(&self, id: u64, listed: &[u64], extra: &str) {
        let servers: String = listed
            .iter()
            .map(|l| format!("server.{l}={}\n", self.server_value(*l)))
            .collect();
        let m = self.member(id);
        std::fs::write(
            m.dir.join("zoo.cfg"),
            format!(
                "tickTime=200\nsyncLimit=5\nminSessionTimeout=400\nmaxSessionTimeout=20000\ndataDir={}\n4lw.commands.whitelist=*\n{servers}{extra}",
                m.data_dir().display()
            ),
        )
        .expect("zoo.cfg");
    }

    /// Starts member `id` (its zoo.cfg written) without waiting.
    pub fn launch(&mut self, id: u64) {
        self.spawn(id);
    }

    pub fn member(&self, id: u64) -> &Member {
        self.members.iter().find(|m| m.id == id).expect("member")
    }

    fn member_mut(&mut self, id: u64) -> &mut Member {
        self.members
            .iter_mut()
            .find(|m| m.id == id)
            .expect("member")
    }

    /// The client connection string of every member.
    pub fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, id: u64) {
        let m = self.member_mut(id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("zoolog.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_zoolog"))
            .arg("serve")
            .arg("--config")
            .arg(m.dir.join("zoo.cfg"))
            .env(
                "RUST_LOG",
                std::env::var("ZOOLOG_TEST_LOG").unwrap_or_else(|_| "info,openraft=off".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn zoolog");
        m.child = Some(child);
    }

    /// Waits until member `id` answers `ruok` and has a session-serving mode.
    pub fn wait_serving(&self, id: u64, within: Duration) {
        let deadline = Instant::now() + within;
        let m = self.member(id);
        while Instant::now() < deadline {
            if let Ok(s) = four_letter_word(m.client_addr(), "srvr")
                && s.contains("Mode: ")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "node {id} did not start serving:\n{}",
            self.log_tail(id, 40)
        );
    }

    /// The last `n` lines of member `id`'s log.
    pub fn log_tail(&self, id: u64, n: usize) -> String {
        let text =
            std::fs::read_to_string(self.member(id).dir.join("zoolog.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGKILL of member `id`.
    pub fn kill9(&mut self, id: u64) {
        if let Some(mut c) = self.member_mut(id).child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts member `id` again on its data directory and waits until it serves.
    pub fn restart(&mut self, id: u64) {
        self.spawn(id);
        self.wait_serving(id, Duration::from_secs(60));
    }

    /// Sends SIGSTOP or SIGCONT to member `id`.
    pub fn signal(&self, id: u64, sig: &str) {
        if let Some(pid) = self.member(id).pid() {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// `srvr`'s `Mode:` of member `id` (`None` if it does not answer).
    pub fn mode(&self, id: u64) -> Option<String> {
        let s = four_letter_word(self.member(id).client_addr(), "srvr").ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }

    /// The participant every live member names as leader, once they agree.
    pub fn leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let leaders: Vec<u64> = self
                .members
                .iter()
                .filter(|m| m.child.is_some())
                .filter(|m| self.mode(m.id).as_deref() == Some("leader"))
                .map(|m| m.id)
                .collect();
            if leaders.len() == 1 {
                return leaders[0];
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no single leader");
    }

    /// `zoolog ctl` against member `id`.
    pub fn ctl(&self, id: u64, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_zoolog"))
            .arg("ctl")
            .arg("--data-dir")
            .arg(self.member(id).data_dir())
            .args(args)
            .output()
            .expect("zoolog ctl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `(applied position, state digest)` of member `id`.
    pub fn digest(&self, id: u64) -> (u64, String) {
        let out = self.ctl(id, &["digest"]);
        let field = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        (field("applied:").parse().unwrap_or(0), field("digest:"))
    }

    /// Waits until every running member has applied the same position, and returns the
    /// digests there (they must all be equal).
    pub fn settled_digests(&self, within: Duration) -> Vec<(u64, u64, String)> {
        let deadline = Instant::now() + within;
        loop {
            let all: Vec<(u64, u64, String)> = self
                .members
                .iter()
                .filter(|m| m.child.is_some())
                .map(|m| {
                    let (p, d) = self.digest(m.id);
                    (m.id, p, d)
                })
                .collect();
            if all.windows(2).all(|w| w[0].1 == w[1].1) || Instant::now() > deadline {
                return all;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Sends a four-letter word and returns the answer.
pub fn four_letter_word(addr: SocketAddr, word: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(word.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Reads lines of `path` (for debugging a failed test).
pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::File::open(path)
        .map(|f| BufReader::new(f).lines().map_while(Result::ok).collect())
        .unwrap_or_default()
}
