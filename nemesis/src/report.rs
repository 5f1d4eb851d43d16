//! Reports: the summary lines, the history and results as JSON, and a self-contained HTML
//! timeline (ops per client against time, faults shaded, anomalies marked).

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::checker::CheckResult;
use crate::error::{Error, Result};
use crate::history::{History, Outcome};

/// Writes `history.json`, `results.json`, `summary.txt` and, if `timeline`, `timeline.html`
/// into `dir`.
pub fn write_all(
    dir: &Path,
    h: &History,
    results: &[CheckResult],
    summary: &str,
    timeline: bool,
) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("mkdir {}", dir.display()), e))?;
    write_json(&dir.join("history.json"), h)?;
    write_json(&dir.join("results.json"), &results)?;
    let p = dir.join("summary.txt");
    fs::write(&p, summary).map_err(|e| Error::io(format!("write {}", p.display()), e))?;
    if timeline {
        let p = dir.join("timeline.html");
        fs::write(&p, timeline_html(h, results))
            .map_err(|e| Error::io(format!("write {}", p.display()), e))?;
    }
    Ok(())
}

fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    fs::write(path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))
}

/// Reads a history written by [`write_all`].
pub fn read_history(path: &Path) -> Result<History> {
    let text =
        fs::read_to_string(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fault_color(name: &str) -> &'static str {
    if name.starts_with("kill") {
        "rgba(229,57,53,0.16)"
    } else if name.starts_with("pause") {
        "rgba(142,36,170,0.16)"
    } else if name.starts_with("partition") {
        "rgba(30,136,229,0.16)"
    } else {
        "rgba(253,216,53,0.25)"
    }
}

/// The timeline page.
pub fn timeline_html(h: &History, results: &[CheckResult]) -> String {
    let bad: HashSet<u64> = results
        .iter()
        .flat_map(|r| r.anomalies.iter().flat_map(|a| a.ops.iter().copied()))
        .collect();
    let end = h
        .ops
        .iter()
        .map(|o| o.complete)
        .chain(h.nemesis.iter().map(|n| n.time))
        .max()
        .unwrap_or(1)
        .max(1);
    let processes: Vec<usize> = {
        let mut v: Vec<usize> = h.ops.iter().map(|o| o.process).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let row: BTreeMap<usize, usize> = processes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let (left, width, rh, top) = (70.0, 1300.0, 14.0, 24.0);
    let height = top + rh * processes.len() as f64 + 20.0;
    let x = |t: u64| left + width * (t as f64 / end as f64);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="10">"#,
        left + width + 20.0
    );
    // Faults: pair each start with the next heal of the same fault.
    let mut open: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    let mut spans = Vec::new();
    for ev in &h.nemesis {
        if ev.phase == "start" {
            open.entry(&ev.fault)
                .or_default()
                .push((ev.time, &ev.detail));
        } else if let Some((t0, d)) = open.get_mut(ev.fault.as_str()).and_then(|v| {
            if v.is_empty() {
                None
            } else {
                Some(v.remove(0))
            }
        }) {
            spans.push((ev.fault.as_str(), t0, ev.time, d));
        }
    }
    for (f, v) in open {
        for (t0, d) in v {
            spans.push((f, t0, end, d));
        }
    }
    for (f, t0, t1, d) in &spans {
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{}" width="{:.1}" height="{}" fill="{}"><title>{} {}</title></rect><text x="{:.1}" y="{}" fill="#555">{}</text>"##,
            x(*t0),
            top - 4.0,
            (x(*t1) - x(*t0)).max(1.0),
            height - top,
            fault_color(f),
            esc(f),
            esc(d),
            x(*t0) + 2.0,
            top - 8.0,
            esc(f)
        );
    }
    for (p, i) in &row {
        let _ = write!(
            svg,
            r#"<text x="2" y="{:.1}">p{p}</text>"#,
            top + rh * *i as f64 + 10.0
        );
    }
    let mut marks = String::new();
    for op in &h.ops {
        let Some(&i) = row.get(&op.process) else {
            continue;
        };
        let color = match op.outcome {
            Outcome::Ok => "#43a047",
            Outcome::Fail => "#9e9e9e",
            Outcome::Unknown => "#fb8c00",
        };
        let y = top + rh * i as f64 + 2.0;
        let x0 = x(op.invoke);
        let w = (x(op.complete) - x0).max(1.0);
        let title = esc(&serde_json::to_string(op).unwrap_or_default());
        if bad.contains(&op.id) {
            let _ = write!(
                marks,
                r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{}" fill="{color}" stroke="red" stroke-width="2"><title>ANOMALY {title}</title></rect><line x1="{x0:.1}" x2="{x0:.1}" y1="{top}" y2="{height}" stroke="red" stroke-dasharray="3,3"/>"#,
                rh - 3.0
            );
        } else {
            let _ = write!(
                svg,
                r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{}" fill="{color}"><title>{title}</title></rect>"#,
                rh - 3.0
            );
        }
    }
    svg.push_str(&marks);
    let secs = end as f64 / 1e9;
    for k in 0..=10 {
        let t = secs * k as f64 / 10.0;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{t:.0}s</text>"#,
            left + width * k as f64 / 10.0,
            height - 4.0
        );
    }
    svg.push_str("</svg>");
    let mut table = String::new();
    for r in results {
        let _ = write!(table, "<li>{}</li>", esc(&r.summary()));
        for a in r.anomalies.iter().take(20) {
            let _ = write!(
                table,
                "<li class=bad>{}: {} (ops {:?})</li>",
                esc(&a.check),
                esc(&a.message),
                a.ops
            );
        }
    }
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>zoolog-nemesis: {} x{}</title>\
         <style>body{{font-family:sans-serif}} .bad{{color:#c62828}} li{{font-family:monospace}}</style>\
         </head><body><h1>{} ensemble of {}: {} ops</h1><ul>{table}</ul>\
         <p>Rows are client processes; green ok, grey failed, orange unknown; faults shaded \
         (red kill, purple pause, blue partition, yellow clock); anomalies outlined red. \
         Hover for details.</p>{svg}</body></html>",
        esc(&h.target),
        h.nodes,
        esc(&h.target),
        h.nodes,
        h.ops.len()
    )
}
