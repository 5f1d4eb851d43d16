//! Codec micro-benchmarks: the GetData hot path (decode the request frame, encode a reply with
//! 100 bytes of data) and a 10-operation multi, both directions.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use zoolog_jute::{
    Acl, CreateRequest, DEFAULT_MAX_BUFFER, DeleteRequest, GetDataRequest, GetDataResponse, Jute,
    MultiOp, MultiRequest, ReplyHeader, Request, Response, SetDataRequest, Stat,
};

fn get_data_frame() -> Bytes {
    let mut out = BytesMut::new();
    Request::GetData(GetDataRequest {
        path: "/app/config/node-0001".into(),
        watch: true,
    })
    .encode_frame(42, &mut out);
    out.freeze()
}

fn multi_of_10() -> MultiRequest {
    let mut ops = Vec::new();
    for i in 0..10 {
        ops.push(match i % 3 {
            0 => MultiOp::Create(CreateRequest {
                path: format!("/bench/multi/n{i}").into(),
                data: Some(Bytes::from(vec![7u8; 100])),
                acl: Some(Acl::open_unsafe()),
                flags: 0,
            }),
            1 => MultiOp::SetData(SetDataRequest {
                path: format!("/bench/multi/n{i}").into(),
                data: Some(Bytes::from(vec![9u8; 100])),
                version: -1,
            }),
            _ => MultiOp::Delete(DeleteRequest {
                path: format!("/bench/multi/n{i}").into(),
                version: -1,
            }),
        });
    }
    MultiRequest { ops }
}

fn bench(c: &mut Criterion) {
    let frame = get_data_frame();
    c.bench_function("decode GetDataRequest frame", |b| {
        b.iter(|| Request::decode_frame(black_box(&frame), DEFAULT_MAX_BUFFER))
    });

    let resp = Response::GetData(GetDataResponse {
        data: Some(Bytes::from(vec![1u8; 100])),
        stat: Stat {
            czxid: 5,
            mzxid: 6,
            version: 1,
            data_length: 100,
            ..Stat::default()
        },
    });
    let header = ReplyHeader {
        xid: 42,
        zxid: 6,
        err: 0,
    };
    let mut out = BytesMut::with_capacity(64 * 1024);
    c.bench_function("encode GetDataResponse 100B", |b| {
        b.iter(|| {
            out.clear();
            zoolog_jute::write_frame(&mut out, |o| black_box(&resp).encode_frame(&header, o));
            black_box(out.len())
        })
    });

    let multi = multi_of_10();
    let multi_bytes = multi.to_bytes();
    c.bench_function("encode multi of 10", |b| {
        b.iter(|| {
            out.clear();
            black_box(&multi).encode(&mut out);
            black_box(out.len())
        })
    });
    c.bench_function("decode multi of 10", |b| {
        b.iter(|| MultiRequest::from_bytes(black_box(&multi_bytes), DEFAULT_MAX_BUFFER))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
