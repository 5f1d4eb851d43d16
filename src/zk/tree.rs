//! The data tree over the ZooKeeper partition: the initial nodes, the zxid counter, the session
//! table and ephemerals index, the container and TTL indexes, children lookups, and the two
//! structural mutations of ZooKeeper's `DataTree` — `createNode` and `deleteNode` — with their
//! index upkeep and watch triggers.
//!
//! Layer: `zk/`; reads through [`TreeRead`], writes only into an [`Overlay`]. Deterministic:
//! everything is ordered by key.

use std::ops::ControlFlow;

use bytes::Bytes;
use zoolog_jute::Acl;

use crate::store::StoreError;

use super::keys;
use super::node::{Node, NodeKind};
use super::outcome::{TriggerKind, WatchTrigger};
use super::overlay::Overlay;
use super::path;
use super::view::TreeRead;

/// The session-table value format version.
const SESSION_FORMAT_V1: u8 = 1;
/// A session record that names its owner (the server serving it after it moved).
const SESSION_FORMAT_V2: u8 = 2;

/// The nodes of a fresh ZooKeeper (`DataTree()`), observed on 3.8.0: every Stat field 0 and
/// empty (not null) data; `/` and `/zookeeper` have persisted cversion 0, so the wire shows −1
/// and −2; `/zookeeper/config` has `READ_ACL_UNSAFE` and aversion −1; the others
/// `OPEN_ACL_UNSAFE`.
pub(crate) fn initial_nodes(ensemble_config: Option<&Bytes>) -> Vec<(&'static str, Node)> {
    let node = |num_children: i32, acl: Vec<Acl>, aversion: i32| {
        let mut n = Node::created(0, 0, 0, Some(Bytes::new()), acl);
        n.num_children = num_children;
        n.stat.aversion = aversion;
        n
    };
    let mut config = node(0, Acl::read_unsafe(), -1);
    if let Some(text) = ensemble_config {
        // An ensemble's static configuration, as a ZooKeeper 3.8 quorum peer shows it: the
        // membership text, version -1 (observed).
        config = Node::created(0, 0, 0, Some(text.clone()), Acl::read_unsafe());
        config.stat.aversion = -1;
        config.stat.version = -1;
    }
    vec![
        (path::ROOT, node(1, Acl::open_unsafe(), 0)),
        (path::ZOOKEEPER, node(2, Acl::open_unsafe(), 0)),
        (path::QUOTA, node(0, Acl::open_unsafe(), 0)),
        (path::CONFIG, config),
    ]
}

/// Writes the initial tree, the key layout's version and a zxid of 0.
pub(crate) fn initialize(ov: &mut Overlay<'_>, ensemble_config: Option<&Bytes>) {
    for (p, node) in initial_nodes(ensemble_config) {
        ov.add_node(p, node);
    }
    ov.put_raw(keys::META_LAYOUT.to_vec(), vec![keys::LAYOUT_VERSION]);
    set_last_zxid(ov, 0);
}

/// Fails unless an initialised tree was written in this build's key layout.
pub(crate) fn check_layout(r: &dyn TreeRead) -> Result<(), StoreError> {
    match r.raw_bytes(keys::META_LAYOUT)?.as_deref() {
        Some([v]) if *v == keys::LAYOUT_VERSION => Ok(()),
        found => {
            let version = match found {
                None => "1 (no layout record)".to_owned(),
                Some([v]) => v.to_string(),
                Some(other) => format!("unreadable ({} bytes)", other.len()),
            };
            Err(StoreError::Corrupt(format!(
                "the ZooKeeper tree in this data directory uses key layout {version}; this build \
                 reads layout {}. Start it on an empty dataDir and copy the tree over with a \
                 client, or run the build that wrote it",
                keys::LAYOUT_VERSION
            )))
        }
    }
}

/// The last zxid, or `None` before initialisation.
pub(crate) fn last_zxid(r: &dyn TreeRead) -> Result<Option<i64>, StoreError> {
    match r.raw_bytes_shared(keys::META_ZXID)? {
        None => Ok(None),
        Some(v) => {
            let raw: [u8; 8] = v[..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("zk last zxid is not 8 bytes".into()))?;
            Ok(Some(i64::from_be_bytes(raw)))
        }
    }
}

pub(crate) fn set_last_zxid(ov: &mut Overlay<'_>, zxid: i64) {
    ov.put_raw(keys::META_ZXID.to_vec(), zxid.to_be_bytes().to_vec());
}

/// The children names of `path`, in byte order.
pub(crate) fn children(r: &dyn TreeRead, path: &str) -> Result<Vec<String>, StoreError> {
    let prefix = keys::children_prefix(path::normalize(path));
    let mut out = Vec::new();
    let mut bad = false;
    r.scan_prefix(&prefix, &mut |k, _| {
        match keys::suffix(k, &prefix) {
            Some(name) => out.push(name.to_owned()),
            None => bad = true,
        }
        ControlFlow::Continue(())
    })?;
    if bad {
        return Err(StoreError::Corrupt(format!(
            "a child of {path:?} has a non-UTF-8 name"
        )));
    }
    Ok(out)
}

/// The number of strict descendants of `path` (ZooKeeper's `getAllChildrenNumber`, without its
/// root special cases).
///
/// One scan per depth below `path`; the first depth without any descendant ends it (every
/// deeper descendant would have an ancestor there).
pub(crate) fn descendant_count(r: &dyn TreeRead, path: &str) -> Result<u64, StoreError> {
    let path = path::normalize(path);
    let mut total = 0u64;
    let mut depth = keys::depth(path);
    loop {
        depth = match depth.checked_add(1) {
            Some(d) => d,
            None => return Ok(total),
        };
        let mut n = 0u64;
        r.scan_prefix(&keys::descendants_prefix(path, depth), &mut |_, _| {
            n += 1;
            ControlFlow::Continue(())
        })?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// The timeout of a session, if the session exists.
pub(crate) fn session_timeout(r: &dyn TreeRead, session: i64) -> Result<Option<i32>, StoreError> {
    Ok(session_record(r, session)?.map(|(t, _)| t))
}

/// The timeout and owner of a session, if the session exists.
pub(crate) fn session_record(
    r: &dyn TreeRead,
    session: i64,
) -> Result<Option<(i32, u64)>, StoreError> {
    r.raw_bytes(&keys::session(session))?
        .map(|v| decode_session(session, &v))
        .transpose()
}

/// The server a session was created on: the top byte of its id (§10.1).
pub(crate) fn creator_of(session: i64) -> u64 {
    (session as u64) >> 56
}

/// `(timeout, owner)`: a record without an owner belongs to the server that created it.
fn decode_session(session: i64, v: &[u8]) -> Result<(i32, u64), StoreError> {
    match v {
        [SESSION_FORMAT_V1, a, b, c, d] => {
            Ok((i32::from_be_bytes([*a, *b, *c, *d]), creator_of(session)))
        }
        [SESSION_FORMAT_V2, a, b, c, d, owner @ ..] if owner.len() == 8 => {
            let mut o = [0u8; 8];
            o.copy_from_slice(owner);
            Ok((i32::from_be_bytes([*a, *b, *c, *d]), u64::from_be_bytes(o)))
        }
        _ => Err(StoreError::Corrupt("malformed zk session record".into())),
    }
}

/// Every session with its timeout and owner, by id (as unsigned, i.e. key order).
pub(crate) fn sessions(r: &dyn TreeRead) -> Result<Vec<(i64, i32, u64)>, StoreError> {
    let mut out = Vec::new();
    let mut err = None;
    r.scan_prefix(&[keys::SESSION], &mut |k, v| {
        match keys::session_of(k).map(|id| (id, decode_session(id, v))) {
            Some((id, Ok((t, owner)))) => out.push((id, t, owner)),
            None => err = Some(StoreError::Corrupt("malformed zk session key".into())),
            Some((_, Err(e))) => err = Some(e),
        }
        ControlFlow::Continue(())
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

pub(crate) fn put_session(ov: &mut Overlay<'_>, session: i64, timeout: i32) {
    let mut v = vec![SESSION_FORMAT_V1];
    v.extend_from_slice(&timeout.to_be_bytes());
    ov.put_raw(keys::session(session), v);
}

/// A session record naming its owner (after the session moved to another server).
pub(crate) fn put_owned_session(ov: &mut Overlay<'_>, session: i64, timeout: i32, owner: u64) {
    let mut v = vec![SESSION_FORMAT_V2];
    v.extend_from_slice(&timeout.to_be_bytes());
    v.extend_from_slice(&owner.to_be_bytes());
    ov.put_raw(keys::session(session), v);
}

pub(crate) fn delete_session(ov: &mut Overlay<'_>, session: i64) {
    ov.delete_raw(keys::session(session));
}

/// The ephemeral paths of a session, in the order ZooKeeper keeps them (a Java `HashSet`, which
/// it deletes them in when the session closes): by hash bucket, creation order within one.
pub(crate) fn ephemerals(r: &dyn TreeRead, session: i64) -> Result<Vec<String>, StoreError> {
    let mut paths = paths_under(r, &keys::ephemerals_prefix(session))?;
    let mut created = Vec::with_capacity(paths.len());
    for p in &paths {
        created.push(r.node(p)?.map_or(0, |n| n.stat.czxid));
    }
    let mut by_creation: Vec<usize> = (0..paths.len()).collect();
    by_creation.sort_by_key(|&i| created[i]);
    let in_creation: Vec<String> = by_creation.iter().map(|&i| paths[i].clone()).collect();
    let hashes: Vec<i32> = in_creation
        .iter()
        .map(|p| super::java_order::string_hash(p))
        .collect();
    paths = super::java_order::hash_set_order(&hashes)
        .into_iter()
        .map(|i| in_creation[i].clone())
        .collect();
    Ok(paths)
}

/// The paths of an index (`k`, `t`, `e<session>`) in byte order.
pub(crate) fn paths_under(r: &dyn TreeRead, prefix: &[u8]) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut bad = false;
    r.scan_prefix(prefix, &mut |k, _| {
        match keys::suffix(k, prefix) {
            Some(p) => out.push(p.to_owned()),
            None => bad = true,
        }
        ControlFlow::Continue(())
    })?;
    if bad {
        return Err(StoreError::Corrupt(
            "zk index holds a non-UTF-8 path".into(),
        ));
    }
    Ok(out)
}

fn index_key(kind: NodeKind, path: &str) -> Option<Vec<u8>> {
    match kind {
        NodeKind::Persistent => None,
        NodeKind::Ephemeral(session) => Some(keys::ephemeral(session, path)),
        NodeKind::Container => Some(keys::container(path)),
        NodeKind::Ttl(_) => Some(keys::ttl(path)),
    }
}

/// `DataTree.createNode`: adds `node` at `path` (which must be valid, with an existing parent
/// and no node there: apply checked), raises the parent's persisted cversion to
/// `parent_cversion` (setting its pzxid) only if that is larger, and fires `NodeCreated(path)`
/// then `NodeChildrenChanged(parent)`. `parent` is the parent as `ov` holds it now (apply read it
/// for its checks; reading it again would decode or copy it a second time).
pub(crate) fn create_node(
    ov: &mut Overlay<'_>,
    path: &str,
    node: Node,
    mut parent: Node,
    parent_cversion: i32,
    extended_types: bool,
    triggers: &mut Vec<WatchTrigger>,
) -> Result<(), StoreError> {
    let Some((parent_path, _)) = path::split(path) else {
        return Err(StoreError::Corrupt(format!(
            "create of {path:?} without a parent"
        )));
    };
    let parent_path = path::normalize(parent_path);
    if parent_cversion > parent.stat.cversion {
        parent.stat.cversion = parent_cversion;
        parent.stat.pzxid = node.stat.czxid;
    }
    parent.num_children = parent.num_children.wrapping_add(1);
    let parent_acl = parent.acl.clone();
    ov.put_node(parent_path, parent);
    if let Some(k) = index_key(node.kind(extended_types), path) {
        ov.put_raw(k, Vec::new());
    }
    let node_acl = node.acl.clone();
    ov.add_node(path, node);
    triggers.push(WatchTrigger::new(path, TriggerKind::NodeCreated).with_acl(&node_acl));
    triggers.push(
        WatchTrigger::new(parent_path, TriggerKind::NodeChildrenChanged).with_acl(&parent_acl),
    );
    Ok(())
}

/// `DataTree.deleteNode`: removes the node at `path` (childless: apply checked), lowers the
/// parent's child count, raises its pzxid to `zxid` if larger (the persisted cversion does not
/// change), and fires `NodeDeleted(path)` then `NodeChildrenChanged(parent)`. Returns false (and
/// changes nothing) if there is no such node.
pub(crate) fn delete_node(
    ov: &mut Overlay<'_>,
    path: &str,
    zxid: i64,
    extended_types: bool,
    triggers: &mut Vec<WatchTrigger>,
) -> Result<bool, StoreError> {
    let Some((parent_path, _)) = path::split(path) else {
        return Ok(false);
    };
    let parent_path = path::normalize(parent_path);
    let (Some(mut parent), Some(node)) = (ov.node(parent_path)?, ov.node(path)?) else {
        return Ok(false);
    };
    if zxid > parent.stat.pzxid {
        parent.stat.pzxid = zxid;
    }
    parent.num_children = parent.num_children.wrapping_sub(1);
    let parent_acl = parent.acl.clone();
    ov.put_node(parent_path, parent);
    if let Some(k) = index_key(node.kind(extended_types), path) {
        ov.delete_raw(k);
    }
    triggers.push(WatchTrigger::new(path, TriggerKind::NodeDeleted).with_acl(&node.acl));
    ov.remove_node(path, &node);
    triggers.push(
        WatchTrigger::new(parent_path, TriggerKind::NodeChildrenChanged).with_acl(&parent_acl),
    );
    Ok(true)
}
