//! `org.apache.zookeeper.proto`: headers and every request/response record of the client
//! protocol (§2, §3.1, §6, §8.4). Fields that ZooKeeper lets be null (`-1`) are `Option`s, so a
//! decoded record re-encodes to the same bytes.

use bytes::Bytes;
use bytestring::ByteString;

use crate::jute_record;
use crate::records::data::{Acl, ClientInfo, Stat};

jute_record! {
    /// Precedes every request after the handshake.
    pub struct RequestHeader {
        pub xid: i32,
        /// An [`OpCode`](crate::OpCode) value.
        pub op: i32,
    }
}

jute_record! {
    /// Precedes every reply and notification after the handshake.
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        /// An [`ErrorCode`](crate::ErrorCode) value.
        pub err: i32,
    }
}

jute_record! {
    /// One operation's header inside a multi request or response (§9).
    pub struct MultiHeader {
        pub op: i32,
        pub done: bool,
        pub err: i32,
    }
}

jute_record! {
    pub struct AuthPacket {
        pub auth_type: i32,
        pub scheme: ByteString,
        pub auth: Bytes,
    }
}

jute_record! {
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<ByteString>,
        pub exist_watches: Vec<ByteString>,
        pub child_watches: Vec<ByteString>,
    }
}

jute_record! {
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<ByteString>,
        pub exist_watches: Vec<ByteString>,
        pub child_watches: Vec<ByteString>,
        pub persistent_watches: Vec<ByteString>,
        pub persistent_recursive_watches: Vec<ByteString>,
    }
}

jute_record! {
    /// create, create2 and createContainer.
    pub struct CreateRequest {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub acl: Option<Vec<Acl>>,
        pub flags: i32,
    }
}

jute_record! {
    pub struct CreateTtlRequest {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub acl: Option<Vec<Acl>>,
        pub flags: i32,
        pub ttl: i64,
    }
}

jute_record! {
    pub struct DeleteRequest {
        pub path: ByteString,
        pub version: i32,
    }
}

jute_record! {
    /// Hand-written in ZooKeeper as a `buffer`; byte-identical to a `ustring`.
    pub struct DeleteContainerRequest {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct ExistsRequest {
        pub path: ByteString,
        pub watch: bool,
    }
}

jute_record! {
    pub struct GetDataRequest {
        pub path: ByteString,
        pub watch: bool,
    }
}

jute_record! {
    pub struct SetDataRequest {
        pub path: ByteString,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

jute_record! {
    pub struct GetAclRequest {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct SetAclRequest {
        pub path: ByteString,
        pub acl: Option<Vec<Acl>>,
        pub version: i32,
    }
}

jute_record! {
    pub struct GetChildrenRequest {
        pub path: ByteString,
        pub watch: bool,
    }
}

jute_record! {
    pub struct GetChildren2Request {
        pub path: ByteString,
        pub watch: bool,
    }
}

jute_record! {
    pub struct GetAllChildrenNumberRequest {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct SyncRequest {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct CheckVersionRequest {
        pub path: ByteString,
        pub version: i32,
    }
}

jute_record! {
    pub struct ReconfigRequest {
        pub joining_servers: Option<ByteString>,
        pub leaving_servers: Option<ByteString>,
        pub new_members: Option<ByteString>,
        pub cur_config_id: i64,
    }
}

jute_record! {
    pub struct CheckWatchesRequest {
        pub path: ByteString,
        /// A [`WatcherType`](crate::WatcherType) value.
        pub watcher_type: i32,
    }
}

jute_record! {
    pub struct RemoveWatchesRequest {
        pub path: ByteString,
        /// A [`WatcherType`](crate::WatcherType) value.
        pub watcher_type: i32,
    }
}

jute_record! {
    pub struct AddWatchRequest {
        pub path: ByteString,
        /// An [`AddWatchMode`](crate::AddWatchMode) value.
        pub mode: i32,
    }
}

jute_record! {
    pub struct GetEphemeralsRequest {
        pub prefix_path: Option<ByteString>,
    }
}

jute_record! {
    pub struct GetSaslRequest {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    pub struct SetSaslRequest {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    pub struct SetSaslResponse {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    /// Unused by ZooKeeper since 3.0; kept for completeness of `zookeeper.jute`.
    pub struct GetMaxChildrenRequest {
        pub path: ByteString,
    }
}

jute_record! {
    /// Unused by ZooKeeper since 3.0.
    pub struct GetMaxChildrenResponse {
        pub max: i32,
    }
}

jute_record! {
    /// Unused by ZooKeeper since 3.0.
    pub struct SetMaxChildrenRequest {
        pub path: ByteString,
        pub max: i32,
    }
}

jute_record! {
    /// A watch notification, sent with ReplyHeader xid -1.
    pub struct WatcherEvent {
        /// An [`EventType`](crate::EventType) value.
        pub event_type: i32,
        /// A [`KeeperState`](crate::KeeperState) value; the server always sends 3.
        pub state: i32,
        pub path: ByteString,
    }
}

jute_record! {
    /// The body of addWatch replies and of error results inside multi.
    pub struct ErrorResponse {
        pub err: i32,
    }
}

jute_record! {
    pub struct CreateResponse {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct Create2Response {
        pub path: ByteString,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct ExistsResponse {
        pub stat: Stat,
    }
}

jute_record! {
    /// Also the reply to reconfig (the new config and the Stat of `/zookeeper/config`).
    pub struct GetDataResponse {
        pub data: Option<Bytes>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct SetDataResponse {
        pub stat: Stat,
    }
}

jute_record! {
    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct SetAclResponse {
        pub stat: Stat,
    }
}

jute_record! {
    pub struct GetChildrenResponse {
        pub children: Vec<ByteString>,
    }
}

jute_record! {
    pub struct GetChildren2Response {
        pub children: Vec<ByteString>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }
}

jute_record! {
    pub struct SyncResponse {
        pub path: ByteString,
    }
}

jute_record! {
    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<ByteString>,
    }
}

jute_record! {
    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}
