//! `ZkConfig`: the options of the ZooKeeper state machine, each mirroring a ZooKeeper system
//! property. Every replica must run with the same values: apply depends on them.
//!
//! Layer: `zk/`, plain data; touches nothing.

/// State-machine options. `Default` is ZooKeeper 3.8.0's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes. Off → createTTL and TTL create modes answer
    /// `UNIMPLEMENTED`.
    pub extended_types_enabled: bool,
    /// `zookeeper.DigestAuthenticationProvider.enabled`: the `digest` scheme is registered
    /// (ACLs with `digest:` ids are valid).
    pub digest_enabled: bool,
    /// `zookeeper.skipACL=yes`: every ACL check passes (ACLs are still validated on create and
    /// setACL).
    pub skip_acl: bool,
    /// `znode.container.maxNeverUsedIntervalMs`: a container that never had a child is deleted
    /// once its mtime is older than this; 0 disables (the 3.8/3.9 default).
    pub container_max_never_used_ms: i64,
    /// ZOOKEEPER-4026 (fixed after 3.8.0): a `create2` op inside a multi answers with a
    /// `create2` result (path + Stat). Off (3.8.0, observed on the wire): it answers with a
    /// `create` result (path only).
    pub multi_create2_returns_stat: bool,
    /// Whether `exists` needs READ on an existing node (ZooKeeper 3.9+). Observed on 3.8.0: it
    /// checks no ACL at all, so the default is off.
    pub exists_checks_read: bool,
    /// In an ensemble: the data of `/zookeeper/config` in a new tree (the membership text every
    /// replica derives alike from the same server list).
    pub ensemble_config: Option<bytes::Bytes>,
}

impl Default for ZkConfig {
    fn default() -> Self {
        ZkConfig {
            extended_types_enabled: false,
            digest_enabled: true,
            skip_acl: false,
            container_max_never_used_ms: 0,
            multi_create2_returns_stat: false,
            exists_checks_read: false,
            ensemble_config: None,
        }
    }
}
