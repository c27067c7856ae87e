//! One live key of either generation as commands: a string whole, a collection or stream
//! from the rows of its own version in its data column family, read in key order from a
//! seek on the iterator the caller keeps for that family, and written as they come (no key
//! is held whole). The generations differ only in how a data row splits ([`Codec`]).
//!
//! - hash: `HSET key field value …`; set: `SADD key member …`; zset: `ZADD key score member
//!   …` (from the member → score family, scores as exact text); list: `RPUSH key element …`
//!   from index `left + 1` up to `right` (excluded), in index order.
//! - stream: `XADD key id field value …` per entry in id order, then `XSETID` with the
//!   meta's last id, entries added and largest deleted id.
//!
//! Each starts with `DEL key` and ends with `PEXPIREAT` when the key has an expiry. Left
//! out and reported, as the binlog's rewrite leaves them out ([`RewriteOptions`]): Codis
//! slot bookkeeping keys, and strings holding Pika's HyperLogLog registers (marked in 4.x,
//! told by their shape otherwise).
//!
//! [`RewriteOptions`]: crate::RewriteOptions

use std::path::Path;

use rocksdb::DBRawIterator;

use super::emit::{self, Items, Outbox};
use super::meta::Meta;
use super::{DumpPiece, KeyType, SkipReason};
use crate::dump::open::{key_error, read_error};
use crate::error::Result;

/// A decoding step's result: what is wrong, when it is.
type Decoded<T> = std::result::Result<T, &'static str>;

/// How a generation's data rows split.
pub(crate) struct Codec {
    /// The field, member or stream id of a row key after the key's prefix.
    pub(crate) field: for<'k> fn(&'k [u8], &[u8]) -> Decoded<&'k [u8]>,
    /// The user value of a row value.
    pub(crate) value: fn(&[u8]) -> Decoded<&[u8]>,
    /// The index of a list row key after the key's prefix.
    pub(crate) list_index: fn(&[u8], &[u8]) -> Decoded<u64>,
}

/// Where a key's rows are: the directory (for errors), the iterator of its type's data
/// family, and the prefix of its version's rows.
pub(crate) struct Rows<'i, 'd> {
    pub(crate) dir: &'i Path,
    pub(crate) it: &'i mut DBRawIterator<'d>,
    pub(crate) prefix: Vec<u8>,
}

/// Writes a live key whose meta is `meta`; `rows` is `None` only for a string.
pub(crate) fn key<F: FnMut(DumpPiece) -> bool>(
    codec: &Codec,
    dir: &Path,
    key: &[u8],
    meta: &Meta<'_>,
    rows: Option<Rows<'_, '_>>,
    out: &mut Outbox<F>,
) -> Result<()> {
    let bad = |what| key_error(dir, key, what);
    if out.options.drop_slot_keys && emit::is_slot_key(key) {
        out.skip(key, SkipReason::SlotKey);
        return Ok(());
    }
    let hll = meta.hyperloglog || out.options.detect_pika_hll && emit::looks_like_pika_hll(meta.value);
    match (meta.kind, rows) {
        (KeyType::String, _) if hll => out.skip(key, SkipReason::PikaHyperLogLog),
        (KeyType::String, _) => emit::string(out, key, meta.value, meta.etime_ms),
        (KeyType::Stream, Some(rows)) => stream(codec, key, meta, rows, out)?,
        (_, Some(rows)) => collection(codec, key, meta, rows, out)?,
        (_, None) => return Err(bad("no data column family for its type")),
    }
    Ok(())
}

fn collection<F: FnMut(DumpPiece) -> bool>(
    codec: &Codec,
    key: &[u8],
    meta: &Meta<'_>,
    rows: Rows<'_, '_>,
    out: &mut Outbox<F>,
) -> Result<()> {
    let bad = |what| key_error(rows.dir, key, what);
    let (name, seek): (&'static [u8], Vec<u8>) = match meta.kind {
        KeyType::Hash => (b"HSET", rows.prefix.clone()),
        KeyType::Set => (b"SADD", rows.prefix.clone()),
        KeyType::ZSet => (b"ZADD", rows.prefix.clone()),
        // Pika's LRange: from the index after the left one.
        _ => (b"RPUSH", [&rows.prefix[..], &meta.list.0.wrapping_add(1).to_le_bytes()].concat()),
    };
    let mut items = Items::start(out, name, key);
    let it = rows.it;
    it.seek(&seek);
    while let (Some(row), Some(value)) = (it.key(), it.value()) {
        if !row.starts_with(&rows.prefix) {
            break;
        }
        let value = (codec.value)(value).map_err(bad)?;
        match meta.kind {
            KeyType::Hash => items.add(out, &[(codec.field)(row, &rows.prefix).map_err(bad)?, value]),
            KeyType::Set => items.add(out, &[(codec.field)(row, &rows.prefix).map_err(bad)?]),
            KeyType::ZSet => {
                let bits: [u8; 8] = value.try_into().map_err(|_| bad("zset member without an 8-byte score"))?;
                let score = emit::score(f64::from_bits(u64::from_le_bytes(bits))).map_err(bad)?;
                items.add(out, &[&score, (codec.field)(row, &rows.prefix).map_err(bad)?]);
            }
            _ => {
                if (codec.list_index)(row, &rows.prefix).map_err(bad)? >= meta.list.1 {
                    break;
                }
                items.add(out, &[value]);
            }
        }
        if out.stopped() {
            return Ok(());
        }
        it.next();
    }
    it.status().map_err(|e| read_error(rows.dir, e))?;
    items.finish(out, meta.etime_ms);
    Ok(())
}

fn stream<F: FnMut(DumpPiece) -> bool>(
    codec: &Codec,
    key: &[u8],
    meta: &Meta<'_>,
    rows: Rows<'_, '_>,
    out: &mut Outbox<F>,
) -> Result<()> {
    let bad = |what| key_error(rows.dir, key, what);
    let ids = meta.stream.as_ref().ok_or_else(|| bad("stream meta without ids"))?;
    emit::del(out, key);
    let it = rows.it;
    it.seek(&rows.prefix);
    while let (Some(row), Some(message)) = (it.key(), it.value()) {
        if !row.starts_with(&rows.prefix) {
            break;
        }
        let id = (codec.field)(row, &rows.prefix).map_err(bad)?;
        out.push(emit::stream_entry(key, id, message).map_err(bad)?);
        if out.stopped() {
            return Ok(());
        }
        it.next();
    }
    it.status().map_err(|e| read_error(rows.dir, e))?;
    emit::stream_end(out, key, ids, meta.etime_ms);
    Ok(())
}
