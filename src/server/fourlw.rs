//! Four-letter words (zookeeper-protocol.md §11): the first four bytes of a connection name a
//! command; the server answers in plain text, in ZooKeeper 3.8's formats, and closes. Commands
//! outside `4lw.commands.whitelist` get ZooKeeper's refusal text.
//!
//! Layer: `server`; reads the service's statistics, sessions and watches.

use std::fmt::Write as _;
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
    "crst", "srst", "dirs", "gtmk",
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
    out.push_str("Mode: standalone\n");
    let _ = writeln!(out, "Node count: {nodes}");
}

fn conn_lines(svc: &ZkService, full: bool, out: &mut String) {
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
                ",sid={},lop=NA,est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp=0,llat=0,minlat=0,avglat=0,maxlat=0",
                sid(h.session),
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
pub fn run(word: &str, svc: &ZkService, counts: &ConnCounts) -> String {
    if !svc.config().four_letter_words.allows(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    let mut out = String::new();
    let version = version_string();
    match word {
        "ruok" => out.push_str("imok"),
        "isro" => out.push_str("rw"),
        "gtmk" => out.push_str("306"),
        "srvr" => {
            let _ = writeln!(out, "Zookeeper version: {version}");
            server_summary(svc, counts, &mut out);
        }
        "stat" => {
            let _ = writeln!(out, "Zookeeper version: {version}");
            out.push_str("Clients:\n");
            conn_lines(svc, false, &mut out);
            out.push('\n');
            server_summary(svc, counts, &mut out);
        }
        "cons" => {
            conn_lines(svc, true, &mut out);
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
            out.push_str("serverId=0\n");
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
            out.push_str("SessionTracker dump:\n");
            let _ = writeln!(
                out,
                "Session Sets ({})/({}):",
                sessions.len().min(1),
                sessions.len()
            );
            for (s, timeout) in &sessions {
                let _ = writeln!(out, "\t{} (timeout {} ms)", sid(*s), timeout);
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
            let lines: Vec<(&str, String)> = vec![
                ("version", version.clone()),
                ("server_state", "standalone".into()),
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
            for (k, v) in lines {
                let _ = writeln!(out, "zk_{k}\t{v}");
            }
        }
        _ => {}
    }
    out
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}
