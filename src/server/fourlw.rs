//! Four-letter words (zookeeper-protocol.md §11): the first four bytes of a connection name a
//! command; the server answers in plain text, in ZooKeeper 3.8's formats, and closes. Commands
//! outside `4lw.commands.whitelist` get ZooKeeper's refusal text.
//!
//! Layer: `server`; reads the service's statistics, sessions and watches.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use crate::zk::ZkService;

use super::listener::ConnCounts;

/// The ZooKeeper protocol level we answer as, then zoolog's own version (DESIGN.md §9).
pub fn version_string() -> String {
    format!("3.8.0-zoolog-{}", env!("CARGO_PKG_VERSION"))
}

/// The words zoolog knows.
const WORDS: &[&str] = &[
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "wchc", "wchp", "dump", "isro",
    "crst", "srst", "dirs", "gtmk", "stmk",
];

/// The command named by the first four bytes of a connection, if any.
pub fn parse(first: [u8; 4]) -> Option<&'static str> {
    let s = std::str::from_utf8(&first).ok()?;
    WORDS.iter().copied().find(|w| *w == s)
}

fn sid(s: i64) -> String {
    format!("0x{:x}", s)
}

fn dir_size(path: &std::path::Path) -> u64 {
    fn walk(p: &std::path::Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(p) else {
            return 0;
        };
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(path)
}

fn latency_line(svc: &ZkService) -> String {
    let l = svc.stats().latency();
    format!(
        "Latency min/avg/max: {}/{:.1}/{}\n",
        l.min_ms.round() as u64,
        l.avg_ms,
        l.max_ms.round() as u64
    )
}

fn server_summary(svc: &ZkService, counts: &ConnCounts, out: &mut String) {
    let st = svc.stats();
    let snap = svc.snapshot();
    let reader = svc.reader(&snap);
    let zxid = reader.last_zxid().unwrap_or(0);
    // ZooKeeper counts the root twice ("" and "/" are aliases).
    let nodes = reader.node_count().unwrap_or(0) + 1;
    out.push_str(&latency_line(svc));
    let _ = writeln!(
        out,
        "Received: {}",
        st.packets_received.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "Sent: {}", st.packets_sent.load(Ordering::Relaxed));
    let _ = writeln!(out, "Connections: {}", counts.total());
    let _ = writeln!(
        out,
        "Outstanding: {}",
        st.outstanding.load(Ordering::Relaxed).max(0)
    );
    let _ = writeln!(out, "Zxid: 0x{:x}", zxid);
    let _ = writeln!(out, "Mode: {}", svc.mode().name());
    let _ = writeln!(out, "Node count: {nodes}");
}

fn conn_lines(svc: &ZkService, full: bool, me: SocketAddr, out: &mut String) {
    // The asking connection is a connection too (ZooKeeper lists it, with no session).
    let _ = writeln!(out, " /{me}[0](queued=0,recved=1,sent=0)");
    let hub = svc.hub().lock();
    for h in hub.conns.values() {
        let s = &h.stats;
        let _ = write!(
            out,
            " /{}[1](queued={},recved={},sent={}",
            h.peer,
            s.queued.load(Ordering::Relaxed).max(0),
            s.received.load(Ordering::Relaxed),
            s.sent.load(Ordering::Relaxed)
        );
        if full {
            let _ = write!(
                out,
                ",sid={},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp=0,llat=0,minlat=0,avglat=0,maxlat=0",
                sid(h.session),
                crate::zk::stats::op_short_name(s.last_op.load(Ordering::Relaxed)),
                h.established.elapsed().as_millis(),
                h.timeout_ms,
                s.last_cxid.load(Ordering::Relaxed),
                s.last_zxid.load(Ordering::Relaxed),
            );
        }
        out.push_str(")\n");
    }
}

/// Runs `word`, returning the text to send.
/// `arg` is the 8-byte value that follows `stmk`.
pub fn run(
    word: &str,
    svc: &ZkService,
    counts: &ConnCounts,
    me: SocketAddr,
    arg: Option<i64>,
) -> String {
    if !svc.config().four_letter_words.allows(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let mut out = String::new();
    let version = version_string();
    match word {
        "ruok" => out.push_str("imok"),
        "isro" => out.push_str("rw"),
        // The trace mask is a Java logging knob with no effect here; it is kept and echoed.
        "gtmk" => out.push_str(&svc.trace_mask().to_string()),
        "stmk" => {
            if let Some(mask) = arg {
                svc.set_trace_mask(mask);
            }
            out.push_str(&svc.trace_mask().to_string());
        }
        "srvr" => {
            let _ = writeln!(out, "Zookeeper version: {version}");
            server_summary(svc, counts, &mut out);
        }
        "stat" => {
            let _ = writeln!(out, "Zookeeper version: {version}");
            out.push_str("Clients:\n");
            conn_lines(svc, false, me, &mut out);
            out.push('\n');
            server_summary(svc, counts, &mut out);
        }
        "cons" => {
            conn_lines(svc, true, me, &mut out);
            out.push('\n');
        }
        "crst" => {
            for h in svc.hub().lock().conns.values() {
                h.stats.reset();
            }
            out.push_str("Connection stats reset.\n");
        }
        "srst" => {
            svc.stats().reset();
            out.push_str("Server stats reset.\n");
        }
        "conf" => {
            let c = svc.config();
            let _ = writeln!(out, "clientPort={}", c.client_port);
            out.push_str("secureClientPort=-1\n");
            let _ = writeln!(out, "dataDir={}", c.data_dir.display());
            let _ = writeln!(out, "dataDirSize={}", dir_size(&c.data_dir));
            let _ = writeln!(out, "dataLogDir={}", c.data_log_dir.display());
            let _ = writeln!(out, "dataLogSize={}", dir_size(&c.data_log_dir));
            let _ = writeln!(out, "tickTime={}", c.tick_time_ms);
            let _ = writeln!(out, "maxClientCnxns={}", c.max_client_cnxns);
            let _ = writeln!(out, "minSessionTimeout={}", c.min_session_timeout_ms);
            let _ = writeln!(out, "maxSessionTimeout={}", c.max_session_timeout_ms);
            out.push_str("clientPortListenBacklog=-1\n");
            match &c.ensemble {
                None => out.push_str("serverId=0\n"),
                Some(e) => {
                    // A quorum peer's fields, as ZooKeeper 3.8 prints them.
                    let me = e.me();
                    let _ = writeln!(out, "serverId={}", e.me);
                    let _ = writeln!(out, "initLimit={}", e.init_limit);
                    let _ = writeln!(out, "syncLimit={}", e.sync_limit);
                    out.push_str("electionAlg=3\n");
                    if let Some(a) = me.addresses.first() {
                        let _ = writeln!(out, "electionPort={}", a.election_port);
                        let _ = writeln!(out, "quorumPort={}", a.quorum_port);
                    }
                    let _ = writeln!(out, "peerType={}", u8::from(e.is_observer()));
                    // The membership as applied (a reconfig changes it; the file does not).
                    out.push_str("membership: \n");
                    let snap = svc.snapshot();
                    match svc.reader(&snap).config_data() {
                        Ok(Some(data)) => out.push_str(&String::from_utf8_lossy(&data)),
                        _ => out.push_str(&e.membership_text()),
                    }
                    out.push('\n');
                }
            }
        }
        "dirs" => {
            let c = svc.config();
            let _ = writeln!(out, "datadir_size: {}", dir_size(&c.data_dir));
            let _ = writeln!(out, "logdir_size: {}", dir_size(&c.data_log_dir));
        }
        "envi" => {
            out.push_str("Environment:\n");
            let _ = writeln!(out, "zookeeper.version={version}");
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            let _ = writeln!(out, "host.name={}", host.trim());
            let _ = writeln!(out, "zoolog.version={}", env!("CARGO_PKG_VERSION"));
            let _ = writeln!(out, "os.name={}", std::env::consts::OS);
            let _ = writeln!(out, "os.arch={}", std::env::consts::ARCH);
            let _ = writeln!(
                out,
                "user.dir={}",
                std::env::current_dir().unwrap_or_default().display()
            );
        }
        "wchs" => {
            let hub = svc.hub().lock();
            let (conns, paths, total) = hub.watches.summary();
            let _ = writeln!(out, "{conns} connections watching {paths} paths");
            let _ = writeln!(out, "Total watches:{total}");
        }
        "wchc" => {
            let hub = svc.hub().lock();
            for (conn, paths) in hub.watches.by_connection() {
                let session = hub.conns.get(conn).map_or(0, |h| h.session);
                let _ = writeln!(out, "{}", sid(session));
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
            out.push('\n');
        }
        "wchp" => {
            let hub = svc.hub().lock();
            for (path, conns) in hub.watches.by_path() {
                let _ = writeln!(out, "{path}");
                for c in conns {
                    let session = hub.conns.get(c).map_or(0, |h| h.session);
                    let _ = writeln!(out, "\t{}", sid(session));
                }
            }
            out.push('\n');
        }
        "dump" => {
            let sessions = svc.sessions().list();
            // Sessions grouped by expiry time rounded up to the tick, as ZooKeeper's ExpiryQueue.
            let tick = u64::from(svc.config().tick_time_ms.max(1));
            let now = crate::zk::service::now_ms().max(0) as u64;
            let mut buckets: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
            for (s, left) in svc.sessions().deadlines() {
                let at = (now + left).div_ceil(tick) * tick;
                buckets.entry(at).or_default().push(s);
            }
            out.push_str("SessionTracker dump:\n");
            let _ = writeln!(
                out,
                "Session Sets ({})/({}):",
                buckets.len(),
                sessions.len()
            );
            for (at, ids) in &buckets {
                let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date(*at));
                for s in ids {
                    let _ = writeln!(out, "\t{}", sid(*s));
                }
            }
            out.push_str("ephemeral nodes dump:\n");
            let snap = svc.snapshot();
            let reader = svc.reader(&snap);
            let with: Vec<(i64, Vec<String>)> = sessions
                .iter()
                .filter_map(|(s, _)| {
                    let e = reader.ephemerals(*s).unwrap_or_default();
                    (!e.is_empty()).then_some((*s, e))
                })
                .collect();
            let _ = writeln!(out, "Sessions with Ephemerals ({}):", with.len());
            for (s, paths) in with {
                let _ = writeln!(out, "{}:", sid(s));
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
            out.push_str("Connections dump:\n");
            let hub = svc.hub().lock();
            let _ = writeln!(out, "Connections Sets (1)/({}):", hub.conns.len());
            for h in hub.conns.values() {
                let _ = writeln!(out, "\tip: /{} sessionId: {}", h.peer, sid(h.session));
            }
        }
        "mntr" => {
            let st = svc.stats();
            let l = st.latency();
            let snap = svc.snapshot();
            let reader = svc.reader(&snap);
            let hub = svc.hub().lock();
            let ephemerals: usize = svc
                .sessions()
                .list()
                .iter()
                .map(|(s, _)| reader.ephemerals(*s).map(|e| e.len()).unwrap_or(0))
                .sum();
            let mut lines: Vec<(&str, String)> = vec![
                ("version", version.clone()),
                ("server_state", svc.mode().name().into()),
                ("ephemerals_count", ephemerals.to_string()),
                ("num_alive_connections", counts.total().to_string()),
                ("avg_latency", format!("{:.1}", l.avg_ms)),
                (
                    "outstanding_requests",
                    st.outstanding.load(Ordering::Relaxed).max(0).to_string(),
                ),
                (
                    "znode_count",
                    (reader.node_count().unwrap_or(0) + 1).to_string(),
                ),
                ("global_sessions", svc.sessions().len().to_string()),
                ("non_mtls_remote_conn_count", "0".into()),
                ("last_client_response_size", "-1".into()),
                (
                    "packets_sent",
                    st.packets_sent.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "packets_received",
                    st.packets_received.load(Ordering::Relaxed).to_string(),
                ),
                ("max_client_response_size", "-1".into()),
                ("connection_drop_probability", "0.0".into()),
                ("watch_count", hub.watches.count().to_string()),
                (
                    "auth_failed_count",
                    st.auth_failed.load(Ordering::Relaxed).to_string(),
                ),
                ("min_latency", (l.min_ms.round() as u64).to_string()),
                ("max_file_descriptor_count", "-1".into()),
                ("approximate_data_size", "0".into()),
                ("open_file_descriptor_count", open_fds().to_string()),
                ("local_sessions", "0".into()),
                ("uptime", st.started.elapsed().as_millis().to_string()),
                ("max_latency", (l.max_ms.round() as u64).to_string()),
                ("outstanding_tls_handshake", "0".into()),
                ("min_client_response_size", "-1".into()),
                ("non_mtls_local_conn_count", "0".into()),
            ];
            ensemble_lines(svc, &mut lines);
            for (k, v) in lines {
                let _ = writeln!(out, "zk_{k}\t{v}");
            }
        }
        _ => {}
    }
    out
}

/// The `mntr` fields of an ensemble member: its peer state and, on the leader, its learners
/// (the participants and observers it is in touch with count as synced).
fn ensemble_lines(svc: &ZkService, lines: &mut Vec<(&'static str, String)>) {
    use crate::zk::ensemble::Mode;
    let Some(e) = svc.ensemble() else { return };
    let mode = svc.mode();
    let state = match mode {
        Mode::Leader => "leading - broadcast",
        Mode::Observer => "observing - broadcast",
        _ => "following - broadcast",
    };
    lines.push(("peer_state", state.into()));
    if mode != Mode::Leader {
        return;
    }
    let live = e.live_peers();
    let roles = e.roles();
    let followers = live
        .iter()
        .filter(|p| roles.participants.contains(p))
        .count();
    let observers = live.iter().filter(|p| roles.observers.contains(p)).count();
    lines.push(("learners", (followers + observers).to_string()));
    lines.push(("synced_followers", followers.to_string()));
    lines.push(("synced_non_voting_followers", "0".into()));
    lines.push(("synced_observers", observers.to_string()));
    lines.push(("pending_syncs", "0".into()));
    lines.push(("followers", followers.to_string()));
}

/// `java.util.Date.toString()` of `ms` since the epoch, in UTC: `Sun Nov 22 00:32:30 UTC 2026`.
fn java_date(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1).clamp(0, 11) as usize],
        day,
        h,
        m,
        s,
        year
    )
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[cfg(test)]
mod tests {
    #[test]
    fn java_date_format() {
        // 2026-11-22 00:32:30 UTC was a Sunday.
        assert_eq!(
            super::java_date(1_795_307_550_000),
            "Sun Nov 22 00:32:30 UTC 2026"
        );
        assert_eq!(super::java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    }
}
