//! The Pika 4.x side of [`PikaDump`](super::PikaDump): `instances` RocksDB directories
//! `0/`, `1/`, … each with Pika's seven column families created in Pika's order
//! (`Redis::Open`, `src/storage/src/redis.cc`), the two custom comparators on
//! `list_data_cf` and `zset_score_cf`, and each key's records as Pika's write commands
//! put them (`redis_strings.cc`, `redis_hashes.cc`, `redis_sets.cc`, `redis_lists.cc`,
//! `redis_zsets.cc`, `redis_streams.cc`) into the instance its name hashes to (FNV-1a
//! here; Pika uses its Codis CRC32 slots, which the reader does not depend on).

use std::io;
use std::path::Path;

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};

use super::compare::{floyd_lists, floyd_zset_score, FLOYD_LISTS, FLOYD_ZSET_SCORE};
use super::encode::*;
use super::{Item, Write};

/// Pika 4.x's column families, in creation order (`ColumnFamilyIndex`).
pub const FAMILIES: [&str; 7] =
    ["default", "hash_data_cf", "set_data_cf", "list_data_cf", "zset_data_cf", "zset_score_cf", "stream_data_cf"];

pub(super) struct Floyd {
    pub(super) instances: Vec<DB>,
}

/// The options of a 4.x family: its comparator, if Pika gives it one.
pub(super) fn family_options(name: &str) -> Options {
    let mut opts = Options::default();
    match name {
        "list_data_cf" => opts.set_comparator(FLOYD_LISTS, Box::new(floyd_lists)),
        "zset_score_cf" => opts.set_comparator(FLOYD_ZSET_SCORE, Box::new(floyd_zset_score)),
        _ => {}
    }
    opts
}

impl Floyd {
    pub(super) fn create(dir: &Path, instances: u32) -> io::Result<Floyd> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let mut dbs = Vec::new();
        for i in 0..instances {
            let families = FAMILIES.iter().map(|name| ColumnFamilyDescriptor::new(*name, family_options(name)));
            let db = DB::open_cf_descriptors(&opts, dir.join(i.to_string()), families).map_err(super::other)?;
            dbs.push(db);
        }
        Ok(Floyd { instances: dbs })
    }

    /// The instance `key` goes to.
    pub(super) fn instance(&self, key: &[u8]) -> &DB {
        let hash = key.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193));
        &self.instances[hash as usize % self.instances.len()]
    }

    /// Writes one key's records as one WriteBatch.
    pub(super) fn write(&self, w: &Write<'_>) {
        let db = self.instance(w.key);
        let mut batch = WriteBatch::default();
        let mut put = |cf: &str, k: Vec<u8>, v: Vec<u8>| batch.put_cf(db.cf_handle(cf).expect("Pika's families"), k, v);
        let (key, version, now) = (w.key, w.version, w.now_ms);
        let etime = floyd_etime(w.expire_ms, w.expire_in_seconds);
        let count = w.items.len();
        match &w.items {
            Item::String(value) => put("default", floyd_meta_key(key), floyd_string_value(value, now, etime, false)),
            Item::HyperLogLog(value) => put("default", floyd_meta_key(key), floyd_string_value(value, now, 0, true)),
            Item::Hash(fields) => {
                put(
                    "default",
                    floyd_meta_key(key),
                    floyd_meta_value(DataType::Hashes, count as i32, version, now, etime),
                );
                for (f, v) in fields {
                    put("hash_data_cf", floyd_data_key(key, version, f), floyd_data_value(v, now));
                }
            }
            Item::Set(members) => {
                put(
                    "default",
                    floyd_meta_key(key),
                    floyd_meta_value(DataType::Sets, count as i32, version, now, etime),
                );
                for m in members {
                    put("set_data_cf", floyd_data_key(key, version, m), floyd_data_value(b"", now));
                }
            }
            Item::ZSet(members) => {
                put(
                    "default",
                    floyd_meta_key(key),
                    floyd_meta_value(DataType::ZSets, count as i32, version, now, etime),
                );
                for (score, m) in members {
                    let bits = score.to_bits().to_le_bytes();
                    put("zset_data_cf", floyd_data_key(key, version, m), floyd_data_value(&bits, now));
                    put("zset_score_cf", floyd_score_key(key, version, *score, m), floyd_data_value(b"", now));
                }
            }
            Item::List { elements, left, right } => {
                let meta = floyd_list_meta_value(count as u64, version, *left, *right, now, etime);
                put("default", floyd_meta_key(key), meta);
                for (i, e) in elements.iter().enumerate() {
                    put("list_data_cf", floyd_list_key(key, version, left + 1 + i as u64), floyd_data_value(e, now));
                }
            }
            Item::Stream { entries, meta } => {
                put("default", floyd_meta_key(key), floyd_stream_meta_value(meta, version));
                for (id, fields) in entries {
                    put("stream_data_cf", floyd_data_key(key, version, &stream_id(*id)), stream_message(fields));
                }
            }
            Item::Emptied(kind) => {
                let meta = match kind {
                    DataType::Lists => {
                        floyd_list_meta_value(0, version, INITIAL_LEFT_INDEX, INITIAL_RIGHT_INDEX, now, 0)
                    }
                    DataType::Streams => floyd_stream_meta_value(&StreamMeta::default(), version),
                    other => floyd_meta_value(*other, 0, version, now, 0),
                };
                put("default", floyd_meta_key(key), meta);
            }
        }
        db.write(batch).expect("write to the Pika 4.x instance");
    }

    pub(super) fn flush(&self) -> io::Result<()> {
        for db in &self.instances {
            for name in FAMILIES {
                db.flush_cf(db.cf_handle(name).expect("Pika's families")).map_err(super::other)?;
            }
        }
        Ok(())
    }
}
