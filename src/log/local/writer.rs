//! The group-commit writer of the local loglet: one dedicated thread owns the active segment.
//!
//! Layer: inside `LocalLoglet`; touches the active segment file, the seal file and the shared
//! in-memory state. Appends queue up while an `fdatasync` is in flight; the thread then drains
//! the queue (up to `max_batch` records / `max_batch_bytes`), writes every pending record with one
//! `write`, issues one `fdatasync`, publishes the new durable tail and only then acknowledges
//! each append of the batch. A seal is a command in the same queue, so it is ordered with the
//! appends: an append queued after the seal fails with `Sealed`. After an I/O error the writer
//! stops accepting appends (the state of the file is unknown): reopen the loglet to recover.
//! The active segment is extended with zeros ahead of the records (`preallocate_bytes`), so
//! that most fdatasyncs flush data only.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, warn};

use super::super::error::{LogError, Result};
use super::super::fsutil;
use super::super::loglet::Pos;
use super::record;
use super::segment::{self, SegmentIndex};
use super::{LocalLogletOptions, SEALED_FILE, SegmentHandle, Shared};

/// A request to the writer thread.
pub(super) enum Command {
    Append {
        payload: Bytes,
        reply: oneshot::Sender<Result<Pos>>,
    },
    Seal {
        reply: oneshot::Sender<Result<()>>,
    },
    /// Write and fsync what came before, answer, and stop: later commands fail.
    Close {
        reply: oneshot::Sender<()>,
    },
}

impl Command {
    fn bytes(&self) -> usize {
        match self {
            Command::Append { payload, .. } => record::framed_len(payload.len()),
            Command::Seal { .. } | Command::Close { .. } => 0,
        }
    }
}

/// State owned by the writer thread.
pub(super) struct Writer {
    pub(super) shared: Arc<Shared>,
    pub(super) opts: LocalLogletOptions,
    /// The active segment, opened for writing, its cursor at the end of its valid records.
    pub(super) file: File,
    pub(super) path: PathBuf,
    pub(super) seg_start: Pos,
    /// Bytes of the active segment that are written and synced.
    pub(super) written: u64,
    /// Size of the active segment file, including preallocated zeros past `written`.
    pub(super) alloc_end: u64,
    /// Position the next record gets.
    pub(super) next_pos: Pos,
    pub(super) buf: Vec<u8>,
    /// `(pos, offset, framed)` of the buffered records, for the index.
    pub(super) pending: Vec<(Pos, u64, u64)>,
    /// The payloads of `pending`, for the recent-records cache.
    pub(super) pending_payloads: Vec<Bytes>,
    pub(super) acks: Vec<(oneshot::Sender<Result<Pos>>, Pos)>,
    pub(super) failed: Option<LogError>,
}

/// The writer thread's loop; returns when every sender is gone (the loglet was dropped) or after
/// a `Close`.
pub(super) fn run(mut w: Writer, mut rx: mpsc::UnboundedReceiver<Command>) {
    let max_batch = w.opts.max_batch.max(1);
    let max_bytes = w.opts.max_batch_bytes.max(1);
    let mut batch = Vec::with_capacity(max_batch.min(4096));
    while let Some(first) = rx.blocking_recv() {
        let mut bytes = first.bytes();
        batch.push(first);
        while batch.len() < max_batch && bytes < max_bytes {
            match rx.try_recv() {
                Ok(cmd) => {
                    bytes += cmd.bytes();
                    batch.push(cmd);
                }
                Err(_) => break,
            }
        }
        if w.process(&mut batch) {
            break;
        }
    }
    drop(rx);
    // A clean close leaves no preallocated zeros behind.
    if w.alloc_end > w.written
        && let Err(e) = w.file.set_len(w.written)
    {
        warn!(segment = %w.path.display(), error = %e, "cannot trim preallocated space");
    }
    debug!(dir = %w.shared.dir.display(), "local loglet writer stops");
}

impl Writer {
    /// Runs a batch of commands; true if it held a `Close` (what came after it is dropped).
    fn process(&mut self, batch: &mut Vec<Command>) -> bool {
        let mut close = None;
        for cmd in batch.drain(..) {
            if close.is_some() {
                // Dropped unanswered: its caller is told the writer stopped.
                continue;
            }
            match cmd {
                Command::Append { payload, reply } => self.add(payload, reply),
                Command::Seal { reply } => {
                    let res = match self.commit() {
                        Ok(()) => self.write_seal(),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = &res {
                        self.fail(e.clone());
                    }
                    let _ = reply.send(res);
                }
                Command::Close { reply } => close = Some(reply),
            }
        }
        if let Err(e) = self.commit() {
            self.fail(e);
        }
        match close {
            Some(reply) => {
                let _ = reply.send(());
                true
            }
            None => false,
        }
    }

    fn add(&mut self, payload: Bytes, reply: oneshot::Sender<Result<Pos>>) {
        if let Some(e) = &self.failed {
            let _ = reply.send(Err(e.clone()));
            return;
        }
        if self.shared.sealed.load(Ordering::Acquire) {
            let _ = reply.send(Err(LogError::Sealed));
            return;
        }
        let framed = record::framed_len(payload.len()) as u64;
        let used = self.written + self.buf.len() as u64;
        if used > 0 && used + framed > self.opts.segment_bytes {
            let rolled = match self.commit() {
                Ok(()) => self.roll(),
                Err(e) => Err(e),
            };
            if let Err(e) = rolled {
                self.fail(e.clone());
                let _ = reply.send(Err(e));
                return;
            }
        }
        let offset = self.written + self.buf.len() as u64;
        record::encode_into(&mut self.buf, self.next_pos, &payload);
        self.pending.push((self.next_pos, offset, framed));
        self.pending_payloads.push(payload);
        self.acks.push((reply, self.next_pos));
        self.next_pos += 1;
    }

    /// Writes the buffered records, fdatasyncs, publishes the tail and acknowledges them.
    fn commit(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let end = self.written + self.buf.len() as u64;
        if end > self.alloc_end && self.opts.preallocate_bytes > 0 {
            self.preallocate(end)?;
        }
        self.file
            .write_all_at(&self.buf, self.written)
            .map_err(|e| LogError::io("write", &self.path, e))?;
        // One fdatasync covers the records and any zeros (and size change) written before them.
        self.file
            .sync_data()
            .map_err(|e| LogError::io("fdatasync", &self.path, e))?;
        self.alloc_end = self.alloc_end.max(end);
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.written += self.buf.len() as u64;
        self.buf.clear();
        {
            let mut segs = self.shared.lock_segments();
            if let Some(ix) = segs.get_mut(&self.seg_start).and_then(|h| h.index.as_mut()) {
                for &(pos, offset, framed) in &self.pending {
                    ix.push(pos, offset, framed);
                }
            }
        }
        if let Some(&(first, _, _)) = self.pending.first() {
            self.shared
                .recent
                .extend(first, self.pending_payloads.drain(..));
        }
        self.pending.clear();
        self.shared.tail.store(self.next_pos, Ordering::Release);
        self.shared.published(self.next_pos);
        for (reply, pos) in self.acks.drain(..) {
            let _ = reply.send(Ok(pos));
        }
        Ok(())
    }

    /// Extends the file with zeros up to past `end` (by `preallocate_bytes`, within the segment
    /// size). Records written later into initialized blocks inside the file size need no
    /// metadata update, so their fdatasync does not wait for a journal commit. Recovery treats
    /// an all-zero tail as the clean end of the segment.
    fn preallocate(&mut self, end: u64) -> Result<()> {
        let mut target = end + self.opts.preallocate_bytes;
        if target > self.opts.segment_bytes {
            target = self.opts.segment_bytes.max(end);
        }
        static ZEROS: [u8; 64 << 10] = [0u8; 64 << 10];
        let mut at = self.alloc_end.max(self.written);
        while at < target {
            let n = ((target - at) as usize).min(ZEROS.len());
            self.file
                .write_all_at(&ZEROS[..n], at)
                .map_err(|e| LogError::io("preallocate", &self.path, e))?;
            at += n as u64;
        }
        self.alloc_end = target;
        Ok(())
    }

    /// Starts a new segment at `next_pos`. The current one is fully synced (commit ran first).
    fn roll(&mut self) -> Result<()> {
        let start = self.next_pos;
        let path = self.shared.dir.join(segment::file_name(start));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| LogError::io("create segment", &path, e))?;
        fsutil::fsync_dir(&self.shared.dir)?;
        let read = File::open(&path).map_err(|e| LogError::io("open", &path, e))?;
        // Drop the unused preallocated zeros of the old segment (not synced: a zero tail that
        // survives a crash reads as the clean end of the segment).
        if self.alloc_end > self.written
            && let Err(e) = self.file.set_len(self.written)
        {
            warn!(segment = %self.path.display(), error = %e, "cannot trim preallocated space");
        }
        {
            let mut segs = self.shared.lock_segments();
            if let Some(old) = segs.get_mut(&self.seg_start) {
                old.end = Some(start);
            }
            segs.insert(
                start,
                SegmentHandle {
                    path: path.clone(),
                    file: Arc::new(read),
                    end: None,
                    index: Some(SegmentIndex::new(start)),
                },
            );
        }
        debug!(segment = %path.display(), "local loglet rolls to a new segment");
        self.file = file;
        self.path = path;
        self.seg_start = start;
        self.written = 0;
        self.alloc_end = 0;
        Ok(())
    }

    fn write_seal(&mut self) -> Result<()> {
        if self.shared.sealed.load(Ordering::Acquire) {
            return Ok(());
        }
        fsutil::write_atomic(&self.shared.dir.join(SEALED_FILE), b"sealed\n")?;
        self.shared.sealed.store(true, Ordering::Release);
        debug!(dir = %self.shared.dir.display(), tail = self.next_pos, "local loglet sealed");
        Ok(())
    }

    /// Fails the buffered appends and every later one.
    fn fail(&mut self, e: LogError) {
        if self.failed.is_none() {
            error!(dir = %self.shared.dir.display(), error = %e, "local loglet writer failed; reopen to recover");
            self.failed = Some(e.clone());
        }
        self.buf.clear();
        self.pending.clear();
        self.pending_payloads.clear();
        for (reply, _) in self.acks.drain(..) {
            let _ = reply.send(Err(e.clone()));
        }
    }
}
