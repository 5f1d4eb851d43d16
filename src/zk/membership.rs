//! The ensemble's membership as `/zookeeper/config` holds it, and ZooKeeper's `reconfig` (op
//! 16) computed on it.
//!
//! Layer: `zk/`, pure functions of the text: apply runs [`Membership::reconfigure`] on the
//! applied `/zookeeper/config`, so every replica computes the same new membership at the same
//! log position; the node that takes the request runs it first to answer what it can before
//! the log (`NEWCONFIGNOQUORUM`, `RECONFIGINPROGRESS` depend on this node's view and are not
//! decided in apply, as ZooKeeper's leader decides them before proposing).

use std::collections::{BTreeMap, BTreeSet};

use zoolog_jute::{ErrorCode, ReconfigRequest};

use crate::config::servers::{Role, ServerSpec, membership_text};

/// The servers of the ensemble and the configuration's version (the zxid of the reconfig that
/// wrote it; 0 for the static configuration of `zoo.cfg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub servers: BTreeMap<u64, ServerSpec>,
    pub version: i64,
}

fn bad() -> ErrorCode {
    ErrorCode::BadArguments
}

/// Parses `server.N=value` (the `server.` prefix may be absent on an id alone).
fn server_entry(text: &str) -> Result<ServerSpec, ErrorCode> {
    let (key, value) = text.split_once('=').ok_or_else(bad)?;
    let id = key
        .trim()
        .strip_prefix("server.")
        .ok_or_else(bad)?
        .parse::<u64>()
        .map_err(|_| bad())?;
    ServerSpec::parse(id, value.trim(), 0).map_err(|_| bad())
}

/// Entries of a reconfig string: separated by commas or line ends; blank ones skipped.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl Membership {
    /// Parses the data of `/zookeeper/config`; `None` if it holds no server (standalone).
    pub fn parse(data: &[u8]) -> Option<Membership> {
        let text = std::str::from_utf8(data).ok()?;
        let mut servers = BTreeMap::new();
        let mut version = 0;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(v) = line.strip_prefix("version=") {
                version = i64::from_str_radix(v.trim(), 16).ok()?;
            } else {
                let s = server_entry(line).ok()?;
                servers.insert(s.id, s);
            }
        }
        (!servers.is_empty()).then_some(Membership { servers, version })
    }

    /// The text of `/zookeeper/config` for this membership.
    pub fn text(&self) -> String {
        let servers: Vec<ServerSpec> = self.servers.values().cloned().collect();
        membership_text(&servers, self.version)
    }

    /// Ids of the voting servers.
    pub fn participants(&self) -> BTreeSet<u64> {
        self.with_role(Role::Participant)
    }

    /// Ids of the observers.
    pub fn observers(&self) -> BTreeSet<u64> {
        self.with_role(Role::Observer)
    }

    fn with_role(&self, role: Role) -> BTreeSet<u64> {
        self.servers
            .values()
            .filter(|s| s.role == role)
            .map(|s| s.id)
            .collect()
    }

    /// `host:quorumPort` of every server.
    pub fn quorum_addrs(&self) -> BTreeMap<u64, String> {
        self.servers
            .values()
            .filter_map(|s| s.quorum_addr().map(|a| (s.id, a)))
            .collect()
    }

    /// The membership `req` asks for, with `version` as its configuration version, as
    /// ZooKeeper computes it: `curConfigId` other than −1 must be this configuration's version
    /// (`BADVERSION`); `newMembers` replaces the whole list, otherwise `leavingServers` (ids)
    /// are removed and `joiningServers` (`server.N=…`, replacing a server of the same id)
    /// added; a bad server string, a change that changes nothing, or fewer voters than an
    /// ensemble needs (2, or 1 with `standaloneEnabled=false`) is `BADARGUMENTS`.
    pub fn reconfigure(
        &self,
        req: &ReconfigRequest,
        standalone_enabled: bool,
        version: i64,
    ) -> Result<Membership, ErrorCode> {
        if req.cur_config_id != -1 && req.cur_config_id != self.version {
            return Err(ErrorCode::BadVersion);
        }
        let text = |s: &Option<zoolog_jute::ByteString>| {
            s.as_ref()
                .map(|b| b.to_string())
                .filter(|t| !t.trim().is_empty())
        };
        let mut servers = self.servers.clone();
        if let Some(all) = text(&req.new_members) {
            servers.clear();
            for e in entries(&all).filter(|e| !e.starts_with("version=")) {
                let s = server_entry(e)?;
                servers.insert(s.id, s);
            }
        } else {
            let (joining, leaving) = (text(&req.joining_servers), text(&req.leaving_servers));
            if joining.is_none() && leaving.is_none() {
                return Err(bad());
            }
            for e in entries(leaving.as_deref().unwrap_or("")) {
                let id = e.parse::<u64>().map_err(|_| bad())?;
                servers.remove(&id);
            }
            for e in entries(joining.as_deref().unwrap_or("")) {
                let s = server_entry(e)?;
                servers.insert(s.id, s);
            }
        }
        let next = Membership { servers, version };
        let voters = next.participants().len();
        if voters < 1 || (standalone_enabled && voters < 2) {
            return Err(bad());
        }
        if next.servers == self.servers {
            return Err(bad());
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoolog_jute::ByteString;

    const THREE: &str = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
        server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n\
        server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\nversion=0";

    fn req(join: &str, leave: &str, new: &str, cur: i64) -> ReconfigRequest {
        let s = |t: &str| (!t.is_empty()).then(|| ByteString::from(t.to_string()));
        ReconfigRequest {
            joining_servers: s(join),
            leaving_servers: s(leave),
            new_members: s(new),
            cur_config_id: cur,
        }
    }

    #[test]
    fn text_round_trips() {
        let m = Membership::parse(THREE.as_bytes()).unwrap();
        assert_eq!(m.text(), THREE);
        assert_eq!(m.participants().len(), 3);
        assert_eq!(m.quorum_addrs()[&2], "127.0.0.1:2889");
        assert!(Membership::parse(b"").is_none());
    }

    #[test]
    fn incremental_and_full() {
        let m = Membership::parse(THREE.as_bytes()).unwrap();
        let out = m
            .reconfigure(
                &req("server.4=127.0.0.1:2891:3891:observer;2184", "3", "", -1),
                true,
                0x100000005,
            )
            .unwrap();
        assert_eq!(out.participants(), BTreeSet::from([1, 2]));
        assert_eq!(out.observers(), BTreeSet::from([4]));
        assert!(out.text().ends_with("version=100000005"));
        assert!(
            out.text()
                .contains("server.4=127.0.0.1:2891:3891:observer;0.0.0.0:2184")
        );
        let full = m
            .reconfigure(
                &req("", "", "server.1=127.0.0.1:2888:3888;2181", -1),
                false,
                7,
            )
            .unwrap();
        assert_eq!(full.participants(), BTreeSet::from([1]));
    }

    #[test]
    fn refusals() {
        let m = Membership::parse(THREE.as_bytes()).unwrap();
        assert_eq!(
            m.reconfigure(&req("", "3", "", 5), true, 9),
            Err(ErrorCode::BadVersion)
        );
        assert_eq!(
            m.reconfigure(&req("", "", "", -1), true, 9),
            Err(ErrorCode::BadArguments)
        );
        assert_eq!(
            m.reconfigure(&req("", "2,3", "", -1), true, 9),
            Err(ErrorCode::BadArguments),
            "one voter left while standaloneEnabled"
        );
        assert!(m.reconfigure(&req("", "2,3", "", -1), false, 9).is_ok());
        assert_eq!(
            m.reconfigure(&req("server.x=1:2:3", "", "", -1), true, 9),
            Err(ErrorCode::BadArguments)
        );
        assert_eq!(
            m.reconfigure(&req("", "9", "", -1), true, 9),
            Err(ErrorCode::BadArguments),
            "nothing changes"
        );
    }
}
