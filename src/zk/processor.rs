//! The RequestProcessor of one connection (DESIGN.md §2, Zelos' RequestProcessor): a session's
//! requests are answered strictly in order; writes are proposed as soon as they arrive (their
//! order of proposal is their order in the log), and a read waits only for the session's earlier
//! requests — then runs against a local snapshot that includes them.
//!
//! A read must not see the session's *later* writes either. A plain read (no watch) that arrives
//! behind a write still in flight is therefore *parked* with the hub: apply runs it right after
//! that write, before the next command, and its reply follows the write's — so the writes after
//! it are proposed at once, as in ZooKeeper's pipeline where reads take their place in the
//! request order. Other reads (watches, sync, setWatches) hold later writes back until they ran.
//!
//! Reads that set a watch, setWatches and the watch-management calls run under the hub's lock
//! against a snapshot aligned with the triggers already fired (see [`super::hub`]), and their
//! replies are queued under that lock, so no notification can overtake them.
//!
//! Layer: `zk`; the server layer feeds it decoded frames and writes what it queues.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use futures::future::BoxFuture;
use tracing::{debug, warn};
use zoolog_jute::{
    AddWatchMode, ClientInfo, ConnectRequest, ConnectResponse, DecodeError, ErrorCode,
    ErrorResponse, EventType, Id, Jute, MultiResponse, OpCode, Request, RequestError, Response,
    SetSaslResponse, SetWatches2, SyncResponse, WatcherType, WhoAmIResponse, xid,
};

use super::acl;
use super::command::{ZkCommand, ZkOp};
use super::conn_queue::ConnQueue;
pub use super::hub::reply_frame;
use super::hub::{ConnHandle, HubState, Outbound, ParkedRead, notification_frame};
use super::java_order;
use super::service::{ZkService, now_ms};
use super::session_id;
use super::stats::ConnStats;
use super::watches::{ConnId, Table};

/// The handshake's answer.
pub enum Handshake {
    /// Send the response, then serve the connection with the processor.
    Accepted(Box<Processor>, ConnectResponse),
    /// Send the response if any (the "session expired" reply), then close.
    Rejected(Option<ConnectResponse>),
}

/// What ends a connection from the processor's side.
#[derive(Debug, PartialEq, Eq)]
pub enum Close {
    /// The client asked (closeSession) or its session ended.
    Normal,
    /// Bad input: logged, the connection is dropped.
    Protocol(String),
}

/// A sync in flight: its reply is ready when the future resolves. (The mutex only makes the
/// processor `Sync`; the future is reached through `get_mut`, never locked.)
struct InFlight {
    fut: std::sync::Mutex<BoxFuture<'static, Reply>>,
}

impl InFlight {
    fn new(fut: BoxFuture<'static, Reply>) -> Self {
        InFlight {
            fut: std::sync::Mutex::new(fut),
        }
    }
}

/// A reply: frames to send, and whether to close after them.
struct Reply {
    frames: Vec<Bytes>,
    close: bool,
    started: Instant,
}

enum Item {
    Ready(Reply),
    Read {
        xid: i32,
        req: Request,
        started: Instant,
    },
    /// A write proposed: the hub queues its reply when it is applied, and the connection
    /// reports it done ([`Processor::writes_completed`]).
    Write(Proposed),
    /// A sync: waits for the log tail like a write, holds back later writes like a read.
    Sync(InFlight),
    /// A write behind a read that has not run yet: proposed once every read before it ran, so
    /// that no read of the session sees a later write.
    Deferred(DeferredWrite),
    /// A read parked behind the session's last proposed write: apply runs it right after that
    /// write and queues its reply after the write's, so it is answered once that write is.
    Parked {
        started: Instant,
    },
}

/// A write proposed and not yet answered.
struct Proposed {
    /// Close the connection once it is answered (closeSession).
    close: bool,
    started: Instant,
}

/// What the processor waits for before anything behind it.
enum Head {
    Write(Proposed),
    /// Its reply is sent here when it completes, so no later write may be proposed before (the
    /// hub would send that write's reply first).
    Sync(InFlight),
}

struct DeferredWrite {
    xid: i32,
    op: ZkOp,
    /// The connection's auth ids when the write arrived.
    auth: Vec<Id>,
    started: Instant,
    /// Reads parked behind this write before it was proposed.
    parked: Vec<ParkedRead>,
}

/// The write a plain read arriving now would be parked behind: the session's last write, when
/// everything queued after it is a parked read.
#[derive(Clone, Copy)]
enum Anchor {
    /// Proposed: the read is handed to the hub, keyed by the write's xid.
    Proposed(i32),
    /// Deferred: the read rides with the write (the last non-parked item of the queue) and is
    /// handed to the hub when the write is proposed.
    Deferred,
}

/// Serves one connection's session.
pub struct Processor {
    svc: Arc<ZkService>,
    conn: ConnId,
    session: i64,
    auth: Vec<Id>,
    tx: Arc<ConnQueue>,
    stats: Arc<ConnStats>,
    queue: VecDeque<Item>,
    /// This connection's share of the server's outstanding requests (what it added to
    /// [`ServerStats::outstanding`](super::stats::ServerStats)): its requests not yet answered.
    counted: usize,
    /// Reads in `queue` that have not run yet.
    queued_reads: usize,
    /// The xid of the last write proposed, while everything queued after it is a parked read:
    /// a plain read arriving now can be parked behind it.
    anchor: Option<Anchor>,
    head: Option<Head>,
    /// Replies of this connection's writes the hub sent that the queue has not taken yet: the
    /// writes in flight complete in the order they were proposed.
    writes_done: u32,
    closing: bool,
}

fn empty_response(read_only: Option<bool>) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        time_out: 0,
        session_id: 0,
        passwd: Bytes::from_static(&[0u8; 16]),
        read_only: read_only.map(|_| false),
    }
}

/// Proposes that session `id` is served by server `me` from now on; true once applied.
async fn attach(svc: &Arc<ZkService>, id: i64, me: u64, timeout: i32) -> bool {
    let cmd = ZkCommand::internal(
        id,
        now_ms(),
        ZkOp::AttachSession {
            session_id: id,
            owner: me,
            timeout_ms: timeout,
        },
    );
    match svc.execute(&cmd).await {
        Ok(o) if o.err == ErrorCode::Ok => {
            svc.sessions().add(id, timeout as u32);
            debug!(
                session = format_args!("0x{id:x}"),
                "session moved to this server"
            );
            true
        }
        Ok(_) => false,
        Err(e) => {
            warn!(error = %e, "attachSession could not be proposed");
            false
        }
    }
}

/// Processes a ConnectRequest (§1.4): new session through the log, or resume by id + password.
pub async fn handshake(
    svc: &Arc<ZkService>,
    req: ConnectRequest,
    peer: SocketAddr,
    tx: Arc<ConnQueue>,
) -> Handshake {
    if !svc.is_serving() {
        debug!("not serving: cut off from the ensemble's majority");
        return Handshake::Rejected(None);
    }
    let mut last = svc.last_zxid();
    if req.last_zxid_seen > last && svc.node_id().is_some() {
        // Another server of the ensemble answered this client already: catch up with the log
        // first (ZooKeeper refuses a server that is behind the client).
        if let Err(e) = svc.stack().sync().await {
            debug!(error = %e, "sync before a reconnect failed");
        }
        last = svc.last_zxid();
    }
    if req.last_zxid_seen > last {
        debug!(
            client = req.last_zxid_seen,
            server = last,
            "refusing a client whose lastZxidSeen is ahead"
        );
        return Handshake::Rejected(None);
    }
    let timeout = svc.config().negotiate_timeout(req.time_out);
    let session = if req.session_id == 0 {
        let id = svc.next_session_id();
        let cmd = ZkCommand::internal(
            id,
            now_ms(),
            ZkOp::CreateSession {
                session_id: id,
                timeout_ms: timeout,
            },
        );
        match svc.execute(&cmd).await {
            Ok(o) if o.err == ErrorCode::Ok => {
                svc.sessions().add(id, timeout as u32);
                id
            }
            Ok(o) => {
                warn!(err = %o.err, "createSession failed");
                return Handshake::Rejected(None);
            }
            Err(e) => {
                warn!(error = %e, "createSession could not be proposed");
                return Handshake::Rejected(None);
            }
        }
    } else {
        let id = req.session_id;
        // Any live connection of this session here is closed first, even if the password turns
        // out wrong (observed on 3.8.0).
        svc.hub().close_session_connections(id);
        let owner = {
            let snap = svc.snapshot();
            svc.reader(&snap).session_owner(id).unwrap_or(None)
        };
        let password_ok = session_id::check_password(id, &req.passwd);
        // In an ensemble, a session served by another server moves here by a log entry.
        let moved = match (svc.node_id(), owner) {
            (Some(me), Some(o)) if o != me && password_ok => attach(svc, id, me, timeout).await,
            _ => false,
        };
        if !password_ok || owner.is_none() || !(moved || svc.sessions().retime(id, timeout as u32))
        {
            debug!(
                session = format_args!("0x{id:x}"),
                "session expired or invalid"
            );
            return Handshake::Rejected(Some(empty_response(req.read_only)));
        }
        id
    };
    let conn = svc.next_conn_id();
    let stats = Arc::new(ConnStats::default());
    let auth = vec![Id::new("ip", &peer.ip().to_string())];
    svc.hub().register(
        conn,
        ConnHandle {
            tx: tx.clone(),
            auth: auth.clone(),
            session,
            timeout_ms: timeout,
            peer,
            stats: stats.clone(),
            established: Instant::now(),
        },
    );
    let response = ConnectResponse {
        protocol_version: 0,
        time_out: timeout,
        session_id: session,
        passwd: Bytes::copy_from_slice(&session_id::session_password(session)),
        read_only: req.read_only.map(|_| false),
    };
    let processor = Processor {
        svc: svc.clone(),
        conn,
        session,
        auth,
        tx,
        stats,
        queue: VecDeque::new(),
        counted: 0,
        queued_reads: 0,
        anchor: None,
        head: None,
        writes_done: 0,
        closing: false,
    };
    Handshake::Accepted(Box::new(processor), response)
}

/// The order ZooKeeper 3.8 lists a connection's auth ids in (its auth info is a hash set).
fn java_set_order(ids: &[Id]) -> Vec<&Id> {
    let hashes: Vec<i32> = ids
        .iter()
        .map(|id| java_order::id_hash(id.scheme(), id.id()))
        .collect();
    java_order::hash_set_order(&hashes)
        .into_iter()
        .map(|i| &ids[i])
        .collect()
}

impl Processor {
    pub fn conn_id(&self) -> ConnId {
        self.conn
    }

    pub fn session(&self) -> i64 {
        self.session
    }

    /// Whether the processor has asked for the connection to close.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Whether requests are waiting for their replies.
    pub fn has_pending(&self) -> bool {
        self.head.is_some() || !self.queue.is_empty()
    }

    fn send(&self, frame: Bytes) {
        self.svc
            .stats()
            .packets_sent
            .fetch_add(1, Ordering::Relaxed);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.tx.send(Outbound::Frame(frame));
    }

    /// Brings this connection's share of the server's outstanding requests up to date: the
    /// requests it holds that are not answered yet.
    pub fn account(&mut self) {
        let now = self.queue.len() + usize::from(self.head.is_some());
        if now != self.counted {
            let delta = now as i64 - self.counted as i64;
            self.svc
                .stats()
                .outstanding
                .fetch_add(delta, Ordering::AcqRel);
            self.counted = now;
            self.stats.queued.store(now as i64, Ordering::Relaxed);
        }
    }

    /// ZooKeeper's throttle (`ZooKeeperServer.shouldThrottle`): while the server holds more
    /// requests than `globalOutstandingLimit`, a connection with requests of its own outstanding
    /// is not read. The engine stack being congested counts the same way.
    pub fn throttled(&self) -> bool {
        self.counted > 0
            && (self.svc.stats().outstanding.load(Ordering::Acquire)
                > self.svc.config().global_outstanding_limit as i64
                || self.svc.stack().congested())
    }

    /// Whether the client has left so much output untaken that no more requests are taken (or
    /// reads run) until it reads (`zoolog.server.pauseUnsentKB`).
    pub fn output_full(&self) -> bool {
        self.tx.unsent() > self.svc.config().pause_unsent_bytes
    }

    fn last_zxid(&self) -> i64 {
        self.svc.last_zxid()
    }

    /// Takes one request frame. Writes are proposed now; everything else is queued in order.
    /// `Err` closes the connection (after what is already queued).
    pub fn on_frame(&mut self, frame: Bytes) -> Result<(), Close> {
        let r = self.take_frame(frame);
        self.account();
        r
    }

    fn take_frame(&mut self, frame: Bytes) -> Result<(), Close> {
        let started = Instant::now();
        self.svc
            .stats()
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        if self.closing {
            return Ok(());
        }
        let (header, req) = match Request::decode_frame(&frame, self.svc.config().jute_max_buffer) {
            Ok(r) => r,
            Err(RequestError::UnknownOpCode { xid, op })
                if op == OpCode::CreateSession.as_i32() =>
            {
                // ZooKeeper takes a client-sent createSession for a write whose record does not
                // parse: an error txn (a zxid) answered MARSHALLINGERROR, connection kept.
                return self.rejected_write(xid, ErrorCode::MarshallingError, started);
            }
            Err(RequestError::UnknownOpCode { xid, op }) => {
                warn!(xid, op, "unknown opcode; closing the connection");
                self.push_ready(
                    vec![reply_frame(
                        xid,
                        -1,
                        ErrorCode::Unimplemented,
                        &Response::Empty,
                    )],
                    true,
                    started,
                );
                return Err(Close::Protocol(format!("unknown opcode {op}")));
            }
            Err(RequestError::Body {
                xid,
                op,
                source: DecodeError::Invalid(why),
            }) => {
                // Decodable but invalid (reads and writes mixed in one multi): ZooKeeper answers
                // MARSHALLINGERROR and keeps the connection.
                debug!(xid, %op, why, "invalid request");
                if op == OpCode::Multi {
                    // Still a write to ZooKeeper: an error txn that consumes a zxid.
                    return self.rejected_write(xid, ErrorCode::MarshallingError, started);
                }
                let zxid = self.last_zxid();
                let mut frame = BytesMut::from(
                    &reply_frame(xid, zxid, ErrorCode::MarshallingError, &Response::Empty)[..],
                );
                if op == OpCode::MultiRead && why == "write operation in a multiRead" {
                    // Only writes (not mixed): ZooKeeper parsed the record, failed on the first
                    // op, and still writes the (empty) MultiResponse after the error header.
                    MultiResponse::default().encode(&mut frame);
                }
                self.push_ready(vec![frame.freeze()], false, started);
                return Ok(());
            }
            Err(RequestError::Body { xid, op, source }) => {
                warn!(xid, %op, error = %source, "undecodable request; closing the connection");
                let zxid = self.last_zxid();
                self.push_ready(
                    vec![reply_frame(
                        xid,
                        zxid,
                        ErrorCode::MarshallingError,
                        &Response::Empty,
                    )],
                    true,
                    started,
                );
                return Err(Close::Protocol(format!(
                    "undecodable {op} request: {source}"
                )));
            }
            Err(e @ RequestError::Header(_)) => {
                return Err(Close::Protocol(e.to_string()));
            }
        };
        // Every frame touches the session; a session that is gone or closing gets no answer.
        if !self.svc.sessions().touch(self.session) {
            debug!(
                session = format_args!("0x{:x}", self.session),
                "request for a closed session dropped"
            );
            return Ok(());
        }
        self.stats
            .last_cxid
            .store(i64::from(header.xid), Ordering::Relaxed);
        self.stats.last_op.store(header.op, Ordering::Relaxed);
        let xid = header.xid;
        match req {
            Request::Auth(packet) => {
                let scheme = packet.scheme.to_string();
                let ok = match scheme.as_str() {
                    "digest" => {
                        let ids = acl::authenticate_digest(
                            &packet.auth,
                            self.svc.config().super_digest.as_deref(),
                        );
                        for id in ids {
                            if !self.auth.contains(&id) {
                                self.auth.push(id);
                            }
                        }
                        self.svc.hub().set_auth(self.conn, &self.auth);
                        true
                    }
                    "ip" => true,
                    _ => false,
                };
                if ok {
                    self.push_ready(
                        vec![reply_frame(xid, 0, ErrorCode::Ok, &Response::Empty)],
                        false,
                        started,
                    );
                } else {
                    self.svc.stats().auth_failed.fetch_add(1, Ordering::Relaxed);
                    self.push_ready(
                        vec![reply_frame(xid, 0, ErrorCode::AuthFailed, &Response::Empty)],
                        true,
                        started,
                    );
                    self.closing = true;
                }
            }
            Request::Check(_) => {
                // Top-level check is invalid (ZooKeeper ≥ 3.9.3): UNIMPLEMENTED, then close.
                self.push_ready(
                    vec![reply_frame(
                        xid,
                        -1,
                        ErrorCode::Unimplemented,
                        &Response::Empty,
                    )],
                    true,
                    started,
                );
                return Err(Close::Protocol("top-level check".into()));
            }
            Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::DeleteContainer(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Multi(_)
            | Request::CloseSession => {
                self.on_write(xid, ZkOp::Request(req), started)?;
            }
            // What the precheck rejects is still an error transaction that consumes a zxid, as
            // ZooKeeper's PrepRequestProcessor makes of it.
            Request::Reconfig(r) => match self.svc.reconfig_precheck(&r) {
                Some(code) => self.on_write(xid, ZkOp::Rejected { err: code.as_i32() }, started)?,
                None => self.on_write(xid, ZkOp::Request(Request::Reconfig(r)), started)?,
            },
            Request::Sync(s) => {
                let svc = self.svc.clone();
                let fut = async move {
                    // The nemesis harness's planted fault (debug builds only): answer at once.
                    let synced = if crate::planted::stale_sync() {
                        Ok(svc.snapshot())
                    } else {
                        svc.stack().sync().await
                    };
                    let reply = match synced {
                        Ok(_) => {
                            let zxid = svc.last_zxid();
                            reply_frame(
                                xid,
                                zxid,
                                ErrorCode::Ok,
                                &Response::Sync(SyncResponse { path: s.path }),
                            )
                        }
                        Err(e) => {
                            warn!(error = %e, "sync failed");
                            return Reply {
                                frames: Vec::new(),
                                close: true,
                                started,
                            };
                        }
                    };
                    Reply {
                        frames: vec![reply],
                        close: false,
                        started,
                    }
                }
                .boxed();
                // Like a read, sync holds back later writes, so that its reply (and zxid) come
                // before theirs.
                self.queued_reads += 1;
                self.anchor = None;
                self.queue.push_back(Item::Sync(InFlight::new(fut)));
            }
            req => {
                let req = match self.anchor {
                    Some(anchor) if parkable(&req) => {
                        let read = ParkedRead {
                            xid,
                            req,
                            auth: self.auth.clone(),
                        };
                        match self.park(anchor, read) {
                            None => {
                                self.queue.push_back(Item::Parked { started });
                                return Ok(());
                            }
                            Some(read) => read.req,
                        }
                    }
                    _ => req,
                };
                if self.head.is_none() && self.queue.is_empty() && parkable(&req) {
                    // Nothing of the session is pending: the read runs now, on a snapshot that
                    // holds every earlier write (all answered), and later writes need not wait —
                    // unless the snapshot holds a write whose notifications are not queued yet
                    // (they must reach the client before any reply that shows the change).
                    let snap = self.svc.snapshot();
                    if self.fired_through(&snap) {
                        let (zxid, err, resp) = self.read_now(&snap, &req);
                        self.send(reply_frame(xid, zxid, err, &resp));
                        self.svc.stats().record_latency(started);
                        return Ok(());
                    }
                }
                self.queued_reads += 1;
                self.anchor = None;
                self.queue.push_back(Item::Read { xid, req, started });
            }
        }
        Ok(())
    }

    /// A write that fails before it runs, as an error transaction (it consumes a zxid).
    fn rejected_write(&mut self, xid: i32, err: ErrorCode, started: Instant) -> Result<(), Close> {
        if !self.svc.sessions().touch(self.session) {
            return Ok(());
        }
        self.on_write(xid, ZkOp::Rejected { err: err.as_i32() }, started)
    }

    /// Proposes a write now, or defers it behind the reads queued before it.
    fn on_write(&mut self, xid: i32, op: ZkOp, started: Instant) -> Result<(), Close> {
        if matches!(op, ZkOp::Request(Request::CloseSession)) {
            self.closing = true;
        }
        let write = DeferredWrite {
            xid,
            op,
            auth: self.auth.clone(),
            started,
            parked: Vec::new(),
        };
        if self.queued_reads > 0 {
            self.anchor = Some(Anchor::Deferred);
            self.queue.push_back(Item::Deferred(write));
        } else {
            self.anchor = Some(Anchor::Proposed(xid));
            let w = self.start_write(write);
            self.queue.push_back(Item::Write(w));
        }
        Ok(())
    }

    fn push_ready(&mut self, frames: Vec<Bytes>, close: bool, started: Instant) {
        // A queued reply holds back later writes like a read does: their replies (sent by the
        // listener when applied) must not overtake it.
        self.queued_reads += 1;
        self.anchor = None;
        self.queue.push_back(Item::Ready(Reply {
            frames,
            close,
            started,
        }));
    }

    fn deliver(&mut self, reply: Reply) {
        for f in reply.frames {
            self.send(f);
        }
        self.svc.stats().record_latency(reply.started);
        if reply.close {
            self.closing = true;
            self.tx.send(Outbound::Close);
        }
    }

    /// Sends every reply that is ready in order and runs the reads at the head of the queue,
    /// stopping at the first write still in flight.
    pub async fn drain(&mut self) {
        loop {
            self.release_deferred();
            match &self.head {
                Some(Head::Write(_)) if self.writes_done > 0 => {
                    self.writes_done -= 1;
                    if let Some(Head::Write(w)) = self.head.take() {
                        self.deliver(Reply {
                            frames: Vec::new(),
                            close: w.close,
                            started: w.started,
                        });
                    }
                    continue;
                }
                Some(_) => break,
                None => {}
            }
            if matches!(self.queue.front(), Some(Item::Read { .. })) && self.output_full() {
                // Its reply would pile up behind replies the client has not taken: it runs once
                // the client has read them.
                break;
            }
            let Some(item) = self.queue.pop_front() else {
                break;
            };
            match item {
                Item::Ready(r) => {
                    self.queued_reads = self.queued_reads.saturating_sub(1);
                    self.deliver(r);
                }
                Item::Write(w) => self.head = Some(Head::Write(w)),
                Item::Sync(w) => {
                    self.queued_reads = self.queued_reads.saturating_sub(1);
                    self.head = Some(Head::Sync(w));
                }
                Item::Deferred(d) => self.head = Some(Head::Write(self.start_write(d))),
                Item::Read { xid, req, started } => {
                    self.queued_reads = self.queued_reads.saturating_sub(1);
                    self.execute_read(xid, req).await;
                    self.svc.stats().record_latency(started);
                }
                // Its reply went out with the write before it, which has completed.
                Item::Parked { started } => self.svc.stats().record_latency(started),
            }
        }
        self.account();
    }

    /// Proposes the deferred writes that no unexecuted read precedes any more.
    fn release_deferred(&mut self) {
        if matches!(self.head, Some(Head::Sync(_))) {
            return;
        }
        for i in 0..self.queue.len() {
            match &self.queue[i] {
                Item::Read { .. } | Item::Ready(_) | Item::Sync(_) => break,
                Item::Deferred(_) => {
                    let placeholder = Item::Ready(Reply {
                        frames: Vec::new(),
                        close: false,
                        started: Instant::now(),
                    });
                    if let Item::Deferred(d) = std::mem::replace(&mut self.queue[i], placeholder) {
                        let w = self.start_write(d);
                        self.queue[i] = Item::Write(w);
                    }
                }
                _ => {}
            }
        }
    }

    /// Parks `read` behind the anchor write; gives it back if that is no longer possible.
    fn park(&mut self, anchor: Anchor, read: ParkedRead) -> Option<ParkedRead> {
        match anchor {
            Anchor::Proposed(xid) => self.svc.hub().park_read(self.session, xid, read),
            Anchor::Deferred => {
                let write = self.queue.iter_mut().rev().find_map(|item| match item {
                    Item::Parked { .. } => None,
                    Item::Deferred(d) => Some(Some(d)),
                    _ => Some(None),
                });
                match write.flatten() {
                    Some(d) => {
                        d.parked.push(read);
                        None
                    }
                    None => Some(read),
                }
            }
        }
    }

    /// Proposes a write now; the hub queues its reply when it has been applied here.
    fn start_write(&mut self, w: DeferredWrite) -> Proposed {
        let DeferredWrite {
            xid,
            op,
            auth,
            started,
            parked,
        } = w;
        if matches!(self.anchor, Some(Anchor::Deferred))
            && !self
                .queue
                .iter()
                .rev()
                .any(|item| matches!(item, Item::Deferred(_)))
        {
            // The anchor was this write (the last deferred one): it is proposed now.
            self.anchor = Some(Anchor::Proposed(xid));
        }
        let close = matches!(op, ZkOp::Request(Request::CloseSession));
        let cmd = ZkCommand {
            session_id: self.session,
            cxid: xid,
            time_ms: now_ms(),
            auth,
            op,
        };
        // The listener queues the reply when the write is applied (in order with the
        // notifications it causes) and counts it as done for this connection; nobody waits on
        // the proposal's own result.
        self.svc
            .hub()
            .expect_reply(self.conn, self.session, xid, parked);
        self.svc.propose_detached(&cmd);
        Proposed { close, started }
    }

    /// The hub sent the replies of `n` more of this connection's writes (they went into the
    /// outbound queue before this call); `drain` hands them to the writes in flight, oldest
    /// first.
    pub fn writes_completed(&mut self, n: u32) {
        self.writes_done = self.writes_done.saturating_add(n);
    }

    /// Waits for the sync at the head of the queue and delivers its reply. Pending forever if
    /// there is none (for use in `select!`); writes complete through
    /// [`writes_completed`](Self::writes_completed).
    pub async fn complete_head(&mut self) {
        let Some(Head::Sync(head)) = self.head.as_mut() else {
            return futures::future::pending().await;
        };
        let fut = head
            .fut
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let reply = fut.await;
        self.head = None;
        self.deliver(reply);
    }

    /// The connection is gone: forget its watches (the session lives on until it expires).
    pub fn disconnected(&self) {
        self.svc.hub().unregister(self.conn);
    }

    /// Runs `f` under the hub's lock with a snapshot whose triggers have all fired.
    async fn aligned<R>(
        &self,
        mut f: impl FnMut(&mut HubState, &crate::store::ReadSnapshot) -> R,
    ) -> R {
        loop {
            let cursor = {
                let mut st = self.svc.hub().lock();
                let snap = self.svc.snapshot();
                if self.fired_through(&snap) {
                    return f(&mut st, &snap);
                }
                snap.cursor().unwrap_or(0)
            };
            self.svc.wait_applied(cursor).await;
        }
    }

    /// Whether every notification of what `snap` shows is queued (post_apply ran for all of it).
    fn fired_through(&self, snap: &crate::store::ReadSnapshot) -> bool {
        snap.cursor().unwrap_or(0) <= self.svc.applied_cursor()
    }

    /// Waits until every notification of what `snap` shows is queued.
    async fn wait_fired(&self, snap: &crate::store::ReadSnapshot) {
        if !self.fired_through(snap) {
            self.svc.wait_applied(snap.cursor().unwrap_or(0)).await;
        }
    }

    async fn execute_read(&mut self, xid: i32, req: Request) {
        let conn = self.conn;
        match req {
            Request::Ping => {
                let zxid = self.last_zxid();
                self.send(reply_frame(
                    xid::PING,
                    zxid,
                    ErrorCode::Ok,
                    &Response::Empty,
                ));
            }
            Request::WhoAmI => {
                let client_info = java_set_order(&self.auth)
                    .into_iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme().into(),
                        user: id.id().split(':').next().unwrap_or_default().into(),
                    })
                    .collect();
                let zxid = self.last_zxid();
                self.send(reply_frame(
                    xid,
                    zxid,
                    ErrorCode::Ok,
                    &Response::WhoAmI(WhoAmIResponse { client_info }),
                ));
            }
            Request::Sasl(_) => {
                // Without SASL configured, ZooKeeper 3.8 answers OK with a null token and keeps
                // the connection (observed on the wire).
                self.send(reply_frame(
                    xid,
                    0,
                    ErrorCode::Ok,
                    &Response::Sasl(SetSaslResponse { token: None }),
                ));
            }
            // exists sets its watch even when the node does not exist; the others only on
            // success.
            Request::Exists(ref r) if r.watch => {
                let path = r.path.to_string();
                self.watched_read(xid, &req, &path, Table::Data, true).await;
            }
            Request::GetData(ref r) if r.watch => {
                let path = r.path.to_string();
                self.watched_read(xid, &req, &path, Table::Data, false)
                    .await;
            }
            Request::GetChildren(ref r) if r.watch => {
                let path = r.path.to_string();
                self.watched_read(xid, &req, &path, Table::Child, false)
                    .await;
            }
            Request::GetChildren2(ref r) if r.watch => {
                let path = r.path.to_string();
                self.watched_read(xid, &req, &path, Table::Child, false)
                    .await;
            }
            Request::SetWatches(sw) => {
                let sw2 = SetWatches2 {
                    relative_zxid: sw.relative_zxid,
                    data_watches: sw.data_watches,
                    exist_watches: sw.exist_watches,
                    child_watches: sw.child_watches,
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                };
                self.set_watches(xid, sw2).await;
            }
            Request::SetWatches2(sw) => self.set_watches(xid, sw).await,
            Request::AddWatch(aw) => {
                let path = aw.path.to_string();
                let mode = AddWatchMode::from_i32(aw.mode);
                self.aligned(|st, snap| {
                    let zxid = self.svc.reader(snap).last_zxid().unwrap_or(0);
                    match mode {
                        Some(AddWatchMode::Persistent) => st.watches.add_persistent(&path, conn),
                        Some(AddWatchMode::PersistentRecursive) => {
                            st.watches.add_recursive(&path, conn)
                        }
                        None => {
                            self.send(reply_frame(
                                xid,
                                zxid,
                                ErrorCode::MarshallingError,
                                &Response::Empty,
                            ));
                            return;
                        }
                    }
                    self.send(reply_frame(
                        xid,
                        zxid,
                        ErrorCode::Ok,
                        &Response::AddWatch(ErrorResponse { err: 0 }),
                    ));
                })
                .await;
            }
            Request::CheckWatches(r) => {
                self.check_or_remove_watches(xid, &r.path, r.watcher_type, false)
                    .await
            }
            Request::RemoveWatches(r) => {
                self.check_or_remove_watches(xid, &r.path, r.watcher_type, true)
                    .await
            }
            other => {
                let snap = self.svc.snapshot();
                let (zxid, err, resp) = self.read_now(&snap, &other);
                // Notifications of what the snapshot shows go out before the reply.
                self.wait_fired(&snap).await;
                self.send(reply_frame(xid, zxid, err, &resp));
            }
        }
    }

    /// A read that sets a standard watch on `path` in `table` when it succeeds (or, with
    /// `even_if_missing`, when the node does not exist), its reply queued under the hub's lock.
    async fn watched_read(
        &self,
        xid: i32,
        req: &Request,
        path: &str,
        table: Table,
        even_if_missing: bool,
    ) {
        let conn = self.conn;
        self.aligned(|st, snap| {
            let (zxid, err, resp) = self.read_now(snap, req);
            if err == ErrorCode::Ok || (even_if_missing && err == ErrorCode::NoNode) {
                st.watches.add_standard(table, path, conn);
            }
            self.send(reply_frame(xid, zxid, err, &resp));
        })
        .await;
    }

    /// checkWatches (`remove == false`) and removeWatches.
    async fn check_or_remove_watches(&self, xid: i32, path: &str, kind: i32, remove: bool) {
        let conn = self.conn;
        let kind = WatcherType::from_i32(kind);
        self.aligned(|st, snap| {
            let zxid = self.svc.reader(snap).last_zxid().unwrap_or(0);
            let err = match kind.and_then(|k| watch_matches(st, k, path, conn, remove)) {
                Some(true) => ErrorCode::Ok,
                Some(false) => ErrorCode::NoWatcher,
                None => ErrorCode::MarshallingError,
            };
            self.send(reply_frame(xid, zxid, err, &Response::Empty));
        })
        .await;
    }

    /// Runs a read against `snap`: `(zxid for the reply, err, body)`.
    fn read_now(
        &self,
        snap: &crate::store::ReadSnapshot,
        req: &Request,
    ) -> (i64, ErrorCode, Response) {
        let reader = self.svc.reader(snap);
        let zxid = reader.last_zxid().unwrap_or(0);
        match reader.read(req, self.session, &self.auth) {
            Ok(r) => (zxid, r.err, r.response),
            Err(e) => {
                warn!(error = %e, "read failed");
                (zxid, ErrorCode::SystemError, Response::Empty)
            }
        }
    }

    /// setWatches / setWatches2 (§6.5): catch-up events for what changed after
    /// `relativeZxid`, registrations for the rest, then the reply.
    async fn set_watches(&mut self, xid: i32, sw: SetWatches2) {
        let conn = self.conn;
        self.aligned(|st, snap| {
            let reader = self.svc.reader(snap);
            let zxid = reader.last_zxid().unwrap_or(0);
            let rel = sw.relative_zxid;
            let mut events: Vec<(EventType, String)> = Vec::new();
            for p in &sw.data_watches {
                match reader.watch_probe(p).ok().flatten() {
                    None => events.push((EventType::NodeDeleted, p.to_string())),
                    Some(probe) if probe.mzxid > rel => {
                        events.push((EventType::NodeDataChanged, p.to_string()))
                    }
                    Some(_) => st.watches.add_standard(Table::Data, p, conn),
                }
            }
            for p in &sw.exist_watches {
                match reader.watch_probe(p).ok().flatten() {
                    Some(_) => events.push((EventType::NodeCreated, p.to_string())),
                    None => st.watches.add_standard(Table::Data, p, conn),
                }
            }
            for p in &sw.child_watches {
                match reader.watch_probe(p).ok().flatten() {
                    None => events.push((EventType::NodeDeleted, p.to_string())),
                    Some(probe) if probe.pzxid > rel => {
                        events.push((EventType::NodeChildrenChanged, p.to_string()))
                    }
                    Some(_) => st.watches.add_standard(Table::Child, p, conn),
                }
            }
            for p in &sw.persistent_watches {
                st.watches.add_persistent(p, conn);
            }
            for p in &sw.persistent_recursive_watches {
                st.watches.add_recursive(p, conn);
            }
            for (ev, p) in events {
                self.send(notification_frame(ev, &p));
            }
            self.send(reply_frame(xid, zxid, ErrorCode::Ok, &Response::Empty));
        })
        .await;
    }
}

/// Reads that apply can answer by itself: no watch to register, no connection state involved.
fn parkable(req: &Request) -> bool {
    match req {
        Request::GetData(r) => !r.watch,
        Request::Exists(r) => !r.watch,
        Request::GetChildren(r) => !r.watch,
        Request::GetChildren2(r) => !r.watch,
        Request::GetAcl(_)
        | Request::GetAllChildrenNumber(_)
        | Request::GetEphemerals(_)
        | Request::MultiRead(_) => true,
        _ => false,
    }
}

/// ZooKeeper 3.8.0's `checkWatches` / `removeWatches` (§6.3, as observed on the wire): type 1
/// looks at the child table and type 2 at the data table, whatever the watch's mode (so type 2
/// also removes a persistent or recursive watch's data entry), type 3 at both. `checkWatches`
/// answers OK if *any* connection watches the path there (a 3.8 quirk); `removeWatches` acts on
/// this connection only. `None` for types 4 and 5, which 3.8.0 rejects with MARSHALLINGERROR.
fn watch_matches(
    st: &mut HubState,
    kind: WatcherType,
    path: &str,
    conn: ConnId,
    remove: bool,
) -> Option<bool> {
    let tables: &[Table] = match kind {
        WatcherType::Children => &[Table::Child],
        WatcherType::Data => &[Table::Data],
        WatcherType::Any => &[Table::Child, Table::Data],
        WatcherType::Persistent | WatcherType::PersistentRecursive => return None,
    };
    let mut found = false;
    for &t in tables {
        if remove {
            found |= st.watches.remove(t, path, conn).is_some();
        } else {
            found |= st.watches.watched_by_anyone(t, path);
        }
    }
    Some(found)
}

impl Drop for Processor {
    /// The connection is gone: its requests no longer count as the server's outstanding ones.
    fn drop(&mut self) {
        self.svc
            .stats()
            .outstanding
            .fetch_sub(self.counted as i64, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_ids_in_zookeeper_order() {
        // Observed on 3.8.0 (fixture java-01): digest bob listed before ip 127.0.0.1.
        let ids = vec![
            Id::new("ip", "127.0.0.1"),
            Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
        ];
        let order: Vec<&str> = java_set_order(&ids).iter().map(|i| i.scheme()).collect();
        assert_eq!(order, vec!["digest", "ip"]);
    }
}
