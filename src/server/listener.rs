//! The listener: accepts client connections, enforces `maxClientCnxns` per client IP, and
//! spawns one task per connection.
//!
//! Layer: `server`; owns the listening socket and the per-IP counts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;
use tokio::net::TcpListener;
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

/// Connection counts per client IP.
#[derive(Default)]
pub struct ConnCounts {
    by_ip: Mutex<HashMap<IpAddr, u32>>,
}

/// Holds one slot of an IP's count; released on drop.
pub struct Slot {
    counts: Arc<ConnCounts>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .by_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl ConnCounts {
    /// Takes a slot for `ip`, or `None` if it already has `max` connections (0 = unlimited).
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<Slot> {
        let mut map = self.by_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }

    /// Total open connections.
    pub fn total(&self) -> u32 {
        self.by_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }
}

/// A bound client port serving one [`ZkService`].
pub struct Server {
    listener: TcpListener,
    svc: Arc<ZkService>,
    counts: Arc<ConnCounts>,
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
        })
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub fn counts(&self) -> Arc<ConnCounts> {
        self.counts.clone()
    }

    /// Accepts connections forever.
    pub async fn run(self) {
        if let Some(addr) = self.local_addr() {
            info!(%addr, "serving ZooKeeper clients");
        }
        let max = self.svc.config().max_client_cnxns;
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let Some(slot) = self.counts.acquire(peer.ip(), max) else {
                warn!(%peer, max, "too many connections from this address; closing");
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let svc = self.svc.clone();
            let counts = self.counts.clone();
            tokio::spawn(async move {
                connection::serve(stream, peer, svc, counts).await;
                drop(slot);
            });
        }
    }
}
