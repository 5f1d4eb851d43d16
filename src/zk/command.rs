//! `ZkCommand`: the log payload of every ZooKeeper write — a client write request (carried as
//! the jute [`Request`]) or an internal command (session creation and expiry, container and TTL
//! cleanup) — with what apply needs besides the request: the session, the client's xid, the
//! proposer's wall clock (ZooKeeper's `TxnHeader.time`) and the connection's auth ids.
//!
//! Layer: `zk/`, pure data and its encoding; touches nothing.
//!
//! Format version 1 (big-endian): `version u8 (=1) | session_id i64 | cxid i32 | time_ms i64 |
//! auth_count u32 | auth_count × Id (jute: scheme, id) | op_tag u8 | op`, where `op` is
//! - tag 1, client request: `opcode i32 | body_len u32 | body (the jute request record)`;
//! - tag 2, CreateSession: `session_id i64 | timeout_ms i32`;
//! - tag 3, CloseSession / 4, ExpireSession: `session_id i64`;
//! - tag 5, DeleteContainer / 6, ExpireTtl: `path (jute ustring)`;
//! - tag 7, Rejected: `err i32`;
//! - tag 8, AttachSession: `session_id i64 | owner u64 | timeout_ms i32`;
//! - tag 9, ExpireOwnedSession: `session_id i64 | owner u64`.

use bytes::{Buf, Bytes, BytesMut};
use zoolog_jute::{ByteString, Cx, DecodeError, Id, Jute, OpCode, Request};

/// The command format version written by this build.
const COMMAND_FORMAT_V1: u8 = 1;

const TAG_REQUEST: u8 = 1;
const TAG_CREATE_SESSION: u8 = 2;
const TAG_CLOSE_SESSION: u8 = 3;
const TAG_EXPIRE_SESSION: u8 = 4;
const TAG_DELETE_CONTAINER: u8 = 5;
const TAG_EXPIRE_TTL: u8 = 6;
const TAG_REJECTED: u8 = 7;
const TAG_ATTACH_SESSION: u8 = 8;
const TAG_EXPIRE_OWNED_SESSION: u8 = 9;

/// What a command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkOp {
    /// A client write: create, create2, createContainer, createTTL, delete, setData, setACL,
    /// multi, reconfig, closeSession. A top-level check and anything that is not a write are
    /// answered `UNIMPLEMENTED`; a client's deleteContainer `BADARGUMENTS` (as 3.8.0 does).
    Request(Request),
    /// A new session; the id was chosen by the proposing server (§10.1).
    CreateSession { session_id: i64, timeout_ms: i32 },
    /// The session is closed on its behalf (e.g. its server gave up on it).
    CloseSession { session_id: i64 },
    /// The session expired.
    ExpireSession { session_id: i64 },
    /// Container cleanup: delete the container at `path` if it is still a candidate.
    DeleteContainer { path: String },
    /// TTL cleanup: delete the TTL node at `path` if it has still expired and has no children.
    ExpireTtl { path: String },
    /// A client write ZooKeeper rejects before it can be executed (a multi mixing reads into
    /// writes, a client-sent createSession): an error transaction answering `err` that still
    /// consumes a zxid, as ZooKeeper's PrepRequestProcessor does.
    Rejected { err: i32 },
    /// In an ensemble: the session's client reconnected to server `owner`, which serves it
    /// (and times it) from now on, with the newly negotiated timeout.
    AttachSession {
        session_id: i64,
        owner: u64,
        timeout_ms: i32,
    },
    /// In an ensemble: server `owner` found the session expired. Ignored if the session moved
    /// to another server meanwhile (an attach applied first).
    ExpireOwnedSession { session_id: i64, owner: u64 },
}

/// One ZooKeeper write, as it travels through the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkCommand {
    /// The client session (0 for internal commands that belong to none).
    pub session_id: i64,
    /// The client's xid (0 for internal commands).
    pub cxid: i32,
    /// The proposer's wall clock, ms since the epoch: ctime/mtime of what this command writes.
    pub time_ms: i64,
    /// The connection's auth ids (`ip:<addr>`, `digest:…`, `super:`), in the order they were
    /// added.
    pub auth: Vec<Id>,
    pub op: ZkOp,
}

/// Why bytes are not a [`ZkCommand`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("empty command")]
    Empty,
    /// Written by a newer build: the apply loop must stop, not skip it.
    #[error("unknown command format version {0}")]
    UnknownVersion(u8),
    #[error("truncated command")]
    Truncated,
    #[error("unknown command op tag {0}")]
    UnknownOp(u8),
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    #[error("opcode {0} has no request record")]
    NotARequest(OpCode),
    #[error("undecodable record: {0}")]
    Record(#[from] DecodeError),
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
}

impl CommandError {
    /// True if the command was written in a format this build cannot read at all.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, CommandError::UnknownVersion(_))
    }
}

impl ZkCommand {
    /// A client request of `session_id` with xid `cxid`.
    pub fn request(session_id: i64, cxid: i32, time_ms: i64, auth: Vec<Id>, req: Request) -> Self {
        ZkCommand {
            session_id,
            cxid,
            time_ms,
            auth,
            op: ZkOp::Request(req),
        }
    }

    /// An internal command (no cxid, no auth).
    pub fn internal(session_id: i64, time_ms: i64, op: ZkOp) -> Self {
        ZkCommand {
            session_id,
            cxid: 0,
            time_ms,
            auth: Vec::new(),
            op,
        }
    }

    /// The encoding.
    pub fn encode(&self) -> Bytes {
        // Sized up front: growing the buffer while encoding a request body copied it twice.
        let body = match &self.op {
            ZkOp::Request(req) => req.body_len(),
            _ => 0,
        };
        let auth: usize = self.auth.iter().map(|id| id.encoded_len()).sum();
        let mut out = BytesMut::with_capacity(64 + auth + body);
        out.extend_from_slice(&u8::to_be_bytes(COMMAND_FORMAT_V1));
        out.extend_from_slice(&i64::to_be_bytes(self.session_id));
        out.extend_from_slice(&i32::to_be_bytes(self.cxid));
        out.extend_from_slice(&i64::to_be_bytes(self.time_ms));
        out.extend_from_slice(&u32::to_be_bytes(self.auth.len() as u32));
        for id in &self.auth {
            id.encode(&mut out);
        }
        match &self.op {
            ZkOp::Request(req) => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_REQUEST));
                out.extend_from_slice(&i32::to_be_bytes(req.op_code().as_i32()));
                out.extend_from_slice(&u32::to_be_bytes(body as u32));
                req.encode_body(&mut out);
            }
            ZkOp::CreateSession {
                session_id,
                timeout_ms,
            } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_CREATE_SESSION));
                out.extend_from_slice(&i64::to_be_bytes(*session_id));
                out.extend_from_slice(&i32::to_be_bytes(*timeout_ms));
            }
            ZkOp::CloseSession { session_id } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_CLOSE_SESSION));
                out.extend_from_slice(&i64::to_be_bytes(*session_id));
            }
            ZkOp::ExpireSession { session_id } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_EXPIRE_SESSION));
                out.extend_from_slice(&i64::to_be_bytes(*session_id));
            }
            ZkOp::DeleteContainer { path } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_DELETE_CONTAINER));
                ByteString::from(path.as_str()).encode(&mut out);
            }
            ZkOp::ExpireTtl { path } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_EXPIRE_TTL));
                ByteString::from(path.as_str()).encode(&mut out);
            }
            ZkOp::Rejected { err } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_REJECTED));
                out.extend_from_slice(&i32::to_be_bytes(*err));
            }
            ZkOp::AttachSession {
                session_id,
                owner,
                timeout_ms,
            } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_ATTACH_SESSION));
                out.extend_from_slice(&i64::to_be_bytes(*session_id));
                out.extend_from_slice(&u64::to_be_bytes(*owner));
                out.extend_from_slice(&i32::to_be_bytes(*timeout_ms));
            }
            ZkOp::ExpireOwnedSession { session_id, owner } => {
                out.extend_from_slice(&u8::to_be_bytes(TAG_EXPIRE_OWNED_SESSION));
                out.extend_from_slice(&i64::to_be_bytes(*session_id));
                out.extend_from_slice(&u64::to_be_bytes(*owner));
            }
        }
        out.freeze()
    }

    /// Decodes a command; buffers of the embedded request share `data`'s memory.
    pub fn decode(data: &Bytes) -> Result<ZkCommand, CommandError> {
        let mut r = data.clone();
        let need = |r: &Bytes, n: usize| {
            if r.remaining() < n {
                Err(CommandError::Truncated)
            } else {
                Ok(())
            }
        };
        if r.is_empty() {
            return Err(CommandError::Empty);
        }
        let version = r.get_u8();
        if version != COMMAND_FORMAT_V1 {
            return Err(CommandError::UnknownVersion(version));
        }
        need(&r, 8 + 4 + 8 + 4)?;
        let session_id = r.get_i64();
        let cxid = r.get_i32();
        let time_ms = r.get_i64();
        let n_auth = r.get_u32() as usize;
        // An Id takes at least 8 bytes.
        if n_auth.saturating_mul(8) > r.remaining() {
            return Err(CommandError::Truncated);
        }
        let mut auth = Vec::with_capacity(n_auth);
        for _ in 0..n_auth {
            auth.push(jute_take::<Id>(&mut r)?);
        }
        need(&r, 1)?;
        let op = match r.get_u8() {
            TAG_REQUEST => {
                need(&r, 8)?;
                let code = r.get_i32();
                let len = r.get_u32() as usize;
                need(&r, len)?;
                let body = r.split_to(len);
                let op = OpCode::from_i32(code).ok_or(CommandError::UnknownOpCode(code))?;
                let cx = Cx::new(&body, usize::MAX);
                let (rest, req) =
                    Request::decode_body(op, &cx, &body).map_err(DecodeError::from)?;
                if !rest.is_empty() {
                    return Err(CommandError::TrailingBytes(rest.len()));
                }
                ZkOp::Request(req.ok_or(CommandError::NotARequest(op))?)
            }
            TAG_CREATE_SESSION => {
                need(&r, 12)?;
                ZkOp::CreateSession {
                    session_id: r.get_i64(),
                    timeout_ms: r.get_i32(),
                }
            }
            TAG_CLOSE_SESSION => {
                need(&r, 8)?;
                ZkOp::CloseSession {
                    session_id: r.get_i64(),
                }
            }
            TAG_EXPIRE_SESSION => {
                need(&r, 8)?;
                ZkOp::ExpireSession {
                    session_id: r.get_i64(),
                }
            }
            TAG_DELETE_CONTAINER => ZkOp::DeleteContainer {
                path: jute_take::<ByteString>(&mut r)?.to_string(),
            },
            TAG_EXPIRE_TTL => ZkOp::ExpireTtl {
                path: jute_take::<ByteString>(&mut r)?.to_string(),
            },
            TAG_REJECTED => {
                need(&r, 4)?;
                ZkOp::Rejected { err: r.get_i32() }
            }
            TAG_ATTACH_SESSION => {
                need(&r, 20)?;
                ZkOp::AttachSession {
                    session_id: r.get_i64(),
                    owner: r.get_u64(),
                    timeout_ms: r.get_i32(),
                }
            }
            TAG_EXPIRE_OWNED_SESSION => {
                need(&r, 16)?;
                ZkOp::ExpireOwnedSession {
                    session_id: r.get_i64(),
                    owner: r.get_u64(),
                }
            }
            t => return Err(CommandError::UnknownOp(t)),
        };
        if !r.is_empty() {
            return Err(CommandError::TrailingBytes(r.len()));
        }
        Ok(ZkCommand {
            session_id,
            cxid,
            time_ms,
            auth,
            op,
        })
    }
}

/// Decodes one jute value from the front of `r` and advances past it.
fn jute_take<T: Jute>(r: &mut Bytes) -> Result<T, CommandError> {
    let frame = r.clone();
    let cx = Cx::new(&frame, usize::MAX);
    let (rest, v) = T::decode(&cx, &frame).map_err(DecodeError::from)?;
    let used = frame.len() - rest.len();
    r.advance(used);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoolog_jute::{
        Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteContainerRequest,
        DeleteRequest, MultiOp, MultiRequest, SetAclRequest, SetDataRequest,
    };

    fn samples() -> Vec<ZkCommand> {
        let auth = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
            Id {
                scheme: Some("x".into()),
                id: None,
            },
        ];
        let create = CreateRequest {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"d")),
            acl: Some(Acl::open_unsafe()),
            flags: 3,
        };
        let reqs = vec![
            Request::Create(create.clone()),
            Request::Create2(CreateRequest {
                data: None,
                acl: None,
                ..create.clone()
            }),
            Request::CreateContainer(create.clone()),
            Request::CreateTtl(CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: Some(vec![]),
                flags: 5,
                ttl: 100,
            }),
            Request::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            }),
            Request::SetData(SetDataRequest {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"x")),
                version: 3,
            }),
            Request::SetAcl(SetAclRequest {
                path: "/a".into(),
                acl: Some(Acl::read_unsafe()),
                version: 0,
            }),
            Request::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 1,
            }),
            Request::Multi(MultiRequest {
                ops: vec![
                    MultiOp::Create(create.clone()),
                    MultiOp::Delete(DeleteRequest {
                        path: "/a".into(),
                        version: -1,
                    }),
                ],
            }),
            Request::Multi(MultiRequest::default()),
            Request::DeleteContainer(DeleteContainerRequest { path: "/c".into() }),
            Request::CloseSession,
        ];
        let mut out: Vec<ZkCommand> = reqs
            .into_iter()
            .map(|r| {
                ZkCommand::request(
                    0x0100_0007_05a0_0000,
                    12,
                    1_700_000_000_000,
                    auth.clone(),
                    r,
                )
            })
            .collect();
        for op in [
            ZkOp::CreateSession {
                session_id: 77,
                timeout_ms: 4000,
            },
            ZkOp::CloseSession { session_id: 77 },
            ZkOp::ExpireSession { session_id: -1 },
            ZkOp::DeleteContainer { path: "/c".into() },
            ZkOp::ExpireTtl { path: "/t".into() },
            ZkOp::AttachSession {
                session_id: 77,
                owner: 3,
                timeout_ms: 6000,
            },
            ZkOp::ExpireOwnedSession {
                session_id: 77,
                owner: u64::MAX,
            },
        ] {
            out.push(ZkCommand::internal(0, 5, op));
        }
        out
    }

    #[test]
    fn round_trip_and_truncation() {
        for cmd in samples() {
            let bytes = cmd.encode();
            assert_eq!(ZkCommand::decode(&bytes).unwrap(), cmd);
            for cut in 0..bytes.len() {
                assert!(
                    ZkCommand::decode(&bytes.slice(..cut)).is_err(),
                    "{cmd:?} cut {cut}"
                );
            }
            let mut long = bytes.to_vec();
            long.push(0);
            assert_eq!(
                ZkCommand::decode(&Bytes::from(long)),
                Err(CommandError::TrailingBytes(1))
            );
        }
    }

    #[test]
    fn typed_errors() {
        assert_eq!(ZkCommand::decode(&Bytes::new()), Err(CommandError::Empty));
        let e = ZkCommand::decode(&Bytes::from_static(&[9])).unwrap_err();
        assert!(e.is_unsupported());
        let mut b = ZkCommand::internal(0, 0, ZkOp::ExpireSession { session_id: 1 })
            .encode()
            .to_vec();
        let tag_at = b.len() - 9;
        b[tag_at] = 42;
        assert_eq!(
            ZkCommand::decode(&Bytes::from(b)),
            Err(CommandError::UnknownOp(42))
        );
    }
}
