//! `org.apache.zookeeper.txn`: the transaction header and every transaction body, as they appear
//! in ZooKeeper's txn log, in PROPOSAL/INFORM packets and in multi transactions (§12.6).

use bytes::Bytes;
use bytestring::ByteString;

use crate::jute_record;
use crate::records::data::Acl;

jute_record! {
    pub struct TxnHeader {
        /// The session id (0 for internal deletes).
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        /// The leader's wall clock in ms.
        pub time: i64,
        /// An [`OpCode`](crate::OpCode) value.
        pub txn_type: i32,
    }
}

jute_record! {
    /// Legacy create body (before parentCVersion).
    pub struct CreateTxnV0 {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
    }
}

jute_record! {
    pub struct CreateTxn {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        /// The parent's new persisted cversion.
        pub parent_cversion: i32,
    }
}

jute_record! {
    pub struct CreateTtlTxn {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

jute_record! {
    pub struct CreateContainerTxn {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

jute_record! {
    pub struct DeleteTxn {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct SetDataTxn {
        pub path: ByteString,
        pub data: Option<Bytes>,
        /// The new version.
        pub version: i32,
    }
}

jute_record! {
    pub struct CheckVersionTxn {
        pub path: ByteString,
        pub version: i32,
    }
}

jute_record! {
    pub struct SetAclTxn {
        pub path: ByteString,
        pub acl: Vec<Acl>,
        /// The new aversion.
        pub version: i32,
    }
}

jute_record! {
    /// Unused by ZooKeeper since 3.0.
    pub struct SetMaxChildrenTxn {
        pub path: ByteString,
        pub max: i32,
    }
}

jute_record! {
    pub struct CreateSessionTxn {
        pub time_out: i32,
    }
}

jute_record! {
    pub struct CloseSessionTxn {
        pub paths2_delete: Vec<ByteString>,
    }
}

jute_record! {
    pub struct ErrorTxn {
        pub err: i32,
    }
}

jute_record! {
    /// One sub-transaction of a multi: its type and its serialised body.
    pub struct Txn {
        pub txn_type: i32,
        pub data: Bytes,
    }
}

jute_record! {
    pub struct MultiTxn {
        pub txns: Vec<Txn>,
    }
}

jute_record! {
    /// Optional trailer after a transaction body.
    pub struct TxnDigest {
        pub version: i32,
        pub tree_digest: i64,
    }
}
