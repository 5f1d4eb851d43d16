//! `LocalStore` (the single writer's handle) and `SharedStore` (everyone else's) over one RocksDB
//! database (`store/`). Opens the database, manages partitions (column families), the apply
//! cursor and flushing. Touches only RocksDB and the store directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::thread::JoinHandle;

use bytes::Bytes;
use rocksdb::{
    BoundColumnFamily, ColumnFamilyDescriptor, DBWithThreadMode, FlushOptions, MultiThreaded,
    Options, WriteBatch, WriteOptions,
};
use tracing::{debug, error, info, warn};

use super::cache::ValueCache;
use super::cursor::{
    CURSOR_KEY, FORMAT_KEY, FORMAT_VERSION, decode_cursor, decode_u64, encode_u64,
};
use super::digest::StateDigest;
use super::error::{Result, StoreError};
use super::key_filter::KeyFilters;
use super::options::{StoreOptions, Tuning};
use super::partition::{DEFAULT_CF, Partition, SYSTEM_PARTITION, validate_name};
use super::snapshot::ReadSnapshot;
use super::staging::{Staging, View};
use super::txn::RwTxn;

/// The RocksDB flavour used: multi-threaded column family management, so partitions can be
/// created through a shared reference while snapshots hold the database.
pub(crate) type Db = DBWithThreadMode<MultiThreaded>;

/// State shared by the writer, the shared handles and every snapshot.
pub(crate) struct Inner {
    pub(crate) db: Db,
    cf_options: Options,
    write_options: WriteOptions,
    /// User partitions by name. Also serializes partition creation.
    partitions: RwLock<BTreeMap<String, Partition>>,
    /// The apply cursor of the last commit (mirrors the stored value).
    applied: AtomicU64,
    /// A cursor known to be flushed: everything below it survives a crash.
    durable: AtomicU64,
    flush_lock: Mutex<()>,
    path: PathBuf,
    /// Committed writes on their way to RocksDB (see [`super::staging`]).
    staging: Mutex<Staging>,
    /// The staged layers for readers, made by the first reader after a commit, a freeze or a
    /// spill (which clear it). Not made per commit: a view shares the active layer, and the next
    /// commit would copy every map node it changes (and free the old ones) even when nobody
    /// reads.
    view: Mutex<Option<Arc<View>>>,
    /// Spills started (counted when a layer is frozen, before it is written).
    spills_started: AtomicU64,
    /// One spill at a time.
    spill_lock: Mutex<()>,
    /// A spill that failed: the staged state can no longer reach the database, so commits fail.
    spill_failed: Mutex<Option<String>>,
    /// Wakes the spill thread; taken when the writer closes.
    spill_wake: Mutex<Option<SyncSender<()>>>,
    /// The active layer is frozen for spilling at this many keys or bytes.
    stage_keys: usize,
    stage_bytes: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state consistent: a poisoned lock is usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// The column family of a user partition.
    pub(crate) fn cf(&self, partition: &Partition) -> Result<Arc<BoundColumnFamily<'_>>> {
        self.db
            .cf_handle(partition.name())
            .ok_or_else(|| StoreError::UnknownPartition(partition.name().to_owned()))
    }

    /// The reserved system column family.
    pub(crate) fn system_cf(&self) -> Result<Arc<BoundColumnFamily<'_>>> {
        self.db
            .cf_handle(SYSTEM_PARTITION)
            .ok_or_else(|| StoreError::Corrupt("system partition missing".into()))
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    pub(crate) fn set_applied(&self, cursor: u64) {
        self.applied.store(cursor, Ordering::Release);
    }

    /// User partitions, in name order.
    pub(crate) fn partitions(&self) -> Vec<Partition> {
        let map = self
            .partitions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }

    fn lookup(&self, name: &str) -> Option<Partition> {
        let map = self
            .partitions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned()
    }

    /// Returns the partition, creating its column family if it does not exist yet.
    pub(crate) fn partition(&self, name: &str) -> Result<Partition> {
        if let Some(p) = self.lookup(name) {
            return Ok(p);
        }
        validate_name(name)?;
        let mut map = self
            .partitions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = map.get(name) {
            return Ok(p.clone());
        }
        self.db.create_cf(name, &self.cf_options)?;
        info!(partition = name, path = %self.path.display(), "created partition");
        let p = Partition::new(name);
        map.insert(name.to_owned(), p.clone());
        Ok(p)
    }

    /// The staged layers as of the last commit or spill.
    pub(crate) fn view(&self) -> Arc<View> {
        if let Some(view) = lock(&self.view).as_ref() {
            return view.clone();
        }
        // Lock order: staging, then view.
        let st = lock(&self.staging);
        let mut cached = lock(&self.view);
        cached
            .get_or_insert_with(|| st.view(self.spills_started()))
            .clone()
    }

    /// The newest staged write of `key` in `cf` (`Some(None)`: a delete), read under the staging
    /// lock: for the apply transaction, whose reads would otherwise hold a view of the active
    /// layer it is about to commit into.
    pub(crate) fn staged(&self, cf: &str, key: &[u8]) -> Option<Option<Bytes>> {
        let st = lock(&self.staging);
        let staged = st
            .active
            .get(cf, key)
            .or_else(|| st.spilling.as_ref()?.get(cf, key))?;
        Some(staged.cloned())
    }

    /// The spills started so far.
    pub(crate) fn spills_started(&self) -> u64 {
        self.spills_started.load(Ordering::SeqCst)
    }

    /// Runs `stage` on the staging state (the commit of the apply transaction), then publishes
    /// the new layers to readers. Freezes the active layer and wakes the spill thread once it is
    /// big enough; if it grew far beyond that while a spill ran, spills here first.
    pub(crate) fn stage(&self, stage: impl FnOnce(&mut Staging)) -> Result<()> {
        if let Some(why) = lock(&self.spill_failed).clone() {
            return Err(StoreError::Spill(why));
        }
        let mut st = lock(&self.staging);
        stage(&mut st);
        let full = st.active.keys() >= self.stage_keys || st.active.bytes() >= self.stage_bytes;
        let far_over =
            st.active.keys() >= 4 * self.stage_keys || st.active.bytes() >= 4 * self.stage_bytes;
        let frozen = full && self.freeze(&mut st);
        *lock(&self.view) = None;
        drop(st);
        if frozen {
            self.wake_spill();
        } else if far_over {
            // The spill thread is behind: wait for its spill, then spill the active layer here.
            self.spill()?;
            self.freeze_now();
            self.spill()?;
        }
        Ok(())
    }

    /// Freezes the active layer (counting the spill as started) unless a spill is under way.
    fn freeze(&self, st: &mut Staging) -> bool {
        // Counted under the staging lock, before the view showing the frozen layer is published
        // and before the spill writes it.
        let frozen = st.freeze();
        if frozen {
            self.spills_started.fetch_add(1, Ordering::SeqCst);
        }
        frozen
    }

    /// Freezes the active layer if it can, publishing the change.
    fn freeze_now(&self) {
        let mut st = lock(&self.staging);
        if self.freeze(&mut st) {
            *lock(&self.view) = None;
        }
    }

    fn wake_spill(&self) {
        let woke = lock(&self.spill_wake).as_ref().map(|tx| tx.try_send(()));
        match woke {
            // Sent, or a wake-up is already pending.
            Some(Ok(())) | Some(Err(TrySendError::Full(()))) => {}
            // No spill thread (the writer closed): spill here.
            None | Some(Err(TrySendError::Disconnected(()))) => {
                if let Err(e) = self.spill() {
                    error!(error = %e, "spilling staged writes failed");
                }
            }
        }
    }

    /// Writes the frozen layer, if any, to RocksDB in one batch and drops it from staging.
    pub(crate) fn spill(&self) -> Result<()> {
        let _one = lock(&self.spill_lock);
        let Some(layer) = lock(&self.staging).spilling.clone() else {
            return Ok(());
        };
        // Sized up front: a batch grown as it is filled copied itself at every doubling (a
        // quarter of the spill thread's time under creates).
        let mut batch = WriteBatch::with_capacity_bytes(layer.batch_bytes());
        for (name, staged) in layer.column_families() {
            let cf = self
                .db
                .cf_handle(name)
                .ok_or_else(|| StoreError::UnknownPartition(name.to_owned()))?;
            for (key, value) in staged.iter() {
                match value {
                    Some(v) => batch.put_cf(&cf, key, v),
                    None => batch.delete_cf(&cf, key),
                }
            }
        }
        if let Err(e) = self.db.write_opt(batch, &self.write_options) {
            let why = format!("writing {} staged keys: {e}", layer.keys());
            error!(error = %why, "spill failed; the store stops accepting commits");
            *lock(&self.spill_failed) = Some(why);
            return Err(e.into());
        }
        let mut st = lock(&self.staging);
        st.spilling = None;
        *lock(&self.view) = None;
        debug!(
            keys = layer.keys(),
            bytes = layer.bytes(),
            "spilled staged writes"
        );
        Ok(())
    }

    /// Calls `f` with the column family and key of every staged put.
    pub(crate) fn for_each_staged_put(&self, mut f: impl FnMut(&str, &[u8])) {
        let st = lock(&self.staging);
        for layer in std::iter::once(&st.active).chain(st.spilling.as_ref()) {
            for (cf, staged) in layer.column_families() {
                for (key, value) in staged.iter() {
                    if value.is_some() {
                        f(cf, key);
                    }
                }
            }
        }
    }

    /// Spills everything staged so far (the layer being spilled, then the active one).
    fn spill_all(&self) -> Result<()> {
        self.spill()?;
        self.freeze_now();
        self.spill()
    }

    fn flush(&self) -> Result<u64> {
        let _serial = self
            .flush_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Read the cursor before flushing: its commit returned before the flush starts, so its
        // writes are staged or in the database; the spills below put them in the database, and
        // the atomic flush (which cuts every column family at the latest sequence number)
        // includes them. Commits racing with the flush may be included too; the durable cursor
        // is a lower bound. Partitions are listed after the cursor is read, so any partition
        // written by that commit is in the list.
        let cursor = self.applied();
        self.spill_all()?;
        self.flush_memtables()?;
        let durable = self.durable.fetch_max(cursor, Ordering::AcqRel).max(cursor);
        debug!(durable, "flushed local store");
        Ok(durable)
    }
}

impl Inner {
    /// Flushes the memtables of every column family at once (the atomic flush cuts them all at
    /// the same sequence number).
    fn flush_memtables(&self) -> Result<()> {
        let mut cfs = vec![self.system_cf()?];
        for p in self.partitions() {
            cfs.push(self.cf(&p)?);
        }
        let refs: Vec<&Arc<BoundColumnFamily<'_>>> = cfs.iter().collect();
        let mut opts = FlushOptions::default();
        opts.set_wait(true);
        self.db.flush_cfs_opt(refs.as_slice(), &opts)?;
        Ok(())
    }

    /// Writes a RocksDB checkpoint of the store into `dir` (which must not exist): everything
    /// committed so far is spilled and flushed, then, with spills held off, the database's
    /// files are linked or copied there. Returns the apply cursor the checkpoint holds, which is
    /// at least every cursor committed before the call.
    fn checkpoint(&self, dir: &Path) -> Result<u64> {
        let _serial = self
            .flush_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.spill_all()?;
        // No spill may write between the flush and the checkpoint: the checkpoint then holds
        // exactly the flushed state, data and cursor of the same batches.
        let _held = lock(&self.spill_lock);
        self.flush_memtables()?;
        let system = self.system_cf()?;
        let cursor = decode_cursor(self.db.get_pinned_cf(&system, CURSOR_KEY)?.as_deref())?;
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        info!(cursor, dir = %dir.display(), "store checkpoint written");
        Ok(cursor)
    }
}

/// Spills frozen layers whenever woken, until the writer closes (the channel disconnects).
fn spill_thread(inner: Weak<Inner>, wake: std::sync::mpsc::Receiver<()>) {
    super::options::quiet_thread();
    while wake.recv().is_ok() {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(e) = inner.spill() {
            error!(error = %e, "spilling staged writes failed");
        }
    }
}

/// The LocalStore, as held by the one apply loop: the only handle that can write.
///
/// Not `Clone`: [`begin`](Self::begin) takes `&mut self`, so there is at most one read-write
/// transaction at a time. Readers on other threads use a [`SharedStore`] from
/// [`shared`](Self::shared).
///
/// The database closes when the last handle (this one, any [`SharedStore`], any
/// [`ReadSnapshot`]) is dropped; a clean close flushes what is not yet flushed.
pub struct LocalStore {
    shared: SharedStore,
    /// Point reads of the apply transaction, written through by its commits.
    cache: ValueCache,
    /// Which keys the database may hold, for the apply transaction's lookups of absent keys.
    filters: KeyFilters,
    /// Writes frozen layers to RocksDB.
    spiller: Option<JoinHandle<()>>,
}

impl LocalStore {
    /// Opens (or creates) the store in `path`, creating the partitions declared in `opts`.
    pub fn open(path: impl AsRef<Path>, opts: &StoreOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let tuning = Tuning::new(opts);

        let mut names: Vec<String> = if path.join("CURRENT").exists() {
            Db::list_cf(&tuning.db, &path)?
        } else {
            Vec::new()
        };
        for required in [DEFAULT_CF, SYSTEM_PARTITION] {
            if !names.iter().any(|n| n == required) {
                names.push(required.to_owned());
            }
        }
        for declared in &opts.partitions {
            validate_name(declared)?;
            if !names.contains(declared) {
                names.push(declared.clone());
            }
        }

        let descriptors = names
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(n, tuning.cf.clone()));
        let db = Db::open_cf_descriptors(&tuning.db, &path, descriptors)?;

        let mut partitions = BTreeMap::new();
        for name in &names {
            if name == DEFAULT_CF || name == SYSTEM_PARTITION {
                continue;
            }
            match validate_name(name) {
                Ok(()) => {
                    partitions.insert(name.clone(), Partition::new(name));
                }
                Err(e) => warn!(%e, "ignoring a column family that is not a partition"),
            }
        }

        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);

        let inner = Inner {
            db,
            cf_options: tuning.cf,
            write_options,
            partitions: RwLock::new(partitions),
            applied: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            flush_lock: Mutex::new(()),
            path,
            staging: Mutex::new(Staging::default()),
            view: Mutex::new(None),
            spills_started: AtomicU64::new(0),
            spill_lock: Mutex::new(()),
            spill_failed: Mutex::new(None),
            spill_wake: Mutex::new(None),
            stage_keys: opts.stage_keys.max(1),
            stage_bytes: opts.stage_bytes.max(1),
        };
        let cursor = Self::check_system_state(&inner)?;
        inner.applied.store(cursor, Ordering::Release);
        // Without a WAL, whatever is in the database at open was flushed: it is all durable.
        inner.durable.store(cursor, Ordering::Release);
        info!(
            path = %inner.path.display(),
            cursor,
            partitions = inner.partitions().len(),
            "opened local store"
        );
        let inner = Arc::new(inner);
        let (wake, woken) = sync_channel(1);
        let weak = Arc::downgrade(&inner);
        let spiller = std::thread::Builder::new()
            .name("store-spill".into())
            .spawn(move || spill_thread(weak, woken))
            .map_err(|source| StoreError::Io {
                path: inner.path.clone(),
                source,
            })?;
        *lock(&inner.spill_wake) = Some(wake);
        Ok(LocalStore {
            filters: KeyFilters::open(&inner, opts.key_filter_min_keys),
            shared: SharedStore { inner },
            cache: ValueCache::new(opts.apply_cache_bytes),
            spiller: Some(spiller),
        })
    }

    /// Checks (or, on a new store, writes and flushes) the format version; returns the cursor.
    fn check_system_state(inner: &Inner) -> Result<u64> {
        let system = inner.system_cf()?;
        match inner.db.get_pinned_cf(&system, FORMAT_KEY)? {
            Some(v) => {
                let version = decode_u64("format version", &v)?;
                if version != FORMAT_VERSION {
                    return Err(StoreError::Corrupt(format!(
                        "format version {version}, this build reads {FORMAT_VERSION}"
                    )));
                }
            }
            None => {
                let mut batch = WriteBatch::default();
                batch.put_cf(&system, FORMAT_KEY, encode_u64(FORMAT_VERSION));
                inner.db.write_opt(batch, &inner.write_options)?;
                let mut opts = FlushOptions::default();
                opts.set_wait(true);
                inner.db.flush_cfs_opt(&[&system], &opts)?;
            }
        }
        let stored = inner.db.get_pinned_cf(&system, CURSOR_KEY)?;
        decode_cursor(stored.as_deref())
    }

    /// Begins the read-write transaction of one apply. Only one can exist at a time.
    pub fn begin(&mut self) -> RwTxn<'_> {
        self.filters.maintain(&self.shared.inner);
        RwTxn::new(&self.shared.inner, &self.cache, &self.filters)
    }

    /// The capacity in keys of the apply transaction's absent-key filter, once it holds every
    /// key the database held at open. It is filled in the background after open; until then
    /// (`None`) the transaction's lookups of absent keys go to RocksDB.
    pub fn key_filter_capacity(&self) -> Option<u64> {
        self.filters.ready_capacity()
    }

    /// A cloneable handle for readers and flushers on other threads.
    pub fn shared(&self) -> SharedStore {
        self.shared.clone()
    }

    /// Returns the partition `name`, creating it (empty) if needed.
    pub fn partition(&self, name: &str) -> Result<Partition> {
        self.shared.inner.partition(name)
    }

    /// Flushes everything committed so far and closes this handle; returns the durable cursor.
    /// The database itself closes when the last [`SharedStore`] and [`ReadSnapshot`] are gone.
    pub fn close(mut self) -> Result<u64> {
        self.stop_spiller();
        let durable = self.flush()?;
        if Arc::strong_count(&self.shared.inner) > 1 {
            debug!("local store closed by its writer; other handles keep the database open");
        }
        Ok(durable)
    }

    /// Stops the spill thread; spills after this run on the thread that asks for them.
    fn stop_spiller(&mut self) {
        lock(&self.shared.inner.spill_wake).take();
        if let Some(t) = self.spiller.take()
            && t.join().is_err()
        {
            error!("the spill thread panicked");
        }
    }
}

impl Drop for LocalStore {
    /// Whatever is staged goes to RocksDB, which flushes it when the database closes: a writer
    /// dropped without [`close`](Self::close) loses nothing it committed.
    fn drop(&mut self) {
        self.stop_spiller();
        if let Err(e) = self.shared.inner.spill_all() {
            error!(error = %e, "staged writes could not be written when the store was dropped");
        }
    }
}

impl std::ops::Deref for LocalStore {
    type Target = SharedStore;

    /// Everything a [`SharedStore`] can do, the writer can do too.
    fn deref(&self) -> &SharedStore {
        &self.shared
    }
}

/// A cloneable, thread-safe handle on a [`LocalStore`] for everything but writing: snapshots,
/// cursors, flushing, partition lookup.
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
}

impl SharedStore {
    /// A consistent read-only view of every partition as of now; cheap (a RocksDB snapshot).
    pub fn snapshot(&self) -> ReadSnapshot {
        ReadSnapshot::new(self.inner.clone())
    }

    /// The apply cursor of the last commit: the first log position not yet applied.
    pub fn applied_cursor(&self) -> u64 {
        self.inner.applied()
    }

    /// A cursor known to be durable (flushed): after a crash the store restarts at least here.
    /// The log may be trimmed below it.
    pub fn durable_cursor(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    /// Flushes every partition atomically and returns the durable cursor. Safe to call from any
    /// thread while the apply loop commits.
    pub fn flush(&self) -> Result<u64> {
        self.inner.flush()
    }

    /// The user partitions that exist, in name order.
    pub fn partitions(&self) -> Vec<Partition> {
        self.inner.partitions()
    }

    /// The partition `name` if it exists (never creates one).
    pub fn existing_partition(&self, name: &str) -> Option<Partition> {
        self.inner.lookup(name)
    }

    /// A digest of the whole current state (see [`ReadSnapshot::digest`]).
    pub fn digest(&self) -> Result<StateDigest> {
        self.snapshot().digest()
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Writes a checkpoint of the whole store into `dir` (a new directory on the same file
    /// system links the files); returns the apply cursor it holds. A store opened on `dir`
    /// starts there. Safe to call while the apply loop commits.
    pub fn checkpoint(&self, dir: &Path) -> Result<u64> {
        self.inner.checkpoint(dir)
    }
}
