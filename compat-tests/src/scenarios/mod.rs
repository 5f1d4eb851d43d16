//! The scenario catalogue: every scenario the suite runs, by area.

use crate::script::Sc;

mod acl;
mod basic;
mod multi;
mod sessions;
mod watches;
mod wire;

/// Every scenario, in the order the suite runs them.
pub fn all() -> Vec<Sc> {
    let mut v = Vec::new();
    basic::add(&mut v);
    multi::add(&mut v);
    watches::add(&mut v);
    acl::add(&mut v);
    sessions::add(&mut v);
    wire::add(&mut v);
    v
}

/// Scenarios that leave the reference server in a state the others should not see (run after
/// the random sequences).
pub fn last() -> Vec<Sc> {
    let mut v = Vec::new();
    wire::add_last(&mut v);
    v
}

/// Builds a scenario with `f` and appends it.
pub(crate) fn sc(v: &mut Vec<Sc>, name: &str, f: impl FnOnce(&mut Sc)) {
    let mut s = Sc::new(name);
    f(&mut s);
    v.push(s);
}
