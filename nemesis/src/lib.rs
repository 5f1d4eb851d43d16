//! zoolog-nemesis: fault injection and a history checker for ZooKeeper-protocol ensembles.
//! See README.md for what it does and what it checks.

pub mod campaign;
pub mod checker;
pub mod ensemble;
pub mod error;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod report;
pub mod wgl;
pub mod workload;

pub use error::{Error, Result};

/// The zoolog binary of this workspace's debug build: `$CARGO_TARGET_DIR/debug/zoolog`, or
/// `<workspace>/target/debug/zoolog`.
pub fn default_zoolog_binary() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    target.join("debug").join("zoolog")
}
