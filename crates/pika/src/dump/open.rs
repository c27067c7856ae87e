//! Opening one RocksDB directory of a dump: our own copy, opened for writing so that WAL
//! files a checkpoint may hold are replayed into small memtables that flush to tables
//! (a read-only open would hold a whole WAL in memory), with auto compactions off (nothing
//! is written but those tables), every column family on one shared small block cache,
//! Pika's comparators registered under Pika's names on the families that use them.

use std::cmp::Ordering;
use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBRawIterator, Options, ReadOptions, DB,
};

use crate::error::{PikaError, Result};

/// RocksDB's block cache while reading a dump (shared by all its directories).
pub(crate) const BLOCK_CACHE_BYTES: usize = 8 << 20;
/// Memtable size while WAL files are replayed.
const WRITE_BUFFER_BYTES: usize = 4 << 20;
/// Open table files per RocksDB directory (3.5 dumps have five or six open at once).
const MAX_OPEN_FILES: i32 = 128;

/// A comparator: its name and its order.
pub(crate) type Comparator = (&'static str, fn(&[u8], &[u8]) -> Ordering);

/// A column family a directory must have, with the comparator it was created with.
pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) comparator: Option<Comparator>,
}

impl Family {
    pub(crate) const fn bytewise(name: &'static str) -> Self {
        Family { name, comparator: None }
    }

    pub(crate) const fn ordered(name: &'static str, comparator: &'static str, f: fn(&[u8], &[u8]) -> Ordering) -> Self {
        Family { name, comparator: Some((comparator, f)) }
    }
}

/// Opens `dir` with every column family it has; each of `families` must be there. `what`
/// names the kind of directory expected, for the error.
pub(crate) fn open(dir: &Path, families: &[Family], cache: &Cache, what: &str) -> Result<DB> {
    let fail = |e: rocksdb::Error| dump_error(dir, format!("does not open as {what}: {e}"));
    let options = |comparator: Option<&Comparator>| {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(cache);
        table.set_cache_index_and_filter_blocks(true);
        let mut opts = Options::default();
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
        opts.set_max_write_buffer_number(2);
        opts.set_disable_auto_compactions(true);
        if let Some((name, f)) = comparator {
            opts.set_comparator(*name, Box::new(*f));
        }
        opts
    };
    let listed = DB::list_cf(&Options::default(), dir).map_err(fail)?;
    for family in families {
        if !listed.iter().any(|f| f == family.name) {
            return Err(dump_error(dir, format!("no column family {:?}: not {what}", family.name)));
        }
    }
    let mut db_options = options(None);
    db_options.set_max_open_files(MAX_OPEN_FILES);
    let descriptors = listed.iter().map(|name| {
        let comparator = families.iter().find(|f| f.name == name).and_then(|f| f.comparator.as_ref());
        ColumnFamilyDescriptor::new(name, options(comparator))
    });
    DB::open_cf_descriptors(&db_options, dir, descriptors).map_err(fail)
}

/// The handle of column family `name` of `db`.
pub(crate) fn handle<'d>(db: &'d DB, dir: &Path, name: &str) -> Result<&'d ColumnFamily> {
    db.cf_handle(name).ok_or_else(|| dump_error(dir, format!("no column family {name:?}")))
}

/// A forward scan of column family `name` that leaves the block cache to the index and
/// filter blocks and reads ahead.
pub(crate) fn scan<'d>(db: &'d DB, dir: &Path, name: &str) -> Result<DBRawIterator<'d>> {
    let mut ro = ReadOptions::default();
    ro.fill_cache(false);
    ro.set_readahead_size(2 << 20);
    Ok(db.raw_iterator_cf_opt(handle(db, dir, name)?, ro))
}

/// An iterator's failure.
pub(crate) fn read_error(dir: &Path, e: rocksdb::Error) -> PikaError {
    dump_error(dir, format!("reading failed: {e}"))
}

pub(crate) fn dump_error(dir: &Path, why: String) -> PikaError {
    PikaError::Dump { dir: dir.display().to_string(), why }
}

/// A record that does not decode: the user key (or raw key) and what is wrong.
pub(crate) fn key_error(dir: &Path, key: &[u8], what: &'static str) -> PikaError {
    PikaError::DumpKey { dir: dir.display().to_string(), key: key.to_vec(), what }
}
