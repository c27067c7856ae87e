//! One key of a checkpoint as Redis commands, sans-IO: the checkpoint reader hands each live
//! key's metadata and its subkey rows here, in key order.
//!
//! A key whose rows fit in one chunk is converted as Kvrocks' own `COPY` writes a key (its
//! metadata, then every member, under a LogData naming only the type), by the stream's
//! converter: `DEL`, the whole value (every type, streams with their groups, consumers and
//! pending entries, bitmaps, HyperLogLogs), then `PEXPIREAT`. A bigger key is written in
//! chunks as its rows arrive, so no key is ever held whole: `DEL`, then
//! `HSET`/`SADD`/`ZADD`/`RPUSH`/`SETRANGE` of at most [`ITEMS_PER_COMMAND`] items each, then
//! `PEXPIREAT`.
//!
//! A big stream goes the same way, row by row with the stream converter's commands
//! (`convert::stream`), as its rows sort in the `stream` column family: its entries in id
//! order (`XADD key <id> field value …`), then every group (`XGROUP CREATE key g
//! <last-delivered> ENTRIESREAD n MKSTREAM`: the group subkeys, `u64::MAX | 1 | …`, sort
//! before the consumers' `u64::MAX | 2 | …` and the pending entries' `u64::MAX | 3 | …`),
//! then the consumers (`XGROUP CREATECONSUMER`), then the pending entries (`XCLAIM key g
//! consumer 0 <id> TIME <ms> RETRYCOUNT n FORCE JUSTID`), after every entry they can
//! name. Last come `XSETID key <last-generated> ENTRIESADDED n MAXDELETEDID id` from the
//! metadata (after the XADDs: an XADD at or below the stream's top id fails) and the
//! expiry. The limits are the whole-key copy's: a pending entry whose stream entry was
//! deleted is not copied (Redis' `XCLAIM` ignores ids that are not in the stream), and
//! consumers' seen and active times are the target's. A bloom filter that big is refused
//! by name (its filters cannot be written to a Redis at all).

use std::borrow::Cow;

use crate::cf::ColumnFamily;
use crate::convert::arg::double;
use crate::convert::bitmap::{msb_first, within_size};
use crate::convert::stream::{subkey_command, xsetid};
use crate::convert::{convert_with, Options};
use crate::error::{KvrocksError, Result};
use crate::key::{InternalKey, KeyLayout, MetadataKey};
use crate::log_data::LogData;
use crate::metadata::{Extra, Metadata, RedisType};
use crate::stream::StreamKey;
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
        RedisType::Hash
        | RedisType::Set
        | RedisType::ZSet
        | RedisType::Sortedint
        | RedisType::List
        | RedisType::Stream => {}
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
                    RedisType::BloomFilter => "bloom filter with more rows than the checkpoint reader takes whole",
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
    if redis_type == RedisType::Stream {
        return stream_chunk(key, rows, layout);
    }
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

/// A batch of a big stream's rows: one command per row (entry, group, consumer or
/// pending entry), each as the stream converter writes it for a copied stream.
fn stream_chunk(key: &[u8], rows: &[(Vec<u8>, Vec<u8>)], layout: KeyLayout) -> Result<Vec<Args>> {
    let unconvertible = |what| KvrocksError::Unconvertible { key: String::from_utf8_lossy(key).into_owned(), what };
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        let internal = InternalKey::load(k, layout)?;
        let sub = StreamKey::load(internal.sub_key)?;
        let value = SubKey::Stream(sub).value(v)?;
        let args = subkey_command(key, sub, Some(&value), true).map_err(unconvertible)?;
        out.push(args.into_iter().map(Cow::into_owned).collect());
    }
    Ok(out)
}

/// The last commands of a big key: a stream's ids (`XSETID`), then its expiry, if it has one.
pub(crate) fn chunked_end(key: &[u8], metadata: &Metadata<'_>) -> Vec<Args> {
    let mut out = Vec::new();
    if let Extra::Stream(ids) = &metadata.extra {
        out.push(xsetid(key, ids).into_iter().map(Cow::into_owned).collect());
    }
    if metadata.expire_ms != 0 {
        out.push(vec![b"PEXPIREAT".to_vec(), key.to_vec(), metadata.expire_ms.to_string().into_bytes()]);
    }
    out
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
    }

    #[test]
    fn a_big_bloom_filter_is_refused_by_name() {
        let mut bloom = collection(RedisType::BloomFilter.id(), 0, 1, 5000);
        bloom.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 100]); // filters, expansion, capacity
        bloom.extend_from_slice(&crate::key::encode_double(0.01).to_be_bytes());
        bloom.extend_from_slice(&[0, 0, 1, 0]); // bytes
        let e = chunked_start(b"bf", &Metadata::load(&bloom).unwrap()).unwrap_err().to_string();
        assert!(e.contains("\"bf\"") && e.contains("bloom filter"), "{e}");
    }

    fn be(parts: &[u64]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.to_be_bytes()).collect()
    }

    /// A 64-bit stream metadata value: last generated, recorded first, max deleted, first
    /// and last ids, entries added, groups.
    fn stream_meta(expire_ms: u64, size: u64, ids: [(u64, u64); 5], added: u64, groups: u64) -> Vec<u8> {
        let mut v = collection(RedisType::Stream.id(), expire_ms, 9, size);
        v.extend(ids.iter().flat_map(|(ms, seq)| be(&[*ms, *seq])));
        v.extend(be(&[added, groups]));
        v
    }

    /// A group (1), consumer (2) or pending entry (3) sub_key.
    fn named(kind: u8, group: &[u8], rest: &[u8]) -> Vec<u8> {
        [&be(&[u64::MAX])[..], &[kind], &be(&[group.len() as u64]), group, rest].concat()
    }

    /// The rows of a stream, sorted as RocksDB holds them (bytewise).
    fn stream_rows(prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let entry = |seq: u64, v: &[u8]| (be(&[5, seq]), [&[1, b'f', v.len() as u8][..], v].concat());
        let consumer = |group: &[u8], c: &[u8]| named(2, group, &[&be(&[c.len() as u64])[..], c].concat());
        let pel = |consumer: &[u8], count: u64| [&be(&[1_700, count, consumer.len() as u64])[..], consumer].concat();
        let mut rows = vec![
            (named(3, b"g", &be(&[5, 2])), pel(b"c", 3)),
            (consumer(b"g", b"c"), be(&[1, 9, 9])),
            (named(1, b"zz", b""), be(&[0, 0, 0, 0, u64::MAX, 0])),
            (named(1, b"g", b""), be(&[1, 1, 5, 2, 2, 1])),
            (consumer(b"zz", b"idle"), be(&[0, 0, 0])),
            entry(3, b"c"),
            entry(1, b"a"),
            entry(2, b"b"),
        ];
        rows.sort();
        rows.into_iter().map(|(sub, v)| ([prefix, &sub].concat(), v)).collect()
    }

    #[test]
    fn a_big_stream_goes_row_by_row_then_its_ids_and_expiry() {
        let mk = meta_key(b"__namespace", b"st");
        let bytes = stream_meta(4_102_444_800_000, 3, [(5, 4), (5, 1), (4, 9), (5, 1), (5, 3)], 7, 2);
        let meta = Metadata::load(&bytes).unwrap();
        let rows = stream_rows(&subkey_prefix(&mk, KeyLayout::STANDALONE, 9).unwrap());
        let mut cmds = chunked_start(b"st", &meta).unwrap();
        // Any cut between chunks gives the same commands: one per row.
        for part in rows.chunks(3) {
            cmds.extend(chunk(b"st", &meta, part, KeyLayout::STANDALONE).unwrap());
        }
        cmds.extend(chunked_end(b"st", &meta));
        assert_eq!(
            text(&cmds),
            [
                "DEL st",
                "XADD st 5-1 f a",
                "XADD st 5-2 f b",
                "XADD st 5-3 f c",
                // Groups sort before consumers and pending entries, whatever their names.
                "XGROUP CREATE st g 5-2 ENTRIESREAD 2 MKSTREAM",
                "XGROUP CREATE st zz 0-0 ENTRIESREAD -1 MKSTREAM",
                "XGROUP CREATECONSUMER st g c",
                "XGROUP CREATECONSUMER st zz idle",
                "XCLAIM st g c 0 5-2 TIME 1700 RETRYCOUNT 3 FORCE JUSTID",
                "XSETID st 5-4 ENTRIESADDED 7 MAXDELETEDID 4-9",
                "PEXPIREAT st 4102444800000",
            ]
        );
    }

    #[test]
    fn a_big_stream_copied_whole_gives_the_same_commands() {
        let mk = meta_key(b"__namespace", b"st");
        let bytes = stream_meta(0, 3, [(5, 4), (5, 1), (4, 9), (5, 1), (5, 3)], 7, 2);
        let meta = Metadata::load(&bytes).unwrap();
        let rows = stream_rows(&subkey_prefix(&mk, KeyLayout::STANDALONE, 9).unwrap());
        let mut chunked = chunked_start(b"st", &meta).unwrap();
        chunked.extend(chunk(b"st", &meta, &rows, KeyLayout::STANDALONE).unwrap());
        chunked.extend(chunked_end(b"st", &meta));
        assert_eq!(chunked, whole_key(&mk, &bytes, &rows, KeyLayout::STANDALONE).unwrap());
        assert_eq!(text(&chunked_end(b"st", &meta)), ["XSETID st 5-4 ENTRIESADDED 7 MAXDELETEDID 4-9"]);
    }

    #[test]
    fn a_bad_stream_row_stops_the_copy() {
        let mk = meta_key(b"__namespace", b"st");
        let bytes = stream_meta(0, 3, [(5, 4), (5, 1), (4, 9), (5, 1), (5, 3)], 7, 0);
        let meta = Metadata::load(&bytes).unwrap();
        let prefix = subkey_prefix(&mk, KeyLayout::STANDALONE, 9).unwrap();
        // A group value cut short, then an entry whose field overruns its value.
        let group = vec![([&prefix[..], &named(1, b"g", b"")].concat(), be(&[1, 1]))];
        assert!(chunk(b"st", &meta, &group, KeyLayout::STANDALONE).is_err());
        let entry = vec![([&prefix[..], &be(&[5, 1])].concat(), b"\x05ab".to_vec())];
        assert!(chunk(b"st", &meta, &entry, KeyLayout::STANDALONE).is_err());
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
