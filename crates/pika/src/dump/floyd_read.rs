//! Reading one RocksDB instance of a Pika 4.x dump (`<dump>/<n>/`, Pika's `Redis::Open` in
//! `src/storage/src/redis.cc`): its seven column families opened, the two custom
//! comparators on `list_data_cf` and `zset_score_cf`; the `default` family walked in key
//! order, each live key copied (`copy`) from its data family with one iterator per family
//! kept for the whole walk (a seek on a live iterator is cheap, a new one per key costs a
//! fresh read-ahead). A key name has one type per database in 4.x, and its instance is
//! chosen by hashing it, so instances never share a key.

use std::path::Path;

use rocksdb::{Cache, DBRawIterator, DB};

use super::comparator::{floyd_lists_compare, floyd_zset_score_compare};
use super::comparator::{FLOYD_LISTS_COMPARATOR, FLOYD_ZSET_SCORE_COMPARATOR};
use super::copy::{self, Codec, Rows};
use super::emit::Outbox;
use super::floyd;
use super::meta::State;
use super::open::{self, key_error, read_error, Family};
use super::{DumpPiece, KeyType};
use crate::error::Result;

/// Pika 4.x's column families (`ColumnFamilyIndex` order).
pub(crate) const FAMILIES: [Family; 7] = [
    Family::bytewise("default"),
    Family::bytewise("hash_data_cf"),
    Family::bytewise("set_data_cf"),
    Family::ordered("list_data_cf", FLOYD_LISTS_COMPARATOR, floyd_lists_compare),
    Family::bytewise("zset_data_cf"),
    Family::ordered("zset_score_cf", FLOYD_ZSET_SCORE_COMPARATOR, floyd_zset_score_compare),
    Family::bytewise("stream_data_cf"),
];

const CODEC: Codec = Codec { field: floyd::data_field, value: floyd::data_value, list_index: floyd::list_index };

/// The data family of a type (zsets are read from member → score).
fn data_family(kind: KeyType) -> Option<&'static str> {
    match kind {
        KeyType::String => None,
        KeyType::Hash => Some("hash_data_cf"),
        KeyType::Set => Some("set_data_cf"),
        KeyType::List => Some("list_data_cf"),
        KeyType::ZSet => Some("zset_data_cf"),
        KeyType::Stream => Some("stream_data_cf"),
    }
}

/// Copies every live key of the instance in `dir`.
pub(crate) fn read_instance<F: FnMut(DumpPiece) -> bool>(
    dir: &Path,
    cache: &Cache,
    now_ms: u64,
    out: &mut Outbox<F>,
) -> Result<()> {
    let db = open::open(dir, &FAMILIES, cache, "a Pika 4.x instance")?;
    let mut metas = open::scan(&db, dir, "default")?;
    let mut data = DataFamilies { db: &db, dir, open: Vec::new() };
    metas.seek_to_first();
    while let (Some(raw_key), Some(value)) = (metas.key(), metas.value()) {
        let name = floyd::meta_key(raw_key).map_err(|what| key_error(dir, raw_key, what))?;
        let meta = floyd::meta(value).map_err(|what| key_error(dir, &name.key, what))?;
        match meta.state(now_ms) {
            State::Expired => out.summary.expired += 1,
            State::Empty => out.summary.empty += 1,
            State::Live => {
                let rows = match data_family(meta.kind) {
                    Some(family) => {
                        Some(Rows { dir, it: data.get(family)?, prefix: floyd::data_prefix(name.head, meta.version) })
                    }
                    None => None,
                };
                copy::key(&CODEC, dir, &name.key, &meta, rows, out)?;
            }
        }
        if out.stopped() {
            return Ok(());
        }
        metas.next();
    }
    metas.status().map_err(|e| read_error(dir, e))
}

/// The data families' iterators, opened as first needed.
struct DataFamilies<'d> {
    db: &'d DB,
    dir: &'d Path,
    open: Vec<(&'static str, DBRawIterator<'d>)>,
}

impl<'d> DataFamilies<'d> {
    fn get(&mut self, family: &'static str) -> Result<&mut DBRawIterator<'d>> {
        let at = match self.open.iter().position(|(f, _)| *f == family) {
            Some(at) => at,
            None => {
                self.open.push((family, open::scan(self.db, self.dir, family)?));
                self.open.len() - 1
            }
        };
        match self.open.get_mut(at) {
            Some((_, it)) => Ok(it),
            None => Err(open::dump_error(self.dir, format!("no iterator on {family}"))),
        }
    }
}
