//! `Node`: one znode as stored — `StatPersisted`, the child count, the data and the ACL — its
//! value encoding, the client-visible `Stat` derivation (zookeeper-protocol.md §7.5) and the
//! classification of `ephemeralOwner` (`EphemeralType`, §7.3, §7.4).
//!
//! Layer: `zk/`, pure data; touches nothing.
//!
//! Value format, version 1: `version u8 (=1) | StatPersisted (jute, 60 bytes) | numChildren i32 |
//! data (jute buffer, -1 = null) | acl (jute vector<ACL>)`. The fixed-size part comes first, and
//! decoding shares the data bytes with the stored value instead of copying them.

use bytes::{Bytes, BytesMut};
use zoolog_jute::{Acl, Cx, DecodeError, JResult, Jute, Stat, StatPersisted};

use crate::store::StoreError;

/// The value format version written by this build.
const NODE_FORMAT_V1: u8 = 1;

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;

/// The extended-type marker of TTL owners (`EphemeralType.EXTENDED_MASK`).
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// `EphemeralType.RESERVED_BITS_MASK`: the feature code (0 = TTL).
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
/// The largest TTL: 2^40 − 1 ms.
pub const MAX_TTL: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// `EphemeralType`: what a node's `ephemeralOwner` says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// `ephemeralOwner == 0`.
    Persistent,
    /// Owned by a session.
    Ephemeral(i64),
    /// `Long.MIN_VALUE`.
    Container,
    /// `0xFF00…` with feature 0; the TTL in ms.
    Ttl(i64),
}

impl NodeKind {
    /// `EphemeralType.get`. With extended types off, TTL owners read as ordinary ephemerals, as
    /// in ZooKeeper. An extended owner with an unknown feature code (ZooKeeper throws) reads as
    /// an ephemeral too.
    pub fn of(owner: i64, extended_types: bool) -> NodeKind {
        if extended_types
            && owner & EXTENDED_MASK == EXTENDED_MASK
            && owner & RESERVED_BITS_MASK == 0
        {
            return NodeKind::Ttl(owner & MAX_TTL);
        }
        match owner {
            CONTAINER_OWNER => NodeKind::Container,
            0 => NodeKind::Persistent,
            s => NodeKind::Ephemeral(s),
        }
    }

    /// `EphemeralType.TTL.toEphemeralOwner`, or `None` if `ttl` is out of `1..=2^40-1`.
    pub fn ttl_owner(ttl: i64) -> Option<i64> {
        (1..=MAX_TTL).contains(&ttl).then_some(EXTENDED_MASK | ttl)
    }

    /// Whether this is an ordinary (session-owned) ephemeral (`EphemeralType.NORMAL`).
    pub fn is_session_ephemeral(self) -> bool {
        matches!(self, NodeKind::Ephemeral(_))
    }
}

/// One stored znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub stat: StatPersisted,
    pub num_children: i32,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
}

impl Node {
    /// A node created at `zxid`/`time` (`DataTree.createStat`).
    pub fn created(zxid: i64, time: i64, owner: i64, data: Option<Bytes>, acl: Vec<Acl>) -> Node {
        Node {
            stat: StatPersisted {
                czxid: zxid,
                mzxid: zxid,
                ctime: time,
                mtime: time,
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                pzxid: zxid,
            },
            num_children: 0,
            data,
            acl,
        }
    }

    /// The owner-derived kind of this node.
    pub fn kind(&self, extended_types: bool) -> NodeKind {
        NodeKind::of(self.stat.ephemeral_owner, extended_types)
    }

    /// `DataNode.copyStat`: the client-visible Stat. `cversion` on the wire is
    /// `persisted × 2 − numChildren`; `ephemeralOwner` is 0 for containers and TTL nodes.
    pub fn client_stat(&self, extended_types: bool) -> Stat {
        let s = &self.stat;
        let owner = match self.kind(extended_types) {
            NodeKind::Ephemeral(o) => o,
            _ => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(self.num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: self.num_children,
            pzxid: s.pzxid,
        }
    }

    /// The stored value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            BytesMut::with_capacity(1 + 60 + 4 + self.data.encoded_len() + self.acl.encoded_len());
        out.extend_from_slice(&u8::to_be_bytes(NODE_FORMAT_V1));
        self.stat.encode(&mut out);
        out.extend_from_slice(&i32::to_be_bytes(self.num_children));
        self.data.encode(&mut out);
        self.acl.encode(&mut out);
        Vec::from(out)
    }

    /// Decodes a stored value; `path` only names the node in the error.
    pub fn decode(path: &str, value: impl Into<Bytes>) -> Result<Node, StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("znode {path:?}: {what}"));
        let frame: Bytes = value.into();
        let Some((&version, body)) = frame.split_first() else {
            return Err(corrupt("empty value".into()));
        };
        if version != NODE_FORMAT_V1 {
            return Err(corrupt(format!("unknown node format version {version}")));
        }
        let cx = Cx::new(&frame, usize::MAX);
        match parse_value(&cx, body) {
            Ok(([], (stat, num_children, data, acl))) => Ok(Node {
                stat,
                num_children,
                data,
                acl,
            }),
            Ok((rest, _)) => Err(corrupt(format!("{} trailing bytes", rest.len()))),
            Err(e) => Err(corrupt(DecodeError::from(e).to_string())),
        }
    }
}

/// The fields after the version byte.
type NodeFields = (StatPersisted, i32, Option<Bytes>, Vec<Acl>);

fn parse_value<'a>(cx: &Cx<'a>, body: &'a [u8]) -> JResult<'a, NodeFields> {
    let (i, stat) = StatPersisted::decode(cx, body)?;
    let (i, num_children) = i32::decode(cx, i)?;
    let (i, data) = Option::<Bytes>::decode(cx, i)?;
    let (i, acl) = Vec::<Acl>::decode(cx, i)?;
    Ok((i, (stat, num_children, data, acl)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoolog_jute::Id;

    #[test]
    fn round_trip() {
        let mut n = Node::created(
            7,
            1000,
            0x1234,
            Some(Bytes::from_static(b"hello")),
            Acl::open_unsafe(),
        );
        n.num_children = 3;
        n.stat.cversion = 5;
        let back = Node::decode("/x", n.encode()).unwrap();
        assert_eq!(back, n);
        let empty = Node {
            data: None,
            acl: vec![Acl {
                perms: 1,
                id: Id {
                    scheme: None,
                    id: None,
                },
            }],
            ..n.clone()
        };
        assert_eq!(Node::decode("/x", empty.encode()).unwrap(), empty);
        assert!(Node::decode("/x", vec![]).is_err());
        assert!(Node::decode("/x", vec![9]).is_err());
        let mut long = n.encode();
        long.push(0);
        assert!(Node::decode("/x", long).is_err());
        let short = n.encode();
        assert!(Node::decode("/x", short[..20].to_vec()).is_err());
    }

    #[test]
    fn kinds_and_client_stat() {
        // TTL 123456 → 0xff0000000001e240 (§7.4, observed on 3.8.0).
        let owner = NodeKind::ttl_owner(123_456).unwrap();
        assert_eq!(owner as u64, 0xff00_0000_0001_e240);
        assert_eq!(NodeKind::of(owner, true), NodeKind::Ttl(123_456));
        assert_eq!(NodeKind::of(owner, false), NodeKind::Ephemeral(owner));
        assert_eq!(NodeKind::ttl_owner(0), None);
        assert_eq!(NodeKind::ttl_owner(MAX_TTL + 1), None);
        assert_eq!(
            NodeKind::ttl_owner(MAX_TTL),
            Some(0xff00_00ff_ffff_ffff_u64 as i64)
        );
        assert_eq!(NodeKind::of(i64::MIN, true), NodeKind::Container);
        assert_eq!(NodeKind::of(0, true), NodeKind::Persistent);
        let mut n = Node::created(1, 2, i64::MIN, None, vec![]);
        assert_eq!(n.client_stat(true).ephemeral_owner, 0);
        n.stat.ephemeral_owner = owner;
        assert_eq!(n.client_stat(true).ephemeral_owner, 0);
        n.stat.ephemeral_owner = 0x0100_0007_05a0_0000;
        assert_eq!(n.client_stat(true).ephemeral_owner, 0x0100_0007_05a0_0000);
        // `/` on a fresh server: persisted cversion 0, one child → −1.
        n.num_children = 1;
        n.stat.cversion = 0;
        assert_eq!(n.client_stat(true).cversion, -1);
        assert_eq!(n.client_stat(true).data_length, 0);
    }
}
