//! Server-side figures from /proc: CPU seconds (utime + stime) and resident memory.

use std::fs;
use std::path::Path;

/// CPU seconds (user + system) the process has used so far, threads included.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// A `kB` field of /proc/<pid>/status (`VmRSS`, `VmHWM`, …), in KiB.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let v = l.strip_prefix(field)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

/// Current resident set size, KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS")
}

/// Peak resident set size (high-water mark), KiB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmHWM")
}

/// The 1-minute load average.
pub fn load_avg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Bytes of disk used by all files under `dir` (allocated blocks, so sparse preallocated
/// files such as ZooKeeper's 64 MB txn logs count for what they hold).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => std::os::unix::fs::MetadataExt::blocks(&m) * 512,
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(super::cpu_seconds(me).is_some());
        assert!(super::rss_kb(me).unwrap() > 0);
        assert!(super::peak_rss_kb(me).unwrap() >= super::rss_kb(me).unwrap() / 2);
    }
}
