//! Small durable-file helpers shared by the local loglet and the local MetaStore.
//!
//! Layer: lowest level of `log/`; touches the file system only. Atomic replace (write a temp
//! file, fsync it, rename it over the target, fsync the directory), directory fsync, and
//! advisory exclusive locks (`flock`, released when the process dies).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{LogError, Result};

/// fsyncs a directory so that entries created, renamed or removed in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| LogError::io("open dir", dir, e))?;
    d.sync_all().map_err(|e| LogError::io("fsync dir", dir, e))
}

/// The parent directory of `path` (the current directory for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The temp-file name used while replacing `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Replaces `path` with `data` atomically and durably: after a crash the file holds either the
/// old or the new contents, and once this returns the new contents survive a crash.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| LogError::io("create", &tmp, e))?;
        f.write_all(data)
            .map_err(|e| LogError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| LogError::io("fsync", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| LogError::io("rename", path, e))?;
    fsync_dir(&parent_dir(path))
}

/// An exclusive advisory lock on a file; released on drop (or when the process dies).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| LogError::io("open lock", path, e))
}

impl FileLock {
    /// Takes the lock or fails at once with [`LogError::Locked`].
    pub(crate) fn try_acquire(path: &Path) -> Result<Self> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(FileLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LogError::Locked {
                path: path.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(LogError::io("lock", path, e)),
        }
    }

    /// Waits for the lock (blocking the calling thread).
    pub(crate) fn acquire_blocking(path: &Path) -> Result<Self> {
        let file = open_lock_file(path)?;
        file.lock().map_err(|e| LogError::io("lock", path, e))?;
        Ok(FileLock { _file: file })
    }
}
