//! `ZkReader`: ZooKeeper reads against a consistent view of the store (a `ReadSnapshot`, or any
//! `StoreRead`) — getData, exists, getChildren(2), getACL, getAllChildrenNumber, getEphemerals,
//! multiRead — answering exactly as ZooKeeper's `FinalRequestProcessor` does, plus the lookups
//! the server layer needs (last zxid, sessions, cleanup candidates, setWatches catch-up).
//!
//! Layer: `zk/`; reads the ZooKeeper partition through `StoreRead`, writes nothing. Watch
//! registration is the server's business: ZooKeeper registers an exists watch whatever the
//! result, and getData/getChildren watches only when the reply's err is 0.

use bytestring::ByteString;
use zoolog_jute::{
    Acl, ErrorCode, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, Id, MultiOp, MultiResponse,
    MultiResult, Perms, Request, Response, Stat,
};

use crate::store::{StoreError, StoreRead};

use super::acl;
use super::apply::ZkStateMachine;
use super::exec::{container_eligible, ttl_expired};
use super::keys;
use super::node::Node;
use super::overlay::node_count;
use super::path;
use super::tree;
use super::view::{StoreView, TreeRead};

/// A read's reply: `ReplyHeader.err` and the record ([`Response::Empty`] on error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReply {
    pub err: ErrorCode,
    pub response: Response,
}

impl ReadReply {
    fn ok(response: Response) -> Self {
        ReadReply {
            err: ErrorCode::Ok,
            response,
        }
    }

    fn err(err: ErrorCode) -> Self {
        ReadReply {
            err,
            response: Response::Empty,
        }
    }
}

/// What setWatches catch-up needs to know about a watched path (§6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchProbe {
    pub mzxid: i64,
    pub pzxid: i64,
}

/// Which cleanup a candidate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupKind {
    /// Propose `ZkOp::DeleteContainer`.
    Container,
    /// Propose `ZkOp::ExpireTtl`.
    Ttl,
}

/// A node the cleanup proposer should propose deleting (`ContainerManager.getCandidates`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupCandidate {
    pub path: String,
    pub kind: CleanupKind,
}

/// Reads of the ZooKeeper tree at one consistent point.
pub struct ZkReader<'a> {
    sm: &'a ZkStateMachine,
    view: StoreView<'a>,
}

type Checked<T> = Result<Result<T, ErrorCode>, StoreError>;

impl ZkStateMachine {
    /// Reads against `store` (a `ReadSnapshot`, or the apply transaction).
    pub fn reader<'a>(&'a self, store: &'a dyn StoreRead) -> ZkReader<'a> {
        ZkReader {
            sm: self,
            view: StoreView::new(store, self.partition()),
        }
    }
}

impl ZkReader<'_> {
    fn ext(&self) -> bool {
        self.sm.config().extended_types_enabled
    }

    fn can(&self, node: &Node, perm: Perms, auth: &[Id]) -> bool {
        acl::check_acl(self.sm.config(), &node.acl, perm, auth)
    }

    /// The node if it exists and `auth` has `perm` on it (NONODE / NOAUTH otherwise).
    fn readable(&self, path: &str, perm: Perms, auth: &[Id]) -> Checked<Node> {
        let Some(node) = self.view.node(path)? else {
            return Ok(Err(ErrorCode::NoNode));
        };
        if !self.can(&node, perm, auth) {
            return Ok(Err(ErrorCode::NoAuth));
        }
        Ok(Ok(node))
    }

    fn reply<T>(r: Checked<T>, f: impl FnOnce(T) -> Response) -> Result<ReadReply, StoreError> {
        Ok(match r? {
            Ok(v) => ReadReply::ok(f(v)),
            Err(e) => ReadReply::err(e),
        })
    }

    fn data_response(&self, node: Node) -> GetDataResponse {
        let stat = node.client_stat(self.ext());
        GetDataResponse {
            data: node.into_data(),
            stat,
        }
    }

    /// The data of `/zookeeper/config` (the ensemble's membership), unchecked.
    pub fn config_data(&self) -> Result<Option<bytes::Bytes>, StoreError> {
        Ok(self
            .view
            .node(super::path::CONFIG)?
            .and_then(|n| n.into_data()))
    }

    /// getData: READ on the node.
    pub fn get_data(&self, path: &str, auth: &[Id]) -> Result<ReadReply, StoreError> {
        let r = self.readable(path, Perms::READ, auth)?;
        Self::reply(Ok(r), |n| Response::GetData(self.data_response(n)))
    }

    /// exists: `BADARGUMENTS` for a `\0` in the path. 3.8.0 checks no ACL (observed); with
    /// [`ZkConfig::exists_checks_read`](super::ZkConfig) READ is needed on an existing node.
    pub fn exists(&self, path: &str, auth: &[Id]) -> Result<ReadReply, StoreError> {
        if path.contains('\0') {
            return Ok(ReadReply::err(ErrorCode::BadArguments));
        }
        let Some(node) = self.view.node(path)? else {
            return Ok(ReadReply::err(ErrorCode::NoNode));
        };
        if self.sm.config().exists_checks_read && !self.can(&node, Perms::READ, auth) {
            return Ok(ReadReply::err(ErrorCode::NoAuth));
        }
        Ok(ReadReply::ok(Response::Exists(
            zoolog_jute::ExistsResponse {
                stat: node.client_stat(self.ext()),
            },
        )))
    }

    /// READ on the node, then its children: from the listing cache when the node's children
    /// are the ones it holds, else scanned (and cached if the node is wide).
    fn children_of(&self, path: &str, auth: &[Id]) -> Checked<(Node, Vec<ByteString>)> {
        let node = match self.readable(path, Perms::READ, auth)? {
            Ok(node) => node,
            Err(e) => return Ok(Err(e)),
        };
        let cache = self.sm.children_cache();
        let key = path::normalize(path);
        let version = (
            node.stat.czxid,
            node.stat.cversion,
            node.stat.pzxid,
            node.num_children,
        );
        if let Some(names) = cache.get(key, version) {
            return Ok(Ok((node, names.to_vec())));
        }
        let names: Vec<ByteString> = tree::children(&self.view, path)?
            .into_iter()
            .map(ByteString::from)
            .collect();
        cache.put(key, version, &names);
        Ok(Ok((node, names)))
    }

    /// getChildren: READ on the node; names in byte order (ZooKeeper's order is unspecified).
    pub fn get_children(&self, path: &str, auth: &[Id]) -> Result<ReadReply, StoreError> {
        Self::reply(self.children_of(path, auth), |(_, children)| {
            Response::GetChildren(GetChildrenResponse { children })
        })
    }

    /// getChildren2: getChildren plus the node's Stat.
    pub fn get_children2(&self, path: &str, auth: &[Id]) -> Result<ReadReply, StoreError> {
        let ext = self.ext();
        Self::reply(self.children_of(path, auth), |(node, children)| {
            Response::GetChildren2(GetChildren2Response {
                children,
                stat: node.client_stat(ext),
            })
        })
    }

    /// getACL: READ or ADMIN; without ADMIN, digest ids are masked to `user:x`.
    pub fn get_acl(&self, path: &str, auth: &[Id]) -> Result<ReadReply, StoreError> {
        let r = self.readable(path, Perms(Perms::READ.0 | Perms::ADMIN.0), auth)?;
        Self::reply(Ok(r), |node| {
            let stat = node.client_stat(self.ext());
            let admin = self.can(&node, Perms::ADMIN, auth);
            let acl: Vec<Acl> = if admin {
                node.acl
            } else {
                acl::mask_digests(node.acl)
            };
            Response::GetAcl(GetAclResponse { acl, stat })
        })
    }

    /// getAllChildrenNumber: READ; the number of all descendants. As in ZooKeeper, `/` counts
    /// every node but the root, and `""` (the root's alias) every node.
    pub fn get_all_children_number(
        &self,
        path: &str,
        auth: &[Id],
    ) -> Result<ReadReply, StoreError> {
        if let Err(e) = self.readable(path, Perms::READ, auth)? {
            return Ok(ReadReply::err(e));
        }
        let total = node_count(&self.view)?;
        let n = match path {
            "/" => total.saturating_sub(1),
            "" => total,
            p => tree::descendant_count(&self.view, p)?,
        };
        Ok(ReadReply::ok(Response::GetAllChildrenNumber(
            GetAllChildrenNumberResponse {
                total_number: i32::try_from(n).unwrap_or(i32::MAX),
            },
        )))
    }

    /// getEphemerals: the calling session's ephemerals starting with `prefix`; a null, blank or
    /// `/` prefix (after Java's `trim`) means all. No ACL check.
    pub fn get_ephemerals(
        &self,
        session: i64,
        prefix: Option<&str>,
    ) -> Result<ReadReply, StoreError> {
        let all = tree::ephemerals(&self.view, session)?;
        let everything = prefix.is_none_or(|p| {
            let t = p.trim_matches(|c: char| c <= ' ');
            t.is_empty() || t == "/"
        });
        let ephemerals = all
            .into_iter()
            .filter(|e| everything || prefix.is_some_and(|p| e.starts_with(p)))
            .map(Into::into)
            .collect();
        Ok(ReadReply::ok(Response::GetEphemerals(
            GetEphemeralsResponse { ephemerals },
        )))
    }

    /// multiRead: each op on its own, an `Error(code)` result for a failed one; err 0.
    pub fn multi_read(&self, ops: &[MultiOp], auth: &[Id]) -> Result<ReadReply, StoreError> {
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let r = match op {
                MultiOp::GetChildren(g) => match self.children_of(&g.path, auth)? {
                    Ok((_, children)) => MultiResult::GetChildren(GetChildrenResponse { children }),
                    Err(e) => MultiResult::Error(e.as_i32()),
                },
                MultiOp::GetData(g) => match self.readable(&g.path, Perms::READ, auth)? {
                    Ok(node) => MultiResult::GetData(self.data_response(node)),
                    Err(e) => MultiResult::Error(e.as_i32()),
                },
                // Not a read: the request decoder refuses such a multiRead.
                _ => return Ok(ReadReply::err(ErrorCode::MarshallingError)),
            };
            results.push(r);
        }
        Ok(ReadReply::ok(Response::Multi(MultiResponse { results })))
    }

    /// Dispatches a read request of `session` (`UNIMPLEMENTED` for anything that is not one of
    /// the reads above).
    pub fn read(&self, req: &Request, session: i64, auth: &[Id]) -> Result<ReadReply, StoreError> {
        match req {
            Request::GetData(r) => self.get_data(&r.path, auth),
            Request::Exists(r) => self.exists(&r.path, auth),
            Request::GetChildren(r) => self.get_children(&r.path, auth),
            Request::GetChildren2(r) => self.get_children2(&r.path, auth),
            Request::GetAcl(r) => self.get_acl(&r.path, auth),
            Request::GetAllChildrenNumber(r) => self.get_all_children_number(&r.path, auth),
            Request::GetEphemerals(r) => self.get_ephemerals(session, r.prefix_path.as_deref()),
            Request::MultiRead(m) => self.multi_read(&m.ops, auth),
            _ => Ok(ReadReply::err(ErrorCode::Unimplemented)),
        }
    }

    /// The zxid of the last applied command (0 before any).
    pub fn last_zxid(&self) -> Result<i64, StoreError> {
        Ok(tree::last_zxid(&self.view)?.unwrap_or(0))
    }

    /// Whether `session` is in the session table.
    pub fn session_exists(&self, session: i64) -> Result<bool, StoreError> {
        Ok(tree::session_timeout(&self.view, session)?.is_some())
    }

    /// The timeout `session` was created with.
    pub fn session_timeout(&self, session: i64) -> Result<Option<i32>, StoreError> {
        tree::session_timeout(&self.view, session)
    }

    /// Every session with its timeout and the server that serves it (to rebuild session timers
    /// after a restart).
    pub fn sessions(&self) -> Result<Vec<(i64, i32, u64)>, StoreError> {
        tree::sessions(&self.view)
    }

    /// The server serving `session` (its creator until it moved), if the session exists.
    pub fn session_owner(&self, session: i64) -> Result<Option<u64>, StoreError> {
        Ok(tree::session_record(&self.view, session)?.map(|(_, o)| o))
    }

    /// The ephemeral paths of `session`, in byte order.
    pub fn ephemerals(&self, session: i64) -> Result<Vec<String>, StoreError> {
        tree::ephemerals(&self.view, session)
    }

    /// The number of znodes (root included).
    pub fn node_count(&self) -> Result<u64, StoreError> {
        node_count(&self.view)
    }

    /// The client-visible Stat of `path`, if it exists (no ACL check).
    pub fn stat(&self, path: &str) -> Result<Option<Stat>, StoreError> {
        Ok(self.view.node(path)?.map(|n| n.client_stat(self.ext())))
    }

    /// The ACL of `path`, if it exists (for filtering notifications by READ, as 3.8.4+ does).
    pub fn acl(&self, path: &str) -> Result<Option<Vec<Acl>>, StoreError> {
        Ok(self.view.node(path)?.map(|n| n.acl))
    }

    /// setWatches catch-up: the mzxid and pzxid of `path`, or `None` if it does not exist.
    pub fn watch_probe(&self, path: &str) -> Result<Option<WatchProbe>, StoreError> {
        Ok(self.view.node(path)?.map(|n| WatchProbe {
            mzxid: n.stat.mzxid,
            pzxid: n.stat.pzxid,
        }))
    }

    /// The containers and TTL nodes to clean up at `now_ms` (the proposer's clock): childless
    /// containers that had a child (or, with `container_max_never_used_ms`, stayed unused too
    /// long), and childless TTL nodes whose mtime is more than their TTL ago. Apply re-checks
    /// each with the command's time.
    pub fn cleanup_candidates(&self, now_ms: i64) -> Result<Vec<CleanupCandidate>, StoreError> {
        let cfg = self.sm.config();
        let mut out = Vec::new();
        for (tag, kind) in [
            (keys::CONTAINER, CleanupKind::Container),
            (keys::TTL, CleanupKind::Ttl),
        ] {
            for p in tree::paths_under(&self.view, &[tag])? {
                let Some(node) = self.view.node(&p)? else {
                    continue;
                };
                if node.num_children != 0 {
                    continue;
                }
                let due = match kind {
                    CleanupKind::Container => container_eligible(cfg, &node, now_ms),
                    CleanupKind::Ttl => ttl_expired(cfg, &node, now_ms),
                };
                if due {
                    out.push(CleanupCandidate { path: p, kind });
                }
            }
        }
        Ok(out)
    }
}
