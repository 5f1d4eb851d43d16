//! Comparing two transcripts of one scenario, and printing a divergence with both sides decoded.

use std::collections::BTreeSet;
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

/// The steps whose normalised entries differ.
pub fn differing_steps(zk: &Transcript, zl: &Transcript) -> BTreeSet<usize> {
    let group = |t: &Transcript| {
        let n = t.norm();
        let mut m: std::collections::BTreeMap<usize, Vec<String>> = Default::default();
        for ((step, _), l) in t.ordered().into_iter().zip(t.lines(&n)) {
            m.entry(step).or_default().push(l);
        }
        m
    };
    let a = group(zk);
    let b = group(zl);
    a.keys()
        .chain(b.keys())
        .copied()
        .filter(|k| a.get(k) != b.get(k))
        .collect()
}

/// A readable report: the step that diverged (as code), then both servers' answers to the steps
/// around it, normalised and with raw zxids/session ids beside them; `!` marks differing lines.
/// Later steps that also differ are listed after it (they may be consequences of the first).
pub fn report(sc: &Sc, zk: &Transcript, zl: &Transcript, at: usize) -> String {
    let na = zk.norm();
    let nb = zl.norm();
    let a = zk.lines(&na);
    let b = zl.lines(&nb);
    let oa = zk.ordered();
    let ob = zl.ordered();
    let step = oa
        .get(at)
        .map(|e| e.0)
        .into_iter()
        .chain(ob.get(at).map(|e| e.0))
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
    for (label, entries, lines, other, raw) in [
        ("zookeeper", &oa, &a, &b, &ra),
        ("zoolog", &ob, &b, &a, &rb),
    ] {
        let _ = writeln!(out, "  {label}:");
        let mut shown = 0;
        for (i, (st, e)) in entries.iter().enumerate() {
            if *st < first || *st > step + 1 {
                continue;
            }
            let mark = if lines.get(i) != other.get(i) {
                "!"
            } else {
                " "
            };
            let _ = writeln!(out, "   {mark} #{st} {}: {}", e.conn, raw.render(&e.v));
            shown += 1;
        }
        if shown == 0 {
            let _ = writeln!(out, "     (nothing recorded)");
        }
    }
    let later: Vec<usize> = differing_steps(zk, zl)
        .into_iter()
        .filter(|s| *s > step + 1)
        .collect();
    if !later.is_empty() {
        let _ = writeln!(
            out,
            "  later steps that also differ ({}; zxid ranks shift after a missing or extra zxid):",
            later.len()
        );
        for s in later.iter().take(8) {
            let _ = writeln!(
                out,
                "    #{s} {}",
                sc.steps.get(*s).map(|x| x.code()).unwrap_or_default()
            );
        }
    }
    out
}

/// Both transcripts in full (for `COMPAT_VERBOSE=1`).
pub fn full(zk: &Transcript, zl: &Transcript) -> String {
    let mut out = String::new();
    for (label, t) in [("zookeeper", zk), ("zoolog", zl)] {
        let _ = writeln!(out, "  --- {label} ---");
        let mut n = t.norm();
        n.show_raw = true;
        for l in t.lines(&n) {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
}
