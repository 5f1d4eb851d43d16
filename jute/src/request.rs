//! The typed `Request`: every client opcode mapped to its record (§3), and the decoding of a whole
//! request frame (RequestHeader + body).

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::OpCode;
use crate::error::DecodeError;
use crate::multi::MultiRequest;
use crate::records::proto::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CheckWatchesRequest, CreateRequest,
    CreateTtlRequest, DeleteContainerRequest, DeleteRequest, ExistsRequest, GetAclRequest,
    GetAllChildrenNumberRequest, GetChildren2Request, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, GetSaslRequest, ReconfigRequest, RemoveWatchesRequest, RequestHeader,
    SetAclRequest, SetDataRequest, SetWatches, SetWatches2, SyncRequest,
};
use crate::wire::{Cx, JResult, Jute};

/// A client request body, by opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create(CreateRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    Sync(SyncRequest),
    Ping,
    GetChildren2(GetChildren2Request),
    /// Top-level check; only valid inside multi before ZooKeeper 3.9.3.
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    Create2(CreateRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    CreateContainer(CreateRequest),
    DeleteContainer(DeleteContainerRequest),
    CreateTtl(CreateTtlRequest),
    MultiRead(MultiRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    Sasl(GetSaslRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    SetWatches2(SetWatches2),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// Why a request frame could not be decoded. Carries the header when it was readable, so the
/// server can answer the right xid before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("undecodable request header: {0}")]
    Header(DecodeError),
    #[error("unknown opcode {op} (xid {xid})")]
    UnknownOpCode { xid: i32, op: i32 },
    #[error("undecodable {op} request (xid {xid}): {source}")]
    Body {
        xid: i32,
        op: OpCode,
        source: DecodeError,
    },
}

macro_rules! with_body {
    ($self:expr, $r:ident => $e:expr, $none:expr) => {
        match $self {
            Request::Create($r) | Request::Create2($r) | Request::CreateContainer($r) => $e,
            Request::Delete($r) => $e,
            Request::Exists($r) => $e,
            Request::GetData($r) => $e,
            Request::SetData($r) => $e,
            Request::GetAcl($r) => $e,
            Request::SetAcl($r) => $e,
            Request::GetChildren($r) => $e,
            Request::Sync($r) => $e,
            Request::GetChildren2($r) => $e,
            Request::Check($r) => $e,
            Request::Multi($r) | Request::MultiRead($r) => $e,
            Request::Reconfig($r) => $e,
            Request::CheckWatches($r) => $e,
            Request::RemoveWatches($r) => $e,
            Request::DeleteContainer($r) => $e,
            Request::CreateTtl($r) => $e,
            Request::Auth($r) => $e,
            Request::SetWatches($r) => $e,
            Request::Sasl($r) => $e,
            Request::GetEphemerals($r) => $e,
            Request::GetAllChildrenNumber($r) => $e,
            Request::SetWatches2($r) => $e,
            Request::AddWatch($r) => $e,
            Request::Ping | Request::WhoAmI | Request::CloseSession => $none,
        }
    };
}

fn map<'a, T>(r: JResult<'a, T>, f: impl FnOnce(T) -> Request) -> JResult<'a, Request> {
    r.map(|(i, v)| (i, f(v)))
}

impl Request {
    /// The opcode this request is sent with.
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::Create2(_) => OpCode::Create2,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Appends the request record (not the header).
    pub fn encode_body(&self, out: &mut BytesMut) {
        with_body!(self, r => r.encode(out), ())
    }

    /// Length of the request record.
    pub fn body_len(&self) -> usize {
        with_body!(self, r => r.encoded_len(), 0)
    }

    /// Decodes the record of a request sent with `op`. `Ok(None)` means the opcode is not a
    /// client request (notification, createSession, error).
    pub fn decode_body<'a>(op: OpCode, cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Option<Self>> {
        let r = match op {
            OpCode::Create => map(CreateRequest::decode(cx, i), Request::Create)?,
            OpCode::Delete => map(DeleteRequest::decode(cx, i), Request::Delete)?,
            OpCode::Exists => map(ExistsRequest::decode(cx, i), Request::Exists)?,
            OpCode::GetData => map(GetDataRequest::decode(cx, i), Request::GetData)?,
            OpCode::SetData => map(SetDataRequest::decode(cx, i), Request::SetData)?,
            OpCode::GetAcl => map(GetAclRequest::decode(cx, i), Request::GetAcl)?,
            OpCode::SetAcl => map(SetAclRequest::decode(cx, i), Request::SetAcl)?,
            OpCode::GetChildren => map(GetChildrenRequest::decode(cx, i), Request::GetChildren)?,
            OpCode::Sync => map(SyncRequest::decode(cx, i), Request::Sync)?,
            OpCode::Ping => (i, Request::Ping),
            OpCode::GetChildren2 => map(GetChildren2Request::decode(cx, i), Request::GetChildren2)?,
            OpCode::Check => map(CheckVersionRequest::decode(cx, i), Request::Check)?,
            OpCode::Multi => {
                let (i, m) = MultiRequest::decode(cx, i)?;
                if m.ops.iter().any(|op| op.is_read()) {
                    return Err(nom::Err::Failure(DecodeError::Invalid(
                        "read operation in a multi",
                    )));
                }
                (i, Request::Multi(m))
            }
            OpCode::Create2 => map(CreateRequest::decode(cx, i), Request::Create2)?,
            OpCode::Reconfig => map(ReconfigRequest::decode(cx, i), Request::Reconfig)?,
            OpCode::CheckWatches => map(CheckWatchesRequest::decode(cx, i), Request::CheckWatches)?,
            OpCode::RemoveWatches => {
                map(RemoveWatchesRequest::decode(cx, i), Request::RemoveWatches)?
            }
            OpCode::CreateContainer => map(CreateRequest::decode(cx, i), Request::CreateContainer)?,
            OpCode::DeleteContainer => map(
                DeleteContainerRequest::decode(cx, i),
                Request::DeleteContainer,
            )?,
            OpCode::CreateTtl => map(CreateTtlRequest::decode(cx, i), Request::CreateTtl)?,
            OpCode::MultiRead => {
                let (i, m) = MultiRequest::decode(cx, i)?;
                if m.ops.iter().any(|op| !op.is_read()) {
                    return Err(nom::Err::Failure(DecodeError::Invalid(
                        "write operation in a multiRead",
                    )));
                }
                (i, Request::MultiRead(m))
            }
            OpCode::Auth => map(AuthPacket::decode(cx, i), Request::Auth)?,
            OpCode::SetWatches => map(SetWatches::decode(cx, i), Request::SetWatches)?,
            OpCode::Sasl => map(GetSaslRequest::decode(cx, i), Request::Sasl)?,
            OpCode::GetEphemerals => {
                map(GetEphemeralsRequest::decode(cx, i), Request::GetEphemerals)?
            }
            OpCode::GetAllChildrenNumber => map(
                GetAllChildrenNumberRequest::decode(cx, i),
                Request::GetAllChildrenNumber,
            )?,
            OpCode::SetWatches2 => map(SetWatches2::decode(cx, i), Request::SetWatches2)?,
            OpCode::AddWatch => map(AddWatchRequest::decode(cx, i), Request::AddWatch)?,
            OpCode::WhoAmI => (i, Request::WhoAmI),
            OpCode::CloseSession => (i, Request::CloseSession),
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => return Ok((i, None)),
        };
        Ok((r.0, Some(r.1)))
    }

    /// Decodes a request frame after the handshake: RequestHeader, then the record its opcode
    /// names. Trailing bytes after the record are ignored, as ZooKeeper ignores them.
    pub fn decode_frame(
        frame: &Bytes,
        max_len: usize,
    ) -> Result<(RequestHeader, Request), RequestError> {
        let cx = Cx::new(frame, max_len);
        let (i, header) =
            RequestHeader::decode(&cx, frame).map_err(|e| RequestError::Header(e.into()))?;
        let unknown = RequestError::UnknownOpCode {
            xid: header.xid,
            op: header.op,
        };
        let Some(op) = OpCode::from_i32(header.op) else {
            return Err(unknown);
        };
        match Request::decode_body(op, &cx, i) {
            Ok((_, Some(req))) => Ok((header, req)),
            Ok((_, None)) => Err(unknown),
            Err(e) => Err(RequestError::Body {
                xid: header.xid,
                op,
                source: e.into(),
            }),
        }
    }

    /// Encodes `header` and this request as one frame payload (without the length prefix).
    pub fn encode_frame(&self, xid: i32, out: &mut BytesMut) {
        RequestHeader {
            xid,
            op: self.op_code().as_i32(),
        }
        .encode(out);
        self.encode_body(out);
    }
}
