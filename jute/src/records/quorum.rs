//! `org.apache.zookeeper.server.quorum`: the packets of the ZAB learner protocol (§12.1).

use bytes::Bytes;

use crate::jute_record;
use crate::records::data::Id;

jute_record! {
    pub struct QuorumPacket {
        pub packet_type: i32,
        pub zxid: i64,
        pub data: Option<Bytes>,
        pub authinfo: Option<Vec<Id>>,
    }
}

jute_record! {
    pub struct LearnerInfo {
        pub serverid: i64,
        pub protocol_version: i32,
        pub config_version: i64,
    }
}

jute_record! {
    pub struct QuorumAuthPacket {
        pub magic: i64,
        pub status: i32,
        pub token: Option<Bytes>,
    }
}
