//! Where the nodes live: each in its own network namespace joined to a bridge in the root
//! namespace (`10.77.S.N/24`, the bridge `10.77.S.254`), or all on 127.0.0.1 when namespaces
//! are not available. Partitions are iptables DROP rules on INPUT inside the namespaces; the
//! clients run in the root namespace and reach every node whatever the partition, as Jepsen's
//! control node does.
//!
//! [`Netns`] removes every namespace and the bridge it made when dropped (also while a panic
//! unwinds); `zoolog-nemesis cleanup` removes those a killed run left behind.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};

/// Runs `program args…`, returning stdout; an error with stderr on a non-zero exit.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error::io(format!("run {program}"), e))?;
    if !out.status.success() {
        return Err(Error::Command {
            command: format!("{program} {}", args.join(" ")),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The nodes' network: namespaces or loopback.
pub enum Network {
    Namespaces(Netns),
    /// Every node on 127.0.0.1 with its own ports; no partitions.
    Loopback,
}

impl Network {
    /// Namespaces for `n` nodes if this machine allows them (root, `ip netns`, iptables),
    /// else loopback, saying why on stderr (and in the log).
    pub fn choose(n: usize, want_namespaces: bool) -> Network {
        if !want_namespaces {
            tracing::warn!("network: loopback (asked for); partition faults are unavailable");
            return Network::Loopback;
        }
        match Netns::create(n) {
            Ok(ns) => Network::Namespaces(ns),
            Err(e) => {
                let msg = format!(
                    "network namespaces unavailable ({e}); running every node on 127.0.0.1 \
                     instead: partition faults are unavailable"
                );
                eprintln!("zoolog-nemesis: {msg}");
                tracing::warn!("{msg}");
                Network::Loopback
            }
        }
    }

    pub fn is_namespaces(&self) -> bool {
        matches!(self, Network::Namespaces(_))
    }

    /// Node `i`'s address.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        match self {
            Network::Namespaces(ns) => ns.addr(i),
            Network::Loopback => Ipv4Addr::LOCALHOST,
        }
    }

    /// The namespace file of node `i` (for `setns`), if any.
    pub fn netns_path(&self, i: usize) -> Option<PathBuf> {
        match self {
            Network::Namespaces(ns) => Some(ns.netns_path(i)),
            Network::Loopback => None,
        }
    }

    /// Makes node `i` hear only from the nodes in `hears[i]`; every other node's packets are
    /// dropped on arrival. Errors on loopback.
    pub fn partition(&mut self, hears: &[BTreeSet<usize>]) -> Result<()> {
        match self {
            Network::Namespaces(ns) => ns.partition(hears),
            Network::Loopback => Err(Error::Unavailable(
                "partitions need network namespaces".into(),
            )),
        }
    }

    /// Removes every partition rule.
    pub fn heal(&mut self) -> Result<()> {
        match self {
            Network::Namespaces(ns) => ns.heal(),
            Network::Loopback => Ok(()),
        }
    }
}

/// A bridge and one namespace per node, removed on drop.
pub struct Netns {
    tag: String,
    subnet: u8,
    n: usize,
    namespaces: Vec<String>,
    bridge: Option<String>,
    forward_rule: bool,
}

/// Names this module gives: `zn<pid>-<i>` namespaces, `zn<pid>b` bridges.
const PREFIX: &str = "zn";

impl Netns {
    /// Makes the bridge and `n` namespaces; on any failure removes what it made.
    pub fn create(n: usize) -> Result<Netns> {
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::Unavailable("not root".into()));
        }
        run("iptables", &["--version"])?;
        let pid = std::process::id() % 100_000;
        let tag = format!("{PREFIX}{pid}");
        let subnet = free_subnet(pid)?;
        let mut ns = Netns {
            tag,
            subnet,
            n,
            namespaces: Vec::new(),
            bridge: None,
            forward_rule: false,
        };
        ns.build()?;
        Ok(ns)
    }

    fn build(&mut self) -> Result<()> {
        let br = format!("{}b", self.tag);
        let gw = format!("10.77.{}.254/24", self.subnet);
        run("ip", &["link", "add", &br, "type", "bridge"])?;
        self.bridge = Some(br.clone());
        run("ip", &["addr", "add", &gw, "dev", &br])?;
        run("ip", &["link", "set", &br, "up"])?;
        // With br_netfilter loaded (Docker hosts), bridged frames go through the root
        // namespace's FORWARD chain, whose policy may be DROP: let this bridge's own traffic
        // pass (removed again on drop).
        run(
            "iptables",
            &["-I", "FORWARD", "-i", &br, "-o", &br, "-j", "ACCEPT"],
        )?;
        self.forward_rule = true;
        for i in 0..self.n {
            let name = self.ns_name(i);
            run("ip", &["netns", "add", &name])?;
            self.namespaces.push(name.clone());
            let host = format!("{}v{i}", self.tag);
            let peer = format!("{}p{i}", self.tag);
            run(
                "ip",
                &["link", "add", &host, "type", "veth", "peer", "name", &peer],
            )?;
            run("ip", &["link", "set", &peer, "netns", &name])?;
            run("ip", &["link", "set", &host, "master", &br])?;
            run("ip", &["link", "set", &host, "up"])?;
            let addr = format!("{}/24", self.addr(i));
            run("ip", &["-n", &name, "addr", "add", &addr, "dev", &peer])?;
            run("ip", &["-n", &name, "link", "set", &peer, "up"])?;
            run("ip", &["-n", &name, "link", "set", "lo", "up"])?;
            // iptables must work inside the namespace, or partitions cannot be made.
            run("ip", &["netns", "exec", &name, "iptables", "-F", "INPUT"])?;
        }
        // The bridge's ports come up asynchronously; servers and clients retry connecting.
        std::thread::sleep(std::time::Duration::from_millis(300));
        tracing::info!(
            "network: {} namespaces {}-0.. on bridge {br} (10.77.{}.0/24)",
            self.n,
            self.tag,
            self.subnet
        );
        Ok(())
    }

    pub fn ns_name(&self, i: usize) -> String {
        format!("{}-{i}", self.tag)
    }

    pub fn netns_path(&self, i: usize) -> PathBuf {
        PathBuf::from("/run/netns").join(self.ns_name(i))
    }

    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.subnet, (i + 1) as u8)
    }

    /// Drops, in each namespace `i`, packets from every node not in `hears[i]`.
    pub fn partition(&mut self, hears: &[BTreeSet<usize>]) -> Result<()> {
        self.heal()?;
        for i in 0..self.n {
            let ns = self.ns_name(i);
            for j in 0..self.n {
                if j == i || hears.get(i).is_some_and(|h| h.contains(&j)) {
                    continue;
                }
                let src = self.addr(j).to_string();
                run(
                    "ip",
                    &[
                        "netns", "exec", &ns, "iptables", "-A", "INPUT", "-s", &src, "-j", "DROP",
                    ],
                )?;
            }
        }
        Ok(())
    }

    pub fn heal(&mut self) -> Result<()> {
        for i in 0..self.n {
            run(
                "ip",
                &["netns", "exec", &self.ns_name(i), "iptables", "-F", "INPUT"],
            )?;
        }
        Ok(())
    }

    /// Opens node `i`'s namespace file (for `setns` in a child).
    pub fn open(&self, i: usize) -> Result<File> {
        let p = self.netns_path(i);
        File::open(&p).map_err(|e| Error::io(format!("open {}", p.display()), e))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for name in self.namespaces.drain(..) {
            if let Err(e) = run("ip", &["netns", "del", &name]) {
                eprintln!("zoolog-nemesis: cannot remove namespace {name}: {e}");
            }
        }
        if let Some(br) = self.bridge.take() {
            if self.forward_rule {
                let _ = run(
                    "iptables",
                    &["-D", "FORWARD", "-i", &br, "-o", &br, "-j", "ACCEPT"],
                );
            }
            if let Err(e) = run("ip", &["link", "del", &br]) {
                eprintln!("zoolog-nemesis: cannot remove bridge {br}: {e}");
            }
        }
    }
}

/// A third octet whose 10.77.S.0/24 no interface uses yet, starting from one derived from the
/// pid (so two runs at once get different subnets).
fn free_subnet(pid: u32) -> Result<u8> {
    let used = run("ip", &["-4", "-o", "addr", "show"])?;
    let start = (pid % 200) as u8;
    for k in 0..200u8 {
        let s = start.wrapping_add(k) % 200 + 1;
        if !used.contains(&format!("10.77.{s}.")) {
            return Ok(s);
        }
    }
    Err(Error::Unavailable("no free 10.77.S.0/24 subnet".into()))
}

/// Removes namespaces (`zn<digits>-<digits>`) and bridges (`zn<digits>b`) that a run killed
/// before its cleanup left behind, when no process of that pid is alive. Returns what it
/// removed.
pub fn cleanup_stale() -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let alive = |pid: &str| {
        pid.parse::<u32>().is_ok_and(|p| {
            p != std::process::id() % 100_000
                && std::path::Path::new(&format!("/proc/{p}")).exists()
        })
    };
    let list = run("ip", &["netns", "list"])?;
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(rest) = name.strip_prefix(PREFIX)
            && let Some((pid, idx)) = rest.split_once('-')
            && pid.chars().all(|c| c.is_ascii_digit())
            && idx.chars().all(|c| c.is_ascii_digit())
            && !alive(pid)
        {
            run("ip", &["netns", "del", name])?;
            removed.push(name.to_string());
        }
    }
    let links = run("ip", &["-o", "link", "show", "type", "bridge"])?;
    for line in links.lines() {
        let name = line
            .split(':')
            .nth(1)
            .map(|s| s.trim().split('@').next().unwrap_or("").to_string())
            .unwrap_or_default();
        if let Some(rest) = name.strip_prefix(PREFIX)
            && let Some(pid) = rest.strip_suffix('b')
            && !pid.is_empty()
            && pid.chars().all(|c| c.is_ascii_digit())
            && !alive(pid)
        {
            let _ = run(
                "iptables",
                &["-D", "FORWARD", "-i", &name, "-o", &name, "-j", "ACCEPT"],
            );
            run("ip", &["link", "del", &name])?;
            removed.push(name);
        }
    }
    Ok(removed)
}
