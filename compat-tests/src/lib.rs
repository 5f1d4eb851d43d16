//! `zoolog-compat`: a differential compatibility suite. The same scenarios run against Apache
//! ZooKeeper 3.8 and zoolog over raw protocol frames (zoolog-jute as the client); replies,
//! errors, Stats, data, children sets, ACLs and each connection's stream of watch notifications
//! are compared after normalising only what legitimately differs (zxids, times, session ids).
//!
//! * [`server`]: starting both servers (or using running ones),
//! * [`script`]: scenarios as data ([`script::Sc`], [`script::ops`]),
//! * [`exec`]: running a scenario against one server into a [`exec::Transcript`],
//! * [`compare`]: normalised comparison and divergence reports,
//! * [`scenarios`]: the scenario catalogue,
//! * [`random`]: seeded random operation sequences with delta-debugging shrinking,
//! * [`xchk`]: the cross-check proxy behind the `zk-xchk` binary.

pub mod client;
pub mod compare;
pub mod exec;
pub mod fourlw;
pub mod random;
pub mod scenarios;
pub mod script;
pub mod server;
pub mod suite;
pub mod value;
pub mod xchk;

#[cfg(test)]
mod tests;
