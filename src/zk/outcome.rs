//! `ZkOutcome`: what applying one [`ZkCommand`](super::command::ZkCommand) produced — the zxid,
//! the reply (`ReplyHeader.err` and the response record), the watch triggers in the order
//! ZooKeeper fires them, and the sessions that ended — and its versioned binary encoding, since
//! the engine stack hands apply results around as bytes.
//!
//! Layer: `zk/`, pure data; touches nothing.
//!
//! Format version 1: `version u8 (=1) | zxid i64 | err i32 | session_id i64 | cxid i32 |
//! response_op i32 (-1 = no body) | body_len u32 | body (jute) | trigger_count u32 |
//! trigger_count × (kind u8 | path_len u32 | path | acl_len u32 | acl (jute vector<ACL>)) | closed_count u32 | closed_count × (session
//! i64 | expired u8)`, all big-endian.

use bytes::{Buf, Bytes, BytesMut};
use zoolog_jute::{Acl, Cx, DecodeError, ErrorCode, EventType, Jute, OpCode, Response};

/// The outcome format version written by this build.
const OUTCOME_FORMAT_V1: u8 = 1;

/// Which watch event a change fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TriggerKind {
    /// `NodeCreated` on the data watches of the path (exists watches, persistent, recursive).
    NodeCreated,
    /// `NodeDeleted` on the data watches, then the child watches, of the path.
    NodeDeleted,
    /// `NodeDataChanged` on the data watches of the path.
    NodeDataChanged,
    /// `NodeChildrenChanged` on the child watches of the path, which is the **parent** of the
    /// created or deleted node (`/` for top-level nodes).
    NodeChildrenChanged,
}

impl TriggerKind {
    /// The `WatcherEvent.type` sent to clients.
    pub fn event_type(self) -> EventType {
        match self {
            TriggerKind::NodeCreated => EventType::NodeCreated,
            TriggerKind::NodeDeleted => EventType::NodeDeleted,
            TriggerKind::NodeDataChanged => EventType::NodeDataChanged,
            TriggerKind::NodeChildrenChanged => EventType::NodeChildrenChanged,
        }
    }

    fn tag(self) -> u8 {
        match self {
            TriggerKind::NodeCreated => 1,
            TriggerKind::NodeDeleted => 2,
            TriggerKind::NodeDataChanged => 3,
            TriggerKind::NodeChildrenChanged => 4,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => TriggerKind::NodeCreated,
            2 => TriggerKind::NodeDeleted,
            3 => TriggerKind::NodeDataChanged,
            4 => TriggerKind::NodeChildrenChanged,
            _ => return None,
        })
    }
}

/// One `triggerWatch(path, type, acl)` call of ZooKeeper's DataTree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchTrigger {
    pub path: String,
    pub kind: TriggerKind,
    /// The ACL a watcher needs READ on to be told (ZOOKEEPER-4799, in the Debian 3.8.0 build):
    /// the node's, or the parent's for NodeChildrenChanged. Empty means no check.
    pub acl: Vec<Acl>,
}

impl WatchTrigger {
    pub fn new(path: impl Into<String>, kind: TriggerKind) -> Self {
        WatchTrigger {
            path: path.into(),
            kind,
            acl: Vec::new(),
        }
    }

    /// The same trigger, filtered by `acl`.
    pub fn with_acl(mut self, acl: &[Acl]) -> Self {
        self.acl = acl.to_vec();
        self
    }
}

/// A session that ended in this command (its ephemerals are already deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedSession {
    pub session_id: i64,
    /// Expired (`ExpireSession`) rather than closed (client closeSession, `CloseSession`).
    pub expired: bool,
}

/// The result of applying one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkOutcome {
    /// The zxid of this command's transaction (every command consumes one; failed writes
    /// and failed multis included). The reply's `ReplyHeader.zxid`.
    pub zxid: i64,
    /// `ReplyHeader.err`. 0 for a multi even when an operation failed (the per-op results say
    /// which).
    pub err: ErrorCode,
    /// The command's session (for internal commands: the session they act on, or 0).
    pub session_id: i64,
    /// The command's cxid (the client's xid).
    pub cxid: i32,
    /// The reply record; [`Response::Empty`] when `err != 0` (ZooKeeper sends no body then).
    pub response: Response,
    /// The watch triggers, in ZooKeeper's order.
    pub triggers: Vec<WatchTrigger>,
    /// Sessions this command ended.
    pub closed_sessions: Vec<ClosedSession>,
}

/// Why bytes are not a [`ZkOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeError {
    #[error("empty outcome")]
    Empty,
    #[error("unknown outcome format version {0}")]
    UnknownVersion(u8),
    #[error("truncated outcome")]
    Truncated,
    #[error("unknown error code {0}")]
    UnknownErrorCode(i32),
    #[error("unknown response opcode {0}")]
    UnknownResponse(i32),
    #[error("undecodable response body: {0}")]
    Body(DecodeError),
    #[error("unknown trigger kind {0}")]
    UnknownTrigger(u8),
    #[error("trigger path is not UTF-8")]
    PathNotUtf8,
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
}

/// The opcode whose reply record a [`Response`] variant is (for decoding), or `None` for
/// [`Response::Empty`].
fn response_op(r: &Response) -> Option<OpCode> {
    Some(match r {
        Response::Empty => return None,
        Response::Create(_) => OpCode::Create,
        Response::Create2(_) => OpCode::Create2,
        Response::Exists(_) => OpCode::Exists,
        Response::GetData(_) => OpCode::GetData,
        Response::SetData(_) => OpCode::SetData,
        Response::GetAcl(_) => OpCode::GetAcl,
        Response::SetAcl(_) => OpCode::SetAcl,
        Response::GetChildren(_) => OpCode::GetChildren,
        Response::GetChildren2(_) => OpCode::GetChildren2,
        Response::Sync(_) => OpCode::Sync,
        Response::Multi(_) => OpCode::Multi,
        Response::Sasl(_) => OpCode::Sasl,
        Response::GetEphemerals(_) => OpCode::GetEphemerals,
        Response::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
        Response::AddWatch(_) => OpCode::AddWatch,
        Response::WhoAmI(_) => OpCode::WhoAmI,
    })
}

impl ZkOutcome {
    /// The encoding.
    pub fn encode(&self) -> Bytes {
        let body_len = self.response.body_len();
        let triggers: usize = self
            .triggers
            .iter()
            .map(|t| 9 + t.path.len() + t.acl.encoded_len())
            .sum();
        let mut out =
            BytesMut::with_capacity(37 + body_len + triggers + 4 + 9 * self.closed_sessions.len());
        out.extend_from_slice(&[OUTCOME_FORMAT_V1]);
        out.extend_from_slice(&i64::to_be_bytes(self.zxid));
        out.extend_from_slice(&i32::to_be_bytes(self.err.as_i32()));
        out.extend_from_slice(&i64::to_be_bytes(self.session_id));
        out.extend_from_slice(&i32::to_be_bytes(self.cxid));
        let op = response_op(&self.response).map_or(-1, OpCode::as_i32);
        out.extend_from_slice(&i32::to_be_bytes(op));
        out.extend_from_slice(&u32::to_be_bytes(body_len as u32));
        self.response.encode_body(&mut out);
        out.extend_from_slice(&u32::to_be_bytes(self.triggers.len() as u32));
        for t in &self.triggers {
            out.extend_from_slice(&[t.kind.tag()]);
            out.extend_from_slice(&u32::to_be_bytes(t.path.len() as u32));
            out.extend_from_slice(t.path.as_bytes());
            out.extend_from_slice(&u32::to_be_bytes(t.acl.encoded_len() as u32));
            t.acl.encode(&mut out);
        }
        out.extend_from_slice(&u32::to_be_bytes(self.closed_sessions.len() as u32));
        for c in &self.closed_sessions {
            out.extend_from_slice(&i64::to_be_bytes(c.session_id));
            out.extend_from_slice(&[u8::from(c.expired)]);
        }
        out.freeze()
    }

    /// Decodes an encoded outcome; the response body shares `data`'s memory.
    pub fn decode(data: &Bytes) -> Result<ZkOutcome, OutcomeError> {
        let mut r = Reader(data.clone());
        let version = r.u8().map_err(|_| OutcomeError::Empty)?;
        if version != OUTCOME_FORMAT_V1 {
            return Err(OutcomeError::UnknownVersion(version));
        }
        let zxid = r.i64()?;
        let err_raw = r.i32()?;
        let err = ErrorCode::from_i32(err_raw).ok_or(OutcomeError::UnknownErrorCode(err_raw))?;
        let session_id = r.i64()?;
        let cxid = r.i32()?;
        let op_raw = r.i32()?;
        let body = r.bytes()?;
        let response = if op_raw == -1 {
            if !body.is_empty() {
                return Err(OutcomeError::Body(DecodeError::TrailingBytes(body.len())));
            }
            Response::Empty
        } else {
            let op = OpCode::from_i32(op_raw).ok_or(OutcomeError::UnknownResponse(op_raw))?;
            let cx = Cx::new(&body, usize::MAX);
            let (rest, resp) = Response::decode_body(op, &cx, &body)
                .map_err(|e| OutcomeError::Body(DecodeError::from(e)))?;
            if !rest.is_empty() {
                return Err(OutcomeError::Body(DecodeError::TrailingBytes(rest.len())));
            }
            resp
        };
        let n = r.count(5)?;
        let mut triggers = Vec::with_capacity(n);
        for _ in 0..n {
            let tag = r.u8()?;
            let kind = TriggerKind::from_tag(tag).ok_or(OutcomeError::UnknownTrigger(tag))?;
            let path = r.bytes()?;
            let path = String::from_utf8(path.to_vec()).map_err(|_| OutcomeError::PathNotUtf8)?;
            let acl = r.bytes()?;
            let acl = Vec::<Acl>::from_bytes(&acl, usize::MAX).map_err(OutcomeError::Body)?;
            triggers.push(WatchTrigger { path, kind, acl });
        }
        let n = r.count(9)?;
        let mut closed_sessions = Vec::with_capacity(n);
        for _ in 0..n {
            let session_id = r.i64()?;
            let expired = r.u8()? != 0;
            closed_sessions.push(ClosedSession {
                session_id,
                expired,
            });
        }
        if !r.0.is_empty() {
            return Err(OutcomeError::TrailingBytes(r.0.len()));
        }
        Ok(ZkOutcome {
            zxid,
            err,
            session_id,
            cxid,
            response,
            triggers,
            closed_sessions,
        })
    }
}

/// A bounds-checked big-endian reader.
struct Reader(Bytes);

impl Reader {
    fn need(&self, n: usize) -> Result<(), OutcomeError> {
        if self.0.remaining() < n {
            Err(OutcomeError::Truncated)
        } else {
            Ok(())
        }
    }
    fn u8(&mut self) -> Result<u8, OutcomeError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }
    fn i32(&mut self) -> Result<i32, OutcomeError> {
        self.need(4)?;
        Ok(self.0.get_i32())
    }
    fn i64(&mut self) -> Result<i64, OutcomeError> {
        self.need(8)?;
        Ok(self.0.get_i64())
    }
    fn bytes(&mut self) -> Result<Bytes, OutcomeError> {
        self.need(4)?;
        let n = self.0.get_u32() as usize;
        self.need(n)?;
        Ok(self.0.split_to(n))
    }
    /// A count of items that take at least `min_size` bytes each.
    fn count(&mut self, min_size: usize) -> Result<usize, OutcomeError> {
        self.need(4)?;
        let n = self.0.get_u32() as usize;
        if n.saturating_mul(min_size) > self.0.remaining() {
            return Err(OutcomeError::Truncated);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoolog_jute::{
        Create2Response, CreateResponse, MultiResponse, MultiResult, SetDataResponse, Stat,
    };

    #[test]
    fn round_trip() {
        let stat = Stat {
            czxid: 5,
            mzxid: 6,
            version: 2,
            cversion: -1,
            ..Stat::default()
        };
        for response in [
            Response::Empty,
            Response::Create(CreateResponse { path: "/a".into() }),
            Response::Create2(Create2Response {
                path: "/b".into(),
                stat: stat.clone(),
            }),
            Response::SetData(SetDataResponse { stat: stat.clone() }),
            Response::Multi(MultiResponse {
                results: vec![
                    MultiResult::Error(0),
                    MultiResult::Error(-103),
                    MultiResult::Error(-2),
                ],
            }),
            Response::Multi(MultiResponse {
                results: vec![
                    MultiResult::Create(CreateResponse { path: "/x".into() }),
                    MultiResult::Delete,
                    MultiResult::Check,
                    MultiResult::SetData(SetDataResponse { stat: stat.clone() }),
                ],
            }),
        ] {
            let o = ZkOutcome {
                zxid: 42,
                err: ErrorCode::Ok,
                session_id: 0x0100_0007_05a0_0000,
                cxid: 7,
                response,
                triggers: vec![
                    WatchTrigger::new("/a", TriggerKind::NodeCreated),
                    WatchTrigger::new("/", TriggerKind::NodeChildrenChanged),
                ],
                closed_sessions: vec![ClosedSession {
                    session_id: 9,
                    expired: true,
                }],
            };
            let bytes = o.encode();
            assert_eq!(ZkOutcome::decode(&bytes).unwrap(), o);
            for cut in 0..bytes.len() {
                assert!(ZkOutcome::decode(&bytes.slice(..cut)).is_err(), "cut {cut}");
            }
            let mut long = bytes.to_vec();
            long.push(0);
            assert!(ZkOutcome::decode(&Bytes::from(long)).is_err());
        }
        assert_eq!(
            ZkOutcome::decode(&Bytes::from_static(&[2])),
            Err(OutcomeError::UnknownVersion(2))
        );
    }
}
