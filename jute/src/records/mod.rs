//! Every record of `zookeeper.jute`, grouped as ZooKeeper groups them: data, client protocol,
//! transactions, persistence and quorum.

pub mod connect;
pub mod data;
pub mod persistence;
pub mod proto;
pub mod quorum;
pub mod txn;
