//! The GetData path allocates nothing beyond the reply buffer: decoding the request borrows the
//! frame, and encoding the reply writes into a buffer the connection already holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;
use zoolog_jute::{
    DEFAULT_MAX_BUFFER, FrameCodec, GetDataRequest, GetDataResponse, ReplyHeader, Request,
    Response, Stat, write_frame,
};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn get_data_path_does_not_allocate() {
    // 100 pipelined getData frames arrive in one read buffer, as from a socket.
    let mut wire = BytesMut::new();
    for xid in 1..=100 {
        write_frame(&mut wire, |o| {
            Request::GetData(GetDataRequest {
                path: "/app/config/node".into(),
                watch: false,
            })
            .encode_frame(xid, o)
        });
    }
    let data = Bytes::from(vec![5u8; 100]);
    let mut codec = FrameCodec::default();
    let mut out = BytesMut::with_capacity(64 * 1024);
    // The first split promotes the read buffer to shared storage (one allocation per buffer).
    let first = codec.decode(&mut wire).unwrap().unwrap();
    drop(first);
    // Likewise the first clone of the stored value promotes it to shared storage.
    drop(data.clone());

    let before = ALLOCS.load(Ordering::Relaxed);
    let mut replies = 0;
    while let Some(frame) = codec.decode(&mut wire).unwrap() {
        let (header, req) = Request::decode_frame(&frame, DEFAULT_MAX_BUFFER).unwrap();
        let Request::GetData(get) = req else {
            panic!("not a getData")
        };
        assert_eq!(&*get.path, "/app/config/node");
        let resp = Response::GetData(GetDataResponse {
            data: Some(data.clone()),
            stat: Stat {
                data_length: 100,
                ..Stat::default()
            },
        });
        let reply = ReplyHeader {
            xid: header.xid,
            zxid: 9,
            err: 0,
        };
        write_frame(&mut out, |o| resp.encode_frame(&reply, o));
        replies += 1;
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(replies, 99);
    assert_eq!(after - before, 0, "decode + encode of getData allocated");
}
