//! Fuzzes the server's decoding path: the frame codec splitting a byte stream, then the
//! ConnectRequest (first frame) and request decoding of every later frame, plus a re-encode check.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use zoolog_jute::{ConnectRequest, FrameCodec, Jute, Request};

fuzz_target!(|data: &[u8]| {
    let mut codec = FrameCodec::new(4096);
    let mut buf = BytesMut::from(data);
    let mut first = true;
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        if first {
            first = false;
            let _ = ConnectRequest::from_bytes(&frame, 4096);
            continue;
        }
        if let Ok((header, req)) = Request::decode_frame(&frame, 4096) {
            // Whatever decodes must re-encode and decode to the same value.
            let mut out = BytesMut::new();
            req.encode_frame(header.xid, &mut out);
            let again: Bytes = out.freeze();
            let (_, back) = Request::decode_frame(&again, 4096).expect("re-encoded request decodes");
            assert_eq!(back, req);
        }
    }
});
