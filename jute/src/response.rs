//! The typed `Response`: the reply record for each opcode (§3), which a client decodes knowing
//! the opcode of the request the reply's xid answers.

use bytes::BytesMut;

use crate::OpCode;
use crate::multi::MultiResponse;
use crate::records::proto::{
    Create2Response, CreateResponse, ErrorResponse, ExistsResponse, GetAclResponse,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetDataResponse,
    GetEphemeralsResponse, ReplyHeader, SetAclResponse, SetDataResponse, SetSaslResponse,
    SyncResponse, WhoAmIResponse,
};
use crate::wire::{Cx, JResult, Jute};

/// A reply body, by opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Opcodes whose successful reply has no record (delete, ping, auth, setWatches, …).
    Empty,
    Create(CreateResponse),
    /// create2, createContainer and createTTL.
    Create2(Create2Response),
    Exists(ExistsResponse),
    /// getData and reconfig.
    GetData(GetDataResponse),
    SetData(SetDataResponse),
    GetAcl(GetAclResponse),
    SetAcl(SetAclResponse),
    GetChildren(GetChildrenResponse),
    GetChildren2(GetChildren2Response),
    Sync(SyncResponse),
    /// multi and multiRead.
    Multi(MultiResponse),
    Sasl(SetSaslResponse),
    GetEphemerals(GetEphemeralsResponse),
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// addWatch replies with `ErrorResponse{0}`.
    AddWatch(ErrorResponse),
    WhoAmI(WhoAmIResponse),
}

macro_rules! with_body {
    ($self:expr, $r:ident => $e:expr, $none:expr) => {
        match $self {
            Response::Empty => $none,
            Response::Create($r) => $e,
            Response::Create2($r) => $e,
            Response::Exists($r) => $e,
            Response::GetData($r) => $e,
            Response::SetData($r) => $e,
            Response::GetAcl($r) => $e,
            Response::SetAcl($r) => $e,
            Response::GetChildren($r) => $e,
            Response::GetChildren2($r) => $e,
            Response::Sync($r) => $e,
            Response::Multi($r) => $e,
            Response::Sasl($r) => $e,
            Response::GetEphemerals($r) => $e,
            Response::GetAllChildrenNumber($r) => $e,
            Response::AddWatch($r) => $e,
            Response::WhoAmI($r) => $e,
        }
    };
}

fn map<'a, T>(r: JResult<'a, T>, f: impl FnOnce(T) -> Response) -> JResult<'a, Response> {
    r.map(|(i, v)| (i, f(v)))
}

impl Response {
    /// Appends the reply record (not the header).
    pub fn encode_body(&self, out: &mut BytesMut) {
        with_body!(self, r => r.encode(out), ())
    }

    /// Length of the reply record.
    pub fn body_len(&self) -> usize {
        with_body!(self, r => r.encoded_len(), 0)
    }

    /// Decodes the successful reply record of a request sent with `op`.
    pub fn decode_body<'a>(op: OpCode, cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        match op {
            OpCode::Create => map(CreateResponse::decode(cx, i), Response::Create),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                map(Create2Response::decode(cx, i), Response::Create2)
            }
            OpCode::Exists => map(ExistsResponse::decode(cx, i), Response::Exists),
            OpCode::GetData | OpCode::Reconfig => {
                map(GetDataResponse::decode(cx, i), Response::GetData)
            }
            OpCode::SetData => map(SetDataResponse::decode(cx, i), Response::SetData),
            OpCode::GetAcl => map(GetAclResponse::decode(cx, i), Response::GetAcl),
            OpCode::SetAcl => map(SetAclResponse::decode(cx, i), Response::SetAcl),
            OpCode::GetChildren => map(GetChildrenResponse::decode(cx, i), Response::GetChildren),
            OpCode::GetChildren2 => {
                map(GetChildren2Response::decode(cx, i), Response::GetChildren2)
            }
            OpCode::Sync => map(SyncResponse::decode(cx, i), Response::Sync),
            OpCode::Multi | OpCode::MultiRead => map(MultiResponse::decode(cx, i), Response::Multi),
            OpCode::Sasl => map(SetSaslResponse::decode(cx, i), Response::Sasl),
            OpCode::GetEphemerals => map(
                GetEphemeralsResponse::decode(cx, i),
                Response::GetEphemerals,
            ),
            OpCode::GetAllChildrenNumber => map(
                GetAllChildrenNumberResponse::decode(cx, i),
                Response::GetAllChildrenNumber,
            ),
            OpCode::AddWatch => map(ErrorResponse::decode(cx, i), Response::AddWatch),
            OpCode::WhoAmI => map(WhoAmIResponse::decode(cx, i), Response::WhoAmI),
            OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::Ping
            | OpCode::Check
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CloseSession
            | OpCode::CreateSession
            | OpCode::Notification
            | OpCode::Error => Ok((i, Response::Empty)),
        }
    }

    /// Encodes a reply frame payload (without the length prefix): header, then the record.
    pub fn encode_frame(&self, header: &ReplyHeader, out: &mut BytesMut) {
        header.encode(out);
        self.encode_body(out);
    }
}
