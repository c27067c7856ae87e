//! [`PikaDump`]: writes one database's dump the way a Pika master's bgsave leaves it for
//! RsyncService to send, as real RocksDB directories: Pika **4.x** ([`Generation::V4`]:
//! instance directories `0/`, `1/`, … with Pika's seven column families and two custom
//! comparators, as the capture of a real 4.0.1 transfer names its files) or Pika **3.5**
//! ([`Generation::V35`]: `strings/`, `hashes/`, `sets/`, `lists/`, `zsets/`, and `streams/`
//! once a stream is written), plus the dump's `info` file (`<secs>s`, master ip, port,
//! binlog filenum, offset).
//!
//! Each write method puts one key's records as Pika's command would: a meta value with a
//! fresh version and the key's rows of that version, all encoded from Pika's source
//! ([`encode`], [`compare`]: not from replicant's reader, so that tests cross-check it).
//! Pika's leftovers are kept: writing a key again leaves its earlier version's rows behind
//! (stale rows, until a compaction Pika would run), [`emptied`](PikaDump::emptied) leaves a
//! collection's meta with count 0 (what `DEL` and popping the last member do), an expiry in
//! the past is a key that expired but was not compacted away, and in 3.5 a name written as
//! several types is live in each (`TYPE` reports the first of string, hash, list, zset,
//! set). In 4.x a name has one type: writing another type replaces the meta.
//!
//! ```no_run
//! use replicant_testkit::pika_dump::{Expiry, Generation, PikaDump};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut dump = PikaDump::create(dir.path().join("db0"), Generation::V4 { instances: 3 }).unwrap();
//! dump.string(b"s", b"v", Expiry::At(4_102_444_800_000));
//! dump.list(b"l", &[b"a", b"b", b"c"], Expiry::None);
//! dump.info(0, 5462).unwrap();
//! dump.finish().unwrap();
//! ```
//!
//! `tests` reads such dumps with `replicant_pika::dump`, applies the commands to a real
//! `redis-server` and checks every key, value and expiry.

mod blackwidow;
pub mod compare;
pub mod encode;
mod floyd;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::DB;

pub use blackwidow::TYPES as V35_TYPES;
use encode::{DataType, StreamMeta, INITIAL_LEFT_INDEX, INITIAL_RIGHT_INDEX};
pub use floyd::FAMILIES as V4_FAMILIES;

/// Which Pika writes the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Pika 4.x with `instances` RocksDB instances (`db-instance-num`, 3 by default).
    V4 {
        /// How many.
        instances: u32,
    },
    /// Pika 3.5: one RocksDB per type.
    V35,
}

/// A key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// None.
    None,
    /// At this Unix time in ms (3.5 keeps whole seconds: the ms are dropped).
    At(u64),
    /// At this Unix time in seconds, stored as seconds: what 3.5 always does, and what 4.x
    /// reads in a time whose bit 63 is clear (data from before it kept ms).
    AtSecs(u64),
}

/// A stream's entries (id, field-value pairs) in id order.
pub type StreamEntries = Vec<((u64, u64), Vec<(Vec<u8>, Vec<u8>)>)>;

/// One key's records to write.
pub(crate) enum Item {
    String(Vec<u8>),
    HyperLogLog(Vec<u8>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(f64, Vec<u8>)>),
    /// Elements between the left and right indexes (both excluded).
    List {
        elements: Vec<Vec<u8>>,
        left: u64,
        right: u64,
    },
    Stream {
        entries: StreamEntries,
        meta: StreamMeta,
    },
    /// A collection's meta with count 0.
    Emptied(DataType),
}

impl Item {
    fn len(&self) -> usize {
        match self {
            Item::String(_) | Item::HyperLogLog(_) => 1,
            Item::Hash(f) => f.len(),
            Item::Set(m) => m.len(),
            Item::ZSet(m) => m.len(),
            Item::List { elements, .. } => elements.len(),
            Item::Stream { entries, .. } => entries.len(),
            Item::Emptied(_) => 0,
        }
    }
}

/// One key's write.
pub(crate) struct Write<'a> {
    key: &'a [u8],
    version: u64,
    now_ms: u64,
    expire_ms: u64,
    expire_in_seconds: bool,
    items: Item,
}

enum Store {
    V4(floyd::Floyd),
    V35(blackwidow::Blackwidow),
}

/// One database's dump being written; see the [module documentation](self).
pub struct PikaDump {
    dir: PathBuf,
    store: Store,
    version: u64,
}

impl PikaDump {
    /// Creates the dump's RocksDB directories under `dir` (created; must not hold a dump).
    pub fn create(dir: impl AsRef<Path>, generation: Generation) -> io::Result<PikaDump> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let (store, version) = match generation {
            Generation::V4 { instances } => (Store::V4(floyd::Floyd::create(&dir, instances)?), now_ms()),
            // 3.5 versions are the Unix second, an i32.
            Generation::V35 => (Store::V35(blackwidow::Blackwidow::create(&dir)?), now_ms() / 1000),
        };
        Ok(PikaDump { dir, store, version })
    }

    /// The dump's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A string.
    pub fn string(&mut self, key: &[u8], value: &[u8], expiry: Expiry) {
        self.write(key, Item::String(value.to_vec()), expiry);
    }

    /// A HyperLogLog: in 4.x a string marked as Pika's own registers, in 3.5 a plain string.
    pub fn hyperloglog(&mut self, key: &[u8], registers: &[u8]) {
        self.write(key, Item::HyperLogLog(registers.to_vec()), Expiry::None);
    }

    /// A hash of `fields`.
    pub fn hash(&mut self, key: &[u8], fields: &[(&[u8], &[u8])], expiry: Expiry) {
        let fields = fields.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        self.write(key, Item::Hash(fields), expiry);
    }

    /// A set of `members`.
    pub fn set(&mut self, key: &[u8], members: &[&[u8]], expiry: Expiry) {
        self.write(key, Item::Set(members.iter().map(|m| m.to_vec()).collect()), expiry);
    }

    /// A zset of (score, member).
    pub fn zset(&mut self, key: &[u8], members: &[(f64, &[u8])], expiry: Expiry) {
        self.write(key, Item::ZSet(members.iter().map(|(s, m)| (*s, m.to_vec())).collect()), expiry);
    }

    /// A list of `elements` in order, as pushed from the middle: the first half `LPUSH`ed
    /// (indexes below 2^63), the rest `RPUSH`ed (2^63 and up), so that index order and the
    /// bytes' order differ.
    pub fn list(&mut self, key: &[u8], elements: &[&[u8]], expiry: Expiry) {
        let lpushed = elements.len() as u64 / 2;
        let left = INITIAL_LEFT_INDEX - lpushed;
        let right = INITIAL_RIGHT_INDEX + (elements.len() as u64 - lpushed);
        let elements = elements.iter().map(|e| e.to_vec()).collect();
        self.write(key, Item::List { elements, left, right }, expiry);
    }

    /// A stream of `entries` (in id order) with the meta's other ids: its last generated id,
    /// entries ever added and largest deleted id.
    pub fn stream(
        &mut self,
        key: &[u8],
        entries: StreamEntries,
        last_id: (u64, u64),
        entries_added: u64,
        max_deleted_id: (u64, u64),
    ) {
        let meta = StreamMeta {
            groups_id: 0,
            entries_added,
            first_id: entries.first().map_or((0, 0), |(id, _)| *id),
            last_id,
            max_deleted_id,
            length: i32::try_from(entries.len()).expect("a stream of under 2^31 entries"),
        };
        self.write(key, Item::Stream { entries, meta }, Expiry::None);
    }

    /// A collection of `kind` emptied or deleted: its meta with count 0 and a new version.
    pub fn emptied(&mut self, key: &[u8], kind: DataType) {
        assert_ne!(kind, DataType::Strings, "a deleted string has no meta left");
        self.write(key, Item::Emptied(kind), Expiry::None);
    }

    fn write(&mut self, key: &[u8], items: Item, expiry: Expiry) {
        self.version += 1;
        let (expire_ms, expire_in_seconds) = match expiry {
            Expiry::None => (0, false),
            Expiry::At(ms) => (ms, false),
            Expiry::AtSecs(secs) => (secs * 1000, true),
        };
        let w = Write { key, version: self.version, now_ms: now_ms(), expire_ms, expire_in_seconds, items };
        match &mut self.store {
            Store::V4(floyd) => floyd.write(&w),
            Store::V35(bw) => bw.write(&w).expect("write to the Pika 3.5 database"),
        }
    }

    /// Puts one record as it is: in 4.x into `instance`'s family `family`, in 3.5 into the
    /// type directory `instance` (`"hashes"`, …)'s family.
    pub fn raw_put(&self, instance: &str, family: &str, key: &[u8], value: &[u8]) {
        let db: &DB = match &self.store {
            Store::V4(floyd) => &floyd.instances[instance.parse::<usize>().expect("an instance number")],
            Store::V35(bw) => bw.db(instance).expect("a written 3.5 type directory"),
        };
        db.put_cf(db.cf_handle(family).expect("a family of the dump"), key, value).expect("raw put");
    }

    /// Writes the `info` file: the binlog position the dump is consistent with, in the five
    /// lines Pika 4.0.1 and 3.5.x both write (`DB::DoBgSave`: `<secs>s`, host, port,
    /// filenum, offset).
    pub fn info(&self, filenum: u32, offset: u64) -> io::Result<()> {
        std::fs::write(self.dir.join("info"), format!("0s\n127.0.0.1\n19421\n{filenum}\n{offset}\n"))
    }

    /// Flushes every family (the data in `.sst` files, as a bgsave leaves it) and closes.
    pub fn finish(self) -> io::Result<PathBuf> {
        match &self.store {
            Store::V4(floyd) => floyd.flush()?,
            Store::V35(bw) => bw.flush()?,
        }
        Ok(self.dir)
    }

    /// Closes without flushing: the data only in the directories' WAL files.
    pub fn finish_in_wal(self) -> PathBuf {
        self.dir
    }
}

fn other(e: rocksdb::Error) -> io::Error {
    io::Error::other(e.into_string())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
