//! [`KvrocksCheckpoint`]: writes a real RocksDB directory the way an Apache Kvrocks 2.10
//! master does, then takes a checkpoint of it as Kvrocks does for a replica
//! (`_fetch_meta`), for tests that replicate from [`crate::MockKvrocks`].
//!
//! The master's data directory (`<dir>/db`) has Kvrocks' seven column families, created
//! in Kvrocks' order so that their ids match (`default` 0, `metadata` 1, `zset_score` 2,
//! `pubsub` 3, `propagate` 4, `stream` 5, `search` 6). Each write method does what the
//! Kvrocks command does (`src/types/redis_*.cc`): it reads the key's metadata, and writes
//! one WriteBatch holding the command's LogData, its subkeys and the updated metadata, all
//! encoded as Kvrocks encodes them ([`encode`], written from Kvrocks' source, not from
//! replicant's decoder, so that a test is a real cross-check). A key's metadata encoding
//! ([`Encoding::New`], or the legacy 32-bit one) and its [`Layout`] (slot ids or not) are
//! chosen per key and per checkpoint. What is covered:
//!
//! | method | Kvrocks command | LogData |
//! |---|---|---|
//! | [`string`](KvrocksCheckpoint::string) | `SET k v [PXAT]` | `1` |
//! | [`hash`](KvrocksCheckpoint::hash) | `HSET` | `2` |
//! | [`set`](KvrocksCheckpoint::set) | `SADD` | `4` |
//! | [`zset`](KvrocksCheckpoint::zset) | `ZADD` (member → score in `default`, score index in `zset_score`) | `5` |
//! | [`lpush`](KvrocksCheckpoint::lpush), [`rpush`](KvrocksCheckpoint::rpush), [`list`](KvrocksCheckpoint::list) | `LPUSH`, `RPUSH` | `3 6`, `3 7` |
//! | [`setbit`](KvrocksCheckpoint::setbit), [`bitmap`](KvrocksCheckpoint::bitmap) | `SETBIT` (1 KiB LSB-first segments, Kvrocks' growth) | `6 9 <bit>` |
//! | [`sortedint`](KvrocksCheckpoint::sortedint) | `SIADD` | `7` |
//! | [`stream`](KvrocksCheckpoint::stream) | `XADD`, `XDEL`, `XGROUP CREATE`/`CREATECONSUMER`, pending entries | `8` |
//! | [`hyperloglog`](KvrocksCheckpoint::hyperloglog) | `PFADD` (Redis' hash, 16 segments of 768 bytes) | `11` |
//! | [`json`](KvrocksCheckpoint::json) | `JSON.SET k $ <text>` (JSON text format) | `10` |
//! | [`bloom_reserve`](KvrocksCheckpoint::bloom_reserve) | `BF.RESERVE` (empty filter: no insert, its XXH64 hashing is not written here) | `9 createBloomChain` |
//! | [`expire`](KvrocksCheckpoint::expire) | `PEXPIREAT` (rewrites the metadata's expiry in place) | `0 8` |
//! | [`del`](KvrocksCheckpoint::del) | `DEL` (metadata deletes; the subkeys stay, as in Kvrocks) | `0` |
//!
//! A key given an expiry in the past is a key that expired and was not compacted away yet;
//! deleting a collection and writing it again leaves the old version's subkeys behind
//! (stale subkeys, as in Kvrocks); [`stale_subkey`](KvrocksCheckpoint::stale_subkey)
//! writes one directly.
//!
//! [`finish`](KvrocksCheckpoint::finish) flushes and checkpoints (the data in `.sst`
//! files, as a production master's checkpoint), [`finish_in_wal`](KvrocksCheckpoint::finish_in_wal)
//! checkpoints without flushing (the data in the copied `.log`, as a small or fresh master's
//! checkpoint, `log_size_for_flush` = 64 MiB); both give the file names in the order
//! Kvrocks lists them (the directory's order) and the checkpoint's sequence. Writes after
//! that are the master's stream: [`updates_since`](KvrocksCheckpoint::updates_since) gives
//! their WriteBatch reps, read back from the WAL as Kvrocks feeds its replicas.
//!
//! ```no_run
//! use replicant_testkit::kvrocks_checkpoint::{Encoding, Expiry, KvrocksCheckpoint, Layout};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut cp = KvrocksCheckpoint::create(dir.path(), Layout { cluster: false }).unwrap();
//! cp.hash("__namespace", "h", &[("f", "v")], Expiry::None, Encoding::Legacy);
//! let (files, sequence) = cp.finish_in_wal().unwrap();
//! // MockKvrocks::builder().checkpoint_dir(cp.checkpoint_dir()).checkpoint_files(files).sequence(sequence)
//! cp.rpush("__namespace", "l", &["a"]);
//! let reps = cp.updates_since(sequence + 1).unwrap(); // for MockKvrocks::push_batch
//! ```

pub mod encode;
mod hll;
mod stream;
mod types;

use std::cell::Cell;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};

pub use encode::{Encoding, Expiry, KvType, Layout, Metadata, DEFAULT_NAMESPACE};
pub use stream::{EntrySpec, GroupSpec, Id as StreamId, PendingSpec, StreamSpec};

/// Kvrocks 2.10's column families, in creation order (their ids are the indexes).
pub const COLUMN_FAMILIES: [&str; 7] = ["default", "metadata", "zset_score", "pubsub", "propagate", "stream", "search"];
/// Kvrocks' `log_size_for_flush` (`rocksdb.write_buffer_size`, 64 MiB by default): a
/// checkpoint copies live WAL files smaller than this instead of flushing.
const LOG_SIZE_FOR_FLUSH: u64 = 64 << 20;
/// Low bits of a version that are a counter (`VersionCounterBits`).
const VERSION_COUNTER_BITS: u32 = 11;

/// A column family, by its Kvrocks role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cf {
    /// 0, `default`: primary subkeys.
    Default,
    /// 1, `metadata`.
    Metadata,
    /// 2, `zset_score`: the zset score index.
    ZSetScore,
    /// 3, `pubsub`.
    PubSub,
    /// 4, `propagate`.
    Propagate,
    /// 5, `stream`.
    Stream,
    /// 6, `search`.
    Search,
}

impl Cf {
    /// The RocksDB column family name.
    pub fn name(self) -> &'static str {
        COLUMN_FAMILIES[self as usize]
    }
}

/// A Kvrocks master's data directory being written; see the [module documentation](self).
pub struct KvrocksCheckpoint {
    db: DB,
    root: PathBuf,
    layout: Layout,
    counter: Cell<u64>,
}

impl KvrocksCheckpoint {
    /// Creates the master's data directory `<dir>/db` (`dir` may exist; `<dir>/db` and
    /// `<dir>/checkpoint` must not), with Kvrocks' column families in Kvrocks' order.
    pub fn create(dir: impl AsRef<Path>, layout: Layout) -> io::Result<KvrocksCheckpoint> {
        let root = dir.as_ref().to_path_buf();
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Kvrocks' WAL retention, so that the batches after the checkpoint stay readable.
        opts.set_wal_ttl_seconds(10800);
        opts.set_wal_size_limit_mb(16384);
        let families = COLUMN_FAMILIES.iter().map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, root.join("db"), families).map_err(other)?;
        Ok(KvrocksCheckpoint { db, root, layout, counter: Cell::new(0) })
    }

    /// Where [`finish`](Self::finish) puts the checkpoint: `<dir>/checkpoint`.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// The key layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The last sequence written.
    pub fn latest_sequence(&self) -> u64 {
        self.db.latest_sequence_number()
    }

    /// Flushes every column family and checkpoints: the data in `.sst` files. Returns the
    /// checkpoint's file names in the order Kvrocks lists them, and its sequence. Once.
    pub fn finish(&mut self) -> io::Result<(Vec<String>, u64)> {
        self.checkpoint(0)
    }

    /// Checkpoints without flushing, as Kvrocks does while the WAL is under 64 MiB: the
    /// data only in the copied WAL file. Returns what [`finish`](Self::finish) does. Once.
    pub fn finish_in_wal(&mut self) -> io::Result<(Vec<String>, u64)> {
        self.checkpoint(LOG_SIZE_FOR_FLUSH)
    }

    fn checkpoint(&self, log_size_for_flush: u64) -> io::Result<(Vec<String>, u64)> {
        let sequence = self.db.latest_sequence_number();
        let dir = self.checkpoint_dir();
        Checkpoint::new(&self.db)
            .map_err(other)?
            .create_checkpoint_with_log_size(&dir, log_size_for_flush)
            .map_err(other)?;
        // `Env::GetChildren`, as `GetFullReplDataInfo` lists the checkpoint: directory order.
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            files.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok((files, sequence))
    }

    /// The WriteBatch reps written from sequence `from` on, oldest first, as the master's
    /// WAL holds them and its PSYNC feed sends them (header: sequence u64 LE, count u32 LE).
    pub fn updates_since(&self, from: u64) -> io::Result<Vec<Vec<u8>>> {
        let mut reps = Vec::new();
        // The binding's iterator gives the batches after the sequence it is given.
        for update in self.db.get_updates_since(from.saturating_sub(1)).map_err(other)? {
            let (sequence, batch) = update.map_err(other)?;
            if sequence >= from {
                reps.push(batch.data().to_vec());
            }
        }
        Ok(reps)
    }

    /// The metadata CF key of `key` in namespace `ns`.
    pub fn ns_key(&self, ns: &str, key: &[u8]) -> Vec<u8> {
        encode::ns_key(self.layout, ns, key)
    }

    /// A subkey of `key` (any CF but metadata).
    pub fn internal_key(&self, ns: &str, key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
        encode::internal_key(self.layout, ns, key, version, sub)
    }

    /// The raw metadata value of `key`, live or not.
    pub fn raw_metadata(&self, ns: &str, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        self.get(Cf::Metadata, &self.ns_key(ns, key.as_ref()))
    }

    /// The version of `key`'s subkeys, if it has metadata.
    pub fn version_of(&self, ns: &str, key: impl AsRef<[u8]>) -> Option<u64> {
        let raw = self.raw_metadata(ns, key)?;
        Metadata::decode(&raw).map(|(m, _)| m.version)
    }

    /// Puts one record as it is, in its own WriteBatch without LogData.
    pub fn raw_put(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        let mut w = self.write(None);
        w.put(cf, key, value);
        w.commit();
    }

    /// A subkey of `key`'s previous version (its current version - 1) in the default CF: what
    /// a deleted or replaced incarnation leaves until compaction. Panics if `key` has no
    /// metadata.
    pub fn stale_subkey(&mut self, ns: &str, key: impl AsRef<[u8]>, sub: &[u8], value: &[u8]) {
        let key = key.as_ref();
        let version = self.version_of(ns, key).expect("stale_subkey: the key has no metadata");
        let sub_key = self.internal_key(ns, key, version - 1, sub);
        self.raw_put(Cf::Default, &sub_key, value);
    }

    /// `DEL k...` (`Database::MDel`): LogData `0`, then a metadata delete per existing key.
    /// The subkeys stay behind (stale), as in Kvrocks.
    pub fn del<K: AsRef<[u8]>>(&mut self, ns: &str, keys: &[K]) {
        let mut w = self.write(Some("0".into()));
        for key in keys {
            let ns_key = self.ns_key(ns, key.as_ref());
            if w.get(Cf::Metadata, &ns_key).is_some() {
                w.delete(Cf::Metadata, &ns_key);
            }
        }
        w.commit();
    }

    /// `PEXPIREAT k at_ms` (`Database::Expire`): LogData `0 8`, and the metadata with its
    /// expiry rewritten in place (in seconds for a legacy key). Panics if `key` is missing.
    /// Unlike Kvrocks it also takes a time in the past (an expired, uncompacted key).
    pub fn expire(&mut self, ns: &str, key: impl AsRef<[u8]>, at_ms: u64) {
        let ns_key = self.ns_key(ns, key.as_ref());
        let mut value = self.get(Cf::Metadata, &ns_key).expect("expire: the key has no metadata");
        let (meta, _) = Metadata::decode(&value).expect("expire: undecodable metadata");
        let expire = Metadata { expire_ms: at_ms, ..meta }.encode();
        let width = if meta.encoding == Encoding::New { 8 } else { 4 };
        value[1..1 + width].copy_from_slice(&expire[1..1 + width]);
        let mut w = self.write(Some("0 8".into()));
        w.put(Cf::Metadata, &ns_key, &value);
        w.commit();
    }

    /// Applies `expiry` with [`expire`](Self::expire) (nothing for [`Expiry::None`]).
    fn expire_at(&mut self, ns: &str, key: &[u8], expiry: Expiry) {
        if let Expiry::At(ms) = expiry {
            self.expire(ns, key, ms);
        }
    }

    /// `GetMetadata`: the live metadata of `key` and the bytes after its common part, or a
    /// new one of `kind` with a fresh version when it is missing or dead. Panics on another
    /// type (Kvrocks' WRONGTYPE).
    fn open_key(&self, ns: &str, key: &[u8], kind: KvType, encoding: Encoding) -> (Metadata, Vec<u8>) {
        if let Some(raw) = self.raw_metadata(ns, key) {
            let (meta, extras) = Metadata::decode(&raw).expect("undecodable metadata");
            if !meta.is_dead(now_ms()) {
                assert_eq!(meta.kind, kind, "WRONGTYPE: {:?} holds a {:?}", String::from_utf8_lossy(key), meta.kind);
                return (meta, extras.to_vec());
            }
        }
        (Metadata::new(kind, encoding, self.next_version()), Vec::new())
    }

    /// `generateVersion`: microseconds << 11 + a counter.
    fn next_version(&self) -> u64 {
        let count = self.counter.get();
        self.counter.set(count + 1);
        (now_us() << VERSION_COUNTER_BITS) + (count % (1 << VERSION_COUNTER_BITS))
    }

    fn handle(&self, cf: Cf) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(cf.name()).expect("Kvrocks' column families are open")
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
        self.db.get_cf(self.handle(cf), key).expect("read from the Kvrocks data directory")
    }

    /// A new WriteBatch, starting with `log_data` when given.
    fn write(&self, log_data: Option<String>) -> Write<'_> {
        let mut batch = WriteBatch::default();
        if let Some(blob) = log_data {
            batch.put_log_data(blob.as_bytes());
        }
        Write { cp: self, batch, written: HashSet::new() }
    }
}

/// One Kvrocks write in progress: reads see the database before it, as in Kvrocks.
struct Write<'a> {
    cp: &'a KvrocksCheckpoint,
    batch: WriteBatch,
    written: HashSet<(Cf, Vec<u8>)>,
}

impl Write<'_> {
    fn put(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        self.written.insert((cf, key.to_vec()));
        self.batch.put_cf(self.cp.handle(cf), key, value);
    }

    fn delete(&mut self, cf: Cf, key: &[u8]) {
        self.batch.delete_cf(self.cp.handle(cf), key);
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
        self.cp.get(cf, key)
    }

    /// Whether neither the database nor this write holds `key` yet.
    fn is_new(&self, cf: Cf, key: &[u8]) -> bool {
        !self.written.contains(&(cf, key.to_vec())) && self.get(cf, key).is_none()
    }

    fn commit(self) {
        self.cp.db.write(self.batch).expect("write to the Kvrocks data directory");
    }
}

fn other(e: rocksdb::Error) -> io::Error {
    io::Error::other(e.into_string())
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

fn now_ms() -> u64 {
    now_us() / 1000
}

#[cfg(test)]
mod tests;
