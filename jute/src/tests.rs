//! Unit tests of the codec: round-trip properties for every record, the worked examples of the
//! protocol reference, limits, and robustness against arbitrary and truncated input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use crate::arb::Arb;
use crate::*;

fn round_trip<T: Jute + Arb + PartialEq>(v: &T) -> Result<(), TestCaseError> {
    round_trip_with(v, true)
}

/// Connect records end in an optional byte, so a prefix one byte short is itself valid.
fn round_trip_optional_tail<T: Jute + Arb + PartialEq>(v: &T) -> Result<(), TestCaseError> {
    round_trip_with(v, false)
}

fn round_trip_with<T: Jute + Arb + PartialEq>(
    v: &T,
    last_byte_required: bool,
) -> Result<(), TestCaseError> {
    let bytes = v.to_bytes();
    prop_assert_eq!(bytes.len(), v.encoded_len());
    let back = T::from_bytes(&bytes, DEFAULT_MAX_BUFFER)
        .map_err(|e| TestCaseError::fail(format!("decode failed: {e}")))?;
    prop_assert_eq!(&back, v);
    // Every strict prefix must fail cleanly (never panic, never succeed as the full record).
    let last = if last_byte_required {
        bytes.len().saturating_sub(1)
    } else {
        bytes.len().saturating_sub(2)
    };
    for cut in [0, bytes.len() / 2, last] {
        if cut < bytes.len() {
            let prefix = bytes.slice(..cut);
            prop_assert!(T::from_bytes(&prefix, DEFAULT_MAX_BUFFER).is_err());
        }
    }
    Ok(())
}

macro_rules! round_trips {
    ($($name:ident: $ty:ty),+ $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $name(v in <$ty as Arb>::arb()) {
                    round_trip(&v)?;
                }
            )+
        }
    };
}

round_trips! {
    rt_id: Id, rt_acl: Acl, rt_stat: Stat, rt_stat_persisted: StatPersisted, rt_client_info: ClientInfo,
    rt_request_header: RequestHeader, rt_reply_header: ReplyHeader, rt_multi_header: MultiHeader,
    rt_auth_packet: AuthPacket, rt_set_watches: SetWatches, rt_set_watches2: SetWatches2,
    rt_create_request: CreateRequest, rt_create_ttl_request: CreateTtlRequest,
    rt_delete_request: DeleteRequest, rt_delete_container_request: DeleteContainerRequest,
    rt_exists_request: ExistsRequest, rt_get_data_request: GetDataRequest,
    rt_set_data_request: SetDataRequest, rt_get_acl_request: GetAclRequest,
    rt_set_acl_request: SetAclRequest, rt_get_children_request: GetChildrenRequest,
    rt_get_children2_request: GetChildren2Request,
    rt_get_all_children_number_request: GetAllChildrenNumberRequest,
    rt_sync_request: SyncRequest, rt_check_version_request: CheckVersionRequest,
    rt_reconfig_request: ReconfigRequest, rt_check_watches_request: CheckWatchesRequest,
    rt_remove_watches_request: RemoveWatchesRequest, rt_add_watch_request: AddWatchRequest,
    rt_get_ephemerals_request: GetEphemeralsRequest, rt_get_sasl_request: GetSaslRequest,
    rt_set_sasl_request: SetSaslRequest, rt_set_sasl_response: SetSaslResponse,
    rt_get_max_children_request: GetMaxChildrenRequest,
    rt_get_max_children_response: GetMaxChildrenResponse,
    rt_set_max_children_request: SetMaxChildrenRequest,
    rt_watcher_event: WatcherEvent, rt_error_response: ErrorResponse,
    rt_create_response: CreateResponse, rt_create2_response: Create2Response,
    rt_exists_response: ExistsResponse, rt_get_data_response: GetDataResponse,
    rt_set_data_response: SetDataResponse, rt_get_acl_response: GetAclResponse,
    rt_set_acl_response: SetAclResponse, rt_get_children_response: GetChildrenResponse,
    rt_get_children2_response: GetChildren2Response,
    rt_get_all_children_number_response: GetAllChildrenNumberResponse,
    rt_sync_response: SyncResponse, rt_get_ephemerals_response: GetEphemeralsResponse,
    rt_who_am_i_response: WhoAmIResponse,
    rt_multi_request: MultiRequest, rt_multi_response: MultiResponse,
    rt_txn_header: TxnHeader, rt_create_txn_v0: CreateTxnV0, rt_create_txn: CreateTxn,
    rt_create_ttl_txn: CreateTtlTxn, rt_create_container_txn: CreateContainerTxn,
    rt_delete_txn: DeleteTxn, rt_set_data_txn: SetDataTxn, rt_check_version_txn: CheckVersionTxn,
    rt_set_acl_txn: SetAclTxn, rt_set_max_children_txn: SetMaxChildrenTxn,
    rt_create_session_txn: CreateSessionTxn, rt_close_session_txn: CloseSessionTxn,
    rt_error_txn: ErrorTxn, rt_txn: Txn, rt_multi_txn: MultiTxn, rt_txn_digest: TxnDigest,
    rt_file_header: FileHeader, rt_data_node: DataNode,
    rt_quorum_packet: QuorumPacket, rt_learner_info: LearnerInfo,
    rt_quorum_auth_packet: QuorumAuthPacket,
}

proptest! {
    #[test]
    fn rt_connect_request(v in ConnectRequest::arb()) {
        round_trip_optional_tail(&v)?;
    }

    #[test]
    fn rt_connect_response(v in ConnectResponse::arb()) {
        round_trip_optional_tail(&v)?;
    }
}

fn arb_request() -> BoxedStrategy<Request> {
    prop_oneof![
        CreateRequest::arb().prop_map(Request::Create),
        DeleteRequest::arb().prop_map(Request::Delete),
        ExistsRequest::arb().prop_map(Request::Exists),
        GetDataRequest::arb().prop_map(Request::GetData),
        SetDataRequest::arb().prop_map(Request::SetData),
        GetAclRequest::arb().prop_map(Request::GetAcl),
        SetAclRequest::arb().prop_map(Request::SetAcl),
        GetChildrenRequest::arb().prop_map(Request::GetChildren),
        SyncRequest::arb().prop_map(Request::Sync),
        Just(Request::Ping),
        GetChildren2Request::arb().prop_map(Request::GetChildren2),
        CheckVersionRequest::arb().prop_map(Request::Check),
        MultiRequest::arb()
            .prop_filter("writes", |m| m.ops.iter().all(|o| !o.is_read()))
            .prop_map(Request::Multi),
        CreateRequest::arb().prop_map(Request::Create2),
        ReconfigRequest::arb().prop_map(Request::Reconfig),
        CheckWatchesRequest::arb().prop_map(Request::CheckWatches),
        RemoveWatchesRequest::arb().prop_map(Request::RemoveWatches),
        CreateRequest::arb().prop_map(Request::CreateContainer),
        DeleteContainerRequest::arb().prop_map(Request::DeleteContainer),
        CreateTtlRequest::arb().prop_map(Request::CreateTtl),
        MultiRequest::arb()
            .prop_filter("reads", |m| m.ops.iter().all(MultiOp::is_read))
            .prop_map(Request::MultiRead),
        AuthPacket::arb().prop_map(Request::Auth),
        SetWatches::arb().prop_map(Request::SetWatches),
        GetSaslRequest::arb().prop_map(Request::Sasl),
        GetEphemeralsRequest::arb().prop_map(Request::GetEphemerals),
        GetAllChildrenNumberRequest::arb().prop_map(Request::GetAllChildrenNumber),
        SetWatches2::arb().prop_map(Request::SetWatches2),
        AddWatchRequest::arb().prop_map(Request::AddWatch),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
    .boxed()
}

fn arb_response() -> BoxedStrategy<(OpCode, Response)> {
    prop_oneof![
        Just((OpCode::Delete, Response::Empty)),
        CreateResponse::arb().prop_map(|r| (OpCode::Create, Response::Create(r))),
        Create2Response::arb().prop_map(|r| (OpCode::Create2, Response::Create2(r))),
        Create2Response::arb().prop_map(|r| (OpCode::CreateTtl, Response::Create2(r))),
        ExistsResponse::arb().prop_map(|r| (OpCode::Exists, Response::Exists(r))),
        GetDataResponse::arb().prop_map(|r| (OpCode::GetData, Response::GetData(r))),
        GetDataResponse::arb().prop_map(|r| (OpCode::Reconfig, Response::GetData(r))),
        SetDataResponse::arb().prop_map(|r| (OpCode::SetData, Response::SetData(r))),
        GetAclResponse::arb().prop_map(|r| (OpCode::GetAcl, Response::GetAcl(r))),
        SetAclResponse::arb().prop_map(|r| (OpCode::SetAcl, Response::SetAcl(r))),
        GetChildrenResponse::arb().prop_map(|r| (OpCode::GetChildren, Response::GetChildren(r))),
        GetChildren2Response::arb().prop_map(|r| (OpCode::GetChildren2, Response::GetChildren2(r))),
        SyncResponse::arb().prop_map(|r| (OpCode::Sync, Response::Sync(r))),
        MultiResponse::arb().prop_map(|r| (OpCode::Multi, Response::Multi(r))),
        SetSaslResponse::arb().prop_map(|r| (OpCode::Sasl, Response::Sasl(r))),
        GetEphemeralsResponse::arb()
            .prop_map(|r| (OpCode::GetEphemerals, Response::GetEphemerals(r))),
        GetAllChildrenNumberResponse::arb().prop_map(|r| (
            OpCode::GetAllChildrenNumber,
            Response::GetAllChildrenNumber(r)
        )),
        ErrorResponse::arb().prop_map(|r| (OpCode::AddWatch, Response::AddWatch(r))),
        WhoAmIResponse::arb().prop_map(|r| (OpCode::WhoAmI, Response::WhoAmI(r))),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_frames_round_trip(req in arb_request(), xid in any::<i32>()) {
        let mut out = BytesMut::new();
        req.encode_frame(xid, &mut out);
        prop_assert_eq!(out.len(), 8 + req.body_len());
        let frame = out.freeze();
        let (h, back) = Request::decode_frame(&frame, DEFAULT_MAX_BUFFER)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(h.op, req.op_code().as_i32());
        prop_assert_eq!(back, req);
    }

    #[test]
    fn responses_round_trip((op, resp) in arb_response()) {
        let mut out = BytesMut::new();
        resp.encode_body(&mut out);
        prop_assert_eq!(out.len(), resp.body_len());
        let frame = out.freeze();
        let cx = Cx::new(&frame, DEFAULT_MAX_BUFFER);
        let (rest, back) = Response::decode_body(op, &cx, &frame).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert!(rest.is_empty());
        prop_assert_eq!(back, resp);
    }

    /// Arbitrary bytes never panic any decoder; every result is either a value or a typed error.
    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..256), op in any::<i32>()) {
        let frame = Bytes::from(raw);
        let _ = Request::decode_frame(&frame, DEFAULT_MAX_BUFFER);
        let cx = Cx::new(&frame, DEFAULT_MAX_BUFFER);
        if let Some(op) = OpCode::from_i32(op) {
            let _ = Response::decode_body(op, &cx, &frame);
            let _ = Request::decode_body(op, &cx, &frame);
        }
        let _ = ConnectRequest::from_bytes(&frame, DEFAULT_MAX_BUFFER);
        let _ = ConnectResponse::from_bytes(&frame, DEFAULT_MAX_BUFFER);
        let _ = MultiRequest::from_bytes(&frame, DEFAULT_MAX_BUFFER);
        let _ = MultiResponse::from_bytes(&frame, DEFAULT_MAX_BUFFER);
        let _ = QuorumPacket::from_bytes(&frame, DEFAULT_MAX_BUFFER);
        let _ = MultiTxn::from_bytes(&frame, DEFAULT_MAX_BUFFER);
        let mut codec = FrameCodec::new(64);
        let mut buf = BytesMut::from(&frame[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
    }

    /// Any valid request frame cut short is rejected with an error, not a panic.
    #[test]
    fn truncated_requests_fail(req in arb_request(), cut in any::<prop::sample::Index>()) {
        let mut out = BytesMut::new();
        req.encode_frame(7, &mut out);
        let full = out.freeze();
        let n = cut.index(full.len());
        let _ = Request::decode_frame(&full.slice(..n), DEFAULT_MAX_BUFFER);
    }
}

#[test]
fn create_request_matches_reference_bytes() {
    // zookeeper-protocol.md §4: CreateRequest("/t", "", OPEN_ACL_UNSAFE, 0).
    let hex = "000000022f74000000000000000100\
               00001f00000005776f726c6400000006616e796f6e6500000000";
    let bytes = Bytes::from(hex_decode(hex));
    let req = CreateRequest {
        path: "/t".into(),
        data: Some(Bytes::new()),
        acl: Some(Acl::open_unsafe()),
        flags: 0,
    };
    assert_eq!(req.to_bytes(), bytes);
    assert_eq!(
        CreateRequest::from_bytes(&bytes, DEFAULT_MAX_BUFFER).unwrap(),
        req
    );
}

#[test]
fn connect_request_and_response_match_reference_bytes() {
    // §1.2: a new-session request (45 bytes) and a live ConnectResponse (37 bytes).
    let req_hex = format!(
        "00000000{}00002710{}00000010{}00",
        "0".repeat(16),
        "0".repeat(16),
        "00".repeat(16)
    );
    let req_bytes = Bytes::from(hex_decode(&req_hex));
    assert_eq!(req_bytes.len(), 45);
    let req = ConnectRequest::from_bytes(&req_bytes, DEFAULT_MAX_BUFFER).unwrap();
    assert_eq!(req.time_out, 10000);
    assert_eq!(req.read_only, Some(false));
    assert_eq!(req.to_bytes(), req_bytes);

    let old = req_bytes.slice(..44);
    let old_req = ConnectRequest::from_bytes(&old, DEFAULT_MAX_BUFFER).unwrap();
    assert_eq!(
        old_req.read_only, None,
        "an old client omits the readOnly byte"
    );
    assert_eq!(old_req.to_bytes(), old);

    let resp_hex = "0000000000000fa00100000705a0000000000010d205f6a2f75728b2002aea0b982a12c200";
    let resp_bytes = Bytes::from(hex_decode(resp_hex));
    let resp = ConnectResponse::from_bytes(&resp_bytes, DEFAULT_MAX_BUFFER).unwrap();
    assert_eq!(resp.time_out, 4000);
    assert_eq!(resp.session_id, 0x0100_0007_05a0_0000);
    assert_eq!(resp.passwd.len(), 16);
    assert_eq!(resp.read_only, Some(false));
    assert_eq!(resp.to_bytes(), resp_bytes);
}

#[test]
fn failed_multi_reply_matches_reference_layout() {
    // §9.3: [create ok, check bad version, create, delete] failed at the check.
    let resp = MultiResponse {
        results: vec![
            MultiResult::Error(0),
            MultiResult::Error(ErrorCode::BadVersion.as_i32()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.as_i32()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.as_i32()),
        ],
    };
    let b = resp.to_bytes();
    let expect = "ffffffff000000000000000000\
                  ffffffff00ffffff99ffffff99\
                  ffffffff00fffffffefffffffe\
                  ffffffff00fffffffefffffffe\
                  ffffffff01ffffffff";
    assert_eq!(hex_encode(&b), expect.replace(char::is_whitespace, ""));
}

#[test]
fn buffers_decode_as_slices_of_the_frame() {
    let req = SetDataRequest {
        path: "/a".into(),
        data: Some(Bytes::from_static(b"hello")),
        version: -1,
    };
    let frame = req.to_bytes();
    let back = SetDataRequest::from_bytes(&frame, DEFAULT_MAX_BUFFER).unwrap();
    let data = back.data.unwrap();
    let base = frame.as_ptr() as usize;
    let p = data.as_ptr() as usize;
    assert!(
        p >= base && p + data.len() <= base + frame.len(),
        "data must point into the frame"
    );
    let path_ptr = back.path.as_bytes().as_ptr() as usize;
    assert!(
        path_ptr >= base && path_ptr < base + frame.len(),
        "path must point into the frame"
    );
}

#[test]
fn nulls_are_preserved() {
    let req = CreateRequest {
        path: "/n".into(),
        data: None,
        acl: None,
        flags: 0,
    };
    let b = req.to_bytes();
    assert_eq!(hex_encode(&b), "000000022f6effffffffffffffff00000000");
    assert_eq!(
        CreateRequest::from_bytes(&b, DEFAULT_MAX_BUFFER).unwrap(),
        req
    );
}

#[test]
fn typed_errors() {
    let max = DEFAULT_MAX_BUFFER;
    // Negative length other than -1.
    let b = Bytes::from(hex_decode("fffffffe"));
    assert_eq!(
        SyncRequest::from_bytes(&b, max),
        Err(DecodeError::NegativeLength(-2))
    );
    // Null where a value is required.
    let b = Bytes::from(hex_decode("ffffffff"));
    assert_eq!(
        SyncRequest::from_bytes(&b, max),
        Err(DecodeError::UnexpectedNull("ustring"))
    );
    // Over the limit.
    let b = Bytes::from(hex_decode("00001000"));
    assert_eq!(
        SyncRequest::from_bytes(&b, 16),
        Err(DecodeError::OverLimit {
            len: 4096,
            limit: 16
        })
    );
    // Truncated: claims 4 bytes, has 2.
    let b = Bytes::from(hex_decode("000000042f61"));
    assert_eq!(
        SyncRequest::from_bytes(&b, max),
        Err(DecodeError::Truncated)
    );
    // Invalid UTF-8.
    let b = Bytes::from(hex_decode("00000002c328"));
    assert_eq!(
        SyncRequest::from_bytes(&b, max),
        Err(DecodeError::InvalidUtf8)
    );
    // A huge vector count with no elements behind it fails without reserving memory for it.
    let b = Bytes::from(hex_decode("000000000000000000fffff0"));
    assert_eq!(
        SetWatches::from_bytes(&b, usize::MAX),
        Err(DecodeError::Truncated)
    );
    // Trailing bytes.
    let b = Bytes::from(hex_decode("000000012f00"));
    assert_eq!(
        SyncRequest::from_bytes(&b, max),
        Err(DecodeError::TrailingBytes(1))
    );
    // Unknown opcode keeps the xid for the UNIMPLEMENTED reply.
    let b = Bytes::from(hex_decode("0000000700000063"));
    assert_eq!(
        Request::decode_frame(&b, max),
        Err(RequestError::UnknownOpCode { xid: 7, op: 99 })
    );
    // Unknown multi operation.
    let b = Bytes::from(hex_decode("000000050000000e0000006300ffffffff"));
    assert!(matches!(
        Request::decode_frame(&b, max),
        Err(RequestError::Body {
            xid: 5,
            op: OpCode::Multi,
            source: DecodeError::UnknownDiscriminant { .. }
        })
    ));
}

#[test]
fn mixing_reads_and_writes_in_a_multi_is_refused() {
    let m = MultiRequest {
        ops: vec![
            MultiOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: -1,
            }),
            MultiOp::GetData(GetDataRequest {
                path: "/a".into(),
                watch: false,
            }),
        ],
    };
    let b = m.to_bytes();
    assert_eq!(
        MultiRequest::from_bytes(&b, DEFAULT_MAX_BUFFER),
        Err(DecodeError::Invalid("mixing different kind of ops"))
    );
}

#[test]
fn frame_codec_splits_and_limits() {
    let mut codec = FrameCodec::new(8);
    let mut buf = BytesMut::new();
    codec.encode(Bytes::from_static(b"abc"), &mut buf).unwrap();
    codec.encode(Bytes::from_static(b""), &mut buf).unwrap();
    assert_eq!(&buf[..], b"\0\0\0\x03abc\0\0\0\0");
    let mut partial = BytesMut::from(&buf[..5]);
    assert!(codec.decode(&mut partial).unwrap().is_none());
    assert_eq!(
        codec.decode(&mut buf).unwrap().unwrap(),
        Bytes::from_static(b"abc")
    );
    assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), Bytes::new());
    assert!(codec.decode(&mut buf).unwrap().is_none());

    // Over-size frames are refused from the header alone, before any payload is buffered.
    let mut big = BytesMut::from(&[0u8, 0, 0, 9][..]);
    assert!(matches!(
        codec.decode(&mut big),
        Err(FrameError::TooLarge { len: 9, max: 8 })
    ));
    let mut neg = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
    assert!(matches!(
        codec.decode(&mut neg),
        Err(FrameError::Negative(-1))
    ));
    assert_eq!(FrameCodec::default().max_frame(), 0xfffff);
}

#[test]
fn constants_have_zookeeper_names() {
    assert_eq!(ErrorCode::try_from(-101).unwrap().name(), "NONODE");
    assert_eq!(ErrorCode::NotEmpty.message(), "Directory not empty");
    assert_eq!(ErrorCode::UnknownSession.message(), "Unknown error -12");
    assert!(ErrorCode::try_from(-9).is_err());
    assert_eq!(OpCode::try_from(106).unwrap(), OpCode::AddWatch);
    assert_eq!(OpCode::CreateTtl.name(), "createTTL");
    assert!(OpCode::try_from(10).is_err());
    assert_eq!(
        CreateMode::try_from(6).unwrap(),
        CreateMode::PersistentSequentialWithTtl
    );
    assert!(CreateMode::try_from(7).is_err());
    assert!(
        CreateMode::EphemeralSequential.is_ephemeral()
            && CreateMode::EphemeralSequential.is_sequential()
    );
    assert_eq!(
        EventType::try_from(4).unwrap(),
        EventType::NodeChildrenChanged
    );
    assert_eq!(KeeperState::try_from(-112).unwrap(), KeeperState::Expired);
    assert_eq!(
        WatcherType::try_from(5).unwrap(),
        WatcherType::PersistentRecursive
    );
    assert_eq!(
        AddWatchMode::try_from(1).unwrap(),
        AddWatchMode::PersistentRecursive
    );
    assert_eq!((Perms::READ | Perms::WRITE).0, 3);
    assert!(Perms::ALL.contains(Perms::ADMIN));
    assert_eq!(xid::SET_WATCHES, -8);
}

fn hex_decode(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
