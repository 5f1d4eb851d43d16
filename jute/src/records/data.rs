//! `org.apache.zookeeper.data`: Id, ACL, Stat, StatPersisted, ClientInfo (§3.1).

use bytestring::ByteString;

use crate::jute_record;

jute_record! {
    /// An identity: `scheme:id`. Both strings may be null on the wire (kazoo writes an empty
    /// string as null, e.g. the id of `auth:`); [`Id::scheme`] and [`Id::id`] read null as "".
    pub struct Id {
        pub scheme: Option<ByteString>,
        pub id: Option<ByteString>,
    }
}

jute_record! {
    /// One ACL entry: permission bits for an identity.
    pub struct Acl {
        pub perms: i32,
        pub id: Id,
    }
}

jute_record! {
    /// The client-visible node metadata (68 bytes).
    pub struct Stat {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: i64,
    }
}

jute_record! {
    /// The node metadata as stored (60 bytes); `cversion` counts child creates only.
    pub struct StatPersisted {
        pub czxid: i64,
        pub mzxid: i64,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: i64,
    }
}

jute_record! {
    /// One authenticated identity of a connection, as whoAmI reports it.
    pub struct ClientInfo {
        pub auth_scheme: ByteString,
        pub user: ByteString,
    }
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Self {
        Id {
            scheme: Some(ByteString::from(scheme)),
            id: Some(ByteString::from(id)),
        }
    }

    /// The scheme, with null read as "".
    pub fn scheme(&self) -> &str {
        self.scheme.as_deref().unwrap_or("")
    }

    /// The id, with null read as "".
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// `world:anyone`.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }
}

impl Acl {
    /// `OPEN_ACL_UNSAFE`: all permissions for `world:anyone`.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: crate::Perms::ALL.0,
            id: Id::anyone(),
        }]
    }

    /// `READ_ACL_UNSAFE`: read for `world:anyone`.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: crate::Perms::READ.0,
            id: Id::anyone(),
        }]
    }

    /// `CREATOR_ALL_ACL`: all permissions for the creator's authenticated ids.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl {
            perms: crate::Perms::ALL.0,
            id: Id::new("auth", ""),
        }]
    }
}
