//! Multi and multiRead (§9): the request is a run of `MultiHeader` + op record ending in the
//! `{-1, true, -1}` terminator; the response is a run of `MultiHeader` + result record.

use bytes::BytesMut;

use crate::OpCode;
use crate::error::DecodeError;
use crate::records::proto::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetChildrenRequest, GetChildrenResponse, GetDataRequest,
    GetDataResponse, MultiHeader, SetDataRequest, SetDataResponse,
};
use crate::wire::{Cx, JResult, Jute};

/// The header that ends both lists.
const TERMINATOR: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

/// One operation of a multi (writes) or multiRead (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// Whether this is a read (allowed only in multiRead).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    /// The path the operation acts on.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    fn encode_body(&self, out: &mut BytesMut) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            MultiOp::GetChildren(r) => r.encode(out),
            MultiOp::GetData(r) => r.encode(out),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                r.encoded_len()
            }
            MultiOp::CreateTtl(r) => r.encoded_len(),
            MultiOp::Delete(r) => r.encoded_len(),
            MultiOp::SetData(r) => r.encoded_len(),
            MultiOp::Check(r) => r.encoded_len(),
            MultiOp::GetChildren(r) => r.encoded_len(),
            MultiOp::GetData(r) => r.encoded_len(),
        }
    }

    fn decode_body<'a>(op: i32, cx: &Cx<'a>, i: &'a [u8]) -> JResult<'a, Self> {
        let unknown = || {
            nom::Err::Failure(DecodeError::UnknownDiscriminant {
                what: "multi operation",
                value: i64::from(op),
            })
        };
        let code = OpCode::from_i32(op).ok_or_else(unknown)?;
        Ok(match code {
            OpCode::Create => map(CreateRequest::decode(cx, i), MultiOp::Create)?,
            OpCode::Create2 => map(CreateRequest::decode(cx, i), MultiOp::Create2)?,
            OpCode::CreateContainer => map(CreateRequest::decode(cx, i), MultiOp::CreateContainer)?,
            OpCode::CreateTtl => map(CreateTtlRequest::decode(cx, i), MultiOp::CreateTtl)?,
            OpCode::Delete => map(DeleteRequest::decode(cx, i), MultiOp::Delete)?,
            OpCode::SetData => map(SetDataRequest::decode(cx, i), MultiOp::SetData)?,
            OpCode::Check => map(CheckVersionRequest::decode(cx, i), MultiOp::Check)?,
            OpCode::GetChildren => map(GetChildrenRequest::decode(cx, i), MultiOp::GetChildren)?,
            OpCode::GetData => map(GetDataRequest::decode(cx, i), MultiOp::GetData)?,
            _ => return Err(unknown()),
        })
    }
}

fn map<'a, T, U>(r: JResult<'a, T>, f: impl FnOnce(T) -> U) -> JResult<'a, U> {
    r.map(|(i, v)| (i, f(v)))
}

/// `MultiOperationRecord`: the body of multi (14) and multiRead (22).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

impl Jute for MultiRequest {
    fn encode(&self, out: &mut BytesMut) {
        for op in &self.ops {
            MultiHeader {
                op: op.op_code().as_i32(),
                done: false,
                err: -1,
            }
            .encode(out);
            op.encode_body(out);
        }
        TERMINATOR.encode(out);
    }

    /// Fails like Java's `MultiOperationRecord` when reads and writes are mixed.
    fn decode<'a>(cx: &Cx<'a>, mut i: &'a [u8]) -> JResult<'a, Self> {
        let mut ops: Vec<MultiOp> = Vec::new();
        loop {
            let (rest, h) = MultiHeader::decode(cx, i)?;
            i = rest;
            if h.done {
                break;
            }
            let (rest, op) = MultiOp::decode_body(h.op, cx, i)?;
            i = rest;
            if let Some(first) = ops.first()
                && first.is_read() != op.is_read()
            {
                return Err(nom::Err::Failure(DecodeError::Invalid(
                    "mixing different kind of ops",
                )));
            }
            ops.push(op);
        }
        Ok((i, MultiRequest { ops }))
    }

    fn encoded_len(&self) -> usize {
        self.ops.iter().map(|op| 9 + op.body_len()).sum::<usize>() + 9
    }
}

/// One result of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    Create(CreateResponse),
    Create2(Create2Response),
    Delete,
    SetData(SetDataResponse),
    Check,
    GetChildren(GetChildrenResponse),
    GetData(GetDataResponse),
    /// An `ErrorResult` carrying a code (0 for ops before the failing one, -2 after it).
    Error(i32),
}

impl MultiResult {
    fn header(&self) -> MultiHeader {
        let (op, err) = match self {
            MultiResult::Create(_) => (OpCode::Create.as_i32(), 0),
            MultiResult::Create2(_) => (OpCode::Create2.as_i32(), 0),
            MultiResult::Delete => (OpCode::Delete.as_i32(), 0),
            MultiResult::SetData(_) => (OpCode::SetData.as_i32(), 0),
            MultiResult::Check => (OpCode::Check.as_i32(), 0),
            MultiResult::GetChildren(_) => (OpCode::GetChildren.as_i32(), 0),
            MultiResult::GetData(_) => (OpCode::GetData.as_i32(), 0),
            MultiResult::Error(code) => (-1, *code),
        };
        MultiHeader {
            op,
            done: false,
            err,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiResult::Create(r) => r.encoded_len(),
            MultiResult::Create2(r) => r.encoded_len(),
            MultiResult::Delete | MultiResult::Check => 0,
            MultiResult::SetData(r) => r.encoded_len(),
            MultiResult::GetChildren(r) => r.encoded_len(),
            MultiResult::GetData(r) => r.encoded_len(),
            MultiResult::Error(_) => 4,
        }
    }
}

/// `MultiResponse`: the body of the reply to multi and multiRead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<MultiResult>,
}

impl Jute for MultiResponse {
    fn encode(&self, out: &mut BytesMut) {
        for r in &self.results {
            r.header().encode(out);
            match r {
                MultiResult::Create(b) => b.encode(out),
                MultiResult::Create2(b) => b.encode(out),
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData(b) => b.encode(out),
                MultiResult::GetChildren(b) => b.encode(out),
                MultiResult::GetData(b) => b.encode(out),
                MultiResult::Error(code) => ErrorResponse { err: *code }.encode(out),
            }
        }
        TERMINATOR.encode(out);
    }

    fn decode<'a>(cx: &Cx<'a>, mut i: &'a [u8]) -> JResult<'a, Self> {
        let mut results = Vec::new();
        loop {
            let (rest, h) = MultiHeader::decode(cx, i)?;
            i = rest;
            if h.done {
                break;
            }
            let (rest, r) = match h.op {
                -1 => map(ErrorResponse::decode(cx, i), |e| MultiResult::Error(e.err))?,
                op => match OpCode::from_i32(op) {
                    Some(OpCode::Create) => {
                        map(CreateResponse::decode(cx, i), MultiResult::Create)?
                    }
                    Some(OpCode::Create2) => {
                        map(Create2Response::decode(cx, i), MultiResult::Create2)?
                    }
                    Some(OpCode::Delete) => (i, MultiResult::Delete),
                    Some(OpCode::SetData) => {
                        map(SetDataResponse::decode(cx, i), MultiResult::SetData)?
                    }
                    Some(OpCode::Check) => (i, MultiResult::Check),
                    Some(OpCode::GetChildren) => {
                        map(GetChildrenResponse::decode(cx, i), MultiResult::GetChildren)?
                    }
                    Some(OpCode::GetData) => {
                        map(GetDataResponse::decode(cx, i), MultiResult::GetData)?
                    }
                    _ => {
                        return Err(nom::Err::Failure(DecodeError::UnknownDiscriminant {
                            what: "multi result",
                            value: i64::from(op),
                        }));
                    }
                },
            };
            i = rest;
            results.push(r);
        }
        Ok((i, MultiResponse { results }))
    }

    fn encoded_len(&self) -> usize {
        self.results.iter().map(|r| 9 + r.body_len()).sum::<usize>() + 9
    }
}

#[cfg(test)]
mod arb_impls {
    use super::*;
    use crate::arb::Arb;
    use proptest::prelude::*;
    use proptest::strategy::BoxedStrategy;

    impl Arb for MultiOp {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateRequest::arb().prop_map(MultiOp::Create),
                CreateRequest::arb().prop_map(MultiOp::Create2),
                CreateRequest::arb().prop_map(MultiOp::CreateContainer),
                CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
                DeleteRequest::arb().prop_map(MultiOp::Delete),
                SetDataRequest::arb().prop_map(MultiOp::SetData),
                CheckVersionRequest::arb().prop_map(MultiOp::Check),
            ]
            .boxed()
        }
    }

    impl Arb for MultiRequest {
        fn arb() -> BoxedStrategy<Self> {
            let reads = proptest::collection::vec(
                prop_oneof![
                    GetChildrenRequest::arb().prop_map(MultiOp::GetChildren),
                    GetDataRequest::arb().prop_map(MultiOp::GetData),
                ],
                0..5,
            );
            let writes = proptest::collection::vec(MultiOp::arb(), 0..5);
            prop_oneof![reads, writes]
                .prop_map(|ops| MultiRequest { ops })
                .boxed()
        }
    }

    impl Arb for MultiResult {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateResponse::arb().prop_map(MultiResult::Create),
                Create2Response::arb().prop_map(MultiResult::Create2),
                Just(MultiResult::Delete),
                SetDataResponse::arb().prop_map(MultiResult::SetData),
                Just(MultiResult::Check),
                GetChildrenResponse::arb().prop_map(MultiResult::GetChildren),
                GetDataResponse::arb().prop_map(MultiResult::GetData),
                any::<i32>().prop_map(MultiResult::Error),
            ]
            .boxed()
        }
    }

    impl Arb for MultiResponse {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<MultiResult>::arb()
                .prop_map(|results| MultiResponse { results })
                .boxed()
        }
    }
}
