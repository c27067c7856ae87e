//! Reading a Pika 3.5 dump: one RocksDB per type (`strings`, `hashes`, `lists`, `zsets`,
//! `sets`, and `streams`, which 3.5's RsyncService does not send but is read when there;
//! Pika's `Storage::Open`, `Redis*::Open` in v3.5.5). Each keys its metas by the raw user
//! key in its `default` family, so the six walks are merged in key order: the same name
//! may be live in several types at once in 3.5, and the one copied is the one `TYPE`
//! reports (`Storage::GetType`: string, hash, list, zset, set; streams, which `TYPE` does
//! not see, last). Each other live one is reported by name as
//! [`SkipReason::Shadowed`]; expired and emptied ones are counted.

use std::path::{Path, PathBuf};

use rocksdb::{Cache, DBRawIterator, DB};

use super::blackwidow;
use super::comparator::{blackwidow_lists_compare, blackwidow_zset_score_compare};
use super::comparator::{BLACKWIDOW_LISTS_COMPARATOR, BLACKWIDOW_ZSET_SCORE_COMPARATOR};
use super::copy::{self, Codec, Rows};
use super::emit::Outbox;
use super::meta::State;
use super::open::{self, dump_error, key_error, read_error, Family};
use super::{DumpPiece, KeyType, SkipReason};
use crate::error::Result;

/// The type directories, in `TYPE`'s order of precedence.
pub(crate) const TYPES: [(KeyType, &str); 6] = [
    (KeyType::String, "strings"),
    (KeyType::Hash, "hashes"),
    (KeyType::List, "lists"),
    (KeyType::ZSet, "zsets"),
    (KeyType::Set, "sets"),
    (KeyType::Stream, "streams"),
];

const STRINGS: [Family; 1] = [Family::bytewise("default")];
/// Hashes and streams: metas and `data_cf`.
const WITH_DATA_CF: [Family; 2] = [Family::bytewise("default"), Family::bytewise("data_cf")];
const SETS: [Family; 2] = [Family::bytewise("default"), Family::bytewise("member_cf")];
const LISTS: [Family; 2] =
    [Family::bytewise("default"), Family::ordered("data_cf", BLACKWIDOW_LISTS_COMPARATOR, blackwidow_lists_compare)];
const ZSETS: [Family; 3] = [
    Family::bytewise("default"),
    Family::bytewise("data_cf"),
    Family::ordered("score_cf", BLACKWIDOW_ZSET_SCORE_COMPARATOR, blackwidow_zset_score_compare),
];

/// A type's column families and the one its members are read from.
fn families(kind: KeyType) -> (&'static [Family], Option<&'static str>) {
    match kind {
        KeyType::String => (&STRINGS, None),
        KeyType::Hash => (&WITH_DATA_CF, Some("data_cf")),
        KeyType::Set => (&SETS, Some("member_cf")),
        KeyType::List => (&LISTS, Some("data_cf")),
        KeyType::ZSet => (&ZSETS, Some("data_cf")),
        KeyType::Stream => (&WITH_DATA_CF, Some("data_cf")),
    }
}

const CODEC: Codec = Codec { field, value: raw, list_index: blackwidow::list_index };

/// A 3.5 data value: the user value as it is.
fn raw(value: &[u8]) -> std::result::Result<&[u8], &'static str> {
    Ok(value)
}

/// A 3.5 data key's part after the prefix.
fn field<'k>(row: &'k [u8], prefix: &[u8]) -> std::result::Result<&'k [u8], &'static str> {
    row.get(prefix.len()..).ok_or("data key shorter than its prefix")
}

/// One type's walk: its metas and its data family.
struct Walk<'d> {
    kind: KeyType,
    dir: &'d Path,
    metas: DBRawIterator<'d>,
    data: Option<DBRawIterator<'d>>,
}

/// Copies every live key of the 3.5 dump in `dir`.
pub(crate) fn read_types<F: FnMut(DumpPiece) -> bool>(
    dir: &Path,
    cache: &Cache,
    now_ms: u64,
    out: &mut Outbox<F>,
) -> Result<()> {
    let mut dbs: Vec<(KeyType, PathBuf, DB)> = Vec::new();
    for (kind, name) in TYPES {
        let path = dir.join(name);
        if !path.is_dir() {
            if kind == KeyType::Stream {
                continue;
            }
            return Err(dump_error(dir, format!("no {name} directory: not a Pika 3.5 dump")));
        }
        let db = open::open(&path, families(kind).0, cache, &format!("Pika 3.5's {name} database"))?;
        dbs.push((kind, path, db));
    }
    let mut walks = Vec::with_capacity(dbs.len());
    for (kind, path, db) in &dbs {
        let data = families(*kind).1.map(|family| open::scan(db, path, family)).transpose()?;
        let mut metas = open::scan(db, path, "default")?;
        metas.seek_to_first();
        walks.push(Walk { kind: *kind, dir: path, metas, data });
    }
    while let Some(key) = walks.iter().filter_map(|w| w.metas.key()).min().map(<[u8]>::to_vec) {
        let mut kept = None;
        for walk in walks.iter_mut().filter(|w| w.metas.key() == Some(&key[..])) {
            let value = walk.metas.value().unwrap_or_default();
            let meta = blackwidow::meta(walk.kind, value).map_err(|what| key_error(walk.dir, &key, what))?;
            match (meta.state(now_ms), kept) {
                (State::Expired, _) => out.summary.expired += 1,
                (State::Empty, _) => out.summary.empty += 1,
                (State::Live, Some(kept)) => out.skip(&key, SkipReason::Shadowed { kept, dropped: walk.kind }),
                (State::Live, None) => {
                    kept = Some(walk.kind);
                    let rows = match walk.data.as_mut() {
                        Some(it) => {
                            let prefix = blackwidow::data_prefix(&key, meta.version)
                                .map_err(|what| key_error(walk.dir, &key, what))?;
                            Some(Rows { dir: walk.dir, it, prefix })
                        }
                        None => None,
                    };
                    copy::key(&CODEC, walk.dir, &key, &meta, rows, out)?;
                }
            }
            if out.stopped() {
                return Ok(());
            }
        }
        for walk in walks.iter_mut().filter(|w| w.metas.key() == Some(&key[..])) {
            walk.metas.next();
        }
    }
    for walk in &walks {
        walk.metas.status().map_err(|e| read_error(walk.dir, e))?;
    }
    Ok(())
}
