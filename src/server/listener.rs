//! The listener: accepts client connections, enforces `maxCnxns` (all connections) and
//! `maxClientCnxns` (per client IP), backs off when accepting fails (file descriptors
//! exhausted), and spawns one task per connection. At shutdown it stops accepting and closes
//! every connection ([`Stopper`]).
//!
//! Layer: `server`; owns the listening socket and the connection counts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::zk::ZkService;

use super::connection;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Open connections, per client IP and in all.
#[derive(Default)]
pub struct ConnCounts {
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    by_ip: HashMap<IpAddr, u32>,
    total: u32,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `maxCnxns` connections are open.
    Total(u32),
    /// `maxClientCnxns` connections are open from this IP.
    PerIp(u32),
}

/// Holds one slot of an IP's count; released on drop.
pub struct Slot {
    counts: Arc<ConnCounts>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_ip.remove(&self.ip);
            }
        }
    }
}

impl ConnCounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot for `ip`, unless `max_total` connections are open or `max_per_ip` are open
    /// from `ip` (0 = unlimited, for both).
    pub fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        max_per_ip: u32,
        max_total: u32,
    ) -> Result<Slot, Refused> {
        let mut c = self.lock();
        if max_total != 0 && c.total >= max_total {
            return Err(Refused::Total(max_total));
        }
        let n = c.by_ip.get(&ip).copied().unwrap_or(0);
        if max_per_ip != 0 && n >= max_per_ip {
            return Err(Refused::PerIp(max_per_ip));
        }
        c.by_ip.insert(ip, n + 1);
        c.total += 1;
        Ok(Slot {
            counts: self.clone(),
            ip,
        })
    }

    /// Total open connections.
    pub fn total(&self) -> u32 {
        self.lock().total
    }
}

/// How long accepting pauses after it failed `failures` times in a row: 10 ms, doubling to 1 s.
pub fn accept_backoff(failures: u32) -> Duration {
    let ms = 10u64.saturating_mul(1 << failures.saturating_sub(1).min(7));
    Duration::from_millis(ms.min(1000))
}

/// Logs accept failures: the first of a run at once, then one summary every 10 s, so that a
/// node out of file descriptors neither spins nor floods its log.
struct AcceptFailures {
    in_a_row: u32,
    unlogged: u64,
    last_log: Option<Instant>,
}

impl AcceptFailures {
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.in_a_row = self.in_a_row.saturating_add(1);
        let due = self
            .last_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10));
        if due {
            warn!(
                error = %e,
                failed_since_last_report = self.unlogged,
                "accepting a client connection failed; pausing before the next accept"
            );
            self.last_log = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        accept_backoff(self.in_a_row)
    }

    fn accepted(&mut self) {
        if self.in_a_row > 0 && self.unlogged > 0 {
            info!(failed = self.unlogged, "accepting works again");
        }
        self.in_a_row = 0;
        self.unlogged = 0;
    }
}

/// Stops the server at shutdown: no more accepts, every connection closed.
#[derive(Clone)]
pub struct Stopper {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Stopper {
    /// Stops accepting and closes every client connection, as ZooKeeper's shutdown does (what
    /// is queued for a client goes out first; sessions live on). Waits up to `within` for the
    /// connection tasks to end; false if some did not.
    pub async fn close_connections(&self, within: Duration) -> bool {
        self.stop.cancel();
        self.tasks.close();
        tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_ok()
    }
}

/// A bound client port serving one [`ZkService`].
pub struct Server {
    listener: TcpListener,
    svc: Arc<ZkService>,
    counts: Arc<ConnCounts>,
    stopper: Stopper,
}

impl Server {
    /// Binds the configured client address.
    pub async fn bind(svc: Arc<ZkService>) -> Result<Server, ServerError> {
        let addr = SocketAddr::new(svc.config().client_port_address, svc.config().client_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Server {
            listener,
            svc,
            counts: Arc::new(ConnCounts::default()),
            stopper: Stopper {
                stop: CancellationToken::new(),
                tasks: TaskTracker::new(),
            },
        })
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub fn counts(&self) -> Arc<ConnCounts> {
        self.counts.clone()
    }

    /// What stops this server.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Accepts connections until stopped (the listening socket closes when this returns).
    pub async fn run(self) {
        if let Some(addr) = self.local_addr() {
            info!(%addr, "serving ZooKeeper clients");
        }
        let per_ip = self.svc.config().max_client_cnxns;
        let total = self.svc.config().max_cnxns;
        let stop = self.stopper.stop.clone();
        let mut failures = AcceptFailures {
            in_a_row: 0,
            unlogged: 0,
            last_log: None,
        };
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                r = self.listener.accept() => r,
            };
            let (stream, peer) = match accepted {
                Ok(x) => {
                    failures.accepted();
                    x
                }
                Err(e) => {
                    let pause = failures.failed(&e);
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            };
            let slot = match self.counts.acquire(peer.ip(), per_ip, total) {
                Ok(slot) => slot,
                Err(Refused::Total(max)) => {
                    warn!(%peer, max, "too many connections (maxCnxns); closing");
                    continue;
                }
                Err(Refused::PerIp(max)) => {
                    warn!(%peer, max, "too many connections from this address; closing");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let svc = self.svc.clone();
            let counts = self.counts.clone();
            let stop = stop.clone();
            self.stopper.tasks.spawn(async move {
                connection::serve(stream, peer, svc, counts, stop).await;
                drop(slot);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_ip_and_in_all() {
        let counts = Arc::new(ConnCounts::default());
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let s1 = counts.acquire(a, 2, 3).unwrap();
        let _s2 = counts.acquire(a, 2, 3).unwrap();
        assert_eq!(counts.acquire(a, 2, 3).err(), Some(Refused::PerIp(2)));
        let _s3 = counts.acquire(b, 2, 3).unwrap();
        assert_eq!(counts.acquire(b, 2, 3).err(), Some(Refused::Total(3)));
        assert_eq!(counts.total(), 3);
        drop(s1);
        assert_eq!(counts.total(), 2);
        assert!(counts.acquire(b, 0, 0).is_ok(), "0 is unlimited");
    }

    #[test]
    fn backoff_doubles_to_a_second() {
        let pauses: Vec<u64> = (1..=9)
            .map(|n| accept_backoff(n).as_millis() as u64)
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }
}
