//! `ZkStateMachine`: applies [`ZkCommand`]s to the data tree — validation and execution exactly
//! as ZooKeeper 3.8 does them, one zxid per command (failed writes and multis included, as
//! ZooKeeper's error transactions consume one), all-or-nothing multi with ZooKeeper's per-op
//! results — and produces a [`ZkOutcome`].
//!
//! Layer: `zk/`; reads and writes the ZooKeeper partition of the LocalStore through the apply
//! transaction it is given, nothing else. **Deterministic**: a pure function of (store state,
//! command, config). Each command runs against its own `Overlay` and reaches the transaction
//! only if it succeeds, so commands batched into one transaction stay atomic.

use std::sync::Arc;

use zoolog_jute::{
    Create2Response, CreateResponse, ErrorCode, GetDataResponse, MultiOp, MultiRequest,
    MultiResponse, MultiResult, Request, Response, SetAclResponse, SetDataResponse,
};

use crate::store::{Partition, RwTxn, StoreError};

use super::children_cache::ChildrenCache;
use super::command::{ZkCommand, ZkOp};
use super::config::ZkConfig;
use super::exec::{CreateArgs, CreateType, Exec, Fail};
use super::keys;
use super::node_memo::NodeMemo;
use super::outcome::ZkOutcome;
use super::overlay::Overlay;
use super::tree;
use super::view::StoreView;

/// Listings of fewer children are scanned every time (cheap, and they change more often).
const CACHED_LISTING_MIN: usize = 64;
/// Memory for cached listings: about 200,000 names of 32 bytes.
const CACHED_LISTINGS_BYTES: usize = 16 << 20;

/// The ZooKeeper state machine over one partition of the LocalStore.
#[derive(Debug, Clone)]
pub struct ZkStateMachine {
    partition: Partition,
    config: ZkConfig,
    /// Soft state for readers (never read by a state change).
    children: Arc<ChildrenCache>,
    /// Apply's decoded nodes, by the bytes they came from (changes no result; see
    /// [`NodeMemo`]).
    memo: Arc<NodeMemo>,
}

/// What executing a command produced, before the zxid is written.
struct Executed {
    err: ErrorCode,
    response: Response,
    commit: bool,
}

impl Executed {
    fn ok(response: Response) -> Self {
        Executed {
            err: ErrorCode::Ok,
            response,
            commit: true,
        }
    }

    fn failed(err: ErrorCode) -> Self {
        Executed {
            err,
            response: Response::Empty,
            commit: false,
        }
    }
}

/// Turns a single operation's result into its reply.
fn single<T>(
    r: Result<T, Fail>,
    reply: impl FnOnce(T) -> Response,
) -> Result<Executed, StoreError> {
    match r {
        Ok(v) => Ok(Executed::ok(reply(v))),
        Err(Fail::Code(c) | Fail::AbortMulti(c)) => Ok(Executed::failed(c)),
        Err(Fail::Store(e)) => Err(e),
    }
}

impl ZkStateMachine {
    /// The conventional name of the ZooKeeper partition.
    pub const PARTITION: &'static str = "zk";

    /// A state machine over `partition` (obtain it with
    /// `LocalStore::partition(ZkStateMachine::PARTITION)`).
    pub fn new(partition: Partition, config: ZkConfig) -> Self {
        ZkStateMachine {
            partition,
            config,
            children: Arc::new(ChildrenCache::new(
                CACHED_LISTING_MIN,
                CACHED_LISTINGS_BYTES,
            )),
            memo: Arc::new(NodeMemo::default()),
        }
    }

    /// Recent listings of wide znodes, for readers.
    pub(crate) fn children_cache(&self) -> &ChildrenCache {
        &self.children
    }

    pub fn config(&self) -> &ZkConfig {
        &self.config
    }

    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// Writes the initial tree (`/`, `/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`,
    /// zxid 0) if the partition has none; returns whether it did. Apply does this by itself
    /// before the first command; calling it at startup makes reads work before any write, and
    /// refuses a tree written in another key layout.
    pub fn initialize(&self, txn: &mut RwTxn<'_>) -> Result<bool, StoreError> {
        let writes = {
            let view = StoreView::new(&*txn, &self.partition);
            if tree::last_zxid(&view)?.is_some() {
                tree::check_layout(&view)?;
                return Ok(false);
            }
            let mut ov = Overlay::new(view);
            tree::initialize(&mut ov, self.config.ensemble_config.as_ref());
            ov.into_writes()?
        };
        writes.write_to(txn, &self.partition);
        Ok(true)
    }

    /// Applies one command inside `txn`. `Ok` is a deterministic outcome (a rejected write
    /// included); `Err` is a store failure, after which the transaction must be dropped.
    pub fn apply(&self, txn: &mut RwTxn<'_>, cmd: &ZkCommand) -> Result<ZkOutcome, StoreError> {
        let last = tree::last_zxid(&StoreView::new(&*txn, &self.partition))?;
        let last = match last {
            Some(z) => z,
            None => {
                self.initialize(txn)?;
                0
            }
        };
        let zxid = last.wrapping_add(1);
        let (executed, triggers, closed, writes) = {
            let view = StoreView::with_memo(&*txn, &self.partition, &self.memo);
            let mut exec = Exec::new(&self.config, cmd, zxid, Overlay::new(view));
            let executed = self.execute(&mut exec)?;
            let writes = if executed.commit {
                Some(exec.ov.into_writes()?)
            } else {
                None
            };
            let (triggers, closed) = if executed.commit {
                (exec.triggers, exec.closed)
            } else {
                (Vec::new(), Vec::new())
            };
            (executed, triggers, closed, writes)
        };
        if let Some(w) = writes {
            w.write_to(txn, &self.partition);
        }
        txn.put(
            &self.partition,
            keys::META_ZXID.to_vec(),
            zxid.to_be_bytes().to_vec(),
        );
        let session_id = match &cmd.op {
            ZkOp::CreateSession { session_id, .. }
            | ZkOp::CloseSession { session_id }
            | ZkOp::ExpireSession { session_id }
            | ZkOp::AttachSession { session_id, .. }
            | ZkOp::ExpireOwnedSession { session_id, .. } => *session_id,
            _ => cmd.session_id,
        };
        Ok(ZkOutcome {
            zxid,
            err: executed.err,
            session_id,
            cxid: cmd.cxid,
            response: executed.response,
            triggers,
            closed_sessions: closed,
        })
    }

    fn execute(&self, x: &mut Exec<'_, '_>) -> Result<Executed, StoreError> {
        let cmd = x.cmd;
        match &cmd.op {
            ZkOp::Request(req) => self.execute_request(x, req),
            ZkOp::CreateSession {
                session_id,
                timeout_ms,
            } => single(x.create_session(*session_id, *timeout_ms), |()| {
                Response::Empty
            }),
            ZkOp::CloseSession { session_id } => {
                single(x.close_session(*session_id, false), |()| Response::Empty)
            }
            ZkOp::ExpireSession { session_id } => {
                single(x.close_session(*session_id, true), |()| Response::Empty)
            }
            ZkOp::AttachSession {
                session_id,
                owner,
                timeout_ms,
            } => single(x.attach_session(*session_id, *owner, *timeout_ms), |()| {
                Response::Empty
            }),
            ZkOp::ExpireOwnedSession { session_id, owner } => {
                single(x.expire_owned_session(*session_id, *owner), |()| {
                    Response::Empty
                })
            }
            ZkOp::DeleteContainer { path } => {
                single(x.cleanup_container(path), |()| Response::Empty)
            }
            ZkOp::ExpireTtl { path } => single(x.expire_ttl(path), |()| Response::Empty),
            ZkOp::Rejected { err } => Ok(Executed::failed(
                ErrorCode::from_i32(*err).unwrap_or(ErrorCode::MarshallingError),
            )),
        }
    }

    fn execute_request(&self, x: &mut Exec<'_, '_>, req: &Request) -> Result<Executed, StoreError> {
        match req {
            Request::Create(r) => single(x.create(CreateType::Plain, plain(r)), |(path, _)| {
                Response::Create(CreateResponse { path: path.into() })
            }),
            Request::Create2(r) => single(x.create(CreateType::Plain, plain(r)), create2),
            Request::CreateContainer(r) => {
                single(x.create(CreateType::Container, plain(r)), create2)
            }
            Request::CreateTtl(r) => single(
                x.create(
                    CreateType::Ttl,
                    CreateArgs {
                        path: &r.path,
                        data: r.data.clone(),
                        acl: r.acl.as_deref(),
                        flags: r.flags,
                        ttl: r.ttl,
                    },
                ),
                create2,
            ),
            Request::Delete(r) => single(x.delete(&r.path, r.version), |()| Response::Empty),
            Request::SetData(r) => single(x.set_data(&r.path, r.data.clone(), r.version), |stat| {
                Response::SetData(SetDataResponse { stat })
            }),
            Request::SetAcl(r) => single(x.set_acl(&r.path, r.acl.as_deref(), r.version), |stat| {
                Response::SetAcl(SetAclResponse { stat })
            }),
            Request::Multi(m) => self.execute_multi(x, m),
            Request::Reconfig(r) => single(x.reconfig(r), |(data, stat)| {
                Response::GetData(GetDataResponse {
                    data: Some(data),
                    stat,
                })
            }),
            Request::CloseSession => single(x.close_session(x.cmd.session_id, false), |()| {
                Response::Empty
            }),
            // ZooKeeper 3.8.0 reads a client's deleteContainer body as raw path bytes, length
            // prefix included, so the "path" holds a '\0' and the answer is always BADARGUMENTS
            // (observed). Internal cleanup uses ZkOp::DeleteContainer instead.
            Request::DeleteContainer(_) => Ok(Executed::failed(ErrorCode::BadArguments)),
            // Top-level check: ZooKeeper ≥ 3.9.3 answers UNIMPLEMENTED (≤ 3.8 sends no reply and
            // corrupts its log). Anything else is not a write.
            _ => Ok(Executed::failed(ErrorCode::Unimplemented)),
        }
    }

    /// multi (§9.3): ops run in order against the command's overlay, each seeing the earlier
    /// ones; the first failure discards everything, and the results become `Error(0)` before
    /// it, its code at it, `Error(-2)` after it. The reply's err is 0 either way.
    fn execute_multi(
        &self,
        x: &mut Exec<'_, '_>,
        m: &MultiRequest,
    ) -> Result<Executed, StoreError> {
        let mut results = Vec::with_capacity(m.ops.len());
        for (i, op) in m.ops.iter().enumerate() {
            match self.multi_op(x, op) {
                Ok(r) => results.push(r),
                Err(Fail::Code(code)) => {
                    let results = (0..m.ops.len())
                        .map(|j| {
                            MultiResult::Error(match j.cmp(&i) {
                                std::cmp::Ordering::Less => ErrorCode::Ok.as_i32(),
                                std::cmp::Ordering::Equal => code.as_i32(),
                                std::cmp::Ordering::Greater => {
                                    ErrorCode::RuntimeInconsistency.as_i32()
                                }
                            })
                        })
                        .collect();
                    return Ok(Executed {
                        err: ErrorCode::Ok,
                        response: Response::Multi(MultiResponse { results }),
                        commit: false,
                    });
                }
                Err(Fail::AbortMulti(code)) => return Ok(Executed::failed(code)),
                Err(Fail::Store(e)) => return Err(e),
            }
        }
        Ok(Executed::ok(Response::Multi(MultiResponse { results })))
    }

    /// One op of a multi. As in 3.8.0 (`MultiOperationRecord` → `Op.create(…, flags)`), the
    /// kind of a create op comes from its flags, not from its header's opcode: container flags
    /// make a container (answered with a create2 result), TTL flags a TTL node (create2 result)
    /// — or, in a non-TTL record, `MARSHALLINGERROR` for the whole request — and anything else a
    /// plain create answered with a path-only create result. Observed on the wire.
    fn multi_op(&self, x: &mut Exec<'_, '_>, op: &MultiOp) -> Result<MultiResult, Fail> {
        let create2_result = |(path, stat): (String, zoolog_jute::Stat)| {
            MultiResult::Create2(Create2Response {
                path: path.into(),
                stat,
            })
        };
        match op {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                let mode = zoolog_jute::CreateMode::from_i32(r.flags);
                let args = plain(r);
                if mode.is_some_and(|m| m.is_ttl()) {
                    return Err(Fail::AbortMulti(ErrorCode::MarshallingError));
                }
                if mode.is_some_and(|m| m.is_container()) {
                    return x.create(CreateType::Container, args).map(create2_result);
                }
                let created = x.create(CreateType::Plain, args)?;
                if self.config.multi_create2_returns_stat && matches!(op, MultiOp::Create2(_)) {
                    Ok(create2_result(created))
                } else {
                    Ok(MultiResult::Create(CreateResponse {
                        path: created.0.into(),
                    }))
                }
            }
            MultiOp::CreateTtl(r) => {
                let mode = zoolog_jute::CreateMode::from_i32(r.flags);
                let mut args = CreateArgs {
                    path: &r.path,
                    data: r.data.clone(),
                    acl: r.acl.as_deref(),
                    flags: r.flags,
                    ttl: r.ttl,
                };
                if mode.is_some_and(|m| m.is_ttl()) {
                    return x.create(CreateType::Ttl, args).map(create2_result);
                }
                // Not a TTL mode: the TTL is dropped and the op is an ordinary create.
                args.ttl = -1;
                if mode.is_some_and(|m| m.is_container()) {
                    return x.create(CreateType::Container, args).map(create2_result);
                }
                let (path, _) = x.create(CreateType::Plain, args)?;
                Ok(MultiResult::Create(CreateResponse { path: path.into() }))
            }
            MultiOp::Delete(r) => x.delete(&r.path, r.version).map(|()| MultiResult::Delete),
            MultiOp::SetData(r) => x
                .set_data(&r.path, r.data.clone(), r.version)
                .map(|stat| MultiResult::SetData(SetDataResponse { stat })),
            MultiOp::Check(r) => x.check(&r.path, r.version).map(|()| MultiResult::Check),
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                Err(Fail::AbortMulti(ErrorCode::MarshallingError))
            }
        }
    }
}

/// The arguments of a create whose record has no TTL.
fn plain(r: &zoolog_jute::CreateRequest) -> CreateArgs<'_> {
    CreateArgs {
        path: &r.path,
        data: r.data.clone(),
        acl: r.acl.as_deref(),
        flags: r.flags,
        ttl: -1,
    }
}

fn create2((path, stat): (String, zoolog_jute::Stat)) -> Response {
    Response::Create2(Create2Response {
        path: path.into(),
        stat,
    })
}
