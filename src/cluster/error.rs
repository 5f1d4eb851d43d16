//! Errors of the cluster layer.
//!
//! Layer: `cluster/`. A caller tells apart a peer that cannot be reached now (retry later), a peer
//! that answered with a failure, and a protocol violation (the connection was closed).

/// Everything a call to a peer can end in, besides an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// No connection to the peer right now (down, unreachable, or still reconnecting).
    #[error("peer {0} is unreachable")]
    Unreachable(u64),
    /// The peer is not in the server list.
    #[error("unknown peer {0}")]
    UnknownPeer(u64),
    /// Too many bytes are queued for the peer already (it is slow or stalled).
    #[error("peer {peer}: {queued} bytes queued, over the limit of {limit}")]
    Backpressure {
        peer: u64,
        queued: usize,
        limit: usize,
    },
    /// No answer within the call's timeout.
    #[error("peer {peer}: no answer from `{service}` within {ms} ms")]
    Timeout { peer: u64, service: String, ms: u64 },
    /// The peer's handler failed, or it has no such service.
    #[error("peer {peer}: {reason}")]
    Remote { peer: u64, reason: String },
    /// The connection broke while the call was in flight; it may or may not have run.
    #[error("peer {0}: connection lost during the call")]
    ConnectionLost(u64),
    /// The peer violated the protocol (bad frame, bad handshake).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The handshake was refused (another ensemble, or an unexpected node id).
    #[error("handshake refused: {0}")]
    Refused(String),
    /// A message to send is larger than a frame may be.
    #[error("message of {len} bytes exceeds the frame limit of {max}")]
    TooLarge { len: usize, max: usize },
    /// The cluster layer is shut down.
    #[error("cluster transport is shut down")]
    Closed,
    #[error("i/o: {0}")]
    Io(String),
}

impl From<std::io::Error> for ClusterError {
    fn from(e: std::io::Error) -> Self {
        ClusterError::Io(e.to_string())
    }
}
