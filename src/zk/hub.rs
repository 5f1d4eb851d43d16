//! The hub: this node's connections and their watches, and the [`ZkListener`] that the apply
//! loop tells about every applied command. It fires watches (notifications go straight to the
//! connections' outbound queues, before the write's own reply, as in ZooKeeper), forgets ended
//! sessions and closes the connections of expired ones.
//!
//! Reads that register a watch run under the hub's lock against a snapshot that every
//! already-fired trigger covers ([`Hub::aligned`]), so a watch is never registered on state
//! older than the triggers it would have missed, and its reply is queued before any
//! notification it enables.
//!
//! Reads *parked* behind a write of their session ([`Hub::park_read`]) run inside apply, right
//! after that write and before the next command (the [`ZkListener::applying`] hook), against the
//! apply transaction: they see exactly the state their position in the session's order calls
//! for, so the session's later writes can be proposed at once instead of waiting for them. Their
//! replies are queued right after the write's own.
//!
//! Layer: `zk` soft state; runs on the apply thread (post_apply) and on connection tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use ahash::RandomState;
use bytes::{Bytes, BytesMut};
use zoolog_jute::{
    ErrorCode, EventType, Id, Jute, KeeperState, Perms, ReplyHeader, Request, Response,
    WatcherEvent, xid,
};

use crate::engine::Pos;

use super::acl;
use super::applicator::ZkListener;
use super::config::ZkConfig;
use super::conn_queue::ConnQueue;
use super::outcome::ZkOutcome;
use super::read::ZkReader;
use super::sessions::SessionTracker;
use super::stats::{ConnStats, ServerStats};
use super::watches::{ConnId, WatchManager};

/// What a connection is asked to write.
#[derive(Debug)]
pub enum Outbound {
    /// Write one frame payload (the writer adds the length prefix).
    Frame(Bytes),
    /// Write these frame payloads, in order. `writes` of them are the replies of writes the
    /// connection proposed: its writes in flight complete in the order they were proposed.
    Frames { frames: Vec<Bytes>, writes: u32 },
    /// Flush what is queued, then close the connection.
    Close,
}

/// A connection as the hub knows it.
pub struct ConnHandle {
    pub tx: Arc<ConnQueue>,
    /// The connection's auth ids, for filtering notifications by READ permission.
    pub auth: Vec<Id>,
    pub session: i64,
    pub timeout_ms: i32,
    pub peer: SocketAddr,
    pub stats: Arc<ConnStats>,
    pub established: Instant,
}

/// A read waiting to run right after a write of its session.
pub struct ParkedRead {
    pub xid: i32,
    pub req: Request,
    /// The connection's auth ids when the read arrived.
    pub auth: Vec<Id>,
}

/// A write proposed by one of this node's connections, whose reply the listener queues.
pub struct ExpectedReply {
    conn: ConnId,
    /// Reads to run right after the write is applied.
    parked: Vec<ParkedRead>,
    /// Set once apply reached the write: the replies of the reads parked behind it.
    ran: Option<Vec<Bytes>>,
}

/// Everything behind the hub's lock.
pub struct HubState {
    pub watches: WatchManager,
    pub conns: BTreeMap<ConnId, ConnHandle>,
    /// Writes proposed by this node's connections, by (session, xid): their replies are queued
    /// by the listener, in apply order with the notifications (as ZooKeeper's final processor
    /// does), not when the proposer's future resolves later.
    pub expected: HashMap<(i64, i32), VecDeque<ExpectedReply>, RandomState>,
    /// What the listener queued for each connection during the current log entry, sent in one
    /// message per connection when the entry is done (one wake-up of its writer, not one per
    /// reply) — or at once when a command fires watches, so that its notifications leave
    /// before its reply.
    outbox: HeldFrames,
}

/// Each connection's held frames.
type HeldFrames = HashMap<ConnId, Outbox, RandomState>;

/// A connection's frames held back until the end of the log entry being applied.
struct Outbox {
    /// When the connection's first frame was held: the flush goes in that order, so that (as in
    /// ZooKeeper) the notifications a write causes leave before its reply.
    seq: usize,
    tx: Arc<ConnQueue>,
    frames: Vec<Bytes>,
    /// How many of `frames` are replies of the connection's writes.
    writes: u32,
    close: bool,
}

impl Hub {
    /// The held frames of connection `h`.
    fn held<'a>(outbox: &'a mut HeldFrames, conn: ConnId, h: &ConnHandle) -> &'a mut Outbox {
        let seq = outbox.len();
        outbox.entry(conn).or_insert_with(|| Outbox {
            seq,
            tx: h.tx.clone(),
            frames: Vec::new(),
            writes: 0,
            close: false,
        })
    }

    /// Queues `frame` for the connection `h` until the end of the log entry.
    fn hold(outbox: &mut HeldFrames, conn: ConnId, h: &ConnHandle, frame: Bytes) {
        Self::held(outbox, conn, h).frames.push(frame);
    }

    /// Sends what is held, each connection's frames in one message, connections in the order
    /// their first frame was held. A connection whose client has left more than `max_unsent`
    /// bytes untaken is dropped instead (see [`ConnQueue`]); their ids are returned, for the
    /// caller to forget under the hub's lock.
    fn send_held(held: HeldFrames, max_unsent: usize) -> Vec<ConnId> {
        let mut held: Vec<(ConnId, Outbox)> = held.into_iter().collect();
        held.sort_unstable_by_key(|(_, o)| o.seq);
        let mut dropped = Vec::new();
        for (conn, mut out) in held {
            if out.writes > 0 || out.frames.len() > 1 {
                out.tx.send(Outbound::Frames {
                    frames: out.frames,
                    writes: out.writes,
                });
            } else if let Some(f) = out.frames.pop() {
                out.tx.send(Outbound::Frame(f));
            }
            if out.close {
                out.tx.send(Outbound::Close);
            } else if out.tx.unsent() > max_unsent && !out.tx.aborted() {
                tracing::warn!(
                    conn,
                    unsent = out.tx.unsent(),
                    max_unsent,
                    "a client takes its replies and notifications too slowly; dropping its connection (its session lives on)"
                );
                out.tx.abort();
                dropped.push(conn);
            }
        }
        dropped
    }

    /// Sends what is held (under the hub's lock) and forgets the connections dropped for
    /// overflow.
    fn send_held_locked(&self, st: &mut HubState) {
        let dropped = Self::send_held(std::mem::take(&mut st.outbox), self.max_unsent);
        self.forget_dropped(st, dropped);
    }

    /// Forgets connections dropped for overflow, and their watches.
    fn forget_dropped(&self, st: &mut HubState, dropped: Vec<ConnId>) {
        for c in dropped {
            st.conns.remove(&c);
            st.watches.drop_conn(c);
            self.stats.overflow_drops.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues the close of connection `h` after its held frames.
    fn hold_close(outbox: &mut HeldFrames, conn: ConnId, h: &ConnHandle) {
        Self::held(outbox, conn, h).close = true;
    }
}

/// Connections, watches, and the listener of applied commands.
pub struct Hub {
    config: ZkConfig,
    /// Untaken output past which a connection is dropped (`zoolog.server.maxUnsentKB`).
    max_unsent: usize,
    state: Mutex<HubState>,
    sessions: Arc<SessionTracker>,
    stats: Arc<ServerStats>,
}

/// Encodes a reply frame payload (the record only when `err` is OK, as ZooKeeper does).
pub fn reply_frame(xid: i32, zxid: i64, err: ErrorCode, resp: &Response) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + resp.body_len());
    ReplyHeader {
        xid,
        zxid,
        err: err.as_i32(),
    }
    .encode(&mut out);
    if err == ErrorCode::Ok {
        resp.encode_body(&mut out);
    }
    out.freeze()
}

/// A notification frame: ReplyHeader{-1, -1, 0} + WatcherEvent (3.8 sends zxid -1).
pub fn notification_frame(event: EventType, path: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(16 + 12 + path.len());
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .encode(&mut out);
    WatcherEvent {
        event_type: event.as_i32(),
        state: KeeperState::SyncConnected.as_i32(),
        path: path.into(),
    }
    .encode(&mut out);
    out.freeze()
}

impl Hub {
    pub fn new(
        config: ZkConfig,
        max_unsent: usize,
        sessions: Arc<SessionTracker>,
        stats: Arc<ServerStats>,
    ) -> Self {
        Hub {
            config,
            max_unsent,
            state: Mutex::new(HubState {
                watches: WatchManager::new(),
                conns: BTreeMap::new(),
                expected: HashMap::default(),
                outbox: HashMap::default(),
            }),
            sessions,
            stats,
        }
    }

    /// The hub's lock.
    pub fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection; any other connection of the same session on this node is closed
    /// (§10.4).
    pub fn register(&self, id: ConnId, handle: ConnHandle) {
        let mut st = self.lock();
        let session = handle.session;
        let others: Vec<ConnId> = st
            .conns
            .iter()
            .filter(|(_, h)| h.session == session)
            .map(|(c, _)| *c)
            .collect();
        for c in others {
            if let Some(h) = st.conns.remove(&c) {
                h.tx.send(Outbound::Close);
            }
            st.watches.drop_conn(c);
        }
        st.conns.insert(id, handle);
    }

    /// Announces a write of `conn`: the listener will queue its reply when it is applied.
    /// `parked`: reads to run right after it (see [`Hub::park_read`]).
    pub fn expect_reply(&self, conn: ConnId, session: i64, xid: i32, parked: Vec<ParkedRead>) {
        self.lock()
            .expected
            .entry((session, xid))
            .or_default()
            .push_back(ExpectedReply {
                conn,
                parked,
                ran: None,
            });
    }

    /// Parks `read` behind the session's write `anchor` (the last one it proposed), to run
    /// right after that write in apply. Gives the read back if apply already reached the write:
    /// the caller then runs it itself once the write's reply is out.
    pub fn park_read(&self, session: i64, anchor: i32, read: ParkedRead) -> Option<ParkedRead> {
        let mut st = self.lock();
        match st
            .expected
            .get_mut(&(session, anchor))
            .and_then(|q| q.back_mut())
        {
            Some(e) if e.ran.is_none() => {
                e.parked.push(read);
                None
            }
            _ => Some(read),
        }
    }

    /// The connection's auth ids changed (an auth packet).
    pub fn set_auth(&self, conn: ConnId, auth: &[Id]) {
        if let Some(h) = self.lock().conns.get_mut(&conn) {
            h.auth = auth.to_vec();
        }
    }

    /// Forgets a closed connection and its watches.
    pub fn unregister(&self, id: ConnId) {
        let mut st = self.lock();
        st.conns.remove(&id);
        st.watches.drop_conn(id);
    }

    /// Closes every connection (the engine stack stopped: no write will be answered).
    pub fn close_all(&self) {
        let mut st = self.lock();
        let conns = std::mem::take(&mut st.conns);
        for (c, h) in conns {
            h.tx.send(Outbound::Close);
            st.watches.drop_conn(c);
        }
    }

    /// Closes every connection of `session`.
    pub fn close_session_connections(&self, session: i64) {
        let mut st = self.lock();
        let ids: Vec<ConnId> = st
            .conns
            .iter()
            .filter(|(_, h)| h.session == session)
            .map(|(c, _)| *c)
            .collect();
        for c in ids {
            if let Some(h) = st.conns.remove(&c) {
                h.tx.send(Outbound::Close);
            }
            st.watches.drop_conn(c);
        }
    }
}

impl ZkListener for Hub {
    fn applying(&self, outcome: &ZkOutcome, reader: &ZkReader<'_>) {
        let key = (outcome.session_id, outcome.cxid);
        let parked = {
            let mut st = self.lock();
            let Some(expected) = st.expected.get_mut(&key).and_then(|q| q.front_mut()) else {
                return;
            };
            expected.ran = Some(Vec::new());
            std::mem::take(&mut expected.parked)
        };
        if parked.is_empty() {
            return;
        }
        let frames: Vec<Bytes> = parked
            .into_iter()
            .map(|r| match reader.read(&r.req, outcome.session_id, &r.auth) {
                Ok(reply) => reply_frame(r.xid, outcome.zxid, reply.err, &reply.response),
                Err(e) => {
                    tracing::warn!(error = %e, "parked read failed");
                    reply_frame(
                        r.xid,
                        outcome.zxid,
                        ErrorCode::SystemError,
                        &Response::Empty,
                    )
                }
            })
            .collect();
        if let Some(expected) = self
            .lock()
            .expected
            .get_mut(&key)
            .and_then(|q| q.front_mut())
        {
            expected.ran = Some(frames);
        }
    }

    fn applied(&self, _pos: Pos, outcome: &ZkOutcome) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let mut notes = Vec::new();
        let mut notified = false;
        for t in &outcome.triggers {
            notes.clear();
            st.watches.fire(t, &mut notes);
            for (conn, event, path) in notes.drain(..) {
                let Some(h) = st.conns.get(&conn) else {
                    continue;
                };
                // A watcher that may not read the node is not told (the watch is still used).
                if !t.acl.is_empty() && !acl::check_acl(&self.config, &t.acl, Perms::READ, &h.auth)
                {
                    continue;
                }
                self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                let frame = notification_frame(event, &path);
                Self::hold(&mut st.outbox, conn, h, frame);
                notified = true;
            }
        }
        if notified {
            // As in ZooKeeper, the notifications leave before the reply of the write that
            // caused them, whichever connections they go to: send everything held so far now.
            self.send_held_locked(st);
        }
        if let Some(waiting) = st.expected.get_mut(&(outcome.session_id, outcome.cxid))
            && let Some(expected) = waiting.pop_front()
        {
            if waiting.is_empty() {
                st.expected.remove(&(outcome.session_id, outcome.cxid));
            }
            if let Some(h) = st.conns.get(&expected.conn) {
                h.stats.last_zxid.store(outcome.zxid, Ordering::Relaxed);
                let frame = reply_frame(outcome.cxid, outcome.zxid, outcome.err, &outcome.response);
                let reads = expected.ran.unwrap_or_default();
                let sent = 1 + reads.len() as u64;
                h.stats.sent.fetch_add(sent, Ordering::Relaxed);
                self.stats.packets_sent.fetch_add(sent, Ordering::Relaxed);
                let out = Self::held(&mut st.outbox, expected.conn, h);
                out.frames.push(frame);
                out.writes += 1;
                for r in reads {
                    Self::hold(&mut st.outbox, expected.conn, h, r);
                }
                if !expected.parked.is_empty() {
                    // Apply never reached them (cannot happen: `applying` runs first); the
                    // session's order is lost, so the connection goes.
                    tracing::error!(
                        session = format_args!("0x{:x}", outcome.session_id),
                        "reads parked behind a write were not run; closing the connection"
                    );
                    Self::hold_close(&mut st.outbox, expected.conn, h);
                }
            }
        }
        for closed in &outcome.closed_sessions {
            self.sessions.remove(closed.session_id);
            if closed.expired {
                let ids: Vec<ConnId> = st
                    .conns
                    .iter()
                    .filter(|(_, h)| h.session == closed.session_id)
                    .map(|(c, _)| *c)
                    .collect();
                for c in ids {
                    if let Some(h) = st.conns.remove(&c) {
                        Self::hold_close(&mut st.outbox, c, &h);
                    }
                    st.watches.drop_conn(c);
                }
            }
        }
    }

    fn flush(&self) {
        let held = std::mem::take(&mut self.lock().outbox);
        if held.is_empty() {
            return;
        }
        let dropped = Self::send_held(held, self.max_unsent);
        if !dropped.is_empty() {
            self.forget_dropped(&mut self.lock(), dropped);
        }
    }
}
