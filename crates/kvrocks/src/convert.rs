//! Decoded updates to Redis commands, for the simple types: strings, hashes, key deletes,
//! expiry changes and FLUSHDB. A start on what kvrocks2redis' `WriteBatchExtractor` does,
//! without its known gaps for these types (PERSIST and FLUSHDB are kept).
//!
//! | change | command |
//! |---|---|
//! | string metadata put | `SET key value`, then `PEXPIREAT key ms` if it has an expiry |
//! | other metadata put under an EXPIRE LogData | `PEXPIREAT key ms`, or `PERSIST key` when cleared |
//! | metadata delete | `DEL key` |
//! | hash field put / delete | `HSET key field value` / `HDEL key field` |
//! | metadata DeleteRange over one namespace | `FLUSHDB` (for that namespace's target) |
//!
//! Every command carries the namespace it applies to; mapping namespaces to target
//! databases is the caller's job.
//!
//! What remains, reported as [`Skipped`] rather than dropped silently: lists (the LogData
//! says which of LPUSH/RPUSH/LSET/LINSERT/LREM/LTRIM/LPOP/RPOP/LMOVE made the records),
//! sets, zsets (shortest round-trip score text), bitmaps (SETBIT/BITOP from segments),
//! sortedint, streams (XADD/XDEL/XSETID, group state), JSON, bloom, hyperloglog, pubsub,
//! scripts in the propagate CF, FLUSHALL's range. Also RENAME/COPY onto an existing hash:
//! Kvrocks writes the new fields under a new version, so the target needs a `DEL` of the
//! destination first, which needs the destination's old metadata (or a `DEL` whenever a
//! hash's version changes).

use std::borrow::Cow;

use crate::metadata::{Extra, Metadata, RedisType};
use crate::update::{Change, Entry, Group, Update};
use crate::{LogData, RedisCommand, SubKey, SubValue};

/// One Redis command for one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The Kvrocks namespace it came from.
    pub namespace: &'a [u8],
    /// Name and arguments.
    pub args: Vec<Cow<'a, [u8]>>,
}

/// A record this converter does not turn into commands yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Offset of the record in the batch rep.
    pub offset: usize,
    /// Which kind of record.
    pub what: &'static str,
}

/// The commands for one update, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted<'a> {
    /// Commands, in batch order.
    pub commands: Vec<Command<'a>>,
    /// Records not converted.
    pub skipped: Vec<Skipped>,
}

/// Converts one decoded batch.
pub fn convert<'a>(update: &Update<'a>) -> Converted<'a> {
    let mut out = Converted::default();
    for group in &update.groups {
        for entry in &group.entries {
            convert_entry(group, entry, &mut out);
        }
    }
    out
}

fn convert_entry<'a>(group: &Group<'a>, entry: &Entry<'a>, out: &mut Converted<'a>) {
    let mut push = |namespace, args: Vec<Cow<'a, [u8]>>| out.commands.push(Command { namespace, args });
    match &entry.change {
        Change::PutMetadata { key, metadata } => match (metadata.redis_type, metadata.extra) {
            (RedisType::String, Extra::String(value)) => {
                push(key.namespace, vec![b("SET"), Cow::Borrowed(key.key), Cow::Borrowed(value)]);
                if metadata.expire_ms != 0 {
                    push(key.namespace, pexpireat(key.key, metadata));
                }
            }
            _ if is_expire(group) => {
                let args = if metadata.expire_ms == 0 {
                    vec![b("PERSIST"), Cow::Borrowed(key.key)]
                } else {
                    pexpireat(key.key, metadata)
                };
                push(key.namespace, args);
            }
            (RedisType::Hash, _) => {} // size bookkeeping of HSET/HDEL
            _ => out.skipped.push(Skipped { offset: entry.offset, what: metadata.redis_type.name() }),
        },
        Change::DeleteMetadata { key } => push(key.namespace, vec![b("DEL"), Cow::Borrowed(key.key)]),
        Change::PutSubkey { key, sub: SubKey::HashField(field), value: SubValue::Bytes(value), .. } => {
            push(key.namespace, vec![b("HSET"), Cow::Borrowed(key.key), Cow::Borrowed(*field), Cow::Borrowed(*value)])
        }
        Change::DeleteSubkey { key, sub: SubKey::HashField(field), .. } => {
            push(key.namespace, vec![b("HDEL"), Cow::Borrowed(key.key), Cow::Borrowed(*field)]);
        }
        change @ Change::DeleteRange { .. } => match change.flushed_namespace() {
            Some(namespace) => push(namespace, vec![b("FLUSHDB")]),
            None => out.skipped.push(Skipped { offset: entry.offset, what: "DeleteRange (FLUSHALL)" }),
        },
        other => out.skipped.push(Skipped { offset: entry.offset, what: describe(other) }),
    }
}

fn is_expire(group: &Group<'_>) -> bool {
    group.log.as_ref().and_then(LogData::as_redis).and_then(|l| l.command()) == Some(RedisCommand::Expire)
}

fn pexpireat<'a>(key: &'a [u8], metadata: &Metadata<'_>) -> Vec<Cow<'a, [u8]>> {
    vec![b("PEXPIREAT"), Cow::Borrowed(key), Cow::Owned(metadata.expire_ms.to_string().into_bytes())]
}

fn b(name: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(name.as_bytes())
}

fn describe(change: &Change<'_>) -> &'static str {
    match change {
        Change::PutSubkey { sub, .. } | Change::DeleteSubkey { sub, .. } => match sub {
            SubKey::HashField(_) => "hash field with a non-bytes value",
            SubKey::SetMember(_) => "set member",
            SubKey::ListIndex(_) => "list element",
            SubKey::ZSetMember(_) | SubKey::ZSetScore { .. } => "zset member",
            SubKey::BitmapSegment(_) => "bitmap segment",
            SubKey::SortedintId(_) => "sortedint id",
            SubKey::BloomFilter(_) => "bloom filter",
            SubKey::HllSegment(_) => "hyperloglog segment",
            SubKey::Stream(_) => "stream subkey",
            SubKey::Unknown(_) => "subkey of unknown type",
        },
        Change::Publish { .. } => "PUBLISH",
        Change::Propagate { .. } => "propagate CF (scripts, functions, namespaces)",
        _ => "raw record",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::batch::tests::{unhex, GOLDEN_HSET, GOLDEN_SET};
    use crate::KeyLayout;

    fn args(c: &Command<'_>) -> Vec<String> {
        c.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn golden_set_and_hset() {
        let set = unhex(GOLDEN_SET);
        let out = convert(&Update::decode(&set, KeyLayout::STANDALONE).unwrap());
        assert_eq!(out.commands.iter().map(args).collect::<Vec<_>>(), [["SET", "a", "1"]]);
        assert_eq!(out.commands[0].namespace, b"__namespace");
        let hset = unhex(GOLDEN_HSET);
        let out = convert(&Update::decode(&hset, KeyLayout::STANDALONE).unwrap());
        assert_eq!(out.commands.iter().map(args).collect::<Vec<_>>(), [["HSET", "hash", "field", "value"]]);
        assert!(out.skipped.is_empty());
    }

    fn rep(records: &[u8]) -> Vec<u8> {
        let mut out = 1u64.to_le_bytes().to_vec();
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(records);
        out
    }

    #[test]
    fn expiry_on_a_hash_and_persist() {
        // "0 8" then a hash metadata put with expire 4102444800000 ms, then one with none.
        let mut meta = b"\x82".to_vec();
        meta.extend_from_slice(&4_102_444_800_000u64.to_be_bytes());
        meta.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut recs = b"\x03\x030 8\x05\x01\x04\x02nsh".to_vec();
        recs.push(meta.len() as u8);
        recs.extend_from_slice(&meta);
        let bytes = rep(&recs);
        let out = convert(&Update::decode(&bytes, KeyLayout::STANDALONE).unwrap());
        assert_eq!(out.commands.iter().map(args).collect::<Vec<_>>(), [["PEXPIREAT", "h", "4102444800000"]]);
        meta[1..9].fill(0);
        let mut recs = b"\x03\x030 8\x05\x01\x04\x02nsh".to_vec();
        recs.push(meta.len() as u8);
        recs.extend_from_slice(&meta);
        let bytes = rep(&recs);
        let out = convert(&Update::decode(&bytes, KeyLayout::STANDALONE).unwrap());
        assert_eq!(out.commands.iter().map(args).collect::<Vec<_>>(), [["PERSIST", "h"]]);
    }

    #[test]
    fn unsupported_types_are_reported() {
        let mut recs = b"\x03\x014\x01".to_vec();
        let key = b"\x02ns\x00\x00\x00\x01s\x00\x00\x00\x00\x00\x00\x00\x01m";
        recs.push(key.len() as u8);
        recs.extend_from_slice(key);
        recs.push(0);
        let bytes = rep(&recs);
        let out = convert(&Update::decode(&bytes, KeyLayout::STANDALONE).unwrap());
        assert!(out.commands.is_empty());
        assert_eq!(out.skipped, [Skipped { offset: 15, what: "set member" }]);
    }
}
