//! Special xids (§2): negative xids the protocol reserves.

/// Server→client watch notification.
pub const NOTIFICATION: i32 = -1;
/// Ping request and its reply (the reply is always -2).
pub const PING: i32 = -2;
/// The Java client's xid for auth packets.
pub const AUTH: i32 = -4;
/// The Java client's xid for setWatches / setWatches2.
pub const SET_WATCHES: i32 = -8;
