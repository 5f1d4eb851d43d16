//! The ensemble's server list as ZooKeeper writes it: `server.N` lines
//! (`host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]`, several
//! `|`-separated addresses allowed) and the `myid` file in `dataDir`.
//!
//! Layer: top (configuration); touches only the text it is given and the `myid` file.

use std::path::Path;

use super::ConfigError;

/// What a server does in the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Votes and holds the log.
    Participant,
    /// Applies and serves clients; votes in nothing.
    Observer,
}

/// One address of a server (`host:quorumPort:electionPort`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddress {
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// `N`: the server id, as in its `myid` file.
    pub id: u64,
    pub addresses: Vec<PeerAddress>,
    pub role: Role,
    /// The client address after `;` (`[address:]port`), if given.
    pub client: Option<(Option<String>, u16)>,
    /// The line it was read from.
    pub line: usize,
}

/// Why a `server.N` value does not parse (the caller adds file and line).
fn form_error() -> String {
    "expected host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]"
        .to_string()
}

/// Splits `host:port:port[:type]`, where the host may be a bracketed IPv6 address.
fn split_address(text: &str) -> Result<(String, Vec<&str>), String> {
    let (host, rest) = if let Some(r) = text.strip_prefix('[') {
        let end = r.find(']').ok_or_else(form_error)?;
        let rest = r[end + 1..].strip_prefix(':').ok_or_else(form_error)?;
        (r[..end].to_string(), rest)
    } else {
        let (h, rest) = text.split_once(':').ok_or_else(form_error)?;
        (h.to_string(), rest)
    };
    if host.is_empty() {
        return Err(form_error());
    }
    Ok((host, rest.split(':').collect()))
}

fn port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{text}` is not a port")),
    }
}

impl ServerSpec {
    /// Parses the value of `server.<id>` read at `line`.
    pub fn parse(id: u64, value: &str, line: usize) -> Result<ServerSpec, String> {
        let (servers, client) = match value.split_once(';') {
            Some((s, c)) => (s, Some(c.trim())),
            None => (value, None),
        };
        let mut addresses = Vec::new();
        let mut role = None;
        for part in servers.split('|') {
            let (host, fields) = split_address(part.trim())?;
            let this_role = match fields.as_slice() {
                [_, _] => None,
                [_, _, "participant"] => Some(Role::Participant),
                [_, _, "observer"] => Some(Role::Observer),
                [_, _, other] => {
                    return Err(format!(
                        "unknown server type `{other}` (participant or observer)"
                    ));
                }
                _ => return Err(form_error()),
            };
            if role.is_some() && this_role.is_some() && role != this_role {
                return Err("the addresses of one server name different types".into());
            }
            role = role.or(this_role);
            addresses.push(PeerAddress {
                host,
                quorum_port: port(fields[0])?,
                election_port: port(fields[1])?,
            });
        }
        let client = match client {
            None | Some("") => None,
            Some(c) => Some(match c.rsplit_once(':') {
                Some((addr, p)) => (Some(addr.trim_matches(['[', ']']).to_string()), port(p)?),
                None => (None, port(c)?),
            }),
        };
        Ok(ServerSpec {
            id,
            addresses,
            role: role.unwrap_or(Role::Participant),
            client,
            line,
        })
    }
}

impl ServerSpec {
    /// The value of this server's `server.N` line as ZooKeeper 3.8 writes it:
    /// `host:quorumPort:electionPort:type[;clientAddress:clientPort]` (a client address not
    /// given shows as 0.0.0.0).
    pub fn value_text(&self) -> String {
        let addrs: Vec<String> = self
            .addresses
            .iter()
            .map(|a| {
                let host = if a.host.contains(':') {
                    format!("[{}]", a.host)
                } else {
                    a.host.clone()
                };
                format!("{host}:{}:{}", a.quorum_port, a.election_port)
            })
            .collect();
        let role = match self.role {
            Role::Participant => "participant",
            Role::Observer => "observer",
        };
        let mut out = format!("{}:{role}", addrs.join("|"));
        if let Some((addr, port)) = &self.client {
            let addr = addr.clone().unwrap_or_else(|| "0.0.0.0".into());
            out.push_str(&format!(";{addr}:{port}"));
        }
        out
    }

    /// `host:quorumPort` of the first address (IPv6 in brackets).
    pub fn quorum_addr(&self) -> Option<String> {
        let a = self.addresses.first()?;
        Some(if a.host.contains(':') {
            format!("[{}]:{}", a.host, a.quorum_port)
        } else {
            format!("{}:{}", a.host, a.quorum_port)
        })
    }
}

/// The membership as ZooKeeper 3.8 writes it in `/zookeeper/config` and `conf`: one
/// `server.N=…` line per server in the order given, then `version=<hex>` (0 for a static
/// configuration; else the zxid of the reconfig that wrote it).
pub fn membership_text(servers: &[ServerSpec], version: i64) -> String {
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("server.{}={}\n", s.id, s.value_text()));
    }
    out.push_str(&format!("version={version:x}"));
    out
}

/// Reads `dataDir/myid`: the server id, a decimal number on the first line (as ZooKeeper reads
/// it). `Ok(None)` if there is no such file.
pub fn read_myid(data_dir: &Path) -> Result<Option<u64>, ConfigError> {
    let path = data_dir.join("myid");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Read {
                file: path.display().to_string(),
                why: e.to_string(),
            });
        }
    };
    let first = text.lines().next().unwrap_or("").trim();
    first
        .parse::<u64>()
        .map(Some)
        .map_err(|_| ConfigError::BadValue {
            file: path.display().to_string(),
            line: 1,
            key: "myid".into(),
            value: first.to_string(),
            why: "not a server id (a decimal number)".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_zookeeper_writes() {
        let s = ServerSpec::parse(1, "zk1:2888:3888", 4).unwrap();
        assert_eq!(s.addresses[0].host, "zk1");
        assert_eq!(
            (s.addresses[0].quorum_port, s.addresses[0].election_port),
            (2888, 3888)
        );
        assert_eq!(
            (s.role, s.client.clone(), s.line),
            (Role::Participant, None, 4)
        );
        let s = ServerSpec::parse(2, "10.0.0.2:2888:3888:observer;2181", 1).unwrap();
        assert_eq!((s.role, s.client), (Role::Observer, Some((None, 2181))));
        let s = ServerSpec::parse(3, "[::1]:2888:3888:participant;0.0.0.0:2181", 1).unwrap();
        assert_eq!(s.addresses[0].host, "::1");
        assert_eq!(s.client, Some((Some("0.0.0.0".into()), 2181)));
        let s = ServerSpec::parse(4, "a:1:2|b:3:4", 1).unwrap();
        assert_eq!(s.addresses.len(), 2);
    }

    #[test]
    fn bad_values_say_why() {
        for bad in [
            "zk1",
            "zk1:2888",
            "zk1:2888:3888:voter",
            "zk1:notaport:3888",
            ":2888:3888",
            "zk1:2888:3888;x",
            "zk1:2888:3888:a:b",
        ] {
            assert!(ServerSpec::parse(1, bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn myid_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_myid(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join("myid"), "3\n").unwrap();
        assert_eq!(read_myid(dir.path()).unwrap(), Some(3));
        std::fs::write(dir.path().join("myid"), "three\n").unwrap();
        let e = read_myid(dir.path()).unwrap_err().to_string();
        assert!(e.contains("myid:1:"), "{e}");
    }
}
