//! The scheduling priority of the connection threads (`server/`).
//!
//! Every write passes through two threads that nothing can share: the log writer, which appends
//! and fsyncs each batch, and the apply thread, which applies the batches in order. The
//! connection threads are many and wake for every reply. On a machine with few cores, a woken
//! connection thread preempts the apply or log thread in the middle of a batch, and then every
//! write in flight waits for it. So the connection threads run at a lower priority: `nice`
//! steps above the process's own nice value (`zoolog.server.workerNice`, 0 turns it off). A
//! thread at a higher nice value still gets its share of a busy CPU; it only yields first. On
//! an idle CPU it runs at full speed, so reads on an otherwise idle node lose nothing.
//!
//! Only the runtime's worker threads are lowered, each the first time it parks or wakes (tokio
//! calls those hooks on worker threads only). Threads inherit the nice value of the thread that
//! spawns them, so the apply thread, the log writer and RocksDB's threads must never be spawned
//! from a worker thread: today they start from the main thread or the blocking pool
//! (`tests/server_admin.rs` checks it on a running server). The runtime's blocking-pool threads
//! are started from whichever thread first needs one, a lowered worker included: its
//! thread-start hook sets every thread it starts back to the process's nice value
//! ([`restore_started_thread`]). Linux only; elsewhere it does nothing.
//!
//! Layer: `server/`; touches only the calling thread's scheduling attributes.

use std::cell::Cell;

use tracing::warn;

thread_local! {
    /// Whether this thread has already been lowered (or tried to).
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

/// Lowers the calling thread's priority by `nice` steps, once per thread; later calls on the same
/// thread return at once. Meant for the runtime's park/unpark hooks.
pub fn lower_worker_once(nice: u8) {
    if nice == 0 || LOWERED.with(|l| l.replace(true)) {
        return;
    }
    if let Err(e) = lower_current_thread(nice) {
        warn!(error = %e, nice, "cannot lower a connection thread's priority");
    }
}

/// The calling thread's nice value (`None` where it cannot be read, or off Linux). Read it on the
/// main thread before the runtime starts, for [`restore_started_thread`].
pub fn current_thread_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as libc::id_t;
        current_nice(tid).ok()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Sets a thread the runtime just started back to the process's nice value `base`. A thread
/// inherits the nice value of the thread that spawns it, and the runtime starts blocking-pool
/// threads from whichever thread asks for one: from a lowered worker, a blocking thread (a log
/// read, a store flush) would run lowered too. Meant for the runtime's thread-start hook, which
/// runs before a worker's first park lowers it. Raising a priority back needs `CAP_SYS_NICE`
/// (or a nice rlimit); without it the thread stays as it is.
pub fn restore_started_thread(base: Option<i32>) {
    #[cfg(target_os = "linux")]
    if let Some(base) = base {
        // SAFETY: gettid has no preconditions; setpriority only sets the calling thread's
        // scheduling attributes.
        unsafe {
            let tid = libc::gettid() as libc::id_t;
            if current_nice(tid).is_ok_and(|n| n != base) {
                libc::setpriority(libc::PRIO_PROCESS, tid, base);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = base;
}

/// Raises the calling thread's nice value by `nice`, to at most 19 (the lowest priority).
#[cfg(target_os = "linux")]
fn lower_current_thread(nice: u8) -> std::io::Result<()> {
    // On Linux the nice value belongs to each thread, addressed by its thread id.
    // SAFETY: gettid, getpriority and setpriority only read or set the calling thread's
    // scheduling attributes; no memory is passed.
    let tid = unsafe { libc::gettid() } as libc::id_t;
    let current = current_nice(tid)?;
    let target = (current + i32::from(nice)).min(19);
    // SAFETY: as above.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, target) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn current_nice(tid: libc::id_t) -> std::io::Result<i32> {
    // getpriority returns -1 both as a valid nice value and on error; errno tells them apart.
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the thread's
    // life; getpriority only reads the thread's nice value.
    unsafe {
        *libc::__errno_location() = 0;
        let v = libc::getpriority(libc::PRIO_PROCESS, tid);
        if v == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(v)
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_current_thread(_nice: u8) -> std::io::Result<()> {
    Ok(())
}

/// The nice value of thread `tid` of process `pid`, from `/proc` (for tests and diagnostics).
pub fn thread_nice(pid: u32, tid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'; nice is
    // field 19 of the whole line, so the 17th after it.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(16)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn lowers_only_the_calling_thread_and_only_once() {
        let pid = std::process::id();
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() } as u32;
        let before = thread_nice(pid, me).unwrap();
        let (tid, after_first, after_second) = std::thread::spawn(move || {
            // SAFETY: as above.
            let tid = unsafe { libc::gettid() } as u32;
            lower_worker_once(3);
            let first = thread_nice(pid, tid).unwrap();
            lower_worker_once(3);
            (tid, first, thread_nice(pid, tid).unwrap())
        })
        .join()
        .unwrap();
        assert_ne!(tid, me);
        assert_eq!(after_first, (before + 3).min(19));
        assert_eq!(
            after_second, after_first,
            "a second call must not lower it again"
        );
        assert_eq!(
            thread_nice(pid, me),
            Some(before),
            "other threads keep their priority"
        );
    }

    #[test]
    fn zero_changes_nothing() {
        let pid = std::process::id();
        let (before, after) = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() } as u32;
            let before = thread_nice(pid, tid).unwrap();
            lower_worker_once(0);
            (before, thread_nice(pid, tid).unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(before, after);
    }
}
