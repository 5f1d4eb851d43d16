//! zoo.cfg-compatible configuration (DESIGN.md §9).
//!
//! Layer: top (used by `main` and `server`); touches only the config text it is given. An
//! operator's existing zoo.cfg must start zoolog: ZooKeeper's own keys are read, a key that is not
//! a config key proper is taken as the system property `zookeeper.<key>` (and the property names
//! themselves are accepted), keys zoolog does not need are accepted with a notice, and only a key
//! that ZooKeeper would not know either is an error — which names the line.
//!
//! `servers.rs` reads the ensemble's `server.N` lines and the `myid` file; `ensemble.rs` the
//! ensemble they make and its checks.

mod ensemble;
pub mod servers;

pub use ensemble::Ensemble;
pub use servers::{PeerAddress, Role, ServerSpec, read_myid};

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A configuration that cannot be used, with the line that makes it so.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{file}:{line}: unknown configuration key `{key}`")]
    UnknownKey {
        file: String,
        line: usize,
        key: String,
    },
    #[error("{file}:{line}: invalid value `{value}` for `{key}`: {why}")]
    BadValue {
        file: String,
        line: usize,
        key: String,
        value: String,
        why: String,
    },
    #[error("{file}:{line}: expected `key=value`, found `{text}`")]
    Malformed {
        file: String,
        line: usize,
        text: String,
    },
    #[error("{file}: {why}")]
    Invalid { file: String, why: String },
    #[error("cannot read {file}: {why}")]
    Read { file: String, why: String },
}

/// Which four-letter words are enabled (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWords {
    All,
    Only(BTreeSet<String>),
}

impl FourLetterWords {
    /// ZooKeeper's default: only `srvr`.
    fn default_set() -> Self {
        FourLetterWords::Only(BTreeSet::from(["srvr".to_string()]))
    }

    /// Whether `word` may run.
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWords::All => true,
            FourLetterWords::Only(set) => set.contains(word),
        }
    }
}

/// The node's configuration, with ZooKeeper's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub tick_time_ms: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_port: u16,
    pub client_port_address: IpAddr,
    /// Per client IP; 0 means unlimited.
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    pub four_letter_words: FourLetterWords,
    /// `jute.maxbuffer`: the largest frame and the largest buffer inside one.
    pub jute_max_buffer: usize,
    /// `zookeeper.extendedTypesEnabled`: TTL nodes.
    pub extended_types_enabled: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `zookeeper.skipACL=yes`.
    pub skip_acl: bool,
    /// `znode.container.checkIntervalMs`: how often container and TTL nodes are checked.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`.
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs`: 0 disables deleting never-used containers.
    pub container_max_never_used_interval_ms: u64,
    /// The server id that session ids carry in their top byte: 1 for a standalone node
    /// (ZooKeeper's standalone server uses 1 whatever `myid` says), `myid` in an ensemble.
    pub server_id: u8,
    /// The id in `dataDir/myid`, if the file exists.
    pub my_id: Option<u64>,
    /// The `server.N` lines.
    pub servers: Vec<ServerSpec>,
    /// `standaloneEnabled` (default true): a configuration with one server runs standalone.
    pub standalone_enabled: bool,
    /// The ensemble this node is a member of (`None`: a standalone node).
    pub ensemble: Option<Ensemble>,
    /// `initLimit` and `syncLimit`, in ticks (defaults 10 and 5).
    pub init_limit: u32,
    pub sync_limit: u32,
    /// `zoolog.ensembleName` (default `zoolog`): nodes of differently named ensembles refuse
    /// each other on the quorum port.
    pub ensemble_name: String,
    /// `zoolog.ensemble.retainEntries` (default 1,000,000): in an ensemble the log is trimmed
    /// below every replica's durable position, but never keeps more than this many entries
    /// below the leader's for a replica that does not answer: one down longer is rebuilt from a
    /// peer's checkpoint when it comes back.
    pub retain_entries: u64,
    /// `zoolog.log.trimIntervalMs` (default 10000): how often the log is trimmed below what
    /// the store (in an ensemble: every replica) has durably applied.
    pub trim_interval_ms: u64,
    /// `reconfigEnabled` (default false).
    pub reconfig_enabled: bool,
    /// `globalOutstandingLimit`: requests in flight across connections before connections with
    /// requests outstanding stop being read (ZooKeeper's throttle; default 1000).
    pub global_outstanding_limit: usize,
    /// `maxCnxns`: connections in all (0 = unlimited, ZooKeeper's default).
    pub max_cnxns: u32,
    /// `zoolog.server.pauseUnsentKB`: a connection with this many KiB of replies not yet taken
    /// by its client is not read until they are.
    pub pause_unsent_bytes: usize,
    /// `zoolog.server.maxUnsentKB`: a connection pushed past this many KiB of output its client
    /// has not taken (notifications, replies of reads parked behind its writes) is dropped.
    pub max_unsent_bytes: usize,
    /// `zoolog.batch.maxEntries`: most requests in one log entry (group commit).
    pub batch_max_entries: usize,
    /// `zoolog.batch.maxInFlight`: batches appended and not yet applied at once.
    pub batch_max_in_flight: usize,
    /// `zoolog.batch.maxQueuedMB`: bytes of proposals waiting for a batch past which the engine
    /// stack counts as congested and connections with requests outstanding are not read.
    pub batch_max_queued_bytes: usize,
    /// `zoolog.store.writeBufferMB`: size of the store's memtable (MiB) before it is flushed.
    pub store_write_buffer_mb: usize,
    /// `zoolog.server.workerThreads`: threads serving connections (reads run on them); `0` (the
    /// default) means one per core (see [`Config::worker_threads`]).
    pub server_worker_threads: usize,
    /// `zoolog.server.workerNice`: how many nice steps the connection threads run below the
    /// apply and log threads (0 to 19; 0 turns it off). See [`crate::server::priority`].
    pub server_worker_nice: u8,
    /// Keys accepted but not used, with a note each (logged at start).
    pub notices: Vec<String>,
}

impl Default for Config {
    /// The embedded defaults: a usable standalone node with no config file at all.
    fn default() -> Self {
        Config {
            tick_time_ms: 2000,
            data_dir: PathBuf::from("/tmp/zoolog"),
            data_log_dir: PathBuf::from("/tmp/zoolog"),
            client_port: 2181,
            client_port_address: IpAddr::from([0, 0, 0, 0]),
            max_client_cnxns: 60,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            four_letter_words: FourLetterWords::default_set(),
            jute_max_buffer: 0xfffff,
            extended_types_enabled: false,
            super_digest: None,
            skip_acl: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_interval_ms: 0,
            server_id: 1,
            my_id: None,
            servers: Vec::new(),
            standalone_enabled: true,
            ensemble: None,
            init_limit: 10,
            sync_limit: 5,
            ensemble_name: "zoolog".to_string(),
            retain_entries: 1_000_000,
            trim_interval_ms: 10_000,
            reconfig_enabled: false,
            global_outstanding_limit: 1000,
            max_cnxns: 0,
            pause_unsent_bytes: 1 << 20,
            max_unsent_bytes: 16 << 20,
            batch_max_entries: 256,
            batch_max_in_flight: 8,
            batch_max_queued_bytes: 64 << 20,
            store_write_buffer_mb: crate::store::StoreOptions::default().write_buffer_bytes >> 20,
            server_worker_threads: 0,
            server_worker_nice: 5,
            notices: Vec::new(),
        }
    }
}

/// ZooKeeper keys (config keys and `zookeeper.*` system properties, prefix stripped) that zoolog
/// accepts and does not need. They are logged once at start.
const IGNORED_KEYS: &[&str] = &[
    "connectToLearnerMasterLimit",
    "electionAlg",
    "electionPortBindRetry",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "quorum.cnxn.threads.size",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "metricsProvider.className",
    "serverCnxnFactory",
    "snapCount",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "preAllocSize",
    "commitLogCount",
    "fsync.warningthresholdms",
    "forceSync",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "snapshot.trust.empty",
    "snapshot.compression.method",
    "digest.enabled",
    "closeSessionTxn.enabled",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "learner.asyncSending",
    "leader.maxConcurrentSnapSyncs",
    "leader.maxConcurrentDiffSyncs",
    "audit.enable",
    "enforceQuota",
    "watchManagerName",
    "connection_throttle_tokens",
    "connection_throttle_fill_time",
    "connection_throttle_fill_count",
    "connection_throttle_freeze_time",
    "connection_throttle_drop_increase",
    "connection_throttle_drop_decrease",
    "connection_throttle_decrease_ratio",
    "connection_throttle_weight_enabled",
    "netty.server.outstandingHandshake.limit",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "nio.directBufferBytes",
    "nio.shutdownTimeout",
    "sessionRequireClientSASLAuth",
    "allowSaslFailedClients",
    "ensembleAuthName",
    "authProvider.1",
    "superUser",
    "serverCnxnFactory",
    "clientCnxnSocket",
    "readonlymode.enabled",
    "jvm.pause.info-threshold.ms",
    "jvm.pause.warn-threshold.ms",
    "jvm.pause.sleep.time.ms",
    "jvm.pause.monitor",
    "quorum.auth.enableSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "quorum.auth.kerberos.servicePrincipal",
    "DigestAuthenticationProvider.enabled",
    "DigestAuthenticationProvider.digestAlg",
    "X509AuthenticationProvider.superUser",
    "4lw.commands.whitelist.enabled",
];

/// Key prefixes zoolog accepts and does not need (TLS, admin server, autopurge, quorum layout…).
const IGNORED_PREFIXES: &[&str] = &[
    "admin.",
    "autopurge.",
    "ssl.",
    "metricsProvider.",
    "group.",
    "weight.",
    "authProvider.",
    "superUser.",
    "enforce.auth.",
    "jute.maxbuffer.extrasize",
];

fn bad(file: &str, line: usize, key: &str, value: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        file: file.to_string(),
        line,
        key: key.to_string(),
        value: value.to_string(),
        why: why.into(),
    }
}

fn parse_num<T: std::str::FromStr>(
    file: &str,
    line: usize,
    key: &str,
    value: &str,
) -> Result<T, ConfigError> {
    value
        .parse::<T>()
        .map_err(|_| bad(file, line, key, value, "not a valid number"))
}

fn parse_bool(file: &str, line: usize, key: &str, value: &str) -> Result<bool, ConfigError> {
    // ZooKeeper's parseBoolean accepts exactly "true"/"false" (case-insensitive).
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(file, line, key, value, "expected true or false")),
    }
}

/// Splits one Java-properties line into key and value (`key=value`, `key: value`, `key value`).
fn split_line(text: &str) -> Option<(&str, &str)> {
    let idx = text.find(['=', ':', ' ', '\t'])?;
    let key = text[..idx].trim();
    let mut rest = text[idx..].trim_start_matches([' ', '\t']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r;
    }
    Some((key, rest.trim()))
}

/// What [`Config::parse`] saw of the membership keys, for [`Config::resolve_membership`].
struct Membership {
    /// `dynamicConfigFile`: its line and value.
    dynamic_config: Option<(usize, String)>,
    /// The first `server.N`, `group.N` or `weight.N` key of the main file: line, key, value.
    quorum_key: Option<(usize, String, String)>,
    client_port_line: Option<usize>,
    client_port_address_line: Option<usize>,
}

/// Where the `dynamicConfigFile` named `value` in config file `file` is. ZooKeeper opens the
/// path as given (relative to its working directory; the paths it writes itself are absolute);
/// zoolog takes a relative path from the config file's directory, and falls back to the working
/// directory when no such file is there but one is in the working directory, so that a
/// configuration that starts ZooKeeper also starts zoolog.
fn dynamic_file_path(file: &str, value: &str) -> PathBuf {
    let given = Path::new(value);
    if !given.is_relative() {
        return given.to_path_buf();
    }
    let beside = Path::new(file)
        .parent()
        .unwrap_or(Path::new("."))
        .join(given);
    if !beside.exists() && given.exists() {
        return given.to_path_buf();
    }
    beside
}

impl Config {
    /// How many threads serve connections on this machine: `zoolog.server.workerThreads`, or by
    /// default one per core. Fewer leave the apply thread (every write passes through it) more of
    /// the CPU: on 2 cores, one thread measured setData +15% and creates +10%, but getData −27%
    /// and getChildren of 1,000 children −50%, so the default keeps one per core.
    pub fn worker_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.worker_threads_for(cores)
    }

    /// [`worker_threads`](Self::worker_threads) for a machine with `cores` cores.
    pub fn worker_threads_for(&self, cores: usize) -> usize {
        match self.server_worker_threads {
            0 => cores.max(1),
            n => n,
        }
    }

    /// Reads a zoo.cfg file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            file: path.display().to_string(),
            why: e.to_string(),
        })?;
        Config::parse(&path.display().to_string(), &text)
    }

    /// Parses zoo.cfg text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let mut data_log_dir_set = false;
        let mut min_timeout: i64 = -1;
        let mut max_timeout: i64 = -1;
        let mut client_port_address: Option<(usize, String)> = None;
        let mut client_port_line: Option<usize> = None;
        let mut dynamic_config: Option<(usize, String)> = None;
        // The first key that belongs in a dynamic configuration file (`server.N`, `group.N`,
        // `weight.N`): ZooKeeper refuses it next to `dynamicConfigFile`.
        let mut quorum_key: Option<(usize, String, String)> = None;
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
            let Some((key, value)) = split_line(t) else {
                return Err(ConfigError::Malformed {
                    file: file.to_string(),
                    line,
                    text: t.to_string(),
                });
            };
            if key.is_empty() {
                return Err(ConfigError::Malformed {
                    file: file.to_string(),
                    line,
                    text: t.to_string(),
                });
            }
            // `zookeeper.<key>` is the system-property spelling of the same setting.
            let k = key.strip_prefix("zookeeper.").unwrap_or(key);
            match k {
                "tickTime" => {
                    c.tick_time_ms = parse_num(file, line, key, value)?;
                    if c.tick_time_ms == 0 {
                        return Err(bad(file, line, key, value, "must be positive"));
                    }
                }
                "dataDir" => c.data_dir = PathBuf::from(value),
                "dataLogDir" => {
                    c.data_log_dir = PathBuf::from(value);
                    data_log_dir_set = true;
                }
                "clientPort" => {
                    c.client_port = parse_num(file, line, key, value)?;
                    client_port_line = Some(line);
                }
                "clientPortAddress" => client_port_address = Some((line, value.to_string())),
                "maxClientCnxns" => c.max_client_cnxns = parse_num(file, line, key, value)?,
                "minSessionTimeout" => min_timeout = parse_num(file, line, key, value)?,
                "maxSessionTimeout" => max_timeout = parse_num(file, line, key, value)?,
                "4lw.commands.whitelist" => {
                    let words: BTreeSet<String> = value
                        .split(',')
                        .map(|w| w.trim().to_string())
                        .filter(|w| !w.is_empty())
                        .collect();
                    c.four_letter_words = if words.contains("*") {
                        FourLetterWords::All
                    } else {
                        // srvr is always added, as in ZooKeeper.
                        let mut words = words;
                        words.insert("srvr".to_string());
                        FourLetterWords::Only(words)
                    };
                }
                "jute.maxbuffer" => {
                    let v: i64 = if let Some(hex) = value.strip_prefix("0x") {
                        i64::from_str_radix(hex, 16)
                            .map_err(|_| bad(file, line, key, value, "not a valid number"))?
                    } else {
                        parse_num(file, line, key, value)?
                    };
                    if v <= 0 {
                        return Err(bad(file, line, key, value, "must be positive"));
                    }
                    c.jute_max_buffer = v as usize;
                }
                "extendedTypesEnabled" => {
                    c.extended_types_enabled = parse_bool(file, line, key, value)?
                }
                "superDigest" | "DigestAuthenticationProvider.superDigest" => {
                    if value.split(':').count() != 2 {
                        return Err(bad(file, line, key, value, "expected super:<base64 sha1>"));
                    }
                    c.super_digest = Some(value.to_string());
                }
                "skipACL" => c.skip_acl = value == "yes",
                "standaloneEnabled" => c.standalone_enabled = parse_bool(file, line, key, value)?,
                "reconfigEnabled" => c.reconfig_enabled = parse_bool(file, line, key, value)?,
                "dynamicConfigFile" => dynamic_config = Some((line, value.to_string())),
                "initLimit" | "syncLimit" => {
                    let n: u32 = parse_num(file, line, key, value)?;
                    if n == 0 {
                        return Err(bad(
                            file,
                            line,
                            key,
                            value,
                            "must be a positive number of ticks",
                        ));
                    }
                    if k == "initLimit" {
                        c.init_limit = n;
                    } else {
                        c.sync_limit = n;
                    }
                }
                "zoolog.ensembleName" => {
                    if value.is_empty() || value.len() > 255 {
                        return Err(bad(file, line, key, value, "must be 1 to 255 bytes"));
                    }
                    c.ensemble_name = value.to_string();
                }
                "globalOutstandingLimit" => {
                    let v: i64 = parse_num(file, line, key, value)?;
                    // ZooKeeper takes a non-positive limit as its default.
                    c.global_outstanding_limit = if v <= 0 { 1000 } else { v as usize };
                }
                "maxCnxns" => c.max_cnxns = parse_num(file, line, key, value)?,
                "zoolog.server.pauseUnsentKB" => {
                    let kb: usize = parse_num(file, line, key, value)?;
                    if !(1..=1 << 20).contains(&kb) {
                        return Err(bad(file, line, key, value, "must be 1 to 1048576 (KiB)"));
                    }
                    c.pause_unsent_bytes = kb << 10;
                }
                "zoolog.server.maxUnsentKB" => {
                    let kb: usize = parse_num(file, line, key, value)?;
                    if !(1..=4 << 20).contains(&kb) {
                        return Err(bad(file, line, key, value, "must be 1 to 4194304 (KiB)"));
                    }
                    c.max_unsent_bytes = kb << 10;
                }
                _ if k.starts_with("server.") => {
                    let id = k["server.".len()..].parse::<u64>().map_err(|_| {
                        bad(
                            file,
                            line,
                            key,
                            value,
                            "the server id after `server.` must be a number",
                        )
                    })?;
                    if c.servers.iter().any(|s| s.id == id) {
                        return Err(bad(
                            file,
                            line,
                            key,
                            value,
                            format!("server {id} is listed twice"),
                        ));
                    }
                    let spec = ServerSpec::parse(id, value, line)
                        .map_err(|why| bad(file, line, key, value, why))?;
                    c.servers.push(spec);
                    quorum_key.get_or_insert((line, key.to_string(), value.to_string()));
                }
                "znode.container.checkIntervalMs" => {
                    c.container_check_interval_ms = parse_num(file, line, key, value)?
                }
                "znode.container.maxPerMinute" => {
                    c.container_max_per_minute = parse_num(file, line, key, value)?
                }
                "znode.container.maxNeverUsedIntervalMs" => {
                    c.container_max_never_used_interval_ms = parse_num(file, line, key, value)?
                }
                "zoolog.ensemble.retainEntries" => {
                    c.retain_entries = parse_num(file, line, key, value)?;
                    if c.retain_entries == 0 {
                        return Err(bad(file, line, key, value, "must be positive"));
                    }
                }
                "zoolog.log.trimIntervalMs" => {
                    c.trim_interval_ms = parse_num(file, line, key, value)?;
                    if !(10..=86_400_000).contains(&c.trim_interval_ms) {
                        return Err(bad(file, line, key, value, "must be 10 to 86400000"));
                    }
                }
                "zoolog.batch.maxEntries" => {
                    c.batch_max_entries = parse_num(file, line, key, value)?;
                    if c.batch_max_entries == 0 {
                        return Err(bad(file, line, key, value, "must be positive"));
                    }
                }
                "zoolog.batch.maxInFlight" => {
                    c.batch_max_in_flight = parse_num(file, line, key, value)?;
                    if c.batch_max_in_flight == 0 {
                        return Err(bad(file, line, key, value, "must be positive"));
                    }
                }
                "zoolog.batch.maxQueuedMB" => {
                    let mb: usize = parse_num(file, line, key, value)?;
                    if !(1..=4096).contains(&mb) {
                        return Err(bad(file, line, key, value, "must be 1 to 4096"));
                    }
                    c.batch_max_queued_bytes = mb << 20;
                }
                "zoolog.store.writeBufferMB" => {
                    c.store_write_buffer_mb = parse_num(file, line, key, value)?;
                    if !(1..=1024).contains(&c.store_write_buffer_mb) {
                        return Err(bad(file, line, key, value, "must be 1 to 1024"));
                    }
                }
                "zoolog.server.workerThreads" => {
                    c.server_worker_threads = parse_num(file, line, key, value)?;
                    if c.server_worker_threads > 1024 {
                        return Err(bad(file, line, key, value, "must be 0 (auto) to 1024"));
                    }
                }
                "zoolog.server.workerNice" => {
                    c.server_worker_nice = parse_num(file, line, key, value)?;
                    if c.server_worker_nice > 19 {
                        return Err(bad(file, line, key, value, "must be 0 to 19"));
                    }
                }
                _ if IGNORED_KEYS.contains(&k)
                    || IGNORED_PREFIXES.iter().any(|p| k.starts_with(p)) =>
                {
                    if k.starts_with("group.") || k.starts_with("weight.") {
                        quorum_key.get_or_insert((line, key.to_string(), value.to_string()));
                    }
                    c.notices.push(format!(
                        "{file}:{line}: `{key}` is accepted and not used by zoolog"
                    ));
                }
                _ => {
                    return Err(ConfigError::UnknownKey {
                        file: file.to_string(),
                        line,
                        key: key.to_string(),
                    });
                }
            }
        }
        if !data_log_dir_set {
            c.data_log_dir = c.data_dir.clone();
        }
        let client_port_address_line = client_port_address.as_ref().map(|(line, _)| *line);
        if let Some((line, addr)) = client_port_address {
            c.client_port_address = addr
                .parse()
                .map_err(|_| bad(file, line, "clientPortAddress", &addr, "not an IP address"))?;
        }
        let tick = i64::from(c.tick_time_ms);
        let min = if min_timeout == -1 {
            tick * 2
        } else {
            min_timeout
        };
        let max = if max_timeout == -1 {
            tick * 20
        } else {
            max_timeout
        };
        if min < 0 || max < 0 || min > i64::from(u32::MAX) || max > i64::from(u32::MAX) {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                why: "session timeouts must be -1 or between 0 and 2^32-1 ms".into(),
            });
        }
        if min > max {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                why: "minSessionTimeout must not be larger than maxSessionTimeout".into(),
            });
        }
        c.min_session_timeout_ms = min as u32;
        c.max_session_timeout_ms = max as u32;
        if c.max_unsent_bytes < c.pause_unsent_bytes {
            return Err(ConfigError::Invalid {
                file: file.to_string(),
                why:
                    "zoolog.server.maxUnsentKB must not be smaller than zoolog.server.pauseUnsentKB"
                        .into(),
            });
        }
        c.resolve_membership(
            file,
            Membership {
                dynamic_config,
                quorum_key,
                client_port_line,
                client_port_address_line,
            },
        )?;
        Ok(c)
    }

    /// Reads `myid` and decides what this node is. With no `server.N` line it is a standalone
    /// node. A single participant `server.N` line with `standaloneEnabled=true` is what
    /// ZooKeeper also runs standalone (its client address, if it gives one, is the node's).
    /// Anything else is an ensemble: `myid` must name one of the servers, whose line gives this
    /// node's client address. With `dynamicConfigFile`, the servers are that file's.
    fn resolve_membership(&mut self, file: &str, seen: Membership) -> Result<(), ConfigError> {
        let mut servers_file = file.to_string();
        let mut dynamic_path = None;
        if let Some((line, value)) = seen.dynamic_config {
            // ZooKeeper 3.5 to 3.8 (QuorumPeerConfig.parseProperties) refuses a `server.N`,
            // `group.N` or `weight.N` key in the main file when `dynamicConfigFile` is set
            // ("parameter: server.1 must be in a separate dynamic config file"), whichever line
            // comes first; zoolog refuses it too, naming the line.
            if let Some((qline, key, qvalue)) = seen.quorum_key {
                return Err(bad(
                    file,
                    qline,
                    &key,
                    &qvalue,
                    format!(
                        "must be in the dynamicConfigFile named on line {line}, not in the main file (as ZooKeeper requires)"
                    ),
                ));
            }
            let path = dynamic_file_path(file, &value);
            let servers = ensemble::read_dynamic(&path).map_err(|e| match e {
                ConfigError::Read { why, .. } => bad(
                    file,
                    line,
                    "dynamicConfigFile",
                    &value,
                    format!("cannot read {}: {why}", path.display()),
                ),
                other => other,
            })?;
            if servers.is_empty() {
                return Err(bad(
                    file,
                    line,
                    "dynamicConfigFile",
                    &value,
                    format!("{} lists no server.N line", path.display()),
                ));
            }
            self.servers = servers;
            servers_file = path.display().to_string();
            dynamic_path = Some(path);
        }
        if self.servers.is_empty() {
            return Ok(());
        }
        self.servers.sort_by_key(|s| s.id);
        self.my_id = read_myid(&self.data_dir)?;
        let myid_file = self.data_dir.join("myid").display().to_string();
        let standalone = self.servers.len() == 1
            && self.standalone_enabled
            && dynamic_path.is_none()
            && self.servers[0].role == Role::Participant;
        if !standalone {
            ensemble::check_servers(&servers_file, &self.servers)?;
        }
        let me = match (self.my_id, standalone) {
            (Some(id), _) => id,
            (None, true) => self.servers[0].id,
            (None, false) => {
                return Err(ConfigError::Invalid {
                    file: myid_file,
                    why: format!(
                        "missing: every member of the ensemble in {servers_file} needs dataDir/myid naming its server.N"
                    ),
                });
            }
        };
        let Some(mine) = self.servers.iter().find(|s| s.id == me).cloned() else {
            let listed: Vec<String> = self.servers.iter().map(|s| s.id.to_string()).collect();
            return Err(ConfigError::Invalid {
                file: myid_file,
                why: format!(
                    "says this is server {me}, but {servers_file} lists only server {}",
                    listed.join(", ")
                ),
            });
        };
        if let Some((addr, port)) = mine.client.clone() {
            if let Some(line) = seen.client_port_line
                && port != self.client_port
            {
                return Err(bad(
                    file,
                    line,
                    "clientPort",
                    &self.client_port.to_string(),
                    format!(
                        "server.{} on {servers_file}:{} gives this node client port {port}",
                        mine.id, mine.line
                    ),
                ));
            }
            self.client_port = port;
            if let Some(addr) = addr {
                let addr: IpAddr = addr.parse().map_err(|_| {
                    bad(
                        &servers_file,
                        mine.line,
                        &format!("server.{}", mine.id),
                        &addr,
                        "the client address is not an IP address",
                    )
                })?;
                // As ZooKeeper's setupClientPort: a wildcard clientPortAddress gives way to the
                // server line's address, a specific one must be the same.
                if let Some(line) = seen.client_port_address_line
                    && !self.client_port_address.is_unspecified()
                    && self.client_port_address != addr
                {
                    return Err(bad(
                        file,
                        line,
                        "clientPortAddress",
                        &self.client_port_address.to_string(),
                        format!(
                            "server.{} on {servers_file}:{} gives this node client address {addr}",
                            mine.id, mine.line
                        ),
                    ));
                }
                self.client_port_address = addr;
            }
        }
        if standalone {
            // A standalone ZooKeeper server stamps its session ids with server id 1, whatever
            // myid says; so does zoolog.
            self.server_id = 1;
            return Ok(());
        }
        // Session ids carry the server id in their top byte (§10.1).
        self.server_id =
            u8::try_from(me)
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| ConfigError::Invalid {
                    file: myid_file.clone(),
                    why: format!("server id {me} is out of range: zoolog needs 1 to 255"),
                })?;
        self.ensemble = Some(Ensemble {
            me,
            servers: self.servers.clone(),
            name: self.ensemble_name.clone(),
            init_limit: self.init_limit,
            sync_limit: self.sync_limit,
            dynamic_config_file: dynamic_path,
        });
        Ok(())
    }

    /// Clamps a requested session timeout to the configured bounds (§1.5).
    pub fn negotiate_timeout(&self, requested_ms: i32) -> i32 {
        let min = i64::from(self.min_session_timeout_ms);
        let max = i64::from(self.max_session_timeout_ms);
        i64::from(requested_ms).clamp(min, max) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_zookeepers() {
        let c = Config::default();
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.min_session_timeout_ms, 4000);
        assert_eq!(c.max_session_timeout_ms, 40000);
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(c.jute_max_buffer, 0xfffff);
        assert!(c.four_letter_words.allows("srvr"));
        assert!(!c.four_letter_words.allows("ruok"));
    }

    #[test]
    fn sample_zoo_cfg_parses() {
        let text = "# The number of milliseconds of each tick\n\
                    tickTime=2000\n\
                    initLimit=10\n\
                    syncLimit=5\n\
                    dataDir=/var/lib/zookeeper\n\
                    clientPort=2181\n\
                    maxClientCnxns=0\n\
                    autopurge.snapRetainCount=3\n\
                    autopurge.purgeInterval=1\n\
                    admin.enableServer=false\n\
                    4lw.commands.whitelist=ruok, mntr\n\
                    extendedTypesEnabled=true\n\
                    zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n";
        let c = Config::parse("zoo.cfg", text).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/zookeeper"));
        assert_eq!(c.data_log_dir, c.data_dir);
        assert_eq!(c.max_client_cnxns, 0);
        assert!(c.four_letter_words.allows("ruok"));
        assert!(c.four_letter_words.allows("mntr"));
        assert!(c.four_letter_words.allows("srvr"), "srvr is always enabled");
        assert!(!c.four_letter_words.allows("dump"));
        assert!(c.extended_types_enabled);
        assert!(c.super_digest.is_some());
        // initLimit and syncLimit are read now; the autopurge and admin keys are noticed.
        assert_eq!(c.notices.len(), 3);
        assert_eq!((c.init_limit, c.sync_limit), (10, 5));
    }

    fn with_myid(id: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("myid"), id).unwrap();
        d
    }

    fn ensemble_cfg(dir: &Path, servers: &str) -> String {
        format!(
            "tickTime=500\nsyncLimit=4\ndataDir={}\n{servers}",
            dir.display()
        )
    }

    const THREE: &str = "server.1=127.0.0.1:2888:3888;2181\n\
                         server.3=127.0.0.3:2888:3888;127.0.0.3:2183\n\
                         server.2=127.0.0.2:2888:3888:participant;2182\n\
                         server.4=[::1]:2888:3888:observer;2184\n";

    #[test]
    fn an_ensemble_member_is_known_by_its_myid() {
        let d = with_myid("3\n");
        let c = Config::parse("zoo.cfg", &ensemble_cfg(d.path(), THREE)).unwrap();
        let e = c.ensemble.clone().expect("an ensemble");
        assert_eq!(e.me, 3);
        assert_eq!(e.me().id, 3);
        assert_eq!(c.server_id, 3);
        assert_eq!(c.my_id, Some(3));
        assert_eq!((e.init_limit, e.sync_limit), (10, 4));
        assert_eq!(e.name, "zoolog");
        assert_eq!(e.dynamic_config_file, None);
        // Every server line, observers too, by id.
        let ids: Vec<u64> = e.servers.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        assert_eq!(e.participants(), vec![1, 2, 3]);
        assert!(!e.is_observer());
        assert_eq!(e.quorum_addr(3).as_deref(), Some("127.0.0.3:2888"));
        assert_eq!(e.quorum_addr(4).as_deref(), Some("[::1]:2888"));
        assert_eq!(e.quorum_addr(9), None);
        // This node's client address is its own server line's.
        assert_eq!(c.client_port, 2183);
        assert_eq!(c.client_port_address.to_string(), "127.0.0.3");
        // The observer, on IPv6.
        let d = with_myid("4");
        let c = Config::parse("zoo.cfg", &ensemble_cfg(d.path(), THREE)).unwrap();
        assert_eq!(c.server_id, 4);
        assert_eq!(c.client_port, 2184);
        let e = c.ensemble.unwrap();
        assert!(e.is_observer());
        assert_eq!(e.me().addresses[0].host, "::1");
        assert_eq!(e.participants(), vec![1, 2, 3]);
        // A server line without a client port: clientPort (here the default) serves.
        let d = with_myid("2");
        let cfg = ensemble_cfg(
            d.path(),
            "initLimit=7\nzoolog.ensembleName=blue\nclientPort=2999\nserver.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888\nserver.3=10.0.0.3:2888:3888\n",
        );
        let c = Config::parse("zoo.cfg", &cfg).unwrap();
        let e = c.ensemble.clone().unwrap();
        assert_eq!(
            (c.client_port, e.init_limit, e.name.as_str()),
            (2999, 7, "blue")
        );
        assert_eq!(c.client_port_address.to_string(), "0.0.0.0");
        // One server with standaloneEnabled=false is an ensemble of one.
        let d = with_myid("1");
        let cfg = ensemble_cfg(
            d.path(),
            "standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n",
        );
        let c = Config::parse("zoo.cfg", &cfg).unwrap();
        assert_eq!(c.ensemble.unwrap().participants(), vec![1]);
        // An IPv6 ensemble, client addresses bracketed.
        let d = with_myid("2");
        let cfg = ensemble_cfg(
            d.path(),
            "server.1=[fd00::1]:2888:3888;[fd00::1]:2181\nserver.2=[fd00::2]:2888:3888;[fd00::2]:2181\nserver.3=[fd00::3]:2888:3888:observer;2181\n",
        );
        let c = Config::parse("zoo.cfg", &cfg).unwrap();
        let e = c.ensemble.clone().unwrap();
        assert_eq!(e.quorum_addr(2).as_deref(), Some("[fd00::2]:2888"));
        assert_eq!(e.participants(), vec![1, 2]);
        assert_eq!(c.client_port_address.to_string(), "fd00::2");
    }

    #[test]
    fn one_server_line_runs_standalone() {
        // No server line: standalone whatever myid says.
        let d = with_myid("7");
        let c = Config::parse("zoo.cfg", &ensemble_cfg(d.path(), "")).unwrap();
        assert_eq!((c.ensemble.clone(), c.server_id, c.my_id), (None, 1, None));
        // One participant line for this node: standalone, as ZooKeeper runs it, with server id 1
        // and that line's client address.
        let d = with_myid("5");
        let cfg = ensemble_cfg(d.path(), "server.5=127.0.0.1:2888:3888;127.0.0.2:2999\n");
        let c = Config::parse("zoo.cfg", &cfg).unwrap();
        assert_eq!((c.ensemble.clone(), c.server_id), (None, 1));
        assert_eq!(
            (c.client_port, c.client_port_address.to_string().as_str()),
            (2999, "127.0.0.2")
        );
        // Without myid too.
        let d = tempfile::tempdir().unwrap();
        let c = Config::parse("zoo.cfg", &ensemble_cfg(d.path(), "server.1=a:1:2\n")).unwrap();
        assert_eq!((c.ensemble, c.server_id), (None, 1));
        // A line that is not this node's is refused.
        let d = with_myid("1");
        let e = Config::parse("zoo.cfg", &ensemble_cfg(d.path(), "server.2=a:1:2\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("myid") && e.contains("server 1"), "{e}");
        // A lone observer is not a standalone node: an ensemble needs a participant.
        let d = with_myid("1");
        let e = Config::parse(
            "zoo.cfg",
            &ensemble_cfg(d.path(), "server.1=a:1:2:observer\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("zoo.cfg:4:") && e.contains("participant"), "{e}");
    }

    #[test]
    fn a_bad_ensemble_names_the_file_and_line() {
        let err = |myid: Option<&str>, servers: &str| {
            let d = match myid {
                Some(id) => with_myid(id),
                None => tempfile::tempdir().unwrap(),
            };
            let e = Config::parse("zoo.cfg", &ensemble_cfg(d.path(), servers))
                .unwrap_err()
                .to_string();
            (e, d.path().join("myid").display().to_string())
        };
        let (e, myid) = err(None, THREE);
        assert!(e.starts_with(&myid) && e.contains("missing"), "{e}");
        let (e, myid) = err(Some("7"), THREE);
        assert!(
            e.starts_with(&myid)
                && e.contains("server 7")
                && e.contains("zoo.cfg")
                && e.contains("1, 2, 3, 4"),
            "{e}"
        );
        let (e, myid) = err(Some("x"), THREE);
        assert!(e.starts_with(&format!("{myid}:1:")), "{e}");
        let (e, myid) = err(Some(""), THREE);
        assert!(e.starts_with(&format!("{myid}:1:")), "{e}");
        // Session ids carry the server id in one byte.
        for id in ["0", "256"] {
            let many = format!("server.{id}=127.0.0.9:2888:3888\n{THREE}");
            let (e, myid) = err(Some(id), &many);
            assert!(e.starts_with(&myid) && e.contains("1 to 255"), "{e}");
        }
        // Two servers on one quorum, election or client address; the second line is named.
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2888:3889\n",
        );
        assert!(
            e.contains("zoo.cfg:5:") && e.contains("127.0.0.1:2888"),
            "{e}"
        );
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3888\n",
        );
        assert!(e.contains("zoo.cfg:5:") && e.contains("election"), "{e}");
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:2888\n",
        );
        assert!(e.contains("zoo.cfg:5:") && e.contains("quorum"), "{e}");
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.2:2888:3888;127.0.0.1:2181\n",
        );
        assert!(e.contains("zoo.cfg:5:") && e.contains("client port"), "{e}");
        let (e, _) = err(
            Some("1"),
            "server.1=[::1]:2888:3888\nserver.2=[::1]:2888:3999\n",
        );
        assert!(e.contains("zoo.cfg:5:") && e.contains("::1:2888"), "{e}");
        // Quorum port = election port.
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:2888\nserver.2=127.0.0.2:2888:3888\n",
        );
        assert!(e.contains("zoo.cfg:4:") && e.contains("same"), "{e}");
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:3888:observer\nserver.2=127.0.0.2:2888:3888:observer\n",
        );
        assert!(e.contains("zoo.cfg:4:") && e.contains("participant"), "{e}");
        let (e, _) = err(
            Some("1"),
            "server.1=127.0.0.1:2888:3888\nserver.1=127.0.0.2:2888:3888\n",
        );
        assert!(e.contains("zoo.cfg:5:") && e.contains("twice"), "{e}");
        let (e, _) = err(Some("1"), "server.x=127.0.0.1:2888:3888\n");
        assert!(e.contains("zoo.cfg:4:") && e.contains("server.x"), "{e}");
        let (e, _) = err(Some("1"), "server.1=127.0.0.1:2888\n");
        assert!(e.contains("zoo.cfg:4:") && e.contains("server.1"), "{e}");
        // This node's client port or address given twice, differently.
        let (e, _) = err(
            Some("1"),
            "clientPort=2000\nserver.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.2:2888:3888\n",
        );
        assert!(
            e.contains("zoo.cfg:4:") && e.contains("clientPort") && e.contains("zoo.cfg:5"),
            "{e}"
        );
        let (e, _) = err(
            Some("1"),
            "clientPortAddress=127.0.0.9\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2181\nserver.2=127.0.0.2:2888:3888\n",
        );
        assert!(
            e.contains("zoo.cfg:4:") && e.contains("clientPortAddress"),
            "{e}"
        );
        // ... while a wildcard clientPortAddress and an equal clientPort give way.
        let d = with_myid("1");
        let cfg = ensemble_cfg(
            d.path(),
            "clientPort=2181\nclientPortAddress=0.0.0.0\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2181\nserver.2=127.0.0.2:2888:3888\n",
        );
        let c = Config::parse("zoo.cfg", &cfg).unwrap();
        assert_eq!(c.client_port_address.to_string(), "127.0.0.1");
        // initLimit and syncLimit: positive numbers of ticks.
        for (bad, line) in [
            ("syncLimit=0\n", 4),
            ("initLimit=0\n", 4),
            ("initLimit=ten\n", 4),
            ("syncLimit=-1\n", 4),
        ] {
            let (e, _) = err(Some("1"), bad);
            assert!(e.starts_with(&format!("zoo.cfg:{line}:")), "{e}");
        }
    }

    #[test]
    fn a_dynamic_config_file_lists_the_servers() {
        let d = with_myid("2");
        let dynamic = d.path().join("zoo.cfg.dynamic");
        std::fs::write(
            &dynamic,
            "# written by hand\nversion=100000000\nserver.1=127.0.0.1:2888:3888;2181\nserver.2 = 127.0.0.2:2888:3888;2182\n",
        )
        .unwrap();
        let main = d.path().join("zoo.cfg");
        let write_main = |extra: &str| {
            std::fs::write(
                &main,
                format!(
                    "dataDir={}\ndynamicConfigFile=zoo.cfg.dynamic\n{extra}",
                    d.path().display()
                ),
            )
            .unwrap()
        };
        write_main("");
        // Relative to the config file's directory.
        let c = Config::from_file(&main).unwrap();
        let e = c.ensemble.clone().unwrap();
        assert_eq!(e.participants(), vec![1, 2]);
        assert_eq!(e.dynamic_config_file.as_deref(), Some(dynamic.as_path()));
        assert_eq!((c.client_port, c.server_id), (2182, 2));
        // An absolute path; one server is still an ensemble (of one).
        std::fs::write(&dynamic, "server.2=127.0.0.2:2888:3888\n").unwrap();
        std::fs::write(
            &main,
            format!(
                "dataDir={}\ndynamicConfigFile={}\n",
                d.path().display(),
                dynamic.display()
            ),
        )
        .unwrap();
        let c = Config::from_file(&main).unwrap();
        assert_eq!(c.ensemble.unwrap().participants(), vec![2]);
        write_main("");
        let main_name = main.display().to_string();
        let dyn_name = dynamic.display().to_string();
        let err = || Config::from_file(&main).unwrap_err().to_string();
        // Server lines in both files: ZooKeeper refuses the main file's.
        write_main("server.9=127.0.0.9:1:2\n");
        let e = err();
        assert!(
            e.starts_with(&format!("{main_name}:3:")) && e.contains("server.9"),
            "{e}"
        );
        write_main("group.1=1:2\n");
        let e = err();
        assert!(e.starts_with(&format!("{main_name}:3:")), "{e}");
        write_main("");
        // Errors in the dynamic file name it and its line.
        for (text, line, what) in [
            ("server.1=127.0.0.1:2888:3888\nbogus=1\n", 2, "bogus"),
            (
                "server.2=127.0.0.2:2888:3888\nclientPort=2181\n",
                2,
                "clientPort",
            ),
            ("server.2=127.0.0.2:2888\n", 1, "server.2"),
            (
                "server.2=127.0.0.2:1:2\nserver.2=127.0.0.3:1:2\n",
                2,
                "twice",
            ),
            (
                "server.2=127.0.0.2:1:2\nserver.3=127.0.0.2:1:3\n",
                2,
                "127.0.0.2:1",
            ),
            ("server.2=127.0.0.2:1:1\n", 1, "same"),
            ("server.2=127.0.0.2:1:2\njustakey\n", 2, "justakey"),
        ] {
            std::fs::write(&dynamic, text).unwrap();
            let e = err();
            assert!(
                e.starts_with(&format!("{dyn_name}:{line}:")) && e.contains(what),
                "{text}: {e}"
            );
        }
        // This node not in it.
        std::fs::write(&dynamic, "server.1=127.0.0.1:2888:3888\n").unwrap();
        let e = err();
        assert!(e.contains("server 2") && e.contains(&dyn_name), "{e}");
        // No server in it; no file at all.
        std::fs::write(&dynamic, "version=1\n").unwrap();
        let e = err();
        assert!(e.starts_with(&format!("{main_name}:2:")), "{e}");
        std::fs::remove_file(&dynamic).unwrap();
        let e = err();
        assert!(
            e.starts_with(&format!("{main_name}:2:")) && e.contains("cannot read"),
            "{e}"
        );
    }

    #[test]
    fn session_bounds_follow_tick_time() {
        let c = Config::parse("x", "tickTime=100\nminSessionTimeout=-1\n").unwrap();
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (200, 2000)
        );
        assert_eq!(c.negotiate_timeout(10), 200);
        assert_eq!(c.negotiate_timeout(1_000_000), 2000);
        assert_eq!(c.negotiate_timeout(500), 500);
        let e = Config::parse("x", "minSessionTimeout=5000\nmaxSessionTimeout=4000\n");
        assert!(matches!(e, Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Config::parse("zoo.cfg", "tickTime=2000\n\nbogusKey=1\n").unwrap_err();
        assert_eq!(
            e,
            ConfigError::UnknownKey {
                file: "zoo.cfg".into(),
                line: 3,
                key: "bogusKey".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "zoo.cfg:3: unknown configuration key `bogusKey`"
        );
        let e = Config::parse("zoo.cfg", "clientPort=abc\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("zoo.cfg:1: invalid value `abc` for `clientPort`")
        );
        let e = Config::parse("zoo.cfg", "tickTime=1\nclientPortAddress=nope\n").unwrap_err();
        assert!(e.to_string().starts_with("zoo.cfg:2:"));
        let e = Config::parse("zoo.cfg", "justakey\n").unwrap_err();
        assert!(matches!(e, ConfigError::Malformed { line: 1, .. }));
    }

    #[test]
    fn zoologs_own_keys() {
        let c = Config::parse(
            "x",
            "zoolog.store.writeBufferMB=8\nzoolog.batch.maxInFlight=3\n",
        )
        .unwrap();
        assert_eq!((c.store_write_buffer_mb, c.batch_max_in_flight), (8, 3));
        let c = Config::parse("x", "zoolog.server.workerThreads=3\n").unwrap();
        assert_eq!(c.worker_threads_for(2), 3);
        let c = Config::parse("x", "zoolog.server.workerNice=12\n").unwrap();
        assert_eq!(c.server_worker_nice, 12);
        assert_eq!(Config::default().server_worker_nice, 5);
        let auto = Config::default();
        assert_eq!(
            [1, 2, 4, 16].map(|cores| auto.worker_threads_for(cores)),
            [1, 2, 4, 16]
        );
        for bad in [
            "zoolog.store.writeBufferMB=0",
            "zoolog.store.writeBufferMB=2048",
            "zoolog.server.workerThreads=-1",
            "zoolog.server.workerThreads=5000",
            "zoolog.server.workerNice=20",
            "zoolog.server.workerNice=-1",
        ] {
            let e = Config::parse("zoo.cfg", &format!("tickTime=2000\n{bad}\n")).unwrap_err();
            assert!(e.to_string().starts_with("zoo.cfg:2:"), "{e}");
        }
    }

    #[test]
    fn properties_separators_and_system_property_names() {
        let c = Config::parse(
            "x",
            "tickTime: 500\nclientPort 2999\nzookeeper.4lw.commands.whitelist=*\njute.maxbuffer=0x100000\n",
        )
        .unwrap();
        assert_eq!(c.tick_time_ms, 500);
        assert_eq!(c.client_port, 2999);
        assert_eq!(c.four_letter_words, FourLetterWords::All);
        assert_eq!(c.jute_max_buffer, 0x100000);
    }
}
