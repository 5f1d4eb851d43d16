//! The scenario catalogue.

use crate::script::Sc;

mod basic;

/// Every scenario, in the order the suite runs them.
pub fn all() -> Vec<Sc> {
    let mut v = Vec::new();
    basic::add(&mut v);
    v
}

/// Helper: build a scenario with `f` and push it.
pub(crate) fn sc(v: &mut Vec<Sc>, name: &str, f: impl FnOnce(&mut Sc)) {
    let mut s = Sc::new(name);
    f(&mut s);
    v.push(s);
}
