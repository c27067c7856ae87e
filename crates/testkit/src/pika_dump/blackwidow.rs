//! The Pika 3.5 side of [`PikaDump`](super::PikaDump): one RocksDB per type in the
//! directories Pika's `Storage::Open` and `BackupEngine` use (`strings`, `hashes`, `sets`,
//! `lists`, `zsets`; `streams` once a stream is written: 3.5.5's RsyncService does not
//! list it), each with its families as `Redis*::Open` creates them (`default` for metas,
//! then `data_cf`, or `member_cf` for sets, and `score_cf` for zsets; the custom
//! comparators on `lists/data_cf` and `zsets/score_cf`), records as 3.5's commands put
//! them. A name written as several types is live in each, as in 3.5.

use std::io;
use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};

use super::compare::{bw_lists, bw_zset_score, BW_LISTS, BW_ZSET_SCORE};
use super::encode::*;
use super::{Item, Write};

/// The type directories, and their families after `default`.
pub const TYPES: [(&str, &[&str]); 6] = [
    ("strings", &[]),
    ("hashes", &["data_cf"]),
    ("sets", &["member_cf"]),
    ("lists", &["data_cf"]),
    ("zsets", &["data_cf", "score_cf"]),
    ("streams", &["data_cf"]),
];

pub(super) struct Blackwidow {
    dir: PathBuf,
    /// Open databases, by directory name.
    dbs: Vec<(&'static str, DB)>,
}

/// The options of a 3.5 family: its comparator, if Pika gives it one.
pub(super) fn family_options(db: &str, family: &str) -> Options {
    let mut opts = Options::default();
    match (db, family) {
        ("lists", "data_cf") => opts.set_comparator(BW_LISTS, Box::new(bw_lists)),
        ("zsets", "score_cf") => opts.set_comparator(BW_ZSET_SCORE, Box::new(bw_zset_score)),
        _ => {}
    }
    opts
}

impl Blackwidow {
    /// Creates the five databases a 3.5 dump always has.
    pub(super) fn create(dir: &Path) -> io::Result<Blackwidow> {
        let mut bw = Blackwidow { dir: dir.to_path_buf(), dbs: Vec::new() };
        for name in ["strings", "hashes", "sets", "lists", "zsets"] {
            bw.open(name)?;
        }
        Ok(bw)
    }

    fn open(&mut self, name: &'static str) -> io::Result<&DB> {
        if let Some(at) = self.dbs.iter().position(|(n, _)| *n == name) {
            return Ok(&self.dbs[at].1);
        }
        let (_, extra) = TYPES.iter().find(|(n, _)| *n == name).expect("a 3.5 type directory");
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let names = std::iter::once("default").chain(extra.iter().copied());
        let families = names.map(|f| ColumnFamilyDescriptor::new(f, family_options(name, f)));
        let db = DB::open_cf_descriptors(&opts, self.dir.join(name), families).map_err(super::other)?;
        self.dbs.push((name, db));
        Ok(&self.dbs.last().expect("just pushed").1)
    }

    /// Writes one key's records, in the database of its type, as one WriteBatch.
    pub(super) fn write(&mut self, w: &Write<'_>) -> io::Result<()> {
        let dir = match &w.items {
            Item::String(_) | Item::HyperLogLog(_) => "strings",
            Item::Hash(_) | Item::Emptied(DataType::Hashes) => "hashes",
            Item::Set(_) | Item::Emptied(DataType::Sets) => "sets",
            Item::List { .. } | Item::Emptied(DataType::Lists) => "lists",
            Item::ZSet(_) | Item::Emptied(DataType::ZSets) => "zsets",
            Item::Stream { .. } | Item::Emptied(_) => "streams",
        };
        let db = self.open(dir)?;
        let mut batch = WriteBatch::default();
        let mut put = |cf: &str, k: Vec<u8>, v: Vec<u8>| batch.put_cf(db.cf_handle(cf).expect("3.5's families"), k, v);
        let (key, version) = (w.key, w.version as i32);
        // 3.5 keeps seconds in an i32.
        let ts = i32::try_from(w.expire_ms / 1000).expect("a 3.5 timestamp fits an i32");
        let count = w.items.len();
        match &w.items {
            Item::String(value) | Item::HyperLogLog(value) => put("default", key.to_vec(), bw_string_value(value, ts)),
            Item::Hash(fields) => {
                put("default", key.to_vec(), bw_meta_value(count as i32, version, ts));
                for (f, v) in fields {
                    put("data_cf", bw_data_key(key, version, f), v.clone());
                }
            }
            Item::Set(members) => {
                put("default", key.to_vec(), bw_meta_value(count as i32, version, ts));
                for m in members {
                    put("member_cf", bw_data_key(key, version, m), Vec::new());
                }
            }
            Item::ZSet(members) => {
                put("default", key.to_vec(), bw_meta_value(count as i32, version, ts));
                for (score, m) in members {
                    put("data_cf", bw_data_key(key, version, m), score.to_bits().to_le_bytes().to_vec());
                    put("score_cf", bw_score_key(key, version, *score, m), Vec::new());
                }
            }
            Item::List { elements, left, right } => {
                put("default", key.to_vec(), bw_list_meta_value(count as u64, version, ts, *left, *right));
                for (i, e) in elements.iter().enumerate() {
                    put("data_cf", bw_list_key(key, version, left + 1 + i as u64), e.clone());
                }
            }
            Item::Stream { entries, meta } => {
                put("default", key.to_vec(), bw_stream_meta_value(meta, version));
                for (id, fields) in entries {
                    put("data_cf", bw_data_key(key, version, &stream_id(*id)), stream_message(fields));
                }
            }
            Item::Emptied(kind) => {
                let meta = match kind {
                    DataType::Lists => bw_list_meta_value(0, version, 0, INITIAL_LEFT_INDEX, INITIAL_RIGHT_INDEX),
                    DataType::Streams => bw_stream_meta_value(&StreamMeta::default(), version),
                    _ => bw_meta_value(0, version, 0),
                };
                put("default", key.to_vec(), meta);
            }
        }
        db.write(batch).map_err(super::other)
    }

    /// The database in directory `name`, if written.
    pub(super) fn db(&self, name: &str) -> Option<&DB> {
        self.dbs.iter().find(|(n, _)| *n == name).map(|(_, db)| db)
    }

    pub(super) fn flush(&self) -> io::Result<()> {
        for (name, db) in &self.dbs {
            let (_, extra) = TYPES.iter().find(|(n, _)| n == name).expect("a 3.5 type directory");
            for family in std::iter::once(&"default").chain(extra.iter()) {
                db.flush_cf(db.cf_handle(family).expect("3.5's families")).map_err(super::other)?;
            }
        }
        Ok(())
    }
}
