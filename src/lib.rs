//! zoolog: a wire-compatible Apache ZooKeeper replacement built the way Zelos is built on Delos.
//!
//! The modules follow the Delos diagram, top to bottom (DESIGN.md §1):
//! `server` → `zk` → `engine` → `store`, `log` → `cluster`. Nothing below `zk` knows ZooKeeper exists.
pub mod cluster;
pub mod config;
pub mod engine;
pub mod log;
pub mod planted;
pub mod server;
pub mod store;
pub mod zk;
