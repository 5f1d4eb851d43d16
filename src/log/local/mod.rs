//! `LocalLoglet`: the durable single-node loglet, the embedded default.
//!
//! Layer: a loglet implementation; touches only its own directory:
//! - `seg-<start>.log`: append-only segment files of framed, CRC-checked records (`record.rs`,
//!   `segment.rs`); a new one is started when the active one reaches `segment_bytes`;
//! - `SEALED`: exists once the loglet is sealed (created atomically and fsynced);
//! - `TRIM`: the prefix-trim point (replaced atomically);
//! - `LOCK`: an exclusive `flock`, so one process at a time owns the directory.
//!
//! Appends go through one writer thread that group-commits them (`writer.rs`): an append is
//! acknowledged only after the `fdatasync` that covers it. Opening scans the last segment,
//! verifies every record and cuts a torn or corrupt tail (truncating the file to the last good
//! record; an all-zero tail is the unused part of a preallocated segment, not damage); earlier segments were synced before the next one was created and are verified lazily
//! when first read. Reads run on the blocking pool with positioned reads (`pread`), using a
//! sparse in-memory offset index per segment.

mod recent;
mod record;
mod segment;
mod writer;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::error::{LogError, Result};
use super::fsutil::{self, FileLock};
use super::loglet::{Loglet, Pos, TailWatcher};
use recent::RecentRecords;
use segment::SegmentIndex;
use writer::{Command, Writer};

pub(crate) const SEALED_FILE: &str = "SEALED";
const TRIM_FILE: &str = "TRIM";
const LOCK_FILE: &str = "LOCK";

/// Largest entry a local loglet accepts.
pub const MAX_ENTRY_BYTES: usize = record::MAX_ENTRY;

/// Tuning of a [`LocalLoglet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalLogletOptions {
    /// A segment file is closed and a new one started once it would exceed this size.
    pub segment_bytes: u64,
    /// Most appends covered by one fdatasync. `1` disables group commit (one fsync per append).
    pub max_batch: usize,
    /// Most bytes written before one fdatasync (a batch stops growing past this).
    pub max_batch_bytes: usize,
    /// The active segment file is extended with zeros this far ahead of its records, so that
    /// appends overwrite allocated blocks and their fdatasync skips the metadata journal.
    /// `0` disables preallocation.
    pub preallocate_bytes: u64,
}

impl Default for LocalLogletOptions {
    fn default() -> Self {
        LocalLogletOptions {
            segment_bytes: 64 << 20,
            max_batch: 4096,
            max_batch_bytes: 8 << 20,
            preallocate_bytes: 4 << 20,
        }
    }
}

/// Counters of a [`LocalLoglet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalLogletStats {
    /// fdatasync calls on segment files since open.
    pub fsyncs: u64,
    /// Live segment files.
    pub segments: usize,
    /// First unwritten (durable) position.
    pub tail: Pos,
    /// First position still readable.
    pub trim_point: Pos,
}

/// One segment file as the readers see it.
pub(crate) struct SegmentHandle {
    path: PathBuf,
    /// Read-only handle for positioned reads.
    file: Arc<File>,
    /// First position past this segment, once it is no longer the active one.
    end: Option<Pos>,
    /// Sparse index; `None` for a sealed segment found at open and not read yet.
    index: Option<SegmentIndex>,
}

/// State shared by the loglet handle, its readers and its writer thread.
pub(crate) struct Shared {
    dir: PathBuf,
    /// First position not yet durable (published after each fdatasync, before the acks).
    tail: AtomicU64,
    sealed: AtomicBool,
    trim_point: AtomicU64,
    fsyncs: AtomicU64,
    segments: Mutex<BTreeMap<Pos, SegmentHandle>>,
    trim_lock: Mutex<()>,
    /// The records written last, for reads right behind the tail.
    recent: RecentRecords,
    /// Told each new durable tail.
    watchers: Mutex<Vec<TailWatcher>>,
    _lock: FileLock,
}

impl Shared {
    /// Tells the watchers the new durable tail.
    fn published(&self, tail: Pos) {
        let watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        for w in watchers.iter() {
            w(tail);
        }
    }

    fn lock_segments(&self) -> MutexGuard<'_, BTreeMap<Pos, SegmentHandle>> {
        // Every critical section leaves the map consistent, so a poisoned lock is usable.
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn trimmed(&self, pos: Pos) -> LogError {
        LogError::Trimmed {
            pos,
            trim_point: self.trim_point.load(Ordering::Acquire),
        }
    }

    fn read_blocking(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        enum Step {
            Read {
                file: Arc<File>,
                path: PathBuf,
                plan: (Pos, u64, u64),
                seg_to: Pos,
            },
            Index {
                start: Pos,
                path: PathBuf,
                end: Pos,
            },
        }
        let mut out = Vec::new();
        let mut pos = from;
        while pos < to {
            let step = {
                let segs = self.lock_segments();
                let Some((&start, h)) = segs.range(..=pos).next_back() else {
                    return Err(self.trimmed(pos));
                };
                let end = h.end.unwrap_or(Pos::MAX);
                if pos >= end {
                    return Err(LogError::corrupt(
                        self.dir.display().to_string(),
                        format!("no segment holds position {pos}"),
                    ));
                }
                let seg_to = to.min(end);
                match &h.index {
                    Some(ix) => Step::Read {
                        file: h.file.clone(),
                        path: h.path.clone(),
                        plan: ix.plan(pos, seg_to),
                        seg_to,
                    },
                    None => Step::Index {
                        start,
                        path: h.path.clone(),
                        end,
                    },
                }
            };
            match step {
                Step::Read {
                    file,
                    path,
                    plan,
                    seg_to,
                } => {
                    segment::read_range(&file, &path, plan, pos, seg_to, &mut out)?;
                    pos = seg_to;
                }
                Step::Index { start, path, end } => {
                    let scan = segment::scan(&path, start)?;
                    if let Some(why) = scan.damage {
                        return Err(LogError::corrupt(path.display().to_string(), why));
                    }
                    if scan.index.end_pos() != end {
                        return Err(LogError::corrupt(
                            path.display().to_string(),
                            format!(
                                "sealed segment ends at position {}, the next one starts at {end}",
                                scan.index.end_pos()
                            ),
                        ));
                    }
                    if let Some(h) = self.lock_segments().get_mut(&start) {
                        h.index = Some(scan.index);
                    }
                }
            }
        }
        Ok(out)
    }

    fn trim_blocking(&self, pos: Pos) -> Result<()> {
        let _serial = self.trim_lock.lock().unwrap_or_else(|e| e.into_inner());
        let target = pos.min(self.tail.load(Ordering::Acquire));
        if target <= self.trim_point.load(Ordering::Acquire) {
            return Ok(());
        }
        fsutil::write_atomic(&self.dir.join(TRIM_FILE), &encode_trim(target))?;
        self.trim_point.store(target, Ordering::Release);
        let doomed: Vec<PathBuf> = {
            let mut segs = self.lock_segments();
            let starts: Vec<Pos> = segs
                .iter()
                .filter(|(_, h)| h.end.is_some_and(|e| e <= target))
                .map(|(&s, _)| s)
                .collect();
            starts
                .iter()
                .filter_map(|s| segs.remove(s).map(|h| h.path))
                .collect()
        };
        for path in &doomed {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io("remove segment", path, e)),
            }
        }
        if !doomed.is_empty() {
            fsutil::fsync_dir(&self.dir)?;
            info!(dir = %self.dir.display(), trim_point = target, removed = doomed.len(), "local loglet trimmed segments");
        }
        Ok(())
    }
}

fn encode_trim(pos: Pos) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&pos.to_le_bytes());
    b[8..].copy_from_slice(&crc32fast::hash(&pos.to_le_bytes()).to_le_bytes());
    b
}

fn read_trim(dir: &Path) -> Result<Pos> {
    let path = dir.join(TRIM_FILE);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(LogError::io("read", &path, e)),
    };
    let bytes: [u8; 12] = data
        .as_slice()
        .try_into()
        .map_err(|_| LogError::corrupt(path.display().to_string(), "bad trim file length"))?;
    let mut p = [0u8; 8];
    p.copy_from_slice(&bytes[..8]);
    let pos = u64::from_le_bytes(p);
    if encode_trim(pos) != bytes {
        return Err(LogError::corrupt(
            path.display().to_string(),
            "bad trim file crc",
        ));
    }
    Ok(pos)
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists().map_err(|e| LogError::io("stat", path, e))
}

/// The durable single-node loglet (see the module doc).
pub struct LocalLoglet {
    shared: Arc<Shared>,
    tx: Option<mpsc::UnboundedSender<Command>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LocalLoglet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLoglet")
            .field("dir", &self.shared.dir)
            .field("tail", &self.shared.tail.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl LocalLoglet {
    /// Opens (creating if needed) the loglet in `dir`, recovering from a crash. Runs the
    /// recovery scan on the blocking pool.
    pub async fn open(dir: impl Into<PathBuf>, opts: LocalLogletOptions) -> Result<Self> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, opts))
            .await
            .map_err(|e| LogError::Unavailable(format!("open task failed: {e}")))?
    }

    /// Opens (creating if needed) the loglet in `dir`, blocking the calling thread.
    pub fn open_blocking(dir: &Path, opts: LocalLogletOptions) -> Result<Self> {
        if opts.segment_bytes == 0 {
            return Err(LogError::InvalidConfig("segment_bytes must be > 0".into()));
        }
        if !exists(dir)? {
            std::fs::create_dir_all(dir).map_err(|e| LogError::io("create dir", dir, e))?;
            fsutil::fsync_dir(&fsutil::parent_dir(dir))?;
        }
        let lock = FileLock::try_acquire(&dir.join(LOCK_FILE))?;
        let trim_point = read_trim(dir)?;
        let sealed = exists(&dir.join(SEALED_FILE))?;

        let mut starts = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| LogError::io("list", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LogError::io("list", dir, e))?;
            if let Some(start) = entry
                .file_name()
                .to_str()
                .and_then(segment::parse_file_name)
            {
                starts.push(start);
            }
        }
        starts.sort_unstable();
        if starts.is_empty() {
            if trim_point > 0 {
                return Err(LogError::corrupt(
                    dir.display().to_string(),
                    format!("no segment files but trim point {trim_point}"),
                ));
            }
            let path = dir.join(segment::file_name(0));
            File::create(&path).map_err(|e| LogError::io("create segment", &path, e))?;
            fsutil::fsync_dir(dir)?;
            starts.push(0);
        }
        // Segments wholly below the trim point (a crash between TRIM and their removal).
        let mut removed = false;
        while starts.len() > 1 && starts[1] <= trim_point {
            let path = dir.join(segment::file_name(starts[0]));
            std::fs::remove_file(&path).map_err(|e| LogError::io("remove segment", &path, e))?;
            starts.remove(0);
            removed = true;
        }
        if removed {
            fsutil::fsync_dir(dir)?;
        }
        if starts[0] > trim_point {
            return Err(LogError::corrupt(
                dir.display().to_string(),
                format!(
                    "first segment starts at {} but the trim point is {trim_point}",
                    starts[0]
                ),
            ));
        }

        let last = starts[starts.len() - 1];
        let last_path = dir.join(segment::file_name(last));
        let scan = segment::scan(&last_path, last)?;
        let end_offset = scan.index.end_offset();
        let file = OpenOptions::new()
            .write(true)
            .open(&last_path)
            .map_err(|e| LogError::io("open segment", &last_path, e))?;
        if scan.zero_tail {
            debug!(segment = %last_path.display(), "local loglet drops a preallocated zero tail");
        }
        if let Some(why) = &scan.damage {
            warn!(
                segment = %last_path.display(),
                reason = %why,
                cut_bytes = scan.file_len - end_offset,
                good_records = scan.index.end_pos() - last,
                "local loglet cuts a torn or corrupt tail"
            );
        }
        if scan.file_len != end_offset {
            file.set_len(end_offset)
                .map_err(|e| LogError::io("truncate", &last_path, e))?;
            file.sync_all()
                .map_err(|e| LogError::io("fsync", &last_path, e))?;
        }
        let tail = scan.index.end_pos();
        if trim_point > tail {
            return Err(LogError::corrupt(
                dir.display().to_string(),
                format!("recovered tail {tail} is below the trim point {trim_point}"),
            ));
        }

        let mut segments = BTreeMap::new();
        let mut last_index = Some(scan.index);
        for (i, &start) in starts.iter().enumerate() {
            let path = dir.join(segment::file_name(start));
            let read = File::open(&path).map_err(|e| LogError::io("open", &path, e))?;
            let is_last = i + 1 == starts.len();
            segments.insert(
                start,
                SegmentHandle {
                    path,
                    file: Arc::new(read),
                    end: starts.get(i + 1).copied(),
                    index: if is_last { last_index.take() } else { None },
                },
            );
        }

        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            tail: AtomicU64::new(tail),
            sealed: AtomicBool::new(sealed),
            trim_point: AtomicU64::new(trim_point),
            fsyncs: AtomicU64::new(0),
            segments: Mutex::new(segments),
            trim_lock: Mutex::new(()),
            recent: RecentRecords::default(),
            watchers: Mutex::new(Vec::new()),
            _lock: lock,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let w = Writer {
            shared: shared.clone(),
            opts: opts.clone(),
            file,
            path: last_path,
            seg_start: last,
            written: end_offset,
            alloc_end: end_offset,
            next_pos: tail,
            buf: Vec::new(),
            pending: Vec::new(),
            pending_payloads: Vec::new(),
            acks: Vec::new(),
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("loglet-writer".into())
            .spawn(move || writer::run(w, rx))
            .map_err(|e| LogError::io("spawn writer thread", dir, e))?;
        info!(dir = %dir.display(), tail, trim_point, sealed, segments = starts.len(), "local loglet open");
        Ok(LocalLoglet {
            shared,
            tx: Some(tx),
            writer: Some(handle),
        })
    }

    /// The directory of this loglet.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Number of fdatasync calls on segment files since open.
    pub fn fsync_count(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// Counters and positions.
    pub fn stats(&self) -> LocalLogletStats {
        LocalLogletStats {
            fsyncs: self.fsync_count(),
            segments: self.shared.lock_segments().len(),
            tail: self.shared.tail.load(Ordering::Acquire),
            trim_point: self.shared.trim_point.load(Ordering::Acquire),
        }
    }

    fn send(&self, cmd: Command) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| LogError::Unavailable("loglet closed".into()))?;
        tx.send(cmd)
            .map_err(|_| LogError::Unavailable("local loglet writer stopped".into()))
    }
}

impl Drop for LocalLoglet {
    fn drop(&mut self) {
        // Closing the queue stops the writer after its current batch; wait for it so that the
        // directory can be reopened as soon as this handle is gone.
        drop(self.tx.take());
        if let Some(h) = self.writer.take()
            && h.join().is_err()
        {
            warn!(dir = %self.shared.dir.display(), "local loglet writer thread panicked");
        }
    }
}

#[async_trait]
impl Loglet for LocalLoglet {
    async fn append(&self, payload: Bytes) -> Result<Pos> {
        if payload.len() > MAX_ENTRY_BYTES {
            return Err(LogError::EntryTooLarge {
                len: payload.len(),
                max: MAX_ENTRY_BYTES,
            });
        }
        if self.shared.sealed.load(Ordering::Acquire) {
            return Err(LogError::Sealed);
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::Append { payload, reply })?;
        rx.await
            .map_err(|_| LogError::Unavailable("local loglet writer stopped".into()))?
    }

    async fn check_tail(&self) -> Result<(Pos, bool)> {
        Ok((
            self.shared.tail.load(Ordering::Acquire),
            self.shared.sealed.load(Ordering::Acquire),
        ))
    }

    async fn read(&self, from: Pos, to: Pos) -> Result<Vec<(Pos, Bytes)>> {
        let trim_point = self.shared.trim_point.load(Ordering::Acquire);
        if from < trim_point {
            return Err(LogError::Trimmed {
                pos: from,
                trim_point,
            });
        }
        let to = to.min(self.shared.tail.load(Ordering::Acquire));
        if from >= to {
            return Ok(Vec::new());
        }
        if let Some(hit) = self.shared.recent.get(from, to) {
            return Ok(hit);
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.read_blocking(from, to))
            .await
            .map_err(|e| LogError::Unavailable(format!("read task failed: {e}")))?
    }

    async fn seal(&self) -> Result<()> {
        if self.shared.sealed.load(Ordering::Acquire) {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::Seal { reply })?;
        rx.await
            .map_err(|_| LogError::Unavailable("local loglet writer stopped".into()))?
    }

    async fn close(&self) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        if self.send(Command::Close { reply }).is_err() {
            // Already closed, or the writer stopped on its own.
            return Ok(());
        }
        let _ = rx.await;
        Ok(())
    }

    async fn prefix_trim(&self, pos: Pos) -> Result<()> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.trim_blocking(pos))
            .await
            .map_err(|e| LogError::Unavailable(format!("trim task failed: {e}")))?
    }

    fn watch_tail(&self, watcher: TailWatcher) {
        self.shared
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(watcher);
    }
}
