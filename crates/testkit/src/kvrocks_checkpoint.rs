//! [`KvrocksCheckpoint`]: writes a real RocksDB directory the way an Apache Kvrocks 2.10
//! master does, then takes a checkpoint of it as Kvrocks does for a replica
//! (`_fetch_meta`), for tests that replicate from [`crate::MockKvrocks`].
//!
//! The master's data directory (`<dir>/db`) has Kvrocks' seven column families, created
//! in Kvrocks' order so that their ids match (`default` 0, `metadata` 1, `zset_score` 2,
//! `pubsub` 3, `propagate` 4, `stream` 5, `search` 6). Each write method does what the
//! Kvrocks command does (`src/types/redis_*.cc`, `src/storage/redis_db.cc`): it reads the
//! key's metadata and subkeys, and writes one WriteBatch holding the command's LogData, its
//! subkeys and the updated metadata, in Kvrocks' order, all encoded as Kvrocks encodes them
//! ([`encode`], written from Kvrocks' source, not from replicant's decoder, so that a test is
//! a real cross-check). Kvrocks' quirks are kept (they are what a replica receives): a
//! command that changes nothing may still write a batch holding only its LogData, `GETDEL`
//! and an emptying `LTRIM` write a metadata delete without LogData, `LMOVE` into a new list
//! uses version 0, `XGROUP DESTROY` deletes a key range (see [`groups`]). A key's metadata
//! encoding ([`Encoding::New`], or the legacy 32-bit one) and its [`Layout`] (slot ids or
//! not) are chosen per key and per checkpoint; a command keeps the encoding of the key it
//! changes and gives new keys the 64-bit one, as Kvrocks 2.10 does.
//!
//! | file | commands (LogData) |
//! |---|---|
//! | `types` | the adds: `SET` (`1`), `HSET` (`2`), `SADD` (`4`), `ZADD` (`5`), `LPUSH`/`RPUSH` (`3 6`, `3 7`), `SIADD` (`7`), `JSON.SET` (`10`), `BF.RESERVE` (`9 createBloomChain`) |
//! | `strings` | `INCRBY`, `INCRBYFLOAT`, `APPEND`, `SETRANGE`, `GETEX`, `GETDEL` (`1`; `GETDEL` none) |
//! | `collections` | `HDEL`, `HINCRBY`, `HINCRBYFLOAT`, `SREM`, `SMOVE`, `SPOP`, `ZREM`, `ZINCRBY`, `ZREMRANGEBYSCORE`, `ZREMRANGEBYRANK`, `ZPOPMIN`/`ZPOPMAX`, `SIREM` |
//! | `lists` | `LPOP`/`RPOP` (`3 3`, `3 4`), `LSET` (`3 0 i`), `LINSERT` (`3 1 b pivot e`), `LREM` (`3 5 n e`), `LTRIM` (`3 2 start stop`), `LMOVE` (`3 12 src dst from to`) |
//! | `bitmaps` | `SETBIT` (`6 9 bit`; on a string `1`), `BITOP` (`6 10 OP src...`) |
//! | `hll` | `PFADD` (`11`; to a new or an existing HyperLogLog) |
//! | `stream` | `XADD`, `XDEL`, `XTRIM`, `XSETID` (`8`, `8 XSETID`), whole streams from a [`StreamSpec`] |
//! | `groups` | `XGROUP CREATE`/`CREATECONSUMER`/`DELCONSUMER`/`SETID`/`DESTROY`, `XACK`, `XCLAIM` (`8`) |
//! | `keyspace` | `DEL` (`0`), `PEXPIREAT`/`PERSIST` (`0 8`), `RENAME`/`RENAMENX`/`COPY` (the type's id), `FLUSHDB`/`FLUSHALL` (a `DeleteRange`, no LogData), group commits |
//!
//! A key given an expiry in the past is a key that expired and was not compacted away yet;
//! deleting a collection and writing it again leaves the old version's subkeys behind
//! (stale subkeys, as in Kvrocks); [`stale_subkey`](KvrocksCheckpoint::stale_subkey)
//! writes one directly. [`group_commit`](KvrocksCheckpoint::group_commit) writes several
//! commands as one WAL record, as RocksDB's group commit or a Kvrocks `MULTI`/`EXEC` does.
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
//! cp.hincrby("__namespace", "h", "n", 5);
//! let reps = cp.updates_since(sequence + 1).unwrap(); // for MockKvrocks::push_batch
//! ```

mod bitmaps;
mod collections;
pub mod encode;
pub mod groups;
mod hll;
mod keyspace;
mod lists;
mod stream;
mod strings;
mod types;

use std::cell::{Cell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};

pub use bitmaps::BitOp;
pub use encode::{Encoding, Expiry, KvType, Layout, Metadata, DEFAULT_NAMESPACE};
pub use groups::ClaimOptions;
pub use stream::{EntrySpec, GroupSpec, Id as StreamId, PendingSpec, StreamSpec, Trim};

/// Kvrocks 2.10's column families, in creation order (their ids are the indexes).
pub const COLUMN_FAMILIES: [&str; 7] = ["default", "metadata", "zset_score", "pubsub", "propagate", "stream", "search"];
/// Kvrocks' `log_size_for_flush` (`rocksdb.write_buffer_size`, 64 MiB by default): a
/// checkpoint copies live WAL files smaller than this instead of flushing.
const LOG_SIZE_FOR_FLUSH: u64 = 64 << 20;
/// Low bits of a version that are a counter (`VersionCounterBits`).
const VERSION_COUNTER_BITS: u32 = 11;
/// Bytes of a WriteBatch rep's header (sequence u64, count u32, both LE).
const REP_HEADER: usize = 12;

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
    /// The rep being assembled by [`group_commit`](Self::group_commit), if one runs.
    group: RefCell<Option<Vec<u8>>>,
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
        Ok(KvrocksCheckpoint { db, root, layout, counter: Cell::new(0), group: RefCell::new(None) })
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

    /// Runs `commands` as one group commit: one WAL record, one rep, holding each command's
    /// LogData and records in turn, as RocksDB writes concurrent writers' batches (its
    /// write leader merges them) and as Kvrocks writes a `MULTI`/`EXEC`. A command that
    /// writes nothing adds nothing. Reads inside see the database as it was before the group,
    /// as concurrent writers do: the commands must be on different keys (a transaction's
    /// later commands on the same key would read its earlier writes, which this does not).
    pub fn group_commit(&mut self, commands: impl FnOnce(&mut Self)) {
        *self.group.borrow_mut() = Some(Vec::new());
        commands(self);
        let rep = self.group.borrow_mut().take().unwrap_or_default();
        if !rep.is_empty() {
            self.db.write(WriteBatch::from_data(&rep)).expect("write to the Kvrocks data directory");
        }
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

    /// Whether `key` is live (`Metadata::Expired` is false), of any type.
    pub fn exists(&self, ns: &str, key: impl AsRef<[u8]>) -> bool {
        self.live(ns, key.as_ref()).is_some()
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

    /// The live metadata of `key` and the bytes after its common part (type extras).
    fn live(&self, ns: &str, key: &[u8]) -> Option<(Metadata, Vec<u8>)> {
        let raw = self.raw_metadata(ns, key)?;
        let (meta, extras) = Metadata::decode(&raw).expect("undecodable metadata");
        (!meta.is_dead(now_ms())).then(|| (meta, extras.to_vec()))
    }

    /// `GetMetadata` of a command that may create the key: the live metadata of `key` and
    /// its extras, or a new one of `kind` with a fresh version when it is missing or dead.
    /// Panics on another type (Kvrocks' WRONGTYPE).
    fn open_key(&self, ns: &str, key: &[u8], kind: KvType, encoding: Encoding) -> (Metadata, Vec<u8>) {
        match self.existing(ns, key, kind) {
            Some(found) => found,
            None => (Metadata::new(kind, encoding, self.next_version()), Vec::new()),
        }
    }

    /// `GetMetadata` of a command that needs the key: its live metadata and extras, `None`
    /// when missing or dead. Panics on another type.
    fn existing(&self, ns: &str, key: &[u8], kind: KvType) -> Option<(Metadata, Vec<u8>)> {
        let (meta, extras) = self.live(ns, key)?;
        assert_eq!(meta.kind, kind, "WRONGTYPE: {:?} holds a {:?}", String::from_utf8_lossy(key), meta.kind);
        Some((meta, extras))
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

    /// The records of `cf` from `lower` (included) to `upper` (excluded), in key order: an
    /// iterator with Kvrocks' `iterate_lower_bound`/`iterate_upper_bound`.
    fn scan_range(&self, cf: Cf, lower: &[u8], upper: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.handle(cf), IteratorMode::From(lower, Direction::Forward)) {
            let (key, value) = item.expect("read from the Kvrocks data directory");
            if &*key >= upper {
                break;
            }
            out.push((key.to_vec(), value.to_vec()));
        }
        out
    }

    /// The subkeys of `key`'s `version` in `cf` (`InternalKey(ns_key, "", version)` as a
    /// prefix), in key order, with the subkey part of each key cut out.
    fn subkeys(&self, cf: Cf, ns: &str, key: &[u8], version: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let prefix = self.internal_key(ns, key, version, b"");
        let upper = self.internal_key(ns, key, version.wrapping_add(1), b"");
        let rows = self.scan_range(cf, &prefix, &upper).into_iter();
        rows.filter_map(|(k, v)| k.strip_prefix(prefix.as_slice()).map(|sub| (sub.to_vec(), v))).collect()
    }

    /// The first and last keys of `cf`.
    fn edges(&self, cf: Cf) -> Option<(Vec<u8>, Vec<u8>)> {
        let first = self.db.iterator_cf(self.handle(cf), IteratorMode::Start).next()?;
        let last = self.db.iterator_cf(self.handle(cf), IteratorMode::End).next()?;
        let ((first, _), (last, _)) = (first.ok()?, last.ok()?);
        Some((first.to_vec(), last.to_vec()))
    }

    /// A new WriteBatch, starting with `log_data` when given.
    fn write(&self, log_data: Option<String>) -> Write<'_> {
        let mut batch = WriteBatch::default();
        if let Some(blob) = log_data {
            batch.put_log_data(blob.as_bytes());
        }
        Write { cp: self, batch }
    }
}

/// One Kvrocks write in progress: reads see the database before it, as in Kvrocks.
struct Write<'a> {
    cp: &'a KvrocksCheckpoint,
    batch: WriteBatch,
}

impl Write<'_> {
    fn put(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        self.batch.put_cf(self.cp.handle(cf), key, value);
    }

    fn delete(&mut self, cf: Cf, key: &[u8]) {
        self.batch.delete_cf(self.cp.handle(cf), key);
    }

    fn delete_range(&mut self, cf: Cf, begin: &[u8], end: &[u8]) {
        self.batch.delete_range_cf(self.cp.handle(cf), begin, end);
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
        self.cp.get(cf, key)
    }

    /// Writes the batch (even one holding only its LogData, as Kvrocks does), or adds it to
    /// the group commit in progress.
    fn commit(self) {
        let mut group = self.cp.group.borrow_mut();
        match group.as_mut() {
            Some(rep) if rep.is_empty() => rep.extend_from_slice(self.batch.data()),
            Some(rep) => {
                let data = self.batch.data();
                let count = |r: &[u8]| u32::from_le_bytes(r[8..REP_HEADER].try_into().unwrap());
                let total = count(rep) + count(data);
                rep[8..REP_HEADER].copy_from_slice(&total.to_le_bytes());
                rep.extend_from_slice(&data[REP_HEADER..]);
            }
            None => self.cp.db.write(self.batch).expect("write to the Kvrocks data directory"),
        }
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
