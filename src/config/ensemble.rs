//! The ensemble a node belongs to, as its `server.N` lines (or `dynamicConfigFile`) and `myid`
//! describe it, and the checks ZooKeeper operators expect: this node listed, ids unique, no
//! address used twice.
//!
//! Layer: top (configuration); touches only the text it is given and the files it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::servers::{Role, ServerSpec};
use super::{ConfigError, split_line};

/// The ensemble this node is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    /// This node's id (its `myid`).
    pub me: u64,
    /// Every server, participants and observers, by id.
    pub servers: Vec<ServerSpec>,
    /// `zoolog.ensembleName`: nodes of differently named ensembles refuse each other.
    pub name: String,
    /// `initLimit`, in ticks.
    pub init_limit: u32,
    /// `syncLimit`, in ticks: how long a node may be out of touch with a majority before it
    /// stops serving.
    pub sync_limit: u32,
    /// The dynamic configuration file the servers came from, if any.
    pub dynamic_config_file: Option<PathBuf>,
}

impl Ensemble {
    /// This node's server line.
    pub fn me(&self) -> &ServerSpec {
        self.server(self.me).unwrap_or_else(|| &self.servers[0])
    }

    /// The server line of `id`.
    pub fn server(&self, id: u64) -> Option<&ServerSpec> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Ids of the participants (the servers that vote).
    pub fn participants(&self) -> Vec<u64> {
        self.servers
            .iter()
            .filter(|s| s.role == Role::Participant)
            .map(|s| s.id)
            .collect()
    }

    /// Whether this node is an observer.
    pub fn is_observer(&self) -> bool {
        self.me().role == Role::Observer
    }

    /// The membership as ZooKeeper 3.8 writes it in `/zookeeper/config` and `conf`: one
    /// `server.N=host:quorumPort:electionPort:type[;clientAddress:clientPort]` line per server
    /// by id (a client address not given shows as 0.0.0.0), then `version=0` (a static
    /// configuration).
    pub fn membership_text(&self) -> String {
        super::servers::membership_text(&self.servers, 0)
    }

    /// `host:quorumPort` of server `id` (its first address; IPv6 in brackets).
    pub fn quorum_addr(&self, id: u64) -> Option<String> {
        self.server(id)?.quorum_addr()
    }
}

/// Reads the `server.N` lines of a dynamic configuration file, a Java properties file as the
/// main one. Anything but `server.N` is an error naming the line, except `version=`: ZooKeeper
/// 3.8 takes the version from the file name (`zoo.cfg.dynamic.<hex zxid>`) and refuses a
/// `version` key inside ("dynamic file shouldn't have version inside"), but it writes that
/// key in `/zookeeper/config` and its `.next` file, so an operator may well copy one in;
/// zoolog ignores it (zoolog keeps no configuration version).
pub(crate) fn read_dynamic(path: &Path) -> Result<Vec<ServerSpec>, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        file: file.clone(),
        why: e.to_string(),
    })?;
    let mut out: Vec<ServerSpec> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
            continue;
        }
        let Some((key, value)) = split_line(t).filter(|(k, _)| !k.is_empty()) else {
            return Err(ConfigError::Malformed {
                file,
                line,
                text: t.to_string(),
            });
        };
        if key == "version" {
            continue;
        }
        let bad = |why: String| ConfigError::BadValue {
            file: file.clone(),
            line,
            key: key.to_string(),
            value: value.to_string(),
            why,
        };
        let Some(id) = key.strip_prefix("server.") else {
            return Err(ConfigError::UnknownKey {
                file,
                line,
                key: key.to_string(),
            });
        };
        let id = id
            .parse::<u64>()
            .map_err(|_| bad("the server id after `server.` must be a number".into()))?;
        if out.iter().any(|s| s.id == id) {
            return Err(bad(format!("server {id} is listed twice")));
        }
        out.push(ServerSpec::parse(id, value, line).map_err(bad)?);
    }
    Ok(out)
}

/// Checks the server list of an ensemble: at least one participant, no quorum port equal to its
/// election port, no `host:port` used twice. Errors name `file` and the offending line.
pub(crate) fn check_servers(file: &str, servers: &[ServerSpec]) -> Result<(), ConfigError> {
    let bad = |s: &ServerSpec, why: String| ConfigError::BadValue {
        file: file.to_string(),
        line: s.line,
        key: format!("server.{}", s.id),
        value: describe(s),
        why,
    };
    if !servers.iter().any(|s| s.role == Role::Participant) {
        let s = &servers[0];
        return Err(bad(s, "an ensemble needs at least one participant".into()));
    }
    let mut used: BTreeMap<(String, u16), (u64, &'static str)> = BTreeMap::new();
    for s in servers {
        let mut mine = Vec::new();
        for a in &s.addresses {
            if a.quorum_port == a.election_port {
                return Err(bad(s, "the quorum and election ports are the same".into()));
            }
            mine.push((a.host.clone(), a.quorum_port, "quorum"));
            mine.push((a.host.clone(), a.election_port, "election"));
        }
        if let Some((addr, port)) = &s.client {
            let host = addr
                .clone()
                .or_else(|| s.addresses.first().map(|a| a.host.clone()))
                .unwrap_or_default();
            mine.push((host, *port, "client"));
        }
        for (host, port, what) in mine {
            if let Some((other, theirs)) = used.get(&(host.clone(), port)) {
                return Err(bad(
                    s,
                    format!(
                        "{host}:{port} ({what} port) is already server {other}'s {theirs} port"
                    ),
                ));
            }
            used.insert((host, port), (s.id, what));
        }
    }
    Ok(())
}

fn describe(s: &ServerSpec) -> String {
    let a: Vec<String> = s
        .addresses
        .iter()
        .map(|a| format!("{}:{}:{}", a.host, a.quorum_port, a.election_port))
        .collect();
    a.join("|")
}
