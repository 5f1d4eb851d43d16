//! Faults planted on purpose, to prove that the nemesis harness (nemesis/README.md) catches
//! them. Debug builds only: a release build has no switch.

/// `ZOOLOG_PLANTED_FAULT=stale-sync`: `sync` answers at once instead of waiting for the log's
/// tail, so a sync+read on a lagging node may miss writes acknowledged before the sync.
#[cfg(debug_assertions)]
pub fn stale_sync() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("ZOOLOG_PLANTED_FAULT").is_ok_and(|v| v == "stale-sync"))
}

/// Release builds: never.
#[cfg(not(debug_assertions))]
pub fn stale_sync() -> bool {
    false
}
