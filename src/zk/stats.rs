//! Server statistics as ZooKeeper's four-letter words report them (`srvr`, `stat`, `mntr`,
//! `cons`): packets in and out, request latency, outstanding requests, per-connection counters.
//!
//! Layer: `zk` soft state; lock-free counters updated by connections, read by `server/fourlw`.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

/// Latency and packet counters (reset by `srst`).
#[derive(Debug)]
pub struct ServerStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    /// Requests received and not yet answered, across connections (ZooKeeper's
    /// `outstanding_requests`; what `globalOutstandingLimit` bounds).
    pub outstanding: AtomicI64,
    /// Connections dropped because their clients left too much output untaken.
    pub overflow_drops: AtomicU64,
    latency_count: AtomicU64,
    latency_total_us: AtomicU64,
    latency_min_us: AtomicU64,
    latency_max_us: AtomicU64,
    pub auth_failed: AtomicU64,
    pub started: Instant,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            outstanding: AtomicI64::new(0),
            overflow_drops: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            latency_total_us: AtomicU64::new(0),
            latency_min_us: AtomicU64::new(u64::MAX),
            latency_max_us: AtomicU64::new(0),
            auth_failed: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

/// `(min, avg, max)` request latency in ms, as `srvr` prints it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

impl ServerStats {
    /// One request answered after `started`.
    pub fn record_latency(&self, started: Instant) {
        let us = started.elapsed().as_micros() as u64;
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_total_us.fetch_add(us, Ordering::Relaxed);
        self.latency_min_us.fetch_min(us, Ordering::Relaxed);
        self.latency_max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn latency(&self) -> Latency {
        let n = self.latency_count.load(Ordering::Relaxed);
        if n == 0 {
            return Latency {
                min_ms: 0.0,
                avg_ms: 0.0,
                max_ms: 0.0,
            };
        }
        let total = self.latency_total_us.load(Ordering::Relaxed) as f64;
        Latency {
            min_ms: self.latency_min_us.load(Ordering::Relaxed) as f64 / 1000.0,
            avg_ms: total / n as f64 / 1000.0,
            max_ms: self.latency_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }

    /// `srst`.
    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_total_us.store(0, Ordering::Relaxed);
        self.latency_min_us.store(u64::MAX, Ordering::Relaxed);
        self.latency_max_us.store(0, Ordering::Relaxed);
    }
}

/// Counters of one connection (`cons`, reset by `crst`).
#[derive(Debug)]
pub struct ConnStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub queued: AtomicI64,
    pub last_cxid: AtomicI64,
    pub last_zxid: AtomicI64,
    /// The opcode of the last request (`cons` prints its short name as `lop`).
    pub last_op: AtomicI32,
    /// When the last reply was queued, in ms since the connection was established.
    pub last_response_ms: AtomicU64,
}

/// ZooKeeper's short name of an opcode in `cons` (`lop=`), "NA" before any request.
pub fn op_short_name(op: i32) -> &'static str {
    use zoolog_jute::OpCode::*;
    match zoolog_jute::OpCode::from_i32(op) {
        Some(Ping) => "PING",
        Some(CreateSession) => "SESS",
        Some(CloseSession) => "CLOS",
        Some(Reconfig) => "RECO",
        Some(Multi) => "MULT",
        Some(MultiRead) => "MLTR",
        Some(Create | Create2 | CreateContainer | CreateTtl) => "CREA",
        Some(Delete | DeleteContainer) => "DELE",
        Some(SetData) => "SETD",
        Some(SetAcl) => "SETA",
        Some(Sync) => "SYNC",
        Some(Check) => "CHEC",
        Some(Exists) => "EXIS",
        Some(GetData) => "GETD",
        Some(GetAcl) => "GETA",
        Some(GetChildren | GetChildren2) => "GETC",
        Some(GetAllChildrenNumber) => "GETACN",
        Some(SetWatches) => "SETW",
        Some(SetWatches2) => "STW2",
        Some(AddWatch) => "ADDW",
        Some(CheckWatches) => "CHKW",
        Some(RemoveWatches) => "REMW",
        Some(GetEphemerals) => "GETE",
        Some(WhoAmI) => "HOMI",
        _ => "NA",
    }
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            queued: AtomicI64::new(0),
            last_cxid: AtomicI64::new(-1),
            last_zxid: AtomicI64::new(-1),
            last_op: AtomicI32::new(i32::MIN),
            last_response_ms: AtomicU64::new(0),
        }
    }
}

impl ConnStats {
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
    }
}
