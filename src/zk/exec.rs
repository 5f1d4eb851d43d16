//! `Exec`: the execution of one command's operations against its [`Overlay`] — ZooKeeper's
//! `PrepRequestProcessor` checks (in its exact order, which decides which error a client sees)
//! fused with the `DataTree` changes they lead to.
//!
//! Layer: `zk/`; reads and writes only the overlay. Deterministic: time is the command's, and
//! nothing is iterated out of a hash map.

use bytes::Bytes;
use zoolog_jute::{Acl, CreateMode, ErrorCode, Perms, Stat};

use crate::store::StoreError;

use super::acl;
use super::command::ZkCommand;
use super::config::ZkConfig;
use super::membership::Membership;
use super::node::{CONTAINER_OWNER, Node, NodeKind};
use super::outcome::{ClosedSession, WatchTrigger};
use super::overlay::Overlay;
use super::path;
use super::tree;
use super::view::TreeRead;

/// Why an operation did not happen.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A deterministic ZooKeeper error (the command still consumes its zxid).
    Code(ErrorCode),
    /// Inside a multi: the whole request fails with this code and no per-op results (ZooKeeper
    /// 3.8.0 answers `MARSHALLINGERROR` for a create op whose flags ask for a TTL node).
    AbortMulti(ErrorCode),
    /// The store failed: not deterministic, apply must stop.
    Store(StoreError),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<ErrorCode> for Fail {
    fn from(c: ErrorCode) -> Self {
        Fail::Code(c)
    }
}

/// The transaction type a create becomes (ZooKeeper decides the node's kind from it, not from
/// the flags alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateType {
    /// `create`/`create2`: persistent or (by flag) ephemeral.
    Plain,
    /// `createContainer`: always a container, whatever the flags.
    Container,
    /// `createTTL`.
    Ttl,
}

/// One create's arguments.
pub(crate) struct CreateArgs<'r> {
    pub path: &'r str,
    pub data: Option<Bytes>,
    pub acl: Option<&'r [Acl]>,
    pub flags: i32,
    /// -1 for records without a TTL.
    pub ttl: i64,
}

/// The execution context of one command.
pub(crate) struct Exec<'o, 'a> {
    pub cfg: &'o ZkConfig,
    pub cmd: &'o ZkCommand,
    pub zxid: i64,
    pub ov: Overlay<'a>,
    pub triggers: Vec<WatchTrigger>,
    pub closed: Vec<ClosedSession>,
}

impl<'o, 'a> Exec<'o, 'a> {
    pub(crate) fn new(cfg: &'o ZkConfig, cmd: &'o ZkCommand, zxid: i64, ov: Overlay<'a>) -> Self {
        Exec {
            cfg,
            cmd,
            zxid,
            ov,
            triggers: Vec::new(),
            closed: Vec::new(),
        }
    }

    fn ext(&self) -> bool {
        self.cfg.extended_types_enabled
    }

    fn allowed(&self, node_acl: &[Acl], perm: Perms) -> Result<(), Fail> {
        if acl::check_acl(self.cfg, node_acl, perm, &self.cmd.auth) {
            Ok(())
        } else {
            Err(Fail::Code(ErrorCode::NoAuth))
        }
    }

    /// `SessionTracker.checkSession`: the command's session must be live.
    fn check_session(&self) -> Result<(), Fail> {
        match tree::session_timeout(&self.ov, self.cmd.session_id)? {
            Some(_) => Ok(()),
            None => Err(Fail::Code(ErrorCode::SessionExpired)),
        }
    }

    fn node(&self, path: &str) -> Result<Node, Fail> {
        self.ov.node(path)?.ok_or(Fail::Code(ErrorCode::NoNode))
    }

    /// `checkAndIncVersion`: -1 matches any version; the new version wraps like a Java int.
    fn bump_version(current: i32, expected: i32) -> Result<i32, Fail> {
        if expected != -1 && expected != current {
            return Err(Fail::Code(ErrorCode::BadVersion));
        }
        Ok(current.wrapping_add(1))
    }

    /// `getParentPathAndValidate`: the parent of a node to delete.
    fn parent_for_delete(p: &str) -> Result<&str, Fail> {
        match path::split(p) {
            Some((parent, _)) if !p.contains('\0') && !path::is_special(p) => Ok(parent),
            _ => Err(Fail::Code(ErrorCode::BadArguments)),
        }
    }

    /// `pRequest2TxnCreate` + `DataTree.createNode`; returns the final path and the new node's
    /// Stat.
    pub(crate) fn create(
        &mut self,
        ty: CreateType,
        args: CreateArgs<'_>,
    ) -> Result<(String, Stat), Fail> {
        let mode = CreateMode::from_i32(args.flags).ok_or(ErrorCode::BadArguments)?;
        // validateCreateRequest
        if mode.is_ttl() && !self.ext() {
            return Err(Fail::Code(ErrorCode::Unimplemented));
        }
        if mode.is_ttl() {
            if NodeKind::ttl_owner(args.ttl).is_none() {
                return Err(Fail::Code(ErrorCode::BadArguments));
            }
        } else if args.ttl >= 0 {
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        if ty == CreateType::Ttl && !mode.is_ttl() {
            // ZooKeeper 3.8.0 accepts createTTL with a non-TTL mode and ttl -1 at prep, then
            // fails applying it (observed: the server dies). Refuse it up front instead.
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        self.check_session()?;
        // validatePathForCreate
        let parent_path = match path::split(args.path) {
            Some((parent, _)) if !args.path.contains('\0') => parent,
            _ => return Err(Fail::Code(ErrorCode::BadArguments)),
        };
        let acl = acl::fixup_acl(self.cfg, &self.cmd.auth, args.acl)?;
        let parent = self.node(parent_path)?;
        self.allowed(&parent.acl, Perms::CREATE)?;
        let path = if mode.is_sequential() {
            format!(
                "{}{}",
                args.path,
                path::sequential_suffix(parent.stat.cversion)
            )
        } else {
            args.path.to_owned()
        };
        if !path::is_valid(&path) {
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        if self.ov.node(&path)?.is_some() {
            return Err(Fail::Code(ErrorCode::NodeExists));
        }
        if parent.kind(self.ext()).is_session_ephemeral() {
            return Err(Fail::Code(ErrorCode::NoChildrenForEphemerals));
        }
        let new_cversion = parent.stat.cversion.wrapping_add(1);
        let owner = match ty {
            CreateType::Container => CONTAINER_OWNER,
            CreateType::Ttl => NodeKind::ttl_owner(args.ttl).ok_or(ErrorCode::BadArguments)?,
            CreateType::Plain if mode.is_ephemeral() => self.cmd.session_id,
            CreateType::Plain => 0,
        };
        let node = Node::created(self.zxid, self.cmd.time_ms, owner, args.data, acl);
        let stat = node.client_stat(self.ext());
        let ext = self.ext();
        // `parent` is still what the overlay holds: nothing was written since it was read.
        tree::create_node(
            &mut self.ov,
            &path,
            node,
            parent,
            new_cversion,
            ext,
            &mut self.triggers,
        )?;
        Ok((path, stat))
    }

    /// delete: DELETE on the parent (checked before the node's existence), version, no
    /// children.
    pub(crate) fn delete(&mut self, p: &str, version: i32) -> Result<(), Fail> {
        self.check_session()?;
        let parent_path = Self::parent_for_delete(p)?;
        let parent = self.node(parent_path)?;
        self.allowed(&parent.acl, Perms::DELETE)?;
        let node = self.node(p)?;
        Self::bump_version(node.stat.version, version)?;
        if node.num_children > 0 {
            return Err(Fail::Code(ErrorCode::NotEmpty));
        }
        self.remove(p)
    }

    fn remove(&mut self, p: &str) -> Result<(), Fail> {
        let ext = self.ext();
        tree::delete_node(&mut self.ov, p, self.zxid, ext, &mut self.triggers)?;
        Ok(())
    }

    /// setData: WRITE on the node, version; sets data, mtime, mzxid, version.
    pub(crate) fn set_data(
        &mut self,
        p: &str,
        data: Option<Bytes>,
        version: i32,
    ) -> Result<Stat, Fail> {
        self.check_session()?;
        if !path::is_valid(p) {
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        let mut node = self.node(p)?;
        self.allowed(&node.acl, Perms::WRITE)?;
        node.stat.version = Self::bump_version(node.stat.version, version)?;
        node.stat.mtime = self.cmd.time_ms;
        node.stat.mzxid = self.zxid;
        node.set_data(data);
        let stat = node.client_stat(self.ext());
        self.triggers.push(
            WatchTrigger::new(p, super::outcome::TriggerKind::NodeDataChanged).with_acl(&node.acl),
        );
        self.ov.put_node(p, node);
        Ok(stat)
    }

    /// setACL: the new ACL is validated first, then ADMIN on the node, then the aversion.
    pub(crate) fn set_acl(
        &mut self,
        p: &str,
        new_acl: Option<&[Acl]>,
        version: i32,
    ) -> Result<Stat, Fail> {
        self.check_session()?;
        if !path::is_valid(p) {
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        let acl = acl::fixup_acl(self.cfg, &self.cmd.auth, new_acl)?;
        let mut node = self.node(p)?;
        self.allowed(&node.acl, Perms::ADMIN)?;
        node.stat.aversion = Self::bump_version(node.stat.aversion, version)?;
        node.acl = acl;
        let stat = node.client_stat(self.ext());
        self.ov.put_node(p, node);
        Ok(stat)
    }

    /// check (inside multi): READ on the node and its version.
    pub(crate) fn check(&mut self, p: &str, version: i32) -> Result<(), Fail> {
        self.check_session()?;
        if !path::is_valid(p) {
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        let node = self.node(p)?;
        self.allowed(&node.acl, Perms::READ)?;
        Self::bump_version(node.stat.version, version)?;
        Ok(())
    }

    /// reconfig (`reconfigEnabled` and the other checks that depend on one node's view are made
    /// before the log, by the node that took the request). On a standalone node (no membership
    /// in `/zookeeper/config`) → `UNIMPLEMENTED`, as ZooKeeper answers. In an ensemble: WRITE on
    /// `/zookeeper/config`, then the new membership computed from the applied one (see
    /// [`Membership::reconfigure`]) is written there as ZooKeeper's `SetDataTxn` does: data
    /// with `version=<this zxid>`, stat version −1; the reply is the data and the stat.
    pub(crate) fn reconfig(
        &mut self,
        req: &zoolog_jute::ReconfigRequest,
    ) -> Result<(Bytes, Stat), Fail> {
        self.check_session()?;
        let mut node = self.node(path::CONFIG)?;
        let Some(current) = node.data().and_then(|d| Membership::parse(d)) else {
            return Err(Fail::Code(ErrorCode::Unimplemented));
        };
        self.allowed(&node.acl, Perms::WRITE)?;
        let next = current
            .reconfigure(req, false, self.zxid)
            .map_err(Fail::Code)?;
        let data = Bytes::from(next.text());
        node.stat.version = -1;
        node.stat.mtime = self.cmd.time_ms;
        node.stat.mzxid = self.zxid;
        node.set_data(Some(data.clone()));
        let stat = node.client_stat(self.ext());
        self.triggers.push(
            WatchTrigger::new(path::CONFIG, super::outcome::TriggerKind::NodeDataChanged)
                .with_acl(&node.acl),
        );
        self.ov.put_node(path::CONFIG, node);
        Ok((data, stat))
    }

    /// Records a new session; `NODEEXISTS` if the id is taken (or is 0 / the container marker:
    /// `BADARGUMENTS`).
    pub(crate) fn create_session(&mut self, session: i64, timeout: i32) -> Result<(), Fail> {
        if session == 0 || session == CONTAINER_OWNER {
            return Err(Fail::Code(ErrorCode::BadArguments));
        }
        if tree::session_timeout(&self.ov, session)?.is_some() {
            return Err(Fail::Code(ErrorCode::NodeExists));
        }
        tree::put_session(&mut self.ov, session, timeout);
        Ok(())
    }

    /// closeSession / expiry: deletes the session's ephemerals (in path order, each with the
    /// delete triggers) and the session. A session that does not exist is not an error, as in
    /// ZooKeeper (the closeSession transaction is not checked).
    pub(crate) fn close_session(&mut self, session: i64, expired: bool) -> Result<(), Fail> {
        for p in tree::ephemerals(&self.ov, session)? {
            self.remove(&p)?;
        }
        if tree::session_timeout(&self.ov, session)?.is_some() {
            tree::delete_session(&mut self.ov, session);
        }
        self.closed.push(ClosedSession {
            session_id: session,
            expired,
        });
        Ok(())
    }

    /// A session moves to server `owner` (its client reconnected there), with a new timeout.
    /// `SESSIONEXPIRED` if it no longer exists.
    pub(crate) fn attach_session(
        &mut self,
        session: i64,
        owner: u64,
        timeout: i32,
    ) -> Result<(), Fail> {
        if tree::session_timeout(&self.ov, session)?.is_none() {
            return Err(Fail::Code(ErrorCode::SessionExpired));
        }
        tree::put_owned_session(&mut self.ov, session, timeout, owner);
        Ok(())
    }

    /// Server `owner` found the session expired: it expires only if `owner` still serves it
    /// (otherwise it moved and the expiry is stale: nothing changes).
    pub(crate) fn expire_owned_session(&mut self, session: i64, owner: u64) -> Result<(), Fail> {
        match tree::session_record(&self.ov, session)? {
            Some((_, o)) if o == owner => self.close_session(session, true),
            _ => Ok(()),
        }
    }

    /// Container cleanup, re-checked at apply: still a container (`BADVERSION` otherwise),
    /// childless (`NOTEMPTY`), and used (persisted cversion > 0) or never used for longer than
    /// `container_max_never_used_ms` (`BADVERSION` otherwise).
    pub(crate) fn cleanup_container(&mut self, p: &str) -> Result<(), Fail> {
        Self::parent_for_delete(p)?;
        let node = self.node(p)?;
        if node.num_children > 0 {
            return Err(Fail::Code(ErrorCode::NotEmpty));
        }
        if node.kind(self.ext()) != NodeKind::Container
            || !container_eligible(self.cfg, &node, self.cmd.time_ms)
        {
            return Err(Fail::Code(ErrorCode::BadVersion));
        }
        self.remove(p)
    }

    /// TTL cleanup, re-checked at apply: still a TTL node (`BADVERSION`), childless
    /// (`NOTEMPTY`), and `time − mtime > ttl` (`BADVERSION` otherwise).
    pub(crate) fn expire_ttl(&mut self, p: &str) -> Result<(), Fail> {
        Self::parent_for_delete(p)?;
        let node = self.node(p)?;
        if node.num_children > 0 {
            return Err(Fail::Code(ErrorCode::NotEmpty));
        }
        if !ttl_expired(self.cfg, &node, self.cmd.time_ms) {
            return Err(Fail::Code(ErrorCode::BadVersion));
        }
        self.remove(p)
    }
}

/// `ContainerManager.getCandidates` for a childless container.
pub(crate) fn container_eligible(cfg: &ZkConfig, node: &Node, now_ms: i64) -> bool {
    node.stat.cversion > 0
        || (cfg.container_max_never_used_ms != 0
            && now_ms.wrapping_sub(node.stat.mtime) > cfg.container_max_never_used_ms)
}

/// `ContainerManager.getCandidates` for a childless node: a TTL node whose TTL has passed.
pub(crate) fn ttl_expired(cfg: &ZkConfig, node: &Node, now_ms: i64) -> bool {
    match node.kind(cfg.extended_types_enabled) {
        NodeKind::Ttl(ttl) => ttl != 0 && now_ms.wrapping_sub(node.stat.mtime) > ttl,
        _ => false,
    }
}
