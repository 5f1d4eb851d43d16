//! `zoolog-jute`: Apache ZooKeeper's Jute encoding and every record ZooKeeper puts on the wire or
//! on disk — the client protocol, transactions, snapshot and txn-log headers, quorum packets — plus
//! the length-prefixed frame codec. A leaf crate: no server logic, no I/O beyond the codec.
//!
//! Decoding ([`Jute::decode`]) works over slices of one frame held as [`bytes::Bytes`]; buffers and
//! strings are returned as slices of that frame. It never panics and never reserves memory from a
//! length field beyond the bytes present. Encoding appends to a [`bytes::BytesMut`].

#[cfg(test)]
mod arb;
mod consts;
mod error;
pub mod frame;
mod multi;
pub mod records;
mod request;
mod response;
mod wire;

#[cfg(test)]
mod tests;

pub use consts::{
    AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, Perms, WatcherType, xid,
};
pub use error::DecodeError;
pub use frame::{FrameCodec, FrameError, write_frame};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use records::connect::{ConnectRequest, ConnectResponse};
pub use records::data::{Acl, ClientInfo, Id, Stat, StatPersisted};
pub use records::persistence::{DataNode, FileHeader, SNAP_MAGIC, TXNLOG_MAGIC};
pub use records::proto::*;
pub use records::quorum::{LearnerInfo, QuorumAuthPacket, QuorumPacket};
pub use records::txn::*;
pub use request::{Request, RequestError};
pub use response::Response;
pub use wire::{Cx, DEFAULT_MAX_BUFFER, JResult, Jute};

pub use bytes::Bytes;
pub use bytestring::ByteString;
