//! The handshake that opens every node-to-node connection: who is calling, in which ensemble.
//!
//! Layer: `cluster/`. The dialer sends `"ZLCL" | version u8 | node id u64 | ensemble_len u8 |
//! ensemble`; the acceptor answers the same fields for itself plus `status u8 | reason_len u16 |
//! reason`. The acceptor refuses another ensemble's node and its own id; the dialer refuses an
//! acceptor that is not the node it dialed (two server lines naming one address). Anything else
//! than this exact form within [`HANDSHAKE_TIMEOUT`] closes the connection.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::ClusterError;

const MAGIC: &[u8; 4] = b"ZLCL";
const VERSION: u8 = 1;
/// How long either side waits for the other's half of the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// One side's introduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub node: u64,
    pub ensemble: String,
}

fn encode(h: &Hello, status: Option<(u8, &str)>) -> BytesMut {
    let mut b = BytesMut::with_capacity(64);
    b.put_slice(MAGIC);
    b.put_u8(VERSION);
    b.put_u64(h.node);
    let e = &h.ensemble.as_bytes()[..h.ensemble.len().min(255)];
    b.put_u8(e.len() as u8);
    b.put_slice(e);
    if let Some((code, reason)) = status {
        b.put_u8(code);
        let r = &reason.as_bytes()[..reason.len().min(1024)];
        b.put_u16(r.len() as u16);
        b.put_slice(r);
    }
    b
}

async fn read_hello<S: AsyncRead + Unpin>(s: &mut S) -> Result<Hello, ClusterError> {
    let mut head = [0u8; 14];
    s.read_exact(&mut head).await?;
    if &head[..4] != MAGIC {
        return Err(ClusterError::Protocol(
            "not a zoolog cluster peer (bad magic)".into(),
        ));
    }
    if head[4] != VERSION {
        return Err(ClusterError::Protocol(format!(
            "cluster protocol version {} (this node speaks {VERSION})",
            head[4]
        )));
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&head[5..13]);
    let mut name = vec![0u8; head[13] as usize];
    s.read_exact(&mut name).await?;
    let ensemble = String::from_utf8(name)
        .map_err(|_| ClusterError::Protocol("ensemble name is not UTF-8".into()))?;
    Ok(Hello {
        node: u64::from_be_bytes(id),
        ensemble,
    })
}

async fn within<T>(
    f: impl std::future::Future<Output = Result<T, ClusterError>>,
) -> Result<T, ClusterError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, f)
        .await
        .map_err(|_| ClusterError::Protocol("handshake timed out".into()))?
}

/// The dialer's side: introduces `me`, checks the answer is `expect` in the same ensemble.
pub async fn dial<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    me: &Hello,
    expect: u64,
) -> Result<(), ClusterError> {
    within(async {
        s.write_all(&encode(me, None)).await?;
        let them = read_hello(s).await?;
        let mut st = [0u8; 3];
        s.read_exact(&mut st).await?;
        let mut reason = vec![0u8; u16::from_be_bytes([st[1], st[2]]) as usize];
        s.read_exact(&mut reason).await?;
        if st[0] != 0 {
            return Err(ClusterError::Refused(
                String::from_utf8_lossy(&reason).into(),
            ));
        }
        if them.ensemble != me.ensemble {
            return Err(ClusterError::Refused(format!(
                "peer is in ensemble `{}`, this node in `{}`",
                them.ensemble, me.ensemble
            )));
        }
        if them.node != expect {
            return Err(ClusterError::Refused(format!(
                "dialed server {expect} but node {} answered",
                them.node
            )));
        }
        Ok(())
    })
    .await
}

/// The acceptor's side: reads the dialer's introduction, answers, returns the dialer's id.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    me: &Hello,
) -> Result<u64, ClusterError> {
    within(async {
        let them = read_hello(s).await?;
        let refusal = if them.ensemble != me.ensemble {
            Some(format!(
                "node {} is in ensemble `{}`, this node in `{}`",
                them.node, them.ensemble, me.ensemble
            ))
        } else if them.node == me.node {
            Some(format!("node {} dialed a node with its own id", them.node))
        } else {
            None
        };
        match refusal {
            Some(why) => {
                s.write_all(&encode(me, Some((1, &why)))).await?;
                Err(ClusterError::Refused(why))
            }
            None => {
                s.write_all(&encode(me, Some((0, "")))).await?;
                Ok(them.node)
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(node: u64, ensemble: &str) -> Hello {
        Hello {
            node,
            ensemble: ensemble.into(),
        }
    }

    #[tokio::test]
    async fn same_ensemble_is_accepted() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let (h1, h2) = (hello(1, "e"), hello(2, "e"));
        let (d, acc) = tokio::join!(dial(&mut a, &h1, 2), accept(&mut b, &h2));
        d.unwrap();
        assert_eq!(acc.unwrap(), 1);
    }

    #[tokio::test]
    async fn another_ensemble_or_wrong_node_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let (h1, other) = (hello(1, "e"), hello(2, "other"));
        let (d, acc) = tokio::join!(dial(&mut a, &h1, 2), accept(&mut b, &other));
        assert!(matches!(d, Err(ClusterError::Refused(_))));
        assert!(matches!(acc, Err(ClusterError::Refused(_))));
        let (mut a, mut b) = tokio::io::duplex(1024);
        let h2 = hello(2, "e");
        let (d, acc) = tokio::join!(dial(&mut a, &h1, 3), accept(&mut b, &h2));
        assert!(matches!(d, Err(ClusterError::Refused(_))));
        assert_eq!(acc.unwrap(), 1);
    }

    #[tokio::test]
    async fn garbage_is_a_protocol_error() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        a.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let h2 = hello(2, "e");
        assert!(matches!(
            accept(&mut b, &h2).await,
            Err(ClusterError::Protocol(_))
        ));
    }
}
