//! Decoded updates to Redis commands: what a target must receive so that it ends up
//! holding what the Kvrocks master holds. The rule is "state where the records are exact,
//! the command where they are not": most types are rebuilt from the values the records
//! carry, lists replay the command their LogData names.
//!
//! Each LogData group is converted on its own (a MULTI/EXEC or group commit holds
//! several). Its records are cut into runs at records that are not about one key
//! (DeleteRange, pubsub, propagate, raw), which are converted in place
//! (`keyspace`); within a run the records are regrouped by key (`keys`) and each key
//! goes to its type's converter. Keys whose last record is a metadata delete get a `DEL`
//! after the other keys of the run (so an `LMOVE` from a list it empties still finds it).
//!
//! | module | owns |
//! |---|---|
//! | `single` | strings (`SET`), JSON (`JSON.SET`) |
//! | `collection` | hash, set, zset, sortedint (`HSET`/`HDEL`, `SADD`/`SREM`, `ZADD`/`ZREM`) |
//! | `list` | lists, from the LogData command |
//! | `bitmap` | bitmaps (`SETRANGE` of bit-reversed segments) |
//! | `stream` | streams, consumer groups, consumers, pending entries |
//! | `sketch` | hyperloglog (Redis dense `HYLL` strings), bloom filters (`BF.RESERVE`) |
//! | `keyspace` | `DEL`, `FLUSHDB`, `FLUSHALL`, `PUBLISH`, scripts and functions |
//!
//! Key lifetime, for every type:
//! - a key whose run carries its whole value (a new version: created, or replaced by
//!   RENAME/COPY/a `*STORE`, or SET over another type) is rebuilt after a `DEL`, then
//!   given `PEXPIREAT` when its metadata has an expiry;
//! - an EXPIRE-family LogData (`0 8`) on a key that is not rebuilt gives `PEXPIREAT <ms>`
//!   (absolute), or `PERSIST` when the expiry was cleared;
//! - a metadata delete gives `DEL`.
//!
//! Records that need no command of their own: metadata puts that only update `size` or
//! list bounds, the zset score index (zset_score CF; the member records carry the same
//! scores), the group and consumer records of bookkeeping. Everything else that cannot be
//! converted is reported in [`Converted::skipped`] with its offset; the per-type modules
//! say what and why.
//!
//! Every command carries the namespace it applies to; mapping namespaces to target
//! databases is the caller's job. Server-wide commands (`FLUSHALL`, `PUBLISH`, `SCRIPT`,
//! `FUNCTION`) carry [`crate::DEFAULT_NAMESPACE`]. Commands marked "module" in the
//! per-type docs (`JSON.SET`, `BF.RESERVE`) need RedisJSON / RedisBloom on the target.

pub(crate) mod arg;
pub(crate) mod bitmap;
mod collection;
mod keys;
mod keyspace;
mod list;
mod single;
mod sketch;
pub(crate) mod stream;

use std::borrow::Cow;

use crate::log_data::{LogData, RedisCommand, RedisLog};
use crate::metadata::RedisType;
use crate::update::{Entry, Group, Update};
use arg::{int, lit, raw, Args};
use keys::KeyRecords;

/// One Redis command for one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The Kvrocks namespace it came from.
    pub namespace: &'a [u8],
    /// Name and arguments.
    pub args: Vec<Cow<'a, [u8]>>,
}

/// A record this converter does not turn into commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Offset of the record in the batch rep.
    pub offset: usize,
    /// Which kind of record, and why.
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

impl<'a> Converted<'a> {
    fn push(&mut self, namespace: &'a [u8], args: Args<'a>) {
        self.commands.push(Command { namespace, args });
    }

    fn skip(&mut self, offset: usize, what: &'static str) {
        self.skipped.push(Skipped { offset, what });
    }
}

/// What the caller wants beyond the dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Forward PUBLISH (pubsub CF records) as `PUBLISH channel message`; off, they are
    /// reported as skipped.
    pub publish: bool,
}

impl Options {
    /// Options with PUBLISH forwarding on or off.
    pub fn with_publish(mut self, publish: bool) -> Self {
        self.publish = publish;
        self
    }
}

/// Converts one decoded batch with the default [`Options`].
pub fn convert<'a>(update: &Update<'a>) -> Converted<'a> {
    convert_with(update, Options::default())
}

/// Converts one decoded batch.
pub fn convert_with<'a>(update: &Update<'a>, options: Options) -> Converted<'a> {
    let mut out = Converted::default();
    for group in &update.groups {
        convert_group(group, options, &mut out);
    }
    out
}

fn convert_group<'a>(group: &Group<'a>, options: Options, out: &mut Converted<'a>) {
    let log = group.log.as_ref().and_then(LogData::as_redis);
    let mut start = 0;
    for (i, entry) in group.entries.iter().enumerate() {
        if !keys::is_key_record(&entry.change) {
            convert_run(group.entries.get(start..i).unwrap_or_default(), log, out);
            keyspace::convert(entry, options, out);
            start = i + 1;
        }
    }
    convert_run(group.entries.get(start..).unwrap_or_default(), log, out);
}

/// What a type converter did with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rebuilt {
    /// Deleted and rebuilt from the run: the expiry must be set again.
    Whole,
    /// Changed in place: the target keeps its expiry.
    Partial,
}

/// The run a key belongs to, for converters that look beyond the key (LMOVE).
struct Run<'r, 'g, 'a> {
    log: Option<&'r RedisLog<'a>>,
    keys: &'r [KeyRecords<'g, 'a>],
}

fn convert_run<'a>(entries: &[Entry<'a>], log: Option<&RedisLog<'a>>, out: &mut Converted<'a>) {
    let keys = keys::collect(entries);
    let run = Run { log, keys: &keys };
    for k in keys.iter().filter(|k| k.deleted.is_none()) {
        convert_key(&run, k, out);
    }
    for k in &keys {
        if k.deleted.is_some() {
            out.push(k.namespace, vec![lit("DEL"), raw(k.key)]);
        }
    }
}

fn convert_key<'a>(run: &Run<'_, '_, 'a>, k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) {
    let Some(redis_type) = k.redis_type() else {
        k.sub_offsets().for_each(|offset| out.skip(offset, "subkey of unknown type (no metadata or LogData type)"));
        return;
    };
    let rebuilt = match redis_type {
        RedisType::String | RedisType::Json => single::convert(k, out),
        RedisType::Hash | RedisType::Set | RedisType::ZSet | RedisType::Sortedint => collection::convert(k, out),
        RedisType::List => list::convert(run, k, out),
        RedisType::Bitmap => bitmap::convert(run.log, k, out),
        RedisType::Stream => stream::convert(run.log, k, out),
        RedisType::HyperLogLog => sketch::hyperloglog(run.log, k, out),
        RedisType::BloomFilter => sketch::bloom(run.log, k, out),
    };
    expiry(run.log, k, rebuilt, out);
}

fn expiry<'a>(log: Option<&RedisLog<'a>>, k: &KeyRecords<'_, 'a>, rebuilt: Rebuilt, out: &mut Converted<'a>) {
    let Some(meta) = k.metadata() else { return };
    let is_expire = log.and_then(RedisLog::command) == Some(RedisCommand::Expire);
    match rebuilt {
        Rebuilt::Whole if meta.expire_ms != 0 => out.push(k.namespace, pexpireat(k.key, meta.expire_ms)),
        Rebuilt::Partial if is_expire && meta.expire_ms != 0 => out.push(k.namespace, pexpireat(k.key, meta.expire_ms)),
        Rebuilt::Partial if is_expire => out.push(k.namespace, vec![lit("PERSIST"), raw(k.key)]),
        _ => {}
    }
}

fn pexpireat(key: &[u8], ms: u64) -> Args<'_> {
    vec![lit("PEXPIREAT"), raw(key), int(ms)]
}

/// `DEL key`, the start of every rebuild.
fn del<'a>(k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) {
    out.push(k.namespace, vec![lit("DEL"), raw(k.key)]);
}

#[cfg(test)]
pub(crate) mod tests;
