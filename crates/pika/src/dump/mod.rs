//! A fetched Pika dump read into Redis commands: [`read_dump`] opens one database's dump
//! directory (what [`Transfer`](crate::Transfer) fetched: the RocksDB directories and the
//! `info` file) and hands every live key to a sink as commands for that database, in
//! [`DumpPiece`]s of a few thousand commands, never holding a whole key: a collection is
//! written as its rows are read, `DEL`, then commands of at most 512 items, then
//! `PEXPIREAT` (absolute ms) when it has an expiry. It runs on a blocking thread of the
//! caller's; the sink returns `false` to stop it.
//!
//! ```no_run
//! use std::path::Path;
//! use replicant_pika::dump::{read_dump, DumpFormat, DumpLayout};
//!
//! let dir = Path::new("/var/lib/replicant/pika/db0");
//! let layout = DumpLayout::new(0, DumpFormat::detect(dir)?);
//! let summary = read_dump(dir, &layout, 1_796_660_608_000, |piece| {
//!     // SELECT piece.db, then send piece.commands; report piece.skipped by name.
//!     true
//! })?;
//! println!("{} keys copied, {} expired", summary.keys, summary.expired);
//! # Ok::<(), replicant_pika::PikaError>(())
//! ```
//!
//! # Generations
//!
//! - **Pika 4.x** ("floyd", [`DumpFormat::Floyd`]): `db-instance-num` RocksDB instances
//!   `0/`, `1/`, … (the capture of a real 4.0.1 transfer lists `0/000021.sst`,
//!   `0/MANIFEST-000005`, `0/OPTIONS-000019`, `0/CURRENT`, … `2/…`, `info`), each with seven
//!   column families and two custom comparators (`floyd`, `floyd_read`, `comparator`).
//!   One type per key name.
//! - **Pika 3.5** ([`DumpFormat::Blackwidow`]): one RocksDB per type, `strings/`, `hashes/`,
//!   `lists/`, `zsets/`, `sets/` (3.5.5's `DB::GetBgSaveMetaData` lists these; `streams/` is
//!   read when present), where a name may hold several types at once: the one `TYPE`
//!   reports is copied, the others reported as [`SkipReason::Shadowed`]
//!   (`blackwidow`, `blackwidow_read`).
//!
//! Keys are copied as Pika reads them: an expired key (not compacted away yet), an emptied
//! collection, the rows of a key's older versions are left out; a list in index order,
//! zset scores exactly (the shortest text that reads back as the same `double`), a stream
//! as its entries (`XADD` with their ids) then `XSETID … ENTRIESADDED … MAXDELETEDID …`
//! (Redis 7; Pika has no consumer groups). As for the binlog ([`RewriteOptions`]), a string
//! of Pika's own HyperLogLog registers (marked in 4.x, told by its shape in 3.5) is reported
//! as [`SkipReason::PikaHyperLogLog`], not copied (Redis cannot read them), and Codis slot
//! bookkeeping keys as [`SkipReason::SlotKey`].
//!
//! A directory that does not open as the expected RocksDB, or a record that does not
//! decode, is a [`PikaError::Dump`](crate::PikaError::Dump) or
//! [`PikaError::DumpKey`](crate::PikaError::DumpKey) naming the directory and key.
//!
//! # Checked against
//!
//! A real Pika 4.0.1 dump (the capture's RsyncService transfer, `tests`): it opens with
//! these comparators, its `list_data_cf` and `zset_score_cf` rows come out in their order,
//! and every key reads as the capture's later writes imply. The 3.5 layout, 4.x streams,
//! HyperLogLogs and multi-type names follow Pika 3.5.5's and 4.0.1's source, and are checked
//! against `replicant_testkit::pika_dump`, a writer built separately from the same source.
//!
//! # Files
//!
//! - `mod.rs`: the API. `open`: opening a RocksDB directory (options, shared cache,
//!   comparators). `comparator`: Pika's four comparators.
//! - `floyd`, `blackwidow`: each generation's key and value codecs. `meta`: the decoded
//!   meta value and liveness, common to both.
//! - `floyd_read`, `blackwidow_read`: walking a 4.x instance, merging 3.5's type databases.
//! - `copy`: one live key from its rows; `emit`: commands, pieces and the summary.
//! - `tests`: the reader against the captured real 4.0.1 dump.

mod blackwidow;
mod blackwidow_read;
mod comparator;
mod copy;
mod emit;
mod floyd;
mod floyd_read;
mod meta;
mod open;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use rocksdb::Cache;

pub use comparator::{
    blackwidow_lists_compare, blackwidow_zset_score_compare, floyd_lists_compare, floyd_zset_score_compare,
    BLACKWIDOW_LISTS_COMPARATOR, BLACKWIDOW_ZSET_SCORE_COMPARATOR, FLOYD_LISTS_COMPARATOR, FLOYD_ZSET_SCORE_COMPARATOR,
};
pub use emit::{ITEMS_PER_COMMAND, PIECE_BYTES, PIECE_COMMANDS};

use crate::error::Result;
use crate::rewrite::RewriteOptions;
use emit::Outbox;
use open::dump_error;

/// How a dump's directory is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// Pika 4.x: RocksDB instances `0/` to `instances - 1/` (the database's
    /// `db_instance_num` from MetaSync; 3 by default).
    Floyd {
        /// How many.
        instances: u32,
    },
    /// Pika 3.5: one RocksDB per type (`strings/`, `hashes/`, `lists/`, `zsets/`, `sets/`).
    Blackwidow,
}

impl DumpFormat {
    /// Tells the format from the directory: `strings/` means 3.5, instance directories `0/`,
    /// `1/`, … mean 4.x (as many as there are in a row).
    pub fn detect(dir: &Path) -> Result<Self> {
        if dir.join("strings").is_dir() {
            return Ok(DumpFormat::Blackwidow);
        }
        let instances = (0u32..).take_while(|i| dir.join(i.to_string()).is_dir()).count();
        match u32::try_from(instances) {
            Ok(instances) if instances > 0 => Ok(DumpFormat::Floyd { instances }),
            _ => Err(dump_error(
                dir,
                "neither a Pika 4.x dump (instances 0/, 1/, …) nor a 3.5 one (strings/, hashes/, …)".into(),
            )),
        }
    }
}

/// Which dump [`read_dump`] reads: its format, the database its keys go to, and which keys
/// are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpLayout {
    /// The database (`dbN` → `N`), given back in every [`DumpPiece`].
    pub db: u64,
    /// The directory's layout.
    pub format: DumpFormat,
    /// The binlog's rules, applied to the dump's keys: Codis slot bookkeeping keys left
    /// out ([`SkipReason::SlotKey`]) and strings shaped as Pika HyperLogLog registers
    /// reported ([`SkipReason::PikaHyperLogLog`]) unless turned off. 4.x's marked
    /// HyperLogLogs are left out either way.
    pub options: RewriteOptions,
}

impl DumpLayout {
    /// Database `db` in `format`, with the default [`RewriteOptions`].
    pub fn new(db: u64, format: DumpFormat) -> Self {
        DumpLayout { db, format, options: RewriteOptions::default() }
    }
}

/// A Redis type, as `TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// `string`.
    String,
    /// `hash`.
    Hash,
    /// `list`.
    List,
    /// `zset`.
    ZSet,
    /// `set`.
    Set,
    /// `stream`.
    Stream,
}

impl KeyType {
    /// The name `TYPE` gives.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::ZSet => "zset",
            KeyType::Set => "set",
            KeyType::Stream => "stream",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Commands for database `db`, of consecutive keys (a big key's commands may span pieces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPiece {
    /// The database.
    pub db: u64,
    /// Each command's arguments, name first, in order.
    pub commands: Vec<Vec<Vec<u8>>>,
    /// Keys whose last command is in this piece.
    pub keys: u64,
    /// Keys left out since the last piece, to report by name.
    pub skipped: Vec<SkippedKey>,
}

/// A key of the dump that is not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key.
    pub key: Vec<u8>,
    /// Why.
    pub reason: SkipReason,
}

/// Why a key is not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Pika 3.5: the name is also live as type `dropped`; `kept` (what `TYPE` reports) is
    /// copied.
    Shadowed {
        /// The type copied.
        kept: KeyType,
        /// The type left out.
        dropped: KeyType,
    },
    /// A string holding Pika's own HyperLogLog registers (`PFADD`, `PFMERGE`), which Redis
    /// cannot read.
    PikaHyperLogLog,
    /// A Codis slot bookkeeping key (`_internal:slotkey:4migrate:*`, `…slottag…`).
    SlotKey,
}

/// What [`read_dump`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpSummary {
    /// Keys copied.
    pub keys: u64,
    /// Keys left out as expired (past their expiry, not compacted away yet).
    pub expired: u64,
    /// Collections left out as emptied or deleted (a meta with no members left).
    pub empty: u64,
    /// Pika 3.5 keys of a type shadowed by another of the same name (each reported).
    pub shadowed: u64,
    /// Pika HyperLogLogs left out (each reported).
    pub hyperloglogs: u64,
    /// Codis slot bookkeeping keys left out (each reported).
    pub slot_keys: u64,
    /// The sink asked to stop: the dump was not read to the end.
    pub stopped: bool,
}

/// Reads the dump in `dir` (one database's: its RocksDB directories, laid out as `layout`
/// says) and hands every live key to `sink` as commands, as of `now_ms` (Unix ms: keys
/// expired by then are left out). Blocking (RocksDB reads); returns when the dump is read
/// or `sink` returned `false`.
///
/// The directories are our own copy: they are opened for writing, which may replay WAL
/// files into new table files and writes RocksDB's own `LOG`, `MANIFEST` and `OPTIONS` files;
/// no record is changed.
pub fn read_dump(
    dir: &Path,
    layout: &DumpLayout,
    now_ms: u64,
    sink: impl FnMut(DumpPiece) -> bool,
) -> Result<DumpSummary> {
    let cache = Cache::new_lru_cache(open::BLOCK_CACHE_BYTES);
    let mut out = Outbox::new(layout.db, layout.options, sink);
    match layout.format {
        DumpFormat::Floyd { instances } => {
            check_instances(dir, instances)?;
            for instance in 0..instances {
                floyd_read::read_instance(&dir.join(instance.to_string()), &cache, now_ms, &mut out)?;
                if out.stopped() {
                    break;
                }
            }
        }
        DumpFormat::Blackwidow => blackwidow_read::read_types(dir, &cache, now_ms, &mut out)?,
    }
    Ok(out.finish())
}

/// A 4.x dump has exactly the instances expected: none missing, none more (their keys would
/// be lost).
fn check_instances(dir: &Path, instances: u32) -> Result<()> {
    if instances == 0 {
        return Err(dump_error(dir, "a Pika 4.x dump of 0 instances".into()));
    }
    if let Some(missing) = (0..instances).find(|i| !dir.join(i.to_string()).is_dir()) {
        return Err(dump_error(dir, format!("no instance directory {missing}/ of {instances}")));
    }
    if dir.join(instances.to_string()).exists() {
        return Err(dump_error(dir, format!("an instance directory {instances}/ beyond the {instances} expected")));
    }
    Ok(())
}
