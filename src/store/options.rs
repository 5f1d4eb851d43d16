//! Store configuration and RocksDB tuning (`store/`). Builds RocksDB option objects; opens
//! nothing.
//!
//! The workload is a coordination service's: many small values, point reads, short prefix scans
//! (children of a node). Hence a shared LRU block cache, whole-key bloom filters, index and
//! filter blocks in the cache (pinned for L0), LZ4 for the upper levels.

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options};

/// Turns RocksDB's perf counters off for the calling thread. They are per thread and on by
/// default (counts only): every iterator step and point read then goes through the thread-local
/// perf context (its thread-local setup alone was 3.3% of a getChildren of 10,000 children, 1.5%
/// with the counters off). Call it on every thread that reads or writes the store often.
pub fn quiet_thread() {
    rocksdb::perf::set_perf_stats(rocksdb::perf::PerfStatsLevel::Disable);
}

/// How to open a [`LocalStore`](super::LocalStore).
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Partitions to create (if missing) at open, besides those already on disk.
    pub partitions: Vec<String>,
    /// Size of the LRU block cache shared by all partitions.
    pub block_cache_bytes: usize,
    /// Memtable size per partition. Without a WAL, unflushed memtables are what a crash loses
    /// (and what the log replays); RocksDB flushes by itself when one fills.
    pub write_buffer_bytes: usize,
    /// Cap on all memtables together.
    pub total_write_buffer_bytes: usize,
    /// Bloom filter bits per key (0 disables the filter).
    pub bloom_bits_per_key: f64,
    /// Compress SST files with LZ4.
    pub lz4: bool,
    /// RocksDB background flush and compaction threads.
    pub background_jobs: i32,
    /// The apply transaction's cache of point reads (0 disables it).
    pub apply_cache_bytes: usize,
    /// The smallest absent-key filter, in keys (10 bits each). A filter is planned for twice the
    /// live keys and rebuilt when it holds more keys than that. 4M keys (5 MB) means a store
    /// below 4M keys is never rescanned: a rebuild reads every key once (about a second of CPU
    /// per million keys on 2 cores), and under creates a 1M-key filter was rebuilt in every
    /// benchmark round (creates +6%, CPU per create −11% with 4M, 3 alternating rounds).
    pub key_filter_min_keys: u64,
    /// Level-0 files that start a compaction into the level below. RocksDB's default is 4; with
    /// dynamic level sizes every L0 compaction rewrites the base level, so taking 8 files at a
    /// time rewrites it half as often. Measured under creates on 2 cores: compaction CPU in an
    /// 11 s run 21% -> 9% of a core, server CPU per create -8% over 32 s; point reads that miss
    /// the memtables check up to twice as many L0 filters.
    pub l0_compaction_trigger: i32,
    /// Committed writes are staged in memory (each key's last value only) and written to
    /// RocksDB once the staging layer holds this many keys (1: at every commit)...
    pub stage_keys: usize,
    /// ...or this many bytes of keys and values.
    pub stage_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            partitions: Vec::new(),
            block_cache_bytes: 64 << 20,
            write_buffer_bytes: 32 << 20,
            total_write_buffer_bytes: 256 << 20,
            bloom_bits_per_key: 10.0,
            lz4: true,
            background_jobs: 2,
            apply_cache_bytes: 32 << 20,
            key_filter_min_keys: 1 << 22,
            l0_compaction_trigger: 8,
            stage_keys: 32 << 10,
            stage_bytes: 32 << 20,
        }
    }
}

impl StoreOptions {
    /// Declares a partition to create at open.
    pub fn with_partition(mut self, name: impl Into<String>) -> Self {
        self.partitions.push(name.into());
        self
    }
}

/// The RocksDB option objects built from [`StoreOptions`]: one for the database, one shared by
/// every column family (it carries the shared block cache).
pub(crate) struct Tuning {
    pub(crate) db: Options,
    pub(crate) cf: Options,
}

impl Tuning {
    pub(crate) fn new(opts: &StoreOptions) -> Self {
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        if opts.bloom_bits_per_key > 0.0 {
            table.set_bloom_filter(opts.bloom_bits_per_key, false);
            table.set_whole_key_filtering(true);
        }
        // Index and filter blocks stay in the table readers' memory (a few bytes per key), not
        // in the block cache: with them in the cache, a tree larger than the cache evicted and
        // re-read (and re-decompressed, re-checksummed) them on nearly every get — profiled at
        // 1M znodes as ~75% of apply time.
        table.set_cache_index_and_filter_blocks(false);
        table.set_format_version(5);

        let mut cf = Options::default();
        cf.set_block_based_table_factory(&table);
        cf.set_write_buffer_size(opts.write_buffer_bytes);
        // No bloom filter over the memtable: the apply transaction's probes for absent keys (every
        // create's) stop at the store's own key filter, and other readers rarely ask for a key
        // that does not exist. Keeping one up to date was 18% of the spill thread under creates,
        // a cache miss per key written.
        cf.set_level_compaction_dynamic_level_bytes(true);
        cf.set_level_zero_file_num_compaction_trigger(opts.l0_compaction_trigger.max(1));
        cf.set_compression_type(if opts.lz4 {
            DBCompressionType::Lz4
        } else {
            DBCompressionType::None
        });

        let mut db = cf.clone();
        db.create_if_missing(true);
        db.create_missing_column_families(true);
        // The log is the write-ahead log: our writes skip RocksDB's WAL, so every flush must cut
        // all column families at the same point, or a crash could pair one partition's state
        // with another's older state (and with an apply cursor that matches neither).
        db.set_atomic_flush(true);
        db.set_db_write_buffer_size(opts.total_write_buffer_bytes);
        db.set_max_background_jobs(opts.background_jobs);
        db.set_keep_log_file_num(4);
        db.set_max_log_file_size(16 << 20);
        Tuning { db, cf }
    }
}
