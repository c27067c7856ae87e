//! A fetched checkpoint delivered as a snapshot. The directory is opened with the RocksDB
//! binding, which replays the live WAL files that are part of a Kvrocks checkpoint (a small
//! or idle master's data may be held only there), and its last sequence is where
//! the stream continues. A thread walks the metadata column family in key order; each live
//! key (not expired, not an empty collection, of a mapped namespace) has its subkeys of its
//! own version read from their column family and turned into commands (`snapshot`), which
//! cross to the writer through a bounded channel: memory stays at a few chunks and
//! RocksDB's small block cache, whatever the checkpoint holds.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use replicant_link::{LinkError, LinkStatus, Sink};
use replicant_repl::CommandBuf;
use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, Options, ReadOptions, DB};
use tokio::sync::mpsc;

use crate::cf::ColumnFamily;
use crate::error::{KvrocksError, Result};
use crate::key::{KeyLayout, MetadataKey};
use crate::metadata::{Metadata, RedisType};
use crate::snapshot::{self, Args};
use crate::source::{KvrocksLink, Namespaces, Placement, KVROCKS_HISTORY};

/// Pieces in flight between the reading thread and the writer.
const CHANNEL_PIECES: usize = 4;
/// RocksDB's block cache while reading.
const BLOCK_CACHE_BYTES: usize = 8 << 20;
/// Memtable size while the checkpoint's WAL files are replayed.
const WRITE_BUFFER_BYTES: usize = 4 << 20;

/// Commands gathered into one piece before it crosses to the writer (or fewer, when a
/// piece reaches [`PIECE_BYTES`] first): one hand-off and one writer dispatch per few
/// hundred commands, not per key.
const PIECE_COMMANDS: usize = 2048;
/// Bytes of arguments gathered into one piece at most (beyond one key's chunk).
const PIECE_BYTES: usize = 1 << 20;

/// What the reading thread sends: commands for database `db` (of consecutive keys, or one
/// chunk of a big key), how many keys they complete, and the keys left out by type.
struct Piece {
    db: u64,
    commands: Vec<Args>,
    keys: u64,
    skipped: Vec<RedisType>,
}

/// Delivers the checkpoint in `dir` to `sink` as a snapshot; its last sequence.
pub(crate) async fn deliver<S: Sink>(
    dir: &Path,
    cfg: &KvrocksLink,
    sink: &mut S,
    status: &Arc<LinkStatus>,
    restart: bool,
) -> std::result::Result<u64, LinkError> {
    let (dir, layout, namespaces) = (dir.to_path_buf(), cfg.layout, cfg.namespaces.clone());
    let skip_types = cfg.skip_types.clone();
    let db = tokio::task::spawn_blocking(move || open(&dir)).await.map_err(join_error)?.map_err(source)?;
    let sequence = db.latest_sequence_number();
    tracing::info!(sequence, "Checkpoint opened; copying its keys.");
    status.offset.store(sequence, Ordering::Relaxed);
    sink.full_sync(Some(KVROCKS_HISTORY), sequence, restart).map_err(LinkError::Sink)?;
    let (tx, mut rx) = mpsc::channel(CHANNEL_PIECES);
    let reader = tokio::task::spawn_blocking(move || read_keys(&db, layout, &namespaces, &skip_types, &tx));
    let mut command = CommandBuf::new();
    let mut skipped = std::collections::BTreeMap::new();
    while let Some(piece) = rx.recv().await {
        for args in &piece.commands {
            command.set(args);
            sink.command(&command.command(sequence, piece.db)).map_err(LinkError::Sink)?;
        }
        sink.ready().await.map_err(LinkError::Sink)?;
        status.rdb_keys.fetch_add(piece.keys, Ordering::Relaxed);
        for t in piece.skipped {
            *skipped.entry(t.name()).or_insert(0u64) += 1;
        }
    }
    for (name, keys) in &skipped {
        tracing::warn!(keys, "Left out the checkpoint's keys of type {name} (skip types).");
    }
    reader.await.map_err(join_error)?.map_err(source)?;
    sink.snapshot_done(sequence).map_err(LinkError::Sink)?;
    Ok(sequence)
}

/// Opens the fetched checkpoint (a copy of our own) with every column family it has
/// (Kvrocks' seven). It is opened for writing so that replaying its WAL files flushes them
/// to tables as memtables fill (4 MiB each) instead of holding a whole WAL in memory, as a
/// read-only open would; nothing is written but those tables. One small block cache is
/// shared by every column family (each would otherwise get its own 32 MiB one).
fn open(dir: &Path) -> Result<DB> {
    let fail = |e: rocksdb::Error| KvrocksError::Checkpoint { dir: dir.display().to_string(), why: e.to_string() };
    let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
    let options = || {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_cache_index_and_filter_blocks(true);
        let mut opts = Options::default();
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
        opts.set_max_write_buffer_number(2);
        opts
    };
    let families = DB::list_cf(&Options::default(), dir).map_err(fail)?;
    for needed in [ColumnFamily::Metadata, ColumnFamily::PrimarySubkey, ColumnFamily::Stream] {
        if !families.iter().any(|f| f == needed.name()) {
            return Err(KvrocksError::Checkpoint {
                dir: dir.display().to_string(),
                why: format!("no column family {:?}: not a Kvrocks data directory", needed.name()),
            });
        }
    }
    let mut db_options = options();
    db_options.set_max_open_files(256);
    let descriptors = families.iter().map(|name| ColumnFamilyDescriptor::new(name, options()));
    DB::open_cf_descriptors(&db_options, dir, descriptors).map_err(fail)
}

/// Walks the metadata column family and sends every live key's commands.
fn read_keys(
    db: &DB,
    layout: KeyLayout,
    namespaces: &Namespaces,
    skip_types: &[RedisType],
    tx: &mpsc::Sender<Piece>,
) -> Result<()> {
    let now_ms = now_ms();
    let metadata = handle(db, ColumnFamily::Metadata)?;
    let mut it = db.raw_iterator_cf_opt(metadata, scan_options());
    it.seek_to_first();
    let mut subkeys = Subkeys::new(db);
    let mut out = Outbox::new(tx);
    while let (Some(key), Some(value)) = (it.key(), it.value()) {
        let (key, value) = (key.to_vec(), value.to_vec());
        it.next();
        let meta = Metadata::load(&value)?;
        if meta.is_dead(now_ms) {
            continue;
        }
        if skip_types.contains(&meta.redis_type) {
            out.skipped.push(meta.redis_type);
            continue;
        }
        let name = MetadataKey::load(&key, layout)?;
        let Placement::Db(target_db) = namespaces.place(name.namespace)? else { continue };
        if !copy_key(&mut subkeys, layout, (&key, &value), target_db, &mut out)? {
            return Ok(()); // the receiver is gone: the session ended
        }
    }
    it.status().map_err(read_error)?;
    out.flush();
    Ok(())
}

/// One iterator per subkey column family, kept for the whole walk: a seek on a live
/// iterator is cheap, while a new iterator per key costs a fresh read-ahead.
struct Subkeys<'a> {
    db: &'a DB,
    open: Vec<(ColumnFamily, rocksdb::DBRawIterator<'a>)>,
}

impl<'a> Subkeys<'a> {
    fn new(db: &'a DB) -> Self {
        Subkeys { db, open: Vec::new() }
    }

    /// The iterator of `cf`, positioned at `prefix`.
    fn seek(&mut self, cf: ColumnFamily, prefix: &[u8]) -> Result<&mut rocksdb::DBRawIterator<'a>> {
        let at = match self.open.iter().position(|(c, _)| *c == cf) {
            Some(at) => at,
            None => {
                let it = self.db.raw_iterator_cf_opt(handle(self.db, cf)?, scan_options());
                self.open.push((cf, it));
                self.open.len() - 1
            }
        };
        let Some((_, it)) = self.open.get_mut(at) else { return Err(read_error_text("no iterator")) };
        it.seek(prefix);
        Ok(it)
    }
}

/// Commands of consecutive keys gathered into pieces of [`PIECE_COMMANDS`] or
/// [`PIECE_BYTES`].
struct Outbox<'t> {
    tx: &'t mpsc::Sender<Piece>,
    piece: Piece,
    bytes: usize,
    /// Keys left out by type since the last piece.
    skipped: Vec<RedisType>,
}

impl<'t> Outbox<'t> {
    fn new(tx: &'t mpsc::Sender<Piece>) -> Self {
        let piece = Piece { db: 0, commands: Vec::new(), keys: 0, skipped: Vec::new() };
        Outbox { tx, piece, bytes: 0, skipped: Vec::new() }
    }

    /// Adds commands for `db`; false when the receiver is gone.
    fn add(&mut self, db: u64, commands: Vec<Args>) -> bool {
        if db != self.piece.db && !self.piece.commands.is_empty() && !self.flush() {
            return false;
        }
        self.piece.db = db;
        self.bytes += commands.iter().flatten().map(Vec::len).sum::<usize>();
        self.piece.commands.extend(commands);
        self.piece.commands.len() < PIECE_COMMANDS && self.bytes < PIECE_BYTES || self.flush()
    }

    /// Counts a key whose commands were all added.
    fn key_done(&mut self) {
        self.piece.keys += 1;
    }

    /// Sends what is gathered; false when the receiver is gone.
    fn flush(&mut self) -> bool {
        self.piece.skipped.append(&mut self.skipped);
        let db = self.piece.db;
        let next = Piece { db, commands: Vec::new(), keys: 0, skipped: Vec::new() };
        let piece = std::mem::replace(&mut self.piece, next);
        self.bytes = 0;
        piece.commands.is_empty() && piece.keys == 0 && piece.skipped.is_empty() || self.tx.blocking_send(piece).is_ok()
    }
}

/// Adds one key's commands (a big key's chunks as they are read); false when the receiver
/// is gone.
fn copy_key(
    subkeys: &mut Subkeys<'_>,
    layout: KeyLayout,
    (key, value): (&[u8], &[u8]),
    target_db: u64,
    out: &mut Outbox<'_>,
) -> Result<bool> {
    let meta = Metadata::load(value)?;
    let user_key = MetadataKey::load(key, layout)?.key;
    let Some(cf) = snapshot::subkey_cf(meta.redis_type) else {
        let sent = out.add(target_db, snapshot::whole_key(key, value, &[], layout)?);
        out.key_done();
        return Ok(sent);
    };
    let prefix = snapshot::subkey_prefix(key, layout, meta.version)?;
    let it = subkeys.seek(cf, &prefix)?;
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let (mut bytes, mut chunked) = (0usize, false);
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        if !k.starts_with(&prefix) {
            break;
        }
        bytes += k.len() + v.len();
        rows.push((k.to_vec(), v.to_vec()));
        it.next();
        if rows.len() >= snapshot::WHOLE_KEY_ROWS || bytes >= snapshot::WHOLE_KEY_BYTES {
            if !chunked && !out.add(target_db, snapshot::chunked_start(user_key, &meta)?) {
                return Ok(false);
            }
            chunked = true;
            if !out.add(target_db, snapshot::chunk(user_key, &meta, &rows, layout)?) {
                return Ok(false);
            }
            (rows, bytes) = (Vec::new(), 0);
        }
    }
    it.status().map_err(read_error)?;
    let last = if chunked {
        let mut commands = snapshot::chunk(user_key, &meta, &rows, layout)?;
        commands.extend(snapshot::chunked_end(user_key, &meta));
        commands
    } else {
        snapshot::whole_key(key, value, &rows, layout)?
    };
    let sent = out.add(target_db, last);
    out.key_done();
    Ok(sent)
}

fn handle(db: &DB, cf: ColumnFamily) -> Result<&rocksdb::ColumnFamily> {
    db.cf_handle(cf.name()).ok_or_else(|| KvrocksError::Checkpoint {
        dir: "fetched".into(),
        why: format!("no column family {:?}", cf.name()),
    })
}

fn read_error(e: rocksdb::Error) -> KvrocksError {
    read_error_text(e.as_ref())
}

fn read_error_text(why: &str) -> KvrocksError {
    KvrocksError::Checkpoint { dir: "fetched".into(), why: format!("reading failed: {why}") }
}

/// A scan that leaves the block cache to point lookups and reads ahead.
fn scan_options() -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.fill_cache(false);
    ro.set_readahead_size(2 << 20);
    ro
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn source(e: KvrocksError) -> LinkError {
    LinkError::Source(Box::new(e))
}

fn join_error(e: tokio::task::JoinError) -> LinkError {
    crate::source::source_error(format!("the checkpoint reader stopped: {e}"))
}
