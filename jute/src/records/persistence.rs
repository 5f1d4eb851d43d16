//! `org.apache.zookeeper.server.persistence`: the header of snapshot and txn-log files, and the
//! serialised DataNode of a snapshot (§12.5).

use bytes::Bytes;

use crate::jute_record;
use crate::records::data::StatPersisted;

/// Magic of a snapshot file: "ZKSN".
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// Magic of a transaction log file: "ZKLG".
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;

jute_record! {
    pub struct FileHeader {
        pub magic: i32,
        pub version: i32,
        pub dbid: i64,
    }
}

jute_record! {
    /// A znode in a snapshot: data, the id of its ACL list in the ACL map, and its stat.
    pub struct DataNode {
        pub data: Option<Bytes>,
        pub acl: i64,
        pub stat: StatPersisted,
    }
}
