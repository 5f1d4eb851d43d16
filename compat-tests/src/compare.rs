//! Comparing two transcripts of one scenario, and printing a divergence with both sides decoded.

use std::fmt::Write as _;

use crate::exec::Transcript;
use crate::script::Sc;

/// The index of the first entry where the normalised transcripts differ, if any.
pub fn first_difference(zk: &Transcript, zl: &Transcript) -> Option<usize> {
    let a = zk.lines(&zk.norm());
    let b = zl.lines(&zl.norm());
    let n = a.len().max(b.len());
    (0..n).find(|&i| a.get(i) != b.get(i))
}

/// A readable report: the step that diverged (as code), then both servers' answers to the steps
/// around it, normalised and with raw zxids/session ids beside them; `!` marks differing lines.
pub fn report(sc: &Sc, zk: &Transcript, zl: &Transcript, at: usize) -> String {
    let na = zk.norm();
    let nb = zl.norm();
    let a = zk.lines(&na);
    let b = zl.lines(&nb);
    let step_of = |t: &Transcript, i: usize| t.entries.get(i).map(|e| e.step);
    let step = step_of(zk, at)
        .into_iter()
        .chain(step_of(zl, at))
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "DIVERGENCE in scenario `{}` at step {step}: {}",
        sc.name,
        sc.steps.get(step).map(|s| s.code()).unwrap_or_default()
    );
    let first = step.saturating_sub(2);
    let _ = writeln!(out, "  steps {first}..={step}:");
    for i in first..=step {
        if let Some(s) = sc.steps.get(i) {
            let _ = writeln!(out, "    #{i} {}", s.code());
        }
    }
    let mut ra = na.clone();
    ra.show_raw = true;
    let mut rb = nb.clone();
    rb.show_raw = true;
    for (label, t, lines, other, raw) in
        [("zookeeper", zk, &a, &b, &ra), ("zoolog", zl, &b, &a, &rb)]
    {
        let _ = writeln!(out, "  {label}:");
        let mut shown = 0;
        for (i, e) in t.entries.iter().enumerate() {
            if e.step < first || e.step > step + 1 {
                continue;
            }
            let mark = if lines.get(i) != other.get(i) {
                "!"
            } else {
                " "
            };
            let _ = writeln!(
                out,
                "   {mark} #{} {}: {}",
                e.step,
                e.conn,
                raw.render(&e.v)
            );
            shown += 1;
        }
        if shown == 0 {
            let _ = writeln!(out, "     (nothing recorded)");
        }
    }
    out
}

/// Both transcripts in full (for `COMPAT_VERBOSE=1`).
pub fn full(zk: &Transcript, zl: &Transcript) -> String {
    let mut out = String::new();
    for (label, t) in [("zookeeper", zk), ("zoolog", zl)] {
        let _ = writeln!(out, "  --- {label} ---");
        for l in t.lines(&t.norm()) {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
}
