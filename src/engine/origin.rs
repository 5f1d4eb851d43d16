//! Origin ids: a number naming one incarnation of one engine instance, stamped into the entries
//! it proposes so that it can recognise them when they come back up from the log.
//!
//! Layer: a helper of the engines; touches the process's random hasher seed and an atomic
//! counter. Randomness is used only here, at proposal time — never in apply, where an origin id
//! is just data carried by the entry.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh origin id, unique per process incarnation with overwhelming probability: a hash of
/// a random per-call seed (the standard library's random hasher keys), the process id and a
/// process-wide counter. Never 0.
pub fn fresh_origin_id() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    match h.finish() {
        0 => 1,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_differ() {
        let mut ids: Vec<u64> = (0..1000).map(|_| super::fresh_origin_id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1000);
    }
}
