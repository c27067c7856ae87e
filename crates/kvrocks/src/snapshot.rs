//! One key of a checkpoint as Redis commands, sans-IO: the checkpoint reader hands each live
//! key's metadata and its subkey rows here, in key order.
//!
//! A key whose rows fit in one chunk is converted as Kvrocks' own `COPY` writes a key (its
//! metadata, then every member, under a LogData naming only the type), by the stream's
//! converter: `DEL`, the whole value (every type, streams with their groups, consumers and
//! pending entries, bitmaps, HyperLogLogs), then `PEXPIREAT`. A bigger key is written in
//! chunks as its rows arrive (`DEL`, then `HSET`/`SADD`/`ZADD`/`RPUSH`/`SETRANGE` of at most
//! [`ITEMS_PER_COMMAND`] items each, then `PEXPIREAT`), so no key is ever held whole; a
//! stream or bloom filter that big is refused by name (its group state needs the whole key).

use std::borrow::Cow;

use crate::cf::ColumnFamily;
use crate::convert::arg::double;
use crate::convert::bitmap::{msb_first, within_size};
use crate::convert::{convert_with, Options};
use crate::error::{KvrocksError, Result};
use crate::key::{InternalKey, KeyLayout, MetadataKey};
use crate::log_data::LogData;
use crate::metadata::{Metadata, RedisType};
use crate::subkey::{SubKey, SubValue};
use crate::update::{Change, Entry, Group, Update};

/// Rows of one key read before it is known to be small enough to convert whole.
pub(crate) const WHOLE_KEY_ROWS: usize = 1024;
/// Bytes of one key's rows read before it is known to be small enough to convert whole.
pub(crate) const WHOLE_KEY_BYTES: usize = 1 << 20;
/// Members, fields or segments per command when a key is written in chunks.
pub(crate) const ITEMS_PER_COMMAND: usize = 512;

/// A command for the target, owned (it crosses from the reading thread to the writer).
pub(crate) type Args = Vec<Vec<u8>>;

/// The column family holding a type's subkeys, `None` for single-value types.
pub(crate) fn subkey_cf(redis_type: RedisType) -> Option<ColumnFamily> {
    match redis_type {
        RedisType::String | RedisType::Json => None,
        RedisType::Stream => Some(ColumnFamily::Stream),
        _ => Some(ColumnFamily::PrimarySubkey),
    }
}

/// The prefix of every subkey of this incarnation of the key:
/// `ns_len | ns | [slot] | key_len:u32 BE | key | version:u64 BE`.
pub(crate) fn subkey_prefix(metadata_key: &[u8], layout: KeyLayout, version: u64) -> Result<Vec<u8>> {
    let key = MetadataKey::load(metadata_key, layout)?;
    let head = metadata_key.len() - key.key.len();
    let len = u32::try_from(key.key.len())
        .map_err(|_| KvrocksError::Malformed { what: "user key (longer than 4 GiB)", offset: head })?;
    let mut prefix = Vec::with_capacity(metadata_key.len() + 12);
    prefix.extend_from_slice(metadata_key.get(..head).unwrap_or_default());
    prefix.extend_from_slice(&len.to_be_bytes());
    prefix.extend_from_slice(key.key);
    prefix.extend_from_slice(&version.to_be_bytes());
    Ok(prefix)
}

/// A whole key (metadata and every subkey row) as commands, converted as a `COPY` of it.
pub(crate) fn whole_key(
    meta_key: &[u8],
    meta_value: &[u8],
    rows: &[(Vec<u8>, Vec<u8>)],
    layout: KeyLayout,
) -> Result<Vec<Args>> {
    let key = MetadataKey::load(meta_key, layout)?;
    let metadata = Metadata::load(meta_value)?;
    let cf = subkey_cf(metadata.redis_type);
    let type_id = metadata.redis_type.id().to_string();
    let log = LogData::parse(type_id.as_bytes())?;
    let mut entries = vec![Entry { offset: 0, sequence: None, change: Change::PutMetadata { key, metadata } }];
    for (i, (k, v)) in rows.iter().enumerate() {
        let Some(cf) = cf else { break };
        let internal = InternalKey::load(k, layout)?;
        let sub = SubKey::load(cf, Some(metadata.redis_type), internal.sub_key)?;
        let value = sub.value(v)?;
        entries.push(Entry {
            offset: i + 1,
            sequence: None,
            change: Change::PutSubkey { cf, key: internal, sub, value },
        });
    }
    let update =
        Update { sequence: 0, count: 0, replication_id: None, groups: vec![Group { log: Some(log), entries }] };
    let converted = convert_with(&update, Options::default());
    if let Some(skipped) = converted.skipped.first() {
        return Err(KvrocksError::Unconvertible {
            key: String::from_utf8_lossy(key.key).into_owned(),
            what: skipped.what,
        });
    }
    Ok(converted.commands.into_iter().map(|c| c.args.into_iter().map(Cow::into_owned).collect()).collect())
}

/// A big key, written in chunks: its first command (`DEL`) is [`chunked_start`], then one
/// [`chunk`] per batch of rows, then [`chunked_end`].
pub(crate) fn chunked_start(key: &[u8], metadata: &Metadata<'_>) -> Result<Vec<Args>> {
    let mut out = vec![vec![b"DEL".to_vec(), key.to_vec()]];
    match metadata.redis_type {
        RedisType::Hash | RedisType::Set | RedisType::ZSet | RedisType::Sortedint | RedisType::List => {}
        RedisType::Bitmap if metadata.size > 0 => {
            // The string's length first: segments hold only the bytes that have bits set.
            let last = metadata.size - 1;
            out.push(vec![b"SETRANGE".to_vec(), key.to_vec(), last.to_string().into_bytes(), vec![0]]);
        }
        RedisType::Bitmap => {}
        other => {
            return Err(KvrocksError::Unconvertible {
                key: String::from_utf8_lossy(key).into_owned(),
                what: match other {
                    RedisType::Stream => "stream with more entries than the checkpoint reader takes whole (1024 rows)",
                    _ => "key of this type with more rows than the checkpoint reader takes whole",
                },
            })
        }
    }
    Ok(out)
}

/// Commands for one batch of a big key's rows (in key order).
pub(crate) fn chunk(
    key: &[u8],
    metadata: &Metadata<'_>,
    rows: &[(Vec<u8>, Vec<u8>)],
    layout: KeyLayout,
) -> Result<Vec<Args>> {
    let redis_type = metadata.redis_type;
    let name: &[u8] = match redis_type {
        RedisType::Hash => b"HSET",
        RedisType::Set => b"SADD",
        RedisType::ZSet | RedisType::Sortedint => b"ZADD",
        RedisType::List => b"RPUSH",
        _ => b"SETRANGE",
    };
    let mut out = Vec::new();
    let mut command: Args = Vec::new();
    for (k, v) in rows {
        let internal = InternalKey::load(k, layout)?;
        let sub = SubKey::load(ColumnFamily::PrimarySubkey, Some(redis_type), internal.sub_key)?;
        let value = sub.value(v)?;
        if command.is_empty() {
            command = vec![name.to_vec(), key.to_vec()];
        }
        match (sub, value) {
            (SubKey::HashField(f), SubValue::Bytes(v)) => command.extend([f.to_vec(), v.to_vec()]),
            (SubKey::SetMember(m), _) => command.push(m.to_vec()),
            (SubKey::ZSetMember(m), SubValue::Score(s)) => command.extend([double(s).into_owned(), m.to_vec()]),
            (SubKey::SortedintId(id), _) => command.extend([id.to_string().into_bytes(), id.to_string().into_bytes()]),
            (SubKey::ListIndex(_), SubValue::Bytes(v)) => command.push(v.to_vec()),
            (SubKey::BitmapSegment(offset), SubValue::Bytes(v)) => {
                let v = within_size(v, offset, metadata.size);
                if !v.is_empty() {
                    out.push(vec![b"SETRANGE".to_vec(), key.to_vec(), offset.to_string().into_bytes(), msb_first(v)]);
                }
                command.clear();
                continue;
            }
            _ => {
                return Err(KvrocksError::Unconvertible {
                    key: String::from_utf8_lossy(key).into_owned(),
                    what: "subkey that does not match the key's type",
                })
            }
        }
        if command.len() >= 2 + ITEMS_PER_COMMAND {
            out.push(std::mem::take(&mut command));
        }
    }
    if command.len() > 2 {
        out.push(command);
    }
    Ok(out)
}

/// The last command of a big key: its expiry, if it has one.
pub(crate) fn chunked_end(key: &[u8], metadata: &Metadata<'_>) -> Vec<Args> {
    if metadata.expire_ms == 0 {
        return Vec::new();
    }
    vec![vec![b"PEXPIREAT".to_vec(), key.to_vec(), metadata.expire_ms.to_string().into_bytes()]]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn meta_key(ns: &[u8], key: &[u8]) -> Vec<u8> {
        let mut k = vec![ns.len() as u8];
        k.extend_from_slice(ns);
        k.extend_from_slice(key);
        k
    }

    /// A 64-bit-encoding metadata value of a collection: flags, expire, version, size.
    fn collection(type_id: u8, expire_ms: u64, version: u64, size: u64) -> Vec<u8> {
        let mut v = vec![type_id | 0x80];
        v.extend_from_slice(&expire_ms.to_be_bytes());
        v.extend_from_slice(&version.to_be_bytes());
        v.extend_from_slice(&size.to_be_bytes());
        v
    }

    fn text(cmds: &[Args]) -> Vec<String> {
        cmds.iter()
            .map(|c| c.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn a_small_hash_is_copied_whole_with_its_expiry() {
        let mk = meta_key(b"__namespace", b"h");
        let meta = collection(RedisType::Hash.id(), 4_102_444_800_000, 7, 2);
        let prefix = subkey_prefix(&mk, KeyLayout::STANDALONE, 7).unwrap();
        let row = |f: &str, v: &str| ([prefix.clone(), f.as_bytes().to_vec()].concat(), v.as_bytes().to_vec());
        let cmds = whole_key(&mk, &meta, &[row("a", "1"), row("b", "2")], KeyLayout::STANDALONE).unwrap();
        assert_eq!(text(&cmds), ["DEL h", "HSET h a 1 b 2", "PEXPIREAT h 4102444800000"]);
    }

    #[test]
    fn a_big_key_goes_in_chunks_of_at_most_512_items() {
        let mk = meta_key(b"__namespace", b"s");
        let prefix = subkey_prefix(&mk, KeyLayout::STANDALONE, 1).unwrap();
        let rows: Vec<_> =
            (0..1000).map(|i| ([prefix.clone(), format!("m{i}").into_bytes()].concat(), Vec::new())).collect();
        let set_bytes = collection(RedisType::Set.id(), 0, 1, 1000);
        let cmds = chunk(b"s", &Metadata::load(&set_bytes).unwrap(), &rows, KeyLayout::STANDALONE).unwrap();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].len(), 2 + 512);
        assert_eq!(cmds[1].len(), 2 + 488);
        let meta_bytes = collection(RedisType::Stream.id(), 0, 1, 5000);
        let stream = Metadata::load(&meta_bytes);
        if let Ok(stream) = stream {
            let e = chunked_start(b"st", &stream).unwrap_err().to_string();
            assert!(e.contains("st") && e.contains("stream"), "{e}");
        }
    }

    #[test]
    fn bitmap_chunks_set_the_length_then_each_segment_msb_first() {
        let mk = meta_key(b"__namespace", b"bm");
        let meta_bytes = collection(RedisType::Bitmap.id(), 0, 3, 2048);
        let meta = Metadata::load(&meta_bytes).unwrap();
        assert_eq!(text(&chunked_start(b"bm", &meta).unwrap())[1], "SETRANGE bm 2047 \0");
        let prefix = subkey_prefix(&mk, KeyLayout::STANDALONE, 3).unwrap();
        let rows = vec![([prefix.clone(), b"1024".to_vec()].concat(), vec![0x01])];
        let cmds = chunk(b"bm", &meta, &rows, KeyLayout::STANDALONE).unwrap();
        assert_eq!(cmds, vec![vec![b"SETRANGE".to_vec(), b"bm".to_vec(), b"1024".to_vec(), vec![0x80]]]);
        // A segment Kvrocks grew past the bitmap's length (it doubles them) is cut there.
        let rows = vec![([prefix, b"1024".to_vec()].concat(), vec![0x01; 2048])];
        let cmds = chunk(b"bm", &meta, &rows, KeyLayout::STANDALONE).unwrap();
        assert_eq!(cmds[0][3].len(), 2048 - 1024);
    }
}
