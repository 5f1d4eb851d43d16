//! A raw, synchronous ZooKeeper client connection: length-prefixed frames over a TCP socket, with
//! deadlines. Encoding and decoding of records is `zoolog-jute`'s.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zoolog_jute::{ConnectRequest, DEFAULT_MAX_BUFFER, Jute, ReplyHeader, Request, write_frame};

/// Why no frame came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing (complete) arrived before the deadline.
    Timeout,
    /// The server closed the connection (EOF or reset).
    Closed,
    /// The length prefix was negative or over the limit.
    BadLength(i32),
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            closed: false,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes raw bytes (already framed).
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        if self.closed {
            return Err(ReadError::Closed);
        }
        match self.stream.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.closed = true;
                Err(ReadError::Closed)
            }
        }
    }

    /// Writes one frame with `payload`.
    pub fn send_payload(&mut self, payload: &[u8]) -> Result<(), ReadError> {
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| o.extend_from_slice(payload));
        self.write_raw(&out)
    }

    /// Reads the next frame's payload, waiting until `deadline`.
    pub fn read_frame(&mut self, deadline: Instant) -> Result<Bytes, ReadError> {
        loop {
            if self.buf.len() >= 4 {
                let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                if len < 0 || len as usize > DEFAULT_MAX_BUFFER + 1024 {
                    self.closed = true;
                    return Err(ReadError::BadLength(len));
                }
                let len = len as usize;
                if self.buf.len() >= 4 + len {
                    let frame = Bytes::copy_from_slice(&self.buf[4..4 + len]);
                    self.buf.drain(..4 + len);
                    return Ok(frame);
                }
            }
            if self.closed {
                return Err(ReadError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReadError::Timeout);
            }
            let wait = (deadline - now).max(Duration::from_millis(1));
            let _ = self.stream.set_read_timeout(Some(wait));
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.closed = true;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                }
            }
        }
    }

    /// Whether the server has closed the connection, waiting up to `wait` for the EOF. Frames
    /// that arrive meanwhile are returned.
    pub fn wait_closed(&mut self, wait: Duration) -> (bool, Vec<Bytes>) {
        let deadline = Instant::now() + wait;
        let mut frames = Vec::new();
        loop {
            match self.read_frame(deadline) {
                Ok(f) => frames.push(f),
                Err(ReadError::Timeout) => return (false, frames),
                Err(_) => return (true, frames),
            }
        }
    }

    /// Shuts the socket down (no closeSession).
    pub fn shutdown(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        self.closed = true;
    }
}

/// The payload of a request frame: RequestHeader(xid, op) + body.
pub fn request_payload(xid: i32, req: &Request) -> Bytes {
    let mut out = BytesMut::new();
    req.encode_frame(xid, &mut out);
    out.freeze()
}

/// The payload of a frame with an arbitrary opcode and raw body.
pub fn raw_payload(xid: i32, op: i32, body: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    xid.encode(&mut out);
    op.encode(&mut out);
    out.extend_from_slice(body);
    out.freeze()
}

/// The payload of a ConnectRequest.
pub fn connect_payload(req: &ConnectRequest) -> Bytes {
    req.to_bytes()
}

/// Splits a reply frame into its header and the rest.
pub fn split_reply(frame: &Bytes) -> Option<(ReplyHeader, Bytes)> {
    if frame.len() < 16 {
        return None;
    }
    let cx = zoolog_jute::Cx::new(frame, DEFAULT_MAX_BUFFER);
    let (rest, h) = ReplyHeader::decode(&cx, frame).ok()?;
    let off = frame.len() - rest.len();
    Some((h, frame.slice(off..)))
}
