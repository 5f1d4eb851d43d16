//! The client-facing network layer (DESIGN.md §1–§2): the listener, one task per connection
//! (four-letter words, the handshake, pipelined reads, replies in order, coalesced writes), and
//! the admin control socket behind `zoolog ctl`.
//!
//! Layer: top; drives `zk` ([`crate::zk::ZkService`], [`crate::zk::processor`]) and knows no
//! platform internals beyond what the service exposes.

pub mod connection;
pub mod ctl;
pub mod fourlw;
pub mod listener;
pub mod priority;
pub mod writer;

pub use listener::{Server, ServerError};
