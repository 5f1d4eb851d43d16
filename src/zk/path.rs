//! ZooKeeper path rules (zookeeper-protocol.md §3.2): `PathUtils.validatePath`, the parent/child
//! split of `PrepRequestProcessor`, the special znodes and the root alias.
//!
//! Layer: `zk/`, pure functions; touches nothing.
//!
//! Java checks paths one UTF-16 code unit at a time. A Rust `char` above U+FFFF is a surrogate
//! pair in Java, whose first unit lies in the forbidden `\uD800–\uF8FF` range, so such a path is
//! invalid here too.

/// The root.
pub const ROOT: &str = "/";
/// `/zookeeper`.
pub const ZOOKEEPER: &str = "/zookeeper";
/// `/zookeeper/quota`.
pub const QUOTA: &str = "/zookeeper/quota";
/// `/zookeeper/config` (dynamic configuration; READ_ACL_UNSAFE, aversion −1).
pub const CONFIG: &str = "/zookeeper/config";

/// `PathUtils.validatePath`: true if `path` is a valid znode path.
pub fn is_valid(path: &str) -> bool {
    let mut chars = path.chars().peekable();
    if chars.next() != Some('/') {
        return false;
    }
    if chars.peek().is_none() {
        return true;
    }
    if path.ends_with('/') {
        return false;
    }
    if path.is_ascii() {
        return is_valid_ascii(path.as_bytes());
    }
    // The two characters before `c`: `before_last`, then `lastc`.
    let (mut before_last, mut lastc) = ('/', '/');
    while let Some(c) = chars.next() {
        let next_is_end_or_slash = matches!(chars.peek(), None | Some('/'));
        if c == '\0' || (c == '/' && lastc == '/') {
            return false;
        } else if c == '.' && lastc == '.' {
            if before_last == '/' && next_is_end_or_slash {
                return false;
            }
        } else if c == '.' {
            if lastc == '/' && next_is_end_or_slash {
                return false;
            }
        } else if is_forbidden_char(c) {
            return false;
        }
        before_last = lastc;
        lastc = c;
    }
    true
}

/// [`is_valid`] of an ASCII path longer than `/` that starts with `/` and does not end with one,
/// byte by byte (almost every path is ASCII).
fn is_valid_ascii(b: &[u8]) -> bool {
    for i in 1..b.len() {
        let c = b[i];
        // `\0` and the other control characters.
        if c < 0x20 || c == 0x7f {
            return false;
        }
        if c == b'/' && b[i - 1] == b'/' {
            return false;
        }
        // A `.` or `..` path element (after a `.`, `i >= 2`: the path starts with `/`).
        if c == b'.'
            && (i + 1 == b.len() || b[i + 1] == b'/')
            && (b[i - 1] == b'/' || (b[i - 1] == b'.' && b[i - 2] == b'/'))
        {
            return false;
        }
    }
    true
}

/// Characters `validatePath` rejects (besides `\0`, handled separately).
fn is_forbidden_char(c: char) -> bool {
    let u = c as u32;
    (0x01..=0x1f).contains(&u)
        || (0x7f..=0x9f).contains(&u)
        || (0xd800..=0xf8ff).contains(&u)
        || (0xfff0..=0xffff).contains(&u)
        || u > 0xffff
}

/// `path.substring(0, path.lastIndexOf('/'))` and the rest, or `None` if there is no `/`.
/// The parent of a top-level node is `""`, the alias of the root; see [`normalize`].
pub fn split(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    Some((&path[..slash], &path[slash + 1..]))
}

/// ZooKeeper's node table holds the root under both `""` and `"/"`: lookups of `""` find the
/// root. Returns the canonical path for a lookup.
pub fn normalize(path: &str) -> &str {
    if path.is_empty() { ROOT } else { path }
}

/// `DataTree.isSpecialPath`: the nodes that cannot be deleted.
pub fn is_special(path: &str) -> bool {
    matches!(path, ROOT | ZOOKEEPER | QUOTA | CONFIG)
}

/// The sequential suffix: `String.format("%010d", parentCVersion)`, e.g. `0000000003` or
/// `-000000001`.
pub fn sequential_suffix(parent_cversion: i32) -> String {
    format!("{parent_cversion:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_path_rules() {
        for ok in [
            "/", "/a", "/a/b", "/a.", "/.a", "/a..", "/...", "/a/...", "/a b", "/é", "/a/.b.",
        ] {
            assert!(is_valid(ok), "{ok:?} should be valid");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/..",
            "/./a",
            "/../a",
            "/a\0b",
            "/a\u{1}",
            "/a\u{1f}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/a\u{e000}",
            "/a\u{f8ff}",
            "/a\u{fff0}",
            "/a\u{ffff}",
            "/a\u{1F600}",
        ] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
        }
        assert!(is_valid("/a\u{a0}"));
        assert!(is_valid("/a\u{f900}"));
    }

    /// `validatePath` transcribed index by index, as Java writes it: the model the one-pass
    /// `is_valid` must agree with.
    fn validate_by_index(path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        if chars.first() != Some(&'/') {
            return false;
        }
        if chars.len() == 1 {
            return true;
        }
        if chars[chars.len() - 1] == '/' {
            return false;
        }
        let mut lastc = '/';
        for i in 1..chars.len() {
            let c = chars[i];
            let next_is_end_or_slash = i + 1 == chars.len() || chars[i + 1] == '/';
            let bad = if c == '\0' || (c == '/' && lastc == '/') {
                true
            } else if c == '.' && lastc == '.' {
                chars[i - 2] == '/' && next_is_end_or_slash
            } else if c == '.' {
                chars[i - 1] == '/' && next_is_end_or_slash
            } else {
                is_forbidden_char(c)
            };
            if bad {
                return false;
            }
            lastc = c;
        }
        true
    }

    proptest::proptest! {
        #[test]
        fn is_valid_agrees_with_validate_path(
            path in proptest::collection::vec(
                proptest::sample::select(vec!['/', '.', 'a', '\0', '\u{1}', '\u{7f}', 'é', '\u{e000}', '\u{1F600}']),
                0..9,
            )
        ) {
            let path: String = path.into_iter().collect();
            proptest::prop_assert_eq!(is_valid(&path), validate_by_index(&path), "{:?}", path);
        }
    }

    #[test]
    fn split_and_alias() {
        assert_eq!(split("/a"), Some(("", "a")));
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a/"), Some(("/a", "")));
        assert_eq!(split("/"), Some(("", "")));
        assert_eq!(split("a"), None);
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("/x"), "/x");
    }

    #[test]
    fn suffix_formatting() {
        assert_eq!(sequential_suffix(3), "0000000003");
        assert_eq!(sequential_suffix(0), "0000000000");
        assert_eq!(sequential_suffix(-1), "-000000001");
        assert_eq!(sequential_suffix(i32::MAX), "2147483647");
        assert_eq!(sequential_suffix(i32::MIN), "-2147483648");
    }

    #[test]
    fn special_paths() {
        assert!(is_special("/"));
        assert!(is_special("/zookeeper/config"));
        assert!(!is_special("/zookeeper/foo"));
        assert!(!is_special(""));
    }
}
