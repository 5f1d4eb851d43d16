//! A minimal ZooKeeper client connection for load generation: the handshake, then requests queued
//! back to back on one TCP connection (pipelining) with replies matched in order, watch
//! notifications surfaced as events, and pings when the connection would otherwise sit idle.
//!
//! One task drives one [`Conn`]: [`Conn::queue`] appends an encoded request to the write buffer,
//! [`Conn::next_event`] writes whatever is buffered while it waits for the next frame, so a burst
//! of replies read in one go is answered by one write of the requests they make room for.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zoolog_jute::{
    ConnectRequest, ConnectResponse, Cx, ErrorCode, Jute, OpCode, ReplyHeader, Request, Response,
    WatcherEvent, write_frame, xid,
};

/// Largest frame accepted from the server (requests are bounded by the server's jute.maxbuffer;
/// replies such as getChildren of a wide directory can be larger, as ZooKeeper allows).
const MAX_REPLY: usize = 64 << 20;

/// A request on the wire whose reply has not arrived yet.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    pub xid: i32,
    pub op: OpCode,
    pub sent: Instant,
}

/// One reply: the request it answers, its header, and the frame holding the body.
#[derive(Debug)]
pub struct Reply {
    pub pending: Pending,
    pub header: ReplyHeader,
    pub received: Instant,
    frame: Bytes,
    body_at: usize,
}

impl Reply {
    /// The server's result code.
    pub fn err(&self) -> i32 {
        self.header.err
    }

    /// The reply record (only meaningful when `err() == 0`).
    pub fn decode(&self) -> Result<Response, String> {
        let cx = Cx::new(&self.frame, MAX_REPLY);
        Response::decode_body(self.pending.op, &cx, &self.frame[self.body_at..])
            .map(|(_, r)| r)
            .map_err(|e| format!("undecodable {} reply: {e:?}", self.pending.op.name()))
    }

    /// Ok, or a readable error naming the code.
    pub fn ok(&self) -> Result<(), String> {
        if self.header.err == 0 {
            Ok(())
        } else {
            Err(format!(
                "{} failed: {}",
                self.pending.op.name(),
                error_name(self.header.err)
            ))
        }
    }
}

/// `NONODE (-101)`-style name of a result code.
pub fn error_name(code: i32) -> String {
    match ErrorCode::from_i32(code) {
        Some(c) => format!("{} ({code})", c.name()),
        None => format!("error {code}"),
    }
}

/// What the connection produced.
#[derive(Debug)]
pub enum Event {
    Reply(Reply),
    Watch(WatcherEvent),
}

/// One ZooKeeper session on one TCP connection.
pub struct Conn {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    pending: VecDeque<Pending>,
    next_xid: i32,
    pub session_id: i64,
    pub timeout_ms: i32,
    ping_every: Duration,
    pings_out: usize,
    /// Notifications that arrived while [`Conn::call`] waited for its reply.
    pub buffered_watches: VecDeque<WatcherEvent>,
}

impl Conn {
    /// Connects and completes the handshake for a new session.
    pub async fn connect(addr: SocketAddr, timeout_ms: i32) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            wbuf: BytesMut::with_capacity(64 * 1024),
            pending: VecDeque::new(),
            next_xid: 1,
            session_id: 0,
            timeout_ms: 0,
            ping_every: Duration::from_secs(1),
            pings_out: 0,
            buffered_watches: VecDeque::new(),
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: timeout_ms,
            session_id: 0,
            passwd: Bytes::from_static(&[0u8; 16]),
            read_only: Some(false),
        };
        write_frame(&mut conn.wbuf, |out| req.encode(out));
        conn.stream.write_all(&conn.wbuf).await?;
        conn.wbuf.clear();
        let frame = conn.read_frame().await?;
        let cx = Cx::new(&frame, MAX_REPLY);
        let (_, resp) = ConnectResponse::decode(&cx, &frame)
            .map_err(|e| invalid(format!("bad ConnectResponse: {e:?}")))?;
        if resp.session_id == 0 || resp.time_out <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "server refused the session",
            ));
        }
        conn.session_id = resp.session_id;
        conn.timeout_ms = resp.time_out;
        conn.ping_every = Duration::from_millis((resp.time_out as u64 / 3).max(100));
        Ok(conn)
    }

    /// Requests sent (or buffered) whose replies have not arrived.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Encodes `req` into the write buffer; it goes out on the next [`Conn::next_event`].
    pub fn queue(&mut self, req: &Request) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        write_frame(&mut self.wbuf, |out| req.encode_frame(x, out));
        self.pending.push_back(Pending {
            xid: x,
            op: req.op_code(),
            sent: Instant::now(),
        });
        x
    }

    /// Sends what is buffered and waits for the next reply or notification.
    pub async fn next_event(&mut self) -> io::Result<Event> {
        loop {
            if let Some(frame) = self.try_frame()? {
                if let Some(ev) = self.handle(frame)? {
                    return Ok(ev);
                }
                continue;
            }
            self.fill().await?;
        }
    }

    /// Sends one request and waits for its reply (nothing else may be in flight). Notifications
    /// arriving meanwhile are kept in [`Conn::buffered_watches`].
    pub async fn call(&mut self, req: &Request) -> io::Result<Reply> {
        assert_eq!(self.pending.len(), 0, "call() with requests in flight");
        self.queue(req);
        loop {
            match self.next_event().await? {
                Event::Reply(r) => return Ok(r),
                Event::Watch(w) => self.buffered_watches.push_back(w),
            }
        }
    }

    /// Closes the session (closeSession, wait for its reply) and the connection.
    pub async fn close(mut self) -> io::Result<()> {
        while self.in_flight() > 0 {
            self.next_event().await?;
        }
        let r = self.call(&Request::CloseSession).await?;
        r.ok().map_err(invalid)?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }

    /// Reads and writes until at least one more byte has arrived.
    async fn fill(&mut self) -> io::Result<()> {
        let Conn {
            stream,
            rbuf,
            wbuf,
            ping_every,
            pings_out,
            ..
        } = self;
        if rbuf.capacity() - rbuf.len() < 16 * 1024 {
            rbuf.reserve(64 * 1024);
        }
        if wbuf.is_empty() {
            match tokio::time::timeout(*ping_every, stream.read_buf(rbuf)).await {
                Ok(n) => eof_check(n?),
                Err(_) => {
                    // Idle: keep the session alive.
                    write_frame(wbuf, |out| Request::Ping.encode_frame(xid::PING, out));
                    *pings_out += 1;
                    Ok(())
                }
            }
        } else {
            let (mut r, mut w) = stream.split();
            tokio::select! {
                biased;
                n = w.write(&wbuf[..]) => {
                    let n = n?;
                    if n == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    wbuf.advance(n);
                    if wbuf.is_empty() {
                        // Reuse the allocation instead of growing forever.
                        wbuf.clear();
                    }
                    Ok(())
                }
                n = r.read_buf(rbuf) => eof_check(n?),
            }
        }
    }

    fn try_frame(&mut self) -> io::Result<Option<Bytes>> {
        if self.rbuf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([self.rbuf[0], self.rbuf[1], self.rbuf[2], self.rbuf[3]]);
        if len < 0 || len as usize > MAX_REPLY {
            return Err(invalid(format!("bad frame length {len}")));
        }
        let len = len as usize;
        if self.rbuf.len() < 4 + len {
            self.rbuf.reserve(4 + len - self.rbuf.len());
            return Ok(None);
        }
        self.rbuf.advance(4);
        Ok(Some(self.rbuf.split_to(len).freeze()))
    }

    async fn read_frame(&mut self) -> io::Result<Bytes> {
        loop {
            if let Some(f) = self.try_frame()? {
                return Ok(f);
            }
            let n = self.stream.read_buf(&mut self.rbuf).await?;
            eof_check(n)?;
        }
    }

    fn handle(&mut self, frame: Bytes) -> io::Result<Option<Event>> {
        let received = Instant::now();
        let cx = Cx::new(&frame, MAX_REPLY);
        let (rest, header) = ReplyHeader::decode(&cx, &frame)
            .map_err(|e| invalid(format!("bad ReplyHeader: {e:?}")))?;
        let body_at = frame.len() - rest.len();
        match header.xid {
            xid::NOTIFICATION => {
                let (_, ev) = WatcherEvent::decode(&cx, rest)
                    .map_err(|e| invalid(format!("bad WatcherEvent: {e:?}")))?;
                Ok(Some(Event::Watch(ev)))
            }
            xid::PING => {
                self.pings_out = self.pings_out.saturating_sub(1);
                Ok(None)
            }
            x => {
                let Some(p) = self.pending.pop_front() else {
                    return Err(invalid(format!("reply xid {x} with nothing in flight")));
                };
                if p.xid != x {
                    return Err(invalid(format!(
                        "reply out of order: expected xid {}, got {x} (err {})",
                        p.xid, header.err
                    )));
                }
                Ok(Some(Event::Reply(Reply {
                    pending: p,
                    header,
                    received,
                    body_at,
                    frame,
                })))
            }
        }
    }
}

fn eof_check(n: usize) -> io::Result<()> {
    if n == 0 {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "server closed the connection",
        ))
    } else {
        Ok(())
    }
}

pub fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Sends a four-letter word and reads the answer until the server closes.
pub async fn four_letter_word(addr: SocketAddr, word: &str) -> io::Result<String> {
    let fut = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "four-letter word timed out"))?
}
