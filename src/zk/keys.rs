//! The key layout of the ZooKeeper partition of the LocalStore.
//!
//! Layer: `zk/`, pure functions; touches nothing. One byte tags each kind of entry; paths never
//! contain `\0` (create rejects it), so `\0` separates a parent from a child name and a child
//! listing is one prefix scan that cannot run into a sibling's children.
//!
//! | key | value | what |
//! | --- | --- | --- |
//! | `n` path | [`Node`](super::node::Node) | a znode (root = `n/`) |
//! | `c` parent `\0` child | ∅ | child index |
//! | `e` session(8, BE) path | ∅ | ephemerals of a session |
//! | `k` path | ∅ | container nodes |
//! | `t` path | ∅ | TTL nodes |
//! | `s` session(8, BE) | version u8, timeout i32 | session table |
//! | `mzxid` | i64 BE | the last zxid |
//! | `mnodes` | u64 BE | number of znodes, root included |

/// Tag of znode records.
pub const NODE: u8 = b'n';
/// Tag of the child index.
pub const CHILD: u8 = b'c';
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

fn tagged(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(tag);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// `n<path>`.
pub fn node(path: &str) -> Vec<u8> {
    tagged(NODE, &[path.as_bytes()])
}

/// Prefix of every strict descendant of `path` (not the root: its descendants are all nodes).
pub fn descendants_prefix(path: &str) -> Vec<u8> {
    tagged(NODE, &[path.as_bytes(), b"/"])
}

/// `c<parent>\0<child>`.
pub fn child(parent: &str, name: &str) -> Vec<u8> {
    tagged(CHILD, &[parent.as_bytes(), b"\0", name.as_bytes()])
}

/// `c<parent>\0`: prefix of the child index of `parent`.
pub fn children_prefix(parent: &str) -> Vec<u8> {
    tagged(CHILD, &[parent.as_bytes(), b"\0"])
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
        assert_eq!(node("/a"), b"n/a");
        assert_eq!(child("/", "a"), b"c/\0a");
        assert!(child("/a", "b").starts_with(&children_prefix("/a")));
        assert!(!child("/ab", "c").starts_with(&children_prefix("/a")));
        assert!(!node("/ab").starts_with(&descendants_prefix("/a")));
        assert!(node("/a/b/c").starts_with(&descendants_prefix("/a")));
        let k = session(-5);
        assert_eq!(session_of(&k), Some(-5));
        assert_eq!(
            suffix(&ephemeral(7, "/x/y"), &ephemerals_prefix(7)),
            Some("/x/y")
        );
        assert_eq!(suffix(b"c/a\0b", b"c/a\0"), Some("b"));
    }
}
