//! Golden bytes from the real thing: every frame recorded between Apache ZooKeeper 3.8 and real
//! clients (Java, kazoo, the C client; see `fixtures/README.md`) must decode with zoolog-jute and
//! re-encode to identical bytes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use zoolog_jute::{
    ConnectRequest, ConnectResponse, Cx, DEFAULT_MAX_BUFFER, Jute, OpCode, ReplyHeader, Request,
    Response, WatcherEvent, xid,
};

#[derive(Debug)]
enum Dir {
    Client,
    Server,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(path: &Path) -> Vec<(usize, Dir, Bytes)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut frames = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (dir, hex) = line.split_once(' ').unwrap_or((line, ""));
        let dir = match dir {
            "C" => Dir::Client,
            "S" => Dir::Server,
            other => panic!("{}:{}: bad direction {other:?}", path.display(), n + 1),
        };
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>();
        frames.push((n + 1, dir, Bytes::from(bytes)));
    }
    frames
}

/// What one fixture file exercised.
#[derive(Default)]
struct Seen {
    request_ops: BTreeSet<i32>,
    reply_ops: BTreeSet<i32>,
    errors: BTreeSet<i32>,
    events: BTreeSet<i32>,
    frames: usize,
}

fn check_file(path: &Path, seen: &mut Seen) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut connected = (false, false);
    // Requests awaiting replies, in order, as (xid, opcode).
    let mut pending: VecDeque<(i32, OpCode)> = VecDeque::new();
    for (line, dir, frame) in load(path) {
        let at = format!("{name}:{line}");
        seen.frames += 1;
        match dir {
            Dir::Client if !connected.0 => {
                connected.0 = true;
                let req = ConnectRequest::from_bytes(&frame, DEFAULT_MAX_BUFFER)
                    .unwrap_or_else(|e| panic!("{at}: ConnectRequest: {e}"));
                assert_eq!(req.to_bytes(), frame, "{at}: ConnectRequest re-encode");
            }
            Dir::Server if !connected.1 => {
                connected.1 = true;
                let resp = ConnectResponse::from_bytes(&frame, DEFAULT_MAX_BUFFER)
                    .unwrap_or_else(|e| panic!("{at}: ConnectResponse: {e}"));
                assert_eq!(resp.to_bytes(), frame, "{at}: ConnectResponse re-encode");
            }
            Dir::Client => {
                let (header, req) = Request::decode_frame(&frame, DEFAULT_MAX_BUFFER)
                    .unwrap_or_else(|e| panic!("{at}: request: {e}"));
                let mut out = BytesMut::new();
                req.encode_frame(header.xid, &mut out);
                assert_eq!(out.freeze(), frame, "{at}: {:?} re-encode", req.op_code());
                seen.request_ops.insert(header.op);
                pending.push_back((header.xid, req.op_code()));
            }
            Dir::Server => {
                let cx = Cx::new(&frame, DEFAULT_MAX_BUFFER);
                let (rest, header) = ReplyHeader::decode(&cx, &frame)
                    .unwrap_or_else(|e| panic!("{at}: ReplyHeader: {e:?}"));
                let mut out = BytesMut::new();
                header.encode(&mut out);
                if header.xid == xid::NOTIFICATION {
                    let (tail, ev) = WatcherEvent::decode(&cx, rest)
                        .unwrap_or_else(|e| panic!("{at}: WatcherEvent: {e:?}"));
                    assert!(tail.is_empty(), "{at}: bytes after WatcherEvent");
                    seen.events.insert(ev.event_type);
                    ev.encode(&mut out);
                    assert_eq!(out.freeze(), frame, "{at}: notification re-encode");
                    continue;
                }
                let Some(idx) = pending.iter().position(|(x, _)| *x == header.xid) else {
                    panic!("{at}: reply xid {} matches no pending request", header.xid)
                };
                let (_, op) = pending.remove(idx).unwrap_or((0, OpCode::Ping));
                seen.reply_ops.insert(op.as_i32());
                if header.err != 0 {
                    seen.errors.insert(header.err);
                }
                if header.err == 0 || !rest.is_empty() {
                    let (tail, resp) = Response::decode_body(op, &cx, rest)
                        .unwrap_or_else(|e| panic!("{at}: {op} response: {e:?}"));
                    assert!(
                        tail.is_empty(),
                        "{at}: {} bytes after {op} response",
                        tail.len()
                    );
                    resp.encode_body(&mut out);
                }
                assert_eq!(out.freeze(), frame, "{at}: {op} reply re-encode");
            }
        }
    }
}

fn all_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "frames"))
        .collect();
    files.sort();
    files
}

#[test]
fn fixtures_decode_and_reencode_byte_identically() {
    let files = all_fixtures();
    assert!(
        !files.is_empty(),
        "no fixtures under {}",
        fixtures_dir().display()
    );
    let mut per_client: BTreeMap<String, Seen> = BTreeMap::new();
    for f in &files {
        let client = f
            .file_name()
            .unwrap()
            .to_string_lossy()
            .split('-')
            .next()
            .unwrap()
            .to_string();
        check_file(f, per_client.entry(client).or_default());
    }
    let mut all_ops = BTreeSet::new();
    for (client, seen) in &per_client {
        eprintln!(
            "{client}: {} frames, request ops {:?}, errors {:?}, events {:?}",
            seen.frames, seen.request_ops, seen.errors, seen.events
        );
        all_ops.extend(seen.request_ops.iter().copied());
    }
    // Every opcode a real client can be made to send must be in the fixtures.
    use OpCode::*;
    let required = [
        Create,
        Delete,
        Exists,
        GetData,
        SetData,
        GetAcl,
        SetAcl,
        GetChildren,
        Sync,
        Ping,
        GetChildren2,
        Multi,
        Create2,
        Reconfig,
        CheckWatches,
        RemoveWatches,
        CreateContainer,
        CreateTtl,
        MultiRead,
        Auth,
        SetWatches,
        GetEphemerals,
        GetAllChildrenNumber,
        SetWatches2,
        AddWatch,
        WhoAmI,
        CloseSession,
    ];
    let missing: Vec<OpCode> = required
        .iter()
        .copied()
        .filter(|op| !all_ops.contains(&op.as_i32()))
        .collect();
    assert!(missing.is_empty(), "fixtures lack opcodes {missing:?}");
    for client in ["java", "kazoo", "c"] {
        assert!(
            per_client.contains_key(client),
            "no fixtures from the {client} client"
        );
    }
}
