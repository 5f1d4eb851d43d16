//! The key layout of the ZooKeeper partition of the LocalStore.
//!
//! Layer: `zk/`, pure functions; touches nothing. One byte tags each kind of entry.
//!
//! A znode's key carries its depth before its path, so the children of a node are one contiguous
//! range — `n`, depth + 1, the parent's path, `/` — that holds neither grandchildren nor the
//! children of a sibling whose name extends the parent's (`/ab` under `/a`). A create therefore
//! writes one key, not a node and a child-index entry. Data longer than
//! [`INLINE_DATA_MAX`](super::node::INLINE_DATA_MAX) lives under its own `d` key, so a listing
//! (which reads the node records it passes) reads small records only.
//!
//! | key | value | what |
//! | --- | --- | --- |
//! | `n` depth path | [`Node`](super::node::Node) | a znode (root = depth 0, `/`) |
//! | `d` path | data | the data of a znode whose data is stored apart |
//! | `e` session(8, BE) path | ∅ | ephemerals of a session |
//! | `k` path | ∅ | container nodes |
//! | `t` path | ∅ | TTL nodes |
//! | `s` session(8, BE) | version u8, timeout i32 | session table |
//! | `mzxid` | i64 BE | the last zxid |
//! | `mnodes` | u64 BE | number of znodes, root included |
//! | `mlayout` | u8 | this layout's version ([`LAYOUT_VERSION`]) |
//!
//! The depth is one byte below 0xF0, else 0xF0 and four bytes big-endian: no encoding is a
//! prefix of another, so a depth-and-path prefix never matches a key of another depth.

/// Tag of znode records.
pub const NODE: u8 = b'n';
/// Tag of data stored apart from its znode record.
pub const DATA: u8 = b'd';
/// Tag of the ephemerals index.
pub const EPHEMERAL: u8 = b'e';
/// Tag of the container index.
pub const CONTAINER: u8 = b'k';
/// Tag of the TTL index.
pub const TTL: u8 = b't';
/// Tag of the session table.
pub const SESSION: u8 = b's';
/// The last zxid.
pub const META_ZXID: &[u8] = b"mzxid";
/// The number of znodes.
pub const META_NODE_COUNT: &[u8] = b"mnodes";
/// The version of this key layout, written with the initial tree.
pub const META_LAYOUT: &[u8] = b"mlayout";
/// The layout this build reads and writes. Version 1 (no depth in node keys, a `c` child index,
/// no `mlayout` key) was written by builds before it.
pub const LAYOUT_VERSION: u8 = 2;

/// The first depth byte of the long form.
const LONG_DEPTH: u8 = 0xF0;

fn tagged(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(tag);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The depth of a canonical path: `/` is 0, `/a` 1, `/a/b` 2.
pub fn depth(path: &str) -> u32 {
    if path == "/" {
        return 0;
    }
    let slashes = path.bytes().filter(|&b| b == b'/').count();
    u32::try_from(slashes).unwrap_or(u32::MAX)
}

/// `n`, the encoded `depth`, then `parts`.
fn node_key(depth: u32, parts: &[&[u8]]) -> Vec<u8> {
    let len = 6 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(NODE);
    match u8::try_from(depth) {
        Ok(d) if d < LONG_DEPTH => k.push(d),
        _ => {
            k.push(LONG_DEPTH);
            k.extend_from_slice(&depth.to_be_bytes());
        }
    }
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// `n<depth><path>` of a canonical path.
pub fn node(path: &str) -> Vec<u8> {
    node_key(depth(path), &[path.as_bytes()])
}

/// The path of a node key, if `key` is one.
pub fn node_path(key: &[u8]) -> Option<&str> {
    let rest = match key {
        [NODE, LONG_DEPTH, rest @ ..] => rest.get(4..)?,
        [NODE, _, rest @ ..] => rest,
        _ => return None,
    };
    std::str::from_utf8(rest).ok()
}

/// `path` followed by `/` (just `/` for the root): what every descendant's path starts with.
fn below(path: &str) -> &[u8] {
    if path == "/" { b"" } else { path.as_bytes() }
}

/// Prefix of the keys of the children of `parent` (canonical): the child's name follows it.
pub fn children_prefix(parent: &str) -> Vec<u8> {
    node_key(depth(parent).saturating_add(1), &[below(parent), b"/"])
}

/// Prefix of the keys of the descendants of `path` (canonical) at depth `depth`.
pub fn descendants_prefix(path: &str, depth: u32) -> Vec<u8> {
    node_key(depth, &[below(path), b"/"])
}

/// `d<path>`: data stored apart.
pub fn data(path: &str) -> Vec<u8> {
    tagged(DATA, &[path.as_bytes()])
}

/// `e<session><path>`.
pub fn ephemeral(session: i64, path: &str) -> Vec<u8> {
    tagged(EPHEMERAL, &[&session.to_be_bytes(), path.as_bytes()])
}

/// `e<session>`: prefix of the ephemerals of `session`.
pub fn ephemerals_prefix(session: i64) -> Vec<u8> {
    tagged(EPHEMERAL, &[&session.to_be_bytes()])
}

/// `k<path>`.
pub fn container(path: &str) -> Vec<u8> {
    tagged(CONTAINER, &[path.as_bytes()])
}

/// `t<path>`.
pub fn ttl(path: &str) -> Vec<u8> {
    tagged(TTL, &[path.as_bytes()])
}

/// `s<session>`.
pub fn session(session: i64) -> Vec<u8> {
    tagged(SESSION, &[&session.to_be_bytes()])
}

/// The session id of a `s<session>` key.
pub fn session_of(key: &[u8]) -> Option<i64> {
    let raw: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(i64::from_be_bytes(raw))
}

/// The rest of a key after a prefix, as UTF-8.
pub fn suffix<'k>(key: &'k [u8], prefix: &[u8]) -> Option<&'k str> {
    std::str::from_utf8(key.strip_prefix(prefix)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(node("/"), b"n\x00/");
        assert_eq!(node("/a"), b"n\x01/a");
        assert_eq!(node("/a/bc"), b"n\x02/a/bc");
        for p in ["/", "/a", "/a/b/c"] {
            assert_eq!(node_path(&node(p)), Some(p));
        }
        assert_eq!(node_path(b"s12345678"), None);
        assert!(node("/a").starts_with(&children_prefix("/")));
        assert!(node("/a/b").starts_with(&children_prefix("/a")));
        assert_eq!(suffix(&node("/a/b"), &children_prefix("/a")), Some("b"));
        // Neither a grandchild nor a child of a sibling that extends the name.
        assert!(!node("/a/b/c").starts_with(&children_prefix("/a")));
        assert!(!node("/ab/c").starts_with(&children_prefix("/a")));
        assert!(!node("/a").starts_with(&children_prefix("/a")));
        assert!(node("/a/b/c").starts_with(&descendants_prefix("/a", 3)));
        assert!(!node("/a/b/c").starts_with(&descendants_prefix("/a", 2)));
        assert!(node("/a/b/c").starts_with(&descendants_prefix("/", 3)));
        let k = session(-5);
        assert_eq!(session_of(&k), Some(-5));
        assert_eq!(
            suffix(&ephemeral(7, "/x/y"), &ephemerals_prefix(7)),
            Some("/x/y")
        );
        assert_eq!(data("/a"), b"d/a");
    }

    #[test]
    fn deep_paths_use_the_long_depth_and_stay_apart() {
        let deep: String = "/x".repeat(300);
        let key = node(&deep);
        assert_eq!(&key[..6], &[NODE, LONG_DEPTH, 0, 0, 1, 44]);
        assert_eq!(node_path(&key), Some(deep.as_str()));
        let parent = &deep[..deep.len() - 2];
        assert_eq!(suffix(&key, &children_prefix(parent)), Some("x"));
        // Depth 0xF0 in short form would be the long form's marker.
        let at_240: String = "/y".repeat(240);
        assert_eq!(node(&at_240)[1], LONG_DEPTH);
        assert!(!node(&"/y".repeat(0xEF)).starts_with(&children_prefix(&at_240)));
        assert!(node(&"/y".repeat(241)).starts_with(&children_prefix(&at_240)));
    }
}
