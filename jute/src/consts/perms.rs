//! `ZooDefs.Perms`: the permission bits of an ACL entry (§8.1).

/// A set of permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(pub i32);

impl Perms {
    pub const READ: Perms = Perms(1);
    pub const WRITE: Perms = Perms(1 << 1);
    pub const CREATE: Perms = Perms(1 << 2);
    pub const DELETE: Perms = Perms(1 << 3);
    pub const ADMIN: Perms = Perms(1 << 4);
    pub const ALL: Perms = Perms(31);

    /// Whether any bit of `other` is in `self`.
    pub const fn intersects(self, other: Perms) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every bit of `other` is in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}
