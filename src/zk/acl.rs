//! ACLs and authentication schemes (zookeeper-protocol.md §8): `ZooKeeperServer.checkACL`,
//! `PrepRequestProcessor.fixupACL`, the `digest` and `ip` providers (`isValid`, `matches`, digest
//! ids, superDigest) and the getACL masking of digest ids.
//!
//! Layer: `zk/`, pure functions over jute records and [`ZkConfig`]; touches nothing.
//!
//! Registered providers are ZooKeeper's defaults: `ip` (never "authenticated") and `digest`
//! (authenticated; registered unless [`ZkConfig::digest_enabled`] is off). `world:anyone` is
//! handled by the algorithms themselves, `super` is never a valid ACL id but an auth id that
//! bypasses every check. The `ip` provider is 3.8.0's: IPv4 only (IPv6 ids are invalid ACLs and
//! never match).

use base64::Engine as _;
use sha1::{Digest, Sha1};
use zoolog_jute::{Acl, ErrorCode, Id, Perms};

use super::config::ZkConfig;

/// The `digest` scheme.
pub const DIGEST: &str = "digest";
/// The `ip` scheme.
pub const IP: &str = "ip";
/// The `world` scheme (`world:anyone`).
pub const WORLD: &str = "world";
/// The `auth` pseudo-scheme of ACLs being set.
pub const AUTH: &str = "auth";
/// The `super` auth scheme.
pub const SUPER: &str = "super";

/// A registered authentication provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Ip,
    Digest,
}

impl Provider {
    fn for_scheme(cfg: &ZkConfig, scheme: &str) -> Option<Provider> {
        match scheme {
            IP => Some(Provider::Ip),
            DIGEST if cfg.digest_enabled => Some(Provider::Digest),
            _ => None,
        }
    }

    fn is_authenticated(self) -> bool {
        matches!(self, Provider::Digest)
    }

    fn is_valid(self, id: &str) -> bool {
        match self {
            Provider::Ip => ip_is_valid(id),
            Provider::Digest => java_split_len(id, ':') == 2,
        }
    }

    fn matches(self, auth_id: &str, acl_id: &str) -> bool {
        match self {
            Provider::Ip => ip_matches(auth_id, acl_id),
            Provider::Digest => auth_id == acl_id,
        }
    }
}

fn is_world_anyone(id: &Id) -> bool {
    id.scheme() == WORLD && id.id() == "anyone"
}

/// `ZooKeeperServer.checkACL`: may a connection with `auth` ids do `perm` on a node with `acl`?
pub fn check_acl(cfg: &ZkConfig, acl: &[Acl], perm: Perms, auth: &[Id]) -> bool {
    if cfg.skip_acl || acl.is_empty() {
        return true;
    }
    if auth.iter().any(|a| a.scheme() == SUPER) {
        return true;
    }
    for entry in acl {
        if entry.perms & perm.0 == 0 {
            continue;
        }
        if is_world_anyone(&entry.id) {
            return true;
        }
        if let Some(provider) = Provider::for_scheme(cfg, entry.id.scheme()) {
            let matched = auth.iter().any(|a| {
                a.scheme() == entry.id.scheme() && provider.matches(a.id(), entry.id.id())
            });
            if matched {
                return true;
            }
        }
    }
    false
}

/// `PrepRequestProcessor.fixupACL`: removes duplicates, expands `auth` to the caller's
/// authenticated ids, and checks every id with its provider. `Err(INVALIDACL)` when the list is
/// null or empty, uses `auth` without an authenticated id, or names an unknown scheme or an
/// invalid id. A null scheme is invalid; a null id is MARSHALLINGERROR where Java would hit a
/// NullPointerException (observed on 3.8.0).
pub fn fixup_acl(cfg: &ZkConfig, auth: &[Id], acl: Option<&[Acl]>) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::new();
    for a in acl.unwrap_or_default() {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        if a.id.scheme.is_none() {
            return Err(ErrorCode::InvalidAcl);
        }
        // A null id makes ZooKeeper's checks throw (NPE → MARSHALLINGERROR) wherever it is
        // read: the world:anyone test, and the provider's isValid once a provider exists.
        if a.id.id.is_none()
            && a.id.scheme() != AUTH
            && (a.id.scheme() == "world" || Provider::for_scheme(cfg, a.id.scheme()).is_some())
        {
            return Err(ErrorCode::MarshallingError);
        }
        if is_world_anyone(&a.id) {
            out.push(a.clone());
        } else if a.id.scheme() == AUTH {
            let mut any = false;
            for cid in auth {
                if Provider::for_scheme(cfg, cid.scheme()).is_some_and(Provider::is_authenticated) {
                    any = true;
                    out.push(Acl {
                        perms: a.perms,
                        id: cid.clone(),
                    });
                }
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            match Provider::for_scheme(cfg, a.id.scheme()) {
                Some(p) if p.is_valid(a.id.id()) => out.push(a.clone()),
                _ => return Err(ErrorCode::InvalidAcl),
            }
        }
    }
    Ok(out)
}

/// getACL without ADMIN: every `digest` id has everything from its first `:` replaced by `:x`
/// (Java's `replaceAll(":.*", ":x")`), e.g. `bob:fyVm…` → `bob:x`.
pub fn mask_digests(acl: Vec<Acl>) -> Vec<Acl> {
    acl.into_iter()
        .map(|a| {
            if a.id.scheme() == DIGEST {
                Acl {
                    perms: a.perms,
                    id: Id::new(DIGEST, &mask_after_colon(a.id.id())),
                }
            } else {
                a
            }
        })
        .collect()
}

/// Java regex `:.*` → `:x`, where `.` stops at line terminators.
fn mask_after_colon(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' {
            out.push_str(":x");
            while chars.peek().is_some_and(|&n| !is_line_terminator(n)) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `DigestAuthenticationProvider.generateDigest`: `user:BASE64(SHA1("user:password"))`, where
/// `user` is everything before the first `:`.
pub fn digest_id(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(id_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// `DigestAuthenticationProvider.handleAuthentication`: the ids an `auth digest <data>` packet
/// adds to a connection, in ZooKeeper's order: `super:` first if the digest equals
/// `super_digest` (the `zookeeper.DigestAuthenticationProvider.superDigest` value,
/// `super:<base64 sha1>`), then `digest:<id>`.
pub fn authenticate_digest(auth_data: &[u8], super_digest: Option<&str>) -> Vec<Id> {
    let id = String::from_utf8_lossy(auth_data);
    let digest = digest_id(&id);
    let mut ids = Vec::with_capacity(2);
    if super_digest.is_some_and(|s| s == digest) {
        ids.push(Id::new(SUPER, ""));
    }
    ids.push(Id::new(DIGEST, &digest));
    ids
}

/// Java `s.split(String.valueOf(sep)).length` (trailing empty strings dropped).
fn java_split_len(s: &str, sep: char) -> usize {
    if !s.contains(sep) {
        return 1;
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.len()
}

/// Java `Integer.parseInt` for ASCII input: optional sign, at least one digit, no overflow.
fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// `IPAuthenticationProvider.v4addr2Bytes`.
fn v4_bytes(addr: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (o, p) in out.iter_mut().zip(parts) {
        let v = java_parse_int(p)?;
        *o = u8::try_from(v).ok()?;
    }
    Some(out)
}

/// `IPAuthenticationProvider.mask`: keeps the first `bits` bits.
fn mask(b: &mut [u8; 4], bits: u32) {
    for (i, byte) in b.iter_mut().enumerate() {
        let start = i as u32 * 8;
        if start + 8 <= bits {
            continue;
        }
        let keep = bits.saturating_sub(start);
        *byte &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
    }
}

/// Parses `a.b.c.d[/bits]`.
fn parse_ip_expr(expr: &str) -> Option<([u8; 4], u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let addr = v4_bytes(addr)?;
    let bits = match bits {
        Some(b) => u32::try_from(java_parse_int(b)?)
            .ok()
            .filter(|&b| b <= 32)?,
        None => 32,
    };
    Some((addr, bits))
}

/// `IPAuthenticationProvider.isValid`.
pub fn ip_is_valid(expr: &str) -> bool {
    parse_ip_expr(expr).is_some()
}

/// `IPAuthenticationProvider.matches`: does the connection address `addr` fall in the ACL's
/// `a.b.c.d[/bits]`?
pub fn ip_matches(addr: &str, acl_expr: &str) -> bool {
    let Some((mut acl, bits)) = parse_ip_expr(acl_expr) else {
        return false;
    };
    let Some(mut remote) = v4_bytes(addr) else {
        return false;
    };
    mask(&mut acl, bits);
    mask(&mut remote, bits);
    acl == remote
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn digest_reference_vector() {
        assert_eq!(digest_id("bob:secret"), "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
        assert_eq!(
            authenticate_digest(b"bob:secret", None),
            vec![Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=")]
        );
        // Observed on 3.8.0 with superDigest=super:0bX78nEegDzJM3ju0iLBEJdWzjg= ("super:pw"):
        // whoAmI lists digest super and super.
        let ids = authenticate_digest(b"super:pw", Some("super:0bX78nEegDzJM3ju0iLBEJdWzjg="));
        assert_eq!(ids[0], Id::new("super", ""));
        assert_eq!(
            ids[1],
            Id::new("digest", "super:0bX78nEegDzJM3ju0iLBEJdWzjg=")
        );
    }

    #[test]
    fn fixup_rules_match_3_8_0() {
        // Each case was sent to ZooKeeper 3.8.0 (create with that ACL, connection with ip only).
        let cfg = ZkConfig::default();
        let ip_only = [Id::new("ip", "127.0.0.1")];
        let cases: Vec<(Option<Vec<Acl>>, bool)> = vec![
            (Some(vec![]), false),
            (None, false),
            (Some(vec![acl(31, "auth", "")]), false),
            (Some(vec![acl(31, "digest", "bob")]), false),
            (Some(vec![acl(31, "digest", "a:b:c")]), false),
            (Some(vec![acl(31, "digest", "a:b:")]), true),
            (Some(vec![acl(31, "digest", ":b")]), true),
            (Some(vec![acl(31, "ip", "1.2.3.4/33")]), false),
            (Some(vec![acl(31, "ip", "::1")]), false),
            (Some(vec![acl(31, "ip", "+1.2.3.4")]), true),
            (Some(vec![acl(31, "ip", "001.2.3.4/08")]), true),
            (Some(vec![acl(31, "foo", "bar")]), false),
            (Some(vec![acl(31, "world", "foo")]), false),
            (Some(vec![acl(31, "super", "")]), false),
            (Some(vec![acl(0, "world", "anyone")]), true),
            (Some(vec![acl(99, "world", "anyone")]), true),
        ];
        for (a, ok) in cases {
            let r = fixup_acl(&cfg, &ip_only, a.as_deref());
            assert_eq!(r.is_ok(), ok, "{a:?} -> {r:?}");
            if !ok {
                assert_eq!(r, Err(ErrorCode::InvalidAcl));
            }
        }
        let dup = vec![acl(31, "world", "anyone"), acl(31, "world", "anyone")];
        assert_eq!(fixup_acl(&cfg, &ip_only, Some(&dup)).unwrap().len(), 1);
    }

    #[test]
    fn auth_expansion() {
        let cfg = ZkConfig::default();
        let bob = Id::new("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
        let ids = [
            Id::new("ip", "127.0.0.1"),
            Id::new("super", ""),
            bob.clone(),
        ];
        let out = fixup_acl(
            &cfg,
            &ids,
            Some(&[acl(31, "auth", "whatever"), acl(1, "world", "anyone")]),
        )
        .unwrap();
        assert_eq!(
            out,
            vec![Acl { perms: 31, id: bob }, acl(1, "world", "anyone")]
        );
        let mut no_digest = cfg.clone();
        no_digest.digest_enabled = false;
        assert_eq!(
            fixup_acl(&no_digest, &ids, Some(&[acl(31, "auth", "")])),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(&no_digest, &ids, Some(&[acl(31, "digest", "a:b")])),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn check_acl_algorithm() {
        let cfg = ZkConfig::default();
        let ip = Id::new("ip", "127.0.0.1");
        let bob = Id::new("digest", "bob:x1");
        let node = vec![acl(31, "digest", "bob:x1"), acl(1, "world", "anyone")];
        assert!(check_acl(
            &cfg,
            &node,
            Perms::READ,
            std::slice::from_ref(&ip)
        ));
        assert!(!check_acl(
            &cfg,
            &node,
            Perms::WRITE,
            std::slice::from_ref(&ip)
        ));
        assert!(check_acl(
            &cfg,
            &node,
            Perms::WRITE,
            &[ip.clone(), bob.clone()]
        ));
        assert!(check_acl(
            &cfg,
            &node,
            Perms::ADMIN,
            &[ip.clone(), Id::new("super", "")]
        ));
        assert!(check_acl(&cfg, &[], Perms::ADMIN, &[]));
        let skip = ZkConfig {
            skip_acl: true,
            ..ZkConfig::default()
        };
        assert!(check_acl(&skip, &node, Perms::WRITE, &[]));
        // READ|ADMIN: any intersecting entry
        let admin_only = vec![acl(16, "world", "anyone")];
        assert!(check_acl(&cfg, &admin_only, Perms(1 | 16), &[]));
        assert!(!check_acl(&cfg, &admin_only, Perms::READ, &[]));
        // ip with CIDR
        let net = vec![acl(1, "ip", "127.0.0.0/8"), acl(2, "ip", "10.0.0.1")];
        assert!(check_acl(
            &cfg,
            &net,
            Perms::READ,
            std::slice::from_ref(&ip)
        ));
        assert!(!check_acl(
            &cfg,
            &net,
            Perms::WRITE,
            std::slice::from_ref(&ip)
        ));
        // a digest id never matches an ip id, even with the same string
        let weird = vec![acl(1, "digest", "127.0.0.1")];
        assert!(!check_acl(&cfg, &weird, Perms::READ, &[ip]));
    }

    #[test]
    fn ip_matching() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("10.1.2.3", "10.1.2.0/23"));
        assert!(ip_matches("10.1.3.3", "10.1.2.0/23"));
        assert!(!ip_matches("10.1.4.3", "10.1.2.0/23"));
        assert!(ip_matches("1.2.3.4", "9.9.9.9/0"));
        assert!(ip_matches("1.2.3.4", "1.2.3.4"));
        assert!(!ip_matches("1.2.3.5", "1.2.3.4"));
        assert!(!ip_matches("::1", "1.2.3.4/0"));
        assert!(!ip_matches("1.2.3.4", "1.2.3.4/33"));
        assert!(ip_is_valid("255.255.255.255/32"));
        assert!(!ip_is_valid("256.1.1.1"));
        assert!(!ip_is_valid("1.1.1"));
        assert!(!ip_is_valid("1.1.1.1."));
        assert!(!ip_is_valid("1.1.1.1/"));
        assert!(!ip_is_valid("1.1.1.1/-1"));
        assert!(ip_is_valid("1.1.1.-0"));
    }

    #[test]
    fn masking() {
        let out = mask_digests(vec![
            acl(31, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="),
            acl(1, "world", "anyone"),
            acl(1, "digest", "a:b\nc:d"),
            acl(1, "digest", "nocolon"),
        ]);
        assert_eq!(out[0], acl(31, "digest", "bob:x"));
        assert_eq!(out[1], acl(1, "world", "anyone"));
        assert_eq!(out[2], acl(1, "digest", "a:x\nc:x"));
        assert_eq!(out[3], acl(1, "digest", "nocolon"));
    }
}
