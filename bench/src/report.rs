//! The report: per-workload medians over the rounds, zoolog/ZooKeeper ratios, the targets,
//! a Markdown table, the JSON document and the PNG chart.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::server::Kind;
use crate::suite::{MemoryResult, RunResult, SuiteResults};

/// Medians over the rounds of one workload on one server.
#[derive(Debug, Clone, Serialize)]
pub struct Agg {
    pub rounds: usize,
    pub throughput: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub cpu_us_per_op: f64,
    pub peak_rss_kb: u64,
    pub errors: u64,
}

/// One workload, both servers.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub workload: String,
    pub unit: String,
    pub zookeeper: Option<Agg>,
    pub zoolog: Option<Agg>,
    /// zoolog / ZooKeeper throughput (higher is better).
    pub throughput_ratio: Option<f64>,
    /// zoolog / ZooKeeper p99 latency (lower is better).
    pub p99_ratio: Option<f64>,
}

/// One of the targets.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub goal: String,
    pub measured: Option<f64>,
    pub pass: Option<bool>,
}

fn median_f(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median_u(v: Vec<u64>) -> u64 {
    median_f(v.into_iter().map(|x| x as f64).collect()).round() as u64
}

fn agg(runs: &[&RunResult]) -> Option<Agg> {
    if runs.is_empty() {
        return None;
    }
    Some(Agg {
        rounds: runs.len(),
        throughput: median_f(runs.iter().map(|r| r.throughput).collect()),
        p50_us: median_u(runs.iter().map(|r| r.p50_us).collect()),
        p99_us: median_u(runs.iter().map(|r| r.p99_us).collect()),
        p999_us: median_u(runs.iter().map(|r| r.p999_us).collect()),
        cpu_us_per_op: median_f(runs.iter().map(|r| r.server_cpu_us_per_op).collect()),
        peak_rss_kb: runs.iter().map(|r| r.server_peak_rss_kb).max().unwrap_or(0),
        errors: runs.iter().map(|r| r.errors).sum(),
    })
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| a / b)
}

pub fn summarize(res: &SuiteResults) -> Vec<Summary> {
    let mut names: Vec<&str> = Vec::new();
    for r in &res.runs {
        if !names.contains(&r.workload.as_str()) {
            names.push(&r.workload);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let of = |k: Kind| -> Vec<&RunResult> {
                res.runs
                    .iter()
                    .filter(|r| r.workload == name && r.server == k)
                    .collect()
            };
            let zk = agg(&of(Kind::ZooKeeper));
            let zl = agg(&of(Kind::Zoolog));
            let (tr, pr) = match (&zk, &zl) {
                (Some(a), Some(b)) => (
                    ratio(b.throughput, a.throughput),
                    ratio(b.p99_us as f64, a.p99_us as f64),
                ),
                _ => (None, None),
            };
            Summary {
                workload: name.to_string(),
                unit: res
                    .runs
                    .iter()
                    .find(|r| r.workload == name)
                    .map(|r| r.unit.clone())
                    .unwrap_or_default(),
                zookeeper: zk,
                zoolog: zl,
                throughput_ratio: tr,
                p99_ratio: pr,
            }
        })
        .collect()
}

fn mem_of(res: &SuiteResults, k: Kind) -> Option<&MemoryResult> {
    res.memory
        .iter()
        .find(|m| m.server == k && m.error.is_none())
}

pub fn targets(sum: &[Summary], res: &SuiteResults) -> Vec<Target> {
    let tr = |w: &str| {
        sum.iter()
            .find(|s| s.workload == w)
            .and_then(|s| s.throughput_ratio)
    };
    let mut t = vec![
        target("creates/s ratio", "≥ 3.0×", tr("create"), |v| v >= 3.0),
        target("setData/s ratio", "≥ 3.0×", tr("setData"), |v| v >= 3.0),
        target("getData/s ratio", "≥ 2.0×", tr("getData"), |v| v >= 2.0),
        target(
            "p99 at 50/50 ratio",
            "≤ 0.5×",
            sum.iter()
                .find(|s| s.workload == "mixed-50r50w")
                .and_then(|s| s.p99_ratio),
            |v| v <= 0.5,
        ),
    ];
    if res.memory.is_empty() {
        return t;
    }
    let zk = mem_of(res, Kind::ZooKeeper);
    let zl = mem_of(res, Kind::Zoolog);
    let n = zl.or(zk).map(|m| m.znodes).unwrap_or(0);
    t.push(target(
        &format!("RSS at {} znodes ratio", count(n)),
        "≤ 0.25×",
        match (zk, zl) {
            (Some(a), Some(b)) => ratio(b.rss_kb as f64, a.rss_kb as f64),
            _ => None,
        },
        |v| v <= 0.25,
    ));
    t.push(target(
        &format!("zoolog restart to serving at {} znodes (s)", count(n)),
        "≤ 2 s",
        zl.map(|m| m.restart_s),
        |v| v <= 2.0,
    ));
    t
}

fn target(name: &str, goal: &str, measured: Option<f64>, ok: impl Fn(f64) -> bool) -> Target {
    Target {
        name: name.to_string(),
        goal: goal.to_string(),
        measured,
        pass: measured.map(ok),
    }
}

fn count(n: usize) -> String {
    if n >= 1_000_000 && n % 1_000_000 < 100_000 {
        format!("{:.0}M", n as f64 / 1e6)
    } else if n >= 1000 {
        format!("{:.0}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

fn msf(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

fn rate(v: f64) -> String {
    if v >= 100.0 {
        let s = format!("{v:.0}");
        // Thousands separators.
        let b = s.as_bytes();
        let mut out = String::new();
        for (i, c) in b.iter().enumerate() {
            if i > 0 && (b.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(*c as char);
        }
        out
    } else {
        format!("{v:.1}")
    }
}

fn opt<T>(a: &Option<Agg>, f: impl Fn(&Agg) -> T, fmt: impl Fn(T) -> String) -> String {
    a.as_ref().map(|a| fmt(f(a))).unwrap_or_else(|| "–".into())
}

fn ratio_s(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.2}×")).unwrap_or_else(|| "–".into())
}

/// A Markdown table per section.
pub fn markdown(sum: &[Summary], res: &SuiteResults, tg: &[Target]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | unit | ZooKeeper | zoolog | ratio | p50 ms ZK | p50 ms zoolog | p99 ms ZK | p99 ms zoolog | p99 ratio | p99.9 ms ZK | p99.9 ms zoolog | CPU µs/op ZK | CPU µs/op zoolog | peak RSS MB ZK | peak RSS MB zoolog | errors |"
    );
    let _ = writeln!(
        s,
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for x in sum {
        let (zk, zl) = (&x.zookeeper, &x.zoolog);
        let errors = zk.as_ref().map_or(0, |a| a.errors) + zl.as_ref().map_or(0, |a| a.errors);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            x.workload,
            x.unit,
            opt(zk, |a| a.throughput, rate),
            opt(zl, |a| a.throughput, rate),
            ratio_s(x.throughput_ratio),
            opt(zk, |a| a.p50_us, msf),
            opt(zl, |a| a.p50_us, msf),
            opt(zk, |a| a.p99_us, msf),
            opt(zl, |a| a.p99_us, msf),
            ratio_s(x.p99_ratio),
            opt(zk, |a| a.p999_us, msf),
            opt(zl, |a| a.p999_us, msf),
            opt(zk, |a| a.cpu_us_per_op, |v| format!("{v:.0}")),
            opt(zl, |a| a.cpu_us_per_op, |v| format!("{v:.0}")),
            opt(
                zk,
                |a| a.peak_rss_kb,
                |v| format!("{:.0}", v as f64 / 1024.0)
            ),
            opt(
                zl,
                |a| a.peak_rss_kb,
                |v| format!("{:.0}", v as f64 / 1024.0)
            ),
            errors
        );
    }
    if !res.memory.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| memory & restart | znodes | load s | load znodes/s | RSS MB | peak RSS MB | disk MB | shutdown s | restart to serving s | RSS after restart MB |"
        );
        let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for m in &res.memory {
            if let Some(e) = &m.error {
                let _ = writeln!(
                    s,
                    "| {} | error: {} | | | | | | | | |",
                    m.server.label(),
                    e.lines().next().unwrap_or("")
                );
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {:.0} |",
                m.server.label(),
                m.znodes,
                m.load_s,
                rate(m.load_znodes_per_s),
                m.rss_kb as f64 / 1024.0,
                m.peak_rss_kb as f64 / 1024.0,
                m.disk_bytes as f64 / 1e6,
                m.shutdown_s,
                m.restart_s,
                m.rss_after_restart_kb as f64 / 1024.0
            );
        }
        if let (Some(a), Some(b)) = (mem_of(res, Kind::ZooKeeper), mem_of(res, Kind::Zoolog)) {
            let r = |x: f64, y: f64| ratio_s(ratio(y, x));
            let _ = writeln!(
                s,
                "| zoolog/ZooKeeper | | {} | {} | {} | {} | {} | {} | {} | {} |",
                r(a.load_s, b.load_s),
                r(a.load_znodes_per_s, b.load_znodes_per_s),
                r(a.rss_kb as f64, b.rss_kb as f64),
                r(a.peak_rss_kb as f64, b.peak_rss_kb as f64),
                r(a.disk_bytes as f64, b.disk_bytes as f64),
                r(a.shutdown_s, b.shutdown_s),
                r(a.restart_s, b.restart_s),
                r(a.rss_after_restart_kb as f64, b.rss_after_restart_kb as f64),
            );
        }
    }
    if !tg.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| target (zoolog vs ZooKeeper) | goal | measured | met |"
        );
        let _ = writeln!(s, "|---|--:|--:|:-:|");
        for t in tg {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                t.name,
                t.goal,
                t.measured
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "–".into()),
                match t.pass {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "–",
                }
            );
        }
    }
    s
}

/// The JSON document written to results.json.
pub fn json(
    meta: serde_json::Value,
    res: &SuiteResults,
    sum: &[Summary],
    tg: &[Target],
) -> serde_json::Value {
    serde_json::json!({
        "meta": meta,
        "versions": res.versions,
        "summary": sum,
        "targets": tg,
        "memory": res.memory,
        "runs": res.runs,
    })
}

/// Axis labels of a log-scale ratio axis.
fn key_points(lo: f64, hi: f64) -> Vec<f64> {
    [
        0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0,
        100.0,
    ]
    .into_iter()
    .filter(|v| *v >= lo && *v <= hi)
    .collect()
}

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

fn register_font() -> Result<(), String> {
    use std::sync::OnceLock;
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(|| {
                format!(
                    "no font found (install fonts-dejavu-core); looked in {}",
                    FONT_PATHS.join(", ")
                )
            })?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
            .map_err(|_| "unreadable font file".to_string())
    })
    .clone()
}

/// The PNG: zoolog/ZooKeeper ratios of throughput and of p99 latency per workload (log scale),
/// and the memory/restart figures underneath.
pub fn chart(path: &Path, sum: &[Summary], res: &SuiteResults, title: &str) -> Result<(), String> {
    use plotters::coord::ranged1d::SegmentValue;
    use plotters::prelude::*;

    register_font()?;
    let rows: Vec<&Summary> = sum
        .iter()
        .filter(|s| s.throughput_ratio.is_some())
        .collect();
    let n = rows.len().max(1);
    let height = 160 + 34 * n as u32 + 150;
    let root = BitMapBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (top, bottom) = root.split_vertically(height - 150);
    let top = top
        .titled(title, ("sans-serif", 24))
        .map_err(|e| e.to_string())?;
    let (left, right) = top.split_horizontally(700);
    let panels = [
        (
            left,
            "throughput, zoolog / ZooKeeper (higher is better)",
            true,
        ),
        (
            right,
            "p99 latency, zoolog / ZooKeeper (lower is better)",
            false,
        ),
    ];
    let names: Vec<String> = rows.iter().map(|r| r.workload.clone()).collect();
    for (area, caption, higher_better) in panels {
        let vals: Vec<Option<f64>> = rows
            .iter()
            .map(|r| {
                if higher_better {
                    r.throughput_ratio
                } else {
                    r.p99_ratio
                }
            })
            .collect();
        let lo = vals
            .iter()
            .flatten()
            .fold(0.5f64, |a, &b| a.min(b))
            .max(0.001)
            * 0.7;
        let hi = vals.iter().flatten().fold(4.0f64, |a, &b| a.max(b)) * 1.4;
        let mut chart = ChartBuilder::on(&area)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(150)
            .build_cartesian_2d(
                (lo..hi).log_scale().with_key_points(key_points(lo, hi)),
                (0..n - 1).into_segmented(),
            )
            .map_err(|e| e.to_string())?;
        let names2 = names.clone();
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&move |v| match v {
                // Row 0 at the top.
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names2
                    .get(n.wrapping_sub(1 + *i))
                    .cloned()
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .x_label_formatter(&|v| format!("{v:.2}×"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
        for (row, v) in vals.iter().enumerate() {
            let Some(v) = *v else { continue };
            let i = n - 1 - row;
            let good = if higher_better { v >= 1.0 } else { v <= 1.0 };
            let color = if good {
                RGBColor(46, 139, 87)
            } else {
                RGBColor(205, 92, 92)
            };
            let mut bar = Rectangle::new(
                [
                    (1.0, SegmentValue::Exact(i)),
                    (v, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            chart
                .draw_series(std::iter::once(bar))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{v:.2}×"),
                    (
                        if v >= 1.0 { v * 1.05 } else { 1.05 },
                        SegmentValue::CenterOf(i),
                    ),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(
                vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
    }
    // Memory and restart, as text.
    let mut y = 10;
    let style = ("sans-serif", 16).into_font().color(&BLACK);
    let mut lines = vec!["Memory and restart".to_string()];
    for m in &res.memory {
        lines.push(match &m.error {
            Some(e) => format!("{}: error: {}", m.server.label(), e.lines().next().unwrap_or("")),
            None => format!(
                "{:<10} {} znodes: RSS {:.0} MB (peak {:.0} MB), disk {:.0} MB, load {:.1} s, restart to serving {:.2} s",
                m.server.label(),
                m.znodes,
                m.rss_kb as f64 / 1024.0,
                m.peak_rss_kb as f64 / 1024.0,
                m.disk_bytes as f64 / 1e6,
                m.load_s,
                m.restart_s
            ),
        });
    }
    if res.memory.is_empty() {
        lines.push("(not run)".into());
    }
    for l in lines {
        bottom
            .draw(&Text::new(l, (30, y), style.clone()))
            .map_err(|e| e.to_string())?;
        y += 26;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
