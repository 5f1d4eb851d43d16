//! `Node`: one znode as stored — `StatPersisted`, the child count, the data and the ACL — its
//! value encoding, the client-visible `Stat` derivation (zookeeper-protocol.md §7.5) and the
//! classification of `ephemeralOwner` (`EphemeralType`, §7.3, §7.4).
//!
//! Layer: `zk/`, pure data; touches nothing.
//!
//! Value format, version 1: `version u8 (=1) | StatPersisted (jute, 60 bytes) | numChildren i32 |
//! data (jute buffer, -1 = null) | acl (jute vector<ACL>)`. The fixed-size part comes first, and
//! decoding shares the data bytes with the stored value instead of copying them.
//!
//! Version 2, for data longer than [`INLINE_DATA_MAX`]: the same with the data's length (i32) in
//! place of the buffer; the data is the value of the node's `d` key (see `keys`).

use bytes::{Bytes, BytesMut};
use zoolog_jute::{Acl, Cx, DecodeError, JResult, Jute, Stat, StatPersisted};

use crate::store::StoreError;

/// The value format with the data inline.
const NODE_FORMAT_V1: u8 = 1;
/// The value format with the data stored apart.
const NODE_FORMAT_V2: u8 = 2;

/// Data up to this many bytes is stored inside the node record; longer data under its own key.
/// A child listing reads the records of the children it lists, so this bounds what it reads per
/// child; data above it costs a second key on every write that changes it, and a second lookup
/// on every read of it (getData of 10 KB measured about −20%).
pub const INLINE_DATA_MAX: usize = 1024;

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
#[derive(Debug, Clone)]
pub struct Node {
    pub stat: StatPersisted,
    pub num_children: i32,
    /// Private: a change must go through [`set_data`](Self::set_data), which keeps `apart`
    /// true to what the store holds.
    data: Option<Bytes>,
    pub acl: Vec<Acl>,
    apart: Apart,
}

/// Where the node's data is, as far as the store knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Apart {
    /// The node has no `d` key (a new node, or one read with its data inline).
    No,
    /// The node's `d` key holds exactly `data`.
    Stored,
    /// The node has a `d` key, and `data` was changed since it was read.
    Changed,
}

/// Equality of what a node holds (where its data is stored does not count).
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.stat == other.stat
            && self.num_children == other.num_children
            && self.data == other.data
            && self.acl == other.acl
    }
}

impl Eq for Node {}

/// What to do with a node's `d` key when the node is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKey {
    /// Nothing: the data is inline and was not apart, or is apart and unchanged.
    Keep,
    /// Write the data there.
    Put(Bytes),
    /// Delete it: the data was apart and is inline now.
    Delete,
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
            apart: Apart::No,
        }
    }

    /// The node's data.
    pub fn data(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }

    /// The node's data, taking the node apart.
    pub fn into_data(self) -> Option<Bytes> {
        self.data
    }

    /// Replaces the node's data.
    pub fn set_data(&mut self, data: Option<Bytes>) {
        self.data = data;
        if self.apart == Apart::Stored {
            self.apart = Apart::Changed;
        }
    }

    /// Whether this node's data is stored under its own key.
    pub fn data_apart(&self) -> bool {
        self.data
            .as_ref()
            .is_some_and(|d| d.len() > INLINE_DATA_MAX)
    }

    /// Whether the node, as read from the store, had its data apart (its `d` key exists).
    pub fn had_data_apart(&self) -> bool {
        self.apart != Apart::No
    }

    /// The node as the store holds it once written (its `d` key done as
    /// [`data_key`](Self::data_key) says).
    pub fn written(mut self) -> Node {
        self.apart = if self.data_apart() {
            Apart::Stored
        } else {
            Apart::No
        };
        self
    }

    /// What writing this node does to its `d` key.
    pub fn data_key(&self) -> DataKey {
        match (&self.data, self.apart) {
            (Some(_), Apart::Stored) if self.data_apart() => DataKey::Keep,
            (Some(d), _) if self.data_apart() => DataKey::Put(d.clone()),
            (_, Apart::Stored | Apart::Changed) => DataKey::Delete,
            (_, Apart::No) => DataKey::Keep,
        }
    }

    /// Completes a node decoded with its data apart (`decode` returned its length) with the
    /// value of its `d` key.
    pub fn attach_data(
        &mut self,
        path: &str,
        len: usize,
        data: Option<Bytes>,
    ) -> Result<(), StoreError> {
        match data {
            Some(d) if d.len() == len => {
                self.data = Some(d);
                self.apart = Apart::Stored;
                Ok(())
            }
            Some(d) => Err(StoreError::Corrupt(format!(
                "znode {path:?}: data stored apart holds {} bytes, the record says {len}",
                d.len()
            ))),
            None => Err(StoreError::Corrupt(format!(
                "znode {path:?}: the record says its data is stored apart, and it is missing"
            ))),
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

    /// The stored record: the data inline (version 1), or only its length when it is stored
    /// apart (version 2; see [`data_key`](Self::data_key)).
    pub fn encode(&self) -> Vec<u8> {
        let apart = self.data_apart();
        let data_len = if apart { 4 } else { self.data.encoded_len() };
        let mut out = BytesMut::with_capacity(1 + 60 + 4 + data_len + self.acl.encoded_len());
        let version = if apart {
            NODE_FORMAT_V2
        } else {
            NODE_FORMAT_V1
        };
        out.extend_from_slice(&u8::to_be_bytes(version));
        self.stat.encode(&mut out);
        out.extend_from_slice(&i32::to_be_bytes(self.num_children));
        match &self.data {
            Some(d) if apart => {
                let len = i32::try_from(d.len()).unwrap_or(i32::MAX);
                out.extend_from_slice(&i32::to_be_bytes(len));
            }
            _ => self.data.encode(&mut out),
        }
        self.acl.encode(&mut out);
        Vec::from(out)
    }

    /// Decodes a stored record; `path` only names the node in the error. With the data stored
    /// apart, the node comes without data and with the data's length, for
    /// [`attach_data`](Self::attach_data).
    pub fn decode(
        path: &str,
        value: impl Into<Bytes>,
    ) -> Result<(Node, Option<usize>), StoreError> {
        let corrupt = |what: String| StoreError::Corrupt(format!("znode {path:?}: {what}"));
        let frame: Bytes = value.into();
        let Some((&version, body)) = frame.split_first() else {
            return Err(corrupt("empty value".into()));
        };
        let apart = match version {
            NODE_FORMAT_V1 => false,
            NODE_FORMAT_V2 => true,
            v => return Err(corrupt(format!("unknown node format version {v}"))),
        };
        let cx = Cx::new(&frame, usize::MAX);
        match parse_value(&cx, body, apart) {
            Ok(([], (stat, num_children, data, acl))) => {
                let node = Node {
                    stat,
                    num_children,
                    data: data.inline,
                    acl,
                    apart: Apart::No,
                };
                // Any length is read (a build with another limit may have written it); the next
                // write puts the data where this build's limit says.
                match data.apart.map(usize::try_from) {
                    None => Ok((node, None)),
                    Some(Ok(len)) => Ok((node, Some(len))),
                    Some(Err(_)) => Err(corrupt(format!(
                        "a negative length of data stored apart ({:?})",
                        data.apart
                    ))),
                }
            }
            Ok((rest, _)) => Err(corrupt(format!("{} trailing bytes", rest.len()))),
            Err(e) => Err(corrupt(DecodeError::from(e).to_string())),
        }
    }
}

/// The data field of a record: the buffer, or the length of the data stored apart.
struct DataField {
    inline: Option<Bytes>,
    apart: Option<i32>,
}

/// The fields after the version byte.
type NodeFields = (StatPersisted, i32, DataField, Vec<Acl>);

fn parse_value<'a>(cx: &Cx<'a>, body: &'a [u8], apart: bool) -> JResult<'a, NodeFields> {
    let (i, stat) = StatPersisted::decode(cx, body)?;
    let (i, num_children) = i32::decode(cx, i)?;
    let (i, data) = if apart {
        let (i, len) = i32::decode(cx, i)?;
        (
            i,
            DataField {
                inline: None,
                apart: Some(len),
            },
        )
    } else {
        let (i, d) = Option::<Bytes>::decode(cx, i)?;
        (
            i,
            DataField {
                inline: d,
                apart: None,
            },
        )
    };
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
        assert_eq!(back, (n.clone(), None));
        let mut empty = Node {
            acl: vec![Acl {
                perms: 1,
                id: Id {
                    scheme: None,
                    id: None,
                },
            }],
            ..n.clone()
        };
        empty.set_data(None);
        assert_eq!(Node::decode("/x", empty.encode()).unwrap(), (empty, None));
        assert!(Node::decode("/x", vec![]).is_err());
        assert!(Node::decode("/x", vec![9]).is_err());
        let mut long = n.encode();
        long.push(0);
        assert!(Node::decode("/x", long).is_err());
        let short = n.encode();
        assert!(Node::decode("/x", short[..20].to_vec()).is_err());
    }

    #[test]
    fn long_data_is_stored_apart_and_rewritten_only_when_it_changes() {
        let long = Bytes::from(vec![7u8; INLINE_DATA_MAX + 1]);
        let n = Node::created(7, 1000, 0, Some(long.clone()), Acl::open_unsafe());
        assert!(n.data_apart());
        assert_eq!(n.data_key(), DataKey::Put(long.clone()));
        let record = n.encode();
        assert!(record.len() < 100, "the record leaves the data out");
        let (mut back, len) = Node::decode("/x", record.clone()).unwrap();
        assert_eq!(
            (back.data().cloned(), len),
            (None, Some(INLINE_DATA_MAX + 1))
        );
        // The data key's value, read back as a separate buffer.
        let stored = Bytes::copy_from_slice(&long);
        back.attach_data("/x", INLINE_DATA_MAX + 1, Some(stored.clone()))
            .unwrap();
        assert_eq!(back, n);
        assert!(back.had_data_apart());
        // Unchanged data (even after a stat change) leaves the key alone.
        back.stat.cversion += 1;
        assert_eq!(back.data_key(), DataKey::Keep);
        // A setData is written, even of the same value; then shrunk to inline, the key goes.
        let mut same = back.clone();
        same.set_data(Some(stored.clone()));
        assert_eq!(same.data_key(), DataKey::Put(stored.clone()));
        same.set_data(Some(Bytes::from_static(b"s")));
        assert_eq!(same.data_key(), DataKey::Delete);
        let mut none = back.clone();
        none.set_data(None);
        assert_eq!(none.data_key(), DataKey::Delete);
        // A new node with long data writes it.
        assert_eq!(n.data_key(), DataKey::Put(long.clone()));
        // Exactly the limit stays inline.
        let edge = Node::created(
            1,
            1,
            0,
            Some(Bytes::from(vec![1u8; INLINE_DATA_MAX])),
            vec![],
        );
        assert!(!edge.data_apart());
        assert_eq!(Node::decode("/e", edge.encode()).unwrap(), (edge, None));
        // A missing or mismatched data key is corruption, as is a negative length.
        let (mut m, _) = Node::decode("/x", record.clone()).unwrap();
        assert!(m.attach_data("/x", INLINE_DATA_MAX + 1, None).is_err());
        assert!(
            m.attach_data("/x", INLINE_DATA_MAX + 1, Some(Bytes::from_static(b"ab")))
                .is_err()
        );
        let mut bad = record;
        bad[1 + 60 + 4..1 + 60 + 8].copy_from_slice(&(-4i32).to_be_bytes());
        assert!(Node::decode("/x", bad.clone()).is_err());
        // A short length stored apart (another limit) is read, and moved inline by the next write.
        bad[1 + 60 + 4..1 + 60 + 8].copy_from_slice(&2i32.to_be_bytes());
        let (mut short, len) = Node::decode("/x", bad).unwrap();
        short
            .attach_data("/x", len.unwrap(), Some(Bytes::from_static(b"ab")))
            .unwrap();
        assert_eq!(short.data_key(), DataKey::Delete);
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
